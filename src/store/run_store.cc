#include "store/run_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/crc32c.h"
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
  drift_distance REAL, drift_score REAL, drifted INTEGER, shift_score REAL, shifted INTEGER,
  span_errors INTEGER, pred_spans_count INTEGER, min_span_confidence REAL,
  PRIMARY KEY(split, row));
CREATE TABLE IF NOT EXISTS summaries(scope TEXT PRIMARY KEY, json TEXT NOT NULL);
)sql";

// Checksums (format version 2): one row per committed append to an output log,
// and one per file of the committed results generation.
constexpr const char* kChecksumSchema = R"sql(
CREATE TABLE IF NOT EXISTS output_batches(
  split TEXT NOT NULL, epoch INTEGER NOT NULL, first_row INTEGER NOT NULL, rows INTEGER NOT NULL,
  rows_crc INTEGER NOT NULL, emb_crc INTEGER NOT NULL, out_crc INTEGER NOT NULL,
  PRIMARY KEY(split, epoch, first_row));
CREATE TABLE IF NOT EXISTS result_files(
  generation INTEGER NOT NULL, path TEXT NOT NULL, bytes INTEGER NOT NULL, crc32c INTEGER NOT NULL,
  PRIMARY KEY(generation, path));
)sql";

// When each inference set happened (created with the first inference sample).
constexpr const char* kInferenceSetSchema = R"sql(
CREATE TABLE IF NOT EXISTS inference_sets(
  name TEXT PRIMARY KEY, time REAL NOT NULL, source TEXT NOT NULL);
)sql";

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Limits on counts read from the database, checked before they size anything.
constexpr int64_t kMaxLogRows = int64_t{1} << 40;
constexpr int64_t kMaxDim = int64_t{1} << 20;

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
bool IsInt32(const json& v) {
  if (!v.is_number_integer()) return false;
  const auto x = v.get<int64_t>();
  return x >= 0 && x <= INT32_MAX;
}
}  // namespace

Result<bool> ResultsHaveShiftColumns(Database& db) {
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT COUNT(*) FROM pragma_table_info('results') WHERE name = 'shift_score'"));
  SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
  return row && st.Int(0) > 0;
}

Result<bool> ResultsHaveSpanColumns(Database& db) {
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT COUNT(*) FROM pragma_table_info('results') WHERE name = 'span_errors'"));
  SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
  return row && st.Int(0) > 0;
}

Result<std::vector<CharRange>> ParseStoredTokens(const std::string& text,
                                                 const std::string& where) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<CharRange> out;
  bool ok = j.is_array();
  for (size_t i = 0; ok && i < j.size(); ++i) {
    const json& t = j[i];
    ok = t.is_array() && t.size() == 2 && IsInt32(t[0]) && IsInt32(t[1]) &&
         t[0].get<int32_t>() <= t[1].get<int32_t>();
    if (ok) out.push_back({t[0].get<int32_t>(), t[1].get<int32_t>()});
  }
  if (!ok) {
    return Status::IOError(where + ": stored tokens '" + text.substr(0, 80) +
                           "' are not valid; expected a JSON array of [start, end] offsets");
  }
  return out;
}

Result<std::vector<GoldSpan>> ParseStoredGoldSpans(const std::string& text,
                                                   const std::string& where) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<GoldSpan> out;
  bool ok = j.is_array();
  for (size_t i = 0; ok && i < j.size(); ++i) {
    const json& g = j[i];
    ok = g.is_array() && g.size() == 3 && IsInt32(g[0]) && IsInt32(g[1]) && g[2].is_string() &&
         g[0].get<int32_t>() <= g[1].get<int32_t>();
    if (ok) out.push_back({g[0].get<int32_t>(), g[1].get<int32_t>(), g[2].get<std::string>()});
  }
  if (!ok) {
    return Status::IOError(where + ": stored gold spans '" + text.substr(0, 80) +
                           "' are not valid; expected a JSON array of [start, end, \"label\"]");
  }
  return out;
}

Status CheckStoredJsonObject(const std::string& text, const std::string& where) {
  if (text == "{}") return Status::OK();  // most samples' metadata: no parse needed
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return Status::IOError(where + " is not a valid JSON object: '" + text.substr(0, 80) + "'");
  }
  return Status::OK();
}

namespace {

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

Result<int64_t> ParseGeneration(const std::string& text, const fs::path& run_dir) {
  int64_t g = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), g);
  if (ec != std::errc() || end != text.data() + text.size() || g < 0) {
    return Status::IOError("run '" + run_dir.string() + "': sextant.db table meta: " +
                           "results_generation '" + text + "' is not a non-negative integer");
  }
  return g;
}

// Builds a new run's database under a temporary name and renames it into
// place only when complete, so a failure (disk full, crash) never leaves a
// sextant.db without tables. The caller holds the run's writer lock.
Status CreateDatabase(const fs::path& db_path, TaskType task) {
  const fs::path dir = db_path.parent_path();
  std::error_code ec;
  // Leftovers of an earlier creation that failed.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(".sextant.db.creating-", 0) == 0)
      fs::remove(e.path(), ec);
  }
  const fs::path tmp = dir / (".sextant.db.creating-" + std::to_string(::getpid()));
  auto cleanup = [&] {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::remove(fs::path(tmp.string() + suffix), ec);
    }
  };
  Status st = [&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(tmp, /*create=*/true));
    SEXTANT_RETURN_IF_ERROR(db->Transaction([&]() -> Status {
      SEXTANT_RETURN_IF_ERROR(db->Exec(kSchema));
      SEXTANT_RETURN_IF_ERROR(db->Exec(kSelectionSchema));
      SEXTANT_RETURN_IF_ERROR(db->Exec(kChecksumSchema));
      if (task != TaskType::kTextClassification) {
        SEXTANT_RETURN_IF_ERROR(db->Exec(kPairAndSpanSchema));
      }
      SEXTANT_RETURN_IF_ERROR(PutMeta(*db, "format_version", std::to_string(kFormatVersion)));
      SEXTANT_RETURN_IF_ERROR(PutMeta(*db, "task_type", std::string(TaskTypeName(task))));
      SEXTANT_RETURN_IF_ERROR(PutMeta(*db, "labels", "[]"));
      SEXTANT_RETURN_IF_ERROR(PutMeta(*db, "results_generation", "0"));
      auto now = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      return PutMeta(*db, "created_at", std::to_string(now));
    }));
    // Everything into the main file: the WAL is removed when the connection closes.
    SEXTANT_RETURN_IF_ERROR(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    db.reset();
    SEXTANT_RETURN_IF_ERROR(FsyncFile(tmp));
    return RenameDurably(tmp, db_path);
  }();
  if (!st.ok()) cleanup();
  return st.WithContext("creating run database '" + db_path.string() + "'");
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
  out->clear();
  if (count == 0) return Status::OK();
  int64_t bytes = 0;
  if (count < 0 || __builtin_mul_overflow(count, static_cast<int64_t>(sizeof(T)), &bytes)) {
    return Status::IOError("output log '" + path.string() + "': committed size of " +
                           std::to_string(count) + " values is out of range");
  }
  // The size is checked before it sizes a buffer: a corrupt count must not exhaust memory.
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return Status::IOError("missing output log '" + path.string() + "': " + ec.message());
  if (static_cast<uint64_t>(bytes) > size) {
    return Status::IOError("output log '" + path.string() + "' is shorter than its committed " +
                           std::to_string(count) + " values (" + std::to_string(size) +
                           " bytes; expected " + std::to_string(bytes) + ")");
  }
  out->resize(static_cast<size_t>(count));
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
  // Checked again under the lock: another writer may have created it meanwhile.
  if (mode == Mode::kWrite && !fs::exists(db_path)) {
    if (!task) return Status::Invalid("task_type: a new run needs a task type");
    SEXTANT_RETURN_IF_ERROR(CreateDatabase(db_path, *task));
  }
  SEXTANT_ASSIGN_OR_RETURN(store->db_, Database::Open(db_path, /*create=*/false));
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
  // A database without the meta table (or not a database at all) is a damaged run.
  auto version_or = GetMeta(*db_, "format_version");
  if (!version_or.ok()) {
    return Status::IOError("run '" + dir_.string() + "' is damaged: sextant.db has no readable " +
                           "meta table (" + version_or.status().message() +
                           "); see `sextant check`");
  }
  std::string version = *version_or;
  int parsed = 0;
  auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), parsed);
  if (ec != std::errc() || end != version.data() + version.size()) {
    // std::stoi would throw into the caller here.
    return Status::FailedPrecondition("run '" + dir_.string() +
                                      "' has an unreadable format version '" + version +
                                      "'; expected an integer");
  }
  format_version_ = parsed;
  if (parsed > kFormatVersion || parsed < kOldestReadableFormatVersion) {
    return Status::FailedPrecondition("run '" + dir_.string() + "' has format version " + version +
                                      "; this Sextant reads versions up to " +
                                      std::to_string(kFormatVersion) + " (from " +
                                      std::to_string(kOldestReadableFormatVersion) + ")");
  }
  SEXTANT_ASSIGN_OR_RETURN(std::string task, GetMeta(*db_, "task_type"));
  SEXTANT_ASSIGN_OR_RETURN(task_, ParseTaskType(task));
  SEXTANT_ASSIGN_OR_RETURN(std::string labels, GetMeta(*db_, "labels"));
  const json parsed_labels = json::parse(labels, nullptr, /*allow_exceptions=*/false);
  if (!parsed_labels.is_array() || !std::all_of(parsed_labels.begin(), parsed_labels.end(),
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
  SEXTANT_ASSIGN_OR_RETURN(Statement st,
                           db_->Prepare("SELECT COUNT(*) FROM samples WHERE split=?"));
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
    if (st.IsNull(0)) {
      labels.push_back(std::nullopt);
      continue;
    }
    const int64_t l = st.Int(0);
    if (l < 0 || l >= static_cast<int64_t>(labels_.size())) {
      return Status::IOError("run '" + dir_.string() + "': sextant.db table samples: split '" +
                             split.ToString() + "' row " + std::to_string(labels.size()) +
                             " has label index " + std::to_string(l) + "; the run has " +
                             std::to_string(labels_.size()) + " labels");
    }
    labels.push_back(static_cast<int32_t>(l));
  }
  return labels;
}

Result<std::vector<SampleRecord>> RunStore::ReadSamples(const SplitKey& split) const {
  const bool fields = task_ != TaskType::kTextClassification;
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare(fields
                       ? "SELECT s.id, s.text, s.label, s.meta, f.premise, f.hypothesis, "
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
    const std::string where =
        "run '" + dir_.string() + "': sample '" + r.id + "' of split '" + split.ToString() + "'";
    if (!st.IsNull(2)) {
      const int64_t l = st.Int(2);
      // NER samples carry no sample-level label; the rest index the label list.
      if (l < 0 || l >= static_cast<int64_t>(labels_.size())) {
        return Status::IOError(where + " (sextant.db table samples) has label index " +
                               std::to_string(l) + "; the run has " +
                               std::to_string(labels_.size()) + " labels");
      }
      r.label = static_cast<int32_t>(l);
    }
    r.meta_json = st.Text(3);
    SEXTANT_RETURN_IF_ERROR(CheckStoredJsonObject(r.meta_json, where + ": column samples.meta"));
    if (fields) {
      if (!st.IsNull(4)) r.premise = st.Text(4);
      if (!st.IsNull(5)) r.hypothesis = st.Text(5);
      if (!st.IsNull(6)) {
        SEXTANT_ASSIGN_OR_RETURN(r.tokens,
                                 ParseStoredTokens(st.Text(6), where + " (sample_fields.tokens)"));
      }
      if (!st.IsNull(7)) {
        SEXTANT_ASSIGN_OR_RETURN(
            r.gold_spans, ParseStoredGoldSpans(st.Text(7), where + " (sample_fields.gold_spans)"));
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

Status RunStore::AppendSamples(const SplitKey& split, const std::vector<SampleRecord>& samples) {
  return db_->Transaction([&]() -> Status { return InsertSamples(split, samples); });
}

Status RunStore::InsertSamples(const SplitKey& split, const std::vector<SampleRecord>& samples) {
  const std::string key = split.ToString();
  {
    SEXTANT_ASSIGN_OR_RETURN(int64_t next_row, SampleCount(split));
    SEXTANT_ASSIGN_OR_RETURN(
        Statement st,
        db_->Prepare("INSERT INTO samples(split, row, id, text, label, meta) VALUES(?,?,?,?,?,?)"));
    const bool fields = task_ != TaskType::kTextClassification;
    std::unique_ptr<Statement> field_st;
    if (fields) {
      SEXTANT_RETURN_IF_ERROR(db_->Exec(kPairAndSpanSchema));
      SEXTANT_ASSIGN_OR_RETURN(Statement prepared,
                               db_->Prepare("INSERT INTO sample_fields(split, row, premise, "
                                            "hypothesis, tokens, gold_spans) VALUES(?,?,?,?,?,?)"));
      field_st = std::make_unique<Statement>(std::move(prepared));
    }
    if (split.split == Split::kInference && !samples.empty()) {
      SEXTANT_RETURN_IF_ERROR(
          RecordInferenceTime({split.inference_name, UnixNow(), SetTimeSource::kFirstSample}));
    }
    for (const SampleRecord& s : samples) {
      const int64_t row = next_row++;
      st.Bind(1, key).Bind(2, row).Bind(3, s.id).Bind(4, s.text);
      if (s.label)
        st.Bind(5, static_cast<int64_t>(*s.label));
      else
        st.BindNull(5);
      st.Bind(6, s.meta_json);
      SEXTANT_RETURN_IF_ERROR(st.Run().WithContext("sample id '" + s.id + "'"));
      if (!fields) continue;
      field_st->Bind(1, key).Bind(2, row);
      if (task_ == TaskType::kNaturalLanguageInference) {
        field_st->Bind(3, s.premise).Bind(4, s.hypothesis).BindNull(5).BindNull(6);
      } else {
        field_st->BindNull(3)
            .BindNull(4)
            .Bind(5, TokensJson(s.tokens))
            .Bind(6, GoldSpansJson(s.gold_spans));
      }
      SEXTANT_RETURN_IF_ERROR(field_st->Run().WithContext("sample id '" + s.id + "'"));
    }
    return Status::OK();
  }
}

Result<std::vector<OutputLogInfo>> RunStore::ListOutputLogs() const {
  SEXTANT_ASSIGN_OR_RETURN(Statement st,
                           db_->Prepare("SELECT split, epoch, rows, emb_dim, out_dim, kind FROM "
                                        "output_logs ORDER BY split, epoch"));
  std::vector<OutputLogInfo> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    OutputLogInfo info;
    const std::string where = "run '" + dir_.string() + "': sextant.db table output_logs: ";
    auto split = SplitKey::Parse(st.Text(0));
    if (!split.ok()) return Status::IOError(where + split.status().message());
    info.split = *split;
    const int64_t epoch = st.Int(1);
    info.rows = st.Int(2);
    info.emb_dim = st.Int(3);
    info.out_dim = st.Int(4);
    const std::string kind = st.Text(5);
    const std::string log =
        "log of split '" + info.split.ToString() + "' epoch " + std::to_string(epoch);
    if (epoch < 0 || epoch > INT32_MAX) {
      return Status::IOError(where + log + ": epoch out of range");
    }
    info.epoch = static_cast<int32_t>(epoch);
    if (info.rows < 0 || info.rows > kMaxLogRows || info.emb_dim < 0 || info.emb_dim > kMaxDim ||
        info.out_dim < 0 || info.out_dim > kMaxDim) {
      return Status::IOError(where + log + " has rows " + std::to_string(info.rows) + ", emb_dim " +
                             std::to_string(info.emb_dim) + ", out_dim " +
                             std::to_string(info.out_dim) +
                             "; expected 0 to 2^40 rows and "
                             "dimensions of 0 to 2^20");
    }
    if (kind != "logits" && kind != "probs") {
      return Status::IOError(where + log + " has kind '" + kind + "'; expected logits or probs");
    }
    info.kind = kind == "logits" ? OutputKind::kLogits : OutputKind::kProbabilities;
    out.push_back(std::move(info));
  }
  return out;
}

fs::path RunStore::LogPath(const SplitKey& split, int32_t epoch, const char* ext) const {
  return dir_ / "outputs" / split.DirName() / ("epoch-" + std::to_string(epoch) + ext);
}

Status RunStore::AppendOutputs(const std::vector<OutputAppend>& batches) {
  return AppendOutputsThen(batches, nullptr);
}

Status RunStore::AppendUpload(
    const std::vector<std::pair<SplitKey, std::vector<SampleRecord>>>& samples,
    const std::vector<OutputAppend>& outputs, const std::function<Status()>& in_commit) {
  return AppendOutputsThen(outputs, [&]() -> Status {
    for (const auto& [split, records] : samples) {
      SEXTANT_RETURN_IF_ERROR(InsertSamples(split, records));
    }
    return in_commit ? in_commit() : Status::OK();
  });
}

const char* SetTimeSourceName(SetTimeSource source) {
  switch (source) {
    case SetTimeSource::kGiven:
      return "given";
    case SetTimeSource::kFirstSample:
      return "first_sample";
    case SetTimeSource::kLiveWindow:
      return "live_window";
  }
  return "first_sample";
}

std::optional<SetTimeSource> ParseSetTimeSource(std::string_view name) {
  for (SetTimeSource s :
       {SetTimeSource::kGiven, SetTimeSource::kFirstSample, SetTimeSource::kLiveWindow}) {
    if (name == SetTimeSourceName(s)) return s;
  }
  return std::nullopt;
}

Status CheckSetTime(double unix_seconds, const std::string& field) {
  // 1900-01-01 .. 5000-01-01: anything outside is a unit mistake (ms, ns).
  constexpr double kMin = -2208988800.0, kMax = 95617584000.0;
  if (!std::isfinite(unix_seconds) || unix_seconds < kMin || unix_seconds > kMax) {
    std::ostringstream msg;
    msg << field << ": " << unix_seconds
        << "; expected Unix seconds (UTC) between 1900 and 5000 (milliseconds? divide by 1000)";
    return Status::Invalid(msg.str());
  }
  return Status::OK();
}

Status RunStore::RecordInferenceTime(const InferenceSetTime& time) {
  if (mode_ != Mode::kWrite) return Status::FailedPrecondition("run store opened read-only");
  SEXTANT_RETURN_IF_ERROR(CheckSetTime(time.time, "timestamp"));
  SEXTANT_RETURN_IF_ERROR(db_->Exec(kInferenceSetSchema));
  // One statement, so the rule holds without a transaction of its own.
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("INSERT INTO inference_sets(name, time, source) VALUES(?1, ?2, ?3) "
                   "ON CONFLICT(name) DO UPDATE SET "
                   "time = CASE WHEN excluded.source = 'first_sample' "
                   "THEN min(time, excluded.time) ELSE excluded.time END, "
                   "source = CASE WHEN excluded.source = 'first_sample' "
                   "THEN source ELSE excluded.source END "
                   "WHERE excluded.source != 'first_sample' OR source = 'first_sample'"));
  st.Bind(1, time.name).Bind(2, time.time).Bind(3, SetTimeSourceName(time.source));
  return st.Run().WithContext("inference set '" + time.name + "'");
}

Result<std::vector<InferenceSetTime>> RunStore::InferenceTimes() const {
  std::vector<InferenceSetTime> out;
  SEXTANT_ASSIGN_OR_RETURN(Statement has, db_->Prepare("SELECT 1 FROM sqlite_master WHERE "
                                                       "type='table' AND name='inference_sets'"));
  SEXTANT_ASSIGN_OR_RETURN(bool exists, has.Step());
  if (!exists) return out;
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st, db_->Prepare("SELECT name, time, source FROM inference_sets ORDER BY name"));
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    InferenceSetTime t;
    t.name = st.Text(0);
    t.time = st.Double(1);
    const std::optional<SetTimeSource> source = ParseSetTimeSource(st.Text(2));
    if (!source || !std::isfinite(t.time)) {
      return Status::IOError((dir_ / kDatabaseFile).string() + ": inference_sets row '" + t.name +
                             "' is corrupt (source '" + st.Text(2) +
                             "'; expected given, first_sample or live_window)");
    }
    t.source = *source;
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::optional<std::string>> RunStore::ReadMetaValue(const std::string& key) const {
  Result<std::string> value = GetMeta(*db_, key);
  if (value.ok()) return std::optional<std::string>(*value);
  if (value.status().code() == StatusCode::kNotFound) return std::optional<std::string>();
  return value.status();
}

Status RunStore::WriteMetaValue(const std::string& key, const std::string& value) {
  if (mode_ != Mode::kWrite) return Status::FailedPrecondition("run store opened read-only");
  return PutMeta(*db_, key, value);
}

Status RunStore::AppendOutputsThen(const std::vector<OutputAppend>& batches,
                                   const std::function<Status()>& in_commit) {
  if (mode_ != Mode::kWrite) return Status::FailedPrecondition("run store opened read-only");
  SEXTANT_ASSIGN_OR_RETURN(std::vector<OutputLogInfo> logs, ListOutputLogs());
  std::map<std::pair<SplitKey, int32_t>, OutputLogInfo> committed;
  for (auto& l : logs) committed[{l.split, l.epoch}] = l;

  // Group the batches per log so that each log file is written and synced once.
  std::map<std::pair<SplitKey, int32_t>, std::vector<const OutputAppend*>> groups;
  for (const OutputAppend& b : batches) groups[{b.split, b.epoch}].push_back(&b);
  std::map<std::pair<SplitKey, int32_t>, OutputBatchInfo> checksums;

  for (auto& [key, group] : groups) {
    OutputLogInfo& info = committed[key];
    if (info.rows == 0) {
      info.split = key.first;
      info.epoch = key.second;
      info.emb_dim = group.front()->emb_dim;
      info.out_dim = group.front()->out_dim;
      info.kind = group.front()->kind;
    }
    std::vector<int64_t> joined_rows;
    std::vector<float> joined_emb, joined_out;
    for (const OutputAppend* b : group) {
      if (b->emb_dim != info.emb_dim || b->out_dim != info.out_dim || b->kind != info.kind) {
        return Status::Internal("output batch shape differs from its log");
      }
    }
    // One batch (an upload's segment: hundreds of MB) is written as it is;
    // several are joined first so that each file is written and synced once.
    if (group.size() > 1) {
      for (const OutputAppend* b : group) {
        joined_rows.insert(joined_rows.end(), b->sample_rows.begin(), b->sample_rows.end());
        joined_emb.insert(joined_emb.end(), b->embeddings.begin(), b->embeddings.end());
        joined_out.insert(joined_out.end(), b->outputs.begin(), b->outputs.end());
      }
    }
    const std::vector<int64_t>& rows = group.size() > 1 ? joined_rows : group[0]->sample_rows;
    const std::vector<float>& emb = group.size() > 1 ? joined_emb : group[0]->embeddings;
    const std::vector<float>& out = group.size() > 1 ? joined_out : group[0]->outputs;
    SEXTANT_RETURN_IF_ERROR(CreateDirs(LogPath(key.first, key.second, "").parent_path()));
    SEXTANT_RETURN_IF_ERROR(AppendToLog(LogPath(key.first, key.second, ".rows.i64"), info.rows * 8,
                                        rows.data(), rows.size() * 8));
    SEXTANT_RETURN_IF_ERROR(AppendToLog(LogPath(key.first, key.second, ".emb.f32"),
                                        info.rows * info.emb_dim * 4, emb.data(), emb.size() * 4));
    SEXTANT_RETURN_IF_ERROR(AppendToLog(LogPath(key.first, key.second, ".out.f32"),
                                        info.rows * info.out_dim * 4, out.data(), out.size() * 4));
    checksums[key] = {info.rows, static_cast<int64_t>(rows.size()),
                      Crc32c(rows.data(), rows.size() * 8), Crc32c(emb.data(), emb.size() * 4),
                      Crc32c(out.data(), out.size() * 4)};
    info.rows += static_cast<int64_t>(rows.size());
  }
  // The commit point: only now do the appended rows become part of the run.
  return db_->Transaction([&]() -> Status {
    // Runs of format version 1 gain the table on their first append; their
    // older batches stay unchecked.
    SEXTANT_RETURN_IF_ERROR(db_->Exec(kChecksumSchema));
    SEXTANT_ASSIGN_OR_RETURN(Statement st,
                             db_->Prepare("INSERT OR REPLACE INTO output_logs(split, epoch, rows, "
                                          "emb_dim, out_dim, kind) VALUES(?,?,?,?,?,?)"));
    SEXTANT_ASSIGN_OR_RETURN(
        Statement sum,
        db_->Prepare("INSERT OR REPLACE INTO output_batches(split, epoch, first_row, "
                     "rows, rows_crc, emb_crc, out_crc) VALUES(?,?,?,?,?,?,?)"));
    for (auto& [key, group] : groups) {
      const OutputLogInfo& info = committed[key];
      st.Bind(1, info.split.ToString()).Bind(2, info.epoch).Bind(3, info.rows);
      st.Bind(4, info.emb_dim).Bind(5, info.out_dim).Bind(6, KindName(info.kind));
      SEXTANT_RETURN_IF_ERROR(st.Run());
      const OutputBatchInfo& b = checksums[key];
      // Batches beyond the committed rows (a crashed append) are replaced here.
      SEXTANT_ASSIGN_OR_RETURN(Statement drop,
                               db_->Prepare("DELETE FROM output_batches WHERE "
                                            "split=? AND epoch=? AND first_row>=?"));
      drop.Bind(1, info.split.ToString()).Bind(2, info.epoch).Bind(3, b.first_row);
      SEXTANT_RETURN_IF_ERROR(drop.Run());
      sum.Bind(1, info.split.ToString()).Bind(2, info.epoch).Bind(3, b.first_row).Bind(4, b.rows);
      sum.Bind(5, static_cast<int64_t>(b.rows_crc)).Bind(6, static_cast<int64_t>(b.emb_crc));
      sum.Bind(7, static_cast<int64_t>(b.out_crc));
      SEXTANT_RETURN_IF_ERROR(sum.Run());
    }
    return in_commit ? in_commit() : Status::OK();
  });
}

Result<std::vector<OutputBatchInfo>> RunStore::ListOutputBatches(const SplitKey& split,
                                                                 int32_t epoch) const {
  std::vector<OutputBatchInfo> out;
  SEXTANT_ASSIGN_OR_RETURN(Statement has, db_->Prepare("SELECT 1 FROM sqlite_master WHERE "
                                                       "type='table' AND name='output_batches'"));
  SEXTANT_ASSIGN_OR_RETURN(bool exists, has.Step());
  if (!exists) return out;
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st, db_->Prepare("SELECT first_row, rows, rows_crc, emb_crc, out_crc FROM "
                                 "output_batches WHERE split=? AND epoch=? ORDER BY first_row"));
  st.Bind(1, split.ToString()).Bind(2, epoch);
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.Int(0), st.Int(1), static_cast<uint32_t>(st.Int(2)),
                   static_cast<uint32_t>(st.Int(3)), static_cast<uint32_t>(st.Int(4))});
  }
  return out;
}

Status RunStore::CheckRows(const SplitKey& split, const fs::path& path,
                           const std::vector<int64_t>& rows) const {
  SEXTANT_ASSIGN_OR_RETURN(int64_t samples, SampleCount(split));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= samples) {
      return Status::IOError("output log '" + path.string() + "' is corrupt: entry " +
                             std::to_string(i) + " names sample row " + std::to_string(rows[i]) +
                             "; split '" + split.ToString() + "' has " + std::to_string(samples) +
                             " samples");
    }
  }
  return Status::OK();
}

// Checks each recorded batch's checksums over the bytes read. In version 2
// runs the batches must cover every committed row; in version 1 runs the
// batches appended since (if any) are checked and the rest is not.
Status RunStore::CheckBatches(const OutputLogInfo& info, const OutputLog& log,
                              bool rows_only) const {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<OutputBatchInfo> batches,
                           ListOutputBatches(info.split, info.epoch));
  const fs::path rows_path = LogPath(info.split, info.epoch, ".rows.i64");
  int64_t expected_first = batches.empty() ? info.rows : batches.front().first_row;
  if (format_version_ >= 2 && expected_first != 0 && info.rows > 0) {
    return Status::IOError("output log '" + rows_path.string() + "': rows [0, " +
                           std::to_string(expected_first) + ") have no recorded checksum " +
                           "(sextant.db table output_batches)");
  }
  for (const OutputBatchInfo& b : batches) {
    if (b.first_row >= info.rows) break;  // beyond the commit (cannot happen; ignored)
    if (b.first_row != expected_first || b.rows < 0 || b.first_row + b.rows > info.rows) {
      return Status::IOError("sextant.db table output_batches of the log of split '" +
                             info.split.ToString() + "' epoch " + std::to_string(info.epoch) +
                             ": batch at row " + std::to_string(b.first_row) + " with " +
                             std::to_string(b.rows) + " rows does not continue at row " +
                             std::to_string(expected_first) + " within the committed " +
                             std::to_string(info.rows) + " rows");
    }
    expected_first = b.first_row + b.rows;
    auto check = [&](const char* ext, const void* base, int64_t width, size_t item,
                     uint32_t want) -> Status {
      const auto* p =
          static_cast<const char*>(base) + b.first_row * width * static_cast<int64_t>(item);
      const uint32_t got = Crc32c(p, static_cast<size_t>(b.rows * width) * item);
      if (got == want) return Status::OK();
      return Status::IOError("output log '" + LogPath(info.split, info.epoch, ext).string() +
                             "' is corrupt: rows [" + std::to_string(b.first_row) + ", " +
                             std::to_string(b.first_row + b.rows) + ") have checksum " +
                             Crc32cHex(got) + "; recorded " + Crc32cHex(want));
    };
    SEXTANT_RETURN_IF_ERROR(check(".rows.i64", log.sample_rows.data(), 1, 8, b.rows_crc));
    if (rows_only) continue;
    SEXTANT_RETURN_IF_ERROR(check(".emb.f32", log.embeddings.data(), info.emb_dim, 4, b.emb_crc));
    SEXTANT_RETURN_IF_ERROR(check(".out.f32", log.outputs.data(), info.out_dim, 4, b.out_crc));
  }
  if (!batches.empty() && expected_first < info.rows) {
    return Status::IOError("output log '" + rows_path.string() + "': rows [" +
                           std::to_string(expected_first) + ", " + std::to_string(info.rows) +
                           ") have no recorded checksum (sextant.db table output_batches)");
  }
  return Status::OK();
}

Result<OutputLog> RunStore::ReadOutputLog(const SplitKey& split, int32_t epoch) const {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<OutputLogInfo> logs, ListOutputLogs());
  for (const OutputLogInfo& info : logs) {
    if (info.split != split || info.epoch != epoch) continue;
    OutputLog log;
    log.info = info;
    SEXTANT_RETURN_IF_ERROR(
        ReadLogFile(LogPath(split, epoch, ".rows.i64"), info.rows, &log.sample_rows));
    SEXTANT_RETURN_IF_ERROR(
        ReadLogFile(LogPath(split, epoch, ".emb.f32"), info.rows * info.emb_dim, &log.embeddings));
    SEXTANT_RETURN_IF_ERROR(
        ReadLogFile(LogPath(split, epoch, ".out.f32"), info.rows * info.out_dim, &log.outputs));
    SEXTANT_RETURN_IF_ERROR(CheckBatches(info, log, /*rows_only=*/false));
    SEXTANT_RETURN_IF_ERROR(CheckRows(split, LogPath(split, epoch, ".rows.i64"), log.sample_rows));
    auto check_finite = [&](const std::vector<float>& v, int64_t width, const char* ext) -> Status {
      for (size_t i = 0; i < v.size(); ++i) {
        if (std::isfinite(v[i])) continue;
        return Status::IOError(
            "output log '" + LogPath(split, epoch, ext).string() + "' is corrupt: entry " +
            std::to_string(i / static_cast<size_t>(width)) + " holds " +
            (std::isnan(v[i]) ? "NaN" : "an infinite value") + " at column " +
            std::to_string(i % static_cast<size_t>(width)) + "; logged values are always finite");
      }
      return Status::OK();
    };
    SEXTANT_RETURN_IF_ERROR(
        check_finite(log.embeddings, std::max<int64_t>(info.emb_dim, 1), ".emb.f32"));
    SEXTANT_RETURN_IF_ERROR(
        check_finite(log.outputs, std::max<int64_t>(info.out_dim, 1), ".out.f32"));
    return log;
  }
  return Status::NotFound("no outputs for split '" + split.ToString() + "' epoch " +
                          std::to_string(epoch));
}

Result<std::vector<int64_t>> RunStore::ReadOutputRows(const SplitKey& split, int32_t epoch) const {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<OutputLogInfo> logs, ListOutputLogs());
  OutputLog log;
  for (const OutputLogInfo& info : logs) {
    if (info.split != split || info.epoch != epoch) continue;
    log.info = info;
    const fs::path path = LogPath(split, epoch, ".rows.i64");
    SEXTANT_RETURN_IF_ERROR(ReadLogFile(path, info.rows, &log.sample_rows));
    SEXTANT_RETURN_IF_ERROR(CheckBatches(info, log, /*rows_only=*/true));
    SEXTANT_RETURN_IF_ERROR(CheckRows(split, path, log.sample_rows));
  }
  return std::move(log.sample_rows);
}

Result<fs::path> RunStore::ResultsDir() const {
  SEXTANT_ASSIGN_OR_RETURN(int64_t gen, CommittedGeneration());
  if (gen == 0) return fs::path();
  return GenerationDir(gen);
}

Result<int64_t> RunStore::CommittedGeneration() const {
  SEXTANT_ASSIGN_OR_RETURN(std::string gen, GetMeta(*db_, "results_generation"));
  return ParseGeneration(gen, dir_);
}

fs::path RunStore::GenerationDir(int64_t generation) const {
  return dir_ / "results" / ("gen-" + std::to_string(generation));
}

Result<std::vector<ResultFileInfo>> RunStore::ListResultFiles(int64_t generation) const {
  std::vector<ResultFileInfo> out;
  SEXTANT_ASSIGN_OR_RETURN(Statement has, db_->Prepare("SELECT 1 FROM sqlite_master WHERE "
                                                       "type='table' AND name='result_files'"));
  SEXTANT_ASSIGN_OR_RETURN(bool exists, has.Step());
  if (!exists) return out;
  SEXTANT_ASSIGN_OR_RETURN(Statement st,
                           db_->Prepare("SELECT path, bytes, crc32c FROM result_files "
                                        "WHERE generation=? ORDER BY path"));
  st.Bind(1, generation);
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.Text(0), st.Int(1), static_cast<uint32_t>(st.Int(2))});
  }
  return out;
}

Status RunStore::VerifyResultFile(int64_t generation, const std::string& relative_path) const {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<ResultFileInfo> files, ListResultFiles(generation));
  const fs::path path = GenerationDir(generation) / relative_path;
  for (const ResultFileInfo& f : files) {
    if (f.path != relative_path) continue;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) {
      return Status::IOError("results file '" + path.string() + "' of the committed generation " +
                             std::to_string(generation) + " is missing: " + ec.message());
    }
    if (static_cast<int64_t>(size) != f.bytes) {
      return Status::IOError("results file '" + path.string() + "' is corrupt: it holds " +
                             std::to_string(size) + " bytes; " + std::to_string(f.bytes) +
                             " were written");
    }
    SEXTANT_ASSIGN_OR_RETURN(uint32_t crc, Crc32cOfFile(path));
    if (crc != f.crc32c) {
      return Status::IOError("results file '" + path.string() + "' is corrupt: its checksum is " +
                             Crc32cHex(crc) + "; " + Crc32cHex(f.crc32c) + " was recorded");
    }
    return Status::OK();
  }
  if (format_version_ >= 2 && !files.empty()) {
    std::error_code ec;
    if (fs::exists(path, ec)) {
      return Status::IOError("results file '" + path.string() + "' has no recorded checksum " +
                             "(sextant.db table result_files)");
    }
  }
  return Status::OK();
}

Status RunStore::BeginSnapshot() {
  SEXTANT_RETURN_IF_ERROR(db_->Exec("BEGIN"));
  // The snapshot starts with the first read; meta is read again inside it.
  Status st = LoadMeta();
  if (!st.ok()) (void)db_->Exec("ROLLBACK");
  return st;
}

Status RunStore::EndSnapshot() { return db_->Exec("ROLLBACK"); }

GenerationPin::GenerationPin(GenerationPin&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
GenerationPin& GenerationPin::operator=(GenerationPin&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}
GenerationPin::~GenerationPin() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Result<GenerationPin> GenerationPin::Acquire(const fs::path& gen_dir) {
  GenerationPin pin;
  pin.fd_ = ::open(gen_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pin.fd_ < 0) {
    return Status::NotFound("results folder '" + gen_dir.string() + "': " + std::strerror(errno));
  }
  if (::flock(pin.fd_, LOCK_SH | LOCK_NB) != 0) {
    return Status::NotFound("results folder '" + gen_dir.string() + "' is being removed");
  }
  // Opened before a finish removed it: the folder at the path must be the one locked.
  struct stat held, now;
  if (::fstat(pin.fd_, &held) != 0 || ::stat(gen_dir.c_str(), &now) != 0 ||
      held.st_ino != now.st_ino || held.st_dev != now.st_dev) {
    return Status::NotFound("results folder '" + gen_dir.string() + "' was removed");
  }
  return pin;
}

namespace {
// Removes the results folders other than `keep` that no reader pins; a pinned
// one is left for a later finish (or `sextant repair`) to remove.
void RemoveUnpinnedGenerations(const fs::path& results_root, const fs::path& keep) {
  std::error_code ec;
  std::vector<fs::path> old;
  for (auto& entry : fs::directory_iterator(results_root, ec)) {
    if (entry.path() != keep) old.push_back(entry.path());
  }
  for (const fs::path& p : old) {
    if (!fs::is_directory(p, ec)) {
      fs::remove(p, ec);
      continue;
    }
    const int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) fs::remove_all(p, ec);
    ::close(fd);
  }
}

// Every regular file below `dir` with its size and checksum, paths relative.
Result<std::vector<ResultFileInfo>> ChecksumFiles(const fs::path& dir) {
  std::vector<ResultFileInfo> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    ResultFileInfo f;
    f.path = fs::relative(it->path(), dir).generic_string();
    if (f.path.empty() || f.path[0] == '.') continue;
    f.bytes = static_cast<int64_t>(it->file_size(ec));
    SEXTANT_ASSIGN_OR_RETURN(f.crc32c, Crc32cOfFile(it->path()));
    out.push_back(std::move(f));
  }
  if (ec) return Status::IOError("cannot list '" + dir.string() + "': " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const ResultFileInfo& a, const ResultFileInfo& b) { return a.path < b.path; });
  return out;
}
}  // namespace

Status RunStore::CommitResults(const std::vector<SplitResults>& splits,
                               const std::string& run_summary_json, const CommitOptions& options,
                               const std::vector<SplitResults>& span_splits) {
  if (mode_ != Mode::kWrite) return Status::FailedPrecondition("run store opened read-only");
  SEXTANT_ASSIGN_OR_RETURN(int64_t committed, CommittedGeneration());
  const fs::path results_root = dir_ / "results";
  // The next number, past any folder a reader still pins (after a repair reset
  // the generation): a pinned generation number is never reused. A failed
  // finish's folder is not pinned and is taken over.
  int64_t gen = committed + 1;
  while (true) {
    const fs::path candidate = GenerationDir(gen);
    const int fd = ::open(candidate.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) break;
    const bool pinned = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    ::close(fd);
    if (!pinned) break;
    ++gen;
  }
  const fs::path gen_dir = GenerationDir(gen);
  std::error_code ec;
  fs::remove_all(gen_dir, ec);  // left by a finish that failed before its commit
  SEXTANT_RETURN_IF_ERROR(CreateDirs(gen_dir));
  // The files are written, synced and checksummed on a thread of their own
  // while this one fills the results tables: each takes about a second at
  // 100k + 100k rows of width 768. The transaction commits after both, so a
  // failure of either leaves the committed generation as it was.
  auto write_files = [&]() -> Result<std::vector<ResultFileInfo>> {
    for (const SplitResults& s : splits) {
      const fs::path d = gen_dir / s.split.DirName();
      SEXTANT_RETURN_IF_ERROR(CreateDirs(d));
      const auto n = static_cast<int64_t>(s.samples.size());
      SEXTANT_RETURN_IF_ERROR(
          options.embeddings_float16
              ? io::WriteNpyFloat16(d / "embeddings.npy", s.embeddings.data(), n, s.emb_dim)
              : io::WriteNpyFloat32(d / "embeddings.npy", s.embeddings.data(), n, s.emb_dim));
      SEXTANT_RETURN_IF_ERROR(
          io::WriteNpyFloat32(d / "probs.npy", s.probs.data(), n, s.num_labels));
      if (!s.map.empty()) {
        if (s.map.size() != static_cast<size_t>(2 * n)) {
          return Status::Internal("map of split '" + s.split.ToString() +
                                  "': " + std::to_string(s.map.size()) + " values for " +
                                  std::to_string(n) + " samples");
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
      if (!s.map.empty())
        SEXTANT_RETURN_IF_ERROR(io::WriteNpyFloat32(d / "map.npy", s.map.data(), n, 2));
    }
    for (const CommitOptions::File& f : options.files) {
      SEXTANT_RETURN_IF_ERROR(f.write(gen_dir / f.name));
    }
    SEXTANT_RETURN_IF_ERROR(FsyncDir(gen_dir));
    SEXTANT_RETURN_IF_ERROR(FsyncDir(results_root));
    // Checksums of what was written, read back (from the page cache) after the sync.
    return ChecksumFiles(gen_dir);
  };
  std::future<Result<std::vector<ResultFileInfo>>> written =
      std::async(std::launch::async, write_files);

  SEXTANT_RETURN_IF_ERROR(db_->Transaction([&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(db_->Exec("DELETE FROM results; DELETE FROM summaries;"));
    // A run finished before the shift score existed gains its columns here.
    SEXTANT_ASSIGN_OR_RETURN(bool has_shift, ResultsHaveShiftColumns(*db_));
    if (!has_shift) {
      SEXTANT_RETURN_IF_ERROR(
          db_->Exec("ALTER TABLE results ADD COLUMN shift_score REAL; "
                    "ALTER TABLE results ADD COLUMN shifted INTEGER;"));
    }
    // And one finished before the NER sentence fields (issue 16) gains theirs.
    SEXTANT_ASSIGN_OR_RETURN(bool has_span_fields, ResultsHaveSpanColumns(*db_));
    if (!has_span_fields) {
      SEXTANT_RETURN_IF_ERROR(
          db_->Exec("ALTER TABLE results ADD COLUMN span_errors INTEGER; "
                    "ALTER TABLE results ADD COLUMN pred_spans_count INTEGER; "
                    "ALTER TABLE results ADD COLUMN min_span_confidence REAL;"));
    }
    SEXTANT_ASSIGN_OR_RETURN(
        Statement ins,
        db_->Prepare("INSERT INTO results(split, row, pred, confidence, margin, certainty_ratio, "
                     "entropy, on_boundary, epoch, gold, aum, dep, drift_distance, drift_score, "
                     "drifted, shift_score, shifted, span_errors, pred_spans_count, "
                     "min_span_confidence) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
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
        if (r.gold)
          ins.Bind(10, *r.gold);
        else
          ins.BindNull(10);
        ins.Bind(11, r.aum).Bind(12, r.dep).Bind(13, r.drift_distance).Bind(14, r.drift_score);
        if (r.drifted)
          ins.Bind(15, *r.drifted ? 1 : 0);
        else
          ins.BindNull(15);
        ins.Bind(16, r.shift_score);
        if (r.shifted)
          ins.Bind(17, *r.shifted ? 1 : 0);
        else
          ins.BindNull(17);
        if (r.span_errors)
          ins.Bind(18, int64_t{*r.span_errors});
        else
          ins.BindNull(18);
        if (r.pred_spans_count)
          ins.Bind(19, int64_t{*r.pred_spans_count});
        else
          ins.BindNull(19);
        ins.Bind(20, r.min_span_confidence);
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
          span.Bind(4, static_cast<int64_t>(sp.range.start))
              .Bind(5, static_cast<int64_t>(sp.range.end));
          span.Bind(6, static_cast<int64_t>(sp.token_begin))
              .Bind(7, static_cast<int64_t>(sp.token_end));
          if (sp.gold)
            span.Bind(8, static_cast<int64_t>(*sp.gold));
          else
            span.BindNull(8);
          if (sp.pred)
            span.Bind(9, static_cast<int64_t>(*sp.pred));
          else
            span.BindNull(9);
          if (!sp.error_type.empty())
            span.Bind(10, sp.error_type);
          else
            span.BindNull(10);
          span.Bind(11, static_cast<double>(r.confidence))
              .Bind(12, static_cast<double>(r.certainty_ratio));
          span.Bind(13, r.on_boundary ? 1 : 0).Bind(14, r.dep).Bind(15, r.drift_distance);
          span.Bind(16, r.drift_score);
          if (r.drifted)
            span.Bind(17, *r.drifted ? 1 : 0);
          else
            span.BindNull(17);
          SEXTANT_RETURN_IF_ERROR(span.Run());
        }
      }
    }
    sum.Bind(1, "run").Bind(2, run_summary_json);
    SEXTANT_RETURN_IF_ERROR(sum.Run());
    SEXTANT_ASSIGN_OR_RETURN(std::vector<ResultFileInfo> files, written.get());
    SEXTANT_RETURN_IF_ERROR(db_->Exec(kChecksumSchema));
    SEXTANT_RETURN_IF_ERROR(db_->Exec("DELETE FROM result_files;"));
    SEXTANT_ASSIGN_OR_RETURN(Statement file, db_->Prepare("INSERT INTO result_files(generation, "
                                                          "path, bytes, crc32c) VALUES(?,?,?,?)"));
    for (const ResultFileInfo& f : files) {
      file.Bind(1, gen).Bind(2, f.path).Bind(3, f.bytes).Bind(4, static_cast<int64_t>(f.crc32c));
      SEXTANT_RETURN_IF_ERROR(file.Run());
    }
    return PutMeta(*db_, "results_generation", std::to_string(gen));
  }));
  // Older generations are garbage now, except those a reader still pins.
  RemoveUnpinnedGenerations(results_root, gen_dir);
  return Status::OK();
}

}  // namespace sextant::store
