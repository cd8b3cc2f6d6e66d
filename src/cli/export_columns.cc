#include "cli/export_columns.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "io/table.h"
#include "query/result_json.h"

namespace sextant::cli {

using ordered_json = nlohmann::ordered_json;

namespace {

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
    SEXTANT_RETURN_IF_ERROR(CheckExportColumns(columns, objects.front(), {}, "--columns"));
  }
  if (format == io::ExportFormat::kJsonl) {
    for (const ordered_json& row : objects) {
      ordered_json j = ordered_json::object();
      for (const std::string& c : columns) j[c] = ExportColumn(row, c);
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    return Status::OK();
  }
  io::WriteCsvRow(out, columns);
  std::vector<std::string> fields;
  for (const ordered_json& row : objects) {
    fields.clear();
    for (const std::string& c : columns) fields.push_back(CsvText(ExportColumn(row, c)));
    io::WriteCsvRow(out, fields);
  }
  return Status::OK();
}

}  // namespace sextant::cli
