// How the CLI prints results: sample rows as JSON objects or CSV, progress bars.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "io/label_formats.h"
#include "sextant/results.h"

namespace sextant::cli {

enum class Format { kJsonl, kCsv };
Result<Format> ParseFormat(const std::string& name);

// Sample rows (`sextant samples`, `sextant export`) in `format`; CSV gets a
// header row and one column per label for probs.
void WriteSamples(std::ostream& out, Format format, const std::vector<SampleRow>& rows,
                  const std::vector<std::string>& labels);

// Sample rows in an export format: csv and jsonl as WriteSamples, labelstudio
// and argilla as io/label_formats.h writes them (the run's task, and
// "sextant:<project>/<run>" as the predictions' model version).
void WriteExport(std::ostream& out, io::ExportFormat format, const std::vector<SampleRow>& rows,
                 const RunReader& reader);
// The Label Studio labeling configuration (XML) for the run's task and labels.
std::string LabelStudioConfigFor(const RunReader& reader);

// NER span rows (`sextant spans`) in a format. The JSON of a sample or span
// row, and the CSV columns, are query/result_json.h's.
void WriteSpans(std::ostream& out, Format format, const std::vector<SpanRow>& rows);

// A progress callback for ProcessingOptions that draws a bar on stderr when it is a terminal.
void TerminalProgress(const char* stage, int64_t done, int64_t total, void* user);
bool StderrIsTerminal();

}  // namespace sextant::cli
