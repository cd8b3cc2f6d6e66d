// The searches of a finish's drift stage (docs/distributed-drift.md): the
// training reference as one index or as S row shards (training_shards), and
// the k-core distances of any split's rows against it, in this process or as
// shard tasks ("kcore" with one training shard, "knn" per query range and
// training shard, merged here). Every path searches the same query blocks
// with the same code, so the distances are bitwise those of one exact index.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "index/cosine_index.h"
#include "index/search_cost.h"
#include "processing/shard_tasks.h"
#include "processing/summary.h"
#include "sextant/processing_options.h"
#include "store/run_store.h"

namespace sextant::processing {

// Training rows per training shard are a multiple of this: the database block
// of the flat search, so a shard's distances are those of the whole index.
constexpr int64_t kTrainingShardAlignment = 1024;

// The training shards of `rows` x `dim` embeddings: options.training_shards,
// or when 0, 1 in process and with an executor as many as keep each shard's
// index (about rows * dim * 4 bytes in all) within WorkerMemoryBytes.
int32_t RequestedTrainingShards(const ProcessingOptions& options, int64_t rows, int64_t dim);

// The first row of each of the shards of `rows` rows, then `rows`: `shards`
// contiguous shards of equal size rounded up to kTrainingShardAlignment
// (fewer when the rows run out first).
std::vector<int64_t> TrainingShardBounds(int64_t rows, int32_t shards);

class DriftSearch {
 public:
  // Builds the training reference's index(es) from `train_norm` (the
  // training split's unit rows). With `workspace`, writes each index once as
  // `<family>-index[-s].faiss` for the tasks. `queries`: how many queries the
  // searches will run in all (leave-one-out sample and scored splits), which
  // nn_search = auto weighs against building an approximate index
  // (index/search_cost.h); -1 when unknown (taken as `rows`).
  static Result<std::unique_ptr<DriftSearch>> Build(const ProcessingOptions& options,
                                                    const float* train_norm, int64_t rows,
                                                    int64_t dim, ShardWorkspace* workspace,
                                                    const std::string& family,
                                                    int64_t queries = -1);

  bool approximate() const { return approximate_; }
  // The training index's cells (unit centroids, nlist x dim) when it is one
  // IVF index (one training shard); empty otherwise. The similarity index of
  // every split starts from them (processing/similarity_index.h).
  std::vector<float> TrainingCells() const;
  // "requested", "used", "auto_min_values", "cost_model" (the auto decision:
  // index::SearchChoiceJson), "index" (the first shard's),
  // "training_shards" and, with several, "shards" (first row, rows, index).
  ordered_json Parameters(const ProcessingOptions& options) const;

  // The k-core distances of rows `sample` of split `split` (every row when
  // empty), split number `split_index` of the finish; `normalized` is its unit
  // rows (used in process; the tasks normalise the staged raw rows). With
  // `leave_one_out`, query i is training row i (no sample).
  Result<std::vector<float>> KCore(const store::SplitResults& split, size_t split_index,
                                   const float* normalized, const std::vector<int64_t>& sample,
                                   int32_t k, bool leave_one_out, const ProcessingOptions& options);

 private:
  DriftSearch() = default;
  Result<std::vector<float>> KCoreInProcess(const float* queries, int64_t n, int32_t k,
                                            bool leave_one_out, const ProcessingOptions& options);
  Result<std::vector<float>> KCoreByTasks(const store::SplitResults& split, size_t split_index,
                                          const std::vector<int64_t>& sample, int32_t k,
                                          bool leave_one_out, const ProcessingOptions& options);

  std::vector<std::unique_ptr<index::CosineIndex>> shards_;
  std::vector<int64_t> bounds_;     // shard s holds rows [bounds_[s], bounds_[s + 1])
  std::vector<std::string> files_;  // each shard's index as tasks name it (with a workspace)
  ShardWorkspace* workspace_ = nullptr;
  std::string family_;
  bool approximate_ = false;
  index::SearchChoice choice_;
  int samples_staged_ = 0;
};

}  // namespace sextant::processing
