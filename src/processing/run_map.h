// The run's 2-D map at finish: one map of every split together, so that
// production samples sit among the training samples they resemble.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "map/umap.h"
#include "processing/shard_tasks.h"
#include "sextant/processing_options.h"
#include "store/run_store.h"

namespace sextant::processing {

// The committed results of an earlier finish whose map a finish may reuse.
struct PreviousResults {
  const store::RunStore* store = nullptr;  // not owned; null: none
  int64_t generation = 0;                  // its committed generation; 0: never finished
};

// What a later finish needs to place new rows on this map without moving it:
// the placement model and its manifest (which splits, with which rows, under
// which options), written with the results under `folder` (AddMapModelFiles).
struct RunMapModel {
  std::shared_ptr<const map::PlacementModel> model;
  std::string folder;    // "map_model" (family "rows") or "span_map_model" ("span-rows")
  std::string manifest;  // <folder>/map.json, docs/format.md
};

// Computes the map of all `splits` (their embeddings, concatenated in order
// without copying) and stores each split's n x 2 coordinates in its `map`.
// Returns the summary's parameters.map: {"computed": true, the parameters
// and timings} or {"computed": false, "reason": ...} when compute_map is off
// or the splits' embedding widths differ (their maps stay empty).
//
// Incremental: with options.map_incremental and `previous` results holding a
// readable map model of this family whose splits are all here with the same
// rows (row count and embedding fingerprint) and whose map options match,
// those splits keep their committed coordinates bitwise and only the rows of
// the other splits are placed on the stored model (map::PlaceRows), in time
// proportional to them; "mode" says "incremental". Otherwise (and whenever
// the earlier files are missing, corrupt or do not fit, which never fails
// the finish) the whole map is computed again: "mode" "full" with
// "full_reason". `model`, when given, gets the model to keep with the results
// (the stored one again after an incremental map), or nullopt without a map.
//
// With `shards`, the placement of rows beyond the layout of a full map runs
// as "map_place" shard tasks of options.shard_rows rows (PlaceAsShards) on
// the splits' rows staged as `<family>-<split index>.npy`; the coordinates are
// bitwise the same. An incremental placement runs in this process: it costs
// what the new rows cost, as one shard task's share would.
Result<nlohmann::ordered_json> ComputeRunMap(const ProcessingOptions& options,
                                             std::vector<store::SplitResults>* splits,
                                             ShardWorkspace* shards = nullptr,
                                             const std::string& family = "rows",
                                             const PreviousResults& previous = {},
                                             std::optional<RunMapModel>* model = nullptr);

// Adds the model's files (the placement model, then map.json last) to the
// generation the commit writes.
void AddMapModelFiles(const RunMapModel& model, store::CommitOptions* commit);

// The 64-bit fingerprint of `count` float32 values that tells a split's rows
// apart from changed ones (docs/format.md gives the function).
uint64_t RowsFingerprint(const float* values, size_t count);

}  // namespace sextant::processing
