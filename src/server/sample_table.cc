#include "server/sample_table.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

#include "common/request_budget.h"
#include "common/text_pattern.h"

namespace sextant::server {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kLoadChunk = 200000;

double Opt(const std::optional<double>& v) { return v ? *v : kNaN; }

}  // namespace

const std::vector<std::string>& SortableFields() {
  static const std::vector<std::string> kFields = {"row",
                                                   "id",
                                                   "text",
                                                   "gold",
                                                   "pred",
                                                   "confidence",
                                                   "margin",
                                                   "certainty_ratio",
                                                   "entropy",
                                                   "is_on_the_boundary",
                                                   "epoch",
                                                   "aum",
                                                   "dep",
                                                   "drift_distance",
                                                   "drift_score",
                                                   "is_drifted",
                                                   "shift_score",
                                                   "is_shifted",
                                                   "is_correct",
                                                   "span_errors",
                                                   "pred_spans_count",
                                                   "min_span_confidence",
                                                   "x",
                                                   "y"};
  return kFields;
}

namespace {

// The NER fields of a sample as the API returns them (docs/ner-nli.md).
std::string SpanFieldsJson(const SampleRow& r) {
  nlohmann::ordered_json j;
  nlohmann::ordered_json tokens = nlohmann::ordered_json::array();
  for (const CharRange& t : r.tokens) tokens.push_back({t.start, t.end});
  j["tokens"] = std::move(tokens);
  auto marks = [](const std::vector<SpanMark>& list) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const SpanMark& m : list) {
      out.push_back({{"start", m.start},
                     {"end", m.end},
                     {"label", m.label},
                     {"error_type", m.error_type ? nlohmann::ordered_json(*m.error_type)
                                                 : nlohmann::ordered_json(nullptr)},
                     {"span_row", m.span_row}});
    }
    return out;
  };
  j["gold_spans"] =
      IsLabeled(r.split.split) ? marks(r.gold_spans) : nlohmann::ordered_json(nullptr);
  j["pred_spans"] = marks(r.pred_spans);
  // The sentence's fields (null for runs finished before them); these keys replace the
  // sample's own in the API's answer, so pred names the predicted entity types.
  auto opt = [](const auto& v) {
    return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
  };
  j["span_errors"] = opt(r.span_errors);
  j["pred_spans_count"] = opt(r.pred_spans_count);
  j["min_span_confidence"] = opt(r.min_span_confidence);
  if (r.pred_spans_count) j["pred"] = r.pred;
  return j.dump();
}

}  // namespace

Result<std::unique_ptr<SampleTable>> SampleTable::Load(const RunReader& reader,
                                                       const SplitKey& split,
                                                       const std::function<bool()>& cancel) {
  return LoadRows(reader, split, nullptr, cancel);
}

Result<std::unique_ptr<SampleTable>> SampleTable::LoadPage(const RunReader& reader,
                                                           const SampleQuery& query) {
  return LoadRows(reader, query.split, &query, {});
}

Result<std::unique_ptr<SampleTable>> SampleTable::LoadRows(const RunReader& reader,
                                                           const SplitKey& split,
                                                           const SampleQuery* page,
                                                           const std::function<bool()>& cancel) {
  auto t = std::make_unique<SampleTable>();
  t->split_ = split;
  t->entity_types = reader.entity_types();
  const auto& labels = reader.info().labels;
  std::unordered_map<std::string, int32_t> label_index;
  for (size_t i = 0; i < labels.size(); ++i) label_index[labels[i]] = static_cast<int32_t>(i);
  // Pages in row order; each page is a range of rows (the query sorts by row).
  // A `page` query is read as it is, once.
  for (int64_t offset = 0;; offset += kLoadChunk) {
    if (cancel && cancel()) return Status::Unavailable("the table's load was called off");
    SampleQuery q;
    if (page) {
      q = *page;
    } else {
      q.split = split;
      q.offset = offset;
      q.limit = kLoadChunk;
    }
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, reader.Samples(q));
    for (SampleRow& r : rows) {
      if (page) {
        t->stored_row.push_back(r.row);
      } else if (r.row != t->size()) {
        return Status::Internal("samples of split '" + split.ToString() +
                                "' are not contiguous at row " + std::to_string(r.row));
      }
      t->id.push_back(std::move(r.id));
      t->text.push_back(std::move(r.text));
      t->meta_json.push_back(std::move(r.meta_json));
      t->gold.push_back(r.gold ? label_index.at(*r.gold) : -1);
      // An NER sentence's pred names its entity types ("PER, LOC"): no label index then.
      auto pred_index = label_index.find(r.pred);
      t->pred.push_back(pred_index == label_index.end() ? -1 : pred_index->second);
      t->epoch.push_back(r.epoch);
      t->confidence.push_back(r.confidence);
      t->margin.push_back(r.margin);
      t->certainty_ratio.push_back(r.certainty_ratio);
      t->entropy.push_back(r.entropy);
      t->aum.push_back(Opt(r.aum));
      t->dep.push_back(Opt(r.dep));
      t->drift_distance.push_back(Opt(r.drift_distance));
      t->drift_score.push_back(Opt(r.drift_score));
      t->x.push_back(r.x ? static_cast<float>(*r.x) : std::numeric_limits<float>::quiet_NaN());
      t->y.push_back(r.y ? static_cast<float>(*r.y) : std::numeric_limits<float>::quiet_NaN());
      t->on_boundary.push_back(r.is_on_the_boundary ? 1 : 0);
      t->drifted.push_back(r.is_drifted ? static_cast<int8_t>(*r.is_drifted) : int8_t{-1});
      t->shift_score.push_back(Opt(r.shift_score));
      t->shifted.push_back(r.is_shifted ? static_cast<int8_t>(*r.is_shifted) : int8_t{-1});
      if (r.premise) {
        t->premise.push_back(std::move(*r.premise));
        t->hypothesis.push_back(r.hypothesis.value_or(""));
      }
      if (!r.tokens.empty()) {
        t->spans_json.push_back(SpanFieldsJson(r));
        auto num = [](const auto& v) { return v ? static_cast<double>(*v) : kNaN; };
        t->span_errors.push_back(num(r.span_errors));
        t->pred_spans_count.push_back(num(r.pred_spans_count));
        t->min_span_confidence.push_back(num(r.min_span_confidence));
        uint64_t mask = 0;
        for (const auto* list : {&r.gold_spans, &r.pred_spans}) {
          for (const SpanMark& m : *list) mask |= t->EntityBit(m.label);
        }
        t->entity_mask.push_back(mask);
      }
    }
    if (page || static_cast<int64_t>(rows.size()) < kLoadChunk) break;
  }
  t->Finalize(split);
  return t;
}

void SampleTable::Finalize(const SplitKey& split) {
  split_ = split;
  row_of_.clear();
  row_of_.reserve(id.size());
  for (size_t r = 0; r < id.size(); ++r) row_of_.emplace(id[r], static_cast<uint32_t>(r));
  has_map_ = false;
  for (size_t r = 0; r < x.size() && !has_map_; ++r) has_map_ = !std::isnan(x[r]);
}

uint64_t SampleTable::EntityBit(const std::string& name) const {
  for (size_t i = 0; i < entity_types.size(); ++i) {
    if (entity_types[i] == name) return uint64_t{1} << std::min<size_t>(i, 63);
  }
  return 0;
}

std::optional<int64_t> SampleTable::RowOf(const std::string& sample_id) const {
  auto it = row_of_.find(sample_id);
  if (it == row_of_.end()) return std::nullopt;
  return it->second;
}

namespace {

// Sorts rows by a numeric key (NaN = NULL, smallest), ties by row.
template <typename Key>
std::vector<uint32_t> SortBy(int64_t n, Key key, bool descending) {
  std::vector<uint32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const double ka = key(a), kb = key(b);
    const bool na = std::isnan(ka), nb = std::isnan(kb);
    if (na || nb) {
      // SQLite: NULLs first ascending, last descending.
      if (na && nb) return false;
      return descending ? nb : na;
    }
    return descending ? ka > kb : ka < kb;
  });
  return order;
}

}  // namespace

Result<std::shared_ptr<const std::vector<uint32_t>>> SampleTable::Order(const std::string& field,
                                                                        bool descending) const {
  const auto& fields = SortableFields();
  if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
    std::string all;
    for (const auto& f : fields) all += (all.empty() ? "" : ", ") + f;
    return Status::Invalid("sort: unknown field '" + field + "'; expected one of: " + all);
  }
  {
    std::lock_guard lock(mu_);
    auto it = orders_.find({field, descending});
    if (it != orders_.end()) return it->second;
  }
  const int64_t n = size();
  auto num = [&](const auto& column) {
    return SortBy(
        n, [&](uint32_t r) { return static_cast<double>(column[r]); }, descending);
  };
  auto nullable_int = [&](const auto& column) {
    return SortBy(
        n, [&](uint32_t r) { return column[r] < 0 ? kNaN : static_cast<double>(column[r]); },
        descending);
  };
  std::vector<uint32_t> order;
  if (field == "row") {
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0u);
    if (descending) std::reverse(order.begin(), order.end());
  } else if (field == "id" || field == "text") {
    const auto& column = field == "id" ? id : text;
    order.resize(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return descending ? column[a] > column[b] : column[a] < column[b];
    });
  } else if (field == "gold") {
    order = nullable_int(gold);
  } else if (field == "pred") {
    order = num(pred);
  } else if (field == "epoch") {
    order = num(epoch);
  } else if (field == "confidence") {
    order = num(confidence);
  } else if (field == "margin") {
    order = num(margin);
  } else if (field == "certainty_ratio") {
    order = num(certainty_ratio);
  } else if (field == "entropy") {
    order = num(entropy);
  } else if (field == "is_on_the_boundary") {
    order = num(on_boundary);
  } else if (field == "aum") {
    order = num(aum);
  } else if (field == "dep") {
    order = num(dep);
  } else if (field == "drift_distance") {
    order = num(drift_distance);
  } else if (field == "drift_score") {
    order = num(drift_score);
  } else if (field == "is_drifted") {
    order = nullable_int(drifted);
  } else if (field == "shift_score") {
    order = SortBy(
        n, [&](uint32_t r) { return ShiftScoreAt(r); }, descending);
  } else if (field == "is_shifted") {
    order = SortBy(
        n, [&](uint32_t r) { return ShiftedAt(r) < 0 ? kNaN : static_cast<double>(ShiftedAt(r)); },
        descending);
  } else if (field == "is_correct") {
    order = SortBy(
        n, [&](uint32_t r) { return gold[r] < 0          ? kNaN
                                    : gold[r] == pred[r] ? 1.0
                                                         : 0.0; },
        descending);
  } else if (field == "span_errors" || field == "pred_spans_count" ||
             field == "min_span_confidence") {
    const std::vector<double>& column = field == "span_errors"        ? span_errors
                                        : field == "pred_spans_count" ? pred_spans_count
                                                                      : min_span_confidence;
    order = SortBy(
        n, [&](uint32_t r) { return At(column, r); }, descending);
  } else if (field == "x") {
    order = num(x);
  } else {
    order = num(y);
  }
  auto shared = std::make_shared<const std::vector<uint32_t>>(std::move(order));
  std::lock_guard lock(mu_);
  orders_.emplace(std::make_pair(field, descending), shared);
  return shared;
}

std::shared_ptr<const std::vector<std::optional<std::string>>> SampleTable::MetaColumn(
    const std::string& key) const {
  {
    std::lock_guard lock(mu_);
    auto it = meta_columns_.find(key);
    if (it != meta_columns_.end()) return it->second;
  }
  auto column = std::make_shared<std::vector<std::optional<std::string>>>(meta_json.size());
  for (size_t r = 0; r < meta_json.size(); ++r) {
    if (meta_json[r].size() <= 2) continue;  // "{}"
    auto j = nlohmann::json::parse(meta_json[r], nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    (*column)[r] = it->is_string() ? it->get<std::string>() : it->dump();
  }
  std::lock_guard lock(mu_);
  meta_columns_.emplace(key, column);
  return column;
}

Result<std::shared_ptr<const std::vector<uint8_t>>> SampleTable::TextMatches(
    const std::string& pattern, const std::string& field) const {
  const std::vector<std::string>& column = field == "premise"      ? premise
                                           : field == "hypothesis" ? hypothesis
                                                                   : text;
  const std::string key = field + "\n" + pattern;
  {
    std::lock_guard lock(mu_);
    for (auto it = text_matches_.begin(); it != text_matches_.end(); ++it) {
      if (it->first != key) continue;
      auto hit = *it;
      text_matches_.erase(it);
      text_matches_.push_back(hit);
      return hit.second;
    }
  }
  SEXTANT_ASSIGN_OR_RETURN(TextPattern re, TextPattern::Compile(pattern, field));
  // A run without the field (a premise filter on a text-classification run) matches nothing.
  auto matches = std::make_shared<std::vector<uint8_t>>(text.size(), uint8_t{0});
  constexpr size_t kRowsPerBudgetCheck = 256;
  for (size_t r = 0; r < column.size() && r < text.size(); ++r) {
    if (r % kRowsPerBudgetCheck == 0) {
      SEXTANT_RETURN_IF_ERROR(CheckRequestBudget("the " + field + " search"));
    }
    (*matches)[r] = re.Search(column[r]) ? 1 : 0;
  }
  std::lock_guard lock(mu_);
  text_matches_.emplace_back(key, matches);
  if (text_matches_.size() > 8) text_matches_.erase(text_matches_.begin());
  return std::shared_ptr<const std::vector<uint8_t>>(matches);
}

}  // namespace sextant::server
