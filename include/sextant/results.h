// The query layer: reading a processed run. The CLI, the demo, the Python
// package and the server all read results through this header.
//
// A RunReader is a read-only snapshot of the last successful Finish(); it is
// safe to use from several threads once opened.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant {

// One processed sample. Fields that do not apply to its split are empty.
struct SampleRow {
  std::string id;
  SplitKey split;
  int64_t row = 0;  // position within its split, in logging order
  std::string text;
  std::string meta_json;  // {"column": "value", ...}; "{}" when none
  std::optional<std::string> gold;
  std::string pred;
  double confidence = 0, margin = 0, certainty_ratio = 0, entropy = 0;
  bool is_on_the_boundary = false;
  int32_t epoch = 0;  // the epoch whose outputs gave pred, confidence and embedding
  // Labeled splits only.
  std::optional<bool> is_correct;
  std::optional<double> aum, dep;
  // Inference (drift) and validation/test (out of coverage); empty for training.
  std::optional<double> drift_distance, drift_score;
  std::optional<bool> is_drifted;
  // Position in the run's 2-D map (all splits in one map); empty when the run
  // was finished without the map.
  std::optional<double> x, y;
  std::vector<float> probs;  // filled when SampleQuery::include_probs
  // The sample's embedding (the run's width, float32; converted when finish
  // stored float16), filled when SampleQuery::include_embeddings.
  std::vector<float> embedding;
};

struct SampleQuery {
  SplitKey split;
  std::optional<bool> is_drifted;
  std::optional<bool> is_on_the_boundary;
  std::optional<bool> is_correct;
  std::optional<std::string> gold_class;
  std::optional<std::string> pred_class;
  std::optional<double> min_confidence, max_confidence;
  std::optional<double> min_dep, max_dep;
  std::optional<std::string> text_regex;  // ECMAScript, case-insensitive search
  std::vector<std::string> ids;           // restrict to these ids when non-empty
  // Any SampleRow field name: id, row, confidence, margin, dep, drift_score, ...
  std::string sort_by = "row";
  bool descending = false;
  int64_t offset = 0;
  int64_t limit = -1;  // -1: all
  bool include_probs = false;
  bool include_embeddings = false;
};

struct Neighbor {
  std::string id;
  SplitKey split;
  double distance = 0;  // cosine distance
};

// Restricts similarity search to samples with these results (AND); a sample
// without the field (e.g. is_drifted of a training sample) never matches.
struct SimilarityFilter {
  std::optional<std::string> pred_class;  // one of the run's labels
  std::optional<bool> is_drifted;         // drift (inference) or out of coverage (validation, test)
};

// One sample's position in the run's 2-D map.
struct MapPoint {
  std::string id;
  float x = 0, y = 0;
};

struct SplitInfo {
  SplitKey split;
  int64_t samples = 0;
  int32_t epochs_logged = 0;
  int64_t embedding_dim = 0;
  bool processed = false;
};

struct RunInfo {
  std::string project;
  std::string run;
  std::string task;
  std::vector<std::string> labels;
  std::vector<SplitInfo> splits;
  bool finished = false;   // results exist for every logged split
  int64_t size_bytes = 0;  // on disk
};

// Every run under the root, sorted by project then run.
Result<std::vector<RunInfo>> ListRuns(const std::filesystem::path& root);

class RunReader {
 public:
  static Result<std::unique_ptr<RunReader>> Open(const std::filesystem::path& root,
                                                 const std::string& project,
                                                 const std::string& run);
  ~RunReader();

  const RunInfo& info() const;

  // The stored results as JSON text: the whole run (parameters, every split,
  // comparisons of inference sets with training), or one split.
  Result<std::string> SummaryJson(const std::optional<SplitKey>& split = std::nullopt) const;

  // Filtered, sorted samples of one split.
  Result<std::vector<SampleRow>> Samples(const SampleQuery& query) const;
  // Number of samples that match the query's filters (offset/limit ignored).
  Result<int64_t> Count(const SampleQuery& query) const;

  // Similarity search (docs/algorithms.md) runs on the similarity index that
  // finish stores with the results (results/gen-N/similarity.faiss): read on
  // the first query (once, thread-safe) and kept. For a 1,000,000-sample run a
  // query takes a few milliseconds (bench/). The index is approximate for
  // large runs (an IVF whose recall@10, measured at finish, is in the summary
  // parameters); a run finished without it is searched exactly in memory.
  // Nearest first, ties by split order then row; fewer than k when fewer
  // samples match.

  // The k samples nearest (cosine) to sample `id` of `split`, among the samples
  // of `search_in` (every split of the run when empty) that pass `filter`.
  // The sample itself is excluded.
  Result<std::vector<Neighbor>> Similar(const SplitKey& split, const std::string& id, int32_t k,
                                        const std::vector<SplitKey>& search_in = {},
                                        const SimilarityFilter& filter = {}) const;

  // As Similar, for an embedding `vector` of `dim` floats from the run's model
  // (any scale: it is compared by direction). Invalid when dim is not the
  // run's embedding width or the vector is not finite.
  Result<std::vector<Neighbor>> SimilarToVector(const float* vector, int64_t dim, int32_t k,
                                                const std::vector<SplitKey>& search_in = {},
                                                const SimilarityFilter& filter = {}) const;

  // Every sample of `split` with its position in the run's 2-D map, in row
  // (logging) order. FailedPrecondition when the run was finished without the map.
  Result<std::vector<MapPoint>> MapPoints(const SplitKey& split) const;

 private:
  class Impl;
  explicit RunReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sextant
