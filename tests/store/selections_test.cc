#include "store/selections.h"

#include "store/run_store.h"
#include "testing.h"

namespace sextant::store {
namespace {

using sextant::testing::TempDir;

std::unique_ptr<RunStore> NewRun(const std::filesystem::path& dir) {
  auto s = RunStore::Open(dir, RunStore::Mode::kWrite, TaskType::kTextClassification);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

TEST(SelectionStore, CreateAddRemoveListDelete) {
  TempDir tmp;
  auto run = NewRun(tmp.path() / "run");
  ASSERT_OK_AND_ASSIGN(auto sel, SelectionStore::Open(tmp.path() / "run"));
  ASSERT_OK(sel->Create("hard cases"));
  EXPECT_EQ(sel->Create("hard cases").code(), StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(
      int64_t n,
      sel->Add("hard cases", {{"training", "a"}, {"training", "b"}, {"inference:prod", "a"}}));
  EXPECT_EQ(n, 3);
  ASSERT_OK_AND_ASSIGN(n, sel->Add("hard cases", {{"training", "a"}}));  // duplicate ignored
  EXPECT_EQ(n, 3);
  ASSERT_OK_AND_ASSIGN(n, sel->Remove("hard cases", {{"training", "b"}, {"training", "zzz"}}));
  EXPECT_EQ(n, 2);
  ASSERT_OK_AND_ASSIGN(auto items, sel->Items("hard cases"));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0], (SelectionItem{"training", "a"}));
  EXPECT_EQ(items[1], (SelectionItem{"inference:prod", "a"}));
  ASSERT_OK_AND_ASSIGN(auto list, sel->List());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "hard cases");
  EXPECT_EQ(list[0].count, 2);
  EXPECT_GT(list[0].created_at, 0);
  ASSERT_OK(sel->Delete("hard cases"));
  EXPECT_TRUE(sel->Items("hard cases").status().IsNotFound());
  EXPECT_TRUE(sel->Add("hard cases", {{"training", "a"}}).status().IsNotFound());
  EXPECT_TRUE(sel->Delete("hard cases").IsNotFound());
}

TEST(SelectionStore, PersistsAcrossOpens) {
  TempDir tmp;
  auto run = NewRun(tmp.path() / "run");
  {
    ASSERT_OK_AND_ASSIGN(auto sel, SelectionStore::Open(tmp.path() / "run"));
    ASSERT_OK(sel->Create("s"));
    ASSERT_OK(sel->Add("s", {{"test", "x"}}).status());
  }
  ASSERT_OK_AND_ASSIGN(auto sel, SelectionStore::Open(tmp.path() / "run"));
  ASSERT_OK_AND_ASSIGN(auto items, sel->Items("s"));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].id, "x");
}

TEST(SelectionStore, MigratesARunWithoutTheTables) {
  TempDir tmp;
  auto run = NewRun(tmp.path() / "run");
  ASSERT_OK(run->db().Exec("DROP TABLE selection_items; DROP TABLE selections;"));
  ASSERT_OK_AND_ASSIGN(auto sel, SelectionStore::Open(tmp.path() / "run"));
  ASSERT_OK(sel->Create("after migration"));
  ASSERT_OK_AND_ASSIGN(auto list, sel->List());
  EXPECT_EQ(list.size(), 1u);
}

TEST(SelectionStore, RejectsBadNamesAndMissingRuns) {
  TempDir tmp;
  auto run = NewRun(tmp.path() / "run");
  ASSERT_OK_AND_ASSIGN(auto sel, SelectionStore::Open(tmp.path() / "run"));
  EXPECT_TRUE(sel->Create("").IsInvalid());
  EXPECT_TRUE(sel->Create("a/b").IsInvalid());
  EXPECT_TRUE(sel->Create(std::string(129, 'x')).IsInvalid());
  EXPECT_TRUE(SelectionStore::Open(tmp.path() / "nope").status().IsNotFound());
}

}  // namespace
}  // namespace sextant::store
