#include "alerts/rules.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sextant::alerts {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

const std::vector<std::string> kOps = {">", ">=", "<", "<="};
const std::vector<std::string> kKinds = {"threshold", "band", "change_from_training"};

}  // namespace

const char* RuleKindName(RuleKind kind) {
  switch (kind) {
    case RuleKind::kThreshold:
      return "threshold";
    case RuleKind::kBand:
      return "band";
    case RuleKind::kChangeFromTraining:
      return "change_from_training";
  }
  return "threshold";
}

const std::vector<std::string>& OverallMetrics() {
  static const std::vector<std::string> kNames = {
      "drifted_share",   "domain_auc",         "on_boundary_share",
      "mean_confidence", "estimated_accuracy", "samples",
      "drift_verdict",   "domain_shifted",     "accuracy"};
  return kNames;
}

const std::vector<std::string>& PerClassMetrics() {
  static const std::vector<std::string> kNames = {"pred_share",          "mean_confidence",
                                                  "estimated_precision", "estimated_recall",
                                                  "estimated_f1",        "drifted_share"};
  return kNames;
}

std::string Rule::MetricPath() const {
  // The verdicts are the timeline entry's own fields, not under "metrics".
  if (cls.empty() && (metric == "drift_verdict" || metric == "domain_shifted")) return metric;
  return cls.empty() ? "metrics." + metric : "per_class." + cls + "." + metric;
}

std::string Rule::Describe() const {
  switch (kind) {
    case RuleKind::kThreshold:
      return MetricPath() + " " + op + " " + Number(value);
    case RuleKind::kChangeFromTraining:
      return (abs ? "|change of " + MetricPath() + " from training| "
                  : MetricPath() + " change from training ") +
             op + " " + Number(value);
    case RuleKind::kBand:
      return MetricPath() +
             (op == ">"   ? " above"
              : op == "<" ? " below"
                          : " outside") +
             " mean ± " + Number(band.k) + "σ of the first " + std::to_string(band.first_n) +
             " sets";
  }
  return MetricPath();
}

Status ValidateRule(const Rule& r) {
  if (!r.id.empty() && !ValidId(r.id)) {
    return Status::Invalid("rule.id: expected 1 to 64 letters, digits, '_', '-' or '.'; got '" +
                           r.id + "'");
  }
  if (r.cls.empty()) {
    if (!Contains(OverallMetrics(), r.metric)) {
      return Status::Invalid("rule.metric: expected an overall timeline metric (" +
                             Join(OverallMetrics()) + "), or one per class with rule.class (" +
                             Join(PerClassMetrics()) + "); got '" + r.metric + "'");
    }
  } else if (!Contains(PerClassMetrics(), r.metric)) {
    return Status::Invalid("rule.metric: expected a per-class timeline metric (" +
                           Join(PerClassMetrics()) + ") with rule.class '" + r.cls + "'; got '" +
                           r.metric + "'");
  }
  if (r.kind == RuleKind::kBand) {
    if (!r.op.empty() && r.op != ">" && r.op != "<") {
      return Status::Invalid(
          "rule.op: a band rule takes no op (either side), '>' (above only) or '<' (below "
          "only); got '" +
          r.op + "'");
    }
    if (r.band.first_n < 2 || r.band.first_n > 10000) {
      return Status::Invalid("rule.band.first_n: expected 2 to 10000 baseline sets, got " +
                             std::to_string(r.band.first_n));
    }
    if (!(r.band.k > 0 && r.band.k <= 100)) {
      return Status::Invalid(
          "rule.band.k: expected a number of standard deviations in (0, 100], "
          "got " +
          Number(r.band.k));
    }
  } else {
    if (!Contains(kOps, r.op)) {
      return Status::Invalid("rule.op: expected one of " + Join(kOps) + "; got '" + r.op + "'");
    }
    if (!std::isfinite(r.value)) return Status::Invalid("rule.value: expected a finite number");
  }
  if (r.abs && r.kind != RuleKind::kChangeFromTraining) {
    return Status::Invalid("rule.abs: only a change_from_training rule compares |change|");
  }
  if (r.severity != "warning" && r.severity != "critical" && r.severity != "info") {
    return Status::Invalid("rule.severity: expected info, warning or critical; got '" + r.severity +
                           "'");
  }
  if (r.name.size() > 200) return Status::Invalid("rule.name: at most 200 characters");
  return Status::OK();
}

Result<Rule> RuleFromJson(const json& j) {
  if (!j.is_object()) return Status::Invalid("rule: expected a JSON object");
  static const std::vector<std::string> kFields = {
      "id",   "name", "metric",  "class",   "kind",     "op",          "value", "abs",
      "band", "run",  "enabled", "builtin", "severity", "description", "path"};
  // "path" and "description" are written by RuleToJson and ignored here (a
  // rule read back from the API can be sent again).
  for (const auto& [key, v] : j.items()) {
    if (!Contains(kFields, key)) {
      return Status::Invalid("rule." + key + ": unknown field (expected " + Join(kFields) + ")");
    }
  }
  Rule r;
  auto text = [&](const char* key, std::string* out) -> Status {
    if (!j.contains(key) || j[key].is_null()) return Status::OK();
    if (!j[key].is_string())
      return Status::Invalid(std::string("rule.") + key + ": expected a string");
    *out = j[key].get<std::string>();
    return Status::OK();
  };
  auto boolean = [&](const char* key, bool* out) -> Status {
    if (!j.contains(key) || j[key].is_null()) return Status::OK();
    if (!j[key].is_boolean())
      return Status::Invalid(std::string("rule.") + key + ": expected true or false");
    *out = j[key].get<bool>();
    return Status::OK();
  };
  SEXTANT_RETURN_IF_ERROR(text("id", &r.id));
  SEXTANT_RETURN_IF_ERROR(text("name", &r.name));
  SEXTANT_RETURN_IF_ERROR(text("metric", &r.metric));
  SEXTANT_RETURN_IF_ERROR(text("class", &r.cls));
  SEXTANT_RETURN_IF_ERROR(text("op", &r.op));
  SEXTANT_RETURN_IF_ERROR(text("run", &r.run));
  SEXTANT_RETURN_IF_ERROR(text("severity", &r.severity));
  SEXTANT_RETURN_IF_ERROR(boolean("abs", &r.abs));
  SEXTANT_RETURN_IF_ERROR(boolean("enabled", &r.enabled));
  SEXTANT_RETURN_IF_ERROR(boolean("builtin", &r.builtin));
  if (r.metric.empty()) {
    return Status::Invalid(
        "rule.metric: required (e.g. \"drifted_share\", or "
        "\"per_class.<label>.mean_confidence\")");
  }
  // The full path of the timeline: metrics.<name>, per_class.<label>.<name>
  // (a label may hold dots: the name is after the last one).
  if (r.metric.rfind("metrics.", 0) == 0 && r.cls.empty()) {
    r.metric = r.metric.substr(8);
  } else if (r.metric.rfind("per_class.", 0) == 0) {
    const size_t dot = r.metric.rfind('.');
    if (dot <= 10) {
      return Status::Invalid("rule.metric: expected per_class.<label>.<name>, got '" + r.metric +
                             "'");
    }
    const std::string label = r.metric.substr(10, dot - 10);
    if (!r.cls.empty() && r.cls != label) {
      return Status::Invalid("rule.class: '" + r.cls +
                             "' disagrees with the class in rule.metric ('" + label + "')");
    }
    r.cls = label;
    r.metric = r.metric.substr(dot + 1);
  }
  std::string kind = "threshold";
  SEXTANT_RETURN_IF_ERROR(text("kind", &kind));
  if (kind == "threshold") {
    r.kind = RuleKind::kThreshold;
  } else if (kind == "band") {
    r.kind = RuleKind::kBand;
  } else if (kind == "change_from_training" || kind == "change") {
    r.kind = RuleKind::kChangeFromTraining;
  } else {
    return Status::Invalid("rule.kind: expected one of " + Join(kKinds) + "; got '" + kind + "'");
  }
  if (j.contains("value") && !j["value"].is_null()) {
    if (!j["value"].is_number()) return Status::Invalid("rule.value: expected a number");
    r.value = j["value"].get<double>();
  } else if (r.kind != RuleKind::kBand) {
    return Status::Invalid("rule.value: required for a " + kind + " rule (a number)");
  }
  if (j.contains("band") && !j["band"].is_null()) {
    const json& b = j["band"];
    if (!b.is_object()) return Status::Invalid("rule.band: expected {\"first_n\": N, \"k\": K}");
    for (const auto& [key, v] : b.items()) {
      if (key != "first_n" && key != "k") {
        return Status::Invalid("rule.band." + key + ": unknown field (expected first_n, k)");
      }
    }
    if (b.contains("first_n")) {
      if (!b["first_n"].is_number_integer()) {
        return Status::Invalid("rule.band.first_n: expected an integer");
      }
      r.band.first_n = b["first_n"].get<int>();
    }
    if (b.contains("k")) {
      if (!b["k"].is_number()) return Status::Invalid("rule.band.k: expected a number");
      r.band.k = b["k"].get<double>();
    }
  } else if (r.kind == RuleKind::kBand && !j.contains("band")) {
    // Defaults: NannyML's 3σ over the first 5 sets.
  }
  SEXTANT_RETURN_IF_ERROR(ValidateRule(r));
  if (r.name.empty()) r.name = r.Describe();
  return r;
}

ordered_json RuleToJson(const Rule& r) {
  ordered_json j;
  j["id"] = r.id;
  j["name"] = r.name;
  j["metric"] = r.metric;
  j["class"] = r.cls.empty() ? ordered_json() : ordered_json(r.cls);
  j["path"] = r.MetricPath();
  j["kind"] = RuleKindName(r.kind);
  j["op"] = r.op.empty() ? ordered_json() : ordered_json(r.op);
  j["value"] = r.kind == RuleKind::kBand ? ordered_json() : ordered_json(r.value);
  j["abs"] = r.abs;
  j["band"] = r.kind == RuleKind::kBand ? ordered_json{{"first_n", r.band.first_n}, {"k", r.band.k}}
                                        : ordered_json();
  j["run"] = r.run.empty() ? ordered_json() : ordered_json(r.run);
  j["enabled"] = r.enabled;
  j["builtin"] = r.builtin;
  j["severity"] = r.severity;
  j["description"] = r.Describe();
  return j;
}

std::vector<Rule> DefaultRules() {
  std::vector<Rule> out;
  Rule drift;
  drift.id = "data_drift";
  drift.name = "data drift (the drift test's verdict)";
  drift.metric = "drift_verdict";
  drift.op = ">=";
  drift.value = 1;
  out.push_back(drift);
  Rule shift;
  shift.id = "distribution_shift";
  shift.name = "distribution shift (the domain classifier tells the set from the reference)";
  shift.metric = "domain_shifted";
  shift.op = ">=";
  shift.value = 1;
  out.push_back(shift);
  Rule confidence;
  confidence.id = "confidence_drop";
  confidence.name = "confidence dropped on a class (by more than 0.05 from training)";
  confidence.metric = "mean_confidence";
  confidence.cls = "*";
  confidence.kind = RuleKind::kChangeFromTraining;
  confidence.op = "<";
  confidence.value = -0.05;
  out.push_back(confidence);
  Rule share;
  share.id = "class_share_change";
  share.name = "class share changed (by more than 10 points from training)";
  share.metric = "pred_share";
  share.cls = "*";
  share.kind = RuleKind::kChangeFromTraining;
  share.abs = true;
  share.op = ">";
  share.value = 0.10;
  out.push_back(share);
  for (Rule& r : out) r.builtin = true;
  return out;
}

}  // namespace sextant::alerts
