// One writer per run inside the server process: upload commits, processing
// jobs and live ingest each hold a run's lock while they have its RunStore
// open for writing, so they wait for one another instead of failing on the
// run's file lock (store/run_store.h).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace sextant::server {

class RunLocks {
 public:
  // The mutex of project/run, created on first use and kept.
  std::shared_ptr<std::mutex> For(const std::string& project, const std::string& run) {
    std::lock_guard lock(mu_);
    auto& slot = locks_[{project, run}];
    if (!slot) slot = std::make_shared<std::mutex>();
    return slot;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<std::mutex>> locks_;
};

}  // namespace sextant::server
