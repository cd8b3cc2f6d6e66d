// The drift shard tasks: "kcore" and "knn" (processing/shard_tasks.h).
#include "processing/shard_tasks.h"

namespace sextant::processing {

Result<std::string> RunKcoreTask(const nlohmann::json&, const std::filesystem::path&) {
  return Status::Internal("shard task 'kcore' is not built yet");
}

Result<std::string> RunKnnTask(const nlohmann::json&, const std::filesystem::path&) {
  return Status::Internal("shard task 'knn' is not built yet");
}

}  // namespace sextant::processing
