#include "server/keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <system_error>

#include "sextant/types.h"
#include "store/sqlite.h"

namespace sextant::server {

namespace fs = std::filesystem;

namespace {

constexpr const char* kKeyPrefix = "sxk_";
constexpr size_t kIdBytes = 6;       // 12 hex digits: names the row, not secret
constexpr size_t kSecretBytes = 32;  // 64 hex digits
constexpr int64_t kTouchEverySeconds = 60;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS api_keys (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  role         TEXT NOT NULL,
  projects     TEXT NOT NULL,       -- JSON array of project names; [] = every project
  key_sha256   BLOB NOT NULL,       -- SHA-256 of the whole key "sxk_<id>_<secret>"
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);
)sql";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status RandomBytes(unsigned char* out, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = getrandom(out + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(r);
  }
  return Status::OK();
}

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

using Digest = std::array<unsigned char, 32>;

Digest Sha256(const std::string& text) {
  Digest d{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The row id of a well-formed key, else nullopt.
std::optional<std::string> KeyId(const std::string& key) {
  const size_t prefix = std::strlen(kKeyPrefix);
  if (key.size() != prefix + 2 * kIdBytes + 1 + 2 * kSecretBytes) return std::nullopt;
  if (key.compare(0, prefix, kKeyPrefix) != 0 || key[prefix + 2 * kIdBytes] != '_') {
    return std::nullopt;
  }
  const std::string id = key.substr(prefix, 2 * kIdBytes);
  if (!IsHex(id) || !IsHex(std::string_view(key).substr(prefix + 2 * kIdBytes + 1))) {
    return std::nullopt;
  }
  return id;
}

Status BadKey() {
  // The same words for a malformed, unknown or revoked key: the answer never
  // says whether a key exists.
  return Status::Unauthenticated("the API key is not valid (unknown or revoked)");
}

}  // namespace

Result<Role> ParseRole(const std::string& text) {
  if (text == "admin") return Role::kAdmin;
  if (text == "write") return Role::kWrite;
  if (text == "read") return Role::kRead;
  return Status::Invalid("role: expected 'admin', 'write' or 'read', got '" + text + "'");
}

KeyStore::~KeyStore() = default;

Result<std::unique_ptr<KeyStore>> KeyStore::Open(const fs::path& root) {
  const fs::path dir = root / kServerDir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Status::IOError("cannot create '" + dir.string() + "': " + ec.message());
  }
  // Only the owner reads the server's data (hashes, upload state).
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  std::unique_ptr<KeyStore> s(new KeyStore());
  SEXTANT_ASSIGN_OR_RETURN(s->db_, store::Database::Open(dir / kServerDatabase, /*create=*/true));
  SEXTANT_RETURN_IF_ERROR(s->db_->Exec(kSchema).WithContext("'" + dir.string() + "'"));
  return s;
}

Result<std::string> KeyStore::Create(const std::string& name, Role role,
                                     std::vector<std::string> projects) {
  SEXTANT_RETURN_IF_ERROR(ValidateName("name", name));
  for (const std::string& p : projects) SEXTANT_RETURN_IF_ERROR(ValidateName("project", p));
  std::sort(projects.begin(), projects.end());
  projects.erase(std::unique(projects.begin(), projects.end()), projects.end());
  std::lock_guard lock(mu_);
  std::string key;
  Status st = db_->Transaction([&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(store::Statement check,
                             db_->Prepare("SELECT 1 FROM api_keys WHERE name = ?"));
    check.Bind(1, name);
    SEXTANT_ASSIGN_OR_RETURN(bool exists, check.Step());
    if (exists) {
      return Status::AlreadyExists("name: a key named '" + name +
                                   "' exists (revoked keys keep their names); choose another");
    }
    // A new id until it is unused (48 random bits: a clash is all but impossible).
    for (int attempt = 0;; ++attempt) {
      unsigned char id_bytes[kIdBytes], secret[kSecretBytes];
      SEXTANT_RETURN_IF_ERROR(RandomBytes(id_bytes, sizeof id_bytes));
      SEXTANT_RETURN_IF_ERROR(RandomBytes(secret, sizeof secret));
      const std::string id = Hex(id_bytes, sizeof id_bytes);
      SEXTANT_ASSIGN_OR_RETURN(store::Statement used,
                               db_->Prepare("SELECT 1 FROM api_keys WHERE id = ?"));
      used.Bind(1, id);
      SEXTANT_ASSIGN_OR_RETURN(bool taken, used.Step());
      if (taken) {
        if (attempt > 8) return Status::Internal("cannot find an unused key id");
        continue;
      }
      key = kKeyPrefix + id + "_" + Hex(secret, sizeof secret);
      const Digest digest = Sha256(key);
      SEXTANT_ASSIGN_OR_RETURN(
          store::Statement insert,
          db_->Prepare("INSERT INTO api_keys (id, name, role, projects, key_sha256, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)"));
      insert.Bind(1, id).Bind(2, name).Bind(3, RoleName(role));
      insert.Bind(4, nlohmann::json(projects).dump());
      insert.BindBlob(5, digest.data(), digest.size());
      insert.Bind(6, Now());
      return insert.Run();
    }
  });
  if (!st.ok()) return st;
  return key;
}

Result<std::vector<KeyInfo>> KeyStore::List() const {
  std::lock_guard lock(mu_);
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db_->Prepare("SELECT name, role, projects, created_at, last_used_at, revoked_at "
                   "FROM api_keys ORDER BY name"));
  std::vector<KeyInfo> out;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(bool more, st.Step());
    if (!more) break;
    KeyInfo k;
    k.name = st.Text(0);
    auto role = ParseRole(st.Text(1));
    if (!role.ok()) return role.status().WithContext("api_keys, key '" + k.name + "'");
    k.role = *role;
    auto projects = nlohmann::json::parse(st.Text(2), nullptr, /*allow_exceptions=*/false);
    if (!projects.is_array()) {
      return Status::IOError("api_keys, key '" + k.name + "': projects is not a JSON array");
    }
    for (const auto& p : projects) {
      if (p.is_string()) k.projects.push_back(p.get<std::string>());
    }
    k.created_at = st.Int(3);
    k.last_used_at = st.OptInt(4);
    k.revoked = !st.IsNull(5);
    out.push_back(std::move(k));
  }
  return out;
}

Status KeyStore::Revoke(const std::string& name) {
  std::lock_guard lock(mu_);
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db_->Prepare("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE name = ?"));
  st.Bind(1, Now()).Bind(2, name);
  SEXTANT_RETURN_IF_ERROR(st.Run());
  if (sqlite3_changes(db_->handle()) == 0) {
    return Status::NotFound("name: no key named '" + name + "' (see `sextant keys list`)");
  }
  return Status::OK();
}

Result<Principal> KeyStore::Authenticate(const std::string& presented) const {
  const std::optional<std::string> id = KeyId(presented);
  // Hashed whatever it is, so that a malformed key takes the time a real one does.
  const Digest digest = Sha256(presented);
  std::lock_guard lock(mu_);
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db_->Prepare("SELECT name, role, projects, key_sha256, revoked_at FROM api_keys "
                   "WHERE id = ?"));
  st.Bind(1, id.value_or(""));
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  // Compared even when no row was found (against zeros), so that the time
  // taken does not depend on the secret.
  Digest stored{};
  if (found) {
    const std::string blob = st.Blob(3);
    if (blob.size() == stored.size()) std::memcpy(stored.data(), blob.data(), stored.size());
  }
  const bool equal = CRYPTO_memcmp(stored.data(), digest.data(), digest.size()) == 0;
  if (!found || !id || !equal || !st.IsNull(4)) return BadKey();
  Principal p;
  p.key_name = st.Text(0);
  auto role = ParseRole(st.Text(1));
  if (!role.ok()) return role.status().WithContext("api_keys, key '" + p.key_name + "'");
  p.role = *role;
  auto projects = nlohmann::json::parse(st.Text(2), nullptr, /*allow_exceptions=*/false);
  if (!projects.is_array()) {
    return Status::IOError("api_keys, key '" + p.key_name + "': projects is not a JSON array");
  }
  for (const auto& project : projects) {
    if (project.is_string()) p.projects.push_back(project.get<std::string>());
  }
  if (projects.is_array() && !projects.empty() && p.projects.empty()) {
    // Never widen a scoped key to every project because its list is damaged.
    return Status::IOError("api_keys, key '" + p.key_name + "': projects holds no names");
  }
  // Last use, at most once a minute per key (a write on every request would
  // serialize the server on the database).
  const int64_t now = Now();
  auto touched = std::find_if(last_touch_.begin(), last_touch_.end(),
                              [&](const auto& t) { return t.first == *id; });
  if (touched == last_touch_.end() || now - touched->second >= kTouchEverySeconds) {
    if (touched == last_touch_.end()) {
      last_touch_.emplace_back(*id, now);
    } else {
      touched->second = now;
    }
    auto update = db_->Prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?");
    if (update.ok()) {
      update->Bind(1, now).Bind(2, *id);
      (void)update->Run();  // best effort: last use is informative only
    }
  }
  return p;
}

Result<bool> KeyStore::Empty() const {
  std::lock_guard lock(mu_);
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db_->Prepare("SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)"));
  SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
  return !row || st.Int(0) == 0;
}

}  // namespace sextant::server
