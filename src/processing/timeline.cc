#include "processing/timeline.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "common/time_format.h"
#include "drift/verdict.h"
#include "processing/summary.h"

namespace sextant::processing {
namespace {

// z of a two-sided 95% normal interval.
constexpr double kZ95 = 1.959963984540054;

// {"value", "low", "high"}: null bounds where no interval applies; a null
// value where the metric does not apply to the split.
ordered_json Metric(const ordered_json& value, const ordered_json& low = nullptr,
                    const ordered_json& high = nullptr) {
  if (!value.is_number()) return nullptr;
  return {{"value", value},
          {"low", low.is_number() ? low : ordered_json()},
          {"high", high.is_number() ? high : ordered_json()}};
}

ordered_json Share(int64_t count, int64_t n) {
  if (n <= 0) return nullptr;
  const drift::Interval ci = drift::WilsonInterval95(count, n);
  return Metric(static_cast<double>(count) / static_cast<double>(n), ci.low, ci.high);
}

// A mean with its 95% normal interval (none for a single value).
struct MeanAccumulator {
  int64_t n = 0;
  double sum = 0, sum_sq = 0;
  void Add(double v) {
    n++;
    sum += v;
    sum_sq += v * v;
  }
  ordered_json Json() const {
    if (n == 0) return nullptr;
    const double mean = sum / static_cast<double>(n);
    if (n < 2) return Metric(mean);
    const double var =
        std::max(0.0, (sum_sq - static_cast<double>(n) * mean * mean) / static_cast<double>(n - 1));
    const double half = kZ95 * std::sqrt(var / static_cast<double>(n));
    return Metric(mean, mean - half, mean + half);
  }
};

ordered_json FromEstimate(const ordered_json& estimate) {
  return Metric(Field(estimate, {"value"}), Field(estimate, {"low"}), Field(estimate, {"high"}));
}

ordered_json Entry(const std::string& name, const store::InferenceSetTime* time,
                   const ordered_json& summary, const store::SplitResults* split,
                   const std::vector<std::string>& labels) {
  const auto c = static_cast<int64_t>(labels.size());
  std::vector<int64_t> pred_count(c, 0);
  std::vector<MeanAccumulator> class_conf(c);
  MeanAccumulator conf;
  int64_t on_boundary = 0, n = 0;
  if (split) {
    for (const store::SampleResult& r : split->samples) {
      if (r.pred < 0 || r.pred >= c) continue;
      n++;
      pred_count[r.pred]++;
      class_conf[r.pred].Add(r.confidence);
      conf.Add(r.confidence);
      on_boundary += r.on_boundary;
    }
  }
  const ordered_json& verdict = Field(summary, {"drift_verdict"});
  const ordered_json& domain = Field(summary, {"domain_test"});
  const ordered_json& estimate = Field(summary, {"performance_estimate"});

  ordered_json metrics;
  metrics["samples"] = Metric(n);
  if (verdict.is_object()) {
    metrics["drifted_share"] = Metric(Field(verdict, {"fraction"}), Field(verdict, {"ci_low"}),
                                      Field(verdict, {"ci_high"}));
  } else {
    metrics["drifted_share"] = nullptr;
  }
  const ordered_json& auc_ci = Field(domain, {"auc_ci"});
  const bool has_ci = auc_ci.is_array() && auc_ci.size() == 2;
  metrics["domain_auc"] = Metric(Field(domain, {"auc"}), has_ci ? auc_ci[0] : ordered_json(),
                                 has_ci ? auc_ci[1] : ordered_json());
  metrics["on_boundary_share"] = Share(on_boundary, n);
  metrics["mean_confidence"] = conf.Json();
  metrics["estimated_accuracy"] = FromEstimate(Field(estimate, {"accuracy"}));
  // Labeled splits (the references): the real accuracy next to the estimate.
  metrics["accuracy"] = Metric(Field(summary, {"accuracy"}));

  ordered_json per_class = ordered_json::object();
  for (int64_t i = 0; i < c; ++i) {
    const std::string& label = labels[i];
    const ordered_json& est = Field(estimate, {"per_class", label});
    const ordered_json& drift = Field(verdict, {"per_class", label});
    per_class[label] = {
        {"pred_share", Share(pred_count[i], n)},
        {"mean_confidence", class_conf[i].Json()},
        {"estimated_precision", FromEstimate(Field(est, {"precision"}))},
        {"estimated_recall", FromEstimate(Field(est, {"recall"}))},
        {"estimated_f1", FromEstimate(Field(est, {"f1"}))},
        {"drifted_share", drift.is_object()
                              ? Metric(Field(drift, {"fraction"}), Field(drift, {"ci_low"}),
                                       Field(drift, {"ci_high"}))
                              : ordered_json()},
    };
  }

  ordered_json e;
  e["split"] = split ? ordered_json(split->split.ToString()) : ordered_json();
  e["name"] = name;
  e["time"] = time ? ordered_json(time->time) : ordered_json();
  e["time_iso"] = time ? ordered_json(FormatTimeIso(time->time)) : ordered_json();
  e["time_source"] = time ? ordered_json(store::SetTimeSourceName(time->source)) : ordered_json();
  e["samples"] = n;
  e["metrics"] = std::move(metrics);
  e["drift_verdict"] = Field(verdict, {"drifted"});
  e["domain_shifted"] = Field(domain, {"shifted"});
  e["estimate_method"] = Field(estimate, {"method"});
  e["per_class"] = std::move(per_class);
  return e;
}

}  // namespace

ordered_json BuildTimeline(const ordered_json& split_summaries,
                           const std::vector<store::SplitResults>& splits,
                           const std::vector<std::string>& labels,
                           const std::vector<store::InferenceSetTime>& times) {
  std::map<std::string, const store::InferenceSetTime*> time_of;
  for (const store::InferenceSetTime& t : times) time_of[t.name] = &t;

  ordered_json reference = ordered_json::object();
  struct Set {
    std::optional<double> time;
    std::string name;
    ordered_json entry;
  };
  std::vector<Set> sets;
  for (const store::SplitResults& s : splits) {
    const std::string key = s.split.ToString();
    const ordered_json& summary = Field(split_summaries, {key});
    if (s.split.split == Split::kTraining || s.split.split == Split::kValidation) {
      reference[key] = Entry(key, nullptr, summary, &s, labels);
      continue;
    }
    if (s.split.split != Split::kInference) continue;
    Set set;
    set.name = s.split.inference_name;
    const store::InferenceSetTime* time = nullptr;
    if (auto it = time_of.find(set.name); it != time_of.end()) {
      time = it->second;
      set.time = time->time;
    }
    set.entry = Entry(set.name, time, summary, &s, labels);
    sets.push_back(std::move(set));
  }
  std::stable_sort(sets.begin(), sets.end(), [](const Set& a, const Set& b) {
    if (a.time.has_value() != b.time.has_value()) return a.time.has_value();
    if (a.time && *a.time != *b.time) return *a.time < *b.time;
    return a.name < b.name;
  });
  ordered_json out;
  out["reference"] = std::move(reference);
  ordered_json list = ordered_json::array();
  for (Set& s : sets) list.push_back(std::move(s.entry));
  out["sets"] = std::move(list);
  return out;
}

}  // namespace sextant::processing
