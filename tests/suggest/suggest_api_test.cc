// GET /api/runs/{p}/{r}/suggest: the answer's shape, the 400s naming the
// parameter, and filling a selection with the answer as the console does.
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "suggest_run.h"
#include "testing.h"

namespace sextant::server {
namespace {

using json = nlohmann::json;
using sextant::testing::TempDir;

class SuggestApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    suggest::testing::MakeSuggestRun(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }

  ApiResponse Get(Params params) const {
    return api_.Handle({"GET", {"runs", "p", "r", "suggest"}, std::move(params), ""});
  }

  static TempDir* dir_;
  Api api_{dir_->path()};
};

TempDir* SuggestApiTest::dir_ = nullptr;

TEST_F(SuggestApiTest, AnswersTheSuggestionsWithTheirSamples) {
  ApiResponse r = Get({{"split", "inference"},
                       {"inference_name", "prod"},
                       {"budget", "5"},
                       {"strategy", "uncertainty"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j["strategy"], "uncertainty");
  EXPECT_EQ(j["budget"], 5);
  EXPECT_EQ(j["split"], "inference");
  EXPECT_EQ(j["inference_name"], "prod");
  EXPECT_EQ(j["pool"], 227);
  EXPECT_EQ(j["excluded_duplicates"], 2);
  EXPECT_TRUE(j["took_ms"].is_number());
  ASSERT_EQ(j["suggestions"].size(), 5u);
  const json& s = j["suggestions"][0];
  EXPECT_EQ(s["id"], "dupc_0");
  EXPECT_EQ(s["split"], "inference:prod");
  EXPECT_EQ(s["rank"], 1);
  EXPECT_EQ(s["text"], "text of dupc_0");
  EXPECT_EQ(s["pred"], "neg");
  EXPECT_NEAR(s["margin"].get<double>(), 0.01, 1e-6);
  EXPECT_TRUE(s["drift_score"].is_number());
  EXPECT_TRUE(s["shift_score"].is_number());  // the run's validation split gives a domain test
  EXPECT_TRUE(s["scores"].contains("uncertainty"));
  ASSERT_TRUE(s["reasons"].is_array());
  EXPECT_EQ(s["reasons"][0].get<std::string>().rfind("uncertain: margin 0.01, lower than", 0), 0u);

  // The split's key works as well, and the budget defaults to 100.
  r = Get({{"split", "inference:prod"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["suggestions"].size(), 100u);
}

TEST_F(SuggestApiTest, BadParametersAre400sNamingThem) {
  struct Case {
    Params params;
    std::string field;
  } cases[] = {
      {{{"inference_name", "prod"}}, "split: required"},
      {{{"split", "inference"}}, "inference_name: required"},
      {{{"split", "inference:prod"}, {"budget", "x"}}, "budget: expected an integer"},
      {{{"split", "inference:prod"}, {"budget", "0"}}, "budget: must be between 1 and"},
      {{{"split", "inference:prod"}, {"strategy", "entropy"}},
       "strategy: 'entropy' is not a strategy; expected one of default, random, uncertainty, "
       "drift, diverse"},
      {{{"split", "inference:prod"}, {"per_class", "maybe"}}, "per_class"},
      {{{"split", "inference:prod"}, {"seed", "-1"}}, "seed"},
      {{{"split", "inference:prod"}, {"class", "maybe"}}, "class: 'maybe'"},
      {{{"split", "training"}}, "split: training is already labeled"},
  };
  for (const Case& c : cases) {
    ApiResponse r = Get(c.params);
    EXPECT_EQ(r.status, 400) << c.field << ": " << r.body;
    EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find(c.field),
              std::string::npos)
        << r.body;
  }
  ApiResponse r = Get({{"split", "inference:nope"}});
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(SuggestApiTest, TheAnswerFillsASelection) {
  ApiResponse r = Get({{"split", "inference:prod"}, {"budget", "7"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json items = json::array();
  const json answer = json::parse(r.body);
  for (const json& s : answer["suggestions"]) {
    json item = json::object();
    item["split"] = s["split"];
    item["id"] = s["id"];
    items.push_back(item);
  }
  ApiResponse created = api_.Handle(
      {"POST", {"runs", "p", "r", "selections"}, {}, json{{"name", "to-label"}}.dump()});
  ASSERT_LT(created.status, 300) << created.body;
  ApiResponse added = api_.Handle({"POST",
                                   {"runs", "p", "r", "selections", "to-label", "add"},
                                   {},
                                   json{{"items", items}}.dump()});
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(json::parse(added.body)["count"], 7) << added.body;
  ApiResponse got = api_.Handle({"GET", {"runs", "p", "r", "selections", "to-label"}, {}, ""});
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body)["items"].size(), 7u) << got.body;
}

}  // namespace
}  // namespace sextant::server
