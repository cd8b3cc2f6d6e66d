#include "common/crc32c.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sextant {
namespace {

// The reflected Castagnoli polynomial.
constexpr uint32_t kPoly = 0x82f63b78u;

// tables[k][b]: the CRC of byte b followed by k zero bytes (slicing-by-8).
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  constexpr Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t c = b;
      for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1u) ? kPoly : 0u);
      t[0][b] = c;
    }
    for (int k = 1; k < 8; ++k) {
      for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xffu];
    }
  }
};
constexpr Tables kTables;

// `crc` is the running (already inverted) register in both loops.
uint32_t ExtendPortable(uint32_t crc, const unsigned char* p, size_t n) {
  const auto& t = kTables.t;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);  // little endian (the store is little-endian only)
    v ^= crc;
    crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
          t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^
          t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xffu];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const unsigned char* p,
                                                       size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (HaveSse42()) return ~ExtendSse42(c, p, n);
#endif
  return ~ExtendPortable(c, p, n);
}

Result<uint32_t> Crc32cOfFile(const std::filesystem::path& path, int64_t bytes, int64_t offset) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const std::string msg = "cannot open '" + path.string() + "': " + std::strerror(errno);
    return errno == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
  }
  std::vector<char> buf(1 << 20);
  uint32_t crc = 0;
  int64_t done = 0;
  Status st;
  while (bytes < 0 || done < bytes) {
    size_t want = buf.size();
    if (bytes >= 0) want = static_cast<size_t>(std::min<int64_t>(bytes - done, want));
    const ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      st = Status::IOError("cannot read '" + path.string() + "': " + std::strerror(errno));
      break;
    }
    if (got == 0) {
      if (bytes >= 0) {
        st = Status::IOError("'" + path.string() + "' holds " + std::to_string(offset + done) +
                             " bytes; expected at least " + std::to_string(offset + bytes));
      }
      break;
    }
    crc = Crc32cExtend(crc, buf.data(), static_cast<size_t>(got));
    done += got;
  }
  ::close(fd);
  if (!st.ok()) return st;
  return crc;
}

std::string Crc32cHex(uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", crc);
  return buf;
}

}  // namespace sextant
