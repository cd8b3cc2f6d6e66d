#include "server/export_columns.h"

#include <cmath>

#include "query/result_json.h"

namespace sextant::server {

using ordered_json = nlohmann::ordered_json;

namespace {

ordered_json Cell(const ordered_json& sample, const ExportRow& e, const std::string& column) {
  if (column == "distance")
    return std::isnan(e.distance) ? ordered_json() : ordered_json(e.distance);
  return ExportColumn(sample, column);
}

}  // namespace

Result<std::vector<std::string>> ParseExportColumns(const std::vector<std::string>& columns,
                                                    const SampleTable& table,
                                                    const std::vector<std::string>& labels,
                                                    bool has_distance) {
  if (columns.empty() || table.size() == 0) return columns;
  const std::vector<std::string> extra =
      has_distance ? std::vector<std::string>{"distance"} : std::vector<std::string>{};
  SEXTANT_RETURN_IF_ERROR(
      CheckExportColumns(columns, SampleJson(table, 0, labels), extra, "columns"));
  return columns;
}

std::string ExportCsvColumns(const std::vector<ExportRow>& rows,
                             const std::vector<std::string>& labels,
                             const std::vector<std::string>& columns) {
  std::string out;
  for (size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + CsvCell(columns[c]);
  out += "\r\n";
  for (const ExportRow& e : rows) {
    const ordered_json sample = SampleJson(*e.table, e.row, labels);
    for (size_t c = 0; c < columns.size(); ++c) {
      const ordered_json v = Cell(sample, e, columns[c]);
      if (c) out += ',';
      // Objects and arrays (meta, NER spans) as JSON text in the cell.
      out += v.is_structured()
                 ? CsvCell(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
                 : CsvCell(v);
    }
    out += "\r\n";
  }
  return out;
}

std::string ExportJsonlColumns(const std::vector<ExportRow>& rows,
                               const std::vector<std::string>& labels,
                               const std::vector<std::string>& columns) {
  std::string out;
  for (const ExportRow& e : rows) {
    const ordered_json sample = SampleJson(*e.table, e.row, labels);
    ordered_json j = ordered_json::object();
    for (const std::string& c : columns) j[c] = Cell(sample, e, c);
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

}  // namespace sextant::server
