// `sextant check` / `sextant repair` (query/check.h), atomic run creation and
// readers that follow commits (docs/format.md).
#include "query/check.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>

#include "failed_commit.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

constexpr int64_t kDim = 4;
const SplitKey kTraining = SplitKey::Make(Split::kTraining, "").value();

ProcessingOptions Options() {
  ProcessingOptions o;
  o.drift_k = 3;
  return o;
}

// 20 training samples; their outputs logged (and committed) in two batches of 10.
void LogTwoBatches(const fs::path& root, bool finish) {
  auto client = Client::Init({.root = root, .project = "p", .run = "r"});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"neg", "pos"}));
  DataBatch data;
  for (int i = 0; i < 20; ++i) {
    data.ids.push_back("t" + std::to_string(i));
    data.texts.push_back("text");
    data.label_indices.push_back(i % 2);
  }
  ASSERT_OK((*client)->LogDataSamples(data, kTraining));
  for (int half = 0; half < 2; ++half) {
    std::vector<float> e, l;
    OutputsBatch b;
    for (int i = half * 10; i < half * 10 + 10; ++i) {
      b.ids.push_back(data.ids[i]);
      for (int d = 0; d < kDim; ++d)
        e.push_back(d == i % 2 ? 1.0f : 0.01f * static_cast<float>(i + d));
      l.push_back(i % 2 ? 0.0f : 2.0f);
      l.push_back(i % 2 ? 2.0f : 0.0f);
    }
    b.embeddings = {e.data(), 10, kDim};
    b.logits = {l.data(), 10, 2};
    ASSERT_OK((*client)->LogModelOutputs(b, kTraining, 0));
    ASSERT_OK((*client)->Flush());
  }
  if (finish) ASSERT_OK((*client)->Finish(Options()).status());
}

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

bool Contains(const std::vector<std::string>& v, const std::string& part) {
  for (const auto& x : v) {
    if (x.find(part) != std::string::npos) return true;
  }
  return false;
}

Status ReadEverything(const RunReader& reader) {
  SEXTANT_RETURN_IF_ERROR(reader.SummaryJson().status());
  SampleQuery q;
  q.split = kTraining;
  q.include_probs = true;
  q.include_embeddings = true;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, reader.Samples(q));
  if (rows.size() != 20) return Status::Internal("expected 20 rows");
  for (const SampleRow& r : rows) {
    if (r.probs.size() != 2 || r.embedding.size() != kDim) return Status::Internal("bad row");
  }
  return reader.Similar(kTraining, "t0", 3).status();
}

TEST(Check, ASoundRunHasNoProblems) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  const RunCheck c = CheckRun(root.path() / "p" / "r");
  EXPECT_TRUE(c.ok()) << Joined(c.problems);
  EXPECT_TRUE(c.notes.empty()) << Joined(c.notes);
  ASSERT_OK_AND_ASSIGN(auto all, CheckStore(root.path(), std::nullopt, std::nullopt));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_STATUS(CheckStore(root.path(), "p", "nope"), kNotFound, "p/nope");
  EXPECT_STATUS(CheckStore(root.path(), "q", std::nullopt), kNotFound, "'q'");
}

// Runs written before checksums (format version 1) still load, finish and check.
TEST(Compatibility, AVersion1RunStillLoadsFinishesAndChecks) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  const fs::path run = root.path() / "p" / "r";
  {
    ASSERT_OK_AND_ASSIGN(auto db, store::Database::Open(run / store::kDatabaseFile, false));
    ASSERT_OK(
        db->Exec("DROP TABLE output_batches; DROP TABLE result_files; "
                 "UPDATE meta SET value='1' WHERE key='format_version'"));
  }
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_OK(ReadEverything(*reader));
  reader.reset();
  const RunCheck c = CheckRun(run);
  EXPECT_TRUE(c.ok()) << Joined(c.problems);
  EXPECT_TRUE(Contains(c.notes, "format version 1")) << Joined(c.notes);
  ASSERT_OK(FinishRun(root.path(), "p", "r", Options()).status());
  ASSERT_OK_AND_ASSIGN(auto store, store::RunStore::Open(run, store::RunStore::Mode::kRead));
  EXPECT_EQ(store->format_version(), 1);  // its old batches have no checksums
  ASSERT_OK_AND_ASSIGN(auto files, store->ListResultFiles(2));
  EXPECT_FALSE(files.empty());  // the new generation's files are checksummed
  ASSERT_OK_AND_ASSIGN(reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_OK(ReadEverything(*reader));
}

// Runs finished before the per-sample shift score have no shift_score and
// shifted columns: they read as null, filter and sort, check and repair, and
// gain the columns when finished again.
TEST(Compatibility, ARunWithoutTheShiftColumnsReadsThemAsNull) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  const fs::path run = root.path() / "p" / "r";
  {
    ASSERT_OK_AND_ASSIGN(auto db, store::Database::Open(run / store::kDatabaseFile, false));
    ASSERT_OK(db->Exec(
        "ALTER TABLE results DROP COLUMN shift_score; ALTER TABLE results DROP COLUMN shifted"));
    ASSERT_OK_AND_ASSIGN(bool has, store::ResultsHaveShiftColumns(*db));
    EXPECT_FALSE(has);
  }
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_OK(ReadEverything(*reader));
  SampleQuery q;
  q.split = kTraining;
  q.sort_by = "shift_score";
  q.descending = true;
  ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
  ASSERT_EQ(rows.size(), 20u);
  EXPECT_EQ(rows[0].id, "t0");  // all null: row order
  for (const SampleRow& r : rows) {
    EXPECT_FALSE(r.shift_score.has_value());
    EXPECT_FALSE(r.is_shifted.has_value());
  }
  q.is_shifted = false;
  ASSERT_OK_AND_ASSIGN(int64_t none, reader->Count(q));
  EXPECT_EQ(none, 0);  // a sample without the flag never matches
  q.is_shifted.reset();
  q.min_shift = 0.0;
  ASSERT_OK_AND_ASSIGN(none, reader->Count(q));
  EXPECT_EQ(none, 0);
  reader.reset();
  const RunCheck c = CheckRun(run);
  EXPECT_TRUE(c.ok()) << Joined(c.problems);
  ASSERT_OK(RepairRun(run).status());
  ASSERT_OK(FinishRun(root.path(), "p", "r", Options()).status());
  {
    ASSERT_OK_AND_ASSIGN(auto db, store::Database::Open(run / store::kDatabaseFile, true));
    ASSERT_OK_AND_ASSIGN(bool has, store::ResultsHaveShiftColumns(*db));
    EXPECT_TRUE(has);
  }
  ASSERT_OK_AND_ASSIGN(reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_OK(ReadEverything(*reader));
  EXPECT_TRUE(CheckRun(run).ok());
}

// Runs finished before the NER sentence fields (issue 16) have no span_errors,
// pred_spans_count and min_span_confidence columns: they read as null, sort, and
// the columns come with the next finish.
TEST(Compatibility, ARunWithoutTheSentenceSpanColumnsReadsThemAsNull) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  const fs::path run = root.path() / "p" / "r";
  {
    ASSERT_OK_AND_ASSIGN(auto db, store::Database::Open(run / store::kDatabaseFile, false));
    ASSERT_OK(
        db->Exec("ALTER TABLE results DROP COLUMN span_errors; ALTER TABLE results DROP COLUMN "
                 "pred_spans_count; ALTER TABLE results DROP COLUMN min_span_confidence"));
    ASSERT_OK_AND_ASSIGN(bool has, store::ResultsHaveSpanColumns(*db));
    EXPECT_FALSE(has);
  }
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_OK(ReadEverything(*reader));
  SampleQuery q;
  q.split = kTraining;
  q.sort_by = "span_errors";
  q.descending = true;
  ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
  ASSERT_EQ(rows.size(), 20u);
  EXPECT_EQ(rows[0].id, "t0");  // all null: row order
  for (const SampleRow& r : rows) {
    EXPECT_FALSE(r.span_errors.has_value());
    EXPECT_FALSE(r.min_span_confidence.has_value());
  }
  // Not an NER run: the entity type filter says so.
  q.entity_types = {"PER"};
  EXPECT_TRUE(reader->Count(q).status().IsInvalid());
  reader.reset();
  EXPECT_TRUE(CheckRun(run).ok());
  ASSERT_OK(FinishRun(root.path(), "p", "r", Options()).status());
  {
    ASSERT_OK_AND_ASSIGN(auto db, store::Database::Open(run / store::kDatabaseFile, true));
    ASSERT_OK_AND_ASSIGN(bool has, store::ResultsHaveSpanColumns(*db));
    EXPECT_TRUE(has);
  }
  ASSERT_OK_AND_ASSIGN(reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_OK(ReadEverything(*reader));
}

TEST(Repair, CutsALogBackToItsLastSoundBatch) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/false);
  const fs::path run = root.path() / "p" / "r";
  {
    std::fstream f(run / "outputs/training/epoch-0.emb.f32",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4 * kDim * 13);  // row 13: in the second batch
    const float bad = 7.0f;
    f.write(reinterpret_cast<const char*>(&bad), 4);
  }
  const RunCheck before = CheckRun(run);
  EXPECT_TRUE(Contains(before.problems, "rows [10, 20)")) << Joined(before.problems);
  ASSERT_OK_AND_ASSIGN(RepairReport rep, RepairRun(run));
  EXPECT_TRUE(Contains(rep.dropped, "dropped rows [10, 20)")) << Joined(rep.dropped);
  EXPECT_TRUE(Contains(rep.dropped, "epoch-0.emb.f32")) << Joined(rep.dropped);
  const RunCheck after = CheckRun(run);
  EXPECT_TRUE(after.ok()) << Joined(after.problems);
  EXPECT_EQ(fs::file_size(run / "outputs/training/epoch-0.emb.f32"), 10u * kDim * 4);
  // The samples whose outputs were dropped are named by finish, which can run once they are logged
  // again.
  EXPECT_FALSE(FinishRun(root.path(), "p", "r", Options()).ok());
}

TEST(Repair, DropsTheResultsOfADamagedGenerationSoTheRunCanBeFinishedAgain) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  const fs::path run = root.path() / "p" / "r";
  fs::remove_all(run / "results" / "gen-1");
  EXPECT_FALSE(RunReader::Open(root.path(), "p", "r").ok());
  ASSERT_OK_AND_ASSIGN(RepairReport rep, RepairRun(run));
  EXPECT_TRUE(Contains(rep.dropped, "results of generation 1")) << Joined(rep.dropped);
  EXPECT_TRUE(CheckRun(run).ok());
  ASSERT_OK(FinishRun(root.path(), "p", "r", Options()).status());
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_OK(ReadEverything(*reader));
}

TEST(Repair, ReplacesUnreadableSampleMetadataAndReportsBadLabels) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/false);
  const fs::path run = root.path() / "p" / "r";
  {
    ASSERT_OK_AND_ASSIGN(auto db, store::Database::Open(run / store::kDatabaseFile, false));
    ASSERT_OK(db->Exec(
        "UPDATE samples SET meta='{bad' WHERE row=3; UPDATE samples SET label=4 WHERE row=5"));
  }
  ASSERT_OK_AND_ASSIGN(RepairReport rep, RepairRun(run));
  EXPECT_TRUE(Contains(rep.dropped, "sample 't3'")) << Joined(rep.dropped);
  EXPECT_TRUE(Contains(rep.unrepaired, "label index 4")) << Joined(rep.unrepaired);
  const RunCheck after = CheckRun(run);
  EXPECT_FALSE(after.ok());
  EXPECT_FALSE(Contains(after.problems, "samples.meta")) << Joined(after.problems);
}

TEST(Repair, MovesATablelessDatabaseAsideAndTheRunCanBeCreated) {
  TempDir root;
  const fs::path run = root.path() / "p" / "r";
  fs::create_directories(run);
  ASSERT_OK(store::Database::Open(run / store::kDatabaseFile, true)
                .status());  // what a failed creation left
  EXPECT_STATUS(Client::Init({.root = root.path(), .project = "p", .run = "r"}), kIOError,
                "damaged");
  ASSERT_OK_AND_ASSIGN(RepairReport rep, RepairRun(run));
  EXPECT_TRUE(Contains(rep.dropped, "no tables")) << Joined(rep.dropped);
  LogTwoBatches(root.path(), /*finish=*/true);
  EXPECT_TRUE(CheckRun(run).ok());
}

// A disk that fills while a run is created (RLIMIT_FSIZE in a child process)
// leaves no table-less sextant.db: the store lists and creates runs as before.
TEST(Creation, ADiskFullDuringCreationLeavesNoDatabase) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/false);  // a sound neighbour
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // writes past the limit fail with EFBIG instead
    struct rlimit limit = {8192, 8192};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    auto store = store::RunStore::Open(root.path() / "p" / "full", store::RunStore::Mode::kWrite,
                                       TaskType::kTextClassification);
    ::_exit(store.ok() ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3) << "the creation should have failed";
  EXPECT_FALSE(fs::exists(root.path() / "p" / "full" / store::kDatabaseFile));
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> runs, ListRuns(root.path()));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status, "ok");
  // And the run can be created afterwards, the leftover cleaned.
  ASSERT_OK(store::RunStore::Open(root.path() / "p" / "full", store::RunStore::Mode::kWrite,
                                  TaskType::kTextClassification)
                .status());
  for (const auto& e : fs::directory_iterator(root.path() / "p" / "full")) {
    EXPECT_EQ(e.path().filename().string().find(".sextant.db.creating"), std::string::npos);
  }
}

TEST(ListRuns, ADamagedRunIsListedWithItsError) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  fs::create_directories(root.path() / "p" / "broken");
  ASSERT_OK(
      store::Database::Open(root.path() / "p" / "broken" / store::kDatabaseFile, true).status());
  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> runs, ListRuns(root.path()));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].run, "broken");
  EXPECT_EQ(runs[0].status, "damaged");
  EXPECT_NE(runs[0].error.find("meta"), std::string::npos) << runs[0].error;
  EXPECT_EQ(runs[1].run, "r");
  EXPECT_EQ(runs[1].status, "ok");
  EXPECT_EQ(runs[1].generation, 1);
}

// Reads follow commits: a reader stays on the generation it opened, however
// many finishes commit meanwhile; its folder is kept until it closes.
TEST(Readers, AReaderKeepsItsGenerationAcrossFinishes) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  const fs::path results = root.path() / "p" / "r" / "results";
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_EQ(reader->generation(), 1);
  ASSERT_OK(FinishRun(root.path(), "p", "r", Options()).status());
  ASSERT_OK(FinishRun(root.path(), "p", "r", Options()).status());
  EXPECT_TRUE(fs::exists(results / "gen-1"));   // pinned by the reader
  EXPECT_FALSE(fs::exists(results / "gen-2"));  // nobody's: removed
  EXPECT_OK(ReadEverything(*reader));           // its arrays are opened lazily, now
  EXPECT_EQ(reader->generation(), 1);
  ASSERT_OK_AND_ASSIGN(int64_t committed, reader->CommittedGeneration());
  EXPECT_EQ(committed, 3);
  reader.reset();
  ASSERT_OK(FinishRun(root.path(), "p", "r", Options()).status());
  EXPECT_FALSE(fs::exists(results / "gen-1"));
  ASSERT_OK_AND_ASSIGN(reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_EQ(reader->generation(), 4);
}

TEST(Readers, AFinishThatFailsMidWriteLeavesReadersOnTheCommittedGeneration) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  const fs::path run = root.path() / "p" / "r";
  EXPECT_STATUS(::sextant::testing::CommitThatFailsMidWrite(run, 20), kIOError, "No space");
  EXPECT_TRUE(fs::exists(run / "results" / "gen-2" / "training" / "probs.npy"));  // half written
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_EQ(reader->generation(), 1);
  EXPECT_OK(ReadEverything(*reader));
  // The next finish takes the abandoned folder over.
  ASSERT_OK(FinishRun(root.path(), "p", "r", Options()).status());
  ASSERT_OK_AND_ASSIGN(reader, RunReader::Open(root.path(), "p", "r"));
  EXPECT_EQ(reader->generation(), 2);
  EXPECT_OK(ReadEverything(*reader));
}

TEST(Readers, ReadersPollingDuringFinishesNeverError) {
  TempDir root;
  LogTwoBatches(root.path(), /*finish=*/true);
  std::atomic<bool> done{false};
  Status finish_status;
  std::thread finisher([&] {
    for (int i = 0; i < 4 && finish_status.ok(); ++i) {
      finish_status = FinishRun(root.path(), "p", "r", Options()).status();
    }
    done = true;
  });
  int reads = 0, errors = 0;
  std::string first_error;
  // Bounded: the loop ends when the finishes do (and reads at least once more after).
  for (bool last = false; !last;) {
    last = done.load();
    auto reader = RunReader::Open(root.path(), "p", "r");
    Status st = reader.ok() ? ReadEverything(**reader) : reader.status();
    ++reads;
    if (!st.ok()) {
      if (errors++ == 0) first_error = st.ToString();
    }
  }
  finisher.join();
  ASSERT_OK(finish_status);
  EXPECT_EQ(errors, 0) << first_error;
  EXPECT_GE(reads, 1);
}

}  // namespace
}  // namespace sextant
