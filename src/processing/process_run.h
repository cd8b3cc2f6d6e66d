// Processing at finish: joins samples with their outputs and computes every
// per-sample and per-split result of a run, then commits them atomically.
#pragma once

#include "sextant/client.h"
#include "sextant/processing_options.h"
#include "store/run_store.h"

namespace sextant::processing {

// Reads the logged samples and outputs of every split of `store`, computes the
// results and commits them. On failure nothing is committed and the previous
// results (if any) stay; the run can be processed again once the cause is fixed.
Result<FinishReport> ProcessRun(store::RunStore& store, const ProcessingOptions& options);

}  // namespace sextant::processing
