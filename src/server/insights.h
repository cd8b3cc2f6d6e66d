// The console's derived views that need no HTTP: the insights panel (alerts
// computed from a split's stored summary against training's) and the 2-D map
// downsampled for a browser.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "server/sample_table.h"

namespace sextant::server {

struct InsightThresholds {
  double confidence_drop = 0.05;  // mean confidence per class, absolute
  double confidence_drop_critical = 0.15;
  double share_change = 0.10;  // predicted share per class, absolute
  double share_change_critical = 0.25;
};

// `split_summary` and `reference_summary` are stored split summaries
// (RunReader::SummaryJson(split)); the reference is training's. The answer is
// the `insights` object of docs/http-api.md.
nlohmann::ordered_json Insights(const nlohmann::json& split_summary,
                                const nlohmann::json& reference_summary,
                                const std::vector<std::string>& labels,
                                const InsightThresholds& thresholds = {});

struct MapBounds {
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  bool empty = true;
  void Add(double x, double y);
};
MapBounds Bounds(const std::vector<const SampleTable*>& tables);

// One split's points for the map: every point when at most `max_points`,
// else one point per occupied cell of a grid over `bounds` of at most
// `max_points` cells (the cell's first sample by row), with `count` the
// samples it stands for. Points without a map position are left out.
// With `match` (per row, 1: the sample matches the request's filters) the
// split gains "match", aligned with its points (1 when any sample the point
// stands for matches), and "matched" (the matching samples with a map position).
nlohmann::ordered_json MapSplitJson(const SampleTable& table, const MapBounds& bounds,
                                    int64_t max_points,
                                    const std::vector<uint8_t>* match = nullptr);

}  // namespace sextant::server
