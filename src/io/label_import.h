// Labels coming back from labelers (docs/labeling-tools.md): a CSV or JSONL
// file of id,label, or Label Studio's JSON export, read into (id, label)
// entries. Checking them against a run (known ids, the run's labels) is
// store/imported_labels.h's.
//
// Thread safety: all functions are reentrant.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::io {

enum class LabelFileFormat { kCsv, kJsonl, kLabelStudio };

// "csv", "jsonl" (or "ndjson"), "labelstudio" (or "json", "label-studio").
Result<LabelFileFormat> ParseLabelFileFormat(std::string_view name);
// By extension: .csv, .jsonl / .ndjson, .json (Label Studio's export).
Result<LabelFileFormat> LabelFileFormatForPath(const std::filesystem::path& path);

struct LabelEntry {
  std::string id;     // the Sextant sample id
  std::string label;  // a class of the run
  std::string where;  // "labels.csv line 3", "export.json task 2": for error messages
};

struct LabelFile {
  std::vector<LabelEntry> entries;
  // Label Studio tasks without a usable annotation (none, or all cancelled):
  // not labeled yet, so not imported.
  int64_t skipped = 0;
};

// Reads a label file. CSV and JSONL: columns `id` (or `sextant_id`) and
// `label`, a header required in CSV; every row must have both. Label Studio:
// a JSON array of tasks with data.sextant_id; the task's latest annotation
// that was not cancelled (by updated_at, then created_at, then order) gives
// the label from its `choices` result. Label Studio's JSON-MIN export (flat
// objects with sextant_id and the choice under the control's name, e.g.
// "label") is read too.
//
// Invalid, naming the file, the line (task) and the id, for: an empty file (no
// labels), a missing column, an empty id or label, an id twice in the file,
// more than one choice, and NER `labels` results (span labels cannot be
// imported yet).
Result<LabelFile> ReadLabelFile(const std::filesystem::path& path, LabelFileFormat format);
// As ReadLabelFile for content already in memory; `name` names it in errors.
Result<LabelFile> ParseLabelFile(std::string_view content, const std::string& name,
                                 LabelFileFormat format);

}  // namespace sextant::io
