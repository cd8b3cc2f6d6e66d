// A team server (remote.h): login, sync, job status, and GETs of its API.
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "register.h"
#include "sextant/remote.h"

namespace py = pybind11;

namespace sextant::python {
namespace {

py::object JobDict(const JobStatus& j) {
  py::dict d;
  d["id"] = j.id;
  d["project"] = j.project;
  d["run"] = j.run;
  d["state"] = j.state;
  d["stage"] = j.stage;
  d["progress"] = j.progress;
  d["error"] = j.error.empty() ? py::object(py::none()) : py::object(py::str(j.error));
  d["uploaded_by"] = j.uploaded_by;
  d["created_at"] = j.created_at;
  d["started_at"] = j.started_at > 0 ? py::object(py::float_(j.started_at)) : py::none();
  d["finished_at"] = j.finished_at > 0 ? py::object(py::float_(j.finished_at)) : py::none();
  return d;
}

py::dict SyncDict(const SyncReport& r) {
  py::dict d;
  d["project"] = r.project;
  d["run"] = r.run;
  d["uploads"] = r.uploads;
  d["samples"] = r.samples;
  d["output_rows"] = r.output_rows;
  d["bytes_sent"] = r.bytes_sent;
  d["chunks_sent"] = r.chunks_sent;
  d["chunks_present"] = r.chunks_present;
  d["job_id"] = r.job_id ? py::object(py::int_(*r.job_id)) : py::none();
  d["up_to_date"] = r.up_to_date;
  return d;
}

// A Python callable as a progress callback, safe to call from a thread
// without the GIL.
ProgressCallback Progress(const py::object& fn) {
  if (fn.is_none()) return {};
  auto held = std::make_shared<py::object>(fn);
  return [held](const std::string& line) {
    py::gil_scoped_acquire gil;
    try {
      (*held)(line);
    } catch (const py::error_already_set&) {
      // A failing progress printer must not fail the upload.
    }
  };
}

RemoteConfig RemoteFromTuple(const std::tuple<std::string, std::string, double>& t) {
  RemoteConfig r;
  r.url = std::get<0>(t);
  r.api_key = std::get<1>(t);
  r.retry_seconds = std::get<2>(t);
  return r;
}

}  // namespace

py::object JobStatusToPython(const JobStatus& job) { return JobDict(job); }
py::dict SyncReportToPython(const SyncReport& report) { return SyncDict(report); }
ProgressCallback ProgressFromPython(const py::object& fn) { return Progress(fn); }

void RegisterRemote(py::module_& m) {
  using Remote = std::tuple<std::string, std::string, double>;
  m.def(
      "resolve_remote",
      [](const std::filesystem::path& root) -> std::optional<Remote> {
        auto r = ValueOrThrow(ResolveRemote(root));
        if (!r) return std::nullopt;
        return Remote{r->url, r->api_key, r->retry_seconds};
      },
      py::arg("root"), "(url, api_key, retry_seconds) of the team server, or None: embedded");
  m.def(
      "login",
      [](const std::filesystem::path& root, const std::string& url, const std::string& key) {
        Result<LoginInfo> info = [&] {
          py::gil_scoped_release release;
          return Login(root, url, key);
        }();
        LoginInfo i = ValueOrThrow(std::move(info));
        py::dict d;
        d["url"] = i.url;
        d["server_version"] = i.server_version;
        d["key_name"] = i.key_name;
        d["role"] = i.role;
        d["projects"] = i.projects;
        return d;
      },
      py::arg("root"), py::arg("url"), py::arg("api_key"));
  m.def(
      "logout", [](const std::filesystem::path& root) { ThrowIfError(Logout(root)); },
      py::arg("root"));
  m.def(
      "sync",
      [](const std::filesystem::path& root, const Remote& remote, const std::string& project,
         const std::string& run, const py::object& progress) {
        const RemoteConfig r = RemoteFromTuple(remote);
        ProgressCallback cb = Progress(progress);
        Result<std::vector<SyncReport>> reports = [&]() -> Result<std::vector<SyncReport>> {
          py::gil_scoped_release release;
          if (run.empty()) return SyncRoot(root, r, cb);
          SEXTANT_ASSIGN_OR_RETURN(SyncReport one, SyncRun(root, project, run, r, cb));
          return std::vector<SyncReport>{one};
        }();
        py::list out;
        for (const SyncReport& s : ValueOrThrow(std::move(reports))) out.append(SyncDict(s));
        return out;
      },
      py::arg("root"), py::arg("remote"), py::arg("project") = "", py::arg("run") = "",
      py::arg("progress") = py::none());
  m.def(
      "get_run_status",
      [](const Remote& remote, const std::string& project, const std::string& run) -> py::object {
        Result<std::optional<JobStatus>> job = [&] {
          py::gil_scoped_release release;
          return GetRunStatus(RemoteFromTuple(remote), project, run);
        }();
        auto j = ValueOrThrow(std::move(job));
        return j ? JobDict(*j) : py::none();
      },
      py::arg("remote"), py::arg("project"), py::arg("run"));
  m.def(
      "wait_for_run",
      [](const Remote& remote, const std::string& project, const std::string& run, double timeout_s,
         const py::object& progress) {
        ProgressCallback cb = Progress(progress);
        Result<JobStatus> job = [&] {
          py::gil_scoped_release release;
          return WaitForRun(RemoteFromTuple(remote), project, run, timeout_s, cb);
        }();
        return JobDict(ValueOrThrow(std::move(job)));
      },
      py::arg("remote"), py::arg("project"), py::arg("run"), py::arg("timeout_s") = 0.0,
      py::arg("progress") = py::none());
  m.def(
      "remote_get",
      [](const Remote& remote, const std::string& path) {
        Result<std::string> body = [&] {
          py::gil_scoped_release release;
          return RemoteGet(RemoteFromTuple(remote), path);
        }();
        return py::bytes(ValueOrThrow(std::move(body)));
      },
      py::arg("remote"), py::arg("path"));
}

}  // namespace sextant::python
