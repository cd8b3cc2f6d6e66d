#include "suggest/suggest_json.h"

#include <unordered_map>

namespace sextant::suggest {

using ordered_json = nlohmann::ordered_json;

namespace {

template <typename T>
ordered_json OrNull(const std::optional<T>& v) {
  return v ? ordered_json(*v) : ordered_json(nullptr);
}

}  // namespace

Result<ordered_json> SuggestResultJson(const RunReader& reader, const SuggestOptions& options,
                                       const SuggestResult& result, double took_ms) {
  std::unordered_map<std::string, SampleRow> rows;
  if (!result.suggestions.empty()) {
    SampleQuery q;
    q.split = options.split;
    for (const Suggestion& s : result.suggestions) q.ids.push_back(s.id);
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> found, reader.Samples(q));
    for (SampleRow& r : found) rows.emplace(r.id, std::move(r));
  }
  const std::string split_key = options.split.ToString();
  ordered_json list = ordered_json::array();
  for (const Suggestion& s : result.suggestions) {
    ordered_json j = {{"id", s.id},       {"split", split_key},     {"row", s.row},
                      {"rank", s.rank},   {"score", s.score},       {"reasons", s.reasons},
                      {"scores", ordered_json::object()}};
    for (const auto& [name, v] : s.scores) j["scores"][name] = v;
    auto it = rows.find(s.id);
    if (it != rows.end()) {
      const SampleRow& r = it->second;
      j["text"] = r.text;
      j["pred"] = r.pred;
      j["confidence"] = r.confidence;
      j["margin"] = r.margin;
      j["drift_score"] = OrNull(r.drift_score);
      j["is_drifted"] = OrNull(r.is_drifted);
      j["shift_score"] = OrNull(r.shift_score);
      j["is_shifted"] = OrNull(r.is_shifted);
      if (r.premise) j["premise"] = *r.premise;
      if (r.hypothesis) j["hypothesis"] = *r.hypothesis;
    }
    list.push_back(std::move(j));
  }
  return ordered_json{
      {"strategy", result.strategy},
      {"budget", options.budget},
      {"split", std::string(SplitName(options.split.split))},
      {"inference_name", options.split.inference_name.empty()
                             ? ordered_json(nullptr)
                             : ordered_json(options.split.inference_name)},
      {"class", OrNull(options.class_name)},
      {"per_class", options.per_class},
      {"seed", options.seed},
      {"pool", result.pool},
      {"excluded_duplicates", result.excluded_duplicates},
      {"duplicate_distance", result.duplicate_distance},
      {"took_ms", took_ms},
      {"suggestions", std::move(list)}};
}

}  // namespace sextant::suggest
