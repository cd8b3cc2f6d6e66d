// The dataset-level drift verdict (docs/algorithms.md, "Dataset-level verdict"):
// from the per-sample flags of one set, the drifted fraction with a 95% Wilson
// score interval and a one-sided exact test of "no more samples above the
// threshold than no drift explains".
//
// Null model. A sample's k-core distance under no drift is exchangeable with
// the reference set's. The threshold is an order statistic of the M reference
// distances with m of them above it, so the probability U that a new sample
// lands above it is Beta(m + 1, M - m) distributed (a property of uniform
// order statistics, whatever the distribution of distances), and the count of
// n new samples above it is BetaBinomial(n, m + 1, M - m). With M -> infinity
// this is Binomial(n, nominal); the finite-M form keeps the p-value honest
// when the production set is as large as the reference or larger, where the
// threshold's own sampling error dominates.
//
// Every function here is pure and thread-safe; tails are computed in log
// space and stay finite (no overflow, no underflow to 0 in the log) for n up
// to 10^7 and beyond.
#pragma once

#include <cstdint>

namespace sextant::drift {

// log P(X >= x) for X ~ Binomial(n, p), p in [0, 1]. 0 for x <= 0; -infinity
// when x > n or (p == 0 and x >= 1).
double LogBinomialUpperTail(int64_t x, int64_t n, double p);

// log P(X >= x) for X ~ BetaBinomial(n, a, b), a >= 1 and b >= 1 (the pmf is
// then log-concave, which the summation relies on). 0 for x <= 0; -infinity
// when x > n.
double LogBetaBinomialUpperTail(int64_t x, int64_t n, double a, double b);

struct Interval {
  double low = 0, high = 1;
};

// The Wilson score interval for a binomial proportion `count / n` at the
// two-sided 95% level (z = 1.959964). [0, 1] when n == 0.
Interval WilsonInterval95(int64_t count, int64_t n);

// What no drift predicts for the count above the threshold.
struct NullModel {
  double nominal = 0.05;        // 1 - percentile
  int64_t reference_size = 0;   // M; 0 means an infinite reference (plain binomial)
  int64_t reference_above = 0;  // m: reference distances strictly above the threshold
};

struct Verdict {
  int64_t samples = 0;  // n
  int64_t count = 0;    // samples above the threshold
  double fraction = 0;  // count / n (0 when n == 0)
  Interval ci;          // Wilson 95%
  double expected = 0;  // the null's mean rate: (m + 1) / (M + 1), or nominal
  double log10_p_value = 0;
  double p_value = 1;    // 10^log10_p_value; may underflow to 0 (log10_p_value does not)
  bool drifted = false;  // p_value < alpha
};

// The verdict for `count` of `samples` above the threshold.
Verdict ComputeVerdict(int64_t count, int64_t samples, const NullModel& null, double alpha);

}  // namespace sextant::drift
