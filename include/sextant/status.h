// Status and Result<T>: how every Sextant call reports failure.
//
// The library never throws into its caller. Functions that can fail return a
// Status (or a Result<T> holding either a value or a non-OK Status). Messages
// are written for the person who made the mistake: they name the field, the
// sample id or row, and what was expected.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sextant {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input from the caller; nothing was changed
  kNotFound,            // a project, run, split or sample that does not exist
  kAlreadyExists,       // e.g. a duplicate sample id
  kFailedPrecondition,  // the call is valid but not in this state (e.g. no labels set)
  kIOError,             // the file system or the database failed
  kInternal,            // a bug in Sextant or a third-party library
  kUnauthenticated,     // no valid API key (a team server, docs/team-server.md)
  kPermissionDenied,    // a valid key without the role or project a call needs
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status Invalid(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) {
    return {StatusCode::kUnauthenticated, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {StatusCode::kPermissionDenied, std::move(msg)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "Invalid argument: <message>", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(const std::string& context) const;

  bool IsInvalid() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

const char* StatusCodeName(StatusCode code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(value_).ok() && "Result built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(value_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(value_); }

  const T& value() const& { return std::get<T>(value_); }
  T& value() & { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<Status, T> value_;
};

}  // namespace sextant

#define SEXTANT_CONCAT_INNER(a, b) a##b
#define SEXTANT_CONCAT(a, b) SEXTANT_CONCAT_INNER(a, b)

#define SEXTANT_RETURN_IF_ERROR(expr) \
  do {                                \
    ::sextant::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)

#define SEXTANT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define SEXTANT_ASSIGN_OR_RETURN(lhs, expr) \
  SEXTANT_ASSIGN_OR_RETURN_IMPL(SEXTANT_CONCAT(_res_, __LINE__), lhs, expr)
