#include "drift/reference.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "index/cosine_index.h"
#include "testing.h"

namespace sextant::drift {
namespace {

std::vector<float> UnitRows(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> m(static_cast<size_t>(n * dim));
  for (float& v : m) v = normal(rng);
  index::NormalizeRows(m.data(), n, dim);
  return m;
}

TEST(SampleRows, IsADeterministicSortedSampleWithoutReplacement) {
  const std::vector<int64_t> a = SampleRows(1000, 100, 5);
  EXPECT_EQ(a, SampleRows(1000, 100, 5));
  EXPECT_NE(a, SampleRows(1000, 100, 6));
  ASSERT_EQ(a.size(), 100u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 100u);
  EXPECT_GE(a.front(), 0);
  EXPECT_LT(a.back(), 1000);
  // Every row when the sample is 0 (all) or not smaller than the population.
  for (int64_t size : {0, 10, 50}) {
    const std::vector<int64_t> all = SampleRows(10, size, 1);
    ASSERT_EQ(all.size(), 10u);
    for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(all[i], i);
  }
  EXPECT_TRUE(SampleRows(0, 5, 1).empty());
}

TEST(SampleRows, EveryRowIsEquallyLikely) {
  // 2000 samples of 3 of 10 rows: each row is drawn with probability 0.3 (sd of the count 20.5).
  std::vector<int> hits(10, 0);
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    for (int64_t r : SampleRows(10, 3, seed)) hits[r]++;
  }
  for (int h : hits) EXPECT_NEAR(h, 600, 80);
}

TEST(DkwEpsilon, IsTheMassartBound) {
  EXPECT_NEAR(DkwEpsilon(6735, 0.05), std::sqrt(std::log(40.0) / 13470.0), 1e-15);
  EXPECT_NEAR(DkwEpsilon(100000, 0.05), 0.0042948, 1e-6);
  EXPECT_TRUE(std::isinf(DkwEpsilon(0, 0.05)));
}

TEST(MakeReference, SortsAndCountsAboveTheThreshold) {
  const ReferenceDistribution r = MakeReference({5, 1, 4, 2, 3}, 7, 0.5);
  EXPECT_EQ(r.sorted, (std::vector<float>{1, 2, 3, 4, 5}));
  EXPECT_EQ(r.k, 7);
  EXPECT_DOUBLE_EQ(r.threshold, 3.0);
  EXPECT_EQ(CountAbove(r, r.threshold), 2);
  EXPECT_EQ(CountAbove(r, 0.0), 5);
  EXPECT_EQ(CountAbove(r, 5.0), 0);
}

TEST(BuildSampledReference, SampledRowsKeepTheirLeaveOneOutDistances) {
  constexpr int64_t kN = 600, kDim = 8;
  constexpr int kK = 5;
  std::vector<float> rows = UnitRows(kN, kDim, 3);
  // Duplicates, so that "the (k+1)-th with itself" is exercised where copies hide the row.
  for (int r = 1; r <= 7; ++r) std::copy_n(rows.begin(), kDim, rows.begin() + r * kDim);
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(rows.data(), kN, kDim));
  ASSERT_OK_AND_ASSIGN(std::vector<float> loo,
                       KCoreDistances(*idx, rows.data(), kN, kK, /*leave_one_out=*/true));
  const std::vector<int64_t> picked = SampleRows(kN, 150, 9);
  std::vector<float> expected;
  for (int64_t r : picked) expected.push_back(loo[r]);
  std::sort(expected.begin(), expected.end());
  ASSERT_OK_AND_ASSIGN(ReferenceDistribution sampled,
                       BuildSampledReference(*idx, rows.data(), kK, 0.95, 150, 9));
  ASSERT_EQ(sampled.sorted.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(sampled.sorted[i], expected[i], 1e-6);
  EXPECT_NEAR(sampled.threshold, Percentile(expected, 0.95), 1e-6);
  // All rows (0, or a sample not smaller than the index) is the exact leave-one-out reference.
  ASSERT_OK_AND_ASSIGN(ReferenceDistribution full, BuildReference(*idx, rows.data(), kK, 0.95));
  for (int64_t size : {int64_t{0}, kN, kN + 5}) {
    ASSERT_OK_AND_ASSIGN(ReferenceDistribution all,
                         BuildSampledReference(*idx, rows.data(), kK, 0.95, size, 1));
    EXPECT_EQ(all.sorted, full.sorted);
  }
}

TEST(BuildSampledReference, ThresholdIsWithinTheStatedErrorOfTheFullOne) {
  // The sampled threshold's rank in the full reference, F_full(t_sample), is within the DKW
  // epsilon of the percentile (the bound holds with probability 0.95 for each seed; its
  // typical error is a sixth of epsilon here, so ten fixed seeds all pass).
  constexpr int64_t kN = 4000, kDim = 6, kSample = 400;
  const std::vector<float> rows = UnitRows(kN, kDim, 17);
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(rows.data(), kN, kDim));
  ASSERT_OK_AND_ASSIGN(ReferenceDistribution full, BuildReference(*idx, rows.data(), 10, 0.95));
  const double eps = DkwEpsilon(kSample, 0.05);
  EXPECT_NEAR(eps, 0.0679, 1e-4);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    ASSERT_OK_AND_ASSIGN(ReferenceDistribution s,
                         BuildSampledReference(*idx, rows.data(), 10, 0.95, kSample, seed));
    ASSERT_EQ(s.sorted.size(), static_cast<size_t>(kSample));
    const double rank = PercentileRank(full, s.threshold);
    EXPECT_NEAR(rank, 0.95, eps) << "seed " << seed << " threshold " << s.threshold << " full "
                                 << full.threshold;
  }
}

TEST(BuildSampledReference, TooFewRowsForKIsAFailedPrecondition) {
  const std::vector<float> rows = UnitRows(5, 4, 1);
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(rows.data(), 5, 4));
  auto r = BuildSampledReference(*idx, rows.data(), 5, 0.95, 3, 0);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("k = 5 needs at least 6"), std::string::npos)
      << r.status().ToString();
}

}  // namespace
}  // namespace sextant::drift
