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

// similar_split / similar_id / similar_k: the K nearest neighbours of a sample,
// searched in the requested split (docs/http-api.md, "Samples").
struct SimilarTo {
  SplitKey split;
  std::string id;
  int32_t k = 50;
};
inline constexpr int32_t kDefaultSimilarK = 50;
inline constexpr int32_t kMaxSimilarK = 1000;

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
  std::optional<SimilarTo> similar;  // nearest neighbours of a sample
  // The neighbours of `similar` resolved to this split's rows with their
  // distances (ResolveSimilar, by the caller that has the run's index).
  std::vector<std::pair<uint32_t, double>> similar_rows;

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
// limit < 0: every matching row. With a `similar` filter, `similar_rows` must
// be resolved first; sort "distance" orders by them.
Result<SamplePage> RunSampleQuery(const SampleTable& table, const SampleRequest& request);

// The rows and distances of `neighbors` (RunReader::Similar's answer) in `table`.
std::vector<std::pair<uint32_t, double>> SimilarRows(const SampleTable& table,
                                                     const std::vector<Neighbor>& neighbors);

// The request as a query of the store (RunReader::Samples and Count), when
// the store's SQL gives exactly the table's answer (the same filters' meaning,
// the same order with ties by row), else nullopt: how a page is answered
// before its split's table is loaded (docs/architecture.md, "Sample tables").
// `ner`: an NER run, whose sentences' classes and confidences the store's
// columns do not hold as the table does.
std::optional<SampleQuery> StoreQuery(const SplitKey& split, const SampleRequest& request,
                                      const std::vector<std::string>& labels, bool ner = false);

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
