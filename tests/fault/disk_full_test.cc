// A full disk, for real: each test mounts a small tmpfs in a private mount
// namespace (root, or a user namespace that allows it; skipped otherwise),
// fills it with a ballast file, and checks that logging, finishing and
// creating runs fail with a clear error, lose nothing already written, and
// work again once space is freed.
#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fault_common.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant::fault {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=8m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): "
                   << std::strerror(errno);
    }
    mounted_ = true;
    root_ = dir_.path() / "store";
  }
  void TearDown() override {
    if (mounted_) umount2(dir_.path().c_str(), MNT_DETACH);
  }

  // Fills the file system but for about `leave` bytes.
  void Fill(int64_t leave) {
    const fs::space_info space = fs::space(dir_.path());
    const int64_t size = static_cast<int64_t>(space.available) - leave;
    std::ofstream ballast(Ballast(), std::ios::binary | std::ios::app);
    std::vector<char> block(64 << 10, 'x');
    for (int64_t written = 0; written + static_cast<int64_t>(block.size()) <= size && ballast;
         written += block.size()) {
      ballast.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
  }
  void Free() { fs::remove(Ballast()); }
  fs::path Ballast() const { return dir_.path() / "ballast"; }

  TempDir dir_;
  fs::path root_;
  bool mounted_ = false;
};

std::unique_ptr<Client> Attach(const fs::path& root) {
  auto client = Client::Init({.root = root, .project = "p", .run = "r"});
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

TEST_F(DiskFullTest, LoggingReportsTheLostBatchesAndWritesThemOnceSpaceIsFreed) {
  auto client = Attach(root_);
  ASSERT_TRUE(client);
  ASSERT_OK(client->SetLabelsForRun(kLabels));
  ASSERT_OK(client->LogDataSamples(TrainingSamples(0, kSamples), SplitKey{Split::kTraining, ""}));
  ASSERT_OK(client->SetSplit(Split::kTraining));
  ASSERT_OK(client->Flush());
  Fill(256 << 10);
  int accepted = 0;
  Status failure;
  for (int k = 0; k < kBatchesPerEpoch && failure.ok(); ++k) {
    const LoggedBatch b = MakeLoggedBatch(k);
    failure = client->LogModelOutputs(b.View(), std::nullopt, b.epoch);
    if (failure.ok()) {
      ++accepted;
      if (k % 4 == 3) failure = client->Flush();
    }
  }
  ASSERT_FALSE(failure.ok()) << "62 batches of 8.5 KiB fit in 256 KiB?";
  EXPECT_STATUS(failure, kIOError, "No space left on device", "kept for a retry",
                "training epoch 0");
  Free();
  ASSERT_OK(client->Flush());
  auto store = store::RunStore::Open(root_ / "p" / "r", store::RunStore::Mode::kRead);
  ASSERT_TRUE(store.ok());
  ASSERT_OK_AND_ASSIGN(store::OutputLog log,
                       (*store)->ReadOutputLog(SplitKey{Split::kTraining, ""}, 0));
  EXPECT_EQ(log.info.rows, static_cast<int64_t>(accepted) * kBatch)
      << "every accepted batch is written";
  for (int64_t i = 0; i < log.info.rows; ++i)
    ASSERT_EQ(log.embeddings[i * kDim], EmbValue(0, static_cast<int>(i), 0));
}

TEST_F(DiskFullTest, AFinishThatRunsOutOfSpaceKeepsThePreviousResults) {
  auto client = Attach(root_);
  ASSERT_TRUE(client);
  ASSERT_OK(client->SetLabelsForRun(kLabels));
  ASSERT_OK(
      client->LogDataSamples(TrainingSamples(0, 10 * kBatch), SplitKey{Split::kTraining, ""}));
  ASSERT_OK(client->SetSplit(Split::kTraining));
  for (int k = 0; k < 10; ++k) {
    const LoggedBatch b = MakeLoggedBatch(k);
    ASSERT_OK(client->LogModelOutputs(b.View(), std::nullopt, b.epoch));
  }
  ASSERT_TRUE(client->Finish().ok());
  client.reset();
  auto before = RunReader::Open(root_, "p", "r");
  ASSERT_TRUE(before.ok());
  ASSERT_OK_AND_ASSIGN(std::string summary_before, (*before)->SummaryJson());
  before->reset();

  Fill(16 << 10);
  auto failed = FinishRun(root_, "p", "r");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kIOError) << failed.status().ToString();
  // (A reader opening while the disk is full may fail too: SQLite needs room for its
  // shared-memory file. What matters is what the failed finish left behind.)
  Free();
  auto during = RunReader::Open(root_, "p", "r");
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_TRUE((*during)->info().finished);
  ASSERT_OK_AND_ASSIGN(std::string summary_during, (*during)->SummaryJson());
  EXPECT_EQ(summary_during, summary_before);
  SampleQuery all;
  all.split = SplitKey{Split::kTraining, ""};
  ASSERT_OK_AND_ASSIGN(auto rows, (*during)->Samples(all));
  EXPECT_EQ(rows.size(), static_cast<size_t>(10 * kBatch));
  EXPECT_TRUE(FinishRun(root_, "p", "r").ok());
}

TEST_F(DiskFullTest, ARunCreatedOnAFullDiskFailsCleanlyAndHidesNoOtherRun) {
  {
    auto client = Attach(root_);
    ASSERT_TRUE(client);
    ASSERT_OK(client->SetLabelsForRun(kLabels));
  }
  Fill(0);
  auto failed = Client::Init({.root = root_, .project = "p", .run = "full"});
  if (failed.ok()) {
    // SQLite may fit the new database in space the file system still had; it must be whole.
    EXPECT_OK((*failed)->SetLabelsForRun(kLabels));
  } else {
    EXPECT_EQ(failed.status().code(), StatusCode::kIOError) << failed.status().ToString();
  }
  failed = Status::Invalid("released");
  auto runs = ListRuns(root_);
  ASSERT_TRUE(runs.ok()) << "a failed creation must not break the listing: "
                         << runs.status().ToString();
  bool listed_r = false;
  for (const RunInfo& r : *runs) listed_r |= r.run == "r";
  EXPECT_TRUE(listed_r);
  Free();
  auto again = Client::Init({.root = root_, .project = "p", .run = "full"});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_OK((*again)->SetLabelsForRun(kLabels));
}

}  // namespace
}  // namespace sextant::fault
