// The console's sample queries: filters, sort and page parsed from a request's
// query string or JSON body (docs/http-api.md, "Samples"), and run on a
// SampleTable. Independent of HTTP.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/sample_table.h"

namespace sextant::server {

// A request's query parameters; a key may repeat.
using Params = std::multimap<std::string, std::string>;

struct SampleFilter {
  std::vector<int32_t> gold, pred;  // label indexes; any of them (empty: no filter)
  std::optional<double> min_confidence, max_confidence, min_dep, max_dep;
  std::optional<bool> drifted, on_boundary, misclassified;
  std::optional<bool> shifted;                                 // the per-sample shift flag
  std::optional<double> min_shift, max_shift;                  // the shift score
  std::optional<std::string> text_regex;                       // RE2, case-insensitive search
  std::optional<std::string> premise_regex, hypothesis_regex;  // NLI runs
  std::vector<std::pair<std::string, std::string>> meta;       // key = value, all of them
  std::optional<std::vector<std::string>> ids;                 // only these ids
  std::vector<std::pair<double, double>> polygon;              // a lasso on the map (>= 3 points)
  // NER: sentences with a predicted or gold span of one of these entity types
  // (checked against the run's types when the query runs; 400 on other runs).
  std::vector<std::string> entity_types;

  bool empty() const;
};

struct SampleRequest {
  SampleFilter filter;
  std::string sort = "row";
  bool descending = false;
  int64_t offset = 0;
  int64_t limit = 50;
};

inline constexpr int64_t kMaxPageSize = 1000;

// Parses the filter parameters (and sort/order/offset/limit) of a query string.
// Labels are the run's, to check class names.
Result<SampleRequest> ParseSampleParams(const Params& params,
                                        const std::vector<std::string>& labels);
// The same from a JSON object (POST .../samples/query, selection filters).
Result<SampleRequest> ParseSampleJson(const nlohmann::json& body,
                                      const std::vector<std::string>& labels);

// The rows that match, in the requested order.
struct SamplePage {
  int64_t total = 0;
  std::vector<uint32_t> rows;  // at most `limit`, from `offset`
};
// limit < 0: every matching row.
Result<SamplePage> RunSampleQuery(const SampleTable& table, const SampleRequest& request);

// Even-odd point-in-polygon test.
bool PointInPolygon(double x, double y, const std::vector<std::pair<double, double>>& polygon);

// Parses "true"/"false"/"1"/"0"; Invalid naming the field otherwise.
Result<bool> ParseBool(const std::string& field, const std::string& text);
Result<double> ParseDouble(const std::string& field, const std::string& text);
Result<int64_t> ParseInt(const std::string& field, const std::string& text);
// "asc" or "desc"; Invalid naming `order` otherwise.
Result<std::string> ParseOrder(const std::string& text);
// The parameter `key` parsed into `out` when present and not empty; left unset otherwise.
Status ParseOptionalParam(const Params& params, const char* key, std::optional<bool>* out);
Status ParseOptionalParam(const Params& params, const char* key, std::optional<double>* out);
// "a,b" and repeated keys, flattened; empty items dropped.
std::vector<std::string> ParamList(const Params& params, const std::string& key);

}  // namespace sextant::server
