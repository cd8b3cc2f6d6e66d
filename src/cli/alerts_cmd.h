// `sextant alerts ...`: a project's alert rules, their states, webhooks and
// deliveries (docs/alerts.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sextant::cli {

struct AlertsCommand {
  CLI::App* app;
  std::function<int()> run;
};
AlertsCommand AddAlertsCommand(CLI::App& app);

}  // namespace sextant::cli
