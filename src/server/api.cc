#include "server/api.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "server/encode.h"
#include "server/insights.h"

namespace sextant::server {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

constexpr const char* kVersion = "0.1.0";
constexpr int32_t kMaxNeighbors = 1000;
constexpr int64_t kDefaultMapPoints = 50000;
constexpr int64_t kMaxMapPoints = 2000000;

const char* ErrorCode(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument: return "invalid_argument";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kAlreadyExists: return "already_exists";
    case StatusCode::kFailedPrecondition: return "failed_precondition";
    case StatusCode::kIOError: return "io_error";
    case StatusCode::kOk:
    case StatusCode::kInternal: break;
  }
  return "internal";
}

ApiResponse Json(const ordered_json& j, int status = 200) {
  ApiResponse r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

ordered_json RunInfoJson(const RunInfo& info) {
  ordered_json splits = ordered_json::array();
  for (const SplitInfo& s : info.splits) {
    splits.push_back({{"split", s.split.ToString()},
                      {"samples", s.samples},
                      {"epochs_logged", s.epochs_logged},
                      {"embedding_dim", s.embedding_dim},
                      {"processed", s.processed}});
  }
  return {{"project", info.project}, {"run", info.run}, {"task", info.task},
          {"labels", info.labels},   {"finished", info.finished},
          {"size_bytes", info.size_bytes}, {"splits", std::move(splits)},
          {"status", info.status},
          {"error", info.error.empty() ? ordered_json(nullptr) : ordered_json(info.error)}};
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

Status MethodNotAllowed(const ApiRequest& r) {
  std::string path;
  for (const auto& s : r.path) path += "/" + s;
  return Status::Invalid("method " + r.method + " is not supported on /api" + path);
}

ApiResponse Attachment(std::string body, const std::string& format, const std::string& name) {
  ApiResponse r;
  r.body = std::move(body);
  r.content_type = format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";
  std::string safe;
  for (char c : name) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"" + safe + "." + format + "\"");
  return r;
}

Result<std::string> ExportFormat(const Params& params) {
  std::string format = Param(params, "format").value_or("csv");
  if (format != "csv" && format != "jsonl") {
    return Status::Invalid("format: expected 'csv' or 'jsonl', got '" + format + "'");
  }
  return format;
}

std::string Export(const std::vector<ExportRow>& rows, const std::string& format,
                   const std::vector<std::string>& labels) {
  return format == "csv" ? ExportCsv(rows, labels) : ExportJsonl(rows, labels);
}

}  // namespace

int HttpStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kIOError:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

ApiResponse ErrorResponse(const Status& status) {
  return Json({{"error", {{"code", ErrorCode(status.code())}, {"message", status.message()}}}},
              HttpStatus(status.code()));
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
  return state;
}

Result<std::shared_ptr<const SampleTable>> RunState::Table(const SplitKey& split) const {
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard lock(mu_);
    auto& s = tables_[split];
    if (!s) s = std::make_shared<Slot>();
    slot = s;
  }
  std::lock_guard lock(slot->mu);
  if (!slot->table) {
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<SampleTable> t, SampleTable::Load(*reader_, split));
    slot->table = std::move(t);
  }
  return slot->table;
}

Result<store::SelectionStore*> RunState::Selections() const {
  std::lock_guard lock(mu_);
  if (!selections_) {
    SEXTANT_ASSIGN_OR_RETURN(selections_, store::SelectionStore::Open(run_dir_));
  }
  return selections_.get();
}

Result<std::shared_ptr<RunState>> Api::Run(const std::string& project, const std::string& run) const {
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
    if (committed.ok() && *committed == cached->generation()) return cached;
  }
  // Opened outside the lock: a large run's reader opens in a moment, but other runs
  // need not wait for it.
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, RunState::Open(root_, project, run));
  std::lock_guard lock(mu_);
  runs_[key] = state;
  return state;
}

ApiResponse Api::Handle(const ApiRequest& request) const {
  Result<ApiResponse> r = Route(request);
  if (!r.ok()) return ErrorResponse(r.status());
  return std::move(r).value();
}

namespace {

// One NER span row as the API returns it (docs/ner-nli.md).
ordered_json SpanJson(const SpanRow& r) {
  auto opt = [](const auto& v) { return v ? ordered_json(*v) : ordered_json(nullptr); };
  return {{"sample_id", r.sample_id}, {"split", r.split.ToString()}, {"span_row", r.span_row},
          {"sample_row", r.sample_row}, {"span_start", r.span_start}, {"span_end", r.span_end},
          {"span_text", r.span_text}, {"gold", opt(r.gold)}, {"pred", opt(r.pred)},
          {"error_type", opt(r.error_type)}, {"confidence", r.confidence},
          {"certainty_ratio", r.certainty_ratio}, {"dep", opt(r.dep)},
          {"drift_distance", opt(r.drift_distance)}, {"drift_score", opt(r.drift_score)},
          {"is_drifted", opt(r.is_drifted)}, {"is_on_the_boundary", r.is_on_the_boundary},
          {"x", opt(r.x)}, {"y", opt(r.y)}};
}

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

}  // namespace

// NER span rows: a page, the span-level map, similar span rows.
Result<ApiResponse> Api::Spans(const ApiRequest& req, const RunReader& reader) const {
  const auto& p = req.path;
  if (req.method != "GET" && req.method != "HEAD") return MethodNotAllowed(req);
  if (p.size() == 4) {
    SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(req.params));
    SEXTANT_ASSIGN_OR_RETURN(SpanQuery q, ParseSpanParams(req.params, split));
    SEXTANT_ASSIGN_OR_RETURN(int64_t total, reader.CountSpans(q));
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, reader.Spans(q));
    ordered_json list = ordered_json::array();
    for (const SpanRow& r : rows) list.push_back(SpanJson(r));
    return Json({{"total", total}, {"offset", q.offset}, {"limit", q.limit}, {"spans", std::move(list)}});
  }
  if (p.size() == 5 && p[4] == "map") {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SplitKey> splits, SplitList(ParamList(req.params, "splits"), "splits"));
    if (splits.empty()) {
      for (const SplitInfo& s : reader.info().splits) {
        if (s.processed) splits.push_back(s.split);
      }
    }
    int64_t max_points = 50000;
    if (auto v = Param(req.params, "max_points"); v && !v->empty()) {
      SEXTANT_ASSIGN_OR_RETURN(max_points, ParseInt("max_points", *v));
      if (max_points < 1) return Status::Invalid("max_points: must be at least 1");
    }
    std::vector<SpanRow> all;
    for (const SplitKey& split : splits) {
      SpanQuery q;
      q.split = split;
      SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, reader.Spans(q));
      for (SpanRow& r : rows) {
        if (r.x) all.push_back(std::move(r));
      }
    }
    // An even stride keeps every split's share of the points.
    const double stride = std::max(1.0, static_cast<double>(all.size()) / static_cast<double>(max_points));
    ordered_json points = ordered_json::array();
    for (double i = 0; i < static_cast<double>(all.size()); i += stride) {
      const SpanRow& r = all[static_cast<size_t>(i)];
      auto opt = [](const auto& v) { return v ? ordered_json(*v) : ordered_json(nullptr); };
      points.push_back({{"split", r.split.ToString()}, {"sample_id", r.sample_id},
                        {"span_row", r.span_row}, {"x", *r.x}, {"y", *r.y}, {"pred", opt(r.pred)},
                        {"gold", opt(r.gold)}, {"error_type", opt(r.error_type)},
                        {"is_drifted", opt(r.is_drifted)}, {"confidence", r.confidence}});
    }
    return Json({{"total", all.size()}, {"points", std::move(points)}});
  }
  if (p.size() == 5 && p[4] == "similar") {
    const auto start = std::chrono::steady_clock::now();
    SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(req.params));
    auto row_text = Param(req.params, "span_row");
    if (!row_text || row_text->empty()) return Status::Invalid("span_row: required");
    SEXTANT_ASSIGN_OR_RETURN(int64_t span_row, ParseInt("span_row", *row_text));
    int32_t k = 10;
    if (auto v = Param(req.params, "k"); v && !v->empty()) {
      SEXTANT_ASSIGN_OR_RETURN(int64_t kk, ParseInt("k", *v));
      if (kk < 1 || kk > kMaxNeighbors) {
        return Status::Invalid("k: must be between 1 and " + std::to_string(kMaxNeighbors));
      }
      k = static_cast<int32_t>(kk);
    }
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SplitKey> in, SplitList(ParamList(req.params, "in"), "in"));
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanNeighbor> neighbors,
                             reader.SimilarSpans(split, span_row, k, in));
    ordered_json list = ordered_json::array();
    for (const SpanNeighbor& n : neighbors) {
      SpanQuery q;
      q.split = n.split;
      q.span_row = n.span_row;
      SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, reader.Spans(q));
      if (rows.empty()) continue;
      ordered_json j = SpanJson(rows[0]);
      j["distance"] = n.distance;
      list.push_back(std::move(j));
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return Json({{"query", {{"split", split.ToString()}, {"span_row", span_row}}},
                 {"neighbors", std::move(list)}, {"took_ms", ms}});
  }
  return Status::NotFound("expected /spans, /spans/map or /spans/similar");
}

Result<ApiResponse> Api::Route(const ApiRequest& req) const {
  const auto& p = req.path;
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (p.size() == 1 && p[0] == "health") {
    return Json({{"ok", true}, {"version", kVersion}});
  }
  if (p.empty() || p[0] != "runs") {
    std::string path;
    for (const auto& s : p) path += "/" + s;
    return Status::NotFound("no API endpoint /api" + path + " (see docs/http-api.md)");
  }
  if (p.size() == 1) {
    if (!get) return MethodNotAllowed(req);
    SEXTANT_ASSIGN_OR_RETURN(std::vector<RunInfo> runs, ListRuns(root_));
    ordered_json list = ordered_json::array();
    for (const RunInfo& info : runs) list.push_back(RunInfoJson(info));
    return Json({{"runs", std::move(list)}});
  }
  if (p.size() < 3) return Status::NotFound("expected /api/runs/{project}/{run}");
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, Run(p[1], p[2]));
  const RunReader& reader = state->reader();
  const auto& labels = state->labels();
  const std::string what = p.size() > 3 ? p[3] : "";

  if (p.size() == 3) {
    if (!get) return MethodNotAllowed(req);
    return Json(RunInfoJson(reader.info()));
  }

  if (what == "summary" && p.size() == 4) {
    if (!get) return MethodNotAllowed(req);
    std::optional<SplitKey> split;
    if (auto s = Param(req.params, "split"); s && !s->empty()) {
      SEXTANT_ASSIGN_OR_RETURN(split, RequiredSplit(req.params));
    }
    SEXTANT_ASSIGN_OR_RETURN(std::string text, reader.SummaryJson(split));
    ApiResponse r;
    r.body = std::move(text);
    return r;
  }

  if (what == "insights" && p.size() == 4) {
    if (!get) return MethodNotAllowed(req);
    SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(req.params));
    SEXTANT_ASSIGN_OR_RETURN(std::string text, reader.SummaryJson(split));
    const SplitKey training{Split::kTraining, ""};
    json reference = json::object();
    if (auto ref = reader.SummaryJson(training); ref.ok()) reference = json::parse(*ref);
    return Json(Insights(json::parse(text), reference, labels));
  }

  if (what == "samples") {
    // One page of a split's samples, for GET (query string) and POST (JSON body).
    auto samples_page = [&](const SplitKey& split, const SampleRequest& sr) -> Result<ApiResponse> {
      SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table, state->Table(split));
      SEXTANT_ASSIGN_OR_RETURN(SamplePage page, RunSampleQuery(*table, sr));
      ordered_json rows = ordered_json::array();
      for (uint32_t r : page.rows) rows.push_back(SampleJson(*table, r, labels));
      return Json({{"total", page.total}, {"offset", sr.offset}, {"limit", sr.limit},
                   {"samples", std::move(rows)}});
    };
    if (p.size() == 4) {
      if (!get) return MethodNotAllowed(req);
      SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(req.params));
      SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleParams(req.params, labels));
      return samples_page(split, sr);
    }
    if (p.size() == 5 && p[4] == "query") {
      if (!post) return MethodNotAllowed(req);
      SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(req.body));
      Params params = req.params;
      if (body.contains("split") && body["split"].is_string()) {
        params.erase("split");
        params.emplace("split", body["split"].get<std::string>());
      }
      SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(params));
      SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleJson(body, labels));
      return samples_page(split, sr);
    }
    if (p.size() == 6) {
      if (!get) return MethodNotAllowed(req);
      auto split_key = SplitKey::Parse(p[4]);
      if (!split_key.ok()) return split_key.status().WithContext("split");
      SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table, state->Table(*split_key));
      auto row = table->RowOf(p[5]);
      if (!row) {
        return Status::NotFound("id: no sample '" + p[5] + "' in split '" + split_key->ToString() + "'");
      }
      ordered_json j = SampleJson(*table, *row, labels);
      SampleQuery q;
      q.split = *split_key;
      q.ids = {p[5]};
      q.include_probs = true;
      SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, reader.Samples(q));
      ordered_json probs = ordered_json::object();
      if (!rows.empty()) {
        for (size_t c = 0; c < labels.size() && c < rows[0].probs.size(); ++c) {
          probs[labels[c]] = rows[0].probs[c];
        }
      }
      j["probs"] = std::move(probs);
      return Json(j);
    }
  }

  if (what == "spans") return Spans(req, reader);

  if (what == "similar" && p.size() == 4) {
    const auto start = std::chrono::steady_clock::now();
    int32_t k = 10;
    std::vector<SplitKey> in;
    SimilarityFilter filter;
    std::optional<SplitKey> query_split;
    std::string query_id;
    std::vector<float> vector;
    if (get) {
      SEXTANT_ASSIGN_OR_RETURN(query_split, RequiredSplit(req.params));
      auto id = Param(req.params, "id");
      if (!id || id->empty()) return Status::Invalid("id: required");
      query_id = *id;
      if (auto v = Param(req.params, "k")) {
        SEXTANT_ASSIGN_OR_RETURN(int64_t kk, ParseInt("k", *v));
        if (kk < 1 || kk > kMaxNeighbors) {
          return Status::Invalid("k: must be between 1 and " + std::to_string(kMaxNeighbors));
        }
        k = static_cast<int32_t>(kk);
      }
      SEXTANT_ASSIGN_OR_RETURN(in, SplitList(ParamList(req.params, "in"), "in"));
      if (auto v = Param(req.params, "pred"); v && !v->empty()) filter.pred_class = *v;
      if (auto v = Param(req.params, "drifted"); v && !v->empty()) {
        SEXTANT_ASSIGN_OR_RETURN(bool d, ParseBool("drifted", *v));
        filter.is_drifted = d;
      }
    } else if (post) {
      SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(req.body));
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
          return Status::Invalid("k: must be an integer between 1 and " + std::to_string(kMaxNeighbors));
        }
        k = body["k"].get<int32_t>();
      }
      if (body.contains("in")) {
        if (!body["in"].is_array()) return Status::Invalid("in: expected an array of splits");
        std::vector<std::string> names;
        for (const auto& s : body["in"]) names.push_back(s.is_string() ? s.get<std::string>() : s.dump());
        SEXTANT_ASSIGN_OR_RETURN(in, SplitList(names, "in"));
      }
      if (body.contains("pred") && body["pred"].is_string()) filter.pred_class = body["pred"].get<std::string>();
      if (body.contains("drifted") && body["drifted"].is_boolean()) filter.is_drifted = body["drifted"].get<bool>();
    } else {
      return MethodNotAllowed(req);
    }
    if (filter.pred_class &&
        std::find(labels.begin(), labels.end(), *filter.pred_class) == labels.end()) {
      std::string all;
      for (const auto& l : labels) all += (all.empty() ? "" : ", ") + l;
      return Status::Invalid("pred: '" + *filter.pred_class + "' is not one of the run's labels [" + all + "]");
    }
    std::vector<Neighbor> neighbors;
    if (query_split) {
      SEXTANT_ASSIGN_OR_RETURN(neighbors, reader.Similar(*query_split, query_id, k, in, filter));
    } else {
      SEXTANT_ASSIGN_OR_RETURN(neighbors, reader.SimilarToVector(vector.data(),
                                                                 static_cast<int64_t>(vector.size()),
                                                                 k, in, filter));
    }
    ordered_json list = ordered_json::array();
    for (const Neighbor& n : neighbors) {
      SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> t, state->Table(n.split));
      ordered_json j = {{"id", n.id}, {"split", n.split.ToString()}, {"distance", n.distance}};
      if (auto row = t->RowOf(n.id)) {
        ordered_json s = SampleJson(*t, *row, labels);
        j["text"] = s["text"];
        j["pred"] = s["pred"];
        j["gold"] = s["gold"];
        j["confidence"] = s["confidence"];
        j["is_drifted"] = s["is_drifted"];
        j["x"] = s["x"];
        j["y"] = s["y"];
      }
      list.push_back(std::move(j));
    }
    const double took =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ordered_json query = query_split ? ordered_json{{"split", query_split->ToString()}, {"id", query_id}}
                                     : ordered_json{{"vector", true}};
    return Json({{"query", std::move(query)}, {"neighbors", std::move(list)}, {"took_ms", took}});
  }

  if (what == "map" && p.size() == 4) {
    if (!get) return MethodNotAllowed(req);
    std::vector<SplitKey> splits;
    SEXTANT_ASSIGN_OR_RETURN(splits, SplitList(ParamList(req.params, "splits"), "splits"));
    if (splits.empty()) {
      for (const SplitInfo& s : reader.info().splits) splits.push_back(s.split);
    }
    int64_t max_points = kDefaultMapPoints;
    if (auto v = Param(req.params, "max_points")) {
      SEXTANT_ASSIGN_OR_RETURN(max_points, ParseInt("max_points", *v));
      if (max_points < 1 || max_points > kMaxMapPoints) {
        return Status::Invalid("max_points: must be between 1 and " + std::to_string(kMaxMapPoints));
      }
    }
    std::vector<std::shared_ptr<const SampleTable>> tables;
    std::vector<const SampleTable*> raw;
    for (const SplitKey& s : splits) {
      SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> t, state->Table(s));
      if (!t->has_map() && t->size() > 0) {
        return Status::FailedPrecondition("run '" + p[1] + "/" + p[2] +
                                          "' has no 2-D map; finish it again with the map on "
                                          "(`sextant finish` without --no-map)");
      }
      raw.push_back(t.get());
      tables.push_back(std::move(t));
    }
    const MapBounds b = Bounds(raw);
    ordered_json list = ordered_json::array();
    for (const SampleTable* t : raw) list.push_back(MapSplitJson(*t, b, max_points));
    return Json({{"bounds", {{"x0", b.x0}, {"x1", b.x1}, {"y0", b.y0}, {"y1", b.y1}}},
                 {"labels", labels},
                 {"splits", std::move(list)}});
  }

  if (what == "export" && p.size() == 4) {
    if (!get) return MethodNotAllowed(req);
    SEXTANT_ASSIGN_OR_RETURN(SplitKey split, RequiredSplit(req.params));
    SEXTANT_ASSIGN_OR_RETURN(std::string format, ExportFormat(req.params));
    Params params = req.params;
    params.erase("offset");
    params.erase("limit");
    SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleParams(params, labels));
    sr.limit = -1;
    SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table, state->Table(split));
    SEXTANT_ASSIGN_OR_RETURN(SamplePage page, RunSampleQuery(*table, sr));
    std::vector<ExportRow> rows;
    for (uint32_t r : page.rows) rows.push_back({table.get(), r});
    return Attachment(Export(rows, format, labels), format,
                      p[1] + "-" + p[2] + "-" + split.DirName());
  }

  if (what == "selections") {
    SEXTANT_ASSIGN_OR_RETURN(store::SelectionStore * sel, state->Selections());
    if (p.size() == 4) {
      if (get) {
        SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SelectionInfo> list, sel->List());
        ordered_json out = ordered_json::array();
        for (const auto& s : list) {
          out.push_back({{"name", s.name}, {"count", s.count}, {"created_at", s.created_at},
                         {"updated_at", s.updated_at}});
        }
        return Json({{"selections", std::move(out)}});
      }
      if (!post) return MethodNotAllowed(req);
      SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(req.body));
      if (!body.contains("name") || !body["name"].is_string()) {
        return Status::Invalid("name: required, a string");
      }
      const std::string name = body["name"].get<std::string>();
      SEXTANT_RETURN_IF_ERROR(sel->Create(name));
      return Json({{"name", name}, {"count", 0}}, 201);
    }
    const std::string& name = p[4];
    if (p.size() == 5) {
      if (get) {
        SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SelectionItem> items, sel->Items(name));
        ordered_json out = ordered_json::array();
        for (const auto& i : items) out.push_back({{"split", i.split}, {"id", i.id}});
        return Json({{"name", name}, {"items", std::move(out)}});
      }
      if (req.method != "DELETE") return MethodNotAllowed(req);
      SEXTANT_RETURN_IF_ERROR(sel->Delete(name));
      return Json({{"deleted", name}});
    }
    if (p.size() == 6 && (p[5] == "add" || p[5] == "remove")) {
      if (!post) return MethodNotAllowed(req);
      SEXTANT_ASSIGN_OR_RETURN(json body, ParseBody(req.body));
      std::vector<store::SelectionItem> items;
      if (p[5] == "add" && body.contains("span_filter")) {
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
        SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, reader.Spans(q));
        std::unordered_set<std::string> seen;
        for (const SpanRow& r : rows) {
          if (seen.insert(r.sample_id).second) items.push_back({split.ToString(), r.sample_id});
        }
      } else if (p[5] == "add" && body.contains("filter")) {
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
        SEXTANT_ASSIGN_OR_RETURN(SampleRequest sr, ParseSampleJson(filter, labels));
        sr.limit = -1;
        SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table, state->Table(split));
        SEXTANT_ASSIGN_OR_RETURN(SamplePage page, RunSampleQuery(*table, sr));
        for (uint32_t r : page.rows) items.push_back({split.ToString(), table->id[r]});
      } else {
        SEXTANT_ASSIGN_OR_RETURN(items, ParseItems(body));
        if (p[5] == "add") {
          for (const auto& item : items) {
            SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const SampleTable> table,
                                     state->Table(SplitKey::Parse(item.split).value()));
            if (!table->RowOf(item.id)) {
              return Status::NotFound("id: no sample '" + item.id + "' in split '" + item.split + "'");
            }
          }
        }
      }
      int64_t count = 0;
      if (p[5] == "add") {
        SEXTANT_ASSIGN_OR_RETURN(count, sel->Add(name, items));
      } else {
        SEXTANT_ASSIGN_OR_RETURN(count, sel->Remove(name, items));
      }
      return Json({{"name", name}, {"count", count}});
    }
    if (p.size() == 6 && p[5] == "export") {
      if (!get) return MethodNotAllowed(req);
      SEXTANT_ASSIGN_OR_RETURN(std::string format, ExportFormat(req.params));
      SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SelectionItem> items, sel->Items(name));
      std::vector<std::shared_ptr<const SampleTable>> keep;
      std::vector<ExportRow> rows;
      for (const auto& item : items) {
        auto key = SplitKey::Parse(item.split);
        if (!key.ok()) continue;
        auto table = state->Table(*key);
        if (!table.ok()) continue;  // a split no longer in the run
        auto row = (*table)->RowOf(item.id);
        if (!row) continue;
        rows.push_back({table->get(), *row});
        keep.push_back(*table);
      }
      return Attachment(Export(rows, format, labels), format, p[1] + "-" + p[2] + "-" + name);
    }
  }

  std::string path;
  for (const auto& s : p) path += "/" + s;
  return Status::NotFound("no API endpoint /api" + path + " (see docs/http-api.md)");
}

}  // namespace sextant::server
