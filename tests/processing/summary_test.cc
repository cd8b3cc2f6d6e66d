#include "processing/summary.h"

#include <cmath>
#include <vector>

#include "testing.h"

namespace sextant::processing {
namespace {

const std::vector<std::string> kLabels = {"a", "b", "c", "d"};

store::SampleResult Sample(std::optional<int32_t> gold, int32_t pred, float confidence,
                           bool on_boundary = false, std::optional<double> aum = std::nullopt,
                           std::optional<bool> drifted = std::nullopt) {
  store::SampleResult r;
  r.gold = gold;
  r.pred = pred;
  r.confidence = confidence;
  r.on_boundary = on_boundary;
  r.aum = aum;
  if (aum) r.dep = (1.0 - *aum) / 2.0;
  r.drifted = drifted;
  return r;
}

// Confusion matrix (rows gold, columns pred) over labels a, b, c; d is never seen:
//        a  b  c
//   a    3  1  0
//   b    1  1  1
//   c    1  0  2
store::SplitResults Labeled(const SplitKey& key) {
  store::SplitResults s;
  s.split = key;
  const int counts[3][3] = {{3, 1, 0}, {1, 1, 1}, {1, 0, 2}};
  const double aums[10] = {0.9, 0.8, 0.7, 0.6, 0.5, -0.2, -0.6, 0.1, 0.3, 0.4};
  int i = 0;
  for (int g = 0; g < 3; ++g) {
    for (int p = 0; p < 3; ++p) {
      for (int n = 0; n < counts[g][p]; ++n, ++i) {
        s.samples.push_back(
            Sample(g, p, 0.5f + 0.05f * static_cast<float>(i), i % 4 == 0, aums[i],
                   key.split == Split::kTraining ? std::nullopt : std::optional<bool>(i < 3)));
      }
    }
  }
  return s;
}

double Get(const ordered_json& j, std::initializer_list<const char*> path) {
  const ordered_json* p = &j;
  for (const char* key : path) p = &p->at(key);
  return p->get<double>();
}

TEST(SummarizeSplit, PerClassPrecisionRecallAndF1) {
  const ordered_json j = SummarizeSplit(Labeled({Split::kValidation, ""}), kLabels, 0.3);
  EXPECT_EQ(j["split"], "validation");
  EXPECT_EQ(j["samples"], 10);
  EXPECT_NEAR(Get(j, {"accuracy"}), 6.0 / 10, 1e-12);
  // a: TP 3, predicted 5, gold 4.   b: TP 1, predicted 2, gold 3.   c: TP 2, predicted 3, gold 3.
  EXPECT_NEAR(Get(j, {"per_class", "a", "precision"}), 3.0 / 5, 1e-12);
  EXPECT_NEAR(Get(j, {"per_class", "a", "recall"}), 3.0 / 4, 1e-12);
  EXPECT_NEAR(Get(j, {"per_class", "a", "f1"}), 2.0 / 3, 1e-12);  // 2 * .6 * .75 / 1.35
  EXPECT_NEAR(Get(j, {"per_class", "b", "precision"}), 1.0 / 2, 1e-12);
  EXPECT_NEAR(Get(j, {"per_class", "b", "recall"}), 1.0 / 3, 1e-12);
  EXPECT_NEAR(Get(j, {"per_class", "b", "f1"}), 0.4, 1e-12);
  EXPECT_NEAR(Get(j, {"per_class", "c", "precision"}), 2.0 / 3, 1e-12);
  EXPECT_NEAR(Get(j, {"per_class", "c", "recall"}), 2.0 / 3, 1e-12);
  EXPECT_NEAR(Get(j, {"per_class", "c", "f1"}), 2.0 / 3, 1e-12);
  EXPECT_EQ(j["per_class"]["a"]["support"], 4);
  EXPECT_EQ(j["per_class"]["b"]["support"], 3);
  // A class never predicted nor seen scores 0 and counts in the macro average.
  EXPECT_EQ(Get(j, {"per_class", "d", "precision"}), 0.0);
  EXPECT_EQ(Get(j, {"per_class", "d", "f1"}), 0.0);
  EXPECT_EQ(j["per_class"]["d"]["support"], 0);
  EXPECT_NEAR(Get(j, {"macro_f1"}), (2.0 / 3 + 0.4 + 2.0 / 3 + 0) / 4, 1e-12);
}

TEST(SummarizeSplit, DistributionsConfidenceAndFractions) {
  const store::SplitResults split = Labeled({Split::kValidation, ""});
  const ordered_json j = SummarizeSplit(split, kLabels, 0.3);
  EXPECT_NEAR(Get(j, {"pred_distribution", "a", "fraction"}), 0.5, 1e-12);
  EXPECT_EQ(j["pred_distribution"]["c"]["count"], 3);
  EXPECT_EQ(j["pred_distribution"]["d"]["count"], 0);
  EXPECT_NEAR(Get(j, {"gold_distribution", "b", "fraction"}), 0.3, 1e-12);
  // Mean confidence per predicted class, from the samples themselves.
  double sum_a = 0, total = 0;
  int n_a = 0;
  for (const auto& r : split.samples) {
    total += r.confidence;
    if (r.pred == 0) sum_a += r.confidence, ++n_a;
  }
  EXPECT_NEAR(Get(j, {"mean_confidence_per_class", "a"}), sum_a / n_a, 1e-6);
  EXPECT_TRUE(j["mean_confidence_per_class"]["d"].is_null());
  EXPECT_NEAR(Get(j, {"mean_confidence"}), total / 10, 1e-6);
  // Samples 0, 4 and 8 are on the boundary; 0, 1 and 2 are out of coverage.
  EXPECT_EQ(j["on_the_boundary"]["count"], 3);
  EXPECT_NEAR(Get(j, {"on_the_boundary", "fraction"}), 0.3, 1e-12);
  EXPECT_EQ(j["out_of_coverage"]["count"], 3);
  EXPECT_NEAR(Get(j, {"out_of_coverage", "threshold"}), 0.3, 1e-12);
  EXPECT_FALSE(j.contains("drifted"));
}

TEST(SummarizeSplit, EasyAndHardFromTheSplitsMeanAum) {
  const ordered_json j = SummarizeSplit(Labeled({Split::kTraining, ""}), kLabels, 0.3);
  // AUM values 0.9 0.8 0.7 0.6 0.5 -0.2 -0.6 0.1 0.3 0.4: mean 0.35, population sd
  // sqrt(0.321 - 0.1225) = 0.44553; easy >= 0.35 (6 samples), hard <= -0.09553 (2 samples).
  EXPECT_NEAR(Get(j, {"easy_hard_thresholds", "mean_aum"}), 0.35, 1e-12);
  EXPECT_NEAR(Get(j, {"easy_hard_thresholds", "sd_aum"}), std::sqrt(0.1985), 1e-9);
  EXPECT_EQ(j["easy"]["count"], 6);
  EXPECT_EQ(j["hard"]["count"], 2);
  EXPECT_NEAR(Get(j, {"mean_dep"}), (1 - 0.35) / 2, 1e-12);
  // Training is the reference: no drift block.
  EXPECT_FALSE(j.contains("drifted"));
  EXPECT_FALSE(j.contains("out_of_coverage"));
}

TEST(SummarizeSplit, InferenceHasNoLabeledMetrics) {
  store::SplitResults s;
  s.split = {Split::kInference, "prod"};
  s.samples = {Sample(std::nullopt, 1, 0.9f, false, std::nullopt, true),
               Sample(std::nullopt, 1, 0.7f, true, std::nullopt, false)};
  const ordered_json j = SummarizeSplit(s, kLabels, 0.25);
  EXPECT_EQ(j["drifted"]["count"], 1);
  EXPECT_NEAR(Get(j, {"drifted", "fraction"}), 0.5, 1e-12);
  EXPECT_FALSE(j.contains("accuracy"));
  EXPECT_FALSE(j.contains("per_class"));
  EXPECT_FALSE(j.contains("gold_distribution"));
  // Without a training reference there is no drift block at all.
  EXPECT_FALSE(SummarizeSplit(s, kLabels, std::nullopt).contains("drifted"));
}

TEST(CompareWithTraining, ChangesAreInferenceMinusTraining) {
  const ordered_json training = SummarizeSplit(Labeled({Split::kTraining, ""}), kLabels, 0.3);
  store::SplitResults s;
  s.split = {Split::kInference, "prod"};
  // Predictions: a, a, b, b (none for c or d); two drifted, one on the boundary.
  s.samples = {Sample(std::nullopt, 0, 0.9f, false, std::nullopt, true),
               Sample(std::nullopt, 0, 0.7f, true, std::nullopt, true),
               Sample(std::nullopt, 1, 0.6f, false, std::nullopt, false),
               Sample(std::nullopt, 1, 0.8f, false, std::nullopt, false)};
  const ordered_json inference = SummarizeSplit(s, kLabels, 0.3);
  const ordered_json cmp = CompareWithTraining(training, inference, kLabels, 0.05);

  EXPECT_EQ(cmp["against"], "training");
  ASSERT_EQ(cmp["classes"].size(), 4u);
  const ordered_json& a = cmp["classes"][0];
  EXPECT_EQ(a["label"], "a");
  EXPECT_NEAR(a["training_gold_fraction"].get<double>(), 0.4, 1e-12);
  EXPECT_NEAR(a["training_pred_fraction"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(a["inference_pred_fraction"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(a["pred_fraction_change"].get<double>(), 0.0, 1e-12);
  EXPECT_NEAR(a["mean_confidence_change"].get<double>(),
              0.8 - training["mean_confidence_per_class"]["a"].get<double>(), 1e-6);
  const ordered_json& b = cmp["classes"][1];
  EXPECT_NEAR(b["pred_fraction_change"].get<double>(), 0.5 - 0.2, 1e-12);
  EXPECT_NEAR(b["inference_mean_confidence"].get<double>(), 0.7, 1e-6);
  const ordered_json& c = cmp["classes"][2];
  EXPECT_NEAR(c["pred_fraction_change"].get<double>(), 0.0 - 0.3, 1e-12);
  EXPECT_TRUE(c["inference_mean_confidence"].is_null());
  EXPECT_TRUE(c["mean_confidence_change"].is_null());  // nothing to compare with
  const ordered_json& d = cmp["classes"][3];
  EXPECT_TRUE(d["training_mean_confidence"].is_null());
  EXPECT_NEAR(d["pred_fraction_change"].get<double>(), 0.0, 1e-12);

  EXPECT_NEAR(cmp["mean_confidence"]["inference"].get<double>(), 0.75, 1e-6);
  EXPECT_NEAR(cmp["mean_confidence"]["change"].get<double>(),
              0.75 - training["mean_confidence"].get<double>(), 1e-6);
  EXPECT_NEAR(cmp["on_the_boundary_fraction"]["training"].get<double>(), 0.3, 1e-12);
  EXPECT_NEAR(cmp["on_the_boundary_fraction"]["change"].get<double>(), 0.25 - 0.3, 1e-12);
  EXPECT_NEAR(cmp["drifted_fraction"]["nominal"].get<double>(), 0.05, 1e-12);
  EXPECT_NEAR(cmp["drifted_fraction"]["inference"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(cmp["drifted_fraction"]["change"].get<double>(), 0.45, 1e-12);
}

TEST(CompareWithTraining, MissingSummaryFieldsGiveNullsNotACrash) {
  // A training summary without gold_distribution (an NER run's has none) and
  // distributions that lack a label: every missing figure is null.
  ordered_json training = {{"split", "training"},
                           {"pred_distribution", {{"neg", {{"count", 3}, {"fraction", 1.0}}}}},
                           {"mean_confidence", 0.9}};
  ordered_json inference = {{"split", "inference:x"},
                            {"pred_distribution", ordered_json::object()}};
  const ordered_json cmp = CompareWithTraining(training, inference, {"neg", "pos"}, 0.05);
  ASSERT_EQ(cmp["classes"].size(), 2u);
  EXPECT_TRUE(cmp["classes"][0]["training_gold_fraction"].is_null());
  EXPECT_DOUBLE_EQ(cmp["classes"][0]["training_pred_fraction"].get<double>(), 1.0);
  EXPECT_TRUE(cmp["classes"][0]["inference_pred_fraction"].is_null());
  EXPECT_TRUE(cmp["classes"][1]["training_pred_fraction"].is_null());
  EXPECT_TRUE(cmp["classes"][1]["pred_fraction_change"].is_null());
  EXPECT_TRUE(cmp["mean_confidence"]["inference"].is_null());
  EXPECT_TRUE(cmp["on_the_boundary_fraction"]["training"].is_null());
}

TEST(Field, FollowsAPathOrGivesNull) {
  const ordered_json j = {{"a", {{"b", {{"c", 3}}}}}, {"n", 1}};
  EXPECT_EQ(Field(j, {"a", "b", "c"}).get<int>(), 3);
  EXPECT_TRUE(Field(j, {"a", "x", "c"}).is_null());
  EXPECT_TRUE(Field(j, {"n", "deeper"}).is_null());  // a number has no members
  EXPECT_EQ(&Field(j, {}), &j);
}

}  // namespace
}  // namespace sextant::processing
