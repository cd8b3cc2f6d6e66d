#include "server/api.h"

#include "testing.h"

namespace sextant::server {
namespace {

using json = nlohmann::json;
using sextant::testing::TempDir;

ApiResponse Get(const Api& api, std::vector<std::string> path, Params params = {}) {
  return api.Handle({"GET", std::move(path), std::move(params), ""});
}

TEST(Api, StatusBecomesAnHttpCodeAndAJsonError) {
  EXPECT_EQ(HttpStatus(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatus(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatus(StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatus(StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatus(StatusCode::kIOError), 500);
  EXPECT_EQ(HttpStatus(StatusCode::kInternal), 500);
  ApiResponse r = ErrorResponse(Status::Invalid("gold: 'x' is not a label"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  auto j = json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "invalid_argument");
  EXPECT_EQ(j["error"]["message"], "gold: 'x' is not a label");
  r = UnauthenticatedResponse("token");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unauthenticated");
}

TEST(Api, RoutesWithoutRuns) {
  TempDir tmp;
  Api api(tmp.path());
  ApiResponse r = Get(api, {"health"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["ok"], true);
  r = Get(api, {"runs"});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(json::parse(r.body)["runs"].empty());
  r = Get(api, {"runs", "p", "r", "samples"}, {{"split", "training"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find("p/r"),
            std::string::npos);
  r = Get(api, {"runs", "..", "r"});
  EXPECT_EQ(r.status, 400);
  r = Get(api, {"nothing"});
  EXPECT_EQ(r.status, 404);
  r = api.Handle({"DELETE", {"runs"}, {}, ""});
  EXPECT_EQ(r.status, 400);
}

}  // namespace
}  // namespace sextant::server
