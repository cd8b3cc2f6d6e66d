// The HTTP wiring: the only file that knows about HTTP. Everything it answers
// comes from Api (JSON) or ResolveStatic (files).
//
// httplib (Debian's 0.11.4) parses and writes HTTP, but its own accept loop is
// not used: it serves connections from a fixed pool of threads, so 8 clients
// sending one header line every 2 s, or 200 silent sockets, left nobody to
// answer anyone else; and it reads a body of any size whole. Here Run() owns
// the accept loop (on httplib's bound socket) and gives each connection a
// thread of its own, up to ServerOptions::max_connections (per client IP too);
// each request is read through DeadlineStream, which bounds the time to
// receive it, the size of its head and of its body; httplib's
// Server::process_request (protected, hence HttpCore) does the rest.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <thread>

#include "common/dask_driver.h"
#include "common/file_util.h"
#include "common/request_budget.h"
#include "server/alerts_api.h"
#include "server/api.h"
#include "server/jobs.h"
#include "server/keys.h"
#include "server/live_ingest.h"
#include "server/metrics.h"
#include "server/run_metrics.h"
#include "server/static_files.h"
#include "server/uploads.h"
#include "sextant/server.h"
#include "sextant/version.h"

namespace sextant {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kNotBuiltPage =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sextant</title></head>"
    "<body><h1>Sextant</h1><p>The web console is not built. Build it with "
    "<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> (or pass "
    "<code>--static DIR</code>), then reload. The JSON API is served under "
    "<a href=\"/api/runs\"><code>/api/</code></a> (docs/http-api.md).</p></body></html>";

// A request's line and headers together (httplib bounds each line to 8 KiB).
constexpr size_t kMaxHeadBytes = 64 << 10;

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i % std::max<size_t>(b.size(), 1)];
  return diff == 0 && !b.empty();
}

void Send(const server::ApiResponse& r, httplib::Response& res) {
  res.status = r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  res.set_header("Cache-Control", "no-store");
  res.set_content(r.body, r.content_type);
}

void SendError(int status, const std::string& code, const std::string& message,
               httplib::Response& res) {
  server::ApiResponse r;
  r.status = status;
  r.body = nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
  Send(r, res);
}

int MillisUntil(Clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30));
}

std::chrono::milliseconds Seconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

// The host of a Host header or of an Origin's authority: "[::1]:8080" -> "::1",
// "localhost:8080" -> "localhost".
std::string HostWithoutPort(const std::string& host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  const size_t colon = host.find(':');
  if (colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {
    return host.substr(0, colon);
  }
  return host;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The connection the current thread serves (for RequestBudget::client_gone and
// to close the connection after a refused request whose body was not read).
thread_local int current_fd = -1;
thread_local bool close_after_request = false;

bool PeerHasGone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

// A connected socket as httplib sees it: reads are buffered, and bounded by
// the request's deadline, head and body sizes; writes by a per-write timeout.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(int fd, int stop_fd, std::chrono::milliseconds write_timeout, int64_t max_body)
      : fd_(fd), stop_fd_(stop_fd), write_timeout_(write_timeout), max_body_(max_body) {}
  ~DeadlineStream() override {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }

  // TLS: the handshake, bounded by `deadline` (a client that stalls in it is
  // one that stalls in its request). From here on every read and write goes
  // through TLS, on the non-blocking socket, with the same limits. False when
  // it fails; *plain_http when the client spoke plain HTTP instead.
  bool AcceptTls(SSL_CTX* ctx, Clock::time_point deadline, bool* plain_http) {
    *plain_http = false;
    const int flags = fcntl(fd_, F_GETFL);
    if (flags < 0 || fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) return false;
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return false;
    ERR_clear_error();
    while (true) {
      const int r = SSL_accept(ssl_);
      if (r == 1) return handshake_done_ = true;
      const int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_SSL) {
        const unsigned long e = ERR_peek_error();
        *plain_http =
            ERR_GET_LIB(e) == ERR_LIB_SSL && (ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST ||
                                              ERR_GET_REASON(e) == SSL_R_HTTPS_PROXY_REQUEST);
      }
      ERR_clear_error();
      if (!WaitTls(err, MillisUntil(deadline))) return false;
    }
  }
  // Sends TLS's close_notify (once, without waiting for the client's).
  void ShutdownTls() {
    if (handshake_done_ && !failed_) (void)SSL_shutdown(ssl_);
    ERR_clear_error();
  }

  // Waits up to `timeout` for the first byte of the next request; false on
  // timeout, or on Stop() when nothing has come.
  bool WaitForRequest(std::chrono::milliseconds timeout) {
    if (pos_ < len_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0)) return true;
    pollfd p[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int n = poll(p, 2, static_cast<int>(timeout.count()));
    return n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  }

  // A limit was hit (time, head or body size): the connection must be closed,
  // whatever httplib answered.
  bool failed() const { return failed_; }

  void BeginRequest(Clock::time_point deadline) {
    deadline_ = deadline;
    in_head_ = true;
    head_bytes_ = body_bytes_ = 0;
    tail_ = 0;
  }

  bool is_readable() const override {
    if (pos_ < len_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0)) return true;
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, MillisUntil(deadline_)) > 0;
  }

  bool is_writable() const override {
    pollfd p{fd_, POLLOUT, 0};
    return poll(&p, 1, static_cast<int>(write_timeout_.count())) > 0 && (p.revents & POLLOUT) != 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == len_) {
      const ssize_t n = ssl_ != nullptr ? ReadTls() : ReadPlain();
      if (n <= 0) return n;
      pos_ = 0;
      len_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, len_ - pos_);
    size_t i = 0;
    for (; in_head_ && i < n; ++i) {
      const char c = buffer_[pos_ + i];
      // The head ends at the first empty line ("\r\n\r\n").
      if (++head_bytes_ > kMaxHeadBytes) {
        failed_ = true;
        return -1;
      }
      tail_ = (tail_ << 8) | static_cast<unsigned char>(c);
      if ((tail_ & 0xffffffffu) == 0x0d0a0d0au) in_head_ = false;
      ptr[i] = c;
    }
    if (i < n) {  // body bytes: copied in one go (uploads send megabytes)
      const size_t body = n - i;
      if (body_bytes_ + static_cast<int64_t>(body) > max_body_) {
        failed_ = true;  // a body without Content-Length (read until the end) past the limit
        return -1;
      }
      body_bytes_ += static_cast<int64_t>(body);
      std::memcpy(ptr + i, buffer_ + pos_ + i, body);
    }
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (ssl_ != nullptr) return WriteTls(ptr, size);
    if (!is_writable()) return -1;
    return send(fd_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(getsockname, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  ssize_t ReadPlain() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, MillisUntil(deadline_)) <= 0) {
      failed_ = true;  // the request's time is up
      return -1;
    }
    return recv(fd_, buffer_, sizeof buffer_, 0);
  }

  ssize_t ReadTls() {
    while (true) {
      ERR_clear_error();
      const int n = SSL_read(ssl_, buffer_, sizeof buffer_);
      if (n > 0) return n;
      const int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify: the end of the stream
      if (!WaitTls(err, MillisUntil(deadline_))) {
        failed_ = true;  // the request's time is up, or the connection broke
        return -1;
      }
    }
  }

  // Writes all of `ptr` (TLS records cannot be half sent), each wait for the
  // socket bounded by the write timeout.
  ssize_t WriteTls(const char* ptr, size_t size) {
    size_t done = 0;
    while (done < size) {
      ERR_clear_error();
      const int chunk = static_cast<int>(std::min<size_t>(size - done, 1 << 20));
      const int n = SSL_write(ssl_, ptr + done, chunk);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (!WaitTls(SSL_get_error(ssl_, n), static_cast<int>(write_timeout_.count()))) {
        failed_ = true;
        return -1;
      }
    }
    return static_cast<ssize_t>(size);
  }

  // After SSL_ERROR_WANT_READ/WRITE: waits up to `timeout_ms` for the socket;
  // false on any other error or on timeout.
  bool WaitTls(int err, int timeout_ms) const {
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) events = POLLIN;
    if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
    if (events == 0) return false;
    pollfd p{fd_, events, 0};
    return poll(&p, 1, timeout_ms) > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }

  void Address(int (*get)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ip.clear();
    port = 0;
    if (get(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
      inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
      inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  int fd_;
  int stop_fd_;
  std::chrono::milliseconds write_timeout_;
  int64_t max_body_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool in_head_ = true;
  bool failed_ = false;
  size_t head_bytes_ = 0;
  int64_t body_bytes_ = 0;
  uint64_t tail_ = 0;
  char buffer_[16384];  // a whole TLS record
  size_t pos_ = 0, len_ = 0;
  SSL* ssl_ = nullptr;
  bool handshake_done_ = false;
};

// httplib's request parsing, routing and answer writing, on our streams.
class HttpCore : public httplib::Server {
 public:
  bool Process(httplib::Stream& stream, bool close_connection, bool& connection_closed) {
    return process_request(stream, close_connection, connection_closed, nullptr);
  }
  // The socket bound by bind_to_port, taken over by Run().
  int TakeListenSocket() { return svr_sock_.exchange(INVALID_SOCKET); }
  int ListenSocket() const { return svr_sock_; }
};

// Closes a connection whose client may still be sending (a refused body):
// closing with unread data would reset the connection and could destroy the
// answer before the client reads it, so read and discard a little first.
void LingeringClose(int fd) {
  shutdown(fd, SHUT_WR);
  char sink[16384];
  const auto until = Clock::now() + std::chrono::seconds(2);
  for (int64_t drained = 0; drained < (4 << 20);) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, MillisUntil(until)) <= 0) break;
    const ssize_t n = recv(fd, sink, sizeof sink, 0);
    if (n <= 0) break;
    drained += n;
  }
  close(fd);
}

// The last OpenSSL error as text (for messages naming a file).
std::string TlsError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

// The server's TLS context: its certificate chain and key (PEM), TLS 1.2 or
// later, OpenSSL's default ciphers.
Result<SSL_CTX*> NewTlsContext(const ServerOptions& o) {
  if (o.tls_cert.empty() || o.tls_key.empty()) {
    return Status::Invalid(std::string(o.tls_cert.empty() ? "tls_cert" : "tls_key") +
                           ": TLS needs both a certificate (--tls-cert) and its key (--tls-key)");
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Status::Internal("cannot create a TLS context: " + TlsError());
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> owned(ctx, SSL_CTX_free);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, o.tls_cert.c_str()) != 1) {
    return Status::Invalid("tls_cert: cannot read a PEM certificate (chain) from '" +
                           o.tls_cert.string() + "': " + TlsError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    const unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return Status::Invalid("tls_key: '" + o.tls_key.string() +
                             "' is not the key of the certificate '" + o.tls_cert.string() + "'");
    }
    return Status::Invalid("tls_key: cannot read a PEM private key from '" + o.tls_key.string() +
                           "': " + TlsError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::Invalid("tls_key: '" + o.tls_key.string() +
                           "' is not the key of the certificate '" + o.tls_cert.string() + "'");
  }
  // SSL_write writes to the socket with write(), which raises SIGPIPE when
  // the client has gone; the plain path uses send(MSG_NOSIGNAL).
  signal(SIGPIPE, SIG_IGN);
  return owned.release();
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) == 1) {
    return (ntohl(addr.s_addr) >> 24) == 127;
  }
  return false;
}

class Server::Impl {
 public:
  Impl(const ServerOptions& o, std::unique_ptr<server::KeyStore> k)
      : options(o),
        run_metrics(o.root),
        keys(std::move(k)),
        live(MakeLive(o)),
        api(o.root, server::Services{.keys = keys.get(), .metrics = &metrics}) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) stop_read = fds[0], stop_write = fds[1];
    metrics.SetGauge("sextant_build_info", "The server's version (the value is always 1)",
                     {{"version", kVersion}}, 1);
    metrics.SetGauge(
        "process_start_time_seconds", "When the server started, in Unix seconds", {},
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    metrics.AddCollector([this](server::MetricsWriter& out) { run_metrics.Collect(out); });
    metrics.AddCollector(
        [this](server::MetricsWriter& out) { server::CollectAlertGauges(options.root, out); });
    metrics.AddCollector([this](server::MetricsWriter& out) {
      size_t open = 0;
      {
        std::lock_guard lock(mu);
        for (const auto& [id, c] : connections) open += c.fd >= 0 ? 1 : 0;
      }
      out.Gauge("sextant_http_open_connections", "Connections open now", {},
                static_cast<double>(open));
    });
  }
  ~Impl() {
    if (tls != nullptr) SSL_CTX_free(tls);
    if (int fd = http.TakeListenSocket(); fd != INVALID_SOCKET) close(fd);
    if (stop_read >= 0) close(stop_read);
    if (stop_write >= 0) close(stop_write);
  }

  void Handle(const httplib::Request& req, httplib::Response& res) {
    const std::string& target = req.target.empty() ? req.path : req.target;
    if (IsMetrics(target)) return ServeMetrics(req, res);
    if (!IsApi(target)) return ServeStatic(target, res);
    server::ApiRequest r;
    r.method = req.method;
    auto segments = server::DecodePath(target);
    if (!segments) {
      return Send(server::ErrorResponse(Status::Invalid("path: malformed percent-encoding")), res);
    }
    r.path.assign(segments->begin() + 1, segments->end());  // after "api"
    for (const auto& [k, v] : req.params) {
      if (k != "token") r.params.emplace(k, v);
    }
    // Who is asking; Api answers 401/403 by its route table (public routes
    // need no key).
    std::optional<server::Principal> who;
    r.key_required = NeedsKey();
    if (r.key_required) {
      const std::string presented = PresentedKey(req);
      r.key_presented = !presented.empty();
      if (r.key_presented) who = Resolve(presented);
      if (who) r.principal = &*who;
    }
    r.body = req.body;
    RequestBudget budget;
    budget.budget_s = options.text_search_budget_s;
    budget.deadline = Clock::now() + Seconds(options.text_search_budget_s);
    if (const int fd = current_fd; fd >= 0) budget.client_gone = [fd] { return PeerHasGone(fd); };
    ScopedRequestBudget scope(std::move(budget));
    try {
      Send(api.Handle(r), res);
    } catch (const std::exception& e) {
      Send(server::ErrorResponse(Status::Internal(std::string("unexpected error: ") + e.what())),
           res);
    }
  }

  static bool IsApi(const std::string& target) {
    return target == "/api" || target.rfind("/api/", 0) == 0 || target.rfind("/api?", 0) == 0;
  }

  static bool IsMetrics(const std::string& target) {
    return target == "/metrics" || target.rfind("/metrics?", 0) == 0;
  }

  // --- Metrics (docs/team-server.md, "Metrics") ---------------------------

  // Who may scrape /metrics: anyone with --public-metrics or on an open
  // server; else a valid key of any role (401 without one) that covers every
  // project (403 for a scoped key: the figures name every project).
  int MetricsAccess(const httplib::Request& req) const {
    if (options.public_metrics || !NeedsKey()) return 200;
    std::optional<server::Principal> who = Resolve(PresentedKey(req));
    if (!who) return 401;
    return who->projects.empty() ? 200 : 403;
  }

  void ServeMetrics(const httplib::Request& req, httplib::Response& res) {
    const int access = MetricsAccess(req);
    if (access == 401) {
      return Send(server::UnauthenticatedResponse(
                      "/metrics needs an API key: send 'Authorization: Bearer KEY' "
                      "(or start the server with --public-metrics)"),
                  res);
    }
    if (access == 403) {
      return Send(server::ErrorResponse(Status::PermissionDenied(
                      "/metrics names every project; it needs a key of every project")),
                  res);
    }
    if (req.method != "GET" && req.method != "HEAD") {
      res.set_header("Allow", "GET, HEAD");
      return SendError(405, "method_not_allowed", "/metrics answers GET only", res);
    }
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    res.set_content(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8");
  }

  // The request's route as a metrics label: the API's route pattern, never
  // the raw path, so that the number of series stays bounded.
  static std::string RouteLabel(const httplib::Request& req) {
    const std::string& target = req.target.empty() ? req.path : req.target;
    if (IsMetrics(target)) return "metrics";
    if (!IsApi(target)) return "static";
    auto segments = server::DecodePath(target);
    if (!segments || segments->empty()) return "unmatched";
    return server::RoutePattern({segments->begin() + 1, segments->end()});
  }

  void RecordRequest(const httplib::Request& req, int status, Clock::time_point start) {
    static const char* const kMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                           "PATCH", "DELETE", "OPTIONS"};
    std::string method = "other";
    for (const char* m : kMethods) {
      if (req.method == m) method = m;
    }
    const std::string route = RouteLabel(req);
    metrics.AddCounter("sextant_http_requests_total",
                       "HTTP requests answered, by method, route pattern and status code",
                       {{"method", method}, {"route", route}, {"code", std::to_string(status)}}, 1);
    metrics.Observe("sextant_http_request_duration_seconds",
                    "Time to answer a request once read (its body included), by method and route",
                    {{"method", method}, {"route", route}},
                    std::chrono::duration<double>(Clock::now() - start).count());
  }

  // Checks made on the head, before any body is read. Returns false after
  // filling `res` with the refusal.
  bool Admit(const httplib::Request& req, httplib::Response& res) {
    const std::string host = req.get_header_value("Host");
    // DNS rebinding: a page from evil.example whose name now resolves to
    // 127.0.0.1 sends "Host: evil.example"; a server that needs no key
    // answers only loopback names.
    if (!IsLoopbackHost(Lower(HostWithoutPort(host))) && !NeedsKey()) {
      SendError(421, "misdirected_request",
                "Host: '" + host +
                    "' is not a loopback name or address; this server, "
                    "running without API keys or an access token, answers only requests for "
                    "localhost, 127.0.0.1 or [::1]",
                res);
      return false;
    }
    if (req.has_header("Transfer-Encoding")) {
      SendError(411, "length_required",
                "Transfer-Encoding: request bodies must be sent with Content-Length", res);
      return false;
    }
    if (req.has_header("Content-Length")) {
      const std::string length = req.get_header_value("Content-Length");
      char* end = nullptr;
      const unsigned long long n = std::strtoull(length.c_str(), &end, 10);
      if (length.empty() || *end != '\0' || n > static_cast<uint64_t>(options.max_body_bytes)) {
        SendError(413, "payload_too_large",
                  "Content-Length: " + length + " bytes; request bodies are limited to " +
                      std::to_string(options.max_body_bytes) + " bytes",
                  res);
        return false;
      }
    }
    const std::string& target = req.target.empty() ? req.path : req.target;
    const bool changes_state = req.method == "POST" || req.method == "PUT" ||
                               req.method == "PATCH" || req.method == "DELETE";
    if (changes_state && IsApi(target)) {
      // Cross-site request forgery: a page elsewhere can make the browser POST
      // text/plain or a form without asking; JSON needs a CORS preflight, which
      // this server never grants. DELETE is never sent without a preflight.
      const std::string type = Lower(req.get_header_value("Content-Type"));
      const bool json = type == "application/json" || type.rfind("application/json;", 0) == 0;
      // Upload chunks are bytes; like JSON, the type needs a CORS preflight.
      const bool bytes = req.method == "PUT" && type == "application/octet-stream";
      if (req.method != "DELETE" && !json && !bytes) {
        SendError(415, "unsupported_media_type",
                  "Content-Type: " + req.method +
                      " requests to the API must send "
                      "'Content-Type: application/json', got '" +
                      req.get_header_value("Content-Type") + "'",
                  res);
        return false;
      }
      if (req.has_header("Origin")) {
        const std::string origin = req.get_header_value("Origin");
        const size_t scheme = origin.find("://");
        const std::string authority =
            scheme == std::string::npos
                ? ""
                : origin.substr(scheme + 3, origin.find('/', scheme + 3) - scheme - 3);
        if (authority.empty() || Lower(authority) != Lower(host)) {
          SendError(403, "forbidden",
                    "Origin: '" + origin + "' is not this server ('" + host +
                        "'); the API does not accept state-changing requests from other sites",
                    res);
          return false;
        }
      }
    }
    return true;
  }

  // A key is needed when any exists (or the --token), and always off
  // loopback; a loopback server without either is open, as before keys.
  bool NeedsKey() const {
    if (!options.token.empty() || !IsLoopbackHost(options.host)) return true;
    Result<bool> empty = keys->Empty();
    return !empty.ok() || !*empty;  // a database error fails closed
  }

  // The key of 'Authorization: Bearer KEY', else of ?token=KEY (the
  // console's download links, which carry no header); empty when none.
  static std::string PresentedKey(const httplib::Request& req) {
    const std::string header = req.get_header_value("Authorization");
    if (header.size() > 7 && Lower(header.substr(0, 7)) == "bearer ") {
      const size_t start = header.find_first_not_of(' ', 7);
      if (start != std::string::npos) return header.substr(start);
    }
    return req.has_param("token") ? req.get_param_value("token") : std::string();
  }

  // The --token is the admin key named "token"; other keys are the KeyStore's.
  std::optional<server::Principal> Resolve(const std::string& presented) const {
    if (!options.token.empty() && ConstantTimeEquals(presented, options.token)) {
      return server::Principal{"token", server::Role::kAdmin, {}};
    }
    Result<server::Principal> p = keys->Authenticate(presented);
    if (!p.ok()) return std::nullopt;
    return std::move(p).value();
  }

  void ServeStatic(const std::string& target, httplib::Response& res) {
    const server::StaticTarget t = server::ResolveStatic(options.static_dir, target);
    switch (t.kind) {
      case server::StaticKind::kRefused:
        res.status = 404;
        res.set_content("not found\n", "text/plain; charset=utf-8");
        return;
      case server::StaticKind::kNotBuilt:
        res.status = 200;
        res.set_content(kNotBuiltPage, "text/html; charset=utf-8");
        return;
      case server::StaticKind::kFile:
      case server::StaticKind::kIndex: {
        auto text = ReadFileToString(t.path);
        if (!text.ok()) {
          res.status = 404;
          res.set_content("not found\n", "text/plain; charset=utf-8");
          return;
        }
        res.status = 200;
        if (t.kind == server::StaticKind::kIndex || t.path.filename() == "index.html") {
          res.set_header("Cache-Control", "no-cache");
        }
        res.set_content(*text, server::ContentTypeFor(t.path));
        return;
      }
    }
  }

  // --- Connections -------------------------------------------------------

  struct Connection {
    int fd = -1;
    std::string ip;
    bool busy = false;     // a request is being read or answered
    bool evicted = false;  // shut down to make room
    std::thread thread;
  };

  // Closes the refused connections whose second has passed (all with `all`).
  void CloseRefused(bool all) {
    const auto now = Clock::now();
    while (!refused.empty() && (all || refused.front().second <= now)) {
      const int fd = refused.front().first;
      char sink[16384];
      while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
      }
      close(fd);
      refused.pop_front();
    }
  }

  // Accepts until Stop(), then drains (see Stop()).
  void AcceptLoop(int listen_fd) {
    while (!stopping.load()) {
      ReapFinished();
      CloseRefused(false);
      pollfd p[2] = {{listen_fd, POLLIN, 0}, {stop_read, POLLIN, 0}};
      if (poll(p, 2, 1000) <= 0 || (p[1].revents & POLLIN) != 0) continue;
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors (EMFILE) and the like: back off instead of spinning.
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        continue;
      }
      int yes = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      char ip[INET6_ADDRSTRLEN] = {};
      if (addr.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, ip, sizeof ip);
      } else if (addr.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, ip, sizeof ip);
      }
      AdmitConnection(fd, ip);
    }
    CloseRefused(true);
  }

  // Starts a thread for a new connection, or refuses it with 503 when the
  // limits are reached and no idle connection can be closed to make room.
  void AdmitConnection(int fd, const std::string& ip) {
    std::unique_lock lock(mu);
    auto counts = [&](const std::string* of_ip) {
      int n = 0;
      for (const auto& [id, c] : connections) {
        if (!c.evicted && c.fd >= 0 && (of_ip == nullptr || c.ip == *of_ip)) ++n;
      }
      return n;
    };
    auto evict_idle = [&](const std::string* of_ip) {
      for (auto& [id, c] : connections) {
        // Bytes waiting unread: a request its thread has not started on yet.
        char byte;
        if (!c.busy && !c.evicted && c.fd >= 0 && (of_ip == nullptr || c.ip == *of_ip) &&
            recv(c.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0) {
          c.evicted = true;
          shutdown(c.fd, SHUT_RDWR);  // wakes its thread, which closes it
          return true;
        }
      }
      return false;
    };
    const bool over_ip = counts(&ip) >= options.max_connections_per_client;
    if ((over_ip && !evict_idle(&ip)) ||
        (counts(nullptr) >= options.max_connections && !evict_idle(nullptr))) {
      lock.unlock();
      const std::string body =
          "{\"error\":{\"code\":\"unavailable\",\"message\":\"too many open connections " +
          std::string(over_ip ? "from this client" : "in all") +
          "; close some or retry in a moment\"}}\n";
      const std::string busy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Connection: close\r\nRetry-After: 1\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      // (On an HTTPS server the connection is only closed: a plain answer
      // before the handshake would be garbage to the client.)
      if (tls == nullptr) (void)!send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      metrics.AddCounter("sextant_http_connections_refused_total",
                         "Connections refused with 503 at the connection limits", {}, 1);
      // Closed a second later by the accept loop, not now: closing while the
      // client's request is still arriving would reset the connection, and the
      // reset would destroy the 503 before the client reads it.
      shutdown(fd, SHUT_WR);
      if (refused.size() >= kMaxRefusedPending) {
        close(fd);
      } else {
        refused.emplace_back(fd, Clock::now() + std::chrono::seconds(1));
      }
      return;
    }
    const uint64_t id = next_id++;
    Connection& c = connections[id];
    c.fd = fd;
    c.ip = ip;
    try {
      c.thread = std::thread([this, id, fd] { Serve(id, fd); });
    } catch (const std::system_error&) {  // out of threads: refuse this one, keep serving
      connections.erase(id);
      close(fd);
    }
  }

  void SetBusy(uint64_t id, bool busy) {
    std::lock_guard lock(mu);
    connections[id].busy = busy;
  }

  // One connection's requests, one after another (keep-alive).
  void Serve(uint64_t id, int fd) {
    current_fd = fd;
    DeadlineStream stream(fd, stop_read, Seconds(options.write_timeout_s), options.max_body_bytes);
    bool linger = false;
    bool plain_http = false;
    if (tls != nullptr &&
        !stream.AcceptTls(tls, Clock::now() + Seconds(options.request_timeout_s), &plain_http)) {
      // A plain-HTTP request to the HTTPS port gets a plain answer saying so
      // (as nginx does), anything else a closed connection.
      if (plain_http) {
        const std::string body =
            "{\"error\":{\"code\":\"bad_request\",\"message\":\"this server speaks "
            "HTTPS only; use https://\"}}\n";
        const std::string answer =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: "
            "close\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        (void)!send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      linger = true;
    }
    for (int served = 0; !linger; ++served) {
      // A request that reached us before Stop() is answered; no new one is awaited after it.
      if (served > 0 && stopping.load()) break;
      if (!stream.WaitForRequest(Seconds(options.idle_timeout_s))) break;
      SetBusy(id, true);
      stream.BeginRequest(Clock::now() + Seconds(options.request_timeout_s));
      close_after_request = false;
      bool connection_closed = false;
      const bool last = served + 1 >= kKeepAliveMaxRequests;
      const bool ok = http.Process(stream, last, connection_closed);
      SetBusy(id, false);
      if (close_after_request || stream.failed()) linger = true;
      if (!ok || connection_closed || last || linger) break;
    }
    {
      // Before the descriptor is closed (and its number reused by a new
      // connection), so that eviction and Drain() never shut down another's.
      std::lock_guard lock(mu);
      connections[id].fd = -1;
    }
    stream.ShutdownTls();
    if (linger) {
      LingeringClose(fd);
    } else {
      close(fd);
    }
    std::lock_guard lock(mu);
    finished.push_back(id);
    drained.notify_all();
  }

  // Joins the threads of closed connections.
  void ReapFinished() {
    std::vector<std::thread> done;
    {
      std::lock_guard lock(mu);
      for (uint64_t id : finished) {
        auto it = connections.find(id);
        if (it == connections.end()) continue;
        done.push_back(std::move(it->second.thread));
        connections.erase(it);
      }
      finished.clear();
    }
    for (auto& t : done) t.join();
  }

  // After the accept loop: idle connections have been woken by the stop pipe
  // and close; requests in flight get shutdown_grace_s to finish, then their
  // sockets are shut down (which also ends their text searches).
  void Drain() {
    {
      std::unique_lock lock(mu);
      drained.wait_for(lock, Seconds(options.shutdown_grace_s),
                       [&] { return finished.size() == connections.size(); });
      for (auto& [id, c] : connections) {
        if (c.fd >= 0) shutdown(c.fd, SHUT_RDWR);
      }
      drained.wait(lock, [&] { return finished.size() == connections.size(); });
    }
    ReapFinished();
  }

  static constexpr int kKeepAliveMaxRequests = 1000;
  static constexpr size_t kMaxRefusedPending = 256;

  // Live ingest refreshes a run's summaries by queueing its processing (at
  // most once a minute per run that received samples).
  std::unique_ptr<server::LiveIngest> MakeLive(const ServerOptions& o) {
    server::LiveOptions live;
    auto window = server::ParseLiveWindow(o.live_window);  // checked by Start
    live.window = window.ok() ? *window : server::LiveWindow::kNone;
    live.max_pending_bytes = o.live_max_pending_bytes;
    live.approximate = o.live_approximate;
    live.request_refresh = [this](const std::string& project, const std::string& run) {
      if (jobs) (void)jobs->Enqueue(project, run, "live-refresh", "live ingest");
    };
    return std::make_unique<server::LiveIngest>(o.root, &run_locks, std::move(live));
  }

  ServerOptions options;
  // Retries the pending webhook deliveries of every project (docs/alerts.md).
  server::AlertDeliverer alert_deliverer{options.root, 5.0};
  server::MetricsRegistry metrics;
  server::RunMetrics run_metrics;
  // The team server's parts (Start() opens them); `api` points to them.
  std::unique_ptr<server::KeyStore> keys;  // <root>/.server/server.db
  server::RunLocks run_locks;
  std::unique_ptr<server::JobQueue> jobs;
  std::unique_ptr<server::UploadService> uploads;
  std::unique_ptr<server::LiveIngest> live;
  server::Api api;
  SSL_CTX* tls = nullptr;  // with --tls-cert/--tls-key; owned
  HttpCore http;
  int port = 0;
  int stop_read = -1, stop_write = -1;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable drained;
  std::map<uint64_t, Connection> connections;
  std::vector<uint64_t> finished;
  uint64_t next_id = 0;
  // Refused connections (503 sent), closed a second later; the accept loop's own.
  std::deque<std::pair<int, Clock::time_point>> refused;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (impl_) Stop();
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return Status::Invalid("port: must be between 0 and 65535, got " +
                           std::to_string(options.port));
  }
  if (options.max_connections < 1 || options.max_connections_per_client < 1 ||
      options.max_body_bytes < 0) {
    return Status::Invalid(
        "server limits: max_connections and max_connections_per_client must be "
        "at least 1, max_body_bytes at least 0");
  }
  for (const auto& [name, seconds] :
       {std::pair{"request_timeout_s", options.request_timeout_s},
        std::pair{"idle_timeout_s", options.idle_timeout_s},
        std::pair{"write_timeout_s", options.write_timeout_s},
        std::pair{"text_search_budget_s", options.text_search_budget_s}}) {
    if (!(seconds > 0 && seconds <= 86400)) {
      return Status::Invalid(std::string(name) +
                             ": must be between 0 and 86400 seconds (exclusive "
                             "of 0), got " +
                             std::to_string(seconds));
    }
  }
  if (!(options.shutdown_grace_s >= 0 && options.shutdown_grace_s <= 86400)) {
    return Status::Invalid("shutdown_grace_s: must be between 0 and 86400 seconds, got " +
                           std::to_string(options.shutdown_grace_s));
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<server::KeyStore> keys,
                           server::KeyStore::Open(options.root));
  if (!IsLoopbackHost(options.host) && options.token.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(bool no_keys, keys->Empty());
    if (no_keys) {
      return Status::Invalid(
          "host: '" + options.host +
          "' is not a loopback address; serving on it needs an API key: create one with "
          "`sextant keys create --root " +
          options.root.string() + " --name NAME --role admin` (or pass --token / $SEXTANT_TOKEN)");
    }
  }
  if (auto window = server::ParseLiveWindow(options.live_window); !window.ok()) {
    return window.status();
  }
  if (options.live_max_pending_bytes < 1) {
    return Status::Invalid("live_max_pending_bytes: must be at least 1");
  }
  auto impl = std::make_unique<Impl>(options, std::move(keys));
  Impl* p = impl.get();
  if (p->stop_read < 0) return Status::IOError("cannot create the server's stop pipe");
  if (options.workers < 1 || options.workers > 64) {
    return Status::Invalid("workers: must be 1 to 64, got " + std::to_string(options.workers));
  }
  // Jobs and uploads: queued and interrupted jobs run again, committed
  // uploads without a job get one (docs/team-server.md).
  SEXTANT_ASSIGN_OR_RETURN(p->jobs, server::JobQueue::Open(options.root, &p->run_locks));
  if (!options.dask_address.empty()) {
    DaskDriver driver = DefaultDaskDriver(options.dask_address);
    driver.worker_memory = options.dask_worker_memory;
    driver.transfer = options.dask_transfer;
    SEXTANT_RETURN_IF_ERROR(CheckDaskDriver(driver));
    p->jobs->set_dask_driver(std::move(driver));
  }
  p->uploads = std::make_unique<server::UploadService>(options.root, &p->run_locks, p->jobs.get());
  SEXTANT_RETURN_IF_ERROR(p->uploads->Recover());
  p->api.set_services(server::Services{.keys = p->keys.get(),
                                       .uploads = p->uploads.get(),
                                       .jobs = p->jobs.get(),
                                       .metrics = &p->metrics,
                                       .live = p->live.get(),
                                       .run_locks = &p->run_locks});
  // Job, queue and upload figures for GET /metrics.
  server::AddJobQueueCollector(&p->metrics,
                               [jobs = p->jobs.get()]() -> std::pair<int64_t, int64_t> {
                                 auto counts = jobs->CountByState();
                                 if (!counts.ok()) return {0, 0};
                                 return {(*counts)["queued"], (*counts)["running"]};
                               });
  p->jobs->set_on_finished([m = &p->metrics](const server::Job& job, double seconds) {
    server::RecordJobFinished(m, job.project, job.state, seconds);
  });
  p->uploads->set_metrics(&p->metrics);
  if (options.preload_samples < 0) return Status::Invalid("preload_samples: must be at least 0");
  p->api.StartPreload(options.preload_samples);
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(p->tls, NewTlsContext(options));
  }
  auto handler = [p](const httplib::Request& req, httplib::Response& res) {
    const auto start = Clock::now();
    p->Handle(req, res);
    p->RecordRequest(req, res.status, start);
  };
  p->http.Get(".*", handler);
  p->http.Post(".*", handler);
  p->http.Delete(".*", handler);
  p->http.Put(".*", handler);
  p->http.Patch(".*", handler);
  p->http.Options(".*", handler);
  p->http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  p->http.set_keep_alive_timeout(static_cast<time_t>(options.idle_timeout_s));  // as advertised
  p->http.set_payload_max_length(static_cast<size_t>(options.max_body_bytes));
  // On every answer, the console's included: no inline scripts or styles, no
  // framing (clickjacking), no content sniffing, no referrer with tokens in it.
  p->http.set_default_headers({
      {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
  });
  // Runs on the head, before httplib reads any body.
  p->http.set_pre_routing_handler([p](const httplib::Request& req, httplib::Response& res) {
    if (!p->Admit(req, res)) {
      p->RecordRequest(req, res.status, Clock::now());
      // The body (if any) was not read: answer, then close the connection.
      close_after_request = true;
      auto& headers = const_cast<httplib::Request&>(req).headers;
      headers.erase("Connection");
      headers.emplace("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    // Debian's httplib is built with brotli at its slowest setting and prefers
    // it whenever the client offers it (every browser does): a 2.6 MB map
    // answer took 9-13 s to compress, gzip 0.2 s. Dropping "br" from what the
    // client accepts leaves gzip. The request is httplib's own non-const
    // object, handed to handlers as const.
    const std::string accepted = req.get_header_value("Accept-Encoding");
    if (accepted.find("br") != std::string::npos) {
      auto& headers = const_cast<httplib::Request&>(req).headers;
      headers.erase("Accept-Encoding");
      if (accepted.find("gzip") != std::string::npos) headers.emplace("Accept-Encoding", "gzip");
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  p->http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        Send(server::ErrorResponse(Status::Internal("unexpected error")), res);
      });
  std::string host = options.host == "localhost" ? "127.0.0.1" : options.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (options.port == 0) {
    p->port = p->http.bind_to_any_port(host);
    if (p->port <= 0) return Status::IOError("cannot bind to '" + options.host + "' on any port");
  } else {
    if (!p->http.bind_to_port(host, options.port)) {
      return Status::IOError("cannot bind to " + options.host + ":" + std::to_string(options.port) +
                             " (in use, or not an address of this machine)");
    }
    p->port = options.port;
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port; }

Status Server::Run() {
  const int listen_fd = impl_->http.ListenSocket();
  if (listen_fd == INVALID_SOCKET) return Status::FailedPrecondition("the server has already run");
  // httplib binds with a backlog of 5; a burst of clients needs more.
  if (listen(listen_fd, 1024) != 0) return Status::IOError("cannot listen on the server's socket");
  impl_->jobs->Start(impl_->options.workers);
  impl_->alert_deliverer.Start();
  impl_->AcceptLoop(listen_fd);
  close(impl_->http.TakeListenSocket());  // new clients are refused from here on
  impl_->Drain();
  impl_->alert_deliverer.Stop();
  if (!impl_->jobs->Stop(impl_->options.shutdown_grace_s)) {
    // A finish cannot stop midway; it runs again from the start at the next
    // start of the server. The process must not wait for it.
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return Status::OK();
}

void Server::Stop() {
  if (impl_->stopping.exchange(true)) return;
  // Wakes the accept loop and every connection waiting for its next request.
  (void)!write(impl_->stop_write, "x", 1);
}

}  // namespace sextant
