#include "sextant/client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "client/remote_sync.h"
#include "client/sample_id_index.h"
#include "client/task_fields.h"
#include "common/thread_annotations.h"
#include "common/utf8.h"
#include "ner/tags.h"
#include "processing/process_run.h"
#include "store/run_store.h"

namespace sextant {
namespace fs = std::filesystem;

namespace {

std::string JoinLabels(const std::vector<std::string>& labels) {
  std::string out;
  for (const auto& l : labels) out += (out.empty() ? "" : ", ") + l;
  return "[" + out + "]";
}

// Whether every value is finite, by the exponent bits, in fixed-size blocks so
// that -O2 vectorises it: this runs inside the caller's forward pass.
bool AllFinite(const float* values, int64_t n) {
  constexpr int64_t kBlock = 16;
  constexpr uint32_t kExponent = 0x7f800000u;
  uint32_t non_finite = 0;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    uint32_t bits[kBlock];
    std::memcpy(bits, values + i, sizeof(bits));
    for (int64_t j = 0; j < kBlock; ++j) non_finite |= (bits[j] & kExponent) == kExponent;
  }
  for (; i < n; ++i) non_finite |= !std::isfinite(values[i]);
  return non_finite == 0;
}

// Appends n values to `out` and says whether all were finite. Each 4 KiB block
// is checked right after its copy, while it is in L1: checking the caller's
// matrix first reads it from memory twice, checking the whole copy after it
// reads it again from L2 or beyond.
bool AppendFinite(const float* values, int64_t n, std::vector<float>& out) {
  constexpr int64_t kBlock = 1024;
  bool finite = true;
  out.reserve(out.size() + static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t m = std::min(kBlock, n - i);
    out.insert(out.end(), values + i, values + i + m);
    finite &= AllFinite(out.data() + out.size() - m, m);
  }
  return finite;
}

// The first non-finite value of a matrix, as an error naming field, row, id and column.
// `row_name(r)` says which sample (and token) row r is.
template <typename RowName>
Status CheckFinite(const char* field, const MatrixView& m, RowName row_name) {
  if (AllFinite(m.data, m.rows * m.cols)) return Status::OK();
  for (int64_t r = 0; r < m.rows; ++r) {
    const float* row = m.data + r * m.cols;
    for (int64_t c = 0; c < m.cols; ++c) {
      if (!std::isfinite(row[c])) {
        return Status::Invalid(std::string(field) + ": " +
                               (std::isnan(row[c]) ? "NaN" : "infinite") + " value at row " +
                               std::to_string(r) + " (" + row_name(r) + "), column " +
                               std::to_string(c) + "; expected finite numbers");
      }
    }
  }
  return Status::OK();
}

// Every string of a data batch is stored and later written as JSON, which
// needs valid UTF-8: a bad byte is reported here, naming the field and row.
Status CheckBatchUtf8(const DataBatch& batch) {
  auto check = [](const std::vector<std::string>& values, const char* field) -> Status {
    for (size_t i = 0; i < values.size(); ++i) {
      SEXTANT_RETURN_IF_ERROR(
          CheckUtf8(values[i], std::string(field) + " (row " + std::to_string(i) + ")"));
    }
    return Status::OK();
  };
  SEXTANT_RETURN_IF_ERROR(check(batch.ids, "ids"));
  SEXTANT_RETURN_IF_ERROR(check(batch.texts, "texts"));
  SEXTANT_RETURN_IF_ERROR(check(batch.labels, "labels"));
  SEXTANT_RETURN_IF_ERROR(check(batch.premises, "premises"));
  SEXTANT_RETURN_IF_ERROR(check(batch.hypotheses, "hypotheses"));
  for (const MetaColumn& col : batch.meta) {
    SEXTANT_RETURN_IF_ERROR(CheckUtf8(col.name, "meta: column name"));
    SEXTANT_RETURN_IF_ERROR(check(col.values, ("meta column '" + col.name + "'").c_str()));
  }
  return Status::OK();
}

// NER outputs: where each sample's token rows start in the batch's matrices.
// Padded: T rows per sample; else concatenated, token_counts (or the logged
// counts) rows each.
std::vector<int64_t> TokenRowStarts(size_t samples, int64_t tokens_per_sample,
                                    const std::vector<int64_t>& counts) {
  std::vector<int64_t> starts(samples + 1, 0);
  for (size_t i = 0; i < samples; ++i) {
    starts[i + 1] = starts[i] + (tokens_per_sample > 0 ? tokens_per_sample : counts[i]);
  }
  return starts;
}

}  // namespace

fs::path ResolveRoot(const fs::path& explicit_root) {
  if (!explicit_root.empty()) return explicit_root;
  if (const char* env = std::getenv("SEXTANT_HOME"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : ".") / ".sextant";
}

class Client::Impl {
 public:
  Impl(fs::path run_dir, std::unique_ptr<store::RunStore> store, int64_t max_pending_bytes)
      : run_dir_(std::move(run_dir)),
        store_(std::move(store)),
        max_pending_bytes_(std::max<int64_t>(max_pending_bytes, kMinPendingBytes)) {
    labels_ = store_->labels();
    if (store_->tagging_schema() && !labels_.empty()) {
      auto tags = ner::ParseTagList(labels_, *store_->tagging_schema());
      if (tags.ok()) tags_ = std::move(*tags);
    }
    writer_ = std::thread([this] { WriterLoop(); });
  }

  ~Impl() {
    {
      MutexLock lock(mu_);
      stop_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
  }

  Status SetLabelsForRun(const std::vector<std::string>& labels) {
    MutexLock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(TakeWriteError());
    if (labels.size() < 2) {
      return Status::Invalid("labels: got " + std::to_string(labels.size()) +
                             " labels; a classifier needs at least 2");
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i].empty())
        return Status::Invalid("labels: label " + std::to_string(i) + " is empty");
      SEXTANT_RETURN_IF_ERROR(CheckUtf8(labels[i], "labels: label " + std::to_string(i)));
      for (size_t j = 0; j < i; ++j) {
        if (labels[j] == labels[i]) {
          return Status::Invalid("labels: '" + labels[i] + "' appears twice (positions " +
                                 std::to_string(j) + " and " + std::to_string(i) + ")");
        }
      }
    }
    if (!labels_.empty()) {
      if (labels_ == labels) return Status::OK();
      return Status::Invalid("labels: " + JoinLabels(labels) + " differ from the run's labels " +
                             JoinLabels(labels_) +
                             "; an inference run must use its training run's label list, in "
                             "the same order");
    }
    if (store_->tagging_schema()) {
      auto tags = ner::ParseTagList(labels, *store_->tagging_schema());
      if (!tags.ok()) return Status::Invalid("labels: " + tags.status().message());
      tags_ = std::move(*tags);
    }
    MutexLock store_lock(store_mu_);
    SEXTANT_RETURN_IF_ERROR(store_->SetLabels(labels));
    labels_ = labels;
    return Status::OK();
  }

  Status SetTaggingSchema(TaggingSchema schema) {
    MutexLock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(TakeWriteError());
    if (store_->task() != TaskType::kNamedEntityRecognition) {
      return Status::Invalid(
          "tagging_schema: only named_entity_recognition runs have a tagging "
          "schema; this run is " +
          std::string(TaskTypeName(store_->task())));
    }
    const auto& current = store_->tagging_schema();
    if (current && *current != schema) {
      return Status::Invalid("tagging_schema: " + std::string(TaggingSchemaName(schema)) +
                             " differs from the run's schema " +
                             std::string(TaggingSchemaName(*current)) +
                             "; an inference run must use its training run's schema");
    }
    if (!labels_.empty()) {
      auto tags = ner::ParseTagList(labels_, schema);
      if (!tags.ok()) return Status::Invalid("tagging_schema: " + tags.status().message());
      tags_ = std::move(*tags);
    }
    if (current) return Status::OK();
    MutexLock store_lock(store_mu_);
    return store_->SetTaggingSchema(schema);
  }

  Status SetSplit(Split split, const std::string& inference_name, std::optional<double> timestamp) {
    SEXTANT_ASSIGN_OR_RETURN(SplitKey key, SplitKey::Make(split, inference_name));
    if (timestamp) {
      if (split != Split::kInference) {
        return Status::Invalid("timestamp: only inference sets have a time (split is '" +
                               key.ToString() + "')");
      }
      SEXTANT_RETURN_IF_ERROR(store::CheckSetTime(*timestamp, "timestamp"));
    }
    MutexLock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(TakeWriteError());
    if (timestamp) {
      SEXTANT_RETURN_IF_ERROR(store_->RecordInferenceTime(
          {key.inference_name, *timestamp, store::SetTimeSource::kGiven}));
    }
    current_split_ = std::move(key);
    return Status::OK();
  }

  Status SetEpoch(int32_t epoch) {
    if (epoch < 0) return Status::Invalid("epoch: " + std::to_string(epoch) + "; expected >= 0");
    MutexLock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(TakeWriteError());
    epoch_ = epoch;
    return Status::OK();
  }

  Status LogDataSamples(const DataBatch& batch, std::optional<SplitKey> split_arg,
                        ExistingSamples existing) {
    MutexLock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(TakeWriteError());
    SEXTANT_ASSIGN_OR_RETURN(SplitKey key, ResolveSplit(split_arg, "log_data_samples"));
    const size_t n = batch.ids.size();
    if (n == 0) return Status::Invalid("ids: empty batch; expected at least one sample");
    SEXTANT_RETURN_IF_ERROR(CheckBatchUtf8(batch));
    std::vector<store::SampleRecord> records(n);
    for (size_t i = 0; i < n; ++i) records[i].id = batch.ids[i];
    SEXTANT_RETURN_IF_ERROR(
        client::ResolveTaskFields(store_->task(), key, batch, tags_ ? &*tags_ : nullptr, &records));
    if (store_->task() != TaskType::kNamedEntityRecognition) {
      SEXTANT_RETURN_IF_ERROR(ResolveLabels(key, batch, &records));
    }
    SEXTANT_RETURN_IF_ERROR(ResolveMeta(batch, &records));

    SEXTANT_ASSIGN_OR_RETURN(SplitState * state, LoadSplitState(key));
    if (existing == ExistingSamples::kSkipIfIdentical) {
      SEXTANT_ASSIGN_OR_RETURN(bool all_logged, AllLoggedIdentically(key, *state, batch, records));
      if (all_logged) return Status::OK();
    }
    std::unordered_map<std::string, size_t> in_batch;
    for (size_t i = 0; i < n; ++i) {
      const std::string& id = batch.ids[i];
      if (id.empty())
        return Status::Invalid("ids: the id at row " + std::to_string(i) + " is empty");
      if (state->ids.Contains(id)) {
        return Status::AlreadyExists("ids: sample id '" + id + "' (row " + std::to_string(i) +
                                     ") is already logged in split '" + key.ToString() +
                                     "'; ids must be unique within a split");
      }
      auto [it, inserted] = in_batch.emplace(id, i);
      if (!inserted) {
        return Status::AlreadyExists("ids: sample id '" + id +
                                     "' appears twice in this batch (rows " +
                                     std::to_string(it->second) + " and " + std::to_string(i) +
                                     "); ids must be unique within a split");
      }
    }
    {
      MutexLock store_lock(store_mu_);
      SEXTANT_RETURN_IF_ERROR(store_->AppendSamples(key, records));
    }
    for (size_t i = 0; i < n; ++i) {
      state->ids.Insert(batch.ids[i]);
      state->token_count.push_back(static_cast<int32_t>(records[i].tokens.size()));
    }
    return Status::OK();
  }

  // Every check of an outputs batch that does not depend on which ids are
  // logged: shapes, widths, the kind of the epoch's log, finite values.
  // `check_values`: whether to scan the values for NaN and infinity here.
  Status CheckOutputsLocked(const OutputsBatch& batch, const SplitKey& key, int32_t epoch,
                            bool check_values = true) REQUIRES(mu_) {
    if (epoch < 0) return Status::Invalid("epoch: " + std::to_string(epoch) + "; expected >= 0");
    if (labels_.empty()) {
      return Status::FailedPrecondition(
          "labels: set the run's labels (set_labels_for_run) "
          "before logging model outputs");
    }
    const auto n = static_cast<int64_t>(batch.ids.size());
    if (n == 0) return Status::Invalid("ids: empty batch; expected at least one sample");
    const bool has_logits = batch.logits.data != nullptr;
    const bool has_probs = batch.probabilities.data != nullptr;
    if (has_logits == has_probs) {
      return Status::Invalid("logits: give exactly one of logits or probabilities");
    }
    const MatrixView& out = has_logits ? batch.logits : batch.probabilities;
    const char* out_name = has_logits ? "logits" : "probs";
    const OutputKind kind = has_logits ? OutputKind::kLogits : OutputKind::kProbabilities;
    if (batch.embeddings.data == nullptr) return Status::Invalid("embeddings: missing");
    const bool tokens = store_->task() == TaskType::kNamedEntityRecognition;
    if (!tokens && (batch.tokens_per_sample != 0 || !batch.token_counts.empty())) {
      return Status::Invalid(
          "embeddings: per-token outputs are for named_entity_recognition runs; "
          "this run is " +
          std::string(TaskTypeName(store_->task())));
    }
    // Rows per sample: one, or (NER) as stated by the layout; the logged token
    // counts are checked once the ids are looked up (expected_rows -1 until then).
    const std::vector<int64_t>& counts = batch.token_counts;
    if (tokens && !counts.empty() && counts.size() != static_cast<size_t>(n)) {
      return Status::Invalid("embeddings: token counts for " + std::to_string(counts.size()) +
                             " samples; the batch has " + std::to_string(n) + " ids");
    }
    const bool layout_known = !tokens || batch.tokens_per_sample > 0 || !counts.empty();
    const int64_t expected_rows =
        !tokens        ? n
        : layout_known ? TokenRowStarts(batch.ids.size(), batch.tokens_per_sample, counts).back()
                       : -1;
    const char* per = tokens ? " token rows for " : " rows for ";
    const std::string expectation = !tokens ? "; expected one row per id"
                                    : batch.tokens_per_sample > 0
                                        ? "; expected " + std::to_string(batch.tokens_per_sample) +
                                              " (the padded length) per id"
                                        : "; expected the sum of the samples' token counts";
    if (expected_rows >= 0 && batch.embeddings.rows != expected_rows) {
      return Status::Invalid("embeddings: " + std::to_string(batch.embeddings.rows) + per +
                             std::to_string(n) + " ids" + expectation);
    }
    if (out.rows != batch.embeddings.rows) {
      return Status::Invalid(std::string(out_name) + ": " + std::to_string(out.rows) + per +
                             std::to_string(n) + " ids; expected as many as embeddings (" +
                             std::to_string(batch.embeddings.rows) + ")");
    }
    if (out.cols != static_cast<int64_t>(labels_.size())) {
      return Status::Invalid(std::string(out_name) + ": width " + std::to_string(out.cols) +
                             "; the run has " + std::to_string(labels_.size()) + " labels " +
                             JoinLabels(labels_) + ", so expected width " +
                             std::to_string(labels_.size()));
    }
    if (batch.embeddings.cols <= 0) return Status::Invalid("embeddings: width must be positive");
    SEXTANT_RETURN_IF_ERROR(LoadLogState());
    if (emb_dim_ != 0 && batch.embeddings.cols != emb_dim_) {
      return Status::Invalid("embeddings: width " + std::to_string(batch.embeddings.cols) +
                             " differs from the width " + std::to_string(emb_dim_) +
                             " logged before in this run; expected " + std::to_string(emb_dim_));
    }
    auto kind_it = log_kinds_.find({key, epoch});
    if (kind_it != log_kinds_.end() && kind_it->second != kind) {
      return Status::Invalid(std::string(out_name) + ": split '" + key.ToString() + "' epoch " +
                             std::to_string(epoch) + " was logged with " +
                             (kind == OutputKind::kLogits ? "probabilities" : "logits") +
                             "; use the same kind within an epoch");
    }
    // Which sample a row belongs to, for error messages only (off the hot path).
    auto row_name = [&](int64_t r) -> std::string {
      if (!tokens) return "sample id '" + batch.ids[static_cast<size_t>(r)] + "'";
      if (!layout_known) return "token row " + std::to_string(r);
      const std::vector<int64_t> starts =
          TokenRowStarts(batch.ids.size(), batch.tokens_per_sample, counts);
      const auto i = std::upper_bound(starts.begin(), starts.end(), r) - starts.begin() - 1;
      std::string name = "sample id '" + batch.ids[static_cast<size_t>(i)] + "'";
      return name + ", token " + std::to_string(r - starts[static_cast<size_t>(i)]);
    };
    if (check_values) {
      SEXTANT_RETURN_IF_ERROR(CheckFinite("embeddings", batch.embeddings, row_name));
      SEXTANT_RETURN_IF_ERROR(CheckFinite(out_name, out, row_name));
    }
    if (!has_logits) {
      for (int64_t r = 0; r < out.rows; ++r) {
        double sum = 0;
        for (int64_t c = 0; c < out.cols; ++c) {
          const float v = out.data[r * out.cols + c];
          if (v < 0 || v > 1) {
            return Status::Invalid("probs: value " + std::to_string(v) + " at row " +
                                   std::to_string(r) + " (" + row_name(r) +
                                   "); expected probabilities in [0, 1]");
          }
          sum += v;
        }
        if (std::abs(sum - 1.0) > 1e-3) {
          return Status::Invalid("probs: row " + std::to_string(r) + " (" + row_name(r) +
                                 ") sums to " + std::to_string(sum) + "; expected 1");
        }
      }
    }
    return Status::OK();
  }

  Status CheckModelOutputs(const OutputsBatch& batch, std::optional<SplitKey> split_arg,
                           std::optional<int32_t> epoch_arg) {
    MutexLock lock(mu_);
    SEXTANT_ASSIGN_OR_RETURN(SplitKey key, ResolveSplit(split_arg, "check_model_outputs"));
    return CheckOutputsLocked(batch, key, epoch_arg.value_or(epoch_));
  }

  Status LogModelOutputs(const OutputsBatch& batch, std::optional<SplitKey> split_arg,
                         std::optional<int32_t> epoch_arg) {
    MutexLock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(TakeWriteError());
    SEXTANT_ASSIGN_OR_RETURN(SplitKey key, ResolveSplit(split_arg, "log_model_outputs"));
    const int32_t epoch = epoch_arg.value_or(epoch_);
    const bool tokens = store_->task() == TaskType::kNamedEntityRecognition;
    // NER outputs are checked for finite values up front: their padding is not copied.
    SEXTANT_RETURN_IF_ERROR(CheckOutputsLocked(batch, key, epoch, /*check_values=*/tokens));
    const auto n = static_cast<int64_t>(batch.ids.size());
    const MatrixView& out = batch.logits.data ? batch.logits : batch.probabilities;
    const OutputKind kind = batch.logits.data ? OutputKind::kLogits : OutputKind::kProbabilities;
    SEXTANT_ASSIGN_OR_RETURN(SplitState * state, LoadSplitState(key));
    SEXTANT_ASSIGN_OR_RETURN(std::vector<uint8_t> * seen, LoadSeen(key, epoch, state));
    std::vector<int64_t> rows(static_cast<size_t>(n));
    state->ids.FindBatch(batch.ids.data(), batch.ids.size(), rows.data());
    for (int64_t i = 0; i < n; ++i) {
      if (rows[i] >= 0) __builtin_prefetch(seen->data() + rows[i], 1);  // marked after the copy
    }
    for (int64_t i = 0; i < n; ++i) {
      if (rows[i] < 0) {
        return Status::NotFound("ids: sample id '" + batch.ids[i] + "' (row " + std::to_string(i) +
                                ") was never logged as data in split '" + key.ToString() +
                                "'; log it with log_data_samples first");
      }
    }
    // NER: each sample's token rows in the batch, checked against its logged tokens.
    std::vector<int64_t> counts, starts;
    if (tokens) {
      counts.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        counts[i] = state->token_count[static_cast<size_t>(rows[i])];
        const int64_t given = batch.tokens_per_sample > 0  ? batch.tokens_per_sample
                              : batch.token_counts.empty() ? counts[i]
                                                           : batch.token_counts[i];
        const bool fits = batch.tokens_per_sample > 0 ? counts[i] <= given : counts[i] == given;
        if (!fits) {
          return Status::Invalid("embeddings: sample id '" + batch.ids[i] + "' (row " +
                                 std::to_string(i) + ") has " + std::to_string(given) +
                                 (batch.tokens_per_sample > 0 ? " padded" : "") +
                                 " token rows; it was logged with " + std::to_string(counts[i]) +
                                 " tokens; expected one output row per logged token");
        }
      }
      starts = TokenRowStarts(batch.ids.size(), batch.tokens_per_sample,
                              batch.token_counts.empty() ? counts : batch.token_counts);
      if (starts.back() != batch.embeddings.rows) {
        std::string counts_text;
        for (int64_t i = 0; i < std::min<int64_t>(n, 3); ++i) {
          counts_text += (i ? ", " : "") + ("sample '" + batch.ids[i] +
                                            "': " + std::to_string(counts[i]) + " tokens");
        }
        return Status::Invalid("embeddings: " + std::to_string(batch.embeddings.rows) +
                               " token rows for " + std::to_string(n) +
                               " ids whose logged "
                               "tokens number " +
                               std::to_string(starts.back()) + " (" + counts_text +
                               (n > 3 ? ", ..." : "") +
                               "); expected one row per logged token, samples in id order");
      }
    }
    store::OutputAppend append;
    append.split = key;
    append.epoch = epoch;
    append.kind = kind;
    append.emb_dim = batch.embeddings.cols;
    append.out_dim = out.cols;
    append.embeddings = TakeBuffer(free_embeddings_);
    append.outputs = TakeBuffer(free_outputs_);
    bool finite = true;  // NER values were checked up front
    if (!tokens) {
      append.sample_rows = rows;
      finite = AppendFinite(batch.embeddings.data, n * append.emb_dim, append.embeddings) &&
               AppendFinite(out.data, n * append.out_dim, append.outputs);
    } else {
      // One log row per token: the sample's row repeated, padding cut.
      for (int64_t i = 0; i < n; ++i) {
        const int64_t first = starts[i];
        append.sample_rows.insert(append.sample_rows.end(), counts[i], rows[i]);
        append.embeddings.insert(append.embeddings.end(),
                                 batch.embeddings.data + first * append.emb_dim,
                                 batch.embeddings.data + (first + counts[i]) * append.emb_dim);
        append.outputs.insert(append.outputs.end(), out.data + first * append.out_dim,
                              out.data + (first + counts[i]) * append.out_dim);
      }
    }
    if (!finite) {
      // The caller's matrices are read again only to name the first bad value.
      RecycleBuffer(std::move(append.embeddings), free_embeddings_);
      RecycleBuffer(std::move(append.outputs), free_outputs_);
      auto row_name = [&](int64_t r) {
        return "sample id '" + batch.ids[static_cast<size_t>(r)] + "'";
      };
      SEXTANT_RETURN_IF_ERROR(CheckFinite("embeddings", batch.embeddings, row_name));
      return CheckFinite(batch.logits.data ? "logits" : "probs", out, row_name);
    }
    for (int64_t i = 0; i < n; ++i) {
      uint8_t& s = (*seen)[static_cast<size_t>(rows[i])];
      if (s) {
        // Undo the marks of this batch so that a rejected call changes nothing.
        for (int64_t j = 0; j < i; ++j) (*seen)[static_cast<size_t>(rows[j])] = 0;
        RecycleBuffer(std::move(append.embeddings), free_embeddings_);
        RecycleBuffer(std::move(append.outputs), free_outputs_);
        return Status::AlreadyExists("ids: sample id '" + batch.ids[i] + "' (row " +
                                     std::to_string(i) + ") already has outputs in split '" +
                                     key.ToString() + "' epoch " + std::to_string(epoch) +
                                     "; each sample gets one output row per epoch");
      }
      s = 1;
    }
    const int64_t bytes = BatchBytes(append);
    // Back-pressure: a producer far ahead of the disk waits instead of growing memory,
    // and what a crash can lose stays within max_pending_bytes_. While writes fail
    // the wait could be endless: the batch is refused instead, changing nothing.
    if (failed_batches_ > 0 && queued_bytes_ > 0 && queued_bytes_ + bytes > max_pending_bytes_) {
      write_error_ = Status::OK();  // reported here
      for (int64_t i = 0; i < n; ++i) (*seen)[static_cast<size_t>(rows[i])] = 0;
      RecycleBuffer(std::move(append.embeddings), free_embeddings_);
      RecycleBuffer(std::move(append.outputs), free_outputs_);
      return Status::IOError(PendingFailureMessage(
          "log_model_outputs: this batch was not logged: earlier batches could not be written"));
    }
    if (queued_bytes_ > 0 && queued_bytes_ + bytes > max_pending_bytes_) {
      ++waiting_for_space_;
      queue_cv_.notify_all();
      while (!(queued_bytes_ == 0 || queued_bytes_ + bytes <= max_pending_bytes_ ||
               failed_batches_ > 0)) {
        queue_cv_.wait(mu_);
      }
      --waiting_for_space_;
      if (failed_batches_ > 0 && queued_bytes_ > 0 && queued_bytes_ + bytes > max_pending_bytes_) {
        for (int64_t i = 0; i < n; ++i) (*seen)[static_cast<size_t>(rows[i])] = 0;
        RecycleBuffer(std::move(append.embeddings), free_embeddings_);
        RecycleBuffer(std::move(append.outputs), free_outputs_);
        write_error_ = Status::OK();  // reported here
        return Status::IOError(PendingFailureMessage(
            "log_model_outputs: this batch was not logged: earlier batches could not be written"));
      }
    }
    emb_dim_ = append.emb_dim;
    log_kinds_[{key, epoch}] = kind;
    queued_bytes_ += bytes;
    queue_.push_back(std::move(append));
    // Group commit: below kWakeBytes the writer takes the batch on its next
    // tick, so a forward pass does not pay a wake-up (a syscall) per batch.
    if (queued_bytes_ >= kWakeBytes) queue_cv_.notify_all();
    return Status::OK();
  }

  Status Flush() {
    MutexLock lock(mu_);
    ++flushing_;
    // Attempts numbered up to here started before this call: one of them failing
    // (a retry in flight while the disk was still full) says nothing about this
    // flush, whose own attempt follows.
    const uint64_t attempts_before = write_attempts_;
    queue_cv_.notify_all();
    // Until everything is committed, or a write attempt made after this call failed.
    while (!((queue_.empty() && writing_ == 0) || last_failed_attempt_ > attempts_before)) {
      queue_cv_.wait(mu_);
    }
    --flushing_;
    if (last_failed_attempt_ > attempts_before) {
      write_error_ = Status::OK();
      return Status::IOError(PendingFailureMessage("flush"));
    }
    return TakeWriteError();
  }

  Result<FinishReport> Finish(const ProcessingOptions& options, const UploadOptions& upload) {
    SEXTANT_RETURN_IF_ERROR(Flush());
    MutexLock store_lock(store_mu_);
    if (!remote_) return processing::ProcessRun(*store_, options);
    return FinishRemote(upload);
  }

  void SetRemote(std::string project, std::string run, std::optional<RemoteConfig> remote) {
    project_ = std::move(project);
    run_ = std::move(run);
    remote_ = std::move(remote);
  }

  const fs::path& run_dir() const { return run_dir_; }
  std::vector<std::string> labels() const EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return labels_;
  }

 private:
  // Finish with a team server: upload, then (optionally) wait for the job.
  Result<FinishReport> FinishRemote(const UploadOptions& upload) REQUIRES(store_mu_) {
    const auto start = std::chrono::steady_clock::now();
    FinishReport report;
    Result<SyncReport> synced =
        client::SyncStore(*store_, project_, run_, *remote_, upload.progress);
    if (!synced.ok()) {
      if (synced.status().code() != StatusCode::kUnavailable) return synced.status();
      report.upload_pending = true;
      report.message = synced.status().message() +
                       "; the run is kept locally and uploads with `sextant sync --root " +
                       run_dir_.parent_path().parent_path().string() +
                       "` (or sextant.sync(), or the next finish)";
      return report;
    }
    report.sync = *synced;
    report.uploaded = synced->uploads > 0;
    report.samples = synced->samples;
    report.splits = synced->splits;
    report.message = synced->up_to_date ? "Nothing new to upload to " + remote_->url
                                        : "Finished uploading " + std::to_string(synced->samples) +
                                              " samples to " + remote_->url;
    if (upload.wait) {
      Result<JobStatus> job =
          WaitForRun(*remote_, project_, run_, upload.timeout_s, upload.progress);
      if (!job.ok() && !job.status().IsNotFound()) return job.status();
      if (job.ok()) report.job = *job;
    } else if (synced->job_id) {
      Result<std::optional<JobStatus>> job = GetRunStatus(*remote_, project_, run_);
      if (job.ok() && *job) report.job = **job;
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  }

  static constexpr int64_t kMinPendingBytes = 1ll << 20;
  // After a failed write the writer waits this long (or for a Flush) before trying again.
  static constexpr std::chrono::seconds kRetryInterval{1};
  static constexpr size_t kMaxFreeBuffers = 32;
  // The writer commits what is queued every kWriterTick, or at once when
  // kWakeBytes are queued, on Flush and on close.
  static constexpr int64_t kWakeBytes = 4ll << 20;
  static constexpr std::chrono::milliseconds kWriterTick{20};

  struct SplitState {
    client::SampleIdIndex ids;                     // row of each logged sample id
    std::vector<int32_t> token_count;              // per row: logged tokens (NER)
    std::map<int32_t, std::vector<uint8_t>> seen;  // per epoch: row has outputs
  };

  // Buffers of written batches, reused for the next ones (under mu_). A fresh
  // allocation of a batch's size is new pages to the allocator, and the copy
  // into it page-faulted on every call: most of log_model_outputs' cost.
  static std::vector<float> TakeBuffer(std::vector<std::vector<float>>& pool) {
    if (pool.empty()) return {};
    std::vector<float> b = std::move(pool.back());
    pool.pop_back();
    return b;
  }
  static void RecycleBuffer(std::vector<float> b, std::vector<std::vector<float>>& pool) {
    if (pool.size() < kMaxFreeBuffers && b.capacity() > 0) {
      b.clear();
      pool.push_back(std::move(b));
    }
  }

  static int64_t BatchBytes(const store::OutputAppend& b) {
    return static_cast<int64_t>(b.embeddings.size() * 4 + b.outputs.size() * 4 +
                                b.sample_rows.size() * 8);
  }

  Result<SplitKey> ResolveSplit(const std::optional<SplitKey>& arg, const char* call)
      REQUIRES(mu_) {
    if (arg) return *arg;
    if (!current_split_) {
      return Status::FailedPrecondition(std::string("split: no split set for ") + call +
                                        "; call set_split first or pass a split");
    }
    return *current_split_;
  }

  Status ResolveLabels(const SplitKey& key, const DataBatch& batch,
                       std::vector<store::SampleRecord>* records) REQUIRES(mu_) {
    const size_t n = records->size();
    if (!IsLabeled(key.split)) {
      if (!batch.labels.empty() || !batch.label_indices.empty()) {
        return Status::Invalid("labels: inference data takes no labels (sample id '" +
                               batch.ids[0] +
                               "' has one); log labeled data as training, "
                               "validation or test");
      }
      return Status::OK();
    }
    if (labels_.empty()) {
      return Status::FailedPrecondition(
          "labels: set the run's labels (set_labels_for_run) "
          "before logging labeled data");
    }
    if (!batch.labels.empty() && !batch.label_indices.empty()) {
      return Status::Invalid("labels: give labels or label_indices, not both");
    }
    const size_t given = batch.labels.empty() ? batch.label_indices.size() : batch.labels.size();
    if (given != n) {
      return Status::Invalid("labels: " + std::to_string(given) + " labels for " +
                             std::to_string(n) + " ids; " + key.ToString() +
                             " data needs one label per sample");
    }
    std::unordered_map<std::string, int32_t> index;
    for (size_t i = 0; i < labels_.size(); ++i) index[labels_[i]] = static_cast<int32_t>(i);
    for (size_t i = 0; i < n; ++i) {
      if (!batch.labels.empty()) {
        auto it = index.find(batch.labels[i]);
        if (it == index.end()) {
          return Status::Invalid("labels: sample id '" + batch.ids[i] + "' (row " +
                                 std::to_string(i) + ") has label '" + batch.labels[i] +
                                 "', which is not in the run's labels " + JoinLabels(labels_));
        }
        (*records)[i].label = it->second;
      } else {
        const int32_t l = batch.label_indices[i];
        if (l < 0 || l >= static_cast<int32_t>(labels_.size())) {
          return Status::Invalid("labels: sample id '" + batch.ids[i] + "' (row " +
                                 std::to_string(i) + ") has label index " + std::to_string(l) +
                                 "; expected 0 to " + std::to_string(labels_.size() - 1) +
                                 " for the run's labels " + JoinLabels(labels_));
        }
        (*records)[i].label = l;
      }
    }
    return Status::OK();
  }

  static Status ResolveMeta(const DataBatch& batch, std::vector<store::SampleRecord>* records) {
    if (batch.meta.empty()) return Status::OK();
    std::vector<nlohmann::ordered_json> meta(records->size(), nlohmann::ordered_json::object());
    for (const MetaColumn& col : batch.meta) {
      if (col.name.empty()) return Status::Invalid("meta: a column has an empty name");
      if (col.values.size() != records->size()) {
        return Status::Invalid("meta: column '" + col.name + "' has " +
                               std::to_string(col.values.size()) + " values for " +
                               std::to_string(records->size()) + " ids");
      }
      for (size_t i = 0; i < records->size(); ++i) meta[i][col.name] = col.values[i];
    }
    for (size_t i = 0; i < records->size(); ++i) (*records)[i].meta_json = meta[i].dump();
    return Status::OK();
  }

  // True when every sample of the batch is logged in the split with the same
  // text and label; false when none is; an error otherwise.
  Result<bool> AllLoggedIdentically(const SplitKey& key, const SplitState& state,
                                    const DataBatch& batch,
                                    const std::vector<store::SampleRecord>& records) REQUIRES(mu_) {
    const size_t n = batch.ids.size();
    std::optional<size_t> first_known, first_new;
    size_t known = 0;
    for (size_t i = 0; i < n; ++i) {
      if (state.ids.Contains(batch.ids[i])) {
        ++known;
        if (!first_known) first_known = i;
      } else if (!first_new) {
        first_new = i;
      }
    }
    if (known == 0) return false;
    if (known < n) {
      return Status::AlreadyExists(
          "ids: " + std::to_string(known) + " of the " + std::to_string(n) +
          " ids are already logged in split '" + key.ToString() + "' (e.g. '" +
          batch.ids[*first_known] + "', row " + std::to_string(*first_known) + ") and " +
          std::to_string(n - known) + " are not (e.g. '" + batch.ids[*first_new] + "', row " +
          std::to_string(*first_new) + "); expected the same samples again or only new ids");
    }
    std::vector<store::SampleRecord> logged;
    {
      MutexLock store_lock(store_mu_);
      SEXTANT_ASSIGN_OR_RETURN(logged, store_->ReadSamples(key));
    }
    for (size_t i = 0; i < n; ++i) {
      const store::SampleRecord& before = logged[static_cast<size_t>(state.ids.Find(batch.ids[i]))];
      const char* field = before.text != records[i].text               ? "texts"
                          : before.label != records[i].label           ? "labels"
                          : before.tokens != records[i].tokens         ? "text_token_indices"
                          : before.gold_spans != records[i].gold_spans ? "gold_spans"
                                                                       : nullptr;
      if (field) {
        return Status::AlreadyExists(
            std::string(field) + ": sample id '" + batch.ids[i] + "' (row " + std::to_string(i) +
            ") is already logged in split '" + key.ToString() + "' with different " + field +
            "; expected the same sample again or a new id");
      }
    }
    return true;
  }

  Result<SplitState*> LoadSplitState(const SplitKey& key) REQUIRES(mu_) {
    auto it = splits_.find(key);
    if (it != splits_.end()) return &it->second;
    SplitState state;
    std::vector<std::string> ids;
    {
      MutexLock store_lock(store_mu_);
      if (store_->task() == TaskType::kNamedEntityRecognition) {
        // One read gives the ids and each sample's token count.
        SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SampleRecord> logged, store_->ReadSamples(key));
        for (auto& r : logged) {
          ids.push_back(std::move(r.id));
          state.token_count.push_back(static_cast<int32_t>(r.tokens.size()));
        }
      } else {
        SEXTANT_ASSIGN_OR_RETURN(ids, store_->SampleIds(key));
      }
    }
    size_t chars = 0;
    for (const std::string& id : ids) chars += id.size();
    state.ids.Reserve(ids.size(), chars);
    for (const std::string& id : ids) state.ids.Insert(id);
    state.token_count.resize(ids.size(), 0);
    return &splits_.emplace(key, std::move(state)).first->second;
  }

  Result<std::vector<uint8_t>*> LoadSeen(const SplitKey& key, int32_t epoch, SplitState* state)
      REQUIRES(mu_) {
    auto it = state->seen.find(epoch);
    if (it == state->seen.end()) {
      std::vector<int64_t> rows;
      {
        MutexLock store_lock(store_mu_);
        SEXTANT_ASSIGN_OR_RETURN(rows, store_->ReadOutputRows(key, epoch));
      }
      std::vector<uint8_t> seen(static_cast<size_t>(state->ids.size()), 0);
      for (int64_t r : rows) seen[static_cast<size_t>(r)] = 1;
      it = state->seen.emplace(epoch, std::move(seen)).first;
    }
    it->second.resize(static_cast<size_t>(state->ids.size()), 0);  // samples logged since
    return &it->second;
  }

  // The run-wide embedding width and the kind of each existing log.
  Status LoadLogState() REQUIRES(mu_) {
    if (log_state_loaded_) return Status::OK();
    std::vector<store::OutputLogInfo> logs;
    {
      MutexLock store_lock(store_mu_);
      SEXTANT_ASSIGN_OR_RETURN(logs, store_->ListOutputLogs());
    }
    for (const auto& l : logs) {
      emb_dim_ = l.emb_dim;
      log_kinds_[{l.split, l.epoch}] = l.kind;
    }
    log_state_loaded_ = true;
    return Status::OK();
  }

  Status TakeWriteError() REQUIRES(mu_) {
    Status st = write_error_;
    write_error_ = Status::OK();
    return st;
  }

  // The batches a failed write left queued, for an error message: the cause,
  // then per batch its split, epoch and sample ids.
  std::string PendingFailureMessage(const std::string& call) const REQUIRES(mu_) {
    return call + ": writing model outputs failed (" + last_write_error_.message() + "); " +
           std::to_string(failed_batches_) + " batch(es) are not written and are kept " +
           "for a retry (flush() retries them):" + failed_description_;
  }

  // Names each batch of a failed write (under mu_): split, epoch, rows, first and last id.
  std::string DescribeBatches(const std::vector<store::OutputAppend>& batches) const REQUIRES(mu_) {
    std::string m;
    int64_t shown = 0;
    for (const store::OutputAppend& b : batches) {
      if (shown++ == 8) {
        m += " and " + std::to_string(batches.size() - 8) + " more";
        break;
      }
      m += " [" + b.split.ToString() + " epoch " + std::to_string(b.epoch) + ", " +
           std::to_string(b.sample_rows.size()) + " rows";
      auto it = splits_.find(b.split);
      if (it != splits_.end() && !b.sample_rows.empty()) {
        m += ", ids '" + std::string(it->second.ids.id(b.sample_rows.front())) + "'";
        if (b.sample_rows.size() > 1) {
          m += " .. '" + std::string(it->second.ids.id(b.sample_rows.back())) + "'";
        }
      }
      m += "]";
    }
    return m;
  }

  // Whether the writer has work now: a stop, a Flush or a waiting producer, enough
  // queued bytes, or after a failed write, the retry time.
  bool WriterShouldRun() const REQUIRES(mu_) {
    if (stop_) return true;
    if (queue_.empty()) return false;
    if (failed_batches_ > 0) return flushing_ > 0 || std::chrono::steady_clock::now() >= retry_at_;
    return flushing_ > 0 || waiting_for_space_ > 0 ||
           queued_bytes_ >= std::min(kWakeBytes, max_pending_bytes_ / 2);
  }

  void WriterLoop() {
    MutexLock lock(mu_);
    while (true) {
      const auto deadline = std::chrono::steady_clock::now() + kWriterTick;
      while (!WriterShouldRun() && queue_cv_.wait_until(mu_, deadline) != std::cv_status::timeout) {
      }
      if (queue_.empty()) {
        if (stop_) return;  // stopping, and everything is written
        continue;
      }
      if (failed_batches_ > 0 && flushing_ == 0 && !stop_ &&
          std::chrono::steady_clock::now() < retry_at_) {
        continue;
      }
      std::vector<store::OutputAppend> batches(std::make_move_iterator(queue_.begin()),
                                               std::make_move_iterator(queue_.end()));
      queue_.clear();
      writing_ = static_cast<int64_t>(batches.size());
      const uint64_t attempt = ++write_attempts_;
      lock.Unlock();
      Status st;
      {
        MutexLock store_lock(store_mu_);
        st = store_->AppendOutputs(batches);
      }
      lock.Lock();
      writing_ = 0;
      if (!st.ok()) {
        // Nothing of the attempt was committed (the store truncates a partial append on
        // the next one). The batches go back to the front of the queue, in order, and
        // stay marked as logged: they are retried, not dropped.
        last_failed_attempt_ = attempt;
        last_write_error_ = st;
        failed_batches_ = static_cast<int64_t>(batches.size());
        failed_description_ = DescribeBatches(batches);
        for (auto it = batches.rbegin(); it != batches.rend(); ++it)
          queue_.push_front(std::move(*it));
        write_error_ = Status::IOError(PendingFailureMessage("log_model_outputs"));
        retry_at_ = std::chrono::steady_clock::now() + kRetryInterval;
        queue_cv_.notify_all();
        if (stop_) {
          // Closing: the destructor gives up after one more failed attempt.
          if (++close_attempts_ >= 2) {
            queue_.clear();
            queued_bytes_ = 0;
            return;
          }
        }
        continue;
      }
      if (failed_batches_ > 0) {
        // A retry wrote them: nothing was lost, so an unreported error is moot.
        failed_batches_ = 0;
        write_error_ = Status::OK();
      }
      for (auto& b : batches) {
        queued_bytes_ -= BatchBytes(b);
        RecycleBuffer(std::move(b.embeddings), free_embeddings_);
        RecycleBuffer(std::move(b.outputs), free_outputs_);
      }
      queue_cv_.notify_all();
    }
  }

  const fs::path run_dir_;
  // store_ is used under store_mu_; its task() (fixed at open) and
  // tagging_schema() (changed only under both locks) are also read under mu_.
  std::unique_ptr<store::RunStore> store_;
  // A team server: set at Init, read by Finish (under store_mu_).
  std::string project_, run_;
  std::optional<RemoteConfig> remote_;
  Mutex store_mu_ ACQUIRED_AFTER(mu_);  // taken after mu_, never before

  // mutable: labels() const takes it.
  mutable Mutex mu_;
  std::vector<std::string> labels_ GUARDED_BY(mu_);
  std::optional<ner::TagSet> tags_ GUARDED_BY(mu_);  // NER: labels_ parsed for the tagging schema
  std::optional<SplitKey> current_split_ GUARDED_BY(mu_);
  int32_t epoch_ GUARDED_BY(mu_) = 0;
  std::map<SplitKey, SplitState> splits_ GUARDED_BY(mu_);
  bool log_state_loaded_ GUARDED_BY(mu_) = false;
  int64_t emb_dim_ GUARDED_BY(mu_) = 0;
  std::map<std::pair<SplitKey, int32_t>, OutputKind> log_kinds_ GUARDED_BY(mu_);
  std::vector<std::vector<float>> free_embeddings_ GUARDED_BY(mu_), free_outputs_ GUARDED_BY(mu_);

  // Waits on mu_ (a Mutex, hence the _any variant).
  std::condition_variable_any queue_cv_;
  std::deque<store::OutputAppend> queue_ GUARDED_BY(mu_);
  int64_t queued_bytes_ GUARDED_BY(mu_) = 0;
  int64_t writing_ GUARDED_BY(mu_) = 0;
  bool stop_ GUARDED_BY(mu_) = false;
  int32_t flushing_ GUARDED_BY(mu_) = 0;  // Flush calls waiting
  const int64_t max_pending_bytes_;
  // A failed write leaves its batches at the front of queue_ (failed_batches_ of
  // them) until a retry succeeds; write_error_ is reported once by the next call.
  int64_t failed_batches_ GUARDED_BY(mu_) = 0;
  uint64_t write_attempts_ GUARDED_BY(mu_) = 0;       // numbered from 1
  uint64_t last_failed_attempt_ GUARDED_BY(mu_) = 0;  // 0: none failed
  int32_t close_attempts_ GUARDED_BY(mu_) = 0;
  Status last_write_error_ GUARDED_BY(mu_);
  std::string failed_description_ GUARDED_BY(mu_);
  int32_t waiting_for_space_ GUARDED_BY(mu_) = 0;  // LogModelOutputs calls waiting for the writer
  std::chrono::steady_clock::time_point retry_at_ GUARDED_BY(mu_);
  Status write_error_ GUARDED_BY(mu_);
  std::thread writer_;
};

Result<std::unique_ptr<Client>> Client::Init(const ClientOptions& options) {
  SEXTANT_RETURN_IF_ERROR(ValidateName("project_name", options.project));
  SEXTANT_RETURN_IF_ERROR(ValidateName("run_name", options.run));
  const fs::path run_dir = ResolveRoot(options.root) / options.project / options.run;
  SEXTANT_ASSIGN_OR_RETURN(
      std::unique_ptr<store::RunStore> store,
      store::RunStore::Open(run_dir, store::RunStore::Mode::kWrite, options.task));
  auto impl = std::make_unique<Impl>(run_dir, std::move(store), options.max_pending_bytes);
  impl->SetRemote(options.project, options.run, options.remote);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() {
  if (impl_) (void)impl_->Flush();
}

Status Client::SetLabelsForRun(const std::vector<std::string>& labels) {
  return impl_->SetLabelsForRun(labels);
}
std::vector<std::string> Client::labels() const { return impl_->labels(); }
Status Client::SetSplit(Split split, const std::string& inference_name,
                        std::optional<double> timestamp) {
  return impl_->SetSplit(split, inference_name, timestamp);
}
Status Client::SetEpoch(int32_t epoch) { return impl_->SetEpoch(epoch); }
Status Client::SetTaggingSchema(TaggingSchema schema) { return impl_->SetTaggingSchema(schema); }
Status Client::LogDataSamples(const DataBatch& batch, std::optional<SplitKey> split,
                              ExistingSamples existing) {
  return impl_->LogDataSamples(batch, std::move(split), existing);
}
Status Client::CheckModelOutputs(const OutputsBatch& batch, std::optional<SplitKey> split,
                                 std::optional<int32_t> epoch) {
  return impl_->CheckModelOutputs(batch, std::move(split), epoch);
}
Status Client::LogModelOutputs(const OutputsBatch& batch, std::optional<SplitKey> split,
                               std::optional<int32_t> epoch) {
  return impl_->LogModelOutputs(batch, std::move(split), epoch);
}
Status Client::Flush() { return impl_->Flush(); }
Result<FinishReport> Client::Finish(const ProcessingOptions& options, const UploadOptions& upload) {
  return impl_->Finish(options, upload);
}
const fs::path& Client::run_dir() const { return impl_->run_dir(); }

namespace client {

Result<std::unique_ptr<store::RunStore>> OpenExistingRun(const fs::path& root,
                                                         const std::string& project,
                                                         const std::string& run) {
  SEXTANT_RETURN_IF_ERROR(ValidateName("project", project));
  SEXTANT_RETURN_IF_ERROR(ValidateName("run", run));
  const fs::path run_dir = ResolveRoot(root) / project / run;
  if (!fs::exists(run_dir / store::kDatabaseFile)) {
    return Status::NotFound("no run '" + project + "/" + run + "' under '" +
                            ResolveRoot(root).string() + "'");
  }
  return store::RunStore::Open(run_dir, store::RunStore::Mode::kWrite);
}

}  // namespace client

Result<FinishReport> FinishRun(const fs::path& root, const std::string& project,
                               const std::string& run, const ProcessingOptions& options,
                               const std::function<void(const std::string& stage_done)>& on_stage) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::RunStore> store,
                           client::OpenExistingRun(root, project, run));
  return processing::ProcessRun(*store, options, on_stage);
}

}  // namespace sextant
