#include "processing/ner_results.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ner/spans.h"
#include "processing/log_checks.h"
#include "processing/sample_metrics.h"
#include "processing/summary.h"

namespace sextant::processing {
namespace {

using ordered_json = nlohmann::ordered_json;

// Per token of a split: the last epoch's outputs and the metrics derived from them.
struct TokenTable {
  std::vector<int64_t> first;     // per sample: index of its first token; one extra at the end
  std::vector<float> probs;       // tokens x C
  std::vector<float> embeddings;  // tokens x D
  std::vector<SampleMetrics> metrics;
  std::vector<std::optional<double>> aum;  // labeled splits: mean over epochs
  std::vector<int32_t> epoch;              // per sample
};

std::vector<float> MeanRows(const std::vector<float>& rows, int64_t dim, int64_t begin,
                            int64_t end) {
  std::vector<float> mean(static_cast<size_t>(dim), 0.0f);
  for (int64_t t = begin; t < end; ++t) {
    const float* e = rows.data() + t * dim;
    for (int64_t d = 0; d < dim; ++d) mean[d] += e[d];
  }
  const float scale = end > begin ? 1.0f / static_cast<float>(end - begin) : 0.0f;
  for (float& v : mean) v *= scale;
  return mean;
}

}  // namespace

Status LoadNerSplit(const store::RunStore& store, const SplitKey& key,
                    const std::vector<store::OutputLogInfo>& logs, const ProcessingOptions& options,
                    const ner::TagSet& tags, store::SplitResults* samples_out,
                    store::SplitResults* spans_out, std::string* missing) {
  const auto c = static_cast<int64_t>(store.labels().size());
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SampleRecord> records, store.ReadSamples(key));
  const auto n = static_cast<int64_t>(records.size());
  const bool labeled = IsLabeled(key.split);

  TokenTable t;
  t.first.assign(static_cast<size_t>(n + 1), 0);
  for (int64_t i = 0; i < n; ++i)
    t.first[i + 1] = t.first[i] + static_cast<int64_t>(records[i].tokens.size());
  const int64_t num_tokens = t.first[n];

  // Gold tag per token (labeled splits): the gold spans encoded in the schema.
  std::vector<int32_t> gold_tag;
  std::vector<std::vector<ner::LabeledSpan>> gold_spans(static_cast<size_t>(n));
  std::vector<std::vector<ner::TokenSpan>> gold_token_spans(static_cast<size_t>(n));
  if (labeled) {
    gold_tag.assign(static_cast<size_t>(num_tokens), tags.outside);
    for (int64_t i = 0; i < n; ++i) {
      for (const GoldSpan& g : records[i].gold_spans) {
        auto type = std::find(tags.entity_types.begin(), tags.entity_types.end(), g.label);
        if (type == tags.entity_types.end()) {
          return Status::Invalid("gold_spans: sample id '" + records[i].id + "' has label '" +
                                 g.label + "', which no tag of the run carries");
        }
        const auto type_index = static_cast<int32_t>(type - tags.entity_types.begin());
        SEXTANT_ASSIGN_OR_RETURN(
            ner::TokenSpan ts,
            ner::CharToTokenSpan(records[i].tokens, {g.start, g.end}, type_index));
        gold_token_spans[i].push_back(ts);
        gold_spans[i].push_back({{g.start, g.end}, type_index});
      }
      SEXTANT_ASSIGN_OR_RETURN(std::vector<int32_t> encoded,
                               ner::EncodeSpans(tags, gold_token_spans[i],
                                                static_cast<int32_t>(records[i].tokens.size())));
      std::copy(encoded.begin(), encoded.end(), gold_tag.begin() + t.first[i]);
    }
  }

  // The last logged epoch of each sample gives its tokens' outputs; AUM is averaged over epochs.
  int64_t emb_dim = 0;
  t.epoch.assign(static_cast<size_t>(n), -1);
  t.probs.assign(static_cast<size_t>(num_tokens * c), 0.0f);
  std::vector<double> aum_sum(labeled ? static_cast<size_t>(num_tokens) : 0, 0.0);
  std::vector<int32_t> aum_count(labeled ? static_cast<size_t>(n) : 0, 0);
  std::vector<float> p(static_cast<size_t>(c));
  for (const store::OutputLogInfo& info : logs) {
    if (info.split != key) continue;
    SEXTANT_ASSIGN_OR_RETURN(store::OutputLog log, store.ReadOutputLog(key, info.epoch));
    // Widths come from the database: checked before they index the arrays below.
    SEXTANT_RETURN_IF_ERROR(CheckLogWidths(info, key, c, emb_dim));
    if (emb_dim == 0) {
      emb_dim = info.emb_dim;
      t.embeddings.assign(static_cast<size_t>(num_tokens * emb_dim), 0.0f);
    }
    int64_t current = -1, position = 0;
    for (int64_t i = 0; i < info.rows; ++i) {
      const int64_t row = log.sample_rows[i];
      // A sample's token rows are consecutive in a log (one call logs them all).
      if (row != current) {
        current = row;
        position = 0;
        if (labeled) aum_count[row]++;
      }
      const int64_t token = t.first[row] + position++;
      if (token >= t.first[row + 1]) {
        return Status::Internal("output log of split '" + key.ToString() + "' epoch " +
                                std::to_string(info.epoch) + " has more token rows for sample '" +
                                records[row].id + "' than its logged tokens");
      }
      const float* o = log.outputs.data() + i * info.out_dim;
      if (info.kind == OutputKind::kLogits) {
        Softmax(o, c, p.data());
      } else {
        std::copy(o, o + c, p.begin());
      }
      if (info.epoch >= t.epoch[row]) {
        if (position == 1) t.epoch[row] = info.epoch;
        std::copy(p.begin(), p.end(), t.probs.begin() + token * c);
        std::copy(log.embeddings.begin() + i * emb_dim, log.embeddings.begin() + (i + 1) * emb_dim,
                  t.embeddings.begin() + token * emb_dim);
      }
      if (labeled) aum_sum[token] += Aum(p.data(), c, gold_tag[token]);
    }
  }

  int64_t num_missing = 0;
  std::string list;
  for (int64_t row = 0; row < n; ++row) {
    if (t.epoch[row] >= 0) continue;
    if (num_missing++ < 5) list += (list.empty() ? "'" : ", '") + records[row].id + "'";
  }
  if (num_missing > 0) {
    *missing += "split '" + key.ToString() + "': " + std::to_string(num_missing) + " of " +
                std::to_string(n) + " samples have no model outputs (first ids: " + list + ")\n";
    return Status::OK();
  }

  t.metrics.resize(static_cast<size_t>(num_tokens));
  t.aum.resize(static_cast<size_t>(num_tokens));
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t token = t.first[row]; token < t.first[row + 1]; ++token) {
      t.metrics[token] =
          ComputeSampleMetrics(t.probs.data() + token * c, c, options.boundary_ratio_threshold);
      if (labeled) t.aum[token] = aum_sum[token] / aum_count[row];
    }
  }

  // Sample level: the mean token embedding; metrics of the least confident token.
  samples_out->split = key;
  samples_out->num_labels = c;
  samples_out->emb_dim = emb_dim;
  samples_out->samples.assign(static_cast<size_t>(n), {});
  samples_out->embeddings.assign(static_cast<size_t>(n * emb_dim), 0.0f);
  samples_out->probs.assign(static_cast<size_t>(n * c), 0.0f);
  for (int64_t row = 0; row < n; ++row) {
    const int64_t begin = t.first[row], end = t.first[row + 1];
    int64_t weakest = begin;
    for (int64_t token = begin; token < end; ++token) {
      if (t.metrics[token].confidence < t.metrics[weakest].confidence) weakest = token;
    }
    std::vector<float> mean = MeanRows(t.embeddings, emb_dim, begin, end);
    std::copy(mean.begin(), mean.end(), samples_out->embeddings.begin() + row * emb_dim);
    std::copy(t.probs.begin() + weakest * c, t.probs.begin() + (weakest + 1) * c,
              samples_out->probs.begin() + row * c);
    store::SampleResult& r = samples_out->samples[row];
    CopyMetrics(t.metrics[weakest], &r);
    r.epoch = t.epoch[row];
    if (labeled) {
      double min_aum = 1.0;
      for (int64_t token = begin; token < end; ++token) min_aum = std::min(min_aum, *t.aum[token]);
      r.aum = min_aum;
      r.dep = (1.0 - min_aum) / 2.0;
    }
  }

  // Span level: decode, match, and aggregate each span row's tokens.
  spans_out->split = key;
  spans_out->num_labels = 0;
  spans_out->emb_dim = emb_dim;
  const ner::DecodeMode mode =
      options.ner_conlleval_decoding ? ner::DecodeMode::kConlleval : ner::DecodeMode::kStrict;
  std::vector<int32_t> pred_tags;
  for (int64_t row = 0; row < n; ++row) {
    // The sentence's fields (docs/ner-nli.md): its span errors, predicted spans, and the
    // weakest predicted span's weakest token, whose outputs become the sentence's.
    int32_t span_errors = 0, pred_count = 0;
    int64_t weakest_span_token = -1;
    const std::vector<CharRange>& tokens = records[row].tokens;
    const int64_t begin = t.first[row];
    const auto count = static_cast<int32_t>(tokens.size());
    pred_tags.resize(static_cast<size_t>(count));
    for (int32_t k = 0; k < count; ++k) pred_tags[k] = t.metrics[begin + k].pred;
    std::vector<ner::TokenSpan> pred_token_spans =
        ner::DecodeTags(tags, pred_tags.data(), count, mode);
    std::vector<ner::LabeledSpan> pred_spans;
    for (const ner::TokenSpan& ts : pred_token_spans) {
      pred_spans.push_back({ner::TokenToCharSpan(tokens, ts), ts.type});
    }
    for (const ner::SpanRow& m : ner::MatchSpans(gold_spans[row], pred_spans)) {
      store::SpanRecord rec;
      rec.sample_row = row;
      const ner::TokenSpan& ts =
          m.pred ? pred_token_spans[*m.pred] : gold_token_spans[row][*m.gold];
      rec.range = m.pred ? pred_spans[*m.pred].range : gold_spans[row][*m.gold].range;
      rec.token_begin = ts.begin;
      rec.token_end = ts.end;
      if (m.gold) rec.gold = gold_spans[row][*m.gold].type;
      if (m.pred) rec.pred = pred_spans[*m.pred].type;
      if (labeled) rec.error_type = std::string(ner::SpanErrorName(m.error));

      store::SampleResult r;
      r.pred = rec.pred.value_or(-1);
      r.gold = rec.gold;
      r.epoch = t.epoch[row];
      r.confidence = std::numeric_limits<float>::max();
      double entropy = 0;
      std::optional<double> max_dep;
      if (labeled && m.error != ner::SpanError::kNone) span_errors++;
      if (m.pred) pred_count++;
      for (int64_t token = begin + ts.begin; token < begin + ts.end; ++token) {
        const SampleMetrics& tm = t.metrics[token];
        if (m.pred &&
            (weakest_span_token < 0 || tm.confidence < t.metrics[weakest_span_token].confidence)) {
          weakest_span_token = token;
        }
        r.confidence = std::min(r.confidence, tm.confidence);
        r.margin = token == begin + ts.begin ? tm.margin : std::min(r.margin, tm.margin);
        r.certainty_ratio = std::max(r.certainty_ratio, tm.certainty_ratio);
        entropy += tm.entropy;
        if (labeled) {
          const double dep = (1.0 - *t.aum[token]) / 2.0;
          max_dep = max_dep ? std::max(*max_dep, dep) : dep;
        }
      }
      r.entropy = static_cast<float>(entropy / std::max(1, ts.end - ts.begin));
      r.on_boundary = r.certainty_ratio >= options.boundary_ratio_threshold;
      if (max_dep) {
        r.dep = *max_dep;
        r.aum = 1.0 - 2.0 * *max_dep;
      }
      std::vector<float> mean = MeanRows(t.embeddings, emb_dim, begin + ts.begin, begin + ts.end);
      spans_out->embeddings.insert(spans_out->embeddings.end(), mean.begin(), mean.end());
      spans_out->samples.push_back(r);
      spans_out->spans.push_back(std::move(rec));
    }
    // A sentence with predicted spans takes its weakest span's weakest token; one without,
    // its weakest token predicted O (else its weakest token): pred, confidence and probs
    // then describe what the sentence predicts, not an O token beside three wrong spans.
    store::SampleResult& sentence = samples_out->samples[row];
    sentence.pred_spans_count = pred_count;
    if (labeled) sentence.span_errors = span_errors;
    int64_t chosen = weakest_span_token;
    if (chosen >= 0) {
      sentence.min_span_confidence = t.metrics[chosen].confidence;
    } else {
      for (int64_t token = begin; token < begin + count; ++token) {
        const bool outside = t.metrics[token].pred == tags.outside;
        const bool chosen_outside = chosen >= 0 && t.metrics[chosen].pred == tags.outside;
        if (chosen < 0 || (outside && !chosen_outside) ||
            (outside == chosen_outside &&
             t.metrics[token].confidence < t.metrics[chosen].confidence)) {
          chosen = token;
        }
      }
    }
    if (chosen >= 0) {
      CopyMetrics(t.metrics[chosen], &sentence);
      std::copy(t.probs.begin() + chosen * c, t.probs.begin() + (chosen + 1) * c,
                samples_out->probs.begin() + row * c);
    }
  }
  return Status::OK();
}

ordered_json SummarizeSpans(const store::SplitResults& spans, const ner::TagSet& tags,
                            std::optional<double> drift_threshold) {
  const auto types = static_cast<int64_t>(tags.entity_types.size());
  const bool labeled = IsLabeled(spans.split.split);
  const auto rows = static_cast<int64_t>(spans.samples.size());
  std::vector<ner::SpanCounts> counts(static_cast<size_t>(types));
  ner::SpanCounts overall;
  std::vector<double> confidence_sum(types, 0);
  int64_t on_boundary = 0, drifted = 0, scored = 0;
  ordered_json errors = {
      {"none", 0}, {"wrong_tag", 0}, {"span_shift", 0}, {"missed_label", 0}, {"ghost_span", 0}};
  for (int64_t i = 0; i < rows; ++i) {
    const store::SpanRecord& s = spans.spans[i];
    const store::SampleResult& r = spans.samples[i];
    // Exact match of start, end and type: a row with both spans and one label.
    if (s.gold) counts[*s.gold].gold++, overall.gold++;
    if (s.pred) {
      counts[*s.pred].pred++, overall.pred++;
      confidence_sum[*s.pred] += r.confidence;
    }
    if (s.gold && s.pred && *s.gold == *s.pred) counts[*s.gold].correct++, overall.correct++;
    if (!s.error_type.empty()) errors[s.error_type] = errors[s.error_type].get<int64_t>() + 1;
    if (r.on_boundary) on_boundary++;
    if (r.drifted) {
      scored++;
      if (*r.drifted) drifted++;
    }
  }
  auto prf = [](const ner::SpanCounts& c) {
    const ner::Prf m = ner::Score(c);
    return ordered_json{{"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1}};
  };
  const int64_t pred_total = overall.pred;
  ordered_json out;
  out["span_rows"] = rows;
  out["pred_spans"] = pred_total;
  ordered_json share = ordered_json::object(), confidence = ordered_json::object();
  for (int64_t k = 0; k < types; ++k) {
    const int64_t pred = counts[k].pred;
    share[tags.entity_types[k]] = {
        {"count", pred},
        {"fraction", pred_total > 0 ? static_cast<double>(pred) / pred_total : 0.0}};
    confidence[tags.entity_types[k]] =
        pred > 0 ? ordered_json(confidence_sum[k] / pred) : ordered_json(nullptr);
  }
  out["pred_span_distribution"] = share;
  out["mean_span_confidence_per_type"] = confidence;
  out["on_the_boundary"] = {{"count", on_boundary},
                            {"fraction", rows > 0 ? static_cast<double>(on_boundary) / rows : 0.0}};
  if (labeled) {
    ordered_json per_class = ordered_json::object();
    for (int64_t k = 0; k < types; ++k) {
      ordered_json m = prf(counts[k]);
      m["support"] = counts[k].gold;
      per_class[tags.entity_types[k]] = m;
    }
    const ordered_json scores = prf(overall);
    for (auto& [k, v] : scores.items()) out[k] = v;
    out["gold"] = overall.gold;
    out["pred"] = overall.pred;
    out["correct"] = overall.correct;
    out["per_class"] = per_class;
    out["error_types"] = errors;
  }
  if (scored > 0) {
    const char* name =
        spans.split.split == Split::kInference ? "span_drift" : "span_out_of_coverage";
    out[name] = {
        {"count", drifted},
        {"fraction", static_cast<double>(drifted) / scored},
        {"threshold", drift_threshold ? ordered_json(*drift_threshold) : ordered_json(nullptr)}};
  }
  return out;
}

ordered_json CompareSpansWithTraining(const ordered_json& training, const ordered_json& inference,
                                      const ner::TagSet& tags, double nominal_drift_rate) {
  // The shape of the class comparison (summary.h), per entity type.
  auto number = [](const ordered_json& v) { return v.is_number() ? v : ordered_json(nullptr); };
  auto change = [](const ordered_json& a, const ordered_json& b) {
    return a.is_number() && b.is_number() ? ordered_json(b.get<double>() - a.get<double>())
                                          : ordered_json(nullptr);
  };
  ordered_json types = ordered_json::array();
  for (const std::string& type : tags.entity_types) {
    ordered_json row;
    row["type"] = type;
    row["training_pred_fraction"] =
        number(Field(training, {"pred_span_distribution", type, "fraction"}));
    row["inference_pred_fraction"] =
        number(Field(inference, {"pred_span_distribution", type, "fraction"}));
    row["pred_fraction_change"] =
        change(row["training_pred_fraction"], row["inference_pred_fraction"]);
    row["training_mean_confidence"] =
        number(Field(training, {"mean_span_confidence_per_type", type}));
    row["inference_mean_confidence"] =
        number(Field(inference, {"mean_span_confidence_per_type", type}));
    row["mean_confidence_change"] =
        change(row["training_mean_confidence"], row["inference_mean_confidence"]);
    types.push_back(row);
  }
  ordered_json out;
  out["against"] = "training";
  out["types"] = types;
  out["span_rows"] = {{"training", training.value("span_rows", 0)},
                      {"inference", inference.value("span_rows", 0)}};
  ordered_json drifted = {{"nominal", nominal_drift_rate},
                          {"inference", Field(inference, {"span_drift", "fraction"})}};
  drifted["change"] = change(ordered_json(nominal_drift_rate), drifted["inference"]);
  out["drifted_fraction"] = drifted;
  ordered_json boundary = {{"training", Field(training, {"on_the_boundary", "fraction"})},
                           {"inference", Field(inference, {"on_the_boundary", "fraction"})}};
  boundary["change"] = change(boundary["training"], boundary["inference"]);
  out["on_the_boundary_fraction"] = boundary;
  return out;
}

}  // namespace sextant::processing
