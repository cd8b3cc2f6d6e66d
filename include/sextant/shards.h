// Where the shard work of a finish runs (docs/distributed.md).
//
// A finish splits its large searches into shard tasks: the k-core distances of
// inference, validation and test rows against the training index, the
// training reference's leave-one-out sample, the searches of a training set
// sharded across workers, the placement of map points beyond the optimised
// layout, and the assignment of rows to the similarity index's cells. Without
// an executor every task's function runs in this process on the arrays in
// memory. With one, the finish writes each stage's inputs (the training
// index once, the rows as .npy) into the executor's work directory, the
// executor runs the tasks anywhere (python/sextant/dask.py: on a Dask
// cluster's workers), and the finish merges their outputs. Both paths call
// the same functions on the same row ranges (shard boundaries are multiples
// of kShardRowAlignment rows, the searches' own block size), so a
// distributed finish's results are bitwise those of a single-machine one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sextant/status.h"

namespace sextant {

// Query shards start at multiples of this many rows: the block size of the
// searches (CosineIndex::Search, the map's placement, the IVF assignment), so
// a shard's searches are the same BLAS calls as a single-machine finish's.
constexpr int64_t kShardRowAlignment = 16384;

// One unit of shard work: its kind ("kcore", "knn", "map_place",
// "ivf_assign") and its parameters as JSON text, which name the files it
// reads relative to the work directory and the rows it covers.
struct ShardTask {
  std::string kind;
  std::string spec;
  // Bytes of the work directory's files the task reads in whole (the indexes
  // and models it loads once per process), for executors that move files.
  std::vector<std::string> shared_files;
};

class ShardExecutor {
 public:
  virtual ~ShardExecutor() = default;
  // A directory the workers can read (a path shared with them, or one whose
  // files the executor uploads): the finish writes each stage's inputs here
  // before Run and removes what it wrote when it returns.
  virtual std::string WorkDir() = 0;
  // The memory one worker may give the training reference it searches, in
  // bytes; 0 = no limit. A training set larger than this is split into shards
  // (ProcessingOptions::training_shards = 0).
  virtual int64_t WorkerMemoryBytes() = 0;
  // Runs every task (in any order, in any process; a task may run more than
  // once when a worker dies) and returns each task's output in task order.
  // `stage` names the finish stage, for progress and logs. An error fails the
  // finish; nothing is committed.
  virtual Result<std::vector<std::string>> Run(const std::string& stage,
                                               const std::vector<ShardTask>& tasks) = 0;
};

// What a worker does with a task: reads its inputs under `work_dir`, computes
// and returns its output. Indexes and models a task loads are cached in the
// process by file (path, size and modification time), so each worker reads a
// stage's training index once however many tasks it runs.
Result<std::string> RunShardTask(const ShardTask& task, const std::string& work_dir);

// An executor that runs every task in this process, from the files, in the
// reverse of the given order and the first task twice (as a retried task
// would): a finish through it takes the distributed path without a cluster.
// For tests and for checking a run's results against a distributed finish.
class InProcessShardExecutor : public ShardExecutor {
 public:
  // `work_dir` must exist; `worker_memory_bytes` as WorkerMemoryBytes.
  InProcessShardExecutor(std::string work_dir, int64_t worker_memory_bytes = 0);
  std::string WorkDir() override { return work_dir_; }
  int64_t WorkerMemoryBytes() override { return worker_memory_bytes_; }
  Result<std::vector<std::string>> Run(const std::string& stage,
                                       const std::vector<ShardTask>& tasks) override;
  // Tasks run so far, all kinds together, counting reruns.
  int64_t tasks_run() const { return tasks_run_; }

 private:
  std::string work_dir_;
  int64_t worker_memory_bytes_;
  int64_t tasks_run_ = 0;
};

}  // namespace sextant
