#include "store/run_store.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "io/npy.h"
#include "testing.h"

namespace sextant::store {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

const SplitKey kTraining{Split::kTraining, ""};
const SplitKey kProd{Split::kInference, "prod"};

void ExpectHas(const Status& st, StatusCode code, std::initializer_list<std::string> parts) {
  EXPECT_EQ(st.code(), code) << st.ToString();
  for (const std::string& part : parts) {
    EXPECT_NE(st.message().find(part), std::string::npos)
        << "expected '" << part << "' in: " << st.message();
  }
}

Result<std::unique_ptr<RunStore>> OpenWriter(const fs::path& dir) {
  return RunStore::Open(dir, RunStore::Mode::kWrite, TaskType::kTextClassification);
}

std::vector<SampleRecord> Records(std::initializer_list<const char*> ids) {
  std::vector<SampleRecord> out;
  int32_t label = 0;
  for (const char* id : ids) out.push_back({id, std::string("text ") + id, label++ % 2, "{}"});
  return out;
}

std::string MetaValue(RunStore& store, const std::string& key) {
  auto st = store.db().Prepare("SELECT value FROM meta WHERE key = ?");
  if (!st.ok()) return "<" + st.status().ToString() + ">";
  st->Bind(1, key);
  auto row = st->Step();
  if (!row.ok() || !*row) return "<missing>";
  return st->Text(0);
}

// An output batch of `rows` with embeddings and outputs derived from the row number.
OutputAppend Batch(const SplitKey& split, int32_t epoch, std::vector<int64_t> rows,
                   int64_t emb_dim = 3, int64_t out_dim = 2) {
  OutputAppend b;
  b.split = split;
  b.epoch = epoch;
  b.emb_dim = emb_dim;
  b.out_dim = out_dim;
  b.sample_rows = rows;
  for (int64_t r : rows) {
    for (int64_t j = 0; j < emb_dim; ++j) b.embeddings.push_back(100.0f * epoch + 10.0f * r + j);
    for (int64_t j = 0; j < out_dim; ++j) b.outputs.push_back(-1.0f * r - 0.5f * j);
  }
  return b;
}

void AppendBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

class RunStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_dir_ = dir_.path() / "p" / "r";
    ASSERT_OK_AND_ASSIGN(store_, OpenWriter(run_dir_));
    ASSERT_OK(store_->SetLabels({"neg", "pos"}));
  }
  fs::path LogFile(const SplitKey& split, int32_t epoch, const std::string& ext) const {
    return run_dir_ / "outputs" / split.DirName() / ("epoch-" + std::to_string(epoch) + ext);
  }

  TempDir dir_;
  fs::path run_dir_;
  std::unique_ptr<RunStore> store_;
};

TEST_F(RunStoreTest, StoresFormatVersionTaskAndLabels) {
  EXPECT_EQ(MetaValue(*store_, "format_version"), std::to_string(kFormatVersion));
  EXPECT_EQ(MetaValue(*store_, "task_type"), "text_classification");
  EXPECT_TRUE(fs::exists(run_dir_ / kDatabaseFile));
  store_.reset();
  ASSERT_OK_AND_ASSIGN(auto reader, RunStore::Open(run_dir_, RunStore::Mode::kRead));
  EXPECT_EQ(reader->task(), TaskType::kTextClassification);
  EXPECT_EQ(reader->labels(), (std::vector<std::string>{"neg", "pos"}));
  ASSERT_OK_AND_ASSIGN(fs::path results, reader->ResultsDir());
  EXPECT_TRUE(results.empty());  // never finished
}

TEST_F(RunStoreTest, MissingRunIsNotFoundForReaders) {
  auto missing = RunStore::Open(dir_.path() / "p" / "nope", RunStore::Mode::kRead);
  ExpectHas(missing.status(), StatusCode::kNotFound, {"no run", "nope"});
  EXPECT_FALSE(fs::exists(dir_.path() / "p" / "nope"));
}

TEST_F(RunStoreTest, SecondWriterIsRefusedWhileReadersAreNot) {
  auto second = OpenWriter(run_dir_);
  ExpectHas(second.status(), StatusCode::kFailedPrecondition,
            {run_dir_.string(), "being written by another process"});
  ASSERT_OK_AND_ASSIGN(auto reader, RunStore::Open(run_dir_, RunStore::Mode::kRead));
  EXPECT_EQ(reader->labels().size(), 2u);
  ExpectHas(reader->AppendOutputs({Batch(kTraining, 0, {0})}), StatusCode::kFailedPrecondition,
            {"read-only"});
  ExpectHas(reader->CommitResults({}, "{}"), StatusCode::kFailedPrecondition, {"read-only"});
  store_.reset();  // releases the lock
  ASSERT_OK(OpenWriter(run_dir_));
}

TEST_F(RunStoreTest, AppendSamplesIsAllOrNothing) {
  ASSERT_OK(store_->AppendSamples(kTraining, Records({"a", "b"})));
  ExpectHas(store_->AppendSamples(kTraining, Records({"c", "a", "d"})), StatusCode::kIOError,
            {"sample id 'a'"});
  ExpectHas(store_->AppendSamples(kTraining, Records({"e", "e"})), StatusCode::kIOError,
            {"sample id 'e'"});
  ASSERT_OK_AND_ASSIGN(int64_t count, store_->SampleCount(kTraining));
  EXPECT_EQ(count, 2);
  ASSERT_OK(store_->AppendSamples(kTraining, Records({"c", "d"})));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> ids, store_->SampleIds(kTraining));
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c", "d"}));
  ASSERT_OK_AND_ASSIGN(auto labels, store_->SampleLabels(kTraining));
  EXPECT_EQ(labels, (std::vector<std::optional<int32_t>>{0, 1, 0, 1}));
  // The same id in another split is another sample.
  std::vector<SampleRecord> prod = {{"a", "text", std::nullopt, "{}"}};
  ASSERT_OK(store_->AppendSamples(kProd, prod));
  ASSERT_OK_AND_ASSIGN(auto prod_labels, store_->SampleLabels(kProd));
  EXPECT_EQ(prod_labels, (std::vector<std::optional<int32_t>>{std::nullopt}));
  ASSERT_OK_AND_ASSIGN(std::vector<SplitKey> splits, store_->ListSplits());
  EXPECT_EQ(splits, (std::vector<SplitKey>{kTraining, kProd}));
  ASSERT_OK_AND_ASSIGN(int64_t none, store_->SampleCount({Split::kTest, ""}));
  EXPECT_EQ(none, 0);
}

TEST_F(RunStoreTest, OutputLogsRoundTripPerSplitAndEpoch) {
  ASSERT_OK(store_->AppendSamples(kTraining, Records({"a", "b", "c"})));
  ASSERT_OK(store_->AppendOutputs(
      {Batch(kTraining, 0, {2, 0}), Batch(kTraining, 1, {1}), Batch(kTraining, 0, {1})}));
  ASSERT_OK_AND_ASSIGN(OutputLog e0, store_->ReadOutputLog(kTraining, 0));
  const OutputAppend expected = Batch(kTraining, 0, {2, 0, 1});
  EXPECT_EQ(e0.info.rows, 3);
  EXPECT_EQ(e0.info.emb_dim, 3);
  EXPECT_EQ(e0.info.out_dim, 2);
  EXPECT_EQ(e0.info.kind, OutputKind::kLogits);
  EXPECT_EQ(e0.sample_rows, expected.sample_rows);
  EXPECT_EQ(e0.embeddings, expected.embeddings);
  EXPECT_EQ(e0.outputs, expected.outputs);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> e1, store_->ReadOutputRows(kTraining, 1));
  EXPECT_EQ(e1, std::vector<int64_t>{1});
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> e7, store_->ReadOutputRows(kTraining, 7));
  EXPECT_TRUE(e7.empty());
  ExpectHas(store_->ReadOutputLog(kTraining, 7).status(), StatusCode::kNotFound,
            {"'training'", "epoch 7"});
  ASSERT_OK_AND_ASSIGN(auto logs, store_->ListOutputLogs());
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].epoch, 0);
  EXPECT_EQ(logs[1].epoch, 1);
  EXPECT_EQ(logs[1].rows, 1);
}

TEST_F(RunStoreTest, BytesBeyondTheCommitPointAreIgnoredThenCut) {
  ASSERT_OK(store_->AppendSamples(kTraining, Records({"a", "b", "c", "d"})));
  OutputAppend first = Batch(kTraining, 0, {0, 1});
  first.kind = OutputKind::kProbabilities;
  ASSERT_OK(store_->AppendOutputs({first}));

  // A crash after writing the logs but before the commit leaves bytes past the
  // committed length, including a partial row.
  const int64_t garbage_rows[2] = {2, 3};
  AppendBytes(LogFile(kTraining, 0, ".rows.i64"),
              std::string(reinterpret_cast<const char*>(garbage_rows), sizeof(garbage_rows)));
  AppendBytes(LogFile(kTraining, 0, ".emb.f32"), "torn write");
  AppendBytes(LogFile(kTraining, 0, ".out.f32"), std::string(13, '\xff'));

  ASSERT_OK_AND_ASSIGN(OutputLog log, store_->ReadOutputLog(kTraining, 0));
  EXPECT_EQ(log.info.rows, 2);
  EXPECT_EQ(log.info.kind, OutputKind::kProbabilities);
  EXPECT_EQ(log.sample_rows, first.sample_rows);
  EXPECT_EQ(log.embeddings, first.embeddings);
  EXPECT_EQ(log.outputs, first.outputs);
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> rows, store_->ReadOutputRows(kTraining, 0));
  EXPECT_EQ(rows, first.sample_rows);

  // The next append cuts the garbage before writing.
  OutputAppend second = Batch(kTraining, 0, {3, 2});
  second.kind = OutputKind::kProbabilities;
  ASSERT_OK(store_->AppendOutputs({second}));
  EXPECT_EQ(fs::file_size(LogFile(kTraining, 0, ".rows.i64")), 4u * 8);
  EXPECT_EQ(fs::file_size(LogFile(kTraining, 0, ".emb.f32")), 4u * 3 * 4);
  EXPECT_EQ(fs::file_size(LogFile(kTraining, 0, ".out.f32")), 4u * 2 * 4);
  store_.reset();
  ASSERT_OK_AND_ASSIGN(auto reader, RunStore::Open(run_dir_, RunStore::Mode::kRead));
  ASSERT_OK_AND_ASSIGN(OutputLog all, reader->ReadOutputLog(kTraining, 0));
  OutputAppend expected = Batch(kTraining, 0, {0, 1, 3, 2});
  EXPECT_EQ(all.sample_rows, expected.sample_rows);
  EXPECT_EQ(all.embeddings, expected.embeddings);
  EXPECT_EQ(all.outputs, expected.outputs);
}

TEST_F(RunStoreTest, LogShorterThanItsCommitIsAnError) {
  ASSERT_OK(store_->AppendSamples(kTraining, Records({"a", "b"})));
  ASSERT_OK(store_->AppendOutputs({Batch(kTraining, 0, {0, 1})}));
  fs::resize_file(LogFile(kTraining, 0, ".emb.f32"), 5);
  ExpectHas(store_->ReadOutputLog(kTraining, 0).status(), StatusCode::kIOError,
            {"epoch-0.emb.f32", "shorter than its committed 6 values"});
}

TEST_F(RunStoreTest, OutputBatchOfAnotherShapeThanItsLogIsRefused) {
  ASSERT_OK(store_->AppendSamples(kTraining, Records({"a", "b"})));
  ASSERT_OK(store_->AppendOutputs({Batch(kTraining, 0, {0})}));
  EXPECT_FALSE(store_->AppendOutputs({Batch(kTraining, 0, {1}, /*emb_dim=*/4)}).ok());
  ASSERT_OK_AND_ASSIGN(OutputLog log, store_->ReadOutputLog(kTraining, 0));
  EXPECT_EQ(log.info.rows, 1);
}

SplitResults Results(const SplitKey& split, int64_t n, float base) {
  SplitResults s;
  s.split = split;
  s.emb_dim = 2;
  s.num_labels = 2;
  for (int64_t i = 0; i < n; ++i) {
    SampleResult r;
    r.pred = static_cast<int32_t>(i % 2);
    r.confidence = base + 0.01f * static_cast<float>(i);
    r.margin = 0.1f;
    r.gold = 0;
    r.aum = 0.25;
    r.dep = 0.375;
    s.samples.push_back(r);
    s.embeddings.push_back(base + static_cast<float>(i));
    s.embeddings.push_back(-base);
    s.probs.push_back(0.5f);
    s.probs.push_back(0.5f);
  }
  s.summary_json = "{\"base\":" + std::to_string(base) + "}";
  return s;
}

std::vector<double> StoredConfidences(RunStore& store) {
  std::vector<double> out;
  auto st = store.db().Prepare("SELECT confidence FROM results ORDER BY split, row");
  if (!st.ok()) return out;
  while (true) {
    auto row = st->Step();
    if (!row.ok() || !*row) break;
    out.push_back(st->Double(0));
  }
  return out;
}

std::vector<std::string> Generations(const fs::path& run_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(run_dir / "results")) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(RunStoreTest, CommitResultsReplacesEverythingAndDropsOldGenerations) {
  ASSERT_OK(store_->CommitResults({Results(kTraining, 3, 0.5f)}, "{\"run\":1}"));
  ASSERT_OK_AND_ASSIGN(fs::path gen1, store_->ResultsDir());
  EXPECT_EQ(gen1, run_dir_ / "results" / "gen-1");
  ASSERT_OK_AND_ASSIGN(io::FloatMatrix emb,
                       io::ReadNpyAsFloat32(gen1 / "training" / "embeddings.npy"));
  EXPECT_EQ(emb.rows, 3);
  EXPECT_EQ(emb.cols, 2);
  EXPECT_EQ(emb.data, Results(kTraining, 3, 0.5f).embeddings);

  ASSERT_OK(store_->CommitResults({Results(kTraining, 2, 0.75f), Results(kProd, 1, 0.25f)},
                                  "{\"run\":2}"));
  ASSERT_OK_AND_ASSIGN(fs::path gen2, store_->ResultsDir());
  EXPECT_EQ(gen2, run_dir_ / "results" / "gen-2");
  EXPECT_EQ(Generations(run_dir_), std::vector<std::string>{"gen-2"});
  EXPECT_TRUE(fs::exists(gen2 / "inference-prod" / "probs.npy"));
  const std::vector<double> committed = StoredConfidences(*store_);
  EXPECT_EQ(committed.size(), 3u);  // the three rows of gen-1 are gone

  // A commit that fails inside its transaction (two results for one split)
  // leaves the committed generation, its rows and its summaries as they were.
  EXPECT_FALSE(
      store_
          ->CommitResults({Results(kTraining, 2, 0.1f), Results(kTraining, 2, 0.2f)}, "{\"run\":3}")
          .ok());
  ASSERT_OK_AND_ASSIGN(fs::path still, store_->ResultsDir());
  EXPECT_EQ(still, gen2);
  EXPECT_EQ(StoredConfidences(*store_), committed);
  ASSERT_OK_AND_ASSIGN(auto sum,
                       store_->db().Prepare("SELECT json FROM summaries WHERE scope='run'"));
  ASSERT_OK_AND_ASSIGN(bool found, sum.Step());
  ASSERT_TRUE(found);
  EXPECT_EQ(sum.Text(0), "{\"run\":2}");
  ASSERT_OK_AND_ASSIGN(io::FloatMatrix kept,
                       io::ReadNpyAsFloat32(gen2 / "training" / "embeddings.npy"));
  EXPECT_EQ(kept.data, Results(kTraining, 2, 0.75f).embeddings);

  // The next commit takes over the abandoned folder and leaves one generation.
  ASSERT_OK(store_->CommitResults({Results(kTraining, 1, 0.9f)}, "{\"run\":4}"));
  ASSERT_OK_AND_ASSIGN(fs::path gen3, store_->ResultsDir());
  EXPECT_EQ(gen3, run_dir_ / "results" / "gen-3");
  EXPECT_EQ(Generations(run_dir_), std::vector<std::string>{"gen-3"});
  EXPECT_FALSE(fs::exists(gen3 / "inference-prod"));
  EXPECT_EQ(StoredConfidences(*store_).size(), 1u);
}

TEST_F(RunStoreTest, NewerFormatVersionIsRefused) {
  ASSERT_OK(store_->db().Exec("UPDATE meta SET value = '" + std::to_string(kFormatVersion + 1) +
                              "' WHERE key = 'format_version'"));
  store_.reset();
  for (auto mode : {RunStore::Mode::kRead, RunStore::Mode::kWrite}) {
    auto opened = RunStore::Open(run_dir_, mode);
    ExpectHas(opened.status(), StatusCode::kFailedPrecondition,
              {run_dir_.string(), "format version " + std::to_string(kFormatVersion + 1),
               "reads versions up to " + std::to_string(kFormatVersion)});
  }
  // The refused writer did not keep the lock.
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(run_dir_ / kDatabaseFile, false));
  ASSERT_OK(db->Exec("UPDATE meta SET value = '1' WHERE key = 'format_version'"));
  ASSERT_OK(OpenWriter(run_dir_));
}

TEST_F(RunStoreTest, UnreadableMetaIsAnErrorNotAnException) {
  ASSERT_OK(store_->db().Exec("UPDATE meta SET value = 'one' WHERE key = 'format_version'"));
  store_.reset();
  auto opened = RunStore::Open(run_dir_, RunStore::Mode::kRead);
  ExpectHas(opened.status(), StatusCode::kFailedPrecondition, {"format version", "'one'"});

  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(run_dir_ / kDatabaseFile, false));
  ASSERT_OK(db->Exec("UPDATE meta SET value = '1' WHERE key = 'format_version'"));
  ASSERT_OK(db->Exec("UPDATE meta SET value = '{\"a\": 1}' WHERE key = 'labels'"));
  opened = RunStore::Open(run_dir_, RunStore::Mode::kRead);
  ExpectHas(opened.status(), StatusCode::kFailedPrecondition, {"label list", "JSON array"});
}

}  // namespace
}  // namespace sextant::store

namespace sextant::store {
namespace {

TEST(InferenceTimes, FirstSampleTimeIsRecordedAndAGivenTimeWins) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, OpenWriter(dir.path() / "run"));
  ASSERT_OK_AND_ASSIGN(auto none, store->InferenceTimes());
  EXPECT_TRUE(none.empty());  // runs without inference sets have no table
  ASSERT_OK(store->AppendSamples(kProd, Records({"a", "b"})));
  ASSERT_OK(store->AppendSamples(kTraining, Records({"t"})));
  ASSERT_OK_AND_ASSIGN(auto times, store->InferenceTimes());
  ASSERT_EQ(times.size(), 1u);  // training has no time
  EXPECT_EQ(times[0].name, "prod");
  EXPECT_EQ(times[0].source, SetTimeSource::kFirstSample);
  const double logged = times[0].time;
  EXPECT_GT(logged, 1.7e9);

  // A later first-sample time (another machine) keeps the earliest.
  ASSERT_OK(store->RecordInferenceTime({"prod", logged + 100, SetTimeSource::kFirstSample}));
  ASSERT_OK(store->RecordInferenceTime({"prod", logged - 100, SetTimeSource::kFirstSample}));
  ASSERT_OK_AND_ASSIGN(times, store->InferenceTimes());
  EXPECT_EQ(times[0].time, logged - 100);

  // A given time replaces it, and no first-sample time moves it again.
  ASSERT_OK(store->RecordInferenceTime({"prod", 1000.0, SetTimeSource::kGiven}));
  ASSERT_OK(store->RecordInferenceTime({"prod", 10.0, SetTimeSource::kFirstSample}));
  ASSERT_OK(store->AppendSamples(kProd, Records({"c"})));
  ASSERT_OK_AND_ASSIGN(times, store->InferenceTimes());
  EXPECT_EQ(times[0].time, 1000.0);
  EXPECT_EQ(times[0].source, SetTimeSource::kGiven);
  ASSERT_OK(store->RecordInferenceTime({"prod", 86400.0, SetTimeSource::kLiveWindow}));
  ASSERT_OK_AND_ASSIGN(times, store->InferenceTimes());
  EXPECT_EQ(times[0].time, 86400.0);
  EXPECT_EQ(times[0].source, SetTimeSource::kLiveWindow);
}

TEST(InferenceTimes, ImplausibleTimesAreRefusedNamingTheField) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, OpenWriter(dir.path() / "run"));
  for (double bad : {1.7e12, -1e10, std::nan("")}) {
    ExpectHas(store->RecordInferenceTime({"prod", bad, SetTimeSource::kGiven}),
              StatusCode::kInvalidArgument, {"timestamp", "Unix seconds"});
  }
  ASSERT_OK_AND_ASSIGN(auto times, store->InferenceTimes());
  EXPECT_TRUE(times.empty());
}

TEST(InferenceTimes, ACorruptRowIsAnIoErrorNamingIt) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, OpenWriter(dir.path() / "run"));
  ASSERT_OK(store->RecordInferenceTime({"prod", 1000.0, SetTimeSource::kGiven}));
  ASSERT_OK(store->db().Exec("UPDATE inference_sets SET source = 'later'"));
  ExpectHas(store->InferenceTimes().status(), StatusCode::kIOError,
            {"inference_sets", "'prod'", "later"});
}

}  // namespace
}  // namespace sextant::store
