// What a finish does with alerts: evaluates the project's rules on the run's
// timeline, keeps the states, and sends the notifications it can within a
// few seconds (the rest wait for `sextant alerts deliver` or the team
// server's deliverer). Never fails: a problem becomes the returned warning.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "alerts/deliver.h"

namespace sextant::alerts {

struct FinishAlerts {
  int firing = 0;  // states firing after the evaluation (this run)
  int events = 0;  // transitions (to firing, firing to resolved)
  int queued = 0;  // deliveries queued for them
  DeliveryReport delivery;
  std::string warning;  // evaluation or delivery failed: what and why
  // One line for FinishReport::message ("" when nothing to say).
  std::string Message() const;
};

// `run_dir` is <root>/<project>/<run>; `timeline` the run summary's "timeline".
FinishAlerts EvaluateAfterFinish(const std::filesystem::path& run_dir,
                                 const nlohmann::json& timeline,
                                 const DeliveryOptions& options = {});

}  // namespace sextant::alerts
