// The client's write-failure contract (include/sextant/client.h): a failed
// write names the batches it could not write and keeps them; a later Flush
// writes them once the cause is gone. Writes are made to fail with
// RLIMIT_FSIZE, which fails every write past a file offset (EFBIG) the way a
// full disk fails them, for SQLite's files and the output logs alike.
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sextant/client.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant {
namespace {

using ::sextant::testing::TempDir;

constexpr int64_t kDim = 256;

// Fails writes past `bytes` of any file while in scope.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() { Lift(); }
  void Lift() {
    if (lifted_) return;
    setrlimit(RLIMIT_FSIZE, &saved_);
    lifted_ = true;
  }

 private:
  rlimit saved_{};
  bool lifted_ = false;
};

struct Batch {
  std::vector<std::string> ids;
  std::vector<float> emb, logits;
  OutputsBatch View() const {
    OutputsBatch b;
    b.ids = ids;
    const auto n = static_cast<int64_t>(ids.size());
    b.embeddings = {emb.data(), n, kDim};
    b.logits = {logits.data(), n, 2};
    return b;
  }
};

Batch MakeBatch(int begin, int end) {
  std::mt19937 rng(static_cast<uint32_t>(begin));
  std::normal_distribution<float> normal;
  Batch b;
  for (int i = begin; i < end; ++i) b.ids.push_back("s" + std::to_string(i));
  b.emb.resize(b.ids.size() * kDim);
  b.logits.resize(b.ids.size() * 2);
  for (float& v : b.emb) v = normal(rng);
  for (float& v : b.logits) v = normal(rng);
  return b;
}

std::unique_ptr<Client> NewRun(const TempDir& dir, int samples, int64_t max_pending = 16 << 20) {
  auto client = Client::Init(
      {.root = dir.path(), .project = "p", .run = "r", .max_pending_bytes = max_pending});
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_OK((*client)->SetLabelsForRun({"neg", "pos"}));
  DataBatch data;
  for (int i = 0; i < samples; ++i) {
    data.ids.push_back("s" + std::to_string(i));
    data.texts.push_back("text " + std::to_string(i));
    data.labels.push_back(i % 2 ? "pos" : "neg");
  }
  EXPECT_OK((*client)->LogDataSamples(data, SplitKey{Split::kTraining, ""}));
  EXPECT_OK((*client)->SetSplit(Split::kTraining));
  EXPECT_OK((*client)->Flush());
  return std::move(*client);
}

std::vector<int64_t> CommittedRows(const TempDir& dir) {
  auto store = store::RunStore::Open(dir.path() / "p" / "r", store::RunStore::Mode::kRead);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  auto rows = (*store)->ReadOutputRows(SplitKey{Split::kTraining, ""}, 0);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() ? *rows : std::vector<int64_t>{};
}

TEST(ClientDurability, FailedWriteNamesItsBatchesAndAFlushWritesThemLater) {
  TempDir dir;
  auto client = NewRun(dir, 96);
  const Batch a = MakeBatch(0, 32), b = MakeBatch(32, 64), c = MakeBatch(64, 96);
  {
    FileSizeLimit full(4096);
    ASSERT_OK(client->LogModelOutputs(a.View()));
    ASSERT_OK(client->LogModelOutputs(b.View()));
    // The failed write is reported with the batches it kept, by split, epoch and ids.
    EXPECT_STATUS(client->Flush(), kIOError, "flush", "kept for a retry", "training epoch 0",
                  "'s0' .. 's31'", "'s32' .. 's63'");
    // Kept, not dropped: logging them again is refused as a duplicate.
    EXPECT_STATUS(client->LogModelOutputs(a.View()), kAlreadyExists, "'s0'");
    // New batches still queue behind the failed ones (within max_pending_bytes).
    ASSERT_OK(client->LogModelOutputs(c.View()));
    full.Lift();
    ASSERT_OK(client->Flush());
  }
  std::vector<int64_t> rows = CommittedRows(dir);
  ASSERT_EQ(rows.size(), 96u);
  for (int64_t i = 0; i < 96; ++i) EXPECT_EQ(rows[i], i) << "in logging order";
  auto report = client->Finish();
  EXPECT_TRUE(report.ok()) << report.status().ToString();
}

TEST(ClientDurability, TheNextCallReportsABackgroundWriteFailureOnce) {
  TempDir dir;
  auto client = NewRun(dir, 64);
  const Batch a = MakeBatch(0, 32), b = MakeBatch(32, 64);
  FileSizeLimit full(4096);
  ASSERT_OK(client->LogModelOutputs(a.View()));
  // The writer fails on its own within a tick; the next call reports it, naming the batch,
  // and changes nothing.
  Status st;
  for (int i = 0; i < 500 && st.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    st = client->SetSplit(Split::kTraining);
  }
  EXPECT_STATUS(st, kIOError, "kept for a retry", "'s0' .. 's31'");
  EXPECT_OK(client->SetSplit(Split::kTraining));  // reported once
  full.Lift();
  ASSERT_OK(client->LogModelOutputs(b.View()));
  ASSERT_OK(client->Flush());
  EXPECT_EQ(CommittedRows(dir).size(), 64u);
}

TEST(ClientDurability, WhileWritesFailABatchPastTheBoundIsRefusedNotBuffered) {
  TempDir dir;
  // Each batch is 32 x 256 floats (32 KiB and change); the bound is the minimum, 1 MiB.
  auto client = NewRun(dir, 32 * 40, /*max_pending=*/1 << 20);
  FileSizeLimit full(4096);
  Status refused;
  int accepted = 0;
  for (int k = 0; k < 40 && refused.ok(); ++k) {
    const Batch batch = MakeBatch(32 * k, 32 * (k + 1));
    refused = client->LogModelOutputs(batch.View());
    if (refused.ok()) ++accepted;
  }
  ASSERT_FALSE(refused.ok()) << "40 batches (1.3 MiB) fit in a 1 MiB bound";
  EXPECT_EQ(refused.code(), StatusCode::kIOError) << refused.ToString();
  EXPECT_LT(accepted, 32);
  full.Lift();
  ASSERT_OK(client->Flush());
  EXPECT_EQ(CommittedRows(dir).size(), static_cast<size_t>(32 * accepted));
}

}  // namespace
}  // namespace sextant
