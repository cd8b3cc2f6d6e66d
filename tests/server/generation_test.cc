// The server reads the committed results generation only (docs/format.md,
// "Readers"): a finish in progress or one that failed never reaches its
// clients, and a committed one is served from the next request on.
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "failed_commit.h"
#include "server/api.h"
#include "sextant/client.h"
#include "small_run.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sextant::testing::TempDir;

const SplitKey kTraining = SplitKey::Make(Split::kTraining, "").value();

ApiResponse Get(const Api& api, std::vector<std::string> path, Params params = {}) {
  return api.Handle({"GET", std::move(path), std::move(params), ""});
}

// The endpoints that read the results arrays and rows.
std::string ReadThrough(const Api& api) {
  std::string errors;
  for (auto r : {Get(api, {"runs", "p", "r", "samples", "training", "t3"}),
                 Get(api, {"runs", "p", "r", "samples"}, {{"split", "training"}}),
                 Get(api, {"runs", "p", "r", "similar"}, {{"split", "training"}, {"id", "t1"}}),
                 Get(api, {"runs", "p", "r", "summary"})}) {
    if (r.status != 200) errors += std::to_string(r.status) + " " + r.body + "\n";
  }
  return errors;
}

TEST(ServerGenerations, AFinishThatFailsMidWriteLeavesThePreviousGenerationServed) {
  TempDir root;
  LogAndFinishSmallRun(root.path(), 20);
  Api api(root.path());
  ASSERT_EQ(ReadThrough(api), "");
  const std::string before = Get(api, {"runs", "p", "r", "samples", "training", "t3"}).body;
  ASSERT_FALSE(::sextant::testing::CommitThatFailsMidWrite(root.path() / "p" / "r", 20).ok());
  ASSERT_TRUE(fs::exists(root.path() / "p" / "r" / "results" / "gen-2"));  // the newest folder
  EXPECT_EQ(ReadThrough(api), "");
  EXPECT_EQ(Get(api, {"runs", "p", "r", "samples", "training", "t3"}).body, before);
  // A fresh server (cache empty) serves the committed generation too.
  Api fresh(root.path());
  EXPECT_EQ(ReadThrough(fresh), "");
  // A committed finish is served from the next request on.
  ASSERT_OK(FinishRun(root.path(), "p", "r", SmallRunOptions()).status());
  ASSERT_OK_AND_ASSIGN(auto state, api.Run("p", "r"));
  EXPECT_EQ(state->generation(), 2);
  EXPECT_EQ(ReadThrough(api), "");
}

TEST(ServerGenerations, PollingDuringFinishesNeverErrors) {
  TempDir root;
  LogAndFinishSmallRun(root.path(), 20);
  Api api(root.path());
  std::atomic<bool> done{false};
  Status finish_status;
  std::thread finisher([&] {
    for (int i = 0; i < 4 && finish_status.ok(); ++i) {
      finish_status = FinishRun(root.path(), "p", "r", SmallRunOptions()).status();
    }
    done = true;
  });
  int polls = 0;
  std::string errors;
  // Bounded: ends with the finishes (one more poll after the last).
  for (bool last = false; !last;) {
    last = done.load();
    errors += ReadThrough(api);
    ++polls;
  }
  finisher.join();
  ASSERT_OK(finish_status);
  EXPECT_EQ(errors, "");
  EXPECT_GE(polls, 1);
  ASSERT_OK_AND_ASSIGN(auto state, api.Run("p", "r"));
  EXPECT_EQ(state->generation(), 5);
}

TEST(ServerGenerations, RunsListsADamagedRunNextToSoundOnes) {
  TempDir root;
  LogAndFinishSmallRun(root.path(), 20);
  fs::create_directories(root.path() / "p" / "broken");
  ASSERT_OK(
      store::Database::Open(root.path() / "p" / "broken" / store::kDatabaseFile, true).status());
  Api api(root.path());
  ApiResponse r = Get(api, {"runs"});
  ASSERT_EQ(r.status, 200) << r.body;
  const json runs = json::parse(r.body)["runs"];
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["run"], "broken");
  EXPECT_EQ(runs[0]["status"], "damaged");
  EXPECT_NE(runs[0]["error"].get<std::string>().find("meta"), std::string::npos);
  EXPECT_EQ(runs[1]["status"], "ok");
  EXPECT_TRUE(runs[1]["error"].is_null());
  // The damaged run's own endpoints name the damage; the sound run is served.
  r = Get(api, {"runs", "p", "broken", "summary"});
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("damaged"), std::string::npos) << r.body;
  EXPECT_EQ(ReadThrough(api), "");
}

// A gold label index past the label list (a stray write) gives an error
// naming the column, not a crash.
TEST(ServerGenerations, AGoldLabelPastTheListIsNamed) {
  TempDir root;
  LogAndFinishSmallRun(root.path(), 20);
  {
    ASSERT_OK_AND_ASSIGN(
        auto db, store::Database::Open(root.path() / "p" / "r" / store::kDatabaseFile, false));
    ASSERT_OK(db->Exec("UPDATE samples SET label=12 WHERE row=3"));
  }
  Api api(root.path());
  ApiResponse r = Get(api, {"runs", "p", "r", "samples"}, {{"split", "training"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("label index 12"), std::string::npos) << r.body;
}

// A stored summary that parses but has an unexpected shape: a 500 naming it, never a crash.
TEST(ServerGenerations, ASummaryOfAnUnexpectedShapeIsAnError) {
  TempDir root;
  LogAndFinishSmallRun(root.path(), 20);
  {
    ASSERT_OK_AND_ASSIGN(
        auto db, store::Database::Open(root.path() / "p" / "r" / store::kDatabaseFile, false));
    ASSERT_OK(db->Exec("UPDATE summaries SET json='{\"splits\": 3, \"parameters\": []}'"));
  }
  Api api(root.path());
  for (const char* what : {"summary", "insights"}) {
    ApiResponse r = Get(api, {"runs", "p", "r", what}, {{"split", "training"}});
    EXPECT_TRUE(r.status == 200 || r.status == 500) << what << ": " << r.body;
    EXPECT_NO_THROW(json::parse(r.body)) << r.body;
  }
}

}  // namespace
}  // namespace sextant::server
