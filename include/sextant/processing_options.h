// Parameters of processing at finish. Every value used is stored with the
// results, so a summary always says how it was computed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant {

class ShardExecutor;  // sextant/shards.h

// Which k-core distances form the drift reference distribution, whose
// percentile is the threshold and whose ranks are the drift scores
// (docs/algorithms.md; defaults measured in docs/calibration.md).
enum class DriftReference {
  // Validation when a validation split of at least 10 / (1 - drift_percentile)
  // samples is logged (200 at the 95th percentile), else training leave-one-out.
  kAuto,
  // Each training sample against the other training samples. The model was fit
  // on them, so they sit closer together than new data from the same
  // distribution: more than the nominal share of held-out data lands above.
  kTrainingLeaveOneOut,
  // Each validation sample against the training samples: held out, so under no
  // drift the nominal share of new data lands above the threshold.
  kValidation,
};

// "auto", "training_loo", "validation": the names in the summary and the CLI.
inline const char* DriftReferenceName(DriftReference r) {
  switch (r) {
    case DriftReference::kTrainingLeaveOneOut:
      return "training_loo";
    case DriftReference::kValidation:
      return "validation";
    case DriftReference::kAuto:
      break;
  }
  return "auto";
}

// How nearest neighbours are searched for drift and for the map's neighbour
// graph (docs/algorithms.md; the map's auto switches at 20,000 layout points).
enum class NnSearch {
  // Chosen by a cost model (docs/algorithms.md): approximate when building
  // and searching an IVF index is predicted at least 1.2x cheaper than the
  // exact search of the same queries, from rates measured once per machine
  // (cached in $SEXTANT_HOME/.sextant-cost-model.json); always exact under
  // 10,000 training samples or 2e7 query-row pairs. A positive
  // nn_auto_min_values restores the older rule (samples x width).
  kAuto,
  // Faiss' flat inner-product search: every distance computed.
  kExact,
  // An inverted-file index (k-means cells, a tuned number of cells visited per
  // query): recall@k and drifted-flag agreement with exact measured in
  // bench/ (>= 0.95 and >= 99%); the recall reached on a sample is stored.
  kApproximate,
};

// "auto", "exact", "approximate": the names in the summary and the CLI.
inline const char* NnSearchName(NnSearch s) {
  switch (s) {
    case NnSearch::kExact:
      return "exact";
    case NnSearch::kApproximate:
      return "approximate";
    case NnSearch::kAuto:
      break;
  }
  return "auto";
}

struct ProcessingOptions {
  // A sample is on the class boundary when p2 / p1 >= this.
  double boundary_ratio_threshold = 0.5;
  // NER: decode predicted spans as conlleval.pl does (an I-X may open a span)
  // instead of strictly (docs/algorithms.md).
  bool ner_conlleval_decoding = false;
  // k of the k-core distance (distance to the k-th nearest training embedding).
  int32_t drift_k = 10;
  // Percentile of the reference distribution that is the drift threshold.
  double drift_percentile = 0.95;
  // The reference distribution: see DriftReference.
  DriftReference drift_reference = DriftReference::kAuto;
  // The reference distribution is estimated from a random sample of at most
  // this many reference samples (0 = all); its error, the DKW bound at 95%, is
  // stored with the parameters. Sampling the training set saves the
  // leave-one-out search over all of it.
  int64_t drift_reference_sample_size = 100000;
  // Seed of that sample.
  uint64_t drift_seed = 0;
  // When the validation reference is used, also compute the training
  // leave-one-out threshold and store it next to it (parameters.drift_thresholds)
  // for comparison. Off by default: it is a search of the training sample
  // against the training index, the largest drift cost after the index.
  bool drift_compare_references = false;
  // Significance level of the dataset-level drift verdict (p-value < alpha
  // means drift); per predicted class alpha / number of classes (Bonferroni).
  double drift_alpha = 0.01;
  // The domain-classifier test of each inference split against the held-out
  // reference (the validation split, else the test split): a cross-fitted
  // linear classifier's AUC at telling the two apart, with a p-value
  // (docs/algorithms.md). It sees shifts inside the reference's coverage, which
  // the k-NN drift flags do not. Each side is sampled down to
  // domain_test_max_samples rows (0 = all; seeded by drift_seed).
  bool domain_test = true;
  int64_t domain_test_max_samples = 5000;
  // Threads for nearest-neighbour search; 0 means all cores. Applies during
  // the call only: the calling thread's OpenMP setting (omp_get_max_threads,
  // e.g. PyTorch's) is restored when Finish returns.
  int32_t threads = 0;
  // Run the 2-D map beside drift, the domain test, the estimate and the
  // similarity index (in this process; a finish with an executor runs its
  // stages one after another): one stage's single-threaded parts no longer
  // leave a core idle. Results are the same either way.
  bool concurrent_stages = true;
  // Exact or approximate nearest-neighbour search for drift; see NnSearch.
  NnSearch nn_search = NnSearch::kAuto;
  // Deprecated (issue 18): 0, the default, lets "auto" decide by the cost
  // model (see NnSearch::kAuto). A positive value keeps the rule before it:
  // approximate when the training embeddings hold at least this many values
  // (samples x width; it was 50,000 x 768), whatever the number of queries
  // and the width (at width 32 that rule searched 1,000,000 rows exactly).
  int64_t nn_auto_min_values = 0;
  // Store the result embeddings as float16 ('<f2' .npy): half the disk and
  // page cache; readers convert to float32. Drift and the similarity index are
  // computed from the float32 values before storing.
  bool store_float16 = false;
  // Build the similarity index over all splits at finish and store it with the
  // results (results/gen-N/similarity.faiss), for RunReader::Similar.
  bool build_similarity_index = true;
  // Called with (stage name, done, total) during long stages; may be empty.
  void (*progress)(const char* stage, int64_t done, int64_t total, void* user) = nullptr;
  void* progress_user = nullptr;

  // The 2-D map (docs/algorithms.md): PCA, then UMAP, of all splits together.
  bool compute_map = true;
  // UMAP's neighbourhood size and minimum distance (Galileo's values).
  int32_t map_n_neighbors = 15;
  double map_min_dist = 0.25;
  // The layout is optimised on a seeded sample of at most this many samples
  // (0 = all); the others are placed at the weighted mean of their nearest
  // layout samples. 50,000 laid out of 200,000 rows of width 768 kept the
  // trustworthiness of a 100,000-point layout (0.992) at three quarters of
  // the map's time (docs/algorithms.md).
  int64_t map_max_points = 50000;
  uint64_t map_seed = 42;
  // Reuse the map of the last finish when only new splits came since (same
  // rows in every earlier split, same map options): their coordinates are
  // kept and only the new rows are placed on the stored layout, in time
  // proportional to them. Off: every finish lays the map out again.
  bool map_incremental = true;

  // Shard work (sextant/shards.h). Where it runs: null = in this process,
  // with no files written; else through the executor (a Dask cluster).
  // Not owned; must outlive the finish.
  ShardExecutor* executor = nullptr;
  // The training reference of drift in this many shards, each searched on
  // its own and the top k of every query merged (exact search: the same
  // neighbours and distances as one index). 0: one shard in this process;
  // with an executor, as many as keep each shard within its
  // WorkerMemoryBytes.
  int32_t training_shards = 0;
  // Query rows per shard task: a positive multiple of kShardRowAlignment.
  int64_t shard_rows = 65536;
};

// The one list of processing options that the CLI, the Python package and the
// docs are generated from: each field of ProcessingOptions a user may set (the
// progress callback aside), with its name, a short name and its help text.
// Defaults are ProcessingOptions{}'s, never written twice.
struct ProcessingOptionSpec {
  enum class Type { kBool, kInt, kDouble, kChoice };
  const char* name;        // the field: "drift_k"; Python keyword, --drift-k
  const char* short_name;  // "k": the CLI's --k and Python's k=; nullptr when none
  Type type;
  const char* help;
  std::vector<std::string> choices;  // kChoice: the accepted names
};

const std::vector<ProcessingOptionSpec>& ProcessingOptionSpecs();

// The option's value in `options` as text ("10", "0.95", "true", "auto").
std::string GetProcessingOption(const ProcessingOptions& options, const ProcessingOptionSpec& spec);

// Sets the option of that name or short name from text: integers and numbers
// in C syntax, bools as true/false/1/0/yes/no/on/off, choices by name.
// InvalidArgument naming the option and what it expects.
Status SetProcessingOption(ProcessingOptions* options, std::string_view name,
                           std::string_view value);

}  // namespace sextant
