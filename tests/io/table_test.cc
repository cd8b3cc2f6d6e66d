#include "io/table.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "testing.h"

namespace sextant::io {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;
using Rows = std::vector<std::vector<std::string>>;

fs::path WriteFile(const TempDir& dir, const std::string& name, const std::string& content) {
  fs::path path = dir.path() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

Result<Table> Csv(const std::string& content) {
  TempDir dir;
  return ReadCsv(WriteFile(dir, "data.csv", content));
}

Result<Table> Jsonl(const std::string& content) {
  TempDir dir;
  return ReadJsonl(WriteFile(dir, "data.jsonl", content));
}

// Expects `status` to be Invalid with every one of `parts` in its message.
void ExpectInvalid(const Status& status, std::initializer_list<std::string> parts) {
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  for (const std::string& part : parts) {
    EXPECT_NE(status.message().find(part), std::string::npos)
        << "message: " << status.message() << "\nmissing: " << part;
  }
}

void ExpectNoNulls(const Table& t) {
  ASSERT_EQ(t.is_null.size(), t.rows.size());
  for (size_t i = 0; i < t.rows.size(); ++i) {
    ASSERT_EQ(t.is_null[i].size(), t.columns.size());
    ASSERT_EQ(t.rows[i].size(), t.columns.size());
    for (bool b : t.is_null[i]) EXPECT_FALSE(b);
  }
}

// ----- CSV ------------------------------------------------------------------

TEST(Csv, ReadsHeaderAndRows) {
  ASSERT_OK_AND_ASSIGN(Table t, Csv("id,text,label\na1,hello world,1\na2,bye,0\n"));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"id", "text", "label"}));
  EXPECT_EQ(t.rows, (Rows{{"a1", "hello world", "1"}, {"a2", "bye", "0"}}));
  ExpectNoNulls(t);
  EXPECT_EQ(t.ColumnIndex("id"), 0);
  EXPECT_EQ(t.ColumnIndex("label"), 2);
  EXPECT_EQ(t.ColumnIndex("Label"), -1);
  EXPECT_EQ(t.ColumnIndex("missing"), -1);
}

TEST(Csv, QuotedCommasNewlinesAndEscapedQuotes) {
  ASSERT_OK_AND_ASSIGN(Table t, Csv("id,text\n"
                                    "1,\"a, b\"\n"
                                    "2,\"line one\nline two\"\n"
                                    "3,\"she said \"\"hi\"\"\"\n"
                                    "4,\"\"\"\"\n"
                                    "5,\",\"\n"));
  EXPECT_EQ(t.rows, (Rows{{"1", "a, b"},
                          {"2", "line one\nline two"},
                          {"3", "she said \"hi\""},
                          {"4", "\""},
                          {"5", ","}}));
}

TEST(Csv, EmptyFields) {
  ASSERT_OK_AND_ASSIGN(Table t, Csv("a,b,c\n,,\n1,,3\n\"\",x,\"\"\n,,z"));
  EXPECT_EQ(t.rows, (Rows{{"", "", ""}, {"1", "", "3"}, {"", "x", ""}, {"", "", "z"}}));
  ExpectNoNulls(t);
  // A trailing comma at the very end of the file is a last, empty field.
  ASSERT_OK_AND_ASSIGN(Table t2, Csv("a,b\nx,"));
  EXPECT_EQ(t2.rows, (Rows{{"x", ""}}));
}

TEST(Csv, TrailingNewlineOrNot) {
  ASSERT_OK_AND_ASSIGN(Table with, Csv("a,b\n1,2\n3,4\n"));
  ASSERT_OK_AND_ASSIGN(Table without, Csv("a,b\n1,2\n3,4"));
  EXPECT_EQ(with.rows, (Rows{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(without.rows, with.rows);
  ASSERT_OK_AND_ASSIGN(Table quoted_last, Csv("a,b\n1,\"2\""));
  EXPECT_EQ(quoted_last.rows, (Rows{{"1", "2"}}));
  ASSERT_OK_AND_ASSIGN(Table header_only, Csv("a,b"));
  EXPECT_EQ(header_only.columns, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(header_only.rows.empty());
  EXPECT_TRUE(header_only.is_null.empty());
}

TEST(Csv, CrlfLineEnds) {
  ASSERT_OK_AND_ASSIGN(Table t, Csv("a,b\r\n1,2\r\n\"x\r\ny\",\"q\"\r\n"));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a", "b"}));
  // Line ends inside quotes are data and kept as written.
  EXPECT_EQ(t.rows, (Rows{{"1", "2"}, {"x\r\ny", "q"}}));
}

TEST(Csv, SkipsBomAndBlankLines) {
  ASSERT_OK_AND_ASSIGN(Table t, Csv("\xEF\xBB\xBFid,text\n\n1,a\n\r\n\n2,b\n\n"));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"id", "text"}));
  EXPECT_EQ(t.ColumnIndex("id"), 0);
  EXPECT_EQ(t.rows, (Rows{{"1", "a"}, {"2", "b"}}));
}

TEST(Csv, KeepsSpacesUnicodeAndStrayQuotes) {
  ASSERT_OK_AND_ASSIGN(Table t, Csv("name,text\n  padded  ,a 5\" screen\ncafé,日本語 ✓\n"));
  EXPECT_EQ(t.rows, (Rows{{"  padded  ", "a 5\" screen"}, {"café", "日本語 ✓"}}));
}

TEST(Csv, ErrorFieldCountNamesFileAndLine) {
  // The quoted newline in record 2 makes the bad record start on line 4.
  Status st = Csv("id,text,label,domain\n"
                  "1,\"two\nlines\",0,d\n"
                  "2,too,few\n")
                  .status();
  ExpectInvalid(st, {"data.csv line 4: 3 fields; the header has 4"});
  ExpectInvalid(Csv("a,b\n1,2,3\n").status(), {"data.csv line 2: 3 fields; the header has 2"});
  ExpectInvalid(Csv("a,b\r\n1,2\r\n\r\nlonely\r\n").status(),
                {"data.csv line 4: 1 field; the header has 2"});
}

TEST(Csv, ErrorUnterminatedQuote) {
  std::string content = "id,text\n";
  for (int i = 2; i <= 8; ++i) content += std::to_string(i) + ",ok\n";
  content += "9,\"never closed\n10,more\n11,rows\n";
  ExpectInvalid(Csv(content).status(),
                {"data.csv", "unterminated quoted field starting on line 9"});
}

TEST(Csv, ErrorTextAfterClosingQuote) {
  ExpectInvalid(
      Csv("a,b\n1,2\n\"x\"y,3\n").status(),
      {"data.csv line 3", "unexpected 'y' after the closing quote of field 1", "expected a comma"});
}

TEST(Csv, ErrorEmptyFileDuplicateColumnsAndBadUtf8) {
  ExpectInvalid(Csv("").status(), {"data.csv", "empty", "header"});
  ExpectInvalid(Csv("\n\n").status(), {"data.csv", "empty"});
  ExpectInvalid(Csv("id,text,id\n1,2,3\n").status(),
                {"data.csv line 1", "column 'id' appears more than once"});
  // Latin-1 "é" (0xE9) on line 3.
  ExpectInvalid(Csv("a,b\n1,ok\n2,caf\xE9\n").status(),
                {"data.csv line 3", "invalid UTF-8", "0xE9"});
}

TEST(Csv, MissingFileIsNotFound) {
  TempDir dir;
  auto r = ReadCsv(dir.path() / "nope.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("nope.csv"), std::string::npos);
}

TEST(Csv, EscapeQuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvEscape("plain text"), "plain text");
  EXPECT_EQ(CsvEscape(""), "");
  EXPECT_EQ(CsvEscape("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvEscape("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvEscape("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvEscape("cr\r"), "\"cr\r\"");
  std::ostringstream out;
  WriteCsvRow(out, {"id", "a,b", "", "q\""});
  EXPECT_EQ(out.str(), "id,\"a,b\",,\"q\"\"\"\n");
}

TEST(Csv, EscapeRoundTripsThroughReadCsv) {
  const std::vector<std::string> header = {"id", "text", "extra"};
  Rows rows = {
      {"1", "plain", ""},
      {"2", "comma, inside", "\"quoted\""},
      {"3", "new\nline", "crlf\r\ninside"},
      {"4", "", ""},
      {"5", "  spaces  ", "\"\""},
      {"6", "trailing quote\"", ",,,"},
      {"7", "unicode ✓ café", "lone\rcr"},
  };
  // Random fields drawn from the characters that matter.
  std::mt19937 rng(7);
  const std::string alphabet = "ab ,\"\r\n";
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> row = {"r" + std::to_string(i)};
    for (int c = 0; c < 2; ++c) {
      std::string f;
      for (int k = static_cast<int>(rng() % 8); k > 0; --k) f += alphabet[rng() % alphabet.size()];
      row.push_back(f);
    }
    rows.push_back(row);
  }
  TempDir dir;
  fs::path path = dir.path() / "round.csv";
  {
    std::ofstream out(path, std::ios::binary);
    WriteCsvRow(out, header);
    for (const auto& row : rows) WriteCsvRow(out, row);
    ASSERT_TRUE(out.good());
  }
  ASSERT_OK_AND_ASSIGN(Table t, ReadCsv(path));
  EXPECT_EQ(t.columns, header);
  EXPECT_EQ(t.rows, rows);
}

TEST(Csv, SingleEmptyFieldRowRoundTrips) {
  TempDir dir;
  fs::path path = dir.path() / "one.csv";
  {
    std::ofstream out(path, std::ios::binary);
    WriteCsvRow(out, {"text"});
    WriteCsvRow(out, {""});
    WriteCsvRow(out, {"x"});
  }
  ASSERT_OK_AND_ASSIGN(Table t, ReadCsv(path));
  EXPECT_EQ(t.rows, (Rows{{""}, {"x"}}));
}

TEST(Csv, ReadsSixtyThousandQuotedRows) {
  TempDir dir;
  fs::path path = dir.path() / "big.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "id,text,label,domain\n";
    for (int i = 0; i < 60000; ++i) {
      out << "sample-" << i << ",\"a review, with a comma and \"\"quotes\"\" that goes on for a "
          << "while to reach about a hundred bytes\"," << (i % 2) << ",movies\n";
    }
  }
  ASSERT_GT(fs::file_size(path), 6'000'000u);
  // Speed is measured by bench/, not asserted here.
  ASSERT_OK_AND_ASSIGN(Table t, ReadCsv(path));
  EXPECT_EQ(t.rows.size(), 60000u);
  EXPECT_EQ(t.rows[59999][0], "sample-59999");
  EXPECT_EQ(t.rows[0][1],
            "a review, with a comma and \"quotes\" that goes on for a while to reach about a "
            "hundred bytes");
}

TEST(Csv, ReadsSst2ValidationFromSextantData) {
  const char* data = std::getenv("SEXTANT_DATA");
  if (data == nullptr || *data == '\0') GTEST_SKIP() << "SEXTANT_DATA is not set";
  const fs::path path = fs::path(data) / "sst2" / "validation.csv";
  if (!fs::exists(path)) GTEST_SKIP() << path << " does not exist";
  ASSERT_OK_AND_ASSIGN(Table t, ReadCsv(path));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"id", "text", "label", "domain"}));
  EXPECT_EQ(t.rows.size(), 6735u);
  for (const auto& row : t.rows) {
    ASSERT_EQ(row.size(), 4u);
    ASSERT_TRUE(row[2] == "0" || row[2] == "1") << row[0] << " label " << row[2];
  }
  EXPECT_EQ(t.rows[0][0], "sst2-validation-000000");
  // ReadTable dispatches to the same reader.
  ASSERT_OK_AND_ASSIGN(Table same, ReadTable(path));
  EXPECT_EQ(same.rows, t.rows);
}

// ----- JSON Lines -----------------------------------------------------------

TEST(Jsonl, StringsNumbersAndBools) {
  ASSERT_OK_AND_ASSIGN(
      Table t, Jsonl("{\"id\": \"a\", \"n\": 3, \"x\": -1.5, \"ok\": true, \"neg\": -7, "
                     "\"big\": 18446744073709551615, \"f\": 2.0, \"e\": 1e-3}\n"
                     "{\"id\": \"caf\\u00e9 \\\"q\\\"\\n\", \"n\": 0, \"x\": 0.1, \"ok\": false, "
                     "\"neg\": 0, \"big\": 1, \"f\": 0.5, \"e\": 0}\n"));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"id", "n", "x", "ok", "neg", "big", "f", "e"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"a", "3", "-1.5", "true", "-7",
                                                 "18446744073709551615", "2.0", "0.001"}));
  EXPECT_EQ(t.rows[1],
            (std::vector<std::string>{"café \"q\"\n", "0", "0.1", "false", "0", "1", "0.5", "0"}));
  ExpectNoNulls(t);
}

TEST(Jsonl, NullsAndMissingKeys) {
  ASSERT_OK_AND_ASSIGN(Table t, Jsonl("{\"id\": \"1\", \"label\": null}\n"
                                      "{\"id\": \"2\", \"label\": 1, \"score\": 0.5}\n"
                                      "{\"score\": 2, \"id\": \"3\"}\n"));
  // Union of keys in first-seen order.
  EXPECT_EQ(t.columns, (std::vector<std::string>{"id", "label", "score"}));
  EXPECT_EQ(t.rows, (Rows{{"1", "", ""}, {"2", "1", "0.5"}, {"3", "", "2"}}));
  EXPECT_EQ(t.is_null, (std::vector<std::vector<bool>>{
                           {false, true, true}, {false, false, false}, {false, true, false}}));
  // An empty string is a value, not a null.
  ASSERT_OK_AND_ASSIGN(Table e, Jsonl("{\"text\": \"\"}\n"));
  EXPECT_EQ(e.rows, (Rows{{""}}));
  EXPECT_FALSE(e.is_null[0][0]);
}

TEST(Jsonl, NestedValuesAsCompactJson) {
  ASSERT_OK_AND_ASSIGN(
      Table t, Jsonl("{\"tags\": [\"a\", \"b\"], \"meta\": {\"z\": 1, \"a\": [1, 2.5, null]}, "
                     "\"empty\": {}, \"list\": []}\n"));
  EXPECT_EQ(t.rows, (Rows{{"[\"a\",\"b\"]", "{\"z\":1,\"a\":[1,2.5,null]}", "{}", "[]"}}));
}

TEST(Jsonl, SkipsBlankLinesAndHandlesCrlf) {
  ASSERT_OK_AND_ASSIGN(Table t, Jsonl("\xEF\xBB\xBF{\"a\": 1}\r\n\r\n   \n{\"a\": 2}\r\n\n"));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a"}));
  EXPECT_EQ(t.rows, (Rows{{"1"}, {"2"}}));
  ASSERT_OK_AND_ASSIGN(Table empty, Jsonl(""));
  EXPECT_TRUE(empty.columns.empty());
  EXPECT_TRUE(empty.rows.empty());
}

TEST(Jsonl, ErrorNotAnObject) {
  ExpectInvalid(Jsonl("{\"a\": 1}\n\n[1, 2]\n").status(),
                {"data.jsonl line 3: expected a JSON object", "an array"});
  ExpectInvalid(Jsonl("\"text\"\n").status(), {"data.jsonl line 1: expected a JSON object"});
  ExpectInvalid(Jsonl("{\"a\": 1}\n42\n").status(), {"data.jsonl line 2: expected a JSON object"});
}

TEST(Jsonl, ErrorInvalidJson) {
  Status st = Jsonl("{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": tru}\n").status();
  ExpectInvalid(st, {"data.jsonl line 4", "invalid JSON", "column"});
  EXPECT_EQ(st.message().find("json.exception"), std::string::npos) << st.message();
  // Two objects on one line.
  ExpectInvalid(Jsonl("{\"a\": 1} {\"a\": 2}\n").status(), {"data.jsonl line 1", "invalid JSON"});
  // Invalid UTF-8 inside a string.
  ExpectInvalid(Jsonl("{\"a\": \"caf\xE9\"}\n").status(), {"data.jsonl line 1", "invalid JSON"});
}

// ----- ReadTable ------------------------------------------------------------

TEST(Csv, ReadTableDispatchesByExtension) {
  TempDir dir;
  const std::string csv = "a,b\n1,2\n";
  const std::string jsonl = "{\"a\": \"1\", \"b\": 2}\n";
  for (const char* name : {"t.csv", "T.CSV"}) {
    ASSERT_OK_AND_ASSIGN(Table t, ReadTable(WriteFile(dir, name, csv)));
    EXPECT_EQ(t.rows, (Rows{{"1", "2"}})) << name;
  }
  for (const char* name : {"t.jsonl", "t.ndjson", "T.JSONL"}) {
    ASSERT_OK_AND_ASSIGN(Table t, ReadTable(WriteFile(dir, name, jsonl)));
    EXPECT_EQ(t.rows, (Rows{{"1", "2"}})) << name;
  }
  ExpectInvalid(ReadTable(WriteFile(dir, "t.txt", csv)).status(),
                {"t.txt", "'.txt'", ".csv, .jsonl or .ndjson"});
  ExpectInvalid(ReadTable(WriteFile(dir, "noext", csv)).status(),
                {"noext", "no file extension", ".csv, .jsonl or .ndjson"});
}

// ----- Hostile input (found by the fuzz targets in fuzz/ and issue 12) -----

// A line nested 200,000 deep used to overflow the stack (SIGSEGV) when the
// parsed value was dumped or copied; it is refused before parsing.
TEST(Jsonl, DeepNestingIsRefusedNotACrash) {
  const std::string deep = "{\"a\": " + std::string(200000, '[') + std::string(200000, ']') + "}\n";
  ExpectInvalid(Jsonl("{\"a\": 1}\n" + deep).status(),
                {"data.jsonl line 2", "nested more than 256 levels"});
  // Brackets inside strings do not count; moderate nesting is read.
  const std::string nested = "{\"a\": " + std::string(100, '[') + std::string(100, ']') +
                             ", \"b\": \"" + std::string(1000, '[') + "\"}\n";
  ASSERT_OK_AND_ASSIGN(Table t, Jsonl(nested));
  EXPECT_EQ(t.rows[0][1], std::string(1000, '['));
}

// A first field starting with a byte order mark was written bare, and read
// back without it (found by fuzz/csv_fuzzer: "\xEF\xBB\xBF\xEF\xBB\xBF,").
TEST(Csv, LeadingByteOrderMarkInAFieldRoundTrips) {
  TempDir dir;
  const std::string bom = "\xEF\xBB\xBF";
  EXPECT_EQ(CsvEscape(bom + "a"), "\"" + bom + "a\"");
  std::ostringstream out;
  WriteCsvRow(out, {bom, "b"});
  WriteCsvRow(out, {"1", "2"});
  ASSERT_OK_AND_ASSIGN(Table t, ReadCsv(WriteFile(dir, "bom.csv", out.str())));
  EXPECT_EQ(t.columns, (std::vector<std::string>{bom, "b"}));
}

// A device used to be read until memory ran out (`--data /dev/zero` through
// a .csv link); only regular files and pipes are read.
TEST(Csv, DevicesAndDirectoriesAreRefused) {
  TempDir dir;
  const fs::path zero_csv = dir.path() / "zero.csv";
  fs::create_symlink("/dev/zero", zero_csv);
  ExpectInvalid(ReadCsv(zero_csv).status(), {"zero.csv", "a character device", "regular file"});
  const fs::path zero_jsonl = dir.path() / "zero.jsonl";
  fs::create_symlink("/dev/zero", zero_jsonl);
  ExpectInvalid(ReadTable(zero_jsonl).status(), {"zero.jsonl", "a character device"});
  fs::create_directory(dir.path() / "d.csv");
  ExpectInvalid(ReadCsv(dir.path() / "d.csv").status(), {"d.csv", "a directory"});
}

}  // namespace
}  // namespace sextant::io
