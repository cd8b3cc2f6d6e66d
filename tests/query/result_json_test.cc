#include "query/result_json.h"

#include "testing.h"

namespace sextant {
namespace {

using ordered_json = nlohmann::ordered_json;

std::vector<std::string> Keys(const ordered_json& j) {
  std::vector<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.push_back(it.key());
  return out;
}

SpanRow Span() {
  SpanRow r;
  r.sample_id = "s1";
  r.split = SplitKey::Make(Split::kInference, "prod").value();
  r.span_row = 7;
  r.span_text = "Paris";
  r.pred = "LOC";
  r.confidence = 0.5;
  r.x = 1.25;
  return r;
}

TEST(ResultJson, SpanRowNamesItsSplitEitherWay) {
  const ordered_json cli = SpanRowToJson(Span(), SplitField::kNameAndInferenceName);
  EXPECT_EQ(Keys(cli), SpanRowFields(SplitField::kNameAndInferenceName));
  EXPECT_EQ(cli["split"], "inference");
  EXPECT_EQ(cli["inference_name"], "prod");
  const ordered_json api = SpanRowToJson(Span(), SplitField::kKey);
  EXPECT_EQ(Keys(api), SpanRowFields(SplitField::kKey));
  EXPECT_EQ(api["split"], "inference:prod");
  EXPECT_FALSE(api.contains("inference_name"));
  EXPECT_TRUE(api["gold"].is_null());
  EXPECT_EQ(api["x"], 1.25);
  EXPECT_TRUE(api["y"].is_null());
}

TEST(ResultJson, SampleRowWritesItsFieldsInOrder) {
  SampleRow r;
  r.id = "a";
  r.split = SplitKey::Make(Split::kTraining, "").value();
  r.pred = "pos";
  r.meta_json = R"({"source": "web"})";
  ordered_json j = SampleRowToJson(r, {"neg", "pos"});
  EXPECT_EQ(Keys(j), SampleRowFields());
  EXPECT_TRUE(j["inference_name"].is_null());
  EXPECT_EQ(j["meta"]["source"], "web");
  r.probs = {0.25f, 0.75f};
  j = SampleRowToJson(r, {"neg", "pos"});
  EXPECT_EQ(j["probs"].dump(), R"({"neg":0.25,"pos":0.75})");
}

TEST(ResultJson, RunInfoHasEveryFieldAndANullErrorWhenSound) {
  RunInfo info;
  info.project = "p";
  info.run = "r";
  info.task = "text_classification";
  info.labels = {"neg", "pos"};
  info.status = "ok";
  SplitInfo s;
  s.split = SplitKey::Make(Split::kTraining, "").value();
  s.samples = 3;
  info.splits = {s};
  ordered_json j = RunInfoToJson(info);
  EXPECT_EQ(Keys(j),
            (std::vector<std::string>{"project", "run", "task", "labels", "finished", "size_bytes",
                                      "splits", "status", "generation", "error"}));
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(
      j["splits"][0].dump(),
      R"({"split":"training","samples":3,"epochs_logged":0,"embedding_dim":0,"processed":false})");
  info.status = "damaged";
  info.error = "meta: no such table";
  EXPECT_EQ(RunInfoToJson(info)["error"], "meta: no such table");
}

TEST(ResultJson, NeighborAndSelectedFields) {
  Neighbor n;
  n.id = "b";
  n.split = SplitKey::Make(Split::kTest, "").value();
  n.distance = 0.5f;
  EXPECT_EQ(NeighborToJson(n).dump(), R"({"id":"b","split":"test","distance":0.5})");
  EXPECT_EQ(SelectFields(NeighborToJson(n), {"distance", "id", "missing"}).dump(),
            R"({"distance":0.5,"id":"b","missing":null})");
}

}  // namespace
}  // namespace sextant
