#include "server/auth.h"

#include <algorithm>

namespace sextant::server {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kAdmin:
      return "admin";
  }
  return "read";
}

bool Principal::CoversProject(const std::string& project) const {
  return projects.empty() || std::find(projects.begin(), projects.end(), project) != projects.end();
}

Principal OpenServerPrincipal() { return Principal{"local", Role::kAdmin, {}}; }

}  // namespace sextant::server
