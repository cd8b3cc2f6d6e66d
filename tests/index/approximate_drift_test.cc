// The approximate (IVF) path against the exact one, as drift uses them: the
// leave-one-out reference, its threshold and the per-sample drifted flags.
#include <vector>

#include "drift/knn_drift.h"
#include "index/clustered_data.h"
#include "index/cosine_index.h"
#include "testing.h"

namespace sextant::drift {
namespace {

using sextant::testing::ClusteredRows;
using sextant::testing::ClusteredSpec;
using sextant::testing::RecallAtK;

TEST(ApproximateDrift, FlagsAgreeWithExactAndRecallIsHigh) {
  constexpr int64_t kTrain = 6000, kQueries = 3000;
  constexpr int32_t kK = 10;
  const ClusteredSpec spec;
  const std::vector<float> train = ClusteredRows(spec, kTrain, 11);
  // A production set where a fifth comes from displaced clusters.
  const std::vector<float> queries = ClusteredRows(spec, kQueries, 12, /*shifted=*/0.2, 1.0f);

  ASSERT_OK_AND_ASSIGN(auto exact, index::CosineIndex::Build(train.data(), kTrain, spec.dim));
  ASSERT_OK_AND_ASSIGN(auto ivf, index::CosineIndex::BuildIvf(train.data(), kTrain, spec.dim, {}));
  ASSERT_TRUE(ivf->approximate());

  ASSERT_OK_AND_ASSIGN(ReferenceDistribution ref_exact,
                       BuildReference(*exact, train.data(), kK, 0.95));
  ASSERT_OK_AND_ASSIGN(ReferenceDistribution ref_ivf, BuildReference(*ivf, train.data(), kK, 0.95));
  EXPECT_NEAR(ref_ivf.threshold, ref_exact.threshold, 0.01 * ref_exact.threshold);

  ASSERT_OK_AND_ASSIGN(std::vector<float> d_exact,
                       KCoreDistances(*exact, queries.data(), kQueries, kK, false));
  ASSERT_OK_AND_ASSIGN(std::vector<float> d_ivf,
                       KCoreDistances(*ivf, queries.data(), kQueries, kK, false));
  int64_t agree = 0, drifted = 0;
  for (int64_t i = 0; i < kQueries; ++i) {
    const bool a = d_exact[i] > ref_exact.threshold;
    const bool b = d_ivf[i] > ref_ivf.threshold;
    agree += a == b;
    drifted += a;
  }
  const double agreement = static_cast<double>(agree) / kQueries;
  EXPECT_GE(agreement, 0.99);
  RecordProperty("agreement", std::to_string(agreement));
  // The set is meant to drift: well above the nominal 5%, not everything.
  EXPECT_GT(drifted, kQueries / 10);
  EXPECT_LT(drifted, kQueries * 6 / 10);

  std::vector<float> dist(kQueries * kK);
  std::vector<int64_t> truth(kQueries * kK), got(kQueries * kK);
  ASSERT_OK(exact->Search(queries.data(), kQueries, kK, dist.data(), truth.data()));
  ASSERT_OK(ivf->Search(queries.data(), kQueries, kK, dist.data(), got.data()));
  EXPECT_GE(RecallAtK(got, truth, kQueries, kK), 0.95);
}

}  // namespace
}  // namespace sextant::drift
