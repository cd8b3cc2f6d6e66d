// Evaluation of alert rules over one run's timeline: a pure function of the
// rules, the timeline JSON (docs/format.md, "timeline") and the states before,
// giving the states after and the transitions worth a notification.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "alerts/rules.h"

namespace sextant::alerts {

// ok: the condition does not hold (or never did); firing: it holds;
// resolved: it held and no longer does.
inline constexpr const char* kOk = "ok";
inline constexpr const char* kFiring = "firing";
inline constexpr const char* kResolved = "resolved";

// One state per (rule, run, inference set, class); class is "" for an
// overall rule and the label for each class of a "*" rule.
struct StateKey {
  std::string rule_id, run, set, cls;
  auto operator<=>(const StateKey&) const = default;
};

struct AlertState {
  StateKey key;
  std::string state = kOk;
  // What was compared (a change_from_training rule: the change) and with what.
  std::optional<double> value, threshold, band_low, band_high;
  std::optional<double> set_value, reference_value;  // change_from_training: the two values
  // Why the state is what it is when not judged: "learning" (a band rule with
  // fewer than first_n sets so far), "baseline" (one of the first_n sets),
  // "no data" (the set has no value for the metric).
  std::string detail;
  std::optional<double> set_time;  // the inference set's time (unix seconds)
  double since = 0;                // when the state last changed
  double updated = 0;              // when it was last evaluated
};

struct AlertEvent {
  std::string event;  // "firing" or "resolved"
  std::string previous;
  AlertState state;
  Rule rule;
};

struct Evaluation {
  std::vector<AlertState> states;  // every (rule, set, class) judged, in rule then set order
  std::vector<AlertEvent> events;  // each transition to firing and each firing -> resolved
};

// The run is the timeline's "run". Rules that are disabled, or for another
// run, are skipped (their states stay as they are). `previous` holds the
// states of this run before (any others are ignored). `now` is unix seconds.
Evaluation Evaluate(const std::vector<Rule>& rules, const nlohmann::json& timeline,
                    const std::map<StateKey, AlertState>& previous, double now);

// A timeline entry's value of `metric` (a class's when `cls` is not empty);
// the verdicts read 1 (true) or 0; nullopt when missing or null.
std::optional<double> MetricValue(const nlohmann::json& entry, const std::string& metric,
                                  const std::string& cls);

// The state as the API and the CLI show it.
nlohmann::ordered_json StateToJson(const AlertState& s);

}  // namespace sextant::alerts
