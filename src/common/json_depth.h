// A guard for JSON text from outside (files, request bodies, stored JSON):
// nlohmann::json parses deep nesting without limit, but copying and dumping
// the result recurse once per level, so 200,000 nested '[' overflow the stack.
// Text is scanned for its nesting depth before it is parsed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "sextant/status.h"

namespace sextant {

// Deeper JSON than any Sextant writes or reads (summaries nest about 6 levels).
inline constexpr int kMaxJsonDepth = 256;

// The deepest nesting of arrays and objects in `text` (brackets inside
// strings do not count); stops counting once past `limit`. Does not
// validate the JSON: the parser does that.
int JsonNestingDepth(std::string_view text, int limit = kMaxJsonDepth);

// Invalid when `text` nests deeper than `limit`: "<what>: JSON nested more
// than 256 levels deep; expected at most 256".
Status CheckJsonDepth(std::string_view text, const std::string& what, int limit = kMaxJsonDepth);

}  // namespace sextant
