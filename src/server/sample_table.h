// SampleTable: one split's per-sample results held in memory column by column,
// so that the console can filter, sort and page a million samples within a
// request's budget instead of scanning SQLite per request.
//
// Loaded once per (run, split) through RunReader::Samples; immutable after
// Load, except for the sorted orders and parsed metadata columns that are
// built on first use (thread-safe).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sextant/results.h"

namespace sextant::server {

class SampleTable {
 public:
  // `cancel` (optional), true: the load stops between chunks (Unavailable).
  static Result<std::unique_ptr<SampleTable>> Load(const RunReader& reader, const SplitKey& split,
                                                   const std::function<bool()>& cancel = {});
  // The rows of one query of the store (RunReader::Samples, e.g. one page),
  // in its order, with `stored_row` their rows in the split: what the server
  // answers from before the split's table is loaded (docs/architecture.md).
  static Result<std::unique_ptr<SampleTable>> LoadPage(const RunReader& reader,
                                                       const SampleQuery& query);
  // For a table whose columns were filled by hand (tests): sets the split and
  // builds the id index. Every column must have the same length.
  void Finalize(const SplitKey& split);

  const SplitKey& split() const { return split_; }
  int64_t size() const { return static_cast<int64_t>(id.size()); }
  // The row of sample `id`, if any.
  std::optional<int64_t> RowOf(const std::string& sample_id) const;
  // True when the run has a 2-D map (x, y are not NaN).
  bool has_map() const { return has_map_; }

  // The rows sorted by `field` (a SampleRow field name), ties by row ascending;
  // NULLs first ascending and last descending (as SQLite). Invalid for an
  // unknown field.
  Result<std::shared_ptr<const std::vector<uint32_t>>> Order(const std::string& field,
                                                             bool descending) const;
  // Per row, the string value of metadata column `key` (nullopt when absent).
  std::shared_ptr<const std::vector<std::optional<std::string>>> MetaColumn(
      const std::string& key) const;

  // Per row, whether the text matches `pattern` (RE2, case-insensitive search;
  // common/text_pattern.h); stops at the request's budget (common/request_budget.h),
  // with nothing cached then. The last few patterns' answers are kept, so that paging through
  // one text search does not run the regex over every row again.
  // `field` is "text", or "premise" / "hypothesis" of an NLI run.
  Result<std::shared_ptr<const std::vector<uint8_t>>> TextMatches(
      const std::string& pattern, const std::string& field = "text") const;

  // Columns, indexed by row. Missing numbers are NaN; missing classes -1;
  // missing flags -1.
  std::vector<std::string> id, text, meta_json;
  // NLI runs: the pair of each row (empty otherwise). NER runs: each row's
  // tokens and span marks as a JSON object (docs/ner-nli.md; empty otherwise).
  std::vector<std::string> premise, hypothesis, spans_json;
  std::vector<int32_t> gold, pred, epoch;
  std::vector<double> confidence, margin, certainty_ratio, entropy, aum, dep, drift_distance,
      drift_score;
  std::vector<float> x, y;
  std::vector<uint8_t> on_boundary;
  std::vector<int8_t> drifted;
  // The per-sample shift score (NaN: none) and flag (-1: none); a table built
  // without these columns (shorter vectors) reads as none.
  std::vector<double> shift_score;
  std::vector<int8_t> shifted;
  // A LoadPage table: per row, the sample's row in its split (empty otherwise).
  std::vector<int64_t> stored_row;
  double ShiftScoreAt(size_t r) const {
    return r < shift_score.size() ? shift_score[r] : std::numeric_limits<double>::quiet_NaN();
  }
  int8_t ShiftedAt(size_t r) const { return r < shifted.size() ? shifted[r] : int8_t{-1}; }
  // NER sentences (docs/ner-nli.md; NaN: none, and shorter vectors in other
  // tables): span errors, predicted spans, the weakest predicted span's
  // confidence; and a bit per entity type (bit i: entity_types[i], types past
  // the 63rd share bit 63) that the sentence predicts or has in gold.
  std::vector<double> span_errors, pred_spans_count, min_span_confidence;
  std::vector<uint64_t> entity_mask;
  std::vector<std::string> entity_types;  // NER runs: the run's entity types
  static double At(const std::vector<double>& column, size_t r) {
    return r < column.size() ? column[r] : std::numeric_limits<double>::quiet_NaN();
  }
  // The bit of the entity type `name` (0 when the run has no such type).
  uint64_t EntityBit(const std::string& name) const;

 private:
  static Result<std::unique_ptr<SampleTable>> LoadRows(const RunReader& reader,
                                                       const SplitKey& split,
                                                       const SampleQuery* page,
                                                       const std::function<bool()>& cancel);
  SplitKey split_;
  bool has_map_ = false;
  std::unordered_map<std::string, uint32_t> row_of_;
  mutable std::mutex mu_;
  mutable std::map<std::pair<std::string, bool>, std::shared_ptr<const std::vector<uint32_t>>>
      orders_;
  mutable std::map<std::string, std::shared_ptr<const std::vector<std::optional<std::string>>>>
      meta_columns_;
  mutable std::vector<std::pair<std::string, std::shared_ptr<const std::vector<uint8_t>>>>
      text_matches_;  // most recent last
};

// Names accepted by SampleTable::Order.
const std::vector<std::string>& SortableFields();

}  // namespace sextant::server
