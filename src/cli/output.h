// How the CLI prints results: sample rows as JSON objects or CSV, progress bars.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sextant/results.h"

namespace sextant::cli {

// The columns of `sextant samples` and `sextant export`, in order.
const std::vector<std::string>& SampleColumns();

nlohmann::ordered_json SampleToJson(const SampleRow& row, const std::vector<std::string>& labels);

enum class Format { kJsonl, kCsv };
Result<Format> ParseFormat(const std::string& name);

// Writes rows in `format`; CSV gets a header row and one column per label for probs.
void WriteSamples(std::ostream& out, Format format, const std::vector<SampleRow>& rows,
                  const std::vector<std::string>& labels);

// NER span rows (`sextant spans`): the columns, one row as JSON, rows in a format.
const std::vector<std::string>& SpanColumns();
nlohmann::ordered_json SpanToJson(const SpanRow& row);
void WriteSpans(std::ostream& out, Format format, const std::vector<SpanRow>& rows);

// A progress callback for ProcessingOptions that draws a bar on stderr when it is a terminal.
void TerminalProgress(const char* stage, int64_t done, int64_t total, void* user);
bool StderrIsTerminal();

}  // namespace sextant::cli
