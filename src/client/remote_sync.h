// The client's side of the upload protocol (docs/team-server.md#uploads),
// over a run store the caller holds open for writing.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "sextant/remote.h"
#include "store/run_store.h"

namespace sextant::client {

// An existing run under the root, opened for writing (NotFound naming the
// root when there is none; FailedPrecondition while a client holds it).
Result<std::unique_ptr<store::RunStore>> OpenExistingRun(const std::filesystem::path& root,
                                                         const std::string& project,
                                                         const std::string& run);

// Uploads what `local` logged since its last upload (or resumes the upload
// begun), one upload at a time until nothing is left.
Result<SyncReport> SyncStore(store::RunStore& local, const std::string& project,
                             const std::string& run, const RemoteConfig& remote,
                             const ProgressCallback& progress);

}  // namespace sextant::client
