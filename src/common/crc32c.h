// CRC32C (Castagnoli, the iSCSI / ext4 / LevelDB checksum): the checksum of
// output logs and result arrays (docs/format.md).
//
// Uses the SSE4.2 crc32 instruction when the CPU has it, else a table-driven
// slicing-by-8 loop; both give the same values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "sextant/status.h"

namespace sextant {

// The CRC32C of `data` appended to bytes whose CRC32C is `crc` (0 for none):
// Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(std::string_view s) { return Crc32c(s.data(), s.size()); }

// The CRC32C of the first `bytes` bytes of a file (the whole file when
// negative), read in chunks. IOError naming the file when it is shorter.
Result<uint32_t> Crc32cOfFile(const std::filesystem::path& path, int64_t bytes = -1,
                              int64_t offset = 0);

// "0x1234abcd", as the checksums are printed in messages.
std::string Crc32cHex(uint32_t crc);

}  // namespace sextant
