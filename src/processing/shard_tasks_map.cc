// The map and similarity-index shard tasks: "map_place" and "ivf_assign"
// (processing/shard_tasks.h), and the driver's side of both
// (processing/shard_tasks_map.h). docs/distributed-map.md.
#include "processing/shard_tasks_map.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "index/cosine_index.h"
#include "io/npy.h"

namespace sextant::processing {
namespace {

using nlohmann::json;

Status CheckShardRows(int64_t shard_rows) {
  if (shard_rows <= 0 || shard_rows % kShardRowAlignment != 0) {
    return Status::Invalid("shard_rows: must be a positive multiple of " +
                           std::to_string(kShardRowAlignment) + " (got " +
                           std::to_string(shard_rows) + ")");
  }
  return Status::OK();
}

// The rows a task reads: its "rows" list of staged split files, each mapped
// and checked against its row count and `dim`, addressed as one matrix.
struct StagedRows {
  std::vector<io::MappedNpy> files;
  map::RowBlocks rows{1};
};

Result<std::unique_ptr<StagedRows>> OpenStagedRows(const json& spec,
                                                   const std::filesystem::path& work_dir,
                                                   int64_t dim) {
  auto list = spec.find("rows");
  if (list == spec.end() || !list->is_array()) {
    return Status::Invalid("shard task: field 'rows' must be a list of {\"file\", \"rows\"}");
  }
  auto out = std::make_unique<StagedRows>();
  out->rows = map::RowBlocks(dim);
  out->files.reserve(list->size());
  for (const json& part : *list) {
    if (!part.is_object()) {
      return Status::Invalid("shard task: field 'rows' must be a list of {\"file\", \"rows\"}");
    }
    SEXTANT_ASSIGN_OR_RETURN(std::string file, SpecString(part, "file"));
    SEXTANT_ASSIGN_OR_RETURN(int64_t count, SpecInt(part, "rows"));
    SEXTANT_ASSIGN_OR_RETURN(io::MappedNpy mapped, io::MappedNpy::Open(work_dir / file));
    if (mapped.rows() != count || (count > 0 && mapped.cols() != dim)) {
      return Status::Invalid("shard task: '" + file + "' holds " + std::to_string(mapped.rows()) +
                             " x " + std::to_string(mapped.cols()) + " values; expected " +
                             std::to_string(count) + " x " + std::to_string(dim));
    }
    out->files.push_back(std::move(mapped));
    out->rows.Add(out->files.back().data(), count);  // mappings do not move with the object
  }
  return out;
}

// The spec's [begin, end), checked to lie within [0, size) and to start at
// a multiple of `block` (so that its blocks are the whole stage's).
Status CheckRange(int64_t begin, int64_t end, int64_t size, int64_t block, const char* of) {
  if (begin < 0 || begin > end || end > size) {
    return Status::Invalid("shard task: rows [" + std::to_string(begin) + ", " +
                           std::to_string(end) + ") are not within the " + std::to_string(size) +
                           " " + of);
  }
  if (begin % block != 0) {
    return Status::Invalid("shard task: begin " + std::to_string(begin) + " is not a multiple of " +
                           std::to_string(block));
  }
  return Status::OK();
}

}  // namespace

Result<json> StageSplitRows(ShardWorkspace& shards, const std::vector<store::SplitResults>& splits,
                            const std::string& family) {
  json list = json::array();
  for (size_t i = 0; i < splits.size(); ++i) {
    const auto n = static_cast<int64_t>(splits[i].samples.size());
    if (n == 0) continue;
    SEXTANT_ASSIGN_OR_RETURN(std::string file,
                             shards.SplitRows(splits[i], family + "-" + std::to_string(i)));
    list.push_back({{"file", file}, {"rows", n}});
  }
  return list;
}

Status PlaceAsShards(ShardWorkspace& shards, int64_t shard_rows,
                     const std::vector<store::SplitResults>& splits, const std::string& family,
                     const map::PlacementModel& model, const std::vector<int64_t>& rest,
                     float* placed) {
  SEXTANT_RETURN_IF_ERROR(CheckShardRows(shard_rows));
  const std::string folder = "map-" + family;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> written,
                           map::WritePlacementModel(model, shards.Path(folder)));
  std::vector<std::string> shared;
  for (const std::string& f : written) {
    shards.CountWritten(folder + "/" + f);
    shared.push_back(shards.Name(folder + "/" + f));
  }
  const std::string rest_file = folder + "-rest.npy";
  SEXTANT_RETURN_IF_ERROR(
      io::WriteNpyInt64(shards.Path(rest_file), rest.data(), static_cast<int64_t>(rest.size())));
  shards.CountWritten(rest_file);
  shared.push_back(shards.Name(rest_file));
  SEXTANT_ASSIGN_OR_RETURN(json rows, StageSplitRows(shards, splits, family));

  const auto ranges = ShardRanges(static_cast<int64_t>(rest.size()), shard_rows);
  std::vector<ShardTask> tasks;
  for (const auto& [begin, end] : ranges) {
    const json spec = {{"model", shards.Name(folder + "/placement.json")},
                       {"rows", rows},
                       {"rest", shards.Name(rest_file)},
                       {"begin", begin},
                       {"end", end}};
    tasks.push_back({"map_place", spec.dump(), shared});
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> outputs,
                           shards.Run("2-D map placement (" + family + ")", tasks));
  for (size_t t = 0; t < ranges.size(); ++t) {
    const auto [begin, end] = ranges[t];
    SEXTANT_ASSIGN_OR_RETURN(
        std::vector<float> xy,
        UnpackArray<float>(outputs[t], static_cast<size_t>(2 * (end - begin)), "map_place"));
    std::copy(xy.begin(), xy.end(), placed + 2 * begin);
  }
  return Status::OK();
}

Status AssignAsShards(ShardWorkspace& shards, int64_t shard_rows,
                      const std::vector<store::SplitResults>& splits, const std::string& family,
                      const float* centroids, int64_t nlist, int64_t dim, int64_t rows,
                      int64_t* cell_of_row) {
  SEXTANT_RETURN_IF_ERROR(CheckShardRows(shard_rows));
  const std::string file = "similarity-" + family + "-centroids.npy";
  SEXTANT_RETURN_IF_ERROR(io::WriteNpyFloat32(shards.Path(file), centroids, nlist, dim));
  shards.CountWritten(file);
  SEXTANT_ASSIGN_OR_RETURN(json staged, StageSplitRows(shards, splits, family));

  const auto ranges = ShardRanges(rows, shard_rows);
  std::vector<ShardTask> tasks;
  for (const auto& [begin, end] : ranges) {
    const json spec = {
        {"centroids", shards.Name(file)}, {"rows", staged}, {"begin", begin}, {"end", end}};
    tasks.push_back({"ivf_assign", spec.dump(), {shards.Name(file)}});
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> outputs,
                           shards.Run("similarity index cells (" + family + ")", tasks));
  for (size_t t = 0; t < ranges.size(); ++t) {
    const auto [begin, end] = ranges[t];
    SEXTANT_ASSIGN_OR_RETURN(
        std::vector<int64_t> cells,
        UnpackArray<int64_t>(outputs[t], static_cast<size_t>(end - begin), "ivf_assign"));
    std::copy(cells.begin(), cells.end(), cell_of_row + begin);
  }
  return Status::OK();
}

// Output: float32 x, y per position of [begin, end) of the placement list.
Result<std::string> RunMapPlaceTask(const json& spec, const std::filesystem::path& work_dir) {
  SEXTANT_ASSIGN_OR_RETURN(std::string model_file, SpecString(spec, "model"));
  SEXTANT_ASSIGN_OR_RETURN(std::string rest_file, SpecString(spec, "rest"));
  SEXTANT_ASSIGN_OR_RETURN(int64_t begin, SpecInt(spec, "begin"));
  SEXTANT_ASSIGN_OR_RETURN(int64_t end, SpecInt(spec, "end"));
  const std::filesystem::path model_path = work_dir / model_file;
  if (model_path.filename() != "placement.json") {
    return Status::Invalid("shard task: field 'model' must name a model's placement.json (got '" +
                           model_file + "')");
  }
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const map::PlacementModel> model,
                           ShardCache::Get().Load<map::PlacementModel>(
                               model_path, [&]() -> Result<std::shared_ptr<map::PlacementModel>> {
                                 SEXTANT_ASSIGN_OR_RETURN(
                                     map::PlacementModel m,
                                     map::ReadPlacementModel(model_path.parent_path()));
                                 return std::make_shared<map::PlacementModel>(std::move(m));
                               }));
  const std::filesystem::path rest_path = work_dir / rest_file;
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<int64_t>> rest,
                           ShardCache::Get().Load<std::vector<int64_t>>(
                               rest_path, [&]() -> Result<std::shared_ptr<std::vector<int64_t>>> {
                                 SEXTANT_ASSIGN_OR_RETURN(std::vector<int64_t> r,
                                                          io::ReadNpyInt64(rest_path));
                                 return std::make_shared<std::vector<int64_t>>(std::move(r));
                               }));
  SEXTANT_RETURN_IF_ERROR(CheckRange(begin, end, static_cast<int64_t>(rest->size()),
                                     map::kPlaceChunk, "rows to place"));
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<StagedRows> staged,
                           OpenStagedRows(spec, work_dir, model->pca.in_dims()));
  std::vector<float> out(static_cast<size_t>(2 * (end - begin)));
  SEXTANT_RETURN_IF_ERROR(map::PlaceRows(*model, staged->rows, *rest, begin, end, out.data()));
  return PackArray(out.data(), out.size());
}

// Output: int64 cell per row of [begin, end) of the staged rows.
Result<std::string> RunIvfAssignTask(const json& spec, const std::filesystem::path& work_dir) {
  SEXTANT_ASSIGN_OR_RETURN(std::string centroids_file, SpecString(spec, "centroids"));
  SEXTANT_ASSIGN_OR_RETURN(int64_t begin, SpecInt(spec, "begin"));
  SEXTANT_ASSIGN_OR_RETURN(int64_t end, SpecInt(spec, "end"));
  const std::filesystem::path centroids_path = work_dir / centroids_file;
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const io::FloatMatrix> centroids,
                           ShardCache::Get().Load<io::FloatMatrix>(
                               centroids_path, [&]() -> Result<std::shared_ptr<io::FloatMatrix>> {
                                 SEXTANT_ASSIGN_OR_RETURN(io::FloatMatrix m,
                                                          io::ReadNpyAsFloat32(centroids_path));
                                 return std::make_shared<io::FloatMatrix>(std::move(m));
                               }));
  const int64_t nlist = centroids->rows, dim = centroids->cols;
  if (nlist < 1 || dim < 1) {
    return Status::Invalid("shard task: '" + centroids_file + "' holds no centroids");
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<StagedRows> staged, OpenStagedRows(spec, work_dir, dim));
  SEXTANT_RETURN_IF_ERROR(
      CheckRange(begin, end, staged->rows.rows(), index::kAssignBlock, "staged rows"));
  // The rows as the driver's RowSource gives them: copied, then normalised.
  std::vector<int64_t> cells(static_cast<size_t>(end - begin));
  std::vector<float> block(
      static_cast<size_t>(std::min(index::kAssignBlock, std::max<int64_t>(end - begin, 1)) * dim));
  for (int64_t s = begin; s < end; s += index::kAssignBlock) {
    const int64_t n = std::min(index::kAssignBlock, end - s);
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(block.data() + r * dim, staged->rows.Row(s + r), sizeof(float) * dim);
    }
    index::NormalizeRows(block.data(), n, dim);
    index::AssignToCells(centroids->data.data(), nlist, dim, block.data(), n,
                         cells.data() + (s - begin));
  }
  return PackArray(cells.data(), cells.size());
}

}  // namespace sextant::processing
