// The domain-classifier test (docs/algorithms.md, "Domain-classifier test"): a
// classifier two-sample test of "production comes from the distribution of the
// reference set" in the model's embedding space (Lopez-Paz & Oquab 2017,
// "Revisiting classifier two-sample tests"; Rabanser et al. 2019, "Failing
// loudly", where a domain classifier detected shifts the per-sample tests missed).
//
// Why besides the k-NN drift flags: those count production samples that fall
// outside the reference's coverage. A shift that moves the density inside the
// covered region (another genre of the same kind of text) leaves that count at
// its nominal 5% while a classifier still tells the two sets apart.
//
// The classifier is linear discriminant analysis on unit-normalised embeddings
// with Ledoit-Wolf shrinkage of the pooled covariance (Ledoit & Wolf 2004),
// which needs no tuning and stays well-posed when the width is close to the
// sample count. Scores are cross-fitted (k folds, each scored by a model fitted
// on the others); the AUC of the pooled out-of-fold scores is a Mann-Whitney
// statistic, so under no shift it is about 0.5 with variance
// (n0 + n1 + 1) / (12 n0 n1), which gives the one-sided p-value. The reference
// must be held-out data (validation or test), never training: the model was fit
// on the training samples, so their embeddings differ from any unseen sample's.
#pragma once

#include <cstdint>
#include <vector>

#include "sextant/status.h"

namespace sextant::drift {

struct DomainTestOptions {
  int32_t folds = 5;
  // Each side is sampled down to at most this many rows, 0 = all (the cost
  // is folds x rows x width^2 for the covariance).
  int64_t max_per_side = 0;
  uint64_t seed = 0;
  // ReferenceDomainProbabilities only: wider embeddings are first multiplied by
  // a seeded Gaussian matrix to this width (a Johnson-Lindenstrauss projection,
  // which keeps cosines approximately), so the folds' covariances cost
  // max_dim^2 instead of dim^2 per row; 0 = never.
  int64_t max_dim = 0;
};

struct DomainTestResult {
  int64_t reference_samples = 0;  // rows used of each side
  int64_t production_samples = 0;
  double auc = 0.5;                  // of production scored above reference
  double auc_low = 0, auc_high = 1;  // 95% interval (Hanley & McNeil 1982)
  double z = 0;
  double p_value = 1;        // one-sided: AUC > 0.5; may underflow to 0
  double log10_p_value = 0;  // does not underflow
  double shrinkage = 0;      // mean Ledoit-Wolf intensity over the folds
};

// The per-sample shift score (docs/algorithms.md, "Per-sample shift score"):
// for every row of each side, the probability under the test's classifier,
// with balanced priors (0.5 = the sides are indistinguishable there), that the
// row is production. Every row is scored by models that were not fitted on it:
// sampled rows by their fold's model, rows left out by max_per_side by the
// mean logit of the fold models. The threshold is the `percentile` quantile of
// the reference rows' scores, so about 1 - percentile of held-out data from
// the reference's distribution lies above it (Rabanser et al. 2019, "Failing
// loudly": the domain classifier's per-sample scores rank the most shifted
// samples).
struct DomainShiftScores {
  std::vector<double> reference;   // one per reference row
  std::vector<double> production;  // one per production row
  double threshold = 1;            // the percentile of `reference`
  double auc = 0.5;                // of `production` above `reference`
};

// Rows are `dim` floats each. Needs at least `folds` rows on each side. With
// `shift` set, also fills the per-row shift scores from the same fold models
// (threshold at `shift_percentile` of the reference rows' scores).
Result<DomainTestResult> DomainClassifierTest(const float* reference, int64_t reference_rows,
                                              const float* production, int64_t production_rows,
                                              int64_t dim, const DomainTestOptions& options,
                                              DomainShiftScores* shift = nullptr,
                                              double shift_percentile = 0.95);

// The cross-fitted probability, under the same classifier (the Gaussian
// posterior of the shrunk LDA with the sides' sizes as priors), that each
// reference row comes from production: one value per reference row, every
// row scored by a model fitted on the other folds. Each side is sampled down
// to `options.max_per_side` rows for fitting; reference rows left out of the
// sample get the mean logit of the fold models. The label-free
// performance estimate weights validation by p / (1 - p), the density ratio
// (docs/performance-estimation.md).
Result<std::vector<double>> ReferenceDomainProbabilities(const float* reference,
                                                         int64_t reference_rows,
                                                         const float* production,
                                                         int64_t production_rows, int64_t dim,
                                                         const DomainTestOptions& options);

// The AUC of `positive` scores against `negative` ones (ties count one half).
double RankAuc(const double* negative, int64_t n_negative, const double* positive,
               int64_t n_positive);

}  // namespace sextant::drift
