// `sextant alerts ...`: a project's alert rules, their states, webhooks and
// deliveries (docs/alerts.md).
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace sextant::cli {

struct AlertsCommand {
  CLI::App* app;
  std::function<int()> run;
};
AlertsCommand AddAlertsCommand(CLI::App& app);

// For `sextant report`: the firing states of the run's alert rules, when the
// project has an alert store (none is created).
void PrintRunAlerts(const std::filesystem::path& root, const std::string& project,
                    const std::string& run, std::ostream& out);

}  // namespace sextant::cli
