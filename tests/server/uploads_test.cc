// The server's side of uploads and its job queue (server/uploads.h,
// server/jobs.h), without HTTP: a local run's upload lands once, whole, and
// queues one processing job; what cannot be accepted is refused before.
#include "server/uploads.h"

#include <gtest/gtest.h>

#include <thread>

#include "server/jobs.h"
#include "small_run.h"
#include "store/run_store.h"
#include "sync/bundle.h"

namespace sextant::server {
namespace {

using sextant::testing::TempDir;
namespace fs = std::filesystem;
using nlohmann::ordered_json;

// Begins, sends every missing chunk, commits.
Result<ordered_json> Upload(UploadService& service, const sync::LocalUpload& up,
                            const Principal& who, int skip_chunks = 0) {
  const std::string manifest = up.manifest.ToJson();
  SEXTANT_ASSIGN_OR_RETURN(ordered_json begun, service.Begin("p", "r", manifest));
  const std::string id = begun["upload"];
  int seen = 0;
  for (size_t f = 0; f < up.manifest.files.size(); ++f) {
    for (size_t c = 0; c < up.manifest.files[f].chunks.size(); ++c) {
      if (seen++ < skip_chunks) continue;
      SEXTANT_ASSIGN_OR_RETURN(std::string bytes, sync::ReadChunk(up, f, c));
      SEXTANT_RETURN_IF_ERROR(
          service.PutChunk("p", "r", id, up.manifest.files[f].chunks[c].sha256, bytes).status());
    }
  }
  return service.Commit(who, "p", "r", id);
}

struct Fixture {
  TempDir local_root, server_root;
  RunLocks locks;
  std::unique_ptr<JobQueue> jobs;
  std::unique_ptr<UploadService> uploads;
  Principal who{"ci", Role::kWrite, {"p"}};

  Fixture() {
    jobs = std::move(JobQueue::Open(server_root.path(), &locks).value());
    uploads = std::make_unique<UploadService>(server_root.path(), &locks, jobs.get());
  }

  sync::LocalUpload Build(int64_t chunk_bytes = sync::kChunkBytes) {
    auto local = store::RunStore::Open(local_root.path() / "p" / "r", store::RunStore::Mode::kRead);
    EXPECT_OK(local.status());
    sync::UploadState state;
    state.source = "src";
    auto plan = sync::PlanUpload(**local, "p", "r", state);
    EXPECT_OK(plan.status());
    auto up = sync::BuildUpload(**local, *plan, chunk_bytes);
    EXPECT_OK(up.status());
    return *up;
  }
};

TEST(Uploads, LandOnceWholeAndQueueOneJob) {
  Fixture fx;
  LogAndFinishSmallRun(fx.local_root.path(), 40);
  const sync::LocalUpload up = fx.Build(256);
  ASSERT_OK_AND_ASSIGN(ordered_json done, Upload(*fx.uploads, up, fx.who));
  EXPECT_EQ(done["state"], "committed");
  EXPECT_EQ(done["samples"], 40);
  EXPECT_EQ(done["uploaded_by"], "ci");
  const int64_t job = done["job"]["id"];

  ASSERT_OK_AND_ASSIGN(auto server, store::RunStore::Open(fx.server_root.path() / "p" / "r",
                                                          store::RunStore::Mode::kRead));
  const SplitKey training = SplitKey::Make(Split::kTraining).value();
  ASSERT_OK_AND_ASSIGN(auto ids, server->SampleIds(training));
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_EQ(server->labels(), (std::vector<std::string>{"neg", "pos"}));
  ASSERT_OK_AND_ASSIGN(store::OutputLog log, server->ReadOutputLog(training, 0));
  EXPECT_EQ(log.sample_rows.size(), 40u);

  // Committing (or beginning) the same upload again changes nothing.
  ASSERT_OK_AND_ASSIGN(ordered_json again, fx.uploads->Commit(fx.who, "p", "r", done["upload"]));
  EXPECT_EQ(again["state"], "committed");
  EXPECT_EQ(again["job"]["id"], job);
  ASSERT_OK_AND_ASSIGN(ordered_json begun, fx.uploads->Begin("p", "r", up.manifest.ToJson()));
  EXPECT_EQ(begun["state"], "committed");
  ASSERT_OK_AND_ASSIGN(auto ids_after, server->SampleIds(training));
  EXPECT_EQ(ids_after.size(), 40u);
  // The chunks are gone once committed; the job waits for a worker.
  EXPECT_TRUE(fs::is_empty(fx.server_root.path() / ".server" / "uploads"));
  ASSERT_OK_AND_ASSIGN(auto queued, fx.jobs->Get(job));
  EXPECT_EQ(queued->state, "queued");
}

TEST(Uploads, BeginListsOnlyTheMissingChunksAndCommitNeedsThemAll) {
  Fixture fx;
  LogAndFinishSmallRun(fx.local_root.path(), 40);
  const sync::LocalUpload up = fx.Build(256);
  int64_t total = 0;
  for (const auto& f : up.manifest.files) total += static_cast<int64_t>(f.chunks.size());
  // Three chunks skipped: the commit says so and lands nothing.
  auto partial = Upload(*fx.uploads, up, fx.who, /*skip_chunks=*/3);
  EXPECT_STATUS(partial, kFailedPrecondition, "lacks 3 chunks");
  EXPECT_FALSE(fs::exists(fx.server_root.path() / "p" / "r" / "sextant.db"));
  ASSERT_OK_AND_ASSIGN(ordered_json begun, fx.uploads->Begin("p", "r", up.manifest.ToJson()));
  EXPECT_EQ(begun["missing"].size(), 3u);
  EXPECT_EQ(begun["chunks"], total);
  ASSERT_OK(Upload(*fx.uploads, up, fx.who).status());
}

TEST(Uploads, RefuseChunksThatAreNotWhatTheManifestSays) {
  Fixture fx;
  LogAndFinishSmallRun(fx.local_root.path(), 10);
  const sync::LocalUpload up = fx.Build();
  ASSERT_OK_AND_ASSIGN(ordered_json begun, fx.uploads->Begin("p", "r", up.manifest.ToJson()));
  const std::string id = begun["upload"];
  const std::string sha = up.manifest.files[0].chunks[0].sha256;
  ASSERT_OK_AND_ASSIGN(std::string bytes, sync::ReadChunk(up, 0, 0));
  std::string damaged = bytes;
  damaged[0] ^= 1;
  EXPECT_STATUS(fx.uploads->PutChunk("p", "r", id, sha, damaged), kInvalidArgument, "hash to");
  EXPECT_STATUS(fx.uploads->PutChunk("p", "r", id, std::string(64, 'a'), bytes), kInvalidArgument,
                "not part of upload");
  EXPECT_STATUS(fx.uploads->PutChunk("p", "r", std::string(64, 'b'), sha, bytes), kNotFound,
                "no open upload");
  EXPECT_STATUS(fx.uploads->PutChunk("q", "r", id, sha, bytes), kNotFound, "no open upload");
  EXPECT_STATUS(fx.uploads->Begin("p", "other", up.manifest.ToJson()), kInvalidArgument,
                "differs from the path");
}

TEST(Uploads, AnInferenceSetWithOtherLabelsIsRefusedBeforeAnyChunk) {
  Fixture fx;
  LogAndFinishSmallRun(fx.local_root.path(), 10);
  ASSERT_OK(Upload(*fx.uploads, fx.Build(), fx.who).status());
  sync::LocalUpload up = fx.Build();
  up.manifest.labels = {"pos", "neg"};
  EXPECT_STATUS(fx.uploads->Begin("p", "r", up.manifest.ToJson()), kFailedPrecondition,
                "label list ['pos', 'neg'] differs", "['neg', 'pos']");
}

TEST(Uploads, SamplesTheServerHoldsAlreadyAreRefusedNamingTheId) {
  Fixture fx;
  LogAndFinishSmallRun(fx.local_root.path(), 10);
  ASSERT_OK(Upload(*fx.uploads, fx.Build(), fx.who).status());
  sync::LocalUpload up = fx.Build();
  up.manifest.source = "another-machine";  // the same samples from elsewhere: a new upload id
  EXPECT_STATUS(Upload(*fx.uploads, up, fx.who), kAlreadyExists, "sample id 't0'",
                "on the server already");
}

TEST(Jobs, UploadsToAQueuedRunShareItsJob) {
  TempDir root;
  RunLocks locks;
  ASSERT_OK_AND_ASSIGN(auto jobs, JobQueue::Open(root.path(), &locks));
  ASSERT_OK_AND_ASSIGN(Job a, jobs->Enqueue("p", "r", "u1", "alice"));
  ASSERT_OK_AND_ASSIGN(Job b, jobs->Enqueue("p", "r", "u2", "bob"));
  ASSERT_OK_AND_ASSIGN(Job c, jobs->Enqueue("p", "other", "u3", "bob"));
  EXPECT_EQ(a.id, b.id);
  EXPECT_NE(a.id, c.id);
  ASSERT_OK_AND_ASSIGN(auto shared, jobs->Get(a.id));
  EXPECT_EQ(shared->uploads, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(shared->uploaded_by, "bob");
}

TEST(Jobs, RunReportAndSurviveARestart) {
  TempDir root;
  RunLocks locks;
  std::atomic<int> calls{0};
  auto processor = [&](const Job& job, const JobQueue::Report& report) -> Status {
    ++calls;
    report("halfway", 0.5);
    if (job.run == "bad") return Status::Invalid("samples without outputs");
    return Status::OK();
  };
  int64_t good_id = 0, bad_id = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto jobs, JobQueue::Open(root.path(), &locks, processor));
    ASSERT_OK_AND_ASSIGN(Job good, jobs->Enqueue("p", "good", "u1", "k"));
    ASSERT_OK_AND_ASSIGN(Job bad, jobs->Enqueue("p", "bad", "u2", "k"));
    good_id = good.id;
    bad_id = bad.id;
    jobs->Start(2);
    for (int i = 0; i < 200; ++i) {
      auto g = jobs->Get(good_id);
      auto b = jobs->Get(bad_id);
      if ((*g)->state != "queued" && (*g)->state != "running" && (*b)->state != "queued" &&
          (*b)->state != "running") {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(jobs->Stop(60));
    ASSERT_OK_AND_ASSIGN(auto g, jobs->Get(good_id));
    EXPECT_EQ(g->state, "done");
    EXPECT_EQ(g->progress, 1.0);
    ASSERT_OK_AND_ASSIGN(auto b, jobs->Get(bad_id));
    EXPECT_EQ(b->state, "failed");
    EXPECT_NE(b->error.find("samples without outputs"), std::string::npos);
  }
  // A job the server was running when it died is queued again at the next start.
  {
    ASSERT_OK_AND_ASSIGN(auto db, OpenServerDatabase(root.path()));
    ASSERT_OK(db->Exec("UPDATE jobs SET state='running' WHERE id=" + std::to_string(good_id)));
  }
  ASSERT_OK_AND_ASSIGN(auto reopened, JobQueue::Open(root.path(), &locks, processor));
  ASSERT_OK_AND_ASSIGN(auto g, reopened->Get(good_id));
  EXPECT_EQ(g->state, "queued");
  EXPECT_NE(g->stage.find("restart"), std::string::npos);
}

}  // namespace
}  // namespace sextant::server
