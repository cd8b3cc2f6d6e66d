// `sextant export --columns id,text,pred,...`: the rows with exactly these
// columns, in this order (as GET .../export?columns=, docs/http-api.md).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "cli/output.h"
#include "sextant/status.h"

namespace sextant::cli {

// Writes `rows` as CSV (a header, then a line a row) or JSONL (one object a
// row) with the `columns`: fields of a sample row's JSON (`sextant samples`),
// `meta` (the metadata object) or `meta.KEY`. Invalid naming the first unknown
// column and the known ones; other formats are Invalid naming --columns.
Status WriteExportColumns(std::ostream& out, io::ExportFormat format,
                          const std::vector<SampleRow>& rows,
                          const std::vector<std::string>& labels,
                          const std::vector<std::string>& columns);

}  // namespace sextant::cli
