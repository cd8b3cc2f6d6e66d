#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/file_util.h"
#include "common/json_depth.h"
#include "common/request_budget.h"
#include "common/text_pattern.h"
#include "index/cosine_index.h"
#include "io/npy.h"
#include "ner/tags.h"
#include "sextant/results.h"
#include "store/run_store.h"

namespace sextant {
namespace fs = std::filesystem;

namespace {

// SQLite REGEXP operator: case-insensitive RE2 search (common/text_pattern.h);
// the compiled pattern is cached on the statement. Stops the statement when
// the request's budget is spent (common/request_budget.h).
void RegexpFunction(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto* re = static_cast<TextPattern*>(sqlite3_get_auxdata(ctx, 0));
  if (re == nullptr) {
    const char* pattern = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    auto compiled = TextPattern::Compile(pattern ? pattern : "", "text regex");
    if (!compiled.ok()) {
      sqlite3_result_error(ctx, compiled.status().message().c_str(), -1);
      return;
    }
    re = new TextPattern(std::move(compiled).value());
    sqlite3_set_auxdata(ctx, 0, re, [](void* p) { delete static_cast<TextPattern*>(p); });
  }
  if (Status budget = CheckRequestBudget("the text search"); !budget.ok()) {
    sqlite3_result_error(ctx, budget.message().c_str(), -1);
    return;
  }
  const char* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  const int size = sqlite3_value_bytes(argv[1]);
  sqlite3_result_int(ctx, text && re->Search(std::string_view(text, size)) ? 1 : 0);
}

// A step of a statement that may run REGEXP: when RegexpFunction stopped it
// because the request's budget was spent, that (InvalidArgument) is the error,
// not SQLite's generic one.
Result<bool> StepWithinBudget(store::Statement& st) {
  auto row = st.Step();
  if (!row.ok()) SEXTANT_RETURN_IF_ERROR(CheckRequestBudget("the text search"));
  return row;
}

const std::unordered_map<std::string, std::string>& SortColumns() {
  static const std::unordered_map<std::string, std::string> kColumns = {
      {"row", "s.row"},
      {"id", "s.id"},
      {"text", "s.text"},
      {"gold", "COALESCE(s.label, il.gold)"},  // imported labels (store/imported_labels.h)
      {"pred", "r.pred"},
      {"confidence", "r.confidence"},
      {"margin", "r.margin"},
      {"certainty_ratio", "r.certainty_ratio"},
      {"entropy", "r.entropy"},
      {"is_on_the_boundary", "r.on_boundary"},
      {"epoch", "r.epoch"},
      {"aum", "r.aum"},
      {"dep", "r.dep"},
      {"drift_distance", "r.drift_distance"},
      {"drift_score", "r.drift_score"},
      {"is_drifted", "r.drifted"},
      {"shift_score", "r.shift_score"},
      {"is_shifted", "r.shifted"},
      {"span_errors", "r.span_errors"},
      {"pred_spans_count", "r.pred_spans_count"},
      {"min_span_confidence", "r.min_span_confidence"},
  };
  return kColumns;
}

const std::unordered_map<std::string, std::string>& SpanSortColumns() {
  static const std::unordered_map<std::string, std::string> kColumns = {
      {"span_row", "r.span_row"},
      {"sample_row", "r.sample_row"},
      {"span_text", "span_text"},
      {"gold", "r.gold"},
      {"pred", "r.pred"},
      {"error_type", "r.error_type"},
      {"confidence", "r.confidence"},
      {"certainty_ratio", "r.certainty_ratio"},
      {"dep", "r.dep"},
      {"drift_distance", "r.drift_distance"},
      {"drift_score", "r.drift_score"},
      {"is_drifted", "r.drifted"},
      {"is_on_the_boundary", "r.on_boundary"},
  };
  return kColumns;
}

// The error types of span rows (docs/ner-nli.md).
bool IsSpanErrorType(const std::string& name) {
  return name == "none" || name == "wrong_tag" || name == "span_shift" || name == "missed_label" ||
         name == "ghost_span";
}

}  // namespace

class RunReader::Impl {
 public:
  ~Impl() {
    if (store) (void)store->EndSnapshot();
  }
  std::unique_ptr<store::RunStore> store;
  RunInfo info;
  fs::path results_dir;
  int64_t generation = 0;
  store::GenerationPin pin;  // keeps results_dir while the reader is open
  // Runs finished before the shift score existed lack its columns: then they
  // read as NULL (ShiftColumn).
  bool has_shift_columns = false;
  bool has_span_columns = false;          // the NER sentence fields (issue 16); NULL without
  std::vector<std::string> entity_types;  // NER runs
  // A second connection outside the snapshot, to read the current generation.
  mutable std::mutex probe_mu;
  mutable std::unique_ptr<store::Database> probe;

  Status PinCommittedGeneration(const fs::path& run_dir);

  // The SQL of a shift column ("r.shift_score" or "r.shifted"): NULL for a run without it.
  std::string ShiftColumn(const std::string& column) const {
    return has_shift_columns ? column : std::string("NULL");
  }
  // Any optional results column: the shift and NER sentence columns read as NULL in runs
  // finished before they existed.
  std::string OptionalColumn(const std::string& column) const {
    if (column.rfind("r.shift", 0) == 0) return ShiftColumn(column);
    if (column == "r.span_errors" || column == "r.pred_spans_count" ||
        column == "r.min_span_confidence") {
      return has_span_columns ? column : std::string("NULL");
    }
    return column;
  }

  std::string RunName() const { return "run '" + info.project + "/" + info.run + "'"; }

  // The label at a stored index; IOError naming the table and column when out of range.
  Result<std::string> LabelAt(int64_t index, const char* column, const SplitKey& split,
                              int64_t row) const {
    if (index >= 0 && index < static_cast<int64_t>(info.labels.size())) {
      return info.labels[static_cast<size_t>(index)];
    }
    return Status::IOError(RunName() + ": sextant.db column " + column + " of split '" +
                           split.ToString() + "' row " + std::to_string(row) +
                           " holds label index " + std::to_string(index) + "; the run has " +
                           std::to_string(info.labels.size()) + " labels");
  }
  Result<std::string> EntityTypeAt(int64_t index, const char* column, const SplitKey& split,
                                   int64_t span_row) const {
    if (index >= 0 && index < static_cast<int64_t>(entity_types.size())) {
      return entity_types[static_cast<size_t>(index)];
    }
    return Status::IOError(RunName() + ": sextant.db column " + column + " of split '" +
                           split.ToString() + "' span row " + std::to_string(span_row) +
                           " holds entity type index " + std::to_string(index) + "; the run has " +
                           std::to_string(entity_types.size()) + " entity types");
  }

  // Samples (or span rows, for spans/...) of a processed split: the rows an array must have.
  Result<int64_t> ExpectedRows(const SplitKey& split, const std::string& name) const {
    const bool spans = name.rfind("spans/", 0) == 0;
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement st,
        store->db().Prepare(spans ? "SELECT COUNT(*) FROM span_results WHERE split = ?"
                                  : "SELECT COUNT(*) FROM results WHERE split = ?"));
    st.Bind(1, split.ToString());
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.Int(0) : 0;
  }

  // Checks an array's shape against the results it belongs to.
  Status CheckShape(const SplitKey& split, const std::string& name, int64_t rows,
                    int64_t cols) const {
    SEXTANT_ASSIGN_OR_RETURN(int64_t expected, ExpectedRows(split, name));
    const fs::path path = results_dir / split.DirName() / name;
    std::string want_cols;
    if (name == "map.npy" || name == "spans/map.npy") {
      if (cols != 2) want_cols = "2";
    } else if (name == "probs.npy" && store->task() != TaskType::kNamedEntityRecognition) {
      if (cols != static_cast<int64_t>(info.labels.size()))
        want_cols = std::to_string(info.labels.size());
    } else if (cols < 1 && rows > 0) {
      want_cols = "at least 1";
    }
    if (rows != expected || !want_cols.empty()) {
      return Status::IOError("results file '" + path.string() + "' has shape (" +
                             std::to_string(rows) + ", " + std::to_string(cols) + "); expected " +
                             std::to_string(expected) + " rows (the split's results) and " +
                             (want_cols.empty() ? std::to_string(cols) : want_cols) + " columns");
    }
    return Status::OK();
  }

  Status CheckNer() const {
    if (store->task() == TaskType::kNamedEntityRecognition) return Status::OK();
    return Status::FailedPrecondition("spans: run '" + info.project + "/" + info.run + "' is a " +
                                      info.task +
                                      " run; span rows exist for "
                                      "named_entity_recognition runs");
  }

  Result<int32_t> TypeIndex(const char* field, const std::string& name) const {
    for (size_t i = 0; i < entity_types.size(); ++i) {
      if (entity_types[i] == name) return static_cast<int32_t>(i);
    }
    std::string all;
    for (const auto& l : entity_types) all += (all.empty() ? "" : ", ") + l;
    return Status::Invalid(std::string(field) + ": '" + name +
                           "' is not one of the run's entity types [" + all + "]");
  }

  // An NER sentence's predicted entity types in the run's type order ("PER, LOC"), "O" for none.
  std::string PredictedTypes(const std::vector<SpanMark>& pred_spans) const {
    std::string out;
    for (const std::string& type : entity_types) {
      const bool has = std::any_of(pred_spans.begin(), pred_spans.end(),
                                   [&](const SpanMark& m) { return m.label == type; });
      if (has) out += (out.empty() ? "" : ", ") + type;
    }
    return out.empty() ? std::string("O") : out;
  }

  // The NLI pair or the NER tokens and span marks of returned samples.
  Status AddTaskFields(const SplitKey& split, std::vector<SampleRow>* rows) const {
    const TaskType task = store->task();
    if (task == TaskType::kTextClassification || rows->empty()) return Status::OK();
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement fields,
        store->db().Prepare("SELECT premise, hypothesis, tokens FROM sample_fields WHERE split = ? "
                            "AND row = ?"));
    const std::string key = split.ToString();
    for (SampleRow& r : *rows) {
      fields.Bind(1, key).Bind(2, r.row);
      SEXTANT_ASSIGN_OR_RETURN(bool found, fields.Step());
      if (found && task == TaskType::kNaturalLanguageInference) {
        r.premise = fields.IsNull(0) ? "" : fields.Text(0);
        r.hypothesis = fields.IsNull(1) ? "" : fields.Text(1);
      }
      if (found && task == TaskType::kNamedEntityRecognition && !fields.IsNull(2)) {
        SEXTANT_ASSIGN_OR_RETURN(
            r.tokens, store::ParseStoredTokens(fields.Text(2), RunName() + ": sample '" + r.id +
                                                                   "' (sample_fields.tokens)"));
      }
      fields.Reset();
    }
    if (task == TaskType::kNamedEntityRecognition) {
      SEXTANT_RETURN_IF_ERROR(AddSpanMarks(split, rows));
      // With the span marks in: pred names the sentence's predicted entity types.
      for (SampleRow& r : *rows) {
        if (r.pred_spans_count) r.pred = PredictedTypes(r.pred_spans);
      }
    }
    return Status::OK();
  }

  // The span marks of NER samples, in one pass over the split's span rows for
  // the whole batch. span_results is keyed by (split, span_row), with no index
  // on sample_row: a query per sample scanned every span row of the split once
  // per sample, O(samples x spans) (a minute for CoNLL-2003's training split on
  // a server's first request). One range query is O(spans) per batch.
  Status AddSpanMarks(const SplitKey& split, std::vector<SampleRow>* rows) const {
    std::unordered_map<int64_t, size_t> index_of;
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (size_t i = 0; i < rows->size(); ++i) {
      const int64_t row = (*rows)[i].row;
      index_of.emplace(row, i);
      lo = std::min(lo, row);
      hi = std::max(hi, row);
    }
    if (index_of.empty()) return Status::OK();
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement marks,
        store->db().Prepare("SELECT sample_row, span_row, start, end, gold, pred, error_type FROM "
                            "span_results WHERE split = ? AND sample_row BETWEEN ? AND ? ORDER "
                            "BY span_row"));
    marks.Bind(1, split.ToString()).Bind(2, lo).Bind(3, hi);
    while (true) {
      SEXTANT_ASSIGN_OR_RETURN(bool more, marks.Step());
      if (!more) break;
      auto it = index_of.find(marks.Int(0));
      if (it == index_of.end()) continue;
      SampleRow& r = (*rows)[it->second];
      SpanMark m;
      m.span_row = marks.Int(1);
      m.start = static_cast<int32_t>(marks.Int(2));
      m.end = static_cast<int32_t>(marks.Int(3));
      if (!marks.IsNull(6)) m.error_type = marks.Text(6);
      if (!marks.IsNull(4)) {
        SEXTANT_ASSIGN_OR_RETURN(
            m.label, EntityTypeAt(marks.Int(4), "span_results.gold", split, m.span_row));
        r.gold_spans.push_back(m);
      }
      if (!marks.IsNull(5)) {
        SEXTANT_ASSIGN_OR_RETURN(
            m.label, EntityTypeAt(marks.Int(5), "span_results.pred", split, m.span_row));
        r.pred_spans.push_back(m);
      }
    }
    return Status::OK();
  }

  Result<int32_t> LabelIndex(const char* field, const std::string& name) const {
    for (size_t i = 0; i < info.labels.size(); ++i) {
      if (info.labels[i] == name) return static_cast<int32_t>(i);
    }
    std::string all;
    for (const auto& l : info.labels) all += (all.empty() ? "" : ", ") + l;
    return Status::Invalid(std::string(field) + ": '" + name +
                           "' is not one of the run's labels [" + all + "]");
  }

  Status CheckProcessed(const SplitKey& split) const {
    for (const SplitInfo& s : info.splits) {
      if (s.split != split) continue;
      if (!s.processed) {
        return Status::FailedPrecondition("split '" + split.ToString() +
                                          "' has not been processed; run `sextant finish`");
      }
      return Status::OK();
    }
    std::string all;
    for (const SplitInfo& s : info.splits) all += (all.empty() ? "" : ", ") + s.split.ToString();
    return Status::NotFound("split '" + split.ToString() + "' is not in run '" + info.project +
                            "/" + info.run + "' (it has: " + all + ")");
  }

  // Labels imported for inference samples (store/imported_labels.h) join as
  // `il`: the table is created on the first import, so an empty stand-in
  // takes its place before.
  std::string ImportedJoin() const {
    auto st = store->db().Prepare(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'imported_labels'");
    bool exists = false;
    if (st.ok()) {
      Result<bool> row = st->Step();
      exists = row.ok() && *row;
    }
    return exists ? " LEFT JOIN imported_labels il ON il.split = s.split AND il.id = s.id"
                  : " LEFT JOIN (SELECT NULL AS split, NULL AS id, NULL AS gold LIMIT 0) il"
                    " ON il.split = s.split AND il.id = s.id";
  }

  // Per inference set with imported labels: {"samples": n, "accuracy": share predicted right}.
  Result<std::map<std::string, nlohmann::ordered_json>> ImportedLabelCounts() const {
    std::map<std::string, nlohmann::ordered_json> out;
    if (ImportedJoin().find("imported_labels") == std::string::npos) return out;
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement st,
        store->db().Prepare(
            "SELECT il.split, COUNT(*), SUM(il.gold = r.pred) FROM imported_labels il "
            "JOIN samples s ON s.split = il.split AND s.id = il.id "
            "JOIN results r ON r.split = s.split AND r.row = s.row GROUP BY il.split"));
    while (true) {
      SEXTANT_ASSIGN_OR_RETURN(bool more, st.Step());
      if (!more) break;
      const int64_t n = st.Int(1);
      out[st.Text(0)] = {
          {"samples", n},
          {"accuracy", n ? static_cast<double>(st.Int(2)) / static_cast<double>(n) : 0.0}};
    }
    return out;
  }

  // Builds "FROM ... WHERE ..." and its bindings for a query.
  struct Where {
    std::string sql;
    std::vector<std::variant<int64_t, double, std::string>> binds;
  };
  Result<Where> BuildWhere(const SampleQuery& q) const {
    Where w;
    w.sql = " FROM samples s JOIN results r ON r.split = s.split AND r.row = s.row" +
            ImportedJoin() + " WHERE s.split = ?";
    w.binds.emplace_back(q.split.ToString());
    auto add = [&](const std::string& clause, auto value) {
      w.sql += " AND " + clause;
      w.binds.emplace_back(value);
    };
    if (q.is_drifted) add("r.drifted = ?", int64_t{*q.is_drifted});
    if (q.is_on_the_boundary) add("r.on_boundary = ?", int64_t{*q.is_on_the_boundary});
    if (q.is_correct) add("(COALESCE(r.gold, il.gold) = r.pred) = ?", int64_t{*q.is_correct});
    if (q.gold_class) {
      SEXTANT_ASSIGN_OR_RETURN(int32_t g, LabelIndex("gold class", *q.gold_class));
      add("COALESCE(s.label, il.gold) = ?", int64_t{g});
    }
    if (q.pred_class) {
      SEXTANT_ASSIGN_OR_RETURN(int32_t p, LabelIndex("predicted class", *q.pred_class));
      add("r.pred = ?", int64_t{p});
    }
    if (q.min_confidence) add("r.confidence >= ?", *q.min_confidence);
    if (q.max_confidence) add("r.confidence <= ?", *q.max_confidence);
    if (q.min_dep) add("r.dep >= ?", *q.min_dep);
    if (q.max_dep) add("r.dep <= ?", *q.max_dep);
    if (q.is_shifted) add(ShiftColumn("r.shifted") + " = ?", int64_t{*q.is_shifted});
    if (q.min_shift) add(ShiftColumn("r.shift_score") + " >= ?", *q.min_shift);
    if (q.max_shift) add(ShiftColumn("r.shift_score") + " <= ?", *q.max_shift);
    if (q.text_regex) {
      SEXTANT_RETURN_IF_ERROR(TextPattern::Compile(*q.text_regex, "text regex").status());
      add("s.text REGEXP ?", *q.text_regex);
    }
    if (!q.entity_types.empty()) {
      if (store->task() != TaskType::kNamedEntityRecognition) {
        return Status::Invalid("entity_type: only NER runs have entity types");
      }
      std::string in;
      std::vector<int64_t> types;
      for (const std::string& name : q.entity_types) {
        SEXTANT_ASSIGN_OR_RETURN(int32_t t, TypeIndex("entity_type", name));
        types.push_back(t);
        in += in.empty() ? "?" : ",?";
      }
      w.sql +=
          " AND EXISTS (SELECT 1 FROM span_results sr WHERE sr.split = s.split AND "
          "sr.sample_row = s.row AND (sr.gold IN (" +
          in + ") OR sr.pred IN (" + in + ")))";
      for (int pass = 0; pass < 2; ++pass) {
        for (int64_t t : types) w.binds.emplace_back(t);
      }
    }
    if (!q.ids.empty()) {
      w.sql += " AND s.id IN (";
      for (size_t i = 0; i < q.ids.size(); ++i) {
        w.sql += i ? ",?" : "?";
        w.binds.emplace_back(q.ids[i]);
      }
      w.sql += ")";
    }
    return w;
  }

  // Span rows: SQL over span_results joined with their samples (for the id and text).
  Result<Where> BuildSpanWhere(const SpanQuery& q) const {
    Where w;
    w.sql =
        " FROM span_results r JOIN samples s ON s.split = r.split AND s.row = r.sample_row "
        "WHERE r.split = ?";
    w.binds.emplace_back(q.split.ToString());
    auto add = [&](const std::string& clause, auto value) {
      w.sql += " AND " + clause;
      w.binds.emplace_back(value);
    };
    if (q.label) {
      SEXTANT_ASSIGN_OR_RETURN(int32_t t, TypeIndex("label", *q.label));
      w.sql += " AND (r.gold = ? OR r.pred = ?)";
      w.binds.emplace_back(int64_t{t});
      w.binds.emplace_back(int64_t{t});
    }
    if (q.gold) {
      SEXTANT_ASSIGN_OR_RETURN(int32_t t, TypeIndex("gold", *q.gold));
      add("r.gold = ?", int64_t{t});
    }
    if (q.pred) {
      SEXTANT_ASSIGN_OR_RETURN(int32_t t, TypeIndex("pred", *q.pred));
      add("r.pred = ?", int64_t{t});
    }
    if (q.error_type) {
      if (!IsSpanErrorType(*q.error_type)) {
        return Status::Invalid("error_type: '" + *q.error_type +
                               "'; expected one of: none, "
                               "wrong_tag, span_shift, missed_label, ghost_span");
      }
      add("r.error_type = ?", *q.error_type);
    }
    if (q.is_drifted) add("r.drifted = ?", int64_t{*q.is_drifted});
    if (q.is_on_the_boundary) add("r.on_boundary = ?", int64_t{*q.is_on_the_boundary});
    if (q.min_confidence) add("r.confidence >= ?", *q.min_confidence);
    if (q.max_confidence) add("r.confidence <= ?", *q.max_confidence);
    if (q.sample_id) add("s.id = ?", *q.sample_id);
    if (q.span_row) add("r.span_row = ?", *q.span_row);
    if (q.text_regex) {
      SEXTANT_RETURN_IF_ERROR(TextPattern::Compile(*q.text_regex, "text regex").status());
      add("substr(s.text, r.start + 1, r.end - r.start) REGEXP ?", *q.text_regex);
    }
    return w;
  }

  static void Bind(store::Statement& st, const Where& w) {
    for (size_t i = 0; i < w.binds.size(); ++i) {
      std::visit([&](const auto& v) { st.Bind(static_cast<int>(i + 1), v); }, w.binds[i]);
    }
  }

  Result<const io::MappedNpy*> Array(const SplitKey& split, const char* name) const {
    std::lock_guard lock(arrays_mu_);
    const std::string key = split.DirName() + "/" + name;
    auto it = arrays_.find(key);
    if (it == arrays_.end()) {
      SEXTANT_RETURN_IF_ERROR(store->VerifyResultFile(generation, key));
      auto opened = io::MappedNpy::Open(results_dir / split.DirName() / name);
      if (!opened.ok()) {
        // A float16 file is the caller's cue to convert (Invalid); anything else
        // wrong with a stored array is corruption.
        const Status& st = opened.status();
        if (st.IsInvalid() && st.message().find("cannot be memory-mapped") != std::string::npos) {
          return st;
        }
        return Status::IOError(st.message());
      }
      SEXTANT_RETURN_IF_ERROR(CheckShape(split, name, opened->rows(), opened->cols()));
      it = arrays_.emplace(key, std::make_unique<io::MappedNpy>(std::move(opened).value())).first;
    }
    return it->second.get();
  }

  // As Array, but nullptr when the file does not exist (e.g. map.npy of a run
  // finished without the map).
  Result<const io::MappedNpy*> OptionalArray(const SplitKey& split, const char* name) const {
    std::error_code ec;
    if (!fs::exists(results_dir / split.DirName() / name, ec)) return nullptr;
    return Array(split, name);
  }

  // A split's embeddings as float32 rows: the mapped file, or a converted copy
  // when finish stored them as float16.
  struct Matrix {
    const float* data = nullptr;
    int64_t rows = 0, cols = 0;
  };
  Result<Matrix> Embeddings(const SplitKey& split) const {
    auto mapped = Array(split, "embeddings.npy");
    if (mapped.ok()) return Matrix{(*mapped)->data(), (*mapped)->rows(), (*mapped)->cols()};
    if (!mapped.status().IsInvalid()) return mapped.status();
    std::lock_guard lock(arrays_mu_);
    auto it = converted_.find(split);
    if (it == converted_.end()) {
      SEXTANT_ASSIGN_OR_RETURN(
          io::FloatMatrix m,
          io::ReadNpyAsFloat32(results_dir / split.DirName() / "embeddings.npy"));
      SEXTANT_RETURN_IF_ERROR(CheckShape(split, "embeddings.npy", m.rows, m.cols));
      it = converted_.emplace(split, std::move(m)).first;
    }
    return Matrix{it->second.data.data(), it->second.rows, it->second.cols};
  }

  // Rows a similarity filter allows (AllowedRows).
  struct Allowed {
    std::vector<uint8_t> bitmap;
    std::vector<int64_t> rows;  // ascending, when at most 1/8 of all rows
    int64_t count = 0;
  };

  // The similarity index of every processed split; global row = offset of the
  // split + row in the split.
  struct Similarity {
    std::unique_ptr<index::CosineIndex> index;
    std::vector<SplitKey> splits;
    std::vector<int64_t> offsets, sizes;
    bool stored = false;  // read from the results (else built in memory, exact)
    // Per global row, for filters (loaded on the first filtered query):
    // predicted class, and is_drifted as -1 (none), 0 or 1.
    std::once_flag results_once;
    Status results_status;
    std::vector<int32_t> pred;
    std::vector<int8_t> drifted;
    // The last filters' allowed rows (AllowedRows).
    std::mutex filters_mu;
    std::vector<std::pair<std::string, std::shared_ptr<const Allowed>>> filters;

    int SplitIndex(const SplitKey& key) const {
      for (size_t i = 0; i < splits.size(); ++i) {
        if (splits[i] == key) return static_cast<int>(i);
      }
      return -1;
    }
    int SplitOfRow(int64_t global) const {
      auto it = std::upper_bound(offsets.begin(), offsets.end(), global);
      return static_cast<int>(it - offsets.begin()) - 1;
    }
  };

  // Reads `stem`.json (the manifest: which rows are which split's) and
  // `stem`.faiss of the results (docs/format.md).
  Status ReadStoredIndex(const std::string& stem, Similarity* sim) const {
    const fs::path manifest_path = results_dir / (stem + ".json");
    SEXTANT_RETURN_IF_ERROR(store->VerifyResultFile(generation, stem + ".json"));
    SEXTANT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(manifest_path));
    try {
      const nlohmann::json m = nlohmann::json::parse(text);
      int64_t next = 0;
      for (const auto& part : m.at("splits")) {
        SEXTANT_ASSIGN_OR_RETURN(SplitKey key,
                                 SplitKey::Parse(part.at("split").get<std::string>()));
        const auto offset = part.at("offset").get<int64_t>();
        const auto rows = part.at("rows").get<int64_t>();
        // Row ranges must tile the index: they become offsets into its rows.
        if (offset != next || rows < 0) {
          return Status::IOError("'" + manifest_path.string() + "': split '" + key.ToString() +
                                 "' has offset " + std::to_string(offset) + " and " +
                                 std::to_string(rows) + " rows; expected offset " +
                                 std::to_string(next) + " and a non-negative count");
        }
        next = offset + rows;
        sim->splits.push_back(key);
        sim->offsets.push_back(offset);
        sim->sizes.push_back(rows);
      }
    } catch (const nlohmann::json::exception& e) {
      return Status::IOError("'" + manifest_path.string() +
                             "' is not a valid manifest: " + e.what());
    }
    SEXTANT_RETURN_IF_ERROR(store->VerifyResultFile(generation, stem + ".faiss"));
    SEXTANT_ASSIGN_OR_RETURN(sim->index, index::CosineIndex::Read(results_dir / (stem + ".faiss")));
    const int64_t rows = sim->offsets.empty() ? 0 : sim->offsets.back() + sim->sizes.back();
    if (sim->index->size() != rows) {
      return Status::IOError("similarity index '" + (results_dir / (stem + ".faiss")).string() +
                             "' holds " + std::to_string(sim->index->size()) +
                             " rows; its manifest lists " + std::to_string(rows));
    }
    return Status::OK();
  }

  Result<const Similarity*> LoadSimilarity() const {
    std::lock_guard lock(similarity_mu_);
    if (similarity_) return similarity_.get();
    auto sim = std::make_unique<Similarity>();
    std::error_code ec;
    const fs::path manifest_path = results_dir / "similarity.json";
    if (fs::exists(manifest_path, ec)) {
      SEXTANT_RETURN_IF_ERROR(ReadStoredIndex("similarity", sim.get()));
      const int64_t rows = sim->offsets.empty() ? 0 : sim->offsets.back() + sim->sizes.back();
      if (sim->index->size() != rows) {
        return Status::IOError("similarity index of '" + info.project + "/" + info.run +
                               "' holds " + std::to_string(sim->index->size()) +
                               " rows; its manifest lists " + std::to_string(rows));
      }
      sim->stored = true;
    } else {
      // A run finished without the index: an exact one over the stored embeddings.
      std::vector<Matrix> parts;
      int64_t rows = 0, dim = 0;
      for (const SplitInfo& s : info.splits) {
        if (!s.processed) continue;
        SEXTANT_ASSIGN_OR_RETURN(Matrix e, Embeddings(s.split));
        if (e.rows > 0 && dim != 0 && e.cols != dim) {
          return Status::FailedPrecondition("similarity: the splits' embeddings differ in width");
        }
        if (e.rows > 0) dim = e.cols;
        sim->splits.push_back(s.split);
        sim->offsets.push_back(rows);
        sim->sizes.push_back(e.rows);
        parts.push_back(e);
        rows += e.rows;
      }
      index::IvfOptions exact;
      exact.nlist = 1;
      index::RowSource source = [&](int64_t first, int64_t count, float* out) {
        for (size_t i = 0; i < parts.size() && count > 0; ++i) {
          if (first >= sim->offsets[i] + parts[i].rows) continue;
          const int64_t from = first - sim->offsets[i];
          const int64_t take = std::min(count, parts[i].rows - from);
          std::copy(parts[i].data + from * dim, parts[i].data + (from + take) * dim, out);
          index::NormalizeRows(out, take, dim);
          out += take * dim;
          first += take;
          count -= take;
        }
      };
      SEXTANT_ASSIGN_OR_RETURN(
          sim->index, index::CosineIndex::BuildIvf(source, rows, std::max<int64_t>(dim, 1), exact));
    }
    similarity_ = std::move(sim);
    return similarity_.get();
  }

  // The similarity index of NER span rows, as finish stored it.
  using SpanIndex = Similarity;
  Result<const SpanIndex*> LoadSpanIndex() const {
    std::lock_guard lock(similarity_mu_);
    if (span_index_) return span_index_.get();
    auto sim = std::make_unique<Similarity>();
    const fs::path manifest_path = results_dir / "span_similarity.json";
    std::error_code ec;
    if (!fs::exists(manifest_path, ec)) {
      return Status::FailedPrecondition("run '" + info.project + "/" + info.run +
                                        "' has no span similarity index; finish it again with "
                                        "the similarity index on");
    }
    SEXTANT_RETURN_IF_ERROR(ReadStoredIndex("span_similarity", sim.get()));
    sim->stored = true;
    span_index_ = std::move(sim);
    return span_index_.get();
  }

  // The rows a filter allows, as a bitmap over the index's rows (and their list
  // when few); the last few filters' are kept, so repeated queries with the
  // same filter do not rebuild them.
  std::shared_ptr<const Allowed> AllowedRows(Similarity& sim, const std::vector<char>& in_split,
                                             std::optional<int32_t> pred,
                                             std::optional<bool> drifted) const {
    std::string key(in_split.begin(), in_split.end());
    key += "|" + (pred ? std::to_string(*pred) : std::string("-")) + "|" +
           (drifted ? (*drifted ? "1" : "0") : "-");
    {
      std::lock_guard lock(sim.filters_mu);
      for (const auto& [k, v] : sim.filters) {
        if (k == key) return v;
      }
    }
    auto a = std::make_shared<Allowed>();
    const int64_t rows = sim.index->size();
    a->bitmap.assign(static_cast<size_t>(rows), 0);
    for (size_t i = 0; i < sim.splits.size(); ++i) {
      if (!in_split[i]) continue;
      const int64_t begin = sim.offsets[i], end = begin + sim.sizes[i];
      if (!pred && !drifted) {
        std::fill(a->bitmap.begin() + begin, a->bitmap.begin() + end, uint8_t{1});
        a->count += end - begin;
        continue;
      }
      const int8_t want = drifted ? (*drifted ? 1 : 0) : 0;
      for (int64_t g = begin; g < end; ++g) {
        const bool ok = (!pred || sim.pred[g] == *pred) && (!drifted || sim.drifted[g] == want);
        a->bitmap[g] = ok;
        a->count += ok;
      }
    }
    if (a->count <= rows / 8) {
      a->rows.reserve(static_cast<size_t>(a->count));
      for (int64_t g = 0; g < rows; ++g) {
        if (a->bitmap[g]) a->rows.push_back(g);
      }
    }
    std::lock_guard lock(sim.filters_mu);
    sim.filters.emplace_back(key, a);
    if (sim.filters.size() > 8) sim.filters.erase(sim.filters.begin());
    return a;
  }

  // Loads the per-row predicted class and drift flag of the similarity rows.
  Status LoadFilterColumns(Similarity& sim) const {
    std::call_once(sim.results_once, [&] {
      const int64_t rows = sim.index->size();
      sim.pred.assign(static_cast<size_t>(rows), -1);
      sim.drifted.assign(static_cast<size_t>(rows), -1);
      auto st = store->db().Prepare("SELECT row, pred, drifted FROM results WHERE split = ?");
      if (!st.ok()) {
        sim.results_status = st.status();
        return;
      }
      for (size_t i = 0; i < sim.splits.size(); ++i) {
        st->Bind(1, sim.splits[i].ToString());
        while (true) {
          auto more = st->Step();
          if (!more.ok()) {
            sim.results_status = more.status();
            return;
          }
          if (!*more) break;
          const int64_t row = st->Int(0);
          if (row < 0 || row >= sim.sizes[i]) continue;
          const int64_t g = sim.offsets[i] + row;
          sim.pred[g] = static_cast<int32_t>(st->Int(1));
          sim.drifted[g] = st->IsNull(2) ? int8_t{-1} : static_cast<int8_t>(st->Int(2) != 0);
        }
        st->Reset();
      }
    });
    return sim.results_status;
  }

  // The nearest neighbours of one unit query among the allowed rows, as Neighbors.
  Result<std::vector<Neighbor>> SearchSimilar(const float* unit, int32_t k,
                                              const std::vector<SplitKey>& search_in,
                                              const SimilarityFilter& filter,
                                              int64_t exclude_global) const {
    if (k < 1) return Status::Invalid("k: must be at least 1");
    SEXTANT_ASSIGN_OR_RETURN(const Similarity* csim, LoadSimilarity());
    auto& sim = const_cast<Similarity&>(*csim);
    const int64_t rows = sim.index->size();
    std::vector<char> in_split(sim.splits.size(), search_in.empty() ? 1 : 0);
    for (const SplitKey& key : search_in) {
      SEXTANT_RETURN_IF_ERROR(CheckProcessed(key));
      const int i = sim.SplitIndex(key);
      if (i < 0) {
        return Status::FailedPrecondition("split '" + key.ToString() +
                                          "' is not in the similarity index; run `sextant finish`");
      }
      in_split[i] = 1;
    }
    std::optional<int32_t> pred;
    if (filter.pred_class) {
      SEXTANT_ASSIGN_OR_RETURN(int32_t p, LabelIndex("predicted class", *filter.pred_class));
      pred = p;
    }
    const bool all_splits = std::all_of(in_split.begin(), in_split.end(), [](char c) { return c; });
    // One more when the query's own row may come back: it is dropped below.
    const int32_t kk = static_cast<int32_t>(
        std::min<int64_t>(k + (exclude_global >= 0 ? 1 : 0), std::max<int64_t>(rows, 1)));
    std::vector<float> dist(static_cast<size_t>(kk));
    std::vector<int64_t> labels(static_cast<size_t>(kk));
    if (all_splits && !pred && !filter.is_drifted) {
      SEXTANT_RETURN_IF_ERROR(sim.index->Search(unit, 1, kk, dist.data(), labels.data()));
    } else {
      if (pred || filter.is_drifted) SEXTANT_RETURN_IF_ERROR(LoadFilterColumns(sim));
      std::shared_ptr<const Allowed> allowed = AllowedRows(sim, in_split, pred, filter.is_drifted);
      SEXTANT_RETURN_IF_ERROR(sim.index->SearchFiltered(
          unit, 1, kk,
          index::RowFilter{allowed->bitmap.data(), allowed->count,
                           allowed->rows.empty() ? nullptr : allowed->rows.data()},
          dist.data(), labels.data()));
    }
    struct Hit {
      float distance;
      int split;
      int64_t row;
    };
    std::vector<Hit> hits;
    for (int32_t j = 0; j < kk; ++j) {
      if (labels[j] < 0 || labels[j] == exclude_global) continue;
      const int s = sim.SplitOfRow(labels[j]);
      hits.push_back({dist[j], s, labels[j] - sim.offsets[s]});
    }
    std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      if (a.distance != b.distance) return a.distance < b.distance;
      return a.split != b.split ? a.split < b.split : a.row < b.row;
    });
    if (hits.size() > static_cast<size_t>(k)) hits.resize(static_cast<size_t>(k));
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement st,
        store->db().Prepare("SELECT id FROM samples WHERE split = ? AND row = ?"));
    std::vector<Neighbor> out;
    for (const Hit& h : hits) {
      st.Bind(1, sim.splits[h.split].ToString()).Bind(2, h.row);
      SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
      if (!found) {
        return Status::Internal("similarity: no sample at row " + std::to_string(h.row) +
                                " of split '" + sim.splits[h.split].ToString() + "'");
      }
      out.push_back({st.Text(0), sim.splits[h.split], h.distance});
      st.Reset();
    }
    return out;
  }

 private:
  mutable std::mutex arrays_mu_;
  mutable std::map<std::string, std::unique_ptr<io::MappedNpy>> arrays_;
  mutable std::map<SplitKey, io::FloatMatrix> converted_;  // float16 embeddings as float32
  mutable std::mutex similarity_mu_;
  mutable std::unique_ptr<Similarity> similarity_;
  mutable std::unique_ptr<Similarity> span_index_;
};

namespace {

Result<RunInfo> ReadRunInfo(const store::RunStore& store, const fs::path& run_dir) {
  RunInfo info;
  info.project = run_dir.parent_path().filename().string();
  info.run = run_dir.filename().string();
  info.task = std::string(TaskTypeName(store.task()));
  info.labels = store.labels();
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SplitKey> splits, store.ListSplits());
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::OutputLogInfo> logs, store.ListOutputLogs());
  SEXTANT_ASSIGN_OR_RETURN(store::Statement processed,
                           store.db().Prepare("SELECT 1 FROM summaries WHERE scope = ?"));
  info.finished = !splits.empty();
  for (const SplitKey& key : splits) {
    SplitInfo s;
    s.split = key;
    SEXTANT_ASSIGN_OR_RETURN(s.samples, store.SampleCount(key));
    for (const auto& l : logs) {
      if (l.split != key) continue;
      s.epochs_logged++;
      s.embedding_dim = l.emb_dim;
    }
    processed.Bind(1, key.ToString());
    SEXTANT_ASSIGN_OR_RETURN(s.processed, processed.Step());
    processed.Reset();
    info.finished = info.finished && s.processed;
    info.splits.push_back(std::move(s));
  }
  info.size_bytes = DirectorySize(run_dir);
  return info;
}

}  // namespace

Result<std::vector<RunInfo>> ListRuns(const fs::path& root) {
  std::vector<RunInfo> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  std::vector<fs::path> run_dirs;
  for (const auto& project : fs::directory_iterator(root, ec)) {
    // Project names never start with '.': <root>/.server is the team server's own data.
    if (!project.is_directory() || project.path().filename().string().front() == '.') continue;
    for (const auto& run : fs::directory_iterator(project.path(), ec)) {
      // A folder with output logs or results but no database is a damaged run.
      std::error_code run_ec;
      if (fs::exists(run.path() / store::kDatabaseFile, run_ec) ||
          fs::is_directory(run.path() / "outputs", run_ec) ||
          fs::is_directory(run.path() / "results", run_ec)) {
        run_dirs.push_back(run.path());
      }
    }
  }
  std::sort(run_dirs.begin(), run_dirs.end());
  for (const fs::path& dir : run_dirs) {
    // One run that cannot be read is listed as damaged; it never hides the others.
    Result<RunInfo> info = [&]() -> Result<RunInfo> {
      if (!fs::exists(dir / store::kDatabaseFile)) {
        return Status::IOError("'" + (dir / store::kDatabaseFile).string() + "' is missing");
      }
      SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::RunStore> store,
                               store::RunStore::Open(dir, store::RunStore::Mode::kRead));
      SEXTANT_RETURN_IF_ERROR(store->BeginSnapshot());
      Result<RunInfo> read = ReadRunInfo(*store, dir);
      if (read.ok()) {
        auto gen = store->CommittedGeneration();
        if (!gen.ok())
          read = gen.status();
        else
          read->generation = *gen;
      }
      (void)store->EndSnapshot();
      return read;
    }();
    if (info.ok()) {
      out.push_back(std::move(info).value());
      continue;
    }
    RunInfo damaged;
    damaged.project = dir.parent_path().filename().string();
    damaged.run = dir.filename().string();
    damaged.status = "damaged";
    damaged.error = info.status().message();
    damaged.size_bytes = DirectorySize(dir);
    out.push_back(std::move(damaged));
  }
  return out;
}

// Opens the reader's snapshot at the committed generation and pins its results
// folder. A finish may commit a newer generation and remove this one between
// the two steps; then the snapshot is taken again (a few times at most).
Status RunReader::Impl::PinCommittedGeneration(const fs::path& run_dir) {
  Impl& impl = *this;
  constexpr int kAttempts = 8;
  Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    SEXTANT_RETURN_IF_ERROR(impl.store->BeginSnapshot());
    auto gen = impl.store->CommittedGeneration();
    if (!gen.ok()) {
      (void)impl.store->EndSnapshot();
      return gen.status();
    }
    if (*gen == 0) {
      impl.generation = 0;
      impl.results_dir.clear();
      return Status::OK();
    }
    const fs::path dir = impl.store->GenerationDir(*gen);
    auto pin = store::GenerationPin::Acquire(dir);
    if (pin.ok()) {
      impl.generation = *gen;
      impl.results_dir = dir;
      impl.pin = std::move(pin).value();
      return Status::OK();
    }
    last = pin.status();
    (void)impl.store->EndSnapshot();
    // Still the committed generation now? Then its folder is missing: damage, not a race.
    auto probe = store::Database::Open(run_dir / store::kDatabaseFile, false);
    if (probe.ok()) {
      auto st = (*probe)->Prepare("SELECT value FROM meta WHERE key='results_generation'");
      Result<bool> found = st.ok() ? st->Step() : Result<bool>(false);
      if (found.ok() && *found && st->Text(0) == std::to_string(*gen)) {
        return Status::IOError("run '" + run_dir.string() + "': the folder of the committed " +
                               "results generation " + std::to_string(*gen) + " ('" + dir.string() +
                               "') is missing; finish the run again or see " + "`sextant check`");
      }
    }
  }
  return Status::IOError("run '" + run_dir.string() + "': the committed results generation " +
                         "kept changing while being opened: " + last.message());
}

RunReader::RunReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RunReader::~RunReader() = default;

Result<std::unique_ptr<RunReader>> RunReader::Open(const fs::path& root, const std::string& project,
                                                   const std::string& run) {
  SEXTANT_RETURN_IF_ERROR(ValidateName("project", project));
  SEXTANT_RETURN_IF_ERROR(ValidateName("run", run));
  const fs::path run_dir = root / project / run;
  auto impl = std::make_unique<Impl>();
  auto store = store::RunStore::Open(run_dir, store::RunStore::Mode::kRead);
  if (!store.ok()) {
    if (store.status().IsNotFound()) {
      return Status::NotFound("no run '" + project + "/" + run + "' under '" + root.string() +
                              "' (see `sextant runs`)");
    }
    return store.status();
  }
  impl->store = std::move(store).value();
  sqlite3_create_function(impl->store->db().handle(), "regexp", 2,
                          SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, RegexpFunction, nullptr,
                          nullptr);
  SEXTANT_RETURN_IF_ERROR(impl->PinCommittedGeneration(run_dir));
  SEXTANT_ASSIGN_OR_RETURN(impl->has_shift_columns,
                           store::ResultsHaveShiftColumns(impl->store->db()));
  SEXTANT_ASSIGN_OR_RETURN(impl->has_span_columns,
                           store::ResultsHaveSpanColumns(impl->store->db()));
  SEXTANT_ASSIGN_OR_RETURN(impl->info, ReadRunInfo(*impl->store, run_dir));
  impl->info.generation = impl->generation;
  if (impl->store->tagging_schema() && !impl->store->labels().empty()) {
    auto tags = ner::ParseTagList(impl->store->labels(), *impl->store->tagging_schema());
    if (tags.ok()) impl->entity_types = tags->entity_types;
  }
  return std::unique_ptr<RunReader>(new RunReader(std::move(impl)));
}

const RunInfo& RunReader::info() const { return impl_->info; }

int64_t RunReader::generation() const { return impl_->generation; }

Result<int64_t> RunReader::CommittedGeneration() const {
  std::lock_guard lock(impl_->probe_mu);
  if (!impl_->probe) {
    SEXTANT_ASSIGN_OR_RETURN(
        impl_->probe, store::Database::Open(impl_->store->dir() / store::kDatabaseFile, false));
  }
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      impl_->probe->Prepare("SELECT value FROM meta WHERE key='results_generation'"));
  SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row)
    return Status::IOError(impl_->RunName() + ": sextant.db table meta has no results_generation");
  const std::string text = st.Text(0);
  int64_t g = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), g);
  if (ec != std::errc() || end != text.data() + text.size() || g < 0) {
    return Status::IOError(impl_->RunName() + ": sextant.db table meta: results_generation '" +
                           text + "' is not a non-negative integer");
  }
  return g;
}

Result<std::string> RunReader::ImportedLabelsStamp(bool current) const {
  std::unique_lock<std::mutex> lock(impl_->probe_mu, std::defer_lock);
  store::Database* db = &impl_->store->db();
  if (current) {
    lock.lock();
    if (!impl_->probe) {
      SEXTANT_ASSIGN_OR_RETURN(
          impl_->probe, store::Database::Open(impl_->store->dir() / store::kDatabaseFile, false));
    }
    db = impl_->probe.get();
  }
  // Every import and clear counts up meta's imported_labels_version in its transaction.
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db->Prepare("SELECT value FROM meta WHERE key = 'imported_labels_version'"));
  SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Text(0) : std::string();
}

Result<std::string> RunReader::SummaryJson(const std::optional<SplitKey>& split) const {
  if (split) SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(*split));
  SEXTANT_ASSIGN_OR_RETURN(store::Statement st,
                           impl_->store->db().Prepare("SELECT json FROM summaries WHERE scope=?"));
  st.Bind(1, split ? split->ToString() : std::string("run"));
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) {
    return Status::FailedPrecondition("run '" + impl_->info.project + "/" + impl_->info.run +
                                      "' has no results yet; run `sextant finish`");
  }
  // Stored JSON is checked before anyone parses it (found by fuzz/stored_json_fuzzer:
  // a corrupt summary made `summary` and the console abort on an uncaught parse error).
  const std::string text = st.Text(0);
  auto j = JsonNestingDepth(text) > kMaxJsonDepth
               ? nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded)
               : nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::IOError(impl_->RunName() + ": sextant.db table summaries, scope '" +
                           (split ? split->ToString() : std::string("run")) +
                           "': the stored summary is not a valid JSON object: '" +
                           text.substr(0, 80) + "'; run `sextant finish` again");
  }
  // Imported labels (store/imported_labels.h) change after finish: an inference set with
  // some gains "labeled": {"samples", "accuracy"} (the model's accuracy on them).
  SEXTANT_ASSIGN_OR_RETURN(auto labeled, impl_->ImportedLabelCounts());
  if (split) {
    auto it = labeled.find(split->ToString());
    if (it == labeled.end()) return text;
    j["labeled"] = it->second;
    return j.dump();
  }
  if (j.contains("splits") && j["splits"].is_object()) {
    for (auto& [key, counts] : labeled) {
      if (j["splits"].contains(key) && j["splits"][key].is_object())
        j["splits"][key]["labeled"] = counts;
    }
  }
  // The run summary gains what only the store knows now: project, run and splits' sizes.
  j["project"] = impl_->info.project;
  j["run"] = impl_->info.run;
  return j.dump();
}

Result<std::string> RunReader::TimelineJson() const {
  SEXTANT_ASSIGN_OR_RETURN(const std::string text, SummaryJson());
  const auto run = nlohmann::ordered_json::parse(text);
  auto it = run.find("timeline");
  if (it == run.end() || !it->is_object()) {
    return Status::FailedPrecondition("run '" + impl_->info.project + "/" + impl_->info.run +
                                      "' was finished before timelines existed; run `sextant "
                                      "finish` again to build its timeline");
  }
  nlohmann::ordered_json out;
  out["project"] = impl_->info.project;
  out["run"] = impl_->info.run;
  out["labels"] = run.contains("labels") ? run["labels"] : nlohmann::ordered_json::array();
  for (auto& [key, value] : it->items()) out[key] = value;
  return out.dump();
}

Result<std::vector<SampleRow>> RunReader::Samples(const SampleQuery& q) const {
  SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(q.split));
  auto col = SortColumns().find(q.sort_by);
  if (col == SortColumns().end()) {
    std::string all;
    for (const auto& [name, _] : SortColumns()) all += (all.empty() ? "" : ", ") + name;
    return Status::Invalid("sort: unknown field '" + q.sort_by + "'; expected one of: " + all);
  }
  SEXTANT_ASSIGN_OR_RETURN(Impl::Where w, impl_->BuildWhere(q));
  std::string sql =
      "SELECT s.row, s.id, s.text, s.meta, COALESCE(s.label, il.gold), r.pred, r.confidence, "
      "r.margin, "
      "r.certainty_ratio, r.entropy, r.on_boundary, r.epoch, r.aum, r.dep, r.drift_distance, "
      "r.drift_score, r.drifted, " +
      impl_->ShiftColumn("r.shift_score") + ", " + impl_->ShiftColumn("r.shifted") + ", " +
      impl_->OptionalColumn("r.span_errors") + ", " + impl_->OptionalColumn("r.pred_spans_count") +
      ", " + impl_->OptionalColumn("r.min_span_confidence") + w.sql + " ORDER BY " +
      impl_->OptionalColumn(col->second) + (q.descending ? " DESC" : " ASC") +
      ", s.row LIMIT ? OFFSET ?";
  SEXTANT_ASSIGN_OR_RETURN(store::Statement st, impl_->store->db().Prepare(sql));
  Impl::Bind(st, w);
  st.Bind(static_cast<int>(w.binds.size() + 1), q.limit);
  st.Bind(static_cast<int>(w.binds.size() + 2), std::max<int64_t>(q.offset, 0));
  const io::MappedNpy* probs = nullptr;
  if (q.include_probs) {
    SEXTANT_ASSIGN_OR_RETURN(probs, impl_->Array(q.split, "probs.npy"));
  }
  SEXTANT_ASSIGN_OR_RETURN(const io::MappedNpy* map_xy, impl_->OptionalArray(q.split, "map.npy"));
  Impl::Matrix embeddings;
  if (q.include_embeddings) {
    SEXTANT_ASSIGN_OR_RETURN(embeddings, impl_->Embeddings(q.split));
  }
  std::vector<SampleRow> rows;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool more, StepWithinBudget(st));
    if (!more) break;
    SampleRow r;
    r.split = q.split;
    r.row = st.Int(0);
    r.id = st.Text(1);
    r.text = st.Text(2);
    r.meta_json = st.Text(3);
    SEXTANT_RETURN_IF_ERROR(store::CheckStoredJsonObject(
        r.meta_json, impl_->RunName() + ": sample '" + r.id + "' of split '" + q.split.ToString() +
                         "': column samples.meta"));
    if (!st.IsNull(4)) {
      SEXTANT_ASSIGN_OR_RETURN(r.gold, impl_->LabelAt(st.Int(4), "samples.label", q.split, r.row));
    }
    SEXTANT_ASSIGN_OR_RETURN(r.pred, impl_->LabelAt(st.Int(5), "results.pred", q.split, r.row));
    r.confidence = st.Double(6);
    r.margin = st.Double(7);
    r.certainty_ratio = st.Double(8);
    r.entropy = st.Double(9);
    r.is_on_the_boundary = st.Int(10) != 0;
    r.epoch = static_cast<int32_t>(st.Int(11));
    r.aum = st.OptDouble(12);
    r.dep = st.OptDouble(13);
    if (r.gold) r.is_correct = *r.gold == r.pred;
    r.drift_distance = st.OptDouble(14);
    r.drift_score = st.OptDouble(15);
    if (!st.IsNull(16)) r.is_drifted = st.Int(16) != 0;
    r.shift_score = st.OptDouble(17);
    if (!st.IsNull(18)) r.is_shifted = st.Int(18) != 0;
    if (!st.IsNull(19)) r.span_errors = st.Int(19);
    if (!st.IsNull(20)) r.pred_spans_count = st.Int(20);
    r.min_span_confidence = st.OptDouble(21);
    if (map_xy && r.row >= 0 && r.row < map_xy->rows()) {
      r.x = map_xy->data()[2 * r.row];
      r.y = map_xy->data()[2 * r.row + 1];
    }
    if (probs && (r.row < 0 || r.row >= probs->rows())) {
      return Status::IOError("results file '" +
                             (impl_->results_dir / q.split.DirName() / "probs.npy").string() +
                             "' has " + std::to_string(probs->rows()) + " rows; sample '" + r.id +
                             "' is row " + std::to_string(r.row));
    }
    if (probs) {
      const float* p = probs->data() + r.row * probs->cols();
      r.probs.assign(p, p + probs->cols());
    }
    if (embeddings.data != nullptr && r.row >= 0 && r.row < embeddings.rows) {
      const float* e = embeddings.data + r.row * embeddings.cols;
      r.embedding.assign(e, e + embeddings.cols);
    }
    rows.push_back(std::move(r));
  }
  SEXTANT_RETURN_IF_ERROR(impl_->AddTaskFields(q.split, &rows));
  return rows;
}

Result<int64_t> RunReader::Count(const SampleQuery& q) const {
  SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(q.split));
  if (!q.is_drifted && !q.is_on_the_boundary && !q.is_correct && !q.gold_class && !q.pred_class &&
      !q.min_confidence && !q.max_confidence && !q.min_dep && !q.max_dep && !q.is_shifted &&
      !q.min_shift && !q.max_shift && !q.text_regex && q.ids.empty() && q.entity_types.empty()) {
    // Without filters the join's rows are the split's results (each has its
    // sample): counted on results' key alone, not with a lookup per row (the
    // total of a million-sample split in a few milliseconds, for a cold page).
    return impl_->ExpectedRows(q.split, "results");
  }
  SEXTANT_ASSIGN_OR_RETURN(Impl::Where w, impl_->BuildWhere(q));
  SEXTANT_ASSIGN_OR_RETURN(store::Statement st,
                           impl_->store->db().Prepare("SELECT COUNT(*)" + w.sql));
  Impl::Bind(st, w);
  SEXTANT_ASSIGN_OR_RETURN(bool row, StepWithinBudget(st));
  return row ? st.Int(0) : 0;
}

Result<std::vector<Neighbor>> RunReader::Similar(const SplitKey& split, const std::string& id,
                                                 int32_t k, const std::vector<SplitKey>& search_in,
                                                 const SimilarityFilter& filter) const {
  if (k < 1) return Status::Invalid("k: must be at least 1");
  SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(split));
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      impl_->store->db().Prepare("SELECT row FROM samples WHERE split = ? AND id = ?"));
  st.Bind(1, split.ToString()).Bind(2, id);
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) {
    return Status::NotFound("id: no sample '" + id + "' in split '" + split.ToString() + "'");
  }
  const int64_t row = st.Int(0);
  SEXTANT_ASSIGN_OR_RETURN(const Impl::Similarity* sim, impl_->LoadSimilarity());
  const int s = sim->SplitIndex(split);
  if (s < 0 || row >= sim->sizes[s]) {
    return Status::FailedPrecondition("sample '" + id + "' of split '" + split.ToString() +
                                      "' is not in the similarity index; run `sextant finish`");
  }
  const int64_t global = sim->offsets[s] + row;
  std::vector<float> query(static_cast<size_t>(sim->index->dim()));
  SEXTANT_RETURN_IF_ERROR(sim->index->Reconstruct(global, query.data()));
  return impl_->SearchSimilar(query.data(), k, search_in, filter, global);
}

Result<std::vector<Neighbor>> RunReader::SimilarToVector(const float* vector, int64_t dim,
                                                         int32_t k,
                                                         const std::vector<SplitKey>& search_in,
                                                         const SimilarityFilter& filter) const {
  if (k < 1) return Status::Invalid("k: must be at least 1");
  if (vector == nullptr && dim > 0) return Status::Invalid("vector: null");
  SEXTANT_ASSIGN_OR_RETURN(const Impl::Similarity* sim, impl_->LoadSimilarity());
  if (dim != sim->index->dim()) {
    return Status::Invalid("vector: " + std::to_string(dim) +
                           " values; the run's embeddings have " +
                           std::to_string(sim->index->dim()));
  }
  std::vector<float> query(vector, vector + dim);
  for (float v : query) {
    if (!std::isfinite(v)) return Status::Invalid("vector: holds a value that is not finite");
  }
  index::NormalizeRows(query.data(), 1, dim);
  return impl_->SearchSimilar(query.data(), k, search_in, filter, -1);
}

Result<std::vector<MapPoint>> RunReader::MapPoints(const SplitKey& split) const {
  SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(split));
  SEXTANT_ASSIGN_OR_RETURN(const io::MappedNpy* xy, impl_->OptionalArray(split, "map.npy"));
  if (xy == nullptr) {
    return Status::FailedPrecondition("run '" + impl_->info.project + "/" + impl_->info.run +
                                      "' has no 2-D map; finish it again with the map on "
                                      "(`sextant finish` without --no-map)");
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> ids, impl_->store->SampleIds(split));
  if (xy->cols() != 2 || xy->rows() != static_cast<int64_t>(ids.size())) {
    return Status::Internal("map.npy of split '" + split.ToString() + "' is " +
                            std::to_string(xy->rows()) + " x " + std::to_string(xy->cols()) +
                            "; expected " + std::to_string(ids.size()) + " x 2");
  }
  std::vector<MapPoint> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    out[i] = {std::move(ids[i]), xy->data()[2 * i], xy->data()[2 * i + 1]};
  }
  return out;
}

}  // namespace sextant

namespace sextant {

const std::vector<std::string>& RunReader::entity_types() const { return impl_->entity_types; }

Result<std::vector<SpanRow>> RunReader::Spans(const SpanQuery& q) const {
  SEXTANT_RETURN_IF_ERROR(impl_->CheckNer());
  SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(q.split));
  auto col = SpanSortColumns().find(q.sort_by);
  if (col == SpanSortColumns().end()) {
    std::string all;
    for (const auto& [name, _] : SpanSortColumns()) all += (all.empty() ? "" : ", ") + name;
    return Status::Invalid("sort: unknown span field '" + q.sort_by + "'; expected one of: " + all);
  }
  SEXTANT_ASSIGN_OR_RETURN(Impl::Where w, impl_->BuildSpanWhere(q));
  const std::string sql =
      "SELECT r.span_row, s.id, r.sample_row, r.start, r.end, substr(s.text, r.start + 1, r.end - "
      "r.start) AS span_text, r.gold, r.pred, r.error_type, r.confidence, r.certainty_ratio, "
      "r.on_boundary, r.dep, r.drift_distance, r.drift_score, r.drifted" +
      w.sql + " ORDER BY " + col->second + (q.descending ? " DESC" : " ASC") +
      ", r.span_row LIMIT ? OFFSET ?";
  SEXTANT_ASSIGN_OR_RETURN(store::Statement st, impl_->store->db().Prepare(sql));
  for (size_t i = 0; i < w.binds.size(); ++i) {
    std::visit([&](const auto& v) { st.Bind(static_cast<int>(i + 1), v); }, w.binds[i]);
  }
  st.Bind(static_cast<int>(w.binds.size() + 1), q.limit);
  st.Bind(static_cast<int>(w.binds.size() + 2), std::max<int64_t>(q.offset, 0));
  SEXTANT_ASSIGN_OR_RETURN(const io::MappedNpy* map_xy,
                           impl_->OptionalArray(q.split, "spans/map.npy"));
  std::vector<SpanRow> rows;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool more, StepWithinBudget(st));
    if (!more) break;
    SpanRow r;
    r.split = q.split;
    r.span_row = st.Int(0);
    r.sample_id = st.Text(1);
    r.sample_row = st.Int(2);
    r.span_start = static_cast<int32_t>(st.Int(3));
    r.span_end = static_cast<int32_t>(st.Int(4));
    r.span_text = st.Text(5);
    if (!st.IsNull(6)) {
      SEXTANT_ASSIGN_OR_RETURN(
          r.gold, impl_->EntityTypeAt(st.Int(6), "span_results.gold", q.split, r.span_row));
    }
    if (!st.IsNull(7)) {
      SEXTANT_ASSIGN_OR_RETURN(
          r.pred, impl_->EntityTypeAt(st.Int(7), "span_results.pred", q.split, r.span_row));
    }
    if (!st.IsNull(8)) r.error_type = st.Text(8);
    r.confidence = st.Double(9);
    r.certainty_ratio = st.Double(10);
    r.is_on_the_boundary = st.Int(11) != 0;
    r.dep = st.OptDouble(12);
    r.drift_distance = st.OptDouble(13);
    r.drift_score = st.OptDouble(14);
    if (!st.IsNull(15)) r.is_drifted = st.Int(15) != 0;
    if (map_xy && r.span_row >= 0 && r.span_row < map_xy->rows()) {
      r.x = map_xy->data()[2 * r.span_row];
      r.y = map_xy->data()[2 * r.span_row + 1];
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

Result<int64_t> RunReader::CountSpans(const SpanQuery& q) const {
  SEXTANT_RETURN_IF_ERROR(impl_->CheckNer());
  SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(q.split));
  SEXTANT_ASSIGN_OR_RETURN(Impl::Where w, impl_->BuildSpanWhere(q));
  SEXTANT_ASSIGN_OR_RETURN(store::Statement st,
                           impl_->store->db().Prepare("SELECT COUNT(*)" + w.sql));
  for (size_t i = 0; i < w.binds.size(); ++i) {
    std::visit([&](const auto& v) { st.Bind(static_cast<int>(i + 1), v); }, w.binds[i]);
  }
  SEXTANT_ASSIGN_OR_RETURN(bool row, StepWithinBudget(st));
  return row ? st.Int(0) : 0;
}

Result<std::vector<SpanNeighbor>> RunReader::SimilarSpans(
    const SplitKey& split, int64_t span_row, int32_t k,
    const std::vector<SplitKey>& search_in) const {
  SEXTANT_RETURN_IF_ERROR(impl_->CheckNer());
  SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(split));
  if (k < 1) return Status::Invalid("k: must be at least 1");
  SEXTANT_ASSIGN_OR_RETURN(const RunReader::Impl::SpanIndex* index, impl_->LoadSpanIndex());
  const int s = index->SplitIndex(split);
  if (s < 0 || span_row < 0 || span_row >= index->sizes[s]) {
    return Status::NotFound("span_row: no span row " + std::to_string(span_row) + " in split '" +
                            split.ToString() + "'");
  }
  std::vector<char> in_split(index->splits.size(), search_in.empty() ? 1 : 0);
  for (const SplitKey& key : search_in) {
    SEXTANT_RETURN_IF_ERROR(impl_->CheckProcessed(key));
    const int i = index->SplitIndex(key);
    if (i >= 0) in_split[i] = 1;
  }
  const int64_t global = index->offsets[s] + span_row;
  const int64_t rows = index->index->size();
  std::vector<float> query(static_cast<size_t>(index->index->dim()));
  SEXTANT_RETURN_IF_ERROR(index->index->Reconstruct(global, query.data()));
  std::vector<uint8_t> allowed(static_cast<size_t>(rows), 0);
  int64_t count = 0;
  for (size_t i = 0; i < index->splits.size(); ++i) {
    if (!in_split[i]) continue;
    std::fill(allowed.begin() + index->offsets[i],
              allowed.begin() + index->offsets[i] + index->sizes[i], uint8_t{1});
    count += index->sizes[i];
  }
  const auto kk = static_cast<int32_t>(std::min<int64_t>(k + 1, std::max<int64_t>(rows, 1)));
  std::vector<float> dist(static_cast<size_t>(kk));
  std::vector<int64_t> labels(static_cast<size_t>(kk));
  SEXTANT_RETURN_IF_ERROR(index->index->SearchFiltered(
      query.data(), 1, kk, index::RowFilter{allowed.data(), count, nullptr}, dist.data(),
      labels.data()));
  std::vector<SpanNeighbor> out;
  for (int32_t j = 0; j < kk && static_cast<int32_t>(out.size()) < k; ++j) {
    if (labels[j] < 0 || labels[j] == global) continue;
    const int si = index->SplitOfRow(labels[j]);
    out.push_back({index->splits[si], labels[j] - index->offsets[si], dist[j]});
  }
  return out;
}

}  // namespace sextant
