// sextant._core: registers the engine's types and calls. No logic lives here;
// the friendly API is the pure-Python package `sextant` (python/sextant).
#include <pybind11/pybind11.h>

#include "register.h"
#include "sextant/version.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "Sextant's C++ engine (private: use the `sextant` package)";
  m.attr("__version__") = SEXTANT_VERSION_STRING;
  sextant::python::RegisterStatus(m);
  sextant::python::RegisterTypes(m);
  sextant::python::RegisterClient(m);
  sextant::python::RegisterResults(m);
  sextant::python::RegisterRemote(m);
  sextant::python::RegisterAlerts(m);
  sextant::python::RegisterLabels(m);
  sextant::python::RegisterSuggest(m);
  sextant::python::RegisterShards(m);
}
