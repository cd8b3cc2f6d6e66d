#include "common/json_depth.h"

#include <algorithm>

namespace sextant {

int JsonNestingDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        deepest = std::max(deepest, ++depth);
        if (deepest > limit) return deepest;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

Status CheckJsonDepth(std::string_view text, const std::string& what, int limit) {
  if (JsonNestingDepth(text, limit) <= limit) return Status::OK();
  return Status::Invalid(what + ": JSON nested more than " + std::to_string(limit) +
                         " levels deep; expected at most " + std::to_string(limit));
}

}  // namespace sextant
