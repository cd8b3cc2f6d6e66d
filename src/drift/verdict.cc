#include "drift/verdict.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sextant::drift {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
// Summation stops once the rest of the tail is below this share of the sum.
constexpr long double kRelativeTolerance = 1e-19L;

// log P(X >= x) for a log-concave pmf on {0..n}, given log pmf(j) and the
// ratio pmf(j + 1) / pmf(j). Log-concavity makes the ratio non-increasing, so
// once past the mode the terms fall at least geometrically and the remainder
// after a term t with ratio r is at most t r / (1 - r).
//
// Past the mode the upper tail is summed from x upwards, relative to pmf(x);
// before the mode the lower tail P(X <= x - 1) is summed downwards and
// subtracted from 1 (it is then at most about one half plus pmf(mode), so the
// subtraction loses nothing that matters). Long double keeps the start term's
// log-gamma differences accurate for n up to 10^7 and beyond.
template <typename LogPmf, typename Ratio>
double LogUpperTail(int64_t x, int64_t n, LogPmf log_pmf, Ratio ratio) {
  if (x <= 0) return 0;
  if (x > n) return kNegInf;
  if (ratio(x - 1) <= 1) {
    long double term = 1, sum = 1;
    for (int64_t j = x; j < n; ++j) {
      const long double r = ratio(j);
      term *= r;
      sum += term;
      if (term == 0 || (r < 1 && term * r / (1 - r) <= kRelativeTolerance * sum)) break;
    }
    return static_cast<double>(log_pmf(x) + std::log(sum));
  }
  long double term = 1, sum = 1;
  for (int64_t j = x - 1; j > 0; --j) {
    const long double r = 1 / ratio(j - 1);  // pmf(j - 1) / pmf(j)
    term *= r;
    sum += term;
    if (term == 0 || (r < 1 && term * r / (1 - r) <= kRelativeTolerance * sum)) break;
  }
  const long double lower = std::exp(log_pmf(x - 1) + std::log(sum));
  // P(X >= x) >= pmf(x): a floor against rounding when the lower tail is near 1.
  const long double upper = std::max(1 - lower, std::exp(log_pmf(x)));
  return static_cast<double>(std::log(upper));
}

long double LogChoose(int64_t n, int64_t x) {
  const auto ln = static_cast<long double>(n), lx = static_cast<long double>(x);
  return std::lgamma(ln + 1) - std::lgamma(lx + 1) - std::lgamma(ln - lx + 1);
}

long double LogBeta(long double a, long double b) {
  return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
}

}  // namespace

double LogBinomialUpperTail(int64_t x, int64_t n, double p) {
  if (x <= 0) return 0;
  if (x > n || p <= 0) return kNegInf;
  if (p >= 1) return 0;
  const long double lp = std::log(static_cast<long double>(p));
  const long double lq = std::log1p(-static_cast<long double>(p));
  const long double odds = static_cast<long double>(p) / (1 - static_cast<long double>(p));
  auto log_pmf = [&](int64_t j) {
    return LogChoose(n, j) + static_cast<long double>(j) * lp +
           static_cast<long double>(n - j) * lq;
  };
  auto ratio = [&](int64_t j) {
    return static_cast<long double>(n - j) / static_cast<long double>(j + 1) * odds;
  };
  return LogUpperTail(x, n, log_pmf, ratio);
}

double LogBetaBinomialUpperTail(int64_t x, int64_t n, double a, double b) {
  if (x <= 0) return 0;
  if (x > n) return kNegInf;
  const long double la = a, lb = b, beta_ab = LogBeta(la, lb);
  auto log_pmf = [&](int64_t j) {
    const auto lj = static_cast<long double>(j), lk = static_cast<long double>(n - j);
    return LogChoose(n, j) + LogBeta(lj + la, lk + lb) - beta_ab;
  };
  auto ratio = [&](int64_t j) {
    const auto lj = static_cast<long double>(j), lk = static_cast<long double>(n - j);
    return lk * (lj + la) / ((lj + 1) * (lk - 1 + lb));
  };
  return LogUpperTail(x, n, log_pmf, ratio);
}

Interval WilsonInterval95(int64_t count, int64_t n) {
  if (n <= 0) return {0, 1};
  constexpr double kZ = 1.959963984540054;  // the 0.975 quantile of the standard normal
  const double z2 = kZ * kZ, nn = static_cast<double>(n), x = static_cast<double>(count);
  const double centre = (x + z2 / 2) / (nn + z2);
  const double half = kZ * std::sqrt(x * (nn - x) / nn + z2 / 4) / (nn + z2);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Verdict ComputeVerdict(int64_t count, int64_t samples, const NullModel& null, double alpha) {
  Verdict v;
  v.samples = samples;
  v.count = count;
  v.fraction = samples > 0 ? static_cast<double>(count) / static_cast<double>(samples) : 0.0;
  v.ci = WilsonInterval95(count, samples);
  double log_p = 0;
  if (null.reference_size > 0) {
    const int64_t m = std::clamp<int64_t>(null.reference_above, 0, null.reference_size - 1);
    const double a = static_cast<double>(m + 1), b = static_cast<double>(null.reference_size - m);
    v.expected = a / (a + b);
    log_p = LogBetaBinomialUpperTail(count, samples, a, b);
  } else {
    v.expected = null.nominal;
    log_p = LogBinomialUpperTail(count, samples, null.nominal);
  }
  v.log10_p_value = log_p / std::log(10.0);
  v.p_value = std::exp(log_p);
  v.drifted = log_p < std::log(alpha);
  return v;
}

}  // namespace sextant::drift
