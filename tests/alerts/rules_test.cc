#include "alerts/rules.h"

#include "testing.h"

namespace sextant::alerts {
namespace {

using json = nlohmann::json;

TEST(AlertRules, ParsesAThresholdRule) {
  ASSERT_OK_AND_ASSIGN(
      Rule r, RuleFromJson(json::parse(R"({"metric": "drifted_share", "op": ">", "value": 0.2})")));
  EXPECT_EQ(r.metric, "drifted_share");
  EXPECT_EQ(r.cls, "");
  EXPECT_EQ(r.kind, RuleKind::kThreshold);
  EXPECT_EQ(r.MetricPath(), "metrics.drifted_share");
  EXPECT_EQ(r.name, "metrics.drifted_share > 0.2");
  EXPECT_TRUE(r.enabled);
}

TEST(AlertRules, ReadsTheTimelinePathOfAMetric) {
  ASSERT_OK_AND_ASSIGN(Rule overall, RuleFromJson(json::parse(
                                         R"({"metric": "metrics.estimated_accuracy",
                                             "op": "<", "value": 0.85})")));
  EXPECT_EQ(overall.metric, "estimated_accuracy");
  // A label may hold dots: the metric is after the last one.
  ASSERT_OK_AND_ASSIGN(Rule per_class,
                       RuleFromJson(json::parse(R"({"metric": "per_class.a.b.mean_confidence",
                                                    "kind": "change_from_training",
                                                    "op": "<", "value": -0.05})")));
  EXPECT_EQ(per_class.cls, "a.b");
  EXPECT_EQ(per_class.metric, "mean_confidence");
  EXPECT_EQ(per_class.kind, RuleKind::kChangeFromTraining);
}

TEST(AlertRules, ErrorsNameTheField) {
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"op": ">", "value": 1})")), kInvalidArgument,
                "rule.metric", "required");
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"metric": "drift", "op": ">", "value": 1})")),
                kInvalidArgument, "rule.metric", "drifted_share", "'drift'");
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"metric": "drifted_share", "op": "=>", "value": 1})")),
                kInvalidArgument, "rule.op", "'=>'");
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"metric": "drifted_share", "op": ">"})")),
                kInvalidArgument, "rule.value", "required");
  EXPECT_STATUS(
      RuleFromJson(json::parse(R"({"metric": "drifted_share", "op": ">", "value": "high"})")),
      kInvalidArgument, "rule.value", "number");
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"metric": "drifted_share", "kind": "trend",
                                             "op": ">", "value": 1})")),
                kInvalidArgument, "rule.kind", "'trend'");
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"metric": "drifted_share", "kind": "band",
                                             "band": {"first_n": 1}})")),
                kInvalidArgument, "rule.band.first_n");
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"metric": "pred_share", "op": ">", "value": 1})")),
                kInvalidArgument, "rule.metric", "per class");
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"metric": "drifted_share", "op": ">", "value": 1,
                                             "colour": "red"})")),
                kInvalidArgument, "rule.colour", "unknown field");
  EXPECT_STATUS(RuleFromJson(json::parse(R"({"id": "a b", "metric": "drifted_share", "op": ">",
                                             "value": 1})")),
                kInvalidArgument, "rule.id");
}

TEST(AlertRules, RoundTripsThroughJson) {
  for (const Rule& r : DefaultRules()) {
    ASSERT_OK_AND_ASSIGN(Rule back, RuleFromJson(json(RuleToJson(r))));
    EXPECT_EQ(back.id, r.id);
    EXPECT_EQ(back.metric, r.metric);
    EXPECT_EQ(back.cls, r.cls);
    EXPECT_EQ(back.kind, r.kind);
    EXPECT_EQ(back.op, r.op);
    EXPECT_EQ(back.value, r.value);
    EXPECT_EQ(back.abs, r.abs);
    EXPECT_TRUE(back.builtin);
  }
  ASSERT_OK_AND_ASSIGN(Rule band, RuleFromJson(json::parse(R"({"metric": "mean_confidence",
                                                "kind": "band", "band": {"first_n": 4, "k": 2}})")));
  ASSERT_OK_AND_ASSIGN(Rule back, RuleFromJson(json(RuleToJson(band))));
  EXPECT_EQ(back.band.first_n, 4);
  EXPECT_EQ(back.band.k, 2);
}

}  // namespace
}  // namespace sextant::alerts
