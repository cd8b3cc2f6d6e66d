#include "alerts/store.h"

#include <fstream>

#include "alerts/timeline_fixture.h"
#include "testing.h"

namespace sextant::alerts {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sextant::testing::TempDir;
using testing::MakeTimeline;

Rule Threshold(double value) {
  auto r = RuleFromJson({{"metric", "drifted_share"}, {"op", ">"}, {"value", value}});
  EXPECT_TRUE(r.ok());
  return *r;
}

TEST(AlertStore, StartsWithTheDefaultRulesOnce) {
  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto store, AlertStore::Open(dir.path()));
    ASSERT_OK_AND_ASSIGN(std::vector<Rule> rules, store->ListRules());
    ASSERT_EQ(rules.size(), DefaultRules().size());
    EXPECT_EQ(rules[0].id, "data_drift");
    EXPECT_TRUE(rules[0].builtin);
    ASSERT_OK(store->RemoveRule("class_share_change"));
  }
  EXPECT_TRUE(fs::exists(dir.path() / ".alerts.db"));
  // Removed defaults are not recreated.
  ASSERT_OK_AND_ASSIGN(auto store, AlertStore::Open(dir.path()));
  ASSERT_OK_AND_ASSIGN(std::vector<Rule> rules, store->ListRules());
  EXPECT_EQ(rules.size(), DefaultRules().size() - 1);
}

TEST(AlertStore, AddsUpdatesAndRemovesRules) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, AlertStore::Open(dir.path()));
  ASSERT_OK_AND_ASSIGN(Rule a, store->AddRule(Threshold(0.2)));
  EXPECT_EQ(a.id, "drifted_share");
  ASSERT_OK_AND_ASSIGN(Rule b, store->AddRule(Threshold(0.3)));
  EXPECT_EQ(b.id, "drifted_share-2");
  Rule named = Threshold(0.4);
  named.id = "drifted_share";
  EXPECT_STATUS(store->AddRule(named), kAlreadyExists, "rule.id", "'drifted_share'");
  Rule changed = Threshold(0.5);
  ASSERT_OK_AND_ASSIGN(Rule updated, store->UpdateRule("drifted_share", changed));
  EXPECT_EQ(updated.id, "drifted_share");
  ASSERT_OK_AND_ASSIGN(Rule read, store->GetRule("drifted_share"));
  EXPECT_EQ(read.value, 0.5);
  EXPECT_STATUS(store->UpdateRule("nope", changed), kNotFound, "'nope'");
  ASSERT_OK(store->RemoveRule("drifted_share"));
  EXPECT_STATUS(store->RemoveRule("drifted_share"), kNotFound, "'drifted_share'");
  ASSERT_OK_AND_ASSIGN(std::vector<Rule> rules, store->ListRules());
  EXPECT_EQ(rules.back().id, "drifted_share-2");
}

TEST(AlertStore, KeepsStatesHistoryAndQueuesDeliveriesOncePerTransition) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, AlertStore::Open(dir.path()));
  for (const Rule& r : DefaultRules()) ASSERT_OK(store->RemoveRule(r.id));
  ASSERT_OK(store->AddRule(Threshold(0.2)).status());
  ASSERT_OK(store->AddWebhook({.url = "http://127.0.0.1:9/hook"}).status());
  const json firing = MakeTimeline("r1", {{"d1", 0.05}, {"d2", 0.5}});
  ASSERT_OK_AND_ASSIGN(RunEvaluation e1, store->EvaluateRun(firing, 100));
  EXPECT_EQ(e1.evaluation.events.size(), 1u);
  EXPECT_EQ(e1.delivery_ids.size(), 1u);
  // Again: nothing new.
  ASSERT_OK_AND_ASSIGN(RunEvaluation e2, store->EvaluateRun(firing, 200));
  EXPECT_TRUE(e2.evaluation.events.empty());
  EXPECT_TRUE(e2.delivery_ids.empty());
  ASSERT_OK_AND_ASSIGN(RunEvaluation e3,
                       store->EvaluateRun(MakeTimeline("r1", {{"d1", 0.05}, {"d2", 0.1}}), 300));
  ASSERT_EQ(e3.evaluation.events.size(), 1u);
  EXPECT_EQ(e3.evaluation.events[0].event, "resolved");

  ASSERT_OK_AND_ASSIGN(std::vector<AlertState> states, store->States("r1"));
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[1].key.set, "d2");
  EXPECT_EQ(states[1].state, "resolved");
  EXPECT_EQ(states[1].since, 300);
  ASSERT_OK_AND_ASSIGN(std::vector<AlertState> other_run, store->States("r2"));
  EXPECT_TRUE(other_run.empty());
  // History, newest first: d2 firing -> resolved, d2 none -> firing, d1 none -> ok.
  ASSERT_OK_AND_ASSIGN(std::vector<HistoryEntry> history, store->History("r1", 100));
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].old_state, "firing");
  EXPECT_EQ(history[0].new_state, "resolved");
  EXPECT_EQ(history[1].old_state, "none");
  EXPECT_EQ(history[1].new_state, "firing");
  EXPECT_DOUBLE_EQ(*history[1].value, 0.5);
  EXPECT_DOUBLE_EQ(*history[1].threshold, 0.2);

  ASSERT_OK_AND_ASSIGN(std::vector<Delivery> deliveries, store->Deliveries(std::nullopt, 100));
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].event, "resolved");
  EXPECT_EQ(deliveries[1].event, "firing");
  EXPECT_EQ(deliveries[1].status, "pending");
  const json payload = json::parse(deliveries[1].payload);
  EXPECT_EQ(payload["delivery_id"], deliveries[1].id);
  EXPECT_EQ(payload["project"], dir.path().filename().string());
  EXPECT_EQ(payload["run"], "r1");
  EXPECT_EQ(payload["set"], "d2");
  EXPECT_EQ(payload["metric"], "metrics.drifted_share");
  EXPECT_EQ(payload["value"], 0.5);
  EXPECT_EQ(payload["threshold"], 0.2);
  EXPECT_EQ(payload["state"], "firing");
  EXPECT_EQ(payload["rule"]["id"], "drifted_share");

  // Removing the rule removes its states.
  ASSERT_OK(store->RemoveRule("drifted_share"));
  ASSERT_OK_AND_ASSIGN(states, store->States(std::nullopt));
  EXPECT_TRUE(states.empty());
}

TEST(AlertStore, ClaimsAPendingDeliveryForOneDelivererAtATime) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, AlertStore::Open(dir.path()));
  ASSERT_OK_AND_ASSIGN(Webhook hook, store->AddWebhook({.url = "http://127.0.0.1:9/"}));
  ASSERT_OK_AND_ASSIGN(Delivery d, store->QueueTest(hook.id, 100));
  EXPECT_EQ(d.event, "test");
  ASSERT_OK_AND_ASSIGN(auto other, AlertStore::Open(dir.path()));  // a second connection
  ASSERT_OK_AND_ASSIGN(std::vector<Delivery> claimed, store->ClaimPending(NowSeconds(), false, 60));
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_OK_AND_ASSIGN(std::vector<Delivery> none, other->ClaimPending(NowSeconds(), true, 60));
  EXPECT_TRUE(none.empty());
  ASSERT_OK(
      store->RecordAttempt(d.id, "pending", 500, "HTTP 500", NowSeconds(), NowSeconds() + 1000));
  // Not due yet, but forced (`sextant alerts deliver`).
  ASSERT_OK_AND_ASSIGN(none, other->ClaimPending(NowSeconds(), false, 60));
  EXPECT_TRUE(none.empty());
  ASSERT_OK_AND_ASSIGN(claimed, other->ClaimPending(NowSeconds(), true, 60));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].attempts, 1);
  EXPECT_EQ(claimed[0].last_code, 500);
}

TEST(AlertStore, NamesADamagedFileAndAMissingProject) {
  TempDir dir;
  EXPECT_STATUS(AlertStore::Open(dir.path() / "nope"), kNotFound, "nope");
  // The CLI and Python may set rules before the project's first run.
  ASSERT_OK(AlertStore::Open(dir.path() / "root" / "new", /*create_project=*/true).status());
  EXPECT_TRUE(fs::exists(dir.path() / "root" / "new" / ".alerts.db"));
  {
    std::ofstream f(dir.path() / ".alerts.db");
    f << "this is not a database, just some text that is long enough to be a header.........";
  }
  EXPECT_STATUS(AlertStore::Open(dir.path()), kIOError, ".alerts.db", "not a readable alert store");
}

TEST(AlertStore, RejectsAWebhookWithoutAnHttpUrl) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, AlertStore::Open(dir.path()));
  EXPECT_STATUS(store->AddWebhook({.url = "ftp://x"}), kInvalidArgument, "webhook.url");
  EXPECT_STATUS(WebhookFromJson(json::parse(R"({"url": "http://x", "retries": 3})")),
                kInvalidArgument, "webhook.retries");
}

}  // namespace
}  // namespace sextant::alerts
