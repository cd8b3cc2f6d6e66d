// The alert routes of the API (docs/http-api.md, "Alerts"), the firing state
// for GET /metrics, and the team server's background deliverer of pending
// webhook notifications. A project's alerts live in <root>/<project>/.alerts.db
// (alerts/store.h).
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "server/api.h"
#include "server/metrics.h"

namespace sextant::server {

// Requests under projects/{project}/alerts/...: path[1] is the project.
Result<ApiResponse> HandleAlerts(const std::filesystem::path& root, const ApiRequest& req);

// The states of one run's rules ([] when the project has no alert store), for
// marking firing alerts on a timeline.
nlohmann::ordered_json RunAlertStates(const std::filesystem::path& root, const std::string& project,
                                      const std::string& run);

// sextant_alert_firing{project,run,set,rule,class}: 1 firing, 0 otherwise, for
// every state of an enabled rule of every project with an alert store.
void CollectAlertGauges(const std::filesystem::path& root, MetricsWriter& out);

// Every `interval_s`, sends the pending deliveries that are due, of every
// project under the root (one attempt each; the store's backoff spaces them).
class AlertDeliverer {
 public:
  AlertDeliverer(std::filesystem::path root, double interval_s)
      : root_(std::move(root)), interval_s_(interval_s) {}
  ~AlertDeliverer() { Stop(); }
  void Start();
  void Stop();
  // One pass now (tests); returns the deliveries sent.
  int RunOnce();

 private:
  std::filesystem::path root_;
  double interval_s_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
};

}  // namespace sextant::server
