// The registration functions of sextant._core, one per public header.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "sextant/remote.h"
#include "sextant/shards.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::python {

void RegisterStatus(pybind11::module_& m);   // exceptions (status.h)
void RegisterTypes(pybind11::module_& m);    // ProcessingOptions (processing_options.h)
void RegisterClient(pybind11::module_& m);   // Client (client.h)
void RegisterResults(pybind11::module_& m);  // RunReader, ListRuns (results.h)
void RegisterRemote(pybind11::module_& m);   // login, sync, jobs of a team server (remote.h)
void RegisterAlerts(pybind11::module_& m);   // a project's alert rules and states (alerts/store.h)
void RegisterLabels(pybind11::module_& m);   // imported labels (store/imported_labels.h)
void RegisterSuggest(pybind11::module_& m);  // label suggestions (suggest.h)
void RegisterShards(pybind11::module_& m);   // shard tasks and executors (shards.h)

// Team-server values as Python objects, and a Python callable as a progress
// callback callable without the GIL (register_remote.cc).
pybind11::object JobStatusToPython(const JobStatus& job);
pybind11::dict SyncReportToPython(const SyncReport& report);
ProgressCallback ProgressFromPython(const pybind11::object& fn);

// The C++ executor of a Python ShardExecutor object (None: nullptr); raises
// InvalidArgumentError for any other object. The caller keeps `executor` alive.
ShardExecutor* ShardExecutorFromPython(const pybind11::object& executor);

// Raises the Python exception of the status' code with its message; returns
// when the status is OK. Call with the GIL held.
void ThrowIfError(const Status& status);

// "training", "validation", "test" or "inference" (with its name) as a SplitKey;
// InvalidArgumentError naming `split` / `inference_name` otherwise.
SplitKey SplitKeyOrThrow(const std::string& split, const std::string& inference_name);

template <typename T>
T ValueOrThrow(Result<T>&& result) {
  if (!result.ok()) ThrowIfError(result.status());
  return std::move(result).value();
}

}  // namespace sextant::python
