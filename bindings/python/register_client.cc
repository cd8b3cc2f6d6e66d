// client.h: the logging client. Inputs are converted (ids and texts to
// std::string, arrays to C-contiguous float32) with the GIL held; every engine
// call runs with the GIL released, so other Python threads (a data loader, a
// second logging thread) keep running.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <charconv>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>

#include "register.h"
#include "sextant/client.h"

namespace py = pybind11;

namespace sextant::python {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

py::dict FinishReportToPython(const FinishReport& r) {
  py::dict out;
  out["splits"] = r.splits;
  out["samples"] = r.samples;
  out["seconds"] = r.seconds;
  out["stage_seconds"] = r.stage_seconds;
  out["shard_tasks"] = r.shard_tasks;
  out["shard_bytes_written"] = r.shard_bytes_written;
  out["shard_bytes_received"] = r.shard_bytes_received;
  out["uploaded"] = r.uploaded;
  out["upload_pending"] = r.upload_pending;
  out["message"] = r.message;
  out["sync"] = r.sync ? py::object(SyncReportToPython(*r.sync)) : py::none();
  out["job"] = r.job ? JobStatusToPython(*r.job) : py::none();
  return out;
}

// Owns the engine's Client until close(). Calls in flight keep it alive (each
// holds a shared_ptr), so close() from one thread while another logs is safe.
class ClientHandle {
 public:
  explicit ClientHandle(std::unique_ptr<Client> client) : client_(std::move(client)) {}
  ~ClientHandle() {
    py::gil_scoped_release release;
    std::shared_ptr<Client> last;
    {
      std::lock_guard lock(mu_);
      last.swap(client_);
    }
  }

  std::shared_ptr<Client> Get() const {
    std::lock_guard lock(mu_);
    if (!client_) {
      ThrowIfError(Status::FailedPrecondition("the client is closed; call sextant.init() first"));
    }
    return client_;
  }

  // Flushes and releases the run's write lock; later calls raise.
  void Close() {
    std::shared_ptr<Client> last;
    {
      std::lock_guard lock(mu_);
      last.swap(client_);
    }
    py::gil_scoped_release release;
    last.reset();
  }

  bool closed() const {
    std::lock_guard lock(mu_);
    return client_ == nullptr;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<Client> client_;
};

// A matrix argument of the output calls: None, a numpy array or nested list
// (converted to C-contiguous float32 when it is not one already), or a torch
// tensor, read in place through data_ptr(). A tensor must be on the CPU,
// float32, 2-D and C-contiguous: sextant._convert.to_matrix passes only such
// tensors through (it converts the others), because detach().numpy() inside a
// forward pass costs more than the rest of the call.
class MatrixArg {
 public:
  MatrixArg(const py::object& x, const char* field) {
    if (x.is_none()) return;
    if (!py::isinstance<py::array>(x) && py::hasattr(x, "data_ptr")) {
      const auto shape = x.attr("shape").cast<std::vector<int64_t>>();
      if (shape.size() != 2) ThrowIfError(Expected2D(field, shape.size()));
      const auto address = x.attr("data_ptr")().cast<uintptr_t>();
      view_ = {reinterpret_cast<const float*>(address), shape[0], shape[1]};
      return;
    }
    array_ = FloatArray::ensure(x);
    if (!*array_) {
      ThrowIfError(Status::Invalid(std::string(field) + ": expected a 2-D array of numbers"));
    }
    if (array_->ndim() != 2) ThrowIfError(Expected2D(field, static_cast<size_t>(array_->ndim())));
    view_ = {array_->data(), array_->shape(0), array_->shape(1)};
  }
  const MatrixView& view() const { return view_; }

 private:
  static Status Expected2D(const char* field, size_t ndim) {
    return Status::Invalid(std::string(field) + ": expected a 2-D array (samples x values), got " +
                           std::to_string(ndim) + " dimension(s)");
  }
  std::optional<FloatArray> array_;  // owns the converted copy, if any
  MatrixView view_;
};

std::optional<SplitKey> OptionalSplit(const std::optional<std::string>& split,
                                      const std::string& inference_name) {
  if (!split) return std::nullopt;
  return SplitKeyOrThrow(*split, inference_name);
}

// Sample ids of an outputs batch, read here rather than in Python (cheaper
// inside a forward pass): a list or tuple of str and int, or a 1-D signed
// integer array (ids straight from the data loader), ints formatted as str(int)
// would. Anything else goes through sextant._convert.to_ids.
std::vector<std::string> OutputIds(const py::object& ids) {
  if (PyList_Check(ids.ptr()) || PyTuple_Check(ids.ptr())) {
    PyObject* seq = ids.ptr();
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject** items = PySequence_Fast_ITEMS(seq);
    std::vector<std::string> out(static_cast<size_t>(n));
    char buffer[24];
    bool simple = true;
    for (Py_ssize_t i = 0; i < n && simple; ++i) {
      PyObject* item = items[i];
      if (PyUnicode_Check(item)) {
        Py_ssize_t size = 0;
        const char* text = PyUnicode_AsUTF8AndSize(item, &size);
        if (text == nullptr) throw py::error_already_set();
        out[static_cast<size_t>(i)].assign(text, static_cast<size_t>(size));
      } else if (PyLong_CheckExact(item)) {
        int overflow = 0;
        const long long value = PyLong_AsLongLongAndOverflow(item, &overflow);
        simple = overflow == 0;
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
        out[static_cast<size_t>(i)].assign(buffer, end);
      } else {
        simple = false;
      }
    }
    if (simple) return out;
  } else if (py::isinstance<py::array>(ids)) {
    auto array = py::reinterpret_borrow<py::array>(ids);
    if (array.dtype().kind() == 'i' && array.ndim() == 1) {
      auto values = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(array);
      std::vector<std::string> out(static_cast<size_t>(values.size()));
      char buffer[24];
      for (py::ssize_t i = 0; i < values.size(); ++i) {
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), values.data()[i]);
        out[static_cast<size_t>(i)].assign(buffer, end);
      }
      return out;
    }
  }
  return py::module_::import("sextant._convert")
      .attr("to_ids")(ids)
      .cast<std::vector<std::string>>();
}

// log_model_outputs and check_model_outputs: the same arguments, converted
// under the GIL, then the engine call without it.
using OutputsMethod = Status (Client::*)(const OutputsBatch&, std::optional<SplitKey>,
                                         std::optional<int32_t>);
auto OutputsCall(OutputsMethod method) {
  return [method](const ClientHandle& h, const py::object& ids, const py::object& embs,
                  const py::object& logits, const py::object& probs,
                  const std::optional<std::string>& split, const std::string& inference_name,
                  std::optional<int32_t> epoch, int64_t tokens_per_sample,
                  std::vector<int64_t> token_counts) {
    auto client = h.Get();
    const MatrixArg embs_arg(embs, "embs"), logits_arg(logits, "logits"), probs_arg(probs, "probs");
    OutputsBatch batch;
    batch.ids = OutputIds(ids);
    batch.embeddings = embs_arg.view();
    batch.logits = logits_arg.view();
    batch.probabilities = probs_arg.view();
    batch.tokens_per_sample = tokens_per_sample;
    batch.token_counts = std::move(token_counts);
    std::optional<SplitKey> key = OptionalSplit(split, inference_name);
    Status st;
    {
      py::gil_scoped_release release;
      st = ((*client).*method)(batch, key, epoch);
    }
    ThrowIfError(st);
  };
}
// The arguments of both output calls, as Python sees them.
#define OUTPUTS_ARGS                                                                              \
  py::arg("ids"), py::arg("embs"), py::arg("logits") = py::none(), py::arg("probs") = py::none(), \
                                   py::arg("split") = py::none(), py::arg("inference_name") = "", \
                                   py::arg("epoch") = py::none(),                                 \
                                   py::arg("tokens_per_sample") = 0,                              \
                                   py::arg("token_counts") = std::vector<int64_t> {}

}  // namespace

void RegisterClient(py::module_& m) {
  py::class_<ClientHandle, std::shared_ptr<ClientHandle>>(
      m, "Client", "The engine's logging client (client.h); thread-safe")
      .def_static(
          "init",
          [](const std::string& root, const std::string& project, const std::string& run,
             const std::string& task, std::optional<int64_t> max_pending_bytes,
             std::optional<std::tuple<std::string, std::string, double>> remote) {
            TaskType task_type = ValueOrThrow(ParseTaskType(task));
            ClientOptions options{.root = root, .project = project, .run = run, .task = task_type};
            if (max_pending_bytes) options.max_pending_bytes = *max_pending_bytes;
            if (remote) {
              options.remote =
                  RemoteConfig{std::get<0>(*remote), std::get<1>(*remote), std::get<2>(*remote)};
            }
            Result<std::unique_ptr<Client>> client = [&] {
              py::gil_scoped_release release;
              return Client::Init(options);
            }();
            return std::make_shared<ClientHandle>(ValueOrThrow(std::move(client)));
          },
          py::arg("root"), py::arg("project"), py::arg("run"), py::arg("task"),
          py::arg("max_pending_bytes") = py::none(), py::arg("remote") = py::none())
      .def(
          "set_labels_for_run",
          [](const ClientHandle& h, const std::vector<std::string>& labels) {
            auto client = h.Get();
            Status st;
            {
              py::gil_scoped_release release;
              st = client->SetLabelsForRun(labels);
            }
            ThrowIfError(st);
          },
          py::arg("labels"))
      .def_property_readonly("labels", [](const ClientHandle& h) { return h.Get()->labels(); })
      .def_property_readonly("run_dir", [](const ClientHandle& h) { return h.Get()->run_dir(); })
      .def_property_readonly("closed", &ClientHandle::closed)
      .def(
          "set_split",
          [](const ClientHandle& h, const std::string& split, const std::string& inference_name,
             std::optional<double> timestamp) {
            auto client = h.Get();
            Split s = ValueOrThrow(ParseSplit(split));
            Status st;
            {
              py::gil_scoped_release release;
              st = client->SetSplit(s, inference_name, timestamp);
            }
            ThrowIfError(st);
          },
          py::arg("split"), py::arg("inference_name") = "", py::arg("timestamp") = py::none())
      .def(
          "set_epoch",
          [](const ClientHandle& h, int32_t epoch) {
            auto client = h.Get();
            Status st;
            {
              py::gil_scoped_release release;
              st = client->SetEpoch(epoch);
            }
            ThrowIfError(st);
          },
          py::arg("epoch"))
      .def(
          "log_data_samples",
          [](const ClientHandle& h, std::vector<std::string> ids, std::vector<std::string> texts,
             std::optional<std::vector<std::string>> labels,
             std::optional<std::vector<int32_t>> label_indices,
             std::vector<std::pair<std::string, std::vector<std::string>>> meta,
             const std::optional<std::string>& split, const std::string& inference_name,
             bool skip_if_identical, std::vector<std::string> premises,
             std::vector<std::string> hypotheses,
             std::vector<std::vector<std::pair<int32_t, int32_t>>> token_offsets,
             std::optional<std::vector<std::vector<std::tuple<int32_t, int32_t, std::string>>>>
                 gold_spans) {
            auto client = h.Get();
            DataBatch batch;
            batch.ids = std::move(ids);
            batch.texts = std::move(texts);
            batch.premises = std::move(premises);
            batch.hypotheses = std::move(hypotheses);
            for (const auto& sample : token_offsets) {
              auto& out = batch.token_offsets.emplace_back();
              for (const auto& [start, end] : sample) out.push_back({start, end});
            }
            if (gold_spans) {
              for (const auto& sample : *gold_spans) {
                auto& out = batch.gold_spans.emplace_back();
                for (const auto& [start, end, label] : sample) out.push_back({start, end, label});
              }
            }
            if (labels) batch.labels = std::move(*labels);
            if (label_indices) batch.label_indices = std::move(*label_indices);
            for (auto& [name, values] : meta) batch.meta.push_back({name, std::move(values)});
            std::optional<SplitKey> key = OptionalSplit(split, inference_name);
            Status st;
            {
              py::gil_scoped_release release;
              st = client->LogDataSamples(
                  batch, key,
                  skip_if_identical ? ExistingSamples::kSkipIfIdentical : ExistingSamples::kReject);
            }
            ThrowIfError(st);
          },
          py::arg("ids"), py::arg("texts"), py::arg("labels") = py::none(),
          py::arg("label_indices") = py::none(),
          py::arg("meta") = std::vector<std::pair<std::string, std::vector<std::string>>>{},
          py::arg("split") = py::none(), py::arg("inference_name") = "",
          py::arg("skip_if_identical") = false, py::arg("premises") = std::vector<std::string>{},
          py::arg("hypotheses") = std::vector<std::string>{},
          py::arg("token_offsets") = std::vector<std::vector<std::pair<int32_t, int32_t>>>{},
          py::arg("gold_spans") = py::none())
      .def(
          "set_tagging_schema",
          [](const ClientHandle& h, const std::string& schema) {
            TaggingSchema parsed = ValueOrThrow(ParseTaggingSchema(schema));
            auto client = h.Get();
            Status st;
            {
              py::gil_scoped_release release;
              st = client->SetTaggingSchema(parsed);
            }
            ThrowIfError(st);
          },
          py::arg("schema"))
      .def("log_model_outputs", OutputsCall(&Client::LogModelOutputs), OUTPUTS_ARGS)
      .def("check_model_outputs", OutputsCall(&Client::CheckModelOutputs), OUTPUTS_ARGS)
#undef OUTPUTS_ARGS
      .def("flush",
           [](const ClientHandle& h) {
             auto client = h.Get();
             Status st;
             {
               py::gil_scoped_release release;
               st = client->Flush();
             }
             ThrowIfError(st);
           })
      .def(
          "finish",
          [](const ClientHandle& h, const ProcessingOptions& options, bool wait, double timeout_s,
             const py::object& progress, const py::object& executor) {
            auto client = h.Get();
            UploadOptions upload{
                .wait = wait, .timeout_s = timeout_s, .progress = ProgressFromPython(progress)};
            ProcessingOptions with_executor = options;
            // `executor` (an argument) keeps the Python object alive during the call.
            with_executor.executor = ShardExecutorFromPython(executor);
            Result<FinishReport> report = [&] {
              py::gil_scoped_release release;
              return client->Finish(with_executor, upload);
            }();
            return FinishReportToPython(ValueOrThrow(std::move(report)));
          },
          py::arg("options") = ProcessingOptions{}, py::arg("wait") = true,
          py::arg("timeout_s") = 0.0, py::arg("progress") = py::none(),
          py::arg("executor") = py::none())
      .def("close", &ClientHandle::Close);

  m.def(
      "finish_run",
      [](const std::filesystem::path& root, const std::string& project, const std::string& run,
         const ProcessingOptions& options, const py::object& executor, const py::object& on_stage) {
        ProcessingOptions with_executor = options;
        with_executor.executor = ShardExecutorFromPython(executor);
        const ProgressCallback stage_done = ProgressFromPython(on_stage);
        Result<FinishReport> report = [&] {
          py::gil_scoped_release release;
          return FinishRun(root, project, run, with_executor, stage_done);
        }();
        return FinishReportToPython(ValueOrThrow(std::move(report)));
      },
      py::arg("root"), py::arg("project"), py::arg("run"), py::arg("options") = ProcessingOptions{},
      py::arg("executor") = py::none(), py::arg("on_stage") = py::none(),
      "Processes a logged run (what `sextant finish` does); on_stage(name) after each stage");
  m.def(
      "resolve_root", [](const std::filesystem::path& root) { return ResolveRoot(root); },
      py::arg("root") = std::filesystem::path());
}

}  // namespace sextant::python
