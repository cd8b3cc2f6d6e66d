// Imported labels (docs/labeling-tools.md): gold labels that came back from
// labelers for samples of an inference set, kept in the run's database (table
// `imported_labels`, docs/format.md). RunReader reports them as the samples'
// `gold` (with is_correct), so that queries, exports and the console see them.
//
// Like selections, the table is created on first use and written without the
// run's writer lock: it touches no logs or results, and SQLite serializes its
// writes with a concurrent finish.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/label_import.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::store {

inline constexpr const char* kImportedLabelSchema = R"sql(
CREATE TABLE IF NOT EXISTS imported_labels(
  split TEXT NOT NULL, id TEXT NOT NULL, label TEXT NOT NULL, gold INTEGER NOT NULL,
  source TEXT NOT NULL, imported_at INTEGER NOT NULL, PRIMARY KEY(split, id));
)sql";

struct ImportLabelsReport {
  int64_t imported = 0;     // labels written (new and overwritten)
  int64_t overwritten = 0;  // of those, ids that had an imported label already
  int64_t skipped = 0;      // Label Studio tasks without a usable annotation
  int64_t labeled = 0;      // the split's imported labels after the import
};

// Stores `file`'s labels against the samples of inference set `split` of the
// run in `run_dir`, whose labels are `run_labels` (index = class). All or
// nothing, in one transaction; a label imported again for the same id
// overwrites the earlier one. Invalid, naming the entry's file and line, the
// id and what was expected, for an id that is not a sample of the split and a
// label that is not one of the run's; Invalid for a split that is not an
// inference set (labeled splits carry their gold labels from logging).
// `source` is recorded with each label (e.g. the file name).
Result<ImportLabelsReport> ImportLabels(const std::filesystem::path& run_dir, const SplitKey& split,
                                        const io::LabelFile& file,
                                        const std::vector<std::string>& run_labels,
                                        const std::string& source);

// Removes the imported labels of `split` (all of them); returns how many.
Result<int64_t> ClearImportedLabels(const std::filesystem::path& run_dir, const SplitKey& split);

}  // namespace sextant::store
