#include "processing/performance_estimate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>

#include "drift/domain_classifier.h"

namespace sextant::processing {
namespace estimate_internal {

void Isotonic::Fit(const std::vector<double>& x, const std::vector<double>& y,
                   const std::vector<double>& w) {
  knot_x_.clear();
  knot_y_.clear();
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  // Blocks: [x_first, x_last], weighted mean, weight. Equal x values start in one block.
  struct Block {
    double x_first, x_last, mean, weight;
  };
  std::vector<Block> blocks;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    double sum = 0, weight = 0;
    while (j < order.size() && x[order[j]] == x[order[i]]) {
      sum += y[order[j]] * w[order[j]];
      weight += w[order[j]];
      ++j;
    }
    Block b{x[order[i]], x[order[i]], weight > 0 ? sum / weight : 0.0, weight};
    blocks.push_back(b);
    while (blocks.size() > 1 && blocks[blocks.size() - 2].mean > blocks.back().mean) {
      Block last = blocks.back();
      blocks.pop_back();
      Block& prev = blocks.back();
      const double total = prev.weight + last.weight;
      prev.mean =
          total > 0 ? (prev.mean * prev.weight + last.mean * last.weight) / total : last.mean;
      prev.weight = total;
      prev.x_last = last.x_last;
    }
    i = j;
  }
  for (const Block& b : blocks) {
    knot_x_.push_back((b.x_first + b.x_last) / 2);
    knot_y_.push_back(b.mean);
  }
}

double Isotonic::Predict(double x) const {
  if (knot_x_.empty()) return 0;
  if (x <= knot_x_.front()) return knot_y_.front();
  if (x >= knot_x_.back()) return knot_y_.back();
  const size_t hi =
      static_cast<size_t>(std::upper_bound(knot_x_.begin(), knot_x_.end(), x) - knot_x_.begin());
  const size_t lo = hi - 1;
  const double span = knot_x_[hi] - knot_x_[lo];
  if (!(span > 0)) return knot_y_[hi];
  return knot_y_[lo] + (knot_y_[hi] - knot_y_[lo]) * (x - knot_x_[lo]) / span;
}

double TemperatureProbability(const float* row, int64_t num_labels, int32_t k, double t) {
  double max_logit = -INFINITY;
  std::vector<double> z(static_cast<size_t>(num_labels));
  for (int64_t c = 0; c < num_labels; ++c) {
    z[c] = std::log(std::max(static_cast<double>(row[c]), 1e-12)) / t;
    max_logit = std::max(max_logit, z[c]);
  }
  double sum = 0;
  for (double& v : z) sum += (v = std::exp(v - max_logit));
  return sum > 0 && k >= 0 && k < num_labels ? z[k] / sum : 0.0;
}

double FitTemperature(const std::vector<float>& probs, int64_t num_labels,
                      const std::vector<int32_t>& gold) {
  if (num_labels < 2 || gold.empty()) return 1.0;
  auto nll = [&](double log_t) {
    const double t = std::exp(log_t);
    double total = 0;
    for (size_t i = 0; i < gold.size(); ++i) {
      const double p =
          TemperatureProbability(probs.data() + i * num_labels, num_labels, gold[i], t);
      total -= std::log(std::max(p, 1e-12));
    }
    return total / static_cast<double>(gold.size());
  };
  double a = std::log(0.05), b = std::log(20.0);
  const double r = (std::sqrt(5.0) - 1) / 2;
  double c = b - r * (b - a), d = a + r * (b - a);
  for (int it = 0; it < 60; ++it) {
    if (nll(c) < nll(d)) {
      b = d;
    } else {
      a = c;
    }
    c = b - r * (b - a);
    d = a + r * (b - a);
  }
  return std::exp((a + b) / 2);
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace estimate_internal

namespace {

using estimate_internal::Isotonic;
using estimate_internal::Quantile;

constexpr double kZ90 = 1.6448536269514722;  // two-sided 90%
constexpr int kDomainFolds = 5;
constexpr int kDomainRepeats = 4;
// Wider embeddings are projected to this width for the weights: at width 768 and
// 5,000 rows a side the four fittings took 13 s per set, twice the domain test.
constexpr int64_t kDomainMaxDim = 128;

// The labeled held-out samples the estimates are calibrated on.
struct Calibration {
  const store::SplitResults* split = nullptr;
  std::vector<int64_t> rows;  // labeled rows of `split`
  std::vector<double> confidence, correct, neg_entropy;
  std::vector<int32_t> gold;
  std::vector<float> probs;       // rows x num_labels, when the split has them
  std::vector<float> embeddings;  // rows x emb_dim
  double accuracy = 0, mean_confidence = 0;
  double temperature = 1, atc_threshold = 0, atc_ne_threshold = 0;
  Isotonic isotonic;
};

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

ordered_json Interval(double value, double low, double high) {
  return {{"value", value},
          {"low", std::clamp(std::min(low, value), 0.0, 1.0)},
          {"high", std::clamp(std::max(high, value), 0.0, 1.0)}};
}

// The validation split, else the test split, with at least kMinCalibrationSamples labeled rows.
std::optional<Calibration> FindCalibration(const std::vector<store::SplitResults>& splits,
                                           int64_t num_labels, std::string* reason) {
  for (Split which : {Split::kValidation, Split::kTest}) {
    auto it = std::find_if(splits.begin(), splits.end(),
                           [&](const store::SplitResults& s) { return s.split.split == which; });
    if (it == splits.end()) continue;
    Calibration cal;
    cal.split = &*it;
    const bool has_probs = it->num_labels == num_labels &&
                           it->probs.size() == it->samples.size() * static_cast<size_t>(num_labels);
    for (size_t i = 0; i < it->samples.size(); ++i) {
      const store::SampleResult& r = it->samples[i];
      if (!r.gold || *r.gold < 0 || *r.gold >= num_labels) continue;
      cal.rows.push_back(static_cast<int64_t>(i));
      cal.confidence.push_back(r.confidence);
      cal.correct.push_back(r.pred == *r.gold ? 1.0 : 0.0);
      cal.neg_entropy.push_back(-r.entropy);
      cal.gold.push_back(*r.gold);
      if (has_probs) {
        cal.probs.insert(cal.probs.end(), it->probs.begin() + i * num_labels,
                         it->probs.begin() + (i + 1) * num_labels);
      }
      if (it->emb_dim > 0 && it->embeddings.size() == it->samples.size() * it->emb_dim) {
        cal.embeddings.insert(cal.embeddings.end(), it->embeddings.begin() + i * it->emb_dim,
                              it->embeddings.begin() + (i + 1) * it->emb_dim);
      }
    }
    if (static_cast<int64_t>(cal.rows.size()) < kMinCalibrationSamples) {
      *reason = std::string(SplitName(which)) + " has " + std::to_string(cal.rows.size()) +
                " labeled samples; the estimate needs at least " +
                std::to_string(kMinCalibrationSamples);
      continue;
    }
    if (!has_probs) cal.probs.clear();
    if (cal.embeddings.size() != cal.rows.size() * static_cast<size_t>(it->emb_dim)) {
      cal.embeddings.clear();
    }
    cal.accuracy = Mean(cal.correct);
    cal.mean_confidence = Mean(cal.confidence);
    cal.isotonic.Fit(cal.confidence, cal.correct, std::vector<double>(cal.rows.size(), 1.0));
    if (!cal.probs.empty()) {
      cal.temperature = estimate_internal::FitTemperature(cal.probs, num_labels, cal.gold);
    }
    cal.atc_threshold = Quantile(cal.confidence, 1 - cal.accuracy);
    cal.atc_ne_threshold = Quantile(cal.neg_entropy, 1 - cal.accuracy);
    reason->clear();
    return cal;
  }
  if (reason->empty()) {
    *reason = "no validation (or test) split: the estimate is calibrated on labeled held-out data";
  }
  return std::nullopt;
}

// Density-ratio weights of the calibration rows for one inference set (mean 1),
// or empty with `why` when they cannot be computed (then the weights are uniform).
std::vector<double> DomainWeights(const Calibration& cal, const store::SplitResults& target,
                                  const ProcessingOptions& options, std::string* why) {
  const int64_t dim = cal.split->emb_dim;
  const auto n_cal = static_cast<int64_t>(cal.rows.size());
  const auto n_target = static_cast<int64_t>(target.samples.size());
  if (dim < 1 || cal.embeddings.empty() || target.emb_dim != dim ||
      target.embeddings.size() != static_cast<size_t>(n_target * dim)) {
    *why = "no embeddings of the same width on both sides";
    return {};
  }
  if (n_cal < kDomainFolds || n_target < kDomainFolds) {
    *why = "fewer than " + std::to_string(kDomainFolds) + " samples on a side";
    return {};
  }
  // The density ratio of a row is the mean over kDomainRepeats cross-fittings,
  // each with its own rows sampled and folds drawn: one fitting's ratios move
  // the estimate of a far-shifted set by points from seed to seed.
  std::vector<double> w(static_cast<size_t>(n_cal), 0.0);
  for (int repeat = 0; repeat < kDomainRepeats; ++repeat) {
    drift::DomainTestOptions test;
    test.folds = kDomainFolds;
    test.max_per_side = options.domain_test_max_samples;
    test.max_dim = kDomainMaxDim;
    test.seed = options.drift_seed + static_cast<uint64_t>(repeat) * 0x9E3779B97F4A7C15ULL;
    Result<std::vector<double>> p = drift::ReferenceDomainProbabilities(
        cal.embeddings.data(), n_cal, target.embeddings.data(), n_target, dim, test);
    if (!p.ok()) {
      *why = p.status().message();
      return {};
    }
    for (size_t i = 0; i < w.size(); ++i) {
      const double q = std::clamp((*p)[i], 1e-3, 1 - 1e-3);
      w[i] += q / (1 - q) / kDomainRepeats;
    }
  }
  // A few validation samples with huge ratios would make the calibration theirs alone.
  const double cap = Quantile(w, 0.99);
  for (double& v : w) v = std::min(v, cap);
  const double mean = Mean(w);
  if (!(mean > 0) || !std::isfinite(mean)) {
    *why = "degenerate weights";
    return {};
  }
  for (double& v : w) v /= mean;
  return w;
}

struct ClassCounts {
  std::vector<double> tp, fp, fn;
  explicit ClassCounts(size_t k) : tp(k, 0.0), fp(k, 0.0), fn(k, 0.0) {}
};

std::optional<double> Ratio(double num, double den) {
  return den > 0 ? std::optional<double>(num / den) : std::nullopt;
}

// precision, recall, f1 of class k (nullopt where undefined)
std::array<std::optional<double>, 3> ClassMetrics(const ClassCounts& c, size_t k) {
  return {Ratio(c.tp[k], c.tp[k] + c.fp[k]), Ratio(c.tp[k], c.tp[k] + c.fn[k]),
          Ratio(2 * c.tp[k], 2 * c.tp[k] + c.fp[k] + c.fn[k])};
}

// The probability that a wrong prediction of row i is each class: its share of
// the probability the model gave the classes it did not predict (uniform over
// them when none); 0 for the predicted class. O(labels) per row.
void OtherClassShares(const store::SplitResults& s, size_t i, int64_t num_labels,
                      std::vector<double>* share) {
  share->assign(static_cast<size_t>(num_labels), 0.0);
  const int32_t pred = s.samples[i].pred;
  if (num_labels < 2) return;
  const double uniform = 1.0 / static_cast<double>(num_labels - 1);
  const bool has_probs = s.probs.size() == s.samples.size() * static_cast<size_t>(num_labels);
  const float* row = has_probs ? s.probs.data() + i * num_labels : nullptr;
  double rest = 0;
  for (int64_t k = 0; has_probs && k < num_labels; ++k) {
    if (k != pred) rest += row[k];
  }
  for (int64_t k = 0; k < num_labels; ++k) {
    if (k != pred) (*share)[k] = rest > 0 ? row[k] / rest : uniform;
  }
}

// The expected confusion counts when row i is correct with probability c[i].
ClassCounts ExpectedCounts(const store::SplitResults& s, const std::vector<double>& c,
                           const std::vector<size_t>& rows, size_t num_labels) {
  ClassCounts expected(num_labels);
  std::vector<double> share;
  for (size_t i : rows) {
    const int32_t pred = s.samples[i].pred;
    if (pred < 0 || static_cast<size_t>(pred) >= num_labels) continue;
    expected.tp[pred] += c[i];
    expected.fp[pred] += 1 - c[i];
    OtherClassShares(s, i, static_cast<int64_t>(num_labels), &share);
    for (size_t k = 0; k < num_labels; ++k) expected.fn[k] += (1 - c[i]) * share[k];
  }
  return expected;
}

// Rows of the bootstrap: all up to this many, else a seeded sample whose spread
// is scaled by sqrt(sample / n).
constexpr size_t kBootstrapMaxRows = 20000;
constexpr int kBootstrapDraws = 200;

// Per class precision, recall and F1 from the calibrated correctness `c`; the
// interval is the parametric bootstrap's 5-95% range widened on each side by
// `calibration_half` and by the larger of the accuracy's shift term and the
// class's own disagreement with the `alternatives` (other per-row calibrations),
// then extended toward the metric under the uncalibrated confidence (`raw`, per
// row) by the `uncovered` share of the difference, as the accuracy's is.
ordered_json PerClass(const store::SplitResults& s, const std::vector<double>& c,
                      const std::vector<std::vector<double>>& alternatives,
                      const std::vector<double>& raw, double uncovered,
                      const std::vector<std::string>& labels, double shift_term,
                      double calibration_half, uint64_t seed) {
  const auto k_labels = static_cast<int64_t>(labels.size());
  const size_t n = s.samples.size();
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  const ClassCounts expected = ExpectedCounts(s, c, all, labels.size());
  std::vector<ClassCounts> alternative_counts;
  for (const std::vector<double>& a : alternatives) {
    alternative_counts.push_back(ExpectedCounts(s, a, all, labels.size()));
  }
  const ClassCounts raw_counts = ExpectedCounts(s, raw, all, labels.size());
  // Sampling error by a parametric bootstrap: each row correct with its
  // calibrated probability, a wrong one's true class drawn from the other classes.
  std::mt19937_64 rng(seed);
  std::vector<size_t> rows = all;
  if (n > kBootstrapMaxRows) {
    std::shuffle(rows.begin(), rows.end(), rng);
    rows.resize(kBootstrapMaxRows);
    std::sort(rows.begin(), rows.end());
  }
  const double scale = std::sqrt(static_cast<double>(rows.size()) / static_cast<double>(n));
  const ClassCounts rows_expected = ExpectedCounts(s, c, rows, labels.size());
  std::vector<std::vector<double>> shares(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) OtherClassShares(s, rows[r], k_labels, &shares[r]);
  std::vector<std::vector<std::vector<double>>> boot_values(labels.size(),
                                                            std::vector<std::vector<double>>(3));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int b = 0; b < kBootstrapDraws; ++b) {
    ClassCounts drawn(labels.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      const size_t i = rows[r];
      const int32_t pred = s.samples[i].pred;
      if (pred < 0 || pred >= k_labels) continue;
      if (unit(rng) < c[i]) {
        drawn.tp[pred] += 1;
        continue;
      }
      drawn.fp[pred] += 1;
      double u = unit(rng), acc = 0;
      int32_t truth = -1;
      for (int32_t k = 0; k < k_labels; ++k) {
        if (k == pred) continue;
        truth = k;
        acc += shares[r][k];
        if (u < acc) break;
      }
      if (truth >= 0) drawn.fn[truth] += 1;
    }
    for (size_t k = 0; k < labels.size(); ++k) {
      const auto m = ClassMetrics(drawn, k);
      for (int j = 0; j < 3; ++j) {
        if (m[j]) boot_values[k][j].push_back(*m[j]);
      }
    }
  }
  ordered_json out = ordered_json::object();
  static const char* kNames[3] = {"precision", "recall", "f1"};
  for (size_t k = 0; k < labels.size(); ++k) {
    const auto m = ClassMetrics(expected, k);
    const auto centre = ClassMetrics(rows_expected, k);
    ordered_json cls = ordered_json::object();
    for (int j = 0; j < 3; ++j) {
      if (!m[j]) {
        cls[kNames[j]] = {{"value", nullptr}, {"low", nullptr}, {"high", nullptr}};
        continue;
      }
      // The bootstrap's deviations around its rows' own expected value, scaled to n rows.
      const std::vector<double>& v = boot_values[k][j];
      const double mid = centre[j] ? *centre[j] : *m[j];
      const double lo = v.empty() ? *m[j] : *m[j] + (Quantile(v, 0.05) - mid) * scale;
      const double hi = v.empty() ? *m[j] : *m[j] + (Quantile(v, 0.95) - mid) * scale;
      double shift = shift_term;
      for (const ClassCounts& a : alternative_counts) {
        const auto alt = ClassMetrics(a, k);
        if (alt[j]) shift = std::max(shift, std::abs(*alt[j] - *m[j]));
      }
      const double widen = shift + calibration_half;
      const auto uncalibrated = ClassMetrics(raw_counts, k)[j];
      const double toward = uncalibrated ? uncovered * (*uncalibrated - *m[j]) : 0.0;
      cls[kNames[j]] =
          Interval(*m[j], lo - widen + std::min(toward, 0.0), hi + widen + std::max(toward, 0.0));
    }
    out[labels[k]] = cls;
  }
  return out;
}

ordered_json EstimateSplit(const Calibration& cal, const store::SplitResults& s,
                           const std::vector<std::string>& labels,
                           const ProcessingOptions& options) {
  const size_t n = s.samples.size();
  if (n == 0) return NullPerformanceEstimate("the set has no samples");
  const auto num_labels = static_cast<int64_t>(labels.size());
  const double nd = static_cast<double>(n);

  // Baselines.
  double raw = 0, iso = 0, temp = 0, atc = 0, atc_ne = 0;
  const bool has_probs = !cal.probs.empty() && s.num_labels == num_labels &&
                         s.probs.size() == n * static_cast<size_t>(num_labels);
  for (const store::SampleResult& r : s.samples) {
    raw += r.confidence;
    iso += std::clamp(cal.isotonic.Predict(r.confidence), 0.0, 1.0);
    atc += r.confidence > cal.atc_threshold ? 1 : 0;
    atc_ne += -r.entropy > cal.atc_ne_threshold ? 1 : 0;
  }
  for (size_t i = 0; has_probs && i < n; ++i) {
    temp += estimate_internal::TemperatureProbability(s.probs.data() + i * num_labels, num_labels,
                                                      s.samples[i].pred, cal.temperature);
  }
  raw /= nd;
  iso /= nd;
  temp = has_probs ? temp / nd : raw;
  atc /= nd;
  atc_ne /= nd;
  const double doc = cal.accuracy - (cal.mean_confidence - raw);

  // The default: isotonic calibration on density-ratio weighted validation.
  std::string weights_note;
  std::vector<double> w = DomainWeights(cal, s, options, &weights_note);
  const bool weighted = !w.empty();
  if (!weighted) w.assign(cal.rows.size(), 1.0);
  double w_sum = 0, w2_sum = 0;
  for (double v : w) {
    w_sum += v;
    w2_sum += v * v;
  }
  const double ess = w2_sum > 0 ? w_sum * w_sum / w2_sum : static_cast<double>(cal.rows.size());
  Isotonic weighted_iso;
  weighted_iso.Fit(cal.confidence, cal.correct, w);
  std::vector<double> c(n);
  double value = 0, sampling_var = 0;
  for (size_t i = 0; i < n; ++i) {
    c[i] = std::clamp(weighted_iso.Predict(s.samples[i].confidence), 0.0, 1.0);
    value += c[i];
    sampling_var += c[i] * (1 - c[i]);
  }
  value /= nd;
  sampling_var /= nd * nd;
  const double calibration_var = ess > 0 ? value * (1 - value) / ess : 0.0;
  const double shift_term =
      std::max({std::abs(value - iso), std::abs(value - temp), std::abs(value - doc)});
  const double half = kZ90 * std::sqrt(sampling_var + calibration_var) + shift_term;
  // Transfer term. Every calibrated estimate above corrects the model's
  // confidence by what validation taught, and they all agree when the set lies
  // where validation has (almost) no samples, so the shift term stays small
  // exactly where the correction is least known to hold (long reviews against
  // short SST-2 phrases: the model is less confident there but more often
  // right). The share of validation that resembles the set is the weighted
  // validation's effective share ESS / n (1 without shift, a few percent for the
  // long reviews); for the rest the correction is unverified, so the interval
  // reaches toward the uncorrected mean confidence by the uncovered share of the
  // correction. One-sided: it does not claim the correction may be larger still.
  const double covered_share =
      weighted ? std::clamp(ess / static_cast<double>(cal.rows.size()), 0.0, 1.0) : 1.0;
  const double transfer_term = (1 - covered_share) * (raw - value);

  ordered_json out;
  out["method"] = kDefaultEstimateMethod;
  out["accuracy"] = Interval(value, value - half + std::min(transfer_term, 0.0),
                             value + half + std::max(transfer_term, 0.0));
  // The other calibrations, per row, for the per-class disagreement.
  std::vector<std::vector<double>> alternatives(2, std::vector<double>(n));
  for (size_t i = 0; i < n; ++i) {
    alternatives[0][i] = std::clamp(cal.isotonic.Predict(s.samples[i].confidence), 0.0, 1.0);
    alternatives[1][i] = std::clamp(c[i] + (doc - value), 0.0, 1.0);
  }
  if (has_probs) {
    alternatives.emplace_back(n);
    for (size_t i = 0; i < n; ++i) {
      alternatives.back()[i] = estimate_internal::TemperatureProbability(
          s.probs.data() + i * num_labels, num_labels, s.samples[i].pred, cal.temperature);
    }
  }
  std::vector<double> raw_rows(n);
  for (size_t i = 0; i < n; ++i) raw_rows[i] = s.samples[i].confidence;
  out["per_class"] = PerClass(s, c, alternatives, raw_rows, 1 - covered_share, labels, shift_term,
                              kZ90 * std::sqrt(calibration_var), options.drift_seed);
  out["baselines"] = {{"average_confidence", raw}, {"cbpe_isotonic", iso},
                      {"cbpe_temperature", temp},  {"atc", atc},
                      {"atc_ne", atc_ne},          {"doc", doc}};
  out["calibration"] = {
      {"split", std::string(SplitName(cal.split->split.split))},
      {"samples", static_cast<int64_t>(cal.rows.size())},
      {"accuracy", cal.accuracy},
      {"mean_confidence", cal.mean_confidence},
      {"temperature", cal.temperature},
      {"atc_threshold", cal.atc_threshold},
      {"weights", weighted ? "domain-classifier density ratio p/(1-p), capped at its 99th "
                             "percentile"
                           : "uniform: " + weights_note},
      {"effective_samples", ess},
      {"shift_term", shift_term},
      {"covered_share", covered_share},
      {"transfer_term", transfer_term},
      {"interval",
       "90%: 1.645 x sqrt(sampling + calibration variance) + the largest difference to "
       "cbpe_isotonic, cbpe_temperature and doc; then extended toward average_confidence by "
       "transfer_term = (1 - covered_share) x (average_confidence - value), covered_share = "
       "effective_samples / samples"}};
  out["reason"] = nullptr;
  return out;
}

}  // namespace

ordered_json NullPerformanceEstimate(const std::string& reason) {
  return {{"method", kDefaultEstimateMethod},
          {"accuracy", nullptr},
          {"per_class", ordered_json::object()},
          {"baselines", ordered_json::object()},
          {"reason", reason}};
}

Result<ordered_json> EstimatePerformance(const std::vector<store::SplitResults>& splits,
                                         const std::vector<std::string>& labels,
                                         const ProcessingOptions& options) {
  ordered_json out = ordered_json::object();
  std::vector<const store::SplitResults*> targets;
  for (const store::SplitResults& s : splits) {
    if (s.split.split == Split::kInference) targets.push_back(&s);
  }
  if (targets.empty()) return out;
  std::string reason;
  std::optional<Calibration> cal;
  if (labels.size() < 2) {
    reason = "the run has fewer than two labels";
  } else {
    cal = FindCalibration(splits, static_cast<int64_t>(labels.size()), &reason);
  }
  for (const store::SplitResults* s : targets) {
    out[s->split.ToString()] =
        cal ? EstimateSplit(*cal, *s, labels, options) : NullPerformanceEstimate(reason);
  }
  return out;
}

}  // namespace sextant::processing
