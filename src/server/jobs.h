// The team server's processing jobs (docs/team-server.md#jobs): an accepted
// upload queues the run's processing (the engine's finish, on the server's
// copy of the run). Jobs live in `<root>/.server/server.db`, so they survive
// a restart: a job that was running when the server stopped is queued again
// and runs from the start (finish is deterministic: the same results).
//
// Thread-safe. Workers run one job per run at a time; uploads to a run that
// already has a queued job join it (one processing covers both).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/dask_driver.h"
#include "server/run_locks.h"
#include "sextant/status.h"
#include "store/sqlite.h"

namespace sextant::server {

struct Job {
  int64_t id = 0;
  std::string project, run;
  std::string state;  // queued, running, done, failed
  std::string stage;  // the last stage finished, or what it waits for
  double progress = 0;
  std::string error;
  std::string uploaded_by;
  std::vector<std::string> uploads;  // upload ids it processes
  double created_at = 0;
  std::optional<double> started_at, finished_at;
  int attempts = 0;  // starts, counting those a restart interrupted
};

class JobQueue {
 public:
  // Reports a running job's stage and progress (0..1).
  using Report = std::function<void(const std::string& stage, double progress)>;
  // Processes one job's run; the default (nullptr) runs the engine's finish.
  using Processor = std::function<Status(const Job& job, const Report& report)>;

  // Opens the queue's tables; jobs left running by a stopped server are queued again.
  static Result<std::unique_ptr<JobQueue>> Open(const std::filesystem::path& root,
                                                RunLocks* run_locks, Processor processor = {});
  ~JobQueue();

  // Starts `workers` threads (at least 1).
  void Start(int workers);
  // Stops taking jobs and waits up to grace_s for the running ones; false
  // when some still run (they are queued again at the next start).
  bool Stop(double grace_s);

  // Queues processing of the run for an upload: joins the run's queued job
  // if there is one, else a new job.
  Result<Job> Enqueue(const std::string& project, const std::string& run,
                      const std::string& upload_id, const std::string& uploaded_by);
  Result<std::optional<Job>> Get(int64_t id) const;
  // Newest first; empty project/run: all.
  Result<std::vector<Job>> List(const std::string& project = "", const std::string& run = "",
                                int limit = 200) const;
  Result<std::optional<Job>> Latest(const std::string& project, const std::string& run) const;
  // Jobs per state (for metrics).
  Result<std::map<std::string, int64_t>> CountByState() const;

  // Runs each job's finish through the distributed finish's driver on a Dask
  // cluster instead of in this process. Call before Start.
  void set_dask_driver(DaskDriver driver) { dask_ = std::move(driver); }

  // Called with (job, seconds) when a job ends (metrics).
  void set_on_finished(std::function<void(const Job&, double seconds)> f) {
    on_finished_ = std::move(f);
  }

 private:
  JobQueue(std::filesystem::path root, RunLocks* run_locks, Processor processor,
           std::unique_ptr<store::Database> db);
  void WorkerLoop();
  Result<std::optional<Job>> Claim();
  Status Finish(const Job& job, const Status& result);
  Status DefaultProcess(const Job& job, const Report& report);

  std::filesystem::path root_;
  RunLocks* run_locks_;
  Processor processor_;
  std::optional<DaskDriver> dask_;
  std::function<void(const Job&, double)> on_finished_;
  mutable std::mutex db_mu_;  // one connection, one statement at a time
  std::unique_ptr<store::Database> db_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  bool stopping_ = false;
  int busy_ = 0;
  std::vector<std::thread> workers_;
};

// Now, in Unix seconds (the times jobs and uploads record).
double UnixSeconds();

// `<root>/.server`, created when missing: the team server's own files.
Result<std::filesystem::path> ServerDir(const std::filesystem::path& root);
// Opens `<root>/.server/server.db` (WAL) for one part of the server.
Result<std::unique_ptr<store::Database>> OpenServerDatabase(const std::filesystem::path& root);

}  // namespace sextant::server
