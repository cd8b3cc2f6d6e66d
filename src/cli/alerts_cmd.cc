#include "cli/alerts_cmd.h"

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "alerts/deliver.h"
#include "alerts/store.h"
#include "sextant/client.h"
#include "sextant/results.h"

namespace sextant::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

struct AlertsArgs {
  std::string root, project, run, format = "table";
  // add
  std::string id, name, metric, cls, kind = "threshold", op, severity = "warning", rule_json;
  std::optional<double> value, k;
  std::optional<int> first_n;
  bool abs = false, disabled = false;
  // states, deliveries
  std::string state, status;
  int64_t limit = 50;
  bool history = false;
  // webhook
  std::string url, secret;
};

int Report(const Status& st) {
  if (st.ok()) return 0;
  std::fprintf(stderr, "sextant: error: %s\n", st.ToString().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

Status CheckFormat(const AlertsArgs& a) {
  if (a.format != "table" && a.format != "json") {
    return Status::Invalid("--format: expected 'table' or 'json', got '" + a.format + "'");
  }
  return Status::OK();
}

Result<std::unique_ptr<alerts::AlertStore>> OpenStore(const AlertsArgs& a) {
  SEXTANT_RETURN_IF_ERROR(ValidateName("--project", a.project));
  return alerts::AlertStore::Open(ResolveRoot(a.root) / a.project, /*create_project=*/true);
}

std::string Num(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", *v);
  return buf;
}

void PrintJson(const ordered_json& j) { std::printf("%s\n", j.dump(2).c_str()); }

Status RunAdd(const AlertsArgs& a) {
  json j;
  if (!a.rule_json.empty()) {
    j = json::parse(a.rule_json, nullptr, false);
    if (j.is_discarded()) return Status::Invalid("--json: not valid JSON");
  } else {
    j["metric"] = a.metric;
    j["kind"] = a.kind;
    if (!a.cls.empty()) j["class"] = a.cls;
    if (!a.op.empty()) j["op"] = a.op;
    if (a.value) j["value"] = *a.value;
    if (a.abs) j["abs"] = true;
    if (a.first_n || a.k) {
      j["band"] = json::object();
      if (a.first_n) j["band"]["first_n"] = *a.first_n;
      if (a.k) j["band"]["k"] = *a.k;
    }
    if (!a.run.empty()) j["run"] = a.run;
    j["severity"] = a.severity;
    if (a.disabled) j["enabled"] = false;
  }
  if (!a.id.empty()) j["id"] = a.id;
  if (!a.name.empty()) j["name"] = a.name;
  SEXTANT_ASSIGN_OR_RETURN(alerts::Rule rule, alerts::RuleFromJson(j));
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  SEXTANT_ASSIGN_OR_RETURN(rule, store->AddRule(rule));
  if (a.format == "json") {
    PrintJson(alerts::RuleToJson(rule));
  } else {
    std::printf("%s\n", rule.id.c_str());
    std::fprintf(stderr,
                 "Added rule '%s' to project '%s': %s (evaluated at the next finish, or "
                 "now with `sextant alerts evaluate`)\n",
                 rule.id.c_str(), a.project.c_str(), rule.Describe().c_str());
  }
  return Status::OK();
}

// `update`: the stored rule with the fields given on the command line changed.
Status RunUpdate(const AlertsArgs& a, bool enable) {
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  SEXTANT_ASSIGN_OR_RETURN(alerts::Rule old, store->GetRule(a.id));
  json j = json(alerts::RuleToJson(old));
  j.erase("id");
  if (!a.metric.empty()) {
    j["metric"] = a.metric;
    if (a.metric.rfind("per_class.", 0) == 0 || a.metric.rfind("metrics.", 0) == 0) {
      j["class"] = nullptr;
    }
  }
  if (!a.cls.empty()) j["class"] = a.cls;
  if (!a.kind.empty()) j["kind"] = a.kind;
  if (!a.op.empty()) j["op"] = a.op;
  if (a.value) j["value"] = *a.value;
  if (a.abs) j["abs"] = true;
  if (a.first_n || a.k) {
    if (!j["band"].is_object()) j["band"] = json::object();
    if (a.first_n) j["band"]["first_n"] = *a.first_n;
    if (a.k) j["band"]["k"] = *a.k;
  }
  if (!a.run.empty()) j["run"] = a.run;
  if (!a.severity.empty()) j["severity"] = a.severity;
  if (!a.name.empty()) j["name"] = a.name;
  if (a.disabled) j["enabled"] = false;
  if (enable) j["enabled"] = true;
  SEXTANT_ASSIGN_OR_RETURN(alerts::Rule rule, alerts::RuleFromJson(j));
  SEXTANT_ASSIGN_OR_RETURN(rule, store->UpdateRule(a.id, rule));
  if (a.format == "json") {
    PrintJson(alerts::RuleToJson(rule));
  } else {
    std::fprintf(stderr, "Updated rule '%s': %s%s\n", rule.id.c_str(), rule.Describe().c_str(),
                 rule.enabled ? "" : " (disabled)");
  }
  return Status::OK();
}

Status RunList(const AlertsArgs& a) {
  SEXTANT_RETURN_IF_ERROR(CheckFormat(a));
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<alerts::Rule> rules, store->ListRules());
  if (a.format == "json") {
    ordered_json out = ordered_json::array();
    for (const auto& r : rules) out.push_back(alerts::RuleToJson(r));
    PrintJson(out);
    return Status::OK();
  }
  if (rules.empty()) {
    std::printf("no alert rules in project '%s' (add one with `sextant alerts add`)\n",
                a.project.c_str());
    return Status::OK();
  }
  std::printf("%-24s %-9s %-22s %-8s %s\n", "ID", "ENABLED", "KIND", "SEVERITY", "CONDITION");
  for (const auto& r : rules) {
    std::printf("%-24s %-9s %-22s %-8s %s%s\n", r.id.c_str(), r.enabled ? "yes" : "no",
                alerts::RuleKindName(r.kind), r.severity.c_str(), r.Describe().c_str(),
                r.run.empty() ? "" : (" (run " + r.run + ")").c_str());
  }
  return Status::OK();
}

Status RunRemove(const AlertsArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  SEXTANT_RETURN_IF_ERROR(store->RemoveRule(a.id));
  std::fprintf(stderr, "Removed rule '%s' and its states.\n", a.id.c_str());
  return Status::OK();
}

Status RunStates(const AlertsArgs& a) {
  SEXTANT_RETURN_IF_ERROR(CheckFormat(a));
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  const std::optional<std::string> run = a.run.empty() ? std::nullopt : std::optional(a.run);
  if (a.history) {
    SEXTANT_ASSIGN_OR_RETURN(auto history, store->History(run, a.limit));
    if (a.format == "json") {
      ordered_json out = ordered_json::array();
      for (const auto& h : history) out.push_back(alerts::HistoryToJson(h));
      PrintJson(out);
      return Status::OK();
    }
    std::printf("%-20s %-24s %-12s %-16s %-10s %-9s %-9s %s\n", "TIME", "RULE", "RUN", "SET",
                "CLASS", "OLD", "NEW", "VALUE");
    for (const auto& h : history) {
      std::printf("%-20s %-24s %-12s %-16s %-10s %-9s %-9s %s\n", alerts::IsoTime(h.time).c_str(),
                  h.key.rule_id.c_str(), h.key.run.c_str(), h.key.set.c_str(),
                  h.key.cls.empty() ? "-" : h.key.cls.c_str(), h.old_state.c_str(),
                  h.new_state.c_str(), Num(h.value).c_str());
    }
    return Status::OK();
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<alerts::AlertState> states, store->States(run));
  if (a.format == "json") {
    ordered_json out = ordered_json::array();
    for (const auto& s : states) {
      if (a.state.empty() || s.state == a.state) out.push_back(alerts::StateToJson(s));
    }
    PrintJson(out);
    return Status::OK();
  }
  std::printf("%-12s %-24s %-16s %-10s %-9s %-10s %-18s %s\n", "RUN", "RULE", "SET", "CLASS",
              "STATE", "VALUE", "THRESHOLD/BAND", "DETAIL");
  size_t shown = 0;
  for (const auto& s : states) {
    if (!a.state.empty() && s.state != a.state) continue;
    ++shown;
    const std::string limit = s.band_low || s.band_high
                                  ? "[" + Num(s.band_low) + ", " + Num(s.band_high) + "]"
                                  : Num(s.threshold);
    std::printf("%-12s %-24s %-16s %-10s %-9s %-10s %-18s %s\n", s.key.run.c_str(),
                s.key.rule_id.c_str(), s.key.set.c_str(),
                s.key.cls.empty() ? "-" : s.key.cls.c_str(), s.state.c_str(), Num(s.value).c_str(),
                limit.c_str(), s.detail.c_str());
  }
  if (shown == 0) std::printf("no alert states (rules are evaluated when a run is finished)\n");
  return Status::OK();
}

Status RunDeliveries(const AlertsArgs& a) {
  SEXTANT_RETURN_IF_ERROR(CheckFormat(a));
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  SEXTANT_ASSIGN_OR_RETURN(
      std::vector<alerts::Delivery> list,
      store->Deliveries(a.status.empty() ? std::nullopt : std::optional(a.status), a.limit));
  if (a.format == "json") {
    ordered_json out = ordered_json::array();
    for (const auto& d : list) out.push_back(alerts::DeliveryToJson(d, true));
    PrintJson(out);
    return Status::OK();
  }
  if (list.empty()) {
    std::printf("no webhook deliveries in project '%s'\n", a.project.c_str());
    return Status::OK();
  }
  std::printf("%-32s %-9s %-10s %-8s %-20s %-24s %s\n", "ID", "EVENT", "STATUS", "ATTEMPTS",
              "CREATED", "RULE/SET", "LAST ERROR");
  for (const auto& d : list) {
    const std::string what = d.event == "test" ? d.webhook_id
                                               : d.key.rule_id + "/" + d.key.set +
                                                     (d.key.cls.empty() ? "" : "/" + d.key.cls);
    std::printf("%-32s %-9s %-10s %-8d %-20s %-24s %s\n", d.id.c_str(), d.event.c_str(),
                d.status.c_str(), d.attempts, alerts::IsoTime(d.created).c_str(), what.c_str(),
                d.last_error.c_str());
  }
  return Status::OK();
}

Status RunDeliver(const AlertsArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  alerts::DeliveryOptions o;
  o.force = true;  // by hand: every pending one now, due or not
  o.budget_s = 60;
  SEXTANT_ASSIGN_OR_RETURN(alerts::DeliveryReport r, alerts::DeliverPending(*store, o));
  std::printf("%s\n", r.Summary().c_str());
  for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.c_str());
  return Status::OK();
}

Status RunEvaluate(const AlertsArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(ResolveRoot(a.root), a.project, a.run));
  SEXTANT_ASSIGN_OR_RETURN(std::string text, reader->SummaryJson());
  const json summary = json::parse(text, nullptr, false);
  if (!summary.is_object() || !summary.contains("timeline") || !summary["timeline"].is_object()) {
    return Status::FailedPrecondition("run '" + a.project + "/" + a.run +
                                      "' has no timeline in its summary: finish it again");
  }
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  json timeline = summary["timeline"];
  if (!timeline.contains("run")) timeline["run"] = a.run;  // as a finish does
  SEXTANT_ASSIGN_OR_RETURN(alerts::RunEvaluation e,
                           store->EvaluateRun(timeline, alerts::NowSeconds()));
  int firing = 0;
  for (const auto& s : e.evaluation.states) firing += s.state == alerts::kFiring;
  std::printf("%d firing, %zu new transition(s), %zu notification(s) queued\n", firing,
              e.evaluation.events.size(), e.delivery_ids.size());
  if (!e.delivery_ids.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(alerts::DeliveryReport r, alerts::DeliverPending(*store, {}));
    std::printf("notifications: %s\n", r.Summary().c_str());
  }
  return Status::OK();
}

Status RunWebhookAdd(const AlertsArgs& a) {
  alerts::Webhook w;
  w.id = a.id;
  w.url = a.url;
  w.name = a.name;
  w.secret = a.secret;
  w.enabled = !a.disabled;
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  SEXTANT_ASSIGN_OR_RETURN(w, store->AddWebhook(w));
  if (a.format == "json") {
    PrintJson(alerts::WebhookToJson(w));
  } else {
    std::printf("%s\n", w.id.c_str());
    std::fprintf(stderr, "Added webhook '%s' (%s) to project '%s'.\n", w.id.c_str(), w.url.c_str(),
                 a.project.c_str());
  }
  return Status::OK();
}

Status RunWebhookList(const AlertsArgs& a) {
  SEXTANT_RETURN_IF_ERROR(CheckFormat(a));
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<alerts::Webhook> hooks, store->ListWebhooks());
  if (a.format == "json") {
    ordered_json out = ordered_json::array();
    for (const auto& w : hooks) out.push_back(alerts::WebhookToJson(w));
    PrintJson(out);
    return Status::OK();
  }
  if (hooks.empty()) {
    std::printf("no webhooks in project '%s'\n", a.project.c_str());
    return Status::OK();
  }
  std::printf("%-18s %-8s %-7s %s\n", "ID", "ENABLED", "SIGNED", "URL");
  for (const auto& w : hooks) {
    std::printf("%-18s %-8s %-7s %s\n", w.id.c_str(), w.enabled ? "yes" : "no",
                w.secret.empty() ? "no" : "yes", w.url.c_str());
  }
  return Status::OK();
}

Status RunWebhookTest(const AlertsArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(auto store, OpenStore(a));
  SEXTANT_ASSIGN_OR_RETURN(alerts::Delivery d, store->QueueTest(a.id, alerts::NowSeconds()));
  alerts::DeliveryOptions o;
  SEXTANT_ASSIGN_OR_RETURN(alerts::DeliveryReport r, alerts::DeliverPending(*store, o));
  SEXTANT_ASSIGN_OR_RETURN(d, store->GetDelivery(d.id));
  std::printf("test delivery %s to %s: %s after %d attempt(s)%s\n", d.id.c_str(), d.url.c_str(),
              d.status.c_str(), d.attempts,
              d.last_error.empty() ? "" : (" (" + d.last_error + ")").c_str());
  if (d.status != "delivered") {
    return Status::Unavailable("the test notification was not delivered: " +
                               (d.last_error.empty() ? d.status : d.last_error));
  }
  (void)r;
  return Status::OK();
}

void AddCommon(CLI::App* cmd, AlertsArgs* a) {
  cmd->add_option("--root", a->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  cmd->add_option("--project", a->project, "Project name (required)");
}

}  // namespace

void PrintRunAlerts(const fs::path& root, const std::string& project, const std::string& run,
                    std::ostream& out) {
  std::error_code ec;
  if (!ValidateName("project", project).ok() ||
      !fs::exists(root / project / alerts::kAlertsFile, ec)) {
    return;  // never creates a store
  }
  auto store = alerts::AlertStore::Open(root / project);
  if (!store.ok()) {
    out << "\nAlert rules: " << store.status().message() << "\n";
    return;
  }
  auto states = (*store)->States(run);
  auto rules = (*store)->ListRules();
  if (!states.ok() || !rules.ok() || states->empty()) return;
  std::map<std::string, alerts::Rule> by_id;
  for (const auto& r : *rules) by_id[r.id] = r;
  int firing = 0;
  for (const auto& s : *states) firing += s.state == alerts::kFiring;
  out << "\nAlert rules (`sextant alerts states`; docs/alerts.md): " << firing << " firing of "
      << states->size() << " states\n";
  for (const auto& s : *states) {
    if (s.state != alerts::kFiring) continue;
    const alerts::Rule& r = by_id[s.key.rule_id];
    out << "FIRING " << s.key.rule_id << " on " << s.key.set
        << (s.key.cls.empty() ? "" : " (class '" + s.key.cls + "')") << ": " << r.Describe()
        << "; value " << Num(s.value);
    if (s.band_low) out << ", band [" << Num(s.band_low) << ", " << Num(s.band_high) << "]";
    out << "\n";
  }
}

AlertsCommand AddAlertsCommand(CLI::App& app) {
  auto a = std::make_shared<AlertsArgs>();
  CLI::App* alerts =
      app.add_subcommand("alerts", "Alert rules on a project's timelines (docs/alerts.md)");
  alerts->require_subcommand(1);
  // Also before the subcommand: `sextant alerts --root DIR --project P list`.
  alerts->add_option("--root", a->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  alerts->add_option("--project", a->project, "Project name");
  alerts->add_option("--run", a->run, "Run name (states, evaluate)");

  CLI::App* add = alerts->add_subcommand("add", "Add a rule (printed: its id)");
  AddCommon(add, a.get());
  add->add_option("--metric", a->metric,
                  "Timeline metric: drifted_share, estimated_accuracy, ... or "
                  "per_class.<label>.<name>");
  add->add_option("--class", a->cls, "A class label, or '*' for each class on its own");
  add->add_option("--kind", a->kind, "threshold (default), change_from_training or band");
  add->add_option("--op", a->op, "> >= < <= (a band: > above only, < below only)");
  add->add_option("--value", a->value, "The threshold, or the change from training");
  add->add_flag("--abs", a->abs, "change_from_training: compare |change|");
  add->add_option("--first-n", a->first_n, "band: baseline sets (default 5)");
  add->add_option("--k", a->k, "band: half-width in standard deviations (default 3)");
  add->add_option("--run", a->run, "Only this run (default every run of the project)");
  add->add_option("--id", a->id, "The rule's id (default from the metric)");
  add->add_option("--name", a->name, "A name for people");
  add->add_option("--severity", a->severity, "info, warning (default) or critical");
  add->add_flag("--disabled", a->disabled, "Add it disabled");
  add->add_option("--json", a->rule_json, "The whole rule as JSON (docs/alerts.md)");
  add->add_option("--format", a->format, "table or json");

  // update: only what is given changes (the kind, op and severity have no default here).
  auto u = std::make_shared<AlertsArgs>();
  auto enable = std::make_shared<bool>(false);
  CLI::App* update = alerts->add_subcommand(
      "update", "Change a rule (a default one too): the options given replace its fields");
  update->add_option("--root", u->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  update->add_option("--project", u->project, "Project name (required)");
  update->add_option("--id", u->id, "The rule's id")->required();
  update->add_option("--metric", u->metric, "Timeline metric");
  update->add_option("--class", u->cls, "A class label, or '*'");
  update->add_option("--kind", u->kind, "threshold, change_from_training or band");
  update->add_option("--op", u->op, "> >= < <=");
  update->add_option("--value", u->value, "The threshold, or the change from training");
  update->add_flag("--abs", u->abs, "change_from_training: compare |change|");
  update->add_option("--first-n", u->first_n, "band: baseline sets");
  update->add_option("--k", u->k, "band: half-width in standard deviations");
  update->add_option("--run", u->run, "Only this run");
  update->add_option("--name", u->name, "A name for people");
  update->add_option("--severity", u->severity, "info, warning or critical");
  update->add_flag("--disabled", u->disabled, "Disable it");
  update->add_flag("--enabled", *enable, "Enable it");
  update->add_option("--format", u->format, "table or json");
  u->kind.clear();
  u->severity.clear();

  CLI::App* list = alerts->add_subcommand("list", "List the project's rules");
  AddCommon(list, a.get());
  list->add_option("--format", a->format, "table or json");

  CLI::App* remove = alerts->add_subcommand("remove", "Remove a rule and its states");
  AddCommon(remove, a.get());
  remove->add_option("--id", a->id, "The rule's id")->required();

  CLI::App* states = alerts->add_subcommand("states", "Each rule's state per run, set and class");
  AddCommon(states, a.get());
  states->add_option("--run", a->run, "Only this run");
  states->add_option("--state", a->state, "Only this state: ok, firing, resolved");
  states->add_flag("--history", a->history, "The transitions instead, newest first");
  states->add_option("--limit", a->limit, "With --history: at most this many (default 50)");
  states->add_option("--format", a->format, "table or json");

  CLI::App* evaluate =
      alerts->add_subcommand("evaluate", "Evaluate the rules on a finished run's timeline now");
  AddCommon(evaluate, a.get());
  evaluate->add_option("--run", a->run, "Run name (required)");

  CLI::App* deliveries = alerts->add_subcommand("deliveries", "Webhook deliveries, newest first");
  AddCommon(deliveries, a.get());
  deliveries->add_option("--status", a->status, "Only pending, delivered or failed");
  deliveries->add_option("--limit", a->limit, "At most this many (default 50)");
  deliveries->add_option("--format", a->format, "table or json");

  CLI::App* deliver = alerts->add_subcommand("deliver", "Send every pending delivery now");
  AddCommon(deliver, a.get());

  CLI::App* webhook = alerts->add_subcommand("webhook", "The project's webhooks");
  webhook->require_subcommand(1);
  CLI::App* wadd = webhook->add_subcommand("add", "Add a webhook (printed: its id)");
  AddCommon(wadd, a.get());
  wadd->add_option("--url", a->url, "http(s) URL that receives a JSON POST per event")->required();
  wadd->add_option("--id", a->id, "The webhook's id (default generated)");
  wadd->add_option("--name", a->name, "A name for people");
  wadd->add_option("--secret", a->secret, "Sign each POST: X-Sextant-Signature: sha256=HMAC");
  wadd->add_flag("--disabled", a->disabled, "Add it disabled");
  wadd->add_option("--format", a->format, "table or json");
  CLI::App* wlist = webhook->add_subcommand("list", "List the project's webhooks");
  AddCommon(wlist, a.get());
  wlist->add_option("--format", a->format, "table or json");
  CLI::App* wremove = webhook->add_subcommand("remove", "Remove a webhook");
  AddCommon(wremove, a.get());
  wremove->add_option("--id", a->id, "The webhook's id")->required();
  CLI::App* wtest = webhook->add_subcommand("test", "Send a test notification to a webhook");
  AddCommon(wtest, a.get());
  wtest->add_option("--id", a->id, "The webhook's id")->required();

  return {alerts, [=] {
            if (*update) {
              if (u->project.empty()) u->project = a->project;
              if (u->root.empty()) u->root = a->root;
              if (u->project.empty()) return Report(Status::Invalid("--project: required"));
              return Report(RunUpdate(*u, *enable));
            }
            if (a->project.empty()) return Report(Status::Invalid("--project: required"));
            if (*evaluate && a->run.empty()) return Report(Status::Invalid("--run: required"));
            try {
              if (*add) return Report(RunAdd(*a));
              if (*list) return Report(RunList(*a));
              if (*remove) return Report(RunRemove(*a));
              if (*states) return Report(RunStates(*a));
              if (*evaluate) return Report(RunEvaluate(*a));
              if (*deliveries) return Report(RunDeliveries(*a));
              if (*deliver) return Report(RunDeliver(*a));
              if (*wadd) return Report(RunWebhookAdd(*a));
              if (*wlist) return Report(RunWebhookList(*a));
              if (*wremove) {
                auto store = OpenStore(*a);
                if (!store.ok()) return Report(store.status());
                const Status st = (*store)->RemoveWebhook(a->id);
                if (st.ok()) std::fprintf(stderr, "Removed webhook '%s'.\n", a->id.c_str());
                return Report(st);
              }
              return Report(RunWebhookTest(*a));
            } catch (const json::exception& e) {
              return Report(Status::IOError(std::string("unexpected JSON: ") + e.what()));
            }
          }};
}

}  // namespace sextant::cli
