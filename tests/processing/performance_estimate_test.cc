#include "processing/performance_estimate.h"

#include <cmath>
#include <random>
#include <vector>

#include "testing.h"

namespace sextant::processing {
namespace {

using estimate_internal::Isotonic;
using estimate_internal::Quantile;

const std::vector<std::string> kLabels = {"negative", "positive"};

SplitKey Key(Split split, const std::string& name = "") { return *SplitKey::Make(split, name); }

// A two-class sample with probabilities (1 - p1, p1).
void Add(store::SplitResults* s, double p1, std::optional<int32_t> gold) {
  store::SampleResult r;
  r.pred = p1 >= 0.5 ? 1 : 0;
  r.confidence = static_cast<float>(std::max(p1, 1 - p1));
  const double q = std::clamp(p1, 1e-12, 1 - 1e-12);
  r.entropy = static_cast<float>(-(q * std::log(q) + (1 - q) * std::log(1 - q)));
  r.gold = gold;
  s->samples.push_back(r);
  s->num_labels = 2;
  s->probs.push_back(static_cast<float>(1 - p1));
  s->probs.push_back(static_cast<float>(p1));
}

TEST(Isotonic, PoolsViolatorsAndInterpolates) {
  Isotonic iso;
  iso.Fit({1, 2, 3}, {1, 0, 1}, {1, 1, 1});
  // (1, 1) and (2, 0) pool into 0.5 at x = 1.5; (3, 1) stays.
  EXPECT_DOUBLE_EQ(iso.Predict(1.5), 0.5);
  EXPECT_DOUBLE_EQ(iso.Predict(3), 1.0);
  EXPECT_DOUBLE_EQ(iso.Predict(0), 0.5);  // clipped below
  EXPECT_DOUBLE_EQ(iso.Predict(9), 1.0);  // and above
  EXPECT_DOUBLE_EQ(iso.Predict(2.25), 0.75);
  // Weights: the pooled mean is weighted.
  Isotonic weighted;
  weighted.Fit({1, 2}, {1, 0}, {3, 1});
  EXPECT_DOUBLE_EQ(weighted.Predict(1.5), 0.75);
}

TEST(Quantile, InterpolatesLikeNumpy) {
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Quantile({1, 2, 3, 4}, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(Quantile({1, 2, 3, 4}, 1.0), 4.0);
}

// Baselines on inputs small enough to check by hand.
TEST(EstimatePerformance, BaselinesByHand) {
  std::vector<store::SplitResults> splits(2);
  splits[0].split = Key(Split::kValidation);
  // 20 validation samples predicting "positive" with p1 = 0.60, 0.62, ..., 0.98;
  // the 5 least confident are wrong: accuracy 0.75.
  double conf_sum = 0;
  for (int i = 0; i < 20; ++i) {
    const double p1 = 0.60 + 0.02 * i;
    conf_sum += p1;
    Add(&splits[0], p1, i < 5 ? 0 : 1);
  }
  const double val_conf = conf_sum / 20;
  splits[1].split = Key(Split::kInference, "prod");
  for (double p1 : {0.61, 0.65, 0.90, 0.97}) Add(&splits[1], p1, std::nullopt);
  ASSERT_OK_AND_ASSIGN(ordered_json out, EstimatePerformance(splits, kLabels, {}));
  const ordered_json& e = out["inference:prod"];
  ASSERT_TRUE(e["reason"].is_null()) << e.dump();
  const ordered_json& b = e["baselines"];
  const double raw = (0.61 + 0.65 + 0.90 + 0.97) / 4;
  EXPECT_NEAR(b["average_confidence"].get<double>(), raw, 1e-6);
  EXPECT_NEAR(b["doc"].get<double>(), 0.75 - (val_conf - raw), 1e-6);
  // ATC: the threshold is the 25% quantile of validation confidence: 0.6 + 0.02 * 4.75
  // = 0.695; two of the four inference samples are above it.
  EXPECT_NEAR(e["calibration"]["atc_threshold"].get<double>(), 0.695, 1e-6);
  EXPECT_DOUBLE_EQ(b["atc"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(b["atc_ne"].get<double>(), 0.5);
  // Isotonic calibration: confidence <= 0.68 is wrong, >= 0.70 right: 0.61 and 0.65
  // map to 0, 0.90 and 0.97 to 1.
  EXPECT_NEAR(b["cbpe_isotonic"].get<double>(), 0.5, 1e-9);
  // No embeddings: the weights are uniform and the default is the isotonic CBPE.
  EXPECT_NEAR(e["accuracy"]["value"].get<double>(), 0.5, 1e-9);
  EXPECT_NE(e["calibration"]["weights"].get<std::string>().find("uniform"), std::string::npos);
  EXPECT_LE(e["accuracy"]["low"].get<double>(), 0.5);
  EXPECT_GE(e["accuracy"]["high"].get<double>(), 0.5);
  // Per class: positive is predicted for the two calibrated-correct rows only.
  const ordered_json& pos = e["per_class"]["positive"];
  EXPECT_NEAR(pos["precision"]["value"].get<double>(), 0.5, 1e-9);
  EXPECT_NEAR(pos["recall"]["value"].get<double>(), 1.0, 1e-9);
}

TEST(EstimatePerformance, NullWithReasonWithoutCalibrationData) {
  std::vector<store::SplitResults> splits(2);
  splits[0].split = Key(Split::kTraining);
  for (int i = 0; i < 50; ++i) Add(&splits[0], 0.9, 1);
  splits[1].split = Key(Split::kInference, "prod");
  Add(&splits[1], 0.9, std::nullopt);
  ASSERT_OK_AND_ASSIGN(ordered_json out, EstimatePerformance(splits, kLabels, {}));
  EXPECT_TRUE(out["inference:prod"]["accuracy"].is_null());
  EXPECT_NE(out["inference:prod"]["reason"].get<std::string>().find("no validation"),
            std::string::npos);

  // Too few labeled validation samples.
  splits[0].split = Key(Split::kValidation);
  splits[0].samples.resize(5);
  splits[0].probs.resize(10);
  ASSERT_OK_AND_ASSIGN(out, EstimatePerformance(splits, kLabels, {}));
  EXPECT_TRUE(out["inference:prod"]["accuracy"].is_null());
  EXPECT_NE(out["inference:prod"]["reason"].get<std::string>().find("5 labeled"),
            std::string::npos);

  // A single label.
  ASSERT_OK_AND_ASSIGN(out, EstimatePerformance(splits, {"only"}, {}));
  EXPECT_TRUE(out["inference:prod"]["accuracy"].is_null());
  EXPECT_FALSE(out["inference:prod"]["reason"].get<std::string>().empty());
}

TEST(EstimatePerformance, EmptySetAndSingleClassValidation) {
  std::vector<store::SplitResults> splits(3);
  splits[0].split = Key(Split::kValidation);
  for (int i = 0; i < 30; ++i) Add(&splits[0], 0.9, 1);  // one class, all correct
  splits[1].split = Key(Split::kInference, "empty");
  splits[2].split = Key(Split::kInference, "prod");
  for (int i = 0; i < 10; ++i) Add(&splits[2], i % 2 ? 0.8 : 0.3, std::nullopt);
  ASSERT_OK_AND_ASSIGN(ordered_json out, EstimatePerformance(splits, kLabels, {}));
  EXPECT_TRUE(out["inference:empty"]["accuracy"].is_null());
  EXPECT_EQ(out["inference:empty"]["reason"], "the set has no samples");
  const ordered_json& e = out["inference:prod"];
  ASSERT_FALSE(e["accuracy"].is_null()) << e.dump();
  for (const char* f : {"value", "low", "high"}) {
    EXPECT_TRUE(std::isfinite(e["accuracy"][f].get<double>()));
  }
  // Nothing predicted "negative" in validation; per class values exist or are null, never NaN.
  EXPECT_TRUE(e.dump().find("NaN") == std::string::npos);
  // No inference split: an empty object.
  splits.resize(1);
  ASSERT_OK_AND_ASSIGN(out, EstimatePerformance(splits, kLabels, {}));
  EXPECT_TRUE(out.empty());
}

// Generated data under covariate shift: inputs from a Gaussian in 8
// dimensions, shifted for the inference sets; labels drawn from one fixed rule,
// P(positive | x) = sigmoid(2 x0 + x1); the model, a different fixed linear
// score (its probabilities the outputs, the inputs its embeddings), is
// miscalibrated and misses part of the rule. Labels of the inference sets are
// drawn but hidden from the estimator; the default's error stays within its
// 90% interval on each set.
TEST(EstimatePerformance, DefaultErrorWithinItsIntervalOnGeneratedShifts) {
  constexpr int kDim = 8;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto make = [&](Split split, const std::string& name, int n, double shift,
                  std::vector<int32_t>* gold) {
    store::SplitResults s;
    s.split = Key(split, name);
    s.emb_dim = kDim;
    for (int i = 0; i < n; ++i) {
      double x[kDim];
      for (int j = 0; j < kDim; ++j) x[j] = normal(rng);
      x[1] += shift;  // covariate shift: the rule below is the same everywhere
      x[2] += 0.5 * shift;
      const int32_t y = unit(rng) < 1 / (1 + std::exp(-(2 * x[0] + x[1]))) ? 1 : 0;
      for (double v : x) s.embeddings.push_back(static_cast<float>(v));
      const double p1 = 1 / (1 + std::exp(-(3 * x[0] + 0.2 * x[1] + 0.2)));
      Add(&s, p1, split == Split::kInference ? std::nullopt : std::optional<int32_t>(y));
      gold->push_back(y);
    }
    return s;
  };
  std::vector<store::SplitResults> splits;
  std::vector<std::vector<int32_t>> golds(1);
  splits.push_back(make(Split::kValidation, "", 3000, 0.0, &golds[0]));
  const double shifts[] = {0.0, 0.5, 1.0, 1.5};
  for (size_t k = 0; k < std::size(shifts); ++k) {
    golds.emplace_back();
    splits.push_back(
        make(Split::kInference, "shift" + std::to_string(k), 2000, shifts[k], &golds.back()));
  }
  ASSERT_OK_AND_ASSIGN(ordered_json out, EstimatePerformance(splits, kLabels, {}));
  std::vector<double> errors;
  for (size_t k = 1; k < splits.size(); ++k) {
    const store::SplitResults& s = splits[k];
    double correct = 0;
    for (size_t i = 0; i < s.samples.size(); ++i) correct += s.samples[i].pred == golds[k][i];
    const double real = correct / static_cast<double>(s.samples.size());
    const ordered_json& e = out[s.split.ToString()];
    ASSERT_FALSE(e["accuracy"].is_null()) << e.dump();
    const double value = e["accuracy"]["value"].get<double>();
    EXPECT_LE(e["accuracy"]["low"].get<double>(), real) << s.split.ToString() << " " << e.dump();
    EXPECT_GE(e["accuracy"]["high"].get<double>(), real) << s.split.ToString() << " " << e.dump();
    // And the interval is informative: at most 12 points on either side.
    EXPECT_LT(e["accuracy"]["high"].get<double>() - e["accuracy"]["low"].get<double>(), 0.24);
    errors.push_back(std::abs(value - real));
    EXPECT_NE(e["calibration"]["weights"].get<std::string>().find("density ratio"),
              std::string::npos);
    // Per class values are probabilities with ordered bounds.
    for (const auto& [label, m] : e["per_class"].items()) {
      for (const char* f : {"precision", "recall", "f1"}) {
        if (m[f]["value"].is_null()) continue;
        EXPECT_LE(m[f]["low"].get<double>(), m[f]["value"].get<double>());
        EXPECT_GE(m[f]["high"].get<double>(), m[f]["value"].get<double>());
      }
    }
  }
  ASSERT_EQ(errors.size(), 4u);
}

// A set where validation has no samples alike (far off in embedding space) and
// the model is calibrated there, while on validation it is overconfident: every
// calibration learned on validation lowers the confidence alike, so they agree
// on a wrong value. The interval must reach toward the uncorrected confidence
// by the share of validation that does not resemble the set; on an in-domain
// set it stays as it was.
TEST(EstimatePerformance, IntervalReachesTowardConfidenceWhereValidationBarelyCoversTheSet) {
  constexpr int kDim = 8;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto make = [&](Split split, const std::string& name, int n, double offset, double model_slope,
                  double true_slope, double* real) {
    store::SplitResults s;
    s.split = Key(split, name);
    s.emb_dim = kDim;
    double correct = 0;
    for (int i = 0; i < n; ++i) {
      double x[kDim];
      for (int j = 0; j < kDim; ++j) x[j] = normal(rng) + (j > 0 ? offset : 0.0);
      const int32_t y = unit(rng) < 1 / (1 + std::exp(-true_slope * x[0])) ? 1 : 0;
      for (double v : x) s.embeddings.push_back(static_cast<float>(v));
      const double p1 = 1 / (1 + std::exp(-model_slope * x[0]));
      Add(&s, p1, split == Split::kInference ? std::nullopt : std::optional<int32_t>(y));
      correct += s.samples.back().pred == y;
    }
    *real = correct / n;
    return s;
  };
  double real_val = 0, real_near = 0, real_far = 0;
  std::vector<store::SplitResults> splits;
  // Validation: overconfident (slope 3 where the truth has 1.5).
  splits.push_back(make(Split::kValidation, "", 3000, 0.0, 3.0, 1.5, &real_val));
  splits.push_back(make(Split::kInference, "near", 1000, 0.0, 3.0, 1.5, &real_near));
  // Far: 3 standard deviations off on seven axes, less confident and calibrated.
  splits.push_back(make(Split::kInference, "far", 1000, 3.0, 1.5, 1.5, &real_far));
  ASSERT_OK_AND_ASSIGN(ordered_json out, EstimatePerformance(splits, kLabels, {}));

  const ordered_json& far = out["inference:far"];
  const double value = far["accuracy"]["value"].get<double>();
  const double raw = far["baselines"]["average_confidence"].get<double>();
  const double covered = far["calibration"]["covered_share"].get<double>();
  // The calibrated estimate is well below the truth, the confidence is not.
  EXPECT_GT(real_far - value, 0.05) << far.dump();
  EXPECT_LT(covered, 0.1) << far.dump();
  EXPECT_NEAR(far["calibration"]["transfer_term"].get<double>(), (1 - covered) * (raw - value),
              1e-9);
  EXPECT_GE(far["accuracy"]["high"].get<double>(), value + (1 - covered) * (raw - value) - 1e-9);
  EXPECT_GE(far["accuracy"]["high"].get<double>(), real_far) << far.dump();
  EXPECT_LE(far["accuracy"]["low"].get<double>(), real_far) << far.dump();
  // Toward the confidence only: the low side keeps the sampling and shift terms.
  EXPECT_GT(far["accuracy"]["low"].get<double>(), value - 0.15) << far.dump();
  // Per class too: positive recall reaches toward its value under the raw confidence.
  const ordered_json& recall = far["per_class"]["positive"]["recall"];
  EXPECT_GT(recall["high"].get<double>(), recall["value"].get<double>() + 0.05) << far.dump();

  // In-domain: validation covers the set, the term is negligible, the interval narrow.
  const ordered_json& near = out["inference:near"];
  EXPECT_GT(near["calibration"]["covered_share"].get<double>(), 0.8) << near.dump();
  EXPECT_LT(std::abs(near["calibration"]["transfer_term"].get<double>()), 0.04) << near.dump();
  EXPECT_LT(near["accuracy"]["high"].get<double>() - near["accuracy"]["low"].get<double>(), 0.12);
  EXPECT_LE(near["accuracy"]["low"].get<double>(), real_near);
  EXPECT_GE(near["accuracy"]["high"].get<double>(), real_near);
}

// Past 20,000 rows the per-class bootstrap runs on a sample and scales its
// spread: the intervals stay ordered, finite and narrower than on a small set.
TEST(EstimatePerformance, LargeSetPerClassIntervals) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto make = [&](Split split, const std::string& name, int n) {
    store::SplitResults s;
    s.split = Key(split, name);
    for (int i = 0; i < n; ++i) {
      const double p1 = unit(rng);
      Add(&s, p1,
          split == Split::kInference ? std::nullopt
                                     : std::optional<int32_t>(unit(rng) < p1 ? 1 : 0));
    }
    return s;
  };
  std::vector<store::SplitResults> splits;
  splits.push_back(make(Split::kValidation, "", 2000));
  splits.push_back(make(Split::kInference, "small", 500));
  splits.push_back(make(Split::kInference, "large", 50000));
  ASSERT_OK_AND_ASSIGN(ordered_json out, EstimatePerformance(splits, kLabels, {}));
  for (const char* set : {"inference:small", "inference:large"}) {
    for (const std::string& label : kLabels) {
      const ordered_json& f1 = out[set]["per_class"][label]["f1"];
      ASSERT_TRUE(f1["value"].is_number()) << out[set].dump();
      EXPECT_LE(f1["low"].get<double>(), f1["value"].get<double>());
      EXPECT_GE(f1["high"].get<double>(), f1["value"].get<double>());
    }
  }
  // The same calibration on both: the large set's interval is the narrower.
  const auto width = [&](const char* set) {
    const ordered_json& f1 = out[set]["per_class"]["positive"]["f1"];
    return f1["high"].get<double>() - f1["low"].get<double>();
  };
  EXPECT_LT(width("inference:large"), width("inference:small"));
}

}  // namespace
}  // namespace sextant::processing
