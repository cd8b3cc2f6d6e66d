#include "io/label_formats.h"

#include <algorithm>
#include <cctype>
#include <tuple>

namespace sextant::io {

using ordered_json = nlohmann::ordered_json;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The scores every format carries, in this order (contract of issue 15).
constexpr const char* kScoreFields[] = {"pred",        "confidence", "margin",      "dep",
                                        "drift_score", "is_drifted", "shift_score", "is_shifted"};
// A suggestion's fields (sextant suggest), when the rows come from one.
constexpr const char* kSuggestionFields[] = {"rank", "suggest_score", "reasons", "suggest_scores"};

bool Has(const ordered_json& row, const char* key) {
  auto it = row.find(key);
  return it != row.end() && !it->is_null();
}

std::string Str(const ordered_json& row, const char* key) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// "inference:prod" whether the row names the split as a key or as
// "inference" plus "inference_name".
std::string SplitKeyOf(const ordered_json& row) {
  std::string split = Str(row, "split");
  if (split == "inference" && Has(row, "inference_name")) {
    split += ":" + Str(row, "inference_name");
  }
  return split;
}

bool IsNer(const std::string& task) { return task == "named_entity_recognition" || task == "ner"; }
bool IsNli(const std::string& task) {
  return task == "natural_language_inference" || task == "nli";
}

// Metadata as an object: "meta" when it is one (the server and CLI rows both carry it).
ordered_json MetaOf(const ordered_json& row) {
  auto it = row.find("meta");
  if (it != row.end() && it->is_object()) return *it;
  return ordered_json::object();
}

// Adds the metadata to `out` without overwriting a field already there.
void PutMeta(const ordered_json& meta, ordered_json* out) {
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    if (it.value().is_null()) continue;
    std::string key = it.key();
    while (out->contains(key)) key = "meta_" + key;
    (*out)[key] = it.value();
  }
}

void PutScores(const ordered_json& row, ordered_json* out) {
  for (const char* key : kScoreFields) {
    if (Has(row, key)) (*out)[key] = row[key];
  }
  for (const char* key : kSuggestionFields) {
    if (Has(row, key)) (*out)[key] = row[key];
  }
}

double Confidence(const ordered_json& row) {
  auto it = row.find("confidence");
  return it != row.end() && it->is_number() ? it->get<double>() : 0.0;
}

// Predicted spans [{start, end, label}] of an NER row (code points).
std::vector<std::tuple<int64_t, int64_t, std::string>> PredSpans(const ordered_json& row) {
  std::vector<std::tuple<int64_t, int64_t, std::string>> out;
  auto it = row.find("pred_spans");
  if (it == row.end() || !it->is_array()) return out;
  for (const auto& s : *it) {
    if (!s.is_object() || !s.contains("start") || !s.contains("end")) continue;
    out.emplace_back(s["start"].get<int64_t>(), s["end"].get<int64_t>(),
                     s.contains("label") && s["label"].is_string() ? s["label"].get<std::string>()
                                                                   : std::string());
  }
  return out;
}

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;  // not valid UTF-8: one byte per character
}

// Byte offset of code point `cp` (clamped to the text's end).
size_t ByteOffset(std::string_view text, int64_t cp) {
  size_t b = 0;
  for (int64_t i = 0; i < cp && b < text.size(); ++i) {
    b += Utf8Length(static_cast<unsigned char>(text[b]));
  }
  return std::min(b, text.size());
}

}  // namespace

Result<ExportFormat> ParseExportFormat(std::string_view name, std::string_view field) {
  const std::string n = Lower(name);
  if (n == "csv") return ExportFormat::kCsv;
  if (n == "jsonl" || n == "json" || n == "ndjson") return ExportFormat::kJsonl;
  if (n == "labelstudio" || n == "label-studio" || n == "label_studio") {
    return ExportFormat::kLabelStudio;
  }
  if (n == "argilla") return ExportFormat::kArgilla;
  return Status::Invalid(std::string(field) + ": '" + std::string(name) +
                         "'; expected csv, jsonl, labelstudio or argilla");
}

Result<ExportFormat> ExportFormatForPath(const std::filesystem::path& path) {
  const std::string ext = Lower(path.extension().string());
  if (ext == ".csv") return ExportFormat::kCsv;
  if (ext == ".jsonl" || ext == ".ndjson") return ExportFormat::kJsonl;
  if (ext == ".json") return ExportFormat::kLabelStudio;
  return Status::Invalid("--output '" + path.string() + "': extension '" + ext +
                         "' does not say the format; use .csv, .jsonl, .json (Label Studio) "
                         "or name it with --format");
}

std::string_view ExportFormatName(ExportFormat format) {
  switch (format) {
    case ExportFormat::kCsv:
      return "csv";
    case ExportFormat::kJsonl:
      return "jsonl";
    case ExportFormat::kLabelStudio:
      return "labelstudio";
    case ExportFormat::kArgilla:
      return "argilla";
  }
  return "jsonl";
}

std::string_view ExportFileExtension(ExportFormat format) {
  switch (format) {
    case ExportFormat::kCsv:
      return "csv";
    case ExportFormat::kLabelStudio:
      return "json";
    case ExportFormat::kJsonl:
    case ExportFormat::kArgilla:
      return "jsonl";
  }
  return "jsonl";
}

std::string_view ExportContentType(ExportFormat format) {
  switch (format) {
    case ExportFormat::kCsv:
      return "text/csv; charset=utf-8";
    case ExportFormat::kLabelStudio:
      return "application/json; charset=utf-8";
    case ExportFormat::kJsonl:
    case ExportFormat::kArgilla:
      return "application/x-ndjson; charset=utf-8";
  }
  return "application/octet-stream";
}

int64_t Utf16Offset(std::string_view text, int64_t cp) {
  int64_t units = 0;
  size_t b = 0;
  for (int64_t i = 0; i < cp && b < text.size(); ++i) {
    const size_t len = Utf8Length(static_cast<unsigned char>(text[b]));
    units += len == 4 ? 2 : 1;  // past U+FFFF: a surrogate pair
    b += len;
  }
  return units;
}

std::string CodePointSubstr(std::string_view text, int64_t start, int64_t end) {
  const size_t b = ByteOffset(text, std::max<int64_t>(start, 0));
  const size_t e = ByteOffset(text, std::max(start, end));
  return std::string(text.substr(b, e - b));
}

std::string WriteLabelStudioTasks(const std::vector<ordered_json>& rows,
                                  const LabelToolOptions& options) {
  const bool ner = IsNer(options.task);
  const bool nli = IsNli(options.task);
  ordered_json tasks = ordered_json::array();
  int64_t n = 0;
  for (const ordered_json& row : rows) {
    const std::string text = Str(row, "text");
    ordered_json data;
    data["text"] = text;
    data["sextant_id"] = Str(row, "id");
    data["split"] = SplitKeyOf(row);
    if (Has(row, "premise")) {
      data["premise"] = row["premise"];
      data["hypothesis"] = Has(row, "hypothesis") ? row["hypothesis"] : ordered_json("");
    }
    PutScores(row, &data);
    PutMeta(MetaOf(row), &data);

    ordered_json result = ordered_json::array();
    if (ner) {
      int i = 0;
      for (const auto& [start, end, label] : PredSpans(row)) {
        result.push_back({{"id", "sx" + std::to_string(i++)},
                          {"from_name", "label"},
                          {"to_name", "text"},
                          {"type", "labels"},
                          {"value",
                           {{"start", Utf16Offset(text, start)},
                            {"end", Utf16Offset(text, end)},
                            {"text", CodePointSubstr(text, start, end)},
                            {"labels", {label}}}}});
      }
    } else if (Has(row, "pred")) {
      result.push_back({{"from_name", "label"},
                        {"to_name", nli ? "premise" : "text"},
                        {"type", "choices"},
                        {"value", {{"choices", {Str(row, "pred")}}}}});
    }
    ordered_json prediction;
    prediction["model_version"] = options.model_version;
    prediction["score"] = Confidence(row);
    prediction["result"] = result;

    ordered_json task;
    task["id"] = ++n;
    task["data"] = data;
    task["predictions"] = ordered_json::array({prediction});
    tasks.push_back(task);
  }
  return tasks.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string WriteArgillaRecords(const std::vector<ordered_json>& rows,
                                const LabelToolOptions& options) {
  const bool ner = IsNer(options.task);
  std::string out;
  for (const ordered_json& row : rows) {
    ordered_json record;
    record["id"] = Str(row, "id");
    ordered_json fields;
    if (Has(row, "premise")) {
      fields["premise"] = row["premise"];
      fields["hypothesis"] = Has(row, "hypothesis") ? row["hypothesis"] : ordered_json("");
    } else {
      fields["text"] = Str(row, "text");
    }
    record["fields"] = fields;
    ordered_json metadata;
    metadata["split"] = SplitKeyOf(row);
    PutScores(row, &metadata);
    PutMeta(MetaOf(row), &metadata);
    record["metadata"] = metadata;
    ordered_json suggestion;
    if (ner) {
      ordered_json spans = ordered_json::array();
      for (const auto& [start, end, label] : PredSpans(row)) {
        spans.push_back({{"start", start}, {"end", end}, {"label", label}});
      }
      suggestion["question_name"] = "spans";
      suggestion["value"] = spans;
    } else {
      suggestion["question_name"] = "label";
      suggestion["value"] = Str(row, "pred");
    }
    suggestion["score"] = Confidence(row);
    suggestion["agent"] = options.model_version;
    record["suggestions"] =
        ner || Has(row, "pred") ? ordered_json::array({suggestion}) : ordered_json::array();
    record["vectors"] = ordered_json::object();
    out += record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

std::vector<ordered_json> SuggestionRows(const ordered_json& answer) {
  std::vector<ordered_json> rows;
  auto it = answer.find("suggestions");
  if (it == answer.end() || !it->is_array()) return rows;
  for (const ordered_json& s : *it) {
    if (!s.is_object()) continue;
    ordered_json row;
    for (auto f = s.begin(); f != s.end(); ++f) {
      const std::string& key = f.key();
      row[key == "score" ? "suggest_score" : key == "scores" ? "suggest_scores" : key] = f.value();
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string LabelStudioConfig(const std::string& task, const std::vector<std::string>& labels) {
  auto attr = [](const std::string& s) {
    std::string out;
    for (char c : s) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        default:
          out += c;
      }
    }
    return out;
  };
  std::string xml = "<View>\n";
  if (IsNer(task)) {
    xml += "  <Labels name=\"label\" toName=\"text\">\n";
    for (const auto& l : labels) xml += "    <Label value=\"" + attr(l) + "\"/>\n";
    xml += "  </Labels>\n  <Text name=\"text\" value=\"$text\"/>\n";
  } else if (IsNli(task)) {
    xml +=
        "  <Text name=\"premise\" value=\"$premise\"/>\n"
        "  <Text name=\"hypothesis\" value=\"$hypothesis\"/>\n"
        "  <Choices name=\"label\" toName=\"premise\" choice=\"single\">\n";
    for (const auto& l : labels) xml += "    <Choice value=\"" + attr(l) + "\"/>\n";
    xml += "  </Choices>\n";
  } else {
    xml +=
        "  <Text name=\"text\" value=\"$text\"/>\n"
        "  <Choices name=\"label\" toName=\"text\" choice=\"single\">\n";
    for (const auto& l : labels) xml += "    <Choice value=\"" + attr(l) + "\"/>\n";
    xml += "  </Choices>\n";
  }
  return xml + "</View>\n";
}

}  // namespace sextant::io
