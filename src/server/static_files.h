// Resolving request paths to files of the console's static folder, never
// outside it (docs/http-api.md, "Static files"). Independent of HTTP.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sextant::server {

// Percent-decodes one path segment ('+' stays '+'); nullopt when malformed.
std::optional<std::string> DecodeSegment(const std::string& raw);
// Splits the path part of a request target ("/a/b%2Fc?x" -> {"a", "b/c"});
// nullopt when a segment is malformed. Empty segments are dropped.
std::optional<std::vector<std::string>> DecodePath(const std::string& target);

enum class StaticKind {
  kFile,      // `path` is a regular file inside the folder
  kIndex,     // no such file: answer the folder's index.html (client-side routing)
  kNotBuilt,  // the folder or its index.html does not exist
  kRefused,   // the path leaves the folder ("..", a symlink out of it, NUL): 404
};

struct StaticTarget {
  StaticKind kind = StaticKind::kRefused;
  std::filesystem::path path;
};

StaticTarget ResolveStatic(const std::filesystem::path& root, const std::string& target);
// A Content-Type for a file name's extension.
std::string ContentTypeFor(const std::filesystem::path& path);

}  // namespace sextant::server
