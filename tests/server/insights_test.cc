#include "server/insights.h"

#include "query/verdict_fixture.h"
#include "server/insights_verdict.h"
#include "table_fixture.h"
#include "testing.h"

namespace sextant::server {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

json Summary(const std::string& split, double neg_share, double neg_conf, double pos_conf) {
  json j;
  j["split"] = split;
  j["pred_distribution"] = {{"neg", {{"count", 1}, {"fraction", neg_share}}},
                            {"pos", {{"count", 1}, {"fraction", 1 - neg_share}}}};
  j["mean_confidence_per_class"] = {{"neg", neg_conf}, {"pos", pos_conf}};
  j["on_the_boundary"] = {{"count", 3}, {"fraction", 0.03}};
  return j;
}

TEST(Insights, AlertsOnConfidenceDropShareChangeAndDrift) {
  json train = Summary("training", 0.5, 0.90, 0.90);
  train["accuracy"] = 0.9;
  train["per_class"] = {{"neg", {{"precision", 0.9}, {"recall", 0.8}, {"f1", 0.85}}}};
  json prod = Summary("inference:prod", 0.75, 0.70, 0.88);
  prod["drifted"] = {{"count", 30}, {"fraction", 0.3}, {"threshold", 0.2}};
  prod["drift_verdict"] = {{"fraction", 0.3},
                           {"expected", 0.05},
                           {"p_value", 1e-12},
                           {"drifted", true},
                           {"is_reference", false}};
  auto out = Insights(prod, train, testing::kLabels);
  EXPECT_EQ(out["split"], "inference:prod");
  EXPECT_EQ(out["reference"], "training");
  EXPECT_EQ(out["drifted"]["count"], 30);
  EXPECT_TRUE(out["accuracy"].is_null());
  ASSERT_EQ(out["classes"].size(), 2u);
  EXPECT_DOUBLE_EQ(out["classes"][0]["reference_share"].get<double>(), 0.5);
  std::vector<std::string> kinds;
  for (const auto& a : out["alerts"]) kinds.push_back(a["kind"]);
  // Drift first, then neg's confidence drop (0.20: critical) and share change (25 points: warning),
  // pos' share change; pos' confidence moved by 0.02 only.
  EXPECT_EQ(kinds, (std::vector<std::string>{"data_drift", "confidence_drop", "class_share_change",
                                             "class_share_change"}));
  EXPECT_EQ(out["alerts"][0]["severity"], "critical");
  EXPECT_EQ(out["alerts"][1]["label"], "neg");
  EXPECT_EQ(out["alerts"][1]["severity"], "critical");
  EXPECT_EQ(out["alerts"][2]["severity"], "warning");
}

TEST(Insights, DomainTestGivesTheAucAndAlertsWhenShifted) {
  json train = Summary("training", 0.5, 0.9, 0.9);
  json prod = Summary("inference:prod", 0.5, 0.9, 0.9);
  prod["domain_test"] = {
      {"reference", "validation"}, {"auc", 0.58}, {"p_value", 5e-10}, {"shifted", true}};
  auto out = Insights(prod, train, testing::kLabels);
  EXPECT_DOUBLE_EQ(out["domain_test"]["auc"].get<double>(), 0.58);
  ASSERT_EQ(out["alerts"].size(), 1u);
  EXPECT_EQ(out["alerts"][0]["kind"], "distribution_shift");
  EXPECT_EQ(out["alerts"][0]["severity"], "warning");
  EXPECT_EQ(out["alerts"][0]["message"],
            "a domain classifier tells these samples from validation (AUC 0.580, p = 5.0e-10)");
  prod["domain_test"]["shifted"] = false;
  EXPECT_TRUE(Insights(prod, train, testing::kLabels)["alerts"].empty());
}

TEST(Insights, UnderflowedPValuesAreNotWrittenAsZero) {
  json train = Summary("training", 0.5, 0.9, 0.9);
  json prod = Summary("inference:prod", 0.5, 0.9, 0.9);
  prod["drifted"] = {{"count", 300}, {"fraction", 0.3}};
  prod["drift_verdict"] = {{"fraction", 0.3},         {"expected", 0.05}, {"p_value", 0.0},
                           {"log10_p_value", -391.3}, {"drifted", true},  {"is_reference", false}};
  prod["domain_test"] = {{"reference", "validation"},
                         {"auc", 0.966},
                         {"p_value", 0.0},
                         {"log10_p_value", -1414.17},
                         {"shifted", true}};
  auto out = Insights(prod, train, testing::kLabels);
  ASSERT_EQ(out["alerts"].size(), 2u);
  // Before: "p = 0" in both.
  EXPECT_EQ(out["alerts"][0]["message"],
            "30.0% of the samples are drifted (expected 5.0% without drift, p = 5.0e-392)");
  EXPECT_EQ(out["alerts"][1]["message"],
            "a domain classifier tells these samples from validation (AUC 0.966, p = 6.8e-1415)");
  prod["domain_test"].erase("log10_p_value");
  EXPECT_EQ(Insights(prod, train, testing::kLabels)["alerts"][1]["message"],
            "a domain classifier tells these samples from validation (AUC 0.966, p < 1e-300)");
}

TEST(InsightsVerdict, EveryAlertGetsTheFilterOfItsSamplesAndItsSplit) {
  EXPECT_EQ(AlertFilter({{"kind", "data_drift"}}), ordered_json({{"drifted", true}}));
  EXPECT_EQ(AlertFilter({{"kind", "distribution_shift"}}), ordered_json({{"shifted", true}}));
  EXPECT_EQ(AlertFilter({{"kind", "confidence_drop"}, {"label", "neg"}}),
            ordered_json({{"pred", {"neg"}}}));
  EXPECT_EQ(AlertFilter({{"kind", "class_share_change"}, {"label", "pos"}}),
            ordered_json({{"pred", {"pos"}}}));
  // NER alerts grouped by entity type select the sentences with spans of it.
  EXPECT_EQ(AlertFilter({{"kind", "confidence_drop"}, {"label", "PER"}, {"entity_type", "PER"}}),
            ordered_json({{"entity_type", {"PER"}}}));
  EXPECT_EQ(AlertFilter({{"kind", "drift_unavailable"}}), ordered_json::object());

  json train = Summary("training", 0.5, 0.90, 0.90);
  json prod = Summary("inference:prod", 0.75, 0.70, 0.88);
  prod["drift_verdict"] = {{"fraction", 0.3}, {"expected", 0.05}, {"drifted", true}};
  ordered_json out = Insights(prod, train, testing::kLabels);
  ordered_json run = sextant::testing::VerdictRunSummary();
  AddVerdictAndAlertFilters(run, "inference:prod", &out);
  ASSERT_FALSE(out["alerts"].empty());
  for (const auto& a : out["alerts"]) {
    EXPECT_EQ(a["split"], "inference:prod") << a.dump();
    EXPECT_EQ(a["filter"], AlertFilter(a)) << a.dump();
  }
  EXPECT_EQ(out["alerts"][0]["filter"], ordered_json({{"drifted", true}}));
  EXPECT_EQ(out["alerts"][1]["filter"], ordered_json({{"pred", {"neg"}}}));
  // A split the run summary lacks: an empty verdict, not an error.
  EXPECT_TRUE(out["verdict"]["lines"].empty());
  EXPECT_TRUE(out["verdict"]["drift"].is_null());
  // The verdict is the report's (query/verdict.h), for the split asked.
  AddVerdictAndAlertFilters(run, "inference:snli", &out);
  EXPECT_EQ(out["verdict"]["drift"]["p_text"], "p = 0.059");
  EXPECT_EQ(out["verdict"]["domain_test"]["p_text"], "p = 3.5e-624");
  EXPECT_TRUE(out["verdict"]["disagreement"].is_string());
}

TEST(Insights, NoAlertsForTrainingItself) {
  json train = Summary("training", 0.5, 0.9, 0.9);
  auto out = Insights(train, train, testing::kLabels);
  EXPECT_TRUE(out["alerts"].empty());
  EXPECT_TRUE(out["drifted"].is_null());
  EXPECT_TRUE(out["domain_test"].is_null());
}

// Issue 16, point 9: the reference is the split the caller passes (validation when the run
// has it), named in the answer and in the alert messages, instead of always "training".
TEST(Insights, ReferenceIsTheGivenSplitAndNamedInMessages) {
  json validation = Summary("validation", 0.5, 0.80, 0.80);
  json prod = Summary("inference:prod", 0.5, 0.78, 0.79);
  auto out = Insights(prod, validation, testing::kLabels);
  EXPECT_EQ(out["reference"], "validation");
  // Training (overfit, confidence 0.99) would have raised two confidence drops; validation none.
  EXPECT_TRUE(out["alerts"].empty()) << out["alerts"].dump();
  json drop = Summary("inference:prod", 0.5, 0.60, 0.80);
  out = Insights(drop, validation, testing::kLabels);
  ASSERT_EQ(out["alerts"].size(), 1u);
  EXPECT_EQ(out["alerts"][0]["message"],
            "mean confidence of predicted 'neg' fell from 0.800 in validation to 0.600");
  EXPECT_TRUE(Insights(validation, validation, testing::kLabels)["alerts"].empty());
}

// Issue 16, point 9: NER alerts come one per entity type (from the span rows), not one per
// BIO tag (B-PER and I-PER separately).
TEST(Insights, NerAlertsAreGroupedByEntityType) {
  auto ner = [](const std::string& split, double per_conf, double per_share) {
    json j;
    j["split"] = split;
    // Tag-level numbers that would each raise an alert.
    j["pred_distribution"] = {{"B-PER", {{"fraction", split == "validation" ? 0.1 : 0.4}}},
                              {"I-PER", {{"fraction", split == "validation" ? 0.1 : 0.4}}}};
    j["mean_confidence_per_class"] = {{"B-PER", split == "validation" ? 0.9 : 0.5},
                                      {"I-PER", split == "validation" ? 0.9 : 0.5}};
    j["spans"] = {{"pred_span_distribution",
                   {{"PER", {{"count", 10}, {"fraction", per_share}}},
                    {"LOC", {{"count", 10}, {"fraction", 1 - per_share}}}}},
                  {"mean_span_confidence_per_type", {{"PER", per_conf}, {"LOC", 0.9}}}};
    return j;
  };
  const std::vector<std::string> tags = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
  auto out = Insights(ner("inference:social", 0.6, 0.5), ner("validation", 0.9, 0.5), tags);
  ASSERT_EQ(out["alerts"].size(), 1u) << out["alerts"].dump();
  EXPECT_EQ(out["alerts"][0]["kind"], "confidence_drop");
  EXPECT_EQ(out["alerts"][0]["entity_type"], "PER");
  EXPECT_EQ(out["alerts"][0]["severity"], "critical");
  EXPECT_EQ(out["alerts"][0]["message"],
            "mean confidence of predicted PER spans fell from 0.900 in validation to 0.600");
  ASSERT_EQ(out["entity_types"].size(), 2u);  // in name order (the summary's JSON object)
  EXPECT_EQ(out["entity_types"][0]["entity_type"], "LOC");
  EXPECT_DOUBLE_EQ(out["entity_types"][1]["reference_mean_confidence"].get<double>(), 0.9);
  EXPECT_EQ(out["classes"].size(), tags.size());  // the tags are still listed
  out = Insights(ner("inference:social", 0.9, 0.8), ner("validation", 0.9, 0.5), tags);
  ASSERT_EQ(out["alerts"].size(), 2u);  // PER's and LOC's share changes
  EXPECT_EQ(out["alerts"][0]["kind"], "class_share_change");
  EXPECT_EQ(out["alerts"][0]["entity_type"], "LOC");
  EXPECT_EQ(out["alerts"][1]["entity_type"], "PER");
  // A confidence drop and a share change of one type are one alert.
  out = Insights(ner("inference:social", 0.6, 0.8), ner("validation", 0.9, 0.5), tags);
  ASSERT_EQ(out["alerts"].size(), 2u) << out["alerts"].dump();
  EXPECT_EQ(out["alerts"][1]["entity_type"], "PER");
  EXPECT_EQ(out["alerts"][1]["kind"], "confidence_drop");
  EXPECT_EQ(out["alerts"][1]["kinds"],
            nlohmann::ordered_json({"confidence_drop", "class_share_change"}));
  EXPECT_EQ(out["alerts"][1]["severity"], "critical");
  EXPECT_EQ(out["alerts"][1]["message"],
            "mean confidence of predicted PER spans fell from 0.900 in validation to 0.600; "
            "share of predicted PER spans changed from 50.0% in validation to 80.0%");
}

// Issue 16, point 10: a split of a run too small for drift says why.
TEST(Insights, SmallRunSaysWhyDriftIsMissing) {
  json train = Summary("training", 0.5, 0.9, 0.9);
  json prod = Summary("inference:prod", 0.5, 0.9, 0.9);
  const std::string reason = "drift needs at least k + 1 = 11 training samples; training has 4";
  prod["drift_unavailable_reason"] = reason;
  auto out = Insights(prod, train, testing::kLabels);
  EXPECT_TRUE(out["drifted"].is_null());
  EXPECT_EQ(out["drift_unavailable_reason"], reason);
  ASSERT_EQ(out["alerts"].size(), 1u);
  EXPECT_EQ(out["alerts"][0]["kind"], "drift_unavailable");
  EXPECT_EQ(out["alerts"][0]["severity"], "info");
  EXPECT_EQ(out["alerts"][0]["message"], reason);
  EXPECT_TRUE(Insights(train, train, testing::kLabels)["drift_unavailable_reason"].is_null());
}

TEST(MapJson, AllPointsUnderTheLimitElseOnePerCellWithCounts) {
  auto t = testing::MakeTable(1000, true);
  const MapBounds b = Bounds({t.get()});
  EXPECT_EQ(b.x0, 0);
  EXPECT_EQ(b.x1, 999);
  auto all = MapSplitJson(*t, b, 1000);
  EXPECT_EQ(all["points"]["x"].size(), 1000u);
  EXPECT_FALSE(all["downsampled"].get<bool>());
  auto few = MapSplitJson(*t, b, 100);
  const size_t kept = few["points"]["x"].size();
  EXPECT_LE(kept, 100u);
  EXPECT_GT(kept, 10u);
  int64_t sum = 0;
  for (const auto& c : few["points"]["count"]) sum += c.get<int64_t>();
  EXPECT_EQ(sum, 1000);
  EXPECT_EQ(few["total"], 1000);
  EXPECT_TRUE(few["downsampled"].get<bool>());
}

}  // namespace
}  // namespace sextant::server
