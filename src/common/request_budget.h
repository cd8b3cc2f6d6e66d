// The time budget and cancellation of the request this thread is answering.
// The HTTP layer (http_server.cc) sets one per request with ScopedRequestBudget;
// long loops (SampleTable::TextMatches) call CheckRequestBudget every few
// hundred rows, so that a search stops when its budget is spent or its client
// has gone, instead of spinning on for nobody. Without a budget set (tests,
// the CLI) CheckRequestBudget is always OK.
//
// A thread-local, not a parameter, so that Api's routing need not carry it.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "sextant/status.h"

namespace sextant {

struct RequestBudget {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  double budget_s = 0;  // for the error message
  // True once the client has closed its connection (may be empty).
  std::function<bool()> client_gone;
};

class ScopedRequestBudget {
 public:
  explicit ScopedRequestBudget(RequestBudget budget);
  ~ScopedRequestBudget();
  ScopedRequestBudget(const ScopedRequestBudget&) = delete;
  ScopedRequestBudget& operator=(const ScopedRequestBudget&) = delete;

 private:
  const RequestBudget* previous_;
  RequestBudget budget_;
};

// InvalidArgument "<what> exceeded its time budget of X s ..." past the
// deadline; "client closed the connection" (Internal, never sent) once the
// client has gone; OK otherwise.
Status CheckRequestBudget(const std::string& what);

}  // namespace sextant
