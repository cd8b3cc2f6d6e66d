// The label-free performance estimate of each inference set
// (docs/performance-estimation.md): the accuracy the model has on a set whose
// labels are unknown, with a 90% interval, and per predicted class the
// estimated precision, recall and F1, all calibrated on the held-out
// validation split (else the test split).
//
// The default, "iw_cbpe": NannyML's confidence-based performance estimation
// (isotonic calibration of the confidence on validation) where the validation
// samples are weighted by the density ratio of the inference set to
// validation, p / (1 - p) of the cross-fitted domain classifier
// (drift/domain_classifier.h; the mean of 4 fittings), so the calibration is the one of the part of
// validation that looks like the set (Sugiyama et al. 2007, importance-weighted
// estimation under covariate shift). The interval adds to the sampling and
// calibration error (the weighted validation's effective size) the largest
// disagreement with the other calibrated estimates (unweighted isotonic,
// temperature scaling, DoC): under no shift they agree, and the further the
// set is from validation the further they part. Where little of validation
// resembles the set they may all agree on the same wrong correction, so the
// interval also reaches toward the uncorrected mean confidence by the share of
// validation that does not resemble it (1 - ESS / n, the transfer term).
//
// Baselines, computed on the same data and stored next to it: average
// confidence; CBPE with isotonic and with temperature calibration (Guo et al.
// 2017); ATC on the confidence and on negative entropy (Garg et al. 2022); DoC
// (Guillory et al. 2021).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sextant/processing_options.h"
#include "sextant/status.h"
#include "store/run_store.h"

namespace sextant::processing {

using ordered_json = nlohmann::ordered_json;

// The name of the default method, in each estimate's "method".
inline constexpr const char* kDefaultEstimateMethod = "iw_cbpe";
// Fewer labeled held-out samples than this give no estimate (a null with a reason).
inline constexpr int kMinCalibrationSamples = 20;

// Per inference split key ("inference:yelp"):
// {"method", "accuracy": {"value", "low", "high"} (90%),
//  "per_class": {"<label>": {"precision": {...}, "recall": {...}, "f1": {...}}},
//  "baselines": {"average_confidence": x, "cbpe_isotonic": x, "cbpe_temperature": x,
//                "atc": x, "atc_ne": x, "doc": x},
//  "calibration": {...}, "reason": null}
// Where no estimate can be made (no held-out labeled split, too few labeled
// samples, an empty set), "accuracy" is null and "reason" says why.
Result<ordered_json> EstimatePerformance(const std::vector<store::SplitResults>& splits,
                                         const std::vector<std::string>& labels,
                                         const ProcessingOptions& options);

// The estimate's shape with "accuracy" null and the reason there is none.
ordered_json NullPerformanceEstimate(const std::string& reason);

// The pieces, exposed for tests.
namespace estimate_internal {

// Weighted isotonic (non-decreasing) regression of y on x by pool-adjacent
// violators; Predict interpolates linearly between the pooled blocks' centres
// and clips outside them.
class Isotonic {
 public:
  void Fit(const std::vector<double>& x, const std::vector<double>& y,
           const std::vector<double>& w);
  double Predict(double x) const;
  bool empty() const { return knot_x_.empty(); }

 private:
  std::vector<double> knot_x_, knot_y_;
};

// The temperature T minimising the validation negative log-likelihood of
// softmax(log p / T) (golden-section search over log T in [log 0.05, log 20]).
double FitTemperature(const std::vector<float>& probs, int64_t num_labels,
                      const std::vector<int32_t>& gold);
// The probability of class `k` of one row after temperature scaling.
double TemperatureProbability(const float* row, int64_t num_labels, int32_t k, double t);

// numpy.quantile's default (linear interpolation between order statistics).
double Quantile(std::vector<double> v, double q);

}  // namespace estimate_internal

}  // namespace sextant::processing
