// The console's JSON API without HTTP (src/server/api.h): a request is
// "METHOD TARGET" on the first line and a body after it. The target goes
// through DecodePath and the query decoding as in http_server.cc, then
// Api::Handle answers it over a small finished run; every answer must be a
// valid HTTP status and, for JSON, parseable JSON.
#include <nlohmann/json.hpp>

#include "fixture_run.h"
#include "server/api.h"
#include "server/static_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sextant;
  static const server::Api api(fuzz::FixtureRoot());
  const auto [line, body] = fuzz::SplitFirstLine(fuzz::AsText(data, size));
  const size_t sp = line.find(' ');
  server::ApiRequest request;
  request.method = line.substr(0, sp);
  const std::string target = sp == std::string::npos ? "" : line.substr(sp + 1);
  auto path = server::DecodePath(target);
  if (!path || path->empty() || (*path)[0] != "api") return 0;
  request.path.assign(path->begin() + 1, path->end());
  request.params = fuzz::QueryParams<server::Params>(target, server::DecodeSegment);
  request.body = body;
  // Deleting or filling selections is fine; the run's own data must stay readable.
  const server::ApiResponse response = api.Handle(request);
  SEXTANT_FUZZ_CHECK(response.status >= 200 && response.status < 600);
  if (response.content_type == "application/json") {
    SEXTANT_FUZZ_CHECK(nlohmann::json::accept(response.body));
  }
  return 0;
}
