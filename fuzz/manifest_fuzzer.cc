// The upload protocol's parsers (src/sync): a manifest sent by any client with
// a write key, and the files decoded at commit. The input is a manifest; when
// it parses, it must print back to itself, and its files are decoded from the
// input's own bytes (hostile contents of every file). Errors are fine;
// crashes, hangs, huge allocations and uncaught exceptions are not.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sync/bundle.h"
#include "sync/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sextant;
  const std::string input(reinterpret_cast<const char*>(data), size);
  (void)sync::UploadState::Parse(input);
  Result<sync::Manifest> m = sync::Manifest::Parse(input);
  if (!m.ok()) return 0;
  Result<sync::Manifest> again = sync::Manifest::Parse(m->ToJson());
  if (!again.ok() || again->ToJson() != m->ToJson()) std::abort();
  // Each file's contents: the input, cut or repeated to the size the manifest says
  // when that is small, else the input as it is (a size mismatch).
  (void)sync::DecodeUpload(*m, [&](const sync::FileEntry& f) -> Result<std::string> {
    if (f.bytes > (1 << 16)) return input;
    std::string bytes;
    while (static_cast<int64_t>(bytes.size()) < f.bytes && !input.empty()) bytes += input;
    bytes.resize(static_cast<size_t>(f.bytes));
    return bytes;
  });
  return 0;
}
