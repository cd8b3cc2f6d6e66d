// Per-split summaries and comparisons with training, as JSON (docs/results.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/run_store.h"

namespace sextant::processing {

using ordered_json = nlohmann::ordered_json;

// Counts, class distributions, confidence per predicted class, boundary and
// drift fractions, and for labeled splits accuracy and per-class P/R/F1.
ordered_json SummarizeSplit(const store::SplitResults& split, const std::vector<std::string>& labels,
                            std::optional<double> drift_threshold);

// One inference split side by side with training (class shares, confidence
// per class, boundary and drift fractions, with the change).
ordered_json CompareWithTraining(const ordered_json& training, const ordered_json& inference,
                                 const std::vector<std::string>& labels, double nominal_drift_rate);

}  // namespace sextant::processing
