// Label suggestions (docs/labeling.md): which unlabeled samples of a split to
// send for labeling next, with the reasons each was chosen. Read-only over a
// RunReader; served by `sextant suggest`, GET /api/runs/{p}/{r}/suggest and
// dq.suggest_labels().
//
// Strategies:
// * "random": a seeded uniform draw (the baseline).
// * "uncertainty": smallest margin first (uncertainty sampling; Lewis & Gale
//   1994, the margin variant of Scheffer et al. 2001).
// * "drift": the samples that make the set different from what the model knows:
//   highest shift_score first where the set has one, else highest drift_score.
// * "diverse": greedy k-center on unit embeddings (the coreset of Sener &
//   Savarese 2018): each pick is the candidate farthest from the training set
//   and from the picks so far.
// * "default": informativeness (rank-normalised uncertainty, shift and novelty,
//   weighted by the constants below) times a diversity discount for candidates
//   close to training or to earlier picks, picked greedily (in the spirit of
//   BADGE, Ash et al. 2020, and cleanlab's ActiveLab ranking).
//
// Every strategy leaves out near-duplicates: a sample whose embedding is within
// kDuplicateDistance of a training sample's (already labeled) or whose text is a
// training sample's, and all but one of a group of near-duplicates (or of the
// same text) among the candidates.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sextant/results.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::suggest {

// ---- The default strategy's constants, in one place. ----------------------------
// Measured by the labeling simulation (bench/label_study.py, docs/labeling.md)
// and retuned there: change them here and rerun it.
//
// Informativeness = the weighted mean of three rank-normalised components in
// [0, 1] (a component the split lacks, e.g. shift without a domain test, is
// dropped and the others' weights renormalised):
inline constexpr double kWeightUncertainty = 0.7;  // 1 - margin, ranked
inline constexpr double kWeightShift = 0.3;        // shift_score (else drift_score), ranked
inline constexpr double kWeightNovelty = 0.0;  // distance to the nearest training sample, ranked
// The diversity factor: a candidate's priority is its informativeness times
// min(kCoverageCap, d / d_ref), d its cosine distance to the nearest training
// sample or earlier pick, d_ref this quantile of the candidates' distances to
// training. Uncapped, the greedy is k-center (Sener & Savarese 2018) weighted by
// informativeness, as BADGE weights k-means++ by gradient norm: a new region far
// from training is reached even where the model is confident, and a cluster
// of similar samples gives one pick, not ten (the starting point of
// bench/label_study_reference.py's "default"). A finite cap (e.g. 1: distance
// only discounts) keeps lone outliers from winning on distance alone.
inline constexpr double kCoverageQuantile = 0.5;
inline constexpr double kCoverageCap = std::numeric_limits<double>::infinity();
// A default pick at least this many d_ref from training and earlier picks is
// cited as "novel".
inline constexpr double kNovelFactor = 1.5;

// Two unit embeddings closer than this cosine distance are the same sample for
// labeling: identical texts give distance 0 (up to float rounding, ~1e-7), and
// 1e-3 is cosine similarity 0.999...
inline constexpr double kDuplicateDistance = 1e-3;
// ... unless the model's embeddings all lie close together (a shared direction
// dominates: on the Amazon label study's EmbeddingBag model, width 128, a
// production sample's nearest training sample is typically 1e-4 away, unrelated
// texts come within 2e-6, and copies within 3e-7 by float rounding): the
// threshold is then this share of the pool's median distance to its nearest
// training sample, whichever is smaller (there: 5e-7, which separates the 171
// copies from every unrelated pair).
inline constexpr double kDuplicateRelative = 0.005;
// Besides, the same text (leading and trailing whitespace aside) is always a
// duplicate, whatever the embeddings.

// The strategies, in the order the docs list them.
const std::vector<std::string>& StrategyNames();  // default, random, uncertainty, drift, diverse

// The default strategy's tunables, defaulting to the constants above: for
// simulations that compare settings without rebuilding (Python's
// suggest_labels(weights=...)); the CLI and the API use the constants.
struct DefaultWeights {
  double uncertainty = kWeightUncertainty;
  double shift = kWeightShift;
  double novelty = kWeightNovelty;
  double coverage_cap = kCoverageCap;
};

struct SuggestOptions {
  SplitKey split;  // inference (or validation, test): not training, which is labeled
  int64_t budget = 0;
  std::string strategy = "default";
  std::optional<std::string> class_name;  // only samples predicted as this class
  bool per_class = false;                 // quotas: budget split over predicted classes
  uint64_t seed = 0;                      // "random" only
  DefaultWeights weights;                 // "default" only
};

struct Suggestion {
  std::string id;
  int64_t row = 0;  // in its split
  double score = 0;  // the strategy's: see docs/labeling.md
  int32_t rank = 0;  // 1 = first pick
  // Human sentences, the strategy's own first, e.g.
  // "uncertain: margin 0.03, lower than 97% of the set".
  std::vector<std::string> reasons;
  // "uncertainty" (1 - margin), "shift" (shift_score), "drift" (drift_score),
  // "novelty" (cosine distance to the nearest training sample, capped at 1);
  // each in [0, 1], present where the split has it.
  std::map<std::string, double> scores;
};

struct SuggestResult {
  std::string strategy;
  std::vector<Suggestion> suggestions;  // by rank
  int64_t pool = 0;                     // samples considered (after class_name)
  int64_t excluded_duplicates = 0;      // of the pool, near-duplicates left out
  double duplicate_distance = 0;        // the threshold used (kDuplicateDistance or less)
};

// InvalidArgument naming the field for a bad strategy, budget, split or class;
// NotFound for a split the run lacks; FailedPrecondition when the split has no
// embeddings, or "drift" finds no shift or drift scores. A budget larger than
// the pool returns the whole pool (less duplicates).
Result<SuggestResult> Suggest(const RunReader& reader, const SuggestOptions& options);

}  // namespace sextant::suggest
