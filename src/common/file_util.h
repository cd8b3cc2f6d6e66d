// Small file-system helpers with the durability guarantees the store needs.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "sextant/status.h"

namespace sextant {

// Writes `content` to `path` atomically: a temporary file in the same folder,
// fsync, rename over `path`, fsync of the folder. Readers see the old file or
// the new one, never a torn one.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content);

// Writes with a caller-provided writer to a temporary file, then commits it as
// above. `write` receives the temporary path and must create the file there.
template <typename WriteFn>
Status WriteAtomicWith(const std::filesystem::path& path, WriteFn&& write);

Status FsyncFile(const std::filesystem::path& path);
Status FsyncDir(const std::filesystem::path& dir);
Status CreateDirs(const std::filesystem::path& dir);
Result<std::string> ReadFileToString(const std::filesystem::path& path);
// Sum of the sizes of the regular files below `dir`.
int64_t DirectorySize(const std::filesystem::path& dir);
// A temporary path next to `path` that no other writer uses.
std::filesystem::path TempPathFor(const std::filesystem::path& path);
Status RenameDurably(const std::filesystem::path& from, const std::filesystem::path& to);

template <typename WriteFn>
Status WriteAtomicWith(const std::filesystem::path& path, WriteFn&& write) {
  std::filesystem::path tmp = TempPathFor(path);
  Status st = write(tmp);
  if (st.ok()) st = FsyncFile(tmp);
  if (st.ok()) st = RenameDurably(tmp, path);
  if (!st.ok()) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
  }
  return st;
}

}  // namespace sextant
