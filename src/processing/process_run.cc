#include "processing/process_run.h"

#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

#include "alerts/notify.h"
#include "drift/domain_classifier.h"
#include "drift/knn_drift.h"
#include "drift/reference.h"
#include "index/cosine_index.h"
#include "ner/tags.h"
#include "processing/drift_search.h"
#include "processing/log_checks.h"
#include "processing/ner_results.h"
#include "processing/performance_estimate.h"
#include "processing/run_map.h"
#include "processing/sample_metrics.h"
#include "processing/shard_tasks.h"
#include "processing/similarity_index.h"
#include "processing/summary.h"
#include "processing/timeline.h"

namespace sextant::processing {
namespace {

using Clock = std::chrono::steady_clock;

class StageTimer {
 public:
  StageTimer(FinishReport* report, const StageCallback& on_stage)
      : report_(report), on_stage_(on_stage), start_(Clock::now()) {}
  void Done(const std::string& stage) {
    auto now = Clock::now();
    report_->stage_seconds.emplace_back(stage, std::chrono::duration<double>(now - start_).count());
    start_ = now;
    if (on_stage_) on_stage_(stage);
  }
  void Restart() { start_ = Clock::now(); }
  // A stage timed on its own (e.g. on another thread, beside those timed by Done).
  void DoneBeside(const std::string& stage, double seconds) {
    report_->stage_seconds.emplace_back(stage, seconds);
    if (on_stage_) on_stage_(stage);
  }

 private:
  FinishReport* report_;
  const StageCallback& on_stage_;
  Clock::time_point start_;
};

// Joins one split's samples with its outputs: for each sample, the outputs of
// the last epoch that logged it give pred, confidence and the embedding; AUM
// is averaged over every epoch that logged it.
Status LoadSplit(const store::RunStore& store, const SplitKey& key,
                 const std::vector<store::OutputLogInfo>& logs, const ProcessingOptions& options,
                 store::SplitResults* out, std::string* missing) {
  const auto c = static_cast<int64_t>(store.labels().size());
  SEXTANT_ASSIGN_OR_RETURN(std::vector<std::optional<int32_t>> gold, store.SampleLabels(key));
  const auto n = static_cast<int64_t>(gold.size());
  out->split = key;
  out->num_labels = c;
  out->samples.assign(static_cast<size_t>(n), {});
  out->probs.assign(static_cast<size_t>(n * c), 0.0f);
  std::vector<int32_t> last_epoch(static_cast<size_t>(n), -1);
  std::vector<double> aum_sum(static_cast<size_t>(n), 0);
  std::vector<int32_t> aum_count(static_cast<size_t>(n), 0);
  std::vector<float> p(static_cast<size_t>(c));

  for (const store::OutputLogInfo& info : logs) {
    if (info.split != key) continue;
    SEXTANT_ASSIGN_OR_RETURN(store::OutputLog log, store.ReadOutputLog(key, info.epoch));
    // Widths come from the database: checked before they index the arrays below.
    SEXTANT_RETURN_IF_ERROR(CheckLogWidths(info, key, c, out->emb_dim));
    if (out->emb_dim == 0) {
      out->emb_dim = info.emb_dim;
      out->embeddings.assign(static_cast<size_t>(n * info.emb_dim), 0.0f);
    }
    for (int64_t i = 0; i < info.rows; ++i) {
      const int64_t row = log.sample_rows[i];
      const float* o = log.outputs.data() + i * info.out_dim;
      if (info.kind == OutputKind::kLogits) {
        Softmax(o, c, p.data());
      } else {
        std::copy(o, o + c, p.begin());
      }
      if (info.epoch >= last_epoch[row]) {
        last_epoch[row] = info.epoch;
        std::copy(p.begin(), p.end(), out->probs.begin() + row * c);
        std::copy(log.embeddings.begin() + i * info.emb_dim,
                  log.embeddings.begin() + (i + 1) * info.emb_dim,
                  out->embeddings.begin() + row * info.emb_dim);
      }
      if (gold[row]) {
        aum_sum[row] += Aum(p.data(), c, *gold[row]);
        aum_count[row]++;
      }
    }
  }

  int64_t num_missing = 0;
  std::vector<int64_t> first_missing;
  for (int64_t row = 0; row < n; ++row) {
    if (last_epoch[row] >= 0) continue;
    if (num_missing++ < 5) first_missing.push_back(row);
  }
  if (num_missing > 0) {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> ids, store.SampleIds(key));
    std::string list;
    for (int64_t row : first_missing) list += (list.empty() ? "" : ", ") + ("'" + ids[row] + "'");
    *missing += "split '" + key.ToString() + "': " + std::to_string(num_missing) + " of " +
                std::to_string(n) + " samples have no model outputs (first ids: " + list + ")\n";
    return Status::OK();
  }

  for (int64_t row = 0; row < n; ++row) {
    SampleMetrics m =
        ComputeSampleMetrics(out->probs.data() + row * c, c, options.boundary_ratio_threshold);
    store::SampleResult& r = out->samples[row];
    CopyMetrics(m, &r);
    r.epoch = last_epoch[row];
    r.gold = gold[row];
    if (gold[row]) {
      r.aum = aum_sum[row] / aum_count[row];
      r.dep = (1.0 - *r.aum) / 2.0;
    }
  }
  return Status::OK();
}

std::vector<float> NormalizedCopy(const store::SplitResults& s) {
  std::vector<float> v = s.embeddings;
  index::NormalizeRows(v.data(), static_cast<int64_t>(s.samples.size()), s.emb_dim);
  return v;
}

// Confidence of the DKW bound stored with the reference (1 - delta).
constexpr double kDkwDelta = 0.05;

// The smallest validation split that `auto` takes as the reference: ten
// expected samples above the threshold.
int64_t MinAutoValidation(double percentile) {
  return static_cast<int64_t>(std::ceil(10.0 / (1.0 - percentile) - 1e-9));
}

// Drift (and out of coverage) of every split against the training
// embeddings, when there are training rows: the index, the reference and the
// per-row scores (docs/algorithms.md). `units` are samples, or NER span rows.
struct DriftOutcome {
  std::optional<drift::ReferenceDistribution> reference;
  DriftReference used = DriftReference::kTrainingLeaveOneOut;
  int64_t reference_population = 0;
  std::optional<double> loo_threshold, validation_threshold;
  ordered_json nn_parameters = nullptr;
  // Set when the training split is too small for the k-NN statistic (fewer
  // than k + 1 rows): drift is skipped and every other result is kept.
  std::optional<std::string> unavailable_reason;
  // The training index's cells when it is one IVF (DriftSearch::TrainingCells).
  std::vector<float> training_cells;
};

// Why drift cannot be computed with `training_rows` training rows, if so: the
// leave-one-out reference needs each row's k nearest other rows.
std::optional<std::string> DriftUnavailableReason(int64_t training_rows, int32_t k,
                                                  const std::string& units) {
  if (training_rows >= int64_t{k} + 1) return std::nullopt;
  return "drift needs at least k + 1 = " + std::to_string(int64_t{k} + 1) + " training " + units +
         "; training has " + std::to_string(training_rows);
}

// With `shards`, the searches run as shard tasks on the splits' rows staged as
// `<family>-<split index>.npy`.
Result<DriftOutcome> ScoreDrift(const ProcessingOptions& options, const std::string& prefix,
                                const std::string& units, StageTimer& timer,
                                std::vector<store::SplitResults>& splits, ShardWorkspace* shards,
                                const std::string& family) {
  auto stage = [&](const char* name) { return prefix + name; };
  auto training = std::find_if(splits.begin(), splits.end(), [](const store::SplitResults& s) {
    return s.split.split == Split::kTraining;
  });
  auto validation = std::find_if(splits.begin(), splits.end(), [](const store::SplitResults& s) {
    return s.split.split == Split::kValidation;
  });
  for (const store::SplitResults& s : splits) {
    if (training != splits.end() && s.emb_dim != training->emb_dim) {
      return Status::Invalid("embeddings: split '" + s.split.ToString() + "' has width " +
                             std::to_string(s.emb_dim) + "; training has " +
                             std::to_string(training->emb_dim) + "; drift needs the same model");
    }
  }
  if (training != splits.end() && options.drift_reference == DriftReference::kValidation &&
      validation == splits.end()) {
    return Status::FailedPrecondition(
        "drift_reference: 'validation' needs a validation split; the run has none (log one, or "
        "use 'training_loo' or 'auto')");
  }
  // The reference that drives drift_score and is_drifted, and what the
  // parameters say about both references.
  DriftOutcome d;
  auto& reference = d.reference;
  auto& used = d.used;
  auto& reference_population = d.reference_population;
  auto& loo_threshold = d.loo_threshold;
  auto& validation_threshold = d.validation_threshold;
  auto& nn_parameters = d.nn_parameters;
  if (training != splits.end()) {
    d.unavailable_reason = DriftUnavailableReason(static_cast<int64_t>(training->samples.size()),
                                                  options.drift_k, units);
    if (d.unavailable_reason) return d;  // a small first run: every other result still comes
  }
  if (training != splits.end()) {
    std::vector<float> train_norm = NormalizedCopy(*training);
    const auto train_rows = static_cast<int64_t>(training->samples.size());
    const size_t training_index = static_cast<size_t>(training - splits.begin());
    // Which reference drives the flags is known before any search: the
    // leave-one-out pass over the training sample runs only when it is needed.
    const bool has_validation = validation != splits.end() && !validation->samples.empty();
    const bool take_validation =
        has_validation && (options.drift_reference == DriftReference::kValidation ||
                           (options.drift_reference == DriftReference::kAuto &&
                            static_cast<int64_t>(validation->samples.size()) >=
                                MinAutoValidation(options.drift_percentile)));
    // The queries the searches below will run: auto weighs them against the
    // index's build (index/search_cost.h).
    int64_t drift_queries = 0;
    for (const store::SplitResults& s : splits) {
      if (s.split.split != Split::kTraining)
        drift_queries += static_cast<int64_t>(s.samples.size());
    }
    if (!take_validation || options.drift_compare_references) {
      const int64_t loo = options.drift_reference_sample_size;
      drift_queries += loo > 0 ? std::min(loo, train_rows) : train_rows;
    }
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<DriftSearch> search,
                             DriftSearch::Build(options, train_norm.data(), train_rows,
                                                training->emb_dim, shards, family, drift_queries));
    nn_parameters = search->Parameters(options);
    d.training_cells = search->TrainingCells();
    timer.Done(stage(search->approximate() ? "drift index (approximate)" : "drift index (exact)"));
    if (options.drift_reference == DriftReference::kValidation && !has_validation) {
      return Status::FailedPrecondition(
          "drift_reference: 'validation' needs a non-empty validation split");
    }
    std::optional<drift::ReferenceDistribution> loo;
    if (!take_validation || options.drift_compare_references) {
      // drift::BuildSampledReference's searches, by the same plan.
      const drift::LooPlan plan = drift::PlanLeaveOneOut(
          train_rows, options.drift_k, options.drift_reference_sample_size, options.drift_seed);
      SEXTANT_ASSIGN_OR_RETURN(
          std::vector<float> loo_distances,
          search->KCore(*training, training_index, train_norm.data(), plan.sample, plan.searched_k,
                        plan.leave_one_out, options));
      loo =
          drift::MakeReference(std::move(loo_distances), options.drift_k, options.drift_percentile);
      loo_threshold = loo->threshold;
      timer.Done(stage("drift reference (training, leave-one-out)"));
    }
    train_norm = {};  // the indexes hold their own copies
    std::vector<std::vector<float>> distances(splits.size());
    for (size_t i = 0; i < splits.size(); ++i) {
      store::SplitResults& s = splits[i];
      if (s.split.split == Split::kTraining) continue;
      // In process the rows are normalised here; shard tasks normalise the staged raw rows.
      const std::vector<float> q = shards == nullptr ? NormalizedCopy(s) : std::vector<float>();
      SEXTANT_ASSIGN_OR_RETURN(distances[i],
                               search->KCore(s, i, q.data(), {}, options.drift_k, false, options));
    }
    // The validation reference: held-out samples' k-core distances, as scored.
    std::optional<drift::ReferenceDistribution> held_out;
    if (validation != splits.end()) {
      const std::vector<float>& all = distances[validation - splits.begin()];
      std::vector<float> sample;
      for (int64_t row :
           drift::SampleRows(static_cast<int64_t>(all.size()), options.drift_reference_sample_size,
                             options.drift_seed)) {
        sample.push_back(all[row]);
      }
      if (!sample.empty()) {
        held_out =
            drift::MakeReference(std::move(sample), options.drift_k, options.drift_percentile);
        validation_threshold = held_out->threshold;
      }
    }
    used = take_validation ? DriftReference::kValidation : DriftReference::kTrainingLeaveOneOut;
    reference = take_validation ? std::move(*held_out) : std::move(*loo);
    reference_population =
        take_validation ? static_cast<int64_t>(validation->samples.size()) : train_rows;
    for (size_t i = 0; i < splits.size(); ++i) {
      if (splits[i].split.split == Split::kTraining) continue;
      for (size_t j = 0; j < distances[i].size(); ++j) {
        store::SampleResult& r = splits[i].samples[j];
        r.drift_distance = distances[i][j];
        r.drift_score = drift::PercentileRank(*reference, distances[i][j]);
        r.drifted = distances[i][j] > reference->threshold;
      }
    }
    timer.Done(stage("drift scoring"));
  }

  return d;
}

// The domain-classifier test of an inference split against the held-out
// reference split (drift/domain_classifier.h), as its summary's "domain_test";
// the same fold models give each production sample its shift score and flag.
Result<ordered_json> DomainTestSummary(const store::SplitResults& reference,
                                       store::SplitResults* production_split,
                                       const ProcessingOptions& options) {
  store::SplitResults& production = *production_split;
  drift::DomainTestOptions test;
  test.max_per_side = options.domain_test_max_samples;
  test.seed = options.drift_seed;
  const auto reference_rows = static_cast<int64_t>(reference.samples.size());
  const auto production_rows = static_cast<int64_t>(production.samples.size());
  ordered_json j;
  j["reference"] = reference.split.ToString();
  if (reference_rows < test.folds || production_rows < test.folds) {
    j["skipped"] = "needs at least " + std::to_string(test.folds) + " samples on each side";
    return j;
  }
  drift::DomainShiftScores shift;
  SEXTANT_ASSIGN_OR_RETURN(
      drift::DomainTestResult r,
      drift::DomainClassifierTest(reference.embeddings.data(), reference_rows,
                                  production.embeddings.data(), production_rows, production.emb_dim,
                                  test, &shift, options.drift_percentile));
  int64_t shifted = 0;
  for (int64_t i = 0; i < production_rows; ++i) {
    store::SampleResult& s = production.samples[static_cast<size_t>(i)];
    s.shift_score = shift.production[static_cast<size_t>(i)];
    s.shifted = *s.shift_score > shift.threshold;
    shifted += *s.shifted;
  }
  j["reference_samples"] = r.reference_samples;
  j["samples"] = r.production_samples;
  j["auc"] = r.auc;
  j["auc_ci"] = {r.auc_low, r.auc_high};
  j["z"] = r.z;
  j["p_value"] = r.p_value;
  j["log10_p_value"] = r.log10_p_value;
  j["alpha"] = options.drift_alpha;
  j["shifted"] = r.p_value < options.drift_alpha;
  j["shrinkage"] = r.shrinkage;
  j["shift_threshold"] = shift.threshold;
  j["shifted_share"] = static_cast<double>(shifted) / static_cast<double>(production_rows);
  j["shift_auc"] = shift.auc;
  return j;
}

// What the stages of a finish share: the joined splits and what each stage found.
struct FinishState {
  std::vector<std::string> labels;
  bool ner = false;
  std::optional<ner::TagSet> tags;               // NER: the tag list parsed for the schema
  std::vector<store::SplitResults> splits;       // one per split, in ListSplits order
  std::vector<store::SplitResults> span_splits;  // NER: the span rows of each split
  ordered_json map_parameters = nullptr, span_map_parameters = nullptr;
  // The maps' placement models, kept with the results for a later incremental map.
  std::optional<RunMapModel> map_model, span_map_model;
  DriftOutcome drift;
  std::optional<DriftOutcome> span_drift;
  const store::SplitResults* domain_reference = nullptr;        // validation, else test
  std::map<std::string, ordered_json> domain_tests;             // per inference split
  ordered_json performance_estimates = ordered_json::object();  // per inference split
  std::optional<SimilarityIndex> similarity, span_similarity;
  std::vector<store::InferenceSetTime> set_times;  // the timeline's order
  // With an executor: this finish's folder of staged inputs, removed at the end.
  std::unique_ptr<ShardWorkspace> shards;
};

Status CheckOptions(const ProcessingOptions& options) {
  if (options.drift_k < 1) return Status::Invalid("drift_k: must be at least 1");
  if (!(options.drift_percentile > 0 && options.drift_percentile < 1)) {
    return Status::Invalid("drift_percentile: must be in (0, 1)");
  }
  if (!(options.drift_alpha > 0 && options.drift_alpha < 1)) {
    return Status::Invalid("drift_alpha: must be in (0, 1)");
  }
  if (options.domain_test_max_samples < 0) {
    return Status::Invalid("domain_test_max_samples: must be 0 (all) or positive");
  }
  if (options.drift_reference_sample_size < 0) {
    return Status::Invalid("drift_reference_sample_size: must be 0 (all) or positive");
  }
  if (options.training_shards < 0) {
    return Status::Invalid("training_shards: must be 0 (automatic) or positive");
  }
  if (options.shard_rows <= 0 || options.shard_rows % kShardRowAlignment != 0) {
    return Status::Invalid("shard_rows: must be a positive multiple of " +
                           std::to_string(kShardRowAlignment) + " (got " +
                           std::to_string(options.shard_rows) + ")");
  }
  return Status::OK();
}

// Stage 1: every split's samples joined with their outputs, and per-sample metrics.
Status JoinSplits(const store::RunStore& store, const ProcessingOptions& options, FinishState* st) {
  st->labels = store.labels();
  if (st->labels.empty()) {
    return Status::FailedPrecondition("labels: the run has no label list; call set_labels_for_run");
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SplitKey> keys, store.ListSplits());
  if (keys.empty()) return Status::FailedPrecondition("the run holds no data samples to process");
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::OutputLogInfo> logs, store.ListOutputLogs());
  st->ner = store.task() == TaskType::kNamedEntityRecognition;
  if (st->ner) {
    if (!store.tagging_schema()) {
      return Status::FailedPrecondition(
          "tagging_schema: the NER run has no tagging schema; call "
          "set_tagging_schema");
    }
    SEXTANT_ASSIGN_OR_RETURN(st->tags, ner::ParseTagList(st->labels, *store.tagging_schema()));
  }
  st->splits.resize(keys.size());
  st->span_splits.resize(st->ner ? keys.size() : 0);
  std::string missing;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (st->ner) {
      SEXTANT_RETURN_IF_ERROR(LoadNerSplit(store, keys[i], logs, options, *st->tags, &st->splits[i],
                                           &st->span_splits[i], &missing));
    } else {
      SEXTANT_RETURN_IF_ERROR(LoadSplit(store, keys[i], logs, options, &st->splits[i], &missing));
    }
  }
  if (!missing.empty()) {
    missing.pop_back();
    return Status::FailedPrecondition(
        "model outputs are missing; log them with log_model_outputs and finish again:\n" + missing);
  }
  return Status::OK();
}

// Stage 4: the domain-classifier test of each inference split against held-out data.
Status RunDomainTests(const ProcessingOptions& options, FinishState* st) {
  auto held_out = [&](Split split) -> const store::SplitResults* {
    auto it = std::find_if(st->splits.begin(), st->splits.end(), [&](const store::SplitResults& s) {
      return s.split.split == split && !s.samples.empty();
    });
    return it == st->splits.end() ? nullptr : &*it;
  };
  st->domain_reference = held_out(Split::kValidation);
  if (!st->domain_reference) st->domain_reference = held_out(Split::kTest);
  if (!options.domain_test || !st->domain_reference) return Status::OK();
  for (store::SplitResults& s : st->splits) {
    if (s.split.split != Split::kInference) continue;
    SEXTANT_ASSIGN_OR_RETURN(st->domain_tests[s.split.ToString()],
                             DomainTestSummary(*st->domain_reference, &s, options));
  }
  return Status::OK();
}

ordered_json OptionalNumber(std::optional<double> v) {
  return v ? ordered_json(*v) : ordered_json(nullptr);
}

// The verdict's inputs: the nominal rate, alpha and the reference's counts.
VerdictContext MakeVerdictContext(const ProcessingOptions& options, const DriftOutcome& drift) {
  VerdictContext verdict;
  verdict.nominal = std::round((1.0 - options.drift_percentile) * 1e9) / 1e9;
  verdict.alpha = options.drift_alpha;
  if (drift.reference) {
    verdict.reference_size = static_cast<int64_t>(drift.reference->sorted.size());
    verdict.reference_above = drift::CountAbove(*drift.reference, drift.reference->threshold);
  }
  return verdict;
}

// The summary's `parameters`: every value the results were computed with.
ordered_json RunParameters(const ProcessingOptions& options, const FinishState& st,
                           const VerdictContext& verdict) {
  const DriftOutcome& drift = st.drift;
  const ordered_json threshold =
      drift.reference ? ordered_json(drift.reference->threshold) : ordered_json(nullptr);
  const auto finished_at = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  ordered_json p = {
      {"boundary_ratio_threshold", options.boundary_ratio_threshold},
      {"drift_k", options.drift_k},
      {"drift_percentile", options.drift_percentile},
      {"distance", "cosine"},
      {"reference",
       drift.reference ? ordered_json(DriftReferenceName(drift.used)) : ordered_json(nullptr)},
      {"reference_requested", DriftReferenceName(options.drift_reference)},
      {"reference_size", verdict.reference_size},
      {"reference_population", drift.reference_population},
      {"reference_sample_size", options.drift_reference_sample_size},
      {"reference_seed", options.drift_seed},
      {"reference_cdf_error",
       drift.reference
           ? ordered_json{{"dkw_epsilon", drift::DkwEpsilon(verdict.reference_size, kDkwDelta)},
                          {"delta", kDkwDelta}}
           : ordered_json(nullptr)},
      {"reference_above_threshold", verdict.reference_above},
      {"drift_threshold", threshold},
      {"drift_thresholds",
       {{"training_loo", OptionalNumber(drift.loo_threshold)},
        {"validation", OptionalNumber(drift.validation_threshold)}}},
      {"drift_verdict",
       {{"alpha", options.drift_alpha},
        {"per_class_alpha", options.drift_alpha / static_cast<double>(st.labels.size())},
        {"interval", "Wilson score, 95%"},
        {"test",
         "one-sided exact: count above the threshold ~ BetaBinomial(n, m + 1, M - m) "
         "under no drift (M reference_size, m reference_above_threshold)"}}},
      {"domain_test",
       options.domain_test
           ? ordered_json{{"method",
                           "cross-fitted linear discriminant (Ledoit-Wolf shrinkage) "
                           "on unit-normalised embeddings; AUC of production above "
                           "reference; one-sided p-value from the Mann-Whitney null"},
                          {"reference", st.domain_reference
                                            ? ordered_json(st.domain_reference->split.ToString())
                                            : ordered_json(nullptr)},
                          {"folds", drift::DomainTestOptions{}.folds},
                          {"max_samples_per_side", options.domain_test_max_samples},
                          {"alpha", options.drift_alpha},
                          {"shift_score",
                           "per inference sample: the out-of-fold probability, with balanced "
                           "priors, that it is production; flagged above the reference rows' "
                           "drift_percentile quantile"}}
           : ordered_json(nullptr)},
      {"predictions_from", "the last logged epoch of each sample"},
      {"dep", "(1 - mean AUM over logged epochs) / 2"},
      {"finished_at", finished_at}};
  p["drift_unavailable_reason"] =
      drift.unavailable_reason ? ordered_json(*drift.unavailable_reason) : ordered_json(nullptr);
  p["map"] = st.map_parameters;
  p["nn_search"] = drift.nn_parameters;
  p["similarity_index"] =
      st.similarity ? IndexInfoJson(st.similarity->index->info()) : ordered_json(nullptr);
  p["embeddings_dtype"] = options.store_float16 ? "float16" : "float32";
  if (st.ner) {
    const DriftOutcome& span = *st.span_drift;
    p["spans"] = {
        {"decoding", options.ner_conlleval_decoding ? "conlleval" : "strict"},
        {"reference",
         span.reference ? ordered_json(DriftReferenceName(span.used)) : ordered_json(nullptr)},
        {"reference_population", span.reference_population},
        {"drift_threshold",
         span.reference ? ordered_json(span.reference->threshold) : ordered_json(nullptr)},
        {"drift_unavailable_reason",
         span.unavailable_reason ? ordered_json(*span.unavailable_reason) : ordered_json(nullptr)},
        {"map", st.span_map_parameters},
        {"nn_search", span.nn_parameters},
        {"similarity_index", st.span_similarity ? IndexInfoJson(st.span_similarity->index->info())
                                                : ordered_json(nullptr)}};
  }
  return p;
}

// Stage 6: each split's summary (stored with it) and the run summary around them:
// parameters, every split, and each inference split compared with training.
ordered_json Summarize(const store::RunStore& store, const ProcessingOptions& options,
                       FinishState* st, FinishReport* report) {
  const VerdictContext verdict = MakeVerdictContext(options, st->drift);
  const std::optional<double> threshold =
      st->drift.reference ? std::optional<double>(st->drift.reference->threshold) : std::nullopt;
  std::optional<double> span_threshold;
  if (st->ner && st->span_drift->reference) span_threshold = st->span_drift->reference->threshold;
  ordered_json run;
  run["format_version"] = kFormatVersion;
  run["task_type"] = TaskTypeName(store.task());
  run["labels"] = st->labels;
  run["parameters"] = RunParameters(options, *st, verdict);
  if (st->ner) {
    run["tagging_schema"] = TaggingSchemaName(*store.tagging_schema());
    run["entity_types"] = st->tags->entity_types;
  }
  ordered_json split_summaries = ordered_json::object();
  for (size_t i = 0; i < st->splits.size(); ++i) {
    store::SplitResults& s = st->splits[i];
    ordered_json summary = SummarizeSplit(s, st->labels, threshold);
    if (st->ner) summary["spans"] = SummarizeSpans(st->span_splits[i], *st->tags, span_threshold);
    // Splits that drift would have scored say why it was not (a small training split).
    if (s.split.split != Split::kTraining) {
      if (st->drift.unavailable_reason) {
        summary["drift_unavailable_reason"] = *st->drift.unavailable_reason;
      }
      if (st->ner && st->span_drift->unavailable_reason) {
        summary["spans"]["drift_unavailable_reason"] = *st->span_drift->unavailable_reason;
      }
    }
    if (auto it = st->domain_tests.find(s.split.ToString()); it != st->domain_tests.end()) {
      summary["domain_test"] = it->second;
    }
    if (s.split.split == Split::kInference &&
        st->performance_estimates.contains(s.split.ToString())) {
      summary["performance_estimate"] = st->performance_estimates[s.split.ToString()];
    }
    if (st->drift.reference && s.split.split != Split::kTraining) {
      const bool is_reference =
          st->drift.used == DriftReference::kValidation && s.split.split == Split::kValidation;
      summary["drift_verdict"] = DriftVerdictSummary(s, st->labels, verdict, is_reference);
    }
    s.summary_json = summary.dump();
    split_summaries[s.split.ToString()] = summary;
    report->samples += static_cast<int64_t>(s.samples.size());
    report->splits.push_back(s.split.ToString());
  }
  run["splits"] = split_summaries;
  // Class shares and confidences are compared with validation when the run has it (the model
  // is fit to training, so training's confidence is optimistic), else with training.
  auto has = [&](Split split) {
    return std::any_of(st->splits.begin(), st->splits.end(),
                       [&](const store::SplitResults& s) { return s.split.split == split; });
  };
  const char* reference = has(Split::kValidation) ? "validation" : "training";
  ordered_json comparisons = ordered_json::object();
  if (has(Split::kTraining) || has(Split::kValidation)) {
    for (const store::SplitResults& s : st->splits) {
      if (s.split.split != Split::kInference) continue;
      const std::string key = s.split.ToString();
      const ordered_json& reference_summary = Field(split_summaries, {reference});
      const ordered_json& inference_summary = Field(split_summaries, {key});
      comparisons[key] =
          CompareWithTraining(reference_summary, inference_summary, st->labels, verdict.nominal);
      comparisons[key]["reference"] = reference;
      if (st->ner) {
        comparisons[key]["spans"] = CompareSpansWithTraining(Field(reference_summary, {"spans"}),
                                                             Field(inference_summary, {"spans"}),
                                                             *st->tags, verdict.nominal);
        comparisons[key]["spans"]["against"] = reference;
        comparisons[key]["spans"]["reference"] = reference;
      }
    }
  }
  run["comparisons"] = comparisons;
  run["timeline"] = BuildTimeline(split_summaries, st->splits, st->labels, st->set_times);
  return run;
}

// The caller's progress callback, called by one thread at a time: the map
// reports from its own thread while the other stages report from the caller's.
class SerializedProgress {
 public:
  explicit SerializedProgress(const ProcessingOptions& options)
      : callback_(options.progress), user_(options.progress_user), options_(options) {
    if (callback_ != nullptr) {
      options_.progress = &SerializedProgress::Call;
      options_.progress_user = this;
    }
  }
  const ProcessingOptions& options() const { return options_; }

 private:
  static void Call(const char* stage, int64_t done, int64_t total, void* self) {
    auto* p = static_cast<SerializedProgress*>(self);
    std::lock_guard lock(p->mu_);
    p->callback_(stage, done, total, p->user_);
  }
  void (*callback_)(const char*, int64_t, int64_t, void*);
  void* user_;
  ProcessingOptions options_;
  std::mutex mu_;
};

// The run's 2-D maps (of the rows, and of an NER run's span rows): on a thread
// of their own when `concurrent`, else when Wait is called. They write only
// each split's `map`, the map parameters and models, which no other stage
// reads before the summaries; the store is read only through `previous` (the
// earlier map's files), and no other stage reads it meanwhile.
class MapStage {
 public:
  MapStage(const ProcessingOptions& options, FinishState* st, const PreviousResults& previous,
           int32_t threads, bool concurrent)
      : options_(options),
        st_(st),
        previous_(previous),
        threads_(threads),
        concurrent_(concurrent) {
    if (concurrent_) thread_ = std::thread([this] { status_ = Compute(); });
  }
  // Joins first: the thread reads the finish's state.
  ~MapStage() {
    if (thread_.joinable()) thread_.join();
  }
  MapStage(const MapStage&) = delete;
  MapStage& operator=(const MapStage&) = delete;

  bool concurrent() const { return concurrent_; }
  // The maps' outcome, computing them now when they were not running beside.
  // Called once.
  Status Wait() {
    if (concurrent_) {
      thread_.join();
    } else {
      status_ = Compute();
    }
    return status_;
  }
  double seconds() const { return seconds_; }
  double span_seconds() const { return span_seconds_; }

 private:
  Status Compute() {
    // OpenMP's thread count is per thread (OpenBLAS's, process-wide, is already set).
    if (concurrent_) index::SetSearchThreads(threads_);
    auto t = Clock::now();
    SEXTANT_ASSIGN_OR_RETURN(st_->map_parameters,
                             ComputeRunMap(options_, &st_->splits, st_->shards.get(), "rows",
                                           previous_, &st_->map_model));
    seconds_ = std::chrono::duration<double>(Clock::now() - t).count();
    if (st_->ner) {
      t = Clock::now();
      SEXTANT_ASSIGN_OR_RETURN(st_->span_map_parameters,
                               ComputeRunMap(options_, &st_->span_splits, st_->shards.get(),
                                             "span-rows", previous_, &st_->span_map_model));
      span_seconds_ = std::chrono::duration<double>(Clock::now() - t).count();
    }
    return Status::OK();
  }

  const ProcessingOptions& options_;
  FinishState* st_;
  const PreviousResults previous_;
  const int32_t threads_;
  const bool concurrent_;
  std::thread thread_;
  Status status_ = Status::OK();
  double seconds_ = 0, span_seconds_ = 0;
};

}  // namespace

// The stages in order; each is timed into the report.
Result<FinishReport> ProcessRun(store::RunStore& store, const ProcessingOptions& caller_options,
                                const StageCallback& on_stage) {
  const auto start = Clock::now();
  const SerializedProgress progress(caller_options);
  const ProcessingOptions& options = progress.options();
  FinishReport report;
  StageTimer timer(&report, on_stage);
  SEXTANT_RETURN_IF_ERROR(CheckOptions(options));
  // OpenMP at `threads` and OpenBLAS on the calling thread for the whole
  // finish, the caller's counts (e.g. PyTorch's) restored when it returns.
  // OpenBLAS partitions a product by its thread count, which moves the last
  // bits of some results, and its count is process-wide: the index code drops
  // it to one inside its parallel sections (OneThreadBlas), which would change
  // a product running at that moment on the map's thread. At one throughout,
  // a finish's results depend on `threads` only: not on its caller, on the
  // stages running side by side or not, or on a shard executor (the tasks
  // carry the counts).
  const int32_t threads =
      options.threads > 0 ? options.threads
                          : static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  const index::ScopedThreadCounts thread_counts(threads, 1);
  FinishState st;
  if (options.executor != nullptr) {
    SEXTANT_ASSIGN_OR_RETURN(st.shards, ShardWorkspace::Open(options.executor));
  }
  SEXTANT_RETURN_IF_ERROR(JoinSplits(store, options, &st));
  SEXTANT_ASSIGN_OR_RETURN(st.set_times, store.InferenceTimes());
  timer.Done("join outputs and per-sample metrics");

  // The 2-D map of every split together (docs/algorithms.md): beside the
  // stages up to the summaries, or first and alone (a finish with an executor:
  // its workspace serves one stage at a time). Incremental when the committed
  // results hold a map of the same earlier splits; a generation that cannot be
  // read only means a full map.
  PreviousResults previous;
  if (Result<int64_t> gen = store.CommittedGeneration(); gen.ok()) previous = {&store, *gen};
  MapStage maps(options, &st, previous, threads, options.concurrent_stages && st.shards == nullptr);
  auto wait_for_maps = [&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(maps.Wait());
    if (maps.concurrent()) timer.Done("waiting for the 2-D map");
    timer.DoneBeside("2-D map", maps.seconds());
    if (st.ner) timer.DoneBeside("2-D map of span rows", maps.span_seconds());
    timer.Restart();
    return Status::OK();
  };
  if (!maps.concurrent()) SEXTANT_RETURN_IF_ERROR(wait_for_maps());

  // Drift against the training embeddings, when the run has training data.
  SEXTANT_ASSIGN_OR_RETURN(
      st.drift, ScoreDrift(options, "", "samples", timer, st.splits, st.shards.get(), "rows"));
  if (st.ner) {
    SEXTANT_ASSIGN_OR_RETURN(st.span_drift,
                             ScoreDrift(options, "spans: ", "span rows", timer, st.span_splits,
                                        st.shards.get(), "span-rows"));
  }

  SEXTANT_RETURN_IF_ERROR(RunDomainTests(options, &st));
  if (options.domain_test && st.domain_reference) timer.Done("domain-classifier test");

  // The label-free accuracy estimate of each inference set (docs/performance-estimation.md);
  // sample-level classes only: NER's span F1 is not estimated (a null with the reason).
  if (!st.ner) {
    SEXTANT_ASSIGN_OR_RETURN(st.performance_estimates,
                             EstimatePerformance(st.splits, st.labels, options));
    timer.Done("performance estimate");
  } else {
    for (const store::SplitResults& s : st.splits) {
      if (s.split.split != Split::kInference) continue;
      st.performance_estimates[s.split.ToString()] =
          NullPerformanceEstimate("NER runs: span F1 is not estimated without labels yet");
    }
  }

  // The similarity index of every split, stored with the results.
  if (options.build_similarity_index) {
    SEXTANT_ASSIGN_OR_RETURN(
        st.similarity, BuildSimilarityIndex(st.splits, st.shards.get(), "rows", options.shard_rows,
                                            st.drift.training_cells));
    timer.Done("similarity index");
    if (st.ner) {
      SEXTANT_ASSIGN_OR_RETURN(
          st.span_similarity,
          BuildSimilarityIndex(
              st.span_splits, st.shards.get(), "span-rows", options.shard_rows,
              st.span_drift ? st.span_drift->training_cells : std::vector<float>()));
      timer.Done("similarity index of span rows");
    }
  }

  if (maps.concurrent()) SEXTANT_RETURN_IF_ERROR(wait_for_maps());
  const ordered_json run = Summarize(store, options, &st, &report);
  timer.Done("summaries");

  store::CommitOptions commit;
  commit.embeddings_float16 = options.store_float16;
  if (st.similarity) AddSimilarityFiles(*st.similarity, &commit);
  if (st.span_similarity) AddSimilarityFiles(*st.span_similarity, &commit, "span_similarity");
  if (st.map_model) AddMapModelFiles(*st.map_model, &commit);
  if (st.span_map_model) AddMapModelFiles(*st.span_map_model, &commit);
  SEXTANT_RETURN_IF_ERROR(store.CommitResults(st.splits, run.dump(), commit, st.span_splits));
  timer.Done("commit results");
  // Alert rules over the run's timeline (docs/alerts.md): after the commit, and
  // never failing it; what happened goes into the report's message.
  if (auto timeline = run.find("timeline"); timeline != run.end() && timeline->is_object()) {
    const std::string said =
        alerts::EvaluateAfterFinish(store.dir(), nlohmann::json(*timeline)).Message();
    if (!said.empty()) report.message += (report.message.empty() ? "" : "\n") + said;
  }
  if (st.shards) {
    report.shard_tasks = st.shards->tasks();
    report.shard_bytes_written = st.shards->bytes_written();
    report.shard_bytes_received = st.shards->bytes_received();
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace sextant::processing
