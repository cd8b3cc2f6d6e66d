#include "common/request_budget.h"

#include <cstdio>

namespace sextant {

namespace {
thread_local const RequestBudget* current_budget = nullptr;
}  // namespace

ScopedRequestBudget::ScopedRequestBudget(RequestBudget budget)
    : previous_(current_budget), budget_(std::move(budget)) {
  current_budget = &budget_;
}

ScopedRequestBudget::~ScopedRequestBudget() { current_budget = previous_; }

Status CheckRequestBudget(const std::string& what) {
  const RequestBudget* b = current_budget;
  if (b == nullptr) return Status::OK();
  if (std::chrono::steady_clock::now() > b->deadline) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", b->budget_s);
    return Status::Invalid(what + " exceeded its time budget of " + seconds +
                           " s; narrow the pattern or add other filters");
  }
  if (b->client_gone && b->client_gone()) {
    return Status::Internal(what + ": the client closed the connection");
  }
  return Status::OK();
}

}  // namespace sextant
