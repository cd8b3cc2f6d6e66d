// API keys of the team server (docs/team-server.md): created with
// `sextant keys create`, kept in <root>/.server/server.db (table `api_keys`).
//
// A key reads "sxk_<id>_<secret>": <id> (12 hex digits) names the row, the
// secret is 32 random bytes (64 hex digits). Only the SHA-256 of the whole key
// is stored; a presented key is hashed and compared with CRYPTO_memcmp
// (constant time). A fast hash is enough: the secret has 256 random bits, so
// there is nothing to guess that a slow password hash would protect.
//
// Thread-safe: the server authenticates from many connection threads at once
// while `sextant keys` (another process) may add or revoke keys; each call
// reads the database, so a revocation takes effect on the next request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/auth.h"
#include "sextant/status.h"

namespace sextant::store {
class Database;
}

namespace sextant::server {

// The folder of the server's own data under a store root (a name no project can have).
inline constexpr const char* kServerDir = ".server";
inline constexpr const char* kServerDatabase = "server.db";

struct KeyInfo {
  std::string name;
  Role role = Role::kRead;
  std::vector<std::string> projects;  // empty: every project
  int64_t created_at = 0;             // Unix seconds
  std::optional<int64_t> last_used_at;
  bool revoked = false;
};

// "admin", "write" or "read"; InvalidArgument naming the choices otherwise.
Result<Role> ParseRole(const std::string& text);

class KeyStore {
 public:
  // Opens (creating <root>/.server/server.db and the table when missing).
  static Result<std::unique_ptr<KeyStore>> Open(const std::filesystem::path& root);
  ~KeyStore();

  // A new key; returns its secret, which is not stored and cannot be shown
  // again. Names are validated like project names and unique (AlreadyExists,
  // revoked keys included: a name always means one key in the audit trail);
  // projects are validated names, deduplicated.
  Result<std::string> Create(const std::string& name, Role role, std::vector<std::string> projects);
  // Every key, revoked ones included, by name. Never the secrets.
  Result<std::vector<KeyInfo>> List() const;
  // NotFound when no key has that name; revoking twice is OK.
  Status Revoke(const std::string& name);
  // The principal of an active key; Unauthenticated (without saying whether
  // such a key ever existed) for anything else.
  Result<Principal> Authenticate(const std::string& presented) const;
  // True when no active (unrevoked) key exists.
  Result<bool> Empty() const;

 private:
  KeyStore() = default;

  mutable std::mutex mu_;
  std::unique_ptr<store::Database> db_;
  // last_used_at is written at most once a minute per key, not on every request.
  mutable std::vector<std::pair<std::string, int64_t>> last_touch_;
};

}  // namespace sextant::server
