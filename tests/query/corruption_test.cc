// Stored data checked, corruption named (docs/format.md): each case damages a
// copy of a sound run the way a failing disk or a stray write would, then
// checks that finish or the reader gives a clear error naming the file or
// table (no crash, no wrong value), that `sextant check` (CheckRun) names it,
// and that the listing still lists every run.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <thread>

#include "common/crc32c.h"
#include "io/npy.h"
#include "query/check.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

constexpr int64_t kDim = 4;
constexpr int kTrain = 20, kProd = 8;

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}
const SplitKey kTraining = Key(Split::kTraining);
const SplitKey kProdKey = Key(Split::kInference, "prod");

ProcessingOptions Options() {
  ProcessingOptions o;
  o.drift_k = 3;
  return o;
}

// Logs a small run: 20 training samples (two clusters), 8 inference samples.
void LogRun(const fs::path& root, const std::string& run, bool finish) {
  auto client = Client::Init({.root = root, .project = "p", .run = run});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"neg", "pos"}));
  auto log = [&](const SplitKey& key, const std::string& prefix, int n, bool labeled) {
    DataBatch data;
    for (int i = 0; i < n; ++i) {
      data.ids.push_back(prefix + std::to_string(i));
      data.texts.push_back("text " + std::to_string(i));
      if (labeled) data.label_indices.push_back(i % 2);
    }
    MetaColumn source{"source", {}};
    for (int i = 0; i < n; ++i) source.values.push_back(i % 3 ? "web" : "app");
    data.meta.push_back(source);
    ASSERT_OK((*client)->LogDataSamples(data, key));
    std::vector<float> e, l;
    for (int i = 0; i < n; ++i) {
      for (int d = 0; d < kDim; ++d)
        e.push_back(d == i % 2 ? 1.0f : 0.01f * static_cast<float>(i + d));
      l.push_back(i % 2 ? 0.2f : 1.5f);
      l.push_back(i % 2 ? 1.1f : 0.1f);
    }
    OutputsBatch b;
    b.ids = data.ids;
    b.embeddings = {e.data(), n, kDim};
    b.logits = {l.data(), n, 2};
    ASSERT_OK((*client)->LogModelOutputs(b, key, 0));
  };
  log(kTraining, "t", kTrain, true);
  log(kProdKey, "i", kProd, false);
  ASSERT_OK((*client)->Flush());
  if (finish) ASSERT_OK((*client)->Finish(Options()).status());
}

Status Sql(const fs::path& run_dir, const std::string& sql) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, store::Database::Open(run_dir / store::kDatabaseFile, false));
  return db->Exec(sql);
}

void Patch(const fs::path& path, int64_t offset, const void* bytes, size_t n) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << path;
  f.seekp(offset);
  f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(n));
}

void Truncate(const fs::path& path, int64_t size) {
  fs::resize_file(path, static_cast<uintmax_t>(size));
}

// A writer that checksummed what it wrote wrongly: the records match the damaged bytes.
void Rechecksum(const fs::path& run_dir) {
  auto store = store::RunStore::Open(run_dir, store::RunStore::Mode::kRead);
  ASSERT_OK(store.status());
  auto logs = (*store)->ListOutputLogs();
  ASSERT_OK(logs.status());
  for (const auto& info : *logs) {
    auto batches = (*store)->ListOutputBatches(info.split, info.epoch);
    ASSERT_OK(batches.status());
    for (const auto& b : *batches) {
      auto crc = [&](const char* ext, int64_t width) {
        return Crc32cOfFile((*store)->LogPath(info.split, info.epoch, ext), b.rows * width,
                            b.first_row * width)
            .value();
      };
      ASSERT_OK((*store)->db().Exec(
          "UPDATE output_batches SET rows_crc=" + std::to_string(crc(".rows.i64", 8)) +
          ", emb_crc=" + std::to_string(crc(".emb.f32", info.emb_dim * 4)) +
          ", out_crc=" + std::to_string(crc(".out.f32", info.out_dim * 4)) + " WHERE split='" +
          info.split.ToString() + "' AND epoch=" + std::to_string(info.epoch) +
          " AND first_row=" + std::to_string(b.first_row)));
    }
  }
  auto gen = (*store)->CommittedGeneration();
  ASSERT_OK(gen.status());
  auto files = (*store)->ListResultFiles(*gen);
  ASSERT_OK(files.status());
  for (const auto& f : *files) {
    const fs::path p = (*store)->GenerationDir(*gen) / f.path;
    ASSERT_OK((*store)->db().Exec(
        "UPDATE result_files SET bytes=" + std::to_string(fs::file_size(p)) +
        ", crc32c=" + std::to_string(Crc32cOfFile(p).value()) + " WHERE path='" + f.path + "'"));
  }
}

// What a run written by format version 1 looks like: no checksums.
void MakeVersion1(const fs::path& run_dir) {
  ASSERT_OK(Sql(run_dir,
                "DROP TABLE output_batches; DROP TABLE result_files; "
                "UPDATE meta SET value='1' WHERE key='format_version'"));
}

Status Finish(const fs::path& root) { return FinishRun(root, "p", "r", Options()).status(); }

// Everything a user reads: summaries, every sample with probabilities and
// embeddings, the map, similar samples.
Status ReadAll(const fs::path& root) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader, RunReader::Open(root, "p", "r"));
  SEXTANT_RETURN_IF_ERROR(reader->SummaryJson().status());
  for (const SplitKey& split : {kTraining, kProdKey}) {
    SEXTANT_RETURN_IF_ERROR(reader->SummaryJson(split).status());
    SampleQuery q;
    q.split = split;
    q.include_probs = true;
    q.include_embeddings = true;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, reader->Samples(q));
    for (const SampleRow& r : rows) {
      for (double p : r.probs) {
        if (!(p >= 0 && p <= 1))
          return Status::Internal("probability out of range: " + std::to_string(p));
      }
    }
    auto map = reader->MapPoints(split);
    if (!map.ok() && map.status().code() != StatusCode::kFailedPrecondition) return map.status();
    SEXTANT_RETURN_IF_ERROR(reader->Similar(split, rows.at(0).id, 3).status());
  }
  return Status::OK();
}

enum class Action { kFinish, kRead };

struct Case {
  const char* name;
  bool finished;  // damage a finished run (else one only logged)
  std::function<void(const fs::path& run_dir)> damage;
  Action action;
  std::vector<std::string> expected;  // in the action's error and in a problem of the check
};

const fs::path kRows = "outputs/training/epoch-0.rows.i64";
const fs::path kEmb = "outputs/training/epoch-0.emb.f32";
const fs::path kOut = "outputs/training/epoch-0.out.f32";
const fs::path kProbs = "results/gen-1/training/probs.npy";
const fs::path kEmbeddings = "results/gen-1/training/embeddings.npy";
const fs::path kMap = "results/gen-1/training/map.npy";

void PutRow(const fs::path& run_dir, int64_t value, bool rechecksum) {
  Patch(run_dir / kRows, 8 * 5, &value, 8);
  if (rechecksum) Rechecksum(run_dir);
}
void PutFloat(const fs::path& path, int64_t index, float value) {
  Patch(path, 4 * index, &value, 4);
}

// Rewrites a results array as a valid .npy of another shape.
void RewriteNpy(const fs::path& path, int64_t rows, int64_t cols) {
  std::vector<float> v(static_cast<size_t>(rows * cols), 0.25f);
  ASSERT_OK(io::WriteNpyFloat32(path, v.data(), rows, cols));
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      // Output logs (finish reads them).
      {"RowIndex2Pow40",
       false,
       [](const fs::path& d) { PutRow(d, int64_t{1} << 40, true); },
       Action::kFinish,
       {"epoch-0.rows.i64", "sample row 1099511627776"}},
      {"RowIndexMinus1",
       false,
       [](const fs::path& d) { PutRow(d, -1, true); },
       Action::kFinish,
       {"epoch-0.rows.i64", "sample row -1"}},
      {"RowIndexChecksum",
       false,
       [](const fs::path& d) { PutRow(d, -1, false); },
       Action::kFinish,
       {"epoch-0.rows.i64", "checksum"}},
      {"RowIndexVersion1",
       false,
       [](const fs::path& d) {
         MakeVersion1(d);
         PutRow(d, 1 << 30, false);
       },
       Action::kFinish,
       {"epoch-0.rows.i64", "sample row 1073741824"}},
      {"NanInEmbeddingLog",
       false,
       [](const fs::path& d) {
         PutFloat(d / kEmb, 9, std::nanf(""));
         Rechecksum(d);
       },
       Action::kFinish,
       {"epoch-0.emb.f32", "NaN"}},
      {"NanInEmbeddingLogChecksum",
       false,
       [](const fs::path& d) { PutFloat(d / kEmb, 9, std::nanf("")); },
       Action::kFinish,
       {"epoch-0.emb.f32", "checksum"}},
      {"InfInOutputLogVersion1",
       false,
       [](const fs::path& d) {
         MakeVersion1(d);
         PutFloat(d / kOut, 3, INFINITY);
       },
       Action::kFinish,
       {"epoch-0.out.f32", "infinite"}},
      {"TruncatedEmbeddingLog",
       false,
       [](const fs::path& d) { Truncate(d / kEmb, 40); },
       Action::kFinish,
       {"epoch-0.emb.f32", "committed"}},
      {"MissingRowsLog",
       false,
       [](const fs::path& d) { fs::remove(d / kRows); },
       Action::kFinish,
       {"epoch-0.rows.i64", "missing"}},
      {"HugeCommittedRowCount",
       false,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE output_logs SET rows=1125899906842624")); },
       Action::kFinish,
       {"output_logs", "1125899906842624"}},
      {"NegativeDimension",
       false,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE output_logs SET emb_dim=-4")); },
       Action::kFinish,
       {"output_logs", "emb_dim -4"}},
      {"UnknownOutputKind",
       false,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE output_logs SET kind='bogus'")); },
       Action::kFinish,
       {"output_logs", "kind 'bogus'"}},
      {"UnknownSetTimeSource",
       false,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE inference_sets SET source='later'")); },
       Action::kFinish,
       {"inference_sets", "'prod'", "later"}},
      {"BatchChecksumRecordWrong",
       false,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE output_batches SET emb_crc=12345")); },
       Action::kFinish,
       {"epoch-0.emb.f32", "checksum"}},
      {"BatchChecksumRecordMissing",
       false,
       [](const fs::path& d) {
         ASSERT_OK(Sql(d, "DELETE FROM output_batches WHERE split='training'"));
       },
       Action::kFinish,
       {"epoch-0.rows.i64", "no recorded checksum"}},
      {"LabelListWiderThanTheOutputs",
       false,
       [](const fs::path& d) {
         ASSERT_OK(Sql(d, "UPDATE meta SET value='[\"neg\",\"pos\",\"mid\"]' WHERE key='labels'"));
       },
       Action::kFinish,
       {"output_logs", "out_dim 2"}},
      {"GoldLabelPastTheList",
       false,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE samples SET label=7 WHERE row=2")); },
       Action::kFinish,
       {"samples", "label index 7"}},
      {"GoldLabelNegative",
       false,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE samples SET label=-1 WHERE row=2")); },
       Action::kFinish,
       {"samples", "label index -1"}},
      {"LabelsNotJson",
       false,
       [](const fs::path& d) {
         ASSERT_OK(Sql(d, "UPDATE meta SET value='[\"neg\",' WHERE key='labels'"));
       },
       Action::kFinish,
       {"label list"}},
      {"FormatVersionFromTheFuture",
       false,
       [](const fs::path& d) {
         ASSERT_OK(Sql(d, "UPDATE meta SET value='99' WHERE key='format_version'"));
       },
       Action::kFinish,
       {"format version 99"}},
      {"GenerationNotANumber",
       true,
       [](const fs::path& d) {
         ASSERT_OK(Sql(d, "UPDATE meta SET value='x1' WHERE key='results_generation'"));
       },
       Action::kRead,
       {"results_generation 'x1'"}},
      // Results (the reader and the server read them).
      {"ProbsFewerRowsThanSamples",
       true,
       [](const fs::path& d) {
         RewriteNpy(d / kProbs, 3, 2);
         Rechecksum(d);
       },
       Action::kRead,
       {"probs.npy", "shape (3, 2)", "20 rows"}},
      {"ProbsFewerRowsVersion1",
       true,
       [](const fs::path& d) {
         MakeVersion1(d);
         RewriteNpy(d / kProbs, 3, 2);
       },
       Action::kRead,
       {"probs.npy", "shape (3, 2)"}},
      {"ProbsWrongColumns",
       true,
       [](const fs::path& d) {
         RewriteNpy(d / kProbs, kTrain, 5);
         Rechecksum(d);
       },
       Action::kRead,
       {"probs.npy", "2 columns"}},
      {"ProbsTruncated",
       true,
       [](const fs::path& d) { Truncate(d / kProbs, 100); },
       Action::kRead,
       {"probs.npy", "100 bytes"}},
      {"ProbsTruncatedVersion1",
       true,
       [](const fs::path& d) {
         MakeVersion1(d);
         Truncate(d / kProbs, 140);
       },
       Action::kRead,
       {"probs.npy", "truncated"}},
      {"ProbsWrongDtype",
       true,
       [](const fs::path& d) {
         std::vector<int64_t> v(kTrain * 2, 1);
         ASSERT_OK(io::WriteNpyInt64(d / kProbs, v.data(), kTrain * 2));
         Rechecksum(d);
       },
       Action::kRead,
       {"probs.npy", "dtype"}},
      {"ProbsHeaderGarbage",
       true,
       [](const fs::path& d) {
         MakeVersion1(d);
         Patch(d / kProbs, 0, "garbage!", 8);
       },
       Action::kRead,
       {"probs.npy", "not a .npy file"}},
      {"ProbsChecksumMismatch",
       true,
       [](const fs::path& d) { PutFloat(d / kProbs, 40, 0.5f); },
       Action::kRead,
       {"probs.npy", "checksum"}},
      {"EmbeddingsWrongRows",
       true,
       [](const fs::path& d) {
         RewriteNpy(d / kEmbeddings, 7, kDim);
         Rechecksum(d);
       },
       Action::kRead,
       {"embeddings.npy", "shape (7, 4)"}},
      {"MapWrongShape",
       true,
       [](const fs::path& d) {
         RewriteNpy(d / kMap, kTrain, 3);
         Rechecksum(d);
       },
       Action::kRead,
       {"map.npy", "2 columns"}},
      {"ResultFileWithoutChecksum",
       true,
       [](const fs::path& d) {
         ASSERT_OK(Sql(d, "DELETE FROM result_files WHERE path='training/probs.npy'"));
       },
       Action::kRead,
       {"probs.npy", "no recorded checksum"}},
      {"PredictedLabelPastTheList",
       true,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE results SET pred=5 WHERE row=1")); },
       Action::kRead,
       {"results.pred", "label index 5"}},
      {"StoredGoldPastTheList",
       true,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE samples SET label=9 WHERE row=1")); },
       Action::kRead,
       {"samples", "label index 9"}},
      {"RunSummaryNotJson",
       true,
       [](const fs::path& d) {
         ASSERT_OK(Sql(d, "UPDATE summaries SET json='{\"a\":' WHERE scope='run'"));
       },
       Action::kRead,
       {"summaries", "'run'"}},
      {"SplitSummaryNotJson",
       true,
       [](const fs::path& d) {
         ASSERT_OK(Sql(d, "UPDATE summaries SET json='[1,' WHERE scope='training'"));
       },
       Action::kRead,
       {"summaries", "'training'"}},
      {"SampleMetaNotJson",
       true,
       [](const fs::path& d) { ASSERT_OK(Sql(d, "UPDATE samples SET meta='{oops' WHERE row=4")); },
       Action::kRead,
       {"samples.meta", "'t4'"}},
      {"SimilarityManifestBroken",
       true,
       [](const fs::path& d) {
         std::ofstream(d / "results/gen-1/similarity.json")
             << R"({"splits": [{"split": "training", "offset": 5, "rows": -3}]})";
         Rechecksum(d);
       },
       Action::kRead,
       {"similarity.json", "offset 5"}},
      {"GenerationFolderMissing",
       true,
       [](const fs::path& d) { fs::remove_all(d / "results/gen-1"); },
       Action::kRead,
       {"gen-1", "missing"}},
      // The database itself.
      {"DatabaseWithoutTables",
       false,
       [](const fs::path& d) {
         fs::remove(d / store::kDatabaseFile);
         ASSERT_OK(store::Database::Open(d / store::kDatabaseFile, true).status());
       },
       Action::kFinish,
       {"sextant.db", "meta"}},
      {"DatabaseGarbage",
       false,
       [](const fs::path& d) {
         std::ofstream(d / store::kDatabaseFile, std::ios::trunc) << std::string(8192, 'x');
       },
       Action::kFinish,
       {"sextant.db"}},
      {"DatabaseMissing",
       true,
       [](const fs::path& d) { fs::remove(d / store::kDatabaseFile); },
       Action::kRead,
       {"p/r"}},
  };
  return cases;
}

class CorruptionTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    templates_ = new TempDir();
    LogRun(templates_->path() / "logged", "r", /*finish=*/false);
    LogRun(templates_->path() / "finished", "r", /*finish=*/true);
  }
  static void TearDownTestSuite() { delete templates_; }
  static TempDir* templates_;
};
TempDir* CorruptionTest::templates_ = nullptr;

TEST_P(CorruptionTest, GivesAClearErrorAndOtherRunsStayListed) {
  const Case& c = GetParam();
  TempDir root;
  fs::copy(templates_->path() / (c.finished ? "finished" : "logged"), root.path(),
           fs::copy_options::recursive);
  // A sound neighbour: damage to one run never hides another.
  fs::copy(templates_->path() / "logged" / "p" / "r", root.path() / "p" / "sound",
           fs::copy_options::recursive);
  const fs::path run_dir = root.path() / "p" / "r";
  c.damage(run_dir);
  if (HasFatalFailure()) return;

  const Status st = c.action == Action::kFinish ? Finish(root.path()) : ReadAll(root.path());
  ASSERT_FALSE(st.ok()) << "the damage went unnoticed";
  EXPECT_NE(st.code(), StatusCode::kInternal) << st.ToString();
  const std::string expected = c.expected.empty() ? "" : c.expected[0];
  for (const std::string& part : c.expected) {
    EXPECT_NE(st.message().find(part), std::string::npos)
        << "expected '" << part << "' in: " << st.message();
  }

  const RunCheck check = CheckRun(run_dir);
  EXPECT_FALSE(check.ok());
  bool named = false;
  std::string all;
  for (const std::string& p : check.problems) {
    named = named || p.find(expected) != std::string::npos;
    all += p + "\n";
  }
  EXPECT_TRUE(named) << "no problem names '" << expected << "':\n" << all;

  ASSERT_OK_AND_ASSIGN(std::vector<RunInfo> runs, ListRuns(root.path()));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].run, "sound");
  EXPECT_EQ(runs[1].status, "ok");
  EXPECT_EQ(runs[0].run, "r");
  if (runs[0].status != "ok") {
    EXPECT_FALSE(runs[0].error.empty());
  }
  EXPECT_TRUE(CheckRun(root.path() / "p" / "sound").ok());
}

INSTANTIATE_TEST_SUITE_P(Cases, CorruptionTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace sextant
