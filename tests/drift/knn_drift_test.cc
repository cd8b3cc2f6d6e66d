#include "drift/knn_drift.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "index/cosine_index.h"
#include "testing.h"

namespace sextant::drift {
namespace {

TEST(Percentile, MatchesNumpyLinearInterpolation) {
  // numpy.percentile(a, 100 * p) with the default method 'linear'.
  const std::vector<float> a = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(Percentile(a, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile(a, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(Percentile(a, 0.5), 2.5);
  EXPECT_NEAR(Percentile(a, 0.95), 3.85, 1e-12);  // np.percentile([1,2,3,4], 95) == 3.85
  EXPECT_NEAR(Percentile(a, 0.25), 1.75, 1e-12);  // np.percentile([1,2,3,4], 25) == 1.75
  const std::vector<float> b = {0.0f, 0.5f, 0.5f, 2.0f, 10.0f};
  EXPECT_NEAR(Percentile(b, 0.9), 6.8, 1e-6);   // pos 3.6: 2 + 0.6 * 8
  EXPECT_NEAR(Percentile(b, 0.3), 0.5, 1e-12);  // pos 1.2, between equal values
  EXPECT_DOUBLE_EQ(Percentile({7.0f}, 0.95), 7.0);
  EXPECT_DOUBLE_EQ(Percentile({}, 0.95), 0.0);
  EXPECT_DOUBLE_EQ(Percentile(a, 1.5), 4.0);  // clamped
}

TEST(PercentileRank, IsTheFractionAtOrBelow) {
  ReferenceDistribution ref;
  ref.sorted = {1, 2, 2, 3};
  EXPECT_DOUBLE_EQ(PercentileRank(ref, 0.5), 0.0);
  EXPECT_DOUBLE_EQ(PercentileRank(ref, 1.0), 0.25);
  EXPECT_DOUBLE_EQ(PercentileRank(ref, 2.0), 0.75);
  EXPECT_DOUBLE_EQ(PercentileRank(ref, 2.5), 0.75);
  EXPECT_DOUBLE_EQ(PercentileRank(ref, 3.0), 1.0);
  EXPECT_DOUBLE_EQ(PercentileRank(ref, 9.0), 1.0);
  EXPECT_DOUBLE_EQ(PercentileRank(ReferenceDistribution{}, 1.0), 0.0);
}

TEST(NormalizeRows, ScalesToUnitLengthAndKeepsZeroRows) {
  std::vector<float> m = {3, 4, 0, 0, 0, 0, -2, 0, 0};
  index::NormalizeRows(m.data(), 3, 3);
  EXPECT_FLOAT_EQ(m[0], 0.6f);
  EXPECT_FLOAT_EQ(m[1], 0.8f);
  for (int j = 3; j < 6; ++j) EXPECT_EQ(m[j], 0.0f);
  EXPECT_FLOAT_EQ(m[6], -1.0f);
  // A zero query has cosine similarity 0 with everything: distance 1.
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(m.data(), 1, 3));
  float d = 0;
  int64_t label = 0;
  ASSERT_OK(idx->Search(m.data() + 3, 1, 1, &d, &label));
  EXPECT_EQ(label, 0);
  EXPECT_NEAR(d, 1.0f, 1e-6);
}

// Brute force in double precision: unit rows, then sorted cosine distances.
struct Brute {
  std::vector<double> unit;
  int64_t n, dim;

  Brute(const std::vector<float>& rows, int64_t dim_) : unit(rows.begin(), rows.end()), dim(dim_) {
    n = static_cast<int64_t>(rows.size()) / dim;
    for (int64_t r = 0; r < n; ++r) {
      double norm = 0;
      for (int64_t c = 0; c < dim; ++c) norm += unit[r * dim + c] * unit[r * dim + c];
      if (norm > 0) {
        for (int64_t c = 0; c < dim; ++c) unit[r * dim + c] /= std::sqrt(norm);
      }
    }
  }
  // k-th smallest distance from unit query q to the rows, skipping row `skip`.
  double KCore(const double* q, int k, int64_t skip = -1) const {
    std::vector<double> d;
    for (int64_t j = 0; j < n; ++j) {
      if (j == skip) continue;
      double dot = 0;
      for (int64_t c = 0; c < dim; ++c) dot += unit[j * dim + c] * q[c];
      d.push_back(1.0 - dot);
    }
    std::sort(d.begin(), d.end());
    return d[k - 1];
  }
};

std::vector<float> RandomRows(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> m(static_cast<size_t>(n * dim));
  for (float& v : m) v = normal(rng);
  return m;
}

std::vector<float> Normalized(std::vector<float> m, int64_t dim) {
  index::NormalizeRows(m.data(), static_cast<int64_t>(m.size()) / dim, dim);
  return m;
}

class KnnDriftTest : public ::testing::TestWithParam<int> {};

TEST_P(KnnDriftTest, KCoreDistancesEqualBruteForce) {
  const int k = GetParam();
  constexpr int64_t kN = 500, kDim = 16, kQueries = 200;
  const std::vector<float> ref = Normalized(RandomRows(kN, kDim, 11), kDim);
  // Queries: fresh points, plus some exact copies of reference rows.
  std::vector<float> queries = Normalized(RandomRows(kQueries, kDim, 12), kDim);
  std::copy(ref.begin(), ref.begin() + 10 * kDim, queries.begin());
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(ref.data(), kN, kDim));
  ASSERT_OK_AND_ASSIGN(std::vector<float> got,
                       KCoreDistances(*idx, queries.data(), kQueries, k, /*leave_one_out=*/false));
  const Brute brute(ref, kDim);
  const Brute q(queries, kDim);
  ASSERT_EQ(got.size(), static_cast<size_t>(kQueries));
  for (int64_t i = 0; i < kQueries; ++i) {
    EXPECT_NEAR(got[i], brute.KCore(&q.unit[i * kDim], k), 5e-6) << "query " << i << " k " << k;
  }
}

TEST_P(KnnDriftTest, LeaveOneOutReferenceEqualsBruteForceWithDuplicates) {
  const int k = GetParam();
  constexpr int64_t kN = 500, kDim = 16;
  std::vector<float> raw = RandomRows(kN, kDim, 21);
  // Exact duplicates: rows 1..3 copy row 0 (a group of 4), rows 20..34 copy row 10 (a
  // group of 16, more than k + 1, so the query's own row can be hidden among its copies),
  // and rows 40, 41 are one row scaled (the same direction).
  for (int r = 1; r <= 3; ++r) std::copy_n(raw.begin(), kDim, raw.begin() + r * kDim);
  for (int r = 20; r <= 34; ++r) std::copy_n(raw.begin() + 10 * kDim, kDim, raw.begin() + r * kDim);
  for (int c = 0; c < kDim; ++c) raw[41 * kDim + c] = 3.0f * raw[40 * kDim + c];
  const std::vector<float> ref = Normalized(raw, kDim);
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(ref.data(), kN, kDim));

  ASSERT_OK_AND_ASSIGN(std::vector<float> loo,
                       KCoreDistances(*idx, ref.data(), kN, k, /*leave_one_out=*/true));
  const Brute brute(raw, kDim);
  std::vector<double> expected(kN);
  for (int64_t i = 0; i < kN; ++i) {
    expected[i] = brute.KCore(&brute.unit[i * kDim], k, /*skip=*/i);
    EXPECT_NEAR(loo[i], expected[i], 5e-6) << "row " << i << " k " << k;
  }
  // A row with 3 copies has distance 0 to its k-th other row while k <= 3.
  if (k <= 3) {
    EXPECT_NEAR(loo[0], 0.0, 5e-6);
  }
  EXPECT_NEAR(loo[25], 0.0, 5e-6);

  ASSERT_OK_AND_ASSIGN(ReferenceDistribution reference, BuildReference(*idx, ref.data(), k, 0.95));
  std::sort(expected.begin(), expected.end());
  ASSERT_EQ(reference.sorted.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(reference.sorted[i], expected[i], 5e-6);
  EXPECT_TRUE(std::is_sorted(reference.sorted.begin(), reference.sorted.end()));
  const double pos = 0.95 * (kN - 1);
  const auto lo = static_cast<size_t>(pos);
  const double threshold = expected[lo] + (expected[lo + 1] - expected[lo]) * (pos - lo);
  EXPECT_NEAR(reference.threshold, threshold, 5e-6);
  EXPECT_EQ(reference.k, k);
  EXPECT_DOUBLE_EQ(reference.percentile, 0.95);
}

INSTANTIATE_TEST_SUITE_P(K, KnnDriftTest, ::testing::Values(1, 5, 10));

TEST(KCoreDistances, TooFewReferencePointsIsAFailedPrecondition) {
  const std::vector<float> ref = Normalized(RandomRows(5, 4, 3), 4);
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(ref.data(), 5, 4));
  auto loo = KCoreDistances(*idx, ref.data(), 5, 5, /*leave_one_out=*/true);
  EXPECT_EQ(loo.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(loo.status().message().find("holds 5 embeddings"), std::string::npos)
      << loo.status().ToString();
  EXPECT_NE(loo.status().message().find("k = 5 needs at least 6"), std::string::npos);
  EXPECT_EQ(BuildReference(*idx, ref.data(), 5, 0.95).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(KCoreDistances(*idx, ref.data(), 1, 6, false).status().code(),
            StatusCode::kFailedPrecondition);
  // Exactly enough is fine.
  ASSERT_OK(KCoreDistances(*idx, ref.data(), 5, 4, /*leave_one_out=*/true));
  ASSERT_OK(KCoreDistances(*idx, ref.data(), 5, 5, /*leave_one_out=*/false));
}

TEST(KCoreDistances, ReportsProgress) {
  const std::vector<float> ref = Normalized(RandomRows(50, 4, 5), 4);
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(ref.data(), 50, 4));
  struct Seen {
    int64_t done = 0, total = 0;
  } seen;
  auto progress = [](const char*, int64_t done, int64_t total, void* user) {
    auto* s = static_cast<Seen*>(user);
    s->done = done;
    s->total = total;
  };
  ASSERT_OK(KCoreDistances(*idx, ref.data(), 50, 3, true, progress, &seen));
  EXPECT_EQ(seen.done, 50);
  EXPECT_EQ(seen.total, 50);
}

}  // namespace
}  // namespace sextant::drift
