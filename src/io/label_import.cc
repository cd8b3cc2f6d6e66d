#include "io/label_import.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/file_util.h"
#include "common/utf8.h"
#include "io/table.h"

namespace sextant::io {

using json = nlohmann::json;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A JSON value as label or id text: strings as they are, numbers as written.
std::string Text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// Adds an entry, refusing an id seen before in the file.
Status Add(LabelEntry entry, std::unordered_map<std::string, std::string>* seen, LabelFile* out) {
  if (entry.id.empty()) return Status::Invalid(entry.where + ": empty id; expected a sample id");
  if (entry.label.empty()) {
    return Status::Invalid(entry.where + ": sample '" + entry.id +
                           "' has an empty label; expected one of the run's labels");
  }
  auto [it, inserted] = seen->emplace(entry.id, entry.where);
  if (!inserted) {
    return Status::Invalid(entry.where + ": sample '" + entry.id + "' appears twice (first at " +
                           it->second + "); expected each id once");
  }
  out->entries.push_back(std::move(entry));
  return Status::OK();
}

Status CheckNotEmpty(const LabelFile& file, const std::string& name) {
  if (file.entries.empty() && file.skipped == 0) {
    return Status::Invalid(name + ": no labels in the file; expected rows of id,label");
  }
  if (file.entries.empty()) {
    return Status::Invalid(name + ": none of its " + std::to_string(file.skipped) +
                           " tasks has an annotation that was not cancelled; nothing to import");
  }
  return Status::OK();
}

// The id and label columns of a CSV or JSONL table.
Result<std::pair<int, int>> IdAndLabelColumns(const Table& t, const std::string& name) {
  int id = t.ColumnIndex("id");
  if (id < 0) id = t.ColumnIndex("sextant_id");
  const int label = t.ColumnIndex("label");
  if (id < 0 || label < 0) {
    std::string cols;
    for (const auto& c : t.columns) cols += (cols.empty() ? "" : ", ") + c;
    return Status::Invalid(
        name + ": expected columns 'id' (or 'sextant_id') and 'label'; it has [" + cols + "]");
  }
  return std::make_pair(id, label);
}

Result<LabelFile> ParseCsvLabels(std::string_view content, const std::string& name) {
  std::vector<int64_t> lines;
  SEXTANT_ASSIGN_OR_RETURN(Table t, ParseCsv(content, name, &lines));
  SEXTANT_ASSIGN_OR_RETURN(auto cols, IdAndLabelColumns(t, name));
  LabelFile out;
  std::unordered_map<std::string, std::string> seen;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    SEXTANT_RETURN_IF_ERROR(Add(
        {t.rows[r][cols.first], t.rows[r][cols.second], name + " line " + std::to_string(lines[r])},
        &seen, &out));
  }
  SEXTANT_RETURN_IF_ERROR(CheckNotEmpty(out, name));
  return out;
}

Result<LabelFile> ParseJsonlLabels(std::string_view content, const std::string& name) {
  LabelFile out;
  std::unordered_map<std::string, std::string> seen;
  int64_t line_no = 0;
  size_t pos = 0;
  if (content.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  while (pos <= content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(pos, end - pos);
    ++line_no;
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      if (end == content.size()) break;
      continue;
    }
    const std::string where = name + " line " + std::to_string(line_no);
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return Status::Invalid(where + ": expected a JSON object {\"id\": ..., \"label\": ...}");
    }
    const json* id = j.contains("id")           ? &j["id"]
                     : j.contains("sextant_id") ? &j["sextant_id"]
                                                : nullptr;
    if (id == nullptr || !j.contains("label")) {
      return Status::Invalid(where + ": expected keys 'id' (or 'sextant_id') and 'label'");
    }
    SEXTANT_RETURN_IF_ERROR(Add({Text(*id), Text(j["label"]), where}, &seen, &out));
    if (end == content.size()) break;
  }
  SEXTANT_RETURN_IF_ERROR(CheckNotEmpty(out, name));
  return out;
}

// The choice of one annotation's (or prediction's) results; "" when it has
// none. Invalid for span labels and for more than one choice.
Result<std::string> ChoiceOf(const json& results, const std::string& where, const std::string& id) {
  std::string choice;
  if (!results.is_array()) return choice;
  for (const json& r : results) {
    if (!r.is_object()) continue;
    const std::string type =
        r.contains("type") && r["type"].is_string() ? Lower(Text(r["type"])) : std::string();
    if (type == "labels" ||
        (r.contains("value") && r["value"].is_object() && r["value"].contains("labels"))) {
      return Status::Invalid(where + ": sample '" + id +
                             "': span labels (NER) cannot be imported yet; expected a "
                             "`choices` result (text classification or NLI)");
    }
    if (!r.contains("value") || !r["value"].is_object() || !r["value"].contains("choices")) {
      continue;
    }
    const json& choices = r["value"]["choices"];
    if (!choices.is_array() || choices.size() != 1 || !choices[0].is_string()) {
      return Status::Invalid(where + ": sample '" + id + "': expected exactly one choice, got " +
                             choices.dump());
    }
    if (!choice.empty()) {
      return Status::Invalid(where + ": sample '" + id +
                             "': more than one `choices` result; expected one label");
    }
    choice = choices[0].get<std::string>();
  }
  return choice;
}

// Orders annotations newest last: by updated_at, then created_at (ISO 8601
// text compares in time order), then their order in the file.
std::string Stamp(const json& a) {
  for (const char* key : {"updated_at", "created_at"}) {
    if (a.contains(key) && a[key].is_string()) return a[key].get<std::string>();
  }
  return "";
}

Result<LabelFile> ParseLabelStudio(std::string_view content, const std::string& name) {
  json tasks = json::parse(content, nullptr, /*allow_exceptions=*/false);
  if (tasks.is_discarded()) {
    return Status::Invalid(name +
                           ": not valid JSON; expected Label Studio's JSON export (an "
                           "array of tasks)");
  }
  if (tasks.is_object()) tasks = json::array({tasks});
  if (!tasks.is_array()) {
    return Status::Invalid(name + ": expected a JSON array of Label Studio tasks");
  }
  LabelFile out;
  std::unordered_map<std::string, std::string> seen;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const json& task = tasks[i];
    std::string where = name + " task " + std::to_string(i + 1);
    if (!task.is_object()) return Status::Invalid(where + ": expected a JSON object");
    // JSON-MIN: {"sextant_id": ..., "label": "pos"} (or {"choices": ["pos"]}).
    const bool full = task.contains("data") && task["data"].is_object();
    const json& data = full ? task["data"] : task;
    if (!data.contains("sextant_id")) {
      return Status::Invalid(where +
                             ": no data.sextant_id; expected tasks exported by Sextant "
                             "(sextant export --format labelstudio)");
    }
    const std::string id = Text(data["sextant_id"]);
    where += " (sextant_id '" + id + "')";
    if (!full) {
      if (!task.contains("label")) {
        ++out.skipped;
        continue;
      }
      const json& v = task["label"];
      std::string label;
      if (v.is_object() && v.contains("choices")) {
        SEXTANT_ASSIGN_OR_RETURN(label, ChoiceOf(json::array({{{"value", v}}}), where, id));
      } else if (v.is_array()) {
        if (v.size() != 1) {
          return Status::Invalid(where + ": expected exactly one label, got " + v.dump());
        }
        label = Text(v[0]);
        if (v[0].is_object()) {
          return Status::Invalid(where + ": sample '" + id +
                                 "': span labels (NER) cannot be imported yet");
        }
      } else {
        label = Text(v);
      }
      SEXTANT_RETURN_IF_ERROR(Add({id, label, where}, &seen, &out));
      continue;
    }
    const json* best = nullptr;
    if (task.contains("annotations") && task["annotations"].is_array()) {
      for (const json& a : task["annotations"]) {
        if (!a.is_object()) continue;
        if (a.contains("was_cancelled") && a["was_cancelled"].is_boolean() &&
            a["was_cancelled"].get<bool>()) {
          continue;
        }
        if (best == nullptr || Stamp(a) >= Stamp(*best)) best = &a;
      }
    }
    if (best == nullptr) {
      ++out.skipped;
      continue;
    }
    SEXTANT_ASSIGN_OR_RETURN(
        std::string label,
        ChoiceOf(best->contains("result") ? (*best)["result"] : json(), where, id));
    if (label.empty()) {
      ++out.skipped;  // an annotation without a choice: the labeler skipped it
      continue;
    }
    SEXTANT_RETURN_IF_ERROR(Add({id, label, where}, &seen, &out));
  }
  SEXTANT_RETURN_IF_ERROR(CheckNotEmpty(out, name));
  return out;
}

}  // namespace

Result<LabelFileFormat> ParseLabelFileFormat(std::string_view name) {
  const std::string n = Lower(name);
  if (n == "csv") return LabelFileFormat::kCsv;
  if (n == "jsonl" || n == "ndjson") return LabelFileFormat::kJsonl;
  if (n == "labelstudio" || n == "label-studio" || n == "label_studio" || n == "json") {
    return LabelFileFormat::kLabelStudio;
  }
  return Status::Invalid("format: '" + std::string(name) + "'; expected csv, jsonl or labelstudio");
}

Result<LabelFileFormat> LabelFileFormatForPath(const std::filesystem::path& path) {
  const std::string ext = Lower(path.extension().string());
  if (ext == ".csv") return LabelFileFormat::kCsv;
  if (ext == ".jsonl" || ext == ".ndjson") return LabelFileFormat::kJsonl;
  if (ext == ".json") return LabelFileFormat::kLabelStudio;
  return Status::Invalid("'" + path.string() + "': extension '" + ext +
                         "' does not say the format; use .csv, .jsonl or .json (Label Studio), "
                         "or name it with --format");
}

Result<LabelFile> ParseLabelFile(std::string_view content, const std::string& name,
                                 LabelFileFormat format) {
  if (size_t bad = FindInvalidUtf8(content); bad != std::string_view::npos) {
    return Status::Invalid(name + ": invalid UTF-8 at byte " + std::to_string(bad) +
                           "; expected a UTF-8 encoded file");
  }
  switch (format) {
    case LabelFileFormat::kCsv:
      return ParseCsvLabels(content, name);
    case LabelFileFormat::kJsonl:
      return ParseJsonlLabels(content, name);
    case LabelFileFormat::kLabelStudio:
      return ParseLabelStudio(content, name);
  }
  return Status::Invalid(name + ": unknown format");
}

Result<LabelFile> ReadLabelFile(const std::filesystem::path& path, LabelFileFormat format) {
  SEXTANT_ASSIGN_OR_RETURN(std::string content, ReadFileToString(path));
  return ParseLabelFile(content, path.string(), format);
}

}  // namespace sextant::io
