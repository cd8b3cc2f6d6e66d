#include "index/search_cost.h"

#include <fstream>
#include <string>

#include "common/file_util.h"
#include "testing.h"

namespace sextant::index {
namespace {

using sextant::testing::TempDir;

// Fixed rates, those measured on the shared 2-core build machine for the
// grid of docs/benchmarks.md (rounded): never measured in a test.
SearchCostConstants Fixed() {
  SearchCostConstants c;
  c.flat_macs = 2.4e10;
  c.flat_select = 3.8e7;
  c.ivf_macs = 1.6e10;
  c.ivf_select = 9e7;
  c.build_macs = 2.1e10;
  c.build_select = 1.2e8;
  c.source = "given";
  return c;
}

ConstantsFn Given(int* calls = nullptr) {
  return [calls]() -> Result<SearchCostConstants> {
    if (calls != nullptr) ++*calls;
    return Fixed();
  };
}

SearchChoice Auto(int64_t rows, int64_t dim, int64_t queries, int* calls = nullptr) {
  return ChooseSearch(NnSearch::kAuto, rows, dim, queries, 0, Given(calls));
}

// The documented rule: approximate iff predicted approximate * margin <= predicted exact.
bool Documented(int64_t rows, int64_t dim, int64_t queries) {
  const SearchCostPrediction p = PredictSearchCost(Fixed(), rows, dim, queries);
  return p.approximate_s * kApproximateMargin <= p.exact_s;
}

TEST(SearchCost, SmallReferencesStayExactWithoutConstants) {
  int calls = 0;
  const SearchChoice c = Auto(10000, 768, 1000, &calls);
  EXPECT_FALSE(c.approximate);
  EXPECT_EQ(c.reason, "small");
  EXPECT_EQ(calls, 0);  // nothing measured, nothing read
  EXPECT_FALSE(Auto(kMinApproximateRows - 1, 32, 10000000, &calls).approximate);
  EXPECT_FALSE(Auto(100000, 32, 199, &calls).approximate);  // 2e7 pairs less 100,000
  EXPECT_EQ(calls, 0);
  // 10,000 rows with 100,000 queries are 1e9 pairs: the model decides.
  const SearchChoice many = Auto(10000, 32, 100000, &calls);
  EXPECT_EQ(many.reason, "cost_model");
  EXPECT_EQ(calls, 1);
}

TEST(SearchCost, GridCornersFollowTheModel) {
  // 1M rows of width 32, 100k queries: the exact search is 1e11 heap tests.
  SearchChoice c = Auto(1000000, 32, 100000);
  EXPECT_TRUE(c.approximate);
  EXPECT_EQ(c.reason, "cost_model");
  ASSERT_TRUE(c.prediction.has_value());
  EXPECT_GT(c.prediction->exact_s, 10 * c.prediction->approximate_s);

  // 1M rows of width 768, 1k queries: assigning every row to its cell costs
  // most of the exact search of the queries; with these rates the build and
  // the tuning leave the approximate path within the margin: exact. (Where the
  // IVF scan is relatively faster, as on the grid's machine at the grid's
  // hour, the same cell goes approximate: the choice is the machine's.)
  c = Auto(1000000, 768, 1000);
  EXPECT_FALSE(c.approximate);
  EXPECT_EQ(c.reason, "cost_model");
  EXPECT_EQ(c.prediction->nlist, 1000);
  EXPECT_GT(c.prediction->build_s, c.prediction->exact_s / 2);
  EXPECT_GT(c.prediction->approximate_s * kApproximateMargin, c.prediction->exact_s);

  // 1M x 768 with 100k queries, and 100k x 768 with 100k: approximate.
  EXPECT_TRUE(Auto(1000000, 768, 100000).approximate);
  EXPECT_TRUE(Auto(100000, 768, 100000).approximate);
  // 100k rows, 1k queries: the build does not pay for itself.
  EXPECT_FALSE(Auto(100000, 768, 1000).approximate);
  // 100k x 32 with 1k queries (1e8 pairs) and 10k x 768 with 3k (the grid's
  // small cells with their reference sample) are the model's to decide too.
  EXPECT_EQ(Auto(100000, 32, 1000).reason, "cost_model");
  EXPECT_EQ(Auto(10000, 768, 3000).reason, "cost_model");

  for (int64_t rows : {10000, 100000, 1000000}) {
    for (int64_t dim : {32, 128, 768}) {
      for (int64_t queries : {1000, 100000}) {
        if (static_cast<double>(rows) * queries < kMinApproximatePairs) continue;
        EXPECT_EQ(Auto(rows, dim, queries).approximate, Documented(rows, dim, queries))
            << rows << " x " << dim << ", " << queries << " queries";
      }
    }
  }
}

TEST(SearchCost, PredictionGrowsWithTheWork) {
  const SearchCostConstants c = Fixed();
  const SearchCostPrediction a = PredictSearchCost(c, 100000, 128, 1000);
  const SearchCostPrediction b = PredictSearchCost(c, 100000, 128, 100000);
  EXPECT_NEAR(b.exact_s, 100 * a.exact_s, 1e-9 * b.exact_s);
  EXPECT_EQ(a.build_s, b.build_s);  // building does not depend on the queries
  EXPECT_GT(b.search_s, a.search_s);
  EXPECT_EQ(PredictSearchCost(c, 100000, 128, 0).exact_s, 0);
  EXPECT_EQ(ExpectedNprobe(1), 1);
  EXPECT_EQ(ExpectedNprobe(316), 8);
  EXPECT_EQ(ExpectedNprobe(1000), 15);
}

TEST(SearchCost, RevisedToExactWhenTheTuningVisitsMostCells) {
  // A machine whose IVF scan costs twice the flat search per (query, row).
  SearchCostConstants slow_scan = Fixed();
  slow_scan.ivf_macs = slow_scan.flat_macs / 2;
  slow_scan.ivf_select = slow_scan.flat_select / 2;
  SearchChoice c = ChooseSearch(NnSearch::kAuto, 1000000, 32, 100000, 0,
                                [&]() -> Result<SearchCostConstants> { return slow_scan; });
  ASSERT_TRUE(c.approximate);
  EXPECT_FALSE(ReviseAfterTuning(&c, 1000, 6));  // as tuned on clustered data
  EXPECT_TRUE(c.approximate);
  EXPECT_EQ(c.tuned_nprobe, 6);
  EXPECT_LT(c.remaining_approximate_s, c.remaining_exact_s);
  EXPECT_TRUE(ReviseAfterTuning(&c, 1000, 1000));  // every cell: a slower exact search
  EXPECT_FALSE(c.approximate);
  EXPECT_EQ(c.reason, "cost_model_revised");
  EXPECT_EQ(SearchChoiceJson(c)["tuned_nprobe"], 1000);
  EXPECT_EQ(SearchChoiceJson(c)["choice"], "exact");
  EXPECT_FALSE(ReviseAfterTuning(&c, 1000, 1000));  // only once, only the model's choice
  SearchChoice forced = ChooseSearch(NnSearch::kApproximate, 1000000, 32, 100000, 0, Given());
  EXPECT_FALSE(ReviseAfterTuning(&forced, 1000, 1000));
  EXPECT_TRUE(forced.approximate);
}

TEST(SearchCost, ForcedAndLegacyRulesSkipTheModel) {
  int calls = 0;
  EXPECT_FALSE(ChooseSearch(NnSearch::kExact, 1000000, 32, 100000, 0, Given(&calls)).approximate);
  const SearchChoice forced = ChooseSearch(NnSearch::kApproximate, 3000, 768, 10, 0, Given(&calls));
  EXPECT_TRUE(forced.approximate);
  EXPECT_EQ(forced.reason, "forced");
  const SearchChoice legacy =
      ChooseSearch(NnSearch::kAuto, 1000000, 32, 100000, 50000 * 768, Given(&calls));
  EXPECT_FALSE(legacy.approximate);  // 32M values < 38.4M: the old rule's answer
  EXPECT_EQ(legacy.reason, "auto_min_values");
  EXPECT_EQ(calls, 0);
}

TEST(SearchCost, FailedMeasurementMeansExact) {
  const SearchChoice c =
      ChooseSearch(NnSearch::kAuto, 1000000, 32, 100000, 0,
                   []() -> Result<SearchCostConstants> { return Status::Internal("no"); });
  EXPECT_FALSE(c.approximate);
  EXPECT_EQ(c.reason, "no_constants");
  const SearchChoice zero =
      ChooseSearch(NnSearch::kAuto, 1000000, 32, 100000, 0, []() -> Result<SearchCostConstants> {
        return SearchCostConstants{};  // not Valid()
      });
  EXPECT_FALSE(zero.approximate);
  EXPECT_EQ(zero.reason, "no_constants");
}

TEST(SearchCost, JsonCarriesTheDecision) {
  const nlohmann::ordered_json j = SearchChoiceJson(Auto(1000000, 32, 100000));
  EXPECT_EQ(j["choice"], "approximate");
  EXPECT_EQ(j["reason"], "cost_model");
  EXPECT_GT(j["predicted_exact_s"].get<double>(), j["predicted_approximate_s"].get<double>());
  EXPECT_EQ(j["constants"]["flat_select"].get<double>(), 3.8e7);
  EXPECT_EQ(j["constants_source"], "given");
  const nlohmann::ordered_json small = SearchChoiceJson(Auto(100, 8, 10));
  EXPECT_EQ(small["choice"], "exact");
  EXPECT_FALSE(small.contains("predicted_exact_s"));
}

TEST(SearchCostCache, ReusedForTheSameFingerprintRemeasuredForAnother) {
  TempDir dir;
  const auto path = dir.path() / "sub" / ".sextant-cost-model.json";
  int calls = 0;
  ASSERT_OK_AND_ASSIGN(SearchCostConstants a, LoadOrMeasure(path, "cpu A", Given(&calls)));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(a.fingerprint, "cpu A");
  EXPECT_TRUE(std::filesystem::exists(path));
  ASSERT_OK_AND_ASSIGN(SearchCostConstants b, LoadOrMeasure(path, "cpu A", Given(&calls)));
  EXPECT_EQ(calls, 1);  // read back, not measured
  EXPECT_EQ(b.source, "cached");
  EXPECT_EQ(b.flat_macs, a.flat_macs);
  EXPECT_EQ(b.build_select, a.build_select);
  ASSERT_OK_AND_ASSIGN(SearchCostConstants c, LoadOrMeasure(path, "cpu B", Given(&calls)));
  EXPECT_EQ(calls, 2);  // another machine (or thread count): measured again
  EXPECT_EQ(c.fingerprint, "cpu B");
  ASSERT_OK(LoadOrMeasure(path, "cpu B", Given(&calls)).status());
  EXPECT_EQ(calls, 2);
}

TEST(SearchCostCache, CorruptFilesAreMeasuredOver) {
  TempDir dir;
  const auto path = dir.path() / ".sextant-cost-model.json";
  const char* bad[] = {
      "",
      "not json",
      "{\"format\": 1, \"fingerprint\": \"cpu A\", \"constants\": {\"flat_macs\": 1e10",
      "[1, 2, 3]",
      "{\"format\": 1, \"fingerprint\": \"cpu A\", \"constants\": {\"flat_macs\": -1, "
      "\"flat_select\": 1, \"ivf_macs\": 1, \"ivf_select\": 1, \"build_macs\": 1, "
      "\"build_select\": 1}}",
      "{\"format\": 1, \"fingerprint\": \"cpu A\", \"constants\": {\"flat_macs\": \"fast\"}}",
      "{\"format\": 99, \"fingerprint\": \"cpu A\", \"constants\": {}}",
      "{\"format\": 1, \"fingerprint\": 7, \"constants\": []}",
      "\xff\xfe\x00garbage",
  };
  int calls = 0;
  for (const char* text : bad) {
    ASSERT_OK(WriteFileAtomic(path, text));
    ASSERT_OK_AND_ASSIGN(SearchCostConstants c, LoadOrMeasure(path, "cpu A", Given(&calls)));
    EXPECT_TRUE(c.Valid());
    EXPECT_EQ(c.source, "given");  // measured (here: the injected constants), not the file's
  }
  EXPECT_EQ(calls, static_cast<int>(std::size(bad)));
  // The last measurement repaired the file.
  ASSERT_OK_AND_ASSIGN(SearchCostConstants c, LoadOrMeasure(path, "cpu A", Given(&calls)));
  EXPECT_EQ(c.source, "cached");
  EXPECT_EQ(calls, static_cast<int>(std::size(bad)));
}

TEST(SearchCostCache, UnwritableCacheStillAnswers) {
  TempDir dir;
  const auto file = dir.path() / "a-file";
  ASSERT_OK(WriteFileAtomic(file, "x"));
  int calls = 0;
  // The cache's folder is a file: nothing can be written there.
  ASSERT_OK_AND_ASSIGN(SearchCostConstants c,
                       LoadOrMeasure(file / "cost.json", "cpu A", Given(&calls)));
  EXPECT_TRUE(c.Valid());
  ASSERT_OK(LoadOrMeasure({}, "cpu A", Given(&calls)).status());  // no cache at all
  EXPECT_EQ(calls, 2);
}

TEST(SearchCost, FingerprintNamesTheMachine) {
  const std::string f = MachineFingerprint();
  EXPECT_NE(f.find("cores "), std::string::npos) << f;
  EXPECT_NE(f.find("omp threads "), std::string::npos) << f;
  EXPECT_EQ(f, MachineFingerprint());
}

}  // namespace
}  // namespace sextant::index
