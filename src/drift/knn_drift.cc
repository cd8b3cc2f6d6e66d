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

Result<std::vector<float>> KCoreDistances(const index::CosineIndex& index, const float* queries,
                                          int64_t num_queries, int32_t k, bool leave_one_out,
                                          ProgressFn progress, void* user) {
  const int32_t searched = leave_one_out ? k + 1 : k;
  if (index.size() < searched) {
    return Status::FailedPrecondition(
        "drift: the training reference holds " + std::to_string(index.size()) +
        " embeddings; k = " + std::to_string(k) + " needs at least " + std::to_string(searched));
  }
  std::vector<float> out(static_cast<size_t>(num_queries));
  constexpr int64_t kChunk = 8192;
  std::vector<float> dist;
  std::vector<int64_t> labels;
  for (int64_t start = 0; start < num_queries; start += kChunk) {
    const int64_t n = std::min(kChunk, num_queries - start);
    dist.resize(static_cast<size_t>(n * searched));
    labels.resize(static_cast<size_t>(n * searched));
    SEXTANT_RETURN_IF_ERROR(
        index.Search(queries + start * index.dim(), n, searched, dist.data(), labels.data()));
    for (int64_t i = 0; i < n; ++i) {
      const float* d = dist.data() + i * searched;
      if (!leave_one_out) {
        out[start + i] = d[k - 1];
        continue;
      }
      const int64_t self = start + i;
      const int64_t* l = labels.data() + i * searched;
      int32_t self_pos = searched - 1;  // drop the farthest when duplicates hide the query
      for (int32_t j = 0; j < searched; ++j) {
        if (l[j] == self) {
          self_pos = j;
          break;
        }
      }
      // The k-th neighbour among the others: index k-1 if self comes after it, else k.
      out[start + i] = self_pos > k - 1 ? d[k - 1] : d[k];
    }
    if (progress) progress("nearest neighbours", start + n, num_queries, user);
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
