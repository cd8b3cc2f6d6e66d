// Suggestions for a labeling tool (docs/labeling-tools.md): `sextant suggest
// --format labelstudio|argilla` and GET .../suggest?format=labelstudio|argilla.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "io/label_formats.h"
#include "sextant/results.h"

namespace sextant::suggest {

// The suggestions of `answer` (SuggestResultJson's) with each sample's
// metadata read from the run, as Label Studio tasks or Argilla records (each
// carrying its rank, suggest_score and reasons). Invalid for csv / jsonl.
Result<std::string> SuggestionsForLabeling(const RunReader& reader,
                                           const nlohmann::ordered_json& answer,
                                           io::ExportFormat format);

}  // namespace sextant::suggest
