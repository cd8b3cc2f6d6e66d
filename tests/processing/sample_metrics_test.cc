#include "processing/sample_metrics.h"

#include <cmath>
#include <vector>

#include "testing.h"

namespace sextant::processing {
namespace {

std::vector<float> Soft(std::vector<float> logits) {
  std::vector<float> p(logits.size());
  Softmax(logits.data(), static_cast<int64_t>(logits.size()), p.data());
  return p;
}

SampleMetrics Metrics(const std::vector<float>& p, double tau = 0.5) {
  return ComputeSampleMetrics(p.data(), static_cast<int64_t>(p.size()), tau);
}

TEST(Softmax, MatchesTheDefinition) {
  const std::vector<float> p = Soft({1, 2, 3});
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(p[0], std::exp(1.0) / z, 1e-7);  // 0.09003057
  EXPECT_NEAR(p[1], std::exp(2.0) / z, 1e-7);  // 0.24472847
  EXPECT_NEAR(p[2], std::exp(3.0) / z, 1e-7);  // 0.66524096
}

TEST(Softmax, IsStableForHugeLogits) {
  // exp(1000) overflows and exp(-1000) underflows; the max shift avoids both.
  EXPECT_EQ(Soft({1000, 1000, -1000}), (std::vector<float>{0.5f, 0.5f, 0.0f}));
  EXPECT_EQ(Soft({-1000, -1000}), (std::vector<float>{0.5f, 0.5f}));
  EXPECT_EQ(Soft({3e38f, 0.0f}), (std::vector<float>{1.0f, 0.0f}));
  const std::vector<float> shifted = Soft({501, 502, 503});
  const std::vector<float> plain = Soft({1, 2, 3});
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_NEAR(shifted[i], plain[i], 1e-6);
  for (float v : Soft({88.0f, 89.0f, -300.0f, 1e20f})) EXPECT_TRUE(std::isfinite(v));
}

TEST(SampleMetrics, HandComputedExample) {
  const SampleMetrics m = Metrics({0.1f, 0.7f, 0.2f});
  EXPECT_EQ(m.pred, 1);
  EXPECT_FLOAT_EQ(m.confidence, 0.7f);
  EXPECT_NEAR(m.margin, 0.5, 1e-6);
  EXPECT_NEAR(m.certainty_ratio, 0.2 / 0.7, 1e-6);
  // -(0.1 ln 0.1 + 0.7 ln 0.7 + 0.2 ln 0.2) = 0.230259 + 0.249672 + 0.321888 = 0.801819
  EXPECT_NEAR(m.entropy, 0.801819, 1e-5);
  EXPECT_FALSE(m.on_boundary);
  EXPECT_TRUE(Metrics({0.1f, 0.7f, 0.2f}, 0.25).on_boundary);
}

TEST(SampleMetrics, CertainAndUniformExtremes) {
  const SampleMetrics certain = Metrics({0.0f, 0.0f, 1.0f});
  EXPECT_EQ(certain.pred, 2);
  EXPECT_FLOAT_EQ(certain.confidence, 1.0f);
  EXPECT_FLOAT_EQ(certain.margin, 1.0f);
  EXPECT_FLOAT_EQ(certain.certainty_ratio, 0.0f);
  EXPECT_FLOAT_EQ(certain.entropy, 0.0f);  // 0 log 0 counts as 0
  EXPECT_FALSE(certain.on_boundary);

  const SampleMetrics uniform = Metrics({0.25f, 0.25f, 0.25f, 0.25f});
  EXPECT_EQ(uniform.pred, 0);  // ties go to the first class
  EXPECT_FLOAT_EQ(uniform.margin, 0.0f);
  EXPECT_FLOAT_EQ(uniform.certainty_ratio, 1.0f);
  EXPECT_NEAR(uniform.entropy, std::log(4.0), 1e-6);
  EXPECT_TRUE(uniform.on_boundary);
}

TEST(SampleMetrics, BoundaryThresholdIsInclusive) {
  // p2 / p1 = 0.25 / 0.5 = 0.5 exactly.
  const SampleMetrics at = Metrics({0.25f, 0.5f, 0.25f});
  EXPECT_FLOAT_EQ(at.certainty_ratio, 0.5f);
  EXPECT_TRUE(at.on_boundary);
  EXPECT_FALSE(Metrics({0.24f, 0.52f, 0.24f}).on_boundary);  // ratio 0.4615
  EXPECT_TRUE(Metrics({0.2499f, 0.5f, 0.2501f}).on_boundary);
  EXPECT_FALSE(Metrics({0.25f, 0.5f, 0.25f}, 0.5001).on_boundary);
  // Two classes: 0.6 / 0.4 gives ratio 2/3.
  EXPECT_TRUE(Metrics({0.4f, 0.6f}).on_boundary);
  EXPECT_FALSE(Metrics({0.3f, 0.7f}).on_boundary);  // 0.4286
}

TEST(Aum, IsGoldMinusTheLargestOther) {
  const std::vector<float> p = {0.2f, 0.5f, 0.3f};
  EXPECT_NEAR(Aum(p.data(), 3, 0), 0.2 - 0.5, 1e-6);
  EXPECT_NEAR(Aum(p.data(), 3, 1), 0.5 - 0.3, 1e-6);
  EXPECT_NEAR(Aum(p.data(), 3, 2), 0.3 - 0.5, 1e-6);
  const std::vector<float> sure = {1.0f, 0.0f};
  EXPECT_DOUBLE_EQ(Aum(sure.data(), 2, 0), 1.0);
  EXPECT_DOUBLE_EQ(Aum(sure.data(), 2, 1), -1.0);
}

}  // namespace
}  // namespace sextant::processing
