// UTF-8 validation: every string Sextant stores ends up in JSON (summaries,
// the API, exports), and nlohmann::json throws on invalid UTF-8 when dumping,
// so text is checked where it enters.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "sextant/status.h"

namespace sextant {

// Offset of the first byte that is not part of valid UTF-8 (no overlong forms,
// surrogates or code points past U+10FFFF), or std::string_view::npos.
size_t FindInvalidUtf8(std::string_view s);

// "byte 0xFF" for a byte, "'a'" for printable ASCII.
std::string DescribeByte(char c);

// Invalid when `value` is not valid UTF-8: "<what>: invalid UTF-8 (byte 0xFF
// at byte 3); expected UTF-8 text". `what` names the field and row.
Status CheckUtf8(std::string_view value, const std::string& what);

}  // namespace sextant
