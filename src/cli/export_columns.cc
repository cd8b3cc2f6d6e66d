#include "cli/export_columns.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "io/table.h"
#include "query/result_json.h"

namespace sextant::cli {

using ordered_json = nlohmann::ordered_json;

namespace {

ordered_json Cell(const ordered_json& row, const std::string& column) {
  if (column.rfind("meta.", 0) == 0) {
    const ordered_json& meta = row["meta"];
    const std::string key = column.substr(5);
    return meta.is_object() && meta.contains(key) ? meta[key] : ordered_json();
  }
  return row.contains(column) ? row[column] : ordered_json();
}

std::string CsvText(const ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Status WriteExportColumns(std::ostream& out, io::ExportFormat format,
                          const std::vector<SampleRow>& rows,
                          const std::vector<std::string>& labels,
                          const std::vector<std::string>& columns) {
  if (format != io::ExportFormat::kCsv && format != io::ExportFormat::kJsonl) {
    return Status::Invalid("--columns: only for csv and jsonl exports");
  }
  std::vector<ordered_json> objects;
  objects.reserve(rows.size());
  for (const SampleRow& r : rows) objects.push_back(SampleRowToJson(r, labels));
  if (!objects.empty()) {
    for (const std::string& c : columns) {
      if ((c.rfind("meta.", 0) == 0 && c.size() > 5) || objects.front().contains(c)) continue;
      std::string all;
      for (auto it = objects.front().begin(); it != objects.front().end(); ++it) {
        all += (all.empty() ? "" : ", ") + it.key();
      }
      return Status::Invalid("--columns: unknown column '" + c + "'; expected one of: " + all +
                             ", or meta.KEY for a metadata field");
    }
  }
  if (format == io::ExportFormat::kJsonl) {
    for (const ordered_json& row : objects) {
      ordered_json j = ordered_json::object();
      for (const std::string& c : columns) j[c] = Cell(row, c);
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    return Status::OK();
  }
  io::WriteCsvRow(out, columns);
  std::vector<std::string> fields;
  for (const ordered_json& row : objects) {
    fields.clear();
    for (const std::string& c : columns) fields.push_back(CsvText(Cell(row, c)));
    io::WriteCsvRow(out, fields);
  }
  return Status::OK();
}

}  // namespace sextant::cli
