#include "server/export_columns.h"

#include <algorithm>
#include <cmath>

namespace sextant::server {

using ordered_json = nlohmann::ordered_json;

namespace {

// The fields a sample of `table` has (the Sample object's keys).
std::vector<std::string> SampleFields(const SampleTable& table,
                                      const std::vector<std::string>& labels, bool has_distance) {
  std::vector<std::string> out;
  if (table.size() == 0) return out;
  const ordered_json j = SampleJson(table, 0, labels);
  for (auto it = j.begin(); it != j.end(); ++it) out.push_back(it.key());
  if (has_distance) out.push_back("distance");
  return out;
}

ordered_json Cell(const ordered_json& sample, const ExportRow& e, const std::string& column) {
  if (column == "distance")
    return std::isnan(e.distance) ? ordered_json() : ordered_json(e.distance);
  if (column.rfind("meta.", 0) == 0) {
    const std::string key = column.substr(5);
    const ordered_json& meta = sample["meta"];
    return meta.is_object() && meta.contains(key) ? meta[key] : ordered_json();
  }
  return sample.contains(column) ? sample[column] : ordered_json();
}

}  // namespace

Result<std::vector<std::string>> ParseExportColumns(const std::vector<std::string>& columns,
                                                    const SampleTable& table,
                                                    const std::vector<std::string>& labels,
                                                    bool has_distance) {
  if (columns.empty() || table.size() == 0) return columns;
  const std::vector<std::string> fields = SampleFields(table, labels, has_distance);
  for (const std::string& c : columns) {
    if (c.rfind("meta.", 0) == 0 && c.size() > 5) continue;
    if (std::find(fields.begin(), fields.end(), c) != fields.end()) continue;
    std::string all;
    for (const std::string& f : fields) all += (all.empty() ? "" : ", ") + f;
    return Status::Invalid("columns: unknown column '" + c + "'; expected one of: " + all +
                           ", or meta.KEY for a metadata field");
  }
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
