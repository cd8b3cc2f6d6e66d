#include "drift/domain_classifier.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

// LAPACK's Cholesky solve, from OpenBLAS (no LAPACKE header is installed; the
// trailing size_t is gfortran's hidden length of `uplo`).
extern "C" void dposv_(const char* uplo, const int* n, const int* nrhs, double* a, const int* lda,
                       double* b, const int* ldb, int* info, size_t);

namespace sextant::drift {
namespace {

// Up to `max` row indices of `rows`, a uniform sample in random order.
std::vector<int64_t> SampleRows(int64_t rows, int64_t max, std::mt19937_64& rng) {
  std::vector<int64_t> idx(static_cast<size_t>(rows));
  std::iota(idx.begin(), idx.end(), 0);
  std::shuffle(idx.begin(), idx.end(), rng);
  if (max > 0 && rows > max) idx.resize(static_cast<size_t>(max));
  return idx;
}

// The discriminant direction fitted on the rows of X (n x d, row-major) whose
// fold differs from `held_out`, returned in the input space; `shrinkage` gets
// the Ledoit-Wolf intensity.
Result<std::vector<double>> FitDiscriminant(const std::vector<double>& x, const std::vector<int>& y,
                                            const std::vector<int>& fold, int held_out, int64_t d,
                                            double* shrinkage) {
  const auto n_all = static_cast<int64_t>(y.size());
  std::vector<double> mean[2] = {std::vector<double>(d, 0.0), std::vector<double>(d, 0.0)};
  int64_t count[2] = {0, 0};
  for (int64_t i = 0; i < n_all; ++i) {
    if (fold[i] == held_out) continue;
    ++count[y[i]];
    for (int64_t j = 0; j < d; ++j) mean[y[i]][j] += x[i * d + j];
  }
  for (int c = 0; c < 2; ++c) {
    for (double& v : mean[c]) v /= static_cast<double>(count[c]);
  }
  // Rows centred on their class mean (the pooled within-class scatter), then
  // each feature scaled to unit variance, as the shrinkage target assumes.
  const int64_t n = count[0] + count[1];
  std::vector<double> z(static_cast<size_t>(n * d));
  for (int64_t i = 0, r = 0; i < n_all; ++i) {
    if (fold[i] == held_out) continue;
    for (int64_t j = 0; j < d; ++j) z[r * d + j] = x[i * d + j] - mean[y[i]][j];
    ++r;
  }
  std::vector<double> scale(static_cast<size_t>(d), 0.0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < d; ++j) scale[j] += z[r * d + j] * z[r * d + j];
  }
  for (double& s : scale) s = s > 0 ? std::sqrt(s / static_cast<double>(n)) : 1.0;
  double beta_sum = 0;  // sum over rows of |z_r|^4, the sum of (Z^2)' Z^2
  for (int64_t r = 0; r < n; ++r) {
    double norm2 = 0;
    for (int64_t j = 0; j < d; ++j) {
      double& v = z[r * d + j];
      v /= scale[j];
      norm2 += v * v;
    }
    beta_sum += norm2 * norm2;
  }
  std::vector<double> cov(static_cast<size_t>(d * d), 0.0);
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(d), static_cast<int>(n),
              1.0 / static_cast<double>(n), z.data(), static_cast<int>(d), 0.0, cov.data(),
              static_cast<int>(d));
  // Ledoit & Wolf (2004), as scikit-learn's ledoit_wolf_shrinkage computes it.
  double trace = 0, frobenius2 = 0;
  for (int64_t i = 0; i < d; ++i) {
    trace += cov[i * d + i];
    for (int64_t j = i; j < d; ++j)
      frobenius2 += (i == j ? 1.0 : 2.0) * cov[i * d + j] * cov[i * d + j];
  }
  const double mu = trace / static_cast<double>(d);
  const double nd = static_cast<double>(n);
  double beta = (beta_sum / nd - frobenius2) / (static_cast<double>(d) * nd);
  const double delta =
      (frobenius2 - 2 * mu * trace + static_cast<double>(d) * mu * mu) / static_cast<double>(d);
  beta = std::min(beta, delta);
  const double gamma = beta <= 0 || delta <= 0 ? 0.0 : beta / delta;
  *shrinkage = gamma;
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = i; j < d; ++j) cov[i * d + j] *= 1 - gamma;
    cov[i * d + i] += gamma * mu;
  }
  // Solve cov w = (mean1 - mean0) in the scaled space; the row-major upper
  // triangle is LAPACK's column-major lower one.
  std::vector<double> w(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) w[j] = (mean[1][j] - mean[0][j]) / scale[j];
  const int dn = static_cast<int>(d), one = 1;
  int info = 0;
  dposv_("L", &dn, &one, cov.data(), &dn, w.data(), &dn, &info, 1);
  if (info != 0) {
    return Status::Internal(
        "domain test: the shrunk covariance is not positive definite (dposv "
        "info " +
        std::to_string(info) + ")");
  }
  for (int64_t j = 0; j < d; ++j) w[j] /= scale[j];  // back to the input space
  return w;
}

// Rows of both sides, unit-normalised, with their side (0 reference, 1
// production) and a fold each (stratified: the sides are shuffled first).
struct FoldedRows {
  std::vector<double> x;
  std::vector<int> y, fold;
  std::vector<int64_t> source_row;  // the row in its side's input
};

FoldedRows FoldRows(const float* const data[2], const std::vector<int64_t> sides[2], int64_t dim,
                    int32_t folds) {
  FoldedRows f;
  const auto n = static_cast<int64_t>(sides[0].size() + sides[1].size());
  f.x.resize(static_cast<size_t>(n * dim));
  f.y.resize(static_cast<size_t>(n));
  f.fold.resize(static_cast<size_t>(n));
  f.source_row.resize(static_cast<size_t>(n));
  int64_t r = 0;
  for (int c = 0; c < 2; ++c) {
    for (size_t k = 0; k < sides[c].size(); ++k, ++r) {
      // Unit length, as the cosine geometry of the k-NN drift; a zero row stays zero.
      const float* row = data[c] + sides[c][k] * dim;
      double norm = 0;
      for (int64_t j = 0; j < dim; ++j) norm += static_cast<double>(row[j]) * row[j];
      norm = norm > 0 ? 1 / std::sqrt(norm) : 0;
      for (int64_t j = 0; j < dim; ++j) f.x[r * dim + j] = row[j] * norm;
      f.y[r] = c;
      f.fold[r] = static_cast<int>(k % static_cast<size_t>(folds));
      f.source_row[r] = sides[c][k];
    }
  }
  return f;
}

}  // namespace

Result<std::vector<double>> ReferenceDomainProbabilities(const float* reference,
                                                         int64_t reference_rows,
                                                         const float* production,
                                                         int64_t production_rows, int64_t dim,
                                                         const DomainTestOptions& options) {
  if (options.folds < 2) return Status::Invalid("domain weights: folds must be at least 2");
  if (dim < 1) return Status::Invalid("domain weights: the embedding width must be positive");
  if (reference_rows < options.folds || production_rows < options.folds) {
    return Status::Invalid("domain weights: needs at least " + std::to_string(options.folds) +
                           " rows on each side; got " + std::to_string(reference_rows) +
                           " reference and " + std::to_string(production_rows) + " production");
  }
  std::mt19937_64 rng(options.seed);
  std::vector<int64_t> sides[2] = {SampleRows(reference_rows, options.max_per_side, rng),
                                   SampleRows(production_rows, options.max_per_side, rng)};
  const float* data[2] = {reference, production};
  // The projection of wide embeddings: every reference row (all are scored) and
  // the sampled production rows, which are renumbered 0..m-1.
  std::vector<float> projected[2];
  if (options.max_dim > 0 && dim > options.max_dim) {
    const int64_t out_dim = options.max_dim;
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> matrix(static_cast<size_t>(dim * out_dim));
    for (float& v : matrix) v = normal(rng);
    std::vector<float> gathered;
    gathered.reserve(sides[1].size() * static_cast<size_t>(dim));
    for (int64_t r : sides[1])
      gathered.insert(gathered.end(), production + r * dim, production + (r + 1) * dim);
    const float* inputs[2] = {reference, gathered.data()};
    const int64_t rows[2] = {reference_rows, static_cast<int64_t>(sides[1].size())};
    for (int c = 0; c < 2; ++c) {
      projected[c].assign(static_cast<size_t>(rows[c] * out_dim), 0.0f);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows[c]),
                  static_cast<int>(out_dim), static_cast<int>(dim), 1.0f, inputs[c],
                  static_cast<int>(dim), matrix.data(), static_cast<int>(out_dim), 0.0f,
                  projected[c].data(), static_cast<int>(out_dim));
      data[c] = projected[c].data();
    }
    std::iota(sides[1].begin(), sides[1].end(), 0);
    reference = projected[0].data();
    dim = out_dim;
  }
  const FoldedRows f = FoldRows(data, sides, dim, options.folds);
  const auto n = static_cast<int64_t>(f.y.size());
  // Reference rows left out of the sample are scored by every fold's model (none
  // saw them), their logits averaged.
  std::vector<char> in_sample(static_cast<size_t>(reference_rows), 0);
  for (int64_t r : sides[0]) in_sample[static_cast<size_t>(r)] = 1;
  std::vector<double> unit(static_cast<size_t>(dim));
  std::vector<double> logit(static_cast<size_t>(reference_rows), 0.0);
  for (int fold = 0; fold < options.folds; ++fold) {
    double shrinkage = 0;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<double> w,
                             FitDiscriminant(f.x, f.y, f.fold, fold, dim, &shrinkage));
    // The posterior's offset: -w.(m0 + m1) / 2 + log(n1 / n0), on the fitting folds.
    double proj_sum[2] = {0, 0};
    int64_t count[2] = {0, 0};
    for (int64_t i = 0; i < n; ++i) {
      if (f.fold[i] == fold) continue;
      proj_sum[f.y[i]] += cblas_ddot(static_cast<int>(dim), f.x.data() + i * dim, 1, w.data(), 1);
      ++count[f.y[i]];
    }
    if (count[0] == 0 || count[1] == 0) continue;
    const double offset = -(proj_sum[0] / static_cast<double>(count[0]) +
                            proj_sum[1] / static_cast<double>(count[1])) /
                              2 +
                          std::log(static_cast<double>(count[1]) / static_cast<double>(count[0]));
    for (int64_t i = 0; i < n; ++i) {
      if (f.fold[i] != fold || f.y[i] != 0) continue;
      logit[static_cast<size_t>(f.source_row[i])] =
          cblas_ddot(static_cast<int>(dim), f.x.data() + i * dim, 1, w.data(), 1) + offset;
    }
    for (int64_t r = 0; r < reference_rows; ++r) {
      if (in_sample[static_cast<size_t>(r)]) continue;
      const float* row = reference + r * dim;
      double norm = 0;
      for (int64_t j = 0; j < dim; ++j) norm += static_cast<double>(row[j]) * row[j];
      norm = norm > 0 ? 1 / std::sqrt(norm) : 0;
      for (int64_t j = 0; j < dim; ++j) unit[j] = row[j] * norm;
      logit[static_cast<size_t>(r)] +=
          (cblas_ddot(static_cast<int>(dim), unit.data(), 1, w.data(), 1) + offset) / options.folds;
    }
  }
  std::vector<double> p(static_cast<size_t>(reference_rows));
  for (size_t r = 0; r < p.size(); ++r) p[r] = 1 / (1 + std::exp(-logit[r]));
  return p;
}

double RankAuc(const double* negative, int64_t n_negative, const double* positive,
               int64_t n_positive) {
  std::vector<std::pair<double, int>> all;
  all.reserve(static_cast<size_t>(n_negative + n_positive));
  for (int64_t i = 0; i < n_negative; ++i) all.emplace_back(negative[i], 0);
  for (int64_t i = 0; i < n_positive; ++i) all.emplace_back(positive[i], 1);
  std::sort(all.begin(), all.end());
  double positive_rank_sum = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // ties: mean
    for (size_t k = i; k < j; ++k) positive_rank_sum += all[k].second * rank;
    i = j;
  }
  const double np = static_cast<double>(n_positive), nn = static_cast<double>(n_negative);
  return (positive_rank_sum - np * (np + 1) / 2) / (np * nn);
}

Result<DomainTestResult> DomainClassifierTest(const float* reference, int64_t reference_rows,
                                              const float* production, int64_t production_rows,
                                              int64_t dim, const DomainTestOptions& options,
                                              DomainShiftScores* shift, double shift_percentile) {
  if (options.folds < 2) return Status::Invalid("domain test: folds must be at least 2");
  if (dim < 1) return Status::Invalid("domain test: the embedding width must be positive");
  if (reference_rows < options.folds || production_rows < options.folds) {
    return Status::Invalid("domain test: needs at least " + std::to_string(options.folds) +
                           " rows on each side; got " + std::to_string(reference_rows) +
                           " reference and " + std::to_string(production_rows) + " production");
  }
  std::mt19937_64 rng(options.seed);
  const std::vector<int64_t> sides[2] = {SampleRows(reference_rows, options.max_per_side, rng),
                                         SampleRows(production_rows, options.max_per_side, rng)};
  const float* const data[2] = {reference, production};
  const FoldedRows rows = FoldRows(data, sides, dim, options.folds);
  const std::vector<double>& x = rows.x;
  const std::vector<int>& y = rows.y;
  const std::vector<int>& fold = rows.fold;
  const auto n = static_cast<int64_t>(y.size());
  std::vector<double> score(static_cast<size_t>(n), 0.0);
  double shrinkage_sum = 0;
  // The shift scores' logits per side and row (with balanced priors); rows
  // left out of the sample accumulate the mean over the fold models.
  std::vector<double> logit[2];
  std::vector<char> in_sample[2];
  if (shift != nullptr) {
    const int64_t side_rows[2] = {reference_rows, production_rows};
    for (int c = 0; c < 2; ++c) {
      logit[c].assign(static_cast<size_t>(side_rows[c]), 0.0);
      in_sample[c].assign(static_cast<size_t>(side_rows[c]), 0);
      for (int64_t r : sides[c]) in_sample[c][static_cast<size_t>(r)] = 1;
    }
  }
  std::vector<double> unit(static_cast<size_t>(dim));
  for (int f = 0; f < options.folds; ++f) {
    double shrinkage = 0;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<double> w,
                             FitDiscriminant(x, y, fold, f, dim, &shrinkage));
    shrinkage_sum += shrinkage;
    for (int64_t i = 0; i < n; ++i) {
      if (fold[i] != f) continue;
      score[i] = cblas_ddot(static_cast<int>(dim), x.data() + i * dim, 1, w.data(), 1);
    }
    if (shift == nullptr) continue;
    // The Gaussian posterior's offset with equal priors: -w.(m0 + m1) / 2, the
    // class means taken on the fitting folds.
    double proj_sum[2] = {0, 0};
    int64_t count[2] = {0, 0};
    for (int64_t i = 0; i < n; ++i) {
      if (fold[i] == f) continue;
      proj_sum[y[i]] += cblas_ddot(static_cast<int>(dim), x.data() + i * dim, 1, w.data(), 1);
      ++count[y[i]];
    }
    const double offset = -(proj_sum[0] / static_cast<double>(std::max<int64_t>(count[0], 1)) +
                            proj_sum[1] / static_cast<double>(std::max<int64_t>(count[1], 1))) /
                          2;
    for (int64_t i = 0; i < n; ++i) {
      if (fold[i] == f) logit[y[i]][static_cast<size_t>(rows.source_row[i])] = score[i] + offset;
    }
    for (int c = 0; c < 2; ++c) {
      const float* side = c == 0 ? reference : production;
      for (size_t r = 0; r < logit[c].size(); ++r) {
        if (in_sample[c][r]) continue;
        const float* row = side + static_cast<int64_t>(r) * dim;
        double norm = 0;
        for (int64_t j = 0; j < dim; ++j) norm += static_cast<double>(row[j]) * row[j];
        norm = norm > 0 ? 1 / std::sqrt(norm) : 0;
        for (int64_t j = 0; j < dim; ++j) unit[j] = row[j] * norm;
        logit[c][r] += (cblas_ddot(static_cast<int>(dim), unit.data(), 1, w.data(), 1) + offset) /
                       options.folds;
      }
    }
  }
  if (shift != nullptr) {
    std::vector<double>* out[2] = {&shift->reference, &shift->production};
    for (int c = 0; c < 2; ++c) {
      out[c]->resize(logit[c].size());
      for (size_t r = 0; r < logit[c].size(); ++r) (*out[c])[r] = 1 / (1 + std::exp(-logit[c][r]));
    }
    std::vector<double> sorted = shift->reference;
    std::sort(sorted.begin(), sorted.end());
    // The interpolated quantile, as the k-NN reference's threshold (drift/knn_drift.h).
    const double pos =
        std::clamp(shift_percentile, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    shift->threshold = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
    shift->auc = RankAuc(shift->reference.data(), static_cast<int64_t>(shift->reference.size()),
                         shift->production.data(), static_cast<int64_t>(shift->production.size()));
  }
  // Each fold's model has its own offset and scale; the held-out scores of a
  // fold are standardised (by their mean and deviation, which do not look at
  // the sides) before the AUC of all of them is taken.
  std::vector<double> sum(static_cast<size_t>(options.folds), 0.0);
  std::vector<double> sum2(static_cast<size_t>(options.folds), 0.0);
  std::vector<int64_t> fold_rows(static_cast<size_t>(options.folds), 0);
  for (int64_t i = 0; i < n; ++i) {
    sum[fold[i]] += score[i];
    sum2[fold[i]] += score[i] * score[i];
    ++fold_rows[fold[i]];
  }
  std::vector<double> side_scores[2];
  for (int64_t i = 0; i < n; ++i) {
    const auto m = static_cast<double>(fold_rows[fold[i]]);
    const double mean = sum[fold[i]] / m;
    const double sd = std::sqrt(std::max(0.0, sum2[fold[i]] / m - mean * mean));
    side_scores[y[i]].push_back(sd > 0 ? (score[i] - mean) / sd : 0.0);
  }
  DomainTestResult out;
  out.reference_samples = static_cast<int64_t>(side_scores[0].size());
  out.production_samples = static_cast<int64_t>(side_scores[1].size());
  out.shrinkage = shrinkage_sum / options.folds;
  const double n0 = static_cast<double>(out.reference_samples);
  const double n1 = static_cast<double>(out.production_samples);
  const double a = RankAuc(side_scores[0].data(), out.reference_samples, side_scores[1].data(),
                           out.production_samples);
  out.auc = a;
  out.z = (a - 0.5) / std::sqrt((n0 + n1 + 1) / (12 * n0 * n1));
  out.p_value = 0.5 * std::erfc(out.z / std::sqrt(2.0));
  // Far in the tail, the normal tail's asymptotic log (Mills ratio), where the
  // p-value itself underflows; its relative error is below 1/z^2 < 0.1%.
  out.log10_p_value =
      out.z > 30 ? (-out.z * out.z / 2 - std::log(out.z * std::sqrt(2 * M_PI))) / std::log(10.0)
                 : std::log10(out.p_value);
  const double q1 = a / (2 - a), q2 = 2 * a * a / (1 + a);
  const double se = std::sqrt(
      std::max(0.0, (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n0 * n1)));
  out.auc_low = std::max(0.0, a - 1.959964 * se);
  out.auc_high = std::min(1.0, a + 1.959964 * se);
  return out;
}

}  // namespace sextant::drift
