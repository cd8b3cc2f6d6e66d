#include "cli/suggest_cmd.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "io/table.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "sextant/suggest.h"
#include "store/selections.h"
#include "suggest/suggest_export.h"
#include "suggest/suggest_json.h"

namespace sextant::cli {

namespace {

using ordered_json = nlohmann::ordered_json;

struct SuggestArgs {
  std::string root, project, run, split = "inference", inference_name, strategy = "default",
                                  class_name, format = "table", selection, output;
  int64_t budget = 0;
  bool per_class = false;
  uint64_t seed = 0;
};

std::string Text(const ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string Joined(const ordered_json& reasons) {
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r.get<std::string>();
  return out;
}

void WriteTable(std::ostream& out, const ordered_json& j) {
  char line[256];
  std::snprintf(line, sizeof line, "%-5s %-24s %-7s %-12s %-7s %s\n", "rank", "id", "score", "pred",
                "margin", "reasons");
  out << line;
  for (const auto& s : j["suggestions"]) {
    std::string id = s["id"].get<std::string>();
    if (id.size() > 24) id = id.substr(0, 21) + "...";
    std::string pred = Text(s.value("pred", ordered_json()));
    if (pred.size() > 12) pred = pred.substr(0, 9) + "...";
    std::snprintf(line, sizeof line, "%-5d %-24s %-7.3f %-12s %-7.3f ", s["rank"].get<int>(),
                  id.c_str(), s["score"].get<double>(), pred.c_str(), s.value("margin", 0.0));
    out << line << Joined(s["reasons"]) << "\n";
  }
}

void WriteCsv(std::ostream& out, const ordered_json& j) {
  const std::vector<std::string> columns = {"rank",        "id",         "split",  "score",
                                            "pred",        "confidence", "margin", "drift_score",
                                            "shift_score", "reasons",    "text"};
  io::WriteCsvRow(out, columns);
  for (const auto& s : j["suggestions"]) {
    std::vector<std::string> fields;
    for (const std::string& c : columns) {
      fields.push_back(c == "reasons" ? Joined(s["reasons"]) : Text(s.value(c, ordered_json())));
    }
    io::WriteCsvRow(out, fields);
  }
}

Status SaveSelection(const SuggestArgs& a, const suggest::SuggestOptions& o,
                     const suggest::SuggestResult& r) {
  const std::filesystem::path run_dir = ResolveRoot(a.root) / a.project / a.run;
  SEXTANT_RETURN_IF_ERROR(store::SelectionStore::ValidateSelectionName(a.selection));
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::SelectionStore> store,
                           store::SelectionStore::Open(run_dir));
  const Status created = store->Create(a.selection);
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return created;
  std::vector<store::SelectionItem> items;
  for (const auto& s : r.suggestions) items.push_back({o.split.ToString(), s.id});
  SEXTANT_ASSIGN_OR_RETURN(int64_t size, store->Add(a.selection, items));
  std::fprintf(stderr, "saved %zu suggestions in selection '%s' (%lld samples)\n", items.size(),
               a.selection.c_str(), static_cast<long long>(size));
  return Status::OK();
}

Status RunSuggest(const SuggestArgs& a) {
  const bool tool = a.format == "labelstudio" || a.format == "argilla";
  if (a.format != "table" && a.format != "json" && a.format != "csv" && !tool) {
    return Status::Invalid("--format: '" + a.format +
                           "'; expected table, json, csv, labelstudio or argilla");
  }
  suggest::SuggestOptions o;
  SEXTANT_ASSIGN_OR_RETURN(Split split, ParseSplit(a.split));
  auto key = SplitKey::Make(split, a.inference_name);
  if (!key.ok()) return key.status().WithContext("--split/--inference-name");
  o.split = *key;
  o.budget = a.budget;
  o.strategy = a.strategy;
  if (!a.class_name.empty()) o.class_name = a.class_name;
  o.per_class = a.per_class;
  o.seed = a.seed;
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(ResolveRoot(a.root), a.project, a.run));
  const auto start = std::chrono::steady_clock::now();
  auto result = suggest::Suggest(*reader, o);
  if (!result.ok()) {
    // Named as the user typed them.
    Status st = result.status();
    for (const char* field : {"strategy", "budget", "class", "split"}) {
      const std::string prefix = std::string(field) + ": ";
      if (st.message().rfind(prefix, 0) == 0) {
        return Status(st.code(),
                      "--" + std::string(field) + ": " + st.message().substr(prefix.size()));
      }
    }
    return st;
  }
  const double took_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  SEXTANT_ASSIGN_OR_RETURN(ordered_json j,
                           suggest::SuggestResultJson(*reader, o, *result, took_ms));
  std::ostringstream text;
  if (tool) {
    // Label Studio tasks / Argilla records (docs/labeling-tools.md).
    SEXTANT_ASSIGN_OR_RETURN(io::ExportFormat f, io::ParseExportFormat(a.format, "--format"));
    SEXTANT_ASSIGN_OR_RETURN(std::string file, suggest::SuggestionsForLabeling(*reader, j, f));
    text << file;
  } else if (a.format == "json") {
    text << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (a.format == "csv") {
    WriteCsv(text, j);
  } else {
    WriteTable(text, j);
  }
  if (a.output.empty()) {
    std::cout << text.str() << std::flush;
  } else {
    std::ofstream f(a.output, std::ios::binary);
    f << text.str();
    f.close();
    if (!f) return Status::IOError("--output: cannot write '" + a.output + "'");
  }
  std::fprintf(stderr,
               "%zu suggestions (strategy %s) from %lld samples; %lld near-duplicates "
               "left out\n",
               result->suggestions.size(), result->strategy.c_str(),
               static_cast<long long>(result->pool),
               static_cast<long long>(result->excluded_duplicates));
  if (!a.selection.empty()) SEXTANT_RETURN_IF_ERROR(SaveSelection(a, o, *result));
  return Status::OK();
}

}  // namespace

SuggestCommand AddSuggestCommand(CLI::App& app) {
  auto a = std::make_shared<SuggestArgs>();
  CLI::App* cmd = app.add_subcommand(
      "suggest", "Which samples to label next, with the reasons (docs/labeling.md)");
  cmd->add_option("--root", a->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  cmd->add_option("--project", a->project, "Project name")->required();
  cmd->add_option("--run", a->run, "Run name")->required();
  cmd->add_option("--split", a->split, "Split to pick from (default inference)");
  cmd->add_option("--inference-name", a->inference_name, "Inference set to pick from");
  cmd->add_option("--budget", a->budget, "How many samples to suggest")->required();
  cmd->add_option("--strategy", a->strategy,
                  "default, random, uncertainty, drift or diverse (default: default)");
  cmd->add_option("--class", a->class_name, "Only samples predicted as this class");
  cmd->add_flag("--per-class", a->per_class,
                "Split the budget over the predicted classes in proportion (at least 1 each)");
  cmd->add_option("--seed", a->seed, "Seed of the random strategy (default 0)");
  cmd->add_option("--format", a->format,
                  "table, json, csv (default table), or labelstudio / argilla: files for "
                  "labeling tools (docs/labeling-tools.md)");
  cmd->add_option("--output", a->output, "Write to this file instead of stdout");
  cmd->add_option("--selection", a->selection,
                  "Also save the suggestions as this named selection of the run (added to it "
                  "when it exists)");
  return {cmd, [a] {
            const Status st = RunSuggest(*a);
            if (st.ok()) return 0;
            std::fprintf(stderr, "sextant: error: %s\n", st.ToString().c_str());
            return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
          }};
}

}  // namespace sextant::cli
