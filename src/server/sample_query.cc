#include "server/sample_query.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "common/strings.h"
#include "common/text_pattern.h"

namespace sextant::server {

namespace {

Result<int32_t> LabelIndex(const char* field, const std::string& name,
                           const std::vector<std::string>& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == name) return static_cast<int32_t>(i);
  }
  std::string all;
  for (const auto& l : labels) all += (all.empty() ? "" : ", ") + l;
  return Status::Invalid(std::string(field) + ": '" + name + "' is not one of the run's labels [" +
                         all + "]");
}

Result<std::vector<int32_t>> Labels(const char* field, const std::vector<std::string>& names,
                                    const std::vector<std::string>& labels) {
  std::vector<int32_t> out;
  for (const auto& n : names) {
    SEXTANT_ASSIGN_OR_RETURN(int32_t i, LabelIndex(field, n, labels));
    out.push_back(i);
  }
  return out;
}

Status CheckPage(SampleRequest& r) {
  if (r.offset < 0) return Status::Invalid("offset: must be at least 0");
  if (r.limit < 0 || r.limit > kMaxPageSize) {
    return Status::Invalid("limit: must be between 0 and " + std::to_string(kMaxPageSize) +
                           ", got " + std::to_string(r.limit));
  }
  const auto& fields = SortableFields();
  if (r.sort == "distance") {
    if (!r.filter.similar) {
      return Status::Invalid(
          "sort: 'distance' needs a similar-samples filter (similar_split and similar_id)");
    }
  } else if (std::find(fields.begin(), fields.end(), r.sort) == fields.end()) {
    std::string all;
    for (const auto& f : fields) all += (all.empty() ? "" : ", ") + f;
    if (r.filter.similar) all += ", distance";
    return Status::Invalid("sort: unknown field '" + r.sort + "'; expected one of: " + all);
  }
  if (r.filter.similar) {
    const SimilarTo& s = *r.filter.similar;
    if (s.id.empty()) return Status::Invalid("similar_id: required with similar_split");
    if (s.k < 1 || s.k > kMaxSimilarK) {
      return Status::Invalid("similar_k: must be between 1 and " + std::to_string(kMaxSimilarK) +
                             ", got " + std::to_string(s.k));
    }
  }
  for (const auto& [field, regex] :
       {std::pair{"text", &r.filter.text_regex}, std::pair{"premise", &r.filter.premise_regex},
        std::pair{"hypothesis", &r.filter.hypothesis_regex}}) {
    if (!*regex) continue;
    SEXTANT_RETURN_IF_ERROR(TextPattern::Compile(**regex, field).status());
  }
  if (!r.filter.polygon.empty() && r.filter.polygon.size() < 3) {
    return Status::Invalid("polygon: needs at least 3 points, got " +
                           std::to_string(r.filter.polygon.size()));
  }
  return Status::OK();
}

}  // namespace

Result<std::string> ParseOrder(const std::string& text) {
  if (text == "asc" || text == "desc") return text;
  return Status::Invalid("order: expected 'asc' or 'desc', got '" + text + "'");
}

namespace {
// The non-empty value of `key`, if any.
std::optional<std::string> NonEmptyParam(const Params& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end() || it->second.empty()) return std::nullopt;
  return it->second;
}
}  // namespace

Status ParseOptionalParam(const Params& params, const char* key, std::optional<bool>* out) {
  if (auto v = NonEmptyParam(params, key)) {
    SEXTANT_ASSIGN_OR_RETURN(*out, ParseBool(key, *v));
  }
  return Status::OK();
}

Status ParseOptionalParam(const Params& params, const char* key, std::optional<double>* out) {
  if (auto v = NonEmptyParam(params, key)) {
    SEXTANT_ASSIGN_OR_RETURN(*out, ParseDouble(key, *v));
  }
  return Status::OK();
}

bool SampleFilter::empty() const {
  return gold.empty() && pred.empty() && !min_confidence && !max_confidence && !min_dep &&
         !max_dep && !drifted && !on_boundary && !misclassified && !shifted && !min_shift &&
         !max_shift && !text_regex && !premise_regex && !hypothesis_regex && meta.empty() && !ids &&
         polygon.empty() && entity_types.empty() && !similar;
}

Result<bool> ParseBool(const std::string& field, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return Status::Invalid(field + ": expected 'true' or 'false', got '" + text + "'");
}

Result<double> ParseDouble(const std::string& field, const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  return Status::Invalid(field + ": expected a number, got '" + text + "'");
}

Result<int64_t> ParseInt(const std::string& field, const std::string& text) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size()) return static_cast<int64_t>(v);
  } catch (const std::exception&) {
  }
  return Status::Invalid(field + ": expected an integer, got '" + text + "'");
}

std::vector<std::string> ParamList(const Params& params, const std::string& key) {
  std::vector<std::string> out;
  auto [begin, end] = params.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    for (auto& item : SplitCommaList(it->second)) out.push_back(std::move(item));
  }
  return out;
}

Result<SampleRequest> ParseSampleParams(const Params& params,
                                        const std::vector<std::string>& labels) {
  SampleRequest r;
  auto one = [&](const std::string& key) -> std::optional<std::string> {
    auto it = params.find(key);
    if (it == params.end()) return std::nullopt;
    return it->second;
  };
  auto num = [&](const char* key, std::optional<double>& out) -> Status {
    if (auto v = one(key)) {
      SEXTANT_ASSIGN_OR_RETURN(out, ParseDouble(key, *v));
    }
    return Status::OK();
  };
  auto flag = [&](const char* key, std::optional<bool>& out) {
    return ParseOptionalParam(params, key, &out);
  };
  if (auto v = one("offset")) {
    SEXTANT_ASSIGN_OR_RETURN(r.offset, ParseInt("offset", *v));
  }
  if (auto v = one("limit")) {
    SEXTANT_ASSIGN_OR_RETURN(r.limit, ParseInt("limit", *v));
  }
  if (auto v = one("sort"); v && !v->empty()) r.sort = *v;
  if (auto v = one("order"); v && !v->empty()) {
    SEXTANT_ASSIGN_OR_RETURN(std::string o, ParseOrder(*v));
    r.descending = o == "desc";
  }
  SampleFilter& f = r.filter;
  if (auto v = one("text"); v && !v->empty()) f.text_regex = *v;
  if (auto v = one("premise"); v && !v->empty()) f.premise_regex = *v;
  if (auto v = one("hypothesis"); v && !v->empty()) f.hypothesis_regex = *v;
  SEXTANT_ASSIGN_OR_RETURN(f.gold, Labels("gold", ParamList(params, "gold"), labels));
  SEXTANT_ASSIGN_OR_RETURN(f.pred, Labels("pred", ParamList(params, "pred"), labels));
  SEXTANT_RETURN_IF_ERROR(num("min_confidence", f.min_confidence));
  SEXTANT_RETURN_IF_ERROR(num("max_confidence", f.max_confidence));
  SEXTANT_RETURN_IF_ERROR(num("min_dep", f.min_dep));
  SEXTANT_RETURN_IF_ERROR(num("max_dep", f.max_dep));
  SEXTANT_RETURN_IF_ERROR(flag("drifted", f.drifted));
  SEXTANT_RETURN_IF_ERROR(flag("shifted", f.shifted));
  SEXTANT_RETURN_IF_ERROR(num("min_shift", f.min_shift));
  SEXTANT_RETURN_IF_ERROR(num("max_shift", f.max_shift));
  SEXTANT_RETURN_IF_ERROR(flag("on_boundary", f.on_boundary));
  SEXTANT_RETURN_IF_ERROR(flag("misclassified", f.misclassified));
  // An empty list is no filter (as an absent one), not "no sample".
  if (auto ids = ParamList(params, "ids"); !ids.empty()) f.ids = std::move(ids);
  f.entity_types = ParamList(params, "entity_type");
  for (const auto& [key, value] : params) {
    if (key.rfind("meta.", 0) == 0 && key.size() > 5) f.meta.emplace_back(key.substr(5), value);
  }
  auto similar_split = one("similar_split"), similar_id = one("similar_id"),
       similar_k = one("similar_k");
  const bool has_split = similar_split && !similar_split->empty(),
             has_id = similar_id && !similar_id->empty();
  if (has_split || has_id || (similar_k && !similar_k->empty())) {
    if (!has_split) return Status::Invalid("similar_split: required with similar_id or similar_k");
    if (!has_id) return Status::Invalid("similar_id: required with similar_split");
    SimilarTo s;
    auto key = SplitKey::Parse(*similar_split);
    if (!key.ok()) return key.status().WithContext("similar_split");
    s.split = *key;
    s.id = *similar_id;
    if (similar_k && !similar_k->empty()) {
      SEXTANT_ASSIGN_OR_RETURN(int64_t k, ParseInt("similar_k", *similar_k));
      if (k < 1 || k > kMaxSimilarK) {
        return Status::Invalid("similar_k: must be between 1 and " + std::to_string(kMaxSimilarK) +
                               ", got " + *similar_k);
      }
      s.k = static_cast<int32_t>(k);
    }
    f.similar = std::move(s);
  }
  SEXTANT_RETURN_IF_ERROR(CheckPage(r));
  return r;
}

Result<SampleRequest> ParseSampleJson(const nlohmann::json& body,
                                      const std::vector<std::string>& labels) {
  if (!body.is_object()) return Status::Invalid("body: expected a JSON object");
  SampleRequest r;
  SampleFilter& f = r.filter;
  // Strings and numbers are accepted in either form, as in a query string.
  auto text = [](const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  auto names = [&](const nlohmann::json& v) {
    std::vector<std::string> out;
    if (v.is_array()) {
      for (const auto& e : v) out.push_back(text(e));
    } else if (!v.is_null()) {
      out = SplitCommaList(text(v));
    }
    return out;
  };
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = *it;
    if (v.is_null()) continue;
    if (key == "offset" || key == "limit") {
      if (!v.is_number_integer()) return Status::Invalid(key + ": expected an integer");
      (key == "offset" ? r.offset : r.limit) = v.get<int64_t>();
    } else if (key == "sort") {
      r.sort = text(v);
    } else if (key == "order") {
      SEXTANT_ASSIGN_OR_RETURN(std::string o, ParseOrder(text(v)));
      r.descending = o == "desc";
    } else if (key == "text") {
      if (!text(v).empty()) f.text_regex = text(v);
    } else if (key == "premise") {
      if (!text(v).empty()) f.premise_regex = text(v);
    } else if (key == "hypothesis") {
      if (!text(v).empty()) f.hypothesis_regex = text(v);
    } else if (key == "gold" || key == "pred") {
      SEXTANT_ASSIGN_OR_RETURN((key == "gold" ? f.gold : f.pred),
                               Labels(key.c_str(), names(v), labels));
    } else if (key == "min_confidence" || key == "max_confidence" || key == "min_dep" ||
               key == "max_dep" || key == "min_shift" || key == "max_shift") {
      double d = 0;
      if (v.is_number()) {
        d = v.get<double>();
      } else {
        SEXTANT_ASSIGN_OR_RETURN(d, ParseDouble(key, text(v)));
      }
      (key == "min_confidence"   ? f.min_confidence
       : key == "max_confidence" ? f.max_confidence
       : key == "min_dep"        ? f.min_dep
       : key == "max_dep"        ? f.max_dep
       : key == "min_shift"      ? f.min_shift
                                 : f.max_shift) = d;
    } else if (key == "drifted" || key == "on_boundary" || key == "misclassified" ||
               key == "shifted") {
      bool b = false;
      if (v.is_boolean()) {
        b = v.get<bool>();
      } else {
        SEXTANT_ASSIGN_OR_RETURN(b, ParseBool(key, text(v)));
      }
      (key == "drifted"       ? f.drifted
       : key == "on_boundary" ? f.on_boundary
       : key == "shifted"     ? f.shifted
                              : f.misclassified) = b;
    } else if (key == "ids") {
      if (auto ids = names(v); !ids.empty()) f.ids = std::move(ids);
    } else if (key == "entity_type") {
      f.entity_types = names(v);
    } else if (key == "meta") {
      if (!v.is_object()) return Status::Invalid("meta: expected an object {\"key\": \"value\"}");
      for (auto m = v.begin(); m != v.end(); ++m) f.meta.emplace_back(m.key(), text(*m));
    } else if (key.rfind("meta.", 0) == 0 && key.size() > 5) {
      f.meta.emplace_back(key.substr(5), text(v));
    } else if (key == "polygon") {
      if (!v.is_array()) return Status::Invalid("polygon: expected [[x, y], ...]");
      for (const auto& p : v) {
        if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number()) {
          return Status::Invalid("polygon: each point must be [x, y] with two numbers");
        }
        f.polygon.emplace_back(p[0].get<double>(), p[1].get<double>());
      }
    } else if (key == "similar") {
      // {"split": S, "id": ID, "k": K}
      if (!v.is_object()) {
        return Status::Invalid("similar: expected {\"split\": ..., \"id\": ..., \"k\": ...}");
      }
      SimilarTo s;
      if (!v.contains("split") || !v["split"].is_string()) {
        return Status::Invalid("similar.split: required, a split name");
      }
      auto split = SplitKey::Parse(v["split"].get<std::string>());
      if (!split.ok()) return split.status().WithContext("similar.split");
      s.split = *split;
      if (!v.contains("id") || !v["id"].is_string() || v["id"].get<std::string>().empty()) {
        return Status::Invalid("similar.id: required, a sample id");
      }
      s.id = v["id"].get<std::string>();
      if (v.contains("k") && !v["k"].is_null()) {
        if (!v["k"].is_number_integer() || v["k"].get<int64_t>() < 1 ||
            v["k"].get<int64_t>() > kMaxSimilarK) {
          return Status::Invalid("similar.k: must be an integer between 1 and " +
                                 std::to_string(kMaxSimilarK));
        }
        s.k = v["k"].get<int32_t>();
      }
      f.similar = std::move(s);
    } else if (key == "split" || key == "format" || key == "token") {
      // Routing fields handled by the caller.
    } else {
      return Status::Invalid("unknown field '" + key + "'");
    }
  }
  SEXTANT_RETURN_IF_ERROR(CheckPage(r));
  return r;
}

std::optional<SampleQuery> StoreQuery(const SplitKey& split, const SampleRequest& r,
                                      const std::vector<std::string>& labels, bool ner) {
  const SampleFilter& f = r.filter;
  // Filters the SQL path has with the table's meaning (NULL and NaN never
  // match a range; one class each); the others wait for the table. What is
  // left once these are taken out must be no filter at all: a filter added
  // later to SampleFilter (and to its empty()) waits for the table too.
  SampleFilter rest = f;
  rest.gold.clear();
  rest.pred.clear();
  for (auto* v : {&rest.min_confidence, &rest.max_confidence, &rest.min_dep, &rest.max_dep,
                  &rest.min_shift, &rest.max_shift}) {
    v->reset();
  }
  for (auto* v : {&rest.drifted, &rest.on_boundary, &rest.shifted}) v->reset();
  rest.ids.reset();
  if (!rest.empty() || f.gold.size() > 1 || f.pred.size() > 1 ||
      (f.ids && (f.ids->empty() || f.ids->size() > 500))) {
    return std::nullopt;
  }
  // NER: a sentence's class and confidence describe its spans (docs/ner-nli.md),
  // not a results column: only the order of rows, ids and texts, and ids.
  if (ner && (!f.gold.empty() || !f.pred.empty() || f.min_confidence || f.max_confidence ||
              f.min_dep || f.max_dep || f.min_shift || f.max_shift || f.drifted || f.on_boundary ||
              f.shifted || (r.sort != "row" && r.sort != "id" && r.sort != "text"))) {
    return std::nullopt;
  }
  // Sorts with the same order, ties by row ascending and NULLs first ascending
  // (RunReader::Samples orders by the column, then s.row).
  static const char* const kStoreSorts[] = {"row",         "id",
                                            "text",        "gold",
                                            "pred",        "confidence",
                                            "margin",      "certainty_ratio",
                                            "entropy",     "is_on_the_boundary",
                                            "epoch",       "aum",
                                            "dep",         "drift_distance",
                                            "drift_score", "is_drifted",
                                            "shift_score", "is_shifted"};
  if (std::find(std::begin(kStoreSorts), std::end(kStoreSorts), r.sort) == std::end(kStoreSorts)) {
    return std::nullopt;
  }
  SampleQuery q;
  q.split = split;
  if (!f.gold.empty()) q.gold_class = labels.at(static_cast<size_t>(f.gold[0]));
  if (!f.pred.empty()) q.pred_class = labels.at(static_cast<size_t>(f.pred[0]));
  q.min_confidence = f.min_confidence;
  q.max_confidence = f.max_confidence;
  q.min_dep = f.min_dep;
  q.max_dep = f.max_dep;
  q.is_drifted = f.drifted;
  q.is_on_the_boundary = f.on_boundary;
  q.is_shifted = f.shifted;
  q.min_shift = f.min_shift;
  q.max_shift = f.max_shift;
  if (f.ids) q.ids = *f.ids;
  q.sort_by = r.sort;
  q.descending = r.descending;
  q.offset = r.offset;
  q.limit = r.limit;
  return q;
}

bool PointInPolygon(double x, double y, const std::vector<std::pair<double, double>>& polygon) {
  bool inside = false;
  const size_t n = polygon.size();
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const auto [xi, yi] = polygon[i];
    const auto [xj, yj] = polygon[j];
    if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

std::vector<std::pair<uint32_t, double>> SimilarRows(const SampleTable& table,
                                                     const std::vector<Neighbor>& neighbors) {
  std::vector<std::pair<uint32_t, double>> out;
  for (const Neighbor& n : neighbors) {
    if (n.split != table.split()) continue;
    if (auto row = table.RowOf(n.id)) out.emplace_back(static_cast<uint32_t>(*row), n.distance);
  }
  return out;
}

Result<SamplePage> RunSampleQuery(const SampleTable& t, const SampleRequest& request) {
  const SampleFilter& f = request.filter;
  std::shared_ptr<const std::vector<uint32_t>> order;
  if (request.sort == "distance") {
    // The neighbours by distance (ties by row): the only rows that can match.
    auto hits = f.similar_rows;
    std::stable_sort(hits.begin(), hits.end(), [&](const auto& a, const auto& b) {
      if (a.second != b.second)
        return request.descending ? a.second > b.second : a.second < b.second;
      return a.first < b.first;
    });
    auto rows = std::make_shared<std::vector<uint32_t>>();
    for (const auto& [row, distance] : hits) rows->push_back(row);
    order = std::move(rows);
  } else {
    SEXTANT_ASSIGN_OR_RETURN(order, t.Order(request.sort, request.descending));
  }
  const int64_t n = t.size();
  // Filters that are costly per row become a bitmap first.
  std::vector<uint8_t> allowed;
  auto restrict = [&](auto keep) {
    if (allowed.empty()) allowed.assign(static_cast<size_t>(n), 1);
    for (int64_t r = 0; r < n; ++r) {
      if (allowed[r] && !keep(r)) allowed[r] = 0;
    }
  };
  if (f.ids) {
    std::vector<uint8_t> in(static_cast<size_t>(n), 0);
    for (const auto& id : *f.ids) {
      if (auto row = t.RowOf(id)) in[*row] = 1;
    }
    allowed = std::move(in);
  }
  if (f.similar) {
    std::vector<uint8_t> in(static_cast<size_t>(n), 0);
    for (const auto& [row, distance] : f.similar_rows) {
      if (row < in.size()) in[row] = 1;
    }
    if (allowed.empty()) {
      allowed = std::move(in);
    } else {
      for (size_t r = 0; r < in.size(); ++r) allowed[r] = allowed[r] && in[r];
    }
  }
  if (!f.polygon.empty()) {
    double x0 = f.polygon[0].first, x1 = x0, y0 = f.polygon[0].second, y1 = y0;
    for (const auto& [px, py] : f.polygon) {
      x0 = std::min(x0, px), x1 = std::max(x1, px), y0 = std::min(y0, py), y1 = std::max(y1, py);
    }
    restrict([&](int64_t r) {
      const double x = t.x[r], y = t.y[r];
      return x >= x0 && x <= x1 && y >= y0 && y <= y1 && PointInPolygon(x, y, f.polygon);
    });
  }
  if (!f.entity_types.empty()) {
    if (t.entity_types.empty()) {
      return Status::Invalid("entity_type: only NER runs have entity types");
    }
    uint64_t wanted = 0;
    for (const std::string& name : f.entity_types) {
      const uint64_t bit = t.EntityBit(name);
      if (bit == 0) {
        std::string all;
        for (const auto& e : t.entity_types) all += (all.empty() ? "" : ", ") + e;
        return Status::Invalid("entity_type: '" + name +
                               "' is not one of the run's entity types [" + all + "]");
      }
      wanted |= bit;
    }
    restrict([&](int64_t r) {
      return static_cast<size_t>(r) < t.entity_mask.size() && (t.entity_mask[r] & wanted) != 0;
    });
  }
  for (const auto& kv : f.meta) {
    auto column = t.MetaColumn(kv.first);
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& value = kv.second;
    restrict([&](int64_t r) { return (*column)[r] && *(*column)[r] == value; });
  }
  for (const auto& [field, regex] :
       {std::pair{"text", &f.text_regex}, std::pair{"premise", &f.premise_regex},
        std::pair{"hypothesis", &f.hypothesis_regex}}) {
    if (!*regex) continue;
    SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<uint8_t>> text,
                             t.TextMatches(**regex, field));
    restrict([&](int64_t r) { return (*text)[r] != 0; });
  }
  auto in_list = [](const std::vector<int32_t>& list, int32_t v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  auto matches = [&](uint32_t r) {
    if (!allowed.empty() && !allowed[r]) return false;
    if (!f.gold.empty() && !in_list(f.gold, t.gold[r])) return false;
    if (!f.pred.empty() && !in_list(f.pred, t.pred[r])) return false;
    if (f.min_confidence && !(t.confidence[r] >= *f.min_confidence)) return false;
    if (f.max_confidence && !(t.confidence[r] <= *f.max_confidence)) return false;
    if (f.min_dep && !(t.dep[r] >= *f.min_dep)) return false;  // NaN (no DEP) never matches
    if (f.max_dep && !(t.dep[r] <= *f.max_dep)) return false;
    if (f.drifted && t.drifted[r] != (*f.drifted ? 1 : 0)) return false;
    if (f.shifted && t.ShiftedAt(r) != (*f.shifted ? 1 : 0)) return false;
    // NaN (no shift score) never matches.
    if (f.min_shift && !(t.ShiftScoreAt(r) >= *f.min_shift)) return false;
    if (f.max_shift && !(t.ShiftScoreAt(r) <= *f.max_shift)) return false;
    if (f.on_boundary && (t.on_boundary[r] != 0) != *f.on_boundary) return false;
    if (f.misclassified) {
      if (t.gold[r] < 0) return false;
      if ((t.gold[r] != t.pred[r]) != *f.misclassified) return false;
    }
    return true;
  };
  SamplePage page;
  const int64_t begin = request.offset;
  const int64_t end = request.limit < 0 ? n : request.offset + request.limit;
  if (f.empty()) {
    page.total = n;
    for (int64_t i = begin; i < std::min(end, n); ++i) page.rows.push_back((*order)[i]);
    return page;
  }
  // Matching goes over the order's rows (all of them, or the neighbours by distance).
  for (uint32_t r : *order) {
    if (!matches(r)) continue;
    if (page.total >= begin && page.total < end) page.rows.push_back(r);
    page.total++;
  }
  return page;
}

}  // namespace sextant::server
