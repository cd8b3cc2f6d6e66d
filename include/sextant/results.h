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

// A gold or predicted span of an NER sample, as the console marks it.
struct SpanMark {
  int32_t start = 0, end = 0;             // characters of the sample's text
  std::string label;                      // entity type
  std::optional<std::string> error_type;  // labeled splits
  int64_t span_row = 0;                   // its row in the split's span rows
};

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
  // Inference samples of a set with a domain test (docs/algorithms.md,
  // "Per-sample shift score"): the out-of-fold probability, with balanced
  // priors, that the sample is production rather than held-out reference data,
  // and whether it lies above the set's threshold. Empty elsewhere.
  std::optional<double> shift_score;
  std::optional<bool> is_shifted;
  // Position in the run's 2-D map (all splits in one map); empty when the run
  // was finished without the map.
  std::optional<double> x, y;
  std::vector<float> probs;  // filled when SampleQuery::include_probs
  // The sample's embedding (the run's width, float32; converted when finish
  // stored float16), filled when SampleQuery::include_embeddings.
  std::vector<float> embedding;
  // NLI runs: the pair (text is "premise [SEP] hypothesis").
  std::optional<std::string> premise, hypothesis;
  // NER runs: token offsets, and gold (labeled splits) and predicted spans.
  std::vector<CharRange> tokens;
  std::vector<SpanMark> gold_spans, pred_spans;
  // NER sentences (docs/ner-nli.md), empty for runs finished before them:
  // span rows that are not exact matches (labeled splits), predicted spans,
  // and the lowest confidence among the predicted spans (empty when none).
  // `pred` of an NER sample is then its predicted entity types ("PER, LOC",
  // in the run's type order; "O" for none), and `confidence` that of its
  // weakest predicted span (else its weakest token predicted O).
  std::optional<int64_t> span_errors, pred_spans_count;
  std::optional<double> min_span_confidence;
};

// One span row of an NER split (docs/ner-nli.md): a gold span, a predicted
// span, or both when their boundaries match.
struct SpanRow {
  SplitKey split;
  int64_t span_row = 0;
  std::string sample_id;
  int64_t sample_row = 0;
  int32_t span_start = 0, span_end = 0;  // characters of the sample's text
  std::string span_text;
  std::optional<std::string> gold, pred;  // entity types
  std::optional<std::string> error_type;  // labeled splits
  double confidence = 0, certainty_ratio = 0;
  bool is_on_the_boundary = false;
  std::optional<double> dep;
  std::optional<double> drift_distance, drift_score;
  std::optional<bool> is_drifted;
  std::optional<double> x, y;  // the span-level 2-D map
};

struct SpanQuery {
  SplitKey split;
  std::optional<std::string> label;  // gold or predicted type
  std::optional<std::string> gold, pred, error_type;
  std::optional<bool> is_drifted, is_on_the_boundary;
  std::optional<double> min_confidence, max_confidence;
  std::optional<std::string> text_regex;  // over the span's text (RE2, case-insensitive)
  std::optional<std::string> sample_id;
  std::optional<int64_t> span_row;
  // span_row, sample_row, span_text, gold, pred, error_type, confidence,
  // certainty_ratio, dep, drift_distance, drift_score, is_drifted, is_on_the_boundary
  std::string sort_by = "span_row";
  bool descending = false;
  int64_t offset = 0;
  int64_t limit = -1;
};

struct SpanNeighbor {
  SplitKey split;
  int64_t span_row = 0;
  double distance = 0;
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
  // The shift score and flag (a sample without one never matches these).
  std::optional<bool> is_shifted;
  std::optional<double> min_shift, max_shift;
  std::optional<std::string> text_regex;  // RE2 syntax, case-insensitive search
  std::vector<std::string> ids;           // restrict to these ids when non-empty
  // NER: sentences with a predicted or gold span of one of these entity types.
  std::vector<std::string> entity_types;
  // Any SampleRow field name: id, row, confidence, margin, dep, drift_score,
  // shift_score, is_shifted, span_errors, min_span_confidence, ...
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
  // "ok", or "damaged" when the run cannot be read (then `error` says why and
  // only project, run and size_bytes are set): a damaged run is listed, never
  // hides the others.
  std::string status = "ok";
  std::string error;
  int64_t generation = 0;  // the committed results generation (0: never finished)
};

// Every run under the root, sorted by project then run; a run that cannot be
// read is listed with status "damaged".
Result<std::vector<RunInfo>> ListRuns(const std::filesystem::path& root);

class RunReader {
 public:
  static Result<std::unique_ptr<RunReader>> Open(const std::filesystem::path& root,
                                                 const std::string& project,
                                                 const std::string& run);
  ~RunReader();

  const RunInfo& info() const;

  // Reads follow commits: a reader sees one snapshot of the run, the results
  // generation committed when it was opened (its rows, summaries and arrays
  // together), however many finishes commit or fail meanwhile; its results
  // folder is kept while it is open. CommittedGeneration reads the current
  // one, so a long-lived user can reopen when it differs from generation().
  int64_t generation() const;
  Result<int64_t> CommittedGeneration() const;
  // Labels imported into the run (store/imported_labels.h) change without a new
  // generation: a stamp of them as this reader's snapshot holds them, or with
  // `current` as they are now; the two differ after an import or a clear.
  Result<std::string> ImportedLabelsStamp(bool current = false) const;

  // The stored results as JSON text: the whole run (parameters, every split,
  // comparisons of inference sets with training), or one split.
  Result<std::string> SummaryJson(const std::optional<SplitKey>& split = std::nullopt) const;
  // The run's timeline (docs/timeline.md) as stored at finish: its inference
  // sets in time order with their monitoring metrics, and training and
  // validation as references. FailedPrecondition for a run finished before
  // timelines existed (finish it again).
  Result<std::string> TimelineJson() const;

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

  // NER runs (FailedPrecondition otherwise): filtered, sorted span rows of a
  // split, their count, and the span rows nearest (cosine, span embeddings)
  // to one, among `search_in` (every split when empty).
  Result<std::vector<SpanRow>> Spans(const SpanQuery& query) const;
  Result<int64_t> CountSpans(const SpanQuery& query) const;
  Result<std::vector<SpanNeighbor>> SimilarSpans(const SplitKey& split, int64_t span_row, int32_t k,
                                                 const std::vector<SplitKey>& search_in = {}) const;
  // The run's entity types (NER), in the order of the summary.
  const std::vector<std::string>& entity_types() const;

 private:
  class Impl;
  explicit RunReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sextant
