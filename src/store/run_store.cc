#include "store/run_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "io/npy.h"

namespace sextant::store {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples(
  split TEXT NOT NULL, row INTEGER NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL,
  label INTEGER, meta TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY(split, row), UNIQUE(split, id));
CREATE TABLE IF NOT EXISTS output_logs(
  split TEXT NOT NULL, epoch INTEGER NOT NULL, rows INTEGER NOT NULL,
  emb_dim INTEGER NOT NULL, out_dim INTEGER NOT NULL, kind TEXT NOT NULL,
  PRIMARY KEY(split, epoch));
CREATE TABLE IF NOT EXISTS results(
  split TEXT NOT NULL, row INTEGER NOT NULL, pred INTEGER NOT NULL, confidence REAL NOT NULL,
  margin REAL NOT NULL, certainty_ratio REAL NOT NULL, entropy REAL NOT NULL,
  on_boundary INTEGER NOT NULL, epoch INTEGER NOT NULL, gold INTEGER, aum REAL, dep REAL,
  drift_distance REAL, drift_score REAL, drifted INTEGER,
  PRIMARY KEY(split, row));
CREATE TABLE IF NOT EXISTS summaries(scope TEXT PRIMARY KEY, json TEXT NOT NULL);
)sql";

// The fields of NLI and NER samples (docs/format.md), created with the runs of those tasks.
constexpr const char* kPairAndSpanSchema = R"sql(
CREATE TABLE IF NOT EXISTS sample_fields(
  split TEXT NOT NULL, row INTEGER NOT NULL, premise TEXT, hypothesis TEXT,
  tokens TEXT, gold_spans TEXT, PRIMARY KEY(split, row));
CREATE TABLE IF NOT EXISTS span_results(
  split TEXT NOT NULL, span_row INTEGER NOT NULL, sample_row INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, token_begin INTEGER NOT NULL,
  token_end INTEGER NOT NULL, gold INTEGER, pred INTEGER, error_type TEXT,
  confidence REAL NOT NULL, certainty_ratio REAL NOT NULL, on_boundary INTEGER NOT NULL,
  dep REAL, drift_distance REAL, drift_score REAL, drifted INTEGER,
  PRIMARY KEY(split, span_row));
)sql";

// Tokens as [[start, end], ...] and gold spans as [[start, end, "label"], ...].
std::string TokensJson(const std::vector<CharRange>& tokens) {
  json out = json::array();
  for (const CharRange& t : tokens) out.push_back({t.start, t.end});
  return out.dump();
}
std::string GoldSpansJson(const std::vector<GoldSpan>& spans) {
  json out = json::array();
  for (const GoldSpan& g : spans) out.push_back({g.start, g.end, g.label});
  return out.dump();
}
void ParseTokens(const std::string& text, std::vector<CharRange>* out) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_array()) return;
  for (const json& t : j) out->push_back({t[0].get<int32_t>(), t[1].get<int32_t>()});
}
void ParseGoldSpans(const std::string& text, std::vector<GoldSpan>* out) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_array()) return;
  for (const json& g : j) out->push_back({g[0].get<int32_t>(), g[1].get<int32_t>(), g[2].get<std::string>()});
}

const char* KindName(OutputKind k) { return k == OutputKind::kLogits ? "logits" : "probs"; }

Status Errno(const std::string& what, const fs::path& p) {
  return Status::IOError(what + " '" + p.string() + "': " + std::strerror(errno));
}

Result<std::string> GetMeta(Database& db, const std::string& key) {
  SEXTANT_ASSIGN_OR_RETURN(Statement st, db.Prepare("SELECT value FROM meta WHERE key=?"));
  st.Bind(1, key);
  SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("meta key '" + key + "'");
  return st.Text(0);
}

Status PutMeta(Database& db, const std::string& key, const std::string& value) {
  SEXTANT_ASSIGN_OR_RETURN(Statement st,
                           db.Prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
  st.Bind(1, key).Bind(2, value);
  return st.Run();
}

// Appends raw bytes to a log file whose committed length is `committed`;
// bytes beyond it (left by a crash or a failed append) are cut first.
Status AppendToLog(const fs::path& path, int64_t committed, const void* data, size_t bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return Errno("cannot open output log", path);
  Status st;
  if (::ftruncate(fd, committed) != 0) st = Errno("cannot truncate output log", path);
  if (st.ok() && ::lseek(fd, committed, SEEK_SET) < 0) st = Errno("cannot seek output log", path);
  const char* p = static_cast<const char*>(data);
  while (st.ok() && bytes > 0) {
    ssize_t n = ::write(fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      st = Errno("cannot write output log", path);
      break;
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  if (st.ok() && ::fdatasync(fd) != 0) st = Errno("cannot sync output log", path);
  ::close(fd);
  return st;
}

template <typename T>
Status ReadLogFile(const fs::path& path, int64_t count, std::vector<T>* out) {
  out->resize(static_cast<size_t>(count));
  if (count == 0) return Status::OK();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("missing output log '" + path.string() + "'");
  in.read(reinterpret_cast<char*>(out->data()), static_cast<std::streamsize>(count * sizeof(T)));
  if (in.gcount() != static_cast<std::streamsize>(count * sizeof(T))) {
    return Status::IOError("output log '" + path.string() + "' is shorter than its committed " +
                           std::to_string(count) + " values");
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<RunStore>> RunStore::Open(const fs::path& run_dir, Mode mode,
                                                 std::optional<TaskType> task) {
  std::unique_ptr<RunStore> store(new RunStore());
  store->dir_ = run_dir;
  store->mode_ = mode;
  const fs::path db_path = run_dir / kDatabaseFile;
  const bool exists = fs::exists(db_path);
  if (!exists && mode == Mode::kRead) {
    return Status::NotFound("no run at '" + run_dir.string() + "'");
  }
  if (!exists && !task) {
    // Checked before anything is created: an empty database would be a run that never opens.
    return Status::Invalid("task_type: a new run needs a task type");
  }
  if (mode == Mode::kWrite) {
    SEXTANT_RETURN_IF_ERROR(CreateDirs(run_dir));
    const fs::path lock_path = run_dir / "LOCK";
    store->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
    if (store->lock_fd_ < 0) return Errno("cannot open lock file", lock_path);
    if (::flock(store->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::FailedPrecondition("run '" + run_dir.string() +
                                        "' is being written by another process; wait for it to "
                                        "finish or close its client");
    }
  }
  SEXTANT_ASSIGN_OR_RETURN(store->db_, Database::Open(db_path, /*create=*/mode == Mode::kWrite));
  Database& db = *store->db_;
  if (!exists) {
    SEXTANT_RETURN_IF_ERROR(db.Transaction([&]() -> Status {
      SEXTANT_RETURN_IF_ERROR(db.Exec(kSchema));
      SEXTANT_RETURN_IF_ERROR(db.Exec(kSelectionSchema));
      if (*task != TaskType::kTextClassification) {
        SEXTANT_RETURN_IF_ERROR(db.Exec(kPairAndSpanSchema));
      }
      SEXTANT_RETURN_IF_ERROR(PutMeta(db, "format_version", std::to_string(kFormatVersion)));
      SEXTANT_RETURN_IF_ERROR(PutMeta(db, "task_type", std::string(TaskTypeName(*task))));
      SEXTANT_RETURN_IF_ERROR(PutMeta(db, "labels", "[]"));
      SEXTANT_RETURN_IF_ERROR(PutMeta(db, "results_generation", "0"));
      auto now = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
      return PutMeta(db, "created_at", std::to_string(now));
    }));
  }
  SEXTANT_RETURN_IF_ERROR(store->LoadMeta());
  if (task && *task != store->task_) {
    return Status::Invalid("task_type: run '" + run_dir.filename().string() + "' is a " +
                           std::string(TaskTypeName(store->task_)) + " run; cannot log " +
                           std::string(TaskTypeName(*task)) + " data into it");
  }
  return store;
}

RunStore::~RunStore() {
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status RunStore::LoadMeta() {
  SEXTANT_ASSIGN_OR_RETURN(std::string version, GetMeta(*db_, "format_version"));
  int parsed = 0;
  auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), parsed);
  if (ec != std::errc() || end != version.data() + version.size()) {
    // std::stoi would throw into the caller here.
    return Status::FailedPrecondition("run '" + dir_.string() + "' has an unreadable format version '" +
                                      version + "'; expected an integer");
  }
  if (parsed > kFormatVersion) {
    return Status::FailedPrecondition("run '" + dir_.string() + "' has format version " + version +
                                      "; this Sextant reads versions up to " +
                                      std::to_string(kFormatVersion));
  }
  SEXTANT_ASSIGN_OR_RETURN(std::string task, GetMeta(*db_, "task_type"));
  SEXTANT_ASSIGN_OR_RETURN(task_, ParseTaskType(task));
  SEXTANT_ASSIGN_OR_RETURN(std::string labels, GetMeta(*db_, "labels"));
  const json parsed_labels = json::parse(labels, nullptr, /*allow_exceptions=*/false);
  if (!parsed_labels.is_array() ||
      !std::all_of(parsed_labels.begin(), parsed_labels.end(),
                   [](const json& l) { return l.is_string(); })) {
    return Status::FailedPrecondition("run '" + dir_.string() + "' has an unreadable label list '" +
                                      labels + "'; expected a JSON array of strings");
  }
  labels_ = parsed_labels.get<std::vector<std::string>>();
  Result<std::string> schema = GetMeta(*db_, "tagging_schema");
  if (schema.ok()) {
    SEXTANT_ASSIGN_OR_RETURN(TaggingSchema parsed_schema, ParseTaggingSchema(*schema));
    tagging_schema_ = parsed_schema;
  }
  return Status::OK();
}

Status RunStore::SetTaggingSchema(TaggingSchema schema) {
  SEXTANT_RETURN_IF_ERROR(PutMeta(*db_, "tagging_schema", std::string(TaggingSchemaName(schema))));
  tagging_schema_ = schema;
  return Status::OK();
}

Status RunStore::SetLabels(const std::vector<std::string>& labels) {
  SEXTANT_RETURN_IF_ERROR(PutMeta(*db_, "labels", json(labels).dump()));
  labels_ = labels;
  return Status::OK();
}

Result<std::vector<SplitKey>> RunStore::ListSplits() const {
  SEXTANT_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT DISTINCT split FROM samples"));
  std::vector<SplitKey> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    SEXTANT_ASSIGN_OR_RETURN(SplitKey key, SplitKey::Parse(st.Text(0)));
    out.push_back(std::move(key));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<int64_t> RunStore::SampleCount(const SplitKey& split) const {
  SEXTANT_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT COUNT(*) FROM samples WHERE split=?"));
  st.Bind(1, split.ToString());
  SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : 0;
}

Result<std::vector<std::string>> RunStore::SampleIds(const SplitKey& split) const {
  SEXTANT_ASSIGN_OR_RETURN(Statement st,
                           db_->Prepare("SELECT id FROM samples WHERE split=? ORDER BY row"));
  st.Bind(1, split.ToString());
  std::vector<std::string> ids;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ids.push_back(st.Text(0));
  }
  return ids;
}

Result<std::vector<std::optional<int32_t>>> RunStore::SampleLabels(const SplitKey& split) const {
  SEXTANT_ASSIGN_OR_RETURN(Statement st,
                           db_->Prepare("SELECT label FROM samples WHERE split=? ORDER BY row"));
  st.Bind(1, split.ToString());
  std::vector<std::optional<int32_t>> labels;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    labels.push_back(st.IsNull(0) ? std::nullopt
                                  : std::optional<int32_t>(static_cast<int32_t>(st.Int(0))));
  }
  return labels;
}

Result<std::vector<SampleRecord>> RunStore::ReadSamples(const SplitKey& split) const {
  const bool fields = task_ != TaskType::kTextClassification;
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare(fields ? "SELECT s.id, s.text, s.label, s.meta, f.premise, f.hypothesis, "
                            "f.tokens, f.gold_spans FROM samples s LEFT JOIN sample_fields f "
                            "ON f.split = s.split AND f.row = s.row WHERE s.split=? ORDER BY s.row"
                          : "SELECT id, text, label, meta FROM samples WHERE split=? ORDER BY row"));
  st.Bind(1, split.ToString());
  std::vector<SampleRecord> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    SampleRecord r;
    r.id = st.Text(0);
    r.text = st.Text(1);
    if (!st.IsNull(2)) r.label = static_cast<int32_t>(st.Int(2));
    r.meta_json = st.Text(3);
    if (fields) {
      if (!st.IsNull(4)) r.premise = st.Text(4);
      if (!st.IsNull(5)) r.hypothesis = st.Text(5);
      if (!st.IsNull(6)) ParseTokens(st.Text(6), &r.tokens);
      if (!st.IsNull(7)) ParseGoldSpans(st.Text(7), &r.gold_spans);
    }
    out.push_back(std::move(r));
  }
  return out;
}

Status RunStore::AppendSamples(const SplitKey& split, const std::vector<SampleRecord>& samples) {
  const std::string key = split.ToString();
  return db_->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(int64_t next_row, SampleCount(split));
    SEXTANT_ASSIGN_OR_RETURN(
        Statement st,
        db_->Prepare("INSERT INTO samples(split, row, id, text, label, meta) VALUES(?,?,?,?,?,?)"));
    const bool fields = task_ != TaskType::kTextClassification;
    std::unique_ptr<Statement> field_st;
    if (fields) {
      SEXTANT_RETURN_IF_ERROR(db_->Exec(kPairAndSpanSchema));
      SEXTANT_ASSIGN_OR_RETURN(
          Statement prepared, db_->Prepare("INSERT INTO sample_fields(split, row, premise, "
                                           "hypothesis, tokens, gold_spans) VALUES(?,?,?,?,?,?)"));
      field_st = std::make_unique<Statement>(std::move(prepared));
    }
    for (const SampleRecord& s : samples) {
      const int64_t row = next_row++;
      st.Bind(1, key).Bind(2, row).Bind(3, s.id).Bind(4, s.text);
      if (s.label) st.Bind(5, static_cast<int64_t>(*s.label)); else st.BindNull(5);
      st.Bind(6, s.meta_json);
      SEXTANT_RETURN_IF_ERROR(st.Run().WithContext("sample id '" + s.id + "'"));
      if (!fields) continue;
      field_st->Bind(1, key).Bind(2, row);
      if (task_ == TaskType::kNaturalLanguageInference) {
        field_st->Bind(3, s.premise).Bind(4, s.hypothesis).BindNull(5).BindNull(6);
      } else {
        field_st->BindNull(3).BindNull(4).Bind(5, TokensJson(s.tokens)).Bind(6, GoldSpansJson(s.gold_spans));
      }
      SEXTANT_RETURN_IF_ERROR(field_st->Run().WithContext("sample id '" + s.id + "'"));
    }
    return Status::OK();
  });
}

Result<std::vector<OutputLogInfo>> RunStore::ListOutputLogs() const {
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st, db_->Prepare("SELECT split, epoch, rows, emb_dim, out_dim, kind FROM "
                                 "output_logs ORDER BY split, epoch"));
  std::vector<OutputLogInfo> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    OutputLogInfo info;
    SEXTANT_ASSIGN_OR_RETURN(info.split, SplitKey::Parse(st.Text(0)));
    info.epoch = static_cast<int32_t>(st.Int(1));
    info.rows = st.Int(2);
    info.emb_dim = st.Int(3);
    info.out_dim = st.Int(4);
    info.kind = st.Text(5) == "logits" ? OutputKind::kLogits : OutputKind::kProbabilities;
    out.push_back(std::move(info));
  }
  return out;
}

fs::path RunStore::LogPath(const SplitKey& split, int32_t epoch, const char* ext) const {
  return dir_ / "outputs" / split.DirName() / ("epoch-" + std::to_string(epoch) + ext);
}

Status RunStore::AppendOutputs(const std::vector<OutputAppend>& batches) {
  if (mode_ != Mode::kWrite) return Status::FailedPrecondition("run store opened read-only");
  SEXTANT_ASSIGN_OR_RETURN(std::vector<OutputLogInfo> logs, ListOutputLogs());
  std::map<std::pair<SplitKey, int32_t>, OutputLogInfo> committed;
  for (auto& l : logs) committed[{l.split, l.epoch}] = l;

  // Group the batches per log so that each log file is written and synced once.
  std::map<std::pair<SplitKey, int32_t>, std::vector<const OutputAppend*>> groups;
  for (const OutputAppend& b : batches) groups[{b.split, b.epoch}].push_back(&b);

  for (auto& [key, group] : groups) {
    OutputLogInfo& info = committed[key];
    if (info.rows == 0) {
      info.split = key.first;
      info.epoch = key.second;
      info.emb_dim = group.front()->emb_dim;
      info.out_dim = group.front()->out_dim;
      info.kind = group.front()->kind;
    }
    std::vector<int64_t> rows;
    std::vector<float> emb, out;
    for (const OutputAppend* b : group) {
      if (b->emb_dim != info.emb_dim || b->out_dim != info.out_dim || b->kind != info.kind) {
        return Status::Internal("output batch shape differs from its log");
      }
      rows.insert(rows.end(), b->sample_rows.begin(), b->sample_rows.end());
      emb.insert(emb.end(), b->embeddings.begin(), b->embeddings.end());
      out.insert(out.end(), b->outputs.begin(), b->outputs.end());
    }
    SEXTANT_RETURN_IF_ERROR(CreateDirs(LogPath(key.first, key.second, "").parent_path()));
    SEXTANT_RETURN_IF_ERROR(AppendToLog(LogPath(key.first, key.second, ".rows.i64"),
                                        info.rows * 8, rows.data(), rows.size() * 8));
    SEXTANT_RETURN_IF_ERROR(AppendToLog(LogPath(key.first, key.second, ".emb.f32"),
                                        info.rows * info.emb_dim * 4, emb.data(), emb.size() * 4));
    SEXTANT_RETURN_IF_ERROR(AppendToLog(LogPath(key.first, key.second, ".out.f32"),
                                        info.rows * info.out_dim * 4, out.data(), out.size() * 4));
    info.rows += static_cast<int64_t>(rows.size());
  }
  // The commit point: only now do the appended rows become part of the run.
  return db_->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(
        Statement st, db_->Prepare("INSERT OR REPLACE INTO output_logs(split, epoch, rows, "
                                   "emb_dim, out_dim, kind) VALUES(?,?,?,?,?,?)"));
    for (auto& [key, group] : groups) {
      const OutputLogInfo& info = committed[key];
      st.Bind(1, info.split.ToString()).Bind(2, info.epoch).Bind(3, info.rows);
      st.Bind(4, info.emb_dim).Bind(5, info.out_dim).Bind(6, KindName(info.kind));
      SEXTANT_RETURN_IF_ERROR(st.Run());
    }
    return Status::OK();
  });
}

Result<OutputLog> RunStore::ReadOutputLog(const SplitKey& split, int32_t epoch) const {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<OutputLogInfo> logs, ListOutputLogs());
  for (const OutputLogInfo& info : logs) {
    if (info.split != split || info.epoch != epoch) continue;
    OutputLog log;
    log.info = info;
    SEXTANT_RETURN_IF_ERROR(ReadLogFile(LogPath(split, epoch, ".rows.i64"), info.rows,
                                        &log.sample_rows));
    SEXTANT_RETURN_IF_ERROR(ReadLogFile(LogPath(split, epoch, ".emb.f32"),
                                        info.rows * info.emb_dim, &log.embeddings));
    SEXTANT_RETURN_IF_ERROR(ReadLogFile(LogPath(split, epoch, ".out.f32"),
                                        info.rows * info.out_dim, &log.outputs));
    return log;
  }
  return Status::NotFound("no outputs for split '" + split.ToString() + "' epoch " +
                          std::to_string(epoch));
}

Result<std::vector<int64_t>> RunStore::ReadOutputRows(const SplitKey& split, int32_t epoch) const {
  SEXTANT_ASSIGN_OR_RETURN(Statement st,
                           db_->Prepare("SELECT rows FROM output_logs WHERE split=? AND epoch=?"));
  st.Bind(1, split.ToString()).Bind(2, epoch);
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  std::vector<int64_t> rows;
  if (found) {
    SEXTANT_RETURN_IF_ERROR(ReadLogFile(LogPath(split, epoch, ".rows.i64"), st.Int(0), &rows));
  }
  return rows;
}

Result<fs::path> RunStore::ResultsDir() const {
  SEXTANT_ASSIGN_OR_RETURN(std::string gen, GetMeta(*db_, "results_generation"));
  if (gen == "0") return fs::path();
  return dir_ / "results" / ("gen-" + gen);
}

Status RunStore::CommitResults(const std::vector<SplitResults>& splits,
                               const std::string& run_summary_json, const CommitOptions& options,
                               const std::vector<SplitResults>& span_splits) {
  if (mode_ != Mode::kWrite) return Status::FailedPrecondition("run store opened read-only");
  SEXTANT_ASSIGN_OR_RETURN(std::string gen_text, GetMeta(*db_, "results_generation"));
  const int64_t gen = std::stoll(gen_text) + 1;
  const fs::path results_root = dir_ / "results";
  const fs::path gen_dir = results_root / ("gen-" + std::to_string(gen));
  std::error_code ec;
  fs::remove_all(gen_dir, ec);  // left by a finish that failed before its commit
  for (const SplitResults& s : splits) {
    const fs::path d = gen_dir / s.split.DirName();
    SEXTANT_RETURN_IF_ERROR(CreateDirs(d));
    const auto n = static_cast<int64_t>(s.samples.size());
    SEXTANT_RETURN_IF_ERROR(
        options.embeddings_float16
            ? io::WriteNpyFloat16(d / "embeddings.npy", s.embeddings.data(), n, s.emb_dim)
            : io::WriteNpyFloat32(d / "embeddings.npy", s.embeddings.data(), n, s.emb_dim));
    SEXTANT_RETURN_IF_ERROR(io::WriteNpyFloat32(d / "probs.npy", s.probs.data(), n, s.num_labels));
    if (!s.map.empty()) {
      if (s.map.size() != static_cast<size_t>(2 * n)) {
        return Status::Internal("map of split '" + s.split.ToString() + "': " +
                                std::to_string(s.map.size()) + " values for " + std::to_string(n) +
                                " samples");
      }
      SEXTANT_RETURN_IF_ERROR(io::WriteNpyFloat32(d / "map.npy", s.map.data(), n, 2));
    }
  }
  for (const SplitResults& s : span_splits) {
    const fs::path d = gen_dir / s.split.DirName() / "spans";
    SEXTANT_RETURN_IF_ERROR(CreateDirs(d));
    const auto n = static_cast<int64_t>(s.samples.size());
    if (s.emb_dim > 0) {
      SEXTANT_RETURN_IF_ERROR(
          options.embeddings_float16
              ? io::WriteNpyFloat16(d / "embeddings.npy", s.embeddings.data(), n, s.emb_dim)
              : io::WriteNpyFloat32(d / "embeddings.npy", s.embeddings.data(), n, s.emb_dim));
    }
    if (!s.map.empty()) SEXTANT_RETURN_IF_ERROR(io::WriteNpyFloat32(d / "map.npy", s.map.data(), n, 2));
  }
  if (!splits.empty() || !options.files.empty()) SEXTANT_RETURN_IF_ERROR(CreateDirs(gen_dir));
  for (const CommitOptions::File& f : options.files) {
    SEXTANT_RETURN_IF_ERROR(f.write(gen_dir / f.name));
  }
  SEXTANT_RETURN_IF_ERROR(FsyncDir(results_root));

  SEXTANT_RETURN_IF_ERROR(db_->Transaction([&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(db_->Exec("DELETE FROM results; DELETE FROM summaries;"));
    SEXTANT_ASSIGN_OR_RETURN(
        Statement ins,
        db_->Prepare("INSERT INTO results(split, row, pred, confidence, margin, certainty_ratio, "
                     "entropy, on_boundary, epoch, gold, aum, dep, drift_distance, drift_score, "
                     "drifted) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    SEXTANT_ASSIGN_OR_RETURN(Statement sum,
                             db_->Prepare("INSERT INTO summaries(scope, json) VALUES(?, ?)"));
    for (const SplitResults& s : splits) {
      const std::string key = s.split.ToString();
      for (size_t row = 0; row < s.samples.size(); ++row) {
        const SampleResult& r = s.samples[row];
        ins.Bind(1, key).Bind(2, static_cast<int64_t>(row)).Bind(3, r.pred);
        ins.Bind(4, static_cast<double>(r.confidence)).Bind(5, static_cast<double>(r.margin));
        ins.Bind(6, static_cast<double>(r.certainty_ratio)).Bind(7, static_cast<double>(r.entropy));
        ins.Bind(8, r.on_boundary ? 1 : 0).Bind(9, r.epoch);
        if (r.gold) ins.Bind(10, *r.gold); else ins.BindNull(10);
        ins.Bind(11, r.aum).Bind(12, r.dep).Bind(13, r.drift_distance).Bind(14, r.drift_score);
        if (r.drifted) ins.Bind(15, *r.drifted ? 1 : 0); else ins.BindNull(15);
        SEXTANT_RETURN_IF_ERROR(ins.Run());
      }
      sum.Bind(1, key).Bind(2, s.summary_json);
      SEXTANT_RETURN_IF_ERROR(sum.Run());
    }
    if (!span_splits.empty()) {
      SEXTANT_RETURN_IF_ERROR(db_->Exec(kPairAndSpanSchema));
      SEXTANT_RETURN_IF_ERROR(db_->Exec("DELETE FROM span_results;"));
      SEXTANT_ASSIGN_OR_RETURN(
          Statement span,
          db_->Prepare("INSERT INTO span_results(split, span_row, sample_row, start, end, "
                       "token_begin, token_end, gold, pred, error_type, confidence, "
                       "certainty_ratio, on_boundary, dep, drift_distance, drift_score, drifted) "
                       "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
      for (const SplitResults& s : span_splits) {
        const std::string key = s.split.ToString();
        for (size_t i = 0; i < s.spans.size(); ++i) {
          const SpanRecord& sp = s.spans[i];
          const SampleResult& r = s.samples[i];
          span.Bind(1, key).Bind(2, static_cast<int64_t>(i)).Bind(3, sp.sample_row);
          span.Bind(4, static_cast<int64_t>(sp.range.start)).Bind(5, static_cast<int64_t>(sp.range.end));
          span.Bind(6, static_cast<int64_t>(sp.token_begin)).Bind(7, static_cast<int64_t>(sp.token_end));
          if (sp.gold) span.Bind(8, static_cast<int64_t>(*sp.gold)); else span.BindNull(8);
          if (sp.pred) span.Bind(9, static_cast<int64_t>(*sp.pred)); else span.BindNull(9);
          if (!sp.error_type.empty()) span.Bind(10, sp.error_type); else span.BindNull(10);
          span.Bind(11, static_cast<double>(r.confidence)).Bind(12, static_cast<double>(r.certainty_ratio));
          span.Bind(13, r.on_boundary ? 1 : 0).Bind(14, r.dep).Bind(15, r.drift_distance);
          span.Bind(16, r.drift_score);
          if (r.drifted) span.Bind(17, *r.drifted ? 1 : 0); else span.BindNull(17);
          SEXTANT_RETURN_IF_ERROR(span.Run());
        }
      }
    }
    sum.Bind(1, "run").Bind(2, run_summary_json);
    SEXTANT_RETURN_IF_ERROR(sum.Run());
    return PutMeta(*db_, "results_generation", std::to_string(gen));
  }));
  // Older generations are garbage now; readers that still map them keep their inodes.
  for (auto& entry : fs::directory_iterator(results_root, ec)) {
    if (entry.path() != gen_dir) fs::remove_all(entry.path(), ec);
  }
  return Status::OK();
}

}  // namespace sextant::store
