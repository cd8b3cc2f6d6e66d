// What the benchmark programs share: fail-fast error handling (a benchmark has
// no caller to return a Status to), timing, argument lookup, and the facts
// about the process each report carries (peak memory, the OpenBLAS kernel).
#pragma once

#include <dlfcn.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>

#include "sextant/status.h"

namespace sextant::bench {

using Clock = std::chrono::steady_clock;

// The program's name in error messages; each main sets it first.
inline std::string& ProgramName() {
  static std::string name = "bench";
  return name;
}

[[noreturn]] inline void Die(const std::string& what) {
  std::cerr << ProgramName() << ": " << what << "\n";
  std::exit(1);
}

template <typename T>
T Check(Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}

inline void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// CPU seconds (user + system) of the process so far: next to wall time it
// shows how much of the machine a stage got (the machine may be shared).
inline double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

inline double PeakRssMib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// The OpenBLAS kernel in use (Faiss' BLAS is OpenBLAS through libblas.so.3).
inline std::string BlasCore() {
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return fn ? std::string(fn()) : std::string("unknown (not OpenBLAS?)");
}

// The value after `--key` on the command line, or `fallback`.
inline std::string Arg(int argc, char** argv, const std::string& key,
                       const std::string& fallback = "") {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + key) return argv[i + 1];
  }
  return fallback;
}

}  // namespace sextant::bench
