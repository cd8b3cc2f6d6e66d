#include "query/result_json.h"

#include <algorithm>

namespace sextant {

using ordered_json = nlohmann::ordered_json;

namespace {

template <typename T>
ordered_json Opt(const std::optional<T>& v) {
  return v ? ordered_json(*v) : ordered_json(nullptr);
}

void PutSplit(const SplitKey& split, SplitField style, ordered_json* j) {
  if (style == SplitField::kKey) {
    (*j)["split"] = split.ToString();
    return;
  }
  (*j)["split"] = SplitName(split.split);
  (*j)["inference_name"] =
      split.split == Split::kInference ? ordered_json(split.inference_name) : ordered_json(nullptr);
}

}  // namespace

const std::vector<std::string>& SampleRowFields() {
  static const std::vector<std::string> kFields = {"id",
                                                   "split",
                                                   "inference_name",
                                                   "row",
                                                   "text",
                                                   "gold",
                                                   "pred",
                                                   "is_correct",
                                                   "confidence",
                                                   "margin",
                                                   "certainty_ratio",
                                                   "entropy",
                                                   "is_on_the_boundary",
                                                   "aum",
                                                   "dep",
                                                   "drift_distance",
                                                   "drift_score",
                                                   "is_drifted",
                                                   "shift_score",
                                                   "is_shifted",
                                                   "x",
                                                   "y",
                                                   "epoch",
                                                   "meta"};
  return kFields;
}

ordered_json SampleRowToJson(const SampleRow& r, const std::vector<std::string>& labels) {
  ordered_json j;
  j["id"] = r.id;
  PutSplit(r.split, SplitField::kNameAndInferenceName, &j);
  j["row"] = r.row;
  j["text"] = r.text;
  j["gold"] = Opt(r.gold);
  j["pred"] = r.pred;
  j["is_correct"] = Opt(r.is_correct);
  j["confidence"] = r.confidence;
  j["margin"] = r.margin;
  j["certainty_ratio"] = r.certainty_ratio;
  j["entropy"] = r.entropy;
  j["is_on_the_boundary"] = r.is_on_the_boundary;
  j["aum"] = Opt(r.aum);
  j["dep"] = Opt(r.dep);
  j["drift_distance"] = Opt(r.drift_distance);
  j["drift_score"] = Opt(r.drift_score);
  j["is_drifted"] = Opt(r.is_drifted);
  j["shift_score"] = Opt(r.shift_score);
  j["is_shifted"] = Opt(r.is_shifted);
  j["x"] = Opt(r.x);
  j["y"] = Opt(r.y);
  j["epoch"] = r.epoch;
  j["meta"] = ordered_json::parse(r.meta_json.empty() ? "{}" : r.meta_json);
  if (r.premise) {
    j["premise"] = *r.premise;
    j["hypothesis"] = Opt(r.hypothesis);
  }
  if (!r.tokens.empty()) {
    ordered_json tokens = ordered_json::array();
    for (const CharRange& t : r.tokens) tokens.push_back({t.start, t.end});
    j["text_token_indices"] = tokens;
    auto marks = [](const std::vector<SpanMark>& list) {
      ordered_json out = ordered_json::array();
      for (const SpanMark& m : list) {
        out.push_back({{"start", m.start},
                       {"end", m.end},
                       {"label", m.label},
                       {"error_type", Opt(m.error_type)},
                       {"span_row", m.span_row}});
      }
      return out;
    };
    j["gold_spans"] = IsLabeled(r.split.split) ? marks(r.gold_spans) : ordered_json(nullptr);
    j["pred_spans"] = marks(r.pred_spans);
    // The sentence's fields (docs/ner-nli.md); null for runs finished before them.
    j["span_errors"] = Opt(r.span_errors);
    j["pred_spans_count"] = Opt(r.pred_spans_count);
    j["min_span_confidence"] = Opt(r.min_span_confidence);
  }
  if (!r.probs.empty()) {
    ordered_json probs = ordered_json::object();
    for (size_t i = 0; i < r.probs.size() && i < labels.size(); ++i) probs[labels[i]] = r.probs[i];
    j["probs"] = probs;
  }
  return j;
}

const std::vector<std::string>& SpanRowFields(SplitField split_field) {
  static const std::vector<std::string> kWithName = {
      "sample_id",   "split",      "inference_name",     "span_row", "sample_row",
      "span_start",  "span_end",   "span_text",          "gold",     "pred",
      "error_type",  "confidence", "certainty_ratio",    "dep",      "drift_distance",
      "drift_score", "is_drifted", "is_on_the_boundary", "x",        "y"};
  static const std::vector<std::string> kWithKey = [] {
    std::vector<std::string> f = kWithName;
    f.erase(f.begin() + 2);  // inference_name
    return f;
  }();
  return split_field == SplitField::kKey ? kWithKey : kWithName;
}

ordered_json SpanRowToJson(const SpanRow& r, SplitField split_field) {
  ordered_json j;
  j["sample_id"] = r.sample_id;
  PutSplit(r.split, split_field, &j);
  j["span_row"] = r.span_row;
  j["sample_row"] = r.sample_row;
  j["span_start"] = r.span_start;
  j["span_end"] = r.span_end;
  j["span_text"] = r.span_text;
  j["gold"] = Opt(r.gold);
  j["pred"] = Opt(r.pred);
  j["error_type"] = Opt(r.error_type);
  j["confidence"] = r.confidence;
  j["certainty_ratio"] = r.certainty_ratio;
  j["dep"] = Opt(r.dep);
  j["drift_distance"] = Opt(r.drift_distance);
  j["drift_score"] = Opt(r.drift_score);
  j["is_drifted"] = Opt(r.is_drifted);
  j["is_on_the_boundary"] = r.is_on_the_boundary;
  j["x"] = Opt(r.x);
  j["y"] = Opt(r.y);
  return j;
}

ordered_json SplitInfoToJson(const SplitInfo& s) {
  return {{"split", s.split.ToString()},
          {"samples", s.samples},
          {"epochs_logged", s.epochs_logged},
          {"embedding_dim", s.embedding_dim},
          {"processed", s.processed}};
}

ordered_json RunInfoToJson(const RunInfo& info) {
  ordered_json splits = ordered_json::array();
  for (const SplitInfo& s : info.splits) splits.push_back(SplitInfoToJson(s));
  return {{"project", info.project},
          {"run", info.run},
          {"task", info.task},
          {"labels", info.labels},
          {"finished", info.finished},
          {"size_bytes", info.size_bytes},
          {"splits", std::move(splits)},
          {"status", info.status},
          {"generation", info.generation},
          {"error", info.error.empty() ? ordered_json(nullptr) : ordered_json(info.error)}};
}

ordered_json NeighborToJson(const Neighbor& n) {
  return {{"id", n.id}, {"split", n.split.ToString()}, {"distance", n.distance}};
}

ordered_json SelectFields(const ordered_json& full, const std::vector<std::string>& fields) {
  ordered_json out = ordered_json::object();
  for (const std::string& f : fields) {
    auto it = full.find(f);
    out[f] = it == full.end() ? ordered_json(nullptr) : *it;
  }
  return out;
}

ordered_json ExportColumn(const ordered_json& sample, const std::string& column) {
  if (column.rfind("meta.", 0) == 0) {
    auto meta = sample.find("meta");
    if (meta == sample.end() || !meta->is_object()) return nullptr;
    auto it = meta->find(column.substr(5));
    return it == meta->end() ? ordered_json(nullptr) : *it;
  }
  auto it = sample.find(column);
  return it == sample.end() ? ordered_json(nullptr) : *it;
}

Status CheckExportColumns(const std::vector<std::string>& columns, const ordered_json& example,
                          const std::vector<std::string>& extra, const std::string& field) {
  for (const std::string& c : columns) {
    if ((c.rfind("meta.", 0) == 0 && c.size() > 5) || example.contains(c) ||
        std::find(extra.begin(), extra.end(), c) != extra.end()) {
      continue;
    }
    std::string all;
    for (auto it = example.begin(); it != example.end(); ++it) {
      all += (all.empty() ? "" : ", ") + it.key();
    }
    for (const std::string& e : extra) all += (all.empty() ? "" : ", ") + e;
    return Status::Invalid(field + ": unknown column '" + c + "'; expected one of: " + all +
                           ", or meta.KEY for a metadata field");
  }
  return Status::OK();
}

}  // namespace sextant
