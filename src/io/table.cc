#include "io/table.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/json_depth.h"
#include "common/utf8.h"

namespace sextant::io {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

Status ErrnoStatus(const std::string& what, const fs::path& path, int err) {
  std::string msg = what + " '" + path.string() + "': " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

// The whole file in one string, with one read() per chunk rather than
// per-character stream reads.
//
// Only regular files and pipes are read (a device such as /dev/zero would be
// read until memory runs out), and at most kMaxTableBytes of them.
Result<std::string> ReadWholeFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  std::string content;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    ::close(fd);
    const char* kind = S_ISCHR(st.st_mode)    ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISDIR(st.st_mode)  ? "a directory"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    return Status::Invalid(path.string() + ": is " + kind +
                           "; expected a regular file (or a pipe)");
  }
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxTableBytes) {
    ::close(fd);
    return Status::Invalid(path.string() + ": " + std::to_string(st.st_size) +
                           " bytes; tables of at most " + std::to_string(kMaxTableBytes) +
                           " bytes are read (split the file)");
  }
  if (S_ISREG(st.st_mode)) content.reserve(st.st_size);
  char buf[1 << 16];
  while (true) {
    if (content.size() > kMaxTableBytes) {
      ::close(fd);
      return Status::Invalid(path.string() + ": more than " + std::to_string(kMaxTableBytes) +
                             " bytes; tables of at most that size are read (split the input)");
    }
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus("cannot read", path, err);
    }
    if (got == 0) break;
    content.append(buf, static_cast<size_t>(got));
  }
  ::close(fd);
  return content;
}

// Counts line breaks (\r\n, \n or a lone \r) in text[begin, end).
int64_t CountLineBreaks(std::string_view text, size_t begin, size_t end) {
  int64_t n = 0;
  for (size_t i = begin; i < end; ++i) {
    if (text[i] == '\n') {
      ++n;
    } else if (text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n')) {
      ++n;
    }
  }
  return n;
}

std::string Describe(char c) { return DescribeByte(c); }

// A single-pass RFC 4180 record reader over an in-memory buffer.
class CsvParser {
 public:
  CsvParser(const fs::path& path, std::string_view text) : path_(path), text_(text) {}

  // Reads the next non-empty record into `fields` and its first line into
  // `start_line`. Returns false at the end of the input.
  Result<bool> Next(std::vector<std::string>* fields, int64_t* start_line) {
    const size_t n = text_.size();
    while (pos_ < n && (text_[pos_] == '\n' || text_[pos_] == '\r')) ConsumeLineEnd();
    if (pos_ >= n) return false;
    *start_line = line_;
    while (true) {
      std::string field;
      if (text_[pos_] == '"') {
        SEXTANT_RETURN_IF_ERROR(ReadQuoted(&field, fields->size() + 1));
      } else {
        size_t end = pos_;
        while (end < n && text_[end] != ',' && text_[end] != '\n' && text_[end] != '\r') ++end;
        field.assign(text_.data() + pos_, end - pos_);
        pos_ = end;
      }
      fields->push_back(std::move(field));
      if (pos_ >= n) return true;
      if (text_[pos_] == ',') {
        ++pos_;
        if (pos_ >= n) {  // "a,b," at the very end: a last, empty field
          fields->emplace_back();
          return true;
        }
        continue;
      }
      ConsumeLineEnd();
      return true;
    }
  }

 private:
  void ConsumeLineEnd() {
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  // Reads a quoted field starting at the opening quote at pos_.
  Status ReadQuoted(std::string* field, size_t field_number) {
    const int64_t start_line = line_;
    const size_t n = text_.size();
    ++pos_;
    while (true) {
      const void* q = std::memchr(text_.data() + pos_, '"', n - pos_);
      if (q == nullptr) {
        return Status::Invalid(path_.string() + ": unterminated quoted field starting on line " +
                               std::to_string(start_line) + "; expected a closing '\"'");
      }
      const size_t qpos = static_cast<size_t>(static_cast<const char*>(q) - text_.data());
      line_ += CountLineBreaks(text_, pos_, qpos);
      field->append(text_.data() + pos_, qpos - pos_);
      pos_ = qpos + 1;
      if (pos_ < n && text_[pos_] == '"') {  // "" is an escaped quote
        field->push_back('"');
        ++pos_;
        continue;
      }
      break;
    }
    if (pos_ < n && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r') {
      return Status::Invalid(path_.string() + " line " + std::to_string(line_) + ": unexpected " +
                             Describe(text_[pos_]) + " after the closing quote of field " +
                             std::to_string(field_number) +
                             "; expected a comma or the end of the line (write a quote inside "
                             "a quoted field as \"\")");
    }
    return Status::OK();
  }

  const fs::path& path_;
  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

std::string LowerAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// "an array", "a string", ... for error messages.
std::string JsonKind(const nlohmann::ordered_json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return "a number";
    default:
      return std::string("a ") + v.type_name();
  }
}

// The cell text for a JSON value; sets *is_null for null.
std::string CellText(const nlohmann::ordered_json& v, bool* is_null) {
  *is_null = false;
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      *is_null = true;
      return "";
    case nlohmann::json::value_t::string:
      return v.get_ref<const std::string&>();
    case nlohmann::json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case nlohmann::json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    default:
      return v.dump();  // floats, arrays, objects: compact JSON text
  }
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
// becomes "parse error at column 5: ..." (each parse sees one line).
std::string CleanJsonError(std::string msg) {
  if (!msg.empty() && msg[0] == '[') {
    size_t close = msg.find("] ");
    if (close != std::string::npos) msg.erase(0, close + 2);
  }
  size_t at = msg.find("at line 1, column");
  if (at != std::string::npos) msg.replace(at, std::strlen("at line 1, column"), "at column");
  return msg;
}

}  // namespace

int Table::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

Result<Table> ReadCsv(const fs::path& path) {
  SEXTANT_ASSIGN_OR_RETURN(std::string content, ReadWholeFile(path));
  return ParseCsv(content, path);
}

Result<Table> ParseCsv(std::string_view content, const fs::path& path,
                       std::vector<int64_t>* row_lines) {
  std::string_view text = content;
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  if (size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return Status::Invalid(path.string() + " line " +
                           std::to_string(1 + CountLineBreaks(text, 0, bad)) + ": invalid UTF-8 (" +
                           Describe(text[bad]) +
                           "); expected a UTF-8 encoded file (convert it, e.g. with "
                           "iconv -f latin1 -t utf-8)");
  }

  Table table;
  CsvParser parser(path, text);
  int64_t line = 0;
  SEXTANT_ASSIGN_OR_RETURN(bool has_header, parser.Next(&table.columns, &line));
  if (!has_header) {
    return Status::Invalid(path.string() +
                           ": file is empty; expected a header row of column names");
  }
  std::unordered_set<std::string_view> seen;
  for (const std::string& name : table.columns) {
    if (!seen.insert(name).second) {
      return Status::Invalid(path.string() + " line " + std::to_string(line) + ": column '" + name +
                             "' appears more than once in the header; expected unique names");
    }
  }
  const size_t ncols = table.columns.size();
  // One row per line at most (fewer with quoted newlines or blank lines).
  table.rows.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  while (true) {
    std::vector<std::string> fields;
    fields.reserve(ncols);
    SEXTANT_ASSIGN_OR_RETURN(bool more, parser.Next(&fields, &line));
    if (!more) break;
    if (fields.size() != ncols) {
      return Status::Invalid(path.string() + " line " + std::to_string(line) + ": " +
                             std::to_string(fields.size()) +
                             (fields.size() == 1 ? " field" : " fields") + "; the header has " +
                             std::to_string(ncols) + " (quote fields that contain commas)");
    }
    table.rows.push_back(std::move(fields));
    if (row_lines) row_lines->push_back(line);
  }
  table.is_null.assign(table.rows.size(), std::vector<bool>(ncols, false));
  return table;
}

Result<Table> ReadJsonl(const fs::path& path) {
  SEXTANT_ASSIGN_OR_RETURN(std::string content, ReadWholeFile(path));
  std::string_view text = content;
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());

  Table table;
  std::unordered_map<std::string, int> index;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = path.string() + " line " + std::to_string(line_no) + ": ";
    // Deep nesting is refused before parsing: the parsed value's copies and
    // dumps recurse once per level (200,000 levels overflowed the stack).
    if (JsonNestingDepth(line) > kMaxJsonDepth) {
      return Status::Invalid(where + "JSON nested more than " + std::to_string(kMaxJsonDepth) +
                             " levels deep; expected one flat JSON object per line");
    }
    try {
      nlohmann::ordered_json obj = nlohmann::ordered_json::parse(line);
      if (!obj.is_object()) {
        return Status::Invalid(where + "expected a JSON object, got " + JsonKind(obj));
      }
      std::vector<std::string> row(table.columns.size());
      std::vector<bool> nulls(table.columns.size(), true);
      for (const auto& [key, value] : obj.items()) {
        auto [it, inserted] = index.try_emplace(key, static_cast<int>(table.columns.size()));
        if (inserted) {
          table.columns.push_back(key);
          row.resize(table.columns.size());
          nulls.resize(table.columns.size(), true);
        }
        bool is_null = false;
        row[it->second] = CellText(value, &is_null);
        nulls[it->second] = is_null;
      }
      table.rows.push_back(std::move(row));
      table.is_null.push_back(std::move(nulls));
    } catch (const nlohmann::ordered_json::exception& e) {
      return Status::Invalid(where + "invalid JSON: " + CleanJsonError(e.what()) +
                             "; expected one JSON object per line");
    }
  }
  // Rows read before a column first appeared lack it: missing, hence null.
  for (size_t i = 0; i < table.rows.size(); ++i) {
    table.rows[i].resize(table.columns.size());
    table.is_null[i].resize(table.columns.size(), true);
  }
  return table;
}

Result<Table> ReadTable(const fs::path& path) {
  const std::string ext = LowerAscii(path.extension().string());
  if (ext == ".csv") return ReadCsv(path);
  if (ext == ".jsonl" || ext == ".ndjson") return ReadJsonl(path);
  const std::string choices = "expected .csv, .jsonl or .ndjson";
  if (ext.empty()) {
    return Status::Invalid(path.string() + ": no file extension to tell the format; " + choices);
  }
  return Status::Invalid(path.string() + ": unsupported extension '" + path.extension().string() +
                         "'; " + choices);
}

std::string CsvEscape(std::string_view field) {
  // A leading byte order mark is quoted too: unquoted at the start of a file,
  // ReadCsv would skip it (found by fuzz/csv_fuzzer).
  if (field.find_first_of(",\"\r\n") == std::string_view::npos && !field.starts_with(kBom)) {
    return std::string(field);
  }
  std::string out;
  out.reserve(field.size() + 2);
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void WriteCsvRow(std::ostream& out, const std::vector<std::string>& fields) {
  if (fields.size() == 1 && fields[0].empty()) {
    out << "\"\"\n";
    return;
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out << ',';
    out << CsvEscape(fields[i]);
  }
  out << '\n';
}

}  // namespace sextant::io
