// NER processing (docs/ner-nli.md): token outputs become sample-level results
// (mean token embedding, least confident token) and span rows (gold and
// predicted spans matched by boundaries) with their own embeddings.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ner/tags.h"
#include "sextant/processing_options.h"
#include "sextant/status.h"
#include "store/run_store.h"

namespace sextant::processing {

// Joins one split's samples with its token outputs. Fills `samples` (one row
// per sample) and `spans` (one row per span row; pred and gold are entity
// type indices). Samples without outputs are reported in `missing`, as for
// text classification.
Status LoadNerSplit(const store::RunStore& store, const SplitKey& key,
                    const std::vector<store::OutputLogInfo>& logs, const ProcessingOptions& options,
                    const ner::TagSet& tags, store::SplitResults* samples,
                    store::SplitResults* spans, std::string* missing);

// The summary's "spans" block of one split: span P/R/F1 per type and overall
// (labeled splits), error types, predicted type shares, confidence per type,
// boundary and drift fractions.
nlohmann::ordered_json SummarizeSpans(const store::SplitResults& spans, const ner::TagSet& tags,
                                      std::optional<double> drift_threshold);

// An inference set's span block next to training's.
nlohmann::ordered_json CompareSpansWithTraining(const nlohmann::ordered_json& training,
                                                const nlohmann::ordered_json& inference,
                                                const ner::TagSet& tags, double nominal_drift_rate);

}  // namespace sextant::processing
