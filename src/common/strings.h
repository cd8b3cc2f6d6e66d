// Small string helpers shared by the CLI and the server.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sextant {

// "a,b,,c" -> {"a", "b", "c"}: the items of a comma-separated list, empty ones dropped.
inline std::vector<std::string> SplitCommaList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace sextant
