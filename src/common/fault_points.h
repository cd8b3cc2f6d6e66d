// Named points where the fault tests (tests/python/test_team_server.py) kill
// the process with SIGKILL, to check what a crash at exactly that point
// leaves. Each is off unless its SEXTANT_FAULT_* variable is set; reading it
// costs one getenv per call, on paths that do I/O anyway.
#pragma once

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace sextant {

// Kills the process when $<variable> holds `value`.
inline void FaultPoint(const char* variable, std::string_view value) {
  const char* set = std::getenv(variable);
  if (set != nullptr && value == set) std::raise(SIGKILL);
}

}  // namespace sextant
