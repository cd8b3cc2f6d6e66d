#include "ner/spans.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <tuple>

namespace sextant::ner {
namespace {

std::string RangeText(CharRange r) {
  return "[" + std::to_string(r.start) + ", " + std::to_string(r.end) + ")";
}

std::string TokenText(size_t index, CharRange r) {
  return "token " + std::to_string(index) + " " + RangeText(r);
}

bool Overlaps(CharRange a, CharRange b) { return a.start < b.end && b.start < a.end; }

}  // namespace

Status ValidateTokenOffsets(const std::vector<CharRange>& tokens, int32_t text_length) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    const CharRange t = tokens[i];
    if (t.start < 0 || t.start >= t.end || t.end > text_length) {
      return Status::Invalid(TokenText(i, t) + " is negative, empty or past the end of the text; " +
                             "expected 0 <= start < end <= " + std::to_string(text_length) +
                             " (the text length)");
    }
    if (i == 0) continue;
    const CharRange prev = tokens[i - 1];
    if (t == prev || t.start >= prev.end) continue;
    return Status::Invalid(TokenText(i, t) + " is out of order after " + TokenText(i - 1, prev) +
                           "; expected it to start at or after " + std::to_string(prev.end) +
                           ", or to repeat the previous token's offsets (sub-word tokens of one "
                           "word)");
  }
  return Status::OK();
}

Result<TokenSpan> CharToTokenSpan(const std::vector<CharRange>& tokens, CharRange span,
                                  int32_t type, int32_t text_length) {
  const std::string name = "span " + RangeText(span);
  if (span.start < 0 || span.start >= span.end) {
    return Status::Invalid(name + " is negative or empty; expected 0 <= start < end");
  }
  if (text_length >= 0 && span.end > text_length) {
    return Status::Invalid(name + " ends past the end of the text; expected end <= " +
                           std::to_string(text_length) + " (the text length)");
  }
  // Validated tokens are sorted by start and by end, so the tokens inside the
  // span are one contiguous run found by two binary searches.
  auto start_before = [](const CharRange& t, int32_t pos) { return t.start < pos; };
  const auto first_it = std::lower_bound(tokens.begin(), tokens.end(), span.start, start_before);
  const auto last_it = std::lower_bound(first_it, tokens.end(), span.end, start_before);
  const size_t first = static_cast<size_t>(first_it - tokens.begin());
  const size_t last = static_cast<size_t>(last_it - tokens.begin());  // one past
  // Only the token just before `first` can contain the start, and only the last
  // token of the run can stick out past the end (sub-word tokens repeat the same
  // pair, so checking one of them checks all).
  if (first > 0 && tokens[first - 1].end > span.start) {
    return Status::Invalid(name + ": its start " + std::to_string(span.start) + " falls inside " +
                           TokenText(first - 1, tokens[first - 1]) +
                           "; expected span boundaries on token boundaries");
  }
  if (last > first && tokens[last - 1].end > span.end) {
    return Status::Invalid(name + ": its end " + std::to_string(span.end) + " falls inside " +
                           TokenText(last - 1, tokens[last - 1]) +
                           "; expected span boundaries on token boundaries");
  }
  if (last == first) {
    return Status::Invalid(name + " covers no token; expected at least one token inside it");
  }
  return TokenSpan{static_cast<int32_t>(first), static_cast<int32_t>(last), type};
}

CharRange TokenToCharSpan(const std::vector<CharRange>& tokens, const TokenSpan& span) {
  assert(span.begin >= 0 && span.begin < span.end &&
         span.end <= static_cast<int32_t>(tokens.size()));
  return {tokens[static_cast<size_t>(span.begin)].start,
          tokens[static_cast<size_t>(span.end - 1)].end};
}

std::string_view SpanErrorName(SpanError error) {
  switch (error) {
    case SpanError::kNone:
      return "none";
    case SpanError::kWrongTag:
      return "wrong_tag";
    case SpanError::kSpanShift:
      return "span_shift";
    case SpanError::kMissedLabel:
      return "missed_label";
    case SpanError::kGhostSpan:
      return "ghost_span";
  }
  return "unknown";
}

std::vector<SpanRow> MatchSpans(const std::vector<LabeledSpan>& gold,
                                const std::vector<LabeledSpan>& pred) {
  // A sample holds tens of spans, so the quadratic scans are cheaper than
  // sorting and sweeping.
  std::vector<SpanRow> rows;
  std::vector<bool> pred_matched(pred.size(), false);
  std::vector<bool> gold_matched(gold.size(), false);
  for (size_t g = 0; g < gold.size(); ++g) {
    for (size_t p = 0; p < pred.size(); ++p) {
      if (pred_matched[p] || !(pred[p].range == gold[g].range)) continue;
      pred_matched[p] = gold_matched[g] = true;
      rows.push_back({static_cast<int32_t>(g), static_cast<int32_t>(p),
                      gold[g].type == pred[p].type ? SpanError::kNone : SpanError::kWrongTag});
      break;
    }
  }
  for (size_t g = 0; g < gold.size(); ++g) {
    if (gold_matched[g]) continue;
    const bool overlaps = std::any_of(pred.begin(), pred.end(), [&](const LabeledSpan& p) {
      return Overlaps(p.range, gold[g].range);
    });
    rows.push_back({static_cast<int32_t>(g), std::nullopt,
                    overlaps ? SpanError::kSpanShift : SpanError::kMissedLabel});
  }
  for (size_t p = 0; p < pred.size(); ++p) {
    if (pred_matched[p]) continue;
    const bool overlaps = std::any_of(gold.begin(), gold.end(), [&](const LabeledSpan& g) {
      return Overlaps(g.range, pred[p].range);
    });
    rows.push_back({std::nullopt, static_cast<int32_t>(p),
                    overlaps ? SpanError::kSpanShift : SpanError::kGhostSpan});
  }
  auto key = [&](const SpanRow& r) {
    const CharRange range = r.gold ? gold[static_cast<size_t>(*r.gold)].range
                                   : pred[static_cast<size_t>(*r.pred)].range;
    return std::make_tuple(range.start, range.end, r.gold ? 0 : 1, r.gold.value_or(-1),
                           r.pred.value_or(-1));
  };
  std::sort(rows.begin(), rows.end(),
            [&](const SpanRow& a, const SpanRow& b) { return key(a) < key(b); });
  return rows;
}

void SpanScores::Add(const std::vector<LabeledSpan>& gold, const std::vector<LabeledSpan>& pred) {
  auto grow = [this](int32_t type) {
    assert(type >= 0);
    if (static_cast<size_t>(type) >= per_type.size()) {
      per_type.resize(static_cast<size_t>(type) + 1);
    }
  };
  for (const LabeledSpan& s : gold) {
    grow(s.type);
    ++per_type[static_cast<size_t>(s.type)].gold;
  }
  for (const LabeledSpan& s : pred) {
    grow(s.type);
    ++per_type[static_cast<size_t>(s.type)].pred;
  }
  overall.gold += static_cast<int64_t>(gold.size());
  overall.pred += static_cast<int64_t>(pred.size());

  // Exact matches as the size of the multiset intersection: sort both sides by
  // (start, end, type) and walk them together.
  auto less = [](const LabeledSpan& a, const LabeledSpan& b) {
    return std::tie(a.range.start, a.range.end, a.type) <
           std::tie(b.range.start, b.range.end, b.type);
  };
  std::vector<LabeledSpan> g = gold, p = pred;
  std::sort(g.begin(), g.end(), less);
  std::sort(p.begin(), p.end(), less);
  for (size_t i = 0, j = 0; i < g.size() && j < p.size();) {
    if (less(g[i], p[j])) {
      ++i;
    } else if (less(p[j], g[i])) {
      ++j;
    } else {
      ++per_type[static_cast<size_t>(g[i].type)].correct;
      ++overall.correct;
      ++i;
      ++j;
    }
  }
}

Prf Score(const SpanCounts& counts) {
  Prf s;
  if (counts.pred > 0) s.precision = static_cast<double>(counts.correct) / counts.pred;
  if (counts.gold > 0) s.recall = static_cast<double>(counts.correct) / counts.gold;
  if (s.precision + s.recall > 0) s.f1 = 2 * s.precision * s.recall / (s.precision + s.recall);
  return s;
}

}  // namespace sextant::ner
