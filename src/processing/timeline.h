// The run's timeline (docs/timeline.md): each inference set's monitoring
// metrics, in the order the sets happened, computed at finish and stored in
// the run summary so that reading a timeline never recomputes anything.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/run_store.h"

namespace sextant::processing {

// {"reference": {"training": ENTRY, "validation": ENTRY}, "sets": [ENTRY...]}:
// the sets in time order (ties and sets without a time: by name, last).
// `split_summaries` maps split keys to SummarizeSplit's JSON (with
// drift_verdict, domain_test and performance_estimate where computed);
// `splits` gives the per-sample values the intervals need.
nlohmann::ordered_json BuildTimeline(const nlohmann::ordered_json& split_summaries,
                                     const std::vector<store::SplitResults>& splits,
                                     const std::vector<std::string>& labels,
                                     const std::vector<store::InferenceSetTime>& times);

}  // namespace sextant::processing
