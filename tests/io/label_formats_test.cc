// The labeling tools' export formats (io/label_formats.h).
#include "io/label_formats.h"

#include <gtest/gtest.h>

#include "testing.h"

namespace sextant::io {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

ordered_json ClassificationRow() {
  ordered_json r;
  r["id"] = "s1";
  r["split"] = "inference";
  r["inference_name"] = "prod";
  r["text"] = "A \"quoted\", multi-line\ntext, caf\xC3\xA9";
  r["gold"] = nullptr;
  r["pred"] = "positive";
  r["confidence"] = 0.75;
  r["margin"] = 0.5;
  r["dep"] = nullptr;
  r["drift_score"] = 0.9;
  r["is_drifted"] = true;
  r["shift_score"] = 0.97;
  r["is_shifted"] = true;
  r["meta"] = {{"source", "amazon"}, {"text", "meta text"}, {"stars", 4}};
  return r;
}

TEST(LabelStudioTasks, ClassificationTaskCarriesDataScoresAndAChoicesPrediction) {
  const std::string out =
      WriteLabelStudioTasks({ClassificationRow()}, {"text_classification", "sextant:p/r"});
  const json tasks = json::parse(out);
  ASSERT_TRUE(tasks.is_array());
  ASSERT_EQ(tasks.size(), 1u);
  const json& t = tasks[0];
  EXPECT_EQ(t["id"], 1);
  const json& d = t["data"];
  EXPECT_EQ(d["text"], "A \"quoted\", multi-line\ntext, caf\xC3\xA9");  // escaping round-trips
  EXPECT_EQ(d["sextant_id"], "s1");
  EXPECT_EQ(d["split"], "inference:prod");
  EXPECT_EQ(d["pred"], "positive");
  EXPECT_DOUBLE_EQ(d["confidence"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(d["drift_score"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(d["shift_score"].get<double>(), 0.97);
  EXPECT_EQ(d["is_shifted"], true);
  EXPECT_FALSE(d.contains("dep")) << "nulls are left out";
  EXPECT_EQ(d["source"], "amazon");
  EXPECT_EQ(d["stars"], 4);
  EXPECT_EQ(d["meta_text"], "meta text") << "metadata never overwrites the sample's text";
  ASSERT_EQ(t["predictions"].size(), 1u);
  const json& p = t["predictions"][0];
  EXPECT_EQ(p["model_version"], "sextant:p/r");
  EXPECT_DOUBLE_EQ(p["score"].get<double>(), 0.75);
  ASSERT_EQ(p["result"].size(), 1u);
  const json& res = p["result"][0];
  EXPECT_EQ(res["from_name"], "label");
  EXPECT_EQ(res["to_name"], "text");
  EXPECT_EQ(res["type"], "choices");
  EXPECT_EQ(res["value"]["choices"], json::array({"positive"}));
}

TEST(LabelStudioTasks, EmptyExportIsAnEmptyArray) {
  EXPECT_EQ(json::parse(WriteLabelStudioTasks({}, {})), json::array());
}

TEST(LabelStudioTasks, NerSpansBecomeLabelsResultsWithUtf16Offsets) {
  ordered_json r;
  r["id"] = "n1";
  r["split"] = "inference:prod";
  // "😀 Paris and Berlin": the emoji is one code point, two UTF-16 units.
  r["text"] = "\xF0\x9F\x98\x80 Paris and Berlin";
  r["pred"] = "LOC";
  r["confidence"] = 0.6;
  r["pred_spans"] = {{{"start", 2}, {"end", 7}, {"label", "LOC"}, {"span_row", 0}},
                     {{"start", 12}, {"end", 18}, {"label", "LOC"}, {"span_row", 1}}};
  const json t = json::parse(WriteLabelStudioTasks({r}, {"named_entity_recognition", "m"}))[0];
  const json& result = t["predictions"][0]["result"];
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0]["type"], "labels");
  EXPECT_EQ(result[0]["from_name"], "label");
  EXPECT_EQ(result[0]["to_name"], "text");
  EXPECT_EQ(result[0]["value"]["start"], 3);
  EXPECT_EQ(result[0]["value"]["end"], 8);
  EXPECT_EQ(result[0]["value"]["text"], "Paris");
  EXPECT_EQ(result[0]["value"]["labels"], json::array({"LOC"}));
  EXPECT_EQ(result[1]["value"]["text"], "Berlin");
  EXPECT_EQ(result[1]["value"]["start"], 13);
}

TEST(LabelStudioTasks, NliCarriesThePairAndPointsTheChoiceAtThePremise) {
  ordered_json r;
  r["id"] = "p1";
  r["split"] = "test";
  r["text"] = "A man sleeps [SEP] Nobody sleeps";
  r["premise"] = "A man sleeps";
  r["hypothesis"] = "Nobody sleeps";
  r["pred"] = "contradiction";
  r["confidence"] = 0.8;
  const json t = json::parse(WriteLabelStudioTasks({r}, {"natural_language_inference", "m"}))[0];
  EXPECT_EQ(t["data"]["premise"], "A man sleeps");
  EXPECT_EQ(t["data"]["hypothesis"], "Nobody sleeps");
  EXPECT_EQ(t["predictions"][0]["result"][0]["to_name"], "premise");
  EXPECT_EQ(t["predictions"][0]["result"][0]["value"]["choices"][0], "contradiction");
}

TEST(LabelStudioTasks, SuggestionReasonsAreKept) {
  ordered_json r = ClassificationRow();
  r["rank"] = 1;
  r["suggest_score"] = 0.4;
  r["reasons"] = {"uncertain: margin 0.03", "shifted: 0.97"};
  const json d = json::parse(WriteLabelStudioTasks({r}, {}))[0]["data"];
  EXPECT_EQ(d["rank"], 1);
  EXPECT_EQ(d["reasons"].size(), 2u);
}

TEST(LabelStudioTasks, SuggestAnswersBecomeTasksWithTheirReasons) {
  const ordered_json answer = {{"strategy", "default"},
                               {"suggestions",
                                {{{"id", "a1"},
                                  {"split", "inference:prod"},
                                  {"rank", 1},
                                  {"score", 0.9},
                                  {"reasons", {"uncertain: margin 0.03 (lowest 2%)"}},
                                  {"scores", {{"uncertainty", 0.97}}},
                                  {"text", "meh"},
                                  {"pred", "neg"},
                                  {"confidence", 0.51}}}}};
  const json t = json::parse(WriteLabelStudioTasks(SuggestionRows(answer), {}))[0];
  EXPECT_EQ(t["data"]["sextant_id"], "a1");
  EXPECT_EQ(t["data"]["split"], "inference:prod");
  EXPECT_DOUBLE_EQ(t["data"]["suggest_score"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(t["data"]["suggest_scores"]["uncertainty"].get<double>(), 0.97);
  EXPECT_EQ(t["data"]["reasons"][0], "uncertain: margin 0.03 (lowest 2%)");
  EXPECT_DOUBLE_EQ(t["predictions"][0]["score"].get<double>(), 0.51) << "the model's confidence";
  EXPECT_TRUE(SuggestionRows(ordered_json::object()).empty());
}

TEST(ArgillaRecords, ClassificationRecordHasFieldsMetadataAndALabelSuggestion) {
  const std::string out = WriteArgillaRecords({ClassificationRow(), ClassificationRow()},
                                              {"text_classification", "sextant:p/r"});
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << "one JSON object per line";
  const json rec = json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(rec["id"], "s1");
  EXPECT_EQ(rec["fields"], json({{"text", "A \"quoted\", multi-line\ntext, caf\xC3\xA9"}}));
  EXPECT_EQ(rec["metadata"]["split"], "inference:prod");
  EXPECT_DOUBLE_EQ(rec["metadata"]["margin"].get<double>(), 0.5);
  EXPECT_EQ(rec["metadata"]["is_drifted"], true);
  EXPECT_DOUBLE_EQ(rec["metadata"]["shift_score"].get<double>(), 0.97);
  EXPECT_EQ(rec["metadata"]["source"], "amazon");
  EXPECT_FALSE(rec["metadata"].contains("dep"));
  ASSERT_EQ(rec["suggestions"].size(), 1u);
  EXPECT_EQ(rec["suggestions"][0]["question_name"], "label");
  EXPECT_EQ(rec["suggestions"][0]["value"], "positive");
  EXPECT_DOUBLE_EQ(rec["suggestions"][0]["score"].get<double>(), 0.75);
  EXPECT_EQ(rec["suggestions"][0]["agent"], "sextant:p/r");
  EXPECT_EQ(rec["vectors"], json::object());
}

TEST(ArgillaRecords, NliFieldsAreThePairAndNerSuggestsSpansInCodePoints) {
  ordered_json nli;
  nli["id"] = "p1";
  nli["split"] = "test";
  nli["premise"] = "P";
  nli["hypothesis"] = "H";
  nli["pred"] = "entailment";
  const json a = json::parse(WriteArgillaRecords({nli}, {"natural_language_inference", "m"}));
  EXPECT_EQ(a["fields"], json({{"premise", "P"}, {"hypothesis", "H"}}));

  ordered_json ner;
  ner["id"] = "n1";
  ner["split"] = "test";
  ner["text"] = "\xF0\x9F\x98\x80 Paris";
  ner["pred_spans"] = {{{"start", 2}, {"end", 7}, {"label", "LOC"}}};
  const json b = json::parse(WriteArgillaRecords({ner}, {"named_entity_recognition", "m"}));
  EXPECT_EQ(b["suggestions"][0]["question_name"], "spans");
  EXPECT_EQ(b["suggestions"][0]["value"],
            json::array({{{"start", 2}, {"end", 7}, {"label", "LOC"}}}));
}

TEST(LabelStudioConfig, MatchesTheTasksAndEscapesLabels) {
  const std::string tc = LabelStudioConfig("text_classification", {"neg", "a\"b<c>"});
  EXPECT_NE(tc.find("<Text name=\"text\" value=\"$text\"/>"), std::string::npos);
  EXPECT_NE(tc.find("<Choices name=\"label\" toName=\"text\""), std::string::npos);
  EXPECT_NE(tc.find("<Choice value=\"a&quot;b&lt;c&gt;\"/>"), std::string::npos);
  const std::string nli = LabelStudioConfig("natural_language_inference", {"entailment"});
  EXPECT_NE(nli.find("value=\"$premise\""), std::string::npos);
  EXPECT_NE(nli.find("toName=\"premise\""), std::string::npos);
  const std::string ner = LabelStudioConfig("named_entity_recognition", {"PER", "LOC"});
  EXPECT_NE(ner.find("<Labels name=\"label\" toName=\"text\">"), std::string::npos);
  EXPECT_NE(ner.find("<Label value=\"LOC\"/>"), std::string::npos);
}

TEST(ExportFormat, NamesAndExtensions) {
  ASSERT_OK_AND_ASSIGN(ExportFormat f, ParseExportFormat("LabelStudio"));
  EXPECT_EQ(f, ExportFormat::kLabelStudio);
  ASSERT_OK_AND_ASSIGN(f, ParseExportFormat("argilla"));
  EXPECT_EQ(ExportFileExtension(f), "jsonl");
  EXPECT_STATUS(ParseExportFormat("xml", "--format"), kInvalidArgument, "--format", "'xml'",
                "labelstudio", "argilla");
  ASSERT_OK_AND_ASSIGN(f, ExportFormatForPath("out/tasks.json"));
  EXPECT_EQ(f, ExportFormat::kLabelStudio);
  ASSERT_OK_AND_ASSIGN(f, ExportFormatForPath("x.CSV"));
  EXPECT_EQ(f, ExportFormat::kCsv);
  EXPECT_STATUS(ExportFormatForPath("x.txt"), kInvalidArgument, "'.txt'", "--format");
}

TEST(Utf16Offset, CountsSurrogatePairsAndClamps) {
  EXPECT_EQ(Utf16Offset("ab", 1), 1);
  EXPECT_EQ(Utf16Offset("\xC3\xA9"
                        "a",
                        1),
            1);
  EXPECT_EQ(Utf16Offset("\xF0\x9F\x98\x80"
                        "a",
                        1),
            2);
  EXPECT_EQ(Utf16Offset("ab", 9), 2);
  EXPECT_EQ(CodePointSubstr("caf\xC3\xA9 ok", 2, 4), "f\xC3\xA9");
  EXPECT_EQ(CodePointSubstr("abc", 2, 99), "c");
}

}  // namespace
}  // namespace sextant::io
