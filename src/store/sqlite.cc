#include "store/sqlite.h"

#include <atomic>

#include "store/sqlite_stats.h"

namespace sextant::store {

Result<std::unique_ptr<Database>> Database::Open(const std::filesystem::path& path, bool create,
                                                 bool read_only) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY
                        : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0));
  // Serialized mode: a RunReader (one connection) is documented as safe to use from
  // several threads, which SQLITE_OPEN_NOMUTEX would not be.
  flags |= SQLITE_OPEN_FULLMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    if (rc == SQLITE_CANTOPEN)
      return Status::NotFound("cannot open '" + path.string() + "': " + msg);
    return Status::IOError("cannot open '" + path.string() + "': " + msg);
  }
  std::unique_ptr<Database> out(new Database(db));
  sqlite3_busy_timeout(db, 10000);
  // The first statements read the file: a damaged one is named here.
  const std::string where = "'" + path.string() + "'";
  if (!read_only) {
    SEXTANT_RETURN_IF_ERROR(out->Exec("PRAGMA journal_mode=WAL").WithContext(where));
    SEXTANT_RETURN_IF_ERROR(out->Exec("PRAGMA synchronous=NORMAL").WithContext(where));
  }
  SEXTANT_RETURN_IF_ERROR(out->Exec("PRAGMA foreign_keys=ON").WithContext(where));
  return out;
}

namespace {
std::atomic<int64_t> vm_steps{0};

// Adds a statement's virtual-machine steps since the last count to VmStepsSoFar().
void CountSteps(sqlite3_stmt* stmt) {
  vm_steps.fetch_add(sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, /*resetFlg=*/1),
                     std::memory_order_relaxed);
}
}  // namespace

int64_t VmStepsSoFar() { return vm_steps.load(std::memory_order_relaxed); }

Database::~Database() { sqlite3_close_v2(db_); }

Status Database::Error(std::string_view what) const {
  return Status::IOError(std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status Database::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IOError("database: " + msg + " (in: " + s.substr(0, 80) + ")");
  }
  return Status::OK();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return Error("database: cannot prepare '" + std::string(sql.substr(0, 80)) + "'");
  }
  return Statement(stmt, this);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    CountSteps(stmt_);
    return false;
  }
  return db_->Error("database");
}

Status Statement::Run() {
  int rc = sqlite3_step(stmt_);
  Status st = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? Status::OK() : db_->Error("database");
  Reset();
  return st;
}

}  // namespace sextant::store
