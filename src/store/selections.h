// Selections: named sets of samples (split, id) kept in a run's database
// (docs/format.md, tables `selections` and `selection_items`). The console
// creates them and exports them for labeling.
//
// A SelectionStore holds its own read-write connection to the run's database
// and takes no writer lock: selections never touch logs or results, and SQLite
// serializes its writes with a concurrent finish. Thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sextant/status.h"
#include "store/sqlite.h"

namespace sextant::store {

struct SelectionInfo {
  std::string name;
  int64_t count = 0;
  int64_t created_at = 0, updated_at = 0;  // Unix seconds
};

struct SelectionItem {
  std::string split;  // "training", ..., "inference:NAME"
  std::string id;
  bool operator==(const SelectionItem&) const = default;
};

class SelectionStore {
 public:
  // Opens the run's database and creates the selection tables when missing
  // (runs written before they existed). NotFound when there is no run.
  static Result<std::unique_ptr<SelectionStore>> Open(const std::filesystem::path& run_dir);

  // Names are 1-128 characters without control characters or '/'.
  static Status ValidateSelectionName(const std::string& name);

  Result<std::vector<SelectionInfo>> List() const;
  // AlreadyExists when a selection of that name exists.
  Status Create(const std::string& name);
  // Items in insertion order; NotFound when no such selection.
  Result<std::vector<SelectionItem>> Items(const std::string& name) const;
  // Adds (duplicates ignored) or removes items in one transaction; returns the
  // selection's size after.
  Result<int64_t> Add(const std::string& name, const std::vector<SelectionItem>& items);
  Result<int64_t> Remove(const std::string& name, const std::vector<SelectionItem>& items);
  Status Delete(const std::string& name);

 private:
  SelectionStore() = default;
  Status CheckExists(const std::string& name) const;
  // Runs `sql` (name, split, id) for each item, in one transaction with the update time.
  Result<int64_t> ApplyItems(const std::string& name, const std::vector<SelectionItem>& items,
                             const char* sql);
  Result<int64_t> CountItems(const std::string& name) const;

  mutable std::mutex mu_;
  std::unique_ptr<Database> db_;
};

}  // namespace sextant::store
