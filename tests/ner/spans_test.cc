#include "ner/spans.h"

#include "ner_testing.h"
#include "testing.h"

namespace sextant::ner {
namespace {

using testing::AsLabeled;
using testing::Tags;

// "Peter lives in Paris": one token per word.
const std::vector<CharRange> kWords = {{0, 5}, {6, 11}, {12, 14}, {15, 20}};
// The same text with sub-word tokens that repeat their word's offsets:
// Peter -> 2 tokens, lives -> 3, in -> 1, Paris -> 1.
const std::vector<CharRange> kSubwords = {{0, 5},  {0, 5},   {6, 11}, {6, 11},
                                          {6, 11}, {12, 14}, {15, 20}};

void ExpectErrorHas(const Status& s, const std::vector<std::string>& parts) {
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalid());
  for (const std::string& part : parts) {
    EXPECT_NE(s.message().find(part), std::string::npos)
        << "'" << part << "' not in: " << s.message();
  }
}

// ---- ValidateTokenOffsets ----

TEST(ValidateTokenOffsets, AcceptsWordsSubwordsAndAdjacentTokens) {
  EXPECT_OK(ValidateTokenOffsets(kWords, 20));
  EXPECT_OK(ValidateTokenOffsets(kSubwords, 20));
  EXPECT_OK(ValidateTokenOffsets({{0, 3}, {3, 5}, {6, 11}}, 11));  // "Pet" "er" "lives"
  EXPECT_OK(ValidateTokenOffsets({}, 0));
}

TEST(ValidateTokenOffsets, NamesTheTokenAndWhatWasExpected) {
  ExpectErrorHas(ValidateTokenOffsets({{-1, 5}, {6, 11}}, 20),
                 {"token 0 [-1, 5)", "expected 0 <= start < end <= 20"});
  ExpectErrorHas(ValidateTokenOffsets({{0, 5}, {6, 6}}, 20), {"token 1 [6, 6)", "empty"});
  ExpectErrorHas(ValidateTokenOffsets({{0, 5}, {7, 6}}, 20), {"token 1 [7, 6)"});
  ExpectErrorHas(ValidateTokenOffsets({{0, 5}, {15, 21}}, 20),
                 {"token 1 [15, 21)", "past the end", "<= 20"});
  ExpectErrorHas(ValidateTokenOffsets({{6, 11}, {0, 5}}, 20),
                 {"token 1 [0, 5)", "out of order", "token 0 [6, 11)", "at or after 11"});
  // Partly overlapping and nested tokens are out of order too.
  ExpectErrorHas(ValidateTokenOffsets({{0, 5}, {3, 8}}, 20), {"token 1 [3, 8)"});
  ExpectErrorHas(ValidateTokenOffsets({{0, 5}, {0, 3}}, 20), {"token 1 [0, 3)"});
  ExpectErrorHas(ValidateTokenOffsets({{0, 5}, {0, 5}, {1, 5}}, 20), {"token 2 [1, 5)"});
}

// ---- CharToTokenSpan / TokenToCharSpan ----

TEST(CharToTokenSpan, WordTokens) {
  ASSERT_OK_AND_ASSIGN(TokenSpan s, CharToTokenSpan(kWords, {0, 5}, 2));
  EXPECT_EQ(s, (TokenSpan{0, 1, 2}));
  ASSERT_OK_AND_ASSIGN(s, CharToTokenSpan(kWords, {15, 20}, 1, 20));
  EXPECT_EQ(s, (TokenSpan{3, 4, 1}));
  ASSERT_OK_AND_ASSIGN(s, CharToTokenSpan(kWords, {6, 14}, 0));  // "lives in"
  EXPECT_EQ(s, (TokenSpan{1, 3, 0}));
  // Whitespace around the tokens is not inside any token.
  ASSERT_OK_AND_ASSIGN(s, CharToTokenSpan(kWords, {5, 15}, 0));
  EXPECT_EQ(s, (TokenSpan{1, 3, 0}));
  ASSERT_OK_AND_ASSIGN(s, CharToTokenSpan(kWords, {0, 20}, 0));
  EXPECT_EQ(s, (TokenSpan{0, 4, 0}));
}

TEST(CharToTokenSpan, SubwordTokensSharingAWordsOffsets) {
  ASSERT_OK_AND_ASSIGN(TokenSpan s, CharToTokenSpan(kSubwords, {0, 5}, 0));
  EXPECT_EQ(s, (TokenSpan{0, 2, 0}));
  ASSERT_OK_AND_ASSIGN(s, CharToTokenSpan(kSubwords, {6, 11}, 0));
  EXPECT_EQ(s, (TokenSpan{2, 5, 0}));
  ASSERT_OK_AND_ASSIGN(s, CharToTokenSpan(kSubwords, {0, 14}, 0));
  EXPECT_EQ(s, (TokenSpan{0, 6, 0}));
  ASSERT_OK_AND_ASSIGN(s, CharToTokenSpan(kSubwords, {15, 20}, 0));
  EXPECT_EQ(s, (TokenSpan{6, 7, 0}));
}

TEST(CharToTokenSpan, RoundTripsThroughTokenToCharSpan) {
  for (const auto* tokens : {&kWords, &kSubwords}) {
    for (CharRange span : {CharRange{0, 5}, CharRange{6, 11}, CharRange{0, 14}, CharRange{12, 20},
                           CharRange{0, 20}}) {
      ASSERT_OK_AND_ASSIGN(TokenSpan s, CharToTokenSpan(*tokens, span, 0));
      EXPECT_EQ(TokenToCharSpan(*tokens, s), span);
    }
  }
  EXPECT_EQ(TokenToCharSpan(kSubwords, {1, 4, 0}), (CharRange{0, 11}));
}

TEST(CharToTokenSpan, ErrorsNameTheSpanAndTheToken) {
  // Start inside "lives".
  ExpectErrorHas(CharToTokenSpan(kWords, {7, 11}, 0).status(),
                 {"span [7, 11)", "start 7", "token 1 [6, 11)", "token boundaries"});
  // End inside "lives".
  ExpectErrorHas(CharToTokenSpan(kWords, {6, 9}, 0).status(),
                 {"span [6, 9)", "end 9", "token 1 [6, 11)"});
  // Both boundaries inside one token: the start is reported.
  ExpectErrorHas(CharToTokenSpan(kWords, {7, 9}, 0).status(), {"start 7", "token 1"});
  // With sub-words, the last token of the word is named.
  ExpectErrorHas(CharToTokenSpan(kSubwords, {0, 9}, 0).status(), {"end 9", "token 4 [6, 11)"});
  ExpectErrorHas(CharToTokenSpan(kSubwords, {2, 5}, 0).status(), {"start 2", "token 1 [0, 5)"});
  // Only whitespace, or after the last token.
  ExpectErrorHas(CharToTokenSpan(kWords, {5, 6}, 0).status(), {"span [5, 6)", "covers no token"});
  ExpectErrorHas(CharToTokenSpan(kWords, {20, 22}, 0).status(), {"covers no token"});
  ExpectErrorHas(CharToTokenSpan({}, {0, 3}, 0).status(), {"covers no token"});
  // Malformed or outside the text.
  ExpectErrorHas(CharToTokenSpan(kWords, {-1, 5}, 0).status(),
                 {"span [-1, 5)", "0 <= start < end"});
  ExpectErrorHas(CharToTokenSpan(kWords, {5, 5}, 0).status(), {"span [5, 5)"});
  ExpectErrorHas(CharToTokenSpan(kWords, {9, 6}, 0).status(), {"span [9, 6)"});
  ExpectErrorHas(CharToTokenSpan(kWords, {15, 25}, 0, 20).status(),
                 {"span [15, 25)", "past the end of the text", "<= 20"});
}

// ---- MatchSpans ----

TEST(SpanErrorName, AllNames) {
  EXPECT_EQ(SpanErrorName(SpanError::kNone), "none");
  EXPECT_EQ(SpanErrorName(SpanError::kWrongTag), "wrong_tag");
  EXPECT_EQ(SpanErrorName(SpanError::kSpanShift), "span_shift");
  EXPECT_EQ(SpanErrorName(SpanError::kMissedLabel), "missed_label");
  EXPECT_EQ(SpanErrorName(SpanError::kGhostSpan), "ghost_span");
}

TEST(MatchSpans, EveryErrorType) {
  constexpr int32_t kLoc = 0, kOrg = 1, kPer = 2;
  // Given in no particular order, to check the row order.
  const std::vector<LabeledSpan> gold = {
      {{40, 45}, kPer},  // g0: nothing predicted there       -> missed_label
      {{0, 5}, kPer},    // g1: predicted exactly (p1)        -> none
      {{20, 30}, kOrg},  // g2: predicted shorter (p0)        -> span_shift, and p0 too
      {{10, 15}, kLoc},  // g3: predicted as ORG (p2)         -> wrong_tag
      {{60, 64}, kPer},  // g4, g5: one prediction over both (p4) -> three span_shift rows
      {{65, 70}, kLoc},
  };
  const std::vector<LabeledSpan> pred = {
      {{20, 25}, kOrg},  // p0
      {{0, 5}, kPer},    // p1
      {{10, 15}, kOrg},  // p2
      {{50, 55}, kLoc},  // p3: overlaps no gold span       -> ghost_span
      {{60, 70}, kPer},  // p4
  };
  const std::vector<SpanRow> expected = {
      {1, 1, SpanError::kNone},                    // [0, 5)
      {3, 2, SpanError::kWrongTag},                // [10, 15)
      {std::nullopt, 0, SpanError::kSpanShift},    // [20, 25), before [20, 30) by end
      {2, std::nullopt, SpanError::kSpanShift},    // [20, 30)
      {0, std::nullopt, SpanError::kMissedLabel},  // [40, 45)
      {std::nullopt, 3, SpanError::kGhostSpan},    // [50, 55)
      {4, std::nullopt, SpanError::kSpanShift},    // [60, 64)
      {std::nullopt, 4, SpanError::kSpanShift},    // [60, 70)
      {5, std::nullopt, SpanError::kSpanShift},    // [65, 70)
  };
  EXPECT_EQ(MatchSpans(gold, pred), expected);
}

TEST(MatchSpans, TouchingSpansDoNotOverlap) {
  // [0, 5) and [5, 9) share no character: a miss and a ghost, not a shift.
  const std::vector<SpanRow> expected = {
      {0, std::nullopt, SpanError::kMissedLabel},
      {std::nullopt, 0, SpanError::kGhostSpan},
  };
  EXPECT_EQ(MatchSpans({{{0, 5}, 0}}, {{{5, 9}, 0}}), expected);
}

TEST(MatchSpans, OneSidedAndEmpty) {
  EXPECT_TRUE(MatchSpans({}, {}).empty());
  const std::vector<SpanRow> ghosts = {{std::nullopt, 1, SpanError::kGhostSpan},
                                       {std::nullopt, 0, SpanError::kGhostSpan}};
  EXPECT_EQ(MatchSpans({}, {{{8, 9}, 0}, {{1, 3}, 1}}), ghosts);
  const std::vector<SpanRow> misses = {{0, std::nullopt, SpanError::kMissedLabel}};
  EXPECT_EQ(MatchSpans({{{1, 3}, 0}}, {}), misses);
}

TEST(MatchSpans, ADuplicatePredictionPairsOnce) {
  // Same range twice on one side: the first pairs, the second overlaps the
  // gold span and is a shift; a gold row sorts before a pred-only row.
  const std::vector<SpanRow> expected = {{0, 0, SpanError::kNone},
                                         {std::nullopt, 1, SpanError::kSpanShift}};
  EXPECT_EQ(MatchSpans({{{0, 5}, 2}}, {{{0, 5}, 2}, {{0, 5}, 2}}), expected);
}

// ---- Span precision / recall / F1 ----

// Decodes gold and predicted sequences sample by sample and adds them up.
SpanScores ScoreSamples(const Tags& t,
                        const std::vector<std::pair<std::string, std::string>>& samples,
                        DecodeMode mode) {
  SpanScores scores(t.set().entity_types.size());
  for (const auto& [gold, pred] : samples) {
    scores.Add(AsLabeled(DecodeTags(t.set(), t.Ids(gold), mode)),
               AsLabeled(DecodeTags(t.set(), t.Ids(pred), mode)));
  }
  return scores;
}

void ExpectPrf(const SpanCounts& counts, double p, double r, double f1) {
  const Prf s = Score(counts);
  EXPECT_DOUBLE_EQ(s.precision, p);
  EXPECT_DOUBLE_EQ(s.recall, r);
  EXPECT_DOUBLE_EQ(s.f1, f1);
}

TEST(SpanScores, BioFixture) {
  const Tags t = Tags::Full(TaggingSchema::kBIO);  // types LOC 0, ORG 1, PER 2
  const std::vector<std::pair<std::string, std::string>> samples = {
      // gold PER[0,2) LOC[3,4); pred PER[0,2) ORG[3,4)
      {"B-PER I-PER O B-LOC", "B-PER I-PER O B-ORG"},
      // gold ORG[0,2) PER[3,4); pred strict PER[3,4) (stray I-ORG), conlleval ORG[0,2) PER[3,4)
      {"B-ORG I-ORG O B-PER", "I-ORG I-ORG O B-PER"},
  };
  const SpanScores strict = ScoreSamples(t, samples, DecodeMode::kStrict);
  // Strict: gold PER 2, LOC 1, ORG 1 = 4; pred PER 2, ORG 1 = 3; correct PER 2 = 2.
  EXPECT_EQ(strict.overall, (SpanCounts{4, 3, 2}));
  EXPECT_EQ(strict.per_type[0], (SpanCounts{1, 0, 0}));
  EXPECT_EQ(strict.per_type[1], (SpanCounts{1, 1, 0}));
  EXPECT_EQ(strict.per_type[2], (SpanCounts{2, 2, 2}));
  // Overall P = 2/3, R = 2/4 = 1/2, F1 = 2 * (2/3) * (1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7.
  ExpectPrf(strict.overall, 2.0 / 3, 0.5, 4.0 / 7);
  ExpectPrf(strict.per_type[0], 0, 0, 0);  // LOC: nothing predicted, so P is 0 by convention
  ExpectPrf(strict.per_type[1], 0, 0, 0);  // ORG: 0/1, 0/1
  ExpectPrf(strict.per_type[2], 1, 1, 1);  // PER: 2/2, 2/2

  const SpanScores conll = ScoreSamples(t, samples, DecodeMode::kConlleval);
  // Conlleval: pred adds ORG[0,2), which is correct: pred 4, correct 3.
  EXPECT_EQ(conll.overall, (SpanCounts{4, 4, 3}));
  // P = R = F1 = 3/4.
  ExpectPrf(conll.overall, 0.75, 0.75, 0.75);
  // ORG: P = 1/2, R = 1/1, F1 = 2 * (1/2) * 1 / (3/2) = 2/3.
  ExpectPrf(conll.per_type[1], 0.5, 1, 2.0 / 3);
}

TEST(SpanScores, BioesFixture) {
  const Tags t = Tags::Full(TaggingSchema::kBIOES);  // types LOC 0, ORG 1, PER 2
  const std::vector<std::pair<std::string, std::string>> samples = {
      // gold PER[0,1) LOC[2,5); pred PER[0,1), LOC unterminated (dropped when strict)
      {"S-PER O B-LOC I-LOC E-LOC", "S-PER O B-LOC I-LOC I-LOC"},
      // gold ORG[0,2) LOC[2,3); pred the same
      {"B-ORG E-ORG S-LOC", "B-ORG E-ORG S-LOC"},
  };
  const SpanScores strict = ScoreSamples(t, samples, DecodeMode::kStrict);
  // gold PER 1, LOC 2, ORG 1 = 4; pred PER 1, ORG 1, LOC 1 = 3; all 3 correct.
  EXPECT_EQ(strict.overall, (SpanCounts{4, 3, 3}));
  // Overall P = 3/3 = 1, R = 3/4, F1 = 2 * 1 * (3/4) / (7/4) = 6/7.
  ExpectPrf(strict.overall, 1, 0.75, 6.0 / 7);
  // LOC: P = 1/1, R = 1/2, F1 = 2 * 1 * (1/2) / (3/2) = 2/3.
  ExpectPrf(strict.per_type[0], 1, 0.5, 2.0 / 3);
  ExpectPrf(strict.per_type[1], 1, 1, 1);
  ExpectPrf(strict.per_type[2], 1, 1, 1);

  // Conlleval counts the unterminated LOC[2,5), which matches: 4/4 everywhere.
  const SpanScores conll = ScoreSamples(t, samples, DecodeMode::kConlleval);
  EXPECT_EQ(conll.overall, (SpanCounts{4, 4, 4}));
  ExpectPrf(conll.overall, 1, 1, 1);
}

TEST(SpanScores, BilouFixture) {
  const Tags t = Tags::Full(TaggingSchema::kBILOU);  // types LOC 0, ORG 1, PER 2
  const std::vector<std::pair<std::string, std::string>> samples = {
      // gold PER[0,1) ORG[1,3); pred PER[0,1) ORG[1,2) ORG[2,3)
      {"U-PER B-ORG L-ORG O", "U-PER U-ORG U-ORG O"},
      // gold LOC[0,3); pred LOC[0,2) LOC[2,3)
      {"B-LOC I-LOC L-LOC", "B-LOC L-LOC U-LOC"},
  };
  const SpanScores s = ScoreSamples(t, samples, DecodeMode::kStrict);
  // gold PER 1, ORG 1, LOC 1 = 3; pred PER 1, ORG 2, LOC 2 = 5; correct PER 1.
  EXPECT_EQ(s.overall, (SpanCounts{3, 5, 1}));
  EXPECT_EQ(s.per_type[0], (SpanCounts{1, 2, 0}));
  EXPECT_EQ(s.per_type[1], (SpanCounts{1, 2, 0}));
  EXPECT_EQ(s.per_type[2], (SpanCounts{1, 1, 1}));
  // Overall P = 1/5, R = 1/3, F1 = 2 * (1/5) * (1/3) / (1/5 + 1/3) = (2/15) / (8/15) = 1/4.
  ExpectPrf(s.overall, 0.2, 1.0 / 3, 0.25);
  ExpectPrf(s.per_type[0], 0, 0, 0);  // LOC: 0/2, 0/1
  ExpectPrf(s.per_type[2], 1, 1, 1);  // PER: 1/1, 1/1
}

TEST(SpanScores, SamplesAreMatchedSeparately) {
  // The same offsets in two samples do not match across samples.
  SpanScores s;
  s.Add({{{0, 2}, 0}}, {});
  s.Add({}, {{{0, 2}, 0}});
  EXPECT_EQ(s.overall, (SpanCounts{1, 1, 0}));
  ASSERT_EQ(s.per_type.size(), 1u);  // grown to the largest type seen
  s.Add({{{0, 2}, 3}}, {{{0, 2}, 3}});
  ASSERT_EQ(s.per_type.size(), 4u);
  EXPECT_EQ(s.per_type[3], (SpanCounts{1, 1, 1}));
  EXPECT_EQ(s.overall, (SpanCounts{2, 2, 1}));
}

TEST(Score, ZeroWhereUndefined) {
  ExpectPrf({0, 0, 0}, 0, 0, 0);
  ExpectPrf({3, 0, 0}, 0, 0, 0);
  ExpectPrf({0, 3, 0}, 0, 0, 0);
  ExpectPrf({4, 2, 0}, 0, 0, 0);
}

}  // namespace
}  // namespace sextant::ner
