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

// As KCoreDistances, for queries that are rows [first_row, first_row +
// num_queries) of the index when `leave_one_out` (a shard of the leave-one-out
// reference: query i is index row first_row + i, the row it must not count).
// Queries are searched in blocks of 8192 from the first: a shard starting at a
// multiple of 8192 searches exactly the blocks of the whole call.
Result<std::vector<float>> KCoreDistancesAt(const index::CosineIndex& index, const float* queries,
                                            int64_t num_queries, int32_t k, bool leave_one_out,
                                            int64_t first_row, ProgressFn progress = nullptr,
                                            void* user = nullptr);

// The k-core distance of one query from its nearest rows `d` and `labels`
// (at least k + 1 of them with `leave_one_out`, else k; nearest first): the
// k-th distance, not counting the query's own row `self` when leaving it out
// (the farthest is dropped instead when duplicates keep it out of the list).
float KCoreOfNeighbours(const float* d, const int64_t* labels, int32_t k, bool leave_one_out,
                        int64_t self);

// The k nearest rows of queries in one shard of a training reference (or in
// a merge of shards): n x k distances and global rows, nearest first; row -1
// at distance 2 where fewer than k were found.
struct Neighbours {
  int32_t k = 0;
  std::vector<float> distances;
  std::vector<int64_t> rows;
};

// The k nearest rows of `queries` in `shard`, whose row 0 is row `row_offset`
// of the training reference (searched in the blocks KCoreDistances uses).
Result<Neighbours> ShardNeighbours(const index::CosineIndex& shard, const float* queries,
                                   int64_t num_queries, int32_t k, int64_t row_offset);

// The k nearest of every query over all shards' lists (each of the same
// queries, at least k per query): ordered by distance, then global row, so
// the merge does not depend on the order of the shards. Rows -1 come last.
Neighbours MergeNeighbours(const std::vector<Neighbours>& shards, int64_t num_queries, int32_t k);

// k-core distances from merged neighbours (KCoreOfNeighbours of each query;
// query i is row first_row + i when leaving it out).
std::vector<float> KCoreFromNeighbours(const Neighbours& merged, int64_t num_queries, int32_t k,
                                       bool leave_one_out, int64_t first_row);

// The leave-one-out reference distribution of the index's own rows.
Result<ReferenceDistribution> BuildReference(const index::CosineIndex& index,
                                             const float* normalized, int32_t k, double percentile,
                                             ProgressFn progress = nullptr, void* user = nullptr);

}  // namespace sextant::drift
