#include "common/dask_driver.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

extern char** environ;

namespace sextant {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// build/src/cli/sextant -> build/python, when that folder holds the package.
std::string BuildTreePython() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const std::filesystem::path python = exe.parent_path().parent_path().parent_path() / "python";
  if (std::filesystem::exists(python / "sextant" / "dask_finish.py", ec)) return python.string();
  return {};
}

}  // namespace

DaskDriver DefaultDaskDriver(std::string address) {
  DaskDriver d;
  d.address = std::move(address);
  d.python = Env("SEXTANT_PYTHON");
  if (d.python.empty()) d.python = "/usr/bin/python3";
  d.pythonpath = Env("SEXTANT_PYTHONPATH");
  if (d.pythonpath.empty()) d.pythonpath = BuildTreePython();
  return d;
}

Status CheckDaskDriver(const DaskDriver& driver) {
  if (driver.address.empty()) return Status::Invalid("--dask: the scheduler's address is empty");
  if (driver.transfer != "shared" && driver.transfer != "upload") {
    return Status::Invalid("--dask-transfer: expected shared or upload; got '" + driver.transfer +
                           "'");
  }
  return Status::OK();
}

std::vector<std::string> DaskDriverArgv(const DaskDriver& driver, const std::string& root,
                                        const std::string& project, const std::string& run) {
  std::vector<std::string> argv = {
      driver.python, "-m",         "sextant.dask_finish", "--address", driver.address,
      "--root",      root,         "--project",           project,     "--run",
      run,           "--transfer", driver.transfer};
  if (!driver.worker_memory.empty()) {
    argv.push_back("--worker-memory");
    argv.push_back(driver.worker_memory);
  }
  for (const auto& [name, value] : driver.options) {
    argv.push_back("--option");
    argv.push_back(name + "=" + value);
  }
  return argv;
}

Result<int> RunDaskDriver(const DaskDriver& driver, const std::string& root,
                          const std::string& project, const std::string& run,
                          const std::function<void(const std::string& line)>& on_stdout_line,
                          std::string* stderr_tail, size_t tail_bytes) {
  SEXTANT_RETURN_IF_ERROR(CheckDaskDriver(driver));
  const std::vector<std::string> args = DaskDriverArgv(driver, root, project, run);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  // This environment with PYTHONPATH = the driver's, then the caller's.
  std::vector<std::string> env_text;
  std::string pythonpath = driver.pythonpath;
  const std::string inherited = Env("PYTHONPATH");
  if (!inherited.empty()) pythonpath += (pythonpath.empty() ? "" : ":") + inherited;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PYTHONPATH=", 11) != 0) env_text.emplace_back(*e);
  }
  if (!pythonpath.empty()) env_text.push_back("PYTHONPATH=" + pythonpath);
  std::vector<char*> envp;
  for (const std::string& e : env_text) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      if (fd >= 0) ::close(fd);
  };
  if ((on_stdout_line && ::pipe2(out_pipe, O_CLOEXEC) != 0) ||
      (stderr_tail && ::pipe2(err_pipe, O_CLOEXEC) != 0)) {
    close_all();
    return Status::IOError(std::string("dask driver: pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (on_stdout_line) posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  if (stderr_tail) posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  for (int* fd : {&out_pipe[1], &err_pipe[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (spawned != 0) {
    close_all();
    return Status::IOError("dask driver: cannot start '" + driver.python +
                           "': " + std::strerror(spawned) + " (set $SEXTANT_PYTHON)");
  }

  // Reads both pipes until they close: stdout by lines, stderr's tail.
  std::string line;
  std::vector<pollfd> fds;
  if (out_pipe[0] >= 0) fds.push_back({out_pipe[0], POLLIN, 0});
  if (err_pipe[0] >= 0) fds.push_back({err_pipe[0], POLLIN, 0});
  char buf[4096];
  while (!fds.empty()) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t i = 0; i < fds.size();) {
      if (fds[i].revents == 0) {
        ++i;
        continue;
      }
      const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      if (fds[i].fd == out_pipe[0]) {
        for (ssize_t k = 0; k < n; ++k) {
          if (buf[k] == '\n') {
            on_stdout_line(line);
            line.clear();
          } else {
            line.push_back(buf[k]);
          }
        }
      } else {
        stderr_tail->append(buf, static_cast<size_t>(n));
        if (stderr_tail->size() > 2 * tail_bytes) {
          stderr_tail->erase(0, stderr_tail->size() - tail_bytes);
        }
      }
      ++i;
    }
  }
  if (!line.empty() && on_stdout_line) on_stdout_line(line);
  if (stderr_tail && stderr_tail->size() > tail_bytes) {
    stderr_tail->erase(0, stderr_tail->size() - tail_bytes);
  }
  close_all();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Status::IOError(std::string("dask driver: waitpid: ") + std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace sextant
