// The real server on 127.0.0.1 (port 0), driven over raw sockets: slow and
// silent clients, oversized bodies, foreign Host and Origin headers, Stop().
// Every wait is bounded (generous bounds, never a timing measurement).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "sextant/server.h"
#include "testing.h"

namespace sextant {
namespace {

using namespace std::chrono_literals;

class Running {
 public:
  explicit Running(ServerOptions o) {
    o.host = "127.0.0.1";
    o.port = 0;
    // A folder of its own: the server keeps its keys under <root>/.server.
    if (o.root.empty()) o.root = root_.path();
    auto s = Server::Start(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { run_status_ = server_->Run(); });
  }
  ~Running() {
    server_->Stop();
    thread_.join();
  }
  int port() const { return server_->port(); }
  Server& server() { return *server_; }
  // Stops and waits for Run() to return.
  Status StopAndJoin() {
    server_->Stop();
    thread_.join();
    thread_ = std::thread([] {});
    return run_status_;
  }

 private:
  sextant::testing::TempDir root_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  Status run_status_;
};

// A connected socket whose reads give up after `timeout`.
int Connect(int port, std::chrono::seconds timeout = 20s) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

// Reads one answer (head and Content-Length body); what came before a timeout
// or the end of the stream otherwise.
std::string ReadAnswer(int fd) {
  std::string got;
  char buf[4096];
  for (;;) {
    const size_t head_end = got.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const size_t at = got.find("Content-Length: ");
      const size_t length = at < head_end ? std::stoul(got.substr(at + 16)) : 0;
      if (got.size() >= head_end + 4 + length) return got;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
}

int StatusOf(const std::string& answer) {
  if (answer.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::atoi(answer.c_str() + 9);
}

std::string HostHeader(int port) { return "Host: 127.0.0.1:" + std::to_string(port) + "\r\n"; }

// One request on a fresh connection; its status and answer.
std::string Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
  SendAll(fd, request);
  std::string answer = ReadAnswer(fd);
  close(fd);
  return answer;
}

std::string Get(int port, const std::string& target) {
  return Exchange(
      port, "GET " + target + " HTTP/1.1\r\n" + HostHeader(port) + "Connection: close\r\n\r\n");
}

TEST(HttpServer, RefusesBadLimitsNamingThem) {
  sextant::testing::TempDir root;
  ServerOptions o;
  o.root = root.path();
  o.port = 0;
  o.max_connections = 0;
  EXPECT_STATUS(Server::Start(o).status(), kInvalidArgument, "max_connections");
  o.max_connections = 10;
  o.request_timeout_s = 0;
  EXPECT_STATUS(Server::Start(o).status(), kInvalidArgument, "request_timeout_s");
}

TEST(HttpServer, SlowAndSilentClientsDoNotBlockOthers) {
  Running s({});
  // 200 clients that connect and send nothing, and 8 that send one header
  // line now and then and never finish (httplib's fixed pool of threads was
  // taken by them, and nobody else was answered).
  std::vector<int> silent, slow;
  for (int i = 0; i < 200; ++i) silent.push_back(Connect(s.port()));
  for (int i = 0; i < 8; ++i) {
    slow.push_back(Connect(s.port()));
    SendAll(slow.back(), "GET /api/health HTTP/1.1\r\n" + HostHeader(s.port()));
  }
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    for (int i = 0; i < 200 && !done; ++i) {
      for (int fd : slow) SendAll(fd, "X-Slow-" + std::to_string(i) + ": 1\r\n");
      std::this_thread::sleep_for(100ms);
    }
  });
  const std::string answer = Get(s.port(), "/api/health");
  done = true;
  trickle.join();
  EXPECT_EQ(StatusOf(answer), 200) << answer;
  for (int fd : silent) close(fd);
  for (int fd : slow) close(fd);
}

TEST(HttpServer, ConnectionLimitsCloseAnIdleConnectionToMakeRoom) {
  ServerOptions o;
  o.max_connections = 4;
  o.max_connections_per_client = 4;
  Running s(o);
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect(s.port()));
  // The limit is reached by idle connections: one of them makes room.
  EXPECT_EQ(StatusOf(Get(s.port(), "/api/health")), 200);
  for (int fd : idle) close(fd);
}

TEST(HttpServer, ConnectionLimitsAnswer503WhenEveryConnectionIsBusy) {
  ServerOptions o;
  o.max_connections = 4;
  o.max_connections_per_client = 4;
  Running s(o);
  std::vector<int> busy;  // requests whose head never ends
  for (int i = 0; i < 4; ++i) {
    busy.push_back(Connect(s.port()));
    SendAll(busy.back(), "GET /api/health HTTP/1.1\r\n");
  }
  // Give the server time to see the bytes (bounded: waits for a 503 at most 20 times).
  int status = 0;
  for (int i = 0; i < 20 && status != 503; ++i) {
    std::this_thread::sleep_for(100ms);
    const std::string answer = Get(s.port(), "/api/health");
    status = StatusOf(answer);
    if (status != 200 && status != 503) ADD_FAILURE() << answer;
  }
  EXPECT_EQ(status, 503);
  for (int fd : busy) close(fd);
}

// Reads until the server closes the connection (or the 20 s receive timeout).
bool ClosedByServer(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

TEST(HttpServer, ClosesRequestsNotReceivedInTimeAndIdleConnections) {
  ServerOptions o;
  o.request_timeout_s = 0.5;
  o.idle_timeout_s = 0.5;
  Running s(o);
  // A head that never ends, however steadily it trickles in.
  const int slow = Connect(s.port());
  SendAll(slow, "GET /api/health HTTP/1.1\r\n" + HostHeader(s.port()));
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    for (int i = 0; i < 100 && !done; ++i) {
      SendAll(slow, "X-Slow: 1\r\n");
      std::this_thread::sleep_for(100ms);
    }
  });
  EXPECT_TRUE(ClosedByServer(slow));
  done = true;
  trickle.join();
  close(slow);
  const int silent = Connect(s.port());
  EXPECT_TRUE(ClosedByServer(silent));
  close(silent);
}

TEST(HttpServer, OversizedBodiesAreRefusedBeforeTheyAreRead) {
  Running s({});
  // Only the head is sent: a server that read (or skipped) the 300 MB would
  // wait for it instead of answering.
  const std::string big = Exchange(
      s.port(), "POST /api/runs/p/r/samples/query HTTP/1.1\r\n" + HostHeader(s.port()) +
                    "Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n{\"a\":");
  EXPECT_EQ(StatusOf(big), 413) << big;
  EXPECT_NE(big.find("33554432"), std::string::npos) << big;  // names the limit
  const std::string chunked = Exchange(
      s.port(), "POST /api/runs/p/r/samples/query HTTP/1.1\r\n" + HostHeader(s.port()) +
                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n");
  EXPECT_EQ(StatusOf(chunked), 411) << chunked;
  // Headers without end are cut off too.
  const int fd = Connect(s.port());
  SendAll(fd, "GET /api/health HTTP/1.1\r\n" + HostHeader(s.port()));
  std::string header_flood;
  for (int i = 0; i < 1000; ++i)
    header_flood += "X-Flood-" + std::to_string(i) + ": " + std::string(100, 'x') + "\r\n";
  SendAll(fd, header_flood + "\r\n");
  std::string rest;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) rest.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(rest.find("HTTP/1.1 200"), std::string::npos) << rest;  // refused, then closed
  close(fd);
}

TEST(HttpServer, LoopbackServerAnswersOnlyLoopbackHostNames) {
  Running s({});
  const std::string port = std::to_string(s.port());
  auto with_host = [&](const std::string& host) {
    return Exchange(s.port(),
                    "GET /api/health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
  };
  const std::string rebound = with_host("evil.example:" + port);
  EXPECT_EQ(StatusOf(rebound), 421) << rebound;
  EXPECT_NE(rebound.find("evil.example"), std::string::npos);
  EXPECT_EQ(StatusOf(with_host("127.0.0.1.evil.example")), 421);
  EXPECT_EQ(StatusOf(Exchange(s.port(), "GET /api/health HTTP/1.0\r\n\r\n")), 421);  // no Host
  EXPECT_EQ(StatusOf(with_host("localhost:" + port)), 200);
  EXPECT_EQ(StatusOf(with_host("LOCALHOST")), 200);
  EXPECT_EQ(StatusOf(with_host("127.0.0.1")), 200);
  EXPECT_EQ(StatusOf(with_host("[::1]:" + port)), 200);
}

TEST(HttpServer, StateChangingRequestsNeedJsonFromThisOrigin) {
  Running s({});
  auto post = [&](const std::string& headers) {
    return StatusOf(Exchange(s.port(), "POST /api/runs/p/r/selections HTTP/1.1\r\n" +
                                           HostHeader(s.port()) + headers +
                                           "Content-Length: 12\r\nConnection: close\r\n\r\n"
                                           "{\"name\":\"x\"}"));
  };
  // A form or fetch() from another site can send text/plain without a preflight.
  EXPECT_EQ(post("Content-Type: text/plain\r\n"), 415);
  EXPECT_EQ(post(""), 415);
  EXPECT_EQ(post("Content-Type: application/json\r\nOrigin: http://evil.example\r\n"), 403);
  EXPECT_EQ(post("Content-Type: application/json\r\nOrigin: null\r\n"), 403);
  // The JSON request goes through (404: there is no run p/r in the empty root).
  EXPECT_EQ(post("Content-Type: application/json\r\n"), 404);
  EXPECT_EQ(post("Content-Type: application/json; charset=utf-8\r\nOrigin: http://127.0.0.1:" +
                 std::to_string(s.port()) + "\r\n"),
            404);
}

TEST(HttpServer, AnswersCarrySecurityHeaders) {
  Running s({});
  for (const std::string target : {"/api/health", "/"}) {
    const std::string answer = Get(s.port(), target);
    EXPECT_NE(answer.find("Content-Security-Policy: default-src 'self'; frame-ancestors 'none'"),
              std::string::npos)
        << answer;
    EXPECT_NE(answer.find("X-Content-Type-Options: nosniff"), std::string::npos);
    EXPECT_NE(answer.find("Referrer-Policy: no-referrer"), std::string::npos);
  }
}

TEST(HttpServer, StopLetsARequestInFlightFinish) {
  Running s({});
  // A request in flight: its head is in, its body not yet.
  const int fd = Connect(s.port());
  SendAll(fd, "POST /api/runs/p/r/selections HTTP/1.1\r\n" + HostHeader(s.port()) +
                  "Content-Type: application/json\r\nContent-Length: 12\r\n\r\n");
  const int idle = Connect(s.port());  // an idle keep-alive connection
  std::this_thread::sleep_for(200ms);  // lets the server accept both
  std::thread stopper([&] { EXPECT_OK(s.StopAndJoin()); });
  std::this_thread::sleep_for(200ms);
  SendAll(fd, "{\"name\":\"x\"}");
  const std::string answer = ReadAnswer(fd);
  EXPECT_EQ(StatusOf(answer), 404) << answer;  // answered (no run p/r), not cut off
  stopper.join();
  char c;
  EXPECT_LE(recv(idle, &c, 1, 0), 0);  // the idle connection was closed
  close(fd);
  close(idle);
  // The listener is closed: nobody is accepted any more.
  const int late = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(s.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(connect(late, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  close(late);
}

}  // namespace
}  // namespace sextant
