#include "processing/timeline.h"

#include <cmath>

#include "testing.h"

namespace sextant::processing {
namespace {

using ordered_json = nlohmann::ordered_json;

store::SplitResults Split(const std::string& name, std::vector<std::pair<int, float>> preds) {
  store::SplitResults s;
  s.split = name.empty() ? SplitKey{sextant::Split::kTraining, ""}
                         : SplitKey{sextant::Split::kInference, name};
  for (auto [pred, conf] : preds) {
    store::SampleResult r;
    r.pred = pred;
    r.confidence = conf;
    r.on_boundary = conf < 0.6f;
    s.samples.push_back(r);
  }
  return s;
}

TEST(Timeline, OrdersSetsByTimeThenNameWithUntimedSetsLast) {
  std::vector<store::SplitResults> splits = {
      Split("", {{0, 0.9f}, {1, 0.8f}}), Split("b", {{0, 0.9f}}), Split("a", {{0, 0.9f}}),
      Split("c", {{1, 0.7f}}), Split("untimed", {{1, 0.7f}})};
  std::vector<store::InferenceSetTime> times = {{"a", 200, store::SetTimeSource::kGiven},
                                                {"b", 100, store::SetTimeSource::kFirstSample},
                                                {"c", 100, store::SetTimeSource::kLiveWindow}};
  const ordered_json t = BuildTimeline(ordered_json::object(), splits, {"neg", "pos"}, times);
  std::vector<std::string> names;
  for (const auto& s : t["sets"]) names.push_back(s["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "c", "a", "untimed"}));
  EXPECT_EQ(t["sets"][0]["time_source"], "first_sample");
  EXPECT_EQ(t["sets"][1]["time_iso"], "1970-01-01T00:01:40Z");
  EXPECT_TRUE(t["sets"][3]["time"].is_null());
  EXPECT_TRUE(t["reference"].contains("training"));
}

TEST(Timeline, SharesAndMeansCarryIntervalsAndMissingMetricsAreNull) {
  std::vector<store::SplitResults> splits = {
      Split("x", {{0, 0.5f}, {0, 0.7f}, {1, 0.9f}, {1, 0.9f}})};
  const ordered_json t = BuildTimeline(ordered_json::object(), splits, {"neg", "pos"}, {});
  const ordered_json& m = t["sets"][0]["metrics"];
  EXPECT_EQ(m["samples"]["value"], 4);
  EXPECT_DOUBLE_EQ(m["on_boundary_share"]["value"].get<double>(), 0.25);
  EXPECT_LT(m["on_boundary_share"]["low"].get<double>(), 0.25);
  EXPECT_GT(m["on_boundary_share"]["high"].get<double>(), 0.25);
  EXPECT_NEAR(m["mean_confidence"]["value"].get<double>(), 0.75, 1e-6);
  // sd of {0.5, 0.7, 0.9, 0.9} (n - 1) is 0.1915; half width 1.96 * sd / 2.
  EXPECT_NEAR(m["mean_confidence"]["high"].get<double>() - 0.75, 1.959964 * 0.191485 / 2, 1e-4);
  // No drift scoring, domain test or estimate: null, never a made-up 0.
  EXPECT_TRUE(m["drifted_share"].is_null());
  EXPECT_TRUE(m["domain_auc"].is_null());
  EXPECT_TRUE(m["estimated_accuracy"].is_null());
  EXPECT_TRUE(t["sets"][0]["drift_verdict"].is_null());
  const ordered_json& neg = t["sets"][0]["per_class"]["neg"];
  EXPECT_DOUBLE_EQ(neg["pred_share"]["value"].get<double>(), 0.5);
  EXPECT_NEAR(neg["mean_confidence"]["value"].get<double>(), 0.6, 1e-6);
}

TEST(Timeline, ReadsDriftDomainAndEstimateFromTheSummaries) {
  std::vector<store::SplitResults> splits = {Split("x", {{0, 0.9f}, {1, 0.9f}})};
  ordered_json summaries = {
      {"inference:x",
       {{"drift_verdict",
         {{"fraction", 0.3},
          {"ci_low", 0.2},
          {"ci_high", 0.4},
          {"drifted", true},
          {"per_class", {{"neg", {{"fraction", 0.1}, {"ci_low", 0.0}, {"ci_high", 0.3}}}}}}},
        {"domain_test", {{"auc", 0.8}, {"auc_ci", {0.75, 0.85}}, {"shifted", true}}},
        {"performance_estimate",
         {{"method", "m"},
          {"accuracy", {{"value", 0.7}, {"low", 0.65}, {"high", 0.75}}},
          {"per_class",
           {{"pos", {{"precision", {{"value", 0.6}, {"low", 0.5}, {"high", 0.7}}}}}}}}}}}};
  const ordered_json t = BuildTimeline(summaries, splits, {"neg", "pos"}, {});
  const ordered_json& e = t["sets"][0];
  EXPECT_EQ(e["metrics"]["drifted_share"],
            (ordered_json{{"value", 0.3}, {"low", 0.2}, {"high", 0.4}}));
  EXPECT_EQ(e["metrics"]["domain_auc"]["low"], 0.75);
  EXPECT_EQ(e["metrics"]["estimated_accuracy"]["high"], 0.75);
  EXPECT_EQ(e["per_class"]["pos"]["estimated_precision"]["value"], 0.6);
  EXPECT_EQ(e["per_class"]["neg"]["drifted_share"]["value"], 0.1);
  EXPECT_TRUE(e["per_class"]["neg"]["estimated_precision"].is_null());
  EXPECT_EQ(e["drift_verdict"], true);
  EXPECT_EQ(e["domain_shifted"], true);
  EXPECT_EQ(e["estimate_method"], "m");
}

}  // namespace
}  // namespace sextant::processing
