#include "drift/knn_drift.h"

#include <algorithm>
#include <cmath>

namespace sextant::drift {

double Percentile(const std::vector<float>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double pos = std::clamp(p, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (static_cast<double>(sorted[hi]) - sorted[lo]) * frac;
}

double PercentileRank(const ReferenceDistribution& ref, double distance) {
  if (ref.sorted.empty()) return 0;
  auto it = std::upper_bound(ref.sorted.begin(), ref.sorted.end(), static_cast<float>(distance));
  return static_cast<double>(it - ref.sorted.begin()) / static_cast<double>(ref.sorted.size());
}

namespace {
// Queries per search call: a divisor of kShardRowAlignment (sextant/shards.h),
// so shards of queries search the same blocks as one whole call.
constexpr int64_t kQueryChunk = 8192;
}  // namespace

float KCoreOfNeighbours(const float* d, const int64_t* labels, int32_t k, bool leave_one_out,
                        int64_t self) {
  if (!leave_one_out) return d[k - 1];
  const int32_t searched = k + 1;
  int32_t self_pos = searched - 1;  // drop the farthest when duplicates hide the query
  for (int32_t j = 0; j < searched; ++j) {
    if (labels[j] == self) {
      self_pos = j;
      break;
    }
  }
  // The k-th neighbour among the others: index k-1 if self comes after it, else k.
  return self_pos > k - 1 ? d[k - 1] : d[k];
}

Result<std::vector<float>> KCoreDistances(const index::CosineIndex& index, const float* queries,
                                          int64_t num_queries, int32_t k, bool leave_one_out,
                                          ProgressFn progress, void* user) {
  return KCoreDistancesAt(index, queries, num_queries, k, leave_one_out, 0, progress, user);
}

Result<std::vector<float>> KCoreDistancesAt(const index::CosineIndex& index, const float* queries,
                                            int64_t num_queries, int32_t k, bool leave_one_out,
                                            int64_t first_row, ProgressFn progress, void* user) {
  const int32_t searched = leave_one_out ? k + 1 : k;
  if (index.size() < searched) {
    return Status::FailedPrecondition(
        "drift: the training reference holds " + std::to_string(index.size()) +
        " embeddings; k = " + std::to_string(k) + " needs at least " + std::to_string(searched));
  }
  std::vector<float> out(static_cast<size_t>(num_queries));
  std::vector<float> dist;
  std::vector<int64_t> labels;
  for (int64_t start = 0; start < num_queries; start += kQueryChunk) {
    const int64_t n = std::min(kQueryChunk, num_queries - start);
    dist.resize(static_cast<size_t>(n * searched));
    labels.resize(static_cast<size_t>(n * searched));
    SEXTANT_RETURN_IF_ERROR(
        index.Search(queries + start * index.dim(), n, searched, dist.data(), labels.data()));
    for (int64_t i = 0; i < n; ++i) {
      out[start + i] = KCoreOfNeighbours(dist.data() + i * searched, labels.data() + i * searched,
                                         k, leave_one_out, first_row + start + i);
    }
    if (progress) progress("nearest neighbours", start + n, num_queries, user);
  }
  return out;
}

Result<Neighbours> ShardNeighbours(const index::CosineIndex& shard, const float* queries,
                                   int64_t num_queries, int32_t k, int64_t row_offset) {
  if (k < 1) return Status::Invalid("k: must be at least 1");
  Neighbours out;
  out.k = k;
  out.distances.resize(static_cast<size_t>(num_queries * k));
  out.rows.resize(static_cast<size_t>(num_queries * k));
  for (int64_t start = 0; start < num_queries; start += kQueryChunk) {
    const int64_t n = std::min(kQueryChunk, num_queries - start);
    SEXTANT_RETURN_IF_ERROR(shard.Search(queries + start * shard.dim(), n, k,
                                         out.distances.data() + start * k,
                                         out.rows.data() + start * k));
  }
  for (int64_t& r : out.rows) {
    if (r >= 0) r += row_offset;
  }
  return out;
}

Neighbours MergeNeighbours(const std::vector<Neighbours>& shards, int64_t num_queries, int32_t k) {
  Neighbours out;
  out.k = k;
  out.distances.assign(static_cast<size_t>(num_queries * k), 2.0f);
  out.rows.assign(static_cast<size_t>(num_queries * k), -1);
  std::vector<std::pair<float, int64_t>> candidates;
  for (int64_t q = 0; q < num_queries; ++q) {
    candidates.clear();
    for (const Neighbours& s : shards) {
      for (int32_t j = 0; j < s.k; ++j) {
        const int64_t row = s.rows[q * s.k + j];
        if (row >= 0) candidates.emplace_back(s.distances[q * s.k + j], row);
      }
    }
    const size_t keep = std::min(candidates.size(), static_cast<size_t>(k));
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<int64_t>(keep),
                      candidates.end());
    for (size_t j = 0; j < keep; ++j) {
      out.distances[q * k + static_cast<int64_t>(j)] = candidates[j].first;
      out.rows[q * k + static_cast<int64_t>(j)] = candidates[j].second;
    }
  }
  return out;
}

std::vector<float> KCoreFromNeighbours(const Neighbours& merged, int64_t num_queries, int32_t k,
                                       bool leave_one_out, int64_t first_row) {
  std::vector<float> out(static_cast<size_t>(num_queries));
  for (int64_t i = 0; i < num_queries; ++i) {
    out[i] = KCoreOfNeighbours(merged.distances.data() + i * merged.k,
                               merged.rows.data() + i * merged.k, k, leave_one_out, first_row + i);
  }
  return out;
}

Result<ReferenceDistribution> BuildReference(const index::CosineIndex& index,
                                             const float* normalized, int32_t k, double percentile,
                                             ProgressFn progress, void* user) {
  ReferenceDistribution ref;
  ref.k = k;
  ref.percentile = percentile;
  SEXTANT_ASSIGN_OR_RETURN(ref.sorted, KCoreDistances(index, normalized, index.size(), k,
                                                      /*leave_one_out=*/true, progress, user));
  std::sort(ref.sorted.begin(), ref.sorted.end());
  ref.threshold = Percentile(ref.sorted, percentile);
  return ref;
}

}  // namespace sextant::drift
