// Compare any two splits of a finished run (docs/http-api.md, "Compare"): every
// summary metric of both with its change and a test of the change where one
// applies, the drift verdicts side by side, and the regions of the run's 2-D map
// whose share grew most from A to B. Read-only over a RunReader; served at
// GET /api/runs/{project}/{run}/compare and by `sextant compare`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sextant/results.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::server {

// The statistics of the comparison; pure functions, exposed for their tests.
namespace stats {

struct TestResult {
  std::string name;  // "two-proportion z", "Fisher exact", "chi-square", "Welch t"
  double statistic = 0;
  std::optional<double> df;
  double p_value = 1;
};

// P(Z >= z) for a standard normal Z.
double NormalUpperTail(double z);
// P(X >= x) for X ~ chi-square with `df` degrees of freedom (df > 0).
double ChiSquareUpperTail(double x, double df);
// P(|T| >= |t|) for T ~ Student t with `df` degrees of freedom (df > 0).
double StudentTwoSided(double t, double df);
// The regularized incomplete beta function I_x(a, b).
double RegularizedBeta(double x, double a, double b);

// Two-sided Fisher exact test of the 2x2 table [[a, b], [c, d]] (rows: the two
// sets; columns: with / without the property).
double FisherExactTwoSided(int64_t a, int64_t b, int64_t c, int64_t d);

// Is the share xa/na different from xb/nb? The pooled two-proportion z test;
// Fisher's exact test when an expected count of the 2x2 table is below 5.
// nullopt when either set is empty.
std::optional<TestResult> TwoProportionTest(int64_t xa, int64_t na, int64_t xb, int64_t nb);

// Chi-square test of homogeneity of two count vectors over the same categories
// (categories empty in both are dropped). nullopt when fewer than two
// categories remain or either side is empty.
std::optional<TestResult> ChiSquareHomogeneity(const std::vector<int64_t>& a,
                                               const std::vector<int64_t>& b);

// Welch's unequal-variance t test of two means from their sample variances
// (n - 1 denominators). nullopt when either side has fewer than two values or
// both variances are zero.
std::optional<TestResult> WelchTTest(double mean_a, double var_a, int64_t n_a, double mean_b,
                                     double var_b, int64_t n_b);

}  // namespace stats

struct CompareOptions {
  double alpha = 0.05;             // a change is "significant" when its p-value is below
  int32_t grid = 10;               // the map is cut into grid x grid cells
  int32_t regions = 5;             // how many grown (and shrunk) regions are listed
  int32_t examples = 3;            // representative samples per region
  int64_t min_region_samples = 5;  // a region needs this many samples of B to be listed
};

// The comparison of split `a` with split `b` of the reader's run. NotFound
// naming the missing split (and which side it was) when the run lacks one.
Result<nlohmann::ordered_json> CompareSplits(const RunReader& reader, const SplitKey& a,
                                             const SplitKey& b, const CompareOptions& options = {});

}  // namespace sextant::server
