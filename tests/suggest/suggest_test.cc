#include "sextant/suggest.h"

#include <algorithm>
#include <map>
#include <set>

#include "suggest_run.h"
#include "testing.h"

namespace sextant::suggest {
namespace {

using sextant::testing::TempDir;

class SuggestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    testing::MakeSuggestRun(dir_->path());
    auto r = RunReader::Open(dir_->path(), "p", "r");
    ASSERT_OK(r.status());
    reader_ = std::move(r).value().release();
  }
  static void TearDownTestSuite() {
    delete reader_;
    delete dir_;
  }

  static SuggestOptions Options(const std::string& strategy, int64_t budget) {
    SuggestOptions o;
    o.split = SplitKey::Make(Split::kInference, "prod").value();
    o.strategy = strategy;
    o.budget = budget;
    return o;
  }
  static SuggestResult Run(const SuggestOptions& o) {
    auto r = Suggest(*reader_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : SuggestResult{};
  }
  static std::vector<std::string> Ids(const SuggestResult& r) {
    std::vector<std::string> ids;
    for (const Suggestion& s : r.suggestions) ids.push_back(s.id);
    return ids;
  }
  static int CountPrefix(const SuggestResult& r, const std::string& prefix) {
    int n = 0;
    for (const Suggestion& s : r.suggestions) n += s.id.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
  }
  static std::map<std::string, SampleRow> Rows() {
    SampleQuery q;
    q.split = SplitKey::Make(Split::kInference, "prod").value();
    std::map<std::string, SampleRow> out;
    auto rows = reader_->Samples(q);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (!rows.ok()) return out;
    for (SampleRow& r : *rows) out[r.id] = r;
    return out;
  }

  static TempDir* dir_;
  static RunReader* reader_;
};

TempDir* SuggestTest::dir_ = nullptr;
RunReader* SuggestTest::reader_ = nullptr;

TEST_F(SuggestTest, EveryStrategyReturnsTheBudgetRankedWithReasonsAndScores) {
  for (const std::string& s : StrategyNames()) {
    SCOPED_TRACE(s);
    SuggestResult r = Run(Options(s, 12));
    EXPECT_EQ(r.strategy, s);
    EXPECT_EQ(r.pool, 227);
    EXPECT_EQ(r.excluded_duplicates, 2);  // dup_train, and one of the twins
    ASSERT_EQ(r.suggestions.size(), 12u);
    std::set<std::string> unique;
    for (size_t i = 0; i < r.suggestions.size(); ++i) {
      const Suggestion& g = r.suggestions[i];
      EXPECT_EQ(g.rank, static_cast<int32_t>(i + 1));
      EXPECT_FALSE(g.reasons.empty());
      EXPECT_TRUE(g.scores.count("uncertainty"));
      EXPECT_TRUE(g.scores.count("drift"));
      EXPECT_TRUE(g.scores.count("novelty"));
      for (const auto& [name, v] : g.scores) {
        EXPECT_GE(v, 0) << name;
        EXPECT_LE(v, 1) << name;
      }
      unique.insert(g.id);
    }
    EXPECT_EQ(unique.size(), 12u);
  }
}

TEST_F(SuggestTest, UncertaintyPicksTheLowestMargins) {
  SuggestResult r = Run(Options("uncertainty", 15));
  // The tight cluster (0.01..0.045), then unc_0..unc_6 (0.05..0.08): never
  // dup_train, the lowest of all (0.001), which training already has.
  std::vector<std::string> expected;
  for (int i = 0; i < 8; ++i) expected.push_back("dupc_" + std::to_string(i));
  for (int i = 0; i < 7; ++i) expected.push_back("unc_" + std::to_string(i));
  EXPECT_EQ(Ids(r), expected);
  EXPECT_EQ(r.suggestions[0].reasons[0].rfind("uncertain: margin 0.01, lower than", 0), 0u)
      << r.suggestions[0].reasons[0];
  EXPECT_NEAR(r.suggestions[0].scores.at("uncertainty"), 0.99, 1e-6);
}

TEST_F(SuggestTest, OnlyDriftDiverseAndDefaultCoverANewCluster) {
  // "new_*" lie far from training (and are confident).
  // drift takes the top of both shift tests in turn: the k-NN distance finds
  // the cluster, the set-level shift score (which six samples barely move)
  // ranks others, so twice the cluster's size holds all of it.
  SuggestResult drift = Run(Options("drift", 12));
  EXPECT_EQ(CountPrefix(drift, "new_"), 6);
  for (const Suggestion& g : drift.suggestions) {
    if (g.id.rfind("new_", 0) != 0) continue;
    EXPECT_EQ(g.reasons[0].rfind("drifted: drift score 1.00", 0), 0u) << g.reasons[0];
  }
  const SuggestResult by_default = Run(Options("default", 20));
  EXPECT_GE(CountPrefix(by_default, "new_"), 1) << ::testing::PrintToString(Ids(by_default));
  const SuggestResult diverse = Run(Options("diverse", 20));
  EXPECT_GE(CountPrefix(diverse, "new_"), 1) << ::testing::PrintToString(Ids(diverse));
  EXPECT_EQ(CountPrefix(Run(Options("uncertainty", 20)), "new_"), 0);
}

TEST_F(SuggestTest, DiverseAndDefaultDoNotPickATightClusterTwice) {
  // Uncertainty takes the whole cluster (its margins are the lowest)...
  EXPECT_EQ(CountPrefix(Run(Options("uncertainty", 20)), "dupc_"), 8);
  // ... diversity-aware strategies one of it at most.
  EXPECT_LE(CountPrefix(Run(Options("diverse", 30)), "dupc_"), 1);
  EXPECT_LE(CountPrefix(Run(Options("default", 30)), "dupc_"), 1);
}

TEST_F(SuggestTest, NeverSuggestsADuplicateOfTrainingNorTwoDuplicatesOfEachOther) {
  for (const std::string& s : StrategyNames()) {
    SCOPED_TRACE(s);
    SuggestResult r = Run(Options(s, 1000));  // more than the pool
    const std::vector<std::string> ids = Ids(r);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), "dup_train"), 0);
    EXPECT_EQ(CountPrefix(r, "twin_"), 1);
    EXPECT_EQ(r.suggestions.size(), 225u);  // the pool less the 2 duplicates
    EXPECT_EQ(r.excluded_duplicates, 2);
  }
}

TEST_F(SuggestTest, TheDuplicateThresholdIsReported) {
  // min(1e-3, 0.005 x the median distance to training, ~0.08 here).
  const double d = Run(Options("default", 5)).duplicate_distance;
  EXPECT_GT(d, 1e-4);
  EXPECT_LE(d, kDuplicateDistance);
}

// A model whose embeddings share one dominant direction: every sample is
// within 1e-3 of its nearest training sample, yet only the copy is a duplicate.
TEST(SuggestConcentratedTest, ScalesTheDuplicateThresholdAndComparesTexts) {
  TempDir dir;
  auto client = Client::Init({.root = dir.path(), .project = "p", .run = "c"});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"neg", "pos"}));
  testing::Gaussian g(3);
  auto embedding = [&](int c) {
    std::vector<float> e = testing::Around(c, testing::kSpread, &g);
    e[31] = 20.0f;  // the shared direction
    return e;
  };
  testing::Batch train, prod;
  std::vector<float> first;
  for (int i = 0; i < 100; ++i) {
    std::vector<float> e = embedding(i % 2);
    if (i == 0) first = e;
    train.Add("t" + std::to_string(i), e, i % 2, 0.8, i % 2);
  }
  for (int i = 0; i < 40; ++i) prod.Add("p" + std::to_string(i), embedding(i % 2), i % 2, 0.5);
  prod.Add("copy", first, 0, 0.5);
  // The same text is a duplicate whatever the embedding: of training, and of
  // each other (one of the two is kept).
  prod.Add("same_text", embedding(1), 1, 0.5, -1, "  text of t5\n");
  prod.Add("echo_a", embedding(0), 0, 0.5, -1, "an echo");
  prod.Add("echo_b", embedding(1), 1, 0.5, -1, "an echo");
  testing::Log(client->get(), train, SplitKey::Make(Split::kTraining).value());
  testing::Log(client->get(), prod, SplitKey::Make(Split::kInference, "prod").value());
  ASSERT_OK((*client)->Finish({}).status());
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir.path(), "p", "c"));
  SuggestOptions o;
  o.split = SplitKey::Make(Split::kInference, "prod").value();
  o.budget = 100;
  ASSERT_OK_AND_ASSIGN(SuggestResult r, Suggest(*reader, o));
  EXPECT_EQ(r.pool, 44);
  EXPECT_EQ(r.excluded_duplicates, 3);  // copy, same_text, echo_b
  EXPECT_LT(r.duplicate_distance, 1e-5);
  ASSERT_EQ(r.suggestions.size(), 41u);
  std::set<std::string> ids;
  for (const Suggestion& s : r.suggestions) ids.insert(s.id);
  EXPECT_FALSE(ids.count("copy"));
  EXPECT_FALSE(ids.count("same_text"));
  EXPECT_TRUE(ids.count("echo_a"));
  EXPECT_FALSE(ids.count("echo_b"));
}

// A run with an inference set only: no training to compare with, no drift
// scores. The default and diverse still pick (diversity among the picks);
// drift says what is missing.
TEST(SuggestWithoutTrainingTest, PicksWithoutCoverageAndDriftNeedsScores) {
  TempDir dir;
  auto client = Client::Init({.root = dir.path(), .project = "p", .run = "alone"});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"neg", "pos"}));
  testing::Gaussian g(5);
  testing::Batch prod;
  for (int i = 0; i < 30; ++i) {
    prod.Add("p" + std::to_string(i), testing::Around(i % 2, testing::kSpread, &g), i % 2,
             0.1 + 0.02 * i);
  }
  testing::Log(client->get(), prod, SplitKey::Make(Split::kInference, "prod").value());
  ASSERT_OK((*client)->Finish({}).status());
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir.path(), "p", "alone"));
  SuggestOptions o;
  o.split = SplitKey::Make(Split::kInference, "prod").value();
  o.budget = 6;
  for (const std::string strategy : {"default", "diverse", "uncertainty", "random"}) {
    SCOPED_TRACE(strategy);
    o.strategy = strategy;
    ASSERT_OK_AND_ASSIGN(SuggestResult r, Suggest(*reader, o));
    EXPECT_EQ(r.suggestions.size(), 6u);
    EXPECT_EQ(r.excluded_duplicates, 0);
    for (const Suggestion& s : r.suggestions) {
      EXPECT_FALSE(s.reasons.empty());
      EXPECT_FALSE(s.scores.count("novelty"));  // no training to be far from
    }
  }
  // Both classes among the diverse picks: they lie on two axes.
  o.strategy = "diverse";
  ASSERT_OK_AND_ASSIGN(SuggestResult diverse, Suggest(*reader, o));
  std::set<int> parity;
  for (const Suggestion& s : diverse.suggestions) parity.insert(std::stoi(s.id.substr(1)) % 2);
  EXPECT_EQ(parity.size(), 2u);
  o.strategy = "drift";
  EXPECT_STATUS(Suggest(*reader, o), kFailedPrecondition, "drift", "inference:prod");
}

TEST_F(SuggestTest, DiverseReasonsAreDistances) {
  SuggestResult r = Run(Options("diverse", 3));
  ASSERT_EQ(r.suggestions.size(), 3u);
  // The first pick is the farthest from training: a new_ sample.
  EXPECT_EQ(r.suggestions[0].id.rfind("new_", 0), 0u);
  EXPECT_EQ(r.suggestions[0].reasons[0].rfind("novel: far from training and from the other picks "
                                              "(distance ",
                                              0),
            0u)
      << r.suggestions[0].reasons[0];
  EXPECT_GE(r.suggestions[0].score, r.suggestions[1].score);
}

TEST_F(SuggestTest, DefaultReasonsNameTheirComponents) {
  SuggestResult r = Run(Options("default", 30));
  bool uncertain = false, drifted = false;
  for (const Suggestion& s : r.suggestions) {
    for (const std::string& reason : s.reasons) {
      uncertain = uncertain || reason.rfind("uncertain: ", 0) == 0;
      drifted = drifted || reason.rfind("drifted: ", 0) == 0 || reason.rfind("novel: ", 0) == 0;
    }
  }
  EXPECT_TRUE(uncertain);
  EXPECT_TRUE(drifted);
}

TEST_F(SuggestTest, ClassFilterKeepsOnlyThatPrediction) {
  SuggestOptions o = Options("default", 10);
  o.class_name = "pos";
  SuggestResult r = Run(o);
  EXPECT_EQ(r.pool, 57);
  EXPECT_EQ(r.excluded_duplicates, 1);  // a twin
  const auto rows = Rows();
  ASSERT_EQ(r.suggestions.size(), 10u);
  for (const Suggestion& s : r.suggestions) EXPECT_EQ(rows.at(s.id).pred, "pos") << s.id;
}

TEST_F(SuggestTest, PerClassQuotasFollowThePredictedShares) {
  // Candidates: 169 neg, 56 pos: 10 splits 8 / 2 (75% / 25%).
  const auto rows = Rows();
  for (const std::string& s : StrategyNames()) {
    SCOPED_TRACE(s);
    SuggestOptions o = Options(s, 10);
    o.per_class = true;
    SuggestResult r = Run(o);
    std::map<std::string, int> per;
    for (const Suggestion& g : r.suggestions) ++per[rows.at(g.id).pred];
    EXPECT_EQ(per["neg"], 8);
    EXPECT_EQ(per["pos"], 2);
  }
  // Fewer than the classes' minimum of one each: the largest class first.
  SuggestOptions o = Options("uncertainty", 1);
  o.per_class = true;
  SuggestResult r = Run(o);
  ASSERT_EQ(r.suggestions.size(), 1u);
  EXPECT_EQ(rows.at(r.suggestions[0].id).pred, "neg");
  // Uncertainty without quotas: 10 picks, all neg (the cluster's margins lead).
  int pos = 0;
  for (const Suggestion& g : Run(Options("uncertainty", 10)).suggestions) {
    pos += rows.at(g.id).pred == "pos" ? 1 : 0;
  }
  EXPECT_EQ(pos, 1);  // unc_1 is the only pos among the 10 lowest margins
}

TEST_F(SuggestTest, RandomIsReproducibleForASeed) {
  SuggestOptions o = Options("random", 20);
  o.seed = 42;
  const auto a = Ids(Run(o)), b = Ids(Run(o));
  EXPECT_EQ(a, b);
  o.seed = 43;
  EXPECT_NE(Ids(Run(o)), a);
  EXPECT_EQ(Run(o).suggestions[0].reasons[0], "random: drawn at random (seed 43)");
}

TEST_F(SuggestTest, BadOptionsNameTheField) {
  EXPECT_STATUS(Suggest(*reader_, Options("entropy", 5)), kInvalidArgument, "strategy", "'entropy'",
                "default, random, uncertainty, drift, diverse");
  EXPECT_STATUS(Suggest(*reader_, Options("default", 0)), kInvalidArgument, "budget");
  SuggestOptions o = Options("default", 5);
  o.class_name = "maybe";
  EXPECT_STATUS(Suggest(*reader_, o), kInvalidArgument, "class", "'maybe'", "neg, pos");
  o = Options("default", 5);
  o.split = SplitKey::Make(Split::kTraining).value();
  EXPECT_STATUS(Suggest(*reader_, o), kInvalidArgument, "split", "already labeled");
  o.split = SplitKey::Make(Split::kInference, "nope").value();
  EXPECT_STATUS(Suggest(*reader_, o), kNotFound, "split", "inference:nope");
  o = Options("default", 5);
  o.weights.uncertainty = -1;
  EXPECT_STATUS(Suggest(*reader_, o), kInvalidArgument, "weights");
}

TEST_F(SuggestTest, ValidationSplitWorksAsAPool) {
  SuggestOptions o = Options("default", 5);
  o.split = SplitKey::Make(Split::kValidation).value();
  SuggestResult r = Run(o);
  EXPECT_EQ(r.pool, 100);
  EXPECT_EQ(r.suggestions.size(), 5u);
}

}  // namespace
}  // namespace sextant::suggest
