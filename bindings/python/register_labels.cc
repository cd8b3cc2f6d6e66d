// sextant._core's label import (store/imported_labels.h, io/label_import.h):
// labels from labelers stored against an inference set's samples
// (python/sextant/_labels.py).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "io/label_import.h"
#include "register.h"
#include "sextant/results.h"
#include "store/imported_labels.h"

namespace sextant::python {

namespace py = pybind11;

void RegisterLabels(py::module_& m) {
  m.def(
      "import_labels",
      [](const std::filesystem::path& root, const std::string& project, const std::string& run,
         const std::string& split, const std::string& inference_name, const std::string& content,
         const std::string& format, const std::string& source) {
        const SplitKey key = SplitKeyOrThrow(split, inference_name);
        const io::LabelFileFormat f = ValueOrThrow(io::ParseLabelFileFormat(format));
        Result<store::ImportLabelsReport> result = Status::Internal("not run");
        {
          py::gil_scoped_release release;
          result = [&]() -> Result<store::ImportLabelsReport> {
            SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<RunReader> reader,
                                     RunReader::Open(root, project, run));
            if (reader->info().task == "named_entity_recognition") {
              return Status::Invalid("import_labels: span labels (NER) cannot be imported yet");
            }
            SEXTANT_ASSIGN_OR_RETURN(io::LabelFile file, io::ParseLabelFile(content, source, f));
            return store::ImportLabels(root / project / run, key, file, reader->info().labels,
                                       source);
          }();
        }
        const store::ImportLabelsReport report = ValueOrThrow(std::move(result));
        py::dict out;
        out["imported"] = report.imported;
        out["overwritten"] = report.overwritten;
        out["skipped"] = report.skipped;
        out["labeled"] = report.labeled;
        return out;
      },
      py::arg("root"), py::arg("project"), py::arg("run"), py::arg("split"),
      py::arg("inference_name"), py::arg("content"), py::arg("format"), py::arg("source"),
      "Imports labels (file content in `format`); a dict of counts");
}

}  // namespace sextant::python
