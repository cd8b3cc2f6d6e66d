#include "ner/tags.h"

#include <algorithm>
#include <random>

#include "ner_testing.h"
#include "testing.h"

namespace sextant::ner {
namespace {

using testing::Tags;
using testing::Words;

constexpr DecodeMode kStrict = DecodeMode::kStrict;
constexpr DecodeMode kConlleval = DecodeMode::kConlleval;

// Expects ParseTagList to fail with a message holding each of `parts`.
void ExpectParseError(const std::string& tags, TaggingSchema schema,
                      const std::vector<std::string>& parts) {
  auto r = ParseTagList(Words(tags), schema);
  ASSERT_FALSE(r.ok()) << tags;
  EXPECT_TRUE(r.status().IsInvalid());
  for (const std::string& part : parts) {
    EXPECT_NE(r.status().message().find(part), std::string::npos)
        << "'" << part << "' not in: " << r.status().message();
  }
}

// ---- ParseTagList ----

TEST(ParseTagList, BioListInLogitOrder) {
  ASSERT_OK_AND_ASSIGN(TagSet t,
                       ParseTagList(Words("B-PER I-PER O B-LOC I-LOC"), TaggingSchema::kBIO));
  EXPECT_EQ(t.schema, TaggingSchema::kBIO);
  EXPECT_EQ(t.entity_types, (std::vector<std::string>{"LOC", "PER"}));
  EXPECT_EQ(t.prefix, (std::vector<char>{'B', 'I', 'O', 'B', 'I'}));
  EXPECT_EQ(t.type, (std::vector<int32_t>{1, 1, -1, 0, 0}));
  EXPECT_EQ(t.outside, 2);
  EXPECT_EQ(t.num_tags(), 5);
  EXPECT_EQ(t.TagIndex('B', 1), 0);
  EXPECT_EQ(t.TagIndex('I', 0), 4);
  EXPECT_EQ(t.TagIndex('O', -1), 2);
  EXPECT_EQ(t.TagIndex('E', 0), -1);  // not in a BIO list
  EXPECT_EQ(t.TagIndex('B', 2), -1);  // no such type
  EXPECT_EQ(t.TagIndex('B', -1), -1);
  EXPECT_EQ(t.TypeIndex("PER"), 1);
  EXPECT_EQ(t.TypeIndex("ORG"), -1);
}

TEST(ParseTagList, BioesListWithATypeMissingPrefixes) {
  // LOC only has a one-token tag: a list need not hold every prefix of a type.
  ASSERT_OK_AND_ASSIGN(
      TagSet t, ParseTagList(Words("O B-PER I-PER E-PER S-PER S-LOC"), TaggingSchema::kBIOES));
  EXPECT_EQ(t.entity_types, (std::vector<std::string>{"LOC", "PER"}));
  EXPECT_EQ(t.prefix, (std::vector<char>{'O', 'B', 'I', 'E', 'S', 'S'}));
  EXPECT_EQ(t.TagIndex('E', 1), 3);
  EXPECT_EQ(t.TagIndex('S', 0), 5);
  EXPECT_EQ(t.TagIndex('B', 0), -1);
  EXPECT_EQ(t.TagName('E', 1), "E-PER");
}

TEST(ParseTagList, BilouNormalisesLAndU) {
  ASSERT_OK_AND_ASSIGN(TagSet t,
                       ParseTagList(Words("O B-MISC I-MISC L-MISC U-MISC"), TaggingSchema::kBILOU));
  EXPECT_EQ(t.entity_types, (std::vector<std::string>{"MISC"}));
  EXPECT_EQ(t.prefix, (std::vector<char>{'O', 'B', 'I', 'E', 'S'}));
  EXPECT_EQ(t.TagIndex('E', 0), 3);
  EXPECT_EQ(t.TagIndex('S', 0), 4);
  // Names are spelled back in the schema's letters.
  EXPECT_EQ(t.TagName('E', 0), "L-MISC");
  EXPECT_EQ(t.TagName('S', 0), "U-MISC");
  EXPECT_EQ(t.TagName('O', -1), "O");
}

TEST(ParseTagList, TypesMaySpellAnything) {
  // Only the first '-' separates prefix and type.
  ASSERT_OK_AND_ASSIGN(TagSet t, ParseTagList(Words("O B-geo-loc I-geo-loc"), TaggingSchema::kBIO));
  EXPECT_EQ(t.entity_types, (std::vector<std::string>{"geo-loc"}));
}

TEST(ParseTagList, RejectsPrefixesOfOtherSchemas) {
  ExpectParseError("O B-PER I-PER E-PER", TaggingSchema::kBIO,
                   {"'E-PER'", "index 3", "BIO", "B, I"});
  ExpectParseError("O S-PER", TaggingSchema::kBIO, {"'S-PER'", "prefix 'S'"});
  ExpectParseError("O B-PER L-PER", TaggingSchema::kBIOES, {"'L-PER'", "BIOES", "B, I, E, S"});
  ExpectParseError("O U-PER", TaggingSchema::kBIOES, {"'U-PER'"});
  ExpectParseError("O B-PER E-PER", TaggingSchema::kBILOU, {"'E-PER'", "BILOU", "B, I, L, U"});
  ExpectParseError("O S-PER", TaggingSchema::kBILOU, {"'S-PER'"});
}

TEST(ParseTagList, RejectsMalformedTags) {
  ExpectParseError("O X", TaggingSchema::kBIO, {"'X'", "index 1", "\"<prefix>-<TYPE>\""});
  ExpectParseError("O B-", TaggingSchema::kBIO, {"'B-'"});        // no type
  ExpectParseError("O BPER", TaggingSchema::kBIO, {"'BPER'"});    // no '-'
  ExpectParseError("O b-PER", TaggingSchema::kBIO, {"'b-PER'"});  // prefixes are upper case
  ExpectParseError("o B-PER", TaggingSchema::kBIO, {"'o'"});
  ExpectParseError("O O-PER", TaggingSchema::kBIOES, {"'O-PER'"});
  ExpectParseError("O BB-PER", TaggingSchema::kBIO, {"'BB-PER'"});
}

TEST(ParseTagList, RequiresO) {
  ExpectParseError("B-PER I-PER", TaggingSchema::kBIO, {"no \"O\" tag"});
  ExpectParseError("", TaggingSchema::kBILOU, {"no \"O\" tag", "B, I, L, U"});
}

TEST(ParseTagList, RejectsDuplicates) {
  ExpectParseError("O B-PER I-PER B-PER", TaggingSchema::kBIO,
                   {"'B-PER'", "index 3", "twice", "first at index 1"});
  ExpectParseError("O B-PER O", TaggingSchema::kBIO, {"'O'", "index 2", "first at index 0"});
  ExpectParseError("O U-PER L-PER U-PER", TaggingSchema::kBILOU, {"'U-PER'", "index 3"});
}

// ---- DecodeTags, BIO ----

TEST(DecodeTags, BioStrict) {
  const Tags t = Tags::Full(TaggingSchema::kBIO);
  EXPECT_EQ(t.Decode("B-PER I-PER O B-LOC", kStrict), "PER[0,2) LOC[3,4)");
  // A stray I-X (after O, at the start, or after another type) is no span.
  EXPECT_EQ(t.Decode("I-PER I-PER O B-LOC", kStrict), "LOC[3,4)");
  EXPECT_EQ(t.Decode("O I-PER I-PER B-LOC", kStrict), "LOC[3,4)");
  EXPECT_EQ(t.Decode("B-PER I-LOC I-LOC", kStrict), "PER[0,1)");
  EXPECT_EQ(t.Decode("B-PER I-PER I-LOC I-PER", kStrict), "PER[0,2)");
  // Type change at a B, adjacent spans of one type, a span at the end.
  EXPECT_EQ(t.Decode("B-PER B-LOC I-LOC", kStrict), "PER[0,1) LOC[1,3)");
  EXPECT_EQ(t.Decode("B-PER B-PER I-PER B-PER", kStrict), "PER[0,1) PER[1,3) PER[3,4)");
  EXPECT_EQ(t.Decode("O O B-ORG I-ORG", kStrict), "ORG[2,4)");
  EXPECT_EQ(t.Decode("O O O", kStrict), "");
  EXPECT_EQ(t.Decode("", kStrict), "");
}

TEST(DecodeTags, BioConlleval) {
  const Tags t = Tags::Full(TaggingSchema::kBIO);
  EXPECT_EQ(t.Decode("B-PER I-PER O B-LOC", kConlleval), "PER[0,2) LOC[3,4)");
  // An I-X after O, at the start or after another type opens a chunk (IOB1).
  EXPECT_EQ(t.Decode("I-PER I-PER O B-LOC", kConlleval), "PER[0,2) LOC[3,4)");
  EXPECT_EQ(t.Decode("O I-PER I-PER B-LOC", kConlleval), "PER[1,3) LOC[3,4)");
  EXPECT_EQ(t.Decode("B-PER I-LOC I-LOC", kConlleval), "PER[0,1) LOC[1,3)");
  EXPECT_EQ(t.Decode("B-PER I-PER I-LOC I-PER", kConlleval), "PER[0,2) LOC[2,3) PER[3,4)");
  // B always starts a new chunk, even of the same type.
  EXPECT_EQ(t.Decode("I-PER B-PER I-PER", kConlleval), "PER[0,1) PER[1,3)");
  EXPECT_EQ(t.Decode("B-PER B-PER I-PER B-PER", kConlleval), "PER[0,1) PER[1,3) PER[3,4)");
  EXPECT_EQ(t.Decode("O O O", kConlleval), "");
  EXPECT_EQ(t.Decode("", kConlleval), "");
}

// ---- DecodeTags, BIOES and BILOU ----

TEST(DecodeTags, BioesStrict) {
  const Tags t = Tags::Full(TaggingSchema::kBIOES);
  EXPECT_EQ(t.Decode("S-PER B-LOC I-LOC E-LOC O", kStrict), "PER[0,1) LOC[1,4)");
  EXPECT_EQ(t.Decode("B-PER E-PER", kStrict), "PER[0,2)");
  // Unterminated spans are dropped: cut by O, by S, by B, by the end, by a type change.
  EXPECT_EQ(t.Decode("B-PER I-PER O S-LOC", kStrict), "LOC[3,4)");
  EXPECT_EQ(t.Decode("B-PER S-LOC E-PER", kStrict), "LOC[1,2)");
  EXPECT_EQ(t.Decode("B-PER B-PER E-PER", kStrict), "PER[1,3)");
  EXPECT_EQ(t.Decode("O B-PER I-PER", kStrict), "");
  EXPECT_EQ(t.Decode("B-PER I-PER E-LOC", kStrict), "");
  EXPECT_EQ(t.Decode("B-PER I-LOC E-PER", kStrict), "");
  // An I or E without its B is no span.
  EXPECT_EQ(t.Decode("I-PER E-PER", kStrict), "");
  EXPECT_EQ(t.Decode("E-PER S-ORG", kStrict), "ORG[1,2)");
  // Adjacent spans of one type.
  EXPECT_EQ(t.Decode("S-PER S-PER B-PER E-PER", kStrict), "PER[0,1) PER[1,2) PER[2,4)");
}

TEST(DecodeTags, BioesConlleval) {
  const Tags t = Tags::Full(TaggingSchema::kBIOES);
  EXPECT_EQ(t.Decode("S-PER B-LOC I-LOC E-LOC O", kConlleval), "PER[0,1) LOC[1,4)");
  // Unterminated chunks still count, and I/E open a chunk after O or another type.
  EXPECT_EQ(t.Decode("B-PER I-PER O S-LOC", kConlleval), "PER[0,2) LOC[3,4)");
  EXPECT_EQ(t.Decode("O B-PER I-PER", kConlleval), "PER[1,3)");
  EXPECT_EQ(t.Decode("I-PER E-PER", kConlleval), "PER[0,2)");
  EXPECT_EQ(t.Decode("B-PER I-PER E-LOC", kConlleval), "PER[0,2) LOC[2,3)");
  // A chunk ends after E and S; what follows opens the next one.
  EXPECT_EQ(t.Decode("E-PER E-PER", kConlleval), "PER[0,1) PER[1,2)");
  EXPECT_EQ(t.Decode("S-PER I-PER", kConlleval), "PER[0,1) PER[1,2)");
  EXPECT_EQ(t.Decode("B-PER E-PER I-PER", kConlleval), "PER[0,2) PER[2,3)");
  // S cuts an open chunk.
  EXPECT_EQ(t.Decode("B-PER S-PER E-PER", kConlleval), "PER[0,1) PER[1,2) PER[2,3)");
}

TEST(DecodeTags, BilouStrictAndConlleval) {
  const Tags t = Tags::Full(TaggingSchema::kBILOU);
  EXPECT_EQ(t.Decode("U-PER B-LOC I-LOC L-LOC O", kStrict), "PER[0,1) LOC[1,4)");
  EXPECT_EQ(t.Decode("U-PER U-PER B-ORG L-ORG", kStrict), "PER[0,1) PER[1,2) ORG[2,4)");
  EXPECT_EQ(t.Decode("B-LOC I-LOC O U-ORG", kStrict), "ORG[3,4)");  // unterminated LOC
  EXPECT_EQ(t.Decode("B-LOC I-LOC L-PER", kStrict), "");            // type change
  EXPECT_EQ(t.Decode("I-LOC L-LOC", kStrict), "");                  // no B
  EXPECT_EQ(t.Decode("B-LOC I-LOC O U-ORG", kConlleval), "LOC[0,2) ORG[3,4)");
  EXPECT_EQ(t.Decode("I-LOC L-LOC", kConlleval), "LOC[0,2)");
  EXPECT_EQ(t.Decode("B-LOC I-LOC L-PER", kConlleval), "LOC[0,2) PER[2,3)");
}

TEST(DecodeTags, PartialListsDecode) {
  // A list without some prefixes decodes what it has.
  const Tags t(Words("O S-LOC B-PER I-PER E-PER"), TaggingSchema::kBIOES);
  EXPECT_EQ(t.Decode("S-LOC B-PER E-PER S-LOC", kStrict), "LOC[0,1) PER[1,3) LOC[3,4)");
}

// ---- EncodeSpans ----

TEST(EncodeSpans, EachSchemaAndRoundTrip) {
  struct Case {
    TaggingSchema schema;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {TaggingSchema::kBIO, "B-PER B-LOC I-LOC I-LOC O B-PER I-PER B-LOC O"},
      {TaggingSchema::kBIOES, "S-PER B-LOC I-LOC E-LOC O B-PER E-PER S-LOC O"},
      {TaggingSchema::kBILOU, "U-PER B-LOC I-LOC L-LOC O B-PER L-PER U-LOC O"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(TaggingSchemaName(c.schema)));
    const Tags t = Tags::Full(c.schema);
    const int32_t loc = t.Type("LOC"), per = t.Type("PER");
    // Given out of order; decoding gives them back sorted.
    const std::vector<TokenSpan> spans = {{5, 7, per}, {0, 1, per}, {7, 8, loc}, {1, 4, loc}};
    ASSERT_OK_AND_ASSIGN(std::vector<int32_t> ids, EncodeSpans(t.set(), spans, 9));
    EXPECT_EQ(t.Names(ids), c.expected);
    std::vector<TokenSpan> sorted = spans;
    std::sort(sorted.begin(), sorted.end(),
              [](const TokenSpan& a, const TokenSpan& b) { return a.begin < b.begin; });
    EXPECT_EQ(DecodeTags(t.set(), ids, kStrict), sorted);
    // A well-formed sequence decodes the same in both modes.
    EXPECT_EQ(DecodeTags(t.set(), ids, kConlleval), sorted);
  }
}

TEST(EncodeSpans, NoSpansIsAllO) {
  const Tags t = Tags::Full(TaggingSchema::kBIO);
  ASSERT_OK_AND_ASSIGN(std::vector<int32_t> ids, EncodeSpans(t.set(), {}, 3));
  EXPECT_EQ(t.Names(ids), "O O O");
  ASSERT_OK_AND_ASSIGN(ids, EncodeSpans(t.set(), {}, 0));
  EXPECT_TRUE(ids.empty());
}

TEST(EncodeSpans, RandomRoundTrips) {
  std::mt19937 rng(7);
  for (TaggingSchema schema : {TaggingSchema::kBIO, TaggingSchema::kBIOES, TaggingSchema::kBILOU}) {
    SCOPED_TRACE(std::string(TaggingSchemaName(schema)));
    const Tags t = Tags::Full(schema);
    for (int trial = 0; trial < 500; ++trial) {
      // Disjoint spans, possibly adjacent, of random types and lengths 1-4.
      const int32_t n = static_cast<int32_t>(rng() % 30);
      std::vector<TokenSpan> spans;
      for (int32_t pos = static_cast<int32_t>(rng() % 3); pos < n;) {
        const int32_t len = 1 + static_cast<int32_t>(rng() % 4);
        if (pos + len > n) break;
        spans.push_back({pos, pos + len, static_cast<int32_t>(rng() % 3)});
        pos += len + static_cast<int32_t>(rng() % 3);
      }
      ASSERT_OK_AND_ASSIGN(std::vector<int32_t> ids, EncodeSpans(t.set(), spans, n));
      ASSERT_EQ(static_cast<int32_t>(ids.size()), n);
      ASSERT_EQ(DecodeTags(t.set(), ids, kStrict), spans) << t.Names(ids);
      ASSERT_EQ(DecodeTags(t.set(), ids, kConlleval), spans) << t.Names(ids);
    }
  }
}

TEST(EncodeSpans, NamesAMissingTag) {
  // BILOU list without U-LOC: a one-token LOC span cannot be written.
  const Tags bilou(Words("O B-PER I-PER L-PER U-PER B-LOC I-LOC L-LOC"), TaggingSchema::kBILOU);
  const int32_t loc = bilou.Type("LOC");
  EXPECT_OK(EncodeSpans(bilou.set(), {{0, 2, loc}}, 3));
  auto r = EncodeSpans(bilou.set(), {{1, 2, loc}}, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'U-LOC'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("[1, 2)"), std::string::npos) << r.status().message();

  // BIO list without I-LOC: only one-token LOC spans can be written.
  const Tags bio(Words("O B-LOC B-PER I-PER"), TaggingSchema::kBIO);
  EXPECT_OK(EncodeSpans(bio.set(), {{0, 1, bio.Type("LOC")}}, 2));
  r = EncodeSpans(bio.set(), {{0, 2, bio.Type("LOC")}}, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'I-LOC'"), std::string::npos) << r.status().message();
}

TEST(EncodeSpans, RejectsBadSpans) {
  const Tags t = Tags::Full(TaggingSchema::kBIOES);
  auto expect_error = [&](const std::vector<TokenSpan>& spans, int32_t n, const std::string& part) {
    auto r = EncodeSpans(t.set(), spans, n);
    ASSERT_FALSE(r.ok()) << part;
    EXPECT_TRUE(r.status().IsInvalid());
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
  };
  expect_error({{0, 2, 0}, {1, 3, 1}}, 4, "[0, 2) and [1, 3) overlap");
  expect_error({{2, 4, 0}, {0, 3, 1}}, 4, "[0, 3) and [2, 4) overlap");
  expect_error({{2, 2, 0}}, 4, "[2, 2) is empty or outside the 4 tokens");
  expect_error({{3, 5, 0}}, 4, "[3, 5) is empty or outside");
  expect_error({{-1, 1, 0}}, 4, "[-1, 1)");
  expect_error({{0, 1, 3}}, 4, "type index 3; expected 0 to 2");
  expect_error({{0, 1, -1}}, 4, "type index -1");
}

}  // namespace
}  // namespace sextant::ner
