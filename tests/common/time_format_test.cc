#include "common/time_format.h"

#include "testing.h"

namespace sextant {
namespace {

TEST(ParseTime, ReadsUnixSecondsAndIso8601) {
  EXPECT_EQ(*ParseTime("1767225600", "t"), 1767225600.0);
  EXPECT_EQ(*ParseTime("1767225600.5", "t"), 1767225600.5);
  EXPECT_EQ(*ParseTime("2026-01-01", "t"), 1767225600.0);
  EXPECT_EQ(*ParseTime("2026-01-01T00:00:00Z", "t"), 1767225600.0);
  EXPECT_EQ(*ParseTime("2026-01-02 03:04:05", "t"), 1767225600.0 + 86400 + 3 * 3600 + 4 * 60 + 5);
  EXPECT_EQ(*ParseTime("2026-01-01T02:00+02:00", "t"), 1767225600.0);
  EXPECT_EQ(*ParseTime("2025-12-31T22:00:00-02:00", "t"), 1767225600.0);
  EXPECT_EQ(*ParseTime("2024-02-29", "t"), 1709164800.0);  // a leap day
  EXPECT_EQ(*ParseTime("1969-12-31T23:59:59Z", "t"), -1.0);
  EXPECT_DOUBLE_EQ(*ParseTime("2026-01-01T00:00:00.25Z", "t"), 1767225600.25);
}

TEST(ParseTime, NamesTheFieldForWhatItCannotRead) {
  for (const char* bad : {"", "yesterday", "31/12/2025", "2026-13-01", "2026-01-01T25:00",
                          "2026-01-01X", "2026-01-01T00:00:00+0200", "nan", "1e999"}) {
    const Result<double> r = ParseTime(bad, "--time");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("--time: '"), std::string::npos) << r.status().message();
  }
}

TEST(FormatTimeIso, PrintsWholeSecondsUtc) {
  EXPECT_EQ(FormatTimeIso(1767225600.0), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimeIso(1767225600.9), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimeIso(-1.0), "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace sextant
