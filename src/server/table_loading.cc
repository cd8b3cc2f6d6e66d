// Cold opens (docs/architecture.md, "Sample tables"): a split's SampleTable is
// loaded off the request threads, at server start (StartPreload) or when a
// request first needs it (LoadInBackground); until it is loaded, a page whose
// filters and sort the store's SQL answers exactly comes from the store
// (StoreQuery), and any other request waits for the table.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "server/api.h"
#include "store/run_store.h"

namespace sextant::server {

namespace fs = std::filesystem;

std::shared_ptr<const SampleTable> RunState::LoadedTable(const SplitKey& split) const {
  std::lock_guard lock(mu_);
  auto it = tables_.find(split);
  return it == tables_.end() ? nullptr : it->second->ready;
}

bool RunState::Loading(const SplitKey& split) const {
  std::lock_guard lock(mu_);
  auto it = tables_.find(split);
  return it != tables_.end() && it->second->loading;
}

namespace {

// The calling thread at the lowest CPU priority (nice 19): on Linux a thread's
// own. Requests, on normal-priority threads, come first.
void LowerThisThreadsPriority() {
#ifdef SYS_gettid
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
#endif
}

bool IsProcessedSplit(const RunReader& reader, const SplitKey& split) {
  for (const SplitInfo& s : reader.info().splits) {
    if (s.split == split) return s.processed;
  }
  return false;
}

}  // namespace

Api::~Api() {
  stopping_ = true;
  std::vector<Load> loads;
  {
    std::lock_guard lock(loads_mu_);
    loads.swap(loads_);
  }
  for (Load& l : loads) l.thread.join();
}

void Api::StartLoad(std::function<void()> body) const {
  std::lock_guard lock(loads_mu_);
  // The threads of finished loads are joined here, not kept until the end.
  for (auto it = loads_.begin(); it != loads_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = loads_.erase(it);
    } else {
      ++it;
    }
  }
  running_loads_++;
  auto done = std::make_shared<std::atomic<bool>>(false);
  loads_.push_back({std::thread([this, body = std::move(body), done] {
                      body();
                      std::lock_guard finished(loads_mu_);
                      running_loads_--;
                      done->store(true);
                      loads_done_.notify_all();
                    }),
                    done});
}

void Api::LoadInBackground(const std::shared_ptr<RunState>& state, const SplitKey& split) const {
  if (stopping_ || !IsProcessedSplit(state->reader(), split)) return;
  if (state->LoadedTable(split) || state->Loading(split)) return;
  // An error is the next request's to report.
  StartLoad([this, state, split] { (void)state->Table(split, &stopping_); });
}

void Api::WaitForBackgroundLoads() const {
  std::unique_lock lock(loads_mu_);
  loads_done_.wait(lock, [this] { return running_loads_ == 0; });
}

void Api::StartPreload(int64_t max_samples) const {
  if (max_samples <= 0) return;
  StartLoad([this, max_samples] {
    LowerThisThreadsPriority();
    auto runs = ListRuns(root_);
    if (runs.ok()) {
      // The most recently written runs first: the ones a user opens next, likely.
      auto written = [&](const RunInfo& info) {
        std::error_code ec;
        auto t = fs::last_write_time(root_ / info.project / info.run / store::kDatabaseFile, ec);
        return ec ? fs::file_time_type::min() : t;
      };
      std::vector<std::pair<fs::file_time_type, const RunInfo*>> order;
      for (const RunInfo& info : *runs) {
        if (info.status == "ok") order.emplace_back(written(info), &info);
      }
      std::stable_sort(order.begin(), order.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      int64_t loaded = 0;
      for (const auto& [when, info] : order) {
        for (const SplitInfo& s : info->splits) {
          if (stopping_) break;
          if (!s.processed || loaded + s.samples > max_samples) continue;
          auto state = Run(info->project, info->run);
          if (!state.ok()) break;
          if ((*state)->Table(s.split, &stopping_, /*low_priority=*/true).ok()) {
            loaded += s.samples;
          }
        }
      }
    }
  });
}

}  // namespace sextant::server
