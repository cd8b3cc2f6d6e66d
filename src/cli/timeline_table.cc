#include "cli/timeline_table.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace sextant::cli {
namespace {

using ordered_json = nlohmann::ordered_json;

const std::vector<std::string> kDefaultMetrics = {"samples",         "drifted_share",
                                                  "domain_auc",      "on_boundary_share",
                                                  "mean_confidence", "estimated_accuracy"};
const std::vector<std::string> kDefaultClassMetrics = {"pred_share", "mean_confidence",
                                                       "estimated_precision", "estimated_recall"};

std::string Number(const ordered_json& v, bool integer) {
  if (!v.is_number()) return "-";
  char buf[32];
  if (integer) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v.get<double>()));
  } else {
    std::snprintf(buf, sizeof buf, "%.3f", v.get<double>());
  }
  return buf;
}

// "0.253 [0.227, 0.281]" in a table; the value alone in CSV (bounds get columns).
std::string Cell(const ordered_json& metric, bool integer, bool with_interval) {
  if (!metric.is_object()) return "-";
  std::string s = Number(metric["value"], integer);
  if (with_interval && metric["low"].is_number() && metric["high"].is_number()) {
    s += " [" + Number(metric["low"], false) + ", " + Number(metric["high"], false) + "]";
  }
  return s;
}

std::string Flag(const ordered_json& v, const char* yes) {
  if (!v.is_boolean()) return "-";
  return v.get<bool>() ? yes : "no";
}

std::string CsvQuote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Status WriteTimeline(const std::string& timeline_json, const TimelineView& view,
                     std::ostream& out) {
  const ordered_json t = ordered_json::parse(timeline_json, nullptr, false);
  if (t.is_discarded() || !t.is_object() || !t["sets"].is_array()) {
    return Status::IOError("the stored timeline is not valid JSON; run `sextant finish` again");
  }
  const bool per_class = !view.label.empty();
  if (per_class) {
    const ordered_json& labels = t["labels"];
    if (!labels.is_array() ||
        std::find(labels.begin(), labels.end(), ordered_json(view.label)) == labels.end()) {
      return Status::Invalid("--class: '" + view.label + "' is not a label of this run (labels: " +
                             (labels.is_array() ? labels.dump() : std::string("[]")) + ")");
    }
  }
  const std::vector<std::string>& metrics =
      !view.metrics.empty() ? view.metrics : (per_class ? kDefaultClassMetrics : kDefaultMetrics);

  // Every entry: the references first, then the sets in time order.
  std::vector<const ordered_json*> rows;
  if (view.references && t["reference"].is_object()) {
    for (const char* r : {"training", "validation"}) {
      if (t["reference"].contains(r)) rows.push_back(&t["reference"][r]);
    }
  }
  const size_t first_set = rows.size();
  for (const ordered_json& s : t["sets"]) rows.push_back(&s);

  // Check the names against the first entry that has the metric block.
  const ordered_json* sample = rows.empty() ? nullptr : rows.back();
  for (const std::string& m : metrics) {
    const ordered_json& block =
        !sample ? ordered_json()
                : (per_class ? (*sample)["per_class"][view.label] : (*sample)["metrics"]);
    if (sample && (!block.is_object() || !block.contains(m))) {
      std::string names;
      if (block.is_object()) {
        for (auto& [k, v] : block.items()) names += (names.empty() ? "" : ", ") + k;
      }
      return Status::Invalid("--metric: '" + m + "' is not a " +
                             std::string(per_class ? "per-class " : "") +
                             "timeline metric (metrics: " + names + ")");
    }
  }

  auto metric_of = [&](const ordered_json& e, const std::string& m) -> const ordered_json& {
    static const ordered_json kNull;
    const ordered_json& block = per_class ? e["per_class"][view.label] : e["metrics"];
    return block.is_object() && block.contains(m) ? block[m] : kNull;
  };

  if (view.format == "json") {
    ordered_json o = t;
    if (!view.metrics.empty() || per_class) {
      // Only the asked-for values, flattened per entry.
      ordered_json sets = ordered_json::array();
      for (size_t i = first_set; i < rows.size(); ++i) {
        const ordered_json& e = *rows[i];
        ordered_json row = {{"name", e["name"]}, {"time", e["time"]}, {"time_iso", e["time_iso"]}};
        if (per_class) row["class"] = view.label;
        for (const std::string& m : metrics) row[m] = metric_of(e, m);
        sets.push_back(std::move(row));
      }
      o = {{"project", t["project"]}, {"run", t["run"]}, {"sets", std::move(sets)}};
    }
    out << o.dump(2) << "\n";
    return Status::OK();
  }
  if (view.format == "csv") {
    out << "set,time";
    for (const std::string& m : metrics) out << "," << m << "," << m << "_low," << m << "_high";
    out << "\n";
    for (const ordered_json* e : rows) {
      out << CsvQuote((*e)["name"].get<std::string>()) << ","
          << ((*e)["time_iso"].is_string() ? (*e)["time_iso"].get<std::string>() : "");
      for (const std::string& m : metrics) {
        const ordered_json& v = metric_of(*e, m);
        for (const char* part : {"value", "low", "high"}) {
          out << ",";
          if (v.is_object() && v[part].is_number()) out << v[part].get<double>();
        }
      }
      out << "\n";
    }
    return Status::OK();
  }
  if (view.format != "table") {
    return Status::Invalid("--format: '" + view.format + "'; expected table, csv or json");
  }

  // A table: one row per entry, padded columns.
  std::vector<std::string> header = {"time", "set"};
  for (const std::string& m : metrics) header.push_back(m);
  if (!per_class) {
    header.push_back("drift");
    header.push_back("shift");
  }
  std::vector<std::vector<std::string>> cells;
  for (const ordered_json* e : rows) {
    std::vector<std::string> row;
    row.push_back((*e)["time_iso"].is_string() ? (*e)["time_iso"].get<std::string>() : "-");
    row.push_back((*e)["name"].get<std::string>());
    for (const std::string& m : metrics) {
      row.push_back(Cell(metric_of(*e, m), m == "samples", m != "samples"));
    }
    if (!per_class) {
      row.push_back(Flag((*e)["drift_verdict"], "DRIFT"));
      row.push_back(Flag((*e)["domain_shifted"], "SHIFT"));
    }
    cells.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    for (size_t c = 0; c < row.size(); ++c) {
      s += row[c];
      if (c + 1 < row.size()) s += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out << s << "\n";
  };
  out << t["project"].get<std::string>() << "/" << t["run"].get<std::string>() << ": "
      << t["sets"].size() << " inference sets"
      << (per_class ? ", class '" + view.label + "'" : std::string()) << "\n";
  line(header);
  for (const auto& row : cells) line(row);
  return Status::OK();
}

}  // namespace sextant::cli
