#include "drift/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace sextant::drift {

std::vector<int64_t> SampleRows(int64_t population, int64_t sample_size, uint64_t seed) {
  std::vector<int64_t> rows(static_cast<size_t>(std::max<int64_t>(population, 0)));
  std::iota(rows.begin(), rows.end(), int64_t{0});
  if (sample_size <= 0 || sample_size >= population) return rows;
  // Partial Fisher-Yates: the first sample_size slots end up a uniform sample.
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < sample_size; ++i) {
    const auto range = static_cast<uint64_t>(population - i);
    const uint64_t limit =
        std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
    uint64_t draw;
    do draw = rng();
    while (draw >= limit);  // rejection keeps every slot equally likely
    std::swap(rows[i], rows[i + static_cast<int64_t>(draw % range)]);
  }
  rows.resize(static_cast<size_t>(sample_size));
  std::sort(rows.begin(), rows.end());
  return rows;
}

double DkwEpsilon(int64_t n, double delta) {
  if (n <= 0) return std::numeric_limits<double>::infinity();
  return std::sqrt(std::log(2.0 / delta) / (2.0 * static_cast<double>(n)));
}

ReferenceDistribution MakeReference(std::vector<float> distances, int32_t k, double percentile) {
  ReferenceDistribution ref;
  ref.k = k;
  ref.percentile = percentile;
  ref.sorted = std::move(distances);
  std::sort(ref.sorted.begin(), ref.sorted.end());
  ref.threshold = Percentile(ref.sorted, percentile);
  return ref;
}

int64_t CountAbove(const ReferenceDistribution& ref, double threshold) {
  // The same comparison as the flag: a distance d is above when d > threshold.
  const auto first_above = std::find_if(ref.sorted.begin(), ref.sorted.end(), [threshold](float d) {
    return static_cast<double>(d) > threshold;
  });
  return static_cast<int64_t>(ref.sorted.end() - first_above);
}

LooPlan PlanLeaveOneOut(int64_t population, int32_t k, int64_t sample_size, uint64_t seed) {
  LooPlan plan;
  if (sample_size <= 0 || sample_size >= population) {
    plan.searched_k = k;
    plan.leave_one_out = true;
    return plan;
  }
  plan.sample = SampleRows(population, sample_size, seed);
  plan.searched_k = k + 1;
  plan.leave_one_out = false;
  return plan;
}

std::vector<float> GatherRows(const float* rows, int64_t dim, const std::vector<int64_t>& which) {
  std::vector<float> out(which.size() * static_cast<size_t>(dim));
  for (size_t i = 0; i < which.size(); ++i) {
    std::copy_n(rows + which[i] * dim, dim, out.begin() + static_cast<int64_t>(i) * dim);
  }
  return out;
}

Result<ReferenceDistribution> BuildSampledReference(const index::CosineIndex& index,
                                                    const float* normalized, int32_t k,
                                                    double percentile, int64_t sample_size,
                                                    uint64_t seed, ProgressFn progress,
                                                    void* user) {
  const LooPlan plan = PlanLeaveOneOut(index.size(), k, sample_size, seed);
  if (plan.sample.empty()) return BuildReference(index, normalized, k, percentile, progress, user);
  if (index.size() < int64_t{k} + 1) {
    return Status::FailedPrecondition(
        "drift: the training reference holds " + std::to_string(index.size()) +
        " embeddings; k = " + std::to_string(k) + " needs at least " + std::to_string(k + 1));
  }
  const std::vector<float> queries = GatherRows(normalized, index.dim(), plan.sample);
  SEXTANT_ASSIGN_OR_RETURN(
      std::vector<float> distances,
      KCoreDistances(index, queries.data(), static_cast<int64_t>(plan.sample.size()),
                     plan.searched_k, plan.leave_one_out, progress, user));
  return MakeReference(std::move(distances), k, percentile);
}

}  // namespace sextant::drift
