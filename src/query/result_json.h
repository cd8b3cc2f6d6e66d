// The one JSON encoding of each result type of results.h, shared by the CLI
// (`sextant samples/spans/runs/similar`), the HTTP API (docs/http-api.md) and
// the Python bindings (list_runs): a field is named, ordered and encoded here
// and nowhere else. The server's columnar SampleTable has its own encoder
// (server/encode.h), since it holds no SampleRow.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sextant/results.h"
#include "sextant/status.h"

namespace sextant {

// How a row names its split: the CLI's files keep the split and the inference
// set's name in two columns; the HTTP API writes the split key.
enum class SplitField {
  kNameAndInferenceName,  // "split": "inference", "inference_name": "prod" (null otherwise)
  kKey,                   // "split": "inference:prod"
};

// The fields SampleRowToJson always writes, in order (the columns of
// `sextant samples`); NLI, NER and probability fields follow when present.
const std::vector<std::string>& SampleRowFields();
// `labels` names the probabilities (SampleQuery::include_probs); "probs" is
// written only when the row has them.
nlohmann::ordered_json SampleRowToJson(const SampleRow& row,
                                       const std::vector<std::string>& labels);

// The fields of SpanRowToJson, in order.
const std::vector<std::string>& SpanRowFields(SplitField split_field);
nlohmann::ordered_json SpanRowToJson(const SpanRow& row, SplitField split_field);

nlohmann::ordered_json SplitInfoToJson(const SplitInfo& info);
// Every field, "error" null for a sound run.
nlohmann::ordered_json RunInfoToJson(const RunInfo& info);

// {"id", "split" (key), "distance"}.
nlohmann::ordered_json NeighborToJson(const Neighbor& neighbor);

// `full`'s fields named in `fields`, in that order (null for one it lacks): a
// narrower view of a row encoded above.
nlohmann::ordered_json SelectFields(const nlohmann::ordered_json& full,
                                    const std::vector<std::string>& fields);

// One column of an export with chosen columns (`sextant export --columns`,
// GET .../export?columns=): a field of the encoded sample, or `meta.KEY` (one
// metadata field); null where the sample has none.
nlohmann::ordered_json ExportColumn(const nlohmann::ordered_json& sample,
                                    const std::string& column);
// Invalid, prefixed by `field` ("columns", "--columns"), naming the first column
// that is neither a field of `example` (an encoded sample), nor `meta.KEY`, nor
// one of `extra`, and listing the known ones.
Status CheckExportColumns(const std::vector<std::string>& columns,
                          const nlohmann::ordered_json& example,
                          const std::vector<std::string>& extra, const std::string& field);

}  // namespace sextant
