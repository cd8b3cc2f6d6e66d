// A project's alert store, <root>/<project>/.alerts.db (docs/format.md): its
// rules, webhooks, the state of each rule per run, set and class with the
// history of transitions, and the webhook deliveries with their attempts.
//
// SQLite in WAL mode, its own connection; every change is one transaction. A
// new store starts with DefaultRules() (editable and removable: removed ones
// are not recreated).
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "alerts/evaluate.h"
#include "alerts/rules.h"
#include "store/sqlite.h"

namespace sextant::alerts {

inline constexpr const char* kAlertsFile = ".alerts.db";

struct Webhook {
  std::string id;
  std::string url;  // http:// or https://
  std::string name;
  bool enabled = true;
  // When set, each POST carries X-Sextant-Signature: sha256=HMAC(secret, body).
  std::string secret;
  double created = 0;
};
nlohmann::ordered_json WebhookToJson(const Webhook& w);  // the secret is never shown
Result<Webhook> WebhookFromJson(const nlohmann::json& j);

struct HistoryEntry {
  int64_t seq = 0;
  StateKey key;
  double time = 0;
  std::string old_state, new_state;
  std::optional<double> value, threshold, band_low, band_high;
};
nlohmann::ordered_json HistoryToJson(const HistoryEntry& h);

struct Delivery {
  std::string id;  // stable across retries (the X-Sextant-Delivery header)
  std::string webhook_id;
  std::string url;    // the webhook's, when it was queued
  std::string event;  // firing, resolved, test
  std::string payload;
  int attempts = 0;
  std::string status;  // pending, delivered, failed
  std::string last_error;
  int last_code = 0;  // the last HTTP status (0: none came)
  double created = 0, updated = 0, next_attempt = 0;
  std::optional<double> delivered;
  StateKey key;
};
nlohmann::ordered_json DeliveryToJson(const Delivery& d, bool with_payload = false);

// What EvaluateRun did.
struct RunEvaluation {
  Evaluation evaluation;
  std::vector<std::string> delivery_ids;  // queued for the events
};

class AlertStore {
 public:
  // Opens (creating with the default rules when absent) the store of the
  // project folder `project_dir`, which must exist unless `create_project`
  // (the CLI and Python: rules may be set before the project's first run). A
  // file that is not an alert store is an IOError naming it.
  static Result<std::unique_ptr<AlertStore>> Open(const std::filesystem::path& project_dir,
                                                  bool create_project = false);
  const std::string& project() const { return project_; }
  const std::filesystem::path& path() const { return path_; }

  Result<std::vector<Rule>> ListRules();
  Result<Rule> GetRule(const std::string& id);
  // Assigns an id when the rule has none; AlreadyExists on a taken one.
  Result<Rule> AddRule(Rule rule);
  // Replaces the rule `id` (the id is kept); its states stay and the next
  // evaluation moves them.
  Result<Rule> UpdateRule(const std::string& id, Rule rule);
  // Removes the rule, its states and history (not its deliveries).
  Status RemoveRule(const std::string& id);

  Result<std::vector<Webhook>> ListWebhooks();
  Result<Webhook> AddWebhook(Webhook hook);
  Status RemoveWebhook(const std::string& id);

  // States of every run, or of `run`; only of rules that still exist.
  Result<std::vector<AlertState>> States(const std::optional<std::string>& run = std::nullopt);
  Result<std::vector<HistoryEntry>> History(const std::optional<std::string>& run, int64_t limit);

  // In one transaction: reads the rules and the run's states, evaluates the
  // timeline, writes the states and the history of transitions, and queues a
  // delivery per event and enabled webhook. Evaluating the same timeline again
  // changes nothing and queues nothing.
  Result<RunEvaluation> EvaluateRun(const nlohmann::json& timeline, double now);

  // Deliveries, newest first; `status` filters (pending, delivered, failed).
  Result<std::vector<Delivery>> Deliveries(const std::optional<std::string>& status, int64_t limit);
  Result<Delivery> GetDelivery(const std::string& id);
  // Queues a "test" delivery to the webhook.
  Result<Delivery> QueueTest(const std::string& webhook_id, double now);
  // Claims the pending deliveries due by `now` (all pending with `force`) for
  // `lease_s` seconds: another deliverer (the server's, a finish) skips them.
  Result<std::vector<Delivery>> ClaimPending(double now, bool force, double lease_s);
  // One attempt's outcome; releases the claim.
  Status RecordAttempt(const std::string& id, const std::string& status, int code,
                       const std::string& error, double now, double next_attempt);
  // Gives a claim back without an attempt.
  Status Release(const std::string& id);

 private:
  AlertStore(std::unique_ptr<store::Database> db, std::filesystem::path path, std::string project)
      : db_(std::move(db)), path_(std::move(path)), project_(std::move(project)) {}
  Status Init();
  Result<std::vector<Delivery>> QueryDeliveries(const std::string& where, int64_t limit,
                                                const std::vector<std::string>& args);
  Result<std::string> NewRuleId(const Rule& rule);

  std::unique_ptr<store::Database> db_;
  std::filesystem::path path_;
  std::string project_;
};

// A random id: 32 hexadecimal digits.
std::string NewId();
// "2026-12-06T08:00:00Z".
std::string IsoTime(double unix_seconds);
double NowSeconds();

// The body of an event's POST (docs/alerts.md, "Webhooks").
nlohmann::ordered_json EventPayload(const std::string& delivery_id, const std::string& project,
                                    const AlertEvent& event, double now);

}  // namespace sextant::alerts
