// A run summary (RunReader::SummaryJson()) shaped like the NLI demo's, for the
// verdict and report tests: validation is the drift reference, inference:snli
// has 6.0% drifted (not significant), one significantly drifted class and a
// domain test whose p-value underflowed the double.
#pragma once

#include <nlohmann/json.hpp>

namespace sextant::testing {

inline nlohmann::ordered_json VerdictRunSummary() {
  using json = nlohmann::ordered_json;
  json run;
  run["format_version"] = 2;
  run["task_type"] = "natural_language_inference";
  run["labels"] = {"entailment", "neutral", "contradiction"};
  run["parameters"] = {{"drift_k", 10},
                       {"drift_percentile", 0.95},
                       {"reference", "validation"},
                       {"reference_size", 4582},
                       {"reference_population", 4582},
                       {"drift_threshold", 0.038},
                       {"drift_verdict", {{"alpha", 0.01}}}};
  auto split = [](const char* name, int64_t n) {
    json s;
    s["split"] = name;
    s["samples"] = n;
    s["mean_confidence"] = 0.7;
    s["on_the_boundary"] = {{"count", 1}, {"fraction", 0.3}};
    return s;
  };
  json training = split("training", 19999);
  json validation = split("validation", 4582);
  validation["out_of_coverage"] = {{"count", 230}, {"fraction", 0.05}, {"threshold", 0.038}};
  validation["drift_verdict"] = {
      {"samples", 4582},  {"count", 230},     {"fraction", 0.05},      {"ci_low", 0.044},
      {"ci_high", 0.057}, {"p_value", 0.5},   {"log10_p_value", -0.3}, {"drifted", false},
      {"nominal", 0.05},  {"expected", 0.05}, {"alpha", 0.01},         {"is_reference", true}};
  json snli = split("inference:snli", 2000);
  snli["drifted"] = {{"count", 120}, {"fraction", 0.06}, {"threshold", 0.038}};
  snli["drift_verdict"] = {{"samples", 2000},
                           {"count", 120},
                           {"fraction", 0.06},
                           {"ci_low", 0.0504},
                           {"ci_high", 0.0713},
                           {"p_value", 0.0592},
                           {"log10_p_value", -1.2274},
                           {"drifted", false},
                           {"nominal", 0.05},
                           {"expected", 0.0504},
                           {"alpha", 0.01},
                           {"is_reference", false},
                           {"per_class",
                            {{"entailment",
                              {{"samples", 820},
                               {"count", 56},
                               {"fraction", 0.0683},
                               {"ci_low", 0.053},
                               {"ci_high", 0.0876},
                               {"p_value", 0.0229},
                               {"log10_p_value", -1.64},
                               {"drifted", false}}},
                             {"contradiction",
                              {{"samples", 498},
                               {"count", 55},
                               {"fraction", 0.1104},
                               {"ci_low", 0.0858},
                               {"ci_high", 0.141},
                               {"p_value", 3.816e-07},
                               {"log10_p_value", -6.4184},
                               {"drifted", true}}}}}};
  snli["domain_test"] = {{"reference", "validation"},
                         {"reference_samples", 4582},
                         {"samples", 2000},
                         {"auc", 0.9139},
                         {"auc_ci", {0.905, 0.9227}},
                         {"p_value", 0.0},
                         {"log10_p_value", -623.45},
                         {"alpha", 0.01},
                         {"shifted", true}};
  run["splits"] = {{"training", training}, {"validation", validation}, {"inference:snli", snli}};
  run["comparisons"] = json::object();
  run["project"] = "demo";
  run["run"] = "nli";
  return run;
}

}  // namespace sextant::testing
