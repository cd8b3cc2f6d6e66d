// A team server (docs/team-server.md): login, uploads, processing jobs.
//
// With a server configured, a client still logs into the local store first
// (it is the client's write-ahead log: an outage loses nothing), and
// Finish() uploads what the run logged since its last upload, then waits for
// the server's processing job. Without one, everything stays embedded.
//
//   sextant::Login(root, "http://team:8080", key);   // checks, then keeps them
//   auto remote = sextant::ResolveRemote(root);      // env first, then the login
//   sextant::SyncRoot(root, **remote);               // what `sextant sync` does
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sextant/status.h"

namespace sextant {

struct RemoteConfig {
  std::string url;      // http(s)://host:port
  std::string api_key;  // empty: the server needs none (loopback)
  // How long one request keeps retrying (backoff with jitter) on connection
  // errors, 408, 429 and 5xx before the upload is left pending; default
  // $SEXTANT_RETRY_SECONDS, else 60.
  double retry_seconds = 60;
};

// $SEXTANT_CONSOLE_URL (with $SEXTANT_API_KEY) when set, else the login kept
// under the root by Login(); nullopt when neither: the client is embedded.
Result<std::optional<RemoteConfig>> ResolveRemote(const std::filesystem::path& root);

struct LoginInfo {
  std::string url;
  std::string server_version;
  std::string key_name;               // who the server says the key is
  std::string role;                   // read, write or admin
  std::vector<std::string> projects;  // empty: every project
};

// Checks the server's health and version, and the key (`url`/`api_key`
// empty: from the environment), then keeps them in `<root>/.login.json`
// (mode 0600). Unavailable: unreachable; Unauthenticated: a wrong key;
// FailedPrecondition: an incompatible server.
Result<LoginInfo> Login(const std::filesystem::path& root, std::string url, std::string api_key);
// Forgets the kept login (OK when there is none).
Status Logout(const std::filesystem::path& root);

struct JobStatus {
  int64_t id = 0;
  std::string project, run;
  std::string state;    // queued, running, done, failed
  std::string stage;    // while running: the processing stage
  double progress = 0;  // 0 to 1
  std::string error;    // when failed: why
  std::string uploaded_by;
  double created_at = 0, started_at = 0, finished_at = 0;  // Unix seconds; 0: not yet
};

struct SyncReport {
  std::string project, run;
  int64_t uploads = 0;                // uploads committed by this call
  int64_t samples = 0;                // samples they carried
  std::vector<std::string> splits;    // the splits whose samples or outputs they carried
  int64_t output_rows = 0;            // output rows they carried
  int64_t bytes_sent = 0;             // chunk bytes sent
  int64_t chunks_sent = 0;            // chunks sent
  int64_t chunks_present = 0;         // chunks the server already held (a resumed upload)
  std::optional<int64_t> job_id;      // the processing job of the last upload
  bool up_to_date = false;            // nothing to upload
  double seconds = 0;                 // the whole sync
  std::vector<double> chunk_seconds;  // each chunk PUT, retries included (benchmarks)
};

using ProgressCallback = std::function<void(const std::string& message)>;

// Uploads what run project/run under the local root logged since its last
// upload, resuming an upload begun and interrupted. The run must not be open
// in a client (FailedPrecondition: it is locked). Unavailable when the server
// stays unreachable: the run stays pending, for a later sync.
Result<SyncReport> SyncRun(const std::filesystem::path& root, const std::string& project,
                           const std::string& run, const RemoteConfig& remote,
                           const ProgressCallback& progress = {});
// SyncRun on every run under the root with something to upload.
Result<std::vector<SyncReport>> SyncRoot(const std::filesystem::path& root,
                                         const RemoteConfig& remote,
                                         const ProgressCallback& progress = {});

// The server's latest processing job of the run (nullopt: none yet).
Result<std::optional<JobStatus>> GetRunStatus(const RemoteConfig& remote,
                                              const std::string& project, const std::string& run);
// Waits until the run's latest job is done (its status) or failed (an error
// with the reason); timeout_s <= 0 waits as long as it takes.
Result<JobStatus> WaitForRun(const RemoteConfig& remote, const std::string& project,
                             const std::string& run, double timeout_s = 0,
                             const ProgressCallback& progress = {});
// Every job the key may see, newest first.
Result<std::vector<JobStatus>> ListJobs(const RemoteConfig& remote);

// GET of an API path (e.g. "/api/runs/p/r/summary") on the server: the body,
// or the server's error as a Status.
Result<std::string> RemoteGet(const RemoteConfig& remote, const std::string& path);

}  // namespace sextant
