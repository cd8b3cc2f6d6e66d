// The httplib wiring: the only file that knows about HTTP. Everything it
// answers comes from Api (JSON) or ResolveStatic (files).
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/file_util.h"
#include "server/api.h"
#include "server/static_files.h"
#include "sextant/server.h"

namespace sextant {

namespace fs = std::filesystem;

namespace {

constexpr const char* kNotBuiltPage =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sextant</title></head>"
    "<body style=\"font-family: sans-serif; max-width: 40em; margin: 4em auto\">"
    "<h1>Sextant</h1><p>The web console is not built. Build it with "
    "<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> (or pass "
    "<code>--static DIR</code>), then reload. The JSON API is served under "
    "<a href=\"/api/runs\"><code>/api/</code></a> (docs/http-api.md).</p></body></html>";

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
  explicit Impl(const ServerOptions& o) : options(o), api(o.root) {}

  void Handle(const httplib::Request& req, httplib::Response& res) {
    const std::string& target = req.target.empty() ? req.path : req.target;
    const bool is_api = target == "/api" || target.rfind("/api/", 0) == 0 || target.rfind("/api?", 0) == 0;
    if (!is_api) return ServeStatic(target, res);
    if (!options.token.empty() && !Authorized(req)) {
      return Send(server::UnauthenticatedResponse(
                      "this server needs an access token: send 'Authorization: Bearer <token>' "
                      "or '?token=<token>'"),
                  res);
    }
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
    r.body = req.body;
    try {
      Send(api.Handle(r), res);
    } catch (const std::exception& e) {
      Send(server::ErrorResponse(Status::Internal(std::string("unexpected error: ") + e.what())), res);
    }
  }

  bool Authorized(const httplib::Request& req) const {
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.rfind(prefix, 0) == 0 && ConstantTimeEquals(header.substr(prefix.size()), options.token)) {
      return true;
    }
    return req.has_param("token") && ConstantTimeEquals(req.get_param_value("token"), options.token);
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

  ServerOptions options;
  server::Api api;
  httplib::Server http;
  int port = 0;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (impl_) impl_->http.stop();
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  if (!IsLoopbackHost(options.host) && options.token.empty()) {
    return Status::Invalid("host: '" + options.host +
                           "' is not a loopback address; serving on it needs an access token "
                           "(--token or $SEXTANT_TOKEN)");
  }
  if (options.port < 0 || options.port > 65535) {
    return Status::Invalid("port: must be between 0 and 65535, got " + std::to_string(options.port));
  }
  auto impl = std::make_unique<Impl>(options);
  Impl* p = impl.get();
  auto handler = [p](const httplib::Request& req, httplib::Response& res) { p->Handle(req, res); };
  p->http.Get(".*", handler);
  p->http.Post(".*", handler);
  p->http.Delete(".*", handler);
  p->http.Put(".*", handler);
  p->http.Patch(".*", handler);
  p->http.Options(".*", handler);
  // TCP_NODELAY (inherited by accepted sockets on Linux): httplib writes the headers and
  // the body separately, and Nagle's algorithm would hold the body until the client's
  // delayed ACK, about 40 ms on every answer.
  p->http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  });
  // A console keeps a few connections busy; httplib's default closes one after 5 requests.
  p->http.set_keep_alive_max_count(100);
  // Debian's httplib is built with brotli at its slowest setting and prefers it whenever
  // the client offers it (every browser does): a 2.6 MB map answer took 9-13 s to
  // compress, gzip 0.2 s. Dropping "br" from what the client accepts leaves gzip. The
  // request is httplib's own non-const object, handed to handlers as const.
  p->http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    const std::string accepted = req.get_header_value("Accept-Encoding");
    if (accepted.find("br") != std::string::npos) {
      auto& headers = const_cast<httplib::Request&>(req).headers;
      headers.erase("Accept-Encoding");
      if (accepted.find("gzip") != std::string::npos) headers.emplace("Accept-Encoding", "gzip");
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  p->http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    Send(server::ErrorResponse(Status::Internal("unexpected error")), res);
  });
  std::string host = options.host == "localhost" ? "127.0.0.1" : options.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
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
  if (!impl_->http.listen_after_bind()) return Status::IOError("the HTTP listener stopped with an error");
  return Status::OK();
}

void Server::Stop() { impl_->http.stop(); }

}  // namespace sextant
