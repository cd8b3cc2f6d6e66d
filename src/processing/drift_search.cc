#include "processing/drift_search.h"

#include <algorithm>
#include <cmath>

#include "drift/knn_drift.h"
#include "drift/reference.h"
#include "io/npy.h"
#include "processing/similarity_index.h"

namespace sextant::processing {

int32_t RequestedTrainingShards(const ProcessingOptions& options, int64_t rows, int64_t dim) {
  if (options.training_shards > 0) return options.training_shards;
  if (options.executor == nullptr) return 1;
  const int64_t budget = options.executor->WorkerMemoryBytes();
  if (budget <= 0) return 1;
  const int64_t bytes = rows * dim * static_cast<int64_t>(sizeof(float));
  return static_cast<int32_t>(std::max<int64_t>(1, (bytes + budget - 1) / budget));
}

std::vector<int64_t> TrainingShardBounds(int64_t rows, int32_t shards) {
  const int64_t s = std::max<int32_t>(shards, 1);
  int64_t size = (rows + s - 1) / s;
  size = std::max<int64_t>(1, (size + kTrainingShardAlignment - 1) / kTrainingShardAlignment) *
         kTrainingShardAlignment;
  std::vector<int64_t> bounds = {0};
  while (bounds.back() < rows) bounds.push_back(std::min(rows, bounds.back() + size));
  if (bounds.size() == 1) bounds.push_back(0);  // no rows: one empty shard
  return bounds;
}

Result<std::unique_ptr<DriftSearch>> DriftSearch::Build(const ProcessingOptions& options,
                                                        const float* train_norm, int64_t rows,
                                                        int64_t dim, ShardWorkspace* workspace,
                                                        const std::string& family,
                                                        int64_t queries) {
  std::unique_ptr<DriftSearch> out(new DriftSearch());
  out->workspace_ = workspace;
  out->family_ = family;
  // Exact or approximate is decided on the whole reference, then every shard
  // is built the same way (IVF with the same options per shard).
  out->choice_ = index::ChooseSearch(options.nn_search, rows, dim, queries >= 0 ? queries : rows,
                                     options.nn_auto_min_values);
  out->approximate_ = out->choice_.approximate;
  const NnSearch method = out->approximate_ ? NnSearch::kApproximate : NnSearch::kExact;
  index::IvfOptions ivf;
  ivf.tune_k = options.drift_k;
  ivf.tune_percentile = options.drift_percentile;
  out->bounds_ = TrainingShardBounds(rows, RequestedTrainingShards(options, rows, dim));
  const size_t shards = out->bounds_.size() - 1;
  for (size_t s = 0; s < shards; ++s) {
    const int64_t first = out->bounds_[s], count = out->bounds_[s + 1] - first;
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<index::CosineIndex> built,
                             index::BuildForSearch(train_norm + first * dim, count, dim, method,
                                                   options.nn_auto_min_values, ivf));
    // One index chosen by the cost model: with its tuned nprobe known, exact
    // may now be the cheaper way to run the queries (index/search_cost.h).
    if (shards == 1 && built->approximate() &&
        index::ReviseAfterTuning(&out->choice_, built->info().nlist, built->info().nprobe)) {
      SEXTANT_ASSIGN_OR_RETURN(built, index::CosineIndex::Build(train_norm, count, dim));
    }
    if (workspace != nullptr) {
      const std::string file =
          family + "-index" + (shards > 1 ? "-" + std::to_string(s) : std::string()) + ".faiss";
      SEXTANT_RETURN_IF_ERROR(built->Write(workspace->Path(file)));
      workspace->CountWritten(file);
      out->files_.push_back(workspace->Name(file));
    }
    out->shards_.push_back(std::move(built));
  }
  // A reference of fewer than 2,000 rows is one exact cell even when asked
  // for approximate search: say what was searched.
  out->approximate_ = out->shards_.front()->approximate();
  return out;
}

std::vector<float> DriftSearch::TrainingCells() const {
  if (shards_.size() != 1 || !shards_.front()->approximate()) return {};
  return shards_.front()->Centroids();
}

ordered_json DriftSearch::Parameters(const ProcessingOptions& options) const {
  ordered_json j = {{"requested", NnSearchName(options.nn_search)},
                    {"used", approximate_ ? "approximate" : "exact"},
                    {"auto_min_values", options.nn_auto_min_values}};
  j["cost_model"] = index::SearchChoiceJson(choice_);
  j["index"] = IndexInfoJson(shards_.front()->info());
  j["training_shards"] = static_cast<int64_t>(shards_.size());
  if (shards_.size() > 1) {
    ordered_json list = ordered_json::array();
    for (size_t s = 0; s < shards_.size(); ++s) {
      list.push_back({{"first_row", bounds_[s]},
                      {"rows", bounds_[s + 1] - bounds_[s]},
                      {"index", IndexInfoJson(shards_[s]->info())}});
    }
    j["shards"] = std::move(list);
  }
  return j;
}

Result<std::vector<float>> DriftSearch::KCore(const store::SplitResults& split, size_t split_index,
                                              const float* normalized,
                                              const std::vector<int64_t>& sample, int32_t k,
                                              bool leave_one_out,
                                              const ProcessingOptions& options) {
  if (leave_one_out && !sample.empty()) {
    return Status::Internal("drift: a leave-one-out search takes every training row");
  }
  if (workspace_ != nullptr) {
    return KCoreByTasks(split, split_index, sample, k, leave_one_out, options);
  }
  if (sample.empty()) {
    return KCoreInProcess(normalized, static_cast<int64_t>(split.samples.size()), k, leave_one_out,
                          options);
  }
  const std::vector<float> queries = drift::GatherRows(normalized, split.emb_dim, sample);
  return KCoreInProcess(queries.data(), static_cast<int64_t>(sample.size()), k, leave_one_out,
                        options);
}

Result<std::vector<float>> DriftSearch::KCoreInProcess(const float* queries, int64_t n, int32_t k,
                                                       bool leave_one_out,
                                                       const ProcessingOptions& options) {
  if (shards_.size() == 1) {
    return drift::KCoreDistances(*shards_.front(), queries, n, k, leave_one_out, options.progress,
                                 options.progress_user);
  }
  const int32_t searched = leave_one_out ? k + 1 : k;
  std::vector<drift::Neighbours> found;
  for (size_t s = 0; s < shards_.size(); ++s) {
    SEXTANT_ASSIGN_OR_RETURN(drift::Neighbours f,
                             drift::ShardNeighbours(*shards_[s], queries, n, searched, bounds_[s]));
    found.push_back(std::move(f));
    if (options.progress) {
      options.progress("nearest neighbours (training shards)", static_cast<int64_t>(s + 1),
                       static_cast<int64_t>(shards_.size()), options.progress_user);
    }
  }
  return drift::KCoreFromNeighbours(drift::MergeNeighbours(found, n, searched), n, k, leave_one_out,
                                    0);
}

Result<std::vector<float>> DriftSearch::KCoreByTasks(const store::SplitResults& split,
                                                     size_t split_index,
                                                     const std::vector<int64_t>& sample, int32_t k,
                                                     bool leave_one_out,
                                                     const ProcessingOptions& options) {
  if (split.samples.empty()) return std::vector<float>();
  SEXTANT_ASSIGN_OR_RETURN(
      const std::string rows,
      workspace_->SplitRows(split, family_ + "-" + std::to_string(split_index)));
  std::string sample_name;
  if (!sample.empty()) {
    const std::string file = family_ + "-" + std::to_string(split_index) + "-sample-" +
                             std::to_string(samples_staged_++) + ".npy";
    SEXTANT_RETURN_IF_ERROR(io::WriteNpyInt64(workspace_->Path(file), sample.data(),
                                              static_cast<int64_t>(sample.size())));
    workspace_->CountWritten(file);
    sample_name = workspace_->Name(file);
  }
  const auto n = static_cast<int64_t>(sample.empty() ? split.samples.size() : sample.size());
  const auto ranges = ShardRanges(n, options.shard_rows);
  auto spec_of = [&](size_t shard, std::pair<int64_t, int64_t> range, int32_t task_k) {
    nlohmann::json spec = {{"index", files_[shard]},
                           {"rows", rows},
                           {"begin", range.first},
                           {"end", range.second},
                           {"k", task_k}};
    if (!sample_name.empty()) spec["sample"] = sample_name;
    return spec;
  };
  std::vector<ShardTask> tasks;
  if (shards_.size() == 1) {
    for (const auto& range : ranges) {
      nlohmann::json spec = spec_of(0, range, k);
      spec["leave_one_out"] = leave_one_out;
      tasks.push_back({"kcore", spec.dump(), {files_[0]}});
    }
    SEXTANT_ASSIGN_OR_RETURN(const std::vector<std::string> out,
                             workspace_->Run("drift: k-core distances", tasks));
    std::vector<float> distances;
    distances.reserve(static_cast<size_t>(n));
    for (size_t t = 0; t < ranges.size(); ++t) {
      SEXTANT_ASSIGN_OR_RETURN(
          const std::vector<float> part,
          UnpackArray<float>(out[t], static_cast<size_t>(ranges[t].second - ranges[t].first),
                             "kcore"));
      distances.insert(distances.end(), part.begin(), part.end());
    }
    return distances;
  }
  // Several training shards: each query range against each shard ("knn"),
  // merged here exactly as in process.
  const int32_t searched = leave_one_out ? k + 1 : k;
  for (const auto& range : ranges) {
    for (size_t s = 0; s < shards_.size(); ++s) {
      nlohmann::json spec = spec_of(s, range, searched);
      spec["offset"] = bounds_[s];
      tasks.push_back({"knn", spec.dump(), {files_[s]}});
    }
  }
  SEXTANT_ASSIGN_OR_RETURN(const std::vector<std::string> out,
                           workspace_->Run("drift: training shard neighbours", tasks));
  std::vector<drift::Neighbours> found(shards_.size());
  for (drift::Neighbours& f : found) {
    f.k = searched;
    f.distances.resize(static_cast<size_t>(n * searched));
    f.rows.resize(static_cast<size_t>(n * searched));
  }
  for (size_t r = 0; r < ranges.size(); ++r) {
    for (size_t s = 0; s < shards_.size(); ++s) {
      SEXTANT_RETURN_IF_ERROR(UnpackNeighbours(out[r * shards_.size() + s],
                                               ranges[r].second - ranges[r].first, &found[s],
                                               ranges[r].first));
    }
  }
  return drift::KCoreFromNeighbours(drift::MergeNeighbours(found, n, searched), n, k, leave_one_out,
                                    0);
}

}  // namespace sextant::processing
