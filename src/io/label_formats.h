// Exports for labeling tools (docs/labeling-tools.md): Label Studio tasks JSON
// and Argilla records JSONL, next to the CSV and JSONL exports.
//
// The writers take samples as flat JSON objects, the shape both exporters
// already build (query/result_json.h's SampleRowToJson and the server's
// export rows): id, split (a split key, or "inference" plus "inference_name"),
// text, gold, pred, confidence, margin, dep, drift_score, is_drifted,
// shift_score, is_shifted, and, when present, premise / hypothesis (NLI),
// pred_spans [{start, end, label}] (NER; characters = Unicode code points),
// meta {...} (the sample's metadata), and a suggestion's rank, suggest_score
// and reasons [...]. Missing keys and nulls are left out of the output.
//
// Thread safety: all functions are reentrant.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::io {

enum class ExportFormat { kCsv, kJsonl, kLabelStudio, kArgilla };

// "csv", "jsonl" (or "json"), "labelstudio" (or "label-studio", "label_studio"),
// "argilla"; Invalid naming the choices otherwise. `field` names the option.
Result<ExportFormat> ParseExportFormat(std::string_view name, std::string_view field = "format");
// By the output's extension: .csv -> csv, .jsonl/.ndjson -> jsonl, .json ->
// labelstudio. Invalid for any other extension.
Result<ExportFormat> ExportFormatForPath(const std::filesystem::path& path);
std::string_view ExportFormatName(ExportFormat format);  // "csv", "jsonl", "labelstudio", "argilla"
std::string_view ExportFileExtension(ExportFormat format);  // "csv", "jsonl", "json", "jsonl"
std::string_view ExportContentType(ExportFormat format);

struct LabelToolOptions {
  // The run's task (types.h TaskName): text_classification,
  // natural_language_inference or named_entity_recognition.
  std::string task = "text_classification";
  // Names the predictions' source: "sextant:<project>/<run>".
  std::string model_version = "sextant";
};

// A JSON array of Label Studio tasks, one per row (Label Studio's "basic JSON
// format" with pre-annotations in `predictions`):
//   {"id": n, "data": {"text", "sextant_id", "split", [premise, hypothesis],
//     pred, confidence, margin, dep, drift_score, is_drifted, shift_score,
//     is_shifted, [rank, suggest_score, reasons], <metadata>...},
//    "predictions": [{"model_version", "score": confidence, "result": [...]}]}
// Classification and NLI: one `choices` result (from_name "label", to_name
// "text", or "premise" for NLI). NER: one `labels` result per predicted span
// with value {start, end, text, labels: [type]}; start/end are UTF-16 code
// units, which is how Label Studio (JavaScript) counts characters. Metadata
// keys that would overwrite a field above are written as "meta_<key>".
std::string WriteLabelStudioTasks(const std::vector<nlohmann::ordered_json>& rows,
                                  const LabelToolOptions& options);

// Argilla records, one JSON object per line:
//   {"id": sextant id, "fields": {"text"} or {"premise", "hypothesis"},
//    "metadata": {split, pred, confidence, margin, dep, drift_score, ...,
//                 <metadata>...},
//    "suggestions": [{"question_name": "label", "value": pred,
//                     "score": confidence, "agent": model_version}],
//    "vectors": {}}
// NER: the suggestion is question "spans" with value [{start, end, label}]
// (code points, as Argilla's Python strings count).
std::string WriteArgillaRecords(const std::vector<nlohmann::ordered_json>& rows,
                                const LabelToolOptions& options);

// The suggestions of a `sextant suggest` answer (suggest/suggest_json.h:
// {"suggestions": [{"id", "split", "rank", "score", "reasons", "scores", "text",
// "pred", ...}]}) as rows for the writers above: "score" becomes
// "suggest_score" and "scores" "suggest_scores" (so that they are not taken
// for the model's), the rest as it is.
std::vector<nlohmann::ordered_json> SuggestionRows(const nlohmann::ordered_json& answer);

// The Label Studio labeling configuration (XML) that matches the tasks above
// for a run's task and labels (entity types for NER).
std::string LabelStudioConfig(const std::string& task, const std::vector<std::string>& labels);

// Code point offset `cp` of `text` (UTF-8) as UTF-16 code units.
int64_t Utf16Offset(std::string_view text, int64_t cp);
// The characters [start, end) (code points) of `text` (UTF-8); clamped.
std::string CodePointSubstr(std::string_view text, int64_t start, int64_t end);

}  // namespace sextant::io
