#include "testing.h"

namespace sextant {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::Invalid("x: " + std::to_string(x) + " is odd; expected an even number");
  return x / 2;
}

Status Quarter(int x, int* out) {
  SEXTANT_ASSIGN_OR_RETURN(int h, Half(x));
  SEXTANT_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::OK();
}

TEST(Status, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status::OK().ok());
  Status s = Status::Invalid("labels: empty");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsInvalid());
  EXPECT_EQ(s.ToString(), "Invalid argument: labels: empty");
  EXPECT_EQ(s.WithContext("import").message(), "import: labels: empty");
}

TEST(Result, PropagatesThroughMacros) {
  int out = 0;
  ASSERT_OK(Quarter(8, &out));
  EXPECT_EQ(out, 2);
  Status s = Quarter(6, &out);
  EXPECT_TRUE(s.IsInvalid());
  EXPECT_NE(s.message().find("3 is odd"), std::string::npos);
}

}  // namespace
}  // namespace sextant
