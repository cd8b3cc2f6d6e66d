// A finish that fails mid-write, for the tests of readers and of repair: a
// results generation of `rows` training samples whose arrays are written before
// a run-level file fails with "No space left on device", so no commit happens.
#pragma once

#include <filesystem>

#include "store/run_store.h"

namespace sextant::testing {

inline Status CommitThatFailsMidWrite(const std::filesystem::path& run_dir, int64_t rows) {
  SEXTANT_ASSIGN_OR_RETURN(auto store,
                           store::RunStore::Open(run_dir, store::RunStore::Mode::kWrite));
  store::SplitResults s;
  s.split = SplitKey::Make(Split::kTraining, "").value();
  s.samples.resize(static_cast<size_t>(rows));
  s.emb_dim = 1;
  s.embeddings.assign(static_cast<size_t>(rows), 0.5f);
  s.num_labels = 2;
  s.probs.assign(static_cast<size_t>(2 * rows), 0.5f);
  store::CommitOptions options;
  options.files.push_back({"similarity.faiss", [](const std::filesystem::path&) {
                             return Status::IOError("No space left on device");
                           }});
  return store->CommitResults({s}, "{}", options);
}

}  // namespace sextant::testing
