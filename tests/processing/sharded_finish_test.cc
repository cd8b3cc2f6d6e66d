// A finish through a shard executor (sextant/shards.h) against the same
// finish in process: every per-sample and per-span result bitwise equal, the
// summaries equal but for timings; a sharded training reference (exact) equal
// to one index; the drift shard tasks' damaged specs are errors, not crashes;
// and the map beside the other stages against every stage one after another.
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "drift/knn_drift.h"
#include "drift/reference.h"
#include "index/cosine_index.h"
#include "io/npy.h"
#include "processing/drift_search.h"
#include "processing/shard_tasks.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "sextant/shards.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

constexpr int64_t kDim = 8;

// Clustered embeddings with a few exact duplicates (ties in the searches).
std::vector<float> Embeddings(int64_t n, float shift, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<float> out(static_cast<size_t>(n * kDim));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cluster = i % 5;
    for (int64_t d = 0; d < kDim; ++d) {
      out[i * kDim + d] = (d == cluster ? 3.0f : 0.0f) + shift + noise(rng);
    }
    if (i % 97 == 1) std::copy_n(&out[(i - 1) * kDim], kDim, &out[i * kDim]);
  }
  return out;
}

Status LogClassificationSplit(Client& client, const SplitKey& key, int64_t n, float shift,
                              uint64_t seed, bool labeled) {
  const std::vector<float> emb = Embeddings(n, shift, seed);
  constexpr int64_t kBatch = 10000;
  for (int64_t b = 0; b < n; b += kBatch) {
    const int64_t m = std::min(kBatch, n - b);
    DataBatch data;
    std::vector<float> probs;
    for (int64_t i = b; i < b + m; ++i) {
      data.ids.push_back(key.ToString() + "-" + std::to_string(i));
      data.texts.push_back("text " + std::to_string(i));
      if (labeled) data.labels.push_back(i % 3 == 0 ? "a" : "b");
      const float p = 0.5f + 0.45f * std::sin(static_cast<float>(i));
      probs.push_back(p);
      probs.push_back(1.0f - p);
    }
    SEXTANT_RETURN_IF_ERROR(client.LogDataSamples(data, key));
    OutputsBatch out;
    out.ids = data.ids;
    out.embeddings = {emb.data() + b * kDim, m, kDim};
    out.probabilities = {probs.data(), m, 2};
    SEXTANT_RETURN_IF_ERROR(client.LogModelOutputs(out, key, 0));
  }
  return Status::OK();
}

// "Ann Lee met Bob in Rome": three spans per sample.
const std::string kText = "Ann Lee met Bob in Rome";
const std::vector<CharRange> kTokens = {{0, 3}, {4, 7}, {8, 11}, {12, 15}, {16, 18}, {19, 23}};
const std::vector<int> kTags = {1, 2, 0, 1, 0, 3};  // O, B-PER, I-PER, B-LOC, I-LOC

Status LogNerSplit(Client& client, const SplitKey& key, int64_t n, float shift, uint64_t seed,
                   bool labeled) {
  const int64_t tokens = static_cast<int64_t>(kTokens.size());
  const std::vector<float> emb = Embeddings(n * tokens, shift, seed);
  constexpr int64_t kBatch = 2000;
  for (int64_t b = 0; b < n; b += kBatch) {
    const int64_t m = std::min(kBatch, n - b);
    DataBatch data;
    std::vector<float> logits;
    for (int64_t i = b; i < b + m; ++i) {
      data.ids.push_back(key.ToString() + "-" + std::to_string(i));
      data.texts.push_back(kText);
      data.token_offsets.push_back(kTokens);
      if (labeled) data.gold_spans.push_back({{0, 7, "PER"}, {12, 15, "PER"}, {19, 23, "LOC"}});
      for (int64_t t = 0; t < tokens; ++t) {
        for (int c = 0; c < 5; ++c) {
          logits.push_back(c == kTags[t] ? 3.0f + 0.001f * static_cast<float>(i % 7) : 0.0f);
        }
      }
    }
    if (!labeled) data.gold_spans.clear();
    SEXTANT_RETURN_IF_ERROR(client.LogDataSamples(data, key));
    OutputsBatch out;
    out.ids = data.ids;
    out.embeddings = {emb.data() + b * tokens * kDim, m * tokens, kDim};
    out.logits = {logits.data(), m * tokens, 5};
    SEXTANT_RETURN_IF_ERROR(client.LogModelOutputs(out, key, 0));
  }
  return Status::OK();
}

// Options every finish of these tests shares: a small map layout (the rest
// placed), sampled references so both reference searches run.
ProcessingOptions BaseOptions() {
  ProcessingOptions o;
  o.map_max_points = 2000;
  o.drift_compare_references = true;
  o.drift_reference_sample_size = 1000;
  o.nn_search = NnSearch::kExact;
  // Each finish lays the map out: a run's second finish compares its map, not the first one's.
  o.map_incremental = false;
  return o;
}

// For the tests whose subject is drift alone: no map, similarity index or
// domain test (the first two tests compare those).
ProcessingOptions DriftOnlyOptions() {
  ProcessingOptions o = BaseOptions();
  o.compute_map = false;
  o.build_similarity_index = false;
  o.domain_test = false;
  return o;
}

uint64_t Bits(double v) { return std::bit_cast<uint64_t>(v); }
std::string Bits(const std::optional<double>& v) {
  return v ? std::to_string(Bits(*v)) : std::string("none");
}
std::string Bits(const std::optional<bool>& v) { return v ? (*v ? "1" : "0") : "none"; }

// Every result of every split (and of every span row), exactly: doubles by bits.
std::vector<std::string> Results(const fs::path& root, const std::string& run) {
  auto reader = RunReader::Open(root, "p", run);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<std::string> out;
  if (!reader.ok()) return out;
  for (const SplitInfo& split : (*reader)->info().splits) {
    SampleQuery q;
    q.split = split.split;
    auto rows = (*reader)->Samples(q);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (!rows.ok()) return out;
    for (const SampleRow& r : *rows) {
      out.push_back(split.split.ToString() + " " + r.id + " " + r.pred + " " +
                    std::to_string(Bits(r.confidence)) + " " + std::to_string(Bits(r.margin)) +
                    " " + Bits(r.drift_distance) + " " + Bits(r.drift_score) + " " +
                    Bits(r.is_drifted) + " " + Bits(r.shift_score) + " " + Bits(r.is_shifted) +
                    " " + Bits(r.x) + " " + Bits(r.y) + " " + Bits(r.dep));
    }
    if ((*reader)->info().task != "ner") continue;
    SpanQuery sq;
    sq.split = split.split;
    sq.limit = -1;
    auto spans = (*reader)->Spans(sq);
    EXPECT_TRUE(spans.ok()) << spans.status().ToString();
    if (!spans.ok()) return out;
    for (const SpanRow& s : *spans) {
      out.push_back("span " + split.split.ToString() + " " + std::to_string(s.span_row) + " " +
                    Bits(s.drift_distance) + " " + Bits(s.drift_score) + " " + Bits(s.is_drifted) +
                    " " + Bits(s.x) + " " + Bits(s.y));
    }
  }
  return out;
}

// The summary of the whole run without what measures time, and without the
// keys in `drop` (anywhere).
nlohmann::json Summary(const fs::path& root, const std::string& run,
                       const std::vector<std::string>& drop = {}) {
  auto reader = RunReader::Open(root, "p", run);
  EXPECT_TRUE(reader.ok());
  if (!reader.ok()) return nullptr;
  auto text = (*reader)->SummaryJson();
  EXPECT_TRUE(text.ok());
  if (!text.ok()) return nullptr;
  nlohmann::json j = nlohmann::json::parse(*text);
  std::function<void(nlohmann::json&)> strip = [&](nlohmann::json& v) {
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end();) {
        const std::string& key = it.key();
        const bool timing = key == "finished_at" ||
                            (key.size() >= 7 && key.compare(key.size() - 7, 7, "seconds") == 0);
        if (timing || std::find(drop.begin(), drop.end(), key) != drop.end()) {
          it = v.erase(it);
        } else {
          strip(*it);
          ++it;
        }
      }
    } else if (v.is_array()) {
      for (auto& e : v) strip(e);
    }
  };
  strip(j);
  return j;
}

bool IsEmptyDir(const fs::path& dir) { return fs::is_empty(dir); }

class ShardedFinishTest : public ::testing::Test {
 protected:
  // A classification run: training 20,000 rows (two query shards of its
  // leave-one-out reference), validation 500, inference 35,000 (three).
  void MakeClassificationRun() {
    auto c = Client::Init({.root = dir_.path(), .project = "p", .run = "cls"});
    ASSERT_OK(c.status());
    ASSERT_OK((*c)->SetLabelsForRun({"a", "b"}));
    ASSERT_OK(LogClassificationSplit(**c, {Split::kTraining, ""}, 20000, 0.0f, 1, true));
    ASSERT_OK(LogClassificationSplit(**c, {Split::kValidation, ""}, 500, 0.0f, 2, true));
    ASSERT_OK(LogClassificationSplit(**c, {Split::kInference, "prod"}, 35000, 0.3f, 3, false));
  }
  // An NER run: 18,000 inference span rows (two query shards).
  void MakeNerRun() {
    auto c = Client::Init({dir_.path(), "p", "ner", TaskType::kNamedEntityRecognition});
    ASSERT_OK(c.status());
    ASSERT_OK((*c)->SetLabelsForRun({"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}));
    ASSERT_OK((*c)->SetTaggingSchema(TaggingSchema::kBIO));
    ASSERT_OK(LogNerSplit(**c, {Split::kTraining, ""}, 800, 0.0f, 4, true));
    ASSERT_OK(LogNerSplit(**c, {Split::kValidation, ""}, 200, 0.0f, 5, true));
    ASSERT_OK(LogNerSplit(**c, {Split::kInference, "prod"}, 6000, 0.3f, 6, false));
  }
  Result<FinishReport> Finish(const std::string& run, const ProcessingOptions& options) {
    return FinishRun(dir_.path(), "p", run, options);
  }
  // Finishes in process, then through the executor, and compares.
  void ExpectSameThroughExecutor(const std::string& run, ProcessingOptions options) {
    ASSERT_OK(Finish(run, options).status());
    const auto in_process = Results(dir_.path(), run);
    const auto summary = Summary(dir_.path(), run);
    TempDir work;
    InProcessShardExecutor executor(work.path().string());
    options.executor = &executor;
    ASSERT_OK_AND_ASSIGN(const FinishReport report, Finish(run, options));
    EXPECT_GT(report.shard_tasks, 0);
    EXPECT_GT(executor.tasks_run(), report.shard_tasks);  // the first task of each stage rerun
    EXPECT_TRUE(IsEmptyDir(work.path()));
    const auto sharded = Results(dir_.path(), run);
    ASSERT_EQ(in_process.size(), sharded.size());
    for (size_t i = 0; i < sharded.size(); ++i) ASSERT_EQ(in_process[i], sharded[i]) << i;
    EXPECT_EQ(summary, Summary(dir_.path(), run));
  }
  TempDir dir_;
};

TEST_F(ShardedFinishTest, ClassificationThroughTheExecutorIsBitwiseTheSame) {
  MakeClassificationRun();
  ExpectSameThroughExecutor("cls", BaseOptions());
}

TEST_F(ShardedFinishTest, NerThroughTheExecutorIsBitwiseTheSame) {
  MakeNerRun();
  ExpectSameThroughExecutor("ner", BaseOptions());
}

TEST_F(ShardedFinishTest, UnsampledLeaveOneOutThroughTheExecutorIsBitwiseTheSame) {
  MakeClassificationRun();
  ProcessingOptions options = DriftOnlyOptions();
  options.drift_reference_sample_size = 0;  // every training row, left out by its global row
  options.drift_reference = DriftReference::kTrainingLeaveOneOut;
  ExpectSameThroughExecutor("cls", options);
}

TEST_F(ShardedFinishTest, ApproximateThroughTheExecutorIsBitwiseTheSame) {
  MakeClassificationRun();
  for (int32_t shards : {1, 3}) {
    SCOPED_TRACE(shards);
    ProcessingOptions options = DriftOnlyOptions();
    options.nn_search = NnSearch::kApproximate;  // IVF indexes written, read by the tasks
    options.training_shards = shards;
    ExpectSameThroughExecutor("cls", options);
    EXPECT_EQ(Summary(dir_.path(), "cls")["parameters"]["nn_search"]["used"], "approximate");
  }
}

// An inference set added to a finished NER run: through the executor, both
// maps (samples and span rows) keep the earlier splits' coordinates and place
// only the new set's rows, in process (no map_place task).
TEST_F(ShardedFinishTest, NerSetAddedLaterIsPlacedOnBothStoredMaps) {
  MakeNerRun();
  ProcessingOptions options = BaseOptions();
  options.map_incremental = true;
  options.build_similarity_index = false;
  options.domain_test = false;
  ASSERT_OK(Finish("ner", options).status());
  const std::vector<std::string> before = Results(dir_.path(), "ner");
  {
    auto c = Client::Init({dir_.path(), "p", "ner", TaskType::kNamedEntityRecognition});
    ASSERT_OK(c.status());
    ASSERT_OK(LogNerSplit(**c, {Split::kInference, "later"}, 300, 0.3f, 7, false));
  }
  TempDir work;
  InProcessShardExecutor executor(work.path().string());
  options.executor = &executor;
  ASSERT_OK(Finish("ner", options).status());
  const nlohmann::json p = Summary(dir_.path(), "ner")["parameters"];
  for (const nlohmann::json& m : std::vector<nlohmann::json>{p["map"], p["spans"]["map"]}) {
    EXPECT_EQ(m["mode"], "incremental") << m;
    EXPECT_GT(m["placed_points"].get<int64_t>(), 0) << m;
    EXPECT_GT(m["reused_points"].get<int64_t>(), m["placed_points"].get<int64_t>()) << m;
  }
  EXPECT_EQ(p["map"]["placed_points"], 300);
  // Every result of the earlier splits, (x, y) of sample and span rows
  // included, is bitwise unchanged; the new set's rows come in addition.
  const std::vector<std::string> after = Results(dir_.path(), "ner");
  const std::set<std::string> now(after.begin(), after.end());
  for (const std::string& line : before) EXPECT_TRUE(now.contains(line)) << line;
  EXPECT_GT(after.size(), before.size());
}

TEST_F(ShardedFinishTest, ThreeExactTrainingShardsGiveTheDistancesOfOne) {
  MakeClassificationRun();
  // The unsampled reference: every training row left out by its global row
  // in the merged lists. (Sampled references over 3 shards: the approximate test.)
  {
    ProcessingOptions options = DriftOnlyOptions();
    options.drift_reference_sample_size = 0;
    options.training_shards = 1;
    ASSERT_OK(Finish("cls", options).status());
    const auto one = Results(dir_.path(), "cls");
    const auto one_summary = Summary(dir_.path(), "cls", {"nn_search"});

    options.training_shards = 3;
    ASSERT_OK(Finish("cls", options).status());
    EXPECT_EQ(one, Results(dir_.path(), "cls"));
    EXPECT_EQ(one_summary, Summary(dir_.path(), "cls", {"nn_search"}));
    const nlohmann::json three = Summary(dir_.path(), "cls");
    EXPECT_EQ(three["parameters"]["nn_search"]["training_shards"], 3) << three["parameters"];
    EXPECT_EQ(three["parameters"]["nn_search"]["shards"].size(), 3u);

    TempDir work;
    InProcessShardExecutor executor(work.path().string());
    options.executor = &executor;
    ASSERT_OK(Finish("cls", options).status());
    EXPECT_TRUE(IsEmptyDir(work.path()));
    EXPECT_EQ(one, Results(dir_.path(), "cls"));
    EXPECT_EQ(three, Summary(dir_.path(), "cls"));  // the same S: the same parameters
  }
}

// The map on a thread of its own beside the other stages (the default in
// process) against every stage one after another: the same results, bit for
// bit; the caller's progress callback never runs on two threads at once.
struct ProgressProbe {
  std::atomic<int> inside{0}, most_inside{0}, calls{0}, map_calls{0};
  static void Call(const char* stage, int64_t, int64_t, void* self) {
    auto* p = static_cast<ProgressProbe*>(self);
    const int now = ++p->inside;
    int most = p->most_inside.load();
    while (now > most && !p->most_inside.compare_exchange_weak(most, now)) {
    }
    ++p->calls;
    if (std::string(stage) == "2-D map") ++p->map_calls;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    --p->inside;
  }
};

TEST_F(ShardedFinishTest, ConcurrentStagesGiveTheResultsOfOneAfterAnother) {
  MakeClassificationRun();
  MakeNerRun();
  for (const std::string run : {"cls", "ner"}) {
    SCOPED_TRACE(run);
    ProcessingOptions options = BaseOptions();
    options.concurrent_stages = false;
    ASSERT_OK_AND_ASSIGN(const FinishReport one_by_one, Finish(run, options));
    const auto results = Results(dir_.path(), run);
    const auto summary = Summary(dir_.path(), run);

    options.concurrent_stages = true;
    ProgressProbe probe;
    options.progress = &ProgressProbe::Call;
    options.progress_user = &probe;
    ASSERT_OK_AND_ASSIGN(const FinishReport beside, Finish(run, options));
    EXPECT_EQ(results, Results(dir_.path(), run));
    EXPECT_EQ(summary, Summary(dir_.path(), run));
    EXPECT_GT(probe.map_calls.load(), 0);
    EXPECT_GT(probe.calls.load(), probe.map_calls.load());
    EXPECT_EQ(probe.most_inside.load(), 1);

    // Both report the map's own time under its name; the concurrent finish
    // also the time the summaries waited for it.
    auto stage = [](const FinishReport& r, const std::string& name) {
      return std::count_if(r.stage_seconds.begin(), r.stage_seconds.end(),
                           [&](const auto& s) { return s.first == name; });
    };
    EXPECT_EQ(stage(one_by_one, "2-D map"), 1);
    EXPECT_EQ(stage(beside, "2-D map"), 1);
    EXPECT_EQ(stage(one_by_one, "waiting for the 2-D map"), 0);
    EXPECT_EQ(stage(beside, "waiting for the 2-D map"), 1);
    EXPECT_EQ(stage(beside, "2-D map of span rows"), run == "ner" ? 1 : 0);
  }
}

TEST_F(ShardedFinishTest, ExecutorMemoryBudgetSplitsTheTrainingReference) {
  MakeClassificationRun();
  TempDir work;
  // 20,000 x 8 x 4 bytes = 640,000: a budget of 300,000 bytes makes 3 shards.
  InProcessShardExecutor executor(work.path().string(), 300000);
  ProcessingOptions options = DriftOnlyOptions();
  options.executor = &executor;
  ASSERT_OK(Finish("cls", options).status());
  EXPECT_EQ(Summary(dir_.path(), "cls")["parameters"]["nn_search"]["training_shards"], 3);
}

TEST_F(ShardedFinishTest, ShardRowsMustBeAMultipleOfTheAlignment) {
  MakeClassificationRun();
  ProcessingOptions options = DriftOnlyOptions();
  options.shard_rows = 20000;
  EXPECT_STATUS(Finish("cls", options).status(), kInvalidArgument, "shard_rows", "16384");
}

TEST(TrainingShards, BoundsAreMultiplesOfTheAlignment) {
  using processing::TrainingShardBounds;
  EXPECT_EQ(TrainingShardBounds(20000, 3), (std::vector<int64_t>{0, 7168, 14336, 20000}));
  EXPECT_EQ(TrainingShardBounds(20000, 1), (std::vector<int64_t>{0, 20000}));
  EXPECT_EQ(TrainingShardBounds(1500, 3), (std::vector<int64_t>{0, 1024, 1500}));
}

// A staged index and rows, as a finish writes them, for the tasks' own tests.
class DriftTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rows_ = Embeddings(kRows, 0.0f, 9);
    std::vector<float> norm = rows_;
    index::NormalizeRows(norm.data(), kRows, kDim);
    auto built = index::CosineIndex::Build(norm.data(), kRows, kDim);
    ASSERT_OK(built.status());
    ASSERT_OK((*built)->Write(dir_.path() / "index.faiss"));
    ASSERT_OK(io::WriteNpyFloat32(dir_.path() / "rows.npy", rows_.data(), kRows, kDim));
    const std::vector<int64_t> sample = {5, 3, 99};
    ASSERT_OK(io::WriteNpyInt64(dir_.path() / "sample.npy", sample.data(), 3));
    const std::vector<int64_t> bad_sample = {5, kRows};
    ASSERT_OK(io::WriteNpyInt64(dir_.path() / "bad_sample.npy", bad_sample.data(), 2));
    index_ = std::move(*built);
    norm_ = std::move(norm);
  }
  Result<std::string> Run(const std::string& kind, const nlohmann::json& spec) {
    return RunShardTask({kind, spec.dump(), {}}, dir_.path().string());
  }
  static nlohmann::json Spec() {
    return {{"index", "index.faiss"}, {"rows", "rows.npy"}, {"begin", 0}, {"end", 40}, {"k", 3}};
  }
  static constexpr int64_t kRows = 100;
  TempDir dir_;
  std::vector<float> rows_, norm_;
  std::unique_ptr<index::CosineIndex> index_;
};

TEST_F(DriftTaskTest, KcoreAndKnnGiveTheInProcessValues) {
  nlohmann::json spec = Spec();
  spec["begin"] = 20;
  spec["leave_one_out"] = true;
  ASSERT_OK_AND_ASSIGN(const std::string out, Run("kcore", spec));
  // Rows 20..39 left out by their global rows. (A finish's shards begin at
  // multiples of 16,384, where the calls match the whole split's; here the
  // slice is compared with the same call in process.)
  ASSERT_OK_AND_ASSIGN(auto slice,
                       drift::KCoreDistancesAt(*index_, norm_.data() + 20 * kDim, 20, 3, true, 20));
  ASSERT_EQ(out.size(), 20 * sizeof(float));
  EXPECT_EQ(0, std::memcmp(out.data(), slice.data(), out.size()));
  ASSERT_OK_AND_ASSIGN(auto self_counted,
                       drift::KCoreDistancesAt(*index_, norm_.data() + 20 * kDim, 20, 3, true, 0));
  EXPECT_NE(slice, self_counted);  // with local rows the wrong rows would be left out

  spec = Spec();
  spec["sample"] = "sample.npy";
  spec["end"] = 3;
  ASSERT_OK_AND_ASSIGN(const std::string sampled, Run("kcore", spec));
  const std::vector<float> gathered = drift::GatherRows(norm_.data(), kDim, {5, 3, 99});
  ASSERT_OK_AND_ASSIGN(auto plain, drift::KCoreDistances(*index_, gathered.data(), 3, 3, false));
  ASSERT_EQ(sampled.size(), 3 * sizeof(float));
  const std::vector<float> got = processing::UnpackArray<float>(sampled, 3, "kcore").value();
  EXPECT_EQ(got, plain);

  spec = Spec();
  spec["offset"] = 1000;
  ASSERT_OK_AND_ASSIGN(const std::string knn, Run("knn", spec));
  drift::Neighbours back;
  back.k = 3;
  back.distances.resize(40 * 3);
  back.rows.resize(40 * 3);
  ASSERT_OK(processing::UnpackNeighbours(knn, 40, &back, 0));
  ASSERT_OK_AND_ASSIGN(auto direct, drift::ShardNeighbours(*index_, norm_.data(), 40, 3, 1000));
  EXPECT_EQ(back.distances, direct.distances);
  EXPECT_EQ(back.rows, direct.rows);
  EXPECT_GE(back.rows[0], 1000);
}

TEST_F(DriftTaskTest, DamagedSpecsAreErrorsNotCrashes) {
  for (const char* kind : {"kcore", "knn"}) {
    SCOPED_TRACE(kind);
    auto with = [&](const char* field, nlohmann::json value) {
      nlohmann::json spec = Spec();
      spec["offset"] = 0;
      if (value.is_null()) {
        spec.erase(field);
      } else {
        spec[field] = std::move(value);
      }
      return Run(kind, spec).status();
    };
    EXPECT_STATUS(with("k", nullptr), kInvalidArgument, "'k'");
    EXPECT_STATUS(with("k", "ten"), kInvalidArgument, "'k'");
    EXPECT_STATUS(with("k", 0), kInvalidArgument, "'k'");
    EXPECT_STATUS(with("index", nullptr), kInvalidArgument, "'index'");
    EXPECT_STATUS(with("rows", 7), kInvalidArgument, "'rows'");
    EXPECT_STATUS(with("begin", 50), kInvalidArgument, "'begin'", "'end'");
    EXPECT_STATUS(with("begin", -1), kInvalidArgument, "'begin'");
    EXPECT_STATUS(with("end", 101), kInvalidArgument, "'end'", "100");
    EXPECT_STATUS(with("index", "nope.faiss"), kNotFound, "nope.faiss");
    EXPECT_STATUS(with("rows", "nope.npy"), kNotFound, "nope.npy");
    EXPECT_STATUS(with("index", "rows.npy"), kInvalidArgument, "rows.npy");
    EXPECT_STATUS(with("sample", 3), kInvalidArgument, "'sample'");
    EXPECT_STATUS(with("sample", "bad_sample.npy"), kInvalidArgument, "sample row 100");
    EXPECT_STATUS(with("sample", "rows.npy"), kInvalidArgument, "int64");
  }
  nlohmann::json spec = Spec();
  spec["leave_one_out"] = "yes";
  EXPECT_STATUS(Run("kcore", spec).status(), kInvalidArgument, "'leave_one_out'");
  spec = Spec();
  EXPECT_STATUS(Run("knn", spec).status(), kInvalidArgument, "'offset'");
  EXPECT_STATUS(RunShardTask({"kcore", "[1, 2", {}}, dir_.path().string()).status(),
                kInvalidArgument, "not a JSON object");
}

// Approximate search over 3 training shards, merged, against exact: the
// recall@10 of the merged neighbours (docs/distributed-drift.md).
TEST(TrainingShards, ApproximateMergedRecallAgainstExact) {
  constexpr int64_t kRows = 30000, kQueries = 2000;
  constexpr int32_t kK = 10;
  std::vector<float> rows = Embeddings(kRows, 0.0f, 11);
  index::NormalizeRows(rows.data(), kRows, kDim);
  std::vector<float> queries = Embeddings(kQueries, 0.1f, 12);
  index::NormalizeRows(queries.data(), kQueries, kDim);
  ASSERT_OK_AND_ASSIGN(auto exact, index::CosineIndex::Build(rows.data(), kRows, kDim));
  ASSERT_OK_AND_ASSIGN(auto truth, drift::ShardNeighbours(*exact, queries.data(), kQueries, kK, 0));
  const std::vector<int64_t> bounds = processing::TrainingShardBounds(kRows, 3);
  std::vector<drift::Neighbours> found;
  index::IvfOptions ivf;
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    ASSERT_OK_AND_ASSIGN(auto shard,
                         index::CosineIndex::BuildIvf(rows.data() + bounds[s] * kDim,
                                                      bounds[s + 1] - bounds[s], kDim, ivf));
    ASSERT_TRUE(shard->approximate());
    ASSERT_OK_AND_ASSIGN(auto f,
                         drift::ShardNeighbours(*shard, queries.data(), kQueries, kK, bounds[s]));
    found.push_back(std::move(f));
  }
  const drift::Neighbours merged = drift::MergeNeighbours(found, kQueries, kK);
  int64_t hits = 0;
  for (int64_t q = 0; q < kQueries; ++q) {
    // A found neighbour counts when its distance is within the exact k-th's (ties).
    const float kth = truth.distances[q * kK + kK - 1];
    for (int32_t j = 0; j < kK; ++j) hits += merged.distances[q * kK + j] <= kth ? 1 : 0;
  }
  const double recall = static_cast<double>(hits) / static_cast<double>(kQueries * kK);
  std::printf("approximate, 3 training shards: merged recall@%d = %.4f\n", kK, recall);
  EXPECT_GE(recall, 0.95);
}

}  // namespace
}  // namespace sextant
