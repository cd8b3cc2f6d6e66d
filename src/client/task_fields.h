// The task-specific fields of logged samples: NLI pairs and NER tokens and
// gold spans (docs/ner-nli.md), validated with errors that name the field,
// the sample id and what was expected.
#pragma once

#include <vector>

#include "ner/tags.h"
#include "sextant/client.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "store/run_store.h"

namespace sextant::client {

// Fills each record's text (and premise and hypothesis, tokens and gold
// spans) from the batch. `tags` is the run's parsed tag list (NER only).
Status ResolveTaskFields(TaskType task, const SplitKey& key, const DataBatch& batch,
                         const ner::TagSet* tags, std::vector<store::SampleRecord>* records);

}  // namespace sextant::client
