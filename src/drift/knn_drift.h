// Nearest-neighbour drift (docs/algorithms.md): a sample's k-core distance is
// its cosine distance to the k-th nearest training embedding; the training
// samples' own leave-one-out k-core distances form the reference distribution.
#pragma once

#include <cstdint>
#include <vector>

#include "index/cosine_index.h"
#include "sextant/status.h"

namespace sextant::drift {

struct ReferenceDistribution {
  std::vector<float> sorted;  // k-core distances of the reference samples, ascending
  double percentile = 0.95;
  double threshold = 0;  // Percentile(sorted, percentile)
  int32_t k = 10;
};

// The p-quantile (p in [0, 1]) with linear interpolation between closest
// ranks, as numpy.percentile's default.
double Percentile(const std::vector<float>& sorted, double p);

// Fraction of the reference distances <= distance, in [0, 1].
double PercentileRank(const ReferenceDistribution& ref, double distance);

using ProgressFn = void (*)(const char* stage, int64_t done, int64_t total, void* user);

// k-core distances of `queries` (unit rows) against the index. With
// `leave_one_out`, query i is row i of the index and is not its own neighbour
// (k+1 are searched and the query's own row dropped; when duplicates hide it,
// the farthest of the k+1 is dropped instead).
Result<std::vector<float>> KCoreDistances(const index::CosineIndex& index, const float* queries,
                                          int64_t num_queries, int32_t k, bool leave_one_out,
                                          ProgressFn progress = nullptr, void* user = nullptr);

// The leave-one-out reference distribution of the index's own rows.
Result<ReferenceDistribution> BuildReference(const index::CosineIndex& index,
                                             const float* normalized, int32_t k, double percentile,
                                             ProgressFn progress = nullptr, void* user = nullptr);

}  // namespace sextant::drift
