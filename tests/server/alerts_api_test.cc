// The alert routes of the API (docs/http-api.md, "Alerts"), the
// sextant_alert_firing gauge and the team server's background deliverer.
#include "server/alerts_api.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "../alerts/timeline_fixture.h"
#include "alerts/store.h"
#include "server/api.h"
#include "sextant/client.h"
#include "small_run.h"
#include "testing.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sextant::testing::TempDir;

struct Answer {
  int status;
  json body;
};

Answer Call(const Api& api, const std::string& method, std::vector<std::string> path,
            std::string body = "", Params params = {}, const Principal* who = nullptr) {
  ApiRequest req{method, std::move(path), std::move(params), std::move(body)};
  req.principal = who;
  req.key_required = who != nullptr;
  ApiResponse r = api.Handle(req);
  return {r.status, json::parse(r.body, nullptr, false)};
}

std::vector<std::string> AlertsPath(std::initializer_list<std::string> rest) {
  std::vector<std::string> p = {"projects", "p", "alerts"};
  p.insert(p.end(), rest);
  return p;
}

TEST(AlertsApi, RulesCanBeAddedReadChangedAndRemoved) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "p");
  Api api(tmp.path());
  Answer list = Call(api, "GET", AlertsPath({"rules"}));
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.body["rules"].size(), 4u);  // the defaults
  EXPECT_EQ(list.body["rules"][0]["id"], "data_drift");

  Answer added = Call(api, "POST", AlertsPath({"rules"}),
                      R"({"id": "acc", "metric": "estimated_accuracy", "op": "<", "value": 0.85})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(added.body["path"], "metrics.estimated_accuracy");
  Answer bad =
      Call(api, "POST", AlertsPath({"rules"}), R"({"metric": "acuracy", "op": "<", "value": 1})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["error"]["message"].get<std::string>().find("rule.metric"), std::string::npos);
  Answer dup = Call(api, "POST", AlertsPath({"rules"}),
                    R"({"id": "acc", "metric": "estimated_accuracy", "op": "<", "value": 0.8})");
  EXPECT_EQ(dup.status, 409);

  // PUT the rule as read back, with a new value.
  json changed = added.body;
  changed["value"] = 0.9;
  Answer put = Call(api, "PUT", AlertsPath({"rules", "acc"}), changed.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.body["value"], 0.9);
  EXPECT_EQ(Call(api, "GET", AlertsPath({"rules", "acc"})).body["value"], 0.9);
  EXPECT_EQ(Call(api, "DELETE", AlertsPath({"rules", "acc"})).status, 200);
  EXPECT_EQ(Call(api, "DELETE", AlertsPath({"rules", "acc"})).status, 404);
  EXPECT_EQ(Call(api, "GET", {"projects", "nosuchproject", "alerts", "rules"}).status, 404);
  EXPECT_EQ(Call(api, "GET", {"projects", "..", "alerts", "rules"}).status, 400);
}

TEST(AlertsApi, StatesWebhooksDeliveriesAndTheFiringGauge) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "p" / "r1");
  Api api(tmp.path());
  ASSERT_EQ(Call(api, "POST", AlertsPath({"rules"}),
                 R"({"id": "drift20", "metric": "drifted_share", "op": ">", "value": 0.2})")
                .status,
            201);
  // A receiver that answers 500 once per delivery, then 200.
  httplib::Server receiver;
  std::mutex mu;
  std::map<std::string, int> seen;
  std::vector<json> got;
  receiver.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    if (seen[req.get_header_value("X-Sextant-Delivery")]++ == 0) {
      res.status = 500;
      return;
    }
    got.push_back(json::parse(req.body));
  });
  const int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { receiver.listen_after_bind(); });
  while (!receiver.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  Answer hook =
      Call(api, "POST", AlertsPath({"webhooks"}), json{{"url", url}, {"id", "h1"}}.dump());
  ASSERT_EQ(hook.status, 201) << hook.body;
  EXPECT_EQ(Call(api, "GET", AlertsPath({"webhooks"})).body["webhooks"][0]["url"], url);
  Answer test = Call(api, "POST", AlertsPath({"webhooks", "h1", "test"}));
  ASSERT_EQ(test.status, 200) << test.body;
  EXPECT_EQ(test.body["status"], "delivered");
  EXPECT_EQ(test.body["attempts"], 2);

  // A finish's evaluation, with nothing sent yet: the server's deliverer sends it.
  {
    auto store = alerts::AlertStore::Open(tmp.path() / "p");
    ASSERT_OK(store.status());
    ASSERT_OK((*store)
                  ->EvaluateRun(alerts::testing::MakeTimeline("r1", {{"d1", 0.05}, {"d2", 0.4}}),
                                alerts::NowSeconds())
                  .status());
  }
  Answer pending = Call(api, "GET", AlertsPath({"deliveries"}), "", {{"status", "pending"}});
  ASSERT_EQ(pending.status, 200);
  ASSERT_EQ(pending.body["deliveries"].size(), 1u);
  EXPECT_EQ(pending.body["deliveries"][0]["url"], "http://127.0.0.1:" + std::to_string(port));
  AlertDeliverer deliverer(tmp.path(), 3600);
  EXPECT_EQ(deliverer.RunOnce(), 0);                            // the 500
  Answer deliver = Call(api, "POST", AlertsPath({"deliver"}));  // `sextant alerts deliver`
  EXPECT_EQ(deliver.body["delivered"], 1) << deliver.body;
  receiver.stop();
  thread.join();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["event"], "test");
  EXPECT_EQ(got[1]["event"], "firing");
  EXPECT_EQ(got[1]["set"], "d2");

  Answer states = Call(api, "GET", AlertsPath({"states"}), "", {{"run", "r1"}});
  ASSERT_EQ(states.status, 200);
  EXPECT_EQ(states.body["firing"], 1);
  Answer firing = Call(api, "GET", AlertsPath({"states"}), "", {{"state", "firing"}});
  ASSERT_EQ(firing.body["states"].size(), 1u);
  EXPECT_EQ(firing.body["states"][0]["rule_id"], "drift20");
  EXPECT_EQ(firing.body["states"][0]["value"], 0.4);
  EXPECT_GE(Call(api, "GET", AlertsPath({"history"})).body["history"].size(), 2u);
  EXPECT_EQ(RunAlertStates(tmp.path(), "p", "r1").size(), states.body["states"].size());

  MetricsWriter out;
  CollectAlertGauges(tmp.path(), out);
  const std::string text = out.Render();
  EXPECT_NE(text.find("sextant_alert_firing{project=\"p\",run=\"r1\",set=\"d2\",rule=\"drift20\","
                      "class=\"\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("set=\"d1\",rule=\"drift20\",class=\"\"} 0"), std::string::npos) << text;
}

TEST(AlertsApi, AKeyNeedsTheRoleAndTheProject) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "p");
  Api api(tmp.path());
  const Principal reader{"kread", Role::kRead, {"p"}};
  const Principal writer{"kwrite", Role::kWrite, {"p"}};
  const Principal other{"kother", Role::kAdmin, {"q"}};
  EXPECT_EQ(Call(api, "GET", AlertsPath({"rules"}), "", {}, &reader).status, 200);
  EXPECT_EQ(Call(api, "POST", AlertsPath({"rules"}), "{}", {}, &reader).status, 403);
  EXPECT_EQ(Call(api, "DELETE", AlertsPath({"rules", "data_drift"}), "", {}, &writer).status, 200);
  EXPECT_EQ(
      Call(api, "POST", AlertsPath({"webhooks"}), R"({"url": "http://x/"})", {}, &writer).status,
      403);
  EXPECT_EQ(Call(api, "GET", AlertsPath({"rules"}), "", {}, &other).status, 403);
}

TEST(AlertsApi, InsightsOfAnInferenceSetCarryItsRuleStates) {
  TempDir tmp;
  LogAndFinishSmallRun(tmp.path(), 12);
  const SplitKey prod = SplitKey::Make(Split::kInference, "prod").value();
  LogSmallSplit(tmp.path(), prod, 12, 0, "n");
  {
    auto client = Client::Init({.root = tmp.path(), .project = "p", .run = "r"});
    ASSERT_OK(client.status());
    ASSERT_OK((*client)->Finish(SmallRunOptions()).status());
  }
  Api api(tmp.path());
  ASSERT_EQ(Call(api, "POST", AlertsPath({"rules"}),
                 R"({"id": "drift20", "metric": "drifted_share", "op": ">", "value": 0.2})")
                .status,
            201);
  {
    auto store = alerts::AlertStore::Open(tmp.path() / "p");
    ASSERT_OK(store.status());
    ASSERT_OK(
        (*store)
            ->EvaluateRun(alerts::testing::MakeTimeline("r", {{"prod", 0.5}, {"other", 0.5}}), 1)
            .status());
  }
  Answer insights =
      Call(api, "GET", {"runs", "p", "r", "insights"}, "", {{"split", "inference:prod"}});
  ASSERT_EQ(insights.status, 200) << insights.body;
  ASSERT_TRUE(insights.body.contains("alerts"));  // the built-in ones stay
  int firing = 0;
  for (const json& s : insights.body["rule_states"]) {
    EXPECT_EQ(s["set"], "prod");
    firing += s["state"] == "firing";
  }
  EXPECT_EQ(firing, 1);
  Answer training = Call(api, "GET", {"runs", "p", "r", "insights"}, "", {{"split", "training"}});
  EXPECT_FALSE(training.body.contains("rule_states"));
  // The timeline marks the run's states.
  Answer timeline = Call(api, "GET", {"runs", "p", "r", "timeline"});
  ASSERT_EQ(timeline.status, 200) << timeline.body;
  int timeline_firing = 0;
  for (const json& s : timeline.body["alerts"]) timeline_firing += s["state"] == "firing";
  EXPECT_EQ(timeline_firing, 2);  // prod and other
}

}  // namespace
}  // namespace sextant::server
