// The run's 2-D map at finish: one map of every split together, so that
// production samples sit among the training samples they resemble.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "processing/shard_tasks.h"
#include "sextant/processing_options.h"
#include "store/run_store.h"

namespace sextant::processing {

// Computes the map of all `splits` (their embeddings, concatenated in order
// without copying) and stores each split's n x 2 coordinates in its `map`.
// Returns the summary's parameters.map: {"computed": true, the parameters
// and timings} or {"computed": false, "reason": ...} when compute_map is off
// or the splits' embedding widths differ (their maps stay empty).
// With `shards`, the placement of rows beyond the layout runs as "map_place"
// shard tasks of options.shard_rows rows (PlaceAsShards) on the splits' rows
// staged as `<family>-<split index>.npy`; the coordinates are bitwise the same.
Result<nlohmann::ordered_json> ComputeRunMap(const ProcessingOptions& options,
                                             std::vector<store::SplitResults>* splits,
                                             ShardWorkspace* shards = nullptr,
                                             const std::string& family = "rows");

}  // namespace sextant::processing
