#include "server/uploads.h"

#include <chrono>
#include <cstdio>
#include <set>
#include <unordered_map>

#include "common/fault_points.h"
#include "common/file_util.h"
#include "store/run_store.h"
#include "store/sqlite.h"
#include "sync/bundle.h"
#include "sync/sha256.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

// The uploads a run holds, in the run's own database (docs/format.md):
// written in the transaction that applies the upload.
constexpr const char* kUploadsSchema = R"sql(
CREATE TABLE IF NOT EXISTS uploads(
  id TEXT PRIMARY KEY, source TEXT NOT NULL, sequence INTEGER NOT NULL, key_name TEXT NOT NULL,
  committed_at REAL NOT NULL, samples INTEGER NOT NULL, output_rows INTEGER NOT NULL,
  bytes INTEGER NOT NULL, job_id INTEGER);
)sql";

Status WriteChunkFile(const fs::path& path, const std::string& bytes) {
  const fs::path tmp = TempPathFor(path);
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) return Status::IOError("cannot write '" + tmp.string() + "'");
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (std::fclose(f) != 0 || !ok) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return Status::IOError("cannot write '" + tmp.string() + "' (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot rename '" + tmp.string() + "': " + ec.message());
  return Status::OK();
}

struct CommittedUpload {
  std::optional<int64_t> job_id;
  std::string key_name;
  double committed_at = 0;
};

Result<bool> HasUploadsTable(store::Database& db) {
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db.Prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='uploads'"));
  return st.Step();
}

Result<std::optional<CommittedUpload>> FindCommitted(const fs::path& run_dir,
                                                     const std::string& id) {
  const fs::path db_path = run_dir / store::kDatabaseFile;
  if (!fs::exists(db_path)) return std::optional<CommittedUpload>();
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                           store::Database::Open(db_path, /*create=*/false, /*read_only=*/true));
  SEXTANT_ASSIGN_OR_RETURN(bool has, HasUploadsTable(*db));
  if (!has) return std::optional<CommittedUpload>();
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db->Prepare("SELECT job_id, key_name, committed_at FROM uploads WHERE id=?"));
  st.Bind(1, id);
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<CommittedUpload>();
  return std::optional<CommittedUpload>(CommittedUpload{st.OptInt(0), st.Text(1), st.Double(2)});
}

ordered_json JobJson(const Job& j) {
  return {{"id", j.id},
          {"project", j.project},
          {"run", j.run},
          {"state", j.state},
          {"stage", j.stage},
          {"progress", j.progress},
          {"error", j.error.empty() ? ordered_json(nullptr) : ordered_json(j.error)},
          {"uploaded_by", j.uploaded_by},
          {"uploads", j.uploads},
          {"attempts", j.attempts},
          {"created_at", j.created_at},
          {"started_at", j.started_at ? ordered_json(*j.started_at) : ordered_json(nullptr)},
          {"finished_at", j.finished_at ? ordered_json(*j.finished_at) : ordered_json(nullptr)}};
}

std::string JoinLabels(const std::vector<std::string>& labels) {
  std::string out = "[";
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? ", '" : "'") + labels[i] + "'";
  return out + "]";
}

// The run-level checks of an upload against the server's copy of the run.
Status CheckCompatible(const store::RunStore& store, const sync::Manifest& m) {
  const std::string run = "run " + m.project + "/" + m.run;
  if (store.task() != m.task) {
    return Status::FailedPrecondition(run + " on the server is a " +
                                      std::string(TaskTypeName(store.task())) +
                                      " run; the upload is " + std::string(TaskTypeName(m.task)));
  }
  if (!store.labels().empty() && store.labels() != m.labels) {
    return Status::FailedPrecondition(
        "labels: the upload's label list " + JoinLabels(m.labels) + " differs from " + run + "'s " +
        JoinLabels(store.labels()) +
        " on the server; an inference run's labels must equal its training run's, in order");
  }
  if (store.tagging_schema() && m.tagging_schema && *store.tagging_schema() != *m.tagging_schema) {
    return Status::FailedPrecondition("tagging_schema: the upload's differs from " + run + "'s");
  }
  return Status::OK();
}

}  // namespace

ordered_json JobToJson(const Job& job) { return JobJson(job); }

Result<std::optional<std::pair<std::string, double>>> LastUpload(const fs::path& run_dir) {
  using Last = std::optional<std::pair<std::string, double>>;
  const fs::path db_path = run_dir / store::kDatabaseFile;
  if (!fs::exists(db_path)) return Last();
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                           store::Database::Open(db_path, /*create=*/false, /*read_only=*/true));
  SEXTANT_ASSIGN_OR_RETURN(bool has, HasUploadsTable(*db));
  if (!has) return Last();
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db->Prepare("SELECT key_name, committed_at FROM uploads ORDER BY committed_at DESC LIMIT 1"));
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return Last();
  return Last(std::make_pair(st.Text(0), st.Double(1)));
}

UploadService::UploadService(fs::path root, RunLocks* run_locks, JobQueue* jobs)
    : root_(std::move(root)), dir_(root_ / ".server"), run_locks_(run_locks), jobs_(jobs) {}

fs::path UploadService::ChunkPath(const std::string& sha) const {
  return dir_ / "chunks" / sha.substr(0, 2) / sha;
}

fs::path UploadService::ManifestPath(const std::string& id) const {
  return dir_ / "uploads" / (id + ".json");
}

Result<ordered_json> UploadService::CommittedAnswer(const std::string& project,
                                                    const std::string& run, const std::string& id) {
  SEXTANT_ASSIGN_OR_RETURN(std::optional<CommittedUpload> c,
                           FindCommitted(root_ / project / run, id));
  if (!c) return ordered_json(nullptr);
  ordered_json out = {{"upload", id},
                      {"state", "committed"},
                      {"uploaded_by", c->key_name},
                      {"committed_at", c->committed_at},
                      {"job", nullptr}};
  if (c->job_id && jobs_ != nullptr) {
    SEXTANT_ASSIGN_OR_RETURN(std::optional<Job> job, jobs_->Get(*c->job_id));
    if (job) out["job"] = JobJson(*job);
  }
  return out;
}

std::set<std::string> UploadService::MissingChunks(const sync::Manifest& m) const {
  std::set<std::string> missing;
  for (const sync::FileEntry& f : m.files) {
    for (const sync::ChunkRef& c : f.chunks) {
      if (!fs::exists(ChunkPath(c.sha256))) missing.insert(c.sha256);
    }
  }
  return missing;
}

Result<sync::Manifest> UploadService::OpenManifest(const std::string& project,
                                                   const std::string& run,
                                                   const std::string& id) const {
  const Status none =
      Status::NotFound("no open upload " + id.substr(0, 12) + " of " + project + "/" + run +
                       "; begin it with POST /api/runs/" + project + "/" + run + "/uploads");
  Result<std::string> text = ReadFileToString(ManifestPath(id));
  if (!text.ok()) return none;
  SEXTANT_ASSIGN_OR_RETURN(sync::Manifest m, sync::Manifest::Parse(*text));
  if (m.project != project || m.run != run) return none;
  return m;
}

Result<ordered_json> UploadService::Begin(const std::string& project, const std::string& run,
                                          const std::string& body) {
  SEXTANT_ASSIGN_OR_RETURN(sync::Manifest m, sync::Manifest::Parse(body));
  if (m.project != project || m.run != run) {
    return Status::Invalid("manifest: project/run '" + m.project + "/" + m.run +
                           "' differs from the path's '" + project + "/" + run + "'");
  }
  const std::string id = m.Id();
  SEXTANT_ASSIGN_OR_RETURN(ordered_json committed, CommittedAnswer(project, run, id));
  if (!committed.is_null()) return committed;
  const fs::path run_dir = root_ / project / run;
  if (fs::exists(run_dir / store::kDatabaseFile)) {
    // Fail before any chunk is sent when the upload cannot be accepted.
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::RunStore> store,
                             store::RunStore::Open(run_dir, store::RunStore::Mode::kRead));
    SEXTANT_RETURN_IF_ERROR(CheckCompatible(*store, m));
  }
  {
    std::lock_guard lock(gc_mu_);
    if (!fs::exists(ManifestPath(id))) {
      SEXTANT_RETURN_IF_ERROR(CreateDirs(ManifestPath(id).parent_path()));
      SEXTANT_RETURN_IF_ERROR(WriteFileAtomic(ManifestPath(id), m.ToJson()));
    }
  }
  int64_t chunks = 0, bytes = 0;
  for (const sync::FileEntry& f : m.files) {
    chunks += static_cast<int64_t>(f.chunks.size());
    bytes += f.bytes;
  }
  return ordered_json{{"upload", id},
                      {"state", "open"},
                      {"chunks", chunks},
                      {"bytes", bytes},
                      {"missing", MissingChunks(m)},
                      {"job", nullptr}};
}

Result<ordered_json> UploadService::PutChunk(const std::string& project, const std::string& run,
                                             const std::string& id, const std::string& sha,
                                             const std::string& bytes) {
  if (!sync::IsSha256Hex(id) || !sync::IsSha256Hex(sha)) {
    return Status::Invalid("upload and chunk names must be 64 lowercase hex digits (SHA-256)");
  }
  SEXTANT_ASSIGN_OR_RETURN(sync::Manifest m, OpenManifest(project, run, id));
  int64_t expected = -1;
  for (const sync::FileEntry& f : m.files) {
    for (const sync::ChunkRef& c : f.chunks) {
      if (c.sha256 == sha) expected = c.bytes;
    }
  }
  if (expected < 0) {
    return Status::Invalid("chunk " + sha.substr(0, 12) + " is not part of upload " +
                           id.substr(0, 12));
  }
  if (static_cast<int64_t>(bytes.size()) != expected) {
    return Status::Invalid("chunk " + sha.substr(0, 12) + ": " + std::to_string(bytes.size()) +
                           " bytes; the manifest says " + std::to_string(expected));
  }
  const std::string actual = sync::Sha256Hex(bytes);
  if (actual != sha) {
    return Status::Invalid("chunk " + sha.substr(0, 12) + ": its bytes hash to " +
                           actual.substr(0, 12) + "; resend it");
  }
  const fs::path path = ChunkPath(sha);
  if (!fs::exists(path)) {
    FaultPoint("SEXTANT_FAULT_SERVER_KILL_AT_CHUNK", std::to_string(++chunks_written_));
    SEXTANT_RETURN_IF_ERROR(CreateDirs(path.parent_path()));
    // Renamed into place, not synced: a process crash keeps it whole, and
    // after a power loss a torn chunk fails its hash at commit and is sent
    // again. The commit syncs what it applies.
    SEXTANT_RETURN_IF_ERROR(WriteChunkFile(path, bytes));
    RecordUploadBytes(metrics_, project, static_cast<int64_t>(bytes.size()));
  }
  return ordered_json{{"chunk", sha}, {"bytes", expected}, {"stored", true}};
}

Result<ordered_json> UploadService::Commit(const Principal& who, const std::string& project,
                                           const std::string& run, const std::string& id) {
  if (!sync::IsSha256Hex(id)) return Status::Invalid("upload names are 64 lowercase hex digits");
  // The run's lock first (a processing job may hold it for minutes), then a
  // slot: a commit waiting for its run holds no slot from other runs.
  std::shared_ptr<std::mutex> run_lock = run_locks_->For(project, run);
  std::unique_lock lock(*run_lock);
  commit_slots_.acquire();
  struct Release {
    std::counting_semaphore<64>& slots;
    ~Release() { slots.release(); }
  } release{commit_slots_};
  SEXTANT_ASSIGN_OR_RETURN(ordered_json committed, CommittedAnswer(project, run, id));
  if (!committed.is_null()) return committed;
  SEXTANT_ASSIGN_OR_RETURN(sync::Manifest m, OpenManifest(project, run, id));
  int64_t upload_bytes = 0;
  for (const sync::FileEntry& f : m.files) upload_bytes += f.bytes;
  if (const size_t missing = MissingChunks(m).size(); missing > 0) {
    return Status::FailedPrecondition("upload " + id.substr(0, 12) + " lacks " +
                                      std::to_string(missing) +
                                      " chunks; send them (POST .../uploads lists them), then "
                                      "commit again");
  }
  auto read_file = [&](const sync::FileEntry& f) -> Result<std::string> {
    std::string bytes;
    bytes.reserve(static_cast<size_t>(f.bytes));
    for (const sync::ChunkRef& c : f.chunks) {
      SEXTANT_ASSIGN_OR_RETURN(std::string chunk, ReadFileToString(ChunkPath(c.sha256)));
      if (sync::Sha256Hex(chunk) != c.sha256) {
        // Damaged on this server's disk: dropped, so the client sends it again.
        std::error_code ec;
        fs::remove(ChunkPath(c.sha256), ec);
        return Status::Unavailable("chunk " + c.sha256.substr(0, 12) +
                                   " was damaged on the server's disk and was dropped; "
                                   "upload again to resend it");
      }
      bytes += chunk;
    }
    if (static_cast<int64_t>(bytes.size()) != f.bytes) {
      return Status::Invalid("upload file '" + f.path + "' does not have its size");
    }
    return bytes;
  };
  SEXTANT_ASSIGN_OR_RETURN(sync::DecodedUpload decoded, sync::DecodeUpload(m, read_file));

  const fs::path run_dir = root_ / project / run;
  SEXTANT_RETURN_IF_ERROR(CreateDirs(root_ / project));
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::RunStore> store,
                           store::RunStore::Open(run_dir, store::RunStore::Mode::kWrite, m.task));
  SEXTANT_RETURN_IF_ERROR(CheckCompatible(*store, m));
  if (m.labels.empty()) return Status::Invalid("manifest: labels: the label list is empty");
  if (store->labels().empty()) SEXTANT_RETURN_IF_ERROR(store->SetLabels(m.labels));
  if (m.tagging_schema && !store->tagging_schema()) {
    SEXTANT_RETURN_IF_ERROR(store->SetTaggingSchema(*m.tagging_schema));
  }

  // Sample ids of every split the upload touches: the server's, then the upload's.
  std::map<SplitKey, std::unordered_map<std::string, int64_t>> rows_of;
  auto ids_of = [&](const SplitKey& split) -> Result<std::unordered_map<std::string, int64_t>*> {
    auto it = rows_of.find(split);
    if (it != rows_of.end()) return &it->second;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> ids, store->SampleIds(split));
    auto& map = rows_of[split];
    map.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) map.emplace(std::move(ids[i]), static_cast<int64_t>(i));
    return &map;
  };
  std::map<SplitKey, std::unordered_map<std::string, int64_t>> tokens_of;  // NER: new samples
  int64_t samples = 0;
  for (const auto& [split, records] : decoded.samples) {
    SEXTANT_ASSIGN_OR_RETURN(auto* ids, ids_of(split));
    const auto base = static_cast<int64_t>(ids->size());
    for (size_t i = 0; i < records.size(); ++i) {
      if (!ids->emplace(records[i].id, base + static_cast<int64_t>(i)).second) {
        return Status::AlreadyExists("sample id '" + records[i].id + "' of split '" +
                                     split.ToString() + "' is on the server already");
      }
      if (records[i].label && (split.split == Split::kInference)) {
        return Status::Invalid("sample id '" + records[i].id +
                               "': inference samples take no label");
      }
      if (m.task == TaskType::kNamedEntityRecognition) {
        tokens_of[split][records[i].id] = static_cast<int64_t>(records[i].tokens.size());
      }
    }
    samples += static_cast<int64_t>(records.size());
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::OutputLogInfo> logs, store->ListOutputLogs());
  std::vector<store::OutputAppend> appends;
  int64_t output_rows = 0;
  for (sync::DecodedOutputs& d : decoded.outputs) {
    const sync::OutputSegment& seg = d.segment;
    const std::string log =
        "outputs of split '" + seg.split.ToString() + "' epoch " + std::to_string(seg.epoch);
    if (seg.out_dim != static_cast<int64_t>(m.labels.size())) {
      return Status::Invalid(log + ": " + std::to_string(seg.out_dim) + " columns; the run has " +
                             std::to_string(m.labels.size()) + " labels");
    }
    for (const store::OutputLogInfo& l : logs) {
      if (l.emb_dim != seg.emb_dim) {
        return Status::Invalid(log + ": embeddings of width " + std::to_string(seg.emb_dim) +
                               "; the run's are " + std::to_string(l.emb_dim) + " wide");
      }
      if (l.split == seg.split && l.epoch == seg.epoch && l.rows > 0 && l.kind != seg.kind) {
        return Status::Invalid(log + ": logits and probabilities mixed in one log");
      }
    }
    SEXTANT_ASSIGN_OR_RETURN(auto* ids, ids_of(seg.split));
    std::vector<int64_t> row_of_id(d.ids.size());
    for (size_t i = 0; i < d.ids.size(); ++i) {
      auto it = ids->find(d.ids[i]);
      if (it == ids->end()) {
        return Status::Invalid(log + ": sample id '" + d.ids[i] +
                               "' has outputs but was never logged in that split");
      }
      row_of_id[i] = it->second;
    }
    if (m.task == TaskType::kNamedEntityRecognition) {
      std::vector<int64_t> rows_per_id(d.ids.size(), 0);
      for (int64_t idx : d.id_of_row) ++rows_per_id[static_cast<size_t>(idx)];
      const auto& tokens = tokens_of[seg.split];
      for (size_t i = 0; i < d.ids.size(); ++i) {
        auto it = tokens.find(d.ids[i]);
        if (it != tokens.end() && it->second != rows_per_id[i]) {
          return Status::Invalid(log + ": sample id '" + d.ids[i] + "' has " +
                                 std::to_string(rows_per_id[i]) + " output rows; it has " +
                                 std::to_string(it->second) + " tokens");
        }
      }
    }
    store::OutputAppend a;
    a.split = seg.split;
    a.epoch = seg.epoch;
    a.kind = seg.kind;
    a.emb_dim = seg.emb_dim;
    a.out_dim = seg.out_dim;
    a.sample_rows.reserve(d.id_of_row.size());
    for (int64_t idx : d.id_of_row) a.sample_rows.push_back(row_of_id[static_cast<size_t>(idx)]);
    a.embeddings = std::move(d.embeddings);
    a.outputs = std::move(d.outputs);
    output_rows += static_cast<int64_t>(a.sample_rows.size());
    appends.push_back(std::move(a));
  }

  const double now = UnixSeconds();
  SEXTANT_RETURN_IF_ERROR(store->AppendUpload(decoded.samples, appends, [&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(store->db().Exec(kUploadsSchema));
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement st,
        store->db().Prepare("INSERT INTO uploads(id, source, sequence, key_name, committed_at, "
                            "samples, output_rows, bytes) VALUES(?,?,?,?,?,?,?,?)"));
    st.Bind(1, id).Bind(2, m.source).Bind(3, m.sequence).Bind(4, who.key_name).Bind(5, now);
    st.Bind(6, samples).Bind(7, output_rows).Bind(8, upload_bytes);
    SEXTANT_RETURN_IF_ERROR(st.Run());
    for (const sync::SetTime& t : m.set_times) {
      const std::optional<store::SetTimeSource> source = store::ParseSetTimeSource(t.source);
      if (!source) return Status::Invalid("manifest: set_times: unknown source '" + t.source + "'");
      SEXTANT_RETURN_IF_ERROR(store->RecordInferenceTime({t.name, t.time, *source}));
    }
    return Status::OK();
  }));
  // Committed. Queueing the job comes after; a crash in between is repaired
  // by Recover() at the next start.
  ordered_json job = nullptr;
  if (jobs_ != nullptr) {
    SEXTANT_ASSIGN_OR_RETURN(Job queued, jobs_->Enqueue(project, run, id, who.key_name));
    SEXTANT_ASSIGN_OR_RETURN(store::Statement st,
                             store->db().Prepare("UPDATE uploads SET job_id=? WHERE id=?"));
    st.Bind(1, queued.id).Bind(2, id);
    SEXTANT_RETURN_IF_ERROR(st.Run());
    job = JobJson(queued);
  }
  store.reset();
  lock.unlock();
  RemoveLeftovers(id);
  return ordered_json{{"upload", id},         {"state", "committed"}, {"uploaded_by", who.key_name},
                      {"committed_at", now},  {"samples", samples},   {"output_rows", output_rows},
                      {"job", std::move(job)}};
}

Result<ordered_json> UploadService::Get(const std::string& project, const std::string& run,
                                        const std::string& id) {
  if (!sync::IsSha256Hex(id)) return Status::Invalid("upload names are 64 lowercase hex digits");
  SEXTANT_ASSIGN_OR_RETURN(ordered_json committed, CommittedAnswer(project, run, id));
  if (!committed.is_null()) return committed;
  SEXTANT_ASSIGN_OR_RETURN(sync::Manifest m, OpenManifest(project, run, id));
  return ordered_json{
      {"upload", id}, {"state", "open"}, {"missing", MissingChunks(m)}, {"job", nullptr}};
}

void UploadService::RemoveLeftovers(const std::string& id) {
  std::lock_guard lock(gc_mu_);
  Result<std::string> text = ReadFileToString(ManifestPath(id));
  std::error_code ec;
  fs::remove(ManifestPath(id), ec);
  if (!text.ok()) return;
  auto m = sync::Manifest::Parse(*text);
  if (!m.ok()) return;
  // Chunks another open upload still lists stay.
  std::set<std::string> kept;
  for (const auto& entry : fs::directory_iterator(dir_ / "uploads", ec)) {
    auto other = ReadFileToString(entry.path());
    if (!other.ok()) continue;
    auto om = sync::Manifest::Parse(*other);
    if (!om.ok()) continue;
    for (const auto& f : om->files) {
      for (const auto& c : f.chunks) kept.insert(c.sha256);
    }
  }
  for (const auto& f : m->files) {
    for (const auto& c : f.chunks) {
      if (!kept.count(c.sha256)) fs::remove(ChunkPath(c.sha256), ec);
    }
  }
}

Status UploadService::Recover() {
  std::error_code ec;
  for (const auto& project : fs::directory_iterator(root_, ec)) {
    if (!project.is_directory() || project.path().filename().string().front() == '.') continue;
    for (const auto& run : fs::directory_iterator(project.path(), ec)) {
      const fs::path db_path = run.path() / store::kDatabaseFile;
      if (!fs::exists(db_path)) continue;
      const std::string p = project.path().filename().string();
      const std::string r = run.path().filename().string();
      std::shared_ptr<std::mutex> run_lock = run_locks_->For(p, r);
      std::lock_guard lock(*run_lock);
      auto db = store::Database::Open(db_path, /*create=*/false);
      if (!db.ok()) continue;  // a damaged run: `sextant check` names it
      auto has = HasUploadsTable(**db);
      if (!has.ok() || !*has) continue;
      SEXTANT_ASSIGN_OR_RETURN(
          store::Statement st,
          (*db)->Prepare("SELECT id, key_name FROM uploads WHERE job_id IS NULL"));
      std::vector<std::pair<std::string, std::string>> orphans;
      for (;;) {
        SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        orphans.emplace_back(st.Text(0), st.Text(1));
      }
      for (const auto& [id, key] : orphans) {
        if (jobs_ == nullptr) break;
        SEXTANT_ASSIGN_OR_RETURN(Job job, jobs_->Enqueue(p, r, id, key));
        SEXTANT_ASSIGN_OR_RETURN(store::Statement up,
                                 (*db)->Prepare("UPDATE uploads SET job_id=? WHERE id=?"));
        up.Bind(1, job.id).Bind(2, id);
        SEXTANT_RETURN_IF_ERROR(up.Run());
      }
    }
  }
  // Manifests of uploads committed before a crash removed them.
  std::vector<std::pair<std::string, sync::Manifest>> done;
  for (const auto& entry : fs::directory_iterator(dir_ / "uploads", ec)) {
    auto text = ReadFileToString(entry.path());
    if (!text.ok()) continue;
    auto m = sync::Manifest::Parse(*text);
    if (!m.ok()) continue;
    auto c = FindCommitted(root_ / m->project / m->run, m->Id());
    if (c.ok() && *c) done.emplace_back(m->Id(), *m);
  }
  for (const auto& [id, m] : done) RemoveLeftovers(id);
  return Status::OK();
}

}  // namespace sextant::server
