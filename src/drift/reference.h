// Reference distributions for drift (docs/algorithms.md): the training
// samples' leave-one-out k-core distances, or held-out validation samples'
// k-core distances against the training index, either of them estimated from
// a seeded random sample of the reference set with its error stated.
#pragma once

#include <cstdint>
#include <vector>

#include "drift/knn_drift.h"
#include "index/cosine_index.h"
#include "sextant/status.h"

namespace sextant::drift {

// A random sample without replacement of min(sample_size, population) rows of
// [0, population), ascending; every row when sample_size <= 0 or >=
// population. The same (population, sample_size, seed) gives the same rows on
// every platform (mt19937_64 and rejection sampling, no std distributions).
std::vector<int64_t> SampleRows(int64_t population, int64_t sample_size, uint64_t seed);

// The Dvoretzky-Kiefer-Wolfowitz bound (with Massart's constant): with
// probability at least 1 - delta, the empirical CDF of n independent draws is
// within eps = sqrt(ln(2 / delta) / (2 n)) of the true CDF everywhere. So the
// threshold estimated from a reference sample of size n has a true
// exceedance rate within nominal +- eps. Infinity for n <= 0.
double DkwEpsilon(int64_t n, double delta);

// A reference distribution from k-core distances in any order.
ReferenceDistribution MakeReference(std::vector<float> distances, int32_t k, double percentile);

// How many reference distances lie strictly above `threshold`.
int64_t CountAbove(const ReferenceDistribution& ref, double threshold);

// The searches of the training leave-one-out reference over `population`
// rows: either every row, each query i being row i, searched for k + 1 and
// its own row left out; or a sample of sample_size rows (SampleRows with
// `seed`), each searched for its k + 1 nearest rows with itself included (a
// row is at distance 0 from itself) and the (k+1)-th taken. The in-process
// and the sharded finish both search by this plan.
struct LooPlan {
  std::vector<int64_t> sample;  // the query rows, ascending; empty: every row
  int32_t searched_k = 0;       // the k passed to KCoreDistances
  bool leave_one_out = false;   // its leave_one_out
};
LooPlan PlanLeaveOneOut(int64_t population, int32_t k, int64_t sample_size, uint64_t seed);

// Rows `which` of a rows x dim matrix, in that order, as one matrix.
std::vector<float> GatherRows(const float* rows, int64_t dim, const std::vector<int64_t>& which);

// The training leave-one-out reference of the index's own rows (`normalized`
// holds them, unit rows), from a sample of `sample_size` rows drawn with
// `seed` (all rows when sample_size <= 0 or >= the index size, which is
// BuildReference). A sampled row's k-th nearest other row is its (k+1)-th
// nearest row with itself included (it is at distance 0 from itself), so the
// sampled rows are searched against the full index.
Result<ReferenceDistribution> BuildSampledReference(const index::CosineIndex& index,
                                                    const float* normalized, int32_t k,
                                                    double percentile, int64_t sample_size,
                                                    uint64_t seed, ProgressFn progress = nullptr,
                                                    void* user = nullptr);

}  // namespace sextant::drift
