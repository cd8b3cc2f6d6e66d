// Who is asking: the API key a request carried, resolved to a principal
// (docs/team-server.md). Keys are stored hashed in the server's database
// (server/keys.h); the API checks every route against the principal's role
// and projects (api.cc).
#pragma once

#include <string>
#include <vector>

namespace sextant::server {

enum class Role { kRead, kWrite, kAdmin };

const char* RoleName(Role role);

struct Principal {
  std::string key_name;  // shown as who uploaded a run; "local" on an open loopback server
  Role role = Role::kRead;
  // The projects the key is scoped to; empty: every project.
  std::vector<std::string> projects;

  bool CoversProject(const std::string& project) const;
  bool CanRead(const std::string& project) const { return CoversProject(project); }
  bool CanWrite(const std::string& project) const {
    return role != Role::kRead && CoversProject(project);
  }
  bool IsAdmin() const { return role == Role::kAdmin; }
};

// The principal of a server that needs no key (loopback, no keys, no token):
// everyone may do everything, as before keys existed.
Principal OpenServerPrincipal();

}  // namespace sextant::server
