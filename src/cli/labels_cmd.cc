#include "cli/labels_cmd.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>

#include "common/file_util.h"
#include "io/label_formats.h"
#include "io/label_import.h"
#include "io/table.h"
#include "sextant/client.h"
#include "store/imported_labels.h"

namespace sextant::cli {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

struct LabelsArgs {
  std::string root, project, run, split = "inference", inference_name, file, format, output;
};

int Report(const Status& st) {
  if (st.ok()) return 0;
  std::fprintf(stderr, "sextant: error: %s\n", st.ToString().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

void AddRunArgs(CLI::App* cmd, LabelsArgs* a) {
  cmd->add_option("--root", a->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  cmd->add_option("--project", a->project, "Project name (required)");
  cmd->add_option("--run", a->run, "Run name (required)");
  cmd->add_option("--split", a->split, "The labeled samples' split (default: inference)");
  cmd->add_option("--inference-name", a->inference_name, "Inference set (required)");
}

Result<SplitKey> SplitOf(const LabelsArgs& a) {
  if (a.project.empty()) return Status::Invalid("--project: required");
  if (a.run.empty()) return Status::Invalid("--run: required");
  if (a.inference_name.empty()) return Status::Invalid("--inference-name: required");
  SEXTANT_ASSIGN_OR_RETURN(Split s, ParseSplit(a.split));
  return SplitKey::Make(s, a.inference_name);
}

Status RunImport(const LabelsArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, SplitOf(a));
  io::LabelFileFormat format;
  if (a.format.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(format, io::LabelFileFormatForPath(a.file));
  } else {
    SEXTANT_ASSIGN_OR_RETURN(format, io::ParseLabelFileFormat(a.format));
  }
  const fs::path root = ResolveRoot(a.root);
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(root, a.project, a.run));
  if (reader->info().task == "named_entity_recognition") {
    return Status::Invalid(
        "labels import: span labels (NER) cannot be imported yet; "
        "run '" +
        a.project + "/" + a.run + "' is an NER run");
  }
  SEXTANT_ASSIGN_OR_RETURN(io::LabelFile file, io::ReadLabelFile(a.file, format));
  SEXTANT_ASSIGN_OR_RETURN(
      store::ImportLabelsReport report,
      store::ImportLabels(root / a.project / a.run, split, file, reader->info().labels,
                          fs::path(a.file).filename().string()));
  std::fprintf(
      stderr,
      "imported %lld labels into %s/%s split %s (%lld overwrote earlier imports%s); "
      "the split has %lld labeled samples\n",
      static_cast<long long>(report.imported), a.project.c_str(), a.run.c_str(),
      split.ToString().c_str(), static_cast<long long>(report.overwritten),
      report.skipped
          ? (", " + std::to_string(report.skipped) + " tasks without an annotation skipped").c_str()
          : "",
      static_cast<long long>(report.labeled));
  return Status::OK();
}

Status RunClear(const LabelsArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, SplitOf(a));
  SEXTANT_RETURN_IF_ERROR(ValidateName("--project", a.project));
  SEXTANT_RETURN_IF_ERROR(ValidateName("--run", a.run));
  SEXTANT_ASSIGN_OR_RETURN(
      int64_t n, store::ClearImportedLabels(ResolveRoot(a.root) / a.project / a.run, split));
  std::fprintf(stderr, "removed %lld imported labels of split %s\n", static_cast<long long>(n),
               split.ToString().c_str());
  return Status::OK();
}

std::string Cell(const ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

Status RunExportDataset(const LabelsArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, SplitOf(a));
  bool csv = false;
  if (a.format.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(io::ExportFormat f, io::ExportFormatForPath(a.output));
    if (f != io::ExportFormat::kCsv && f != io::ExportFormat::kJsonl) {
      return Status::Invalid("--output '" + a.output + "': expected .csv or .jsonl");
    }
    csv = f == io::ExportFormat::kCsv;
  } else if (a.format == "csv" || a.format == "jsonl") {
    csv = a.format == "csv";
  } else {
    return Status::Invalid("--format: '" + a.format + "'; expected csv or jsonl");
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(ResolveRoot(a.root), a.project, a.run));
  SampleQuery q;
  q.split = split;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, reader->Samples(q));
  const std::vector<ordered_json> dataset = LabeledDataset(rows);
  std::ostringstream out;
  if (csv) {
    std::vector<std::string> columns;
    for (const ordered_json& j : dataset) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (std::find(columns.begin(), columns.end(), it.key()) == columns.end()) {
          columns.push_back(it.key());
        }
      }
    }
    if (columns.empty()) columns = {"id", "text", "label"};
    io::WriteCsvRow(out, columns);
    std::vector<std::string> fields;
    for (const ordered_json& j : dataset) {
      fields.clear();
      for (const std::string& c : columns) fields.push_back(j.contains(c) ? Cell(j[c]) : "");
      io::WriteCsvRow(out, fields);
    }
  } else {
    for (const ordered_json& j : dataset) {
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
  }
  SEXTANT_RETURN_IF_ERROR(WriteFileAtomic(a.output, out.str()));
  std::fprintf(stderr, "wrote %zu labeled samples of %zu to %s\n", dataset.size(), rows.size(),
               a.output.c_str());
  return Status::OK();
}

}  // namespace

std::vector<ordered_json> LabeledDataset(const std::vector<SampleRow>& rows) {
  std::vector<ordered_json> out;
  for (const SampleRow& r : rows) {
    if (!r.gold) continue;
    ordered_json j;
    j["id"] = r.id;
    if (r.premise) {
      j["premise"] = *r.premise;
      j["hypothesis"] = r.hypothesis.value_or("");
    } else {
      j["text"] = r.text;
    }
    j["label"] = *r.gold;
    const ordered_json meta = ordered_json::parse(r.meta_json.empty() ? "{}" : r.meta_json, nullptr,
                                                  /*allow_exceptions=*/false);
    if (meta.is_object()) {
      for (auto it = meta.begin(); it != meta.end(); ++it) {
        std::string key = it.key();
        while (j.contains(key)) key = "meta_" + key;
        j[key] = it.value();
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

LabelsCommand AddLabelsCommand(CLI::App& app) {
  auto args = std::make_shared<LabelsArgs>();
  CLI::App* labels =
      app.add_subcommand("labels", "Labels from labelers: import them, export the labeled data");
  labels->require_subcommand(1);
  // Also before the subcommand: `sextant labels --root DIR --project P --run R import ...`.
  AddRunArgs(labels, args.get());
  CLI::App* import = labels->add_subcommand(
      "import",
      "Store labels (CSV/JSONL of id,label, or Label Studio's JSON export) as the gold labels "
      "of an inference set's samples; a later import of the same id overwrites it");
  AddRunArgs(import, args.get());
  import->add_option("--file", args->file, "The labels: .csv, .jsonl or .json (Label Studio)")
      ->required();
  import->add_option("--format", args->format, "csv, jsonl or labelstudio (default: by extension)");
  CLI::App* export_dataset = labels->add_subcommand(
      "export-dataset", "Write the labeled samples (id, text, label, metadata) as training data");
  AddRunArgs(export_dataset, args.get());
  export_dataset->add_option("--output", args->output, "File to write: .csv or .jsonl")->required();
  export_dataset->add_option("--format", args->format, "csv or jsonl (default: by extension)");
  CLI::App* clear =
      labels->add_subcommand("clear", "Remove every imported label of an inference set");
  AddRunArgs(clear, args.get());
  return {labels, [args, import, export_dataset, clear]() -> int {
            if (*import) return Report(RunImport(*args));
            if (*export_dataset) return Report(RunExportDataset(*args));
            if (*clear) return Report(RunClear(*args));
            return 2;
          }};
}

}  // namespace sextant::cli
