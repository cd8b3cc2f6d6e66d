#include "server/encode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sextant::server {

using ordered_json = nlohmann::ordered_json;

namespace {

ordered_json Num(double v) { return std::isnan(v) ? ordered_json() : ordered_json(v); }
ordered_json Flag(int8_t v) { return v < 0 ? ordered_json() : ordered_json(v != 0); }
ordered_json Label(int32_t i, const std::vector<std::string>& labels) {
  return i < 0 ? ordered_json() : ordered_json(labels[static_cast<size_t>(i)]);
}

ordered_json Meta(const std::string& text) {
  auto j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : ordered_json::object();
}

// The export's columns of one row, metadata last.
// The fields of NLI and NER samples (docs/ner-nli.md): the pair; the tokens and spans.
void AddTaskFields(const SampleTable& t, int64_t r, ordered_json* j) {
  if (static_cast<size_t>(r) < t.premise.size()) {
    (*j)["premise"] = t.premise[r];
    (*j)["hypothesis"] = t.hypothesis[r];
  }
  if (static_cast<size_t>(r) < t.spans_json.size()) {
    const ordered_json spans = ordered_json::parse(t.spans_json[r]);
    for (auto& [key, value] : spans.items()) (*j)[key] = value;
  }
}

ordered_json ExportObject(const ExportRow& e, const std::vector<std::string>& labels) {
  const SampleTable& t = *e.table;
  const int64_t r = e.row;
  ordered_json j;
  j["id"] = t.id[r];
  j["split"] = t.split().ToString();
  j["text"] = t.text[r];
  j["gold"] = Label(t.gold[r], labels);
  j["pred"] = Label(t.pred[r], labels);
  j["confidence"] = t.confidence[r];
  j["margin"] = t.margin[r];
  j["is_on_the_boundary"] = t.on_boundary[r] != 0;
  j["dep"] = Num(t.dep[r]);
  j["drift_score"] = Num(t.drift_score[r]);
  j["is_drifted"] = Flag(t.drifted[r]);
  j["shift_score"] = Num(t.ShiftScoreAt(static_cast<size_t>(r)));
  j["is_shifted"] = Flag(t.ShiftedAt(static_cast<size_t>(r)));
  AddTaskFields(t, r, &j);
  return j;
}

std::string CsvField(const ordered_json& v) {
  std::string s;
  if (v.is_null()) return s;
  if (v.is_string()) {
    s = v.get<std::string>();
  } else if (v.is_boolean()) {
    s = v.get<bool>() ? "true" : "false";
  } else if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v.get<double>());
    s = buf;
  } else {
    s = v.dump();
  }
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

}  // namespace

ordered_json SampleJson(const SampleTable& t, int64_t r, const std::vector<std::string>& labels) {
  ordered_json j;
  j["id"] = t.id[r];
  j["split"] = t.split().ToString();
  j["row"] = r;
  j["text"] = t.text[r];
  j["meta"] = Meta(t.meta_json[r]);
  j["gold"] = Label(t.gold[r], labels);
  j["pred"] = Label(t.pred[r], labels);
  j["confidence"] = t.confidence[r];
  j["margin"] = t.margin[r];
  j["certainty_ratio"] = t.certainty_ratio[r];
  j["entropy"] = t.entropy[r];
  j["is_on_the_boundary"] = t.on_boundary[r] != 0;
  j["is_correct"] = t.gold[r] < 0 ? ordered_json() : ordered_json(t.gold[r] == t.pred[r]);
  j["epoch"] = t.epoch[r];
  j["dep"] = Num(t.dep[r]);
  j["aum"] = Num(t.aum[r]);
  j["drift_distance"] = Num(t.drift_distance[r]);
  j["drift_score"] = Num(t.drift_score[r]);
  j["is_drifted"] = Flag(t.drifted[r]);
  j["shift_score"] = Num(t.ShiftScoreAt(static_cast<size_t>(r)));
  j["is_shifted"] = Flag(t.ShiftedAt(static_cast<size_t>(r)));
  j["x"] = Num(t.x[r]);
  j["y"] = Num(t.y[r]);
  AddTaskFields(t, r, &j);
  return j;
}

std::vector<ordered_json> ExportObjects(const std::vector<ExportRow>& rows,
                                        const std::vector<std::string>& labels) {
  std::vector<ordered_json> out;
  out.reserve(rows.size());
  for (const ExportRow& e : rows) {
    out.push_back(ExportObject(e, labels));
    out.back()["meta"] = Meta(e.table->meta_json[e.row]);
  }
  return out;
}

std::string ExportJsonl(const std::vector<ExportRow>& rows,
                        const std::vector<std::string>& labels) {
  std::string out;
  for (const ExportRow& e : rows) {
    ordered_json j = ExportObject(e, labels);
    ordered_json meta = Meta(e.table->meta_json[e.row]);
    for (auto it = meta.begin(); it != meta.end(); ++it) {
      if (!j.contains(it.key())) j[it.key()] = *it;
    }
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

std::string ExportCsv(const std::vector<ExportRow>& rows, const std::vector<std::string>& labels) {
  std::vector<std::string> columns = {
      "id",        "split",       "text",       "gold",
      "pred",      "confidence",  "margin",     "is_on_the_boundary",
      "dep",       "drift_score", "is_drifted", "shift_score",
      "is_shifted"};
  // NLI and NER fields (JSON text in a cell for tokens and spans).
  if (!rows.empty()) {
    const ordered_json first = ExportObject(rows.front(), labels);
    for (auto& [key, value] : first.items()) {
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
    }
  }
  const size_t fixed = columns.size();
  std::vector<ordered_json> metas;
  metas.reserve(rows.size());
  for (const ExportRow& e : rows) {
    metas.push_back(Meta(e.table->meta_json[e.row]));
    for (auto it = metas.back().begin(); it != metas.back().end(); ++it) {
      if (std::find(columns.begin(), columns.end(), it.key()) == columns.end()) {
        columns.push_back(it.key());
      }
    }
  }
  std::string out;
  for (size_t c = 0; c < columns.size(); ++c) out += (c ? "," : "") + CsvField(columns[c]);
  out += "\r\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    ordered_json j = ExportObject(rows[i], labels);
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c) out += ',';
      if (c < fixed) {
        out += CsvField(j[columns[c]]);
      } else if (metas[i].contains(columns[c])) {
        out += CsvField(metas[i][columns[c]]);
      }
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace sextant::server

namespace sextant::server {

// For other encoders of exports (server/export_columns.h): one CSV cell.
std::string CsvCell(const ordered_json& v) { return CsvField(v); }

}  // namespace sextant::server
