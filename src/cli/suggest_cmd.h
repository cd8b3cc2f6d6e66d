// `sextant suggest`: which samples to label next, with the reasons
// (sextant/suggest.h, docs/labeling.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sextant::cli {

struct SuggestCommand {
  CLI::App* app;
  std::function<int()> run;
};
SuggestCommand AddSuggestCommand(CLI::App& app);

}  // namespace sextant::cli
