// A small seeded PRNG (the map, the demo's data and model): the same seed gives
// the same stream on every platform (the standard library's distributions do
// not promise that).
#pragma once

#include <cstdint>

namespace sextant {

// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, and a
// seed of 0 is as good as any other.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n) for n < 2^32 (Lemire's multiply-shift; the bias is
  // below n / 2^32 and does not matter here).
  uint32_t Below(uint32_t n) {
    return static_cast<uint32_t>(((Next() >> 32) * static_cast<uint64_t>(n)) >> 32);
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace sextant
