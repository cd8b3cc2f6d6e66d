#include "server/encode.h"

#include "table_fixture.h"
#include "testing.h"

namespace sextant::server {
namespace {

using testing::kLabels;
using testing::MakeTable;

TEST(Encode, SampleJsonHasTheContractFields) {
  auto t = MakeTable(10, false);
  auto j = SampleJson(*t, 3, kLabels);
  for (const char* key : {"id",
                          "split",
                          "row",
                          "text",
                          "meta",
                          "gold",
                          "pred",
                          "confidence",
                          "margin",
                          "entropy",
                          "is_on_the_boundary",
                          "is_correct",
                          "dep",
                          "aum",
                          "drift_score",
                          "is_drifted",
                          "shift_score",
                          "is_shifted",
                          "x",
                          "y"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["id"], "s3");
  EXPECT_EQ(j["split"], "inference:prod");
  EXPECT_TRUE(j["gold"].is_null());
  EXPECT_TRUE(j["is_correct"].is_null());
  EXPECT_TRUE(j["dep"].is_null());
  EXPECT_EQ(j["pred"], "pos");
  EXPECT_EQ(j["is_drifted"], true);
  EXPECT_DOUBLE_EQ(j["shift_score"].get<double>(), 0.3);
  EXPECT_EQ(j["is_shifted"], false);
  EXPECT_EQ(j["meta"]["source"], "a");
  // A table without the shift columns (as built before them) reads as null.
  t->shift_score.clear();
  t->shifted.clear();
  j = SampleJson(*t, 3, kLabels);
  EXPECT_TRUE(j["shift_score"].is_null());
  EXPECT_TRUE(j["is_shifted"].is_null());
}

TEST(Encode, CsvQuotesAndAddsMetadataColumns) {
  auto t = MakeTable(4, true);
  t->text[1] = "a \"quoted\", text\nwith a newline";
  t->meta_json[2] = "{\"source\":\"a\",\"annotator\":\"kim\"}";
  std::string csv = ExportCsv({{t.get(), 1}, {t.get(), 2}}, kLabels);
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "id,split,text,gold,pred,confidence,margin,is_on_the_boundary,dep,drift_score,"
            "is_drifted,shift_score,is_shifted,source,annotator");
  EXPECT_NE(csv.find("s1,training,\"a \"\"quoted\"\", text\nwith a newline\",pos,neg,"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",a,kim\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",a,\r\n"), std::string::npos) << csv;  // row 1 has no annotator
}

TEST(Encode, JsonlOneObjectPerRow) {
  auto t = MakeTable(3, false);
  std::string out = ExportJsonl({{t.get(), 0}, {t.get(), 2}}, kLabels);
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  auto first = nlohmann::json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(first["id"], "s0");
  EXPECT_EQ(first["source"], "a");
  EXPECT_TRUE(first["gold"].is_null());
  EXPECT_DOUBLE_EQ(first["shift_score"].get<double>(), 0.0);
  EXPECT_EQ(first["is_shifted"], false);
}

}  // namespace
}  // namespace sextant::server
