#include "cli/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace sextant::cli {
using json = nlohmann::ordered_json;

namespace {

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string Pct(const json& v) { return v.is_number() ? Fmt("%.1f%%", 100 * v.get<double>()) : "-"; }
std::string Num(const json& v) { return v.is_number() ? Fmt("%.3f", v.get<double>()) : "-"; }
std::string SignedPts(const json& v) {
  return v.is_number() ? Fmt("%+.1f pts", 100 * v.get<double>()) : "-";
}
std::string Signed(const json& v) { return v.is_number() ? Fmt("%+.3f", v.get<double>()) : "-"; }

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

const json& At(const json& j, const char* key) {
  static const json kNull;
  return j.is_object() && j.contains(key) ? j.at(key) : kNull;
}

}  // namespace

Status WriteHumanReport(const std::string& run_summary_json, std::ostream& out) {
  json run;
  try {
    run = json::parse(run_summary_json);
  } catch (const json::exception& e) {
    return Status::Internal(std::string("summary is not valid JSON: ") + e.what());
  }
  const json& params = run["parameters"];
  std::string labels;
  for (const auto& l : run["labels"]) labels += (labels.empty() ? "" : ", ") + l.get<std::string>();
  out << "Run " << run.value("project", "?") << "/" << run.value("run", "?") << " ("
      << run.value("task_type", "?") << "; labels: " << labels << ")\n";
  if (params["drift_threshold"].is_number()) {
    out << "Drift: cosine distance to the " << params["drift_k"].get<int>()
        << "th nearest training embedding; threshold " << Num(params["drift_threshold"]) << " = "
        << Fmt("%.0f", 100 * params["drift_percentile"].get<double>()) << "th percentile of "
        << params["reference_size"].get<int64_t>() << " training samples (leave-one-out)\n";
  } else {
    out << "Drift: not computed (the run has no training split)\n";
  }
  size_t split_w = 26;
  for (const auto& [name, s] : run["splits"].items()) split_w = std::max(split_w, name.size() + 2);
  out << "\n" << Pad("split", split_w) << Pad("samples", 10) << Pad("accuracy", 10)
      << Pad("mean conf", 11) << Pad("on boundary", 13) << "drifted / out of coverage\n";
  for (const auto& [name, s] : run["splits"].items()) {
    const json& drift = s.contains("drifted") ? s["drifted"] : At(s, "out_of_coverage");
    out << Pad(name, split_w) << Pad(std::to_string(s["samples"].get<int64_t>()), 10)
        << Pad(Num(At(s, "accuracy")), 10) << Pad(Num(s["mean_confidence"]), 11)
        << Pad(Pct(s["on_the_boundary"]["fraction"]), 13) << Pct(At(drift, "fraction")) << "\n";
  }

  std::vector<std::string> alerts;
  for (const auto& [name, cmp] : run["comparisons"].items()) {
    out << "\n" << name << " next to training (predicted class share; mean confidence of the class)\n";
    const size_t w = std::max<size_t>(20, name.size() + 2);  // long inference names stay aligned
    out << Pad("class", 20) << Pad("training", 20) << Pad(name, w) << "change\n";
    for (const json& c : cmp["classes"]) {
      const std::string label = c["label"].get<std::string>();
      out << Pad(label, 20)
          << Pad(Pct(c["training_pred_fraction"]) + ", " + Num(c["training_mean_confidence"]), 20)
          << Pad(Pct(c["inference_pred_fraction"]) + ", " + Num(c["inference_mean_confidence"]), w)
          << SignedPts(c["pred_fraction_change"]) << ", " << Signed(c["mean_confidence_change"])
          << "\n";
      if (c["mean_confidence_change"].is_number() && c["mean_confidence_change"].get<double>() < -0.05) {
        alerts.push_back(name + ": confidence dropped on class '" + label + "' (" +
                         Signed(c["mean_confidence_change"]) + ")");
      }
      if (c["pred_fraction_change"].is_number() && std::abs(c["pred_fraction_change"].get<double>()) > 0.10) {
        alerts.push_back(name + ": class share changed for '" + label + "' (" +
                         SignedPts(c["pred_fraction_change"]) + ")");
      }
    }
    const json& drifted = cmp["drifted_fraction"];
    out << Pad("on boundary", 20) << Pad(Pct(cmp["on_the_boundary_fraction"]["training"]), 20)
        << Pad(Pct(cmp["on_the_boundary_fraction"]["inference"]), w)
        << SignedPts(cmp["on_the_boundary_fraction"]["change"]) << "\n";
    out << Pad("drifted", 20) << Pad(Pct(drifted["nominal"]) + " (nominal)", 20)
        << Pad(Pct(drifted["inference"]), w) << SignedPts(drifted["change"]) << "\n";
    if (drifted["inference"].is_number() &&
        drifted["inference"].get<double>() > 2 * drifted["nominal"].get<double>()) {
      alerts.push_back(name + ": data drift (" + Pct(drifted["inference"]) +
                       " of samples drifted; " + Pct(drifted["nominal"]) + " expected without drift)");
    }
  }
  out << "\n";
  if (alerts.empty()) out << "No alerts.\n";
  for (const std::string& a : alerts) out << "ALERT " << a << "\n";
  return Status::OK();
}

}  // namespace sextant::cli
