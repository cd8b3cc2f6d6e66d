// The drift reference choice, the sampled reference and the dataset-level
// verdict, through the engine (client -> finish -> summary) at small sizes.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "drift/knn_drift.h"
#include "drift/reference.h"
#include "index/cosine_index.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "testing.h"

namespace sextant {
namespace {

using ::sextant::testing::TempDir;
using json = nlohmann::json;
constexpr int64_t kDim = 8;

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}

// Gaussian embeddings around (2 + shift, 0, ..., 0). Cosine distance sees
// directions only: a shift of -4 turns a set to where training hardly goes.
std::vector<float> Gaussian(std::mt19937& rng, int64_t n, float shift = 0) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> m(static_cast<size_t>(n * kDim));
  for (size_t i = 0; i < m.size(); ++i) m[i] = normal(rng) + (i % kDim == 0 ? 2.0f + shift : 0.0f);
  return m;
}

// A training set the way a fitted model sees it: every point comes with five
// close copies (what memorising the training data does to its embeddings), so
// a training point's k = 10 nearest other training points reach only into its
// nearest other group, while a new point's reach into the second nearest.
std::vector<float> Memorised(std::mt19937& rng, int64_t groups) {
  std::normal_distribution<float> jitter(0.0f, 0.02f);
  const std::vector<float> base = Gaussian(rng, groups);
  std::vector<float> m;
  for (int64_t g = 0; g < groups; ++g) {
    for (int copy = 0; copy < 6; ++copy) {
      for (int64_t c = 0; c < kDim; ++c) m.push_back(base[g * kDim + c] + jitter(rng));
    }
  }
  return m;
}

Status LogSplit(Client& client, const SplitKey& key, const std::vector<float>& emb,
                const std::string& prefix) {
  const auto n = static_cast<int64_t>(emb.size()) / kDim;
  DataBatch data;
  for (int64_t i = 0; i < n; ++i) data.ids.push_back(prefix + std::to_string(i));
  data.texts.assign(n, "text");
  // Predictions alternate between the classes, so each class has a verdict.
  std::vector<float> logits;
  for (int64_t i = 0; i < n; ++i) {
    logits.push_back(i % 2 ? 0.0f : 1.0f);
    logits.push_back(i % 2 ? 1.0f : 0.0f);
  }
  if (IsLabeled(key.split)) data.label_indices.assign(n, 0);
  SEXTANT_RETURN_IF_ERROR(client.LogDataSamples(data, key));
  OutputsBatch out;
  out.ids = data.ids;
  out.embeddings = {emb.data(), n, kDim};
  out.logits = {logits.data(), n, 2};
  return client.LogModelOutputs(out, key, 0);
}

json Summary(const TempDir& dir) {
  auto reader = RunReader::Open(dir.path(), "p", "r");
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  auto text = (*reader)->SummaryJson();
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return json::parse(*text);
}

// The map is not what these tests look at; without it a finish takes a fraction of a second.
Status Finish(const TempDir& dir, ProcessingOptions options) {
  options.compute_map = false;
  return FinishRun(dir.path(), "p", "r", options).status();
}

// One run: a memorised training set of 1200, a held-out validation set of
// 400, a held-out no-drift set of 2000, 20 small no-drift sets and a shifted
// set; finished once with the default (auto: the validation reference) and
// once with the training leave-one-out reference.
class DriftVerdict : public ::testing::Test {
 protected:
  static constexpr int64_t kTrain = 1200, kVal = 400, kHeldOut = 2000, kSmall = 100, kSets = 20;

  static void SetUpTestSuite() {
    TempDir dir;
    std::mt19937 rng(2026);
    {
      auto client = Client::Init({.root = dir.path(), .project = "p", .run = "r"});
      ASSERT_TRUE(client.ok()) << client.status().ToString();
      Client& c = **client;
      ASSERT_OK(c.SetLabelsForRun({"a", "b"}));
      ASSERT_OK(LogSplit(c, Key(Split::kTraining), Memorised(rng, kTrain / 6), "t"));
      ASSERT_OK(LogSplit(c, Key(Split::kValidation), Gaussian(rng, kVal), "v"));
      ASSERT_OK(LogSplit(c, Key(Split::kInference, "held_out"), Gaussian(rng, kHeldOut), "h"));
      for (int s = 0; s < kSets; ++s) {
        ASSERT_OK(LogSplit(c, Key(Split::kInference, "same" + std::to_string(s)),
                           Gaussian(rng, kSmall), "s" + std::to_string(s) + "-"));
      }
      ASSERT_OK(LogSplit(c, Key(Split::kInference, "shifted"), Gaussian(rng, 300, -4.0f), "x"));
      ASSERT_OK(c.Flush());
    }
    ProcessingOptions both;
    both.drift_compare_references = true;
    ASSERT_OK(Finish(dir, both));
    auto_ = new json(Summary(dir));
    ASSERT_OK(Finish(dir, {}));
    auto_only_ = new json(Summary(dir));
    ProcessingOptions loo;
    loo.drift_reference = DriftReference::kTrainingLeaveOneOut;
    ASSERT_OK(Finish(dir, loo));
    loo_ = new json(Summary(dir));
  }
  static void TearDownTestSuite() {
    delete auto_;
    delete auto_only_;
    delete loo_;
  }
  void SetUp() override {
    ASSERT_NE(auto_, nullptr);
    ASSERT_NE(loo_, nullptr);
  }

  static json* auto_;       // auto reference, with the leave-one-out threshold for comparison
  static json* auto_only_;  // the defaults: validation reference alone
  static json* loo_;
};
json* DriftVerdict::auto_ = nullptr;
json* DriftVerdict::auto_only_ = nullptr;
json* DriftVerdict::loo_ = nullptr;

TEST_F(DriftVerdict, AutoTakesTheValidationReferenceAndRecordsBoth) {
  const json& s = *auto_;
  const json& p = s["parameters"];
  EXPECT_EQ(p["reference"], "validation");
  EXPECT_EQ(p["reference_requested"], "auto");
  EXPECT_EQ(p["reference_size"], kVal);
  EXPECT_EQ(p["reference_population"], kVal);
  // Threshold between ranks 379 and 380 of 400 (0-based): 20 above it.
  EXPECT_EQ(p["reference_above_threshold"], 20);
  EXPECT_NEAR(p["reference_cdf_error"]["dkw_epsilon"].get<double>(),
              std::sqrt(std::log(2 / 0.05) / (2.0 * kVal)), 1e-12);
  EXPECT_EQ(p["drift_threshold"], p["drift_thresholds"]["validation"]);
  ASSERT_TRUE(p["drift_thresholds"]["training_loo"].is_number());
  // Memorised training points are closer to each other than new points are to them.
  EXPECT_LT(p["drift_thresholds"]["training_loo"].get<double>(),
            p["drift_threshold"].get<double>());
  EXPECT_EQ(p["drift_verdict"]["alpha"], 0.01);
  EXPECT_EQ((*loo_)["parameters"]["drift_thresholds"], p["drift_thresholds"]);
  // By default the leave-one-out pass is skipped when it does not drive the flags;
  // the flags are the same.
  const json& only = (*auto_only_)["parameters"];
  EXPECT_TRUE(only["drift_thresholds"]["training_loo"].is_null());
  EXPECT_EQ(only["drift_thresholds"]["validation"], p["drift_thresholds"]["validation"]);
  EXPECT_EQ((*auto_only_)["splits"], s["splits"]);

  // The validation split is the reference: its fraction is nominal by construction.
  const json& val = s["splits"]["validation"]["drift_verdict"];
  EXPECT_TRUE(val["is_reference"].get<bool>());
  EXPECT_TRUE(val["p_value"].is_null());
  EXPECT_TRUE(val["drifted"].is_null());
  EXPECT_EQ(val["count"], 20);

  // Every field of an inference verdict, overall and per predicted class.
  const json& shifted = s["splits"]["inference:shifted"]["drift_verdict"];
  EXPECT_FALSE(shifted["is_reference"].get<bool>());
  EXPECT_EQ(shifted["samples"], 300);
  EXPECT_EQ(shifted["count"], s["splits"]["inference:shifted"]["drifted"]["count"]);
  EXPECT_NEAR(shifted["nominal"].get<double>(), 0.05, 1e-12);
  EXPECT_NEAR(shifted["expected"].get<double>(), 21.0 / 401.0, 1e-12);
  EXPECT_NEAR(shifted["per_class_alpha"].get<double>(), 0.005, 1e-12);
  EXPECT_LT(shifted["ci_low"].get<double>(), shifted["fraction"].get<double>());
  EXPECT_GT(shifted["ci_high"].get<double>(), shifted["fraction"].get<double>());
  int64_t class_samples = 0, class_count = 0;
  for (const std::string label : {"a", "b"}) {
    const json& c = shifted["per_class"][label];
    class_samples += c["samples"].get<int64_t>();
    class_count += c["count"].get<int64_t>();
    EXPECT_LT(c["p_value"].get<double>(), 1e-10) << label;
    EXPECT_TRUE(c["drifted"].get<bool>()) << label;
  }
  EXPECT_EQ(class_samples, 300);
  EXPECT_EQ(class_count, shifted["count"].get<int64_t>());
}

TEST_F(DriftVerdict, TinyPValueUnderAStrongShift) {
  for (const json* s : {auto_, loo_}) {
    const json& v = (*s)["splits"]["inference:shifted"]["drift_verdict"];
    EXPECT_LT(v["p_value"].get<double>(), 1e-10);
    EXPECT_NEAR(v["log10_p_value"].get<double>(), std::log10(v["p_value"].get<double>()), 1e-6);
    EXPECT_TRUE(v["drifted"].get<bool>());
    EXPECT_GT(v["fraction"].get<double>(), 0.3);
  }
}

TEST_F(DriftVerdict, ValidationReferenceGivesTheNominalRateOnHeldOutData) {
  const json& held = (*auto_)["splits"]["inference:held_out"]["drift_verdict"];
  // sd of the held-out fraction: sqrt(0.05 * 0.95 * (1/400 + 1/2000)) = 0.012.
  EXPECT_NEAR(held["fraction"].get<double>(), 0.05, 0.036);
  EXPECT_FALSE(held["drifted"].get<bool>()) << held.dump();

  const json& s = *loo_;
  EXPECT_EQ(s["parameters"]["reference"], "training_loo");
  EXPECT_EQ(s["parameters"]["reference_size"], kTrain);
  EXPECT_EQ(s["parameters"]["drift_threshold"],
            s["parameters"]["drift_thresholds"]["training_loo"]);
  // Against the memorised training set, held-out data from the same distribution "drifts".
  const json& held_loo = s["splits"]["inference:held_out"]["drift_verdict"];
  std::printf(
      "held-out no-drift set above the threshold: validation reference %.3f, training "
      "leave-one-out %.3f (p = %.3g)\n",
      held["fraction"].get<double>(), held_loo["fraction"].get<double>(),
      held_loo["p_value"].get<double>());
  EXPECT_GT(held_loo["fraction"].get<double>(), 0.075);
  EXPECT_TRUE(held_loo["drifted"].get<bool>());
  // Validation is scored, not the reference, and gets a p-value.
  EXPECT_FALSE(s["splits"]["validation"]["drift_verdict"]["is_reference"].get<bool>());
  EXPECT_TRUE(s["splits"]["validation"]["drift_verdict"]["drifted"].get<bool>());
}

TEST_F(DriftVerdict, PValuesOfNoDriftSetsAreRoughlyUniform) {
  int below_05 = 0, below_50 = 0;
  for (int i = 0; i < kSets; ++i) {
    const json& v = (*auto_)["splits"]["inference:same" + std::to_string(i)]["drift_verdict"];
    below_05 += v["p_value"].get<double>() < 0.05;
    below_50 += v["p_value"].get<double>() < 0.5;
  }
  std::printf("%d no-drift sets: p < 0.05 in %d, p < 0.5 in %d\n", static_cast<int>(kSets),
              below_05, below_50);
  // The sets share one reference, so they are not independent draws: loose bounds, fixed data.
  EXPECT_LE(below_05, 4);
  EXPECT_GE(below_50, 3);
  EXPECT_LE(below_50, 17);
}

TEST(SampledReference, ThresholdIsWithinItsStatedErrorOfTheFullOne) {
  constexpr int64_t kTrain = 1200;
  TempDir dir;
  std::mt19937 rng(5);
  const std::vector<float> train = Gaussian(rng, kTrain);
  {
    ASSERT_OK_AND_ASSIGN(auto client,
                         Client::Init({.root = dir.path(), .project = "p", .run = "r"}));
    ASSERT_OK(client->SetLabelsForRun({"a", "b"}));
    ASSERT_OK(LogSplit(*client, Key(Split::kTraining), train, "t"));
    ASSERT_OK(LogSplit(*client, Key(Split::kInference, "prod"), Gaussian(rng, 20), "i"));
    ASSERT_OK(client->Flush());
  }
  // The full leave-one-out distribution, to place the sampled thresholds in it.
  std::vector<float> unit = train;
  index::NormalizeRows(unit.data(), kTrain, kDim);
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Build(unit.data(), kTrain, kDim));
  ASSERT_OK_AND_ASSIGN(drift::ReferenceDistribution full,
                       drift::BuildReference(*idx, unit.data(), 10, 0.95));
  for (uint64_t seed : {1, 2}) {
    ProcessingOptions sampled;
    sampled.drift_reference_sample_size = 300;
    sampled.drift_seed = seed;
    ASSERT_OK(Finish(dir, sampled));
    const json p = Summary(dir)["parameters"];
    EXPECT_EQ(p["reference"], "training_loo");
    EXPECT_EQ(p["reference_size"], 300);
    EXPECT_EQ(p["reference_population"], kTrain);
    EXPECT_EQ(p["reference_seed"], seed);
    const double eps = p["reference_cdf_error"]["dkw_epsilon"].get<double>();
    EXPECT_NEAR(eps, std::sqrt(std::log(40.0) / 600.0), 1e-12);
    const double rank = drift::PercentileRank(full, p["drift_threshold"].get<double>());
    std::printf(
        "seed %d: sampled threshold %.5f at rank %.4f of the full reference (threshold "
        "%.5f); DKW epsilon %.4f\n",
        static_cast<int>(seed), p["drift_threshold"].get<double>(), rank, full.threshold, eps);
    EXPECT_NEAR(rank, 0.95, eps) << "seed " << seed;
  }
}

TEST(DriftReferenceChoice, AutoFallsBackToTrainingAndValidationNeedsASplit) {
  TempDir dir;
  std::mt19937 rng(3);
  {
    ASSERT_OK_AND_ASSIGN(auto client,
                         Client::Init({.root = dir.path(), .project = "p", .run = "r"}));
    ASSERT_OK(client->SetLabelsForRun({"a", "b"}));
    ASSERT_OK(LogSplit(*client, Key(Split::kTraining), Gaussian(rng, 300), "t"));
    ASSERT_OK(LogSplit(*client, Key(Split::kInference, "prod"), Gaussian(rng, 50), "i"));
    ASSERT_OK(client->Flush());
  }
  ProcessingOptions validation;
  validation.drift_reference = DriftReference::kValidation;
  Status st = Finish(dir, validation);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("drift_reference"), std::string::npos) << st.ToString();
  ASSERT_OK(Finish(dir, {}));
  EXPECT_EQ(Summary(dir)["parameters"]["reference"], "training_loo");
  EXPECT_TRUE(Summary(dir)["parameters"]["drift_thresholds"]["validation"].is_null());

  // A validation split below 10 / (1 - 0.95) = 200 samples is too small for auto.
  {
    ASSERT_OK_AND_ASSIGN(auto client,
                         Client::Init({.root = dir.path(), .project = "p", .run = "r"}));
    ASSERT_OK(LogSplit(*client, Key(Split::kValidation), Gaussian(rng, 199), "v"));
    ASSERT_OK(client->Flush());
  }
  ASSERT_OK(Finish(dir, {}));
  json p = Summary(dir)["parameters"];
  EXPECT_EQ(p["reference"], "training_loo");
  EXPECT_TRUE(p["drift_thresholds"]["validation"].is_number());
  // Asked for explicitly, it is used.
  ASSERT_OK(Finish(dir, validation));
  p = Summary(dir)["parameters"];
  EXPECT_EQ(p["reference"], "validation");
  EXPECT_EQ(p["reference_size"], 199);

  ProcessingOptions bad;
  bad.drift_alpha = 0;
  EXPECT_TRUE(Finish(dir, bad).IsInvalid());
  bad = {};
  bad.drift_reference_sample_size = -1;
  EXPECT_TRUE(Finish(dir, bad).IsInvalid());
}

}  // namespace
}  // namespace sextant
