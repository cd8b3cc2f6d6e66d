// The HTTP query parsing of the server: the first line is a request target
// ("/api/runs/p/r/samples?gold=pos&min_confidence=0.5"), split by DecodePath
// and percent-decoded into parameters as the server does, then given to
// ParseSampleParams; the rest is a JSON body given to ParseSampleJson.
#include "fuzz_util.h"
#include "server/sample_query.h"
#include "server/static_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sextant;
  static const std::vector<std::string> kLabels = {"neg", "pos", "neu"};
  const auto [target, body] = fuzz::SplitFirstLine(fuzz::AsText(data, size));
  (void)server::DecodePath(target);
  const auto params = fuzz::QueryParams<server::Params>(target, server::DecodeSegment);
  if (auto r = server::ParseSampleParams(params, kLabels); r.ok()) {
    SEXTANT_FUZZ_CHECK(r->limit >= 0 && r->limit <= server::kMaxPageSize);
    SEXTANT_FUZZ_CHECK(r->offset >= 0);
  }
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    if (auto r = server::ParseSampleJson(json, kLabels); r.ok()) {
      SEXTANT_FUZZ_CHECK(r->limit >= 0 && r->limit <= server::kMaxPageSize);
    }
  }
  return 0;
}
