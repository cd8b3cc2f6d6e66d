// The logging client: what a training or inference script calls.
//
//   auto client = sextant::Client::Init({.root = "/data/sextant", .project = "p", .run = "r",
//                                        .task = sextant::TaskType::kTextClassification});
//   client->SetLabelsForRun({"negative", "positive"});
//   client->LogDataSamples({.ids = ..., .texts = ..., .labels = ...}, split);
//   client->SetSplit(Split::kTraining); client->SetEpoch(0);
//   client->LogModelOutputs({.ids = ..., .embeddings = ..., .logits = ...});  // in the forward
//   pass client->Finish();
//
// Thread safety: every method may be called from any thread; calls are
// serialised internally. LogModelOutputs validates and copies the batch, then
// returns; the write happens on a background thread.
//
// Durability (docs/format.md#durability): a batch is durable (synced and
// committed, surviving SIGKILL or power loss) once Flush() or Finish() returns
// OK after it. Without a Flush, accepted batches are committed in the order
// they were accepted, each within about 20 ms when the disk keeps up, and
// LogModelOutputs waits rather than let more than
// ClientOptions::max_pending_bytes of accepted batches be uncommitted: a
// crash loses at most the newest max_pending_bytes of accepted output data,
// never an older batch while keeping a newer one.
//
// Write errors: a failed write surfaces on the next call (which then changes
// nothing), on Flush() or on Finish(), naming the batches it could not write
// (split, epoch, sample ids). They are kept, not dropped: the next Flush()
// (or, at most every second, the background writer) writes them again once
// the cause, e.g. a full disk, is gone.
//
// Errors: nothing throws. Every method returns a Status naming the field, the
// sample id (or row) and what was expected. A rejected call changes nothing:
// whatever was logged before it stays logged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sextant/processing_options.h"
#include "sextant/remote.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant {

struct ClientOptions {
  // Store root; empty means $SEXTANT_HOME, else ~/.sextant.
  std::filesystem::path root;
  std::string project;
  std::string run;
  TaskType task = TaskType::kTextClassification;
  // The most accepted-but-uncommitted output data (embeddings, outputs and row
  // numbers, in bytes) LogModelOutputs lets build up before it waits for the
  // writer: the bound on what a crash can lose. At least 1 MiB.
  int64_t max_pending_bytes = int64_t{16} << 20;
  // A team server (sextant/remote.h): Finish() uploads to it instead of
  // processing locally. nullopt: embedded (see ResolveRemote()).
  std::optional<RemoteConfig> remote;
};

// One optional metadata column: a value per sample, kept as text.
struct MetaColumn {
  std::string name;
  std::vector<std::string> values;
};

// A batch of data samples. `ids` and `texts` have one entry per sample.
// Labeled splits of text classification and NLI need exactly one of `labels`
// (names from the run's label list) or `label_indices` (positions in that
// list); inference data takes neither.
//
// NLI: `premises` and `hypotheses` (one each per sample) instead of `texts`, or
// `texts` holding "premise [SEP] hypothesis".
// NER (docs/ner-nli.md): `texts`, `token_offsets` (per sample, each model
// token's characters, in order) and, for labeled splits, `gold_spans` (per
// sample, possibly empty); no `labels`.
struct DataBatch {
  std::vector<std::string> ids;
  std::vector<std::string> texts;
  std::vector<std::string> labels;
  std::vector<int32_t> label_indices;
  std::vector<MetaColumn> meta;
  std::vector<std::string> premises;
  std::vector<std::string> hypotheses;
  std::vector<std::vector<CharRange>> token_offsets;
  std::vector<std::vector<GoldSpan>> gold_spans;
};

// A non-owning row-major float32 matrix.
struct MatrixView {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Model outputs for a batch: row i of each matrix belongs to ids[i].
// Exactly one of `logits` or `probabilities` is given (width = number of labels).
//
// NER: one row per token. By default the rows of sample ids[i] follow those
// of ids[i-1], as many as its logged tokens. With `tokens_per_sample` = T the
// matrices are padded, T rows per sample (ids.size() * T rows), and the first
// T_i rows of each are taken. `token_counts`, when given, states each sample's
// row count in the concatenated layout and must match its logged tokens.
struct OutputsBatch {
  std::vector<std::string> ids;
  MatrixView embeddings;
  MatrixView logits;
  MatrixView probabilities;
  int64_t tokens_per_sample = 0;
  std::vector<int64_t> token_counts;
};

// What Finish() did, for the caller to print or log.
struct FinishReport {
  std::vector<std::string> splits;  // SplitKey::ToString() of each processed split
  int64_t samples = 0;
  double seconds = 0;
  std::vector<std::pair<std::string, double>> stage_seconds;  // in order of execution
  // With ProcessingOptions::executor: shard tasks run, bytes of input files
  // written for the workers and bytes of task outputs received.
  int64_t shard_tasks = 0;
  int64_t shard_bytes_written = 0;
  int64_t shard_bytes_received = 0;

  // With a team server: what was uploaded, and the server's processing job.
  bool uploaded = false;        // this finish committed at least one upload
  bool upload_pending = false;  // the server could not be reached: kept for `sextant sync`
  std::string message;          // what happened, for the caller to print
  std::optional<SyncReport> sync;
  std::optional<JobStatus> job;  // the job's last status (done, when waited for)
};

// What Finish() does with a team server.
struct UploadOptions {
  bool wait = true;      // wait for the server's processing job
  double timeout_s = 0;  // of that wait; 0: as long as it takes
  ProgressCallback progress;
};

// What LogDataSamples does with ids already logged in the split.
enum class ExistingSamples {
  kReject,  // an error naming the id (the default)
  // The batch is a no-op when every id is logged with the same text and label
  // (a script that logs its dataset again, an import of another epoch's
  // outputs); an error when only some ids are logged or one differs.
  kSkipIfIdentical,
};

class Client {
 public:
  // Opens (or creates) project/run under the root. Attaching to an existing
  // run is how an inference job adds production data to its training run.
  static Result<std::unique_ptr<Client>> Init(const ClientOptions& options);

  // Flushes pending writes; a batch that still fails to write is lost and
  // the error dropped (call Flush() first to see it).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sets the run's label list (order = logit order). On a run that already has
  // a list (e.g. an inference job attaching to its training run) the list must
  // match it exactly, in content and order.
  Status SetLabelsForRun(const std::vector<std::string>& labels);
  // A copy of the run's label list (empty until set): another thread may be
  // setting it, so no reference into the client's state is handed out.
  std::vector<std::string> labels() const;

  // NER runs: how the tag list encodes spans. Set once per run (an attaching
  // client may set the same schema again); needed before logging NER data.
  Status SetTaggingSchema(TaggingSchema schema);

  // The split (and inference name) used by LogModelOutputs and by
  // LogDataSamples when no split is passed. `timestamp` (Unix seconds, UTC;
  // inference sets only) is when the set happened: its place on the run's
  // timeline. Without one a set's time is when its first sample was logged.
  Status SetSplit(Split split, const std::string& inference_name = "",
                  std::optional<double> timestamp = std::nullopt);
  // The epoch of subsequent model outputs (training runs log several).
  Status SetEpoch(int32_t epoch);

  Status LogDataSamples(const DataBatch& batch, std::optional<SplitKey> split = std::nullopt,
                        ExistingSamples existing = ExistingSamples::kReject);
  // Logs outputs for the current split and epoch, or for the given ones.
  Status LogModelOutputs(const OutputsBatch& batch, std::optional<SplitKey> split = std::nullopt,
                         std::optional<int32_t> epoch = std::nullopt);
  // The checks of LogModelOutputs that do not depend on which ids are logged
  // (shapes, widths, finite values, the kind of the epoch's log), without
  // logging anything: lets a caller reject a file before logging its data.
  Status CheckModelOutputs(const OutputsBatch& batch, std::optional<SplitKey> split = std::nullopt,
                           std::optional<int32_t> epoch = std::nullopt);

  // Waits until every accepted batch is durable (written, synced and
  // committed), retrying batches a write failed on. On error, names the batches
  // still unwritten; they stay queued for the next Flush.
  Status Flush();
  // Flushes, then processes every split of the run (see docs/algorithms.md).
  // A failed Finish changes no results and can be called again once the cause
  // (e.g. samples without outputs) is fixed.
  // With a team server (ClientOptions::remote), flushes, then uploads what
  // the run logged since its last upload and (upload.wait) waits for the
  // server's processing job; when the server cannot be reached the run stays
  // pending (FinishReport::upload_pending) for `sextant sync`.
  Result<FinishReport> Finish(const ProcessingOptions& options = {},
                              const UploadOptions& upload = {});

  const std::filesystem::path& run_dir() const;

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The store root from the explicit path, else $SEXTANT_HOME, else ~/.sextant.
std::filesystem::path ResolveRoot(const std::filesystem::path& explicit_root);

// Processes a run that was logged without finishing (what `sextant finish` does).
// `on_stage`, when given, is called with each stage's name once it is done.
Result<FinishReport> FinishRun(
    const std::filesystem::path& root, const std::string& project, const std::string& run,
    const ProcessingOptions& options = {},
    const std::function<void(const std::string& stage_done)>& on_stage = {});

}  // namespace sextant
