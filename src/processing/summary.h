// Per-split summaries and comparisons with training, as JSON (docs/results.md).
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/run_store.h"

namespace sextant::processing {

using ordered_json = nlohmann::ordered_json;

// j[k1][k2]... of a const JSON, or null where a key is missing or a level is
// not an object. (A const operator[] with a missing key is undefined behaviour
// in nlohmann::json: a summary without some field must not crash a comparison.)
const ordered_json& Field(const ordered_json& j, std::initializer_list<std::string_view> path);

// Counts, class distributions, confidence per predicted class, boundary and
// drift fractions, and for labeled splits accuracy and per-class P/R/F1.
ordered_json SummarizeSplit(const store::SplitResults& split,
                            const std::vector<std::string>& labels,
                            std::optional<double> drift_threshold);

// What the dataset-level drift verdict needs to know about the reference.
struct VerdictContext {
  double nominal = 0.05;        // 1 - drift percentile
  int64_t reference_size = 0;   // M: distances in the reference distribution
  int64_t reference_above = 0;  // m: reference distances above the threshold
  double alpha = 0.01;          // per class alpha / number of labels
};

// The drift (or out-of-coverage) verdict of a scored split, overall and per
// predicted class (docs/api.md, "drift_verdict"). With `is_reference` the
// split's own distances are the reference: the fraction is the nominal one by
// construction, so the p-value and the call are null.
ordered_json DriftVerdictSummary(const store::SplitResults& split,
                                 const std::vector<std::string>& labels,
                                 const VerdictContext& context, bool is_reference);

// One inference split side by side with training (class shares, confidence
// per class, boundary and drift fractions, with the change).
ordered_json CompareWithTraining(const ordered_json& training, const ordered_json& inference,
                                 const std::vector<std::string>& labels, double nominal_drift_rate);

}  // namespace sextant::processing
