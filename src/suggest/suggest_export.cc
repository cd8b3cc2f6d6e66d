#include "suggest/suggest_export.h"

#include <map>

namespace sextant::suggest {

using ordered_json = nlohmann::ordered_json;

Result<std::string> SuggestionsForLabeling(const RunReader& reader, const ordered_json& answer,
                                           io::ExportFormat format) {
  if (format != io::ExportFormat::kLabelStudio && format != io::ExportFormat::kArgilla) {
    return Status::Invalid("format: expected labelstudio or argilla here");
  }
  std::vector<ordered_json> rows = io::SuggestionRows(answer);
  // The metadata, per split, in one query each.
  std::map<std::string, std::vector<size_t>> by_split;
  for (size_t i = 0; i < rows.size(); ++i) {
    by_split[rows[i].value("split", std::string())].push_back(i);
  }
  for (const auto& [split_name, indices] : by_split) {
    SEXTANT_ASSIGN_OR_RETURN(SplitKey key, SplitKey::Parse(split_name));
    SampleQuery q;
    q.split = key;
    for (size_t i : indices) q.ids.push_back(rows[i].value("id", std::string()));
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> samples, reader.Samples(q));
    std::map<std::string, const SampleRow*> by_id;
    for (const SampleRow& s : samples) by_id[s.id] = &s;
    for (size_t i : indices) {
      auto it = by_id.find(rows[i].value("id", std::string()));
      if (it == by_id.end()) continue;
      const ordered_json meta = ordered_json::parse(it->second->meta_json, nullptr, false);
      if (meta.is_object()) rows[i]["meta"] = meta;
      if (it->second->dep) rows[i]["dep"] = *it->second->dep;
    }
  }
  const RunInfo& info = reader.info();
  const io::LabelToolOptions tool{info.task, "sextant:" + info.project + "/" + info.run};
  return format == io::ExportFormat::kLabelStudio ? io::WriteLabelStudioTasks(rows, tool)
                                                  : io::WriteArgillaRecords(rows, tool);
}

}  // namespace sextant::suggest
