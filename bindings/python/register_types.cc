// processing_options.h and types.h: ProcessingOptions with its enums, split names.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "register.h"
#include "sextant/processing_options.h"
#include "sextant/types.h"

namespace py = pybind11;

namespace sextant::python {

SplitKey SplitKeyOrThrow(const std::string& split, const std::string& inference_name) {
  Result<Split> s = ParseSplit(split);
  if (!s.ok()) ThrowIfError(s.status());
  return ValueOrThrow(SplitKey::Make(*s, inference_name));
}

void RegisterTypes(py::module_& m) {
  py::enum_<DriftReference>(m, "DriftReference")
      .value("auto", DriftReference::kAuto)
      .value("training_loo", DriftReference::kTrainingLeaveOneOut)
      .value("validation", DriftReference::kValidation);
  py::enum_<NnSearch>(m, "NnSearch")
      .value("auto", NnSearch::kAuto)
      .value("exact", NnSearch::kExact)
      .value("approximate", NnSearch::kApproximate);

  using O = ProcessingOptions;
  py::class_<O>(m, "ProcessingOptions", "Parameters of finish (processing_options.h)")
      .def(py::init<>())
      .def_readwrite("boundary_ratio_threshold", &O::boundary_ratio_threshold)
      .def_readwrite("drift_k", &O::drift_k)
      .def_readwrite("drift_percentile", &O::drift_percentile)
      .def_readwrite("drift_reference", &O::drift_reference)
      .def_readwrite("drift_reference_sample_size", &O::drift_reference_sample_size)
      .def_readwrite("drift_seed", &O::drift_seed)
      .def_readwrite("drift_alpha", &O::drift_alpha)
      .def_readwrite("domain_test", &O::domain_test)
      .def_readwrite("domain_test_max_samples", &O::domain_test_max_samples)
      .def_readwrite("threads", &O::threads)
      .def_readwrite("concurrent_stages", &O::concurrent_stages)
      .def_readwrite("nn_search", &O::nn_search)
      .def_readwrite("nn_auto_min_values", &O::nn_auto_min_values)
      .def_readwrite("store_float16", &O::store_float16)
      .def_readwrite("build_similarity_index", &O::build_similarity_index)
      .def_readwrite("compute_map", &O::compute_map)
      .def_readwrite("map_n_neighbors", &O::map_n_neighbors)
      .def_readwrite("map_min_dist", &O::map_min_dist)
      .def_readwrite("map_max_points", &O::map_max_points)
      .def_readwrite("map_seed", &O::map_seed)
      .def_readwrite("map_incremental", &O::map_incremental);

  m.def(
      "processing_option_specs",
      [] {
        py::list specs;
        const ProcessingOptions defaults;
        for (const ProcessingOptionSpec& s : ProcessingOptionSpecs()) {
          const char* type = s.type == ProcessingOptionSpec::Type::kBool     ? "bool"
                             : s.type == ProcessingOptionSpec::Type::kInt    ? "int"
                             : s.type == ProcessingOptionSpec::Type::kDouble ? "float"
                                                                             : "choice";
          py::dict d;
          d["name"] = s.name;
          d["short_name"] =
              s.short_name ? py::object(py::str(s.short_name)) : py::object(py::none());
          d["type"] = type;
          d["help"] = s.help;
          d["choices"] = s.choices;
          d["default"] = GetProcessingOption(defaults, s);
          specs.append(d);
        }
        return specs;
      },
      "Every processing option: name, short_name, type, help, choices and default (as text)");
  m.def(
      "set_processing_option",
      [](ProcessingOptions& o, const std::string& name, const std::string& value) {
        ThrowIfError(SetProcessingOption(&o, name, value));
      },
      py::arg("options"), py::arg("name"), py::arg("value"),
      "Sets an option by name or short name from text; raises InvalidArgumentError naming it");

  m.def(
      "split_key",
      [](const std::string& split, const std::string& inference_name) {
        return SplitKeyOrThrow(split, inference_name).ToString();
      },
      py::arg("split"), py::arg("inference_name") = "",
      "The canonical name of a split ('training', ..., 'inference:NAME'); raises on bad input");
}

}  // namespace sextant::python
