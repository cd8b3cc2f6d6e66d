// NER spans by character offsets: mapping to and from tokens, matching gold
// against predicted spans into span rows, and span precision/recall/F1
// (docs/algorithms.md, section NER; docs/ner-nli.md, "Processing").
//
// Pure functions over in-memory vectors: no I/O, no state, safe to call from
// any number of threads at once. Character offsets are whatever unit the
// client logged (the text's code units); they are only compared, never used to
// index the text.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ner/tags.h"
#include "sextant/status.h"

namespace sextant::ner {

// Characters [start, end) of a sample's text (the public type of types.h).
using sextant::CharRange;

// Checks one sample's token offsets: each 0 <= start < end <= text_length, and
// in order: a token either repeats the previous token's pair exactly (the
// sub-word tokens of one word may all carry the word's offsets) or starts at or
// after the previous token's end. Partly overlapping or nested tokens are
// rejected, because a span boundary could not be placed on them. The error
// names the token index, its offsets and what was expected.
Status ValidateTokenOffsets(const std::vector<CharRange>& tokens, int32_t text_length);

// The tokens of `tokens` (validated by ValidateTokenOffsets) that lie inside the
// character span: [first token whose start >= span.start, last token whose end
// <= span.end]. Errors name the span and, where one is at fault, the token: start
// < 0 or start >= end; when text_length >= 0, end > text_length; a boundary
// falling strictly inside a token; a span that covers no token.
Result<TokenSpan> CharToTokenSpan(const std::vector<CharRange>& tokens, CharRange span,
                                  int32_t type, int32_t text_length = -1);

// Characters from the first token's start to the last token's end. `span` must
// lie within `tokens` and be non-empty (asserted).
CharRange TokenToCharSpan(const std::vector<CharRange>& tokens, const TokenSpan& span);

// Error type of a span row (docs/ner-nli.md).
enum class SpanError { kNone, kWrongTag, kSpanShift, kMissedLabel, kGhostSpan };
// "none", "wrong_tag", "span_shift", "missed_label", "ghost_span".
std::string_view SpanErrorName(SpanError error);

// A span of one sample by characters, with an entity type (index into
// TagSet::entity_types).
struct LabeledSpan {
  CharRange range;
  int32_t type = 0;
  bool operator==(const LabeledSpan&) const = default;
};

// One span row: indices into the gold and predicted vectors given to MatchSpans.
struct SpanRow {
  std::optional<int32_t> gold, pred;
  SpanError error = SpanError::kNone;
  bool operator==(const SpanRow&) const = default;
};

// Matches one sample's gold and predicted spans by character boundaries (the
// table in docs/ner-nli.md):
//   same boundaries, one gold and one predicted span -> one row, kNone when the
//     types agree, else kWrongTag;
//   gold span with no exact match overlapping a predicted span -> kSpanShift, pred empty;
//   predicted span with no exact match overlapping a gold span -> kSpanShift, gold empty;
//   gold span overlapping no predicted span -> kMissedLabel;
//   predicted span overlapping no gold span -> kGhostSpan.
// Every input span is in exactly one row. Rows are ordered by start, then end
// of their range (the gold range where a row has both), then rows with a gold
// span first, then by index. Each side is expected to be free of duplicates
// (validated gold spans and decoded spans are); a duplicate pairs with at most
// one span of the other side and is otherwise matched as an unmatched span.
std::vector<SpanRow> MatchSpans(const std::vector<LabeledSpan>& gold,
                                const std::vector<LabeledSpan>& pred);

// Counts for span precision/recall/F1 with exact match of start, end and type.
struct SpanCounts {
  int64_t gold = 0, pred = 0, correct = 0;
  bool operator==(const SpanCounts&) const = default;
};

// Span counts per entity type and overall, accumulated sample by sample.
struct SpanScores {
  SpanScores() = default;
  // Sizes per_type so that types that never occur still get a (zero) entry.
  explicit SpanScores(size_t num_types) : per_type(num_types) {}

  std::vector<SpanCounts> per_type;  // by type index; grown by Add to the largest type seen
  SpanCounts overall;

  // Adds one sample's spans (spans of different samples must not be mixed in
  // one call: they are matched by offsets). A span counts as correct when the
  // other side holds a span with the same start, end and type; duplicates pair
  // one to one.
  void Add(const std::vector<LabeledSpan>& gold, const std::vector<LabeledSpan>& pred);
};

// Precision = correct / pred, recall = correct / gold, F1 their harmonic mean,
// as fractions in [0, 1]; each is 0 where its denominator is 0, as conlleval.pl
// reports them.
struct Prf {
  double precision = 0, recall = 0, f1 = 0;
};
Prf Score(const SpanCounts& counts);

}  // namespace sextant::ner
