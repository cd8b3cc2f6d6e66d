#include "server/insights_verdict.h"

#include "query/verdict.h"

namespace sextant::server {

using ordered_json = nlohmann::ordered_json;

ordered_json AlertFilter(const ordered_json& alert) {
  const std::string kind = alert.value("kind", std::string());
  if (kind == "data_drift") return {{"drifted", true}};
  if (kind == "distribution_shift") return {{"shifted", true}};
  ordered_json f = ordered_json::object();
  if (alert.contains("entity_type") && alert["entity_type"].is_string()) {
    f["entity_type"] = {alert["entity_type"]};
  } else if (alert.contains("label") && alert["label"].is_string()) {
    f["pred"] = {alert["label"]};
  }
  return f;
}

ordered_json RunSummaryForVerdict(const std::string& text, const std::string& split,
                                  const ordered_json& split_summary) {
  ordered_json run = ordered_json::parse(
      text, [](int depth, ordered_json::parse_event_t event, ordered_json& parsed) {
        return !(depth == 1 && event == ordered_json::parse_event_t::key &&
                 (parsed == "splits" || parsed == "comparisons" || parsed == "timeline"));
      });
  run["splits"] = {{split, split_summary}};
  return run;
}

void AddVerdictAndAlertFilters(const ordered_json& run_summary, const std::string& split,
                               ordered_json* insights) {
  if (insights->contains("alerts")) {
    for (ordered_json& alert : (*insights)["alerts"]) {
      alert["filter"] = AlertFilter(alert);
      alert["split"] = split;
    }
  }
  (*insights)["verdict"] = verdict::SplitVerdict(run_summary, split);
}

}  // namespace sextant::server
