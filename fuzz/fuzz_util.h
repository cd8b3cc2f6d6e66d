// Helpers shared by the fuzz targets: the readers under test take paths, so
// an input is written to a file in a per-process temporary folder first; and
// a small finished run for the targets that need one (the API, stored JSON).
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace sextant::fuzz {

// A folder of this process, removed at exit. libFuzzer leaves without
// running atexit handlers (time limit, crash), so the folders of processes
// that are gone are removed when the next one starts.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    const std::filesystem::path parent(tmp && *tmp ? tmp : "/tmp");
    const std::string prefix = "sextant-fuzz-";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(parent, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
        std::filesystem::remove_all(e.path(), ec);
      }
    }
    std::filesystem::path d = parent / (prefix + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return d;
  }();
  return dir;
}

// Writes the input to ScratchDir()/name and returns its path.
inline std::filesystem::path WriteInput(const uint8_t* data, size_t size, const std::string& name) {
  const std::filesystem::path path = ScratchDir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits "head\nrest" at the first newline.
inline std::pair<std::string, std::string> SplitFirstLine(std::string_view text) {
  const size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return {std::string(text), ""};
  return {std::string(text.substr(0, nl)), std::string(text.substr(nl + 1))};
}

// The parameters of a request target's query string ("path?a=1&b=%20"), percent-
// decoded as the server's HTTP layer hands them to the API; undecodable pairs are
// dropped. `Params` is server::Params (kept a template so that this header needs
// no server include).
template <typename Params, typename Decode>
Params QueryParams(std::string_view target, Decode decode) {
  Params params;
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return params;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    auto key = decode(std::string(pair.substr(0, eq)));
    auto value = decode(eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    if (key && value) params.emplace(*key, *value);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return params;
}

// An invariant the code under test broke: abort so that libFuzzer keeps the input.
#define SEXTANT_FUZZ_CHECK(cond)                                                             \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

}  // namespace sextant::fuzz
