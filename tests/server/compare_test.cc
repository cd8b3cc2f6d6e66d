// Compare any two splits (server/compare.h): the statistics against values
// computed by hand (closed forms, exact sums; cross-checked in Python with the
// standard library only), the comparison of a small run's splits, and
// GET /api/runs/{p}/{r}/compare.
#include "server/compare.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "small_run.h"
#include "testing.h"

namespace sextant::server {
namespace {

using json = nlohmann::json;
using sextant::testing::TempDir;

TEST(CompareStats, NormalAndChiSquareTailsMatchClosedForms) {
  EXPECT_NEAR(stats::NormalUpperTail(1.959963985), 0.025, 1e-9);
  EXPECT_NEAR(stats::NormalUpperTail(0), 0.5, 1e-15);
  // df 1: the 95% quantile; df 2: Q = exp(-x/2); df 3: erfc(sqrt(x/2)) + sqrt(2x/pi) exp(-x/2).
  EXPECT_NEAR(stats::ChiSquareUpperTail(3.841458821, 1), 0.05, 1e-9);
  for (double x : {0.1, 1.0, 5.991464547, 11.6666667, 40.0}) {
    EXPECT_NEAR(stats::ChiSquareUpperTail(x, 2), std::exp(-x / 2), 1e-12) << x;
  }
  EXPECT_NEAR(stats::ChiSquareUpperTail(7.814727903, 3), 0.05, 1e-9);
  EXPECT_EQ(stats::ChiSquareUpperTail(0, 3), 1.0);
}

TEST(CompareStats, StudentTailsMatchClosedForms) {
  // df 1 is Cauchy: P(|T| >= t) = 1 - 2 atan(t) / pi; df 2: 1 - t / sqrt(2 + t^2).
  EXPECT_NEAR(stats::StudentTwoSided(1.0, 1), 0.5, 1e-12);
  EXPECT_NEAR(stats::StudentTwoSided(-3.0, 2), 1 - 3 / std::sqrt(11.0), 1e-12);
  EXPECT_NEAR(stats::StudentTwoSided(2.228138852, 10), 0.05, 1e-9);
  EXPECT_NEAR(stats::StudentTwoSided(0, 7), 1.0, 1e-12);
}

TEST(CompareStats, FisherExactMatchesTheHypergeometricSums) {
  // The lady tasting tea: 34/70.
  EXPECT_NEAR(stats::FisherExactTwoSided(3, 1, 1, 3), 34.0 / 70.0, 1e-12);
  EXPECT_NEAR(stats::FisherExactTwoSided(1, 9, 11, 3), 0.002759456185220083, 1e-12);
  EXPECT_NEAR(stats::FisherExactTwoSided(0, 5, 4, 1), 1.0 / 21.0, 1e-12);
  EXPECT_NEAR(stats::FisherExactTwoSided(2, 2, 2, 2), 1.0, 1e-12);
}

TEST(CompareStats, TwoProportionUsesZForLargeCountsAndFisherForSmall) {
  auto z = stats::TwoProportionTest(30, 100, 50, 100);
  ASSERT_TRUE(z.has_value());
  EXPECT_EQ(z->name, "two-proportion z");
  EXPECT_NEAR(z->statistic, 2.886751345948129, 1e-12);  // B's share is higher: positive
  EXPECT_NEAR(z->p_value, 0.003892417122778627, 1e-12);
  auto exact = stats::TwoProportionTest(0, 5, 4, 5);
  ASSERT_TRUE(exact.has_value());
  EXPECT_EQ(exact->name, "Fisher exact");
  EXPECT_NEAR(exact->p_value, 1.0 / 21.0, 1e-12);
  // Rare "without": the same exact test, summed over the complements' tables.
  auto rare = stats::TwoProportionTest(5, 5, 1, 5);
  ASSERT_TRUE(rare.has_value());
  EXPECT_EQ(rare->name, "Fisher exact");
  EXPECT_NEAR(rare->p_value, stats::FisherExactTwoSided(0, 5, 4, 1), 1e-12);
  // A million a side, two without the property: exact, and fast (the small column).
  auto big = stats::TwoProportionTest(1000000, 1000000, 999998, 1000000);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->name, "Fisher exact");
  // Both "without" on one side, or both on the other: 2 * C(n, 2) / C(2n, 2) = (n - 1) / (2n - 1).
  // (lgamma of ~2e6 is ~3e7: its last bits limit the p-value to ~1e-8 absolute.)
  EXPECT_NEAR(big->p_value, 999999.0 / 1999999.0, 1e-7);
  EXPECT_FALSE(stats::TwoProportionTest(1, 0, 2, 10).has_value());
}

TEST(CompareStats, ChiSquareHomogeneityOfClassCounts) {
  auto t = stats::ChiSquareHomogeneity({20, 30, 50}, {40, 30, 30});
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(t->statistic, 11.666666666666668, 1e-10);
  EXPECT_EQ(*t->df, 2);
  EXPECT_NEAR(t->p_value, 0.002928299694818186, 1e-12);
  // A class empty on both sides is dropped (df stays 2), identical shares give p = 1.
  auto same = stats::ChiSquareHomogeneity({10, 0, 20, 30}, {20, 0, 40, 60});
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(*same->df, 2);
  EXPECT_NEAR(same->p_value, 1.0, 1e-12);
  EXPECT_FALSE(stats::ChiSquareHomogeneity({5, 0}, {7, 0}).has_value());
}

TEST(CompareStats, WelchTTestMatchesANumericIntegral) {
  // A = {0.9, 0.85, 0.95, 0.8, 0.9}, B = {0.7, 0.75, 0.8, 0.6, 0.65, 0.7}; the p-value
  // integrates Student's density numerically (Python, standard library).
  auto t = stats::WelchTTest(0.88, 0.00325, 5, 0.7, 0.005, 6);
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(t->statistic, -4.673617082005489, 1e-9);
  EXPECT_NEAR(*t->df, 8.99857994887816, 1e-9);
  EXPECT_NEAR(t->p_value, 0.001163128434900154, 1e-8);
  EXPECT_FALSE(stats::WelchTTest(0.5, 0.1, 1, 0.6, 0.1, 10).has_value());
  EXPECT_FALSE(stats::WelchTTest(0.5, 0, 4, 0.6, 0, 4).has_value());
}

// A run with training, validation, an inference set like training (calm) and
// one shifted away from it (shifted; every third sample on the boundary).
class CompareRun : public ::testing::Test {
 protected:
  void SetUp() override {
    LogAndFinishSmallRun(tmp_.path(), 60);
    LogSmallSplit(tmp_.path(), SplitKey::Make(Split::kValidation).value(), 30, 0, "v");
    LogSmallSplit(tmp_.path(), SplitKey::Make(Split::kInference, "calm").value(), 40, 0, "c");
    LogSmallSplit(tmp_.path(), SplitKey::Make(Split::kInference, "shifted").value(), 40, 5, "s");
    auto client = Client::Init({.root = tmp_.path(), .project = "p", .run = "r"});
    ASSERT_OK(client.status());
    ASSERT_OK((*client)->Finish(SmallRunOptions()).status());
    auto reader = RunReader::Open(tmp_.path(), "p", "r");
    ASSERT_OK(reader.status());
    reader_ = std::move(*reader);
  }
  const json& Metric(const json& j, const std::string& name) {
    for (const json& m : j["metrics"]) {
      if (m["name"] == name) return m;
    }
    static const json kNone;
    ADD_FAILURE() << "no metric " << name;
    return kNone;
  }
  TempDir tmp_;
  std::unique_ptr<RunReader> reader_;
};

TEST_F(CompareRun, ShiftedSetAgainstTrainingShowsEveryChangeWithItsTest) {
  auto out = CompareSplits(*reader_, SplitKey::Make(Split::kTraining).value(),
                           SplitKey::Make(Split::kInference, "shifted").value());
  ASSERT_OK(out.status());
  const json j = json::parse(out->dump());
  EXPECT_EQ(j["a"]["split"], "training");
  EXPECT_EQ(j["b"]["split"], "inference:shifted");
  EXPECT_EQ(j["a"]["samples"], 60);
  EXPECT_EQ(j["b"]["samples"], 40);
  EXPECT_EQ(Metric(j, "samples")["change"], -20.0);
  // Every third sample of the set is on the boundary, none of training's.
  const json& boundary = Metric(j, "on_boundary_share");
  EXPECT_DOUBLE_EQ(boundary["a"]["value"].get<double>(), 0.0);
  EXPECT_NEAR(boundary["b"]["value"].get<double>(), 14.0 / 40.0, 1e-12);
  EXPECT_EQ(boundary["test"]["name"], "two-proportion z");
  EXPECT_TRUE(boundary["test"]["significant"].get<bool>());
  // Confidence fell (the tied logits): Welch's test says so.
  const json& conf = Metric(j, "mean_confidence");
  EXPECT_LT(conf["change"].get<double>(), 0);
  EXPECT_EQ(conf["test"]["name"], "Welch t");
  EXPECT_TRUE(conf["test"]["significant"].get<bool>());
  // Training has no drift flags: no value, no test, a note saying why.
  const json& drift = Metric(j, "drifted_share");
  EXPECT_TRUE(drift["a"].is_null());
  EXPECT_TRUE(drift["test"].is_null());
  EXPECT_GT(drift["b"]["value"].get<double>(), 0.5);
  EXPECT_TRUE(drift.contains("note"));
  // Class shares are 50/50 on both sides: the chi-square test finds nothing.
  EXPECT_EQ(j["class_shares"]["test"]["name"], "chi-square");
  EXPECT_FALSE(j["class_shares"]["test"]["significant"].get<bool>());
  EXPECT_FALSE(j["class_shares"].contains("note"));  // every expected count is 5 or more
  ASSERT_EQ(j["class_shares"]["classes"].size(), 2u);
  EXPECT_EQ(j["class_shares"]["classes"][0]["a"]["count"], 30);
  EXPECT_EQ(j["class_shares"]["classes"][0]["b"]["count"], 20);
  ASSERT_EQ(j["confidence_per_class"].size(), 2u);
  EXPECT_EQ(j["confidence_per_class"][1]["label"], "pos");
  EXPECT_EQ(j["confidence_per_class"][1]["b"]["n"], 20);
  EXPECT_TRUE(j["drift_verdicts"]["a"].is_null());
  EXPECT_TRUE(j["drift_verdicts"]["b"]["drifted"].get<bool>());
}

TEST_F(CompareRun, TwoInferenceSetsGiveDriftTestsVerdictsAndTheRegionsThatGrew) {
  auto out = CompareSplits(*reader_, SplitKey::Make(Split::kInference, "calm").value(),
                           SplitKey::Make(Split::kInference, "shifted").value());
  ASSERT_OK(out.status());
  const json j = json::parse(out->dump());
  const json& drift = Metric(j, "drifted_share");
  ASSERT_TRUE(drift["a"].is_object());
  EXPECT_GT(drift["change"].get<double>(), 0.5);
  EXPECT_TRUE(drift["test"]["significant"].get<bool>());
  EXPECT_FALSE(j["drift_verdicts"]["a"]["drifted"].get<bool>());
  EXPECT_TRUE(j["drift_verdicts"]["b"]["drifted"].get<bool>());
  EXPECT_TRUE(j["drift_verdicts"]["changed"].get<bool>());
  // The shifted samples sit apart on the map: the regions that grew hold
  // (almost) only B's samples, with examples from B and a link to B's view.
  ASSERT_TRUE(j["regions"].is_object()) << j.dump();
  const json& grew = j["regions"]["grew"];
  ASSERT_FALSE(grew.empty());
  double grown = 0;
  for (const json& r : grew) {
    EXPECT_GT(r["change"].get<double>(), 0);
    EXPECT_GT(r["b"]["share"].get<double>(), r["a"]["share"].get<double>());
    grown += r["b"]["share"].get<double>();
    ASSERT_FALSE(r["examples"].empty());
    EXPECT_EQ(r["examples"][0]["id"].get<std::string>()[0], 's');
    EXPECT_EQ(r["filter"]["polygon"].size(), 4u);
    EXPECT_EQ(r["link"].get<std::string>().rfind("/runs/p/r?split=inference%3Ashifted&f=", 0), 0u)
        << r["link"];
  }
  EXPECT_GT(grown, 0.5);
  // The listed regions are the extremes of many cells: Bonferroni over the occupied ones.
  const double cells = j["regions"]["cells_occupied"].get<double>();
  EXPECT_GT(cells, 1);
  for (const json& r : grew) {
    EXPECT_DOUBLE_EQ(r["test"]["p_value_adjusted"].get<double>(),
                     std::min(1.0, r["test"]["p_value"].get<double>() * cells));
    EXPECT_EQ(r["test"]["significant"].get<bool>(),
              r["test"]["p_value_adjusted"].get<double>() < 0.05);
  }
  // Grew is sorted by the change, largest first.
  for (size_t i = 1; i < grew.size(); ++i) {
    EXPECT_GE(grew[i - 1]["change"].get<double>(), grew[i]["change"].get<double>());
  }
}

TEST_F(CompareRun, AMissingSplitIsNamedWithItsSide) {
  auto out = CompareSplits(*reader_, SplitKey::Make(Split::kInference, "calm").value(),
                           SplitKey::Make(Split::kInference, "nope").value());
  EXPECT_STATUS(out, kNotFound, "b: split 'inference:nope'");
  EXPECT_NE(out.status().message().find("b: split 'inference:nope'"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find("inference:calm"), std::string::npos);
}

TEST_F(CompareRun, ApiServesTheComparisonAndNamesAMissingSplit) {
  Api api(tmp_.path());
  ApiResponse r = api.Handle({"GET",
                              {"runs", "p", "r", "compare"},
                              {{"a", "validation"}, {"b", "inference:shifted"}},
                              ""});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["project"], "p");
  EXPECT_EQ(j["a"]["split"], "validation");
  EXPECT_EQ(j["b"]["split"], "inference:shifted");
  // Validation is labeled, the set is not: accuracy and macro F1 on A's side only, no test.
  bool saw_accuracy = false, saw_f1 = false;
  for (const json& m : j["metrics"]) {
    if (m["name"] == "accuracy" || m["name"] == "macro_f1") {
      EXPECT_TRUE(m["a"].is_object()) << m;
      EXPECT_TRUE(m["b"].is_null()) << m;
      EXPECT_TRUE(m["test"].is_null()) << m;
      (m["name"] == "accuracy" ? saw_accuracy : saw_f1) = true;
    }
  }
  EXPECT_TRUE(saw_accuracy && saw_f1);
  // Validation carries out-of-coverage flags: the drifted share has both sides.
  for (const json& m : j["metrics"]) {
    if (m["name"] == "drifted_share") {
      EXPECT_TRUE(m["test"].is_object()) << m;
    }
  }

  r = api.Handle(
      {"GET", {"runs", "p", "r", "compare"}, {{"a", "inference:gone"}, {"b", "training"}}, ""});
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("a: split 'inference:gone'"), std::string::npos) << r.body;
  r = api.Handle({"GET", {"runs", "p", "r", "compare"}, {{"a", "training"}}, ""});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("b: required"), std::string::npos) << r.body;
  r = api.Handle({"GET", {"runs", "p", "r", "compare"}, {{"a", "bogus"}, {"b", "training"}}, ""});
  EXPECT_EQ(r.status, 400);
}

}  // namespace
}  // namespace sextant::server
