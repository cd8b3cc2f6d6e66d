// Tabular input for `sextant import`: CSV and JSON Lines files read into an
// in-memory table of strings, and CSV writing.
//
// Every error names the file and the 1-based line number where the problem is
// and says what was expected. Files that cannot be opened give NotFound
// (missing) or IOError; malformed content gives Invalid.
//
// Thread safety: all functions are reentrant.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::io {

// The largest table file read: the whole file is held in memory.
inline constexpr uint64_t kMaxTableBytes = uint64_t{4} << 30;

// A table of string cells. Every row has exactly columns.size() cells.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  // rows[i][j] is column j of data row i
  std::vector<std::vector<bool>> is_null;      // same shape; true for JSON null / missing key

  // Index of the column named `name` (exact, case-sensitive match); -1 when absent.
  int ColumnIndex(std::string_view name) const;
};

// Reads an RFC 4180 CSV file whose first record is the header.
//
// Fields may be quoted with '"'; inside quotes, "" is a literal quote and
// commas, \r and \n are data. Records end with \r\n or \n (a lone \r is also
// accepted); the last one may lack a line end. A leading UTF-8 byte order mark
// is skipped. Lines that are completely empty are skipped, so a trailing
// newline never adds a row. Fields are not trimmed, and a '"' inside an
// unquoted field is kept as data. CSV cells are never null (is_null is all
// false); an empty field is the empty string.
//
// Invalid, naming the file and line, for: an empty file, a duplicate column
// name, a record whose field count differs from the header's ("data.csv line
// 17: 3 fields; the header has 4"), an unterminated quoted field ("unterminated
// quoted field starting on line 9"), text after a closing quote other than a
// comma or line end, and bytes that are not valid UTF-8.
//
// The file is read in one go and parsed in a single pass (tens of MB/s).
Result<Table> ReadCsv(const std::filesystem::path& path);
// As ReadCsv for `content` already in memory; `path` names it in errors.
// `row_lines`, when given, receives the line on which each data row starts.
Result<Table> ParseCsv(std::string_view content, const std::filesystem::path& path,
                       std::vector<int64_t>* row_lines = nullptr);

// Reads JSON Lines: one JSON object per line; empty and whitespace-only lines
// are skipped. A leading UTF-8 byte order mark is skipped.
//
// Columns are the union of the objects' keys in first-seen order. Cells hold:
// strings as they are (unescaped); numbers and booleans as their JSON text
// (integers without ".0", e.g. "3", "-1.5", "true"); arrays and objects as
// compact JSON text (keys in file order); null, or a key missing from that
// line, as "" with is_null true. If a key repeats within one object, the last
// value wins.
//
// Invalid, naming the file and line, for a line that is not valid JSON or is
// not an object ("data.jsonl line 3: expected a JSON object, got an array").
// An empty file gives a table with no columns and no rows.
Result<Table> ReadJsonl(const std::filesystem::path& path);

// Reads `path` by its extension (case-insensitive): .csv with ReadCsv,
// .jsonl or .ndjson with ReadJsonl. Any other extension is Invalid, naming the
// extension and the choices.
Result<Table> ReadTable(const std::filesystem::path& path);

// Returns `field` as one RFC 4180 CSV field: unchanged unless it contains a
// comma, a double quote, \r or \n, or starts with a UTF-8 byte order mark, in
// which case it is wrapped in double quotes with each inner quote doubled.
std::string CsvEscape(std::string_view field);

// Writes `fields` as one CSV record (CsvEscape'd, comma-separated) followed
// by "\n". A record of a single empty field is written as "" so that ReadCsv,
// which skips empty lines, reads it back. Stream errors are left in `out`'s
// state for the caller to check.
void WriteCsvRow(std::ostream& out, const std::vector<std::string>& fields);

}  // namespace sextant::io
