#include "alerts/evaluate.h"

#include "alerts/timeline_fixture.h"
#include "testing.h"

namespace sextant::alerts {
namespace {

using json = nlohmann::json;
using testing::MakeTimeline;
using testing::SetSpec;

Rule Parse(const char* text) {
  auto r = RuleFromJson(json::parse(text));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  Rule rule = r.ok() ? *r : Rule{};
  if (rule.id.empty()) rule.id = "r";
  return rule;
}

std::map<StateKey, AlertState> ByKey(const Evaluation& e) {
  std::map<StateKey, AlertState> out;
  for (const AlertState& s : e.states) out[s.key] = s;
  return out;
}

std::string StateOf(const Evaluation& e, const std::string& set, const std::string& cls = "") {
  for (const AlertState& s : e.states) {
    if (s.key.set == set && s.key.cls == cls) return s.state;
  }
  return "missing";
}

TEST(AlertEvaluate, ThresholdFiresOnTheSetsAboveIt) {
  const Rule rule = Parse(R"({"metric": "drifted_share", "op": ">", "value": 0.2})");
  const json t = MakeTimeline("r1", {{"d1", 0.05}, {"d2", 0.31}, {"d3", 0.2}});
  const Evaluation e = Evaluate({rule}, t, {}, 100);
  ASSERT_EQ(e.states.size(), 3u);
  EXPECT_EQ(StateOf(e, "d1"), "ok");
  EXPECT_EQ(StateOf(e, "d2"), "firing");
  EXPECT_EQ(StateOf(e, "d3"), "ok");  // not above
  ASSERT_EQ(e.events.size(), 1u);
  EXPECT_EQ(e.events[0].event, "firing");
  EXPECT_EQ(e.events[0].state.key.set, "d2");
  EXPECT_DOUBLE_EQ(*e.events[0].state.value, 0.31);
  EXPECT_DOUBLE_EQ(*e.events[0].state.threshold, 0.2);
  EXPECT_EQ(e.events[0].state.set_time, 1764547200 + 86400);
}

TEST(AlertEvaluate, OkFiringResolvedWithOneEventPerTransition) {
  const Rule rule = Parse(R"({"metric": "drifted_share", "op": ">", "value": 0.2})");
  Evaluation e1 = Evaluate({rule}, MakeTimeline("r1", {{"d1", 0.3}}), {}, 100);
  ASSERT_EQ(e1.events.size(), 1u);
  EXPECT_EQ(e1.events[0].event, "firing");
  EXPECT_EQ(e1.events[0].previous, "ok");
  // The same timeline again: no event, the state and its since stay.
  Evaluation e2 = Evaluate({rule}, MakeTimeline("r1", {{"d1", 0.3}}), ByKey(e1), 200);
  EXPECT_TRUE(e2.events.empty());
  EXPECT_EQ(StateOf(e2, "d1"), "firing");
  EXPECT_EQ(e2.states[0].since, 100);
  EXPECT_EQ(e2.states[0].updated, 200);
  // Refreshed below the threshold: resolved, once.
  Evaluation e3 = Evaluate({rule}, MakeTimeline("r1", {{"d1", 0.1}}), ByKey(e2), 300);
  ASSERT_EQ(e3.events.size(), 1u);
  EXPECT_EQ(e3.events[0].event, "resolved");
  EXPECT_EQ(e3.events[0].previous, "firing");
  Evaluation e4 = Evaluate({rule}, MakeTimeline("r1", {{"d1", 0.1}}), ByKey(e3), 400);
  EXPECT_TRUE(e4.events.empty());
  EXPECT_EQ(StateOf(e4, "d1"), "resolved");
  // Firing again after resolved: a new event.
  Evaluation e5 = Evaluate({rule}, MakeTimeline("r1", {{"d1", 0.5}}), ByKey(e4), 500);
  ASSERT_EQ(e5.events.size(), 1u);
  EXPECT_EQ(e5.events[0].event, "firing");
  EXPECT_EQ(e5.events[0].previous, "resolved");
}

TEST(AlertEvaluate, ChangeFromTrainingPerClass) {
  // Confidence of class "pos" fell by more than 0.05 from training (0.90).
  const Rule rule = Parse(R"({"metric": "mean_confidence", "class": "pos",
                              "kind": "change_from_training", "op": "<", "value": -0.05})");
  SetSpec a{"a"}, b{"b"}, c{"c"};
  a.mean_confidence_pos = 0.88;
  b.mean_confidence_pos = 0.80;
  c.mean_confidence_pos = 0.95;
  const Evaluation e = Evaluate({rule}, MakeTimeline("r1", {a, b, c}), {}, 1);
  EXPECT_EQ(StateOf(e, "a", "pos"), "ok");
  EXPECT_EQ(StateOf(e, "b", "pos"), "firing");
  EXPECT_EQ(StateOf(e, "c", "pos"), "ok");
  ASSERT_EQ(e.events.size(), 1u);
  EXPECT_NEAR(*e.events[0].state.value, -0.10, 1e-12);
  EXPECT_NEAR(*e.events[0].state.set_value, 0.80, 1e-12);
  EXPECT_NEAR(*e.events[0].state.reference_value, 0.90, 1e-12);
}

TEST(AlertEvaluate, EveryClassRuleKeepsAStatePerClass) {
  // |change of the predicted share| > 0.10 on any class.
  Rule rule = DefaultRules()[3];
  ASSERT_EQ(rule.id, "class_share_change");
  SetSpec a{"a"}, b{"b"};
  b.pred_share_pos = 0.70;  // pos +0.20, neg -0.20
  const Evaluation e = Evaluate({rule}, MakeTimeline("r1", {a, b}), {}, 1);
  EXPECT_EQ(e.states.size(), 4u);
  EXPECT_EQ(StateOf(e, "a", "pos"), "ok");
  EXPECT_EQ(StateOf(e, "b", "pos"), "firing");
  EXPECT_EQ(StateOf(e, "b", "neg"), "firing");
  EXPECT_EQ(e.events.size(), 2u);
}

TEST(AlertEvaluate, BandLearnsFromTheFirstSetsAndJudgesTheRest) {
  const Rule rule =
      Parse(R"({"metric": "drifted_share", "kind": "band", "band": {"first_n": 4, "k": 3}})");
  // Baseline 0.04, 0.05, 0.06, 0.05: mean 0.05, σ = 0.00707; band [0.0288, 0.0712].
  std::vector<SetSpec> sets = {{"d1", 0.04}, {"d2", 0.05}, {"d3", 0.06}, {"d4", 0.05},
                               {"d5", 0.07}, {"d6", 0.30}, {"d7", 0.0}};
  // With fewer than first_n sets so far: every one is ok, learning.
  const Evaluation early =
      Evaluate({rule}, MakeTimeline("r1", {sets.begin(), sets.begin() + 3}), {}, 1);
  for (const AlertState& s : early.states) {
    EXPECT_EQ(s.state, "ok");
    EXPECT_EQ(s.detail, "learning");
  }
  const Evaluation e = Evaluate({rule}, MakeTimeline("r1", sets), {}, 1);
  for (const char* base : {"d1", "d2", "d3", "d4"}) {
    EXPECT_EQ(StateOf(e, base), "ok") << base;
  }
  EXPECT_EQ(e.states[0].detail, "baseline");
  EXPECT_EQ(StateOf(e, "d5"), "ok");
  EXPECT_EQ(StateOf(e, "d6"), "firing");
  EXPECT_EQ(StateOf(e, "d7"), "firing");  // below the band
  EXPECT_NEAR(*e.states[5].band_low, 0.05 - 3 * std::sqrt(0.00005), 1e-12);
  EXPECT_NEAR(*e.states[5].band_high, 0.05 + 3 * std::sqrt(0.00005), 1e-12);
  // Above only.
  Rule above = rule;
  above.op = ">";
  EXPECT_EQ(StateOf(Evaluate({above}, MakeTimeline("r1", sets), {}, 1), "d7"), "ok");
}

TEST(AlertEvaluate, VerdictsReadAsOneOrZero) {
  const Rule rule = DefaultRules()[0];
  ASSERT_EQ(rule.metric, "drift_verdict");
  SetSpec a{"a"}, b{"b"};
  b.drift_verdict = true;
  const Evaluation e = Evaluate({rule}, MakeTimeline("r1", {a, b}), {}, 1);
  EXPECT_EQ(StateOf(e, "a"), "ok");
  EXPECT_EQ(StateOf(e, "b"), "firing");
  // domain_shifted is null in the fixture: no data, ok.
  const Evaluation shift = Evaluate({DefaultRules()[1]}, MakeTimeline("r1", {a}), {}, 1);
  ASSERT_EQ(shift.states.size(), 1u);
  EXPECT_EQ(shift.states[0].state, "ok");
  EXPECT_EQ(shift.states[0].detail, "no data");
}

TEST(AlertEvaluate, MissingValuesKeepTheState) {
  const Rule rule = Parse(R"({"metric": "estimated_accuracy", "op": "<", "value": 0.85})");
  const Evaluation e = Evaluate({rule}, MakeTimeline("r1", {{"a"}}), {}, 1);
  ASSERT_EQ(e.states.size(), 1u);
  EXPECT_EQ(e.states[0].state, "ok");
  EXPECT_EQ(e.states[0].detail, "no data");
  std::map<StateKey, AlertState> prev;
  AlertState firing = e.states[0];
  firing.state = "firing";
  prev[firing.key] = firing;
  const Evaluation again = Evaluate({rule}, MakeTimeline("r1", {{"a"}}), prev, 2);
  EXPECT_EQ(again.states[0].state, "firing");
  EXPECT_TRUE(again.events.empty());
}

TEST(AlertEvaluate, SkipsDisabledRulesAndOtherRuns) {
  Rule disabled =
      Parse(R"({"metric": "drifted_share", "op": ">", "value": 0.2, "enabled": false})");
  Rule other = Parse(R"({"metric": "drifted_share", "op": ">", "value": 0.2, "run": "r2"})");
  Rule mine = Parse(R"({"metric": "drifted_share", "op": ">", "value": 0.2, "run": "r1"})");
  const Evaluation e = Evaluate({disabled, other, mine}, MakeTimeline("r1", {{"a", 0.5}}), {}, 1);
  ASSERT_EQ(e.states.size(), 1u);
  EXPECT_EQ(e.events.size(), 1u);
}

}  // namespace
}  // namespace sextant::alerts
