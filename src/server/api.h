// The console's JSON API (docs/http-api.md) without HTTP: a request is a
// method, the decoded path segments after /api/, the query parameters and a
// body; the answer a status code, a content type and a body. The httplib
// wiring (http_server.cc) only converts to and from these, and checks the
// token; Status becomes an HTTP code here, in ErrorResponse, and nowhere else.
//
// Thread-safe: runs are opened once and kept (RunCache), their splits' sample
// tables loaded on first use.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/auth.h"
#include "server/run_locks.h"
#include "server/sample_query.h"
#include "server/sample_table.h"
#include "sextant/results.h"
#include "store/selections.h"

namespace sextant::server {

struct ApiRequest {
  std::string method;             // GET, POST, DELETE
  std::vector<std::string> path;  // decoded segments after "api"
  Params params;                  // decoded query parameters
  std::string body;
  // Who sent it (http_server.cc resolves the API key). Null with
  // key_required false: an open server (loopback, no keys, no token), where
  // everyone may do everything. Null with key_required: no valid key came,
  // and every route but a public one answers 401.
  const Principal* principal = nullptr;
  bool key_required = false;
  bool key_presented = false;  // a key came but is not valid (for the 401's message)
};

// What a route needs of the request's key (docs/http-api.md, "Access").
enum class Access {
  kPublic,  // no key (health)
  kRead,    // any valid key covering the route's project
  kWrite,   // a write or admin key covering the project
  kAdmin,   // an admin key covering the project
};
const char* AccessName(Access access);

// One route of the API's table: a method ("GET" also answers HEAD, "*" every
// method) and a pattern of segments after /api/ (literal, "*" one segment,
// "**" last: one or more). Under runs/{project}/..., the project is path[1].
struct RouteInfo {
  std::string method;
  std::string pattern;
  Access access;
};
// Every route, in the order they are matched (for tests and docs).
std::vector<RouteInfo> ApiRoutes();

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// {"error": {"code", "message"}} with the HTTP code of the status.
ApiResponse ErrorResponse(const Status& status);
ApiResponse UnauthenticatedResponse(const std::string& message);
int HttpStatus(StatusCode code);

// The route table's pattern for a request (e.g. "runs/*/*/samples"): a bounded
// name for request metrics, never the raw path. "unmatched" when no endpoint
// has the path.
std::string RoutePattern(const std::vector<std::string>& path);

// One opened run: its reader, its splits' sample tables and its selections.
class RunState {
 public:
  static Result<std::shared_ptr<RunState>> Open(const std::filesystem::path& root,
                                                const std::string& project, const std::string& run);
  const RunReader& reader() const { return *reader_; }
  const std::vector<std::string>& labels() const { return reader_->info().labels; }
  // The committed results generation this state reads (to notice a new finish).
  int64_t generation() const { return reader_->generation(); }
  // Loaded on first use per split; NotFound / FailedPrecondition as RunReader.
  // `stop` (optional) calls the load off between chunks. A `low_priority`
  // load (the preload's, at nice 19) holds nobody up: it does not take the
  // split's load lock, and it stops at its next chunk when a normal load of
  // the split starts or ends (table_loading.cc).
  Result<std::shared_ptr<const SampleTable>> Table(const SplitKey& split,
                                                   const std::atomic<bool>* stop = nullptr,
                                                   bool low_priority = false) const;
  // The split's table when it is loaded already, else null: never waits
  // (table_loading.cc).
  std::shared_ptr<const SampleTable> LoadedTable(const SplitKey& split) const;
  // True while a thread loads the split's table (Table() holds its slot).
  bool Loading(const SplitKey& split) const;
  Result<store::SelectionStore*> Selections() const;
  const std::filesystem::path& run_dir() const { return run_dir_; }
  // Labels were imported into the run (POST .../labels): its sample tables no
  // longer show every gold label, so the next request opens the run afresh.
  void MarkStale() { stale_ = true; }
  bool stale() const { return stale_; }
  // The imported labels its reader's snapshot holds (RunReader::ImportedLabelsStamp).
  const std::string& labels_stamp() const { return labels_stamp_; }

 private:
  std::string labels_stamp_;
  std::atomic<bool> stale_{false};
  std::filesystem::path run_dir_;
  std::unique_ptr<RunReader> reader_;
  struct Slot {
    std::mutex mu;  // held by a normal-priority load
    // The loaded table and whether a normal-priority load runs, under RunState::mu_.
    std::shared_ptr<const SampleTable> ready;
    bool loading = false;
  };
  mutable std::mutex mu_;
  mutable std::map<SplitKey, std::shared_ptr<Slot>> tables_;
  mutable std::unique_ptr<store::SelectionStore> selections_;
};

class KeyStore;
class JobQueue;
class UploadService;
class MetricsRegistry;
class LiveIngest;

// The team server's parts the API routes reach (docs/team-server.md); each may
// be null (e.g. in tests of the read-only console API).
struct Services {
  const KeyStore* keys = nullptr;
  UploadService* uploads = nullptr;
  JobQueue* jobs = nullptr;
  MetricsRegistry* metrics = nullptr;
  LiveIngest* live = nullptr;
  RunLocks* run_locks = nullptr;
};

class Api {
 public:
  explicit Api(std::filesystem::path root, Services services = {})
      : root_(std::move(root)), services_(services) {}
  // Stops the background loads (table_loading.cc) and waits for them.
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;
  const Services& services() const { return services_; }
  // Before serving: the team server's parts, opened after the Api.
  void set_services(const Services& services) { services_ = services; }
  ApiResponse Handle(const ApiRequest& request) const;

  // The run's state, opened on first use and reopened when the committed
  // results generation (meta.results_generation) changes; a finish in
  // progress or one that failed leaves the cached state in use.
  Result<std::shared_ptr<RunState>> Run(const std::string& project, const std::string& run) const;

  // Cold opens (docs/architecture.md, "Sample tables"; table_loading.cc).
  // Loads every run's processed splits' sample tables on one background
  // thread at the lowest CPU priority, the most recently finished runs first,
  // until `max_samples` samples are loaded (0: none). Returns at once.
  void StartPreload(int64_t max_samples) const;
  // Loads the split's table on a background thread unless it is loaded or
  // loading already; returns at once.
  void LoadInBackground(const std::shared_ptr<RunState>& state, const SplitKey& split) const;
  // For tests: waits until no background load runs.
  void WaitForBackgroundLoads() const;

 private:
  // Runs `body` on a background thread of its own.
  void StartLoad(std::function<void()> body) const;
  // Looks the request up in the route table (api.cc, kEndpoints) and calls its handler.
  Result<ApiResponse> Route(const ApiRequest& request) const;

  std::filesystem::path root_;
  Services services_;
  mutable std::mutex mu_;
  mutable std::map<std::pair<std::string, std::string>, std::shared_ptr<RunState>> runs_;
  // Background loads: their threads, joined when done (at the next load) or by
  // the destructor.
  struct Load {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  mutable std::mutex loads_mu_;
  mutable std::condition_variable loads_done_;
  mutable std::vector<Load> loads_;
  mutable int running_loads_ = 0;
  mutable std::atomic<bool> stopping_{false};
};

}  // namespace sextant::server
