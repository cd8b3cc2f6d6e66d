// `sextant labels ...`: labels that come back from labelers (docs/labeling-tools.md):
// import them into a run's inference set, and export the labeled samples as
// training data for the next run.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sextant/results.h"

namespace sextant::cli {

struct LabelsCommand {
  CLI::App* app;
  std::function<int()> run;
};
LabelsCommand AddLabelsCommand(CLI::App& app);

// The labeled samples of `rows` (those with a gold label) as training data:
// id, text (premise, hypothesis for NLI), label, then the metadata keys
// (a key that would overwrite one of those is written as "meta_<key>"),
// ready for `sextant import --data`. One object per sample.
std::vector<nlohmann::ordered_json> LabeledDataset(const std::vector<SampleRow>& rows);

}  // namespace sextant::cli
