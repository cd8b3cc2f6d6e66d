// Reading labels that come back from labelers (io/label_import.h).
#include "io/label_import.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing.h"

namespace sextant::io {
namespace {

Result<LabelFile> Csv(const std::string& s) {
  return ParseLabelFile(s, "labels.csv", LabelFileFormat::kCsv);
}
Result<LabelFile> Jsonl(const std::string& s) {
  return ParseLabelFile(s, "labels.jsonl", LabelFileFormat::kJsonl);
}
Result<LabelFile> Studio(const std::string& s) {
  return ParseLabelFile(s, "export.json", LabelFileFormat::kLabelStudio);
}

TEST(LabelImport, CsvOfIdAndLabelWithOtherColumnsIgnored) {
  ASSERT_OK_AND_ASSIGN(LabelFile f, Csv("text,id,label\r\n\"a, b\",s1,pos\r\nc,s2,neg\r\n"));
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].id, "s1");
  EXPECT_EQ(f.entries[0].label, "pos");
  EXPECT_EQ(f.entries[1].where, "labels.csv line 3");
  ASSERT_OK_AND_ASSIGN(f, Csv("sextant_id,label\ns9,neg\n"));
  EXPECT_EQ(f.entries[0].id, "s9");
}

TEST(LabelImport, JsonlOfIdAndLabel) {
  ASSERT_OK_AND_ASSIGN(LabelFile f,
                       Jsonl("{\"id\": \"s1\", \"label\": \"pos\"}\n\n{\"sextant_id\": 7, "
                             "\"label\": \"neg\", \"note\": \"x\"}\n"));
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[1].id, "7");
  EXPECT_EQ(f.entries[1].where, "labels.jsonl line 3");
}

TEST(LabelImport, EmptyFilesAndMissingColumnsAreErrors) {
  EXPECT_STATUS(Csv(""), kInvalidArgument, "labels.csv", "empty");
  EXPECT_STATUS(Csv("id,label\n"), kInvalidArgument, "labels.csv", "no labels");
  EXPECT_STATUS(Jsonl(""), kInvalidArgument, "labels.jsonl", "no labels");
  EXPECT_STATUS(Csv("id,class\ns1,pos\n"), kInvalidArgument, "labels.csv", "'label'",
                "[id, class]");
  EXPECT_STATUS(Jsonl("{\"id\": \"s1\"}\n"), kInvalidArgument, "labels.jsonl line 1", "'label'");
  EXPECT_STATUS(Jsonl("{\"id\": \"s1\", \"label\": \"pos\"}\n[1]\n"), kInvalidArgument,
                "labels.jsonl line 2", "JSON object");
  EXPECT_STATUS(Studio("[]"), kInvalidArgument, "export.json", "no labels");
  EXPECT_STATUS(Studio("{not json"), kInvalidArgument, "export.json", "not valid JSON");
}

TEST(LabelImport, DuplicateIdsAndEmptyCellsNameTheLines) {
  EXPECT_STATUS(Csv("id,label\ns1,pos\ns2,neg\ns1,neg\n"), kInvalidArgument, "labels.csv line 4",
                "'s1'", "twice", "line 2");
  EXPECT_STATUS(Csv("id,label\ns1,\n"), kInvalidArgument, "labels.csv line 2", "'s1'",
                "empty label");
  EXPECT_STATUS(Csv("id,label\n,pos\n"), kInvalidArgument, "labels.csv line 2", "empty id");
}

constexpr const char* kStudioExport = R"json([
  {"id": 11, "data": {"text": "good", "sextant_id": "s1"},
   "annotations": [
     {"id": 1, "was_cancelled": false, "updated_at": "2026-01-01T10:00:00Z",
      "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                  "value": {"choices": ["neg"]}}]},
     {"id": 2, "was_cancelled": false, "updated_at": "2026-01-02T10:00:00Z",
      "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                  "value": {"choices": ["pos"]}}]},
     {"id": 3, "was_cancelled": true, "updated_at": "2026-01-03T10:00:00Z",
      "result": [{"type": "choices", "value": {"choices": ["neg"]}}]}],
   "predictions": [{"result": [{"type": "choices", "value": {"choices": ["neg"]}}]}]},
  {"id": 12, "data": {"text": "meh", "sextant_id": "s2"}, "annotations": []},
  {"id": 13, "data": {"text": "bad", "sextant_id": "s3"},
   "annotations": [{"result": [{"type": "choices", "value": {"choices": ["neg"]}}]}]}
])json";

TEST(LabelImport, LabelStudioTakesTheLatestAnnotationNotCancelled) {
  ASSERT_OK_AND_ASSIGN(LabelFile f, Studio(kStudioExport));
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].id, "s1");
  EXPECT_EQ(f.entries[0].label, "pos") << "annotation 2 is newest; 3 was cancelled";
  EXPECT_EQ(f.entries[1].id, "s3");
  EXPECT_EQ(f.skipped, 1) << "s2 has no annotation yet";
}

TEST(LabelImport, LabelStudioJsonMinExport) {
  ASSERT_OK_AND_ASSIGN(LabelFile f, Studio(R"([{"sextant_id": "s1", "text": "x", "label": "pos"},
     {"sextant_id": "s2", "label": {"choices": ["neg"]}}, {"sextant_id": "s3"}])"));
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[1].label, "neg");
  EXPECT_EQ(f.skipped, 1);
}

TEST(LabelImport, LabelStudioErrorsNameTheTaskAndId) {
  EXPECT_STATUS(Studio(R"([{"data": {"text": "x"}, "annotations": []}])"), kInvalidArgument,
                "export.json task 1", "sextant_id");
  EXPECT_STATUS(Studio(R"([{"data": {"sextant_id": "s1"}, "annotations": [{"result": [
                  {"type": "labels", "value": {"start": 0, "end": 2, "labels": ["PER"]}}]}]}])"),
                kInvalidArgument, "task 1", "'s1'", "NER", "not", "yet");
  EXPECT_STATUS(Studio(R"([{"data": {"sextant_id": "s1"}, "annotations": [{"result": [
                  {"type": "choices", "value": {"choices": ["a", "b"]}}]}]}])"),
                kInvalidArgument, "task 1", "'s1'", "exactly one choice");
  EXPECT_STATUS(Studio(R"([{"data": {"sextant_id": "s1"}, "annotations": [{"was_cancelled": true,
                  "result": []}]}])"),
                kInvalidArgument, "export.json", "cancelled");
  EXPECT_STATUS(Studio(R"([{"data": {"sextant_id": "s1"}, "annotations": [{"result": [
                  {"type": "choices", "value": {"choices": ["a"]}}]}]},
                  {"data": {"sextant_id": "s1"}, "annotations": [{"result": [
                  {"type": "choices", "value": {"choices": ["b"]}}]}]}])"),
                kInvalidArgument, "task 2", "'s1'", "twice", "task 1");
}

TEST(LabelImport, FormatsByNameAndExtension) {
  ASSERT_OK_AND_ASSIGN(LabelFileFormat f, LabelFileFormatForPath("done.json"));
  EXPECT_EQ(f, LabelFileFormat::kLabelStudio);
  ASSERT_OK_AND_ASSIGN(f, ParseLabelFileFormat("jsonl"));
  EXPECT_EQ(f, LabelFileFormat::kJsonl);
  EXPECT_STATUS(LabelFileFormatForPath("x.xlsx"), kInvalidArgument, "'.xlsx'", "--format");
  EXPECT_STATUS(ParseLabelFileFormat("xml"), kInvalidArgument, "'xml'", "csv");
}

TEST(LabelImport, ReadsAFileAndNamesItInErrors) {
  testing::TempDir dir;
  const auto path = dir.path() / "l.csv";
  std::ofstream(path) << "id,label\ns1,pos\ns1,neg\n";
  EXPECT_STATUS(ReadLabelFile(path, LabelFileFormat::kCsv), kInvalidArgument,
                path.string() + " line 3");
  EXPECT_STATUS(ReadLabelFile(dir.path() / "missing.csv", LabelFileFormat::kCsv), kNotFound);
}

}  // namespace
}  // namespace sextant::io
