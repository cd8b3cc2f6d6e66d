#include "store/selections.h"

#include <chrono>

#include "store/run_store.h"

namespace sextant::store {
namespace fs = std::filesystem;

namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<SelectionStore>> SelectionStore::Open(const fs::path& run_dir) {
  const fs::path db_path = run_dir / kDatabaseFile;
  std::error_code ec;
  if (!fs::exists(db_path, ec)) return Status::NotFound("no run at '" + run_dir.string() + "'");
  std::unique_ptr<SelectionStore> s(new SelectionStore());
  SEXTANT_ASSIGN_OR_RETURN(s->db_, Database::Open(db_path, /*create=*/false));
  SEXTANT_RETURN_IF_ERROR(s->db_->Exec(kSelectionSchema));
  return s;
}

Status SelectionStore::ValidateSelectionName(const std::string& name) {
  if (name.empty() || name.size() > 128) {
    return Status::Invalid("selection name: must be 1 to 128 characters, got " +
                           std::to_string(name.size()));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/') {
      return Status::Invalid("selection name: '" + name + "' holds a control character or '/'");
    }
  }
  return Status::OK();
}

Status SelectionStore::CheckExists(const std::string& name) const {
  SEXTANT_ASSIGN_OR_RETURN(Statement st, db_->Prepare("SELECT 1 FROM selections WHERE name = ?"));
  st.Bind(1, name);
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return Status::NotFound("no selection '" + name + "'");
  return Status::OK();
}

Result<int64_t> SelectionStore::CountItems(const std::string& name) const {
  SEXTANT_ASSIGN_OR_RETURN(Statement st,
                           db_->Prepare("SELECT COUNT(*) FROM selection_items WHERE name = ?"));
  st.Bind(1, name);
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  return found ? st.Int(0) : 0;
}

Result<std::vector<SelectionInfo>> SelectionStore::List() const {
  std::lock_guard lock(mu_);
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st, db_->Prepare("SELECT s.name, s.created_at, s.updated_at, "
                                 "(SELECT COUNT(*) FROM selection_items i WHERE i.name = s.name) "
                                 "FROM selections s ORDER BY s.name"));
  std::vector<SelectionInfo> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool more, st.Step());
    if (!more) break;
    out.push_back({st.Text(0), st.Int(3), st.Int(1), st.Int(2)});
  }
  return out;
}

Status SelectionStore::Create(const std::string& name) {
  SEXTANT_RETURN_IF_ERROR(ValidateSelectionName(name));
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(Statement check,
                             db_->Prepare("SELECT 1 FROM selections WHERE name = ?"));
    check.Bind(1, name);
    SEXTANT_ASSIGN_OR_RETURN(bool found, check.Step());
    if (found) return Status::AlreadyExists("selection '" + name + "' already exists");
    SEXTANT_ASSIGN_OR_RETURN(
        Statement st,
        db_->Prepare("INSERT INTO selections(name, created_at, updated_at) VALUES (?, ?, ?)"));
    const int64_t now = Now();
    st.Bind(1, name).Bind(2, now).Bind(3, now);
    return st.Run();
  });
}

Result<std::vector<SelectionItem>> SelectionStore::Items(const std::string& name) const {
  std::lock_guard lock(mu_);
  SEXTANT_RETURN_IF_ERROR(CheckExists(name));
  SEXTANT_ASSIGN_OR_RETURN(
      Statement st,
      db_->Prepare("SELECT split, id FROM selection_items WHERE name = ? ORDER BY seq"));
  st.Bind(1, name);
  std::vector<SelectionItem> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool more, st.Step());
    if (!more) break;
    out.push_back({st.Text(0), st.Text(1)});
  }
  return out;
}

Result<int64_t> SelectionStore::Add(const std::string& name,
                                    const std::vector<SelectionItem>& items) {
  return ApplyItems(name, items,
                    "INSERT OR IGNORE INTO selection_items(name, split, id) VALUES (?, ?, ?)");
}

Result<int64_t> SelectionStore::Remove(const std::string& name,
                                       const std::vector<SelectionItem>& items) {
  return ApplyItems(name, items,
                    "DELETE FROM selection_items WHERE name = ? AND split = ? AND id = ?");
}

Result<int64_t> SelectionStore::ApplyItems(const std::string& name,
                                           const std::vector<SelectionItem>& items,
                                           const char* sql) {
  std::lock_guard lock(mu_);
  SEXTANT_RETURN_IF_ERROR(db_->Transaction([&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(CheckExists(name));
    SEXTANT_ASSIGN_OR_RETURN(Statement st, db_->Prepare(sql));
    for (const SelectionItem& item : items) {
      st.Bind(1, name).Bind(2, item.split).Bind(3, item.id);
      SEXTANT_RETURN_IF_ERROR(st.Run());
    }
    SEXTANT_ASSIGN_OR_RETURN(Statement touch,
                             db_->Prepare("UPDATE selections SET updated_at = ? WHERE name = ?"));
    touch.Bind(1, Now()).Bind(2, name);
    return touch.Run();
  }));
  return CountItems(name);
}

Status SelectionStore::Delete(const std::string& name) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(CheckExists(name));
    SEXTANT_ASSIGN_OR_RETURN(Statement items,
                             db_->Prepare("DELETE FROM selection_items WHERE name = ?"));
    items.Bind(1, name);
    SEXTANT_RETURN_IF_ERROR(items.Run());
    SEXTANT_ASSIGN_OR_RETURN(Statement st, db_->Prepare("DELETE FROM selections WHERE name = ?"));
    st.Bind(1, name);
    return st.Run();
  });
}

}  // namespace sextant::store
