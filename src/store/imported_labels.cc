#include "store/imported_labels.h"

#include <chrono>
#include <unordered_map>

#include "store/run_store.h"
#include "store/sqlite.h"

namespace sextant::store {
namespace fs = std::filesystem;

namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<Database>> OpenRunDatabase(const fs::path& run_dir) {
  const fs::path db_path = run_dir / kDatabaseFile;
  std::error_code ec;
  if (!fs::exists(db_path, ec)) return Status::NotFound("no run at '" + run_dir.string() + "'");
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(db_path, false));
  SEXTANT_RETURN_IF_ERROR(db->Exec(kImportedLabelSchema));
  return db;
}

// Readers notice a change of the imported labels by this counter
// (RunReader::ImportedLabelsStamp); bumped in the writing transaction.
Status BumpVersion(Database& db) {
  return db.Exec(
      "INSERT INTO meta(key, value) VALUES ('imported_labels_version', '1') "
      "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)");
}

Status CheckInferenceSplit(const SplitKey& split) {
  if (split.split != Split::kInference) {
    return Status::Invalid("split: '" + split.ToString() +
                           "' carries its gold labels from logging; labels are imported into an "
                           "inference set (--split inference --inference-name NAME)");
  }
  return Status::OK();
}

}  // namespace

Result<ImportLabelsReport> ImportLabels(const fs::path& run_dir, const SplitKey& split,
                                        const io::LabelFile& file,
                                        const std::vector<std::string>& run_labels,
                                        const std::string& source) {
  SEXTANT_RETURN_IF_ERROR(CheckInferenceSplit(split));
  if (file.entries.empty()) return Status::Invalid(source + ": no labels to import");
  std::unordered_map<std::string, int64_t> index;
  std::string all;
  for (size_t i = 0; i < run_labels.size(); ++i) {
    index.emplace(run_labels[i], static_cast<int64_t>(i));
    all += (all.empty() ? "" : ", ") + run_labels[i];
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenRunDatabase(run_dir));
  ImportLabelsReport report;
  report.skipped = file.skipped;
  const std::string key = split.ToString();
  const int64_t now = Now();
  SEXTANT_RETURN_IF_ERROR(db->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(Statement count,
                             db->Prepare("SELECT COUNT(*) FROM samples WHERE split = ?"));
    count.Bind(1, key);
    SEXTANT_ASSIGN_OR_RETURN(bool has_count, count.Step());
    if (!has_count || count.Int(0) == 0) {
      return Status::NotFound("split '" + key + "' has no samples in this run");
    }
    SEXTANT_ASSIGN_OR_RETURN(Statement known,
                             db->Prepare("SELECT 1 FROM samples WHERE split = ? AND id = ?"));
    SEXTANT_ASSIGN_OR_RETURN(
        Statement existing,
        db->Prepare("SELECT 1 FROM imported_labels WHERE split = ? AND id = ?"));
    SEXTANT_ASSIGN_OR_RETURN(
        Statement insert,
        db->Prepare("INSERT OR REPLACE INTO imported_labels(split, id, label, gold, source, "
                    "imported_at) VALUES (?, ?, ?, ?, ?, ?)"));
    for (const io::LabelEntry& e : file.entries) {
      auto it = index.find(e.label);
      if (it == index.end()) {
        return Status::Invalid(e.where + ": sample '" + e.id + "' has label '" + e.label +
                               "', which is not one of the run's labels [" + all + "]");
      }
      known.Reset();
      known.Bind(1, key).Bind(2, e.id);
      SEXTANT_ASSIGN_OR_RETURN(bool is_known, known.Step());
      if (!is_known) {
        return Status::Invalid(e.where + ": sample '" + e.id + "' is not in split '" + key +
                               "' of this run; expected the id of one of its samples");
      }
      existing.Reset();
      existing.Bind(1, key).Bind(2, e.id);
      SEXTANT_ASSIGN_OR_RETURN(bool had, existing.Step());
      if (had) ++report.overwritten;
      insert.Reset();
      insert.Bind(1, key)
          .Bind(2, e.id)
          .Bind(3, e.label)
          .Bind(4, it->second)
          .Bind(5, source)
          .Bind(6, now);
      SEXTANT_RETURN_IF_ERROR(insert.Run());
      ++report.imported;
    }
    SEXTANT_RETURN_IF_ERROR(BumpVersion(*db));
    SEXTANT_ASSIGN_OR_RETURN(Statement total,
                             db->Prepare("SELECT COUNT(*) FROM imported_labels WHERE split = ?"));
    total.Bind(1, key);
    SEXTANT_ASSIGN_OR_RETURN(bool has_total, total.Step());
    report.labeled = has_total ? total.Int(0) : 0;
    return Status::OK();
  }));
  return report;
}

Result<int64_t> ClearImportedLabels(const fs::path& run_dir, const SplitKey& split) {
  SEXTANT_RETURN_IF_ERROR(CheckInferenceSplit(split));
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, OpenRunDatabase(run_dir));
  int64_t removed = 0;
  SEXTANT_RETURN_IF_ERROR(db->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(Statement st,
                             db->Prepare("DELETE FROM imported_labels WHERE split = ?"));
    st.Bind(1, split.ToString());
    SEXTANT_RETURN_IF_ERROR(st.Run());
    removed = static_cast<int64_t>(sqlite3_changes(db->handle()));
    return BumpVersion(*db);
  }));
  return removed;
}

}  // namespace sextant::store
