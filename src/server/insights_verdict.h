// What GET .../insights adds for a console that links and explains
// (docs/http-api.md, "Insights"): the split's verdict in words (the same text
// as `sextant report`, query/verdict.h) and, on every alert, the samples-API
// filter selecting the samples it is about and its split.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sextant::server {

// The samples-API filter (the JSON keys of POST .../samples/query) of one
// insights alert: data_drift -> {"drifted": true}, distribution_shift ->
// {"shifted": true}, a class alert -> {"pred": [label]} (NER alerts of an
// entity type -> {"entity_type": [type]}); {} for an alert about the whole set.
nlohmann::ordered_json AlertFilter(const nlohmann::ordered_json& alert);

// The run summary's text (RunReader::SummaryJson()) parsed without its split
// summaries, comparisons and timeline (cheap on runs with many splits), with
// `split_summary` as its one split: what SplitVerdict reads.
nlohmann::ordered_json RunSummaryForVerdict(const std::string& run_summary_text,
                                            const std::string& split,
                                            const nlohmann::ordered_json& split_summary);

// Adds `filter` and `split` to every alert of `insights` (the Insights()
// object) and its `verdict` from the run summary (RunReader::SummaryJson()).
void AddVerdictAndAlertFilters(const nlohmann::ordered_json& run_summary, const std::string& split,
                               nlohmann::ordered_json* insights);

}  // namespace sextant::server
