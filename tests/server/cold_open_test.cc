// Cold opens (docs/architecture.md, "Sample tables"): before a split's table
// is loaded, a page whose filters and sort the store answers exactly comes
// from the store, and it is the table's answer byte for byte; the tables load
// in the background, at start (preload) or from a request.
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "sextant/client.h"
#include "small_run.h"
#include "testing.h"

namespace sextant::server {
namespace {

using json = nlohmann::json;
using sextant::testing::TempDir;

const SplitKey kTraining = SplitKey::Make(Split::kTraining, "").value();
const SplitKey kProd = SplitKey::Make(Split::kInference, "prod").value();

ApiResponse Get(const Api& api, std::vector<std::string> path, Params params = {}) {
  return api.Handle({"GET", std::move(path), std::move(params), ""});
}

// p/r: 30 training samples and 24 shifted inference samples, finished.
void MakeRun(const TempDir& root) {
  LogAndFinishSmallRun(root.path(), 30);
  LogSmallSplit(root.path(), kProd, 24, 3.0f, "q");
  ASSERT_OK(FinishRun(root.path(), "p", "r", SmallRunOptions()).status());
}

std::vector<Params> PageRequests() {
  std::vector<Params> out;
  const char* sorts[] = {"row",         "id",
                         "text",        "gold",
                         "pred",        "confidence",
                         "margin",      "certainty_ratio",
                         "entropy",     "is_on_the_boundary",
                         "epoch",       "aum",
                         "dep",         "drift_distance",
                         "drift_score", "is_drifted",
                         "shift_score", "is_shifted"};
  for (const char* sort : sorts) {
    for (const char* order : {"asc", "desc"}) {
      out.push_back({{"sort", sort}, {"order", order}, {"limit", "7"}, {"offset", "3"}});
    }
  }
  out.push_back({{"pred", "pos"}, {"min_confidence", "0.5"}, {"sort", "confidence"}});
  out.push_back({{"gold", "neg"}, {"sort", "margin"}, {"order", "desc"}});
  out.push_back({{"on_boundary", "true"}, {"limit", "100"}});
  out.push_back({{"drifted", "true"}, {"sort", "drift_score"}, {"order", "desc"}});
  out.push_back({{"drifted", "false"}, {"max_dep", "0.9"}, {"min_dep", "0.1"}});
  out.push_back({{"shifted", "true"}, {"min_shift", "0.2"}, {"max_shift", "1"}});
  out.push_back({{"ids", "t3,t5,q2,q7,zzz"}, {"sort", "id"}, {"order", "desc"}});
  out.push_back({{"offset", "1000"}});
  return out;
}

TEST(ColdOpen, AStorePageIsTheTablesAnswer) {
  TempDir root;
  MakeRun(root);
  Api warm(root.path());
  for (const SplitKey& split : {kTraining, kProd}) {
    ASSERT_OK_AND_ASSIGN(auto state, warm.Run("p", "r"));
    ASSERT_OK(state->Table(split).status());
    for (Params params : PageRequests()) {
      params.emplace("split", split.ToString());
      std::string what;
      for (const auto& [k, v] : params) what += k + "=" + v + " ";
      // The request as a store query: the same filters and order.
      ASSERT_OK_AND_ASSIGN(SampleRequest sr, ParseSampleParams(params, state->labels()));
      ASSERT_TRUE(StoreQuery(split, sr, state->labels()).has_value()) << what;
      // A fresh server answers its first page from the store, the same bytes.
      Api cold(root.path());
      ASSERT_OK_AND_ASSIGN(auto cold_state, cold.Run("p", "r"));
      ASSERT_EQ(cold_state->LoadedTable(split), nullptr);
      const ApiResponse from_store = Get(cold, {"runs", "p", "r", "samples"}, params);
      const ApiResponse from_table = Get(warm, {"runs", "p", "r", "samples"}, params);
      ASSERT_EQ(from_table.status, 200) << what << from_table.body;
      EXPECT_EQ(from_store.body, from_table.body) << what;
      // The table loads in the background meanwhile.
      cold.WaitForBackgroundLoads();
      EXPECT_NE(cold_state->LoadedTable(split), nullptr) << what;
    }
  }
}

TEST(ColdOpen, FiltersTheStoreCannotAnswerWaitForTheTable) {
  TempDir root;
  LogAndFinishSmallRun(root.path(), 12);
  Api api(root.path());
  ASSERT_OK_AND_ASSIGN(auto state, api.Run("p", "r"));
  for (Params params : std::vector<Params>{{{"misclassified", "true"}},
                                           {{"text", "text 1"}},
                                           {{"pred", "neg,pos"}},
                                           {{"sort", "is_correct"}},
                                           {{"sort", "x"}},
                                           {{"meta.source", "web"}}}) {
    ASSERT_OK_AND_ASSIGN(SampleRequest sr, ParseSampleParams(params, state->labels()));
    EXPECT_FALSE(StoreQuery(kTraining, sr, state->labels()).has_value()) << params.begin()->first;
  }
  // NER sentences' classes and confidences are not results columns: the store
  // answers their pages by row, id or text only.
  for (Params params : std::vector<Params>{
           {{"pred", "pos"}}, {{"sort", "confidence"}}, {{"min_confidence", "0.5"}}}) {
    ASSERT_OK_AND_ASSIGN(SampleRequest sr, ParseSampleParams(params, state->labels()));
    EXPECT_TRUE(StoreQuery(kTraining, sr, state->labels()).has_value());
    EXPECT_FALSE(StoreQuery(kTraining, sr, state->labels(), /*ner=*/true).has_value());
  }
  ASSERT_OK_AND_ASSIGN(SampleRequest by_id, ParseSampleParams({{"sort", "id"}}, state->labels()));
  EXPECT_TRUE(StoreQuery(kTraining, by_id, state->labels(), /*ner=*/true).has_value());
  // Such a request is answered from the table, loaded for it.
  const ApiResponse r =
      Get(api, {"runs", "p", "r", "samples"}, {{"split", "training"}, {"text", "text 1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(state->LoadedTable(kTraining), nullptr);
}

TEST(ColdOpen, AStorePageNamesAnUnknownSplitAsTheTableWould) {
  TempDir root;
  LogAndFinishSmallRun(root.path(), 12);
  Api api(root.path());
  const ApiResponse r = Get(api, {"runs", "p", "r", "samples"}, {{"split", "inference:nope"}});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("inference:nope"), std::string::npos) << r.body;
}

TEST(ColdOpen, PreloadLoadsTablesUpToItsBound) {
  TempDir root;
  MakeRun(root);
  {
    Api api(root.path());
    api.StartPreload(1000);
    api.WaitForBackgroundLoads();
    ASSERT_OK_AND_ASSIGN(auto state, api.Run("p", "r"));
    EXPECT_NE(state->LoadedTable(kTraining), nullptr);
    EXPECT_NE(state->LoadedTable(kProd), nullptr);
  }
  {
    // 30 training samples fit a bound of 25 no more than 24 + 30 do.
    Api api(root.path());
    api.StartPreload(25);
    api.WaitForBackgroundLoads();
    ASSERT_OK_AND_ASSIGN(auto state, api.Run("p", "r"));
    EXPECT_EQ(state->LoadedTable(kTraining), nullptr);
    EXPECT_NE(state->LoadedTable(kProd), nullptr);
  }
  {
    Api api(root.path());
    api.StartPreload(0);
    api.WaitForBackgroundLoads();
    ASSERT_OK_AND_ASSIGN(auto state, api.Run("p", "r"));
    EXPECT_EQ(state->LoadedTable(kTraining), nullptr);
  }
}

}  // namespace
}  // namespace sextant::server
