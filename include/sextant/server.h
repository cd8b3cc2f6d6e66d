// The console server: `sextant serve`. One process serves the JSON API
// (docs/http-api.md) under /api/ and the web console's static files under /.
//
// Thread safety: Run() serves requests on a pool of threads; Stop() may be
// called from any thread (e.g. a signal-watching one) and makes Run() return.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "sextant/status.h"

namespace sextant {

struct ServerOptions {
  std::filesystem::path root;        // the store root (projects, runs)
  std::string host = "127.0.0.1";    // a loopback address needs no token
  int port = 8080;                   // 0: any free port (see Server::port())
  // Required when `host` is not a loopback address; when set, every /api/
  // request must carry `Authorization: Bearer <token>` or `?token=<token>`.
  std::string token;
  // The web console's build (index.html and assets). When the folder does not
  // exist, `/` answers a short page saying the UI is not built.
  std::filesystem::path static_dir;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

class Server {
 public:
  // Validates the options (InvalidArgument: a non-loopback host without a
  // token, a bad port) and binds the socket (IOError when it cannot).
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();

  int port() const;  // the bound port
  // Serves until Stop(); returns IOError when the listener fails.
  Status Run();
  void Stop();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sextant
