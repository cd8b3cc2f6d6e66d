// Live ingest (docs/team-server.md, "Live ingest"): services that log per
// request POST small batches of inference samples with their embeddings and
// logits to `POST /api/runs/{project}/{run}/live`. A batch is validated as the
// client validates it and accepted into a bounded in-memory queue (full: the
// caller answers 503 with Retry-After); one background thread then
//   1. scores each sample against the drift reference of the run's last
//      finish (prediction, confidence, margin, boundary flag, k-NN drift
//      distance, drift score, drifted flag), loaded once per results
//      generation and kept, so scores follow an accepted batch within
//      moments whatever the run's lock is doing;
//   2. appends samples and outputs to the run's inference split through
//      store::RunStore, with the scores into the run's `live_results` table
//      (docs/format.md), holding RunLocks::For(project, run) while the store
//      is open for writing. A run whose lock is busy (a processing job) is
//      tried again on the next turn; its batches stay queued meanwhile.
// At most once a minute per run that received samples, `request_refresh` is
// called so that the set's summaries are recomputed (the team server connects
// it to its processing-job queue).
//
// Thread-safe. The destructor appends what is queued (best effort) and stops
// the thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "server/run_locks.h"
#include "sextant/status.h"

namespace sextant::server {

// How samples without an explicit inference name are assigned to sets.
enum class LiveWindow { kNone, kDay, kHour };
Result<LiveWindow> ParseLiveWindow(const std::string& text);  // "none", "day", "hour"
// The set name of a Unix time: "2026-12-05" (day) or "2026-12-05T13" (hour), UTC.
std::string WindowSetName(LiveWindow window, double unix_seconds);

struct LiveOptions {
  // The default window of a request that names neither a set nor a window.
  LiveWindow window = LiveWindow::kNone;
  // Accepted but not yet appended data (embeddings, logits, texts); beyond it
  // Ingest answers `accepted = false` (HTTP 503 with Retry-After).
  int64_t max_pending_bytes = 256 << 20;
  // Admission by scoring lag: a batch is refused (503) when the samples
  // accepted but not yet scored would exceed what the scorer gets through in
  // `max_scoring_backlog_s` at its measured rate (never below
  // `min_backlog_samples`), so that overload turns into retries at the
  // client rather than into an ever longer lag.
  double max_scoring_backlog_s = 2.0;
  int64_t min_backlog_samples = 1024;
  // Largest batch, in samples.
  int64_t max_batch_samples = 100000;
  // Called at most once per `refresh_interval` per run that received samples
  // since the last call (never from a request thread). May be empty.
  std::function<void(const std::string& project, const std::string& run)> request_refresh;
  std::chrono::milliseconds refresh_interval{60000};
  // How long the writer waits between tries of a busy run lock.
  std::chrono::milliseconds busy_retry{200};
  // When the finish searched exactly: score live samples with an IVF index
  // (tuned as finish tunes its own: recall@k 0.98, drifted-flag agreement
  // 0.995) instead, against the same reference distribution. Several times
  // faster for large runs; flags agree with a finish's on ~99.5% of samples
  // instead of all. Runs the finish indexed approximately are searched
  // with the finish's own IVF either way.
  bool approximate = false;
  // Threads of a scoring search (0: all cores).
  int32_t search_threads = 0;
};

struct LiveAck {
  bool accepted = false;  // false: the queue is full, retry after `retry_after_s`
  int retry_after_s = 0;
  int64_t samples = 0;
  std::map<std::string, int64_t> sets;  // set name -> samples of this batch
};

class LiveIngest {
 public:
  LiveIngest(std::filesystem::path root, RunLocks* locks, LiveOptions options = {});
  ~LiveIngest();
  LiveIngest(const LiveIngest&) = delete;
  LiveIngest& operator=(const LiveIngest&) = delete;

  // Validates and queues one request body (see docs/http-api.md). NotFound:
  // no such run; FailedPrecondition: the run was never finished, or is not a
  // text classification run; InvalidArgument naming the field and sample id.
  Result<LiveAck> Ingest(const std::string& project, const std::string& run,
                         const std::string& body);

  // {"sets": [{"name", "split", "samples_ingested", "samples_pending",
  //   "samples_scored", "drifted_share", "mean_confidence", "on_boundary_share",
  //   "last_scoring_lag_s", "p99_scoring_lag_s", "generation"}], "pending_bytes"}
  Result<std::string> StatusJson(const std::string& project, const std::string& run);

  // The stored live scores of one set, by row: {"set", "total", "samples":
  // [{"row", "id", "text", "timestamp", "pred", "confidence", "margin",
  // "on_boundary", "drift_distance", "drift_score", "drifted", "lag_s"}]},
  // `offset`/`limit` rows, only drifted ones when asked. NotFound: no such set.
  Result<std::string> SamplesJson(const std::string& project, const std::string& run,
                                  const std::string& set, int64_t offset, int64_t limit,
                                  bool drifted_only);

  // Waits until everything accepted so far is scored and appended (or the
  // timeout passes: false). For tests and benchmarks.
  bool Flush(std::chrono::milliseconds timeout = std::chrono::minutes(10));

  // Times from accepted to scored of the samples scored since the last call
  // (seconds), and clears them. For the benchmark.
  std::vector<double> TakeLags();

  int64_t pending_bytes() const;

 private:
  struct Batch;
  struct Reference;
  struct SetStats;
  struct RunState;

  void Loop();
  Status ScoreBatch(Batch* batch);
  Result<std::shared_ptr<const Reference>> ReferenceFor(RunState* run);
  Status AppendRun(RunState* run, const std::vector<std::unique_ptr<Batch>>* batches, bool* busy);
  Result<RunState*> GetRun(const std::string& project, const std::string& run);
  Status LoadSetStats(RunState* run, const std::string& set);

  const std::filesystem::path root_;
  RunLocks* const locks_;
  const LiveOptions options_;
  RunLocks own_locks_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  bool stop_ = false;
  int64_t pending_bytes_ = 0;
  int64_t accepted_ = 0, finished_ = 0;  // samples accepted / appended (or failed)
  int64_t unscored_ = 0;                 // samples accepted, not yet scored
  double score_rate_ = 0;                // samples per second of search, smoothed
  double reference_seconds_ = 0;         // the loop thread's: reference loads in this turn
  std::deque<std::unique_ptr<Batch>> incoming_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<RunState>> runs_;
  std::vector<double> lags_;
  std::thread thread_;
};

}  // namespace sextant::server
