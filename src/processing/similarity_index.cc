#include "processing/similarity_index.h"

#include "common/file_util.h"
#include "processing/shard_tasks_map.h"

namespace sextant::processing {

ordered_json IndexInfoJson(const index::IndexInfo& info) {
  ordered_json j = {{"method", info.method}};
  if (info.method == "ivf") {
    j["nlist"] = info.nlist;
    j["nprobe"] = info.nprobe;
    j["recall_estimate"] = info.recall_estimate;
    j["recall_k"] = info.recall_k;
    j["recall_sample"] = info.recall_queries;
    j["agreement_estimate"] = info.agreement_estimate;
  }
  if (!info.cells.empty()) {
    j["cells"] = info.cells;
    j["cell_imbalance"] = info.cell_imbalance;
  }
  j["build_seconds"] = info.build_seconds;
  if (info.method == "ivf") {
    j["train_seconds"] = info.train_seconds;
    j["assign_seconds"] = info.assign_seconds;
    j["tune_seconds"] = info.tune_seconds;
  }
  return j;
}

Result<std::optional<SimilarityIndex>> BuildSimilarityIndex(
    const std::vector<store::SplitResults>& splits, ShardWorkspace* shards,
    const std::string& family, int64_t shard_rows, const std::vector<float>& start_cells) {
  int64_t dim = 0, rows = 0;
  std::vector<int64_t> offsets;
  ordered_json parts = ordered_json::array();
  for (const store::SplitResults& s : splits) {
    const auto n = static_cast<int64_t>(s.samples.size());
    if (n > 0 && dim != 0 && s.emb_dim != dim) return std::optional<SimilarityIndex>();
    if (n > 0) dim = s.emb_dim;
    offsets.push_back(rows);
    parts.push_back({{"split", s.split.ToString()}, {"offset", rows}, {"rows", n}});
    rows += n;
  }
  if (rows == 0 || dim == 0) return std::optional<SimilarityIndex>();
  // Unit rows of the splits, normalized block by block: no second full copy.
  index::RowSource source = [&](int64_t first, int64_t count, float* out) {
    for (size_t i = 0; i < splits.size() && count > 0; ++i) {
      const auto n = static_cast<int64_t>(splits[i].samples.size());
      if (first >= offsets[i] + n) continue;
      const int64_t from = first - offsets[i];
      const int64_t take = std::min(count, n - from);
      const float* src = splits[i].embeddings.data() + from * dim;
      std::copy(src, src + take * dim, out);
      index::NormalizeRows(out, take, dim);
      out += take * dim;
      first += take;
      count -= take;
    }
  };
  // sqrt(rows) cells, as for drift (IvfOptions' default; exact below 2,000
  // rows). Twice as many cells made the build 1.3x slower at 200k x 768 for
  // no faster query: a query costs nlist + nprobe * rows / nlist inner
  // products, and the coarser cells reach the recall target at half the
  // nprobe (bench/similarity_bench: p50 0.41 ms against 0.62 ms, recall@10
  // 0.996 against 1.0 over 1,000 production queries).
  index::IvfOptions ivf;
  ivf.target_agreement = 0;  // no drift flags here: recall is what a query sees
  // Recall alone needs fewer sample queries than drift's flag agreement: 256
  // queries x 10 neighbours estimate it to +-0.3% (one standard error) at
  // 0.98, and each query is an exact scan of every row (half of this stage's
  // time at 512).
  ivf.tune_queries = 256;
  if (!start_cells.empty() && start_cells.size() % static_cast<size_t>(dim) == 0) {
    ivf.given_centroids = start_cells;
  }
  if (shards != nullptr) {
    ivf.assign = [&](const float* centroids, int64_t nlist, int64_t d, int64_t n,
                     int64_t* cell_of_row) {
      return AssignAsShards(*shards, shard_rows, splits, family, centroids, nlist, d, n,
                            cell_of_row);
    };
  }
  SimilarityIndex out;
  SEXTANT_ASSIGN_OR_RETURN(out.index, index::CosineIndex::BuildIvf(source, rows, dim, ivf));
  out.manifest = {{"format", 1},
                  {"index", "similarity.faiss"},
                  {"metric", "cosine: inner product of unit vectors"},
                  {"dim", dim},
                  {"rows", rows},
                  {"splits", parts}};
  out.manifest.update(IndexInfoJson(out.index->info()));
  return std::optional<SimilarityIndex>(std::move(out));
}

void AddSimilarityFiles(const SimilarityIndex& similarity, store::CommitOptions* commit,
                        const std::string& name) {
  const index::CosineIndex* idx = similarity.index.get();
  ordered_json manifest_json = similarity.manifest;
  manifest_json["index"] = name + ".faiss";
  const std::string manifest = manifest_json.dump(2);
  commit->files.push_back(
      {name + ".faiss", [idx](const std::filesystem::path& p) { return idx->Write(p); }});
  commit->files.push_back({name + ".json", [manifest](const std::filesystem::path& p) {
                             return WriteFileAtomic(p, manifest);
                           }});
}

}  // namespace sextant::processing
