#include "alerts/notify.h"

namespace sextant::alerts {

std::string FinishAlerts::Message() const {
  std::string out;
  if (events > 0 || firing > 0) {
    out = "alerts: " + std::to_string(firing) + " firing, " + std::to_string(events) +
          " new transition(s)";
    if (queued > 0) out += "; webhook deliveries: " + delivery.Summary();
  }
  if (!warning.empty())
    out += (out.empty() ? "" : "; ") + std::string("alerts warning: ") + warning;
  return out;
}

FinishAlerts EvaluateAfterFinish(const std::filesystem::path& run_dir,
                                 const nlohmann::json& timeline, const DeliveryOptions& options) {
  FinishAlerts out;
  try {
    auto store = AlertStore::Open(run_dir.parent_path());
    if (!store.ok()) {
      out.warning = store.status().message();
      return out;
    }
    // The run is the folder's when the timeline does not name it.
    nlohmann::json named = timeline;
    if (named.is_object() && !named.contains("run")) named["run"] = run_dir.filename().string();
    auto eval = (*store)->EvaluateRun(named, NowSeconds());
    if (!eval.ok()) {
      out.warning = "evaluating the rules failed: " + eval.status().message();
      return out;
    }
    out.events = static_cast<int>(eval->evaluation.events.size());
    out.queued = static_cast<int>(eval->delivery_ids.size());
    for (const AlertState& s : eval->evaluation.states) out.firing += s.state == kFiring;
    if (out.queued == 0) return out;
    auto report = DeliverPending(**store, options);
    if (!report.ok()) {
      out.warning = "delivering the notifications failed: " + report.status().message();
      return out;
    }
    out.delivery = *report;
    if (report->pending > 0 || report->failed > 0) {
      out.warning = std::to_string(report->pending) + " notification(s) still pending, " +
                    std::to_string(report->failed) + " failed (see `sextant alerts deliveries`)" +
                    (report->errors.empty() ? "" : ": " + report->errors.front());
    }
  } catch (const std::exception& e) {
    out.warning = std::string("unexpected error: ") + e.what();
  }
  return out;
}

}  // namespace sextant::alerts
