// Exports with the columns the console's table shows, in its order
// (GET .../export?columns=id,text,pred,...; docs/http-api.md, "Export").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/encode.h"
#include "server/sample_table.h"
#include "sextant/status.h"

namespace sextant::server {

// The `columns` parameter: "id,text,pred" (repeated keys flattened), each a
// field of the Sample object (docs/http-api.md, "Samples": id, split, row,
// text, gold, pred, confidence, ..., the NLI / NER fields), `meta` (the
// metadata object as JSON) or `meta.KEY` (one metadata field). Checked against
// the fields of `table`'s samples: Invalid naming the first unknown column and
// the known ones. Empty: every column of today's export.
// `distance` is a column too when `has_distance` (a similar_* filter is given).
Result<std::vector<std::string>> ParseExportColumns(const std::vector<std::string>& columns,
                                                    const SampleTable& table,
                                                    const std::vector<std::string>& labels,
                                                    bool has_distance = false);

// The rows with exactly these columns: CSV (a header, then one line a row) or
// JSONL (one object a row, the columns in order).
std::string ExportCsvColumns(const std::vector<ExportRow>& rows,
                             const std::vector<std::string>& labels,
                             const std::vector<std::string>& columns);
std::string ExportJsonlColumns(const std::vector<ExportRow>& rows,
                               const std::vector<std::string>& labels,
                               const std::vector<std::string>& columns);

}  // namespace sextant::server
