// The team server's side of uploads (docs/team-server.md#uploads).
//
//   POST .../uploads              the manifest (sync/manifest.h) -> which chunks are missing
//   PUT  .../uploads/{id}/chunks/{sha256}   a chunk; idempotent
//   POST .../uploads/{id}/commit  checks and applies the upload atomically, queues a job
//
// Chunks are kept content-addressed under `<root>/.server/chunks/` and
// written atomically, so an interrupted upload resumes with the chunks the
// server holds. A commit is all or nothing (RunStore::AppendUpload) and is
// recorded in the run's `uploads` table, so committing an id twice (a client
// retrying after a lost answer) changes nothing: no duplicates.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <semaphore>
#include <set>
#include <string>

#include "server/auth.h"
#include "server/jobs.h"
#include "server/metrics.h"
#include "server/run_locks.h"
#include "sextant/status.h"
#include "sync/manifest.h"

namespace sextant::server {

// A job as the API shows it (GET /api/jobs, upload answers).
nlohmann::ordered_json JobToJson(const Job& job);

// The key name and time (Unix seconds) of the run's last upload; nullopt
// when none reached this server.
Result<std::optional<std::pair<std::string, double>>> LastUpload(
    const std::filesystem::path& run_dir);

class UploadService {
 public:
  UploadService(std::filesystem::path root, RunLocks* run_locks, JobQueue* jobs);

  // At startup: queues a job for every committed upload that has none (the
  // server stopped between the commit and queueing its job), and removes
  // what committed uploads left behind.
  Status Recover();

  // The manifest of an upload; answers its state and the chunks missing.
  Result<nlohmann::ordered_json> Begin(const std::string& project, const std::string& run,
                                       const std::string& manifest_json);
  Result<nlohmann::ordered_json> PutChunk(const std::string& project, const std::string& run,
                                          const std::string& upload_id, const std::string& sha256,
                                          const std::string& bytes);
  Result<nlohmann::ordered_json> Commit(const Principal& who, const std::string& project,
                                        const std::string& run, const std::string& upload_id);
  Result<nlohmann::ordered_json> Get(const std::string& project, const std::string& run,
                                     const std::string& upload_id);

  // Upload bytes and commits are counted there (before serving; may be null).
  void set_metrics(MetricsRegistry* metrics) { metrics_ = metrics; }

 private:
  std::filesystem::path ChunkPath(const std::string& sha256) const;
  std::filesystem::path ManifestPath(const std::string& upload_id) const;
  // The manifest's chunks this server does not hold (by name).
  std::set<std::string> MissingChunks(const sync::Manifest& m) const;
  // The manifest of an upload begun and not committed; NotFound otherwise.
  Result<sync::Manifest> OpenManifest(const std::string& project, const std::string& run,
                                      const std::string& upload_id) const;
  Result<nlohmann::ordered_json> CommittedAnswer(const std::string& project, const std::string& run,
                                                 const std::string& upload_id);
  void RemoveLeftovers(const std::string& upload_id);

  std::filesystem::path root_;
  std::filesystem::path dir_;  // <root>/.server
  RunLocks* run_locks_;
  JobQueue* jobs_;
  MetricsRegistry* metrics_ = nullptr;
  std::mutex gc_mu_;  // manifests and chunks are removed under it
  // Commits decode whole uploads in memory (several copies of their bytes):
  // at most this many at once bounds the server's memory under many clients.
  std::counting_semaphore<64> commit_slots_{2};
  std::atomic<int64_t> chunks_written_{0};
};

}  // namespace sextant::server
