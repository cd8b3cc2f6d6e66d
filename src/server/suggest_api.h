// GET /api/runs/{project}/{run}/suggest (docs/http-api.md, "Label
// suggestions"): which samples of a split to label next, with their reasons
// (sextant/suggest.h).
#pragma once

#include "server/api.h"
#include "server/sample_query.h"
#include "sextant/suggest.h"

namespace sextant::server {

// The most a request may ask for (bounds the greedy strategies' work).
inline constexpr int64_t kMaxSuggestBudget = 100000;

// split (required: inference with inference_name, inference:NAME, validation
// or test), budget (default 100), strategy, class, per_class, seed; Invalid
// naming the parameter otherwise.
Result<suggest::SuggestOptions> ParseSuggestParams(const Params& params);

// The route's handler: read access, the run's reader.
Result<ApiResponse> HandleSuggest(const RunReader& reader, const ApiRequest& req);

}  // namespace sextant::server
