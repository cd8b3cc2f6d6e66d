// The conlleval convention on real data: the CoNLL-2000 chunking example output
// ($SEXTANT_DATA/conll2000_chunking_example, see its PROVENANCE.md), whose
// conlleval.pl figures are published. Decoded in conlleval mode, Sextant's span
// scores must reproduce them to the printed digit.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "ner/spans.h"
#include "ner/tags.h"
#include "ner_testing.h"
#include "testing.h"

namespace sextant::ner {
namespace {

using testing::AsLabeled;

struct Sentence {
  std::vector<std::string> gold, pred;
};

std::filesystem::path DataDir() {
  const char* env = std::getenv("SEXTANT_DATA");
  if (env != nullptr && *env != '\0') return env;
  return SEXTANT_DEFAULT_DATA;
}

// `word POS gold pred` per line, a blank line between sentences.
std::vector<Sentence> ReadConll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<Sentence> sentences(1);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string word, pos, gold, pred;
    if (!(fields >> word)) {
      if (!sentences.back().gold.empty()) sentences.emplace_back();
      continue;
    }
    fields >> pos >> gold >> pred;
    EXPECT_FALSE(pred.empty()) << "malformed line: " << line;
    sentences.back().gold.push_back(gold);
    sentences.back().pred.push_back(pred);
  }
  if (sentences.back().gold.empty()) sentences.pop_back();
  return sentences;
}

// conlleval.pl prints percentages with two decimals.
std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100 * fraction);
  return buf;
}

class Conll2000 : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::filesystem::path path = DataDir() / "conll2000_chunking_example" / "output.txt";
    if (!std::filesystem::exists(path)) {
      GTEST_SKIP() << "real data absent: " << path << " not found (set SEXTANT_DATA)";
    }
    sentences_ = ReadConll(path);
    // The tag list is every tag the file uses, under BIO (the file is IOB1/IOB2).
    std::set<std::string> names = {"O"};
    for (const Sentence& s : sentences_) {
      names.insert(s.gold.begin(), s.gold.end());
      names.insert(s.pred.begin(), s.pred.end());
    }
    tag_names_.assign(names.begin(), names.end());
    auto tags = ParseTagList(tag_names_, TaggingSchema::kBIO);
    ASSERT_TRUE(tags.ok()) << tags.status().ToString();
    tags_ = std::move(tags).value();
  }

  std::vector<int32_t> Ids(const std::vector<std::string>& seq) const {
    std::vector<int32_t> ids;
    for (const std::string& tag : seq) {
      ids.push_back(static_cast<int32_t>(
          std::lower_bound(tag_names_.begin(), tag_names_.end(), tag) - tag_names_.begin()));
    }
    return ids;
  }

  SpanScores Score(DecodeMode mode) const {
    SpanScores scores(tags_.entity_types.size());
    for (const Sentence& s : sentences_) {
      scores.Add(AsLabeled(DecodeTags(tags_, Ids(s.gold), mode)),
                 AsLabeled(DecodeTags(tags_, Ids(s.pred), mode)));
    }
    return scores;
  }

  const SpanCounts& Type(const SpanScores& scores, const std::string& name) const {
    const int32_t t = tags_.TypeIndex(name);
    EXPECT_GE(t, 0) << name;
    return scores.per_type.at(static_cast<size_t>(t));
  }

  std::vector<Sentence> sentences_;
  std::vector<std::string> tag_names_;  // sorted
  TagSet tags_;
};

TEST_F(Conll2000, FileAsPublished) {
  // 961 tokens; accuracy 84.08% (tokens whose predicted tag equals the gold tag).
  int64_t tokens = 0, same = 0;
  for (const Sentence& s : sentences_) {
    for (size_t i = 0; i < s.gold.size(); ++i) same += s.gold[i] == s.pred[i];
    tokens += static_cast<int64_t>(s.gold.size());
  }
  EXPECT_EQ(tokens, 961);
  EXPECT_EQ(Percent(static_cast<double>(same) / tokens), "84.08");
  EXPECT_EQ(tags_.entity_types,
            (std::vector<std::string>{"ADJP", "ADVP", "NP", "PP", "SBAR", "VP"}));
}

TEST_F(Conll2000, ConllevalModeReproducesThePublishedFigures) {
  const SpanScores scores = Score(DecodeMode::kConlleval);
  // "found: 539 phrases; correct: 371", 459 phrases in the gold data.
  EXPECT_EQ(scores.overall, (SpanCounts{459, 539, 371}));
  const Prf all = ner::Score(scores.overall);
  EXPECT_EQ(Percent(all.precision), "68.83");
  EXPECT_EQ(Percent(all.recall), "80.83");
  EXPECT_EQ(Percent(all.f1), "74.35");

  struct Published {
    const char* type;
    const char* precision;
    const char* recall;
    const char* f1;
    int64_t found;
  };
  const Published published[] = {
      {"ADJP", "0.00", "0.00", "0.00", 1},    {"ADVP", "45.45", "62.50", "52.63", 11},
      {"NP", "64.98", "78.63", "71.16", 317}, {"PP", "83.18", "98.89", "90.36", 107},
      {"SBAR", "66.67", "33.33", "44.44", 3}, {"VP", "69.00", "79.31", "73.80", 100},
  };
  for (const Published& p : published) {
    SCOPED_TRACE(p.type);
    const SpanCounts& c = Type(scores, p.type);
    EXPECT_EQ(c.pred, p.found);
    const Prf s = ner::Score(c);
    EXPECT_EQ(Percent(s.precision), p.precision);
    EXPECT_EQ(Percent(s.recall), p.recall);
    EXPECT_EQ(Percent(s.f1), p.f1);
  }
}

TEST_F(Conll2000, StrictModeGivesOtherFigures) {
  const SpanScores conll = Score(DecodeMode::kConlleval);
  const SpanScores strict = Score(DecodeMode::kStrict);
  // Strict decoding drops the chunks that IOB1 predictions open with I-X.
  EXPECT_LE(strict.overall.pred, conll.overall.pred);
  EXPECT_NE(strict.overall, conll.overall);
  // Gold is IOB2 and keeps its 459 chunks; 84 predicted chunks opened by a
  // stray I-X are dropped (539 -> 455), 49 of them correct (371 -> 322).
  EXPECT_EQ(strict.overall, (SpanCounts{459, 455, 322}));
  const Prf all = ner::Score(strict.overall);
  EXPECT_EQ(Percent(all.precision), "70.77");  // 322 / 455
  EXPECT_EQ(Percent(all.recall), "70.15");     // 322 / 459
  EXPECT_EQ(Percent(all.f1), "70.46");
  // Per type (found / correct): ADJP 0 / 0, NP 249 / 159, VP 85 / 67; ADVP, PP
  // and SBAR are as in conlleval mode (11 / 5, 107 / 89, 3 / 2).
  EXPECT_EQ(Type(strict, "ADJP"), (SpanCounts{6, 0, 0}));
  EXPECT_EQ(Type(strict, "ADVP"), (SpanCounts{8, 11, 5}));
  EXPECT_EQ(Type(strict, "NP"), (SpanCounts{262, 249, 159}));
  EXPECT_EQ(Type(strict, "PP"), (SpanCounts{90, 107, 89}));
  EXPECT_EQ(Type(strict, "SBAR"), (SpanCounts{6, 3, 2}));
  EXPECT_EQ(Type(strict, "VP"), (SpanCounts{87, 85, 67}));
}

}  // namespace
}  // namespace sextant::ner
