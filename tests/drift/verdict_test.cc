#include "drift/verdict.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "drift/knn_drift.h"
#include "drift/reference.h"
#include "testing.h"

namespace sextant::drift {
namespace {

// Reference values, the natural log of P(X >= x): exact rational arithmetic in Python
// (fractions.Fraction and math.comb, every term of the tail summed) up to n = 8000, and
// mpmath at 60 digits (log-gamma terms summed until 1e-43 of the first) for x = 300 of 1000
// and n >= 10^5; the two agree to 20 digits where both were run (BetaBinomial(8000, 338,
// 6398) at 2500). tests/drift/tail_reference.py computes them.
struct TailCase {
  int64_t x, n;
  double p;
  double log_tail;
};

TEST(LogBinomialUpperTail, MatchesExactReferenceValues) {
  const TailCase cases[] = {
      {1, 20, 0.05, -0.44392415036371010183},  // 1 - 0.95^20
      {3, 20, 0.05, -2.5838388873226289221},
      {20, 20, 0.05, -59.914645471079819869},  // 0.05^20 = 9.5367431640625e-27
      {6, 11, 0.5, -0.69314718055994530942},   // exactly 1/2 by symmetry
      {50, 1000, 0.05, -0.65342862421138693557},
      {80, 1000, 0.05, -10.263412063232931734},
      {200, 1000, 0.05, -143.00099863166086367},     // 7.86e-63
      {30, 1000, 0.05, -0.00071945602664642065353},  // below the mean: 1 - lower tail
      {300, 1000, 0.05, -327.22302049922882663},
      {5000, 100000, 0.05, -0.68910344457225719392},
      {5500, 100000, 0.05, -28.392457814690564601},
      {36200, 100000, 0.05, -46267.840827413422161},
      {500000, 10000000, 0.05, -0.69274207021995954077},
      {502000, 10000000, 0.05, -6.2826808335236331268},
      {499000, 10000000, 0.05, -0.076084410828300506812},
      {600000, 10000000, 0.05, -9926.9062935825655983},
  };
  for (const TailCase& c : cases) {
    SCOPED_TRACE("x=" + std::to_string(c.x) + " n=" + std::to_string(c.n));
    const double got = LogBinomialUpperTail(c.x, c.n, c.p);
    // An error e in the log is a relative error e of the tail itself.
    const double tol = c.n <= 1000 ? 1e-12 : 1e-10;
    EXPECT_NEAR(got, c.log_tail, tol);
  }
}

struct BetaCase {
  int64_t x, n;
  double a, b;
  double log_tail;
};

TEST(LogBetaBinomialUpperTail, MatchesExactReferenceValues) {
  const BetaCase cases[] = {
      {10, 50, 1, 1, -0.21825356602001796778},     // uniform on 0..50: 41/51
      {50, 1000, 6, 95, -0.48359815712959437299},  // M = 100, m = 5
      {150, 1000, 6, 95, -6.0863760685436448963},
      {3, 1000, 6, 95, -0.000011801738196935862909},
      {400, 8000, 338, 6398, -0.65465710694877844487},  // M = 6735, m = 337
      {2500, 8000, 338, 6398, -915.45644403010789437},
      {600000, 10000000, 5001, 95000, -96.226322754580765511},  // M = 100000, m = 5000
      {520000, 10000000, 5001, 95000, -6.1027390214701462243},
  };
  for (const BetaCase& c : cases) {
    SCOPED_TRACE("x=" + std::to_string(c.x) + " n=" + std::to_string(c.n));
    const double got = LogBetaBinomialUpperTail(c.x, c.n, c.a, c.b);
    const double tol = c.n <= 1000 ? 1e-12 : 1e-10;
    EXPECT_NEAR(got, c.log_tail, tol);
  }
}

TEST(LogBinomialUpperTail, EdgesAndExtremesStayFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(LogBinomialUpperTail(0, 10, 0.05), 0.0);
  EXPECT_EQ(LogBinomialUpperTail(-3, 10, 0.05), 0.0);
  EXPECT_EQ(LogBinomialUpperTail(11, 10, 0.05), -inf);
  EXPECT_EQ(LogBinomialUpperTail(1, 10, 0.0), -inf);
  EXPECT_EQ(LogBinomialUpperTail(10, 10, 1.0), 0.0);
  EXPECT_EQ(LogBinomialUpperTail(0, 0, 0.05), 0.0);
  // Every sample of 10^7 above the threshold: n log p, far beyond double's range as a p-value.
  const int64_t n = 10000000;
  EXPECT_NEAR(LogBinomialUpperTail(n, n, 0.05), n * std::log(0.05), 1e-6 * n);
  // Monotone and finite across the whole range.
  double last = 0;
  for (int64_t x = 0; x <= n; x += n / 997) {
    const double v = LogBinomialUpperTail(x, n, 0.05);
    ASSERT_TRUE(std::isfinite(v)) << x;
    ASSERT_LE(v, last + 1e-12) << x;
    last = v;
  }
}

TEST(LogBetaBinomialUpperTail, ApproachesTheBinomialAsTheReferenceGrows) {
  // BetaBinomial(n, a, b) with a / (a + b) = p and a + b -> infinity is Binomial(n, p).
  for (int64_t x : {40, 50, 70, 100}) {
    const double binomial = LogBinomialUpperTail(x, 1000, 0.05);
    const double beta = LogBetaBinomialUpperTail(x, 1000, 0.05e9, 0.95e9);
    EXPECT_NEAR(beta, binomial, 1e-4 * std::max(1.0, std::abs(binomial))) << x;
    // A small reference widens the null: the tail above the mean is heavier.
    if (x > 50) {
      EXPECT_GT(LogBetaBinomialUpperTail(x, 1000, 11, 191), binomial) << x;
    }
  }
  EXPECT_EQ(LogBetaBinomialUpperTail(0, 10, 2, 3), 0.0);
  EXPECT_EQ(LogBetaBinomialUpperTail(11, 10, 2, 3), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isfinite(LogBetaBinomialUpperTail(10000000, 10000000, 5001, 95000)));
}

TEST(WilsonInterval95, MatchesNewcombesTable) {
  // Newcombe (1998), Statistics in Medicine 17:857, Table II, method 3 (Wilson score).
  struct Case {
    int64_t x, n;
    double low, high;
  };
  for (const Case& c : {Case{81, 263, 0.2553, 0.3662}, Case{15, 148, 0.0624, 0.1605},
                        Case{0, 20, 0.0, 0.1611}, Case{1, 29, 0.0061, 0.1718}}) {
    const Interval ci = WilsonInterval95(c.x, c.n);
    EXPECT_NEAR(ci.low, c.low, 5e-5) << c.x << "/" << c.n;
    EXPECT_NEAR(ci.high, c.high, 5e-5) << c.x << "/" << c.n;
  }
  const Interval all = WilsonInterval95(20, 20);
  EXPECT_DOUBLE_EQ(all.high, 1.0);
  EXPECT_NEAR(all.low, 1 - 0.1611, 5e-5);
  const Interval none = WilsonInterval95(0, 0);
  EXPECT_EQ(none.low, 0.0);
  EXPECT_EQ(none.high, 1.0);
}

TEST(ComputeVerdict, FillsEveryField) {
  const Verdict v = ComputeVerdict(362, 1000, {0.05, 100, 5}, 0.01);
  EXPECT_EQ(v.samples, 1000);
  EXPECT_EQ(v.count, 362);
  EXPECT_DOUBLE_EQ(v.fraction, 0.362);
  EXPECT_NEAR(v.ci.low, 0.3327944129, 1e-9);
  EXPECT_NEAR(v.ci.high, 0.3922617725, 1e-9);
  EXPECT_DOUBLE_EQ(v.expected, 6.0 / 101.0);
  EXPECT_NEAR(v.log10_p_value * std::log(10.0), LogBetaBinomialUpperTail(362, 1000, 6, 95), 1e-9);
  EXPECT_TRUE(v.drifted);
  // No reference size: the plain binomial against the nominal rate.
  const Verdict b = ComputeVerdict(80, 1000, {0.05, 0, 0}, 0.01);
  EXPECT_DOUBLE_EQ(b.expected, 0.05);
  EXPECT_NEAR(b.p_value, 0.000034886449757934703703, 1e-15);
  EXPECT_TRUE(b.drifted);
  EXPECT_FALSE(ComputeVerdict(80, 1000, {0.05, 0, 0}, 1e-5).drifted);
  // An empty set: nothing to say.
  const Verdict e = ComputeVerdict(0, 0, {0.05, 100, 5}, 0.01);
  EXPECT_EQ(e.fraction, 0.0);
  EXPECT_EQ(e.p_value, 1.0);
  EXPECT_FALSE(e.drifted);
  // A p-value below double's range keeps its log.
  const Verdict huge = ComputeVerdict(3620000, 10000000, {0.05, 100000, 5000}, 0.01);
  EXPECT_EQ(huge.p_value, 0.0);
  EXPECT_TRUE(std::isfinite(huge.log10_p_value));
  EXPECT_LT(huge.log10_p_value, -300);
  EXPECT_TRUE(huge.drifted);
}

// The verdict as the engine computes it, from generated distances: a reference
// of M i.i.d. draws gives the threshold (its 95th percentile) and m; a query
// set of n draws gives the count above it.
Verdict VerdictOf(std::mt19937_64& rng, int64_t reference_size, int64_t n, double shift,
                  bool finite_reference = true) {
  // Any continuous distribution will do: exponential draws by inversion (mt19937_64 is the
  // same everywhere; std's distributions are not).
  auto dist = [](std::mt19937_64& g) {
    return static_cast<float>(-std::log1p(-static_cast<double>(g() >> 11) * 0x1.0p-53));
  };
  std::vector<float> ref(static_cast<size_t>(reference_size));
  for (float& v : ref) v = dist(rng);
  const ReferenceDistribution r = MakeReference(ref, 10, 0.95);
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += dist(rng) + shift > r.threshold;
  NullModel null{0.05, finite_reference ? reference_size : 0, CountAbove(r, r.threshold)};
  return ComputeVerdict(count, n, null, 0.01);
}

TEST(ComputeVerdict, PValueIsRoughlyUniformWithoutDrift) {
  // 200 no-drift sets against 200 references (fixed seed: deterministic). The test is exact
  // but discrete, so P(p < alpha) <= alpha; it should not be far below either.
  std::mt19937_64 rng(20261129);
  int below_05 = 0, below_50 = 0;
  for (int rep = 0; rep < 200; ++rep) {
    const Verdict v = VerdictOf(rng, 1000, 500, 0.0);
    below_05 += v.p_value < 0.05;
    below_50 += v.p_value < 0.5;
  }
  std::printf("p < 0.05 in %d of 200, p < 0.5 in %d of 200\n", below_05, below_50);
  // Binomial(200, 0.05) has sd 3.1: [3, 17] is within +-2.3 sd.
  EXPECT_GE(below_05, 3);
  EXPECT_LE(below_05, 17);
  EXPECT_GE(below_50, 75);
  EXPECT_LE(below_50, 115);
}

TEST(ComputeVerdict, BetaBinomialKeepsTheLevelWhereTheBinomialDoesNot) {
  // A production set ten times the reference: the threshold's own error dominates. The
  // plain binomial against 5% then raises false alarms far above alpha; the exact test not.
  std::mt19937_64 rng(7);
  int beta_alarms = 0, binomial_alarms = 0;
  for (int rep = 0; rep < 200; ++rep) {
    std::mt19937_64 copy = rng;
    beta_alarms += VerdictOf(rng, 200, 2000, 0.0).p_value < 0.05;
    binomial_alarms += VerdictOf(copy, 200, 2000, 0.0, /*finite_reference=*/false).p_value < 0.05;
  }
  std::printf("p < 0.05: beta-binomial %d of 200, binomial %d of 200\n", beta_alarms,
              binomial_alarms);
  EXPECT_LE(beta_alarms, 17);
  EXPECT_GE(binomial_alarms, 40);
}

TEST(ComputeVerdict, TinyUnderAStrongShift) {
  std::mt19937_64 rng(11);
  for (int rep = 0; rep < 5; ++rep) {
    const Verdict v = VerdictOf(rng, 1000, 500, 2.0);  // 37% above instead of 5%
    EXPECT_LT(v.p_value, 1e-10);
    EXPECT_TRUE(v.drifted);
    EXPECT_GT(v.ci.low, 0.2);
  }
}

}  // namespace
}  // namespace sextant::drift
