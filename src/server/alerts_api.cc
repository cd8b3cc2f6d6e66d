#include "server/alerts_api.h"

#include <chrono>
#include <map>

#include "alerts/deliver.h"
#include "alerts/store.h"
#include "sextant/types.h"

namespace sextant::server {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

ApiResponse JsonResponse(const ordered_json& j, int status = 200) {
  ApiResponse r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

Result<json> Body(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return Status::Invalid("body: not valid JSON");
  return j;
}

std::optional<std::string> ParamOf(const ApiRequest& req, const char* key) {
  auto it = req.params.find(key);
  if (it == req.params.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

Result<int64_t> Limit(const ApiRequest& req, int64_t fallback) {
  auto v = ParamOf(req, "limit");
  if (!v) return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  if (*end != '\0' || n < 1 || n > 10000) {
    return Status::Invalid("limit: expected an integer from 1 to 10000");
  }
  return static_cast<int64_t>(n);
}

// scheme://host[:port] of a URL.
std::string Origin(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const size_t path = url.find_first_of("/?#", scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

}  // namespace

Result<ApiResponse> HandleAlerts(const fs::path& root, const ApiRequest& req) {
  const auto& p = req.path;  // projects, {project}, alerts, ...
  if (p.size() < 4 || p[0] != "projects" || p[2] != "alerts") {
    return Status::NotFound("expected /api/projects/{project}/alerts/...");
  }
  SEXTANT_RETURN_IF_ERROR(ValidateName("project", p[1]));
  SEXTANT_ASSIGN_OR_RETURN(auto store, alerts::AlertStore::Open(root / p[1]));
  const std::string& what = p[3];
  const std::string& m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  if (what == "rules" && p.size() == 4) {
    if (get) {
      SEXTANT_ASSIGN_OR_RETURN(auto rules, store->ListRules());
      ordered_json list = ordered_json::array();
      for (const auto& r : rules) list.push_back(alerts::RuleToJson(r));
      return JsonResponse({{"project", p[1]}, {"rules", std::move(list)}});
    }
    SEXTANT_ASSIGN_OR_RETURN(json body, Body(req.body));
    SEXTANT_ASSIGN_OR_RETURN(alerts::Rule rule, alerts::RuleFromJson(body));
    SEXTANT_ASSIGN_OR_RETURN(rule, store->AddRule(rule));
    return JsonResponse(alerts::RuleToJson(rule), 201);
  }
  if (what == "rules" && p.size() == 5) {
    if (get) {
      SEXTANT_ASSIGN_OR_RETURN(alerts::Rule rule, store->GetRule(p[4]));
      return JsonResponse(alerts::RuleToJson(rule));
    }
    if (m == "DELETE") {
      SEXTANT_RETURN_IF_ERROR(store->RemoveRule(p[4]));
      return JsonResponse({{"removed", p[4]}});
    }
    SEXTANT_ASSIGN_OR_RETURN(json body, Body(req.body));
    if (body.is_object()) body.erase("id");  // the path's
    SEXTANT_ASSIGN_OR_RETURN(alerts::Rule rule, alerts::RuleFromJson(body));
    SEXTANT_ASSIGN_OR_RETURN(rule, store->UpdateRule(p[4], rule));
    return JsonResponse(alerts::RuleToJson(rule));
  }
  if (what == "states") {
    const auto run = ParamOf(req, "run");
    const auto state = ParamOf(req, "state");
    SEXTANT_ASSIGN_OR_RETURN(auto states, store->States(run));
    ordered_json list = ordered_json::array();
    int firing = 0;
    for (const auto& s : states) {
      firing += s.state == alerts::kFiring;
      if (!state || s.state == *state) list.push_back(alerts::StateToJson(s));
    }
    return JsonResponse({{"project", p[1]}, {"firing", firing}, {"states", std::move(list)}});
  }
  if (what == "history") {
    SEXTANT_ASSIGN_OR_RETURN(int64_t limit, Limit(req, 100));
    SEXTANT_ASSIGN_OR_RETURN(auto history, store->History(ParamOf(req, "run"), limit));
    ordered_json list = ordered_json::array();
    for (const auto& h : history) list.push_back(alerts::HistoryToJson(h));
    return JsonResponse({{"project", p[1]}, {"history", std::move(list)}});
  }
  if (what == "webhooks" && p.size() == 4) {
    if (get) {
      SEXTANT_ASSIGN_OR_RETURN(auto hooks, store->ListWebhooks());
      ordered_json list = ordered_json::array();
      for (const auto& w : hooks) list.push_back(alerts::WebhookToJson(w));
      return JsonResponse({{"project", p[1]}, {"webhooks", std::move(list)}});
    }
    SEXTANT_ASSIGN_OR_RETURN(json body, Body(req.body));
    SEXTANT_ASSIGN_OR_RETURN(alerts::Webhook hook, alerts::WebhookFromJson(body));
    SEXTANT_ASSIGN_OR_RETURN(hook, store->AddWebhook(hook));
    return JsonResponse(alerts::WebhookToJson(hook), 201);
  }
  if (what == "webhooks" && p.size() == 5 && m == "DELETE") {
    SEXTANT_RETURN_IF_ERROR(store->RemoveWebhook(p[4]));
    return JsonResponse({{"removed", p[4]}});
  }
  if (what == "webhooks" && p.size() == 6 && p[5] == "test") {
    SEXTANT_ASSIGN_OR_RETURN(alerts::Delivery d, store->QueueTest(p[4], alerts::NowSeconds()));
    alerts::DeliveryOptions o;
    o.budget_s = 10;
    SEXTANT_ASSIGN_OR_RETURN(alerts::DeliveryReport r, alerts::DeliverPending(*store, o));
    (void)r;
    SEXTANT_ASSIGN_OR_RETURN(d, store->GetDelivery(d.id));
    return JsonResponse(alerts::DeliveryToJson(d, true));
  }
  if (what == "deliveries" && p.size() == 4) {
    SEXTANT_ASSIGN_OR_RETURN(int64_t limit, Limit(req, 100));
    SEXTANT_ASSIGN_OR_RETURN(auto list, store->Deliveries(ParamOf(req, "status"), limit));
    ordered_json out = ordered_json::array();
    for (const auto& d : list) {
      out.push_back(alerts::DeliveryToJson(d, true));
      // A read key sees where, not the whole URL (a webhook's path is often its secret).
      out.back()["url"] = Origin(d.url);
    }
    return JsonResponse({{"project", p[1]}, {"deliveries", std::move(out)}});
  }
  if (what == "deliver" && p.size() == 4) {
    alerts::DeliveryOptions o;
    o.force = true;
    o.budget_s = 20;
    SEXTANT_ASSIGN_OR_RETURN(alerts::DeliveryReport r, alerts::DeliverPending(*store, o));
    return JsonResponse({{"delivered", r.delivered},
                         {"pending", r.pending},
                         {"failed", r.failed},
                         {"errors", r.errors}});
  }
  return Status::NotFound("no alerts endpoint /api/projects/" + p[1] + "/alerts/" + what +
                          " (see docs/http-api.md)");
}

ordered_json RunAlertStates(const fs::path& root, const std::string& project,
                            const std::string& run) {
  ordered_json out = ordered_json::array();
  std::error_code ec;
  if (!ValidateName("project", project).ok() ||
      !fs::exists(root / project / alerts::kAlertsFile, ec)) {
    return out;
  }
  auto store = alerts::AlertStore::Open(root / project);
  if (!store.ok()) return out;
  auto states = (*store)->States(run);
  if (!states.ok()) return out;
  for (const auto& s : *states) out.push_back(alerts::StateToJson(s));
  return out;
}

void CollectAlertGauges(const fs::path& root, MetricsWriter& out) {
  std::error_code ec;
  for (const auto& project : fs::directory_iterator(root, ec)) {
    const std::string name = project.path().filename().string();
    if (!project.is_directory() || name.empty() || name.front() == '.') continue;
    if (!fs::exists(project.path() / alerts::kAlertsFile, ec)) continue;
    auto store = alerts::AlertStore::Open(project.path());
    if (!store.ok()) continue;  // a damaged store: `sextant alerts list` names it
    auto rules = (*store)->ListRules();
    auto states = (*store)->States();
    if (!rules.ok() || !states.ok()) continue;
    std::map<std::string, bool> enabled;
    for (const auto& r : *rules) enabled[r.id] = r.enabled;
    for (const auto& s : *states) {
      // A removed run's states are not reported (its alerts are over).
      if (!enabled[s.key.rule_id] || !fs::is_directory(project.path() / s.key.run, ec)) continue;
      out.Gauge("sextant_alert_firing",
                "1 while the alert rule fires on the inference set (docs/alerts.md), else 0",
                {{"project", name},
                 {"run", s.key.run},
                 {"set", s.key.set},
                 {"rule", s.key.rule_id},
                 {"class", s.key.cls}},
                s.state == alerts::kFiring ? 1.0 : 0.0);
    }
  }
}

int AlertDeliverer::RunOnce() {
  int sent = 0;
  std::error_code ec;
  for (const auto& project : fs::directory_iterator(root_, ec)) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;  // shutting down: the rest wait for the next start
    }
    const std::string name = project.path().filename().string();
    if (!project.is_directory() || name.empty() || name.front() == '.') continue;
    if (!fs::exists(project.path() / alerts::kAlertsFile, ec)) continue;
    auto store = alerts::AlertStore::Open(project.path());
    if (!store.ok()) continue;
    alerts::DeliveryOptions o;
    o.tries = 1;     // the store's backoff spaces the next ones
    o.budget_s = 5;  // per project and pass: a shutdown never waits long
    auto report = alerts::DeliverPending(**store, o);
    if (report.ok()) sent += report->delivered;
  }
  return sent;
}

void AlertDeliverer::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      (void)RunOnce();
      lock.lock();
      wake_.wait_for(lock, std::chrono::duration<double>(interval_s_), [this] { return stop_; });
    }
  });
}

void AlertDeliverer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sextant::server
