// Processing at finish, driven through the public client and read back
// through the query layer, against values computed by hand or by brute force.
#include "processing/process_run.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "io/npy.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}

Status LogOutputs(Client& client, const SplitKey& key, int32_t epoch,
                  const std::vector<std::string>& ids, const std::vector<float>& emb, int64_t dim,
                  const std::vector<float>& out, int64_t width, bool probs) {
  OutputsBatch b;
  b.ids = ids;
  const auto n = static_cast<int64_t>(ids.size());
  b.embeddings = {emb.data(), n, dim};
  (probs ? b.probabilities : b.logits) = {out.data(), n, width};
  return client.LogModelOutputs(b, key, epoch);
}

std::map<std::string, SampleRow> ById(const std::vector<SampleRow>& rows) {
  std::map<std::string, SampleRow> out;
  for (const SampleRow& r : rows) out[r.id] = r;
  return out;
}

// Embedding of sample i at epoch e, so the test can tell which epoch was kept.
std::vector<float> Emb(int i, int e) {
  return {1.0f + static_cast<float>(i), static_cast<float>(e) + 1.0f, 0.5f,
          static_cast<float>(i * e)};
}

TEST(ProcessRun, LastEpochGivesPredAndDepAveragesAumOverEpochs) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto client, Client::Init({.root = dir.path(), .project = "p", .run = "r"}));
  ASSERT_OK(client->SetLabelsForRun({"a", "b"}));
  const SplitKey train = Key(Split::kTraining);
  DataBatch data;
  data.ids = {"t0", "t1", "t2"};
  data.texts = {"x", "y", "z"};
  data.labels = {"a", "b", "b"};
  ASSERT_OK(client->LogDataSamples(data, train));

  auto emb = [](std::initializer_list<int> rows, int e) {
    std::vector<float> out;
    for (int i : rows)
      for (float v : Emb(i, e)) out.push_back(v);
    return out;
  };
  // Epoch 0 (probabilities), epoch 2 (probabilities), then epoch 1 (logits = log p), which is
  // logged last but is not the last epoch. t2 has no outputs at epoch 1.
  ASSERT_OK(LogOutputs(*client, train, 0, {"t0", "t1", "t2"}, emb({0, 1, 2}, 0), 4,
                       {0.2f, 0.8f, 0.5f, 0.5f, 0.4f, 0.6f}, 2, true));
  ASSERT_OK(LogOutputs(*client, train, 2, {"t0", "t1", "t2"}, emb({0, 1, 2}, 2), 4,
                       {0.9f, 0.1f, 0.75f, 0.25f, 0.4f, 0.6f}, 2, true));
  ASSERT_OK(LogOutputs(*client, train, 1, {"t1", "t0"}, emb({1, 0}, 1), 4,
                       {std::log(0.3f), std::log(0.7f), std::log(0.6f), std::log(0.4f)}, 2, false));
  ProcessingOptions options;
  options.drift_k = 1;
  ASSERT_OK(client->Finish(options));

  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir.path(), "p", "r"));
  SampleQuery q;
  q.split = train;
  q.include_probs = true;
  ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
  auto s = ById(rows);
  ASSERT_EQ(s.size(), 3u);

  // t0 (gold a): AUM -0.6, 0.2, 0.8 -> mean 0.13333, DEP (1 - 0.13333) / 2 = 0.43333.
  EXPECT_EQ(s["t0"].epoch, 2);
  EXPECT_EQ(s["t0"].pred, "a");
  EXPECT_NEAR(s["t0"].confidence, 0.9, 1e-6);
  EXPECT_NEAR(s["t0"].margin, 0.8, 1e-6);
  EXPECT_NEAR(*s["t0"].aum, 0.4 / 3, 1e-6);
  EXPECT_NEAR(*s["t0"].dep, (1 - 0.4 / 3) / 2, 1e-6);
  EXPECT_EQ(*s["t0"].is_correct, true);
  EXPECT_NEAR(s["t0"].probs[0], 0.9f, 1e-6);
  // t1 (gold b): AUM 0, 0.4, -0.5 -> mean -0.03333, DEP 0.51667; predicted a at epoch 2.
  EXPECT_EQ(s["t1"].pred, "a");
  EXPECT_EQ(*s["t1"].gold, "b");
  EXPECT_EQ(*s["t1"].is_correct, false);
  EXPECT_NEAR(s["t1"].confidence, 0.75, 1e-6);
  EXPECT_NEAR(s["t1"].certainty_ratio, 1.0 / 3, 1e-6);
  EXPECT_FALSE(s["t1"].is_on_the_boundary);
  EXPECT_NEAR(*s["t1"].dep, (1 + 0.1 / 3) / 2, 1e-6);
  // t2 (gold b), logged at epochs 0 and 2 only: AUM 0.2 twice, DEP 0.4; ratio 2/3 is on the
  // boundary.
  EXPECT_NEAR(*s["t2"].aum, 0.2, 1e-6);
  EXPECT_NEAR(*s["t2"].dep, 0.4, 1e-6);
  EXPECT_EQ(s["t2"].pred, "b");
  EXPECT_TRUE(s["t2"].is_on_the_boundary);
  EXPECT_NEAR(s["t2"].entropy, -(0.4 * std::log(0.4) + 0.6 * std::log(0.6)), 1e-6);
  // Training is the drift reference: no drift fields.
  EXPECT_FALSE(s["t0"].drift_distance.has_value());
  EXPECT_FALSE(s["t0"].is_drifted.has_value());

  // The stored embeddings are those of each sample's last epoch.
  ASSERT_OK_AND_ASSIGN(auto store,
                       store::RunStore::Open(dir.path() / "p" / "r", store::RunStore::Mode::kRead));
  ASSERT_OK_AND_ASSIGN(fs::path results, store->ResultsDir());
  ASSERT_OK_AND_ASSIGN(io::FloatMatrix e,
                       io::ReadNpyAsFloat32(results / "training" / "embeddings.npy"));
  EXPECT_EQ(e.data, emb({0, 1, 2}, 2));

  ASSERT_OK_AND_ASSIGN(std::string summary_text, reader->SummaryJson(train));
  auto summary = nlohmann::json::parse(summary_text);
  EXPECT_NEAR(summary["accuracy"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(summary["mean_dep"].get<double>(), 0.45, 1e-6);
  EXPECT_EQ(summary["last_epoch"], 2);
}

// Brute-force k-core distance of a query against reference rows (all unit
// length), skipping row `skip`.
double BruteKCore(const std::vector<double>& ref, int64_t n, int64_t dim, const double* q, int k,
                  int64_t skip) {
  std::vector<double> d;
  for (int64_t j = 0; j < n; ++j) {
    if (j == skip) continue;
    double dot = 0;
    for (int64_t c = 0; c < dim; ++c) dot += ref[j * dim + c] * q[c];
    d.push_back(1.0 - dot);
  }
  std::nth_element(d.begin(), d.begin() + (k - 1), d.end());
  return d[k - 1];
}

std::vector<double> UnitRows(const std::vector<float>& m, int64_t dim) {
  std::vector<double> out(m.begin(), m.end());
  for (size_t r = 0; r < out.size() / dim; ++r) {
    double norm = 0;
    for (int64_t c = 0; c < dim; ++c) norm += out[r * dim + c] * out[r * dim + c];
    for (int64_t c = 0; c < dim; ++c) out[r * dim + c] /= std::sqrt(norm);
  }
  return out;
}

TEST(ProcessRun, DriftEqualsABruteForceReferenceSampleForSample) {
  constexpr int64_t kTrain = 300, kVal = 60, kProd = 80, kDim = 8;
  constexpr int kK = 5;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Training spreads over the first half of the dimensions (the second half is small);
  // the shifted production half points into the second half, where training has no mass.
  auto matrix = [&](int64_t n, bool shifted) {
    std::vector<float> m;
    for (int64_t i = 0; i < n * kDim; ++i) {
      const bool first_half = (i % kDim) < kDim / 2;
      m.push_back(normal(rng) * (first_half != shifted ? 1.0f : 0.1f));
    }
    return m;
  };
  auto ids = [](const std::string& p, int64_t n) {
    std::vector<std::string> out;
    for (int64_t i = 0; i < n; ++i) out.push_back(p + std::to_string(i));
    return out;
  };
  const std::vector<float> train = matrix(kTrain, false), val = matrix(kVal, false);
  std::vector<float> prod = matrix(kProd / 2, false);
  const std::vector<float> shifted = matrix(kProd / 2, true);
  prod.insert(prod.end(), shifted.begin(), shifted.end());

  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto client,
                         Client::Init({.root = dir.path(), .project = "p", .run = "r"}));
    ASSERT_OK(client->SetLabelsForRun({"a", "b"}));
    struct Part {
      SplitKey key;
      const std::vector<float>* emb;
      int64_t n;
      std::string prefix;
    };
    for (const Part& part : {Part{Key(Split::kTraining), &train, kTrain, "t"},
                             Part{Key(Split::kValidation), &val, kVal, "v"},
                             Part{Key(Split::kInference, "prod"), &prod, kProd, "i"}}) {
      DataBatch data;
      data.ids = ids(part.prefix, part.n);
      data.texts.assign(part.n, "text");
      if (IsLabeled(part.key.split)) data.label_indices.assign(part.n, 0);
      ASSERT_OK(client->LogDataSamples(data, part.key));
      std::vector<float> logits(part.n * 2, 0.0f);
      ASSERT_OK(LogOutputs(*client, part.key, 0, data.ids, *part.emb, kDim, logits, 2, false));
    }
    ProcessingOptions options;
    options.drift_k = kK;
    options.drift_percentile = 0.95;
    ASSERT_OK(client->Finish(options));
  }

  // The brute-force reference: leave-one-out k-core distances of training, sorted.
  const std::vector<double> ref = UnitRows(train, kDim);
  std::vector<double> reference;
  for (int64_t i = 0; i < kTrain; ++i) {
    reference.push_back(BruteKCore(ref, kTrain, kDim, &ref[i * kDim], kK, i));
  }
  std::sort(reference.begin(), reference.end());
  const double pos = 0.95 * (kTrain - 1);
  const auto lo = static_cast<size_t>(pos);
  const double threshold = reference[lo] + (reference[lo + 1] - reference[lo]) * (pos - lo);

  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir.path(), "p", "r"));
  ASSERT_OK_AND_ASSIGN(std::string run_summary, reader->SummaryJson());
  auto params = nlohmann::json::parse(run_summary)["parameters"];
  EXPECT_NEAR(params["drift_threshold"].get<double>(), threshold, 1e-5);
  EXPECT_EQ(params["drift_k"], kK);
  EXPECT_EQ(params["reference_size"], kTrain);

  int drifted_plain = 0, drifted_shifted = 0;
  using Case = std::tuple<SplitKey, const std::vector<float>*, int64_t>;
  for (auto [key, emb, n] : {Case{Key(Split::kValidation), &val, kVal},
                             Case{Key(Split::kInference, "prod"), &prod, kProd}}) {
    SampleQuery q;
    q.split = key;
    ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
    ASSERT_EQ(static_cast<int64_t>(rows.size()), n);
    const std::vector<double> unit = UnitRows(*emb, kDim);
    for (const SampleRow& r : rows) {
      SCOPED_TRACE(key.ToString() + " " + r.id);
      const double d = BruteKCore(ref, kTrain, kDim, &unit[r.row * kDim], kK, -1);
      ASSERT_TRUE(r.drift_distance && r.drift_score && r.is_drifted);
      EXPECT_NEAR(*r.drift_distance, d, 1e-5);
      const double score =
          static_cast<double>(std::upper_bound(reference.begin(), reference.end(), d) -
                              reference.begin()) /
          kTrain;
      const bool near_tie = std::any_of(reference.begin(), reference.end(),
                                        [&](double v) { return std::abs(v - d) < 1e-5; });
      if (near_tie) {
        EXPECT_NEAR(*r.drift_score, score, 1.0 / kTrain + 1e-12);
      } else {
        EXPECT_DOUBLE_EQ(*r.drift_score, score);
      }
      if (std::abs(d - threshold) > 1e-5) {
        EXPECT_EQ(*r.is_drifted, d > threshold);
      }
      if (key.split == Split::kInference && *r.is_drifted) {
        (r.row < kProd / 2 ? drifted_plain : drifted_shifted)++;
      }
    }
  }
  // The shifted half is flagged far more often than the in-distribution half.
  EXPECT_GT(drifted_shifted, 2 * drifted_plain);
  EXPECT_GT(drifted_shifted, kProd / 4);
}

class ProcessRunStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(
        store_, store::RunStore::Open(dir_.path() / "p" / "r", store::RunStore::Mode::kWrite,
                                      TaskType::kTextClassification));
  }
  void ExpectNothingCommitted() {
    ASSERT_OK_AND_ASSIGN(fs::path results, store_->ResultsDir());
    EXPECT_TRUE(results.empty());
  }
  TempDir dir_;
  std::unique_ptr<store::RunStore> store_;
};

TEST_F(ProcessRunStore, RefusesRunsItCannotProcess) {
  auto no_labels = processing::ProcessRun(*store_, {});
  EXPECT_EQ(no_labels.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(no_labels.status().message().find("label list"), std::string::npos);
  ASSERT_OK(store_->SetLabels({"a", "b"}));
  auto empty = processing::ProcessRun(*store_, {});
  EXPECT_EQ(empty.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(empty.status().message().find("no data samples"), std::string::npos);

  ProcessingOptions bad_k;
  bad_k.drift_k = 0;
  auto k = processing::ProcessRun(*store_, bad_k);
  EXPECT_TRUE(k.status().IsInvalid());
  EXPECT_NE(k.status().message().find("drift_k"), std::string::npos);
  ProcessingOptions bad_p;
  bad_p.drift_percentile = 1.0;
  auto p = processing::ProcessRun(*store_, bad_p);
  EXPECT_TRUE(p.status().IsInvalid());
  EXPECT_NE(p.status().message().find("drift_percentile"), std::string::npos);
  ExpectNothingCommitted();
}

// Issue 16, point 10: a first run with fewer than k + 1 training samples used to
// fail the whole finish ("needs at least 11"); it now keeps every other result and
// says why drift is missing.
TEST_F(ProcessRunStore, TooFewTrainingSamplesForKFinishesWithoutDrift) {
  ASSERT_OK(store_->SetLabels({"a", "b"}));
  std::vector<store::OutputAppend> outs;
  auto add = [&](const SplitKey& key, int n, bool labeled) {
    std::vector<store::SampleRecord> samples;
    store::OutputAppend out;
    out.split = key;
    out.emb_dim = 2;
    out.out_dim = 2;
    for (int i = 0; i < n; ++i) {
      samples.push_back({key.ToString() + std::to_string(i), "x",
                         labeled ? std::optional<int32_t>(i % 2) : std::nullopt, "{}"});
      out.sample_rows.push_back(i);
      out.embeddings.insert(out.embeddings.end(), {1.0f, static_cast<float>(i)});
      out.outputs.insert(out.outputs.end(), {0.0f, 1.0f});
    }
    ASSERT_OK(store_->AppendSamples(out.split, samples));
    outs.push_back(std::move(out));
  };
  add(Key(Split::kTraining), 4, true);
  add(Key(Split::kValidation), 6, true);
  add(Key(Split::kInference, "prod"), 7, false);
  ASSERT_OK(store_->AppendOutputs(outs));
  ProcessingOptions options;  // k = 10 needs 11 training samples
  options.compute_map = false;
  ASSERT_OK_AND_ASSIGN(FinishReport report, processing::ProcessRun(*store_, options));
  EXPECT_EQ(report.samples, 17);

  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
  const std::string reason = "drift needs at least k + 1 = 11 training samples; training has 4";
  ASSERT_OK_AND_ASSIGN(std::string text, reader->SummaryJson());
  const auto run = nlohmann::json::parse(text);
  EXPECT_EQ(run["parameters"]["drift_unavailable_reason"], reason);
  EXPECT_TRUE(run["parameters"]["drift_threshold"].is_null());
  EXPECT_EQ(run["splits"]["validation"]["drift_unavailable_reason"], reason);
  EXPECT_EQ(run["splits"]["inference:prod"]["drift_unavailable_reason"], reason);
  EXPECT_FALSE(run["splits"]["training"].contains("drift_unavailable_reason"));
  EXPECT_FALSE(run["splits"]["inference:prod"].contains("drift_verdict"));
  // Every other result is there: predictions, DEP, the comparison.
  SampleQuery q;
  q.split = Key(Split::kInference, "prod");
  ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0].pred, "b");
  EXPECT_FALSE(rows[0].drift_score.has_value());
  q.split = Key(Split::kTraining);
  ASSERT_OK_AND_ASSIGN(rows, reader->Samples(q));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0].dep.has_value());
  EXPECT_TRUE(run["comparisons"].contains("inference:prod"));

  // With k = 3 the same four training samples are enough.
  options.drift_k = 3;
  ASSERT_OK(processing::ProcessRun(*store_, options).status());
  ASSERT_OK_AND_ASSIGN(reader, RunReader::Open(dir_.path(), "p", "r"));
  ASSERT_OK_AND_ASSIGN(text, reader->SummaryJson());
  EXPECT_TRUE(nlohmann::json::parse(text)["parameters"]["drift_unavailable_reason"].is_null());
}

}  // namespace
}  // namespace sextant
