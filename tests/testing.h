// Test helpers shared by every test binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "sextant/status.h"

#define ASSERT_OK(expr)                                              \
  do {                                                               \
    const ::sextant::Status _s = ::sextant::testing::ToStatus(expr); \
    ASSERT_TRUE(_s.ok()) << _s.ToString();                           \
  } while (0)

#define EXPECT_OK(expr)                                              \
  do {                                                               \
    const ::sextant::Status _s = ::sextant::testing::ToStatus(expr); \
    EXPECT_TRUE(_s.ok()) << _s.ToString();                           \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                     \
  auto SEXTANT_CONCAT(_r_, __LINE__) = (expr);              \
  ASSERT_TRUE(SEXTANT_CONCAT(_r_, __LINE__).ok())           \
      << SEXTANT_CONCAT(_r_, __LINE__).status().ToString(); \
  lhs = std::move(SEXTANT_CONCAT(_r_, __LINE__)).value()

// EXPECT_STATUS(call, kInvalidArgument, "field", "'id'", ...): the code, and each part in the
// message.
#define EXPECT_STATUS(expr, code, ...)                                            \
  do {                                                                            \
    SCOPED_TRACE(#expr);                                                          \
    ::sextant::testing::ExpectStatus(::sextant::testing::ToStatus(expr),          \
                                     ::sextant::StatusCode::code, {__VA_ARGS__}); \
  } while (0)

namespace sextant::testing {

inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.status();
}

// Checks the code and that every part appears in the message.
inline void ExpectStatus(const Status& st, StatusCode code,
                         std::initializer_list<std::string> parts) {
  EXPECT_EQ(st.code(), code) << st.ToString();
  for (const std::string& part : parts) {
    EXPECT_NE(st.message().find(part), std::string::npos)
        << "expected '" << part << "' in: " << st.message();
  }
}

// A fresh, empty folder under the system temp dir, removed when destroyed.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("sextant-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sextant::testing
