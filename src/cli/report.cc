#include "cli/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "query/verdict.h"

namespace sextant::cli {
using json = nlohmann::ordered_json;

namespace {

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string Pct(const json& v) {
  return v.is_number() ? Fmt("%.1f%%", 100 * v.get<double>()) : "-";
}
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

namespace {
Status WriteHumanReportUnchecked(json run, std::ostream& out);
}  // namespace

Status WriteHumanReport(const std::string& run_summary_json, std::ostream& out) {
  json run;
  try {
    run = json::parse(run_summary_json);
  } catch (const json::exception& e) {
    return Status::IOError(std::string("the stored run summary is not valid JSON: ") + e.what());
  }
  // A stored summary of an unexpected shape (a damaged run) is an error, not an abort.
  try {
    return WriteHumanReportUnchecked(std::move(run), out);
  } catch (const json::exception& e) {
    return Status::IOError(std::string("the stored run summary has an unexpected structure: ") +
                           e.what());
  }
}

namespace {
Status WriteHumanReportUnchecked(json run, std::ostream& out) {
  const json& params = run["parameters"];
  std::string labels;
  for (const auto& l : run["labels"]) labels += (labels.empty() ? "" : ", ") + l.get<std::string>();
  out << "Run " << run.value("project", "?") << "/" << run.value("run", "?") << " ("
      << run.value("task_type", "?") << "; labels: " << labels << ")\n";
  if (params["drift_threshold"].is_number()) {
    const bool validation = At(params, "reference") == "validation";
    out << "Drift: cosine distance to the " << params["drift_k"].get<int>()
        << "th nearest training embedding; threshold " << Num(params["drift_threshold"]) << " = "
        << Fmt("%.0f", 100 * params["drift_percentile"].get<double>()) << "th percentile of "
        << params["reference_size"].get<int64_t>()
        << (validation ? " validation samples (held out)" : " training samples (leave-one-out)");
    const json& population = At(params, "reference_population");
    if (population.is_number() &&
        population.get<int64_t>() > params["reference_size"].get<int64_t>()) {
      out << ", a random sample of " << population.get<int64_t>() << " (CDF error "
          << Fmt("%.4f", At(params, "reference_cdf_error").value("dkw_epsilon", 0.0)) << ")";
    }
    const json& loo = At(At(params, "drift_thresholds"), "training_loo");
    if (validation && loo.is_number()) out << "; training leave-one-out: " << Num(loo);
    out << "\n";
  } else if (At(params, "drift_unavailable_reason").is_string()) {
    // A small first run: every other result is there (docs/algorithms.md).
    out << "Drift: not computed: " << params["drift_unavailable_reason"].get<std::string>() << "\n";
  } else {
    out << "Drift: not computed (the run has no training split)\n";
  }
  size_t split_w = 26;
  for (const auto& [name, s] : run["splits"].items()) split_w = std::max(split_w, name.size() + 2);
  out << "\n"
      << Pad("split", split_w) << Pad("samples", 10) << Pad("accuracy", 10) << Pad("mean conf", 11)
      << Pad("on boundary", 13) << "drifted / out of coverage\n";
  for (const auto& [name, s] : run["splits"].items()) {
    const json& drift = s.contains("drifted") ? s["drifted"] : At(s, "out_of_coverage");
    out << Pad(name, split_w) << Pad(std::to_string(s["samples"].get<int64_t>()), 10)
        << Pad(Num(At(s, "accuracy")), 10) << Pad(Num(s["mean_confidence"]), 11)
        << Pad(Pct(s["on_the_boundary"]["fraction"]), 13) << Pct(At(drift, "fraction")) << "\n";
  }

  // NER: the span rows of each split (docs/ner-nli.md).
  if (run.contains("entity_types")) {
    out << "\nSpan rows (gold and predicted spans; F1 by exact match, "
        << (At(At(params, "spans"), "decoding").is_string()
                ? At(At(params, "spans"), "decoding").get<std::string>()
                : std::string("strict"))
        << " decoding)\n";
    out << Pad("split", split_w) << Pad("span rows", 11) << Pad("precision", 11) << Pad("recall", 9)
        << Pad("F1", 9) << "drifted / out of coverage\n";
    for (const auto& [name, s] : run["splits"].items()) {
      const json& sp = At(s, "spans");
      const json& drift =
          sp.contains("span_drift") ? sp["span_drift"] : At(sp, "span_out_of_coverage");
      out << Pad(name, split_w) << Pad(std::to_string(sp.value("span_rows", int64_t{0})), 11)
          << Pad(Num(At(sp, "precision")), 11) << Pad(Num(At(sp, "recall")), 9)
          << Pad(Num(At(sp, "f1")), 9) << Pct(At(drift, "fraction")) << "\n";
    }
  }

  // The verdict lines come from the same code as the console's (query/verdict.h).
  std::map<std::string, json> verdicts;
  for (const auto& [name, s] : run["splits"].items()) {
    verdicts[name] = verdict::SplitVerdict(run, name);
  }
  std::vector<std::string> alerts;
  bool any_verdict = false;
  for (const auto& [name, s] : run["splits"].items()) {
    const json& v = At(s, "drift_verdict");
    if (!v.is_object()) continue;
    if (!any_verdict) {
      out << "\nDrift verdict (share above the threshold, Wilson 95% interval; one-sided test at "
             "alpha "
          << Fmt("%g", v["alpha"].get<double>()) << ")\n";
      any_verdict = true;
    }
    const json& sv = verdicts[name];
    out << Pad(name, split_w) << sv["drift"]["text"].get<std::string>() << "\n";
    for (const json& f : sv["findings"]) {
      if (f.contains("label"))
        out << Pad("", split_w) << "  " << f["text"].get<std::string>() << "\n";
    }
    if (sv["span_drift"].is_object() && sv["span_drift"].value("available", false)) {
      out << Pad("", split_w) << "  span rows: " << sv["span_drift"]["text"].get<std::string>()
          << "\n";
    }
    const bool inference = name.rfind("inference:", 0) == 0;
    if (inference && v["drifted"].is_boolean() && v["drifted"].get<bool>()) {
      alerts.push_back(name + ": data drift (" + Pct(v["fraction"]) + " of samples drifted; " +
                       Pct(v["nominal"]) + " expected without drift; " +
                       verdict::PText(At(v, "p_value"), At(v, "log10_p_value")) + ")");
    }
  }
  bool any_domain_test = false;
  for (const auto& [name, s] : run["splits"].items()) {
    const json& t = At(s, "domain_test");
    if (!t.is_object() || !t.contains("auc")) continue;
    if (!any_domain_test) {
      out << "\nDomain-classifier test (AUC of telling the split from "
          << t["reference"].get<std::string>()
          << ", cross-fitted; 0.5 = indistinguishable; one-sided test at alpha "
          << Fmt("%g", t.value("alpha", 0.01)) << ")\n";
      any_domain_test = true;
    }
    out << Pad(name, split_w) << verdict::DomainTestText(t) << "\n";
    if (t["shifted"].get<bool>()) {
      alerts.push_back(name + ": distribution shift (a domain classifier tells it from " +
                       t["reference"].get<std::string>() + ", AUC " +
                       Fmt("%.3f", t["auc"].get<double>()) + ", " +
                       verdict::PText(At(t, "p_value"), At(t, "log10_p_value")) + ")");
    }
  }
  // Where k-NN drift and the domain-classifier test disagree, why.
  bool any_disagreement = false;
  for (const auto& [name, unused] : run["splits"].items()) {
    const json& sv = verdicts[name];
    if (!sv["disagreement"].is_string()) continue;
    if (!any_disagreement) out << "\nWhere the two tests disagree\n";
    any_disagreement = true;
    out << "  " << name << ": " << sv["disagreement"].get<std::string>() << "\n";
  }
  // The label-free accuracy estimate (docs/performance-estimation.md).
  bool any_estimate = false;
  for (const auto& [name, s] : run["splits"].items()) {
    const json& e = At(s, "performance_estimate");
    if (!e.is_object()) continue;
    if (!any_estimate) {
      out << "\nEstimated accuracy without labels (" << e.value("method", std::string("?"))
          << ", 90% interval; calibrated on the held-out split)\n";
      any_estimate = true;
    }
    const json& a = At(e, "accuracy");
    if (!a.is_object()) {
      out << Pad(name, split_w) << "none: " << e.value("reason", std::string("?")) << "\n";
      continue;
    }
    out << Pad(name, split_w) << Pct(a["value"]) << " [" << Pct(a["low"]) << ", " << Pct(a["high"])
        << "]; average confidence " << Pct(At(At(e, "baselines"), "average_confidence")) << "\n";
  }
  for (const auto& [name, cmp] : run["comparisons"].items()) {
    // The reference of the comparison: validation when the run has it, else training
    // (summaries written before it was chosen: training).
    const std::string reference =
        At(cmp, "reference").is_string() ? cmp["reference"].get<std::string>() : "training";
    out << "\n"
        << name << " next to " << reference
        << " (predicted class share; mean confidence of the class)\n";
    const size_t w = std::max<size_t>(20, name.size() + 2);  // long inference names stay aligned
    out << Pad("class", 20) << Pad(reference, 20) << Pad(name, w) << "change\n";
    for (const json& c : cmp["classes"]) {
      const std::string label = c["label"].get<std::string>();
      out << Pad(label, 20)
          << Pad(Pct(c["training_pred_fraction"]) + ", " + Num(c["training_mean_confidence"]), 20)
          << Pad(Pct(c["inference_pred_fraction"]) + ", " + Num(c["inference_mean_confidence"]), w)
          << SignedPts(c["pred_fraction_change"]) << ", " << Signed(c["mean_confidence_change"])
          << "\n";
      // NER: the alerts are per entity type (below), not per BIO tag.
      if (cmp.contains("spans")) continue;
      if (c["mean_confidence_change"].is_number() &&
          c["mean_confidence_change"].get<double>() < -0.05) {
        alerts.push_back(name + ": confidence dropped on class '" + label + "' (" +
                         Signed(c["mean_confidence_change"]) + ")");
      }
      if (c["pred_fraction_change"].is_number() &&
          std::abs(c["pred_fraction_change"].get<double>()) > 0.10) {
        alerts.push_back(name + ": class share changed for '" + label + "' (" +
                         SignedPts(c["pred_fraction_change"]) + ")");
      }
    }
    if (cmp.contains("spans")) {
      const json& spans = cmp["spans"];
      out << Pad("entity type", 20) << Pad(reference, 20) << Pad(name, w) << "change\n";
      for (const json& t : spans["types"]) {
        out << Pad(t["type"].get<std::string>(), 20)
            << Pad(Pct(t["training_pred_fraction"]) + ", " + Num(t["training_mean_confidence"]), 20)
            << Pad(Pct(t["inference_pred_fraction"]) + ", " + Num(t["inference_mean_confidence"]),
                   w)
            << SignedPts(t["pred_fraction_change"]) << ", " << Signed(t["mean_confidence_change"])
            << "\n";
        const std::string type = t["type"].get<std::string>();
        if (t["mean_confidence_change"].is_number() &&
            t["mean_confidence_change"].get<double>() < -0.05) {
          alerts.push_back(name + ": confidence dropped on " + type + " spans (" +
                           Signed(t["mean_confidence_change"]) + ")");
        }
        if (t["pred_fraction_change"].is_number() &&
            std::abs(t["pred_fraction_change"].get<double>()) > 0.10) {
          alerts.push_back(name + ": share of " + type + " spans changed (" +
                           SignedPts(t["pred_fraction_change"]) + ")");
        }
      }
      const json& d = spans["drifted_fraction"];
      out << Pad("drifted span rows", 20) << Pad(Pct(d["nominal"]) + " (nominal)", 20)
          << Pad(Pct(d["inference"]), w) << SignedPts(d["change"]) << "\n";
      if (d["inference"].is_number() &&
          d["inference"].get<double>() > 2 * d["nominal"].get<double>()) {
        alerts.push_back(name + ": span drift (" + Pct(d["inference"]) + " of span rows drifted; " +
                         Pct(d["nominal"]) + " expected without drift)");
      }
    }
    const json& drifted = cmp["drifted_fraction"];
    out << Pad("on boundary", 20) << Pad(Pct(cmp["on_the_boundary_fraction"]["training"]), 20)
        << Pad(Pct(cmp["on_the_boundary_fraction"]["inference"]), w)
        << SignedPts(cmp["on_the_boundary_fraction"]["change"]) << "\n";
    out << Pad("drifted", 20) << Pad(Pct(drifted["nominal"]) + " (nominal)", 20)
        << Pad(Pct(drifted["inference"]), w) << SignedPts(drifted["change"]) << "\n";
    // Summaries written before the verdict existed: the old rule of thumb.
    if (!At(run["splits"][name], "drift_verdict").is_object() && drifted["inference"].is_number() &&
        drifted["inference"].get<double>() > 2 * drifted["nominal"].get<double>()) {
      alerts.push_back(name + ": data drift (" + Pct(drifted["inference"]) +
                       " of samples drifted; " + Pct(drifted["nominal"]) +
                       " expected without drift)");
    }
  }
  out << "\n";
  if (alerts.empty()) out << "No alerts.\n";
  for (const std::string& a : alerts) out << "ALERT " << a << "\n";
  return Status::OK();
}
}  // namespace

}  // namespace sextant::cli
