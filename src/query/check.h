// `sextant check` and `sextant repair` (docs/format.md, "Checking and
// repairing a store"): verify every stored file and table of a run, and
// salvage what can be salvaged, saying exactly what was dropped.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sextant/status.h"

namespace sextant {

struct RunCheck {
  std::string project, run;
  std::filesystem::path dir;
  // Each names the file or table and what is wrong; empty when the run is sound.
  std::vector<std::string> problems;
  // Not damage: data older versions wrote without checksums, leftovers.
  std::vector<std::string> notes;
  bool ok() const { return problems.empty(); }
};

// Checks one run: the database (integrity_check, schema, meta, labels, stored
// JSON, label indices), the output logs (lengths, checksums, sample rows,
// finite values) and the committed results (folder present, every file's
// checksum, array shapes, summaries). Never fails: problems are the result.
RunCheck CheckRun(const std::filesystem::path& run_dir);

// Every run under `root`, or those of one project, or one run. NotFound when
// a named project or run does not exist.
Result<std::vector<RunCheck>> CheckStore(const std::filesystem::path& root,
                                         const std::optional<std::string>& project,
                                         const std::optional<std::string>& run);

struct RepairReport {
  std::vector<std::string> dropped;      // what was removed or changed, exactly
  std::vector<std::string> unrepaired;   // problems repair leaves (needs the user)
};

// Conservative repairs under the run's writer lock: output logs are cut back
// to their last valid committed batch; results of a damaged generation are
// dropped (the run can be finished again); unreadable sample metadata becomes
// {}; leftover folders and files are removed; a database without tables from
// an interrupted creation is moved aside when the run holds nothing else.
// Samples are never dropped (rows would shift): bad labels or tokens are
// reported in `unrepaired`.
Result<RepairReport> RepairRun(const std::filesystem::path& run_dir);

}  // namespace sextant
