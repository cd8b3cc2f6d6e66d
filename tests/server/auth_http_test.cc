// API keys and TLS through the real server (127.0.0.1, port 0), with
// httplib's client: every route of the table refuses a missing, wrong,
// read-only or other-project key over HTTP; the --token is an admin key;
// revocation applies on the next request; an open loopback server needs a
// key as soon as one exists; off-loopback needs a key to start; HTTPS with a
// self-signed certificate made at test time, and plain HTTP to it fails
// cleanly. Every wait is bounded (generous bounds, never a measurement).
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/api.h"
#include "server/keys.h"
#include "sextant/server.h"
#include "small_run.h"
#include "testing.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sextant::testing::TempDir;

class Running {
 public:
  explicit Running(ServerOptions o) {
    if (o.host.empty()) o.host = "127.0.0.1";
    o.port = 0;
    auto s = Server::Start(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return;
    server_ = std::move(s).value();
    thread_ = std::thread([this] { (void)server_->Run(); });
  }
  ~Running() {
    if (!server_) return;
    server_->Stop();
    thread_.join();
  }
  bool ok() const { return server_ != nullptr; }
  int port() const { return server_->port(); }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

std::string Secret(KeyStore& keys, const std::string& name, Role role,
                   std::vector<std::string> projects = {}) {
  auto s = keys.Create(name, role, std::move(projects));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : "";
}

// Same concrete paths as authz_test.cc: run r, split training, sample t1, selection s.
std::string TargetFor(const std::string& pattern, const std::string& project) {
  std::vector<std::string> seg;
  size_t start = 0;
  while (true) {
    const size_t slash = pattern.find('/', start);
    seg.push_back(pattern.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::string out = "/api";
  for (size_t i = 0; i < seg.size(); ++i) {
    std::string s = seg[i];
    if (s == "**") s = "x";
    if (s == "*") {
      if (seg[0] == "runs" && i == 1)
        s = project;
      else if (seg[0] == "runs" && i == 2)
        s = "r";
      else if (seg[i - 1] == "samples")
        s = "training";
      else if (i >= 2 && seg[i - 2] == "samples")
        s = "t1";
      else
        s = "s";
    }
    out += "/" + s;
  }
  return out + "?split=training&id=t1";
}

struct Answer {
  int status = 0;
  std::string body;
  std::string challenge;  // WWW-Authenticate
};

template <typename ClientT>  // httplib::Client or httplib::SSLClient
Answer Send(ClientT& cli, const std::string& method, const std::string& target,
            const std::string& key) {
  httplib::Headers h;
  if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
  const std::string body = R"({"split": "training", "name": "s", "vector": [1, 0, 0, 0]})";
  httplib::Result r = method == "POST"     ? cli.Post(target, h, body, "application/json")
                      : method == "DELETE" ? cli.Delete(target, h)
                      : method == "PUT"    ? cli.Put(target, h, body, "application/json")
                                           : cli.Get(target, h);
  if (!r) return {};
  return {r->status, r->body, r->get_header_value("WWW-Authenticate")};
}

void ExpectNothingStored(const Answer& a, const std::string& what) {
  for (const char* stored : {"text ", "t1", "\"neg\"", "\"pos\"", "other", "sxk_"}) {
    EXPECT_EQ(a.body.find(stored), std::string::npos)
        << what << ": the refusal shows '" << stored << "': " << a.body;
  }
}

class HttpAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    LogAndFinishSmallRun(tmp_.path(), 12, "p");
    LogAndFinishSmallRun(tmp_.path(), 12, "other");
    auto k = KeyStore::Open(tmp_.path());
    ASSERT_OK(k.status());
    keys_ = std::move(k).value();
  }
  ServerOptions Options() const {
    ServerOptions o;
    o.root = tmp_.path();
    o.static_dir = tmp_.path() / "no-console";
    return o;
  }

  TempDir tmp_;
  std::unique_ptr<KeyStore> keys_;
};

TEST_F(HttpAuth, EveryRouteRefusesMissingWrongReadOnlyAndOtherProjectKeys) {
  const std::string admin = Secret(*keys_, "kadmin", Role::kAdmin);
  const std::string reader = Secret(*keys_, "kread", Role::kRead);
  const std::string scoped = Secret(*keys_, "kscoped", Role::kAdmin, {"other"});
  std::string wrong = admin;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  Running s(Options());
  ASSERT_TRUE(s.ok());
  httplib::Client cli("127.0.0.1", s.port());
  cli.set_read_timeout(60, 0);
  int checked = 0;
  for (const RouteInfo& r : ApiRoutes()) {
    const std::string method = r.method == "*" ? "GET" : r.method;
    const std::string target = TargetFor(r.pattern, "p");
    const std::string what = method + " " + target;
    if (r.access == Access::kPublic) {
      EXPECT_EQ(Send(cli, method, target, "").status, 200) << what;
      continue;
    }
    ++checked;
    for (const std::string& key : {std::string(), wrong, std::string("Bearer"), std::string("x")}) {
      const Answer a = Send(cli, method, target, key);
      EXPECT_EQ(a.status, 401) << what << " with key '" << key << "': " << a.body;
      EXPECT_EQ(a.challenge, "Bearer") << what;
      ExpectNothingStored(a, what);
    }
    if (r.access != Access::kRead) {
      const Answer a = Send(cli, method, target, reader);
      EXPECT_EQ(a.status, 403) << what << ": " << a.body;
      ExpectNothingStored(a, what);
    }
    if (r.pattern.rfind("runs/*", 0) == 0) {
      const Answer a = Send(cli, method, target, scoped);
      EXPECT_EQ(a.status, 403) << what << ": " << a.body;
      ExpectNothingStored(a, what);
    }
    const Answer ok = Send(cli, method, target, admin);
    EXPECT_NE(ok.status, 401) << what;
    EXPECT_NE(ok.status, 403) << what << ": " << ok.body;
    EXPECT_NE(ok.status, 0) << what;
  }
  EXPECT_GE(checked, 20);
  // The scoped key lists its own project only; the reader lists both.
  auto projects = [&](const std::string& key) {
    const Answer a = Send(cli, "GET", "/api/runs", key);
    EXPECT_EQ(a.status, 200) << a.body;
    std::vector<std::string> out;
    const json body = json::parse(a.body);
    for (const auto& run : body["runs"]) out.push_back(run["project"]);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(projects(scoped), std::vector<std::string>{"other"});
  EXPECT_EQ(projects(reader), (std::vector<std::string>{"other", "p"}));
  // ?token= carries a key too (the console's download links).
  EXPECT_EQ(Send(cli, "GET", "/api/runs/p/r?token=" + reader, "").status, 200);
  // The key's last use is recorded (never its secret).
  auto list = keys_->List();
  ASSERT_OK(list.status());
  for (const KeyInfo& k : *list) EXPECT_TRUE(k.last_used_at.has_value()) << k.name;
}

TEST_F(HttpAuth, TokenIsAnAdminKeyNamedTokenAndHealthIsPublic) {
  ServerOptions o = Options();
  o.token = "s3cret-token";
  Running s(o);
  ASSERT_TRUE(s.ok());
  httplib::Client cli("127.0.0.1", s.port());
  EXPECT_EQ(Send(cli, "GET", "/api/health", "").status, 200);
  EXPECT_EQ(Send(cli, "GET", "/api/runs", "").status, 401);
  const Answer who = Send(cli, "GET", "/api/whoami", "s3cret-token");
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(json::parse(who.body)["key_name"], "token");
  EXPECT_EQ(json::parse(who.body)["role"], "admin");
  // Keys work next to the token.
  const std::string reader = Secret(*keys_, "kread", Role::kRead, {"p"});
  const Answer r = Send(cli, "GET", "/api/whoami", reader);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      json::parse(r.body),
      json({{"key_name", "kread"}, {"role", "read"}, {"projects", {"p"}}, {"key_required", true}}));
}

TEST_F(HttpAuth, RevokedKeyIsRefusedOnItsNextRequest) {
  const std::string writer = Secret(*keys_, "ci", Role::kWrite);
  const std::string other = Secret(*keys_, "keep", Role::kRead);
  Running s(Options());
  ASSERT_TRUE(s.ok());
  httplib::Client cli("127.0.0.1", s.port());
  EXPECT_EQ(Send(cli, "POST", "/api/runs/p/r/selections", writer).status, 201);
  // Revoked by another process (a KeyStore of its own, as `sextant keys revoke`).
  auto cli_keys = KeyStore::Open(tmp_.path());
  ASSERT_OK(cli_keys.status());
  ASSERT_OK((*cli_keys)->Revoke("ci"));
  EXPECT_EQ(Send(cli, "GET", "/api/runs", writer).status, 401);
  EXPECT_EQ(Send(cli, "GET", "/api/runs", other).status, 200);
}

TEST_F(HttpAuth, OpenLoopbackServerNeedsAKeyAsSoonAsOneExists) {
  Running s(Options());
  ASSERT_TRUE(s.ok());
  httplib::Client cli("127.0.0.1", s.port());
  const Answer open = Send(cli, "GET", "/api/whoami", "");
  ASSERT_EQ(open.status, 200) << open.body;
  EXPECT_EQ(json::parse(open.body)["key_name"], "local");
  // DNS rebinding: a foreign Host is refused while no key is needed...
  httplib::Headers foreign = {{"Host", "evil.example"}};
  auto r = cli.Get("/api/runs", foreign);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 421);
  const std::string key = Secret(*keys_, "first", Role::kAdmin);
  EXPECT_EQ(Send(cli, "GET", "/api/runs", "").status, 401);
  EXPECT_EQ(Send(cli, "GET", "/api/runs", key).status, 200);
  // ...and then needs the key like any other request.
  r = cli.Get("/api/runs", foreign);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(HttpAuth, OffLoopbackNeedsAKeyToStartAndAlways) {
  ServerOptions o = Options();
  o.host = "0.0.0.0";
  o.port = 0;
  EXPECT_STATUS(Server::Start(o).status(), kInvalidArgument, "0.0.0.0", "sextant keys create");
  const std::string key = Secret(*keys_, "ops", Role::kAdmin);
  Running s(o);
  ASSERT_TRUE(s.ok());
  httplib::Client cli("127.0.0.1", s.port());
  EXPECT_EQ(Send(cli, "GET", "/api/runs", key).status, 200);
  // With every key revoked, the server does not fall open.
  ASSERT_OK(keys_->Revoke("ops"));
  EXPECT_EQ(Send(cli, "GET", "/api/runs", "").status, 401);
  EXPECT_EQ(Send(cli, "GET", "/api/runs", key).status, 401);
}

// ---- TLS

// A self-signed certificate for 127.0.0.1 and localhost, made with Debian's openssl.
bool MakeCertificate(const fs::path& dir) {
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
      (dir / "key.pem").string() + "' -out '" + (dir / "cert.pem").string() + "' 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string ReadAll(int fd) {
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, n);
  return got;
}

TEST_F(HttpAuth, ServesHttpsWithTheGivenCertificate) {
  ASSERT_TRUE(MakeCertificate(tmp_.path()));
  const std::string key = Secret(*keys_, "ops", Role::kAdmin);
  ServerOptions o = Options();
  o.tls_cert = tmp_.path() / "cert.pem";
  o.tls_key = tmp_.path() / "key.pem";
  o.request_timeout_s = 2;  // for the silent client below
  o.max_body_bytes = 4096;
  Running s(o);
  ASSERT_TRUE(s.ok());
  httplib::SSLClient cli("127.0.0.1", s.port());
  cli.set_ca_cert_path((tmp_.path() / "cert.pem").c_str());
  cli.enable_server_certificate_verification(true);
  cli.set_read_timeout(60, 0);
  const Answer health = Send(cli, "GET", "/api/health", "");
  ASSERT_EQ(health.status, 200) << "TLS request failed";
  EXPECT_TRUE(json::parse(health.body)["ok"]);
  EXPECT_EQ(Send(cli, "GET", "/api/runs", "").status, 401);
  const Answer runs = Send(cli, "GET", "/api/runs", key);
  ASSERT_EQ(runs.status, 200);
  EXPECT_EQ(json::parse(runs.body)["runs"].size(), 2u);
  // Keep-alive: several requests on one TLS connection, one of a large answer.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Send(cli, "GET", "/api/runs/p/r/export?split=training", key).status, 200);
  }
  // The body limit holds under TLS.
  httplib::Headers h = {{"Authorization", "Bearer " + key}};
  auto big =
      cli.Post("/api/runs/p/r/samples/query", h, std::string(10000, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);

  // Plain HTTP to the HTTPS port: a plain 400 saying so, then the connection closes.
  int fd = Connect(s.port());
  const std::string plain = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(send(fd, plain.data(), plain.size(), MSG_NOSIGNAL), static_cast<ssize_t>(plain.size()));
  const std::string answer = ReadAll(fd);
  close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("HTTPS"), std::string::npos) << answer;

  // A client that connects and never starts the handshake is closed at the
  // request deadline (2 s; the read gives up after 30 s).
  fd = Connect(s.port());
  EXPECT_EQ(ReadAll(fd), "");
  close(fd);

  // And the server still answers.
  EXPECT_EQ(Send(cli, "GET", "/api/health", "").status, 200);
}

TEST_F(HttpAuth, RefusesUnusableTlsFilesNamingThem) {
  ASSERT_TRUE(MakeCertificate(tmp_.path()));
  ServerOptions o = Options();
  o.tls_cert = tmp_.path() / "cert.pem";
  EXPECT_STATUS(Server::Start(o).status(), kInvalidArgument, "tls_key");
  o.tls_key = tmp_.path() / "missing.pem";
  EXPECT_STATUS(Server::Start(o).status(), kInvalidArgument, "tls_key", "missing.pem");
  o.tls_key = tmp_.path() / "key.pem";
  o.tls_cert = tmp_.path() / "key.pem";
  EXPECT_STATUS(Server::Start(o).status(), kInvalidArgument, "tls_cert");
  // A key that is not the certificate's.
  fs::create_directories(tmp_.path() / "b");
  ASSERT_TRUE(MakeCertificate(tmp_.path() / "b"));
  o.tls_cert = tmp_.path() / "cert.pem";
  o.tls_key = tmp_.path() / "b" / "key.pem";
  EXPECT_STATUS(Server::Start(o).status(), kInvalidArgument, "is not the key");
}

}  // namespace
}  // namespace sextant::server
