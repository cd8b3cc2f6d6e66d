// The driver's side of the map's and the similarity index's shard tasks
// ("map_place", "ivf_assign"; processing/shard_tasks.h has the workers' side):
// what each stage writes into the finish's workspace and how it merges the
// tasks' outputs (docs/distributed-map.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "map/umap.h"
#include "processing/shard_tasks.h"
#include "store/run_store.h"

namespace sextant::processing {

// Stages the rows of every split that has any as `<family>-<split index>.npy`
// (ShardWorkspace::SplitRows: raw float32, written once per finish and shared
// by the stages) and returns the tasks' "rows" list: [{"file", "rows"}, ...]
// in split order, whose concatenation is the stage's rows.
Result<nlohmann::json> StageSplitRows(ShardWorkspace& shards,
                                      const std::vector<store::SplitResults>& splits,
                                      const std::string& family);

// The map's placement as "map_place" tasks (MapOptions::place): writes the
// model into `map-<family>/` and `rest` as `map-<family>-rest.npy`, runs one
// task per ShardRanges(rest.size(), shard_rows) range, and writes their
// positions to `placed` (rest.size() x 2) in rest's order.
Status PlaceAsShards(ShardWorkspace& shards, int64_t shard_rows,
                     const std::vector<store::SplitResults>& splits, const std::string& family,
                     const map::PlacementModel& model, const std::vector<int64_t>& rest,
                     float* placed);

// The similarity index's cell assignment as "ivf_assign" tasks
// (IvfOptions::assign): writes the centroids as
// `similarity-<family>-centroids.npy`, runs one task per
// ShardRanges(rows, shard_rows) range and writes each row's cell to
// `cell_of_row`.
Status AssignAsShards(ShardWorkspace& shards, int64_t shard_rows,
                      const std::vector<store::SplitResults>& splits, const std::string& family,
                      const float* centroids, int64_t nlist, int64_t dim, int64_t rows,
                      int64_t* cell_of_row);

}  // namespace sextant::processing
