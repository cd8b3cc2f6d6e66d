#include "processing/run_map.h"

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <utility>

#include "common/file_util.h"
#include "io/npy.h"
#include "processing/shard_tasks_map.h"

namespace sextant::processing {

using ordered_json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kManifest = "map.json";
constexpr int64_t kManifestFormat = 1;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string ModelFolder(const std::string& family) {
  if (family == "rows") return "map_model";
  if (family == "span-rows") return "span_map_model";
  return family + "_map_model";
}

// A split's committed coordinates, relative to its generation folder
// (store::RunStore::CommitResults writes them there).
std::string MapFile(const std::string& family, const SplitKey& key) {
  return key.DirName() + (family == "span-rows" ? "/spans" : "") + "/map.npy";
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The options that decide the layout: a stored map is reused only under the same.
ordered_json LayoutOptionsJson(const map::MapOptions& mo, int64_t dim) {
  return {{"n_neighbors", mo.n_neighbors},
          {"min_dist", mo.min_dist},
          {"spread", mo.spread},
          {"max_points", mo.max_points},
          {"seed", mo.seed},
          {"knn", NnSearchName(mo.knn)},
          {"width", dim}};
}

// The earlier finish's map, read back and checked.
struct Previous {
  map::PlacementModel model;
  ordered_json layout;                               // the full map's parameters, as reported then
  std::map<std::string, std::vector<float>> coords;  // by split key; n x 2
};

// Reads the map of the earlier results into `out`. Returns why it cannot be
// reused, or "" when it can: every split it mapped is among `splits` with the
// same rows, under the same `options`, and its files are intact.
std::string LoadPrevious(const PreviousResults& previous, const std::string& family,
                         const ordered_json& options,
                         const std::vector<store::SplitResults>& splits,
                         const std::vector<std::string>& fingerprints, Previous* out) {
  if (previous.store == nullptr || previous.generation <= 0)
    return "the run has no earlier results";
  const store::RunStore& store = *previous.store;
  const int64_t gen = previous.generation;
  const std::string folder = ModelFolder(family);
  const fs::path gen_dir = store.GenerationDir(gen);
  // Checksums first: a torn or flipped file is not read as a model.
  auto files = store.ListResultFiles(gen);
  if (!files.ok()) return "cannot list the earlier results: " + files.status().message();
  for (const store::ResultFileInfo& f : *files) {
    if (f.path.rfind(folder + "/", 0) != 0) continue;
    if (Status st = store.VerifyResultFile(gen, f.path); !st.ok()) {
      return "the earlier map model is unusable: " + st.message();
    }
  }
  auto text = ReadFileToString(gen_dir / folder / kManifest);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return "the earlier results have no map model (finished without a map, or before "
             "incremental maps)";
    }
    return "the earlier map model is unusable: " + text.status().message();
  }
  const ordered_json manifest = ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const std::string where = "'" + (gen_dir / folder / kManifest).string() + "'";
  if (!manifest.is_object() || !manifest.contains("format") ||
      manifest["format"] != ordered_json(kManifestFormat) || !manifest.contains("options") ||
      !manifest["options"].is_object() || !manifest.contains("splits") ||
      !manifest["splits"].is_array() || !manifest.contains("layout") ||
      !manifest["layout"].is_object()) {
    return "the earlier map model is unusable: " + where +
           " is not a format-1 manifest with options, splits and layout";
  }
  for (const auto& [name, value] : options.items()) {
    const ordered_json& was =
        manifest["options"].contains(name) ? manifest["options"][name] : ordered_json(nullptr);
    if (was != value) {
      return "the map option '" + name + "' changed (" + was.dump() + ", now " + value.dump() + ")";
    }
  }
  std::map<std::string, size_t> now;
  for (size_t i = 0; i < splits.size(); ++i) now[splits[i].split.ToString()] = i;
  std::map<std::string, int64_t> mapped;  // key -> rows
  for (const ordered_json& s : manifest["splits"]) {
    if (!s.is_object() || !s.contains("key") || !s["key"].is_string() || !s.contains("rows") ||
        !s["rows"].is_number_integer() || !s.contains("fingerprint") ||
        !s["fingerprint"].is_string()) {
      return "the earlier map model is unusable: " + where + " lists a split without key, rows " +
             "and fingerprint";
    }
    const std::string key = s["key"].get<std::string>();
    const auto rows = s["rows"].get<int64_t>();
    auto it = now.find(key);
    if (it == now.end()) return "split '" + key + "' of the earlier map is gone";
    const store::SplitResults& split = splits[it->second];
    const auto n = static_cast<int64_t>(split.samples.size());
    if (rows != n) {
      return "split '" + key + "' changed: " + std::to_string(rows) + " rows were mapped, it has " +
             std::to_string(n) + " now";
    }
    if (s["fingerprint"].get<std::string>() != fingerprints[it->second]) {
      return "split '" + key + "' changed: its embeddings differ from the mapped ones";
    }
    if (!mapped.emplace(key, rows).second) {
      return "the earlier map model is unusable: " + where + " lists split '" + key + "' twice";
    }
  }
  auto model = map::ReadPlacementModel(gen_dir / folder);
  if (!model.ok()) return "the earlier map model is unusable: " + model.status().message();
  if (model->pca.in_dims() != options["width"].get<int64_t>()) {
    return "the earlier map model is unusable: its PCA reads " +
           std::to_string(model->pca.in_dims()) + " columns";
  }
  for (const auto& [key, rows] : mapped) {
    if (rows == 0) continue;  // no map.npy is written for an empty split
    const std::string relative = MapFile(family, splits[now[key]].split);
    auto coords = [&]() -> Result<io::FloatMatrix> {
      SEXTANT_RETURN_IF_ERROR(store.VerifyResultFile(gen, relative));
      return io::ReadNpyAsFloat32(gen_dir / relative);
    }();
    if (!coords.ok()) {
      return "the earlier map of split '" + key + "' is unusable: " + coords.status().message();
    }
    if (coords->rows != rows || coords->cols != 2) {
      return "the earlier map of split '" + key + "' holds " + std::to_string(coords->rows) +
             " x " + std::to_string(coords->cols) + " values; expected " + std::to_string(rows) +
             " x 2";
    }
    for (float v : coords->data) {
      if (!std::isfinite(v)) return "the earlier map of split '" + key + "' is not finite";
    }
    out->coords[key] = std::move(coords->data);
  }
  out->model = std::move(*model);
  out->layout = manifest["layout"];
  return "";
}

ordered_json Manifest(const std::string& family, const ordered_json& options,
                      const std::vector<store::SplitResults>& splits,
                      const std::vector<std::string>& fingerprints, const ordered_json& layout) {
  ordered_json list = ordered_json::array();
  for (size_t i = 0; i < splits.size(); ++i) {
    list.push_back({{"key", splits[i].split.ToString()},
                    {"rows", static_cast<int64_t>(splits[i].samples.size())},
                    {"fingerprint", fingerprints[i]}});
  }
  return {{"format", kManifestFormat},
          {"family", family},
          {"fingerprint", "RowsFingerprint of each split's float32 embeddings (docs/format.md)"},
          {"options", options},
          {"splits", list},
          {"layout", layout}};
}

}  // namespace

uint64_t RowsFingerprint(const float* values, size_t count) {
  // FNV-1a's prime and offset basis over little-endian 64-bit words, in four
  // interleaved lanes (one multiply chain each, so it runs at memory speed),
  // each step rotated so that high bits reach low ones; then the tail bytes,
  // the lanes and the length folded in, and MurmurHash3's 64-bit finaliser.
  constexpr uint64_t kPrime = 0x100000001b3ULL, kBasis = 0xcbf29ce484222325ULL;
  uint64_t lane[4] = {kBasis, kBasis + 1, kBasis + 2, kBasis + 3};
  const auto* bytes = reinterpret_cast<const unsigned char*>(values);
  const size_t n = count * sizeof(float);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, bytes + i + 8 * l, 8);
      lane[l] = std::rotl((lane[l] ^ w) * kPrime, 31);
    }
  }
  uint64_t h = kBasis;
  for (; i < n; ++i) h = (h ^ bytes[i]) * kPrime;
  for (uint64_t v : lane) h = std::rotl((h ^ v) * kPrime, 31);
  h ^= static_cast<uint64_t>(n);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb93fe53a87dULL;
  h ^= h >> 33;
  return h;
}

Result<ordered_json> ComputeRunMap(const ProcessingOptions& options,
                                   std::vector<store::SplitResults>* splits, ShardWorkspace* shards,
                                   const std::string& family, const PreviousResults& previous,
                                   std::optional<RunMapModel>* model_out) {
  if (model_out != nullptr) model_out->reset();
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
  const auto start = Clock::now();
  const std::clock_t cpu_start = std::clock();
  const std::string folder = ModelFolder(family);
  const ordered_json layout_options = LayoutOptionsJson(mo, dim);
  std::vector<std::string> fingerprints(splits->size());
  for (size_t i = 0; i < splits->size(); ++i) {
    const store::SplitResults& s = (*splits)[i];
    fingerprints[i] = Hex64(
        RowsFingerprint(s.embeddings.data(),
                        s.samples.size() * static_cast<size_t>(std::max<int64_t>(0, s.emb_dim))));
  }

  // Incremental: the earlier map kept, only the new splits' rows placed on it.
  std::string full_reason = "map_incremental is off";
  if (options.map_incremental) {
    Previous prev;
    full_reason = LoadPrevious(previous, family, layout_options, *splits, fingerprints, &prev);
    if (full_reason.empty()) {
      const double seconds_load = Since(start);
      const auto place_start = Clock::now();
      map::RowBlocks rows(dim);
      std::vector<size_t> placed_splits;
      int64_t reused = 0;
      for (size_t i = 0; i < splits->size(); ++i) {
        store::SplitResults& s = (*splits)[i];
        if (prev.coords.contains(s.split.ToString()) || s.samples.empty()) continue;
        rows.Add(s.embeddings.data(), static_cast<int64_t>(s.samples.size()));
        placed_splits.push_back(i);
      }
      const int64_t m = rows.rows();
      std::vector<int64_t> rest(static_cast<size_t>(m));
      std::iota(rest.begin(), rest.end(), int64_t{0});
      std::vector<float> placed(static_cast<size_t>(2 * m));
      const Status st =
          m == 0 ? Status::OK() : map::PlaceRows(prev.model, rows, rest, 0, m, placed.data());
      if (st.ok()) {
        for (store::SplitResults& s : *splits) {
          auto it = prev.coords.find(s.split.ToString());
          if (it == prev.coords.end()) {
            s.map.clear();
            continue;
          }
          s.map = std::move(it->second);
          reused += static_cast<int64_t>(s.samples.size());
        }
        size_t offset = 0;
        for (size_t i : placed_splits) {
          store::SplitResults& s = (*splits)[i];
          const size_t count = 2 * s.samples.size();
          s.map.assign(placed.begin() + static_cast<std::ptrdiff_t>(offset),
                       placed.begin() + static_cast<std::ptrdiff_t>(offset + count));
          offset += count;
        }
        ordered_json p = prev.layout;  // the layout's parameters, as its full finish gave them
        p["mode"] = "incremental";
        p.erase("full_reason");
        p["points"] = reused + m;
        p["reused_points"] = reused;
        p["placed_points"] = m;
        p["placement"] =
            "the splits of the earlier map keep their coordinates; rows of new splits: "
            "membership-weighted mean of their n_neighbors nearest layout points";
        p["seconds"] = Since(start);
        p["cpu_seconds"] = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
        p["stage_seconds"] = {{"load_previous", seconds_load}, {"place", Since(place_start)}};
        if (model_out != nullptr) {
          *model_out = RunMapModel{
              std::make_shared<const map::PlacementModel>(std::move(prev.model)), folder,
              Manifest(family, layout_options, *splits, fingerprints, prev.layout).dump(2)};
        }
        return p;
      }
      full_reason = "placing the new rows on the earlier map failed: " + st.message();
    }
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
  ordered_json p{
      {"computed", true},
      {"mode", "full"},
      {"full_reason", full_reason},
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
      {"reused_points", 0},
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
  if (model_out != nullptr && result.model != nullptr) {
    *model_out = RunMapModel{std::move(result.model), folder,
                             Manifest(family, layout_options, *splits, fingerprints, p).dump(2)};
  }
  return p;
}

void AddMapModelFiles(const RunMapModel& model, store::CommitOptions* commit) {
  commit->files.push_back(
      {model.folder, [m = model.model, manifest = model.manifest](const fs::path& p) -> Status {
         SEXTANT_RETURN_IF_ERROR(map::WritePlacementModel(*m, p).status());
         // Last: a folder without map.json is not a model a later finish reads.
         return WriteFileAtomic(p / kManifest, manifest);
       }});
}

}  // namespace sextant::processing
