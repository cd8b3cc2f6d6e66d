// shards.h: the shard tasks of a distributed finish. A Python class (sextant.dask's
// DaskShardExecutor) subclasses ShardExecutor; the finish calls it with the GIL
// released and the trampoline takes the GIL back for each call. A Python
// exception raised by the executor becomes a failed finish with its message.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "register.h"
#include "sextant/shards.h"

namespace py = pybind11;

namespace sextant::python {
namespace {

// The text of the Python exception being handled: "TypeName: message".
std::string ExceptionText(const py::error_already_set& e) {
  std::string type = "Exception";
  try {
    type = py::str(e.type().attr("__name__")).cast<std::string>();
  } catch (...) {
  }
  std::string what;
  try {
    what = py::str(e.value()).cast<std::string>();
  } catch (...) {
    what = e.what();
  }
  return type + ": " + what;
}

class PyShardExecutor : public ShardExecutor {
 public:
  std::string WorkDir() override {
    // A path that cannot be created when work_dir() fails: the finish then
    // fails opening its folder there, naming it, instead of writing elsewhere.
    static const char* kBroken = "/dev/null/ShardExecutor.work_dir() failed (see stderr)";
    py::gil_scoped_acquire gil;
    try {
      py::function f = py::get_override(static_cast<const ShardExecutor*>(this), "work_dir");
      if (!f) return kBroken;
      return f().cast<std::string>();
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("ShardExecutor.work_dir");
      return kBroken;
    } catch (const py::cast_error&) {
      return kBroken;
    }
  }

  int64_t WorkerMemoryBytes() override {
    py::gil_scoped_acquire gil;
    try {
      py::function f =
          py::get_override(static_cast<const ShardExecutor*>(this), "worker_memory_bytes");
      if (!f) return 0;
      return f().cast<int64_t>();
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("ShardExecutor.worker_memory_bytes");
      return 0;
    } catch (const py::cast_error&) {
      return 0;
    }
  }

  Result<std::vector<std::string>> Run(const std::string& stage,
                                       const std::vector<ShardTask>& tasks) override {
    py::gil_scoped_acquire gil;
    try {
      py::function f = py::get_override(static_cast<const ShardExecutor*>(this), "run");
      if (!f) return Status::Internal("shard executor: the Python class does not define run()");
      py::object out = f(stage, tasks);
      std::vector<std::string> outputs;
      for (py::handle item : out) {
        if (!py::isinstance<py::bytes>(item)) {
          return Status::Internal("shard executor: stage '" + stage + "': run() returned a " +
                                  py::str(py::type::of(item).attr("__name__")).cast<std::string>() +
                                  " where each output must be bytes");
        }
        outputs.push_back(item.cast<std::string>());
      }
      return outputs;
    } catch (py::error_already_set& e) {
      return Status::Internal("shard executor: stage '" + stage + "' failed: " + ExceptionText(e));
    } catch (const py::cast_error& e) {
      return Status::Internal("shard executor: stage '" + stage + "': " + e.what());
    }
  }
};

}  // namespace

ShardExecutor* ShardExecutorFromPython(const py::object& executor) {
  if (executor.is_none()) return nullptr;
  if (!py::isinstance<ShardExecutor>(executor)) {
    ThrowIfError(
        Status::Invalid("executor: expected a sextant._core.ShardExecutor (e.g. "
                        "sextant.dask.DaskShardExecutor); got " +
                        py::str(py::type::of(executor).attr("__name__")).cast<std::string>()));
  }
  return executor.cast<ShardExecutor*>();
}

void RegisterShards(py::module_& m) {
  m.attr("SHARD_ROW_ALIGNMENT") = kShardRowAlignment;
  py::class_<ShardTask>(m, "ShardTask", "One unit of a finish's shard work (shards.h)")
      .def(py::init([](std::string kind, std::string spec, std::vector<std::string> shared) {
             return ShardTask{std::move(kind), std::move(spec), std::move(shared)};
           }),
           py::arg("kind"), py::arg("spec"), py::arg("shared_files") = std::vector<std::string>{})
      .def_readwrite("kind", &ShardTask::kind)
      .def_readwrite("spec", &ShardTask::spec)
      .def_readwrite("shared_files", &ShardTask::shared_files)
      .def("__repr__",
           [](const ShardTask& t) {
             return "ShardTask(kind='" + t.kind + "', spec='" + t.spec.substr(0, 200) + "')";
           })
      .def(py::pickle(
          [](const ShardTask& t) { return py::make_tuple(t.kind, t.spec, t.shared_files); },
          [](const py::tuple& s) {
            return ShardTask{s[0].cast<std::string>(), s[1].cast<std::string>(),
                             s[2].cast<std::vector<std::string>>()};
          }));

  py::class_<ShardExecutor, PyShardExecutor>(
      m, "ShardExecutor",
      "Where a finish's shard tasks run: subclass it and define work_dir() -> str, "
      "worker_memory_bytes() -> int and run(stage, tasks) -> list[bytes]")
      .def(py::init<>())
      .def("work_dir", &ShardExecutor::WorkDir)
      .def("worker_memory_bytes", &ShardExecutor::WorkerMemoryBytes)
      .def("run",
           [](ShardExecutor& e, const std::string& stage, const std::vector<ShardTask>& tasks) {
             Result<std::vector<std::string>> out = [&] {
               py::gil_scoped_release release;
               return e.Run(stage, tasks);
             }();
             std::vector<py::bytes> bytes;
             for (const std::string& o : ValueOrThrow(std::move(out))) bytes.emplace_back(o);
             return bytes;
           });

  py::class_<InProcessShardExecutor, ShardExecutor>(
      m, "InProcessShardExecutor",
      "Runs every task in this process from the files (the first one twice): the distributed "
      "path without a cluster, for tests")
      .def(py::init<std::string, int64_t>(), py::arg("work_dir"),
           py::arg("worker_memory_bytes") = 0)
      .def_property_readonly("tasks_run", &InProcessShardExecutor::tasks_run);

  m.def(
      "run_shard_task",
      [](const std::string& kind, const std::string& spec, const std::string& work_dir) {
        Result<std::string> out = [&] {
          py::gil_scoped_release release;
          return RunShardTask(ShardTask{kind, spec, {}}, work_dir);
        }();
        return py::bytes(ValueOrThrow(std::move(out)));
      },
      py::arg("kind"), py::arg("spec"), py::arg("work_dir"),
      "Runs one shard task on the files under work_dir and returns its output bytes "
      "(what a worker does); raises the engine's error naming the kind");
}

}  // namespace sextant::python
