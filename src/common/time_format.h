// Times as users write them and as Sextant prints them: Unix seconds (UTC)
// and ISO 8601.
#pragma once

#include <string>
#include <string_view>

#include "sextant/status.h"

namespace sextant {

// Unix seconds from "1765000000" / "1765000000.5", or ISO 8601 UTC:
// "2026-12-06", "2026-12-06T08:00", "2026-12-06T08:00:00Z", "2026-12-06 08:00:00",
// or with an offset "+02:00". `field` names the input in errors.
Result<double> ParseTime(std::string_view text, const std::string& field);

// "2026-12-06T08:00:00Z" (whole seconds, UTC).
std::string FormatTimeIso(double unix_seconds);

}  // namespace sextant
