// SHA-256 (OpenSSL's libcrypto): the names of upload chunks (sync/manifest.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace sextant::sync {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t bytes);
  // The digest as 64 lowercase hex digits; the object is spent afterwards.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(std::string_view bytes);

// 64 lowercase hex digits.
bool IsSha256Hex(std::string_view text);

}  // namespace sextant::sync
