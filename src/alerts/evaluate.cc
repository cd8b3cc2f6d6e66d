#include "alerts/evaluate.h"

#include <cmath>
#include <set>

namespace sextant::alerts {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

std::optional<double> AsNumber(const json& v) {
  if (v.is_object()) return v.contains("value") ? AsNumber(v["value"]) : std::nullopt;
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_number()) {
    const double d = v.get<double>();
    return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
  }
  return std::nullopt;
}

bool Compare(double v, const std::string& op, double threshold) {
  if (op == ">") return v > threshold;
  if (op == ">=") return v >= threshold;
  if (op == "<") return v < threshold;
  return v <= threshold;
}

const json& Field(const json& j, const char* key) {
  static const json kNull;
  return j.is_object() && j.contains(key) ? j.at(key) : kNull;
}

// What one rule says of one set: the compared value and, when judged, whether
// the condition holds.
struct Judgement {
  std::optional<bool> holds;  // nullopt: not judged (see detail)
  AlertState state;           // value, threshold, band and detail filled
};

}  // namespace

std::optional<double> MetricValue(const json& entry, const std::string& metric,
                                  const std::string& cls) {
  if (!cls.empty())
    return AsNumber(Field(Field(Field(entry, "per_class"), cls.c_str()), metric.c_str()));
  const json& metrics = Field(entry, "metrics");
  if (metrics.is_object() && metrics.contains(metric)) return AsNumber(metrics[metric]);
  return AsNumber(Field(entry, metric.c_str()));  // drift_verdict, domain_shifted, samples
}

Evaluation Evaluate(const std::vector<Rule>& rules, const json& timeline,
                    const std::map<StateKey, AlertState>& previous, double now) {
  Evaluation out;
  const std::string run =
      Field(timeline, "run").is_string() ? timeline["run"].get<std::string>() : "";
  const json& sets = Field(timeline, "sets");
  if (!sets.is_array()) return out;
  const json& training = Field(Field(timeline, "reference"), "training");
  for (const Rule& rule : rules) {
    if (!rule.enabled || (!rule.run.empty() && rule.run != run)) continue;
    // The classes: one (or none) or, for "*", each class of any set or of training.
    std::vector<std::string> classes;
    if (rule.cls == "*") {
      std::set<std::string> seen;
      auto add = [&](const json& entry) {
        const json& pc = Field(entry, "per_class");
        if (!pc.is_object()) return;
        for (const auto& [label, v] : pc.items()) {
          if (seen.insert(label).second) classes.push_back(label);
        }
      };
      add(training);
      for (const json& s : sets) add(s);
    } else {
      classes.push_back(rule.cls);
    }
    for (const std::string& cls : classes) {
      // A band: the baseline is the first first_n sets that have a value.
      std::optional<double> low, high;
      int valued = 0;
      if (rule.kind == RuleKind::kBand) {
        std::vector<double> base;
        for (const json& s : sets) {
          if (auto v = MetricValue(s, rule.metric, cls)) {
            if (static_cast<int>(base.size()) < rule.band.first_n) base.push_back(*v);
          }
        }
        if (static_cast<int>(base.size()) == rule.band.first_n) {
          double mean = 0;
          for (double v : base) mean += v;
          mean /= static_cast<double>(base.size());
          double var = 0;
          for (double v : base) var += (v - mean) * (v - mean);
          // NannyML's standard-deviation threshold: the population σ of the reference chunks.
          const double sigma = std::sqrt(var / static_cast<double>(base.size()));
          low = mean - rule.band.k * sigma;
          high = mean + rule.band.k * sigma;
        }
      }
      const std::optional<double> reference_value = MetricValue(training, rule.metric, cls);
      for (const json& s : sets) {
        const std::string set_name =
            Field(s, "name").is_string() ? s["name"].get<std::string>() : "";
        if (set_name.empty()) continue;
        Judgement j;
        j.state.key = {rule.id, run, set_name, cls == "*" ? "" : cls};
        if (Field(s, "time").is_number()) j.state.set_time = s["time"].get<double>();
        const std::optional<double> v = MetricValue(s, rule.metric, cls);
        switch (rule.kind) {
          case RuleKind::kThreshold:
            j.state.threshold = rule.value;
            j.state.value = v;
            if (v) j.holds = Compare(*v, rule.op, rule.value);
            break;
          case RuleKind::kChangeFromTraining:
            j.state.threshold = rule.value;
            j.state.set_value = v;
            j.state.reference_value = reference_value;
            if (v && reference_value) {
              const double change = *v - *reference_value;
              j.state.value = change;
              j.holds = Compare(rule.abs ? std::abs(change) : change, rule.op, rule.value);
            } else if (v) {
              j.state.detail = "no training value";
            }
            break;
          case RuleKind::kBand:
            j.state.value = v;
            j.state.band_low = low;
            j.state.band_high = high;
            if (v) {
              ++valued;
              if (valued <= rule.band.first_n) {
                j.state.detail = low ? "baseline" : "learning";
              } else if (!low) {
                j.state.detail = "learning";
              } else {
                j.holds = rule.op == ">"   ? *v > *high
                          : rule.op == "<" ? *v < *low
                                           : (*v > *high || *v < *low);
              }
            }
            break;
        }
        if (!v && j.state.detail.empty()) j.state.detail = "no data";
        // The transition.
        const auto prev = previous.find(j.state.key);
        const std::string before = prev == previous.end() ? kOk : prev->second.state;
        std::string after = before;
        if (j.holds) {
          after = *j.holds ? kFiring : (before == kFiring ? kResolved : before);
        } else if (rule.kind == RuleKind::kBand && before == kFiring && !j.state.detail.empty() &&
                   j.state.detail != "no data") {
          after = kResolved;  // a band edited into a longer baseline judges the set no more
        }
        j.state.state = after;
        j.state.updated = now;
        j.state.since = prev == previous.end() || after != before ? now : prev->second.since;
        if (after != before && (after == kFiring || before == kFiring)) {
          out.events.push_back({after == kFiring ? "firing" : "resolved", before, j.state, rule});
        }
        out.states.push_back(std::move(j.state));
      }
    }
  }
  return out;
}

ordered_json StateToJson(const AlertState& s) {
  auto opt = [](const std::optional<double>& v) { return v ? ordered_json(*v) : ordered_json(); };
  ordered_json j;
  j["rule_id"] = s.key.rule_id;
  j["run"] = s.key.run;
  j["set"] = s.key.set;
  j["class"] = s.key.cls.empty() ? ordered_json() : ordered_json(s.key.cls);
  j["state"] = s.state;
  j["value"] = opt(s.value);
  j["threshold"] = opt(s.threshold);
  j["band"] = s.band_low || s.band_high
                  ? ordered_json{{"low", opt(s.band_low)}, {"high", opt(s.band_high)}}
                  : ordered_json();
  if (s.set_value || s.reference_value) {
    j["set_value"] = opt(s.set_value);
    j["training_value"] = opt(s.reference_value);
  }
  j["detail"] = s.detail.empty() ? ordered_json() : ordered_json(s.detail);
  j["set_time"] = opt(s.set_time);
  j["since"] = s.since;
  j["updated"] = s.updated;
  return j;
}

}  // namespace sextant::alerts
