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

// Stored JSON, parsed and checked (IOError naming `where` when invalid):
// tokens [[start, end], ...], gold spans [[start, end, "label"], ...], and
// any JSON object (summaries, sample meta).
Result<std::vector<CharRange>> ParseStoredTokens(const std::string& text, const std::string& where);
Result<std::vector<GoldSpan>> ParseStoredGoldSpans(const std::string& text,
                                                   const std::string& where);
Status CheckStoredJsonObject(const std::string& text, const std::string& where);

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

// The checksums of one committed append to an output log (format version 2):
// rows [first_row, first_row + rows) of the log, the CRC32C of their bytes in
// each of the three files.
struct OutputBatchInfo {
  int64_t first_row = 0;
  int64_t rows = 0;
  uint32_t rows_crc = 0, emb_crc = 0, out_crc = 0;
};

// One file of a results generation as recorded at its commit (format version 2).
struct ResultFileInfo {
  std::string path;  // relative to the generation folder, '/'-separated
  int64_t bytes = 0;
  uint32_t crc32c = 0;
};

// Holds a shared lock on a results generation folder: finish does not remove
// a generation folder while any reader holds one (docs/format.md, Readers).
class GenerationPin {
 public:
  GenerationPin() = default;
  GenerationPin(GenerationPin&& other) noexcept;
  GenerationPin& operator=(GenerationPin&& other) noexcept;
  GenerationPin(const GenerationPin&) = delete;
  GenerationPin& operator=(const GenerationPin&) = delete;
  ~GenerationPin();
  // NotFound when the folder is gone (or going: being removed by a finish).
  static Result<GenerationPin> Acquire(const std::filesystem::path& gen_dir);

 private:
  int fd_ = -1;
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

// Whether the results table of `db` has the shift columns (shift_score,
// shifted); runs finished before they existed do not (their values read as null).
Result<bool> ResultsHaveShiftColumns(Database& db);
// Whether it has the NER sentence fields (span_errors, pred_spans_count,
// min_span_confidence); runs finished before them read them as null.
Result<bool> ResultsHaveSpanColumns(Database& db);

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
  // Inference samples with a domain test: the per-sample shift score and flag
  // (drift/domain_classifier.h).
  std::optional<double> shift_score;
  std::optional<bool> shifted;
  // NER sentences (docs/ner-nli.md): span rows that are not exact matches
  // (labeled splits), predicted spans, and the lowest predicted span's confidence.
  std::optional<int32_t> span_errors, pred_spans_count;
  std::optional<double> min_span_confidence;
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
  std::vector<float> probs;  // samples x num_labels
  std::vector<float> map;    // samples x 2 (x, y); empty when no map was computed
  std::string summary_json;
};

// When an inference set happened: the timeline's order (docs/timeline.md).
enum class SetTimeSource {
  kGiven,        // set_split(..., timestamp) or `sextant import --time`
  kFirstSample,  // when the set's first sample was logged (the earliest of several sources)
  kLiveWindow,   // the start of a live-ingest day or hour window
};
const char* SetTimeSourceName(SetTimeSource source);
std::optional<SetTimeSource> ParseSetTimeSource(std::string_view name);
struct InferenceSetTime {
  std::string name;  // the inference name
  double time = 0;   // Unix seconds, UTC
  SetTimeSource source = SetTimeSource::kFirstSample;
};
// A time a user gives: finite and within years 1900..5000 (the field is named
// in the error).
Status CheckSetTime(double unix_seconds, const std::string& field);

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
  // One upload to a team server (server/uploads.h), all or nothing: appends
  // the output batches to their logs and syncs them, then in one transaction
  // inserts the samples (rows continuing from each split's count), commits
  // the logs' new lengths and runs `in_commit` (which records the upload).
  // The batches' sample rows must already be the rows the samples get.
  Status AppendUpload(const std::vector<std::pair<SplitKey, std::vector<SampleRecord>>>& samples,
                      const std::vector<OutputAppend>& outputs,
                      const std::function<Status()>& in_commit);

  // Records when an inference set happened. A given or live-window time
  // replaces the set's time; a first-sample time only lowers another
  // first-sample time (several machines log one set: the earliest wins).
  Status RecordInferenceTime(const InferenceSetTime& time);
  // Every inference set's time (none for runs written before times existed).
  Result<std::vector<InferenceSetTime>> InferenceTimes() const;

  // A value of the run's `meta` table other than the format's own keys (e.g.
  // the client's upload state); nullopt when absent.
  Result<std::optional<std::string>> ReadMetaValue(const std::string& key) const;
  Status WriteMetaValue(const std::string& key, const std::string& value);
  // Reads a committed log and checks it: every sample row within the split's
  // samples, every value finite, and (version 2) the checksum of every batch.
  // IOError naming the file and the rows for corrupt data.
  Result<OutputLog> ReadOutputLog(const SplitKey& split, int32_t epoch) const;
  // Only the sample rows of a committed log (empty when the log does not
  // exist), checked as ReadOutputLog checks them.
  Result<std::vector<int64_t>> ReadOutputRows(const SplitKey& split, int32_t epoch) const;
  // The checksummed batches of a log, by first row (empty in version 1 runs).
  Result<std::vector<OutputBatchInfo>> ListOutputBatches(const SplitKey& split,
                                                         int32_t epoch) const;
  std::filesystem::path LogPath(const SplitKey& split, int32_t epoch, const char* ext) const;

  // Replaces all results atomically: arrays go to a new generation folder,
  // then one transaction swaps the rows, summaries and generation number.
  // `span_splits` are the span rows of an NER run (empty otherwise).
  Status CommitResults(const std::vector<SplitResults>& splits, const std::string& run_summary_json,
                       const CommitOptions& options = {},
                       const std::vector<SplitResults>& span_splits = {});
  // The folder of the committed generation's arrays; empty when never finished.
  Result<std::filesystem::path> ResultsDir() const;
  // meta.results_generation (0: never finished), read now (or in the snapshot).
  Result<int64_t> CommittedGeneration() const;
  std::filesystem::path GenerationDir(int64_t generation) const;
  // The files recorded for a generation (empty when none were: version 1).
  Result<std::vector<ResultFileInfo>> ListResultFiles(int64_t generation) const;
  // Checks a file of a generation against its recorded size and checksum;
  // OK when none was recorded (version 1 runs). IOError naming the file.
  Status VerifyResultFile(int64_t generation, const std::string& relative_path) const;

  // Starts a read transaction that every later query of this store sees
  // (one snapshot), and reloads the metadata in it. Read-only stores only.
  Status BeginSnapshot();
  Status EndSnapshot();

  int format_version() const { return format_version_; }
  Database& db() const { return *db_; }

 private:
  RunStore() = default;
  Status LoadMeta();
  // The body of AppendSamples, inside the caller's transaction.
  Status InsertSamples(const SplitKey& split, const std::vector<SampleRecord>& samples);
  Status AppendOutputsThen(const std::vector<OutputAppend>& batches,
                           const std::function<Status()>& in_commit);
  Status CheckRows(const SplitKey& split, const std::filesystem::path& path,
                   const std::vector<int64_t>& rows) const;
  Status CheckBatches(const OutputLogInfo& info, const OutputLog& log, bool rows_only) const;

  std::filesystem::path dir_;
  Mode mode_ = Mode::kRead;
  int lock_fd_ = -1;
  std::unique_ptr<Database> db_;
  TaskType task_ = TaskType::kTextClassification;
  std::vector<std::string> labels_;
  std::optional<TaggingSchema> tagging_schema_;
  int format_version_ = kFormatVersion;
};

}  // namespace sextant::store
