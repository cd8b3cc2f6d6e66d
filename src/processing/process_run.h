// Processing at finish: joins samples with their outputs and computes every
// per-sample and per-split result of a run, then commits them atomically.
#pragma once

#include <functional>
#include <string>

#include "sextant/client.h"
#include "sextant/processing_options.h"
#include "store/run_store.h"

namespace sextant::processing {

// Reads the logged samples and outputs of every split of `store`, computes the
// results and commits them. On failure nothing is committed and the previous
// results (if any) stay; the run can be processed again once the cause is fixed.
// `on_stage`, when given, is called after each stage with its name (a team
// server's job status shows it).
using StageCallback = std::function<void(const std::string& stage_done)>;
Result<FinishReport> ProcessRun(store::RunStore& store, const ProcessingOptions& options,
                                const StageCallback& on_stage = {});

}  // namespace sextant::processing
