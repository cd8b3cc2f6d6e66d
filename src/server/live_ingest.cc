#include "server/live_ingest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/json_depth.h"
#include "common/utf8.h"
#include "drift/knn_drift.h"
#include "drift/reference.h"
#include "index/cosine_index.h"
#include "io/npy.h"
#include "processing/sample_metrics.h"
#include "sextant/types.h"
#include "store/run_store.h"

namespace sextant::server {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

namespace {

// The live scores (docs/format.md): one row per live-ingested sample, written
// in the transaction after its samples and outputs are committed.
constexpr const char* kLiveSchema = R"sql(
CREATE TABLE IF NOT EXISTS live_results(
  split TEXT NOT NULL, row INTEGER NOT NULL, id TEXT NOT NULL, timestamp REAL NOT NULL,
  accepted_at REAL NOT NULL, scored_at REAL NOT NULL, generation INTEGER NOT NULL,
  pred INTEGER, confidence REAL, margin REAL, certainty_ratio REAL, entropy REAL,
  on_boundary INTEGER, drift_distance REAL, drift_score REAL, drifted INTEGER,
  PRIMARY KEY(split, row));
)sql";

constexpr int64_t kRecentLags = 4096;

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int DecodeBase64Char(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

Result<std::string> DecodeBase64(std::string_view in, const std::string& field) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const int v = DecodeBase64Char(static_cast<unsigned char>(in[i]));
    if (v < 0) {
      return Status::Invalid(field + ".b64: not base64 (character " + std::to_string(i) + ")");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// A matrix field: nested lists, or {"dtype": "float32", "shape": [n, d], "b64": ...}.
Status ParseMatrix(const json& j, const std::string& field, int64_t n,
                   const std::vector<std::string>& ids, int64_t width, std::vector<float>* out) {
  out->clear();
  if (j.is_object()) {
    if (j.value("dtype", "") != "float32") {
      return Status::Invalid(field + ".dtype: expected \"float32\"");
    }
    const json& shape = j.contains("shape") ? j["shape"] : json();
    if (!shape.is_array() || shape.size() != 2 || !shape[0].is_number_integer() ||
        !shape[1].is_number_integer()) {
      return Status::Invalid(field + ".shape: expected [samples, width]");
    }
    if (shape[0].get<int64_t>() != n) {
      return Status::Invalid(field + ".shape: " + std::to_string(shape[0].get<int64_t>()) +
                             " rows for " + std::to_string(n) + " ids");
    }
    if (shape[1].get<int64_t>() != width) {
      return Status::Invalid(field + ": width " + std::to_string(shape[1].get<int64_t>()) +
                             "; the run's training logs have " + std::to_string(width));
    }
    if (!j.contains("b64") || !j["b64"].is_string()) {
      return Status::Invalid(field + ".b64: expected a base64 string");
    }
    SEXTANT_ASSIGN_OR_RETURN(std::string bytes,
                             DecodeBase64(j["b64"].get_ref<const std::string&>(), field));
    if (static_cast<int64_t>(bytes.size()) != n * width * 4) {
      return Status::Invalid(field + ".b64: " + std::to_string(bytes.size()) + " bytes; shape [" +
                             std::to_string(n) + ", " + std::to_string(width) + "] needs " +
                             std::to_string(n * width * 4));
    }
    out->resize(static_cast<size_t>(n * width));
    std::memcpy(out->data(), bytes.data(), bytes.size());  // little-endian hosts only
  } else if (j.is_array()) {
    if (static_cast<int64_t>(j.size()) != n) {
      return Status::Invalid(field + ": " + std::to_string(j.size()) + " rows for " +
                             std::to_string(n) + " ids");
    }
    out->reserve(static_cast<size_t>(n * width));
    for (int64_t i = 0; i < n; ++i) {
      const json& row = j[static_cast<size_t>(i)];
      if (!row.is_array() || static_cast<int64_t>(row.size()) != width) {
        return Status::Invalid(field + ": sample '" + ids[i] + "' has width " +
                               (row.is_array() ? std::to_string(row.size()) : "(not a list)") +
                               "; expected " + std::to_string(width));
      }
      for (const json& v : row) {
        if (!v.is_number()) {
          return Status::Invalid(field + ": sample '" + ids[i] + "' holds a non-number");
        }
        out->push_back(v.get<float>());
      }
    }
  } else {
    return Status::Invalid(field + ": required, a list of rows or {dtype, shape, b64}");
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t d = 0; d < width; ++d) {
      if (!std::isfinite((*out)[i * width + d])) {
        return Status::Invalid(field + ": sample '" + ids[i] +
                               "' has a non-finite value at column " + std::to_string(d) +
                               "; expected finite numbers");
      }
    }
  }
  return Status::OK();
}

double Percentile99(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

ordered_json Share(int64_t count, int64_t n) {
  return n > 0 ? ordered_json(static_cast<double>(count) / static_cast<double>(n))
               : ordered_json(nullptr);
}

}  // namespace

Result<LiveWindow> ParseLiveWindow(const std::string& text) {
  if (text == "none") return LiveWindow::kNone;
  if (text == "day") return LiveWindow::kDay;
  if (text == "hour") return LiveWindow::kHour;
  return Status::Invalid("window: expected \"day\", \"hour\" or \"none\", got '" + text + "'");
}

std::string WindowSetName(LiveWindow window, double unix_seconds) {
  const auto t = static_cast<std::time_t>(std::floor(unix_seconds));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  if (window == LiveWindow::kHour) {
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H", &tm);
  } else {
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  }
  return buf;
}

namespace {

double WindowStart(LiveWindow window, double unix_seconds) {
  const double unit = window == LiveWindow::kHour ? 3600.0 : 86400.0;
  return std::floor(unix_seconds / unit) * unit;
}

}  // namespace

struct LiveIngest::Batch {
  RunState* run = nullptr;
  std::string set;
  LiveWindow window = LiveWindow::kNone;  // the set is this window of time
  std::vector<std::string> ids, texts, metas;
  std::vector<double> timestamps;
  int64_t emb_dim = 0, num_labels = 0;
  std::vector<float> embs, logits;
  Clock::time_point accepted;
  double accepted_unix = 0;
  int64_t bytes = 0;
  // Scores (empty when the reference could not be loaded).
  bool scored = false;
  int64_t generation = 0;
  double scored_unix = 0;
  std::vector<processing::SampleMetrics> metrics;
  std::vector<float> distance;
  std::vector<double> score;
  std::vector<uint8_t> drifted;
  // Per sample, when batches are merged for one append.
  std::vector<double> accepted_each, scored_each;
  size_t size() const { return ids.size(); }
};

struct LiveIngest::Reference {
  int64_t generation = 0;
  double boundary_ratio = 0.5;
  std::unique_ptr<index::CosineIndex> index;  // null: the run has no drift reference
  // LiveOptions::approximate: the IVF index searched instead of `index`.
  std::unique_ptr<index::CosineIndex> query_index;
  std::optional<drift::ReferenceDistribution> distribution;
};

struct LiveIngest::SetStats {
  bool loaded = false;
  std::unordered_set<std::string> ids;  // every id of the set, durable or queued
  int64_t ingested = 0, pending = 0, scored = 0, drifted = 0, on_boundary = 0, failed = 0;
  double confidence_sum = 0;
  double last_lag = 0;
  std::deque<double> recent_lags;
  int64_t generation = 0;
  std::string last_error;
};

struct LiveIngest::RunState {
  std::string project, run;
  fs::path dir;
  std::vector<std::string> labels;
  int64_t emb_dim = 0;
  std::map<std::string, SetStats> sets;  // guarded by mu_
  bool sets_listed = false;              // every set of live_results loaded
  // The loop thread's own.
  std::shared_ptr<const Reference> reference;
  Clock::time_point reference_checked{};
  std::unique_ptr<store::RunStore> reader;
  std::vector<std::unique_ptr<Batch>> to_append;
  Clock::time_point next_try{};
  bool new_samples = false;
  Clock::time_point last_refresh{};
  bool refreshed_once = false;
};

LiveIngest::LiveIngest(fs::path root, RunLocks* locks, LiveOptions options)
    : root_(std::move(root)), locks_(locks ? locks : &own_locks_), options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

LiveIngest::~LiveIngest() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

int64_t LiveIngest::pending_bytes() const {
  std::lock_guard lock(mu_);
  return pending_bytes_;
}

std::vector<double> LiveIngest::TakeLags() {
  std::lock_guard lock(mu_);
  return std::exchange(lags_, {});
}

Result<LiveIngest::RunState*> LiveIngest::GetRun(const std::string& project,
                                                 const std::string& run) {
  {
    std::lock_guard lock(mu_);
    auto it = runs_.find({project, run});
    if (it != runs_.end()) return it->second.get();
  }
  SEXTANT_RETURN_IF_ERROR(ValidateName("project", project));
  SEXTANT_RETURN_IF_ERROR(ValidateName("run", run));
  const fs::path dir = root_ / project / run;
  std::error_code ec;
  if (!fs::is_regular_file(dir / store::kDatabaseFile, ec)) {
    return Status::NotFound("run '" + project + "/" + run + "' not found");
  }
  SEXTANT_ASSIGN_OR_RETURN(auto st, store::RunStore::Open(dir, store::RunStore::Mode::kRead));
  SEXTANT_ASSIGN_OR_RETURN(int64_t generation, st->CommittedGeneration());
  const std::string name = "run '" + project + "/" + run + "'";
  if (generation == 0) {
    return Status::FailedPrecondition(
        name +
        " has no finished results; live samples are scored against the training "
        "reference of the last finish, so finish the training run first");
  }
  if (st->task() != TaskType::kTextClassification) {
    return Status::FailedPrecondition(name +
                                      " is not a text classification run; live ingest "
                                      "takes text classification runs only");
  }
  auto state = std::make_unique<RunState>();
  state->project = project;
  state->run = run;
  state->dir = dir;
  state->labels = st->labels();
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::OutputLogInfo> logs, st->ListOutputLogs());
  for (const auto& log : logs) {
    if (log.split.split == Split::kTraining) state->emb_dim = log.emb_dim;
  }
  if (state->emb_dim == 0) {
    return Status::FailedPrecondition(name + " has no training outputs to compare with");
  }
  std::lock_guard lock(mu_);
  auto& slot = runs_[{project, run}];
  if (!slot) slot = std::move(state);
  return slot.get();
}

// Under mu_: the set's ids, sample count and live scores from the database.
Status LiveIngest::LoadSetStats(RunState* run, const std::string& set) {
  SetStats& s = run->sets[set];
  if (s.loaded) return Status::OK();
  SEXTANT_ASSIGN_OR_RETURN(auto st, store::RunStore::Open(run->dir, store::RunStore::Mode::kRead));
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, SplitKey::Make(Split::kInference, set));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> ids, st->SampleIds(split));
  s.ids.insert(ids.begin(), ids.end());
  s.ingested = static_cast<int64_t>(ids.size());
  SEXTANT_ASSIGN_OR_RETURN(store::Statement exists,
                           st->db().Prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                            "name='live_results'"));
  SEXTANT_ASSIGN_OR_RETURN(bool has_table, exists.Step());
  if (has_table) {
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement q,
        st->db().Prepare(
            "SELECT COUNT(*), COALESCE(SUM(drifted), 0), COALESCE(SUM(on_boundary), 0),"
            " COALESCE(SUM(confidence), 0), MAX(generation) FROM live_results "
            "WHERE split = ? AND pred IS NOT NULL"));
    q.Bind(1, split.ToString());
    SEXTANT_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      s.scored = q.Int(0);
      s.drifted = q.Int(1);
      s.on_boundary = q.Int(2);
      s.confidence_sum = q.Double(3);
      s.generation = q.IsNull(4) ? 0 : q.Int(4);
    }
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement last,
        st->db().Prepare("SELECT scored_at - accepted_at FROM live_results WHERE split = ? "
                         "ORDER BY row DESC LIMIT ?"));
    last.Bind(1, split.ToString()).Bind(2, kRecentLags);
    std::vector<double> lags;
    while (true) {
      SEXTANT_ASSIGN_OR_RETURN(bool more, last.Step());
      if (!more) break;
      lags.push_back(last.Double(0));
    }
    if (!lags.empty()) s.last_lag = lags.front();
    s.recent_lags.assign(lags.rbegin(), lags.rend());
  }
  s.loaded = true;
  return Status::OK();
}

Result<LiveAck> LiveIngest::Ingest(const std::string& project, const std::string& run_name,
                                   const std::string& body) {
  SEXTANT_ASSIGN_OR_RETURN(RunState * run, GetRun(project, run_name));
  SEXTANT_RETURN_IF_ERROR(CheckJsonDepth(body, "request body"));
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Invalid("request body: expected a JSON object");
  }
  // Where the samples go: a named set, or a time window.
  std::string fixed_set;
  LiveWindow window = options_.window;
  if (j.contains("inference_name") && !j["inference_name"].is_null()) {
    if (!j["inference_name"].is_string())
      return Status::Invalid("inference_name: expected a string");
    fixed_set = j["inference_name"].get<std::string>();
    SEXTANT_RETURN_IF_ERROR(ValidateName("inference_name", fixed_set));
    if (j.contains("window") && !j["window"].is_null()) {
      return Status::Invalid("window: give either inference_name or window, not both");
    }
  } else if (j.contains("window") && !j["window"].is_null()) {
    if (!j["window"].is_string()) return Status::Invalid("window: expected a string");
    SEXTANT_ASSIGN_OR_RETURN(window, ParseLiveWindow(j["window"].get<std::string>()));
  }
  if (fixed_set.empty() && window == LiveWindow::kNone) {
    return Status::Invalid(
        "inference_name: required (or window: \"day\" or \"hour\"; this server has no default "
        "window, see `sextant serve --live-window`)");
  }

  if (!j.contains("ids") || !j["ids"].is_array() || j["ids"].empty()) {
    return Status::Invalid("ids: required, a non-empty list");
  }
  const int64_t n = static_cast<int64_t>(j["ids"].size());
  if (n > options_.max_batch_samples) {
    return Status::Invalid("ids: " + std::to_string(n) + " samples; at most " +
                           std::to_string(options_.max_batch_samples) + " per request");
  }
  auto batch_all = std::make_unique<Batch>();
  Batch& b = *batch_all;
  b.ids.reserve(static_cast<size_t>(n));
  {
    std::unordered_set<std::string> seen;
    for (const json& v : j["ids"]) {
      std::string id;
      if (v.is_string()) {
        id = v.get<std::string>();
      } else if (v.is_number_integer()) {
        id = std::to_string(v.get<int64_t>());
      } else {
        return Status::Invalid("ids: expected strings or integers");
      }
      if (id.empty()) return Status::Invalid("ids: an id is empty");
      SEXTANT_RETURN_IF_ERROR(CheckUtf8(id, "ids"));
      if (!seen.insert(id).second) {
        return Status::Invalid("ids: sample '" + id + "' appears twice in this batch");
      }
      b.ids.push_back(std::move(id));
    }
  }
  if (!j.contains("texts") || !j["texts"].is_array() ||
      static_cast<int64_t>(j["texts"].size()) != n) {
    return Status::Invalid("texts: required, one string per id (" + std::to_string(n) + ")");
  }
  for (int64_t i = 0; i < n; ++i) {
    const json& t = j["texts"][static_cast<size_t>(i)];
    if (!t.is_string()) return Status::Invalid("texts: sample '" + b.ids[i] + "' is not a string");
    b.texts.push_back(t.get<std::string>());
    SEXTANT_RETURN_IF_ERROR(CheckUtf8(b.texts.back(), "texts: sample '" + b.ids[i] + "'"));
  }
  const double now = UnixNow();
  b.timestamps.assign(static_cast<size_t>(n), now);
  if (j.contains("timestamps") && !j["timestamps"].is_null()) {
    const json& ts = j["timestamps"];
    if (!ts.is_array() || static_cast<int64_t>(ts.size()) != n) {
      return Status::Invalid("timestamps: one Unix time (seconds) per id (" + std::to_string(n) +
                             ")");
    }
    for (int64_t i = 0; i < n; ++i) {
      const json& t = ts[static_cast<size_t>(i)];
      if (!t.is_number() || t.get<double>() < 0 ||
          !store::CheckSetTime(t.get<double>(), "timestamps").ok()) {
        return Status::Invalid("timestamps: sample '" + b.ids[i] +
                               "': expected Unix seconds (a finite number >= 0, before year 5000; "
                               "milliseconds? divide by 1000)");
      }
      b.timestamps[i] = t.get<double>();
    }
  }
  b.metas.assign(static_cast<size_t>(n), "{}");
  if (j.contains("meta") && !j["meta"].is_null()) {
    const json& meta = j["meta"];
    if (!meta.is_object()) return Status::Invalid("meta: expected an object of columns");
    std::vector<json> rows(static_cast<size_t>(n), json::object());
    for (const auto& [column, values] : meta.items()) {
      if (!values.is_array() || static_cast<int64_t>(values.size()) != n) {
        return Status::Invalid("meta." + column + ": one value per id (" + std::to_string(n) + ")");
      }
      for (int64_t i = 0; i < n; ++i) {
        const json& v = values[static_cast<size_t>(i)];
        if (v.is_structured()) {
          return Status::Invalid("meta." + column + ": sample '" + b.ids[i] +
                                 "': expected a string, number, boolean or null");
        }
        rows[i][column] = v;
      }
    }
    for (int64_t i = 0; i < n; ++i) b.metas[i] = rows[i].dump();
  }
  b.emb_dim = run->emb_dim;
  b.num_labels = static_cast<int64_t>(run->labels.size());
  SEXTANT_RETURN_IF_ERROR(ParseMatrix(j.contains("embeddings") ? j["embeddings"] : json(),
                                      "embeddings", n, b.ids, b.emb_dim, &b.embs));
  SEXTANT_RETURN_IF_ERROR(ParseMatrix(j.contains("logits") ? j["logits"] : json(), "logits", n,
                                      b.ids, b.num_labels, &b.logits));

  // One batch per set.
  std::map<std::string, std::vector<int64_t>> by_set;
  for (int64_t i = 0; i < n; ++i) {
    by_set[fixed_set.empty() ? WindowSetName(window, b.timestamps[i]) : fixed_set].push_back(i);
  }
  std::vector<std::unique_ptr<Batch>> batches;
  if (fixed_set.empty()) b.window = window;
  if (by_set.size() == 1) {
    b.set = by_set.begin()->first;
    batches.push_back(std::move(batch_all));
  } else {
    for (const auto& [set, rows] : by_set) {
      auto part = std::make_unique<Batch>();
      part->set = set;
      part->window = b.window;
      part->emb_dim = b.emb_dim;
      part->num_labels = b.num_labels;
      for (int64_t i : rows) {
        part->ids.push_back(b.ids[i]);
        part->texts.push_back(b.texts[i]);
        part->metas.push_back(b.metas[i]);
        part->timestamps.push_back(b.timestamps[i]);
        part->embs.insert(part->embs.end(), b.embs.begin() + i * b.emb_dim,
                          b.embs.begin() + (i + 1) * b.emb_dim);
        part->logits.insert(part->logits.end(), b.logits.begin() + i * b.num_labels,
                            b.logits.begin() + (i + 1) * b.num_labels);
      }
      batches.push_back(std::move(part));
    }
  }
  LiveAck ack;
  int64_t bytes = 0;
  for (auto& part : batches) {
    part->run = run;
    part->bytes = static_cast<int64_t>(part->embs.size() + part->logits.size()) * 4;
    for (size_t i = 0; i < part->size(); ++i) {
      part->bytes += static_cast<int64_t>(part->ids[i].size() + part->texts[i].size() +
                                          part->metas[i].size() + 64);
    }
    bytes += part->bytes;
  }

  std::unique_lock lock(mu_);
  const double backlog = std::max(static_cast<double>(options_.min_backlog_samples),
                                  score_rate_ > 0 ? score_rate_ * options_.max_scoring_backlog_s
                                                  : std::numeric_limits<double>::infinity());
  if ((pending_bytes_ > 0 && pending_bytes_ + bytes > options_.max_pending_bytes) ||
      (unscored_ > 0 && static_cast<double>(unscored_ + n) > backlog)) {
    ack.accepted = false;
    ack.retry_after_s = 1;
    return ack;
  }
  for (auto& part : batches) {
    SEXTANT_RETURN_IF_ERROR(LoadSetStats(run, part->set));
    const SetStats& s = run->sets[part->set];
    for (const std::string& id : part->ids) {
      if (s.ids.count(id)) {
        return Status::Invalid("ids: sample '" + id + "' is already in inference set '" +
                               part->set + "'; ids must be new in the set");
      }
    }
  }
  const auto accepted = Clock::now();
  for (auto& part : batches) {
    SetStats& s = run->sets[part->set];
    s.ids.insert(part->ids.begin(), part->ids.end());
    s.pending += static_cast<int64_t>(part->size());
    ack.sets[part->set] += static_cast<int64_t>(part->size());
    part->accepted = accepted;
    part->accepted_unix = now;
    pending_bytes_ += part->bytes;
    accepted_ += static_cast<int64_t>(part->size());
    unscored_ += static_cast<int64_t>(part->size());
    incoming_.push_back(std::move(part));
  }
  ack.accepted = true;
  ack.samples = n;
  lock.unlock();
  work_cv_.notify_one();
  return ack;
}

Result<std::shared_ptr<const LiveIngest::Reference>> LiveIngest::ReferenceFor(RunState* run) {
  const auto now = Clock::now();
  if (run->reference && now - run->reference_checked < std::chrono::seconds(1)) {
    return run->reference;
  }
  run->reference_checked = now;
  if (!run->reader) {
    SEXTANT_ASSIGN_OR_RETURN(run->reader,
                             store::RunStore::Open(run->dir, store::RunStore::Mode::kRead));
  }
  store::RunStore& st = *run->reader;
  SEXTANT_ASSIGN_OR_RETURN(int64_t committed, st.CommittedGeneration());
  if (run->reference && run->reference->generation == committed) return run->reference;

  // A new generation: everything from one snapshot, the arrays pinned.
  const auto load_start = Clock::now();
  struct Timed {
    Clock::time_point start;
    double* total;
    ~Timed() { *total += std::chrono::duration<double>(Clock::now() - start).count(); }
  } timed{load_start, &reference_seconds_};
  SEXTANT_RETURN_IF_ERROR(st.BeginSnapshot());
  struct EndSnapshot {
    store::RunStore& st;
    ~EndSnapshot() { (void)st.EndSnapshot(); }
  } end{st};
  auto ref = std::make_shared<Reference>();
  SEXTANT_ASSIGN_OR_RETURN(ref->generation, st.CommittedGeneration());
  SEXTANT_ASSIGN_OR_RETURN(store::Statement q,
                           st.db().Prepare("SELECT json FROM summaries WHERE scope = 'run'"));
  SEXTANT_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return Status::FailedPrecondition("the run has no results yet");
  const json summary = json::parse(q.Text(0), nullptr, false);
  if (!summary.is_object() || !summary.contains("parameters")) {
    return Status::IOError("sextant.db table summaries, scope 'run': no parameters");
  }
  const json& p = summary["parameters"];
  ref->boundary_ratio = p.value("boundary_ratio_threshold", 0.5);
  const std::string used = p.contains("reference") && p["reference"].is_string()
                               ? p["reference"].get<std::string>()
                               : std::string();
  if (used.empty()) return std::shared_ptr<const Reference>(std::move(ref));  // no drift reference
  const int32_t k = p.value("drift_k", 10);
  const double percentile = p.value("drift_percentile", 0.95);
  const int64_t sample_size = p.value("reference_sample_size", int64_t{0});
  const uint64_t seed = p.value("reference_seed", uint64_t{0});

  SEXTANT_ASSIGN_OR_RETURN(fs::path results_dir, st.ResultsDir());
  SEXTANT_ASSIGN_OR_RETURN(store::GenerationPin pin, store::GenerationPin::Acquire(results_dir));
  SEXTANT_RETURN_IF_ERROR(st.VerifyResultFile(ref->generation, "training/embeddings.npy"));
  SEXTANT_ASSIGN_OR_RETURN(io::FloatMatrix train,
                           io::ReadNpyAsFloat32(results_dir / "training" / "embeddings.npy"));
  index::NormalizeRows(train.data.data(), train.rows, train.cols);
  // The index the finish searched: exact, or the same seeded IVF with its
  // tuned cells (k-means from the same seed gives the same cells).
  const json nn = p.contains("nn_search") ? p["nn_search"] : json::object();
  if (nn.is_object() && nn.value("used", "exact") == "approximate" && nn.contains("index")) {
    index::IvfOptions ivf;
    ivf.tune_k = k;
    ivf.tune_percentile = percentile;
    ivf.nlist = nn["index"].value("nlist", int64_t{0});
    ivf.nprobe = nn["index"].value("nprobe", 0);
    SEXTANT_ASSIGN_OR_RETURN(
        ref->index, index::CosineIndex::BuildIvf(train.data.data(), train.rows, train.cols, ivf));
  } else {
    SEXTANT_ASSIGN_OR_RETURN(ref->index,
                             index::CosineIndex::Build(train.data.data(), train.rows, train.cols));
  }
  if (used == "validation") {
    SEXTANT_ASSIGN_OR_RETURN(store::Statement v,
                             st.db().Prepare("SELECT drift_distance FROM results WHERE split = "
                                             "'validation' ORDER BY row"));
    std::vector<float> all;
    while (true) {
      SEXTANT_ASSIGN_OR_RETURN(bool more, v.Step());
      if (!more) break;
      all.push_back(static_cast<float>(v.Double(0)));
    }
    std::vector<float> sample;
    for (int64_t row : drift::SampleRows(static_cast<int64_t>(all.size()), sample_size, seed)) {
      sample.push_back(all[row]);
    }
    ref->distribution = drift::MakeReference(std::move(sample), k, percentile);
  } else {
    SEXTANT_ASSIGN_OR_RETURN(ref->distribution,
                             drift::BuildSampledReference(*ref->index, train.data.data(), k,
                                                          percentile, sample_size, seed));
  }
  // Faster live scoring on request: an IVF index tuned for the drift
  // statistic (as finish tunes its own), searched instead of the exact one;
  // the reference distribution stays the finish's.
  if (options_.approximate && !ref->index->approximate() && train.rows >= 2000) {
    index::IvfOptions ivf;
    ivf.tune_k = k;
    ivf.tune_percentile = percentile;
    SEXTANT_ASSIGN_OR_RETURN(ref->query_index, index::CosineIndex::BuildIvf(
                                                   train.data.data(), train.rows, train.cols, ivf));
  }
  run->reference = std::move(ref);
  return run->reference;
}

Status LiveIngest::ScoreBatch(Batch* b) {
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const Reference> ref, ReferenceFor(b->run));
  const auto n = static_cast<int64_t>(b->size());
  const int64_t c = b->num_labels;
  std::vector<float> probs(static_cast<size_t>(c));
  b->metrics.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    processing::Softmax(b->logits.data() + i * c, c, probs.data());
    b->metrics[i] = processing::ComputeSampleMetrics(probs.data(), c, ref->boundary_ratio);
  }
  b->distance.clear();
  b->score.clear();
  b->drifted.clear();
  if (ref->index && ref->distribution) {
    std::vector<float> q = b->embs;
    index::NormalizeRows(q.data(), n, b->emb_dim);
    const index::CosineIndex& searched = ref->query_index ? *ref->query_index : *ref->index;
    SEXTANT_ASSIGN_OR_RETURN(
        b->distance, drift::KCoreDistances(searched, q.data(), n, ref->distribution->k, false));
    for (float d : b->distance) {
      b->score.push_back(drift::PercentileRank(*ref->distribution, d));
      b->drifted.push_back(d > ref->distribution->threshold ? 1 : 0);
    }
  }
  b->generation = ref->generation;
  b->scored = true;
  b->scored_unix = UnixNow();
  return Status::OK();
}

Status LiveIngest::AppendRun(RunState* run, const std::vector<std::unique_ptr<Batch>>* batches,
                             bool* busy) {
  // The run's writer lock held by another process (a CLI finish, a client):
  // nothing was written, the caller tries again later.
  auto opened = store::RunStore::Open(run->dir, store::RunStore::Mode::kWrite);
  if (!opened.ok()) {
    *busy = opened.status().code() == StatusCode::kFailedPrecondition;
    return opened.status();
  }
  std::unique_ptr<store::RunStore> st = std::move(opened).value();
  SEXTANT_RETURN_IF_ERROR(st->db().Exec(kLiveSchema));
  // The batches of one set (in order, with equal scoring) become one append:
  // three commits per set and turn, not per request.
  std::vector<std::unique_ptr<Batch>> merged;
  for (auto& b : *batches) {
    b->accepted_each.assign(b->size(), b->accepted_unix);
    b->scored_each.assign(b->size(), b->scored ? b->scored_unix : UnixNow());
    Batch* into = nullptr;
    for (auto& m : merged) {
      if (m->set == b->set) into = m.get();
    }
    if (into == nullptr || into->scored != b->scored || into->generation != b->generation ||
        into->distance.empty() != b->distance.empty()) {
      // A copy: the caller keeps its batches for the bookkeeping.
      merged.push_back(std::make_unique<Batch>(*b));
      continue;
    }
    auto append = [](auto& to, auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    append(into->ids, b->ids);
    append(into->texts, b->texts);
    append(into->metas, b->metas);
    append(into->timestamps, b->timestamps);
    append(into->embs, b->embs);
    append(into->logits, b->logits);
    append(into->metrics, b->metrics);
    append(into->distance, b->distance);
    append(into->score, b->score);
    append(into->drifted, b->drifted);
    append(into->accepted_each, b->accepted_each);
    append(into->scored_each, b->scored_each);
  }
  // Per set, in order: samples, outputs, then the scores.
  for (auto& b : merged) {
    SEXTANT_ASSIGN_OR_RETURN(SplitKey split, SplitKey::Make(Split::kInference, b->set));
    SEXTANT_ASSIGN_OR_RETURN(int64_t first, st->SampleCount(split));
    // Samples without outputs at the end of a live set are what a crash
    // between the two commits leaves: they are dropped (with their scores) so
    // the set stays finishable, and their ids may be sent again.
    SEXTANT_ASSIGN_OR_RETURN(std::vector<store::OutputLogInfo> logs, st->ListOutputLogs());
    int64_t with_outputs = 0;
    bool other_epochs = false;
    for (const auto& log : logs) {
      if (log.split != split) continue;
      if (log.epoch == 0)
        with_outputs = log.rows;
      else
        other_epochs = true;
    }
    if (!other_epochs && with_outputs < first) {
      std::fprintf(stderr,
                   "sextant serve: live set '%s' of %s/%s: dropping %lld samples without "
                   "outputs (an interrupted append)\n",
                   b->set.c_str(), run->project.c_str(), run->run.c_str(),
                   static_cast<long long>(first - with_outputs));
      // Their ids may be sent again: forget them.
      SEXTANT_ASSIGN_OR_RETURN(
          store::Statement q,
          st->db().Prepare("SELECT id FROM samples WHERE split = ? AND row >= ?"));
      q.Bind(1, split.ToString()).Bind(2, with_outputs);
      std::vector<std::string> dropped;
      while (true) {
        SEXTANT_ASSIGN_OR_RETURN(bool more, q.Step());
        if (!more) break;
        dropped.push_back(q.Text(0));
      }
      {
        std::lock_guard lock(mu_);
        for (const auto& id : dropped) run->sets[b->set].ids.erase(id);
      }
      SEXTANT_RETURN_IF_ERROR(st->db().Transaction([&]() -> Status {
        for (const char* sql : {"DELETE FROM samples WHERE split = ? AND row >= ?",
                                "DELETE FROM live_results WHERE split = ? AND row >= ?"}) {
          SEXTANT_ASSIGN_OR_RETURN(store::Statement d, st->db().Prepare(sql));
          d.Bind(1, split.ToString()).Bind(2, with_outputs);
          SEXTANT_RETURN_IF_ERROR(d.Run());
        }
        return Status::OK();
      }));
      first = with_outputs;
    }
    std::vector<store::SampleRecord> records(b->size());
    for (size_t i = 0; i < b->size(); ++i) {
      records[i].id = b->ids[i];
      records[i].text = b->texts[i];
      records[i].meta_json = b->metas[i];
    }
    SEXTANT_RETURN_IF_ERROR(st->AppendSamples(split, records));
    // The set's place on the timeline: its window, else its earliest sample.
    if (b->window != LiveWindow::kNone) {
      SEXTANT_RETURN_IF_ERROR(
          st->RecordInferenceTime({b->set, WindowStart(b->window, b->timestamps.front()),
                                   store::SetTimeSource::kLiveWindow}));
    } else {
      SEXTANT_RETURN_IF_ERROR(st->RecordInferenceTime(
          {b->set, *std::min_element(b->timestamps.begin(), b->timestamps.end()),
           store::SetTimeSource::kFirstSample}));
    }
    store::OutputAppend out;
    out.split = split;
    out.epoch = 0;
    out.kind = OutputKind::kLogits;
    out.emb_dim = b->emb_dim;
    out.out_dim = b->num_labels;
    out.sample_rows.resize(b->size());
    for (size_t i = 0; i < b->size(); ++i) out.sample_rows[i] = first + static_cast<int64_t>(i);
    out.embeddings = std::move(b->embs);
    out.outputs = std::move(b->logits);
    SEXTANT_RETURN_IF_ERROR(st->AppendOutputs({out}));
    SEXTANT_RETURN_IF_ERROR(st->db().Transaction([&]() -> Status {
      SEXTANT_ASSIGN_OR_RETURN(
          store::Statement ins,
          st->db().Prepare("INSERT OR REPLACE INTO live_results(split, row, id, timestamp, "
                           "accepted_at, scored_at, generation, pred, confidence, margin, "
                           "certainty_ratio, entropy, on_boundary, drift_distance, drift_score, "
                           "drifted) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
      const std::string split_name = split.ToString();
      for (size_t i = 0; i < b->size(); ++i) {
        ins.Bind(1, split_name).Bind(2, first + static_cast<int64_t>(i)).Bind(3, b->ids[i]);
        ins.Bind(4, b->timestamps[i]).Bind(5, b->accepted_each[i]);
        ins.Bind(6, b->scored_each[i]).Bind(7, b->generation);
        if (b->scored) {
          const auto& m = b->metrics[i];
          ins.Bind(8, m.pred).Bind(9, static_cast<double>(m.confidence));
          ins.Bind(10, static_cast<double>(m.margin));
          ins.Bind(11, static_cast<double>(m.certainty_ratio));
          ins.Bind(12, static_cast<double>(m.entropy)).Bind(13, m.on_boundary ? 1 : 0);
        } else {
          for (int col = 8; col <= 13; ++col) ins.BindNull(col);
        }
        if (b->scored && !b->distance.empty()) {
          ins.Bind(14, static_cast<double>(b->distance[i])).Bind(15, b->score[i]);
          ins.Bind(16, static_cast<int>(b->drifted[i]));
        } else {
          for (int col = 14; col <= 16; ++col) ins.BindNull(col);
        }
        SEXTANT_RETURN_IF_ERROR(ins.Run());
      }
      return Status::OK();
    }));
  }
  return Status::OK();
}

void LiveIngest::Loop() {
  std::optional<index::ScopedSearchThreads> threads;
  threads.emplace(options_.search_threads);
  std::unique_lock lock(mu_);
  while (true) {
    // Wake for new batches, for a busy run's next try, and for refreshes.
    auto next = Clock::now() + std::chrono::hours(1);
    for (auto& [key, run] : runs_) {
      if (!run->to_append.empty()) next = std::min(next, run->next_try);
      if (run->new_samples) next = std::min(next, run->last_refresh + options_.refresh_interval);
    }
    work_cv_.wait_until(lock, next, [&] { return stop_ || !incoming_.empty(); });
    const auto turn_start = Clock::now();
    int64_t turn_scored = 0;
    std::deque<std::unique_ptr<Batch>> work = std::move(incoming_);
    incoming_.clear();
    const bool stopping = stop_;
    lock.unlock();

    // 1. Score, in one search per run.
    std::map<RunState*, std::vector<std::unique_ptr<Batch>>> by_run;
    for (auto& b : work) by_run[b->run].push_back(std::move(b));
    for (auto& [run, batches] : by_run) {
      Status scored = Status::OK();
      if (batches.size() == 1) {
        scored = ScoreBatch(batches[0].get());
      } else {
        Batch merged;
        merged.run = run;
        merged.emb_dim = batches[0]->emb_dim;
        merged.num_labels = batches[0]->num_labels;
        for (auto& b : batches) {
          merged.ids.insert(merged.ids.end(), b->ids.begin(), b->ids.end());
          merged.embs.insert(merged.embs.end(), b->embs.begin(), b->embs.end());
          merged.logits.insert(merged.logits.end(), b->logits.begin(), b->logits.end());
        }
        scored = ScoreBatch(&merged);
        size_t at = 0;
        for (auto& b : batches) {
          const size_t n = b->size();
          b->scored = scored.ok();
          b->generation = merged.generation;
          b->scored_unix = merged.scored_unix;
          if (!scored.ok()) continue;
          b->metrics.assign(merged.metrics.begin() + at, merged.metrics.begin() + at + n);
          if (!merged.distance.empty()) {
            b->distance.assign(merged.distance.begin() + at, merged.distance.begin() + at + n);
            b->score.assign(merged.score.begin() + at, merged.score.begin() + at + n);
            b->drifted.assign(merged.drifted.begin() + at, merged.drifted.begin() + at + n);
          }
          at += n;
        }
      }
      if (!scored.ok()) {
        std::fprintf(stderr, "sextant serve: live scoring of %s/%s failed: %s\n",
                     run->project.c_str(), run->run.c_str(), scored.ToString().c_str());
      }
      const auto done = Clock::now();
      int64_t scored_now = 0;
      for (auto& b : batches) scored_now += static_cast<int64_t>(b->size());
      lock.lock();
      unscored_ -= scored_now;
      turn_scored += scored.ok() ? scored_now : 0;
      for (auto& b : batches) {
        SetStats& s = run->sets[b->set];
        if (!scored.ok()) {
          s.last_error = scored.ToString();
        } else {
          const double lag = std::chrono::duration<double>(done - b->accepted).count();
          s.scored += static_cast<int64_t>(b->size());
          for (size_t i = 0; i < b->size(); ++i) {
            s.confidence_sum += b->metrics[i].confidence;
            s.on_boundary += b->metrics[i].on_boundary ? 1 : 0;
            if (!b->drifted.empty()) s.drifted += b->drifted[i];
            lags_.push_back(lag);
          }
          s.last_lag = lag;
          s.recent_lags.push_back(lag);
          while (static_cast<int64_t>(s.recent_lags.size()) > kRecentLags)
            s.recent_lags.pop_front();
          s.generation = b->generation;
        }
        run->to_append.push_back(std::move(b));
      }
      lock.unlock();
    }

    // 2. Append, run by run, each under its lock; a busy run waits its turn.
    std::vector<RunState*> runs;
    lock.lock();
    for (auto& [key, run] : runs_) runs.push_back(run.get());
    lock.unlock();
    const auto now = Clock::now();
    for (RunState* run : runs) {
      if (run->to_append.empty() || (!stopping && now < run->next_try)) continue;
      std::shared_ptr<std::mutex> run_lock = locks_->For(run->project, run->run);
      std::unique_lock held(*run_lock, std::try_to_lock);
      bool busy = !held.owns_lock();
      Status st = busy ? Status::FailedPrecondition("the run's lock is held")
                       : AppendRun(run, &run->to_append, &busy);
      held = {};
      if (busy && !stopping) {
        run->next_try = Clock::now() + options_.busy_retry;
        continue;
      }
      if (!st.ok()) {
        std::fprintf(stderr, "sextant serve: live append to %s/%s failed: %s\n",
                     run->project.c_str(), run->run.c_str(), st.ToString().c_str());
      }
      lock.lock();
      for (auto& b : run->to_append) {
        SetStats& s = run->sets[b->set];
        const auto n = static_cast<int64_t>(b->size());
        s.pending -= n;
        if (st.ok()) {
          s.ingested += n;
        } else {
          // Not stored: the ids may be sent again.
          s.failed += n;
          s.last_error = st.ToString();
          for (const auto& id : b->ids) s.ids.erase(id);
        }
        pending_bytes_ -= b->bytes;
        finished_ += n;
      }
      if (st.ok()) run->new_samples = true;
      lock.unlock();
      run->to_append.clear();
      done_cv_.notify_all();
    }

    // The throughput admission plans with: samples per second of a whole
    // turn (scoring and appending), net of the reference loads.
    if (turn_scored > 0) {
      const double seconds =
          std::chrono::duration<double>(Clock::now() - turn_start).count() - reference_seconds_;
      if (seconds > 0) {
        const double rate = static_cast<double>(turn_scored) / seconds;
        lock.lock();
        score_rate_ = score_rate_ > 0 ? 0.7 * score_rate_ + 0.3 * rate : rate;
        lock.unlock();
      }
    }
    reference_seconds_ = 0;

    // 3. Summaries: at most once per interval per run that got samples.
    for (RunState* run : runs) {
      if (!run->new_samples || !options_.request_refresh) continue;
      const auto t = Clock::now();
      if (run->refreshed_once && t - run->last_refresh < options_.refresh_interval) continue;
      run->new_samples = false;
      run->refreshed_once = true;
      run->last_refresh = t;
      options_.request_refresh(run->project, run->run);
    }
    lock.lock();
    if (stopping && incoming_.empty()) break;
  }
}

bool LiveIngest::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const int64_t target = accepted_;
  return done_cv_.wait_for(lock, timeout, [&] { return finished_ >= target; });
}

Result<std::string> LiveIngest::StatusJson(const std::string& project,
                                           const std::string& run_name) {
  SEXTANT_ASSIGN_OR_RETURN(RunState * run, GetRun(project, run_name));
  std::vector<std::string> names;
  bool listed;
  {
    std::lock_guard lock(mu_);
    listed = run->sets_listed;
  }
  if (!listed) {
    // The sets of earlier server lifetimes, from live_results.
    SEXTANT_ASSIGN_OR_RETURN(auto st,
                             store::RunStore::Open(run->dir, store::RunStore::Mode::kRead));
    SEXTANT_ASSIGN_OR_RETURN(store::Statement exists,
                             st->db().Prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                              "name='live_results'"));
    SEXTANT_ASSIGN_OR_RETURN(bool has_table, exists.Step());
    if (has_table) {
      SEXTANT_ASSIGN_OR_RETURN(store::Statement q,
                               st->db().Prepare("SELECT DISTINCT split FROM live_results"));
      while (true) {
        SEXTANT_ASSIGN_OR_RETURN(bool more, q.Step());
        if (!more) break;
        auto key = SplitKey::Parse(q.Text(0));
        if (key.ok() && key->split == Split::kInference) names.push_back(key->inference_name);
      }
    }
  }
  std::lock_guard lock(mu_);
  for (const std::string& name : names) SEXTANT_RETURN_IF_ERROR(LoadSetStats(run, name));
  run->sets_listed = true;  // later sets come through Ingest
  ordered_json sets = ordered_json::array();
  for (const auto& [name, s] : run->sets) {
    ordered_json e;
    e["name"] = name;
    e["split"] = "inference:" + name;
    e["samples_ingested"] = s.ingested;
    e["samples_pending"] = s.pending;
    e["samples_scored"] = s.scored;
    e["samples_failed"] = s.failed;
    e["drifted_share"] = Share(s.drifted, s.scored);
    e["mean_confidence"] =
        s.scored > 0 ? ordered_json(s.confidence_sum / static_cast<double>(s.scored)) : nullptr;
    e["on_boundary_share"] = Share(s.on_boundary, s.scored);
    e["last_scoring_lag_s"] = s.scored > 0 ? ordered_json(s.last_lag) : nullptr;
    e["p99_scoring_lag_s"] =
        s.recent_lags.empty()
            ? ordered_json(nullptr)
            : ordered_json(Percentile99({s.recent_lags.begin(), s.recent_lags.end()}));
    e["generation"] = s.generation;
    e["last_error"] = s.last_error.empty() ? ordered_json(nullptr) : ordered_json(s.last_error);
    sets.push_back(std::move(e));
  }
  ordered_json out;
  out["project"] = project;
  out["run"] = run_name;
  out["sets"] = std::move(sets);
  out["pending_bytes"] = pending_bytes_;
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::string> LiveIngest::SamplesJson(const std::string& project, const std::string& run_name,
                                            const std::string& set, int64_t offset, int64_t limit,
                                            bool drifted_only) {
  SEXTANT_ASSIGN_OR_RETURN(RunState * run, GetRun(project, run_name));
  SEXTANT_RETURN_IF_ERROR(ValidateName("set", set));
  if (offset < 0 || limit < 0 || limit > 10000) {
    return Status::Invalid("offset, limit: expected offset >= 0 and 0 <= limit <= 10000");
  }
  const std::string split = "inference:" + set;
  SEXTANT_ASSIGN_OR_RETURN(auto st, store::RunStore::Open(run->dir, store::RunStore::Mode::kRead));
  SEXTANT_ASSIGN_OR_RETURN(store::Statement exists,
                           st->db().Prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                            "name='live_results'"));
  SEXTANT_ASSIGN_OR_RETURN(bool has_table, exists.Step());
  const std::string not_found = "run '" + project + "/" + run_name + "' has no live set '" + set +
                                "' (GET .../live lists them)";
  if (!has_table) return Status::NotFound(not_found);
  const std::string where =
      std::string(" WHERE l.split = ?") + (drifted_only ? " AND l.drifted = 1" : "");
  SEXTANT_ASSIGN_OR_RETURN(store::Statement count,
                           st->db().Prepare("SELECT COUNT(*) FROM live_results l" + where));
  count.Bind(1, split);
  SEXTANT_ASSIGN_OR_RETURN(bool counted, count.Step());
  const int64_t total = counted ? count.Int(0) : 0;
  if (total == 0 && !drifted_only) return Status::NotFound(not_found);
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement q,
      st->db().Prepare("SELECT l.row, l.id, s.text, l.timestamp, l.pred, l.confidence, l.margin, "
                       "l.on_boundary, l.drift_distance, l.drift_score, l.drifted, "
                       "l.scored_at - l.accepted_at FROM live_results l JOIN samples s ON "
                       "s.split = l.split AND s.row = l.row" +
                       where + " ORDER BY l.row LIMIT ? OFFSET ?"));
  q.Bind(1, split).Bind(2, limit).Bind(3, offset);
  auto opt = [&](int col) {
    return q.IsNull(col) ? ordered_json(nullptr) : ordered_json(q.Double(col));
  };
  ordered_json rows = ordered_json::array();
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool more, q.Step());
    if (!more) break;
    ordered_json r;
    r["row"] = q.Int(0);
    r["id"] = q.Text(1);
    r["text"] = q.Text(2);
    r["timestamp"] = q.Double(3);
    const auto pred = q.OptInt(4);
    r["pred"] = pred && *pred >= 0 && *pred < static_cast<int64_t>(run->labels.size())
                    ? ordered_json(run->labels[*pred])
                    : ordered_json(nullptr);
    r["confidence"] = opt(5);
    r["margin"] = opt(6);
    r["on_boundary"] = q.IsNull(7) ? ordered_json(nullptr) : ordered_json(q.Int(7) != 0);
    r["drift_distance"] = opt(8);
    r["drift_score"] = opt(9);
    r["drifted"] = q.IsNull(10) ? ordered_json(nullptr) : ordered_json(q.Int(10) != 0);
    r["lag_s"] = q.Double(11);
    rows.push_back(std::move(r));
  }
  ordered_json out;
  out["set"] = set;
  out["total"] = total;
  out["samples"] = std::move(rows);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace sextant::server
