// Label suggestions (sextant/suggest.h): dq.suggest_labels reads their JSON.
#include <pybind11/stl.h>

#include <chrono>
#include <map>

#include "register.h"
#include "sextant/results.h"
#include "sextant/suggest.h"
#include "suggest/suggest_json.h"

namespace py = pybind11;

namespace sextant::python {

void RegisterSuggest(py::module_& m) {
  m.def(
      "suggest_json",
      [](const RunReader& reader, const std::string& split, const std::string& inference_name,
         int64_t budget, const std::string& strategy, const std::optional<std::string>& label,
         bool per_class, uint64_t seed, const std::map<std::string, double>& weights) {
        suggest::SuggestOptions o;
        o.split = SplitKeyOrThrow(split, inference_name);
        o.budget = budget;
        o.strategy = strategy;
        o.class_name = label;
        o.per_class = per_class;
        o.seed = seed;
        for (const auto& [name, v] : weights) {
          if (name == "uncertainty") {
            o.weights.uncertainty = v;
          } else if (name == "shift") {
            o.weights.shift = v;
          } else if (name == "novelty") {
            o.weights.novelty = v;
          } else if (name == "coverage_cap") {
            o.weights.coverage_cap = v;
          } else {
            ThrowIfError(Status::Invalid("weights: unknown key '" + name +
                                         "'; expected uncertainty, shift, novelty, coverage_cap"));
          }
        }
        Result<std::string> text = [&]() -> Result<std::string> {
          py::gil_scoped_release release;
          const auto start = std::chrono::steady_clock::now();
          SEXTANT_ASSIGN_OR_RETURN(suggest::SuggestResult r, suggest::Suggest(reader, o));
          const double took_ms = std::chrono::duration<double, std::milli>(
                                     std::chrono::steady_clock::now() - start)
                                     .count();
          SEXTANT_ASSIGN_OR_RETURN(nlohmann::ordered_json j,
                                   suggest::SuggestResultJson(reader, o, r, took_ms));
          return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }();
        return ValueOrThrow(std::move(text));
      },
      py::arg("reader"), py::arg("split"), py::arg("inference_name"), py::arg("budget"),
      py::arg("strategy") = "default", py::arg("label") = py::none(), py::arg("per_class") = false,
      py::arg("seed") = 0, py::arg("weights") = std::map<std::string, double>(),
      "Label suggestions as the JSON of GET .../suggest (docs/labeling.md)");
}

}  // namespace sextant::python
