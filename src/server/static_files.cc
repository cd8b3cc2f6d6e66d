#include "server/static_files.h"

#include <map>

namespace sextant::server {
namespace fs = std::filesystem;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// True when `inner` is `outer` or below it (both canonical).
bool IsWithin(const fs::path& outer, const fs::path& inner) {
  auto o = outer.begin(), i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> DecodeSegment(const std::string& raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out += raw[i];
      continue;
    }
    if (i + 2 >= raw.size()) return std::nullopt;
    const int hi = HexValue(raw[i + 1]), lo = HexValue(raw[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<std::vector<std::string>> DecodePath(const std::string& target) {
  const std::string path = target.substr(0, target.find_first_of("?#"));
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) {
      auto seg = DecodeSegment(path.substr(start, end - start));
      if (!seg) return std::nullopt;
      out.push_back(std::move(*seg));
    }
    start = end + 1;
  }
  return out;
}

StaticTarget ResolveStatic(const fs::path& root, const std::string& target) {
  std::error_code ec;
  const fs::path canonical_root = fs::canonical(root, ec);
  const bool built = !ec && fs::is_regular_file(canonical_root / "index.html", ec);
  auto segments = DecodePath(target);
  if (!segments) return {StaticKind::kRefused, {}};
  fs::path rel;
  for (const std::string& s : *segments) {
    // An encoded '/' or '\' would join segments; "." and ".." would move around.
    if (s == "." || s == ".." || s.find_first_of(std::string("/\\\0", 3)) != std::string::npos) {
      return {StaticKind::kRefused, {}};
    }
    rel /= s;
  }
  if (!built) return {StaticKind::kNotBuilt, {}};
  const fs::path index = canonical_root / "index.html";
  if (rel.empty()) return {StaticKind::kFile, index};
  const fs::path candidate = canonical_root / rel;
  if (!fs::exists(fs::symlink_status(candidate, ec))) {
    // Nothing there (nor a dangling link): the console's client-side routes.
    return {StaticKind::kIndex, index};
  }
  const fs::path resolved = fs::canonical(candidate, ec);
  if (ec) return {StaticKind::kRefused, {}};
  if (!IsWithin(canonical_root, resolved)) return {StaticKind::kRefused, {}};
  if (fs::is_regular_file(resolved, ec)) return {StaticKind::kFile, resolved};
  return {StaticKind::kIndex, index};
}

std::string ContentTypeFor(const fs::path& path) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"}};
  auto it = kTypes.find(path.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace sextant::server
