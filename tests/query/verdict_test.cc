#include "query/verdict.h"

#include <cmath>
#include <limits>

#include "testing.h"
#include "verdict_fixture.h"

namespace sextant::verdict {
namespace {

using json = nlohmann::ordered_json;
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(PText, OrdinaryValuesWithTwoSignificantDigits) {
  EXPECT_EQ(PText(0.0592, std::log10(0.0592)), "p = 0.059");
  EXPECT_EQ(PText(0.73, std::nullopt), "p = 0.73");
  EXPECT_EQ(PText(0.00098, std::nullopt), "p = 0.00098");
  EXPECT_EQ(PText(1.0, 0.0), "p = 1");
  EXPECT_EQ(PText(5.6e-5, std::nullopt), "p = 5.6e-5");
  EXPECT_EQ(PText(3.816e-7, -6.4184), "p = 3.8e-7");
}

TEST(PText, UnderflowedDoubleIsWrittenFromItsLog10) {
  // The defect: a p-value that underflowed to 0 printed as "p = 0".
  EXPECT_EQ(PText(0.0, -120.5), "p = 3.2e-121");
  EXPECT_EQ(PText(0.0, -623.4526592411735), "p = 3.5e-624");
  EXPECT_EQ(PText(0.0, -1414.17), "p = 6.8e-1415");
  // Mantissas that round up to 10 carry into the exponent.
  EXPECT_EQ(PText(std::nullopt, -4.001), "p = 1.0e-4");
}

TEST(PText, NeverZeroEvenWithoutAUsableLog10) {
  EXPECT_EQ(PText(0.0, std::nullopt), "p < 1e-300");
  EXPECT_EQ(PText(0.0, -kInf), "p < 1e-300");
  EXPECT_EQ(PText(std::nullopt, -kInf), "p < 1e-300");
  EXPECT_EQ(PText(0.0, std::nan("")), "p < 1e-300");
  // Unknown (NaN) is not tiny.
  EXPECT_EQ(PText(std::nan(""), std::nan("")), "p = -");
  EXPECT_EQ(PText(std::nullopt, std::nullopt), "p = -");
  EXPECT_EQ(PText(json(0.0), json()), "p < 1e-300");
  EXPECT_EQ(PText(nlohmann::json(0.0), nlohmann::json(-50.0)), "p = 1.0e-50");
  for (double l = 0; l > -2000; l -= 0.37) {
    const std::string t = PText(0.0, l);
    EXPECT_NE(t, "p = 0") << l;
    EXPECT_EQ(t.find("p = 0e"), std::string::npos) << l;
    EXPECT_EQ(t.find("p = 0.0e"), std::string::npos) << l;
  }
}

TEST(SplitVerdict, DriftFindingsDomainTestAndTheirDisagreement) {
  const json v = SplitVerdict(testing::VerdictRunSummary(), "inference:snli");
  const json& d = v["drift"];
  EXPECT_EQ(d["available"], true);
  EXPECT_EQ(d["k"], 10);
  EXPECT_DOUBLE_EQ(d["threshold"].get<double>(), 0.038);
  EXPECT_EQ(d["threshold_source"],
            "95th percentile of the k-NN distances of 4582 held-out validation samples");
  EXPECT_DOUBLE_EQ(d["share"]["low"].get<double>(), 0.0504);
  EXPECT_EQ(d["p_text"], "p = 0.059");
  EXPECT_EQ(d["drifted"], false);
  EXPECT_EQ(d["text"], "no drift detected (p = 0.059, 6.0% [5.0%, 7.1%] vs 5.0% nominal)");
  ASSERT_EQ(v["findings"].size(), 1u);  // entailment is not significant
  const json& f = v["findings"][0];
  EXPECT_EQ(f["label"], "contradiction");
  EXPECT_EQ(f["text"], "predicted 'contradiction': 11.0% of 498 drifted (p = 3.8e-7)");
  EXPECT_EQ(f["severity"], "critical");  // more than twice what no drift gives
  EXPECT_EQ(f["filter"], json({{"pred", {"contradiction"}}, {"drifted", true}}));
  const json& t = v["domain_test"];
  EXPECT_EQ(t["p_text"], "p = 3.5e-624");
  EXPECT_DOUBLE_EQ(t["auc_low"].get<double>(), 0.905);
  EXPECT_EQ(t["text"],
            "AUC 0.914 (95% CI 0.905 to 0.923), p = 3.5e-624, 2000 vs 4582 samples: shift");
  ASSERT_TRUE(v["disagreement"].is_string());
  const std::string why = v["disagreement"];
  EXPECT_NE(why.find("k-NN drift finds 6.0% beyond the training neighbourhood, within what chance "
                     "gives (5.0% nominal, p = 0.059)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("separates the set from validation (AUC 0.914, p = 3.5e-624)"),
            std::string::npos)
      << why;
  // The class that drifts while the set does not is named.
  EXPECT_NE(why.find("One class drifts on its own: predicted 'contradiction': 11.0% of 498 drifted "
                     "(p = 3.8e-7)."),
            std::string::npos)
      << why;
  EXPECT_TRUE(v["span_drift"].is_null());
  EXPECT_EQ(v["lines"], json({"Drift threshold: cosine distance 0.038 to the 10th nearest training "
                              "embedding (95th percentile of the k-NN distances of 4582 held-out "
                              "validation samples)",
                              "Drift verdict: " + d["text"].get<std::string>(),
                              "  " + f["text"].get<std::string>(),
                              "Domain-classifier test: " + t["text"].get<std::string>(), why}));
  for (const auto& line : v["lines"]) {
    EXPECT_EQ(line.get<std::string>().find("p = 0,"), std::string::npos);
  }
}

TEST(SplitVerdict, NoDisagreementWhenBothTestsAgree) {
  json run = testing::VerdictRunSummary();
  run["splits"]["inference:snli"]["drift_verdict"]["drifted"] = true;
  EXPECT_TRUE(SplitVerdict(run, "inference:snli")["disagreement"].is_null());
  run["splits"]["inference:snli"]["drift_verdict"]["drifted"] = false;
  run["splits"]["inference:snli"]["domain_test"]["shifted"] = false;
  EXPECT_TRUE(SplitVerdict(run, "inference:snli")["disagreement"].is_null());
}

TEST(SplitVerdict, DriftWithoutShiftIsExplainedTheOtherWay) {
  json run = testing::VerdictRunSummary();
  json& s = run["splits"]["inference:snli"];
  s["drift_verdict"]["fraction"] = 0.142;
  s["drift_verdict"]["drifted"] = true;
  s["drift_verdict"]["p_value"] = 1.3e-23;
  s["drift_verdict"]["log10_p_value"] = -22.886;
  s["domain_test"] = {{"reference", "validation"},
                      {"auc", 0.517},
                      {"p_value", 0.044},
                      {"log10_p_value", std::log10(0.044)},
                      {"shifted", false}};
  const std::string why = SplitVerdict(run, "inference:snli")["disagreement"];
  EXPECT_NE(why.find("k-NN drift finds 14.2% beyond the training neighbourhood, more than chance "
                     "gives (5.0% nominal, p = 1.3e-23)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("does not tell the set from validation (AUC 0.517, p = 0.044)"),
            std::string::npos)
      << why;
}

TEST(SplitVerdict, TheReferenceHasNoTestAndNoFindings) {
  const json v = SplitVerdict(testing::VerdictRunSummary(), "validation");
  EXPECT_EQ(v["drift"]["is_reference"], true);
  EXPECT_TRUE(v["drift"]["p_text"].is_null());
  EXPECT_EQ(v["drift"]["text"],
            "the reference (5.0% [4.4%, 5.7%] vs 5.0% nominal by construction)");
  EXPECT_TRUE(v["findings"].empty());
  EXPECT_TRUE(v["disagreement"].is_null());
  // Training (the neighbours themselves) and unknown splits: nothing to say.
  EXPECT_TRUE(SplitVerdict(testing::VerdictRunSummary(), "training")["drift"].is_null());
  EXPECT_TRUE(SplitVerdict(testing::VerdictRunSummary(), "inference:nope")["lines"].empty());
}

TEST(SplitVerdict, DriftUnavailableOnASmallFirstRunSaysWhy) {
  json run = testing::VerdictRunSummary();
  const std::string reason = "drift needs at least k + 1 = 11 training samples; training has 4";
  run["parameters"]["drift_unavailable_reason"] = reason;
  json& s = run["splits"]["inference:snli"];
  s.erase("drift_verdict");
  s.erase("drifted");
  s["drift_unavailable_reason"] = reason;
  const json v = SplitVerdict(run, "inference:snli");
  EXPECT_EQ(v["drift"], json({{"available", false}, {"reason", reason}}));
  EXPECT_EQ(v["lines"][0], "Drift: not computed: " + reason);
  EXPECT_TRUE(v["disagreement"].is_null());
  EXPECT_FALSE(v["domain_test"].is_null());  // the other test still speaks
  // Only the parameters say it (a split summary written without the key).
  s.erase("drift_unavailable_reason");
  EXPECT_EQ(SplitVerdict(run, "inference:snli")["drift"]["available"], false);
}

TEST(SplitVerdict, NerSpanDriftAndEntityTypesOfFindings) {
  json run = testing::VerdictRunSummary();
  run["task_type"] = "named_entity_recognition";
  run["parameters"]["spans"] = {{"reference", "validation"}, {"reference_population", 6321}};
  json& s = run["splits"]["inference:snli"];
  s["drift_verdict"]["per_class"] = {{"I-ORG",
                                      {{"samples", 56},
                                       {"count", 22},
                                       {"fraction", 0.3929},
                                       {"p_value", 3.38e-14},
                                       {"log10_p_value", -13.47},
                                       {"drifted", true}}}};
  s["spans"] = {{"span_rows", 1400},
                {"span_drift", {{"count", 296}, {"fraction", 0.2114}, {"threshold", 0.31}}}};
  const json v = SplitVerdict(run, "inference:snli");
  ASSERT_EQ(v["findings"].size(), 2u);
  EXPECT_EQ(v["findings"][0]["entity_type"], "ORG");
  EXPECT_EQ(v["findings"][0]["filter"], json({{"entity_type", {"ORG"}}, {"drifted", true}}));
  const json& sd = v["span_drift"];
  EXPECT_EQ(sd["drifted"], true);
  EXPECT_EQ(sd["nominal"], 0.05);
  EXPECT_NEAR(sd["share"].get<double>(), 296.0 / 1400, 1e-12);
  EXPECT_LT(sd["low"].get<double>(), sd["share"].get<double>());
  EXPECT_GT(sd["high"].get<double>(), sd["share"].get<double>());
  EXPECT_LT(sd["log10_p_value"].get<double>(), -50);  // 21% of 1400 where 5% is expected
  EXPECT_EQ(sd["text"].get<std::string>().rfind("drift detected (p = ", 0), 0u) << sd["text"];
  EXPECT_NE(sd["text"].get<std::string>().find("21.1% [19.1%, 23.4%] of 1400 span rows vs 5.0% "
                                               "nominal)"),
            std::string::npos)
      << sd["text"];
  EXPECT_EQ(v["findings"][1]["view"], "spans");
  EXPECT_EQ(v["findings"][1]["span_filter"], json({{"drifted", true}}));
  // The span reference itself: by construction, no test.
  run["splits"]["validation"]["spans"] = {
      {"span_rows", 6321}, {"span_out_of_coverage", {{"count", 316}, {"fraction", 0.05}}}};
  const json ref = SplitVerdict(run, "validation")["span_drift"];
  EXPECT_EQ(ref["is_reference"], true);
  EXPECT_TRUE(ref["p_text"].is_null());
}

}  // namespace
}  // namespace sextant::verdict
