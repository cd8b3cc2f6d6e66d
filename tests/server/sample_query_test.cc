#include "server/sample_query.h"

#include <limits>

#include "common/request_budget.h"
#include "table_fixture.h"
#include "testing.h"

namespace sextant::server {
namespace {

using testing::kLabels;
using testing::MakeTable;

std::vector<uint32_t> Rows(const SampleTable& t, const Params& params) {
  auto req = ParseSampleParams(params, kLabels);
  EXPECT_TRUE(req.ok()) << req.status().ToString();
  if (!req.ok()) return {};
  auto page = RunSampleQuery(t, *req);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  return page.ok() ? page->rows : std::vector<uint32_t>{};
}

TEST(SampleQuery, DefaultsPageInRowOrder) {
  auto t = MakeTable(120, true);
  ASSERT_OK_AND_ASSIGN(SampleRequest req, ParseSampleParams({}, kLabels));
  ASSERT_OK_AND_ASSIGN(SamplePage page, RunSampleQuery(*t, req));
  EXPECT_EQ(page.total, 120);
  ASSERT_EQ(page.rows.size(), 50u);
  EXPECT_EQ(page.rows.front(), 0u);
  EXPECT_EQ(page.rows.back(), 49u);
}

TEST(SampleQuery, FiltersCombineWithAnd) {
  auto t = MakeTable(40, true);
  // gold pos (odd rows), pred pos ((r/2)%2 == 1: rows 2,3,6,7,...): 3, 7, 11, ...
  auto rows = Rows(*t, {{"gold", "pos"}, {"pred", "pos"}, {"limit", "1000"}});
  ASSERT_EQ(rows.size(), 10u);
  for (uint32_t r : rows) EXPECT_EQ(r % 4, 3u);
  rows = Rows(*t, {{"misclassified", "true"}, {"limit", "1000"}});
  for (uint32_t r : rows) EXPECT_NE(t->gold[r], t->pred[r]);
  EXPECT_EQ(rows.size(), 20u);
  rows = Rows(*t, {{"min_confidence", "0.605"}, {"max_confidence", "0.705"}});
  for (uint32_t r : rows) {
    EXPECT_GE(t->confidence[r], 0.605);
    EXPECT_LE(t->confidence[r], 0.705);
  }
  EXPECT_EQ(rows.size(), 8u);  // confidence = 0.5 + r/80: r in 9..16
  rows = Rows(*t, {{"min_dep", "0.5"}});
  EXPECT_EQ(rows.size(), 20u);
  rows = Rows(*t, {{"on_boundary", "true"}});
  EXPECT_EQ(rows.size(), 10u);
  rows = Rows(*t, {{"text", "GREAT"}, {"limit", "1000"}});  // case-insensitive
  EXPECT_EQ(rows.size(), 20u);
  rows = Rows(*t, {{"meta.source", "b"}});
  EXPECT_EQ(rows.size(), 20u);
  EXPECT_EQ(rows.front(), 20u);
  rows = Rows(*t, {{"ids", "s3,s5"}, {"ids", "s7"}, {"ids", "unknown"}});
  EXPECT_EQ(rows, (std::vector<uint32_t>{3, 5, 7}));
  EXPECT_EQ(Rows(*t, {{"ids", ""}}).size(), 40u);  // an empty list is no filter
  rows = Rows(*t, {{"pred", "neg,pos"}, {"limit", "1000"}});
  EXPECT_EQ(rows.size(), 40u);
}

TEST(SampleQuery, DriftedMatchesOnlySamplesWithTheField) {
  auto train = MakeTable(30, true);
  EXPECT_TRUE(Rows(*train, {{"drifted", "true"}}).empty());
  EXPECT_TRUE(Rows(*train, {{"drifted", "false"}}).empty());
  auto prod = MakeTable(30, false);
  EXPECT_EQ(Rows(*prod, {{"drifted", "true"}}).size(), 10u);
  EXPECT_EQ(Rows(*prod, {{"drifted", "false"}}).size(), 20u);
  EXPECT_TRUE(Rows(*prod, {{"misclassified", "true"}}).empty());
  EXPECT_TRUE(Rows(*prod, {{"min_dep", "0"}}).empty());
}

TEST(SampleQuery, ShiftFiltersAndSortMatchOnlySamplesWithTheField) {
  auto train = MakeTable(30, true);
  EXPECT_TRUE(Rows(*train, {{"shifted", "true"}}).empty());
  EXPECT_TRUE(Rows(*train, {{"shifted", "false"}}).empty());
  EXPECT_TRUE(Rows(*train, {{"min_shift", "0"}}).empty());
  auto prod = MakeTable(30, false);  // shift score r/30; shifted from row 24
  EXPECT_EQ(Rows(*prod, {{"shifted", "true"}}), (std::vector<uint32_t>{24, 25, 26, 27, 28, 29}));
  EXPECT_EQ(Rows(*prod, {{"shifted", "false"}}).size(), 24u);
  EXPECT_EQ(Rows(*prod, {{"min_shift", "0.5"}, {"max_shift", "0.6"}}),
            (std::vector<uint32_t>{15, 16, 17, 18}));
  EXPECT_EQ(Rows(*prod, {{"sort", "shift_score"}, {"order", "desc"}, {"limit", "3"}}),
            (std::vector<uint32_t>{29, 28, 27}));
  EXPECT_EQ(Rows(*prod, {{"sort", "is_shifted"}, {"order", "desc"}, {"limit", "2"}}),
            (std::vector<uint32_t>{24, 25}));
  // The JSON body takes the same names, as booleans and numbers or as strings.
  ASSERT_OK_AND_ASSIGN(
      SampleRequest req,
      ParseSampleJson(nlohmann::json{{"shifted", true}, {"min_shift", "0.88"}}, kLabels));
  ASSERT_OK_AND_ASSIGN(SamplePage page, RunSampleQuery(*prod, req));
  EXPECT_EQ(page.rows, (std::vector<uint32_t>{27, 28, 29}));
  EXPECT_FALSE(req.filter.empty());
  EXPECT_STATUS(ParseSampleParams({{"min_shift", "high"}}, kLabels).status(), kInvalidArgument,
                "min_shift");
  EXPECT_STATUS(ParseSampleParams({{"shifted", "maybe"}}, kLabels).status(), kInvalidArgument,
                "shifted");
}

TEST(SampleQuery, SortsWithTiesByRowAndNullsLikeSqlite) {
  auto t = MakeTable(20, true);
  auto rows = Rows(*t, {{"sort", "confidence"}, {"order", "desc"}, {"limit", "3"}});
  EXPECT_EQ(rows, (std::vector<uint32_t>{19, 18, 17}));
  rows = Rows(*t, {{"sort", "pred"}, {"limit", "4"}});  // ties by row
  EXPECT_EQ(rows, (std::vector<uint32_t>{0, 1, 4, 5}));
  rows = Rows(*t, {{"sort", "pred"}, {"order", "desc"}, {"limit", "4"}});
  EXPECT_EQ(rows, (std::vector<uint32_t>{2, 3, 6, 7}));
  auto prod = MakeTable(6, false);
  // dep is NULL everywhere: the order is by row both ways.
  EXPECT_EQ(Rows(*prod, {{"sort", "dep"}, {"order", "desc"}}),
            (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  rows = Rows(*t, {{"sort", "id"}, {"limit", "3"}});
  EXPECT_EQ(rows, (std::vector<uint32_t>{0, 1, 10}));  // "s0" < "s1" < "s10"
}

TEST(SampleQuery, TextSearchesAreKeptForPaging) {
  auto t = MakeTable(30, true);
  ASSERT_OK_AND_ASSIGN(auto first, t->TextMatches("dull"));
  ASSERT_OK_AND_ASSIGN(auto again, t->TextMatches("dull"));
  EXPECT_EQ(first.get(), again.get());
  EXPECT_EQ(std::count(first->begin(), first->end(), 1), 15);
  for (int i = 0; i < 10; ++i) ASSERT_OK(t->TextMatches("x" + std::to_string(i)).status());
  ASSERT_OK_AND_ASSIGN(auto evicted, t->TextMatches("dull"));
  EXPECT_NE(first.get(), evicted.get());
  EXPECT_EQ(*first, *evicted);
  EXPECT_TRUE(t->TextMatches("(").status().IsInvalid());
}

// std::regex crashed (stack overflow) on `.*zzz` over a 50,000-character text,
// and backtracked exponentially on nested quantifiers.
TEST(SampleQuery, PathologicalTextSearchesAnswerCorrectly) {
  auto t = MakeTable(4, true);
  t->text[0] = "hello, world";
  t->text[1] = std::string(50000, 'x');
  t->text[2] = std::string(50000, 'x') + "ZZZ";
  t->text[3] = std::string(3000, 'a') + "b";
  EXPECT_EQ(Rows(*t, {{"text", ".*zzz"}}), (std::vector<uint32_t>{2}));
  EXPECT_EQ(Rows(*t, {{"text", "(a+)+$"}}), (std::vector<uint32_t>{}));
  EXPECT_EQ(Rows(*t, {{"text", "^(a+)+b$"}}), (std::vector<uint32_t>{3}));
  EXPECT_EQ(Rows(*t, {{"text", "^(\\w+\\s?)*$"}}), (std::vector<uint32_t>{1, 2, 3}));
}

TEST(SampleQuery, TextSearchStopsAtTheRequestBudget) {
  auto t = MakeTable(1000, true);
  RequestBudget budget;
  budget.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  budget.budget_s = 10;
  {
    ScopedRequestBudget scope(budget);
    EXPECT_STATUS(t->TextMatches("great").status(), kInvalidArgument,
                  "the text search exceeded its time budget of 10 s");
  }
  RequestBudget gone;
  gone.client_gone = [] { return true; };
  {
    ScopedRequestBudget scope(gone);
    EXPECT_FALSE(t->TextMatches("great").ok());  // its client has left: stop
  }
  // Nothing was cached: without the budget the search runs and answers.
  ASSERT_OK_AND_ASSIGN(auto matches, t->TextMatches("great"));
  EXPECT_EQ(std::count(matches->begin(), matches->end(), 1), 500);
}

TEST(SampleQuery, OffsetAndTotalWithAFilter) {
  auto t = MakeTable(100, true);
  ASSERT_OK_AND_ASSIGN(
      SampleRequest req,
      ParseSampleParams({{"gold", "neg"}, {"offset", "10"}, {"limit", "5"}}, kLabels));
  ASSERT_OK_AND_ASSIGN(SamplePage page, RunSampleQuery(*t, req));
  EXPECT_EQ(page.total, 50);
  EXPECT_EQ(page.rows, (std::vector<uint32_t>{20, 22, 24, 26, 28}));
}

TEST(SampleQuery, PolygonLassoFromJson) {
  auto t = MakeTable(20, true);  // points (r, r % 5)
  auto body =
      nlohmann::json::parse(R"({"polygon": [[-0.5, -0.5], [5.5, -0.5], [5.5, 2.5], [-0.5, 2.5]],
                                        "limit": 100})");
  ASSERT_OK_AND_ASSIGN(SampleRequest req, ParseSampleJson(body, kLabels));
  ASSERT_OK_AND_ASSIGN(SamplePage page, RunSampleQuery(*t, req));
  // x in [0, 5] and y = x % 5 <= 2: rows 0, 1, 2, 5.
  EXPECT_EQ(page.rows, (std::vector<uint32_t>{0, 1, 2, 5}));
}

TEST(SampleQuery, PointInPolygonHandlesConcaveShapes) {
  // A "U": the notch between x 1..2 above y 1 is outside.
  std::vector<std::pair<double, double>> u = {{0, 0}, {3, 0}, {3, 3}, {2, 3},
                                              {2, 1}, {1, 1}, {1, 3}, {0, 3}};
  EXPECT_TRUE(PointInPolygon(0.5, 2, u));
  EXPECT_TRUE(PointInPolygon(2.5, 2, u));
  EXPECT_FALSE(PointInPolygon(1.5, 2, u));
  EXPECT_TRUE(PointInPolygon(1.5, 0.5, u));
  EXPECT_FALSE(PointInPolygon(4, 1, u));
}

// Issue 16, point 9: NER sentences filtered by entity type (predicted or gold) and sorted
// by their span errors and weakest span.
TEST(SampleQuery, EntityTypeFilterAndSentenceSorts) {
  auto t = MakeTable(12, true);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  t->entity_types = {"PER", "LOC", "ORG"};
  for (int r = 0; r < 12; ++r) {
    // Row r has PER when r % 2 == 0, LOC when r % 3 == 0; none has ORG.
    t->entity_mask.push_back((r % 2 == 0 ? t->EntityBit("PER") : 0) |
                             (r % 3 == 0 ? t->EntityBit("LOC") : 0));
    t->span_errors.push_back(r % 4);
    t->pred_spans_count.push_back(r % 2);
    t->min_span_confidence.push_back(r % 2 ? 1.0 - r / 12.0 : nan);
  }
  auto rows = Rows(*t, {{"entity_type", "LOC"}, {"limit", "100"}});
  EXPECT_EQ(rows, (std::vector<uint32_t>{0, 3, 6, 9}));
  rows = Rows(*t, {{"entity_type", "LOC,PER"}, {"limit", "100"}});
  EXPECT_EQ(rows, (std::vector<uint32_t>{0, 2, 3, 4, 6, 8, 9, 10}));
  ASSERT_OK_AND_ASSIGN(SampleRequest body,
                       ParseSampleJson(nlohmann::json{{"entity_type", {"PER"}}}, kLabels));
  ASSERT_OK_AND_ASSIGN(SamplePage page, RunSampleQuery(*t, body));
  EXPECT_EQ(page.total, 6);
  ASSERT_OK_AND_ASSIGN(SampleRequest org, ParseSampleParams({{"entity_type", "ORG"}}, kLabels));
  ASSERT_OK_AND_ASSIGN(page, RunSampleQuery(*t, org));
  EXPECT_EQ(page.total, 0);
  ASSERT_OK_AND_ASSIGN(SampleRequest misc, ParseSampleParams({{"entity_type", "MISC"}}, kLabels));
  auto bad = RunSampleQuery(*t, misc);
  EXPECT_TRUE(bad.status().IsInvalid());
  EXPECT_NE(bad.status().message().find("entity_type: 'MISC'"), std::string::npos);
  // A run without entity types (text classification): 400 naming the field.
  auto plain = MakeTable(4, true);
  auto not_ner = RunSampleQuery(*plain, org);
  EXPECT_TRUE(not_ner.status().IsInvalid());
  EXPECT_NE(not_ner.status().message().find("entity_type"), std::string::npos);

  rows = Rows(*t, {{"sort", "span_errors"}, {"order", "desc"}, {"limit", "4"}});
  EXPECT_EQ(rows, (std::vector<uint32_t>{3, 7, 11, 2}));
  rows = Rows(*t, {{"sort", "min_span_confidence"}, {"limit", "100"}});
  ASSERT_EQ(rows.size(), 12u);
  EXPECT_EQ(rows[6], 11u);  // six NaNs first (as SQLite's NULLs), then the lowest: row 11
  // A table without the columns (shorter vectors) sorts as all null.
  EXPECT_EQ(Rows(*plain, {{"sort", "span_errors"}}).size(), 4u);
}

TEST(SampleQuery, RejectsBadInputNamingTheField) {
  auto expect_invalid = [](const Params& p, const std::string& field) {
    auto r = ParseSampleParams(p, kLabels);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.status().IsInvalid());
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  };
  expect_invalid({{"gold", "maybe"}}, "gold");
  expect_invalid({{"pred", "neg,maybe"}}, "maybe");
  expect_invalid({{"min_confidence", "high"}}, "min_confidence");
  expect_invalid({{"limit", "1001"}}, "limit");
  expect_invalid({{"limit", "ten"}}, "limit");
  expect_invalid({{"offset", "-1"}}, "offset");
  expect_invalid({{"sort", "colour"}}, "sort");
  expect_invalid({{"order", "up"}}, "order");
  expect_invalid({{"drifted", "yes"}}, "drifted");
  expect_invalid({{"text", "(unclosed"}}, "text");
  expect_invalid({{"text", "(a)\\1"}}, "text");  // backreferences: not RE2
  expect_invalid({{"premise", "x(?!y)"}}, "premise");
  auto r = ParseSampleJson(nlohmann::json::parse(R"({"polygon": [[0, 0], [1, 1]]})"), kLabels);
  EXPECT_TRUE(r.status().IsInvalid());
  r = ParseSampleJson(nlohmann::json::parse(R"({"colour": "red"})"), kLabels);
  EXPECT_TRUE(r.status().IsInvalid());
}

}  // namespace
}  // namespace sextant::server
