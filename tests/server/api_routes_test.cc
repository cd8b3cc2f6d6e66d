// The route table of Api (api.cc): each endpoint answers its methods only
// (another method is 400 naming it), an unknown path is 404, and the run of
// /runs/{project}/{run}/... is looked up before the route.
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "sextant/client.h"
#include "small_run.h"
#include "testing.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sextant::testing::TempDir;

struct Answer {
  int status;
  std::string code;
  std::string message;
};

Answer Call(const Api& api, const std::string& method, std::vector<std::string> path,
            Params params = {}, std::string body = "") {
  ApiResponse r = api.Handle({method, std::move(path), std::move(params), std::move(body)});
  Answer a{r.status, "", ""};
  if (r.status >= 400) {
    auto j = json::parse(r.body);
    a.code = j["error"]["code"];
    a.message = j["error"]["message"];
  }
  return a;
}

TEST(ApiRoutes, EachEndpointAnswersItsMethods) {
  TempDir tmp;
  LogAndFinishSmallRun(tmp.path(), 12);
  Api api(tmp.path());
  const Params training = {{"split", "training"}};
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r"}).status, 200);
  EXPECT_EQ(Call(api, "HEAD", {"runs", "p", "r"}).status, 200);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "summary"}).status, 200);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "samples"}, training).status, 200);
  EXPECT_EQ(
      Call(api, "POST", {"runs", "p", "r", "samples", "query"}, {}, R"({"split": "training"})")
          .status,
      200);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "samples", "training", "t3"}).status, 200);
  EXPECT_EQ(
      Call(api, "GET", {"runs", "p", "r", "similar"}, {{"split", "training"}, {"id", "t1"}}).status,
      200);
  EXPECT_EQ(
      Call(api, "POST", {"runs", "p", "r", "similar"}, {}, R"({"vector": [1, 0, 0, 0]})").status,
      200);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "export"}, training).status, 200);
  EXPECT_EQ(Call(api, "POST", {"runs", "p", "r", "selections"}, {}, R"({"name": "s"})").status,
            201);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "selections"}).status, 200);
  EXPECT_EQ(Call(api, "POST", {"runs", "p", "r", "selections", "s", "add"}, {},
                 R"({"items": [{"split": "training", "id": "t1"}]})")
                .status,
            200);
  EXPECT_EQ(Call(api, "POST", {"runs", "p", "r", "selections", "s", "remove"}, {},
                 R"({"items": [{"split": "training", "id": "t1"}]})")
                .status,
            200);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "selections", "s", "export"}).status, 200);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "selections", "s"}).status, 200);
  EXPECT_EQ(Call(api, "DELETE", {"runs", "p", "r", "selections", "s"}).status, 200);
  // Health answers any method.
  EXPECT_EQ(Call(api, "POST", {"health"}).status, 200);
}

TEST(ApiRoutes, AnotherMethodIsRefusedNamingIt) {
  TempDir tmp;
  LogAndFinishSmallRun(tmp.path(), 12);
  Api api(tmp.path());
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"POST", {"runs"}},
           {"DELETE", {"runs", "p", "r"}},
           {"POST", {"runs", "p", "r", "summary"}},
           {"POST", {"runs", "p", "r", "samples"}},
           {"GET", {"runs", "p", "r", "samples", "query"}},
           {"DELETE", {"runs", "p", "r", "similar"}},
           {"POST", {"runs", "p", "r", "spans", "map"}},
           {"POST", {"runs", "p", "r", "spans", "anything"}},
           {"PUT", {"runs", "p", "r", "selections"}},
           {"POST", {"runs", "p", "r", "selections", "s"}},
           {"GET", {"runs", "p", "r", "selections", "s", "add"}},
           {"POST", {"runs", "p", "r", "selections", "s", "export"}}}) {
    std::string joined = "/api";
    for (const auto& s : path) joined += "/" + s;
    Answer a = Call(api, method, path);
    EXPECT_EQ(a.status, 400) << method << " " << joined;
    EXPECT_EQ(a.code, "invalid_argument") << method << " " << joined;
    EXPECT_EQ(a.message, "method " + method + " is not supported on " + joined);
  }
}

TEST(ApiRoutes, UnknownPathsAreNotFound) {
  TempDir tmp;
  LogAndFinishSmallRun(tmp.path(), 12);
  Api api(tmp.path());
  Answer a = Call(api, "GET", {"runs", "p", "r", "nothing"});
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.message, "no API endpoint /api/runs/p/r/nothing (see docs/http-api.md)");
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "samples", "x"}).status, 404);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "selections", "s", "x"}).status, 404);
  EXPECT_EQ(Call(api, "GET", {"runs", "p", "r", "summary", "x"}).status, 404);
  EXPECT_EQ(Call(api, "GET", {"health", "x"}).status, 404);
  EXPECT_EQ(Call(api, "GET", {}).status, 404);
  a = Call(api, "GET", {"runs", "p"});
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.message, "expected /api/runs/{project}/{run}");
  a = Call(api, "GET", {"runs", "p", "r", "spans", "x"});
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.message, "expected /spans, /spans/map or /spans/similar");
  // The run is looked up first: an unknown run is 404 whatever the method.
  a = Call(api, "DELETE", {"runs", "p", "missing", "summary"});
  EXPECT_EQ(a.status, 404);
  EXPECT_NE(a.message.find("p/missing"), std::string::npos) << a.message;
}

}  // namespace
}  // namespace sextant::server
