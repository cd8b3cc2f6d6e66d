// The per project and inference set figures of `GET /metrics`
// (docs/team-server.md, "Metrics"), computed at scrape time from the runs under
// the root: how much of each inference set drifted, its domain-test AUC, its
// on-boundary share, its mean confidence and how many samples it holds.
//
// A scrape lists the runs (ListRuns: each run's database, no results files)
// and reads a run's summary only when its committed results generation has
// changed since the last scrape: the figures are kept per run and generation.
//
// Thread-safe: concurrent scrapes take turns.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/metrics.h"

namespace sextant::server {

class RunMetrics {
 public:
  explicit RunMetrics(std::filesystem::path root) : root_(std::move(root)) {}

  // Writes the gauges of every run under the root (a collector for
  // MetricsRegistry::AddCollector).
  void Collect(MetricsWriter& out);

  // Summaries read since construction (each run once per results generation).
  int64_t summaries_read() const;

 private:
  // One inference set's figures in the committed summary; empty where the
  // summary has none (e.g. no domain test without a validation or test split).
  struct SetFigures {
    std::string name;
    std::optional<double> drifted_ratio, domain_auc, on_boundary_ratio, mean_confidence;
    std::optional<double> shifted_ratio;  // domain_test.shifted_share
    std::optional<bool> drift_detected;
  };
  struct Cached {
    int64_t generation = 0;
    std::vector<SetFigures> sets;
  };

  std::filesystem::path root_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Cached> cache_;
  int64_t summaries_read_ = 0;
};

}  // namespace sextant::server
