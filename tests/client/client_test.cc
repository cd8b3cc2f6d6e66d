// The logging client: every bad input of the point 4 is rejected with a
// message naming the field and the offending id or row, and leaves the data
// logged before it intact (checked by finishing the run and reading it back).
#include "sextant/client.h"

#include <omp.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sextant/results.h"
#include "testing.h"

namespace sextant {
namespace {

using ::sextant::testing::TempDir;

const std::vector<std::string> kLabels = {"neg", "neu", "pos"};
constexpr int64_t kDim = 4;

std::vector<std::string> Ids(const std::string& prefix, int begin, int end) {
  std::vector<std::string> ids;
  for (int i = begin; i < end; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

DataBatch Data(const std::vector<std::string>& ids, bool labeled) {
  DataBatch b;
  b.ids = ids;
  for (size_t i = 0; i < ids.size(); ++i) {
    b.texts.push_back("text of " + ids[i]);
    if (labeled) b.labels.push_back(kLabels[i % kLabels.size()]);
  }
  return b;
}

// Model outputs that own their arrays; View() points a batch at them.
struct Outputs {
  std::vector<std::string> ids;
  int64_t dim = kDim, width = 3;
  bool probs = false;
  std::vector<float> emb, out;

  OutputsBatch View() const {
    OutputsBatch b;
    b.ids = ids;
    const auto n = static_cast<int64_t>(ids.size());
    b.embeddings = {emb.data(), n, dim};
    (probs ? b.probabilities : b.logits) = {out.data(), n, width};
    return b;
  }
  float& Emb(int64_t row, int64_t col) { return emb[row * dim + col]; }
  float& Out(int64_t row, int64_t col) { return out[row * width + col]; }
};

Outputs MakeOutputs(const std::vector<std::string>& ids, int64_t dim = kDim, int64_t width = 3,
                    bool probs = false) {
  // Atomic: the concurrency tests make outputs from several threads (a race
  // ThreadSanitizer found in this helper).
  static std::atomic<uint32_t> seed{1};
  std::mt19937 rng(seed++);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Outputs o;
  o.ids = ids;
  o.dim = dim;
  o.width = width;
  o.probs = probs;
  const auto n = static_cast<int64_t>(ids.size());
  for (int64_t i = 0; i < n * dim; ++i) o.emb.push_back(normal(rng));
  for (int64_t r = 0; r < n; ++r) {
    double sum = 0;
    std::vector<float> row;
    for (int64_t c = 0; c < width; ++c) {
      row.push_back(probs ? std::exp(normal(rng)) : normal(rng));
      sum += row.back();
    }
    for (float v : row) o.out.push_back(probs ? static_cast<float>(v / sum) : v);
  }
  return o;
}

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = Open();
    ASSERT_OK(client);
    client_ = std::move(client).value();
    ASSERT_OK(client_->SetLabelsForRun(kLabels));
  }

  Result<std::unique_ptr<Client>> Open() {
    return Client::Init(
        {.root = dir_.path(), .project = "p", .run = "r", .task = TaskType::kTextClassification});
  }

  static ProcessingOptions Options() {
    ProcessingOptions o;
    o.drift_k = 2;
    o.threads = 1;
    return o;
  }

  // Logs samples prefix<begin..end) of `key` as data and gives them outputs at `epoch`.
  void LogSplit(Client& client, const SplitKey& key, const std::string& prefix, int begin, int end,
                int32_t epoch = 0) {
    const auto ids = Ids(prefix, begin, end);
    ASSERT_OK(client.LogDataSamples(Data(ids, IsLabeled(key.split)), key));
    Outputs o = MakeOutputs(ids);
    ASSERT_OK(client.LogModelOutputs(o.View(), key, epoch));
  }
  void LogTraining(int begin = 0, int end = 6) {
    LogSplit(*client_, Key(Split::kTraining), "t", begin, end);
  }

  // Finishes the run and checks that it holds exactly these splits and sizes.
  void ExpectFinishes(const std::vector<std::pair<std::string, int64_t>>& expected) {
    ASSERT_OK_AND_ASSIGN(FinishReport report, client_->Finish(Options()));
    ExpectStored(expected);
    int64_t total = 0;
    for (const auto& e : expected) total += e.second;
    EXPECT_EQ(report.samples, total);
  }
  void ExpectStored(const std::vector<std::pair<std::string, int64_t>>& expected) {
    ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
    ASSERT_EQ(reader->info().splits.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const SplitInfo& s = reader->info().splits[i];
      EXPECT_EQ(s.split.ToString(), expected[i].first);
      EXPECT_EQ(s.samples, expected[i].second) << expected[i].first;
      EXPECT_TRUE(s.processed) << expected[i].first;
    }
    EXPECT_TRUE(reader->info().finished);
  }

  TempDir dir_;
  std::unique_ptr<Client> client_;
};

TEST(ClientSplit, UnknownSplitNamesTheValueAndTheChoices) {
  auto split = ParseSplit("prod");
  EXPECT_STATUS(split, kInvalidArgument, "split", "'prod'",
                "training, validation, test, inference");
  auto key = SplitKey::Parse("production:yelp");
  EXPECT_STATUS(key, kInvalidArgument, "split", "'production'", "expected one of");
  EXPECT_STATUS(SplitKey::Parse("inference"), kInvalidArgument, "inference_name");
  EXPECT_STATUS(SplitKey::Parse("training:x"), kInvalidArgument, "inference_name", "'x'");
}

TEST_F(ClientTest, InferenceWithoutANameIsRejectedAndTheSplitStays) {
  ASSERT_OK(client_->SetSplit(Split::kTraining));
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  EXPECT_STATUS(client_->SetSplit(Split::kInference, ""), kInvalidArgument, "inference_name",
                "needs an inference name");
  EXPECT_STATUS(client_->SetSplit(Split::kValidation, "x"), kInvalidArgument, "inference_name",
                "'x'");
  // The current split is still training: data without a split argument goes there.
  const auto ids = Ids("t", 6, 8);
  ASSERT_OK(client_->LogDataSamples(Data(ids, true)));
  Outputs o = MakeOutputs(ids);
  ASSERT_OK(client_->LogModelOutputs(o.View()));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 8}}));
}

TEST_F(ClientTest, CallsWithoutASplitAreRejected) {
  EXPECT_STATUS(client_->LogDataSamples(Data({"a"}, true)), kFailedPrecondition, "split",
                "set_split");
}

TEST_F(ClientTest, LabelsOnInferenceDataAreRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey prod = Key(Split::kInference, "prod");
  ASSERT_NO_FATAL_FAILURE(LogSplit(*client_, prod, "i", 0, 3));
  DataBatch named = Data({"i3", "i4"}, false);
  named.labels = {"neg", "pos"};
  EXPECT_STATUS(client_->LogDataSamples(named, prod), kInvalidArgument, "labels",
                "inference data takes no labels", "'i3'");
  DataBatch indexed = Data({"i3", "i4"}, false);
  indexed.label_indices = {0, 1};
  EXPECT_STATUS(client_->LogDataSamples(indexed, prod), kInvalidArgument, "labels", "'i3'");
  // Nothing of the rejected batches was kept: the same ids log fine without labels.
  ASSERT_OK(client_->LogDataSamples(Data({"i3", "i4"}, false), prod));
  Outputs o = MakeOutputs({"i3", "i4"});
  ASSERT_OK(client_->LogModelOutputs(o.View(), prod, 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}, {"inference:prod", 5}}));
}

TEST_F(ClientTest, LabelOutsideTheListIsRejectedByName) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  DataBatch b = Data({"t6", "t7", "t8"}, true);
  b.labels[1] = "positive";
  EXPECT_STATUS(client_->LogDataSamples(b, Key(Split::kTraining)), kInvalidArgument, "labels",
                "'t7'", "row 1", "'positive'", "[neg, neu, pos]");
  // Labeled splits need one label per sample.
  DataBatch missing = Data({"t6", "t7"}, false);
  EXPECT_STATUS(client_->LogDataSamples(missing, Key(Split::kTraining)), kInvalidArgument, "labels",
                "0 labels for 2 ids");
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
}

TEST_F(ClientTest, LabelIndexOutsideTheListIsRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  for (int32_t bad : {-1, 3}) {
    DataBatch b = Data({"t6", "t7"}, false);
    b.label_indices = {0, bad};
    EXPECT_STATUS(client_->LogDataSamples(b, Key(Split::kTraining)), kInvalidArgument, "labels",
                  "'t7'", "row 1", "label index " + std::to_string(bad), "expected 0 to 2");
  }
  DataBatch both = Data({"t6"}, true);
  both.label_indices = {0};
  EXPECT_STATUS(client_->LogDataSamples(both, Key(Split::kTraining)), kInvalidArgument,
                "labels or label_indices, not both");
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
}

TEST_F(ClientTest, InferenceClientWithDifferentLabelsIsRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  ASSERT_OK(client_->Finish(Options()));
  client_.reset();

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> inference, Open());
  EXPECT_EQ(inference->labels(), kLabels);
  EXPECT_STATUS(inference->SetLabelsForRun({"neg", "neu", "positive"}), kInvalidArgument, "labels",
                "[neg, neu, positive]", "[neg, neu, pos]", "same order");
  EXPECT_STATUS(inference->SetLabelsForRun({"pos", "neu", "neg"}), kInvalidArgument, "labels",
                "[pos, neu, neg]", "[neg, neu, pos]", "same order");
  EXPECT_STATUS(inference->SetLabelsForRun({"neg", "neu"}), kInvalidArgument, "[neg, neu]");
  // The run's list is unchanged; the same list is accepted and inference data can follow.
  EXPECT_EQ(inference->labels(), kLabels);
  ASSERT_OK(inference->SetLabelsForRun(kLabels));
  ASSERT_NO_FATAL_FAILURE(LogSplit(*inference, Key(Split::kInference, "prod"), "i", 0, 4));
  client_ = std::move(inference);
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}, {"inference:prod", 4}}));
}

TEST_F(ClientTest, BadLabelListsAreRejected) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> fresh,
                       Client::Init({.root = dir_.path(), .project = "p", .run = "other"}));
  EXPECT_STATUS(fresh->SetLabelsForRun({"only"}), kInvalidArgument, "labels", "at least 2");
  EXPECT_STATUS(fresh->SetLabelsForRun({"a", "b", "a"}), kInvalidArgument, "'a'", "twice");
  EXPECT_STATUS(fresh->SetLabelsForRun({"a", ""}), kInvalidArgument, "label 1 is empty");
  EXPECT_TRUE(fresh->labels().empty());
}

TEST_F(ClientTest, DuplicateIdsWithinABatchAreRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  EXPECT_STATUS(client_->LogDataSamples(Data({"t6", "t7", "t6"}, true), Key(Split::kTraining)),
                kAlreadyExists, "ids", "'t6'", "twice in this batch", "rows 0 and 2");
  // None of the rejected batch was kept.
  ASSERT_NO_FATAL_FAILURE(LogSplit(*client_, Key(Split::kTraining), "t", 6, 8));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 8}}));
}

TEST_F(ClientTest, DuplicateIdsAcrossBatchesOfASplitAreRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  EXPECT_STATUS(client_->LogDataSamples(Data({"t9", "t2"}, true), Key(Split::kTraining)),
                kAlreadyExists, "ids", "'t2'", "row 1", "already logged in split 'training'");
  // The batch's other id was not kept either, and the same id in another split is fine.
  ASSERT_NO_FATAL_FAILURE(LogSplit(*client_, Key(Split::kTraining), "t", 9, 10));
  ASSERT_NO_FATAL_FAILURE(LogSplit(*client_, Key(Split::kValidation), "t", 0, 3));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 7}, {"validation", 3}}));
}

TEST_F(ClientTest, EmptyIdIsRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  EXPECT_STATUS(client_->LogDataSamples(Data({"t6", ""}, true), Key(Split::kTraining)),
                kInvalidArgument, "ids", "row 1", "empty");
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
}

TEST_F(ClientTest, DuplicateOutputsWithinABatchAreRejected) {
  const SplitKey train = Key(Split::kTraining);
  ASSERT_OK(client_->LogDataSamples(Data(Ids("t", 0, 6), true), train));
  Outputs first = MakeOutputs(Ids("t", 0, 3));
  ASSERT_OK(client_->LogModelOutputs(first.View(), train, 0));
  Outputs dup = MakeOutputs({"t3", "t4", "t3"});
  EXPECT_STATUS(client_->LogModelOutputs(dup.View(), train, 0), kAlreadyExists, "ids", "'t3'",
                "row 2", "already has outputs in split 'training' epoch 0");
  // The rejected batch marked nothing: t3 and t4 take outputs now.
  Outputs rest = MakeOutputs(Ids("t", 3, 6));
  ASSERT_OK(client_->LogModelOutputs(rest.View(), train, 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
}

TEST_F(ClientTest, DuplicateOutputsAcrossBatchesAreRejectedButNotAcrossEpochs) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey train = Key(Split::kTraining);
  ASSERT_OK(client_->LogDataSamples(Data({"t6"}, true), train));
  ASSERT_OK(client_->Flush());  // the duplicate is then found in the committed log
  Outputs again = MakeOutputs({"t6", "t1"});
  EXPECT_STATUS(client_->LogModelOutputs(again.View(), train, 0), kAlreadyExists, "'t1'", "row 1",
                "epoch 0");
  Outputs t6 = MakeOutputs({"t6"});  // the rejected batch left t6 without outputs
  ASSERT_OK(client_->LogModelOutputs(t6.View(), train, 0));
  // Not yet flushed: the duplicate is found among the accepted batches.
  Outputs epoch1a = MakeOutputs(Ids("t", 0, 3));
  ASSERT_OK(client_->LogModelOutputs(epoch1a.View(), train, 1));
  Outputs epoch1dup = MakeOutputs({"t2"});
  EXPECT_STATUS(client_->LogModelOutputs(epoch1dup.View(), train, 1), kAlreadyExists, "'t2'",
                "epoch 1");
  Outputs epoch1b = MakeOutputs(Ids("t", 3, 6));
  ASSERT_OK(client_->LogModelOutputs(epoch1b.View(), train, 1));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 7}}));
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
  EXPECT_EQ(reader->info().splits[0].epochs_logged, 2);
}

TEST_F(ClientTest, OutputsForIdsNeverLoggedAreRejectedAndMarkNothing) {
  const SplitKey train = Key(Split::kTraining);
  ASSERT_OK(client_->LogDataSamples(Data(Ids("t", 0, 6), true), train));
  Outputs bad = MakeOutputs({"t0", "t1", "ghost", "t2"});
  EXPECT_STATUS(client_->LogModelOutputs(bad.View(), train, 0), kNotFound, "ids", "'ghost'",
                "row 2", "never logged as data in split 'training'");
  // Ids logged in another split do not count.
  Outputs other = MakeOutputs({"t0"});
  EXPECT_STATUS(client_->LogModelOutputs(other.View(), Key(Split::kValidation), 0), kNotFound,
                "'t0'", "split 'validation'");
  // A failed call changes nothing: t0..t2 have no outputs yet, so the corrected batch is accepted.
  Outputs good = MakeOutputs(Ids("t", 0, 6));
  ASSERT_OK(client_->LogModelOutputs(good.View(), train, 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
}

TEST_F(ClientTest, DataWithoutOutputsFailsFinishUntilTheOutputsAreLogged) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));

  const SplitKey val = Key(Split::kValidation);
  ASSERT_OK(client_->LogDataSamples(Data(Ids("v", 0, 8), true), val));
  Outputs some = MakeOutputs({"v0"});
  ASSERT_OK(client_->LogModelOutputs(some.View(), val, 0));
  ASSERT_OK(client_->LogDataSamples(Data(Ids("i", 0, 2), false), Key(Split::kInference, "prod")));

  auto failed = client_->Finish(Options());
  EXPECT_STATUS(failed, kFailedPrecondition, "model outputs are missing",
                "split 'validation': 7 of 8 samples have no model outputs",
                "first ids: 'v1', 'v2', 'v3', 'v4', 'v5')", "split 'inference:prod': 2 of 2",
                "'i0', 'i1'");
  EXPECT_EQ(failed.status().message().find("'v6'"), std::string::npos);  // five ids at most

  // The results of the earlier finish survive the failed one.
  {
    ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
    EXPECT_FALSE(reader->info().finished);
    SampleQuery q;
    q.split = Key(Split::kTraining);
    ASSERT_OK_AND_ASSIGN(int64_t n, reader->Count(q));
    EXPECT_EQ(n, 6);
    q.split = val;
    EXPECT_STATUS(reader->Count(q), kFailedPrecondition, "'validation'", "not been processed");
  }

  // A finish that failed can be run again once the outputs are there.
  Outputs rest = MakeOutputs(Ids("v", 1, 8));
  ASSERT_OK(client_->LogModelOutputs(rest.View(), val, 0));
  Outputs prod = MakeOutputs(Ids("i", 0, 2));
  ASSERT_OK(client_->LogModelOutputs(prod.View(), Key(Split::kInference, "prod"), 0));
  ASSERT_NO_FATAL_FAILURE(
      ExpectFinishes({{"training", 6}, {"validation", 8}, {"inference:prod", 2}}));
}

TEST_F(ClientTest, RowCountsThatDifferAreRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey train = Key(Split::kTraining);
  ASSERT_OK(client_->LogDataSamples(Data(Ids("t", 6, 9), true), train));
  Outputs o = MakeOutputs(Ids("t", 6, 9));

  OutputsBatch short_emb = o.View();
  short_emb.embeddings.rows = 2;
  EXPECT_STATUS(client_->LogModelOutputs(short_emb, train, 0), kInvalidArgument, "embeddings",
                "2 rows for 3 ids", "one row per id");
  OutputsBatch long_logits = o.View();
  long_logits.logits.rows = 4;
  EXPECT_STATUS(client_->LogModelOutputs(long_logits, train, 0), kInvalidArgument, "logits",
                "4 rows for 3 ids");
  Outputs p = MakeOutputs(Ids("t", 6, 9), kDim, 3, /*probs=*/true);
  OutputsBatch short_probs = p.View();
  short_probs.probabilities.rows = 1;
  EXPECT_STATUS(client_->LogModelOutputs(short_probs, train, 0), kInvalidArgument, "probs",
                "1 rows for 3 ids");
  OutputsBatch no_emb = o.View();
  no_emb.embeddings = {};
  EXPECT_STATUS(client_->LogModelOutputs(no_emb, train, 0), kInvalidArgument, "embeddings");
  OutputsBatch both = o.View();
  both.probabilities = p.View().probabilities;
  EXPECT_STATUS(client_->LogModelOutputs(both, train, 0), kInvalidArgument,
                "exactly one of logits or probabilities");

  DataBatch texts = Data({"t9", "t10"}, true);
  texts.texts.pop_back();
  EXPECT_STATUS(client_->LogDataSamples(texts, train), kInvalidArgument, "texts",
                "1 values for 2 ids");
  DataBatch meta = Data({"t9", "t10"}, true);
  meta.meta = {{"source", {"web"}}};
  EXPECT_STATUS(client_->LogDataSamples(meta, train), kInvalidArgument, "meta", "'source'",
                "1 values for 2 ids");

  // None of it was kept: the good batch goes through and the run finishes with 9 samples.
  ASSERT_OK(client_->LogModelOutputs(o.View(), train, 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 9}}));
}

TEST_F(ClientTest, EmbeddingWidthMustNotChangeBetweenBatches) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey train = Key(Split::kTraining);
  ASSERT_OK(client_->LogDataSamples(Data(Ids("t", 6, 8), true), train));
  Outputs wide = MakeOutputs(Ids("t", 6, 8), kDim + 1);
  EXPECT_STATUS(client_->LogModelOutputs(wide.View(), train, 1), kInvalidArgument, "embeddings",
                "width 5", "width 4", "expected 4");
  // The width is run-wide, and survives a new client on the run.
  ASSERT_OK(client_->LogDataSamples(Data(Ids("i", 0, 3), false), Key(Split::kInference, "prod")));
  Outputs narrow = MakeOutputs(Ids("i", 0, 3), kDim - 1);
  EXPECT_STATUS(client_->LogModelOutputs(narrow.View(), Key(Split::kInference, "prod"), 0),
                kInvalidArgument, "embeddings", "width 3", "expected 4");
  client_.reset();
  ASSERT_OK_AND_ASSIGN(client_, Open());
  EXPECT_STATUS(client_->LogModelOutputs(wide.View(), train, 1), kInvalidArgument, "width 5",
                "expected 4");

  Outputs right = MakeOutputs(Ids("t", 6, 8));
  ASSERT_OK(client_->LogModelOutputs(right.View(), train, 0));
  Outputs prod = MakeOutputs(Ids("i", 0, 3));
  ASSERT_OK(client_->LogModelOutputs(prod.View(), Key(Split::kInference, "prod"), 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 8}, {"inference:prod", 3}}));
}

TEST_F(ClientTest, LogitWidthMustEqualTheNumberOfLabels) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey train = Key(Split::kTraining);
  ASSERT_OK(client_->LogDataSamples(Data(Ids("t", 6, 8), true), train));
  Outputs two = MakeOutputs(Ids("t", 6, 8), kDim, 2);
  EXPECT_STATUS(client_->LogModelOutputs(two.View(), train, 0), kInvalidArgument, "logits",
                "width 2", "3 labels", "[neg, neu, pos]", "expected width 3");
  Outputs four = MakeOutputs(Ids("t", 6, 8), kDim, 4, /*probs=*/true);
  EXPECT_STATUS(client_->LogModelOutputs(four.View(), train, 0), kInvalidArgument, "probs",
                "width 4", "expected width 3");
  Outputs right = MakeOutputs(Ids("t", 6, 8));
  ASSERT_OK(client_->LogModelOutputs(right.View(), train, 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 8}}));
}

TEST_F(ClientTest, NonFiniteValuesNameRowIdAndColumn) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey train = Key(Split::kTraining);
  const auto ids = Ids("t", 6, 9);
  ASSERT_OK(client_->LogDataSamples(Data(ids, true), train));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();

  Outputs emb_nan = MakeOutputs(ids);
  emb_nan.Emb(1, 2) = nan;
  EXPECT_STATUS(client_->LogModelOutputs(emb_nan.View(), train, 0), kInvalidArgument, "embeddings",
                "NaN", "row 1", "'t7'", "column 2", "finite");
  Outputs emb_inf = MakeOutputs(ids);
  emb_inf.Emb(2, 0) = -inf;
  EXPECT_STATUS(client_->LogModelOutputs(emb_inf.View(), train, 0), kInvalidArgument, "embeddings",
                "infinite", "row 2", "'t8'", "column 0");
  Outputs logit_inf = MakeOutputs(ids);
  logit_inf.Out(0, 1) = inf;
  EXPECT_STATUS(client_->LogModelOutputs(logit_inf.View(), train, 0), kInvalidArgument, "logits",
                "infinite", "row 0", "'t6'", "column 1");
  Outputs probs_nan = MakeOutputs(ids, kDim, 3, /*probs=*/true);
  probs_nan.Out(2, 2) = nan;
  EXPECT_STATUS(client_->LogModelOutputs(probs_nan.View(), train, 1), kInvalidArgument, "probs",
                "NaN", "row 2", "'t8'", "column 2");

  Outputs good = MakeOutputs(ids);
  ASSERT_OK(client_->LogModelOutputs(good.View(), train, 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 9}}));
}

// Batches of at least 16 values take the blocked scan; the error still names the first bad value.
TEST_F(ClientTest, NonFiniteValuesInLargeBatchesAreFound) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey train = Key(Split::kTraining);
  const auto ids = Ids("t", 6, 14);
  ASSERT_OK(client_->LogDataSamples(Data(ids, true), train));
  Outputs emb_nan = MakeOutputs(ids);
  emb_nan.Emb(5, 3) = std::numeric_limits<float>::quiet_NaN();
  emb_nan.Emb(7, 0) = std::numeric_limits<float>::infinity();
  EXPECT_STATUS(client_->LogModelOutputs(emb_nan.View(), train, 0), kInvalidArgument, "embeddings",
                "NaN", "row 5", "'t11'", "column 3");
  Outputs good = MakeOutputs(ids);
  ASSERT_OK(client_->LogModelOutputs(good.View(), train, 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 14}}));
}

TEST_F(ClientTest, EmptyBatchesAreRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey train = Key(Split::kTraining);
  EXPECT_STATUS(client_->LogDataSamples(DataBatch{}, train), kInvalidArgument, "ids",
                "empty batch");
  Outputs none = MakeOutputs({});
  EXPECT_STATUS(client_->LogModelOutputs(none.View(), train, 0), kInvalidArgument, "ids",
                "empty batch");
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
}

TEST_F(ClientTest, ProbabilitiesMustBeADistribution) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const SplitKey train = Key(Split::kTraining);
  const auto ids = Ids("t", 6, 9);
  ASSERT_OK(client_->LogDataSamples(Data(ids, true), train));
  Outputs off = MakeOutputs(ids, kDim, 3, /*probs=*/true);
  off.Out(1, 0) = 0.5f;
  off.Out(1, 1) = 0.3f;
  off.Out(1, 2) = 0.3f;
  EXPECT_STATUS(client_->LogModelOutputs(off.View(), train, 1), kInvalidArgument, "probs", "row 1",
                "'t7'", "sums to 1.1", "expected 1");
  Outputs negative = MakeOutputs(ids, kDim, 3, /*probs=*/true);
  negative.Out(2, 0) = -0.5f;
  negative.Out(2, 1) = 1.0f;
  negative.Out(2, 2) = 0.5f;
  EXPECT_STATUS(client_->LogModelOutputs(negative.View(), train, 1), kInvalidArgument, "probs",
                "row 2", "'t8'", "[0, 1]");
  // Probabilities within the tolerance are accepted.
  Outputs good = MakeOutputs(ids, kDim, 3, /*probs=*/true);
  ASSERT_OK(client_->LogModelOutputs(good.View(), train, 1));
  Outputs epoch0 = MakeOutputs(ids);
  ASSERT_OK(client_->LogModelOutputs(epoch0.View(), train, 0));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 9}}));
}

TEST_F(ClientTest, LogitsAndProbabilitiesDoNotMixWithinAnEpoch) {
  const SplitKey train = Key(Split::kTraining);
  ASSERT_OK(client_->LogDataSamples(Data(Ids("t", 0, 6), true), train));
  Outputs logits = MakeOutputs(Ids("t", 0, 3));
  ASSERT_OK(client_->LogModelOutputs(logits.View(), train, 0));
  Outputs probs = MakeOutputs(Ids("t", 3, 6), kDim, 3, /*probs=*/true);
  EXPECT_STATUS(client_->LogModelOutputs(probs.View(), train, 0), kInvalidArgument, "probs",
                "split 'training' epoch 0 was logged with logits", "same kind within an epoch");
  // Another epoch may use the other kind; this epoch takes the rest as logits.
  Outputs probs_all = MakeOutputs(Ids("t", 0, 6), kDim, 3, /*probs=*/true);
  ASSERT_OK(client_->LogModelOutputs(probs_all.View(), train, 1));
  Outputs rest = MakeOutputs(Ids("t", 3, 6));
  ASSERT_OK(client_->LogModelOutputs(rest.View(), train, 0));
  // The kind is remembered by a new client too.
  client_.reset();
  ASSERT_OK_AND_ASSIGN(client_, Open());
  Outputs again = MakeOutputs(Ids("t", 0, 1));
  EXPECT_STATUS(client_->LogModelOutputs(again.View(), train, 1), kInvalidArgument, "logits",
                "epoch 1 was logged with probabilities");
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
}

TEST_F(ClientTest, OutputsBeforeLabelsAreRejected) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> fresh,
                       Client::Init({.root = dir_.path(), .project = "p", .run = "nolabels"}));
  ASSERT_OK(fresh->LogDataSamples(Data({"i0"}, false), Key(Split::kInference, "prod")));
  Outputs o = MakeOutputs({"i0"});
  EXPECT_STATUS(fresh->LogModelOutputs(o.View(), Key(Split::kInference, "prod"), 0),
                kFailedPrecondition, "labels", "set_labels_for_run");
  EXPECT_STATUS(fresh->LogDataSamples(Data({"t0"}, true), Key(Split::kTraining)),
                kFailedPrecondition, "labels");
  EXPECT_STATUS(fresh->SetEpoch(-1), kInvalidArgument, "epoch", "-1");
}

TEST_F(ClientTest, BadProjectOrRunNamesAreRejected) {
  EXPECT_STATUS(Client::Init({.root = dir_.path(), .project = "../x", .run = "r"}),
                kInvalidArgument, "project_name", "'../x'");
  EXPECT_STATUS(Client::Init({.root = dir_.path(), .project = "p", .run = ""}), kInvalidArgument,
                "run_name");
}

TEST_F(ClientTest, SecondWriterOnTheSameRunIsRejected) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  EXPECT_STATUS(Open(), kFailedPrecondition, "being written by another process");
  EXPECT_STATUS(FinishRun(dir_.path(), "p", "r", Options()), kFailedPrecondition,
                "being written by another process");
  // The first client is unaffected, and once it is closed the run opens again.
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
  client_.reset();
  ASSERT_OK_AND_ASSIGN(client_, Open());
  EXPECT_STATUS(FinishRun(dir_.path(), "q", "r"), kNotFound, "no run 'q/r'");
}

TEST_F(ClientTest, ConcurrentLoggingFromTwoThreadsLosesNothing) {
  const SplitKey train = Key(Split::kTraining);
  constexpr int kBatches = 25, kBatch = 8;
  auto worker = [&](const std::string& prefix, Status* result) {
    for (int b = 0; b < kBatches; ++b) {
      const auto ids = Ids(prefix, b * kBatch, (b + 1) * kBatch);
      Status st = client_->LogDataSamples(Data(ids, true), train);
      Outputs o = MakeOutputs(ids);
      if (st.ok()) st = client_->LogModelOutputs(o.View(), train, 0);
      if (st.ok()) st = client_->LogModelOutputs(o.View(), train, 1);
      if (!st.ok()) {
        *result = st;
        return;
      }
    }
  };
  Status a, b;
  std::thread ta(worker, "a", &a), tb(worker, "b", &b);
  ta.join();
  tb.join();
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 2 * kBatches * kBatch}}));
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
  EXPECT_EQ(reader->info().splits[0].epochs_logged, 2);
  SampleQuery q;
  q.split = train;
  q.sort_by = "id";
  ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
  ASSERT_EQ(rows.size(), static_cast<size_t>(2 * kBatches * kBatch));
  for (const SampleRow& r : rows) EXPECT_EQ(r.epoch, 1) << r.id;
}

// labels() used to return a reference to the list SetLabelsForRun assigns
// under the client's lock, read without it: ThreadSanitizer flags the old
// code here (make test-tsan), and a reader could see a half-assigned vector.
TEST(ClientThreads, LabelsReadWhileAnotherThreadSetsThem) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto client, Client::Init({.root = dir.path(), .project = "p", .run = "r"}));
  std::atomic<bool> set{false};
  std::thread reader([&] {
    // Until the list appears, every read sees it empty or whole, never torn.
    while (!set.load()) {
      const std::vector<std::string> labels = client->labels();
      EXPECT_TRUE(labels.empty() || labels == kLabels);
    }
    EXPECT_EQ(client->labels(), kLabels);
  });
  Status st = client->SetLabelsForRun(kLabels);
  set.store(true);
  reader.join();
  ASSERT_OK(st);
}

// Logging, labels() and Flush from several threads at once: under
// ThreadSanitizer (make test-tsan) any unguarded shared state is reported.
TEST_F(ClientTest, LoggingFlushingAndReadingLabelsConcurrently) {
  const SplitKey train = Key(Split::kTraining);
  constexpr int kBatches = 10, kBatch = 4;
  auto worker = [&](const std::string& prefix, Status* result) {
    for (int b = 0; b < kBatches && result->ok(); ++b) {
      const auto ids = Ids(prefix, b * kBatch, (b + 1) * kBatch);
      Status st = client_->LogDataSamples(Data(ids, true), train);
      Outputs o = MakeOutputs(ids);
      if (st.ok()) st = client_->LogModelOutputs(o.View(), train, 0);
      if (st.ok() && b % 3 == 0) st = client_->Flush();
      if (st.ok() && client_->labels() != kLabels) st = Status::Internal("labels changed");
      *result = st;
    }
  };
  Status a, b, c;
  std::thread ta(worker, "a", &a), tb(worker, "b", &b), tc(worker, "c", &c);
  ta.join();
  tb.join();
  tc.join();
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 3 * kBatches * kBatch}}));
}

// Labels, ids, texts and meta values become JSON (summaries, the API,
// exports), which needs UTF-8: a bad byte used to abort the CLI later with an
// uncaught nlohmann type_error 316; now the call fails naming field and row.
TEST_F(ClientTest, InvalidUtf8IsRejectedNamingFieldAndRow) {
  ASSERT_OK_AND_ASSIGN(auto fresh, Client::Init({.root = dir_.path(), .project = "p", .run = "u"}));
  EXPECT_STATUS(fresh->SetLabelsForRun({"neg", "bad\xFFlabel"}), kInvalidArgument,
                "labels: label 1: invalid UTF-8 (byte 0xFF at byte 3)");
  EXPECT_TRUE(fresh->labels().empty());
  const SplitKey train = Key(Split::kTraining);
  DataBatch text = Data(Ids("x", 0, 3), true);
  text.texts[2] = "caf\xC3";  // truncated sequence
  EXPECT_STATUS(client_->LogDataSamples(text, train), kInvalidArgument,
                "texts (row 2): invalid UTF-8 (byte 0xC3 at byte 3)");
  DataBatch meta = Data(Ids("x", 0, 3), true);
  meta.meta.push_back({"source", {"a", "\xC0\x80", "c"}});  // overlong NUL
  EXPECT_STATUS(client_->LogDataSamples(meta, train), kInvalidArgument,
                "meta column 'source' (row 1): invalid UTF-8");
  DataBatch id = Data({"ok", "\xED\xA0\x80"}, true);  // a surrogate
  EXPECT_STATUS(client_->LogDataSamples(id, train), kInvalidArgument, "ids (row 1): invalid UTF-8");
  // Nothing was logged; valid UTF-8 (accents, emoji) is accepted.
  DataBatch good = Data({"é", "😀"}, true);
  good.texts = {"caf\xC3\xA9", "ok"};
  EXPECT_OK(client_->LogDataSamples(good, train));
}

// Finish sets the search threads for Faiss; it used to leave them set on the
// calling thread (omp_set_num_threads), changing e.g. PyTorch's thread count.
TEST_F(ClientTest, FinishLeavesTheCallersOpenMpThreadsUnchanged) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  const int before = omp_get_max_threads();
  // A setting that differs from what finish asks for (Options().threads = 1).
  omp_set_num_threads(3);
  ASSERT_OK(client_->Finish(Options()));
  EXPECT_EQ(omp_get_max_threads(), 3);
  omp_set_num_threads(before);
}

TEST_F(ClientTest, FlushThenFinish) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  ASSERT_OK(client_->Flush());
  ASSERT_OK(client_->Flush());  // idempotent
  ASSERT_OK_AND_ASSIGN(FinishReport report, client_->Finish(Options()));
  EXPECT_EQ(report.splits, std::vector<std::string>{"training"});
  EXPECT_EQ(report.samples, 6);
  EXPECT_FALSE(report.stage_seconds.empty());
  // Finishing twice gives the same run.
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes({{"training", 6}}));
}

TEST_F(ClientTest, ReopeningARunKeepsItsDataAndTakesAnInferenceSet) {
  ASSERT_NO_FATAL_FAILURE(LogTraining());
  ASSERT_NO_FATAL_FAILURE(LogSplit(*client_, Key(Split::kValidation), "v", 0, 4));
  ASSERT_OK(client_->Finish(Options()));
  client_.reset();

  ASSERT_OK_AND_ASSIGN(client_, Open());
  EXPECT_EQ(client_->labels(), kLabels);
  // The reopened client knows the ids already logged.
  EXPECT_STATUS(client_->LogDataSamples(Data({"t3"}, true), Key(Split::kTraining)), kAlreadyExists,
                "'t3'");
  Outputs dup = MakeOutputs({"v1"});
  EXPECT_STATUS(client_->LogModelOutputs(dup.View(), Key(Split::kValidation), 0), kAlreadyExists,
                "'v1'", "epoch 0");
  ASSERT_OK(client_->SetLabelsForRun(kLabels));
  ASSERT_OK(client_->SetSplit(Split::kInference, "prod_1"));
  ASSERT_NO_FATAL_FAILURE(LogSplit(*client_, Key(Split::kInference, "prod_1"), "i", 0, 5));
  ASSERT_NO_FATAL_FAILURE(LogSplit(*client_, Key(Split::kInference, "prod_2"), "i", 0, 3));
  ASSERT_NO_FATAL_FAILURE(ExpectFinishes(
      {{"training", 6}, {"validation", 4}, {"inference:prod_1", 5}, {"inference:prod_2", 3}}));
}

}  // namespace
}  // namespace sextant
