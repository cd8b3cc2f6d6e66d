// `sextant timeline`: a run's timeline (docs/timeline.md) as a table, CSV or JSON.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sextant/status.h"

namespace sextant::cli {

struct TimelineView {
  // Metric names of an entry's `metrics` (or, with `label`, of its
  // `per_class.<label>`; docs/timeline.md); empty: the default columns.
  std::vector<std::string> metrics;
  std::string label;             // per-class metrics of this class
  std::string format = "table";  // table, csv or json
  bool references = true;        // training and validation rows first (table, csv)
};

// Renders RunReader::TimelineJson(). InvalidArgument naming --metric or
// --class for a name the timeline does not have.
Status WriteTimeline(const std::string& timeline_json, const TimelineView& view, std::ostream& out);

}  // namespace sextant::cli
