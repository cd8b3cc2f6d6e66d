#include "server/suggest_api.h"

#include <chrono>
#include <optional>

#include "suggest/suggest_export.h"
#include "suggest/suggest_json.h"

namespace sextant::server {

namespace {

std::optional<std::string> Param(const Params& params, const std::string& key) {
  auto it = params.find(key);
  if (it == params.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

}  // namespace

Result<suggest::SuggestOptions> ParseSuggestParams(const Params& params) {
  suggest::SuggestOptions o;
  const auto split = Param(params, "split");
  if (!split) {
    return Status::Invalid(
        "split: required (inference with inference_name=NAME, inference:NAME, validation or test)");
  }
  const auto name = Param(params, "inference_name");
  if (*split == "inference") {
    if (!name) return Status::Invalid("inference_name: required with split=inference");
    auto key = SplitKey::Make(Split::kInference, *name);
    if (!key.ok()) return key.status().WithContext("inference_name");
    o.split = *key;
  } else {
    auto key = SplitKey::Parse(*split);
    if (!key.ok()) return key.status().WithContext("split");
    if (name && key->inference_name != *name) {
      return Status::Invalid("inference_name: '" + *name + "' does not match split '" + *split +
                             "'");
    }
    o.split = *key;
  }
  o.budget = 100;
  if (auto v = Param(params, "budget")) {
    SEXTANT_ASSIGN_OR_RETURN(o.budget, ParseInt("budget", *v));
  }
  if (o.budget < 1 || o.budget > kMaxSuggestBudget) {
    return Status::Invalid("budget: must be between 1 and " + std::to_string(kMaxSuggestBudget) +
                           ", got " + std::to_string(o.budget));
  }
  if (auto v = Param(params, "strategy")) o.strategy = *v;
  if (auto v = Param(params, "class")) o.class_name = *v;
  if (auto v = Param(params, "per_class")) {
    SEXTANT_ASSIGN_OR_RETURN(o.per_class, ParseBool("per_class", *v));
  }
  if (auto v = Param(params, "seed")) {
    SEXTANT_ASSIGN_OR_RETURN(int64_t seed, ParseInt("seed", *v));
    if (seed < 0) return Status::Invalid("seed: must be >= 0, got " + *v);
    o.seed = static_cast<uint64_t>(seed);
  }
  return o;
}

Result<ApiResponse> HandleSuggest(const RunReader& reader, const ApiRequest& req) {
  SEXTANT_ASSIGN_OR_RETURN(suggest::SuggestOptions o, ParseSuggestParams(req.params));
  // json (default), or a labeling tool's file (docs/labeling-tools.md) as a download.
  std::optional<io::ExportFormat> tool;
  if (auto f = Param(req.params, "format"); f && *f != "json") {
    auto parsed = io::ParseExportFormat(*f);
    if (!parsed.ok() || *parsed == io::ExportFormat::kCsv || *parsed == io::ExportFormat::kJsonl) {
      return Status::Invalid("format: expected json, labelstudio or argilla, got '" + *f + "'");
    }
    tool = *parsed;
  }
  const auto start = std::chrono::steady_clock::now();
  SEXTANT_ASSIGN_OR_RETURN(suggest::SuggestResult result, suggest::Suggest(reader, o));
  const double took_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  SEXTANT_ASSIGN_OR_RETURN(nlohmann::ordered_json j,
                           suggest::SuggestResultJson(reader, o, result, took_ms));
  ApiResponse r;
  if (tool) {
    SEXTANT_ASSIGN_OR_RETURN(r.body, suggest::SuggestionsForLabeling(reader, j, *tool));
    r.content_type = io::ExportContentType(*tool);
    r.headers.emplace_back(
        "Content-Disposition",
        "attachment; filename=\"suggestions." + std::string(io::ExportFileExtension(*tool)) + "\"");
    return r;
  }
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace sextant::server
