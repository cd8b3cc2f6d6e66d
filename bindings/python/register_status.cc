// Status codes become Python exceptions, once, here. Every class derives from
// SextantError and from the builtin that matches its code, as pyarrow's
// ArrowInvalid is a ValueError.
#include <pybind11/pybind11.h>

#include "register.h"

namespace py = pybind11;

namespace sextant::python {
namespace {

struct Exceptions {
  PyObject* base = nullptr;
  PyObject* invalid = nullptr;
  PyObject* not_found = nullptr;
  PyObject* already_exists = nullptr;
  PyObject* failed_precondition = nullptr;
  PyObject* io = nullptr;
  PyObject* internal = nullptr;
  PyObject* unauthenticated = nullptr;
  PyObject* permission_denied = nullptr;
};
Exceptions g_exceptions;  // owned by the module; set once at import

PyObject* NewException(py::module_& m, const char* name, PyObject* base, PyObject* builtin,
                       const char* doc) {
  py::tuple bases = builtin ? py::make_tuple(py::handle(base), py::handle(builtin))
                            : py::make_tuple(py::handle(base));
  const std::string qualified = std::string("sextant.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(type));  // the module holds a reference
  return type;
}

}  // namespace

void ThrowIfError(const Status& status) {
  if (status.ok()) return;
  PyObject* type = g_exceptions.internal;
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      type = g_exceptions.invalid;
      break;
    case StatusCode::kNotFound:
      type = g_exceptions.not_found;
      break;
    case StatusCode::kAlreadyExists:
      type = g_exceptions.already_exists;
      break;
    case StatusCode::kFailedPrecondition:
      type = g_exceptions.failed_precondition;
      break;
    case StatusCode::kIOError:
      type = g_exceptions.io;
      break;
    case StatusCode::kUnauthenticated:
      type = g_exceptions.unauthenticated;
      break;
    case StatusCode::kPermissionDenied:
      type = g_exceptions.permission_denied;
      break;
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
  }
  PyErr_SetString(type, status.message().c_str());
  throw py::error_already_set();
}

void RegisterStatus(py::module_& m) {
  PyObject* base = PyErr_NewExceptionWithDoc(
      "sextant.SextantError", "An error reported by Sextant's engine.", PyExc_Exception, nullptr);
  if (base == nullptr) throw py::error_already_set();
  m.add_object("SextantError", py::handle(base));
  g_exceptions.base = base;
  g_exceptions.invalid = NewException(m, "InvalidArgumentError", base, PyExc_ValueError,
                                      "Bad input; nothing was changed.");
  g_exceptions.not_found = NewException(m, "NotFoundError", base, PyExc_LookupError,
                                        "A project, run, split or sample that does not exist.");
  g_exceptions.already_exists = NewException(m, "AlreadyExistsError", base, PyExc_ValueError,
                                             "A duplicate, e.g. a sample id logged twice.");
  g_exceptions.failed_precondition =
      NewException(m, "FailedPreconditionError", base, PyExc_RuntimeError,
                   "A valid call out of order (no labels, no split, outputs missing, run locked).");
  g_exceptions.io = NewException(m, "SextantIOError", base, PyExc_OSError,
                                 "The file system or the database failed.");
  g_exceptions.internal =
      NewException(m, "InternalError", base, PyExc_RuntimeError, "A bug in Sextant.");
  g_exceptions.unauthenticated =
      NewException(m, "UnauthenticatedError", base, PyExc_PermissionError,
                   "The team server needs a valid API key (none given, unknown or revoked).");
  g_exceptions.permission_denied =
      NewException(m, "PermissionDeniedError", base, PyExc_PermissionError,
                   "The API key lacks the role or the project the call needs.");
}

}  // namespace sextant::python
