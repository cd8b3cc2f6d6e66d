#include "server/run_metrics.h"

#include <nlohmann/json.hpp>
#include <set>

#include "sextant/results.h"

namespace sextant::server {

namespace {

using json = nlohmann::json;

// A number at `path` in `j` (objects all the way), if there is one.
std::optional<double> NumberAt(const json& j, std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object()) return std::nullopt;
    auto it = at->find(key);
    if (it == at->end()) return std::nullopt;
    at = &*it;
  }
  if (!at->is_number()) return std::nullopt;
  return at->get<double>();
}

}  // namespace

int64_t RunMetrics::summaries_read() const {
  std::lock_guard lock(mu_);
  return summaries_read_;
}

void RunMetrics::Collect(MetricsWriter& out) {
  std::lock_guard lock(mu_);
  Result<std::vector<RunInfo>> runs = ListRuns(root_);
  if (!runs.ok()) return;
  std::set<std::pair<std::string, std::string>> listed;
  std::map<std::pair<std::string, std::string>, int> runs_per_status;
  for (const RunInfo& info : *runs) {
    runs_per_status[{info.project, info.status}]++;
    if (info.status != "ok") continue;
    const auto key = std::make_pair(info.project, info.run);
    listed.insert(key);
    // Samples logged: fresh at every scrape (live ingest appends between finishes).
    for (const SplitInfo& s : info.splits) {
      if (s.split.split != Split::kInference) continue;
      out.Gauge(
          "sextant_inference_samples", "Samples logged to the inference set (processed or not yet)",
          {{"project", info.project}, {"run", info.run}, {"inference_set", s.split.inference_name}},
          static_cast<double>(s.samples));
    }
    if (info.generation <= 0) continue;  // never finished: no results yet
    auto cached = cache_.find(key);
    if (cached == cache_.end() || cached->second.generation != info.generation) {
      auto reader = RunReader::Open(root_, info.project, info.run);
      if (!reader.ok()) continue;  // removed or being replaced: the next scrape tries again
      auto text = (*reader)->SummaryJson();
      if (!text.ok()) continue;
      const json summary = json::parse(*text, nullptr, /*allow_exceptions=*/false);
      Cached figures;
      figures.generation = (*reader)->generation();
      const json* splits =
          summary.is_object() && summary.contains("splits") ? &summary["splits"] : nullptr;
      for (const SplitInfo& s : (*reader)->info().splits) {
        if (s.split.split != Split::kInference || splits == nullptr) continue;
        auto it = splits->find(s.split.ToString());
        if (it == splits->end() || !it->is_object()) continue;
        const json& split = *it;
        SetFigures f;
        f.name = s.split.inference_name;
        f.drifted_ratio = NumberAt(split, {"drifted", "fraction"});
        f.on_boundary_ratio = NumberAt(split, {"on_the_boundary", "fraction"});
        f.mean_confidence = NumberAt(split, {"mean_confidence"});
        f.domain_auc = NumberAt(split, {"domain_test", "auc"});
        f.shifted_ratio = NumberAt(split, {"domain_test", "shifted_share"});
        if (auto v = split.find("drift_verdict"); v != split.end() && v->is_object() &&
                                                  v->contains("drifted") &&
                                                  (*v)["drifted"].is_boolean()) {
          f.drift_detected = (*v)["drifted"].get<bool>();
        }
        figures.sets.push_back(std::move(f));
      }
      ++summaries_read_;
      cached = cache_.insert_or_assign(key, std::move(figures)).first;
    }
    for (const SetFigures& f : cached->second.sets) {
      const Labels labels = {
          {"project", info.project}, {"run", info.run}, {"inference_set", f.name}};
      auto gauge = [&](const char* name, const char* help, const std::optional<double>& v) {
        if (v) out.Gauge(name, help, labels, *v);
      };
      gauge("sextant_inference_drifted_ratio",
            "Share of the inference set's samples flagged as drifted (0 to 1) at the last finish",
            f.drifted_ratio);
      gauge("sextant_inference_domain_auc",
            "AUC of the domain classifier telling the inference set from the reference split "
            "(0.5: indistinguishable) at the last finish",
            f.domain_auc);
      gauge("sextant_inference_shifted_ratio",
            "Share of the inference set's samples above its shift threshold (0 to 1; about 0.05 "
            "for held-out data) at the last finish",
            f.shifted_ratio);
      gauge("sextant_inference_on_boundary_ratio",
            "Share of the inference set's samples on the decision boundary (0 to 1) at the last "
            "finish",
            f.on_boundary_ratio);
      gauge("sextant_inference_mean_confidence",
            "Mean confidence (top class probability) of the inference set at the last finish",
            f.mean_confidence);
      if (f.drift_detected) {
        gauge("sextant_inference_drift_detected",
              "1 when the drift test finds the inference set drifted at the last finish, else 0",
              *f.drift_detected ? 1.0 : 0.0);
      }
    }
  }
  // Runs removed since the last scrape.
  for (auto it = cache_.begin(); it != cache_.end();) {
    it = listed.count(it->first) ? std::next(it) : cache_.erase(it);
  }
  for (const auto& [project_status, n] : runs_per_status) {
    out.Gauge("sextant_runs", "Runs under the server's root, by project and status (ok, damaged)",
              {{"project", project_status.first}, {"status", project_status.second}},
              static_cast<double>(n));
  }
}

}  // namespace sextant::server
