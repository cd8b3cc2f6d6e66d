// The shard tasks of a finish (sextant/shards.h): one function per kind,
// each run by RunShardTask on a worker, and the helpers both sides share.
//
// Every task's spec is a JSON object; file names in it are relative to the
// work directory. Outputs are raw little-endian arrays (documented per kind)
// so that a driver merges them without parsing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sextant/shards.h"
#include "sextant/status.h"

namespace sextant::processing {

// [begin, end) row ranges covering [0, rows), each `shard_rows` long but the
// last (shard_rows a positive multiple of kShardRowAlignment).
std::vector<std::pair<int64_t, int64_t>> ShardRanges(int64_t rows, int64_t shard_rows);

// Objects a worker loads from the work directory, kept for the process's life
// keyed by (path, size, modification time): a stage's index is read once per
// worker however many of its tasks the worker runs. Thread-safe.
class ShardCache {
 public:
  static ShardCache& Get();
  // The object for `path`, loading it with `load` on first use.
  template <typename T>
  Result<std::shared_ptr<const T>> Load(const std::filesystem::path& path,
                                        const std::function<Result<std::shared_ptr<T>>()>& load) {
    std::shared_ptr<const void> found;
    const std::string key = Key(path);
    if (Find(key, &found)) return std::static_pointer_cast<const T>(found);
    SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<T> made, load());
    Put(key, made);
    return std::shared_ptr<const T>(std::move(made));
  }
  // Drops every cached object (tests).
  void Clear();

 private:
  std::string Key(const std::filesystem::path& path);
  bool Find(const std::string& key, std::shared_ptr<const void>* out);
  void Put(const std::string& key, std::shared_ptr<const void> value);
  std::mutex mu_;
  std::vector<std::pair<std::string, std::shared_ptr<const void>>> entries_;
};

// The task kinds. Each reads `spec` (parsed) and files under `work_dir`.
//
// "kcore" (drift): the k-core distance of query rows [begin, end) of a .npy
// file of raw embeddings (normalised by the task, as the driver does) against
// a training index file. Output: float32 distances, one per row.
Result<std::string> RunKcoreTask(const nlohmann::json& spec, const std::filesystem::path& work_dir);
// "knn" (a sharded training reference): the k nearest rows of query rows
// [begin, end) in one training shard's index. Output: per row, k float32
// distances then k int64 global training rows (shard offset added), nearest first.
Result<std::string> RunKnnTask(const nlohmann::json& spec, const std::filesystem::path& work_dir);
// "map_place" (the map): 2-D positions of the map's rows beyond the layout
// sample, rows [begin, end) of the placement list. Output: float32 x, y per row.
Result<std::string> RunMapPlaceTask(const nlohmann::json& spec,
                                    const std::filesystem::path& work_dir);
// "ivf_assign" (the similarity index): the nearest cell of rows [begin, end).
// Output: int64 cell per row.
Result<std::string> RunIvfAssignTask(const nlohmann::json& spec,
                                     const std::filesystem::path& work_dir);

// A spec field, with an Invalid naming the task kind and field when missing
// or of the wrong type.
Result<int64_t> SpecInt(const nlohmann::json& spec, const char* field);
Result<std::string> SpecString(const nlohmann::json& spec, const char* field);

// Packs and unpacks arrays of trivially copyable values as task outputs.
template <typename T>
std::string PackArray(const T* data, size_t n) {
  return std::string(reinterpret_cast<const char*>(data), n * sizeof(T));
}
template <typename T>
Result<std::vector<T>> UnpackArray(const std::string& bytes, size_t expected, const char* what) {
  if (bytes.size() != expected * sizeof(T)) {
    return Status::Invalid(std::string(what) + ": a shard task returned " +
                           std::to_string(bytes.size()) + " bytes; expected " +
                           std::to_string(expected * sizeof(T)));
  }
  std::vector<T> out(expected);
  if (expected > 0) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace sextant::processing
