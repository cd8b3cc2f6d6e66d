#include "processing/run_map.h"

#include <string>

#include "map/umap.h"
#include "processing/shard_tasks_map.h"

namespace sextant::processing {

using ordered_json = nlohmann::ordered_json;

Result<ordered_json> ComputeRunMap(const ProcessingOptions& options,
                                   std::vector<store::SplitResults>* splits, ShardWorkspace* shards,
                                   const std::string& family) {
  auto not_computed = [](const std::string& reason) {
    return ordered_json{{"computed", false}, {"reason", reason}};
  };
  if (!options.compute_map) return not_computed("compute_map is off");
  int64_t dim = -1;
  for (const store::SplitResults& s : *splits) {
    if (s.samples.empty()) continue;
    if (dim >= 0 && s.emb_dim != dim) {
      return not_computed("the splits' embedding widths differ (" + std::to_string(dim) + " and " +
                          std::to_string(s.emb_dim) + ")");
    }
    dim = s.emb_dim;
  }
  if (dim <= 0) return not_computed("no embeddings");

  map::MapOptions mo;
  mo.n_neighbors = options.map_n_neighbors;
  mo.min_dist = options.map_min_dist;
  mo.max_points = options.map_max_points;
  mo.seed = options.map_seed;
  mo.knn = options.nn_search;
  if (options.progress) {
    mo.progress = [&options](int64_t done, int64_t total) {
      options.progress("2-D map", done, total, options.progress_user);
    };
  }
  if (shards != nullptr) {
    mo.place = [&](const map::PlacementModel& model, const std::vector<int64_t>& rest,
                   float* placed) {
      return PlaceAsShards(*shards, options.shard_rows, *splits, family, model, rest, placed);
    };
  }
  map::RowBlocks rows(dim);
  for (const store::SplitResults& s : *splits) {
    rows.Add(s.embeddings.data(), static_cast<int64_t>(s.samples.size()));
  }
  SEXTANT_ASSIGN_OR_RETURN(map::MapResult result, map::ComputeMap(rows, mo));
  size_t offset = 0;
  for (store::SplitResults& s : *splits) {
    const size_t count = 2 * s.samples.size();
    s.map.assign(result.coords.begin() + static_cast<std::ptrdiff_t>(offset),
                 result.coords.begin() + static_cast<std::ptrdiff_t>(offset + count));
    offset += count;
  }
  const map::MapInfo& i = result.info;
  return ordered_json{
      {"computed", true},
      {"method",
       "PCA of unit-normalised embeddings, then UMAP to 2-D (McInnes, Healy, Melville 2018)"},
      {"distance", "Euclidean between unit embeddings in PCA space (monotone in cosine distance)"},
      {"n_neighbors", i.n_neighbors},
      {"min_dist", mo.min_dist},
      {"spread", mo.spread},
      {"a", i.a},
      {"b", i.b},
      {"seed", mo.seed},
      {"pca_dims", i.pca_dims},
      {"pca_fit_points", i.pca_fit_points},
      {"pca_explained_variance", i.pca_explained_variance},
      {"epochs", i.epochs},
      {"epochs_rule",
       "500 up to 10,000 layout points, else 5,000,000 / layout points within [50, 500]"},
      {"layout_sgd",
       "parallel over points on all threads, each point moved only by its own edges, reading "
       "the others' positions of the previous epoch (bitwise the same for any thread count)"},
      {"negative_sample_rate", mo.negative_sample_rate},
      {"init", "first two principal components"},
      {"max_points", mo.max_points},
      {"points", i.points},
      {"layout_points", i.layout_points},
      {"placed_points", i.placed_points},
      {"placement",
       "points beyond max_points: membership-weighted mean of their n_neighbors "
       "nearest layout points"},
      {"edges", i.edges},
      {"knn", i.knn_approximate ? "approximate (Faiss IndexIVFFlat cells, L2, scanned by Sextant)"
                                : "exact (Faiss IndexFlatL2)"},
      {"knn_nlist", i.knn_nlist},
      {"knn_nprobe", i.knn_nprobe},
      {"knn_recall_estimate", i.knn_recall_estimate},
      {"seconds", i.seconds},
      {"cpu_seconds", i.cpu_seconds},
      {"stage_seconds",
       {{"pca", i.seconds_pca},
        {"knn", i.seconds_knn},
        {"graph", i.seconds_graph},
        {"layout", i.seconds_layout},
        {"place", i.seconds_place}}}};
}

}  // namespace sextant::processing
