// `sextant`: log, process and query runs from the command line.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "cli/alerts_cmd.h"
#include "cli/export_columns.h"
#include "cli/labels_cmd.h"
#include "cli/output.h"
#include "cli/report.h"
#include "cli/suggest_cmd.h"
#include "cli/timeline_table.h"
#include "common/dask_driver.h"
#include "common/file_util.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "io/npy.h"
#include "io/table.h"
#include "query/check.h"
#include "query/result_json.h"
#include "query/verdict.h"
#include "server/compare.h"
#include "server/keys.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "sextant/version.h"
#ifdef SEXTANT_HAVE_SERVER
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

#include "sextant/server.h"
#endif

namespace sextant::cli {
namespace {

namespace fs = std::filesystem;

struct Common {
  std::string root;
  std::string project;
  std::string run;
  fs::path Root() const { return ResolveRoot(root); }
};

void AddRunOptions(CLI::App* cmd, Common* c) {
  cmd->add_option("--root", c->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  cmd->add_option("--project", c->project, "Project name")->required();
  cmd->add_option("--run", c->run, "Run name")->required();
}

Result<SplitKey> SplitFromArgs(const std::string& split, const std::string& inference_name) {
  SEXTANT_ASSIGN_OR_RETURN(Split s, ParseSplit(split));
  return SplitKey::Make(s, inference_name);
}

void PrintReport(const FinishReport& report) {
  std::fprintf(stderr, "finished %lld samples in %zu splits in %.2f s (",
               static_cast<long long>(report.samples), report.splits.size(), report.seconds);
  for (size_t i = 0; i < report.stage_seconds.size(); ++i) {
    std::fprintf(stderr, "%s%s %.2f s", i ? "; " : "", report.stage_seconds[i].first.c_str(),
                 report.stage_seconds[i].second);
  }
  std::fprintf(stderr, ")\n");
  // E.g. the alert rules' outcome (docs/alerts.md).
  if (!report.message.empty() && !report.uploaded && !report.upload_pending) {
    std::fprintf(stderr, "%s\n", report.message.c_str());
  }
}

// Processing flags shared by `import` and `finish`, one per ProcessingOptionSpec:
// --drift-k (and its short name, --k); a bool that is on by default as --no-NAME.
struct FinishArgs {
  std::map<std::string, std::string> values;  // option name -> text given ("" when not)
  std::map<std::string, bool> flags;          // bool option name -> flag given
};

std::string Dashed(std::string_view name) {
  std::string s(name);
  for (char& c : s) c = c == '_' ? '-' : c;
  return s;
}

bool OnByDefault(const ProcessingOptionSpec& spec) {
  return spec.type == ProcessingOptionSpec::Type::kBool &&
         GetProcessingOption(ProcessingOptions{}, spec) == "true";
}

// The option's CLI names, e.g. "--drift-k,--k" or "--no-compute-map,--no-map".
std::string FlagNames(const ProcessingOptionSpec& spec) {
  const std::string prefix = OnByDefault(spec) ? "--no-" : "--";
  std::string names = prefix + Dashed(spec.name);
  if (spec.short_name) names += "," + prefix + Dashed(spec.short_name);
  // Said the way a user asks for it: lay the map out again.
  if (std::string_view(spec.name) == "map_incremental") names += ",--full-map";
  return names;
}

void AddFinishOptions(CLI::App* cmd, FinishArgs* a) {
  const ProcessingOptions defaults;
  for (const ProcessingOptionSpec& spec : ProcessingOptionSpecs()) {
    if (spec.type == ProcessingOptionSpec::Type::kBool) {
      cmd->add_flag(FlagNames(spec), a->flags[spec.name],
                    std::string(OnByDefault(spec) ? "Turn off (on by default): " : "") + spec.help);
    } else {
      std::string help =
          std::string(spec.help) + " (default " + GetProcessingOption(defaults, spec) + ")";
      std::string type = spec.type == ProcessingOptionSpec::Type::kInt ? "INT" : "NUMBER";
      if (spec.type == ProcessingOptionSpec::Type::kChoice) {
        type.clear();
        for (const std::string& c : spec.choices) type += (type.empty() ? "" : "|") + c;
      }
      cmd->add_option(FlagNames(spec), a->values[spec.name], help)->type_name(type);
    }
  }
}

Result<ProcessingOptions> MakeProcessingOptions(const FinishArgs& a) {
  ProcessingOptions o;
  for (const ProcessingOptionSpec& spec : ProcessingOptionSpecs()) {
    Status st;
    if (auto f = a.flags.find(spec.name); f != a.flags.end() && f->second) {
      st = SetProcessingOption(&o, spec.name, OnByDefault(spec) ? "false" : "true");
    } else if (auto v = a.values.find(spec.name); v != a.values.end() && !v->second.empty()) {
      st = SetProcessingOption(&o, spec.name, v->second);
    }
    if (!st.ok()) {
      // Named as the user typed it: "--drift-k: expected ..." rather than "drift_k: ...".
      const std::string message = st.message();
      const size_t name_length = std::string_view(spec.name).size();
      std::string flag = "--" + Dashed(spec.name);
      if (spec.short_name) flag += " (--" + Dashed(spec.short_name) + ")";
      return Status::Invalid(flag + message.substr(name_length));
    }
  }
  o.progress = TerminalProgress;
  return o;
}

// ---- import ------------------------------------------------------------------

struct ImportArgs {
  Common common;
  std::string task = "text_classification";
  std::string split;
  std::string inference_name;
  std::string time;  // --time: when the inference set happened
  int epoch = 0;
  std::string data, embeddings, logits, probs, labels;
  std::string text_column = "text", id_column = "id", label_column = "label";
  std::string premise_column = "premise", hypothesis_column = "hypothesis";
  std::string tokens_column = "text_token_indices", gold_spans_column = "gold_spans";
  std::string tagging_schema;
  bool no_finish = false;
  FinishArgs finish;
};

Result<int> ColumnOf(const io::Table& table, const std::string& name, const char* option,
                     const std::string& file) {
  int c = table.ColumnIndex(name);
  if (c >= 0) return c;
  std::string all;
  for (const auto& col : table.columns) all += (all.empty() ? "" : ", ") + col;
  return Status::Invalid(std::string(option) + ": column '" + name + "' is not in " + file +
                         " (columns: " + all + ")");
}

// NER columns hold JSON: token offsets [[start, end], ...] and gold spans
// [{"start", "end", "label"}, ...] (or [start, end, label] triples).
Status ParseNerCell(const std::string& text, const std::string& id, const char* option,
                    std::vector<CharRange>* tokens, std::vector<GoldSpan>* spans) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& expected) {
    return Status::Invalid(std::string(option) + ": sample id '" + id + "' has '" +
                           text.substr(0, 80) + "'; expected " + expected);
  };
  if (!j.is_array()) return bad("a JSON array");
  try {
    for (const auto& v : j) {
      if (tokens) {
        if (!v.is_array() || v.size() != 2) return bad("[[start, end], ...]");
        tokens->push_back({v[0].get<int32_t>(), v[1].get<int32_t>()});
      } else if (v.is_object()) {
        spans->push_back({v.at("start").get<int32_t>(), v.at("end").get<int32_t>(),
                          v.at("label").get<std::string>()});
      } else if (v.is_array() && v.size() == 3) {
        spans->push_back({v[0].get<int32_t>(), v[1].get<int32_t>(), v[2].get<std::string>()});
      } else {
        return bad("[{\"start\", \"end\", \"label\"}, ...]");
      }
    }
  } catch (const nlohmann::json::exception&) {
    return bad(tokens ? "integer [start, end] pairs" : "integer start and end, a string label");
  }
  return Status::OK();
}

Status RunImport(const ImportArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(TaskType task, ParseTaskType(a.task));
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, SplitFromArgs(a.split, a.inference_name));
  SEXTANT_ASSIGN_OR_RETURN(const ProcessingOptions options, MakeProcessingOptions(a.finish));
  if (a.logits.empty() == a.probs.empty()) {
    return Status::Invalid("--logits/--probs: give exactly one of them");
  }
  SEXTANT_ASSIGN_OR_RETURN(io::Table table, io::ReadTable(a.data));
  SEXTANT_ASSIGN_OR_RETURN(int id_col, ColumnOf(table, a.id_column, "--id-column", a.data));
  // Which columns hold the sample; the others are kept as metadata.
  const bool ner = task == TaskType::kNamedEntityRecognition;
  const bool pairs =
      task == TaskType::kNaturalLanguageInference && table.ColumnIndex(a.premise_column) >= 0;
  int text_col = -1, premise_col = -1, hypothesis_col = -1, tokens_col = -1, gold_col = -1;
  if (pairs) {
    SEXTANT_ASSIGN_OR_RETURN(premise_col,
                             ColumnOf(table, a.premise_column, "--premise-column", a.data));
    SEXTANT_ASSIGN_OR_RETURN(hypothesis_col,
                             ColumnOf(table, a.hypothesis_column, "--hypothesis-column", a.data));
  } else {
    SEXTANT_ASSIGN_OR_RETURN(text_col, ColumnOf(table, a.text_column, "--text-column", a.data));
  }
  if (ner) {
    SEXTANT_ASSIGN_OR_RETURN(tokens_col,
                             ColumnOf(table, a.tokens_column, "--tokens-column", a.data));
    if (IsLabeled(split.split)) {
      SEXTANT_ASSIGN_OR_RETURN(gold_col,
                               ColumnOf(table, a.gold_spans_column, "--gold-spans-column", a.data));
    }
  }
  int label_col = -1;
  if (IsLabeled(split.split) && !ner) {
    SEXTANT_ASSIGN_OR_RETURN(label_col, ColumnOf(table, a.label_column, "--label-column", a.data));
  }
  auto is_sample_column = [&](int c) {
    return c == id_col || c == text_col || c == label_col || c == premise_col ||
           c == hypothesis_col || c == tokens_col || c == gold_col;
  };
  SEXTANT_ASSIGN_OR_RETURN(io::FloatMatrix emb, io::ReadNpyAsFloat32(a.embeddings));
  const std::string& out_path = a.logits.empty() ? a.probs : a.logits;
  SEXTANT_ASSIGN_OR_RETURN(io::FloatMatrix out, io::ReadNpyAsFloat32(out_path));
  const auto n = static_cast<int64_t>(table.rows.size());
  // NER: one output row per token, the samples' rows concatenated in data order.
  std::vector<int64_t> token_counts;
  std::vector<std::vector<CharRange>> tokens(ner ? n : 0);
  std::vector<std::vector<GoldSpan>> gold_spans(gold_col >= 0 ? n : 0);
  for (int64_t i = 0; ner && i < n; ++i) {
    const std::string& id = table.rows[i][id_col];
    SEXTANT_RETURN_IF_ERROR(
        ParseNerCell(table.rows[i][tokens_col], id, "--tokens-column", &tokens[i], nullptr));
    token_counts.push_back(static_cast<int64_t>(tokens[i].size()));
    if (gold_col >= 0 && !table.is_null[i][gold_col]) {
      SEXTANT_RETURN_IF_ERROR(ParseNerCell(table.rows[i][gold_col], id, "--gold-spans-column",
                                           nullptr, &gold_spans[i]));
    }
  }
  const int64_t expected_rows =
      ner ? std::accumulate(token_counts.begin(), token_counts.end(), int64_t{0}) : n;
  const char* unit = ner ? " token rows (the sum of the samples' token counts)" : " rows";
  if (ner && emb.rows != expected_rows) {
    return Status::Invalid("--embeddings: " + a.embeddings + " has " + std::to_string(emb.rows) +
                           " rows; " + a.data + " has " + std::to_string(expected_rows) + unit +
                           "; expected one row per token, samples in data order");
  }
  if (ner && out.rows != expected_rows) {
    return Status::Invalid(std::string(a.logits.empty() ? "--probs: " : "--logits: ") + out_path +
                           " has " + std::to_string(out.rows) + " rows; " + a.data + " has " +
                           std::to_string(expected_rows) + unit + "; expected one row per token");
  }
  if (!ner && emb.rows != n) {
    return Status::Invalid("--embeddings: " + a.embeddings + " has " + std::to_string(emb.rows) +
                           " rows; " + a.data + " has " + std::to_string(n) +
                           " rows; expected one row per sample");
  }
  if (!ner && out.rows != n) {
    return Status::Invalid(std::string(a.logits.empty() ? "--probs: " : "--logits: ") + out_path +
                           " has " + std::to_string(out.rows) + " rows; " + a.data + " has " +
                           std::to_string(n) + " rows; expected one row per sample");
  }

  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
                           Client::Init({a.common.Root(), a.common.project, a.common.run, task}));
  if (!a.labels.empty()) {
    SEXTANT_RETURN_IF_ERROR(client->SetLabelsForRun(SplitCommaList(a.labels)));
  } else if (client->labels().empty()) {
    return Status::Invalid("--labels: run '" + a.common.project + "/" + a.common.run +
                           "' has no label list yet; pass --labels in logit order, e.g. "
                           "--labels negative,positive");
  }
  const std::vector<std::string>& labels = client->labels();
  if (!a.time.empty()) {
    if (split.split != Split::kInference) {
      return Status::Invalid("--time: only inference sets have a time (--split is '" + a.split +
                             "')");
    }
    SEXTANT_ASSIGN_OR_RETURN(const double time, ParseTime(a.time, "--time"));
    SEXTANT_RETURN_IF_ERROR(client->SetSplit(split.split, split.inference_name, time));
  }
  if (!a.tagging_schema.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(TaggingSchema schema, ParseTaggingSchema(a.tagging_schema));
    SEXTANT_RETURN_IF_ERROR(client->SetTaggingSchema(schema));
  }

  DataBatch batch;
  batch.ids.reserve(n);
  batch.texts.reserve(n);
  std::vector<MetaColumn> meta;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (!is_sample_column(static_cast<int>(c))) meta.push_back({table.columns[c], {}});
  }
  batch.token_offsets = std::move(tokens);
  batch.gold_spans = std::move(gold_spans);
  for (int64_t i = 0; i < n; ++i) {
    const auto& row = table.rows[i];
    batch.ids.push_back(row[id_col]);
    if (pairs) {
      batch.premises.push_back(row[premise_col]);
      batch.hypotheses.push_back(row[hypothesis_col]);
    } else {
      batch.texts.push_back(row[text_col]);
    }
    if (label_col >= 0) {
      // A label is a name from the list or, failing that, an index into it.
      const std::string& value = row[label_col];
      std::string name = value;
      if (std::find(labels.begin(), labels.end(), value) == labels.end()) {
        char* end = nullptr;
        long idx = std::strtol(value.c_str(), &end, 10);
        if (!value.empty() && *end == '\0' && idx >= 0 && idx < static_cast<long>(labels.size())) {
          name = labels[idx];
        }
      }
      batch.labels.push_back(std::move(name));
    }
    size_t m = 0;
    for (size_t c = 0; c < table.columns.size(); ++c) {
      if (!is_sample_column(static_cast<int>(c))) meta[m++].values.push_back(row[c]);
    }
  }
  batch.meta = std::move(meta);
  OutputsBatch outputs;
  outputs.ids = batch.ids;
  outputs.token_counts = std::move(token_counts);
  outputs.embeddings = {emb.data.data(), emb.rows, emb.cols};
  MatrixView out_view{out.data.data(), out.rows, out.cols};
  (a.logits.empty() ? outputs.probabilities : outputs.logits) = out_view;
  // Outputs are checked before the data is logged, so a rejected file leaves
  // nothing behind; the same data file again (another epoch's outputs) logs
  // only the outputs.
  SEXTANT_RETURN_IF_ERROR(client->CheckModelOutputs(outputs, split, a.epoch)
                              .WithContext("--embeddings " + a.embeddings +
                                           (a.logits.empty() ? " / --probs " : " / --logits ") +
                                           out_path));
  SEXTANT_RETURN_IF_ERROR(client->LogDataSamples(batch, split, ExistingSamples::kSkipIfIdentical)
                              .WithContext("--data " + a.data));
  SEXTANT_RETURN_IF_ERROR(client->LogModelOutputs(outputs, split, a.epoch));
  SEXTANT_RETURN_IF_ERROR(client->Flush());
  std::fprintf(stderr, "logged %lld samples into %s/%s split %s epoch %d\n",
               static_cast<long long>(n), a.common.project.c_str(), a.common.run.c_str(),
               split.ToString().c_str(), a.epoch);
  if (a.no_finish) return Status::OK();
  SEXTANT_ASSIGN_OR_RETURN(FinishReport report, client->Finish(options));
  PrintReport(report);
  return Status::OK();
}

// ---- queries -------------------------------------------------------------------

struct SampleArgs {
  Common common;
  std::string split, inference_name;
  bool drifted = false, not_drifted = false, on_boundary = false, misclassified = false;
  std::string gold_class, pred_class, text, sort = "row", format = "jsonl", output, ids;
  std::string entity_types;  // NER: comma-separated entity types
  double min_conf = -1, max_conf = -1, min_dep = -1, max_dep = -1;
  std::string shifted;                    // "true", "false" or empty
  double min_shift = -1, max_shift = -1;  // -1: no bound
  int64_t limit = -1, offset = 0;
  bool probs = true;
  std::string columns;  // export: "id,text,pred" (empty: every column)
};

void AddSampleFilters(CLI::App* cmd, SampleArgs* a) {
  AddRunOptions(cmd, &a->common);
  cmd->add_option("--split", a->split, "training, validation, test or inference")->required();
  cmd->add_option("--inference-name", a->inference_name, "Inference set (with --split inference)");
  cmd->add_flag("--drifted", a->drifted, "Only drifted (or out-of-coverage) samples");
  cmd->add_flag("--not-drifted", a->not_drifted, "Only samples that are not drifted");
  cmd->add_flag("--on-boundary", a->on_boundary, "Only samples on the class boundary");
  cmd->add_flag("--misclassified", a->misclassified,
                "Only labeled samples whose prediction is wrong");
  cmd->add_option("--class", a->pred_class, "Only samples predicted as this class");
  cmd->add_option("--gold", a->gold_class, "Only samples labeled with this class");
  cmd->add_option("--min-confidence", a->min_conf, "Lowest confidence to keep");
  cmd->add_option("--max-confidence", a->max_conf, "Highest confidence to keep");
  cmd->add_option("--min-dep", a->min_dep, "Lowest data-error potential to keep");
  cmd->add_option("--max-dep", a->max_dep, "Highest data-error potential to keep");
  cmd->add_option("--shifted", a->shifted,
                  "Only samples above (true) or not above (false) their set's shift threshold");
  cmd->add_option("--min-shift", a->min_shift, "Lowest shift score to keep (inference sets)");
  cmd->add_option("--max-shift", a->max_shift, "Highest shift score to keep (inference sets)");
  cmd->add_option("--text", a->text,
                  "Regular expression (RE2 syntax, case-insensitive) the text must contain");
  cmd->add_option("--ids", a->ids, "Comma-separated sample ids");
  cmd->add_option("--entity-type", a->entity_types,
                  "NER: only sentences with a predicted or gold span of these entity types "
                  "(comma-separated)");
  cmd->add_option("--sort", a->sort, "FIELD or FIELD:desc (e.g. drift_score:desc)");
  cmd->add_option("--limit", a->limit, "At most this many rows");
  cmd->add_option("--offset", a->offset, "Skip this many rows first");
  cmd->add_option("--format", a->format,
                  "jsonl, csv, labelstudio, argilla or labelstudio-config "
                  "(docs/labeling-tools.md)");
}

Result<SampleQuery> MakeQuery(const SampleArgs& a) {
  SampleQuery q;
  SEXTANT_ASSIGN_OR_RETURN(q.split, SplitFromArgs(a.split, a.inference_name));
  if (a.drifted && a.not_drifted)
    return Status::Invalid("--drifted and --not-drifted exclude each other");
  if (a.drifted) q.is_drifted = true;
  if (a.not_drifted) q.is_drifted = false;
  if (a.on_boundary) q.is_on_the_boundary = true;
  if (a.misclassified) q.is_correct = false;
  if (!a.pred_class.empty()) q.pred_class = a.pred_class;
  if (!a.gold_class.empty()) q.gold_class = a.gold_class;
  if (a.min_conf >= 0) q.min_confidence = a.min_conf;
  if (a.max_conf >= 0) q.max_confidence = a.max_conf;
  if (a.min_dep >= 0) q.min_dep = a.min_dep;
  if (a.max_dep >= 0) q.max_dep = a.max_dep;
  if (!a.shifted.empty()) {
    if (a.shifted != "true" && a.shifted != "false") {
      return Status::Invalid("--shifted: '" + a.shifted + "'; expected true or false");
    }
    q.is_shifted = a.shifted == "true";
  }
  if (a.min_shift >= 0) q.min_shift = a.min_shift;
  if (a.max_shift >= 0) q.max_shift = a.max_shift;
  if (!a.text.empty()) q.text_regex = a.text;
  q.ids = SplitCommaList(a.ids);
  q.entity_types = SplitCommaList(a.entity_types);
  std::string sort = a.sort;
  if (auto colon = sort.find(':'); colon != std::string::npos) {
    std::string dir = sort.substr(colon + 1);
    if (dir != "desc" && dir != "asc") {
      return Status::Invalid("--sort: direction '" + dir + "'; expected asc or desc");
    }
    q.descending = dir == "desc";
    sort = sort.substr(0, colon);
  }
  q.sort_by = sort;
  q.limit = a.limit;
  q.offset = a.offset;
  q.include_probs = a.probs;
  return q;
}

Status RunSamples(const SampleArgs& a, bool to_file) {
  SEXTANT_ASSIGN_OR_RETURN(SampleQuery q, MakeQuery(a));
  // labelstudio / argilla (docs/labeling-tools.md) besides csv and jsonl; an
  // export without --format goes by the output's extension.
  io::ExportFormat format = io::ExportFormat::kJsonl;
  const bool config_only = a.format == "labelstudio-config";
  if (!config_only) {
    if (to_file && a.format.empty()) {
      SEXTANT_ASSIGN_OR_RETURN(format, io::ExportFormatForPath(a.output));
    } else {
      SEXTANT_ASSIGN_OR_RETURN(format, io::ParseExportFormat(a.format, "--format"));
    }
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(a.common.Root(), a.common.project, a.common.run));
  std::vector<SampleRow> rows;
  if (!config_only) {
    SEXTANT_ASSIGN_OR_RETURN(rows, reader->Samples(q));
  }
  std::ostringstream buffer;
  std::ostream& out = to_file ? buffer : std::cout;
  if (config_only) {
    out << LabelStudioConfigFor(*reader);
  } else if (!a.columns.empty()) {
    SEXTANT_RETURN_IF_ERROR(
        WriteExportColumns(out, format, rows, reader->info().labels, SplitCommaList(a.columns)));
  } else {
    WriteExport(out, format, rows, *reader);
  }
  if (!to_file) return Status::OK();
  SEXTANT_RETURN_IF_ERROR(WriteFileAtomic(a.output, buffer.str()));
  if (config_only) {
    std::fprintf(stderr, "wrote the Label Studio labeling config to %s\n", a.output.c_str());
  } else {
    std::fprintf(stderr, "exported %zu samples to %s\n", rows.size(), a.output.c_str());
  }
  return Status::OK();
}

// ---- spans ---------------------------------------------------------------------

struct SpanArgs {
  Common common;
  std::string split, inference_name, label, gold, pred, error_type, text, sample_id;
  std::string sort = "span_row", format = "jsonl";
  bool drifted = false, not_drifted = false, on_boundary = false;
  std::optional<double> min_conf, max_conf;
  int64_t limit = -1, offset = 0;
};

void AddSpanOptions(CLI::App* cmd, SpanArgs* a) {
  AddRunOptions(cmd, &a->common);
  cmd->add_option("--split", a->split, "training, validation, test or inference")->required();
  cmd->add_option("--inference-name", a->inference_name, "Inference set (with --split inference)");
  cmd->add_option("--label", a->label, "Only span rows whose gold or predicted type is this");
  cmd->add_option("--gold", a->gold, "Only span rows with this gold type");
  cmd->add_option("--pred", a->pred, "Only span rows with this predicted type");
  cmd->add_option("--error-type", a->error_type,
                  "none, wrong_tag, span_shift, missed_label or ghost_span");
  cmd->add_flag("--drifted", a->drifted, "Only drifted (or out-of-coverage) span rows");
  cmd->add_flag("--not-drifted", a->not_drifted, "Only span rows that are not drifted");
  cmd->add_flag("--on-boundary", a->on_boundary, "Only span rows on the class boundary");
  cmd->add_option("--min-confidence", a->min_conf, "Lowest confidence to keep");
  cmd->add_option("--max-confidence", a->max_conf, "Highest confidence to keep");
  cmd->add_option("--text", a->text,
                  "Regular expression (RE2 syntax, case-insensitive) the span text must contain");
  cmd->add_option("--sample-id", a->sample_id, "Only the span rows of this sample");
  cmd->add_option("--sort", a->sort, "FIELD or FIELD:desc (e.g. confidence, drift_score:desc)");
  cmd->add_option("--limit", a->limit, "At most this many rows");
  cmd->add_option("--offset", a->offset, "Skip this many rows first");
  cmd->add_option("--format", a->format, "jsonl or csv");
}

// One row per NER span row (docs/ner-nli.md).
Status RunSpans(const SpanArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(Format format, ParseFormat(a.format));
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, SplitFromArgs(a.split, a.inference_name));
  if (a.drifted && a.not_drifted) return Status::Invalid("--drifted, --not-drifted: pick one");
  SpanQuery q;
  q.split = split;
  auto optional = [](const std::string& v) {
    return v.empty() ? std::nullopt : std::optional<std::string>(v);
  };
  q.label = optional(a.label);
  q.gold = optional(a.gold);
  q.pred = optional(a.pred);
  q.error_type = optional(a.error_type);
  q.text_regex = optional(a.text);
  q.sample_id = optional(a.sample_id);
  if (a.drifted || a.not_drifted) q.is_drifted = a.drifted;
  if (a.on_boundary) q.is_on_the_boundary = true;
  q.min_confidence = a.min_conf;
  q.max_confidence = a.max_conf;
  const auto colon = a.sort.find(':');
  q.sort_by = a.sort.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string order = a.sort.substr(colon + 1);
    if (order != "desc" && order != "asc") {
      return Status::Invalid("--sort: '" + a.sort + "'; expected FIELD, FIELD:asc or FIELD:desc");
    }
    q.descending = order == "desc";
  }
  q.limit = a.limit;
  q.offset = a.offset;
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(a.common.Root(), a.common.project, a.common.run));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SpanRow> rows, reader->Spans(q));
  WriteSpans(std::cout, format, rows);
  return Status::OK();
}

// ---- map -----------------------------------------------------------------------

struct MapArgs {
  Common common;
  std::vector<std::string> splits;  // "training", "inference:NAME", ...; empty = all
  std::string format = "jsonl";
};

// One line per sample: id, split, x, y, pred, gold, drift_score, shift_score.
Status RunMap(const MapArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(Format format, ParseFormat(a.format));
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(a.common.Root(), a.common.project, a.common.run));
  std::vector<SplitKey> keys;
  for (const std::string& s : a.splits) {
    for (const std::string& item : SplitCommaList(s)) {
      Result<SplitKey> k = SplitKey::Parse(item);
      if (!k.ok()) return k.status().WithContext("--split");
      keys.push_back(*k);
    }
  }
  if (keys.empty()) {
    for (const SplitInfo& s : reader->info().splits) keys.push_back(s.split);
  }
  const std::vector<std::string> header = {"id",   "split", "x",           "y",
                                           "pred", "gold",  "drift_score", "shift_score"};
  if (format == Format::kCsv) io::WriteCsvRow(std::cout, header);
  for (const SplitKey& key : keys) {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<MapPoint> points, reader->MapPoints(key));
    SampleQuery q;
    q.split = key;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, reader->Samples(q));
    for (const SampleRow& r : rows) {
      const MapPoint& p = points[static_cast<size_t>(r.row)];
      nlohmann::ordered_json j = {
          {"id", r.id},
          {"split", key.ToString()},
          {"x", p.x},
          {"y", p.y},
          {"pred", r.pred},
          {"gold", r.gold ? nlohmann::ordered_json(*r.gold) : nlohmann::ordered_json(nullptr)},
          {"drift_score", r.drift_score ? nlohmann::ordered_json(*r.drift_score)
                                        : nlohmann::ordered_json(nullptr)},
          {"shift_score", r.shift_score ? nlohmann::ordered_json(*r.shift_score)
                                        : nlohmann::ordered_json(nullptr)}};
      if (format == Format::kJsonl) {
        std::cout << j.dump() << '\n';
        continue;
      }
      std::vector<std::string> fields;
      for (const std::string& col : header) {
        const auto& v = j[col];
        fields.push_back(v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump());
      }
      io::WriteCsvRow(std::cout, fields);
    }
  }
  return Status::OK();
}

#ifdef SEXTANT_HAVE_SERVER
struct ServeArgs {
  std::string root, token, static_dir, tls_cert, tls_key;
  // Host, port and limits are bound to the options themselves: their defaults
  // are ServerOptions{}'s, shown in --help.
  ServerOptions options;
};

// The console's build: --static, else the installed assets next to this
// binary (<prefix>/bin/../share/sextant/web, see `cmake --install`), else
// web/dist under the working directory, else web/dist of the source tree this
// binary was built from.
fs::path DefaultStaticDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / SEXTANT_INSTALLED_STATIC_DIR;
    if (fs::is_directory(installed, ec)) return installed;
  }
  if (fs::is_directory("web/dist", ec)) return fs::absolute("web/dist", ec);
  return SEXTANT_DEFAULT_STATIC_DIR;
}

Status RunServe(const ServeArgs& a) {
  ServerOptions o = a.options;
  o.root = ResolveRoot(a.root);
  o.token = a.token;
  if (o.token.empty()) {
    if (const char* env = std::getenv("SEXTANT_TOKEN")) o.token = env;
  }
  o.static_dir = a.static_dir.empty() ? DefaultStaticDir() : fs::path(a.static_dir);
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
  // SIGINT and SIGTERM stop the server cleanly (Server::Stop: requests in
  // flight are answered) and `serve` exits 0. The handler only writes to a
  // pipe, which a thread of our own reads: blocking the signals for sigwait is
  // not enough, as threads started before main (OpenBLAS's) would still take
  // them and die of the default action.
  static int stop_pipe[2] = {-1, -1};
  if (pipe2(stop_pipe, O_CLOEXEC) != 0) return Status::IOError("cannot create the stop pipe");
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Server> server, Server::Start(o));
  Server* raw = server.get();
  std::thread([raw] {
    char c;
    while (read(stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    raw->Stop();
  }).detach();
  struct sigaction action {};
  action.sa_handler = [](int) { (void)!write(stop_pipe[1], "s", 1); };
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const bool v6 = o.host.find(':') != std::string::npos && o.host.front() != '[';
  std::printf("Sextant console: %s://%s%s%s:%d/  (runs under %s%s%s)\n",
              o.tls_cert.empty() ? "http" : "https", v6 ? "[" : "", o.host.c_str(), v6 ? "]" : "",
              server->port(), o.root.c_str(),
              o.token.empty() ? "" : "; API needs the access token or an API key",
              o.public_metrics ? "; /metrics is public" : "");
  std::fflush(stdout);
  return server->Run();
}
#endif

int Report(const Status& st) {
  if (st.ok()) return 0;
  std::fprintf(stderr, "sextant: error: %s\n", st.ToString().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// ---- check and repair ------------------------------------------------------------

struct CheckArgs {
  std::string root, project, run, format = "table";
};

// Registers `check` and `repair` (docs/format.md); the commands run in RunCheckCommand
// and RunRepairCommand.
std::pair<CLI::App*, CLI::App*> AddCheckCommands(CLI::App& app, CheckArgs* check, Common* repair) {
  CLI::App* c = app.add_subcommand("check", "Verify a store: every run, or one project or run");
  c->add_option("--root", check->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  c->add_option("--project", check->project, "Only this project");
  c->add_option("--run", check->run, "Only this run (with --project)");
  c->add_option("--format", check->format, "table or json");
  CLI::App* r = app.add_subcommand("repair", "Salvage a damaged run and say what was dropped");
  AddRunOptions(r, repair);
  return {c, r};
}

nlohmann::ordered_json CheckJson(const RunCheck& c) {
  return {{"project", c.project},
          {"run", c.run},
          {"status", c.ok() ? "ok" : "damaged"},
          {"problems", c.problems},
          {"notes", c.notes}};
}

void PrintCheck(const RunCheck& c) {
  std::printf("%s/%s: %s\n", c.project.c_str(), c.run.c_str(), c.ok() ? "ok" : "DAMAGED");
  for (const std::string& p : c.problems) std::printf("    problem: %s\n", p.c_str());
  for (const std::string& n : c.notes) std::printf("    note: %s\n", n.c_str());
}

// Exit status 0 when every run checked is sound, 1 when one is damaged.
int RunCheckCommand(const CheckArgs& a) {
  if (!a.run.empty() && a.project.empty()) {
    return Report(Status::Invalid("--run: needs --project"));
  }
  const fs::path root = ResolveRoot(a.root);
  auto checks = CheckStore(root, a.project.empty() ? std::nullopt : std::optional(a.project),
                           a.run.empty() ? std::nullopt : std::optional(a.run));
  if (!checks.ok()) return Report(checks.status());
  int damaged = 0;
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const RunCheck& c : *checks) {
    damaged += c.ok() ? 0 : 1;
    if (a.format == "json") {
      j.push_back(CheckJson(c));
    } else {
      PrintCheck(c);
    }
  }
  if (a.format == "json") {
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("%zu run(s) checked under %s: %zu ok, %d damaged\n", checks->size(), root.c_str(),
                checks->size() - static_cast<size_t>(damaged), damaged);
  }
  return damaged > 0 ? 1 : 0;
}

// Repairs one run, prints what was dropped, then checks it again; exit status
// 0 when the run is sound afterwards.
int RunRepairCommand(const Common& a) {
  if (Status st = ValidateName("project", a.project); !st.ok()) return Report(st);
  if (Status st = ValidateName("run", a.run); !st.ok()) return Report(st);
  const fs::path dir = a.Root() / a.project / a.run;
  auto report = RepairRun(dir);
  if (!report.ok()) return Report(report.status());
  for (const std::string& d : report->dropped) std::printf("dropped: %s\n", d.c_str());
  for (const std::string& u : report->unrepaired) std::printf("not repaired: %s\n", u.c_str());
  if (report->dropped.empty()) std::printf("nothing to drop\n");
  std::error_code ec;
  if (!fs::exists(dir / "sextant.db", ec) && !fs::exists(dir / "outputs", ec) &&
      !fs::exists(dir / "results", ec)) {
    std::printf("after repair: %s/%s holds no run any more; logging it creates it afresh\n",
                a.project.c_str(), a.run.c_str());
    return report->unrepaired.empty() ? 0 : 1;
  }
  const RunCheck after = CheckRun(dir);
  std::printf("after repair: ");
  PrintCheck(after);
  return after.ok() ? 0 : 1;
}

// ---- one function per subcommand -----------------------------------------------
// Each adds its subcommand and flags to the app and returns the action to run
// when it was given; the flags' values live with the action.

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command AddImportCommand(CLI::App& app) {
  auto imp = std::make_shared<ImportArgs>();
  CLI::App* import =
      app.add_subcommand("import", "Log one split from a data file and .npy arrays, then finish");
  AddRunOptions(import, &imp->common);
  import->add_option("--task", imp->task,
                     "Task type: text_classification (tc), natural_language_inference (nli) or "
                     "named_entity_recognition (ner)");
  import->add_option("--tagging-schema", imp->tagging_schema, "NER: BIO, BIOES or BILOU");
  import->add_option("--premise-column", imp->premise_column,
                     "NLI: column of the premise (default premise)");
  import->add_option("--hypothesis-column", imp->hypothesis_column,
                     "NLI: column of the hypothesis (default hypothesis)");
  import->add_option("--tokens-column", imp->tokens_column,
                     "NER: column of the token offsets (default text_token_indices)");
  import->add_option("--gold-spans-column", imp->gold_spans_column,
                     "NER: column of the gold spans (default gold_spans)");
  import->add_option("--split", imp->split, "training, validation, test or inference")->required();
  import->add_option("--inference-name", imp->inference_name, "Name of the inference set");
  import->add_option("--time", imp->time,
                     "When the inference set happened (its place on the timeline): Unix seconds "
                     "or ISO 8601, e.g. 2026-12-06 (default: when its first sample is logged)");
  import->add_option("--epoch", imp->epoch, "Epoch of these outputs (default 0)");
  import->add_option("--data", imp->data, "Samples: .csv or .jsonl, one row per sample")
      ->required()
      ->check(CLI::ExistingFile);
  import
      ->add_option("--embeddings", imp->embeddings,
                   "N x D float .npy, rows aligned with --data (NER: one row per token)")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--logits", imp->logits, "N x C float .npy")->check(CLI::ExistingFile);
  import->add_option("--probs", imp->probs, "N x C float .npy of probabilities")
      ->check(CLI::ExistingFile);
  import->add_option("--labels", imp->labels, "Label list in logit order, comma-separated");
  import->add_option("--text-column", imp->text_column, "Column holding the text (default text)");
  import->add_option("--id-column", imp->id_column, "Column holding the sample id (default id)");
  import->add_option("--label-column", imp->label_column,
                     "Column holding the label (default label)");
  import->add_flag("--no-finish", imp->no_finish, "Log only; process later with `sextant finish`");
  AddFinishOptions(import, &imp->finish);
  return {import, [imp] { return Report(RunImport(*imp)); }};
}

// The processing options given on the command line as (name, value) text,
// for the distributed finish's driver (--option name=value).
std::vector<std::pair<std::string, std::string>> GivenProcessingOptions(const FinishArgs& a) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ProcessingOptionSpec& spec : ProcessingOptionSpecs()) {
    if (auto f = a.flags.find(spec.name); f != a.flags.end() && f->second) {
      out.emplace_back(spec.name, OnByDefault(spec) ? "false" : "true");
    } else if (auto v = a.values.find(spec.name); v != a.values.end() && !v->second.empty()) {
      out.emplace_back(spec.name, v->second);
    }
  }
  return out;
}

struct DaskArgs {
  std::string address, worker_memory, transfer = "shared";
};

void AddDaskOptions(CLI::App* cmd, DaskArgs* a, const char* what) {
  cmd->add_option("--dask", a->address,
                  std::string("Run ") + what +
                      " on the Dask cluster of this scheduler address (docs/distributed.md)");
  cmd->add_option("--worker-memory", a->worker_memory,
                  "With --dask: memory one worker may give the training reference, bytes or "
                  "e.g. 4GB (default half the smallest worker's memory limit)");
  cmd->add_option("--dask-transfer", a->transfer,
                  "With --dask: shared (workers see the store at the same path) or upload")
      ->capture_default_str();
}

Command AddFinishCommand(CLI::App& app) {
  auto run = std::make_shared<Common>();
  auto args = std::make_shared<FinishArgs>();
  auto dask = std::make_shared<DaskArgs>();
  CLI::App* finish = app.add_subcommand("finish", "Process every split of a run");
  AddRunOptions(finish, run.get());
  AddFinishOptions(finish, args.get());
  AddDaskOptions(finish, dask.get(), "the finish's searches");
  return {finish, [run, args, dask] {
            auto options = MakeProcessingOptions(*args);
            if (!options.ok()) return Report(options.status());
            if (!dask->address.empty()) {
              // The driver (python -m sextant.dask_finish) prints its stages and
              // report, and its exit status is this command's.
              DaskDriver driver = DefaultDaskDriver(dask->address);
              driver.worker_memory = dask->worker_memory;
              driver.transfer = dask->transfer;
              driver.options = GivenProcessingOptions(*args);
              std::fflush(stdout);
              auto status = RunDaskDriver(driver, run->Root().string(), run->project, run->run);
              if (!status.ok()) return Report(status.status());
              return *status;
            }
            if (!dask->worker_memory.empty() || dask->transfer != "shared") {
              return Report(Status::Invalid("--worker-memory and --dask-transfer need --dask"));
            }
            auto report = FinishRun(run->Root(), run->project, run->run, *options);
            if (report.ok()) PrintReport(*report);
            return Report(report.status());
          }};
}

struct RunsArgs {
  std::string root, format = "table";
};

int RunRuns(const RunsArgs& a) {
  auto list = ListRuns(ResolveRoot(a.root));
  if (!list.ok()) return Report(list.status());
  const bool table = a.format != "json";
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const RunInfo& r : *list) {
    j.push_back(RunInfoToJson(r));
    if (!table) continue;
    if (r.status != "ok") {
      std::printf("%s/%s  DAMAGED  %.1f MB\n    %s\n", r.project.c_str(), r.run.c_str(),
                  static_cast<double>(r.size_bytes) / 1e6, r.error.c_str());
      continue;
    }
    std::printf("%s/%s  %s  labels=%zu  %s  %.1f MB\n", r.project.c_str(), r.run.c_str(),
                r.task.c_str(), r.labels.size(), r.finished ? "finished" : "not finished",
                static_cast<double>(r.size_bytes) / 1e6);
    for (const SplitInfo& s : r.splits) {
      std::printf("    %-24s %8lld samples  %d epoch(s)  dim %lld  %s\n",
                  s.split.ToString().c_str(), static_cast<long long>(s.samples), s.epochs_logged,
                  static_cast<long long>(s.embedding_dim), s.processed ? "processed" : "pending");
    }
  }
  if (!table)
    std::printf("%s\n", j.dump(2).c_str());
  else if (list->empty())
    std::printf("no runs under %s\n", ResolveRoot(a.root).c_str());
  return 0;
}

Command AddRunsCommand(CLI::App& app) {
  auto args = std::make_shared<RunsArgs>();
  CLI::App* runs = app.add_subcommand("runs", "List projects, runs, splits and sizes");
  runs->add_option("--root", args->root, "Store root");
  runs->add_option("--format", args->format, "table or json");
  return {runs, [args] { return RunRuns(*args); }};
}

struct SummaryArgs {
  Common common;
  std::string split, inference_name;
};

Status RunSummary(const SummaryArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(a.common.Root(), a.common.project, a.common.run));
  std::optional<SplitKey> split;
  if (!a.split.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(split, SplitFromArgs(a.split, a.inference_name));
  }
  SEXTANT_ASSIGN_OR_RETURN(std::string text, reader->SummaryJson(split));
  std::printf("%s\n", nlohmann::ordered_json::parse(text).dump(2).c_str());
  return Status::OK();
}

Command AddSummaryCommand(CLI::App& app) {
  auto args = std::make_shared<SummaryArgs>();
  CLI::App* summary = app.add_subcommand("summary", "Per-run or per-split results as JSON");
  AddRunOptions(summary, &args->common);
  summary->add_option("--split", args->split, "Only this split");
  summary->add_option("--inference-name", args->inference_name,
                      "Inference set (with --split inference)");
  return {summary, [args] { return Report(RunSummary(*args)); }};
}

Command AddTimelineCommand(CLI::App& app) {
  struct Args {
    Common common;
    TimelineView view;
    bool no_references = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "timeline", "The run's inference sets over time, with their monitoring metrics");
  AddRunOptions(cmd, &args->common);
  cmd->add_option("--metric", args->view.metrics,
                  "Metrics to show (repeatable or comma-separated; default: the main ones)")
      ->delimiter(',');
  cmd->add_option("--class", args->view.label, "Per-class metrics of this class");
  cmd->add_option("--format", args->view.format, "table (default), csv or json");
  cmd->add_flag("--no-references", args->no_references, "Leave out training and validation rows");
  return {cmd, [args] {
            auto st = [&]() -> Status {
              SEXTANT_ASSIGN_OR_RETURN(
                  std::unique_ptr<RunReader> reader,
                  RunReader::Open(args->common.Root(), args->common.project, args->common.run));
              SEXTANT_ASSIGN_OR_RETURN(std::string json, reader->TimelineJson());
              TimelineView view = args->view;
              view.references = !args->no_references;
              return WriteTimeline(json, view, std::cout);
            }();
            return Report(st);
          }};
}

Command AddReportCommand(CLI::App& app) {
  auto args = std::make_shared<Common>();
  CLI::App* report = app.add_subcommand("report", "The run's results as a short human summary");
  AddRunOptions(report, args.get());
  return {report, [args] {
            auto st = [&]() -> Status {
              SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                                       RunReader::Open(args->Root(), args->project, args->run));
              SEXTANT_ASSIGN_OR_RETURN(std::string json, reader->SummaryJson());
              SEXTANT_RETURN_IF_ERROR(WriteHumanReport(json, std::cout));
              PrintRunAlerts(args->Root(), args->project, args->run, std::cout);
              return Status::OK();
            }();
            return Report(st);
          }};
}

Command AddSamplesCommand(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  CLI::App* samples = app.add_subcommand("samples", "Per-sample results, filtered and sorted");
  AddSampleFilters(samples, args.get());
  return {samples, [args] { return Report(RunSamples(*args, false)); }};
}

Command AddExportCommand(CLI::App& app) {
  auto args = std::make_shared<SampleArgs>();
  args->format = "";
  CLI::App* export_cmd =
      app.add_subcommand("export", "Write a filtered selection to CSV or JSONL for labeling");
  AddSampleFilters(export_cmd, args.get());
  export_cmd
      ->add_option("--output", args->output,
                   "File to write: .csv, .jsonl or .json (Label Studio tasks); --format overrides")
      ->required();
  export_cmd->add_option("--columns", args->columns,
                         "Only these columns, in this order (id,text,pred,confidence,meta.KEY; csv "
                         "and jsonl)");
  return {export_cmd, [args] { return Report(RunSamples(*args, true)); }};
}

struct SimilarArgs {
  Common common;
  std::string id, split, inference_name, in, pred, drifted;
  int k = 10;
};

Status RunSimilar(const SimilarArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(SplitKey split, SplitFromArgs(a.split, a.inference_name));
  std::vector<SplitKey> in;
  for (const std::string& s : SplitCommaList(a.in)) {
    SEXTANT_ASSIGN_OR_RETURN(SplitKey k, SplitKey::Parse(s));
    in.push_back(k);
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                           RunReader::Open(a.common.Root(), a.common.project, a.common.run));
  SimilarityFilter filter;
  if (!a.pred.empty()) filter.pred_class = a.pred;
  if (!a.drifted.empty()) {
    if (a.drifted != "true" && a.drifted != "false") {
      return Status::Invalid("--drifted: '" + a.drifted + "'; expected true or false");
    }
    filter.is_drifted = a.drifted == "true";
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Neighbor> hits,
                           reader->Similar(split, a.id, a.k, in, filter));
  int rank = 0;
  for (const Neighbor& h : hits) {
    SampleQuery q;
    q.split = h.split;
    q.ids = {h.id};
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, reader->Samples(q));
    nlohmann::ordered_json j = {{"rank", ++rank}};
    j.update(NeighborToJson(h));
    if (!rows.empty()) {
      j["text"] = rows[0].text;
      j["pred"] = rows[0].pred;
      j["confidence"] = rows[0].confidence;
    }
    std::printf("%s\n", j.dump().c_str());
  }
  return Status::OK();
}

Command AddSimilarCommand(CLI::App& app) {
  auto a = std::make_shared<SimilarArgs>();
  CLI::App* similar = app.add_subcommand("similar", "The most similar samples to one sample");
  AddRunOptions(similar, &a->common);
  similar->add_option("--id", a->id, "Sample id")->required();
  similar->add_option("--split", a->split, "Split of the sample")->required();
  similar->add_option("--inference-name", a->inference_name, "Inference set of the sample");
  similar->add_option("--k", a->k, "How many (default 10)");
  similar->add_option("--in", a->in, "Where to search: e.g. training,inference:prod (default all)");
  similar->add_option("--pred", a->pred, "Only samples predicted as this class");
  similar->add_option("--drifted", a->drifted,
                      "Only drifted / out-of-coverage samples (true) or only the others (false)");
  return {similar, [a] { return Report(RunSimilar(*a)); }};
}

Command AddSpansCommand(CLI::App& app) {
  auto args = std::make_shared<SpanArgs>();
  CLI::App* spans =
      app.add_subcommand("spans", "NER span rows (gold and predicted), filtered and sorted");
  AddSpanOptions(spans, args.get());
  return {spans, [args] { return Report(RunSpans(*args)); }};
}

Command AddMapCommand(CLI::App& app) {
  auto args = std::make_shared<MapArgs>();
  CLI::App* map_cmd = app.add_subcommand("map", "Each sample's position in the run's 2-D map");
  AddRunOptions(map_cmd, &args->common);
  map_cmd->add_option("--split", args->splits,
                      "Only these splits: training, validation, test or inference:NAME "
                      "(repeatable or comma-separated; default all)");
  map_cmd->add_option("--format", args->format, "jsonl or csv (default jsonl)");
  return {map_cmd, [args] { return Report(RunMap(*args)); }};
}

// ---- compare ----------------------------------------------------------------------

struct CompareArgs {
  Common common;
  std::string a, b, format = "table";
};

std::string CompareCell(const nlohmann::ordered_json& v, bool share) {
  if (!v.is_object() || !v["value"].is_number()) return "-";
  char buf[96];
  const double x = v["value"].get<double>();
  if (share) {
    std::snprintf(buf, sizeof buf, "%.1f%%", 100 * x);
  } else {
    std::snprintf(buf, sizeof buf, x == std::floor(x) && std::abs(x) > 1 ? "%.0f" : "%.3f", x);
  }
  std::string out = buf;
  if (v["low"].is_number() && v["high"].is_number()) {
    const double l = v["low"].get<double>(), h = v["high"].get<double>();
    std::snprintf(buf, sizeof buf, share ? " [%.1f, %.1f]" : " [%.3f, %.3f]", share ? 100 * l : l,
                  share ? 100 * h : h);
    out += buf;
  }
  return out;
}

std::string CompareTest(const nlohmann::ordered_json& t) {
  if (!t.is_object()) return "-";
  const bool adjusted = t.contains("p_value_adjusted");
  // One p-value formatter (query/verdict.h): an underflowed p is "p<1e-300", never "p=0".
  std::string p = verdict::PText(t[adjusted ? "p_value_adjusted" : "p_value"], nullptr);
  p = (p[2] == '<' ? "<" : "=") + p.substr(4);
  return t["name"].get<std::string>() + " " + (adjusted ? "p(adjusted)" : "p") + p +
         (t["significant"].get<bool>() ? " *" : "");
}

Status RunCompare(const CompareArgs& args) {
  if (args.format != "table" && args.format != "json") {
    return Status::Invalid("--format: expected table or json, got '" + args.format + "'");
  }
  SEXTANT_ASSIGN_OR_RETURN(SplitKey a, SplitKey::Parse(args.a));
  SEXTANT_ASSIGN_OR_RETURN(SplitKey b, SplitKey::Parse(args.b));
  SEXTANT_ASSIGN_OR_RETURN(
      std::unique_ptr<RunReader> reader,
      RunReader::Open(args.common.Root(), args.common.project, args.common.run));
  SEXTANT_ASSIGN_OR_RETURN(nlohmann::ordered_json j, server::CompareSplits(*reader, a, b));
  if (args.format == "json") {
    std::printf("%s\n", j.dump(2).c_str());
    return Status::OK();
  }
  std::printf("A = %s (%lld samples)   B = %s (%lld samples)   * p < %.2g\n\n", args.a.c_str(),
              static_cast<long long>(j["a"]["samples"].get<int64_t>()), args.b.c_str(),
              static_cast<long long>(j["b"]["samples"].get<int64_t>()), j["alpha"].get<double>());
  std::printf("%-20s %-26s %-26s %-10s %s\n", "metric", "A", "B", "change", "test");
  for (const auto& m : j["metrics"]) {
    const std::string name = m["name"];
    const bool share =
        name.find("share") != std::string::npos || name.find("accuracy") != std::string::npos;
    char change[32] = "-";
    if (m["change"].is_number()) {
      const double c = m["change"].get<double>();
      std::snprintf(change, sizeof change,
                    share                ? "%+.1f pt"
                    : c == std::floor(c) ? "%+.0f"
                                         : "%+.3f",
                    share ? 100 * c : c);
    }
    std::printf("%-20s %-26s %-26s %-10s %s\n", name.c_str(), CompareCell(m["a"], share).c_str(),
                CompareCell(m["b"], share).c_str(), change, CompareTest(m["test"]).c_str());
  }
  std::printf("\npredicted class shares (%s)\n", CompareTest(j["class_shares"]["test"]).c_str());
  for (const auto& c : j["class_shares"]["classes"]) {
    std::printf("  %-18s %6.1f%% -> %6.1f%%  (%+.1f pt)  %s\n",
                c["label"].get<std::string>().c_str(), 100 * c["a"]["share"].get<double>(),
                100 * c["b"]["share"].get<double>(), 100 * c["change"].get<double>(),
                CompareTest(c["test"]).c_str());
  }
  std::printf("\nmean confidence per predicted class\n");
  for (const auto& c : j["confidence_per_class"]) {
    auto mean = [](const nlohmann::ordered_json& v) {
      char buf[32] = "-";
      if (v["mean"].is_number()) std::snprintf(buf, sizeof buf, "%.3f", v["mean"].get<double>());
      return std::string(buf);
    };
    std::printf("  %-18s %s -> %s  %s\n", c["label"].get<std::string>().c_str(),
                mean(c["a"]).c_str(), mean(c["b"]).c_str(), CompareTest(c["test"]).c_str());
  }
  if (j["regions"].is_object()) {
    std::printf("\nmap regions that grew most from A to B\n");
    for (const auto& r : j["regions"]["grew"]) {
      std::printf("  cell (%d,%d): %.1f%% -> %.1f%%  %s\n", r["cell"]["col"].get<int>(),
                  r["cell"]["row"].get<int>(), 100 * r["a"]["share"].get<double>(),
                  100 * r["b"]["share"].get<double>(), CompareTest(r["test"]).c_str());
      for (const auto& e : r["examples"]) {
        std::printf("      %s  %s\n", e["id"].get<std::string>().c_str(),
                    e["text"].get<std::string>().substr(0, 80).c_str());
      }
    }
  }
  return Status::OK();
}

Command AddCompareCommand(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Two splits side by side: metrics, tests of the changes, map regions that grew");
  AddRunOptions(cmd, &args->common);
  cmd->add_option("A", args->a, "training, validation, test or inference:NAME")->required();
  cmd->add_option("B", args->b, "training, validation, test or inference:NAME")->required();
  cmd->add_option("--format", args->format, "table or json (default table)");
  return {cmd, [args] { return Report(RunCompare(*args)); }};
}

std::vector<Command> AddCheckAndRepairCommands(CLI::App& app) {
  auto check = std::make_shared<CheckArgs>();
  auto repair = std::make_shared<Common>();
  auto [check_cmd, repair_cmd] = AddCheckCommands(app, check.get(), repair.get());
  return {{check_cmd, [check] { return RunCheckCommand(*check); }},
          {repair_cmd, [repair] { return RunRepairCommand(*repair); }}};
}

// ---- keys: the team server's API keys (docs/team-server.md) ----------------------

struct KeysArgs {
  std::string root, name, role, format = "table";
  std::vector<std::string> projects;
};

std::string UtcTime(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

Status RunKeysCreate(const KeysArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(server::Role role, server::ParseRole(a.role));
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<server::KeyStore> keys,
                           server::KeyStore::Open(ResolveRoot(a.root)));
  SEXTANT_ASSIGN_OR_RETURN(std::string secret, keys->Create(a.name, role, a.projects));
  std::string scope = "every project";
  if (!a.projects.empty()) {
    scope = "project(s) ";
    for (size_t i = 0; i < a.projects.size(); ++i) scope += (i ? ", " : "") + a.projects[i];
  }
  // The key alone on stdout (for `$(sextant keys create ...)`); the words on stderr.
  std::printf("%s\n", secret.c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "Created key '%s' (%s, %s). Store it now: it is not kept and cannot be shown "
               "again.\nUse it as 'Authorization: Bearer KEY' or SEXTANT_API_KEY=KEY.\n",
               a.name.c_str(), server::RoleName(role), scope.c_str());
  return Status::OK();
}

Status RunKeysList(const KeysArgs& a) {
  if (a.format != "table" && a.format != "json") {
    return Status::Invalid("--format: expected 'table' or 'json', got '" + a.format + "'");
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<server::KeyStore> keys,
                           server::KeyStore::Open(ResolveRoot(a.root)));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<server::KeyInfo> list, keys->List());
  if (a.format == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& k : list) {
      out.push_back({{"name", k.name},
                     {"role", server::RoleName(k.role)},
                     {"projects", k.projects},
                     {"created_at", k.created_at},
                     {"last_used_at", k.last_used_at ? nlohmann::ordered_json(*k.last_used_at)
                                                     : nlohmann::ordered_json()},
                     {"revoked", k.revoked}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return Status::OK();
  }
  if (list.empty()) {
    std::printf("no API keys under %s (create one with `sextant keys create`)\n",
                ResolveRoot(a.root).c_str());
    return Status::OK();
  }
  std::printf("%-24s %-6s %-20s %-20s %-8s %s\n", "NAME", "ROLE", "CREATED", "LAST USED", "STATUS",
              "PROJECTS");
  for (const auto& k : list) {
    std::string projects;
    for (const auto& p : k.projects) projects += (projects.empty() ? "" : ",") + p;
    std::printf("%-24s %-6s %-20s %-20s %-8s %s\n", k.name.c_str(), server::RoleName(k.role),
                UtcTime(k.created_at).c_str(),
                k.last_used_at ? UtcTime(*k.last_used_at).c_str() : "never",
                k.revoked ? "revoked" : "active", projects.empty() ? "*" : projects.c_str());
  }
  return Status::OK();
}

Status RunKeysRevoke(const KeysArgs& a) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<server::KeyStore> keys,
                           server::KeyStore::Open(ResolveRoot(a.root)));
  SEXTANT_RETURN_IF_ERROR(keys->Revoke(a.name));
  std::printf("Revoked key '%s'; a running server refuses it from its next request.\n",
              a.name.c_str());
  return Status::OK();
}

Command AddKeysCommand(CLI::App& app) {
  auto args = std::make_shared<KeysArgs>();
  CLI::App* keys = app.add_subcommand("keys", "API keys of the team server (docs/team-server.md)");
  keys->require_subcommand(1);
  // Also before the subcommand: `sextant keys --root DIR list`.
  keys->add_option("--root", args->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  CLI::App* create = keys->add_subcommand("create", "Create a key and print it (shown only once)");
  create->add_option("--root", args->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  create->add_option("--name", args->name, "The key's name (unique; shown as who uploaded)")
      ->required();
  create->add_option("--role", args->role, "admin, write or read")->required();
  create->add_option("--project", args->projects,
                     "A project the key may use (repeatable; default every project)");
  CLI::App* list = keys->add_subcommand("list", "List keys (names, roles, scopes; never secrets)");
  list->add_option("--root", args->root, "Store root");
  list->add_option("--format", args->format, "table or json");
  CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a key");
  revoke->add_option("--root", args->root, "Store root");
  revoke->add_option("--name", args->name, "The key's name")->required();
  return {keys, [args, create, list] {
            if (*create) return Report(RunKeysCreate(*args));
            if (*list) return Report(RunKeysList(*args));
            return Report(RunKeysRevoke(*args));
          }};
}

#ifdef SEXTANT_HAVE_SERVER
Command AddServeCommand(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve =
      app.add_subcommand("serve", "Serve the web console and its JSON API (docs/http-api.md)");
  serve->add_option("--root", args->root, "Store root (default: $SEXTANT_HOME, else ~/.sextant)");
  ServerOptions& so = args->options;
  serve
      ->add_option("--host", so.host,
                   "Address to bind (any but a loopback one needs an API key or --token)")
      ->capture_default_str();
  serve->add_option("--port", so.port, "Port (0: any free port)")->capture_default_str();
  serve->add_option("--token", args->token,
                    "Admin key of a single-user server (default $SEXTANT_TOKEN); API keys: "
                    "`sextant keys`");
  serve->add_option("--tls-cert", args->tls_cert,
                    "Serve HTTPS with this PEM certificate (chain); needs --tls-key");
  serve->add_option("--tls-key", args->tls_key, "The PEM private key of --tls-cert");
  serve->add_option("--static", args->static_dir, "The console's build (default web/dist)");
  serve->add_flag("--public-metrics", so.public_metrics,
                  "Serve GET /metrics (Prometheus) without a key, e.g. to a scraper on a "
                  "private network");
  // The limits of docs/http-api.md, "Limits"; Server::Start checks their ranges.
  serve
      ->add_option("--max-connections", so.max_connections,
                   "Open connections in all (beyond: an idle one is closed, else 503)")
      ->capture_default_str();
  serve
      ->add_option("--max-connections-per-client", so.max_connections_per_client,
                   "Open connections from one IP address")
      ->capture_default_str();
  serve
      ->add_option("--request-timeout", so.request_timeout_s,
                   "Seconds to receive one request's head and body")
      ->capture_default_str();
  serve
      ->add_option("--idle-timeout", so.idle_timeout_s,
                   "Seconds a keep-alive connection may wait for its next request")
      ->capture_default_str();
  serve
      ->add_option("--write-timeout", so.write_timeout_s,
                   "Seconds one write of an answer may take to a stalled client")
      ->capture_default_str();
  serve->add_option("--max-body-bytes", so.max_body_bytes, "Largest request body (413 beyond)")
      ->capture_default_str();
  serve
      ->add_option("--live-window", so.live_window,
                   "Live ingest: the set of samples sent without an inference name, by their "
                   "UTC day or hour (day|hour|none)")
      ->capture_default_str();
  serve
      ->add_option("--live-max-pending-bytes", so.live_max_pending_bytes,
                   "Live ingest: bytes accepted but not yet stored (503 beyond)")
      ->capture_default_str();
  serve->add_flag("--live-approximate", so.live_approximate,
                  "Live ingest: score with an approximate (IVF) index when the finish was exact "
                  "(faster; ~99.5% flag agreement)");
  serve
      ->add_option("--text-search-budget", so.text_search_budget_s,
                   "Seconds one request's text search may take (400 beyond)")
      ->capture_default_str();
  serve
      ->add_option("--shutdown-grace", so.shutdown_grace_s,
                   "Seconds a stopping server gives the requests in flight")
      ->capture_default_str();
  serve
      ->add_option("--workers", so.workers,
                   "Processing jobs of uploaded runs run on this many threads")
      ->capture_default_str();
  serve
      ->add_option("--preload-samples", so.preload_samples,
                   "Load the runs' sample tables in the background at start, newest runs first, "
                   "up to this many samples (0: none)")
      ->capture_default_str();
  serve->add_option("--dask", so.dask_address,
                    "Run processing jobs' finishes on the Dask cluster of this scheduler address "
                    "(docs/distributed.md)");
  serve->add_option("--worker-memory", so.dask_worker_memory,
                    "With --dask: memory one worker may give the training reference (bytes or "
                    "e.g. 4GB)");
  serve->add_option("--dask-transfer", so.dask_transfer, "With --dask: shared or upload")
      ->capture_default_str();
  return {serve, [args] { return Report(RunServe(*args)); }};
}
#endif

// ---- team server: login, logout, sync, jobs (docs/team-server.md) ------------

struct RemoteArgs {
  std::string root, url, api_key, project, run, format = "table";
  double timeout_s = 0;
};

// The server to talk to: --url/--api-key, else $SEXTANT_CONSOLE_URL, else the login.
Result<RemoteConfig> RemoteFromArgs(const RemoteArgs& a) {
  if (!a.url.empty()) {
    RemoteConfig r;
    r.url = a.url;
    r.api_key = a.api_key;
    if (r.api_key.empty()) {
      if (const char* key = std::getenv("SEXTANT_API_KEY")) r.api_key = key;
    }
    if (const char* s = std::getenv("SEXTANT_RETRY_SECONDS")) r.retry_seconds = std::atof(s);
    return r;
  }
  SEXTANT_ASSIGN_OR_RETURN(std::optional<RemoteConfig> remote, ResolveRemote(a.root));
  if (!remote) {
    return Status::FailedPrecondition(
        "no team server configured: pass --url, set SEXTANT_CONSOLE_URL, or `sextant login`");
  }
  return *remote;
}

void AddRemoteOptions(CLI::App* cmd, RemoteArgs* a) {
  cmd->add_option("--root", a->root, "Local store root (default: $SEXTANT_HOME, else ~/.sextant)");
  cmd->add_option("--url", a->url, "Team server (default: $SEXTANT_CONSOLE_URL, else the login)");
  cmd->add_option("--api-key", a->api_key, "API key (default: $SEXTANT_API_KEY, else the login)");
}

void PrintProgress(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string JobLine(const JobStatus& j) {
  char line[512];
  std::snprintf(line, sizeof line, "%-6lld %-10s %-24s %-8s %3d%%  %s%s",
                static_cast<long long>(j.id), j.state.c_str(), (j.project + "/" + j.run).c_str(),
                j.uploaded_by.c_str(), static_cast<int>(j.progress * 100), j.stage.c_str(),
                j.error.empty() ? "" : ("  error: " + j.error).c_str());
  return line;
}

std::vector<Command> AddTeamCommands(CLI::App& app) {
  std::vector<Command> out;
  {
    auto a = std::make_shared<RemoteArgs>();
    CLI::App* cmd = app.add_subcommand(
        "login", "Check a team server and keep its URL and API key under the store root");
    AddRemoteOptions(cmd, a.get());
    out.push_back({cmd, [a] {
                     auto info = Login(a->root, a->url, a->api_key);
                     if (!info.ok()) return Report(info.status());
                     std::printf("logged in to %s (Sextant %s) as %s, role %s%s\n",
                                 info->url.c_str(), info->server_version.c_str(),
                                 info->key_name.c_str(), info->role.c_str(),
                                 info->projects.empty() ? ", every project" : "");
                     return 0;
                   }});
  }
  {
    auto a = std::make_shared<RemoteArgs>();
    CLI::App* cmd = app.add_subcommand("logout", "Forget the team server's login");
    cmd->add_option("--root", a->root, "Local store root");
    out.push_back({cmd, [a] { return Report(Logout(a->root)); }});
  }
  {
    auto a = std::make_shared<RemoteArgs>();
    CLI::App* cmd = app.add_subcommand(
        "sync", "Upload to the team server what local runs logged and have not uploaded yet");
    AddRemoteOptions(cmd, a.get());
    cmd->add_option("--project", a->project, "Only this project's run (with --run)");
    cmd->add_option("--run", a->run, "Only this run");
    cmd->add_option("--format", a->format,
                    "table, or json (one object per run, with each chunk's seconds)");
    out.push_back({cmd, [a] {
                     auto remote = RemoteFromArgs(*a);
                     if (!remote.ok()) return Report(remote.status());
                     std::vector<SyncReport> reports;
                     if (!a->run.empty()) {
                       auto r = SyncRun(a->root, a->project, a->run, *remote, PrintProgress);
                       if (!r.ok()) return Report(r.status());
                       reports.push_back(*r);
                     } else {
                       auto r = SyncRoot(a->root, *remote, PrintProgress);
                       if (!r.ok()) return Report(r.status());
                       reports = *r;
                     }
                     if (a->format == "json") {
                       nlohmann::ordered_json list = nlohmann::ordered_json::array();
                       for (const SyncReport& r : reports) {
                         list.push_back({{"project", r.project},
                                         {"run", r.run},
                                         {"uploads", r.uploads},
                                         {"samples", r.samples},
                                         {"output_rows", r.output_rows},
                                         {"bytes_sent", r.bytes_sent},
                                         {"chunks_sent", r.chunks_sent},
                                         {"chunks_present", r.chunks_present},
                                         {"seconds", r.seconds},
                                         {"chunk_seconds", r.chunk_seconds}});
                       }
                       std::printf("%s\n", list.dump().c_str());
                       return 0;
                     }
                     for (const SyncReport& r : reports) {
                       if (r.up_to_date) continue;
                       std::printf(
                           "%s/%s: %lld uploads, %lld samples, %lld output rows, %.1f MiB "
                           "sent (%lld chunks held already)%s\n",
                           r.project.c_str(), r.run.c_str(), static_cast<long long>(r.uploads),
                           static_cast<long long>(r.samples), static_cast<long long>(r.output_rows),
                           r.bytes_sent / 1048576.0, static_cast<long long>(r.chunks_present),
                           r.job_id ? (", job " + std::to_string(*r.job_id)).c_str() : "");
                     }
                     std::printf("in sync with %s\n", remote->url.c_str());
                     return 0;
                   }});
  }
  {
    auto a = std::make_shared<RemoteArgs>();
    CLI::App* cmd = app.add_subcommand("jobs", "The team server's processing jobs");
    AddRemoteOptions(cmd, a.get());
    cmd->add_option("--project", a->project, "With --run and --wait: the run to wait for");
    cmd->add_option("--run", a->run, "With --wait: the run to wait for");
    cmd->add_option("--wait", a->timeout_s,
                    "Wait up to this many seconds for --project/--run's job (0: no wait)");
    cmd->add_option("--format", a->format, "table or json");
    out.push_back({cmd, [a] {
                     auto remote = RemoteFromArgs(*a);
                     if (!remote.ok()) return Report(remote.status());
                     if (a->timeout_s > 0) {
                       auto job =
                           WaitForRun(*remote, a->project, a->run, a->timeout_s, PrintProgress);
                       if (!job.ok()) return Report(job.status());
                       std::printf("%s\n", JobLine(*job).c_str());
                       return 0;
                     }
                     auto jobs = ListJobs(*remote);
                     if (!jobs.ok()) return Report(jobs.status());
                     if (a->format == "json") {
                       auto body = RemoteGet(*remote, "/api/jobs");
                       if (!body.ok()) return Report(body.status());
                       std::printf("%s\n", body->c_str());
                       return 0;
                     }
                     std::printf("%-6s %-10s %-24s %-8s %4s  %s\n", "id", "state", "run", "by",
                                 "done", "stage");
                     for (const JobStatus& j : *jobs) std::printf("%s\n", JobLine(j).c_str());
                     return 0;
                   }});
  }
  return out;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"Sextant: how your NLP model behaves on production data"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sextant ") + kVersion);
  std::vector<Command> commands = {
      AddImportCommand(app), AddFinishCommand(app),  AddRunsCommand(app),    AddSummaryCommand(app),
      AddReportCommand(app), AddSamplesCommand(app), AddExportCommand(app),  AddSimilarCommand(app),
      AddSpansCommand(app),  AddMapCommand(app),     AddTimelineCommand(app)};
  for (Command& c : AddCheckAndRepairCommands(app)) commands.push_back(std::move(c));
  for (Command& c : AddTeamCommands(app)) commands.push_back(std::move(c));
  commands.push_back(AddCompareCommand(app));
  commands.push_back(AddKeysCommand(app));
  {
    AlertsCommand alerts = AddAlertsCommand(app);
    commands.push_back({alerts.app, alerts.run});
  }
  {
    LabelsCommand labels = AddLabelsCommand(app);
    commands.push_back({labels.app, labels.run});
  }
  {
    SuggestCommand suggest = AddSuggestCommand(app);
    commands.push_back({suggest.app, suggest.run});
  }
#ifdef SEXTANT_HAVE_SERVER
  commands.push_back(AddServeCommand(app));
#endif
  CLI11_PARSE(app, argc, argv);
  for (const Command& c : commands) {
    if (*c.app) return c.run();
  }
  return 0;
}

}  // namespace sextant::cli

int main(int argc, char** argv) { return sextant::cli::Main(argc, argv); }
