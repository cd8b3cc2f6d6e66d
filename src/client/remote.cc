// The client's side of a team server: HTTP with retries, login, uploads and
// job status (include/sextant/remote.h, docs/team-server.md).
#include "sextant/remote.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "client/remote_sync.h"
#include "common/fault_points.h"
#include "common/file_util.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "sextant/version.h"
#include "sync/bundle.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kLoginFile = ".login.json";

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// Splits "http(s)://host[:port]" (a trailing '/' allowed) for httplib.
Result<std::string> CheckUrl(const std::string& url) {
  std::string u = url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
    return Status::Invalid("url: '" + url + "' must start with http:// or https://");
  }
  const size_t host = u.find("://") + 3;
  if (host >= u.size() || u.find('/', host) != std::string::npos) {
    return Status::Invalid("url: '" + url + "' must be http(s)://host[:port], without a path");
  }
  return u;
}

Status StatusFromAnswer(const HttpAnswer& a, const std::string& what) {
  std::string code, message;
  json j = json::parse(a.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    code = j["error"].value("code", "");
    message = j["error"].value("message", "");
  }
  if (message.empty()) message = "HTTP " + std::to_string(a.status);
  message = what + ": the server answered " + std::to_string(a.status) + ": " + message;
  switch (a.status) {
    case 400:
    case 413:
    case 415:
      return Status::Invalid(message);
    case 401:
      return Status::Unauthenticated(message +
                                     " (check SEXTANT_API_KEY, or log in again with the "
                                     "right key)");
    case 403:
      return Status::PermissionDenied(message);
    case 404:
      return Status::NotFound(message);
    case 409:
      return code == "already_exists" ? Status::AlreadyExists(message)
                                      : Status::FailedPrecondition(message);
    case 408:
    case 429:
    case 502:
    case 503:
    case 504:
      return Status::Unavailable(message);
    default:
      return Status::Internal(message);
  }
}

bool Retryable(int status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

// One server connection: keep-alive, retries with exponential backoff and full
// jitter on connection errors, 408, 429 and 5xx, until remote.retry_seconds.
class Http {
 public:
  static Result<Http> Connect(const RemoteConfig& remote) {
    SEXTANT_ASSIGN_OR_RETURN(std::string url, CheckUrl(remote.url));
    return Http(remote, url);
  }

  Result<HttpAnswer> Call(const std::string& method, const std::string& path,
                          const std::string& body = "",
                          const std::string& content_type = "application/json") {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(remote_.retry_seconds));
    std::mt19937_64 rng(std::random_device{}());
    double backoff = 0.2;
    std::string last;
    for (int attempt = 0;; ++attempt) {
      httplib::Headers headers;
      if (!remote_.api_key.empty()) {
        headers.emplace("Authorization", "Bearer " + remote_.api_key);
      }
      httplib::Result r = method == "GET"   ? client_->Get(path, headers)
                          : method == "PUT" ? client_->Put(path, headers, body, content_type)
                                            : client_->Post(path, headers, body, content_type);
      double wait = 0;
      if (r) {
        if (!Retryable(r->status)) return HttpAnswer{r->status, r->body};
        last = "HTTP " + std::to_string(r->status);
        if (r->has_header("Retry-After")) {
          wait = std::min(30.0, std::atof(r->get_header_value("Retry-After").c_str()));
        }
        if (Clock::now() >= deadline) return HttpAnswer{r->status, r->body};
      } else {
        last = httplib::to_string(r.error());
        client_->stop();  // a fresh connection next time
      }
      if (Clock::now() >= deadline) {
        return Status::Unavailable("the server at " + remote_.url + " cannot be reached (" + last +
                                   ", " + std::to_string(attempt + 1) + " tries in " +
                                   std::to_string(static_cast<int>(remote_.retry_seconds)) + " s)");
      }
      std::uniform_real_distribution<double> jitter(0, backoff);
      wait = std::max(wait, jitter(rng));
      const auto left = std::chrono::duration<double>(deadline - Clock::now()).count();
      std::this_thread::sleep_for(
          std::chrono::duration<double>(std::max(0.0, std::min(wait, left))));
      backoff = std::min(backoff * 2, 5.0);
    }
  }

  // A call whose answer must be 2xx JSON.
  Result<json> CallJson(const std::string& method, const std::string& path, const std::string& body,
                        const std::string& what,
                        const std::string& content_type = "application/json") {
    SEXTANT_ASSIGN_OR_RETURN(HttpAnswer a, Call(method, path, body, content_type));
    if (a.status < 200 || a.status >= 300) return StatusFromAnswer(a, what);
    json j = json::parse(a.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return Status::Internal(what + ": the server's answer is not JSON");
    }
    return j;
  }

 private:
  Http(const RemoteConfig& remote, const std::string& url)
      : remote_(remote), client_(std::make_unique<httplib::Client>(url)) {
    client_->set_keep_alive(true);
    client_->set_connection_timeout(5, 0);
    client_->set_read_timeout(600, 0);  // a commit applies the whole upload
    client_->set_write_timeout(60, 0);
    client_->enable_server_certificate_verification(true);
  }

  RemoteConfig remote_;
  std::unique_ptr<httplib::Client> client_;
};

std::string RunPath(const std::string& project, const std::string& run) {
  return "/api/runs/" + project + "/" + run;
}

double RetrySecondsFromEnv() {
  if (const char* s = std::getenv("SEXTANT_RETRY_SECONDS"); s != nullptr && *s != '\0') {
    const double v = std::atof(s);
    if (v >= 0) return v;
  }
  return 60;
}

JobStatus JobFromJson(const json& j) {
  JobStatus s;
  auto num = [&](const char* key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
  };
  auto str = [&](const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  s.id = static_cast<int64_t>(num("id"));
  s.project = str("project");
  s.run = str("run");
  s.state = str("state");
  s.stage = str("stage");
  s.progress = num("progress");
  s.error = str("error");
  s.uploaded_by = str("uploaded_by");
  s.created_at = num("created_at");
  s.started_at = num("started_at");
  s.finished_at = num("finished_at");
  return s;
}

Status WriteLoginFile(const fs::path& root, const RemoteConfig& remote) {
  SEXTANT_RETURN_IF_ERROR(CreateDirs(root));
  const fs::path path = root / kLoginFile;
  const fs::path tmp = root / (std::string(kLoginFile) + ".tmp-" + std::to_string(getpid()));
  const std::string text = json{{"url", remote.url}, {"api_key", remote.api_key}}.dump() + "\n";
  // Created 0600 from the start: the key is never readable by others, not even briefly.
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot write '" + tmp.string() + "': " + strerror(errno));
  fchmod(fd, 0600);
  const bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return Status::IOError("cannot write '" + path.string() + "': " + strerror(errno));
  }
  return Status::OK();
}

}  // namespace

Result<std::optional<RemoteConfig>> ResolveRemote(const fs::path& root) {
  RemoteConfig remote;
  remote.retry_seconds = RetrySecondsFromEnv();
  if (const char* url = std::getenv("SEXTANT_CONSOLE_URL"); url != nullptr && *url != '\0') {
    remote.url = url;
    if (const char* key = std::getenv("SEXTANT_API_KEY")) remote.api_key = key;
    SEXTANT_ASSIGN_OR_RETURN(remote.url, CheckUrl(remote.url));
    return std::optional<RemoteConfig>(remote);
  }
  const fs::path path = ResolveRoot(root) / kLoginFile;
  if (!fs::exists(path)) return std::optional<RemoteConfig>();
  SEXTANT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("url") || !j["url"].is_string() || !j.contains("api_key") ||
      !j["api_key"].is_string()) {
    return Status::IOError("'" + path.string() +
                           "' is damaged: expected {\"url\", \"api_key\"}; log in again");
  }
  remote.url = j["url"].get<std::string>();
  remote.api_key = j["api_key"].get<std::string>();
  return std::optional<RemoteConfig>(remote);
}

Result<LoginInfo> Login(const fs::path& root_in, std::string url, std::string api_key) {
  const fs::path root = ResolveRoot(root_in);
  if (url.empty()) {
    if (const char* env = std::getenv("SEXTANT_CONSOLE_URL")) url = env;
  }
  if (api_key.empty()) {
    if (const char* env = std::getenv("SEXTANT_API_KEY")) api_key = env;
  }
  if (url.empty()) {
    return Status::Invalid(
        "url: no server given; pass url= or set SEXTANT_CONSOLE_URL (without one, Sextant "
        "runs embedded and needs no login)");
  }
  RemoteConfig remote;
  SEXTANT_ASSIGN_OR_RETURN(remote.url, CheckUrl(url));
  remote.api_key = api_key;
  remote.retry_seconds = std::min(RetrySecondsFromEnv(), 10.0);
  SEXTANT_ASSIGN_OR_RETURN(Http http, Http::Connect(remote));
  SEXTANT_ASSIGN_OR_RETURN(json health, http.CallJson("GET", "/api/health", "", "health check"));
  LoginInfo info;
  info.url = remote.url;
  info.server_version = health.value("version", "");
  const int protocol = health.value("upload_protocol", 0);
  if (protocol != sync::kProtocolVersion) {
    return Status::FailedPrecondition(
        "the server at " + remote.url + " is Sextant " + info.server_version +
        (protocol == 0 ? ", which takes no uploads"
                       : ", which speaks upload protocol " + std::to_string(protocol)) +
        "; this client (" + kVersion + ") speaks protocol " +
        std::to_string(sync::kProtocolVersion) + ": use a client and server of one release");
  }
  SEXTANT_ASSIGN_OR_RETURN(HttpAnswer who, http.Call("GET", "/api/whoami"));
  if (who.status == 200) {
    json j = json::parse(who.body, nullptr, false);
    info.key_name = j.value("key_name", "");
    info.role = j.value("role", "");
    if (j.contains("projects") && j["projects"].is_array()) {
      for (const auto& p : j["projects"]) {
        if (p.is_string()) info.projects.push_back(p.get<std::string>());
      }
    }
  } else {
    return StatusFromAnswer(who, "login to " + remote.url);
  }
  SEXTANT_RETURN_IF_ERROR(WriteLoginFile(root, remote));
  return info;
}

Status Logout(const fs::path& root) {
  std::error_code ec;
  fs::remove(ResolveRoot(root) / kLoginFile, ec);
  if (ec) return Status::IOError("cannot remove the login: " + ec.message());
  return Status::OK();
}

Result<std::string> RemoteGet(const RemoteConfig& remote, const std::string& path) {
  SEXTANT_ASSIGN_OR_RETURN(Http http, Http::Connect(remote));
  SEXTANT_ASSIGN_OR_RETURN(HttpAnswer a, http.Call("GET", path));
  if (a.status < 200 || a.status >= 300) return StatusFromAnswer(a, "GET " + path);
  return a.body;
}

Result<std::optional<JobStatus>> GetRunStatus(const RemoteConfig& remote,
                                              const std::string& project, const std::string& run) {
  SEXTANT_RETURN_IF_ERROR(ValidateName("project", project));
  SEXTANT_RETURN_IF_ERROR(ValidateName("run", run));
  SEXTANT_ASSIGN_OR_RETURN(Http http, Http::Connect(remote));
  SEXTANT_ASSIGN_OR_RETURN(json j, http.CallJson("GET", RunPath(project, run) + "/jobs", "",
                                                 "status of run " + project + "/" + run));
  if (!j.contains("jobs") || !j["jobs"].is_array() || j["jobs"].empty()) {
    return std::optional<JobStatus>();
  }
  return std::optional<JobStatus>(JobFromJson(j["jobs"][0]));
}

Result<JobStatus> WaitForRun(const RemoteConfig& remote, const std::string& project,
                             const std::string& run, double timeout_s,
                             const ProgressCallback& progress) {
  const auto start = Clock::now();
  std::string last;
  for (;;) {
    SEXTANT_ASSIGN_OR_RETURN(std::optional<JobStatus> job, GetRunStatus(remote, project, run));
    if (!job) return Status::NotFound("run " + project + "/" + run + " has no processing job");
    if (job->state == "done") return *job;
    if (job->state == "failed") {
      return Status::FailedPrecondition("processing job " + std::to_string(job->id) + " of run " +
                                        project + "/" + run + " failed: " + job->error);
    }
    const std::string line = job->state == "running"
                                 ? "processing " + project + "/" + run + ": " + job->stage + " (" +
                                       std::to_string(static_cast<int>(job->progress * 100)) + "%)"
                                 : "processing " + project + "/" + run + ": " + job->state;
    if (progress && line != last) progress(line);
    last = line;
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (timeout_s > 0 && waited >= timeout_s) {
      return Status::Unavailable("run " + project + "/" + run + " is still " + job->state +
                                 " after " + std::to_string(static_cast<int>(timeout_s)) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

Result<std::vector<JobStatus>> ListJobs(const RemoteConfig& remote) {
  SEXTANT_ASSIGN_OR_RETURN(Http http, Http::Connect(remote));
  SEXTANT_ASSIGN_OR_RETURN(json j, http.CallJson("GET", "/api/jobs", "", "list jobs"));
  std::vector<JobStatus> out;
  if (j.contains("jobs") && j["jobs"].is_array()) {
    for (const auto& job : j["jobs"]) out.push_back(JobFromJson(job));
  }
  return out;
}

Result<SyncReport> SyncRun(const fs::path& root, const std::string& project, const std::string& run,
                           const RemoteConfig& remote, const ProgressCallback& progress) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::RunStore> store,
                           client::OpenExistingRun(root, project, run));
  return client::SyncStore(*store, project, run, remote, progress);
}

Result<std::vector<SyncReport>> SyncRoot(const fs::path& root, const RemoteConfig& remote,
                                         const ProgressCallback& progress) {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<RunInfo> runs, ListRuns(ResolveRoot(root)));
  std::vector<SyncReport> out;
  for (const RunInfo& info : runs) {
    if (info.status == "damaged") {
      return Status::IOError("run " + info.project + "/" + info.run +
                             " is damaged and was not uploaded: " + info.error +
                             " (see `sextant check`)");
    }
    SEXTANT_ASSIGN_OR_RETURN(SyncReport r, SyncRun(root, info.project, info.run, remote, progress));
    out.push_back(std::move(r));
  }
  return out;
}

namespace client {
namespace {

std::vector<std::string> UploadedSplits(const sync::Manifest& m) {
  std::set<std::string> splits;
  for (const auto& seg : m.samples) splits.insert(seg.split.ToString());
  for (const auto& seg : m.outputs) splits.insert(seg.split.ToString());
  return {splits.begin(), splits.end()};
}

}  // namespace

Result<SyncReport> SyncStore(store::RunStore& local, const std::string& project,
                             const std::string& run, const RemoteConfig& remote,
                             const ProgressCallback& progress) {
  SyncReport report;
  report.project = project;
  report.run = run;
  const auto start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(sync::UploadState state, sync::ReadUploadState(local));
  SEXTANT_ASSIGN_OR_RETURN(Http http, Http::Connect(remote));
  const std::string base = RunPath(project, run) + "/uploads";
  // Smaller chunks for the tests' small runs (resuming needs several).
  int64_t chunk_bytes = sync::kChunkBytes;
  if (const char* s = std::getenv("SEXTANT_TEST_CHUNK_BYTES"); s != nullptr && *s != '\0') {
    chunk_bytes = std::atoll(s);
  }
  for (;;) {
    sync::LocalUpload up;
    if (state.pending) {
      // Resumed: the same segments, hence the same files, chunks and id.
      SEXTANT_ASSIGN_OR_RETURN(sync::Manifest pending, sync::Manifest::Parse(*state.pending));
      SEXTANT_ASSIGN_OR_RETURN(
          up, sync::BuildUpload(local, pending,
                                pending.files.empty() || pending.files[0].chunks.empty()
                                    ? chunk_bytes
                                    : pending.files[0].chunks[0].bytes));
      if (up.manifest.ToJson() != *state.pending) {
        return Status::IOError("run " + project + "/" + run +
                               ": the local data of the pending upload changed since it began; "
                               "see `sextant check`");
      }
    } else {
      SEXTANT_ASSIGN_OR_RETURN(sync::Manifest plan, sync::PlanUpload(local, project, run, state));
      if (plan.samples.empty() && plan.outputs.empty()) break;
      if (plan.labels.empty()) {
        return Status::FailedPrecondition("run " + project + "/" + run +
                                          ": set the label list before uploading");
      }
      SEXTANT_ASSIGN_OR_RETURN(up, sync::BuildUpload(local, std::move(plan), chunk_bytes));
      state.pending = up.manifest.ToJson();
      // Kept before anything is sent: a crash from here on resumes this upload.
      SEXTANT_RETURN_IF_ERROR(sync::WriteUploadState(local, state));
    }
    const std::string id = up.manifest.Id();
    SEXTANT_ASSIGN_OR_RETURN(json begun, http.CallJson("POST", base, *state.pending,
                                                       "upload to " + project + "/" + run));
    json committed = begun;
    if (begun.value("state", "") != "committed") {
      std::set<std::string> missing;
      if (begun.contains("missing") && begun["missing"].is_array()) {
        for (const auto& m : begun["missing"]) missing.insert(m.get<std::string>());
      }
      int64_t total_chunks = 0;
      for (const auto& f : up.manifest.files) total_chunks += static_cast<int64_t>(f.chunks.size());
      report.chunks_present += total_chunks - static_cast<int64_t>(missing.size());
      int64_t sent = 0;
      for (size_t f = 0; f < up.manifest.files.size(); ++f) {
        for (size_t c = 0; c < up.manifest.files[f].chunks.size(); ++c) {
          const std::string& sha = up.manifest.files[f].chunks[c].sha256;
          if (missing.erase(sha) == 0) continue;  // held already, or sent for another file
          SEXTANT_ASSIGN_OR_RETURN(std::string bytes, sync::ReadChunk(up, f, c));
          const auto put_start = Clock::now();
          SEXTANT_ASSIGN_OR_RETURN(json put,
                                   http.CallJson("PUT", base + "/" + id + "/chunks/" + sha, bytes,
                                                 "chunk " + sha.substr(0, 12) + " of '" +
                                                     up.manifest.files[f].path + "'",
                                                 "application/octet-stream"));
          report.chunk_seconds.push_back(
              std::chrono::duration<double>(Clock::now() - put_start).count());
          report.bytes_sent += static_cast<int64_t>(bytes.size());
          ++report.chunks_sent;
          FaultPoint("SEXTANT_FAULT_CLIENT_KILL_AFTER_CHUNKS", std::to_string(report.chunks_sent));
          if (progress && (++sent % 16 == 0)) {
            progress("uploaded " + std::to_string(report.bytes_sent >> 20) + " MiB (" +
                     std::to_string(sent) + " chunks)");
          }
        }
      }
      SEXTANT_ASSIGN_OR_RETURN(committed, http.CallJson("POST", base + "/" + id + "/commit", "{}",
                                                        "commit of upload " + id.substr(0, 12)));
    }
    if (committed.contains("job") && committed["job"].is_object()) {
      report.job_id = committed["job"].value("id", int64_t{0});
    }
    for (const std::string& split : UploadedSplits(up.manifest)) {
      if (std::find(report.splits.begin(), report.splits.end(), split) == report.splits.end()) {
        report.splits.push_back(split);
      }
    }
    for (const auto& seg : up.manifest.samples) {
      state.samples[seg.split.ToString()] = seg.to;
      report.samples += seg.to - seg.from;
    }
    for (const auto& seg : up.manifest.outputs) {
      state.outputs[sync::UploadState::LogKey(seg.split, seg.epoch)] = seg.to;
      report.output_rows += seg.to - seg.from;
    }
    state.sequence = up.manifest.sequence;
    state.pending.reset();
    SEXTANT_RETURN_IF_ERROR(sync::WriteUploadState(local, state));
    ++report.uploads;
    if (progress) {
      progress("committed upload " + id.substr(0, 12) + " to " + project + "/" + run);
    }
  }
  report.up_to_date = report.uploads == 0;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace client
}  // namespace sextant
