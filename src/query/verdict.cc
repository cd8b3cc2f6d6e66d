#include "query/verdict.h"

#include <cmath>
#include <cstdio>

#include "drift/verdict.h"

namespace sextant::verdict {

// Ordered: per-class findings keep the summary's label order.
using json = nlohmann::ordered_json;
using ordered_json = nlohmann::ordered_json;

namespace {

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

const json& At(const json& j, const char* key) {
  static const json kNull;
  return j.is_object() && j.contains(key) ? j.at(key) : kNull;
}

std::optional<double> Opt(const json& v) {
  return v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt;
}
ordered_json Num(const json& v) { return v.is_number() ? ordered_json(v.get<double>()) : nullptr; }
ordered_json Int(const json& v) { return v.is_number() ? ordered_json(v.get<int64_t>()) : nullptr; }
bool True(const json& v) { return v.is_boolean() && v.get<bool>(); }

std::string Pct(const json& v) {
  return v.is_number() ? Fmt("%.1f%%", 100 * v.get<double>()) : "-";
}
std::string PctOf(double v) { return Fmt("%.1f%%", 100 * v); }

// "the 10th", "the 1st", "the 2nd", "the 3rd", "the 11th".
std::string Ordinal(int64_t n) {
  const int64_t mod100 = n % 100, mod10 = n % 10;
  const char* suffix = (mod100 >= 11 && mod100 <= 13) ? "th"
                       : mod10 == 1                   ? "st"
                       : mod10 == 2                   ? "nd"
                       : mod10 == 3                   ? "rd"
                                                      : "th";
  return std::to_string(n) + suffix;
}

// How the drift threshold was chosen, from the run's parameters: "95th
// percentile of the k-NN distances of 4582 held-out validation samples".
std::string ThresholdSource(const json& params) {
  const bool validation = At(params, "reference") == "validation";
  std::string out = Ordinal(std::llround(100 * At(params, "drift_percentile").get<double>())) +
                    " percentile of the " + (validation ? "" : "leave-one-out ") +
                    "k-NN distances of ";
  const json& size = At(params, "reference_size");
  if (size.is_number()) out += std::to_string(size.get<int64_t>()) + " ";
  out += validation ? "held-out validation samples" : "training samples";
  const json& population = At(params, "reference_population");
  if (population.is_number() && size.is_number() &&
      population.get<int64_t>() > size.get<int64_t>()) {
    out += ", a random sample of " + std::to_string(population.get<int64_t>());
  }
  return out;
}

// The filter JSON of the samples API (web/src/api.ts, Filter): the drifted
// samples predicted `label`; for an NER tag of an entity type, the drifted
// sentences with spans of that type (the samples API's entity_type filter).
ordered_json DriftedFilter(const std::string* label, const std::string& entity_type = "") {
  ordered_json f = ordered_json::object();
  if (!entity_type.empty()) {
    f["entity_type"] = {entity_type};
  } else if (label != nullptr) {
    f["pred"] = {*label};
  }
  f["drifted"] = true;
  return f;
}

// "B-PER" -> "PER"; "O" and labels without a BIO prefix -> "".
std::string EntityTypeOf(const std::string& tag) {
  if (tag.size() > 2 && (tag[0] == 'B' || tag[0] == 'I' || tag[0] == 'E' || tag[0] == 'S') &&
      tag[1] == '-') {
    return tag.substr(2);
  }
  return "";
}

std::string Severity(double fraction, double expected) {
  return fraction > 2 * expected ? "critical" : "warning";
}

std::string VerdictText(const json& v, bool inference, const std::string& of);

// NER span drift as a verdict of the same shape as a drift_verdict: the share
// of span rows above the span threshold against what no drift gives.
ordered_json SpanVerdict(const json& params, const json& s, const std::string& split) {
  const json& sp = At(s, "spans");
  if (!sp.is_object()) return nullptr;
  if (At(sp, "drift_unavailable_reason").is_string()) {
    return {{"available", false}, {"reason", sp["drift_unavailable_reason"]}};
  }
  const json& d = sp.contains("span_drift") ? sp["span_drift"] : At(sp, "span_out_of_coverage");
  const json& rows = At(sp, "span_rows");
  if (!d.is_object() || !At(d, "count").is_number() || !rows.is_number() ||
      rows.get<int64_t>() <= 0) {
    return nullptr;
  }
  const json& span_params = At(params, "spans");
  // 1 - percentile, rounded off its floating-point noise (0.050000000000000044).
  const double nominal =
      At(params, "drift_percentile").is_number()
          ? std::round(1e9 * (1 - params["drift_percentile"].get<double>())) / 1e9
          : 0.05;
  const double alpha = At(At(params, "drift_verdict"), "alpha").is_number()
                           ? params["drift_verdict"]["alpha"].get<double>()
                           : 0.01;
  // The span reference's size is stored, not its count above the threshold:
  // that is its nominal share (the threshold is its percentile).
  drift::NullModel null{nominal, 0, 0};
  if (At(span_params, "reference_population").is_number()) {
    null.reference_size = span_params["reference_population"].get<int64_t>();
    null.reference_above = static_cast<int64_t>(std::floor(nominal * null.reference_size));
  }
  const int64_t n = rows.get<int64_t>();
  const int64_t count = d["count"].get<int64_t>();
  const drift::Verdict v = drift::ComputeVerdict(count, n, null, alpha);
  const bool is_reference = At(span_params, "reference").is_string() &&
                            span_params["reference"].get<std::string>() == split;
  ordered_json j = {
      {"available", true},
      {"reason", nullptr},
      {"span_rows", n},
      {"count", count},
      {"share", v.fraction},
      {"low", v.ci.low},
      {"high", v.ci.high},
      {"nominal", nominal},
      {"threshold", Num(At(d, "threshold"))},
      {"p_value", is_reference ? ordered_json(nullptr) : ordered_json(v.p_value)},
      {"log10_p_value", is_reference ? ordered_json(nullptr) : ordered_json(v.log10_p_value)},
      {"p_text",
       is_reference ? ordered_json(nullptr) : ordered_json(PText(v.p_value, v.log10_p_value))},
      {"drifted", !is_reference && v.drifted},
      {"is_reference", is_reference}};
  const json as_verdict = {{"fraction", v.fraction},
                           {"ci_low", v.ci.low},
                           {"ci_high", v.ci.high},
                           {"nominal", nominal},
                           {"log10_p_value", v.log10_p_value},
                           {"p_value", v.p_value},
                           {"drifted", v.drifted},
                           {"is_reference", is_reference}};
  j["text"] = VerdictText(as_verdict, split.rfind("inference:", 0) == 0,
                          " of " + std::to_string(n) + " span rows");
  return j;
}

// " Some classes drift on their own: predicted 'x': 11.0% of 498 drifted (p = 3.8e-7)."
// when the set as a whole does not; "" when none does.
std::string ClassesThatDrift(const ordered_json& findings) {
  std::string listed;
  int n = 0;
  for (const ordered_json& f : findings) {
    if (!f.contains("label")) continue;
    listed += (listed.empty() ? "" : "; ") + f["text"].get<std::string>();
    ++n;
  }
  if (n == 0) return "";
  return std::string(n == 1 ? " One class drifts on its own: "
                            : " Some classes drift on their own: ") +
         listed + ".";
}

// Why the k-NN drift verdict and the domain-classifier test disagree, from
// their numbers; null when they agree.
ordered_json Disagreement(const ordered_json& drift, const ordered_json& domain,
                          const ordered_json& findings) {
  if (!drift.is_object() || !domain.is_object() || !drift.value("available", false) ||
      drift.value("is_reference", false) || !drift["share"]["value"].is_number() ||
      !domain["auc"].is_number()) {
    return nullptr;
  }
  const bool drifted = drift.value("drifted", false);
  const bool shifted = domain.value("shifted", false);
  if (drifted == shifted) return nullptr;
  const double share = drift["share"]["value"].get<double>();
  const double nominal = drift["nominal"].is_number() ? drift["nominal"].get<double>() : 0.05;
  const std::string nominal_text = PctOf(nominal) + " nominal";
  const std::string reference = domain.value("reference", std::string("the reference"));
  const std::string auc = Fmt("%.3f", domain["auc"].get<double>());
  const std::string drift_p = drift.value("p_text", std::string("p = -"));
  const std::string domain_p = domain.value("p_text", std::string("p = -"));
  if (shifted) {
    std::string chance = share <= nominal
                             ? "no more than chance gives (" + nominal_text + ", " + drift_p + ")"
                             : "within what chance gives (" + nominal_text + ", " + drift_p + ")";
    std::string flagged;
    if (domain["shifted_share"].is_number()) {
      flagged = " and flags " + Pct(domain["shifted_share"]) + " of the samples as shifted";
    }
    return "k-NN drift finds " + PctOf(share) + " beyond the training neighbourhood, " + chance +
           ", while the domain classifier separates the set from " + reference + " (AUC " + auc +
           ", " + domain_p + ")" + flagged +
           ": the shift is in directions the nearest-neighbour distance does not see. The samples "
           "stay close to training examples but differ as a whole (another mix of familiar kinds "
           "of text, or another style); filter on shifted to see the samples the classifier finds "
           "most unlike " +
           reference + "." + ClassesThatDrift(findings);
  }
  return "k-NN drift finds " + PctOf(share) +
         " beyond the training neighbourhood, more than chance " + "gives (" + nominal_text + ", " +
         drift_p + "), while the domain classifier does not tell the set from " + reference +
         " (AUC " + auc + ", " + domain_p +
         "): the drifted samples are too few or too scattered to move a set-level classifier, or "
         "differ in directions a linear classifier does not separate; filter on drifted to see "
         "them.";
}

}  // namespace

std::string PText(std::optional<double> p, std::optional<double> log10_p) {
  double l;
  if (log10_p && std::isfinite(*log10_p)) {
    l = std::min(*log10_p, 0.0);
  } else if (p && std::isfinite(*p) && *p > 0) {
    l = std::min(std::log10(*p), 0.0);
  } else if ((p && *p == 0) || (log10_p && std::isinf(*log10_p) && *log10_p < 0)) {
    return "p < 1e-300";  // 0 as a double (or a log10 of -infinity): below any double's reach
  } else {
    return "p = -";
  }
  if (l > -4) return "p = " + Fmt("%.2g", std::pow(10.0, l));
  double exponent = std::floor(l);
  double mantissa = std::pow(10.0, l - exponent);
  if (mantissa >= 9.95) {
    mantissa /= 10;
    exponent += 1;
  }
  return "p = " + Fmt("%.1f", mantissa) + "e" + Fmt("%.0f", exponent);
}

std::string PText(const ordered_json& p, const ordered_json& log10_p) {
  return PText(Opt(p), Opt(log10_p));
}
std::string PText(const nlohmann::json& p, const nlohmann::json& log10_p) {
  return PText(p.is_number() ? std::optional<double>(p.get<double>()) : std::nullopt,
               log10_p.is_number() ? std::optional<double>(log10_p.get<double>()) : std::nullopt);
}
std::string PText(double p, double log10_p) {
  return PText(std::optional<double>(p), std::optional<double>(log10_p));
}

std::string DriftVerdictText(const json& v, bool inference) {
  return VerdictText(v, inference, "");
}

namespace {
std::string VerdictText(const json& v, bool inference, const std::string& of) {
  const std::string range = Pct(At(v, "fraction")) + " [" + Pct(At(v, "ci_low")) + ", " +
                            Pct(At(v, "ci_high")) + "]" + of + " vs " + Pct(At(v, "nominal")) +
                            " nominal";
  if (True(At(v, "is_reference"))) return "the reference (" + range + " by construction)";
  const bool drifted = True(At(v, "drifted"));
  const std::string call = inference ? (drifted ? "drift detected" : "no drift detected")
                                     : (drifted ? "out of coverage" : "within coverage");
  return call + " (" + PText(At(v, "p_value"), At(v, "log10_p_value")) + ", " + range + ")";
}
}  // namespace

std::string DomainTestText(const json& t) {
  std::string out = "AUC " + Fmt("%.3f", At(t, "auc").get<double>());
  const json& ci = At(t, "auc_ci");
  if (ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number()) {
    out += " (95% CI " + Fmt("%.3f", ci[0].get<double>()) + " to " +
           Fmt("%.3f", ci[1].get<double>()) + ")";
  }
  out += ", " + PText(At(t, "p_value"), At(t, "log10_p_value"));
  if (At(t, "samples").is_number() && At(t, "reference_samples").is_number()) {
    out += ", " + std::to_string(t["samples"].get<int64_t>()) + " vs " +
           std::to_string(t["reference_samples"].get<int64_t>()) + " samples";
  }
  // The per-sample flags (docs/algorithms.md, "Per-sample shift score").
  if (At(t, "shifted_share").is_number()) {
    out += ", " + Pct(t["shifted_share"]) + " above the shift threshold";
  }
  return out + ": " + (True(At(t, "shifted")) ? "shift" : "no shift");
}

ordered_json SplitVerdict(const json& run, const std::string& split) {
  ordered_json out;
  out["lines"] = ordered_json::array();
  out["drift"] = nullptr;
  out["domain_test"] = nullptr;
  out["disagreement"] = nullptr;
  out["findings"] = ordered_json::array();
  out["span_drift"] = nullptr;
  const json& s = At(At(run, "splits"), split.c_str());
  if (!s.is_object()) return out;
  const json& params = At(run, "parameters");
  const bool inference = split.rfind("inference:", 0) == 0;
  const bool ner = s.contains("spans") && s["spans"].is_object();
  ordered_json& lines = out["lines"];

  // k-NN drift: unavailable on a small first run, absent on training (the
  // reference itself) and on runs without training.
  const json& reason = At(s, "drift_unavailable_reason").is_string()
                           ? s["drift_unavailable_reason"]
                           : At(params, "drift_unavailable_reason");
  const json& v = At(s, "drift_verdict");
  if (reason.is_string() && split != "training") {
    out["drift"] = {{"available", false}, {"reason", reason}};
    lines.push_back("Drift: not computed: " + reason.get<std::string>());
  } else if (v.is_object()) {
    ordered_json d;
    d["available"] = true;
    d["reason"] = nullptr;
    d["k"] = At(params, "drift_k").is_number() ? ordered_json(params["drift_k"].get<int64_t>())
                                               : ordered_json(nullptr);
    const json& threshold = At(params, "drift_threshold").is_number()
                                ? params["drift_threshold"]
                                : At(At(s, "drifted"), "threshold");
    d["threshold"] = Num(threshold);
    d["threshold_source"] = At(params, "drift_percentile").is_number()
                                ? ordered_json(ThresholdSource(params))
                                : ordered_json(nullptr);
    d["reference"] = At(params, "reference").is_string() ? ordered_json(params["reference"])
                                                         : ordered_json("training");
    d["samples"] = Int(At(v, "samples"));
    d["count"] = Int(At(v, "count"));
    d["share"] = {{"value", Num(At(v, "fraction"))},
                  {"low", Num(At(v, "ci_low"))},
                  {"high", Num(At(v, "ci_high"))}};
    d["nominal"] = Num(At(v, "nominal"));
    d["expected"] = Num(At(v, "expected"));
    d["alpha"] = Num(At(v, "alpha"));
    const bool is_reference = True(At(v, "is_reference"));
    d["is_reference"] = is_reference;
    d["p_value"] = is_reference ? ordered_json(nullptr) : Num(At(v, "p_value"));
    d["log10_p_value"] = is_reference ? ordered_json(nullptr) : Num(At(v, "log10_p_value"));
    d["p_text"] = is_reference ? ordered_json(nullptr)
                               : ordered_json(PText(At(v, "p_value"), At(v, "log10_p_value")));
    d["drifted"] = !is_reference && True(At(v, "drifted"));
    d["text"] = DriftVerdictText(v, inference);
    if (threshold.is_number() && d["k"].is_number()) {
      lines.push_back("Drift threshold: cosine distance " + Fmt("%.3f", threshold.get<double>()) +
                      " to the " + Ordinal(d["k"].get<int64_t>()) + " nearest training embedding" +
                      (d["threshold_source"].is_string()
                           ? " (" + d["threshold_source"].get<std::string>() + ")"
                           : std::string()));
    }
    lines.push_back("Drift verdict: " + d["text"].get<std::string>());
    // Per-class findings: the classes whose drifted share is significant
    // (at the Bonferroni-corrected per_class_alpha).
    const double expected = At(v, "expected").is_number() ? v["expected"].get<double>() : 0.05;
    for (const auto& [label, c] : At(v, "per_class").items()) {
      if (!True(At(c, "drifted")) || is_reference) continue;
      ordered_json f;
      const double fraction = At(c, "fraction").is_number() ? c["fraction"].get<double>() : 0;
      f["severity"] = Severity(fraction, expected);
      f["label"] = label;
      const std::string entity_type = ner ? EntityTypeOf(label) : "";
      if (!entity_type.empty()) f["entity_type"] = entity_type;
      f["p_text"] = PText(At(c, "p_value"), At(c, "log10_p_value"));
      f["text"] = "predicted '" + label + "': " + Pct(At(c, "fraction")) + " of " +
                  std::to_string(At(c, "samples").is_number() ? c["samples"].get<int64_t>() : 0) +
                  (inference ? " drifted" : " out of coverage") + " (" +
                  f["p_text"].get<std::string>() + ")";
      f["share"] = {{"value", Num(At(c, "fraction"))},
                    {"low", Num(At(c, "ci_low"))},
                    {"high", Num(At(c, "ci_high"))}};
      f["filter"] = DriftedFilter(&label, entity_type);
      lines.push_back("  " + f["text"].get<std::string>());
      out["findings"].push_back(std::move(f));
    }
    out["drift"] = std::move(d);
  }

  // NER: span drift, the same test on span rows.
  if (ner) {
    ordered_json sd = SpanVerdict(params, s, split);
    if (sd.is_object() && sd.value("available", false)) {
      lines.push_back("Span drift: " + sd["text"].get<std::string>());
      if (sd.value("drifted", false)) {
        ordered_json f;
        f["severity"] = Severity(sd["share"].get<double>(), sd["nominal"].get<double>());
        f["text"] = "span rows: " + Pct(sd["share"]) + " of " +
                    std::to_string(sd["span_rows"].get<int64_t>()) +
                    (inference ? " drifted" : " out of coverage") + " (" +
                    sd["p_text"].get<std::string>() + ")";
        f["p_text"] = sd["p_text"];
        f["filter"] = DriftedFilter(nullptr);
        f["view"] = "spans";  // the finding is about span rows: the spans view's filter
        f["span_filter"] = {{"drifted", true}};
        out["findings"].push_back(std::move(f));
      }
    } else if (sd.is_object()) {
      lines.push_back("Span drift: not computed: " + sd["reason"].get<std::string>());
    }
    out["span_drift"] = std::move(sd);
  }

  // The domain-classifier test (inference sets).
  const json& t = At(s, "domain_test");
  if (t.is_object() && At(t, "auc").is_number()) {
    const json& ci = At(t, "auc_ci");
    const bool has_ci = ci.is_array() && ci.size() == 2;
    ordered_json dt = {{"reference", At(t, "reference").is_string() ? t["reference"] : json()},
                       {"auc", Num(At(t, "auc"))},
                       {"auc_low", has_ci ? Num(ci[0]) : nullptr},
                       {"auc_high", has_ci ? Num(ci[1]) : nullptr},
                       {"p_value", Num(At(t, "p_value"))},
                       {"log10_p_value", Num(At(t, "log10_p_value"))},
                       {"p_text", PText(At(t, "p_value"), At(t, "log10_p_value"))},
                       {"alpha", Num(At(t, "alpha"))},
                       {"shifted", True(At(t, "shifted"))},
                       {"shift_threshold", Num(At(t, "shift_threshold"))},
                       {"shifted_share", Num(At(t, "shifted_share"))},
                       {"samples", Int(At(t, "samples"))},
                       {"reference_samples", Int(At(t, "reference_samples"))},
                       {"text", DomainTestText(t)}};
    lines.push_back("Domain-classifier test: " + dt["text"].get<std::string>());
    out["domain_test"] = std::move(dt);
  }
  out["disagreement"] = Disagreement(out["drift"], out["domain_test"], out["findings"]);
  if (out["disagreement"].is_string()) lines.push_back(out["disagreement"]);
  return out;
}

}  // namespace sextant::verdict
