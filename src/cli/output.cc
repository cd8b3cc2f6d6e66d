#include "cli/output.h"

#include <unistd.h>

#include <cstdio>

#include "io/table.h"
#include "query/result_json.h"

namespace sextant::cli {
using ordered_json = nlohmann::ordered_json;

Result<Format> ParseFormat(const std::string& name) {
  if (name == "jsonl" || name == "json") return Format::kJsonl;
  if (name == "csv") return Format::kCsv;
  return Status::Invalid("format: '" + name + "'; expected jsonl or csv");
}

namespace {
std::string CsvValue(const ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}
}  // namespace

void WriteSamples(std::ostream& out, Format format, const std::vector<SampleRow>& rows,
                  const std::vector<std::string>& labels) {
  if (format == Format::kJsonl) {
    for (const SampleRow& r : rows) out << SampleRowToJson(r, labels).dump() << '\n';
    return;
  }
  const bool with_probs = !rows.empty() && !rows.front().probs.empty();
  // NLI pairs and NER tokens and spans (JSON text in a cell) after the common columns.
  std::vector<std::string> columns = SampleRowFields();
  if (!rows.empty() && rows.front().premise)
    columns.insert(columns.end(), {"premise", "hypothesis"});
  if (!rows.empty() && !rows.front().tokens.empty()) {
    columns.insert(columns.end(), {"text_token_indices", "gold_spans", "pred_spans", "span_errors",
                                   "pred_spans_count", "min_span_confidence"});
  }
  std::vector<std::string> header = columns;
  if (with_probs) {
    for (const std::string& l : labels) header.push_back("prob_" + l);
  }
  io::WriteCsvRow(out, header);
  std::vector<std::string> fields;
  for (const SampleRow& r : rows) {
    ordered_json j = SampleRowToJson(r, labels);
    fields.clear();
    for (const std::string& col : columns) fields.push_back(CsvValue(j[col]));
    if (with_probs) {
      for (float p : r.probs) fields.push_back(ordered_json(p).dump());
    }
    io::WriteCsvRow(out, fields);
  }
}

void WriteExport(std::ostream& out, io::ExportFormat format, const std::vector<SampleRow>& rows,
                 const RunReader& reader) {
  const RunInfo& info = reader.info();
  if (format == io::ExportFormat::kCsv || format == io::ExportFormat::kJsonl) {
    WriteSamples(out, format == io::ExportFormat::kCsv ? Format::kCsv : Format::kJsonl, rows,
                 info.labels);
    return;
  }
  std::vector<ordered_json> objects;
  objects.reserve(rows.size());
  for (const SampleRow& r : rows) objects.push_back(SampleRowToJson(r, info.labels));
  const io::LabelToolOptions tool{info.task, "sextant:" + info.project + "/" + info.run};
  out << (format == io::ExportFormat::kLabelStudio ? io::WriteLabelStudioTasks(objects, tool)
                                                   : io::WriteArgillaRecords(objects, tool));
}

std::string LabelStudioConfigFor(const RunReader& reader) {
  const RunInfo& info = reader.info();
  const bool ner = info.task == "named_entity_recognition";
  return io::LabelStudioConfig(info.task, ner ? reader.entity_types() : info.labels);
}

void WriteSpans(std::ostream& out, Format format, const std::vector<SpanRow>& rows) {
  constexpr SplitField kSplit = SplitField::kNameAndInferenceName;
  if (format == Format::kJsonl) {
    for (const SpanRow& r : rows) out << SpanRowToJson(r, kSplit).dump() << '\n';
    return;
  }
  const std::vector<std::string>& columns = SpanRowFields(kSplit);
  io::WriteCsvRow(out, columns);
  std::vector<std::string> fields;
  for (const SpanRow& r : rows) {
    const ordered_json j = SpanRowToJson(r, kSplit);
    fields.clear();
    for (const std::string& col : columns) fields.push_back(CsvValue(j[col]));
    io::WriteCsvRow(out, fields);
  }
}

bool StderrIsTerminal() { return ::isatty(2) != 0; }

void TerminalProgress(const char* stage, int64_t done, int64_t total, void*) {
  if (!StderrIsTerminal() || total <= 0) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total);
  std::fprintf(stderr, "\r%-28s [%.*s%*s] %3d%%", stage, filled, "##############################",
               kWidth - filled, "", static_cast<int>(100 * done / total));
  if (done >= total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace sextant::cli
