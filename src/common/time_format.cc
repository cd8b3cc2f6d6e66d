#include "common/time_format.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace sextant {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil), so no time zone or locale is involved.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool ReadInt(std::string_view s, size_t pos, size_t len, int* out) {
  if (pos + len > s.size()) return false;
  for (size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return std::from_chars(s.data() + pos, s.data() + pos + len, *out).ec == std::errc();
}

}  // namespace

Result<double> ParseTime(std::string_view text, const std::string& field) {
  const std::string shown(text);
  auto bad = [&]() {
    return Status::Invalid(field + ": '" + shown +
                           "' is not a time; expected Unix seconds or ISO 8601 "
                           "(e.g. 2026-12-06 or 2026-12-06T08:00:00Z)");
  };
  if (text.empty()) return bad();
  // Unix seconds: a plain number.
  if (text.find('-', 1) == std::string_view::npos) {
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return bad();
    return v;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!ReadInt(text, 0, 4, &y) || text.size() < 10 || text[4] != '-' || text[7] != '-' ||
      !ReadInt(text, 5, 2, &mo) || !ReadInt(text, 8, 2, &d)) {
    return bad();
  }
  size_t pos = 10;
  double frac = 0;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
    if (!ReadInt(text, pos + 1, 2, &h) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !ReadInt(text, pos + 4, 2, &mi)) {
      return bad();
    }
    pos += 6;
    if (pos < text.size() && text[pos] == ':') {
      if (!ReadInt(text, pos + 1, 2, &sec)) return bad();
      pos += 3;
      if (pos < text.size() && text[pos] == '.') {
        size_t end = pos + 1;
        while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
        if (end == pos + 1) return bad();
        std::from_chars(text.data() + pos, text.data() + end, frac);
        pos = end;
      }
    }
  }
  int offset_minutes = 0;
  if (pos < text.size()) {
    if (text[pos] == 'Z' && pos + 1 == text.size()) {
      pos++;
    } else if ((text[pos] == '+' || text[pos] == '-') && text.size() == pos + 6 &&
               text[pos + 3] == ':') {
      int oh = 0, om = 0;
      if (!ReadInt(text, pos + 1, 2, &oh) || !ReadInt(text, pos + 4, 2, &om)) return bad();
      offset_minutes = (text[pos] == '+' ? 1 : -1) * (oh * 60 + om);
      pos = text.size();
    } else {
      return bad();
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  const int64_t days = DaysFromCivil(y, mo, d);
  return static_cast<double>(days * 86400 + h * 3600 + mi * 60 + sec - offset_minutes * 60) + frac;
}

std::string FormatTimeIso(double unix_seconds) {
  if (!std::isfinite(unix_seconds)) return "";
  const auto t = static_cast<std::time_t>(std::floor(unix_seconds));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace sextant
