#include "cli/output.h"

#include <unistd.h>

#include <cstdio>

#include "io/table.h"

namespace sextant::cli {
using ordered_json = nlohmann::ordered_json;

const std::vector<std::string>& SampleColumns() {
  static const std::vector<std::string> kColumns = {
      "id", "split", "inference_name", "row", "text", "gold", "pred", "is_correct", "confidence",
      "margin", "certainty_ratio", "entropy", "is_on_the_boundary", "aum", "dep",
      "drift_distance", "drift_score", "is_drifted", "x", "y", "epoch", "meta"};
  return kColumns;
}

namespace {
template <typename T>
ordered_json Opt(const std::optional<T>& v) {
  return v ? ordered_json(*v) : ordered_json(nullptr);
}
}  // namespace

ordered_json SampleToJson(const SampleRow& r, const std::vector<std::string>& labels) {
  ordered_json j;
  j["id"] = r.id;
  j["split"] = SplitName(r.split.split);
  j["inference_name"] = r.split.split == Split::kInference ? ordered_json(r.split.inference_name)
                                                           : ordered_json(nullptr);
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
        out.push_back({{"start", m.start}, {"end", m.end}, {"label", m.label},
                       {"error_type", Opt(m.error_type)}, {"span_row", m.span_row}});
      }
      return out;
    };
    j["gold_spans"] = IsLabeled(r.split.split) ? marks(r.gold_spans) : ordered_json(nullptr);
    j["pred_spans"] = marks(r.pred_spans);
  }
  if (!r.probs.empty()) {
    ordered_json probs = ordered_json::object();
    for (size_t i = 0; i < r.probs.size() && i < labels.size(); ++i) probs[labels[i]] = r.probs[i];
    j["probs"] = probs;
  }
  return j;
}

Result<Format> ParseFormat(const std::string& name) {
  if (name == "jsonl" || name == "json") return Format::kJsonl;
  if (name == "csv") return Format::kCsv;
  return Status::Invalid("format: '" + name + "'; expected jsonl or csv");
}

namespace {
std::string CsvValue(const ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}
}  // namespace

void WriteSamples(std::ostream& out, Format format, const std::vector<SampleRow>& rows,
                  const std::vector<std::string>& labels) {
  if (format == Format::kJsonl) {
    for (const SampleRow& r : rows) out << SampleToJson(r, labels).dump() << '\n';
    return;
  }
  const bool with_probs = !rows.empty() && !rows.front().probs.empty();
  // NLI pairs and NER tokens and spans (JSON text in a cell) after the common columns.
  std::vector<std::string> columns = SampleColumns();
  if (!rows.empty() && rows.front().premise) columns.insert(columns.end(), {"premise", "hypothesis"});
  if (!rows.empty() && !rows.front().tokens.empty()) {
    columns.insert(columns.end(), {"text_token_indices", "gold_spans", "pred_spans"});
  }
  std::vector<std::string> header = columns;
  if (with_probs) {
    for (const std::string& l : labels) header.push_back("prob_" + l);
  }
  io::WriteCsvRow(out, header);
  std::vector<std::string> fields;
  for (const SampleRow& r : rows) {
    ordered_json j = SampleToJson(r, labels);
    fields.clear();
    for (const std::string& col : columns) fields.push_back(CsvValue(j[col]));
    if (with_probs) {
      for (float p : r.probs) fields.push_back(ordered_json(p).dump());
    }
    io::WriteCsvRow(out, fields);
  }
}

const std::vector<std::string>& SpanColumns() {
  static const std::vector<std::string> kColumns = {
      "sample_id", "split", "inference_name", "span_row", "sample_row", "span_start", "span_end",
      "span_text", "gold", "pred", "error_type", "confidence", "certainty_ratio", "dep",
      "drift_distance", "drift_score", "is_drifted", "is_on_the_boundary", "x", "y"};
  return kColumns;
}

ordered_json SpanToJson(const SpanRow& r) {
  ordered_json j;
  j["sample_id"] = r.sample_id;
  j["split"] = SplitName(r.split.split);
  j["inference_name"] = r.split.split == Split::kInference ? ordered_json(r.split.inference_name)
                                                           : ordered_json(nullptr);
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

void WriteSpans(std::ostream& out, Format format, const std::vector<SpanRow>& rows) {
  if (format == Format::kJsonl) {
    for (const SpanRow& r : rows) out << SpanToJson(r).dump() << '\n';
    return;
  }
  io::WriteCsvRow(out, SpanColumns());
  std::vector<std::string> fields;
  for (const SpanRow& r : rows) {
    const ordered_json j = SpanToJson(r);
    fields.clear();
    for (const std::string& col : SpanColumns()) fields.push_back(CsvValue(j[col]));
    io::WriteCsvRow(out, fields);
  }
}

bool StderrIsTerminal() { return ::isatty(2) != 0; }

void TerminalProgress(const char* stage, int64_t done, int64_t total, void*) {
  if (!StderrIsTerminal() || total <= 0) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total);
  std::fprintf(stderr, "\r%-28s [%.*s%*s] %3d%%", stage, filled,
               "##############################", kWidth - filled, "",
               static_cast<int>(100 * done / total));
  if (done >= total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace sextant::cli
