// The query layer over a run logged and finished through the client.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/request_budget.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

constexpr int64_t kDim = 4;
constexpr int kTrain = 20, kVal = 6, kProd = 8;

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}
const SplitKey kTraining = Key(Split::kTraining);
const SplitKey kValidation = Key(Split::kValidation);
const SplitKey kProdKey = Key(Split::kInference, "prod");

void ExpectHas(const Status& st, StatusCode code, std::initializer_list<std::string> parts) {
  EXPECT_EQ(st.code(), code) << st.ToString();
  for (const std::string& part : parts) {
    EXPECT_NE(st.message().find(part), std::string::npos)
        << "expected '" << part << "' in: " << st.message();
  }
}

DataBatch Labeled(const std::vector<std::string>& ids, const std::vector<std::string>& labels) {
  DataBatch b;
  b.ids = ids;
  b.texts.assign(ids.size(), "text");
  b.labels = labels;
  return b;
}

// What the test logged, kept to compute expected answers by brute force.
struct Logged {
  std::map<SplitKey, std::vector<std::string>> ids;
  std::map<SplitKey, std::vector<float>> emb;     // last epoch, rows x kDim
  std::map<SplitKey, std::vector<float>> logits;  // last epoch, rows x 2
};

// Training: t0..t9 gold neg near e0, t10..t19 gold pos near e1; logits (2, 0) or (0, 2),
// except t3 (gold neg, predicted pos) and t4 (logits (0.1, 0): on the boundary).
// Two epochs; epoch 0 has unrelated embeddings. Validation near the clusters; inference
// "prod": i0..i3 at the cluster centres, i4..i7 along e2 and e3, far from training.
class RunReaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    logged_ = new Logged();
    std::mt19937 rng(3);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    ASSERT_OK_AND_ASSIGN(auto client,
                         Client::Init({.root = dir_->path(), .project = "p", .run = "r"}));
    ASSERT_OK(client->SetLabelsForRun({"neg", "pos"}));

    auto log = [&](const SplitKey& key, const std::string& prefix, int n,
                   const std::function<std::vector<float>(int)>& emb,
                   const std::function<std::vector<float>(int)>& logits,
                   const std::vector<int32_t>& gold, const std::vector<std::string>& texts) {
      DataBatch data;
      for (int i = 0; i < n; ++i) data.ids.push_back(prefix + std::to_string(i));
      data.texts = texts;
      data.label_indices = gold;
      if (key == kTraining) {
        MetaColumn source{"source", {}};
        for (int i = 0; i < n; ++i) source.values.push_back(i % 2 ? "web" : "app");
        data.meta.push_back(source);
      }
      ASSERT_OK(client->LogDataSamples(data, key));
      const int epochs = key == kTraining ? 2 : 1;
      for (int epoch = 0; epoch < epochs; ++epoch) {
        std::vector<float> e, l;
        for (int i = 0; i < n; ++i) {
          std::vector<float> row = emb(i);
          if (epoch + 1 < epochs) {  // an earlier epoch: unrelated embeddings and logits
            for (float& v : row) v = noise(rng) * 20;
          }
          e.insert(e.end(), row.begin(), row.end());
          std::vector<float> z = epoch + 1 < epochs ? std::vector<float>{0, 0} : logits(i);
          l.insert(l.end(), z.begin(), z.end());
        }
        OutputsBatch b;
        b.ids = data.ids;
        b.embeddings = {e.data(), n, kDim};
        b.logits = {l.data(), n, 2};
        ASSERT_OK(client->LogModelOutputs(b, key, epoch));
        logged_->emb[key] = e;
        logged_->logits[key] = l;
      }
      logged_->ids[key] = data.ids;
    };
    auto around = [&](int axis) {
      std::vector<float> v(kDim);
      for (float& x : v) x = noise(rng);
      v[axis] += 1.0f;
      return v;
    };

    std::vector<int32_t> gold;
    std::vector<std::string> texts;
    for (int i = 0; i < kTrain; ++i) {
      gold.push_back(i < 10 ? 0 : 1);
      texts.push_back(i == 0   ? "A GREAT film"
                      : i == 1 ? "great plot"
                      : i == 2 ? "terrible"
                               : "sample " + std::to_string(i));
    }
    log(
        kTraining, "t", kTrain, [&](int i) { return around(i < 10 ? 0 : 1); },
        [](int i) -> std::vector<float> {
          if (i == 3) return {0, 2};
          if (i == 4) return {0.1f, 0};
          return i < 10 ? std::vector<float>{2, 0} : std::vector<float>{0, 2};
        },
        gold, texts);
    if (HasFatalFailure()) return;
    log(
        kValidation, "v", kVal, [&](int i) { return around(i % 2); },
        [](int i) {
          return i % 2 ? std::vector<float>{0, 1.5f} : std::vector<float>{1.5f, 0};
        },
        {0, 1, 0, 1, 1, 1}, std::vector<std::string>(kVal, "validation text"));
    if (HasFatalFailure()) return;
    log(
        kProdKey, "i", kProd,
        [&](int i) {
          std::vector<float> v(kDim, 0.0f);
          v[i < 4 ? i % 2 : 2 + i % 2] = 1.0f;
          v[i < 4 ? 2 : 0] = 0.01f * static_cast<float>(i + 1);  // no exact ties
          return v;
        },
        [](int i) {
          return std::vector<float>{0.3f * static_cast<float>(i), 0};
        },
        {}, std::vector<std::string>(kProd, "production text"));
    if (HasFatalFailure()) return;
    ProcessingOptions options;
    options.drift_k = 3;
    ASSERT_OK(client->Finish(options));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete logged_;
  }

  void SetUp() override { ASSERT_OK_AND_ASSIGN(reader_, RunReader::Open(dir_->path(), "p", "r")); }

  Result<std::vector<SampleRow>> Query(SampleQuery q) { return reader_->Samples(q); }
  static std::vector<std::string> IdsOf(const std::vector<SampleRow>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.id);
    return out;
  }
  static SampleQuery On(const SplitKey& split) {
    SampleQuery q;
    q.split = split;
    return q;
  }

  static TempDir* dir_;
  static Logged* logged_;
  std::unique_ptr<RunReader> reader_;
};

TempDir* RunReaderTest::dir_ = nullptr;
Logged* RunReaderTest::logged_ = nullptr;

TEST_F(RunReaderTest, ReturnsEverySampleInRowOrderWithItsFields) {
  ASSERT_OK_AND_ASSIGN(auto rows, Query(On(kTraining)));
  ASSERT_EQ(rows.size(), static_cast<size_t>(kTrain));
  for (int i = 0; i < kTrain; ++i) {
    EXPECT_EQ(rows[i].row, i);
    EXPECT_EQ(rows[i].id, "t" + std::to_string(i));
    EXPECT_EQ(rows[i].split, kTraining);
    EXPECT_EQ(rows[i].epoch, 1);
    EXPECT_TRUE(rows[i].probs.empty());  // only with include_probs
  }
  EXPECT_EQ(rows[0].text, "A GREAT film");
  EXPECT_EQ(rows[0].meta_json, R"({"source":"app"})");
  EXPECT_EQ(rows[1].meta_json, R"({"source":"web"})");
  EXPECT_EQ(*rows[3].gold, "neg");
  EXPECT_EQ(rows[3].pred, "pos");
  EXPECT_EQ(*rows[3].is_correct, false);
  EXPECT_FALSE(rows[0].drift_distance.has_value());
  ASSERT_OK_AND_ASSIGN(auto prod, Query(On(kProdKey)));
  EXPECT_FALSE(prod[0].gold.has_value());
  EXPECT_FALSE(prod[0].is_correct.has_value());
  EXPECT_FALSE(prod[0].dep.has_value());
  EXPECT_TRUE(prod[0].drift_distance.has_value());
  EXPECT_EQ(prod[0].meta_json, "{}");
  ASSERT_OK_AND_ASSIGN(auto val, Query(On(kValidation)));
  EXPECT_TRUE(val[0].is_drifted.has_value());  // out of coverage
}

TEST_F(RunReaderTest, FiltersOnDriftAndBoundary) {
  SampleQuery q = On(kProdKey);
  q.is_drifted = true;
  ASSERT_OK_AND_ASSIGN(auto drifted, Query(q));
  EXPECT_EQ(IdsOf(drifted), (std::vector<std::string>{"i4", "i5", "i6", "i7"}));
  for (const auto& r : drifted) EXPECT_TRUE(*r.is_drifted);
  q.is_drifted = false;
  ASSERT_OK_AND_ASSIGN(int64_t kept, reader_->Count(q));
  EXPECT_EQ(kept, 4);

  SampleQuery b = On(kTraining);
  b.is_on_the_boundary = true;
  ASSERT_OK_AND_ASSIGN(auto boundary, Query(b));
  EXPECT_EQ(IdsOf(boundary), std::vector<std::string>{"t4"});
  EXPECT_TRUE(boundary[0].is_on_the_boundary);
  b.is_on_the_boundary = false;
  ASSERT_OK_AND_ASSIGN(int64_t off, reader_->Count(b));
  EXPECT_EQ(off, kTrain - 1);
}

// The per-sample shift score (docs/algorithms.md): on the inference set only
// (it has a domain test against validation), and its filters and sort agree
// with the rows' own values.
TEST_F(RunReaderTest, ShiftScoreFiltersAndSort) {
  ASSERT_OK_AND_ASSIGN(auto train, Query(On(kTraining)));
  for (const auto& r : train) EXPECT_FALSE(r.shift_score.has_value() || r.is_shifted.has_value());
  ASSERT_OK_AND_ASSIGN(auto val, Query(On(kValidation)));
  for (const auto& r : val) EXPECT_FALSE(r.shift_score.has_value() || r.is_shifted.has_value());
  ASSERT_OK_AND_ASSIGN(auto prod, Query(On(kProdKey)));
  ASSERT_EQ(prod.size(), static_cast<size_t>(kProd));
  std::vector<std::string> shifted, not_shifted, mid;
  for (const auto& r : prod) {
    ASSERT_TRUE(r.shift_score.has_value() && r.is_shifted.has_value()) << r.id;
    EXPECT_GT(*r.shift_score, 0.0);
    EXPECT_LT(*r.shift_score, 1.0);
    (*r.is_shifted ? shifted : not_shifted).push_back(r.id);
    if (*r.shift_score >= 0.25 && *r.shift_score <= 0.75) mid.push_back(r.id);
  }
  SampleQuery q = On(kProdKey);
  q.is_shifted = true;
  ASSERT_OK_AND_ASSIGN(auto got, Query(q));
  EXPECT_EQ(IdsOf(got), shifted);
  q.is_shifted = false;
  ASSERT_OK_AND_ASSIGN(got, Query(q));
  EXPECT_EQ(IdsOf(got), not_shifted);
  q.is_shifted.reset();
  q.min_shift = 0.25;
  q.max_shift = 0.75;
  ASSERT_OK_AND_ASSIGN(got, Query(q));
  EXPECT_EQ(IdsOf(got), mid);
  ASSERT_OK_AND_ASSIGN(int64_t count, reader_->Count(q));
  EXPECT_EQ(count, static_cast<int64_t>(mid.size()));
  // Training rows have no score: a bound never matches them.
  SampleQuery t = On(kTraining);
  t.min_shift = 0.0;
  ASSERT_OK_AND_ASSIGN(count, reader_->Count(t));
  EXPECT_EQ(count, 0);

  SampleQuery sorted = On(kProdKey);
  sorted.sort_by = "shift_score";
  sorted.descending = true;
  ASSERT_OK_AND_ASSIGN(got, Query(sorted));
  ASSERT_EQ(got.size(), static_cast<size_t>(kProd));
  for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(*got[i - 1].shift_score, *got[i].shift_score);
  sorted.sort_by = "is_shifted";
  EXPECT_OK(Query(sorted).status());

  // The summary's domain test names the threshold and the flagged share.
  ASSERT_OK_AND_ASSIGN(std::string summary, reader_->SummaryJson(kProdKey));
  const auto j = nlohmann::json::parse(summary);
  ASSERT_TRUE(j.contains("domain_test")) << summary;
  const auto& d = j["domain_test"];
  ASSERT_TRUE(d.contains("shift_threshold") && d.contains("shifted_share")) << d.dump();
  EXPECT_DOUBLE_EQ(d["shifted_share"].get<double>(),
                   static_cast<double>(shifted.size()) / static_cast<double>(kProd));
  for (const auto& r : prod) {
    EXPECT_EQ(*r.is_shifted, *r.shift_score > d["shift_threshold"].get<double>()) << r.id;
  }
}

TEST_F(RunReaderTest, FiltersOnClassesAndCorrectness) {
  SampleQuery q = On(kTraining);
  q.gold_class = "neg";
  ASSERT_OK_AND_ASSIGN(int64_t neg, reader_->Count(q));
  EXPECT_EQ(neg, 10);
  q.gold_class.reset();
  q.pred_class = "pos";
  ASSERT_OK_AND_ASSIGN(int64_t pos, reader_->Count(q));
  EXPECT_EQ(pos, 11);
  q.gold_class = "neg";
  ASSERT_OK_AND_ASSIGN(auto wrong, Query(q));
  EXPECT_EQ(IdsOf(wrong), std::vector<std::string>{"t3"});

  SampleQuery m = On(kTraining);
  m.is_correct = false;
  ASSERT_OK_AND_ASSIGN(auto misclassified, Query(m));
  EXPECT_EQ(IdsOf(misclassified), std::vector<std::string>{"t3"});
  m.is_correct = true;
  ASSERT_OK_AND_ASSIGN(int64_t right, reader_->Count(m));
  EXPECT_EQ(right, kTrain - 1);

  SampleQuery bad = On(kTraining);
  bad.gold_class = "neutral";
  ExpectHas(Query(bad).status(), StatusCode::kInvalidArgument,
            {"gold class", "'neutral'", "[neg, pos]"});
  bad.gold_class.reset();
  bad.pred_class = "Neg";
  ExpectHas(reader_->Count(bad).status(), StatusCode::kInvalidArgument,
            {"predicted class", "'Neg'"});
}

TEST_F(RunReaderTest, FiltersOnConfidenceTextAndIds) {
  // Confidences: 1 / (1 + e^-2) = 0.8808 for all but t4, 1 / (1 + e^-0.1) = 0.525.
  SampleQuery q = On(kTraining);
  q.min_confidence = 0.6;
  ASSERT_OK_AND_ASSIGN(int64_t high, reader_->Count(q));
  EXPECT_EQ(high, kTrain - 1);
  q.min_confidence.reset();
  q.max_confidence = 0.6;
  ASSERT_OK_AND_ASSIGN(auto low, Query(q));
  EXPECT_EQ(IdsOf(low), std::vector<std::string>{"t4"});
  EXPECT_NEAR(low[0].confidence, 1.0 / (1.0 + std::exp(-0.1)), 1e-6);
  q.min_confidence = 0.5;
  q.max_confidence = 0.9;
  ASSERT_OK_AND_ASSIGN(int64_t all, reader_->Count(q));
  EXPECT_EQ(all, kTrain);

  SampleQuery t = On(kTraining);
  t.text_regex = "great";
  ASSERT_OK_AND_ASSIGN(auto great, Query(t));
  EXPECT_EQ(IdsOf(great), (std::vector<std::string>{"t0", "t1"}));  // case-insensitive
  t.text_regex = "^sample 1[0-2]$";
  ASSERT_OK_AND_ASSIGN(auto some, Query(t));
  EXPECT_EQ(IdsOf(some), (std::vector<std::string>{"t10", "t11", "t12"}));
  t.text_regex = "(unclosed";
  ExpectHas(Query(t).status(), StatusCode::kInvalidArgument,
            {"text regex", "'(unclosed'", "not a valid regular expression"});
  // RE2 (linear time): nested quantifiers answer; backreferences are refused by name.
  t.text_regex = "^(s+a*m*p*l*e* ?)+1[0-2]$";
  ASSERT_OK_AND_ASSIGN(auto nested, Query(t));
  EXPECT_EQ(IdsOf(nested), (std::vector<std::string>{"t10", "t11", "t12"}));
  t.text_regex = "(a)\\1";
  ExpectHas(Query(t).status(), StatusCode::kInvalidArgument, {"text regex", "backreferences"});
  {  // A server request's budget, already spent: the search stops with that error.
    RequestBudget spent;
    spent.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    spent.budget_s = 10;
    ScopedRequestBudget scope(spent);
    t.text_regex = "sample";
    ExpectHas(Query(t).status(), StatusCode::kInvalidArgument,
              {"the text search exceeded its time budget of 10 s"});
  }

  SampleQuery ids = On(kTraining);
  ids.ids = {"t7", "t5", "nope"};
  ASSERT_OK_AND_ASSIGN(auto picked, Query(ids));
  EXPECT_EQ(IdsOf(picked), (std::vector<std::string>{"t5", "t7"}));
  ids.pred_class = "neg";
  ids.ids = {"t3", "t5"};
  ASSERT_OK_AND_ASSIGN(auto combined, Query(ids));  // filters combine with AND
  EXPECT_EQ(IdsOf(combined), std::vector<std::string>{"t5"});
}

TEST_F(RunReaderTest, SortsAscendingAndDescending) {
  SampleQuery q = On(kProdKey);
  q.sort_by = "confidence";
  ASSERT_OK_AND_ASSIGN(auto asc, Query(q));
  ASSERT_EQ(asc.size(), static_cast<size_t>(kProd));
  for (size_t i = 1; i < asc.size(); ++i) EXPECT_LE(asc[i - 1].confidence, asc[i].confidence);
  EXPECT_EQ(asc.front().id, "i0");  // logits (0, 0)
  q.descending = true;
  ASSERT_OK_AND_ASSIGN(auto desc, Query(q));
  for (size_t i = 1; i < desc.size(); ++i) EXPECT_GE(desc[i - 1].confidence, desc[i].confidence);
  EXPECT_EQ(desc.front().id, "i7");

  q.sort_by = "drift_distance";
  ASSERT_OK_AND_ASSIGN(auto far, Query(q));
  for (size_t i = 1; i < far.size(); ++i)
    EXPECT_GE(*far[i - 1].drift_distance, *far[i].drift_distance);
  EXPECT_TRUE(*far.front().is_drifted);

  SampleQuery ids = On(kTraining);
  ids.sort_by = "id";
  ASSERT_OK_AND_ASSIGN(auto by_id, Query(ids));
  EXPECT_EQ(by_id[0].id, "t0");
  EXPECT_EQ(by_id[1].id, "t1");
  EXPECT_EQ(by_id[2].id, "t10");  // text order

  q.sort_by = "confidance";
  ExpectHas(Query(q).status(), StatusCode::kInvalidArgument,
            {"sort", "unknown field 'confidance'", "confidence", "drift_score"});
}

TEST_F(RunReaderTest, LimitAndOffsetPageThroughTheMatches) {
  SampleQuery q = On(kTraining);
  q.offset = 5;
  q.limit = 3;
  ASSERT_OK_AND_ASSIGN(auto page, Query(q));
  EXPECT_EQ(IdsOf(page), (std::vector<std::string>{"t5", "t6", "t7"}));
  ASSERT_OK_AND_ASSIGN(int64_t count, reader_->Count(q));
  EXPECT_EQ(count, kTrain);  // Count ignores offset and limit
  q.offset = 18;
  ASSERT_OK_AND_ASSIGN(auto tail, Query(q));
  EXPECT_EQ(IdsOf(tail), (std::vector<std::string>{"t18", "t19"}));
  q.offset = 100;
  ASSERT_OK_AND_ASSIGN(auto none, Query(q));
  EXPECT_TRUE(none.empty());
  q.offset = 0;
  q.limit = 0;
  ASSERT_OK_AND_ASSIGN(auto zero, Query(q));
  EXPECT_TRUE(zero.empty());
  q.descending = true;
  q.limit = 2;
  ASSERT_OK_AND_ASSIGN(auto last, Query(q));
  EXPECT_EQ(IdsOf(last), (std::vector<std::string>{"t19", "t18"}));
}

TEST_F(RunReaderTest, IncludeProbsGivesTheLastEpochsSoftmax) {
  SampleQuery q = On(kProdKey);
  q.include_probs = true;
  ASSERT_OK_AND_ASSIGN(auto rows, Query(q));
  const std::vector<float>& logits = logged_->logits.at(kProdKey);
  for (const SampleRow& r : rows) {
    ASSERT_EQ(r.probs.size(), 2u);
    const double z0 = logits[r.row * 2], z1 = logits[r.row * 2 + 1];
    EXPECT_NEAR(r.probs[0], std::exp(z0) / (std::exp(z0) + std::exp(z1)), 1e-6) << r.id;
    EXPECT_NEAR(r.probs[0] + r.probs[1], 1.0, 1e-6);
    EXPECT_NEAR(r.confidence, std::max(r.probs[0], r.probs[1]), 1e-6);
  }
}

TEST_F(RunReaderTest, IncludeEmbeddingsGivesTheLastEpochsEmbedding) {
  SampleQuery q = On(kTraining);
  q.include_embeddings = true;
  q.sort_by = "confidence";  // rows out of logging order still get their own embedding
  ASSERT_OK_AND_ASSIGN(auto rows, Query(q));
  ASSERT_FALSE(rows.empty());
  const std::vector<float>& emb = logged_->emb.at(kTraining);
  for (const SampleRow& r : rows) {
    ASSERT_EQ(r.embedding.size(), static_cast<size_t>(kDim)) << r.id;
    for (int64_t c = 0; c < kDim; ++c) EXPECT_EQ(r.embedding[c], emb[r.row * kDim + c]) << r.id;
  }
  ASSERT_OK_AND_ASSIGN(auto plain, Query(On(kTraining)));
  EXPECT_TRUE(plain.front().embedding.empty());
}

// Cosine distances from sample (split, row) to every other logged sample, sorted.
std::vector<Neighbor> BruteNeighbors(const Logged& logged, const SplitKey& split, int64_t row,
                                     const std::vector<SplitKey>& search_in) {
  auto unit = [](const float* v) {
    double norm = 0;
    for (int64_t c = 0; c < kDim; ++c) norm += static_cast<double>(v[c]) * v[c];
    std::vector<double> out(v, v + kDim);
    for (double& x : out) x /= std::sqrt(norm);
    return out;
  };
  const std::vector<double> q = unit(logged.emb.at(split).data() + row * kDim);
  std::vector<Neighbor> out;
  for (const SplitKey& target : search_in) {
    const auto& ids = logged.ids.at(target);
    for (size_t j = 0; j < ids.size(); ++j) {
      if (target == split && static_cast<int64_t>(j) == row) continue;
      const std::vector<double> v = unit(logged.emb.at(target).data() + j * kDim);
      double dot = 0;
      for (int64_t c = 0; c < kDim; ++c) dot += q[c] * v[c];
      out.push_back({ids[j], target, 1.0 - dot});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Neighbor& a, const Neighbor& b) { return a.distance < b.distance; });
  return out;
}

void ExpectSameNeighbors(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want,
                         size_t k) {
  ASSERT_EQ(got.size(), std::min(k, want.size()));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << "rank " << i;
    EXPECT_EQ(got[i].split, want[i].split) << "rank " << i;
    EXPECT_NEAR(got[i].distance, want[i].distance, 1e-5) << "rank " << i;
    if (i > 0) {
      EXPECT_LE(got[i - 1].distance, got[i].distance);
    }
  }
}

TEST_F(RunReaderTest, SimilarMatchesBruteForceAndExcludesTheSampleItself) {
  const std::vector<SplitKey> all = {kTraining, kValidation, kProdKey};
  ASSERT_OK_AND_ASSIGN(auto near_t0, reader_->Similar(kTraining, "t0", 5));
  ASSERT_NO_FATAL_FAILURE(
      ExpectSameNeighbors(near_t0, BruteNeighbors(*logged_, kTraining, 0, all), 5));
  for (const Neighbor& n : near_t0) EXPECT_FALSE(n.split == kTraining && n.id == "t0");

  // Restricted to training: only training samples, still without t0.
  ASSERT_OK_AND_ASSIGN(auto in_training, reader_->Similar(kTraining, "t0", 4, {kTraining}));
  ASSERT_NO_FATAL_FAILURE(
      ExpectSameNeighbors(in_training, BruteNeighbors(*logged_, kTraining, 0, {kTraining}), 4));
  for (const Neighbor& n : in_training) EXPECT_EQ(n.split, kTraining);

  // From an inference sample into training and its own set.
  ASSERT_OK_AND_ASSIGN(auto from_prod, reader_->Similar(kProdKey, "i5", 6, {kTraining, kProdKey}));
  ASSERT_NO_FATAL_FAILURE(ExpectSameNeighbors(
      from_prod, BruteNeighbors(*logged_, kProdKey, 5, {kTraining, kProdKey}), 6));

  // More neighbours than samples: every other sample, in order.
  ASSERT_OK_AND_ASSIGN(auto everyone, reader_->Similar(kValidation, "v2", 100));
  ASSERT_NO_FATAL_FAILURE(
      ExpectSameNeighbors(everyone, BruteNeighbors(*logged_, kValidation, 2, all), 100));
  EXPECT_EQ(everyone.size(), static_cast<size_t>(kTrain + kVal + kProd - 1));
}

TEST_F(RunReaderTest, SimilarRejectsBadArguments) {
  ExpectHas(reader_->Similar(kTraining, "nope", 3).status(), StatusCode::kNotFound,
            {"no sample 'nope'", "'training'"});
  ExpectHas(reader_->Similar(kTraining, "t0", 0).status(), StatusCode::kInvalidArgument, {"k"});
  ExpectHas(reader_->Similar(kTraining, "t0", 3, {Key(Split::kTest)}).status(),
            StatusCode::kNotFound, {"'test'"});
}

TEST_F(RunReaderTest, SummaryJsonForTheRunAndASplit) {
  ASSERT_OK_AND_ASSIGN(std::string text, reader_->SummaryJson());
  auto run = nlohmann::json::parse(text);
  EXPECT_EQ(run["project"], "p");
  EXPECT_EQ(run["run"], "r");
  EXPECT_EQ(run["task_type"], "text_classification");
  EXPECT_EQ(run["labels"], (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(run["parameters"]["drift_k"], 3);
  EXPECT_EQ(run["parameters"]["reference_size"], kTrain);
  EXPECT_TRUE(run["splits"].contains("training"));
  EXPECT_TRUE(run["splits"].contains("validation"));
  EXPECT_TRUE(run["splits"].contains("inference:prod"));
  ASSERT_TRUE(run["comparisons"].contains("inference:prod"));
  EXPECT_NEAR(run["comparisons"]["inference:prod"]["drifted_fraction"]["inference"].get<double>(),
              0.5, 1e-12);

  ASSERT_OK_AND_ASSIGN(std::string split_text, reader_->SummaryJson(kTraining));
  auto split = nlohmann::json::parse(split_text);
  EXPECT_EQ(split["split"], "training");
  EXPECT_EQ(split["samples"], kTrain);
  EXPECT_NEAR(split["accuracy"].get<double>(), 19.0 / 20, 1e-12);
  EXPECT_EQ(split["on_the_boundary"]["count"], 1);
  ASSERT_OK_AND_ASSIGN(std::string prod_text, reader_->SummaryJson(kProdKey));
  EXPECT_EQ(nlohmann::json::parse(prod_text)["drifted"]["count"], 4);
}

TEST_F(RunReaderTest, UnknownSplitListsTheRunsSplits) {
  const std::string listing = "(it has: training, validation, inference:prod)";
  ExpectHas(Query(On(Key(Split::kTest))).status(), StatusCode::kNotFound,
            {"split 'test'", "'p/r'", listing});
  ExpectHas(reader_->Count(On(Key(Split::kInference, "other"))).status(), StatusCode::kNotFound,
            {"'inference:other'", listing});
  ExpectHas(reader_->SummaryJson(Key(Split::kTest)).status(), StatusCode::kNotFound, {listing});
}

TEST_F(RunReaderTest, InfoDescribesTheRun) {
  const RunInfo& info = reader_->info();
  EXPECT_EQ(info.project, "p");
  EXPECT_EQ(info.run, "r");
  EXPECT_EQ(info.task, "text_classification");
  EXPECT_TRUE(info.finished);
  ASSERT_EQ(info.splits.size(), 3u);
  EXPECT_EQ(info.splits[0].split, kTraining);
  EXPECT_EQ(info.splits[0].samples, kTrain);
  EXPECT_EQ(info.splits[0].epochs_logged, 2);
  EXPECT_EQ(info.splits[0].embedding_dim, kDim);
  EXPECT_EQ(info.splits[2].split, kProdKey);
  EXPECT_EQ(info.splits[2].samples, kProd);
  EXPECT_GT(info.size_bytes, 0);
}

TEST_F(RunReaderTest, ListRunsShowsFinishedAndUnfinishedRuns) {
  TempDir root;
  {
    ASSERT_OK_AND_ASSIGN(auto draft,
                         Client::Init({.root = root.path(), .project = "p", .run = "draft"}));
    ASSERT_OK(draft->SetLabelsForRun({"neg", "pos"}));
    ASSERT_OK(draft->LogDataSamples(Labeled({"a", "b"}, {"neg", "pos"}), kTraining));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto done,
                         Client::Init({.root = root.path(), .project = "a", .run = "r"}));
    ASSERT_OK(done->SetLabelsForRun({"neg", "pos"}));
    const std::vector<std::string> ids = {"a", "b", "c"};
    ASSERT_OK(done->LogDataSamples(Labeled(ids, {"neg", "pos", "neg"}), kTraining));
    const std::vector<float> emb = {1, 0, 0, 1, 1, 1}, logits = {1, 0, 0, 1, 1, 0};
    OutputsBatch b;
    b.ids = ids;
    b.embeddings = {emb.data(), 3, 2};
    b.logits = {logits.data(), 3, 2};
    ASSERT_OK(done->LogModelOutputs(b, kTraining, 0));
    ProcessingOptions options;
    options.drift_k = 1;
    ASSERT_OK(done->Finish(options));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> runs, ListRuns(root.path()));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].project, "a");
  EXPECT_EQ(runs[0].run, "r");
  EXPECT_TRUE(runs[0].finished);
  ASSERT_EQ(runs[0].splits.size(), 1u);
  EXPECT_EQ(runs[0].splits[0].samples, 3);
  EXPECT_EQ(runs[0].splits[0].epochs_logged, 1);
  EXPECT_TRUE(runs[0].splits[0].processed);
  EXPECT_EQ(runs[1].project, "p");
  EXPECT_EQ(runs[1].run, "draft");
  EXPECT_FALSE(runs[1].finished);
  ASSERT_EQ(runs[1].splits.size(), 1u);
  EXPECT_EQ(runs[1].splits[0].samples, 2);
  EXPECT_EQ(runs[1].splits[0].epochs_logged, 0);
  EXPECT_FALSE(runs[1].splits[0].processed);
  EXPECT_EQ(runs[1].labels, (std::vector<std::string>{"neg", "pos"}));

  // An unfinished run opens but has no results yet.
  ASSERT_OK_AND_ASSIGN(auto draft, RunReader::Open(root.path(), "p", "draft"));
  ExpectHas(draft->SummaryJson().status(), StatusCode::kFailedPrecondition, {"no results yet"});
  ExpectHas(draft->Samples(On(kTraining)).status(), StatusCode::kFailedPrecondition,
            {"'training'", "not been processed"});

  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> nothing, ListRuns(root.path() / "missing"));
  EXPECT_TRUE(nothing.empty());
  ExpectHas(RunReader::Open(root.path(), "p", "nope").status(), StatusCode::kNotFound,
            {"no run 'p/nope'", "sextant runs"});
}

// The reader is documented as safe to share between threads once opened. With the
// connection opened SQLITE_OPEN_NOMUTEX this hung or crashed; SEXTANT_STRESS=1 runs longer.
TEST_F(RunReaderTest, OneReaderServesSeveralThreads) {
  const int kIterations = std::getenv("SEXTANT_STRESS") ? 3000 : 500;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        SampleQuery q = On(t % 2 ? kTraining : kProdKey);
        q.text_regex = "t";
        q.include_probs = true;
        auto rows = reader_->Samples(q);
        auto count = reader_->Count(q);
        auto near = reader_->Similar(kTraining, "t" + std::to_string(i % kTrain), 3);
        if (!rows.ok() || !count.ok() || !near.ok() ||
            static_cast<int64_t>(rows->size()) != *count || near->size() != 3u) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace sextant
