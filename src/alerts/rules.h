// Alert rules over a run's timeline (docs/alerts.md): what a rule says, how it
// is read from and written to JSON, and the built-in rules every project's
// alert store starts with.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sextant/status.h"

namespace sextant::alerts {

enum class RuleKind {
  kThreshold,           // the set's value against a constant
  kBand,                // outside mean ± k·σ of the first N sets (those are not judged)
  kChangeFromTraining,  // the set's value minus the training reference's, against a constant
};
const char* RuleKindName(RuleKind kind);

struct Band {
  int first_n = 5;  // sets (in time order) that make the baseline
  double k = 3;     // half-width in standard deviations
};

struct Rule {
  std::string id;    // unique in the project; [A-Za-z0-9_.-]
  std::string name;  // for people; defaults to a description of the condition
  // The timeline metric: an overall one (`metrics.<name>` in the timeline, plus
  // the verdicts drift_verdict and domain_shifted read as 1 or 0), or with
  // `cls`, a per-class one (`per_class.<label>.<name>`).
  std::string metric;
  std::string cls;  // "" overall; a label; "*" each class on its own
  RuleKind kind = RuleKind::kThreshold;
  // > >= < <=. A band: "" fires on either side, ">" above only, "<" below only.
  std::string op;
  double value = 0;  // the threshold (threshold), the change (change_from_training)
  bool abs = false;  // change_from_training: compare |change|
  Band band;
  std::string run;  // "" every run of the project
  bool enabled = true;
  bool builtin = false;  // one of DefaultRules() (editable and removable)
  std::string severity = "warning";

  // "metrics.drifted_share" or "per_class.<label>.mean_confidence" (cls may be "*").
  std::string MetricPath() const;
  // "metrics.drifted_share > 0.2", "per_class.*.mean_confidence change from training < -0.05".
  std::string Describe() const;
};

// Metric names a rule may use (the timeline's vocabulary, docs/alerts.md).
const std::vector<std::string>& OverallMetrics();
const std::vector<std::string>& PerClassMetrics();

// A rule from its JSON (the API's body, `sextant alerts add`'s fields). Errors
// name the field: "rule.op: expected one of >, >=, <, <=; got '=>'". `metric`
// may also be the full path ("metrics.drifted_share",
// "per_class.positive.mean_confidence"). The id may be left out (the store
// assigns one).
Result<Rule> RuleFromJson(const nlohmann::json& j);
nlohmann::ordered_json RuleToJson(const Rule& rule);

// Checks what RuleFromJson checks, for a rule built in code.
Status ValidateRule(const Rule& rule);

// The alerts the report and the console's insights raised before rules
// existed, as rules: data drift verdict, distribution shift (domain
// classifier), confidence dropped on a class by more than 0.05 from training,
// class share changed by more than 10 points.
std::vector<Rule> DefaultRules();

}  // namespace sextant::alerts
