// The sample-id index behind log_model_outputs: every id finds the row it was
// inserted as, in single and batched lookups, through growth and through hash
// collisions (forced with a degenerate hash).
#include "client/sample_id_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sextant::client {
namespace {

std::vector<std::string> Ids(int n, const std::string& prefix = "id-") {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

// Half the ids present (in an order unlike insertion), half absent.
void ExpectBatchMatchesSingle(const SampleIdIndex& index, int n) {
  std::vector<std::string> queries;
  for (int i = n - 1; i >= 0; i -= 3) queries.push_back("id-" + std::to_string(i));
  for (int i = 0; i < n; i += 5) queries.push_back("missing-" + std::to_string(i));
  queries.push_back("");
  std::vector<int64_t> rows(queries.size(), 123);
  index.FindBatch(queries.data(), queries.size(), rows.data());
  for (size_t q = 0; q < queries.size(); ++q) {
    EXPECT_EQ(rows[q], index.Find(queries[q])) << queries[q];
  }
}

TEST(SampleIdIndexTest, RowsAreInsertionOrderThroughGrowth) {
  SampleIdIndex index;
  const auto ids = Ids(10000);
  for (const auto& id : ids) ASSERT_TRUE(index.Insert(id));
  ASSERT_EQ(index.size(), 10000);
  for (int i = 0; i < 10000; ++i) {
    EXPECT_EQ(index.Find(ids[i]), i);
    EXPECT_EQ(index.id(i), ids[i]);
  }
  EXPECT_EQ(index.Find("id-10000"), -1);
  EXPECT_EQ(index.Find("id-"), -1);
  EXPECT_FALSE(index.Contains(""));
  ExpectBatchMatchesSingle(index, 10000);
}

TEST(SampleIdIndexTest, DuplicateInsertAddsNothing) {
  SampleIdIndex index;
  ASSERT_TRUE(index.Insert("a"));
  ASSERT_TRUE(index.Insert("b"));
  EXPECT_FALSE(index.Insert("a"));
  EXPECT_EQ(index.size(), 2);
  EXPECT_EQ(index.Find("b"), 1);
}

TEST(SampleIdIndexTest, IdsThatArePrefixesOfEachOtherAreDistinct) {
  SampleIdIndex index;
  for (const char* id : {"1", "12", "123", "2", "23"}) ASSERT_TRUE(index.Insert(id));
  EXPECT_EQ(index.Find("12"), 1);
  EXPECT_EQ(index.Find("123"), 2);
  EXPECT_EQ(index.Find("1234"), -1);
}

TEST(SampleIdIndexTest, CollidingHashesStillFindTheRightRow) {
  // Every id hashes alike: each lookup probes past the others and compares ids.
  SampleIdIndex index([](std::string_view) -> uint64_t { return 7; });
  const auto ids = Ids(300);
  for (const auto& id : ids) ASSERT_TRUE(index.Insert(id));
  EXPECT_FALSE(index.Insert("id-17"));
  for (int i = 0; i < 300; ++i) EXPECT_EQ(index.Find(ids[i]), i);
  ExpectBatchMatchesSingle(index, 300);
}

TEST(SampleIdIndexTest, ReserveThenInsertKeepsRows) {
  SampleIdIndex index;
  const auto ids = Ids(1000);
  index.Reserve(ids.size(), 10 * ids.size());
  for (const auto& id : ids) ASSERT_TRUE(index.Insert(id));
  ExpectBatchMatchesSingle(index, 1000);
}

}  // namespace
}  // namespace sextant::client
