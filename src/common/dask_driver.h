// The driver of a distributed finish (python/sextant/dask_finish.py) run as a
// child process: `sextant finish --dask` and `sextant serve --dask` hand a
// run's finish to it (docs/distributed.md). No shell: argv is passed as is.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sextant/status.h"

namespace sextant {

struct DaskDriver {
  std::string address;        // the Dask scheduler
  std::string worker_memory;  // "" = the executor's default (half a worker's memory limit)
  std::string transfer = "shared";
  // The interpreter: $SEXTANT_PYTHON, else /usr/bin/python3.
  std::string python;
  // PYTHONPATH of the driver: $SEXTANT_PYTHONPATH, else the build tree's python
  // folder next to this executable's (build/src/cli/sextant -> build/python)
  // when it exists; the caller's PYTHONPATH follows.
  std::string pythonpath;
  // Processing options as (name, value) text, passed as --option name=value.
  std::vector<std::pair<std::string, std::string>> options;
};

// python and pythonpath from the environment and this executable's location.
DaskDriver DefaultDaskDriver(std::string address);

// Checks transfer ("shared" or "upload") and that the address is set.
Status CheckDaskDriver(const DaskDriver& driver);

// The driver's argv for one run.
std::vector<std::string> DaskDriverArgv(const DaskDriver& driver, const std::string& root,
                                        const std::string& project, const std::string& run);

// Runs the driver for one run and waits for it. With `on_stdout_line`, reads
// its stdout line by line (else the child shares this process's stdout);
// with `stderr_tail`, keeps the last `tail_bytes` of its stderr there (else
// shared). Returns the exit status (128 + signal when killed), or an error
// when the child could not be started.
Result<int> RunDaskDriver(const DaskDriver& driver, const std::string& root,
                          const std::string& project, const std::string& run,
                          const std::function<void(const std::string& line)>& on_stdout_line = {},
                          std::string* stderr_tail = nullptr, size_t tail_bytes = 4000);

}  // namespace sextant
