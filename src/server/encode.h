// JSON, CSV and JSONL encodings of samples for the console (docs/http-api.md).
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "server/sample_table.h"

namespace sextant::server {

// A Sample object: id, split, row, text, meta, gold, pred, confidence, ...
nlohmann::ordered_json SampleJson(const SampleTable& table, int64_t row,
                                  const std::vector<std::string>& labels);

// One row of an export: a table and a row in it.
struct ExportRow {
  const SampleTable* table;
  int64_t row;
  // The row's distance to the sample of a similar_* filter (NaN without one):
  // the `distance` column of an export with columns.
  double distance = std::numeric_limits<double>::quiet_NaN();
};

// CSV (RFC 4180, header first) or JSONL with the columns id, split, text, gold,
// pred, confidence, margin, is_on_the_boundary, dep, drift_score, is_drifted,
// shift_score, is_shifted,
// then the metadata columns (in order of first appearance).
std::string ExportCsv(const std::vector<ExportRow>& rows, const std::vector<std::string>& labels);
std::string ExportJsonl(const std::vector<ExportRow>& rows, const std::vector<std::string>& labels);
// The rows as the flat objects of io/label_formats.h (the export's columns,
// the NLI / NER fields, and "meta": the metadata object), for the labeling
// tools' formats.
std::vector<nlohmann::ordered_json> ExportObjects(const std::vector<ExportRow>& rows,
                                                  const std::vector<std::string>& labels);

// One CSV cell (RFC 4180 quoting; null empty, numbers with 9 significant digits).
std::string CsvCell(const nlohmann::ordered_json& value);

}  // namespace sextant::server
