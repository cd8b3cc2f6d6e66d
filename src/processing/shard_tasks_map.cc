// The map and similarity-index shard tasks: "map_place" and "ivf_assign"
// (processing/shard_tasks.h).
#include "processing/shard_tasks.h"

namespace sextant::processing {

Result<std::string> RunMapPlaceTask(const nlohmann::json&, const std::filesystem::path&) {
  return Status::Internal("shard task 'map_place' is not built yet");
}

Result<std::string> RunIvfAssignTask(const nlohmann::json&, const std::filesystem::path&) {
  return Status::Internal("shard task 'ivf_assign' is not built yet");
}

}  // namespace sextant::processing
