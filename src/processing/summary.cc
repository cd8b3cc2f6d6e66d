#include "processing/summary.h"

#include <cmath>

#include "drift/verdict.h"

namespace sextant::processing {

const ordered_json& Field(const ordered_json& j, std::initializer_list<std::string_view> path) {
  static const ordered_json kNull;
  const ordered_json* p = &j;
  for (std::string_view key : path) {
    if (!p->is_object()) return kNull;
    auto it = p->find(key);
    if (it == p->end()) return kNull;
    p = &*it;
  }
  return *p;
}

namespace {

double Fraction(int64_t count, int64_t total) {
  return total > 0 ? static_cast<double>(count) / static_cast<double>(total) : 0.0;
}

ordered_json CountAndFraction(int64_t count, int64_t total) {
  return {{"count", count}, {"fraction", Fraction(count, total)}};
}

ordered_json NullableNumber(double v, bool present) {
  return present ? ordered_json(v) : ordered_json();
}

ordered_json Num(const ordered_json& j, const char* a, const char* b = nullptr) {
  return b ? Field(j, {a, b}) : Field(j, {a});
}

ordered_json Change(const ordered_json& before, const ordered_json& after) {
  if (!before.is_number() || !after.is_number()) return nullptr;
  return after.get<double>() - before.get<double>();
}

}  // namespace

ordered_json SummarizeSplit(const store::SplitResults& split,
                            const std::vector<std::string>& labels,
                            std::optional<double> drift_threshold) {
  const auto c = static_cast<int64_t>(labels.size());
  const auto n = static_cast<int64_t>(split.samples.size());
  std::vector<int64_t> pred_count(c, 0), gold_count(c, 0), true_pos(c, 0);
  std::vector<double> conf_sum(c, 0);
  int64_t on_boundary = 0, drifted = 0, correct = 0, labeled = 0;
  double conf_total = 0, dep_total = 0, aum_total = 0, aum_sq = 0;
  int32_t last_epoch = 0;
  for (const store::SampleResult& r : split.samples) {
    pred_count[r.pred]++;
    conf_sum[r.pred] += r.confidence;
    conf_total += r.confidence;
    on_boundary += r.on_boundary;
    last_epoch = std::max(last_epoch, r.epoch);
    if (r.drifted && *r.drifted) drifted++;
    if (r.gold) {
      labeled++;
      gold_count[*r.gold]++;
      if (*r.gold == r.pred) {
        correct++;
        true_pos[r.pred]++;
      }
      dep_total += r.dep.value_or(0);
      aum_total += r.aum.value_or(0);
      aum_sq += r.aum.value_or(0) * r.aum.value_or(0);
    }
  }

  ordered_json j;
  j["split"] = split.split.ToString();
  j["samples"] = n;
  j["last_epoch"] = last_epoch;
  j["mean_confidence"] = NullableNumber(conf_total / std::max<int64_t>(n, 1), n > 0);
  ordered_json pred = ordered_json::object(), conf = ordered_json::object();
  for (int64_t i = 0; i < c; ++i) {
    pred[labels[i]] = CountAndFraction(pred_count[i], n);
    conf[labels[i]] =
        NullableNumber(conf_sum[i] / std::max<int64_t>(pred_count[i], 1), pred_count[i] > 0);
  }
  j["pred_distribution"] = pred;
  j["mean_confidence_per_class"] = conf;
  j["on_the_boundary"] = CountAndFraction(on_boundary, n);

  if (drift_threshold && split.split.split != Split::kTraining) {
    ordered_json d = CountAndFraction(drifted, n);
    d["threshold"] = *drift_threshold;
    j[split.split.split == Split::kInference ? "drifted" : "out_of_coverage"] = d;
  }

  if (labeled > 0) {
    ordered_json gold = ordered_json::object(), per_class = ordered_json::object();
    double f1_sum = 0;
    for (int64_t i = 0; i < c; ++i) {
      gold[labels[i]] = CountAndFraction(gold_count[i], labeled);
      const double precision = Fraction(true_pos[i], pred_count[i]);
      const double recall = Fraction(true_pos[i], gold_count[i]);
      const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
      f1_sum += f1;
      per_class[labels[i]] = {
          {"precision", precision}, {"recall", recall}, {"f1", f1}, {"support", gold_count[i]}};
    }
    j["gold_distribution"] = gold;
    j["accuracy"] = Fraction(correct, labeled);
    j["macro_f1"] = f1_sum / static_cast<double>(std::max<int64_t>(c, 1));
    j["per_class"] = per_class;
    const double mean_aum = aum_total / static_cast<double>(labeled);
    const double sd_aum =
        std::sqrt(std::max(0.0, aum_sq / static_cast<double>(labeled) - mean_aum * mean_aum));
    int64_t easy = 0, hard = 0;
    for (const store::SampleResult& r : split.samples) {
      if (!r.aum) continue;
      easy += *r.aum >= mean_aum;
      hard += *r.aum <= mean_aum - sd_aum;
    }
    j["mean_dep"] = dep_total / static_cast<double>(labeled);
    j["easy"] = CountAndFraction(easy, labeled);
    j["hard"] = CountAndFraction(hard, labeled);
    j["easy_hard_thresholds"] = {{"mean_aum", mean_aum}, {"sd_aum", sd_aum}};
  }
  return j;
}

namespace {

ordered_json VerdictJson(int64_t count, int64_t n, const VerdictContext& context, double alpha,
                         bool is_reference) {
  const drift::Verdict v = drift::ComputeVerdict(
      count, n, {context.nominal, context.reference_size, context.reference_above}, alpha);
  ordered_json j;
  j["samples"] = n;
  j["count"] = count;
  j["fraction"] = v.fraction;
  j["ci_low"] = v.ci.low;
  j["ci_high"] = v.ci.high;
  if (is_reference) {
    j["p_value"] = nullptr;
    j["log10_p_value"] = nullptr;
    j["drifted"] = nullptr;
  } else {
    j["p_value"] = v.p_value;
    j["log10_p_value"] = v.log10_p_value;
    j["drifted"] = v.drifted;
  }
  return j;
}

}  // namespace

ordered_json DriftVerdictSummary(const store::SplitResults& split,
                                 const std::vector<std::string>& labels,
                                 const VerdictContext& context, bool is_reference) {
  const auto c = static_cast<int64_t>(labels.size());
  std::vector<int64_t> n_class(c, 0), drifted_class(c, 0);
  int64_t drifted = 0;
  for (const store::SampleResult& r : split.samples) {
    const bool d = r.drifted && *r.drifted;
    drifted += d;
    n_class[r.pred]++;
    drifted_class[r.pred] += d;
  }
  const auto n = static_cast<int64_t>(split.samples.size());
  ordered_json j = VerdictJson(drifted, n, context, context.alpha, is_reference);
  j["nominal"] = context.nominal;
  j["expected"] = context.reference_size > 0 ? static_cast<double>(context.reference_above + 1) /
                                                   static_cast<double>(context.reference_size + 1)
                                             : context.nominal;
  j["alpha"] = context.alpha;
  j["is_reference"] = is_reference;
  const double class_alpha = context.alpha / static_cast<double>(std::max<int64_t>(c, 1));
  ordered_json per_class = ordered_json::object();
  for (int64_t i = 0; i < c; ++i) {
    per_class[labels[i]] =
        VerdictJson(drifted_class[i], n_class[i], context, class_alpha, is_reference);
  }
  j["per_class_alpha"] = class_alpha;
  j["per_class"] = per_class;
  return j;
}

ordered_json CompareWithTraining(const ordered_json& training, const ordered_json& inference,
                                 const std::vector<std::string>& labels,
                                 double nominal_drift_rate) {
  ordered_json classes = ordered_json::array();
  for (const std::string& label : labels) {
    ordered_json row;
    row["label"] = label;
    row["training_gold_fraction"] = Field(training, {"gold_distribution", label, "fraction"});
    row["training_pred_fraction"] = Field(training, {"pred_distribution", label, "fraction"});
    row["inference_pred_fraction"] = Field(inference, {"pred_distribution", label, "fraction"});
    row["pred_fraction_change"] =
        Change(row["training_pred_fraction"], row["inference_pred_fraction"]);
    row["training_mean_confidence"] = Field(training, {"mean_confidence_per_class", label});
    row["inference_mean_confidence"] = Field(inference, {"mean_confidence_per_class", label});
    row["mean_confidence_change"] =
        Change(row["training_mean_confidence"], row["inference_mean_confidence"]);
    classes.push_back(row);
  }
  ordered_json j;
  j["against"] = Field(training, {"split"});
  j["classes"] = classes;
  ordered_json conf = {{"training", Field(training, {"mean_confidence"})},
                       {"inference", Field(inference, {"mean_confidence"})}};
  conf["change"] = Change(conf["training"], conf["inference"]);
  j["mean_confidence"] = conf;
  ordered_json boundary = {{"training", Num(training, "on_the_boundary", "fraction")},
                           {"inference", Num(inference, "on_the_boundary", "fraction")}};
  boundary["change"] = Change(boundary["training"], boundary["inference"]);
  j["on_the_boundary_fraction"] = boundary;
  ordered_json drift = {{"nominal", nominal_drift_rate},
                        {"inference", Num(inference, "drifted", "fraction")}};
  drift["change"] = Change(drift["nominal"], drift["inference"]);
  j["drifted_fraction"] = drift;
  return j;
}

}  // namespace sextant::processing
