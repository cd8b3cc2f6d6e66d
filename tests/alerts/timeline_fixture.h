// A synthetic timeline (the shape of docs/format.md, "timeline") for the alert tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sextant::alerts::testing {

struct SetSpec {
  std::string name;
  double drifted_share = 0.05;
  double mean_confidence_pos = 0.90;  // per class "pos"
  double pred_share_pos = 0.50;
  bool drift_verdict = false;
};

// Sets one day apart from 2026-12-01, in the order given.
inline nlohmann::json MakeTimeline(const std::string& run, const std::vector<SetSpec>& sets) {
  auto entry = [](const SetSpec& s) {
    nlohmann::json e;
    e["split"] = "inference:" + s.name;
    e["name"] = s.name;
    e["samples"] = 100;
    e["metrics"] = {
        {"drifted_share", {{"value", s.drifted_share}, {"low", nullptr}, {"high", nullptr}}},
        {"mean_confidence", {{"value", 0.9}, {"low", nullptr}, {"high", nullptr}}},
        {"estimated_accuracy", {{"value", nullptr}, {"low", nullptr}, {"high", nullptr}}},
        {"samples", {{"value", 100}}}};
    e["drift_verdict"] = s.drift_verdict;
    e["domain_shifted"] = nullptr;
    e["per_class"] = {{"pos",
                       {{"pred_share", {{"value", s.pred_share_pos}}},
                        {"mean_confidence", {{"value", s.mean_confidence_pos}}}}},
                      {"neg",
                       {{"pred_share", {{"value", 1 - s.pred_share_pos}}},
                        {"mean_confidence", {{"value", 0.9}}}}}};
    return e;
  };
  nlohmann::json t;
  t["project"] = "proj";
  t["run"] = run;
  SetSpec training{"training"};
  t["reference"] = {{"training", entry(training)}, {"validation", entry(training)}};
  t["reference"]["training"]["time"] = nullptr;
  t["sets"] = nlohmann::json::array();
  double time = 1764547200;  // 2026-12-01T00:00:00Z
  for (const SetSpec& s : sets) {
    nlohmann::json e = entry(s);
    e["time"] = time;
    time += 86400;
    t["sets"].push_back(e);
  }
  return t;
}

}  // namespace sextant::alerts::testing
