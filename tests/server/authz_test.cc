// Authorization of every route of the API's table (api.cc, kEndpoints): for
// each route, no key and an invalid key get 401, a key without the route's
// role or without the route's project gets 403, a key with both gets neither,
// and no refusal carries anything stored (sample texts, ids, labels, other
// projects). Routes added to the table are covered without editing this test.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "server/keys.h"
#include "small_run.h"
#include "testing.h"

namespace sextant::server {
namespace {

using json = nlohmann::json;
using sextant::testing::TempDir;

// A concrete path for a route's pattern, in `project` (run "r", split
// training, sample t1, selection "s"; "**" one segment).
std::vector<std::string> PathFor(const std::string& pattern, const std::string& project) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= pattern.size()) {
    const size_t slash = pattern.find('/', start);
    segments.push_back(pattern.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    std::string& s = segments[i];
    if (s == "**") {
      s = "x";
    } else if (s == "*") {
      const bool under_runs = segments[0] == "runs";
      if ((under_runs || segments[0] == "projects") && i == 1) {
        s = project;
      } else if (under_runs && i == 2) {
        s = "r";
      } else if (i >= 1 && segments[i - 1] == "samples") {
        s = "training";
      } else if (i >= 2 && segments[i - 2] == "samples") {
        s = "t1";
      } else {
        s = "s";
      }
    }
  }
  return segments;
}

std::string MethodFor(const RouteInfo& route) { return route.method == "*" ? "GET" : route.method; }

std::string Describe(const RouteInfo& r) {
  return r.method + " " + r.pattern + " (" + AccessName(r.access) + ")";
}

class Authz : public ::testing::Test {
 protected:
  void SetUp() override {
    LogAndFinishSmallRun(tmp_.path(), 12, "p");
    LogAndFinishSmallRun(tmp_.path(), 12, "other");
  }

  ApiResponse Call(const RouteInfo& route, const std::string& project, const Principal* who,
                   bool key_required = true, bool key_presented = false) {
    ApiRequest req;
    req.method = MethodFor(route);
    req.path = PathFor(route.pattern, project);
    req.params = {{"split", "training"}, {"id", "t1"}};
    req.body = R"({"split": "training", "name": "s", "vector": [1, 0, 0, 0]})";
    req.principal = who;
    req.key_required = key_required;
    req.key_presented = key_presented;
    return api_.Handle(req);
  }

  // A refusal with its code, and nothing of what the store holds.
  static void ExpectRefusal(const ApiResponse& r, int status, const std::string& code,
                            const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << what << ": " << r.body;
    EXPECT_EQ(j["error"]["code"], code) << what;
    for (const char* stored : {"text ", "t1", "t2", "\"neg\"", "\"pos\"", "other", "samples\":"}) {
      EXPECT_EQ(r.body.find(stored), std::string::npos)
          << what << ": the refusal shows '" << stored << "': " << r.body;
    }
  }

  TempDir tmp_;
  Api api_{tmp_.path()};
};

TEST_F(Authz, EveryRouteHasAnAccessLevelAndOnlyHealthIsPublic) {
  const auto routes = ApiRoutes();
  ASSERT_GE(routes.size(), 20u);
  for (const RouteInfo& r : routes) {
    EXPECT_EQ(r.access == Access::kPublic, r.pattern == "health") << Describe(r);
    // Every route that changes state needs at least write.
    if (r.method == "DELETE" || r.method == "PUT" ||
        (r.method == "POST" && r.pattern.find("/query") == std::string::npos &&
         r.pattern.find("similar") == std::string::npos && r.pattern != "health")) {
      EXPECT_GE(static_cast<int>(r.access), static_cast<int>(Access::kWrite)) << Describe(r);
    }
  }
}

TEST_F(Authz, NoKeyOrAnInvalidKeyIsUnauthenticatedOnEveryRoute) {
  for (const RouteInfo& r : ApiRoutes()) {
    const std::string what = Describe(r);
    if (r.access == Access::kPublic) {
      EXPECT_EQ(Call(r, "p", nullptr).status, 200) << what;
      continue;
    }
    for (bool presented : {false, true}) {
      ApiResponse res = Call(r, "p", nullptr, /*key_required=*/true, presented);
      ExpectRefusal(res, 401, "unauthenticated", what);
      bool challenge = false;
      for (const auto& [k, v] : res.headers) challenge |= k == "WWW-Authenticate" && v == "Bearer";
      EXPECT_TRUE(challenge) << what;
    }
    // A project that does not exist gets the same 401, not a 404.
    ExpectRefusal(Call(r, "nosuchproject", nullptr), 401, "unauthenticated", what);
  }
}

TEST_F(Authz, AKeyWithoutTheRouteRoleIsDenied) {
  const Principal reader{"kread", Role::kRead, {}};
  const Principal writer{"kwrite", Role::kWrite, {}};
  int write_routes = 0;
  for (const RouteInfo& r : ApiRoutes()) {
    const std::string what = Describe(r);
    if (r.access == Access::kWrite || r.access == Access::kAdmin) {
      ++write_routes;
      ApiResponse res = Call(r, "p", &reader);
      ExpectRefusal(res, 403, "permission_denied", what);
      EXPECT_NE(res.body.find("kread"), std::string::npos) << res.body;  // names the key
      EXPECT_NE(res.body.find("read role"), std::string::npos) << res.body;
    }
    if (r.access == Access::kAdmin) {
      ExpectRefusal(Call(r, "p", &writer), 403, "permission_denied", what);
    }
  }
  EXPECT_GE(write_routes, 4);  // selections: create, delete, add, remove
}

TEST_F(Authz, AKeyOfAnotherProjectIsDeniedOnEveryProjectRoute) {
  const Principal scoped{"kscoped", Role::kAdmin, {"other"}};
  int project_routes = 0;
  for (const RouteInfo& r : ApiRoutes()) {
    if (r.pattern.rfind("runs/*", 0) != 0 && r.pattern.rfind("projects/*", 0) != 0) continue;
    ++project_routes;
    const std::string what = Describe(r);
    ApiResponse res = Call(r, "p", &scoped);
    ExpectRefusal(res, 403, "permission_denied", what);
    // A project that does not exist gets the same answer: existence is not told.
    ApiResponse missing = Call(r, "nosuchproject", &scoped);
    EXPECT_EQ(missing.status, 403) << what;
    std::string message = json::parse(missing.body)["error"]["message"];
    message.replace(message.find("nosuchproject"), 13, "p");
    EXPECT_EQ(message, json::parse(res.body)["error"]["message"]) << what;
    // Its own project answers (whatever the handler says of the request).
    ApiResponse own = Call(r, "other", &scoped);
    EXPECT_NE(own.status, 401) << what;
    EXPECT_NE(own.status, 403) << what << ": " << own.body;
  }
  // runs, samples, similar, exports, selections: all under runs/{project}/.
  EXPECT_GE(project_routes, 20);
}

TEST_F(Authz, AKeyWithTheRoleAndProjectIsServedOnEveryRoute) {
  for (const RouteInfo& r : ApiRoutes()) {
    const Role role = r.access == Access::kAdmin   ? Role::kAdmin
                      : r.access == Access::kWrite ? Role::kWrite
                                                   : Role::kRead;
    // Scoped to the route's project; unscoped above projects (GET keys needs that).
    const bool under_runs =
        r.pattern.rfind("runs/", 0) == 0 || r.pattern.rfind("projects/", 0) == 0;
    const Principal exact{"kexact", role,
                          under_runs ? std::vector<std::string>{"p"} : std::vector<std::string>{}};
    for (const Principal* who : {&exact}) {
      ApiResponse res = Call(r, "p", who);
      EXPECT_NE(res.status, 401) << Describe(r);
      EXPECT_NE(res.status, 403) << Describe(r) << ": " << res.body;
    }
  }
}

TEST_F(Authz, AnOpenServerNeedsNoKey) {
  for (const RouteInfo& r : ApiRoutes()) {
    ApiResponse res = Call(r, "p", nullptr, /*key_required=*/false);
    EXPECT_NE(res.status, 401) << Describe(r);
    EXPECT_NE(res.status, 403) << Describe(r);
  }
}

TEST_F(Authz, UnknownPathsAndMethodsNeedAKeyOfTheProject) {
  const Principal scoped{"kscoped", Role::kAdmin, {"other"}};
  ApiRequest req;
  req.method = "GET";
  req.path = {"runs", "p", "r", "nosuchroute"};
  req.key_required = true;
  EXPECT_EQ(api_.Handle(req).status, 401);
  req.principal = &scoped;
  EXPECT_EQ(api_.Handle(req).status, 403);
  req.path = {"nosuchroute"};
  req.principal = nullptr;
  EXPECT_EQ(api_.Handle(req).status, 401);
  req.method = "PATCH";
  req.path = {"runs", "p", "r"};
  req.principal = &scoped;
  EXPECT_EQ(api_.Handle(req).status, 403);
}

TEST_F(Authz, RunListShowsOnlyTheKeysProjects) {
  auto list = [&](const Principal* who) {
    ApiRequest req;
    req.method = "GET";
    req.path = {"runs"};
    req.principal = who;
    req.key_required = true;
    ApiResponse r = api_.Handle(req);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> projects;
    const json body = json::parse(r.body);
    for (const auto& run : body["runs"]) projects.push_back(run["project"]);
    std::sort(projects.begin(), projects.end());
    return projects;
  };
  const Principal all{"kall", Role::kRead, {}};
  const Principal scoped{"kscoped", Role::kRead, {"p"}};
  const Principal none{"knone", Role::kRead, {"nosuchproject"}};
  EXPECT_EQ(list(&all), (std::vector<std::string>{"other", "p"}));
  EXPECT_EQ(list(&scoped), (std::vector<std::string>{"p"}));
  EXPECT_EQ(list(&none), std::vector<std::string>{});
}

TEST_F(Authz, KeyListIsForAnAdminOfEveryProjectAndShowsNoSecret) {
  auto keys = KeyStore::Open(tmp_.path());
  ASSERT_OK(keys.status());
  auto secret = (*keys)->Create("ci", Role::kWrite, {"p"});
  ASSERT_OK(secret.status());
  Api api(tmp_.path(), Services{.keys = keys->get()});
  ApiRequest req;
  req.method = "GET";
  req.path = {"keys"};
  req.key_required = true;
  const Principal admin{"root", Role::kAdmin, {}};
  const Principal scoped_admin{"padmin", Role::kAdmin, {"p"}};
  const Principal writer{"w", Role::kWrite, {}};
  req.principal = &admin;
  ApiResponse r = api.Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["keys"][0]["name"], "ci");
  EXPECT_EQ(json::parse(r.body)["keys"][0]["projects"], json::array({"p"}));
  EXPECT_EQ(r.body.find(secret->substr(secret->size() - 64)), std::string::npos);
  EXPECT_EQ(r.body.find("sxk_"), std::string::npos);
  req.principal = &scoped_admin;
  EXPECT_EQ(api.Handle(req).status, 403);
  req.principal = &writer;
  EXPECT_EQ(api.Handle(req).status, 403);
}

TEST_F(Authz, WhoamiDescribesTheKey) {
  const Principal scoped{"ci-uploader", Role::kWrite, {"p"}};
  ApiRequest req;
  req.method = "GET";
  req.path = {"whoami"};
  req.principal = &scoped;
  req.key_required = true;
  ApiResponse r = api_.Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["key_name"], "ci-uploader");
  EXPECT_EQ(j["role"], "write");
  EXPECT_EQ(j["projects"], json::array({"p"}));
  req.principal = nullptr;
  EXPECT_EQ(api_.Handle(req).status, 401);
  req.key_required = false;
  j = json::parse(api_.Handle(req).body);
  EXPECT_EQ(j["key_name"], "local");
  EXPECT_EQ(j["role"], "admin");
}

}  // namespace
}  // namespace sextant::server
