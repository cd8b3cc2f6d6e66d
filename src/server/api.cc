#include "server/api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "io/label_formats.h"
#include "io/label_import.h"
#include "query/result_json.h"
#include "server/alerts_api.h"
#include "server/compare.h"
#include "server/encode.h"
#include "server/export_columns.h"
#include "server/insights.h"
#include "server/insights_verdict.h"
#include "server/jobs.h"
#include "server/keys.h"
#include "server/live_ingest.h"
#include "server/metrics.h"
#include "server/suggest_api.h"
#include "server/uploads.h"
#include "sextant/version.h"
#include "store/imported_labels.h"
#include "sync/manifest.h"

namespace sextant::server {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

constexpr int32_t kMaxNeighbors = 1000;
constexpr int64_t kDefaultMapPoints = 50000;
constexpr int64_t kMaxMapPoints = 2000000;

const char* ErrorCode(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kIOError:
      return "io_error";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
  }
  return "internal";
}

ApiResponse Json(const ordered_json& j, int status = 200) {
  ApiResponse r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

std::optional<std::string> Param(const Params& params, const std::string& key) {
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

Result<SplitKey> RequiredSplit(const Params& params) {
  auto s = Param(params, "split");
  if (!s || s->empty()) {
    return Status::Invalid("split: required (training, validation, test or inference:NAME)");
  }
  auto key = SplitKey::Parse(*s);
  if (!key.ok()) return key.status().WithContext("split");
  return key;
}

Result<std::vector<SplitKey>> SplitList(const std::vector<std::string>& names, const char* field) {
  std::vector<SplitKey> out;
  for (const auto& n : names) {
    auto key = SplitKey::Parse(n);
    if (!key.ok()) return key.status().WithContext(field);
    out.push_back(*key);
  }
  return out;
}

Result<json> ParseBody(const std::string& body) {
  if (body.empty()) return json::object();
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Invalid("body: not valid JSON");
  if (!j.is_object()) return Status::Invalid("body: expected a JSON object");
  return j;
}

Result<std::vector<store::SelectionItem>> ParseItems(const json& body) {
  if (!body.contains("items") || !body["items"].is_array()) {
    return Status::Invalid("items: expected [{\"split\", \"id\"}, ...]");
  }
  std::vector<store::SelectionItem> items;
  for (const auto& item : body["items"]) {
    if (!item.is_object() || !item.contains("split") || !item.contains("id") ||
        !item["split"].is_string() || !item["id"].is_string()) {
      return Status::Invalid("items: each item must be {\"split\": \"...\", \"id\": \"...\"}");
    }
    auto key = SplitKey::Parse(item["split"].get<std::string>());
    if (!key.ok()) return key.status().WithContext("items: split");
    items.push_back({key->ToString(), item["id"].get<std::string>()});
  }
  return items;
}

ApiResponse Attachment(std::string body, io::ExportFormat format, const std::string& name) {
  ApiResponse r;
  r.body = std::move(body);
  r.content_type = io::ExportContentType(format);
  std::string safe;
  for (char c : name)
    safe +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  r.headers.emplace_back(
      "Content-Disposition",
      "attachment; filename=\"" + safe + "." + std::string(io::ExportFileExtension(format)) + "\"");
  return r;
}

// csv (the default), jsonl, labelstudio or argilla (io/label_formats.h).
Result<io::ExportFormat> ExportFormat(const Params& params) {
  return io::ParseExportFormat(Param(params, "format").value_or("csv"));
}

std::string Export(const std::vector<ExportRow>& rows, io::ExportFormat format,
                   const RunState& state) {
  const std::vector<std::string>& labels = state.labels();
  const RunInfo& info = state.reader().info();
  const io::LabelToolOptions tool{info.task, "sextant:" + info.project + "/" + info.run};
  switch (format) {
    case io::ExportFormat::kCsv:
      return ExportCsv(rows, labels);
    case io::ExportFormat::kJsonl:
      return ExportJsonl(rows, labels);
    case io::ExportFormat::kLabelStudio:
      return io::WriteLabelStudioTasks(ExportObjects(rows, labels), tool);
    case io::ExportFormat::kArgilla:
      return io::WriteArgillaRecords(ExportObjects(rows, labels), tool);
  }
  return ExportJsonl(rows, labels);
}

// `limit` of an export: the top N rows in the requested order; -1 (every
// row) when absent.
Result<int64_t> ExportLimit(const Params& params) {
  auto v = Param(params, "limit");
  if (!v || v->empty()) return int64_t{-1};
  SEXTANT_ASSIGN_OR_RETURN(int64_t limit, ParseInt("limit", *v));
  if (limit < 1) return Status::Invalid("limit: must be at least 1, got " + *v);
  return limit;
}

// The export with the table's columns when `columns` names them (CSV and
// JSONL; the labeling tools' formats keep their own shape).
std::string ExportWithColumns(const std::vector<ExportRow>& rows, io::ExportFormat format,
                              const std::vector<std::string>& columns, const RunState& state) {
  if (!columns.empty() && format == io::ExportFormat::kCsv) {
    return ExportCsvColumns(rows, state.labels(), columns);
  }
  if (!columns.empty() && format == io::ExportFormat::kJsonl) {
    return ExportJsonlColumns(rows, state.labels(), columns);
  }
  return Export(rows, format, state);
}

}  // namespace

int HttpStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kIOError:
    case StatusCode::kInternal:
      return 500;
    case StatusCode::kUnavailable:
      return 503;
  }
  return 500;
}

ApiResponse ErrorResponse(const Status& status) {
  ApiResponse r =
      Json({{"error", {{"code", ErrorCode(status.code())}, {"message", status.message()}}}},
           HttpStatus(status.code()));
  // RFC 6750: a 401 names the scheme the client should use.
  if (status.code() == StatusCode::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return r;
}

ApiResponse UnauthenticatedResponse(const std::string& message) {
  ApiResponse r = Json({{"error", {{"code", "unauthenticated"}, {"message", message}}}}, 401);
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

Result<std::shared_ptr<RunState>> RunState::Open(const fs::path& root, const std::string& project,
                                                 const std::string& run) {
  auto state = std::make_shared<RunState>();
  state->run_dir_ = root / project / run;
  SEXTANT_ASSIGN_OR_RETURN(state->reader_, RunReader::Open(root, project, run));
  SEXTANT_ASSIGN_OR_RETURN(state->labels_stamp_, state->reader_->ImportedLabelsStamp());
  return state;
}

Result<std::shared_ptr<const SampleTable>> RunState::Table(const SplitKey& split,
                                                           const std::atomic<bool>* stop,
                                                           bool low_priority) const {
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard lock(mu_);
    auto& s = tables_[split];
    if (!s) s = std::make_shared<Slot>();
    slot = s;
    if (slot->ready) return slot->ready;
    if (low_priority && slot->loading) return Status::Unavailable("loading at normal priority");
  }
  auto called_off = [&] {
    if (stop && stop->load()) return true;
    if (!low_priority) return false;
    std::lock_guard lock(mu_);
    return slot->ready != nullptr || slot->loading;
  };
  std::unique_lock<std::mutex> load_lock(slot->mu, std::defer_lock);
  const RunReader* reader = reader_.get();
  std::unique_ptr<RunReader> own;
  if (low_priority) {
    // A connection of its own: a thread at nice 19 holding the shared one
    // (SQLite serializes a connection's calls) would hold requests up.
    const fs::path run_dir = run_dir_;
    SEXTANT_ASSIGN_OR_RETURN(own, RunReader::Open(run_dir.parent_path().parent_path(),
                                                  run_dir.parent_path().filename().string(),
                                                  run_dir.filename().string()));
    SEXTANT_ASSIGN_OR_RETURN(std::string stamp, own->ImportedLabelsStamp());
    if (own->generation() != generation() || stamp != labels_stamp_) {
      return Status::Unavailable("the run changed since it was opened");
    }
    reader = own.get();
  } else {
    load_lock.lock();
    std::lock_guard lock(mu_);
    if (slot->ready) return slot->ready;
    slot->loading = true;
  }
  auto t = SampleTable::Load(*reader, split, called_off);
  std::lock_guard lock(mu_);
  if (!low_priority) slot->loading = false;
  if (!t.ok()) return t.status();
  if (!slot->ready) slot->ready = std::move(t).value();
  return slot->ready;
}

Result<store::SelectionStore*> RunState::Selections() const {
  std::lock_guard lock(mu_);
  if (!selections_) {
    SEXTANT_ASSIGN_OR_RETURN(selections_, store::SelectionStore::Open(run_dir_));
  }
  return selections_.get();
}

Result<std::shared_ptr<RunState>> Api::Run(const std::string& project,
                                           const std::string& run) const {
  SEXTANT_RETURN_IF_ERROR(ValidateName("project", project));
  SEXTANT_RETURN_IF_ERROR(ValidateName("run", run));
  const auto key = std::make_pair(project, run);
  std::shared_ptr<RunState> cached;
  {
    std::lock_guard lock(mu_);
    auto it = runs_.find(key);
    if (it != runs_.end()) cached = it->second;
  }
  if (cached) {
    // The committed generation, not the newest folder: a finish writing (or
    // failed after writing) gen-N+1 leaves the state on the committed one.
    Result<int64_t> committed = cached->reader().CommittedGeneration();
    // Labels imported since it was opened (sextant labels import, POST .../labels) too.
    Result<std::string> stamp = cached->reader().ImportedLabelsStamp(/*current=*/true);
    if (committed.ok() && *committed == cached->generation() && !cached->stale() && stamp.ok() &&
        *stamp == cached->labels_stamp()) {
      return cached;
    }
  }
  // Opened outside the lock: a large run's reader opens in a moment, but other runs
  // need not wait for it.
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, RunState::Open(root_, project, run));
  std::lock_guard lock(mu_);
  runs_[key] = state;
  return state;
}

ApiResponse Api::Handle(const ApiRequest& request) const {
  Result<ApiResponse> r = [&]() -> Result<ApiResponse> {
    // Stored JSON is checked to parse when read; one of an unexpected shape (a
    // damaged run) must still give an answer naming it, never escape.
    try {
      return Route(request);
    } catch (const nlohmann::json::exception& e) {
      return Status::IOError(std::string("stored data of an unexpected shape: ") + e.what());
    }
  }();
  if (!r.ok()) return ErrorResponse(r.status());
  return std::move(r).value();
}

namespace {

// One NER span row as the API returns it (docs/ner-nli.md): the split as its key.
ordered_json SpanJson(const SpanRow& r) { return SpanRowToJson(r, SplitField::kKey); }

// The filters, sort and page of GET .../spans.
Result<SpanQuery> ParseSpanParams(const Params& params, const SplitKey& split) {
  SpanQuery q;
  q.split = split;
  q.limit = 50;
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto v = Param(params, key);
    return v && !v->empty() ? v : std::nullopt;
  };
  q.label = text("label");
  q.gold = text("gold");
  q.pred = text("pred");
  q.error_type = text("error_type");
  q.text_regex = text("text");
  q.sample_id = text("sample_id");
  SEXTANT_RETURN_IF_ERROR(ParseOptionalParam(params, "drifted", &q.is_drifted));
  SEXTANT_RETURN_IF_ERROR(ParseOptionalParam(params, "on_boundary", &q.is_on_the_boundary));
  SEXTANT_RETURN_IF_ERROR(ParseOptionalParam(params, "min_confidence", &q.min_confidence));
  SEXTANT_RETURN_IF_ERROR(ParseOptionalParam(params, "max_confidence", &q.max_confidence));
  if (auto v = text("sort")) q.sort_by = *v;
  if (auto v = text("order")) {
    SEXTANT_ASSIGN_OR_RETURN(std::string order, ParseOrder(*v));
    q.descending = order == "desc";
  }
  if (auto v = text("offset")) {
    SEXTANT_ASSIGN_OR_RETURN(q.offset, ParseInt("offset", *v));
  }
  if (auto v = text("limit")) {
    SEXTANT_ASSIGN_OR_RETURN(q.limit, ParseInt("limit", *v));
  }
  if (q.offset < 0) return Status::Invalid("offset: must be >= 0");
  if (q.limit < 1 || q.limit > kMaxPageSize) {
    return Status::Invalid("limit: must be between 1 and " + std::to_string(kMaxPageSize));
  }
  return q;
}

// What a handler gets: the request and, under /runs/{project}/{run}/, the
// opened run (state is null for the routes above a run).
struct Call {
  const ApiRequest& req;
  const fs::path& root;
  std::shared_ptr<RunState> state;
  const Services* services = nullptr;
  const Api* api = nullptr;  // background loads (table_loading.cc)

  const std::vector<std::string>& p() const { return req.path; }
  const Params& params() const { return req.params; }
  const RunReader& reader() const { return state->reader(); }
  const std::vector<std::string>& labels() const { return state->labels(); }
  bool is_get() const { return req.method == "GET" || req.method == "HEAD"; }
};

using Handler = Result<ApiResponse> (*)(const Call&);

// ---- /health, /runs, /runs/{project}/{run}

const Principal& Who(const Call& c) {
  static const Principal open = OpenServerPrincipal();
  return c.req.principal != nullptr ? *c.req.principal : open;
}

Result<ApiResponse> GetHealth(const Call&) {
  return Json({{"ok", true}, {"version", kVersion}, {"upload_protocol", sync::kProtocolVersion}});
}

// ---- uploads and jobs (docs/team-server.md)

Result<UploadService*> Uploads(const Call& c) {
  if (c.services->uploads == nullptr) {
    return Status::FailedPrecondition("this server takes no uploads");
  }
  return c.services->uploads;
}

Result<ApiResponse> BeginUpload(const Call& c) {
  SEXTANT_RETURN_IF_ERROR(ValidateName("project", c.p()[1]));
  SEXTANT_RETURN_IF_ERROR(ValidateName("run", c.p()[2]));
  SEXTANT_ASSIGN_OR_RETURN(UploadService * uploads, Uploads(c));
  SEXTANT_ASSIGN_OR_RETURN(ordered_json j, uploads->Begin(c.p()[1], c.p()[2], c.req.body));
  return Json(j);
}

Result<ApiResponse> PutUploadChunk(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(UploadService * uploads, Uploads(c));
  SEXTANT_ASSIGN_OR_RETURN(ordered_json j,
                           uploads->PutChunk(c.p()[1], c.p()[2], c.p()[4], c.p()[6], c.req.body));
  return Json(j);
}

Result<ApiResponse> CommitUpload(const Call& c) {
  SEXTANT_RETURN_IF_ERROR(ValidateName("project", c.p()[1]));
  SEXTANT_RETURN_IF_ERROR(ValidateName("run", c.p()[2]));
  SEXTANT_ASSIGN_OR_RETURN(UploadService * uploads, Uploads(c));
  Result<ordered_json> j = uploads->Commit(Who(c), c.p()[1], c.p()[2], c.p()[4]);
  RecordUploadCommit(c.services->metrics, c.p()[1], j.ok() ? "accepted" : "rejected");
  if (!j.ok()) return j.status();
  return Json(*j);
}

Result<ApiResponse> GetUpload(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(UploadService * uploads, Uploads(c));
  SEXTANT_ASSIGN_OR_RETURN(ordered_json j, uploads->Get(c.p()[1], c.p()[2], c.p()[4]));
  return Json(j);
}

Result<ApiResponse> JobsList(const Call& c, const std::string& project, const std::string& run) {
  ordered_json list = ordered_json::array();
  if (c.services->jobs != nullptr) {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<Job> jobs, c.services->jobs->List(project, run, 200));
    for (const Job& j : jobs) {
      if (Who(c).CanRead(j.project)) list.push_back(JobToJson(j));
    }
  }
  return Json({{"jobs", std::move(list)}});
}

Result<ApiResponse> ListJobsHandler(const Call& c) {
  return JobsList(c, Param(c.params(), "project").value_or(""), "");
}

Result<ApiResponse> ListRunJobs(const Call& c) { return JobsList(c, c.p()[1], c.p()[2]); }

Result<ApiResponse> GetJob(const Call& c) {
  int64_t id = 0;
  const std::string& text = c.p()[1];
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::Invalid("job id: '" + text + "' is not a number");
  }
  if (c.services->jobs != nullptr) {
    SEXTANT_ASSIGN_OR_RETURN(std::optional<Job> job, c.services->jobs->Get(id));
    if (job && Who(c).CanRead(job->project)) return Json(JobToJson(*job));
  }
  return Status::NotFound("no job " + text);
}

// The key a request came with: {"key_name", "role", "projects"} (the
// client's login checks its key with it). On an open server: "local", admin.
Result<ApiResponse> Whoami(const Call& c) {
  const Principal who = c.req.principal ? *c.req.principal : OpenServerPrincipal();
  return Json({{"key_name", who.key_name},
               {"role", RoleName(who.role)},
               {"projects", who.projects},
               {"key_required", c.req.key_required}});
}

// The server's API keys, never their secrets: for an admin key of every
// project (a scoped admin would see the names of other projects' keys).
Result<ApiResponse> ListKeys(const Call& c) {
  if (c.req.principal && !c.req.principal->projects.empty()) {
    return Status::PermissionDenied("key '" + c.req.principal->key_name +
                                    "' is scoped to projects; GET /api/keys needs an admin key "
                                    "of every project");
  }
  if (c.services->keys == nullptr) return Json({{"keys", ordered_json::array()}});
  SEXTANT_ASSIGN_OR_RETURN(std::vector<KeyInfo> keys, c.services->keys->List());
  ordered_json list = ordered_json::array();
  for (const KeyInfo& k : keys) {
    list.push_back(
        {{"name", k.name},
         {"role", RoleName(k.role)},
         {"projects", k.projects},
         {"created_at", k.created_at},
         {"last_used_at", k.last_used_at ? ordered_json(*k.last_used_at) : ordered_json()},
         {"revoked", k.revoked}});
  }
  return Json({{"keys", std::move(list)}});
}

Result<ApiResponse> ListRunsHandler(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<RunInfo> runs, ListRuns(c.root));
  ordered_json list = ordered_json::array();
  for (const RunInfo& info : runs) {
    if (!Who(c).CanRead(info.project)) continue;
    ordered_json run = RunInfoToJson(info);
    // Who uploaded it to this team server, and its processing job.
    auto last = LastUpload(c.root / info.project / info.run);
    run["uploaded_by"] = last.ok() && *last ? ordered_json((*last)->first) : ordered_json(nullptr);
    run["uploaded_at"] = last.ok() && *last ? ordered_json((*last)->second) : ordered_json(nullptr);
    run["job"] = nullptr;
    if (c.services->jobs != nullptr) {
      auto job = c.services->jobs->Latest(info.project, info.run);
      if (job.ok() && *job) run["job"] = JobToJson(**job);
    }
    list.push_back(std::move(run));
  }
  return Json({{"runs", std::move(list)}});
}

Result<ApiResponse> GetRun(const Call& c) {
  ordered_json run = RunInfoToJson(c.reader().info());
  // NER runs: the entity types, for the console's entity-type filter (docs/http-api.md).
  if (!c.reader().entity_types().empty()) run["entity_types"] = c.reader().entity_types();
  return Json(run);
}

Result<ApiResponse> GetSummary(const Call& c) {
  std::optional<SplitKey> split;
  if (auto s = Param(c.params(), "split"); s && !s->empty()) {
    SEXTANT_ASSIGN_OR_RETURN(split, RequiredSplit(c.params()));
  }
  SEXTANT_ASSIGN_OR_RETURN(std::string text, c.reader().SummaryJson(split));
  ApiResponse r;
  r.body = std::move(text);
  return r;
}

Result<ApiResponse> GetTimeline(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(std::string text, c.reader().TimelineJson());
  // The run's alert states, for marking firing alerts (docs/alerts.md).
  ordered_json out = ordered_json::parse(text);
  out["alerts"] = RunAlertStates(c.root, c.p()[1], c.p()[2]);
  return Json(out);
}

Result<ApiResponse> GetInsights(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(c.params()));
  SEXTANT_ASSIGN_OR_RETURN(std::string text, c.reader().SummaryJson(split));
  // The reference: validation when the run has it processed, else training.
  json reference = json::object();
  for (Split s : {Split::kValidation, Split::kTraining}) {
    if (auto ref = c.reader().SummaryJson(SplitKey{s, ""}); ref.ok()) {
      reference = json::parse(*ref);
      break;
    }
  }
  ordered_json out = Insights(json::parse(text), reference, c.labels());
  // The project's alert rules on this set (docs/alerts.md), next to the built-in alerts.
  if (split.split == Split::kInference) {
    ordered_json states = ordered_json::array();
    for (auto& s : RunAlertStates(c.root, c.p()[1], c.p()[2])) {
      if (s["set"] == split.inference_name) states.push_back(std::move(s));
    }
    out["rule_states"] = std::move(states);
  }
  // The verdict in the report's words and each alert's samples filter.
  SEXTANT_ASSIGN_OR_RETURN(std::string run_summary, c.reader().SummaryJson());
  AddVerdictAndAlertFilters(
      RunSummaryForVerdict(run_summary, split.ToString(), ordered_json::parse(text)),
      split.ToString(), &out);
  return Json(out);
}

// ---- samples

// The similar_* filter's neighbours within `split` (docs/http-api.md, "Samples"):
// the K nearest of sample (S, ID) by the similarity index, as GET .../similar.
Status ResolveSimilar(const Call& c, const SplitKey& split, const SampleTable& table,
                      SampleFilter* f) {
  if (!f->similar) return Status::OK();
  const SimilarTo& s = *f->similar;
  auto neighbors = c.reader().Similar(s.split, s.id, s.k, {split}, {});
  if (!neighbors.ok()) {
    const Status& st = neighbors.status();
    // The reader names `id` and `split`; the request's fields are similar_id and similar_split.
    if (st.message().rfind("id: ", 0) == 0) {
      return Status(st.code(), "similar_id: " + st.message().substr(4));
    }
    return st.WithContext(st.IsNotFound() ? "similar_split" : "similar");
  }
  f->similar_rows = SimilarRows(table, *neighbors);
  return Status::OK();
}

// The split's table; until it is loaded, its load goes on in the background
// and null comes back when `store` (the request as a query of the store) can
// answer instead (table_loading.cc).
Result<std::shared_ptr<const SampleTable>> TableOrStore(const Call& c, const SplitKey& split,
                                                        bool store) {
  if (auto table = c.state->LoadedTable(split)) return table;
  if (!store) return c.state->Table(split);
  if (c.api) c.api->LoadInBackground(c.state, split);
  return std::shared_ptr<const SampleTable>();
}

// One page of a split's samples, for GET (query string) and POST (JSON body).
Result<ApiResponse> SamplesPage(const Call& c, const SplitKey& split, SampleRequest sr) {
  const std::optional<SampleQuery> store_query =
      StoreQuery(split, sr, c.labels(), c.reader().info().task == "named_entity_recognition");
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table,
                           TableOrStore(c, split, store_query.has_value()));
  if (!table) {
    // Cold: the page and its total from the store, the same rows in the same order.
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<SampleTable> page,
                             SampleTable::LoadPage(c.reader(), *store_query));
    SEXTANT_ASSIGN_OR_RETURN(int64_t total, c.reader().Count(*store_query));
    ordered_json rows = ordered_json::array();
    for (int64_t i = 0; i < page->size(); ++i) {
      rows.push_back(SampleJson(*page, i, c.labels()));
      rows.back()["row"] = page->stored_row[static_cast<size_t>(i)];
    }
    return Json({{"total", total},
                 {"offset", sr.offset},
                 {"limit", sr.limit},
                 {"samples", std::move(rows)}});
  }
  SEXTANT_RETURN_IF_ERROR(ResolveSimilar(c, split, *table, &sr.filter));
  SEXTANT_ASSIGN_OR_RETURN(SamplePage page, RunSampleQuery(*table, sr));
  std::unordered_map<uint32_t, double> distance;
  for (const auto& [row, d] : sr.filter.similar_rows) distance.emplace(row, d);
  ordered_json rows = ordered_json::array();
  for (uint32_t r : page.rows) {
    rows.push_back(SampleJson(*table, r, c.labels()));
    if (sr.filter.similar) rows.back()["distance"] = distance.at(r);
  }
  return Json({{"total", page.total},
               {"offset", sr.offset},
               {"limit", sr.limit},
               {"samples", std::move(rows)}});
}

Result<ApiResponse> GetSamples(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(c.params()));
  SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleParams(c.params(), c.labels()));
  return SamplesPage(c, split, sr);
}

Result<ApiResponse> QuerySamples(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(c.req.body));
  Params params = c.params();
  if (body.contains("split") && body["split"].is_string()) {
    params.erase("split");
    params.emplace("split", body["split"].get<std::string>());
  }
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(params));
  SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleJson(body, c.labels()));
  return SamplesPage(c, split, sr);
}

Result<ApiResponse> GetSample(const Call& c) {
  const std::string& id = c.p()[5];
  auto split_key = SplitKey::Parse(c.p()[4]);
  if (!split_key.ok()) return split_key.status().WithContext("split");
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table,
                           TableOrStore(c, *split_key, /*store=*/true));
  if (!table) {
    // Cold: the one sample from the store (table_loading.cc).
    SampleQuery one;
    one.split = *split_key;
    one.ids = {id};
    SEXTANT_ASSIGN_OR_RETURN(table, SampleTable::LoadPage(c.reader(), one));
  }
  auto row = table->RowOf(id);
  if (!row) {
    return Status::NotFound("id: no sample '" + id + "' in split '" + split_key->ToString() + "'");
  }
  const auto& labels = c.labels();
  ordered_json j = SampleJson(*table, *row, labels);
  if (!table->stored_row.empty()) j["row"] = table->stored_row[static_cast<size_t>(*row)];
  SampleQuery q;
  q.split = *split_key;
  q.ids = {id};
  q.include_probs = true;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, c.reader().Samples(q));
  ordered_json probs = ordered_json::object();
  if (!rows.empty()) {
    for (size_t i = 0; i < labels.size() && i < rows[0].probs.size(); ++i) {
      probs[labels[i]] = rows[0].probs[i];
    }
  }
  j["probs"] = std::move(probs);
  return Json(j);
}

// ---- spans (NER): a page, the span-level map, similar span rows

Result<ApiResponse> GetSpans(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(c.params()));
  SEXTANT_ASSIGN_OR_RETURN(SpanQuery q, ParseSpanParams(c.params(), split));
  SEXTANT_ASSIGN_OR_RETURN(int64_t total, c.reader().CountSpans(q));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, c.reader().Spans(q));
  ordered_json list = ordered_json::array();
  for (const SpanRow& r : rows) list.push_back(SpanJson(r));
  return Json(
      {{"total", total}, {"offset", q.offset}, {"limit", q.limit}, {"spans", std::move(list)}});
}

Result<ApiResponse> GetSpanMap(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SplitKey> splits,
                           SplitList(ParamList(c.params(), "splits"), "splits"));
  if (splits.empty()) {
    for (const SplitInfo& s : c.reader().info().splits) {
      if (s.processed) splits.push_back(s.split);
    }
  }
  int64_t max_points = kDefaultMapPoints;
  if (auto v = Param(c.params(), "max_points"); v && !v->empty()) {
    SEXTANT_ASSIGN_OR_RETURN(max_points, ParseInt("max_points", *v));
    if (max_points < 1) return Status::Invalid("max_points: must be at least 1");
  }
  std::vector<SpanRow> all;
  for (const SplitKey& split : splits) {
    SpanQuery q;
    q.split = split;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, c.reader().Spans(q));
    for (SpanRow& r : rows) {
      if (r.x) all.push_back(std::move(r));
    }
  }
  // An even stride keeps every split's share of the points.
  const double stride =
      std::max(1.0, static_cast<double>(all.size()) / static_cast<double>(max_points));
  static const std::vector<std::string> kPointFields = {
      "split", "sample_id", "span_row",   "x",          "y",
      "pred",  "gold",      "error_type", "is_drifted", "confidence"};
  ordered_json points = ordered_json::array();
  for (double i = 0; i < static_cast<double>(all.size()); i += stride) {
    points.push_back(SelectFields(SpanJson(all[static_cast<size_t>(i)]), kPointFields));
  }
  return Json({{"total", all.size()}, {"points", std::move(points)}});
}

Result<int32_t> NeighborCountParam(const Params& params) {
  int32_t k = 10;
  if (auto v = Param(params, "k"); v && !v->empty()) {
    SEXTANT_ASSIGN_OR_RETURN(int64_t kk, ParseInt("k", *v));
    if (kk < 1 || kk > kMaxNeighbors) {
      return Status::Invalid("k: must be between 1 and " + std::to_string(kMaxNeighbors));
    }
    k = static_cast<int32_t>(kk);
  }
  return k;
}

Result<ApiResponse> GetSimilarSpans(const Call& c) {
  const auto start = std::chrono::steady_clock::now();
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(c.params()));
  auto row_text = Param(c.params(), "span_row");
  if (!row_text || row_text->empty()) return Status::Invalid("span_row: required");
  SEXTANT_ASSIGN_OR_RETURN(int64_t span_row, ParseInt("span_row", *row_text));
  SEXTANT_ASSIGN_OR_RETURN(int32_t k, NeighborCountParam(c.params()));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SplitKey> in, SplitList(ParamList(c.params(), "in"), "in"));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanNeighbor> neighbors,
                           c.reader().SimilarSpans(split, span_row, k, in));
  ordered_json list = ordered_json::array();
  for (const SpanNeighbor& n : neighbors) {
    SpanQuery q;
    q.split = n.split;
    q.span_row = n.span_row;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, c.reader().Spans(q));
    if (rows.empty()) continue;
    ordered_json j = SpanJson(rows[0]);
    j["distance"] = n.distance;
    list.push_back(std::move(j));
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return Json({{"query", {{"split", split.ToString()}, {"span_row", span_row}}},
               {"neighbors", std::move(list)},
               {"took_ms", ms}});
}

// Any other GET under .../spans/.
Result<ApiResponse> UnknownSpans(const Call&) {
  return Status::NotFound("expected /spans, /spans/map or /spans/similar");
}

// ---- similar samples: GET by a sample, POST by a vector

Result<ApiResponse> Similar(const Call& c) {
  const auto start = std::chrono::steady_clock::now();
  const auto& labels = c.labels();
  int32_t k = 10;
  std::vector<SplitKey> in;
  SimilarityFilter filter;
  std::optional<SplitKey> query_split;
  std::string query_id;
  std::vector<float> vector;
  if (c.is_get()) {
    SEXTANT_ASSIGN_OR_RETURN(query_split, RequiredSplit(c.params()));
    auto id = Param(c.params(), "id");
    if (!id || id->empty()) return Status::Invalid("id: required");
    query_id = *id;
    // Unlike the other k parameters an empty k here is an error (ParseInt), as before.
    if (auto v = Param(c.params(), "k")) {
      SEXTANT_ASSIGN_OR_RETURN(int64_t kk, ParseInt("k", *v));
      if (kk < 1 || kk > kMaxNeighbors) {
        return Status::Invalid("k: must be between 1 and " + std::to_string(kMaxNeighbors));
      }
      k = static_cast<int32_t>(kk);
    }
    SEXTANT_ASSIGN_OR_RETURN(in, SplitList(ParamList(c.params(), "in"), "in"));
    if (auto v = Param(c.params(), "pred"); v && !v->empty()) filter.pred_class = *v;
    if (auto v = Param(c.params(), "drifted"); v && !v->empty()) {
      SEXTANT_ASSIGN_OR_RETURN(bool d, ParseBool("drifted", *v));
      filter.is_drifted = d;
    }
  } else {
    SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(c.req.body));
    if (!body.contains("vector") || !body["vector"].is_array()) {
      return Status::Invalid("vector: required, an array of numbers");
    }
    for (const auto& v : body["vector"]) {
      if (!v.is_number()) return Status::Invalid("vector: holds a value that is not a number");
      vector.push_back(v.get<float>());
    }
    if (body.contains("k")) {
      if (!body["k"].is_number_integer() || body["k"].get<int64_t>() < 1 ||
          body["k"].get<int64_t>() > kMaxNeighbors) {
        return Status::Invalid("k: must be an integer between 1 and " +
                               std::to_string(kMaxNeighbors));
      }
      k = body["k"].get<int32_t>();
    }
    if (body.contains("in")) {
      if (!body["in"].is_array()) return Status::Invalid("in: expected an array of splits");
      std::vector<std::string> names;
      for (const auto& s : body["in"])
        names.push_back(s.is_string() ? s.get<std::string>() : s.dump());
      SEXTANT_ASSIGN_OR_RETURN(in, SplitList(names, "in"));
    }
    if (body.contains("pred") && body["pred"].is_string())
      filter.pred_class = body["pred"].get<std::string>();
    if (body.contains("drifted") && body["drifted"].is_boolean())
      filter.is_drifted = body["drifted"].get<bool>();
  }
  if (filter.pred_class &&
      std::find(labels.begin(), labels.end(), *filter.pred_class) == labels.end()) {
    std::string all;
    for (const auto& l : labels) all += (all.empty() ? "" : ", ") + l;
    return Status::Invalid("pred: '" + *filter.pred_class + "' is not one of the run's labels [" +
                           all + "]");
  }
  std::vector<Neighbor> neighbors;
  if (query_split) {
    SEXTANT_ASSIGN_OR_RETURN(neighbors, c.reader().Similar(*query_split, query_id, k, in, filter));
  } else {
    SEXTANT_ASSIGN_OR_RETURN(
        neighbors, c.reader().SimilarToVector(vector.data(), static_cast<int64_t>(vector.size()), k,
                                              in, filter));
  }
  // Each neighbour's split's table, or while it loads, its neighbours from the store.
  std::map<SplitKey, std::shared_ptr<const SampleTable>> tables;
  for (const Neighbor& n : neighbors) {
    if (tables.count(n.split)) continue;
    SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> t,
                             TableOrStore(c, n.split, /*store=*/true));
    if (!t) {
      SampleQuery q;
      q.split = n.split;
      for (const Neighbor& m : neighbors) {
        if (m.split == n.split) q.ids.push_back(m.id);
      }
      SEXTANT_ASSIGN_OR_RETURN(t, SampleTable::LoadPage(c.reader(), q));
    }
    tables[n.split] = std::move(t);
  }
  ordered_json list = ordered_json::array();
  for (const Neighbor& n : neighbors) {
    const std::shared_ptr<const SampleTable>& t = tables.at(n.split);
    ordered_json j = NeighborToJson(n);
    if (auto row = t->RowOf(n.id)) {
      ordered_json s = SampleJson(*t, *row, labels);
      for (const char* key : {"text", "pred", "gold", "confidence", "is_drifted", "x", "y"}) {
        j[key] = s[key];
      }
    }
    list.push_back(std::move(j));
  }
  const double took =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ordered_json query = query_split
                           ? ordered_json{{"split", query_split->ToString()}, {"id", query_id}}
                           : ordered_json{{"vector", true}};
  return Json({{"query", std::move(query)}, {"neighbors", std::move(list)}, {"took_ms", took}});
}

// ---- the 2-D map and exports

// Any two splits side by side (docs/http-api.md, "Compare"): ?a=SPLIT&b=SPLIT.
Result<ApiResponse> GetCompare(const Call& c) {
  SplitKey keys[2];
  const char* names[2] = {"a", "b"};
  for (int i = 0; i < 2; ++i) {
    auto s = Param(c.params(), names[i]);
    if (!s || s->empty()) {
      return Status::Invalid(std::string(names[i]) +
                             ": required (training, validation, test or inference:NAME)");
    }
    auto key = SplitKey::Parse(*s);
    if (!key.ok()) return key.status().WithContext(names[i]);
    keys[i] = *key;
  }
  SEXTANT_ASSIGN_OR_RETURN(ordered_json j, CompareSplits(c.reader(), keys[0], keys[1]));
  return Json(j);
}

Result<ApiResponse> GetMap(const Call& c) {
  std::vector<SplitKey> splits;
  SEXTANT_ASSIGN_OR_RETURN(splits, SplitList(ParamList(c.params(), "splits"), "splits"));
  if (splits.empty()) {
    for (const SplitInfo& s : c.reader().info().splits) splits.push_back(s.split);
  }
  int64_t max_points = kDefaultMapPoints;
  if (auto v = Param(c.params(), "max_points")) {
    SEXTANT_ASSIGN_OR_RETURN(max_points, ParseInt("max_points", *v));
    if (max_points < 1 || max_points > kMaxMapPoints) {
      return Status::Invalid("max_points: must be between 1 and " + std::to_string(kMaxMapPoints));
    }
  }
  std::vector<std::shared_ptr<const SampleTable>> tables;
  std::vector<const SampleTable*> raw;
  for (const SplitKey& s : splits) {
    SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> t, c.state->Table(s));
    if (!t->has_map() && t->size() > 0) {
      return Status::FailedPrecondition("run '" + c.p()[1] + "/" + c.p()[2] +
                                        "' has no 2-D map; finish it again with the map on "
                                        "(`sextant finish` without --no-map)");
    }
    raw.push_back(t.get());
    tables.push_back(std::move(t));
  }
  // The samples filters (docs/http-api.md, "Map"): each split's points gain
  // `match`, the layout stays that of the unfiltered map.
  Params filter_params = c.params();
  for (const char* key : {"offset", "limit", "sort", "order"}) filter_params.erase(key);
  SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleParams(filter_params, c.labels()));
  const bool filtered = !sr.filter.empty();
  const MapBounds b = Bounds(raw);
  ordered_json list = ordered_json::array();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (!filtered) {
      list.push_back(MapSplitJson(*raw[i], b, max_points));
      continue;
    }
    SampleRequest split_request = sr;
    split_request.limit = -1;
    SEXTANT_RETURN_IF_ERROR(ResolveSimilar(c, splits[i], *raw[i], &split_request.filter));
    SEXTANT_ASSIGN_OR_RETURN(SamplePage page, RunSampleQuery(*raw[i], split_request));
    std::vector<uint8_t> match(static_cast<size_t>(raw[i]->size()), 0);
    for (uint32_t r : page.rows) match[r] = 1;
    list.push_back(MapSplitJson(*raw[i], b, max_points, &match));
  }
  return Json({{"bounds", {{"x0", b.x0}, {"x1", b.x1}, {"y0", b.y0}, {"y1", b.y1}}},
               {"labels", c.labels()},
               {"splits", std::move(list)}});
}

Result<ApiResponse> ExportSamples(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(c.params()));
  SEXTANT_ASSIGN_OR_RETURN(io::ExportFormat format, ExportFormat(c.params()));
  Params params = c.params();
  params.erase("offset");
  params.erase("limit");
  SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleParams(params, c.labels()));
  // The table's order (sort, order) and its top N (limit; absent: every match).
  SEXTANT_ASSIGN_OR_RETURN(sr.limit, ExportLimit(c.params()));
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table, c.state->Table(split));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> columns,
                           ParseExportColumns(ParamList(c.params(), "columns"), *table, c.labels(),
                                              sr.filter.similar.has_value()));
  SEXTANT_RETURN_IF_ERROR(ResolveSimilar(c, split, *table, &sr.filter));
  SEXTANT_ASSIGN_OR_RETURN(SamplePage page, RunSampleQuery(*table, sr));
  std::unordered_map<uint32_t, double> distance;
  for (const auto& [row, d] : sr.filter.similar_rows) distance.emplace(row, d);
  std::vector<ExportRow> rows;
  for (uint32_t r : page.rows) {
    rows.push_back({table.get(), r});
    if (auto it = distance.find(r); it != distance.end()) rows.back().distance = it->second;
  }
  return Attachment(ExportWithColumns(rows, format, columns, *c.state), format,
                    c.p()[1] + "-" + c.p()[2] + "-" + split.DirName());
}

// ---- selections

Result<ApiResponse> ListSelections(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(store::SelectionStore * sel, c.state->Selections());
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SelectionInfo> list, sel->List());
  ordered_json out = ordered_json::array();
  for (const auto& s : list) {
    out.push_back({{"name", s.name},
                   {"count", s.count},
                   {"created_at", s.created_at},
                   {"updated_at", s.updated_at}});
  }
  return Json({{"selections", std::move(out)}});
}

Result<ApiResponse> CreateSelection(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(store::SelectionStore * sel, c.state->Selections());
  SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(c.req.body));
  if (!body.contains("name") || !body["name"].is_string()) {
    return Status::Invalid("name: required, a string");
  }
  const std::string name = body["name"].get<std::string>();
  SEXTANT_RETURN_IF_ERROR(sel->Create(name));
  return Json({{"name", name}, {"count", 0}}, 201);
}

Result<ApiResponse> GetSelection(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(store::SelectionStore * sel, c.state->Selections());
  const std::string& name = c.p()[4];
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SelectionItem> items, sel->Items(name));
  ordered_json out = ordered_json::array();
  for (const auto& i : items) out.push_back({{"split", i.split}, {"id", i.id}});
  return Json({{"name", name}, {"items", std::move(out)}});
}

Result<ApiResponse> DeleteSelection(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(store::SelectionStore * sel, c.state->Selections());
  const std::string& name = c.p()[4];
  SEXTANT_RETURN_IF_ERROR(sel->Delete(name));
  return Json({{"deleted", name}});
}

// The items of POST .../add: listed, or the samples a sample filter or (NER)
// a span filter matches.
Result<std::vector<store::SelectionItem>> ItemsToAdd(const Call& c, const json& body) {
  std::vector<store::SelectionItem> items;
  if (body.contains("span_filter")) {
    // NER: the samples of the span rows that a filter of GET .../spans
    // matches, each once, in span order.
    Params params;
    if (body.contains("split") && body["split"].is_string()) {
      params.emplace("split", body["split"].get<std::string>());
    }
    SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(params));
    const json& filter = body["span_filter"];
    if (!filter.is_object()) {
      return Status::Invalid("span_filter: expected an object of the filters of GET .../spans");
    }
    for (auto it = filter.begin(); it != filter.end(); ++it) {
      const std::string& key = it.key();
      if (it->is_null() || key == "offset" || key == "limit" || key == "sort" || key == "order") {
        continue;
      }
      params.emplace(key, it->is_string() ? it->get<std::string>() : it->dump());
    }
    SEXTANT_ASSIGN_OR_RETURN(SpanQuery q, ParseSpanParams(params, split));
    q.limit = -1;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, c.reader().Spans(q));
    std::unordered_set<std::string> seen;
    for (const SpanRow& r : rows) {
      if (seen.insert(r.sample_id).second) items.push_back({split.ToString(), r.sample_id});
    }
    return items;
  }
  if (body.contains("filter")) {
    Params params;
    if (body.contains("split") && body["split"].is_string()) {
      params.emplace("split", body["split"].get<std::string>());
    }
    SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(params));
    json filter = body["filter"];
    if (filter.is_object()) {
      filter.erase("offset");
      filter.erase("limit");
    }
    SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleJson(filter, c.labels()));
    sr.limit = -1;
    SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table, c.state->Table(split));
    SEXTANT_RETURN_IF_ERROR(ResolveSimilar(c, split, *table, &sr.filter));
    SEXTANT_ASSIGN_OR_RETURN(SamplePage page, RunSampleQuery(*table, sr));
    for (uint32_t r : page.rows) items.push_back({split.ToString(), table->id[r]});
    return items;
  }
  SEXTANT_ASSIGN_OR_RETURN(items, ParseItems(body));
  for (const auto& item : items) {
    SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table,
                             c.state->Table(SplitKey::Parse(item.split).value()));
    if (!table->RowOf(item.id)) {
      return Status::NotFound("id: no sample '" + item.id + "' in split '" + item.split + "'");
    }
  }
  return items;
}

Result<ApiResponse> AddToSelection(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(store::SelectionStore * sel, c.state->Selections());
  const std::string& name = c.p()[4];
  SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(c.req.body));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SelectionItem> items, ItemsToAdd(c, body));
  SEXTANT_ASSIGN_OR_RETURN(int64_t count, sel->Add(name, items));
  return Json({{"name", name}, {"count", count}});
}

// ---- labels from labelers (docs/labeling-tools.md)

// POST runs/{p}/{r}/labels: with ?format=csv|jsonl|labelstudio the body is the
// label file (and ?split=inference:NAME, or split=inference&inference_name=NAME);
// otherwise a JSON body {"split", "inference_name", "labels": [{"id", "label"}]}.
Result<ApiResponse> PostLabels(const Call& c) {
  std::string split = Param(c.params(), "split").value_or("");
  std::string name = Param(c.params(), "inference_name").value_or("");
  std::string content = c.req.body;
  io::LabelFileFormat format = io::LabelFileFormat::kJsonl;
  if (auto f = Param(c.params(), "format")) {
    SEXTANT_ASSIGN_OR_RETURN(format, io::ParseLabelFileFormat(*f));
  } else {
    SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(c.req.body));
    if (body.contains("split") && body["split"].is_string()) split = body["split"];
    if (body.contains("inference_name") && body["inference_name"].is_string()) {
      name = body["inference_name"];
    }
    if (!body.contains("labels") || !body["labels"].is_array()) {
      return Status::Invalid("labels: expected [{\"id\": ..., \"label\": ...}, ...]");
    }
    content.clear();
    for (const json& l : body["labels"]) content += l.dump() + "\n";
  }
  if (split.find(':') == std::string::npos && !name.empty()) split += ":" + name;
  SEXTANT_ASSIGN_OR_RETURN(SplitKey key, SplitKey::Parse(split));
  if (c.reader().info().task == "named_entity_recognition") {
    return Status::Invalid("labels: span labels (NER) cannot be imported yet");
  }
  SEXTANT_ASSIGN_OR_RETURN(io::LabelFile file, io::ParseLabelFile(content, "body", format));
  SEXTANT_ASSIGN_OR_RETURN(store::ImportLabelsReport report,
                           store::ImportLabels(c.state->run_dir(), key, file, c.labels(), "http"));
  c.state->MarkStale();
  return Json({{"split", key.ToString()},
               {"imported", report.imported},
               {"overwritten", report.overwritten},
               {"skipped", report.skipped},
               {"labeled", report.labeled}});
}

Result<ApiResponse> RemoveFromSelection(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(store::SelectionStore * sel, c.state->Selections());
  const std::string& name = c.p()[4];
  SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(c.req.body));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SelectionItem> items, ParseItems(body));
  SEXTANT_ASSIGN_OR_RETURN(int64_t count, sel->Remove(name, items));
  return Json({{"name", name}, {"count", count}});
}

Result<ApiResponse> ExportSelection(const Call& c) {
  SEXTANT_ASSIGN_OR_RETURN(store::SelectionStore * sel, c.state->Selections());
  const std::string& name = c.p()[4];
  SEXTANT_ASSIGN_OR_RETURN(io::ExportFormat format, ExportFormat(c.params()));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SelectionItem> items, sel->Items(name));
  std::vector<std::shared_ptr<const SampleTable>> keep;
  std::vector<ExportRow> rows;
  for (const auto& item : items) {
    auto key = SplitKey::Parse(item.split);
    if (!key.ok()) continue;
    auto table = c.state->Table(*key);
    if (!table.ok()) continue;  // a split no longer in the run
    auto row = (*table)->RowOf(item.id);
    if (!row) continue;
    rows.push_back({table->get(), *row});
    keep.push_back(*table);
  }
  std::vector<std::string> columns = ParamList(c.params(), "columns");
  if (!columns.empty() && !keep.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(columns, ParseExportColumns(columns, *keep.front(), c.labels()));
  }
  return Attachment(ExportWithColumns(rows, format, columns, *c.state), format,
                    c.p()[1] + "-" + c.p()[2] + "-" + name);
}

// ---- the route table (docs/http-api.md)

// A pattern's segments are literal, "*" (any one segment) or, last, "**" (one
// or more). "GET" also answers HEAD; "*" answers every method. The first
// route whose pattern and method match handles the request; a path that some
// route matches but with another method gets MethodNotAllowed.
struct Endpoint {
  const char* method;
  const char* pattern;  // after /api/, segments separated by '/'
  Handler handler;
  Access access;  // what the request's key needs (CheckAccess)
  // Routes under runs/{project}/{run} open the run first (404 when unknown);
  // an upload may create it, and jobs outlive a run's state.
  bool opens_run = true;
};

// Live ingest (server/live_ingest.h): 202 when queued, 503 + Retry-After when
// the server's buffer is full.
Result<ApiResponse> PostLive(const Call& c) {
  if (!c.services->live)
    return Status::FailedPrecondition("live ingest is not enabled on this server");
  SEXTANT_ASSIGN_OR_RETURN(LiveAck ack, c.services->live->Ingest(c.p()[1], c.p()[2], c.req.body));
  if (!ack.accepted) {
    ApiResponse r = Json(
        {{"error",
          {{"code", "unavailable"}, {"message", "the live ingest buffer is full; retry later"}}}},
        503);
    r.headers.emplace_back("Retry-After", std::to_string(ack.retry_after_s));
    return r;
  }
  ordered_json sets = ordered_json::object();
  for (const auto& [name, n] : ack.sets) sets[name] = n;
  return Json({{"accepted", ack.samples}, {"sets", std::move(sets)}}, 202);
}

Result<ApiResponse> GetLive(const Call& c) {
  if (!c.services->live)
    return Status::FailedPrecondition("live ingest is not enabled on this server");
  SEXTANT_ASSIGN_OR_RETURN(std::string text, c.services->live->StatusJson(c.p()[1], c.p()[2]));
  ApiResponse r;
  r.body = std::move(text);
  return r;
}

Result<ApiResponse> GetLiveSamples(const Call& c) {
  if (!c.services->live) {
    return Status::FailedPrecondition("live ingest is not enabled on this server");
  }
  auto number = [&](const char* key, int64_t fallback) -> Result<int64_t> {
    auto v = Param(c.params(), key);
    if (!v || v->empty()) return fallback;
    char* end = nullptr;
    const long long n = std::strtoll(v->c_str(), &end, 10);
    if (*end != '\0') return Status::Invalid(std::string(key) + ": expected an integer");
    return static_cast<int64_t>(n);
  };
  SEXTANT_ASSIGN_OR_RETURN(int64_t offset, number("offset", 0));
  SEXTANT_ASSIGN_OR_RETURN(int64_t limit, number("limit", 100));
  const auto drifted = Param(c.params(), "drifted");
  SEXTANT_ASSIGN_OR_RETURN(
      std::string text, c.services->live->SamplesJson(c.p()[1], c.p()[2], c.p()[4], offset, limit,
                                                      drifted && *drifted == "true"));
  ApiResponse r;
  r.body = std::move(text);
  return r;
}

// ---- label suggestions (server/suggest_api.h, docs/labeling.md)

Result<ApiResponse> GetSuggest(const Call& c) { return HandleSuggest(c.reader(), c.req); }

// ---- projects/{project}/alerts/... (server/alerts_api.h, docs/alerts.md)

Result<ApiResponse> Alerts(const Call& c) { return HandleAlerts(c.root, c.req); }

// Adding a route: one line here, with its access level. Under
// runs/{project}/..., the level applies to that project (a key scoped to
// other projects gets 403); the handlers of routes above a project (runs,
// jobs) filter what they list by the key's projects.
constexpr Endpoint kEndpoints[] = {
    {"*", "health", GetHealth, Access::kPublic},
    {"GET", "whoami", Whoami, Access::kRead},
    {"GET", "keys", ListKeys, Access::kAdmin},
    {"GET", "runs", ListRunsHandler, Access::kRead},
    {"GET", "runs/*/*", GetRun, Access::kRead},
    {"GET", "runs/*/*/summary", GetSummary, Access::kRead},
    {"GET", "runs/*/*/insights", GetInsights, Access::kRead},
    {"GET", "runs/*/*/timeline", GetTimeline, Access::kRead},
    {"GET", "runs/*/*/samples", GetSamples, Access::kRead},
    {"POST", "runs/*/*/samples/query", QuerySamples, Access::kRead},
    {"GET", "runs/*/*/samples/*/*", GetSample, Access::kRead},
    {"GET", "runs/*/*/spans", GetSpans, Access::kRead},
    {"GET", "runs/*/*/spans/map", GetSpanMap, Access::kRead},
    {"GET", "runs/*/*/spans/similar", GetSimilarSpans, Access::kRead},
    {"GET", "runs/*/*/spans/**", UnknownSpans, Access::kRead},
    {"GET", "runs/*/*/similar", Similar, Access::kRead},
    {"POST", "runs/*/*/similar", Similar, Access::kRead},
    {"GET", "runs/*/*/map", GetMap, Access::kRead},
    {"GET", "runs/*/*/compare", GetCompare, Access::kRead},
    {"GET", "runs/*/*/export", ExportSamples, Access::kRead},
    {"GET", "runs/*/*/suggest", GetSuggest, Access::kRead},
    {"GET", "runs/*/*/selections", ListSelections, Access::kRead},
    {"POST", "runs/*/*/selections", CreateSelection, Access::kWrite},
    {"GET", "runs/*/*/selections/*", GetSelection, Access::kRead},
    {"DELETE", "runs/*/*/selections/*", DeleteSelection, Access::kWrite},
    {"POST", "runs/*/*/selections/*/add", AddToSelection, Access::kWrite},
    {"POST", "runs/*/*/selections/*/remove", RemoveFromSelection, Access::kWrite},
    {"GET", "runs/*/*/selections/*/export", ExportSelection, Access::kRead},
    {"POST", "runs/*/*/labels", PostLabels, Access::kWrite},
    {"POST", "runs/*/*/uploads", BeginUpload, Access::kWrite, false},
    {"GET", "runs/*/*/uploads/*", GetUpload, Access::kWrite, false},
    {"PUT", "runs/*/*/uploads/*/chunks/*", PutUploadChunk, Access::kWrite, false},
    {"POST", "runs/*/*/uploads/*/commit", CommitUpload, Access::kWrite, false},
    {"GET", "runs/*/*/jobs", ListRunJobs, Access::kRead, false},
    {"GET", "jobs", ListJobsHandler, Access::kRead},
    {"GET", "jobs/*", GetJob, Access::kRead},
    {"POST", "runs/*/*/live", PostLive, Access::kWrite},
    {"GET", "runs/*/*/live", GetLive, Access::kRead},
    {"GET", "runs/*/*/live/*", GetLiveSamples, Access::kRead},
    // Alerts: rules and deliveries are the project's (write); webhooks send
    // its data to any URL, and their URLs are often secrets (admin).
    {"GET", "projects/*/alerts/rules", Alerts, Access::kRead},
    {"POST", "projects/*/alerts/rules", Alerts, Access::kWrite},
    {"GET", "projects/*/alerts/rules/*", Alerts, Access::kRead},
    {"PUT", "projects/*/alerts/rules/*", Alerts, Access::kWrite},
    {"DELETE", "projects/*/alerts/rules/*", Alerts, Access::kWrite},
    {"GET", "projects/*/alerts/states", Alerts, Access::kRead},
    {"GET", "projects/*/alerts/history", Alerts, Access::kRead},
    {"GET", "projects/*/alerts/webhooks", Alerts, Access::kAdmin},
    {"POST", "projects/*/alerts/webhooks", Alerts, Access::kAdmin},
    {"DELETE", "projects/*/alerts/webhooks/*", Alerts, Access::kAdmin},
    {"POST", "projects/*/alerts/webhooks/*/test", Alerts, Access::kAdmin},
    {"GET", "projects/*/alerts/deliveries", Alerts, Access::kRead},
    {"POST", "projects/*/alerts/deliver", Alerts, Access::kWrite},
};

bool PathMatches(std::string_view pattern, const std::vector<std::string>& path) {
  size_t i = 0;
  while (!pattern.empty()) {
    const size_t slash = pattern.find('/');
    const std::string_view segment = pattern.substr(0, slash);
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
    if (segment == "**") return i < path.size();
    if (i == path.size() || (segment != "*" && segment != path[i])) return false;
    ++i;
  }
  return i == path.size();
}

bool MethodMatches(std::string_view route_method, const std::string& method) {
  return route_method == "*" || route_method == method ||
         (route_method == "GET" && method == "HEAD");
}

std::string ApiPath(const std::vector<std::string>& path) {
  std::string out = "/api";
  for (const auto& s : path) out += "/" + s;
  return out;
}

// Unauthenticated (401) without a valid key where one is needed;
// PermissionDenied (403) naming the right the key lacks. The messages name
// the key, the route's pattern and the requested project, never anything
// stored (not even whether the project exists).
Status CheckAccess(const ApiRequest& req, Access access, const char* route) {
  if (access == Access::kPublic) return Status::OK();
  if (req.principal == nullptr) {
    if (!req.key_required) return Status::OK();  // an open server
    return Status::Unauthenticated(
        req.key_presented ? "the API key is not valid (unknown or revoked)"
                          : "this server needs an API key: send 'Authorization: Bearer KEY' "
                            "(keys are made with `sextant keys create`)");
  }
  const Principal& who = *req.principal;
  const bool has_role = access == Access::kRead    ? true
                        : access == Access::kWrite ? who.role != Role::kRead
                                                   : who.IsAdmin();
  if (!has_role) {
    return Status::PermissionDenied("key '" + who.key_name + "' has the " + RoleName(who.role) +
                                    " role; " + req.method + " /api/" + route + " needs the " +
                                    AccessName(access) + " role");
  }
  const auto& p = req.path;
  if (p.size() >= 2 && (p[0] == "runs" || p[0] == "projects") && !who.CoversProject(p[1])) {
    return Status::PermissionDenied("key '" + who.key_name + "' is not scoped to project '" + p[1] +
                                    "'");
  }
  return Status::OK();
}

}  // namespace

std::string RoutePattern(const std::vector<std::string>& path) {
  for (const Endpoint& route : kEndpoints) {
    if (PathMatches(route.pattern, path)) return std::string(route.pattern);
  }
  return "unmatched";
}

Result<ApiResponse> Api::Route(const ApiRequest& req) const {
  const auto& p = req.path;
  const Endpoint* match = nullptr;
  bool known_path = false;
  for (const Endpoint& route : kEndpoints) {
    if (!PathMatches(route.pattern, p)) continue;
    known_path = true;
    if (MethodMatches(route.method, req.method)) {
      match = &route;
      break;
    }
  }
  // Access first, before anything is looked up: without the right key, the
  // answer says nothing about which projects, runs or samples exist. An
  // unknown path or method needs a read key (of the project, under runs/).
  SEXTANT_RETURN_IF_ERROR(
      CheckAccess(req, match ? match->access : Access::kRead, match ? match->pattern : "..."));
  Call call{req, root_, nullptr, &services_, this};
  if (!p.empty() && p[0] == "runs") {
    if (p.size() == 2) return Status::NotFound("expected /api/runs/{project}/{run}");
    // The run is opened before the handler runs: an unknown run is 404
    // whatever the rest of the path or the method (except on the routes that
    // need no opened run: an upload may create it).
    if (p.size() >= 3 && (match == nullptr || match->opens_run)) {
      SEXTANT_ASSIGN_OR_RETURN(call.state, Run(p[1], p[2]));
    }
  }
  if (match) return match->handler(call);
  if (known_path) {
    return Status::Invalid("method " + req.method + " is not supported on " + ApiPath(p));
  }
  return Status::NotFound("no API endpoint " + ApiPath(p) + " (see docs/http-api.md)");
}

std::vector<RouteInfo> ApiRoutes() {
  std::vector<RouteInfo> out;
  for (const Endpoint& e : kEndpoints) out.push_back({e.method, e.pattern, e.access});
  return out;
}

const char* AccessName(Access access) {
  switch (access) {
    case Access::kPublic:
      return "public";
    case Access::kRead:
      return "read";
    case Access::kWrite:
      return "write";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

}  // namespace sextant::server
