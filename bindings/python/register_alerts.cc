// sextant._core's alert functions (src/alerts/store.h): a project's rules and
// their states, as JSON text the package turns into dicts (python/sextant/_alerts.py).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <nlohmann/json.hpp>

#include "alerts/store.h"
#include "register.h"

namespace sextant::python {

namespace py = pybind11;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

std::unique_ptr<alerts::AlertStore> OpenOrThrow(const std::filesystem::path& root,
                                                const std::string& project) {
  ThrowIfError(ValidateName("project_name", project));
  return ValueOrThrow(alerts::AlertStore::Open(root / project, /*create_project=*/true));
}

}  // namespace

void RegisterAlerts(py::module_& m) {
  m.def(
      "alerts_list_rules",
      [](const std::filesystem::path& root, const std::string& project) {
        auto store = OpenOrThrow(root, project);
        ordered_json out = ordered_json::array();
        for (const auto& r : ValueOrThrow(store->ListRules())) out.push_back(alerts::RuleToJson(r));
        return out.dump();
      },
      py::arg("root"), py::arg("project"), "The project's alert rules as a JSON array");
  m.def(
      "alerts_add_rule",
      [](const std::filesystem::path& root, const std::string& project,
         const std::string& rule_json) {
        const json j = json::parse(rule_json, nullptr, false);
        if (j.is_discarded()) ThrowIfError(Status::Invalid("rule: not valid JSON"));
        alerts::Rule rule = ValueOrThrow(alerts::RuleFromJson(j));
        auto store = OpenOrThrow(root, project);
        return alerts::RuleToJson(ValueOrThrow(store->AddRule(rule))).dump();
      },
      py::arg("root"), py::arg("project"), py::arg("rule_json"), "Adds a rule; the rule as JSON");
  m.def(
      "alerts_remove_rule",
      [](const std::filesystem::path& root, const std::string& project, const std::string& id) {
        ThrowIfError(OpenOrThrow(root, project)->RemoveRule(id));
      },
      py::arg("root"), py::arg("project"), py::arg("id"));
  m.def(
      "alerts_states",
      [](const std::filesystem::path& root, const std::string& project, const std::string& run) {
        auto store = OpenOrThrow(root, project);
        ordered_json out = ordered_json::array();
        for (const auto& s : ValueOrThrow(
                 store->States(run.empty() ? std::nullopt : std::optional<std::string>(run)))) {
          out.push_back(alerts::StateToJson(s));
        }
        return out.dump();
      },
      py::arg("root"), py::arg("project"), py::arg("run") = "",
      "The states of the project's rules (of one run when given) as a JSON array");
}

}  // namespace sextant::python
