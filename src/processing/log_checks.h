// Checks of what a finish reads from the database before it indexes arrays with it.
#pragma once

#include <cstdint>
#include <string>

#include "sextant/status.h"
#include "store/run_store.h"

namespace sextant::processing {

// A log's widths come from the database (output_logs): its out_dim must be the
// run's number of labels and its emb_dim that of the split's other logs
// (`emb_dim`, 0 when this is the first).
inline Status CheckLogWidths(const store::OutputLogInfo& info, const SplitKey& key, int64_t labels,
                             int64_t emb_dim) {
  if (info.out_dim == labels && (emb_dim == 0 || info.emb_dim == emb_dim)) return Status::OK();
  return Status::IOError(
      "sextant.db table output_logs: the log of split '" + key.ToString() + "' epoch " +
      std::to_string(info.epoch) + " has out_dim " + std::to_string(info.out_dim) +
      " and emb_dim " + std::to_string(info.emb_dim) + "; expected out_dim " +
      std::to_string(labels) + " (the run's labels) and the emb_dim of the split's other logs");
}

}  // namespace sextant::processing
