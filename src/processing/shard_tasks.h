// The shard tasks of a finish (sextant/shards.h): one function per kind,
// each run by RunShardTask on a worker, and the helpers both sides share.
//
// Every task's spec is a JSON object; file names in it are relative to the
// work directory. Outputs are raw little-endian arrays (documented per kind)
// so that a driver merges them without parsing.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sextant/shards.h"
#include "sextant/status.h"

namespace sextant::store {
struct SplitResults;
}
namespace sextant::drift {
struct Neighbours;
}

namespace sextant::processing {

// The driver's side of one distributed finish: a fresh folder under the
// executor's work directory for this finish's inputs, removed with the
// object, and the executor that runs the tasks. A finish without an executor
// has none (stages then call the task functions on memory directly).
class ShardWorkspace {
 public:
  // Creates "finish-<pid>-<nanoseconds>" under executor->WorkDir().
  static Result<std::unique_ptr<ShardWorkspace>> Open(ShardExecutor* executor);
  ~ShardWorkspace();  // removes the folder and everything in it
  ShardWorkspace(const ShardWorkspace&) = delete;
  ShardWorkspace& operator=(const ShardWorkspace&) = delete;

  // A file's name as tasks give it (relative to the work directory) and its path here.
  std::string Name(const std::string& file) const;
  std::filesystem::path Path(const std::string& file) const;
  // The raw float32 embeddings of `split` as `<file>.npy` (written on first
  // call; later calls with the same file return its name). Tasks normalise
  // rows themselves with index::NormalizeRows, as the in-process path does.
  Result<std::string> SplitRows(const store::SplitResults& split, const std::string& file);
  // Runs the tasks through the executor; checks one output per task.
  Result<std::vector<std::string>> Run(const std::string& stage,
                                       const std::vector<ShardTask>& tasks);
  ShardExecutor& executor() { return *executor_; }
  // What this finish moved: bytes of files written for the workers, tasks
  // run, and bytes of task outputs received.
  int64_t bytes_written() const { return bytes_written_; }
  int64_t tasks() const { return tasks_; }
  int64_t bytes_received() const { return bytes_received_; }
  // Adds a file written by a stage under Path() to bytes_written.
  void CountWritten(const std::string& file);

 private:
  ShardWorkspace(ShardExecutor* executor, std::string folder);
  ShardExecutor* executor_;
  std::string folder_;  // relative to the work directory
  std::vector<std::string> split_files_;
  int64_t bytes_written_ = 0, tasks_ = 0, bytes_received_ = 0;
};

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
// "kcore" (drift): the k-core distances of queries [begin, end) against a
// training index. Spec: "index" (a CosineIndex::Write file), "rows" (a .npy
// of raw float32 embeddings, ShardWorkspace::SplitRows; normalised by the
// task with index::NormalizeRows, as the driver does), optional "sample" (an
// int64 .npy: the rows of "rows" that are the queries, in order; else query i
// is row i), "begin", "end" (query positions), "k" (neighbours searched:
// drift_k, or drift_k + 1 for the sampled reference, drift::PlanLeaveOneOut),
// optional "leave_one_out" (bool; query i is index row i, left out by its
// global row; no "sample"). Output: float32 distances, one per query.
Result<std::string> RunKcoreTask(const nlohmann::json& spec, const std::filesystem::path& work_dir);
// "knn" (a sharded training reference): the k nearest rows of queries
// [begin, end) in one training shard's index. Spec: as "kcore" without
// "leave_one_out", plus "offset" (the training row of the shard's row 0).
// Output: per query, k float32 distances then k int64 global training rows
// (offset added; -1 at distance 2 where the shard has fewer), nearest first.
Result<std::string> RunKnnTask(const nlohmann::json& spec, const std::filesystem::path& work_dir);
// The spec of both drift kinds is documented in shard_tasks_drift.cc.
// A "knn" task's output from neighbours of `num_queries` queries, and back
// into rows [first_query, first_query + num_queries) of `into` (sized, k set).
std::string PackNeighbours(const drift::Neighbours& found, int64_t num_queries);
Status UnpackNeighbours(const std::string& bytes, int64_t num_queries, drift::Neighbours* into,
                        int64_t first_query);
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
