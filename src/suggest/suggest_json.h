// Suggestions as JSON, one shape for the HTTP API, the CLI and Python
// (docs/http-api.md, "Label suggestions").
#pragma once

#include <nlohmann/json.hpp>

#include "sextant/results.h"
#include "sextant/suggest.h"

namespace sextant::suggest {

// {"strategy","budget","split","inference_name","pool","excluded_duplicates",
//  "took_ms","suggestions":[{"id","split","row","rank","score","reasons","scores",
//  "text","pred","confidence","margin","drift_score","is_drifted","shift_score",
//  "is_shifted"(, "premise","hypothesis" for NLI)}]}; the samples' fields are
// read back from the run. `split` is "inference" (the name in inference_name)
// and each suggestion's split is the split's key ("inference:NAME"), as
// selections take it.
Result<nlohmann::ordered_json> SuggestResultJson(const RunReader& reader,
                                                 const SuggestOptions& options,
                                                 const SuggestResult& result, double took_ms);

}  // namespace sextant::suggest
