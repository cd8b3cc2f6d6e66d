#include "common/crc32c.h"

#include <fstream>
#include <string>
#include <vector>

#include "testing.h"

namespace sextant {
namespace {

// RFC 3720 (iSCSI) appendix B.4 and the usual "123456789" check value.
TEST(Crc32c, MatchesKnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("a"), 0xc1d04330u);
  std::vector<unsigned char> zeros(32, 0), ones(32, 0xff), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<unsigned char>(i);
    down[i] = static_cast<unsigned char>(31 - i);
  }
  EXPECT_EQ(Crc32c(zeros.data(), 32), 0x8a9136aau);
  EXPECT_EQ(Crc32c(ones.data(), 32), 0x62a8ab43u);
  EXPECT_EQ(Crc32c(up.data(), 32), 0x46dd794eu);
  EXPECT_EQ(Crc32c(down.data(), 32), 0x113fdb5cu);
}

TEST(Crc32c, ExtendEqualsWholeAtEverySplit) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  const uint32_t whole = Crc32c(data);
  for (size_t cut : {0, 1, 7, 8, 9, 63, 500, 999, 1000}) {
    const uint32_t a = Crc32c(data.data(), cut);
    EXPECT_EQ(Crc32cExtend(a, data.data() + cut, data.size() - cut), whole) << cut;
  }
}

TEST(Crc32c, OfFileReadsAPrefixAndNamesShortFiles) {
  testing::TempDir dir;
  const auto path = dir.path() / "f.bin";
  std::ofstream(path, std::ios::binary) << "123456789abc";
  ASSERT_OK_AND_ASSIGN(uint32_t prefix, Crc32cOfFile(path, 9));
  EXPECT_EQ(prefix, 0xe3069283u);
  ASSERT_OK_AND_ASSIGN(uint32_t whole, Crc32cOfFile(path));
  EXPECT_EQ(whole, Crc32c("123456789abc"));
  ASSERT_OK_AND_ASSIGN(uint32_t tail, Crc32cOfFile(path, 3, 9));
  EXPECT_EQ(tail, Crc32c("abc"));
  EXPECT_STATUS(Crc32cOfFile(path, 20), kIOError, "f.bin", "holds 12 bytes");
  EXPECT_STATUS(Crc32cOfFile(dir.path() / "missing"), kNotFound, "missing");
  EXPECT_EQ(Crc32cHex(0xe3069283u), "0xe3069283");
}

}  // namespace
}  // namespace sextant
