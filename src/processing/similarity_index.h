// The similarity index finish stores with the results (docs/format.md): one
// cosine index over the embeddings of every split, rows in split order, and a
// manifest that maps its rows back to (split, row).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "index/cosine_index.h"
#include "processing/shard_tasks.h"
#include "processing/summary.h"
#include "sextant/status.h"
#include "store/run_store.h"

namespace sextant::processing {

// What an index is, for the parameters stored with the results.
ordered_json IndexInfoJson(const index::IndexInfo& info);

struct SimilarityIndex {
  std::unique_ptr<index::CosineIndex> index;
  ordered_json manifest;  // similarity.json
};

// Builds the index over `splits` (their float32 embeddings, normalized block by
// block: memory is the index plus a bounded working set). Exact (one cell)
// below 2,000 rows, else IVF with about sqrt(rows) cells, nprobe tuned for
// recall@10 >= 0.98 on 256 sampled rows. None when no split has embeddings or
// their widths differ.
// `start_cells` (unit centroids, rows of the embeddings' width), when given,
// are the cells instead of a k-means of their own: a finish passes those of
// the drift index over the training rows, which saves the k-means and a
// third of the assignment. They are kept unless the rows spread over them
// unevenly (IvfOptions::max_cell_imbalance: e.g. production rows far from
// every training cell), when the index trains its own.
// With `shards`, the rows' cells are assigned by "ivf_assign" shard tasks of
// `shard_rows` rows (AssignAsShards) on the splits' rows staged as
// `<family>-<split index>.npy`; the index is bitwise the same.
Result<std::optional<SimilarityIndex>> BuildSimilarityIndex(
    const std::vector<store::SplitResults>& splits, ShardWorkspace* shards = nullptr,
    const std::string& family = "rows", int64_t shard_rows = 65536,
    const std::vector<float>& start_cells = {});

// Adds similarity.faiss and similarity.json to the files of a commit. `index`
// must outlive the commit.
// `name` is the files' stem: "similarity", or "span_similarity" for NER span rows.
void AddSimilarityFiles(const SimilarityIndex& index, store::CommitOptions* commit,
                        const std::string& name = "similarity");

}  // namespace sextant::processing
