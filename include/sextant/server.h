// The console server: `sextant serve`. One process serves the JSON API
// (docs/http-api.md) under /api/ and the web console's static files under /.
//
// Thread safety: Run() serves each connection on a thread of its own (at most
// max_connections); Stop() may be called from any thread (e.g. a
// signal-watching one) and makes Run() return once the requests in flight
// have been answered (or shutdown_grace_s has passed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "sextant/status.h"

namespace sextant {

struct ServerOptions {
  std::filesystem::path root;      // the store root (projects, runs)
  std::string host = "127.0.0.1";  // a loopback address needs no key
  int port = 8080;                 // 0: any free port (see Server::port())
  // The admin key of a single-user server (the principal "token"): every
  // /api/ request but health must then carry `Authorization: Bearer <token>`
  // (or `?token=<token>`). API keys (`sextant keys`, docs/team-server.md) are
  // read from <root>/.server/server.db; a host that is not a loopback address
  // needs the token or at least one active key.
  std::string token;
  // HTTPS: a PEM certificate (chain) and its private key; both or neither.
  std::filesystem::path tls_cert, tls_key;
  // The web console's build (index.html and assets). When the folder does not
  // exist, `/` answers a short page saying the UI is not built.
  std::filesystem::path static_dir;
  // `GET /metrics` (Prometheus) answers without the token; it needs it otherwise.
  bool public_metrics = false;

  // Limits that keep one client from making the server unreachable for others
  // (docs/http-api.md, "Limits"). Beyond a connection limit the server first
  // closes an idle keep-alive connection, else answers 503 and closes.
  int max_connections = 512;             // open connections in all
  int max_connections_per_client = 256;  // open connections from one IP address
  double request_timeout_s = 30;         // to receive one request's head and body
  double idle_timeout_s = 15;            // a connection waiting for its next request
  double write_timeout_s = 30;           // one write of the answer to a stalled client
  int64_t max_body_bytes = 32 << 20;     // a request body (413 beyond)
  double text_search_budget_s = 10;      // one request's text search (400 beyond)
  double shutdown_grace_s = 10;          // Stop(): time for requests in flight
  // Cold opens (docs/architecture.md, "Sample tables"): at start, the runs'
  // sample tables are loaded in the background at the lowest CPU priority,
  // newest runs first, up to this many samples in all (0: none).
  int64_t preload_samples = 5'000'000;

  // The team server (docs/team-server.md): processing jobs of uploaded runs
  // run on this many worker threads (at least 1).
  int workers = 1;

  // Live ingest (docs/team-server.md, "Live ingest"): the set of a request
  // that names no inference set, by the samples' UTC time: "day", "hour" or
  // "none" (such a request is refused); and the bytes accepted but not yet
  // appended (503 with Retry-After beyond).
  std::string live_window = "none";
  int64_t live_max_pending_bytes = 256 << 20;
  // Score live samples with an approximate (IVF) index when the finish was
  // exact (server/live_ingest.h, LiveOptions::approximate).
  bool live_approximate = false;

  // Processing jobs on a Dask cluster (docs/distributed.md): each job's finish
  // runs the driver (python -m sextant.dask_finish) against this scheduler
  // address; empty: in this process. Worker memory ("" = the executor's
  // default) and transfer ("shared" or "upload") as `sextant finish --dask`'s.
  std::string dask_address;
  std::string dask_worker_memory;
  std::string dask_transfer = "shared";
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

class Server {
 public:
  // Validates the options (InvalidArgument: a non-loopback host without a
  // token or an API key, a bad port, an unreadable TLS certificate or key)
  // and binds the socket (IOError when it cannot).
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
