// RunStore: one run on disk (docs/format.md). The client writes through it,
// processing reads the logs and commits results through it, and the query
// layer reads results.
//
// Concurrency: one writer at a time per run, enforced by an advisory lock on
// the run's LOCK file (a second writer gets FailedPrecondition). Readers take
// no lock; SQLite gives them a consistent snapshot.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"
#include "store/sqlite.h"

namespace sextant::store {

inline constexpr const char* kDatabaseFile = "sextant.db";

// The console's selections (store/selections.h); created with every new run,
// and on first use in runs written before they existed.
inline constexpr const char* kSelectionSchema = R"sql(
CREATE TABLE IF NOT EXISTS selections(
  name TEXT PRIMARY KEY, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS selection_items(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, split TEXT NOT NULL, id TEXT NOT NULL,
  UNIQUE(name, split, id));
)sql";

struct SampleRecord {
  std::string id;
  std::string text;
  std::optional<int32_t> label;  // index into the run's label list
  std::string meta_json = "{}";
  // NLI (text is "premise [SEP] hypothesis").
  std::string premise, hypothesis;
  // NER: the model's tokens and, in labeled splits, the gold spans.
  std::vector<CharRange> tokens;
  std::vector<GoldSpan> gold_spans;
};

struct OutputLogInfo {
  SplitKey split;
  int32_t epoch = 0;
  int64_t rows = 0;
  int64_t emb_dim = 0;
  int64_t out_dim = 0;
  OutputKind kind = OutputKind::kLogits;
};

// One batch of outputs, already validated, addressed by sample row.
struct OutputAppend {
  SplitKey split;
  int32_t epoch = 0;
  OutputKind kind = OutputKind::kLogits;
  int64_t emb_dim = 0;
  int64_t out_dim = 0;
  std::vector<int64_t> sample_rows;
  std::vector<float> embeddings;  // rows x emb_dim
  std::vector<float> outputs;     // rows x out_dim
};

// A whole output log of one split and epoch, as committed.
struct OutputLog {
  OutputLogInfo info;
  std::vector<int64_t> sample_rows;
  std::vector<float> embeddings;
  std::vector<float> outputs;
};

// Per-sample results of one split, in row order.
struct SampleResult {
  int32_t pred = 0;
  float confidence = 0, margin = 0, certainty_ratio = 0, entropy = 0;
  bool on_boundary = false;
  int32_t epoch = 0;
  std::optional<int32_t> gold;
  std::optional<double> aum, dep;
  std::optional<double> drift_distance, drift_score;
  std::optional<bool> drifted;
};

// NER: one span row of a split (docs/ner-nli.md). Its metrics are the
// SampleResult at the same position of the span-level SplitResults, where
// pred and gold are entity type indices (pred -1: no predicted span).
struct SpanRecord {
  int64_t sample_row = 0;
  CharRange range;
  int32_t token_begin = 0, token_end = 0;  // the sample's tokens [begin, end)
  std::optional<int32_t> gold, pred;
  std::string error_type;  // empty where it does not apply (inference)
};

struct SplitResults {
  SplitKey split;
  std::vector<SampleResult> samples;
  std::vector<SpanRecord> spans;  // span level only, parallel to samples
  int64_t emb_dim = 0;
  std::vector<float> embeddings;  // samples x emb_dim, float32
  int64_t num_labels = 0;
  std::vector<float> probs;       // samples x num_labels
  std::vector<float> map;         // samples x 2 (x, y); empty when no map was computed
  std::string summary_json;
};

// How results are written besides the per-split arrays.
struct CommitOptions {
  // embeddings.npy as float16 ('<f2') instead of float32.
  bool embeddings_float16 = false;
  // Run-level files of the generation (e.g. the similarity index): each
  // `write` is called with its path inside the new generation folder, before
  // the commit point, and must write the file atomically (or fail).
  struct File {
    std::string name;
    std::function<Status(const std::filesystem::path&)> write;
  };
  std::vector<File> files;
};

class RunStore {
 public:
  enum class Mode { kWrite, kRead };

  // kWrite creates the run when missing (then `task` is required) and takes
  // the writer lock; kRead needs an existing run.
  static Result<std::unique_ptr<RunStore>> Open(const std::filesystem::path& run_dir, Mode mode,
                                                std::optional<TaskType> task = std::nullopt);
  ~RunStore();

  const std::filesystem::path& dir() const { return dir_; }
  TaskType task() const { return task_; }
  const std::vector<std::string>& labels() const { return labels_; }
  Status SetLabels(const std::vector<std::string>& labels);
  // NER runs; empty until set.
  const std::optional<TaggingSchema>& tagging_schema() const { return tagging_schema_; }
  Status SetTaggingSchema(TaggingSchema schema);

  // Splits that hold samples, sorted.
  Result<std::vector<SplitKey>> ListSplits() const;
  Result<int64_t> SampleCount(const SplitKey& split) const;
  // Ids in row order.
  Result<std::vector<std::string>> SampleIds(const SplitKey& split) const;
  Result<std::vector<std::optional<int32_t>>> SampleLabels(const SplitKey& split) const;
  // Every sample of the split in row order.
  Result<std::vector<SampleRecord>> ReadSamples(const SplitKey& split) const;
  // Appends in one transaction; rows continue from the split's current count.
  Status AppendSamples(const SplitKey& split, const std::vector<SampleRecord>& samples);

  Result<std::vector<OutputLogInfo>> ListOutputLogs() const;
  // Appends the batches to their logs, syncs them, then commits the new row
  // counts in one transaction: after a crash a log reads as its last commit.
  Status AppendOutputs(const std::vector<OutputAppend>& batches);
  Result<OutputLog> ReadOutputLog(const SplitKey& split, int32_t epoch) const;
  // Only the sample rows of a committed log (empty when the log does not exist).
  Result<std::vector<int64_t>> ReadOutputRows(const SplitKey& split, int32_t epoch) const;

  // Replaces all results atomically: arrays go to a new generation folder,
  // then one transaction swaps the rows, summaries and generation number.
  // `span_splits` are the span rows of an NER run (empty otherwise).
  Status CommitResults(const std::vector<SplitResults>& splits, const std::string& run_summary_json,
                       const CommitOptions& options = {},
                       const std::vector<SplitResults>& span_splits = {});
  // The folder of the committed generation's arrays; empty when never finished.
  Result<std::filesystem::path> ResultsDir() const;
  Database& db() const { return *db_; }

 private:
  RunStore() = default;
  Status LoadMeta();
  std::filesystem::path LogPath(const SplitKey& split, int32_t epoch, const char* ext) const;

  std::filesystem::path dir_;
  Mode mode_ = Mode::kRead;
  int lock_fd_ = -1;
  std::unique_ptr<Database> db_;
  TaskType task_ = TaskType::kTextClassification;
  std::vector<std::string> labels_;
  std::optional<TaggingSchema> tagging_schema_;
};

}  // namespace sextant::store
