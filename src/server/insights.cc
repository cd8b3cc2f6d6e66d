#include "server/insights.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <unordered_map>

#include "query/verdict.h"

namespace sextant::server {

using ordered_json = nlohmann::ordered_json;
using json = nlohmann::json;

namespace {

// j[a][b] when it is a number, else null.
ordered_json Number(const json& j, const std::string& a, const std::string& b = "",
                    const std::string& c = "") {
  const json* p = &j;
  for (const std::string* key : {&a, &b, &c}) {
    if (key->empty()) break;
    if (!p->is_object() || !p->contains(*key)) return nullptr;
    p = &p->at(*key);
  }
  return p->is_number() ? ordered_json(p->get<double>()) : ordered_json(nullptr);
}

std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * v);
  return buf;
}

std::string Fixed(double v, int digits = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The confidence-drop and share-change alerts of one class (or NER entity
// type) against the reference split's values; `what` names the unit in the
// messages ("predicted 'x'" or "predicted PER spans").
void ClassAlerts(const ordered_json& c, const std::string& what, const std::string& reference,
                 const InsightThresholds& th, ordered_json extra, ordered_json* alerts) {
  if (c["mean_confidence"].is_number() && c["reference_mean_confidence"].is_number()) {
    const double now = c["mean_confidence"].get<double>();
    const double before = c["reference_mean_confidence"].get<double>();
    if (before - now > th.confidence_drop) {
      ordered_json a = {
          {"kind", "confidence_drop"},
          {"severity", before - now > th.confidence_drop_critical ? "critical" : "warning"}};
      a.update(extra);
      a["message"] = "mean confidence of " + what + " fell from " + Fixed(before) + " in " +
                     reference + " to " + Fixed(now);
      alerts->push_back(std::move(a));
    }
  }
  if (c["share"].is_number() && c["reference_share"].is_number()) {
    const double now = c["share"].get<double>();
    const double before = c["reference_share"].get<double>();
    if (std::abs(now - before) > th.share_change) {
      ordered_json a = {
          {"kind", "class_share_change"},
          {"severity", std::abs(now - before) > th.share_change_critical ? "critical" : "warning"}};
      a.update(extra);
      a["message"] = "share of " + what + " changed from " + Percent(before) + " in " + reference +
                     " to " + Percent(now);
      alerts->push_back(std::move(a));
    }
  }
}

}  // namespace

ordered_json Insights(const json& s, const json& ref, const std::vector<std::string>& labels,
                      const InsightThresholds& th) {
  ordered_json out;
  out["split"] = s.value("split", "");
  // The split the class shares and confidences are compared with: validation
  // when the run has it (the model is not fit to it), else training.
  const std::string reference = ref.value("split", std::string("training"));
  out["reference"] = reference;
  const bool is_reference = out["split"] == reference;
  // NER: classes are BIO tags, but alerts are per entity type, from the span rows
  // (B-PER and I-PER are one PER alert).
  const bool ner = s.contains("spans") && s["spans"].is_object();
  ordered_json classes = ordered_json::array();
  ordered_json alerts = ordered_json::array();
  for (const std::string& label : labels) {
    ordered_json c;
    c["label"] = label;
    c["share"] = Number(s, "pred_distribution", label, "fraction");
    c["reference_share"] = Number(ref, "pred_distribution", label, "fraction");
    c["mean_confidence"] = Number(s, "mean_confidence_per_class", label);
    c["reference_mean_confidence"] = Number(ref, "mean_confidence_per_class", label);
    c["precision"] = Number(s, "per_class", label, "precision");
    c["recall"] = Number(s, "per_class", label, "recall");
    c["f1"] = Number(s, "per_class", label, "f1");
    if (!is_reference && !ner) {
      ClassAlerts(c, "predicted '" + label + "'", reference, th, {{"label", label}}, &alerts);
    }
    classes.push_back(std::move(c));
  }
  if (ner) {
    ordered_json types = ordered_json::array();
    const json& spans = s["spans"];
    if (spans.contains("pred_span_distribution") && spans["pred_span_distribution"].is_object()) {
      for (const auto& [type, unused] : spans["pred_span_distribution"].items()) {
        ordered_json c;
        c["entity_type"] = type;
        c["share"] = Number(spans, "pred_span_distribution", type, "fraction");
        c["reference_share"] =
            ref.contains("spans") ? Number(ref["spans"], "pred_span_distribution", type, "fraction")
                                  : ordered_json(nullptr);
        c["mean_confidence"] = Number(spans, "mean_span_confidence_per_type", type);
        c["reference_mean_confidence"] =
            ref.contains("spans") ? Number(ref["spans"], "mean_span_confidence_per_type", type)
                                  : ordered_json(nullptr);
        c["f1"] = Number(spans, "per_class", type, "f1");
        if (!is_reference) {
          // One alert per entity type: a confidence drop and a share change of the same type
          // become one, the confidence drop's kind first, the higher severity.
          ordered_json found = ordered_json::array();
          ClassAlerts(c, "predicted " + type + " spans", reference, th,
                      {{"label", type}, {"entity_type", type}}, &found);
          if (!found.empty()) {
            ordered_json a = found[0];
            for (size_t i = 1; i < found.size(); ++i) {
              if (found[i]["severity"] == "critical") a["severity"] = "critical";
              a["message"] =
                  a["message"].get<std::string>() + "; " + found[i]["message"].get<std::string>();
            }
            ordered_json kinds = ordered_json::array();
            for (const auto& f : found) kinds.push_back(f["kind"]);
            a["kinds"] = std::move(kinds);
            alerts.push_back(std::move(a));
          }
        }
        types.push_back(std::move(c));
      }
    }
    out["entity_types"] = std::move(types);
  }
  out["classes"] = std::move(classes);
  const char* drift_key = s.contains("drifted") ? "drifted" : "out_of_coverage";
  if (s.contains(drift_key) && s[drift_key].is_object()) {
    out["drifted"] = {{"count", s[drift_key].value("count", 0)},
                      {"fraction", Number(s, drift_key, "fraction")}};
  } else {
    out["drifted"] = nullptr;
  }
  // A small first run: training too small for k-NN drift (the finish kept every other result).
  out["drift_unavailable_reason"] = nullptr;
  if (s.contains("drift_unavailable_reason") && s["drift_unavailable_reason"].is_string()) {
    out["drift_unavailable_reason"] = s["drift_unavailable_reason"];
  }
  out["on_the_boundary"] = {
      {"count", s.contains("on_the_boundary") ? s["on_the_boundary"].value("count", 0) : 0},
      {"fraction", Number(s, "on_the_boundary", "fraction")}};
  out["accuracy"] = Number(s, "accuracy");
  out["macro_f1"] = Number(s, "macro_f1");
  if (s.contains("drift_verdict") && s["drift_verdict"].is_object()) {
    const json& v = s["drift_verdict"];
    if (v.value("drifted", json()).is_boolean() && v["drifted"].get<bool>() &&
        !v.value("is_reference", false)) {
      const double fraction = v.value("fraction", 0.0);
      const double expected = v.value("expected", 0.05);
      const json p = v.value("p_value", json());
      std::string message = Percent(fraction) + " of the samples are " +
                            (std::string(drift_key) == "drifted" ? "drifted" : "out of coverage") +
                            " (expected " + Percent(expected) + " without drift";
      if (p.is_number()) message += ", " + verdict::PText(p, v.value("log10_p_value", json()));
      message += ")";
      ordered_json alert = {{"kind", "data_drift"},
                            {"severity", fraction > 2 * expected ? "critical" : "warning"},
                            {"message", message}};
      alerts.insert(alerts.begin(), alert);
    }
  }
  // The domain-classifier test (inference splits): a shift inside the coverage.
  out["domain_test"] = nullptr;
  if (s.contains("domain_test") && s["domain_test"].is_object() &&
      s["domain_test"].contains("auc")) {
    const json& t = s["domain_test"];
    out["domain_test"] = {{"reference", t.value("reference", "")},
                          {"auc", Number(t, "auc")},
                          {"p_value", Number(t, "p_value")},
                          {"shifted", t.value("shifted", false)},
                          {"shift_threshold", Number(t, "shift_threshold")},
                          {"shifted_share", Number(t, "shifted_share")}};
    if (t.value("shifted", false)) {
      const std::string p =
          verdict::PText(t.value("p_value", json(1.0)), t.value("log10_p_value", json()));
      const double auc = t.value("auc", 0.5);
      alerts.push_back({{"kind", "distribution_shift"},
                        {"severity", auc > 0.75 ? "critical" : "warning"},
                        {"message", "a domain classifier tells these samples from " +
                                        t.value("reference", std::string("validation")) + " (AUC " +
                                        Fixed(auc) + ", " + p + ")"}});
    }
  }
  if (out["drift_unavailable_reason"].is_string()) {
    alerts.push_back({{"kind", "drift_unavailable"},
                      {"severity", "info"},
                      {"message", out["drift_unavailable_reason"]}});
  }
  out["alerts"] = std::move(alerts);
  return out;
}

void MapBounds::Add(double x, double y) {
  if (std::isnan(x) || std::isnan(y)) return;
  if (empty) {
    x0 = x1 = x, y0 = y1 = y;
    empty = false;
    return;
  }
  x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
}

MapBounds Bounds(const std::vector<const SampleTable*>& tables) {
  MapBounds b;
  for (const SampleTable* t : tables) {
    for (int64_t r = 0; r < t->size(); ++r) b.Add(t->x[r], t->y[r]);
  }
  return b;
}

ordered_json MapSplitJson(const SampleTable& t, const MapBounds& b, int64_t max_points,
                          const std::vector<uint8_t>* match) {
  std::vector<uint32_t> keep;
  std::vector<int64_t> count;
  std::vector<uint8_t> point_match;  // per kept point, with `match`
  int64_t matched = 0;
  auto matches = [&](int64_t r) { return match && (*match)[static_cast<size_t>(r)] != 0; };
  int64_t valid = 0;
  for (int64_t r = 0; r < t.size(); ++r) valid += !std::isnan(t.x[r]) && !std::isnan(t.y[r]);
  if (valid <= max_points) {
    for (int64_t r = 0; r < t.size(); ++r) {
      if (std::isnan(t.x[r]) || std::isnan(t.y[r])) continue;
      keep.push_back(static_cast<uint32_t>(r));
      count.push_back(1);
      point_match.push_back(matches(r) ? 1 : 0);
      matched += matches(r);
    }
  } else {
    const int64_t g =
        std::max<int64_t>(1, static_cast<int64_t>(std::sqrt(static_cast<double>(max_points))));
    const double w = std::max(b.x1 - b.x0, 1e-12), h = std::max(b.y1 - b.y0, 1e-12);
    std::unordered_map<int64_t, size_t> cell_index;
    for (int64_t r = 0; r < t.size(); ++r) {
      const double x = t.x[r], y = t.y[r];
      if (std::isnan(x) || std::isnan(y)) continue;
      const int64_t cx = std::clamp<int64_t>(static_cast<int64_t>((x - b.x0) / w * g), 0, g - 1);
      const int64_t cy = std::clamp<int64_t>(static_cast<int64_t>((y - b.y0) / h * g), 0, g - 1);
      auto [it, inserted] = cell_index.emplace(cy * g + cx, keep.size());
      if (inserted) {
        keep.push_back(static_cast<uint32_t>(r));
        count.push_back(1);
        point_match.push_back(0);
      } else {
        count[it->second]++;
      }
      if (matches(r)) {
        point_match[it->second] = 1;
        matched++;
      }
    }
  }
  ordered_json xs = ordered_json::array(), ys = ordered_json::array(), ids = ordered_json::array(),
               rows = ordered_json::array(), pred = ordered_json::array(),
               gold = ordered_json::array(), conf = ordered_json::array(),
               drift = ordered_json::array(), shift = ordered_json::array(),
               counts = ordered_json::array(), drifted = ordered_json::array();
  for (size_t i = 0; i < keep.size(); ++i) {
    const uint32_t r = keep[i];
    xs.push_back(t.x[r]);
    ys.push_back(t.y[r]);
    ids.push_back(t.id[r]);
    rows.push_back(r);
    pred.push_back(t.pred[r]);
    gold.push_back(t.gold[r]);
    conf.push_back(t.confidence[r]);
    drift.push_back(std::isnan(t.drift_score[r]) ? ordered_json() : ordered_json(t.drift_score[r]));
    const double shift_score = t.ShiftScoreAt(r);
    shift.push_back(std::isnan(shift_score) ? ordered_json() : ordered_json(shift_score));
    drifted.push_back(t.drifted[r] < 0 ? ordered_json() : ordered_json(int{t.drifted[r]}));
    counts.push_back(count[i]);
  }
  ordered_json j;
  j["split"] = t.split().ToString();
  j["total"] = t.size();
  j["downsampled"] = valid > max_points;
  j["points"] = {{"x", std::move(xs)},
                 {"y", std::move(ys)},
                 {"id", std::move(ids)},
                 {"row", std::move(rows)},
                 {"pred", std::move(pred)},
                 {"gold", std::move(gold)},
                 {"confidence", std::move(conf)},
                 {"drift_score", std::move(drift)},
                 {"shift_score", std::move(shift)},
                 {"drifted", std::move(drifted)},
                 {"count", std::move(counts)}};
  if (match) {
    j["match"] = point_match;
    j["matched"] = matched;
  }
  return j;
}

}  // namespace sextant::server
