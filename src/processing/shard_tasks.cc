#include "processing/shard_tasks.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <system_error>

#include "index/cosine_index.h"
#include "io/npy.h"
#include "store/run_store.h"

namespace sextant::processing {

std::vector<std::pair<int64_t, int64_t>> ShardRanges(int64_t rows, int64_t shard_rows) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t b = 0; b < rows; b += shard_rows)
    out.emplace_back(b, std::min(rows, b + shard_rows));
  return out;
}

Result<std::unique_ptr<ShardWorkspace>> ShardWorkspace::Open(ShardExecutor* executor) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::string folder = "finish-" + std::to_string(::getpid()) + "-" + std::to_string(now);
  const std::filesystem::path dir = std::filesystem::path(executor->WorkDir()) / folder;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::IOError("shard work directory '" + dir.string() + "': " + ec.message());
  }
  return std::unique_ptr<ShardWorkspace>(new ShardWorkspace(executor, std::move(folder)));
}

ShardWorkspace::ShardWorkspace(ShardExecutor* executor, std::string folder)
    : executor_(executor), folder_(std::move(folder)) {}

ShardWorkspace::~ShardWorkspace() {
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(executor_->WorkDir()) / folder_, ec);
}

std::string ShardWorkspace::Name(const std::string& file) const { return folder_ + "/" + file; }

std::filesystem::path ShardWorkspace::Path(const std::string& file) const {
  return std::filesystem::path(executor_->WorkDir()) / folder_ / file;
}

void ShardWorkspace::CountWritten(const std::string& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(Path(file), ec);
  if (!ec) bytes_written_ += static_cast<int64_t>(size);
}

Result<std::string> ShardWorkspace::SplitRows(const store::SplitResults& split,
                                              const std::string& file) {
  const std::string npy = file + ".npy";
  if (std::find(split_files_.begin(), split_files_.end(), npy) == split_files_.end()) {
    SEXTANT_RETURN_IF_ERROR(io::WriteNpyFloat32(Path(npy), split.embeddings.data(),
                                                static_cast<int64_t>(split.samples.size()),
                                                split.emb_dim));
    CountWritten(npy);
    split_files_.push_back(npy);
  }
  return Name(npy);
}

Result<std::vector<std::string>> ShardWorkspace::Run(const std::string& stage,
                                                     const std::vector<ShardTask>& tasks) {
  // Each task carries the thread counts this finish computes with now, so a
  // worker partitions its BLAS products as the in-process finish would.
  std::vector<ShardTask> stamped = tasks;
  for (ShardTask& task : stamped) {
    nlohmann::json spec = nlohmann::json::parse(task.spec, nullptr, /*allow_exceptions=*/false);
    if (!spec.is_object()) continue;
    spec["omp_threads"] = index::SearchThreads();
    spec["blas_threads"] = index::BlasThreadCount();
    task.spec = spec.dump();
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> out, executor_->Run(stage, stamped));
  if (out.size() != tasks.size()) {
    return Status::Internal("shard executor: stage '" + stage + "' returned " +
                            std::to_string(out.size()) + " outputs for " +
                            std::to_string(tasks.size()) + " tasks");
  }
  tasks_ += static_cast<int64_t>(tasks.size());
  for (const std::string& o : out) bytes_received_ += static_cast<int64_t>(o.size());
  return out;
}

ShardCache& ShardCache::Get() {
  static ShardCache* cache = new ShardCache();  // never destroyed: workers exit without teardown
  return *cache;
}

std::string ShardCache::Key(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const auto time = std::filesystem::last_write_time(path, ec);
  return path.string() + "|" + std::to_string(ec ? 0 : size) + "|" +
         std::to_string(ec ? 0 : time.time_since_epoch().count());
}

bool ShardCache::Find(const std::string& key, std::shared_ptr<const void>* out) {
  std::lock_guard lock(mu_);
  for (auto& [k, v] : entries_) {
    if (k == key) {
      *out = v;
      return true;
    }
  }
  return false;
}

void ShardCache::Put(const std::string& key, std::shared_ptr<const void> value) {
  std::lock_guard lock(mu_);
  // A finish's indexes are few; older stages' entries go first.
  constexpr size_t kMaxEntries = 8;
  if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
  entries_.emplace_back(key, std::move(value));
}

void ShardCache::Clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

Result<int64_t> SpecInt(const nlohmann::json& spec, const char* field) {
  auto it = spec.find(field);
  if (it == spec.end() || !it->is_number_integer()) {
    return Status::Invalid(std::string("shard task: field '") + field + "' must be an integer");
  }
  return it->get<int64_t>();
}

Result<std::string> SpecString(const nlohmann::json& spec, const char* field) {
  auto it = spec.find(field);
  if (it == spec.end() || !it->is_string()) {
    return Status::Invalid(std::string("shard task: field '") + field + "' must be a string");
  }
  return it->get<std::string>();
}

}  // namespace sextant::processing

namespace sextant {

Result<std::string> RunShardTask(const ShardTask& task, const std::string& work_dir) {
  nlohmann::json spec = nlohmann::json::parse(task.spec, nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object()) {
    return Status::Invalid("shard task '" + task.kind + "': spec is not a JSON object");
  }
  const std::filesystem::path dir(work_dir);
  // The driver's thread counts (ShardWorkspace::Run), when the spec has them.
  auto count = [&](const char* field) {
    auto it = spec.find(field);
    return it != spec.end() && it->is_number_integer() && it->get<int64_t>() > 0 &&
                   it->get<int64_t>() <= 4096
               ? static_cast<int32_t>(it->get<int64_t>())
               : 0;
  };
  const index::ScopedThreadCounts threads(count("omp_threads"), count("blas_threads"));
  if (task.kind == "kcore") return processing::RunKcoreTask(spec, dir);
  if (task.kind == "knn") return processing::RunKnnTask(spec, dir);
  if (task.kind == "map_place") return processing::RunMapPlaceTask(spec, dir);
  if (task.kind == "ivf_assign") return processing::RunIvfAssignTask(spec, dir);
  return Status::Invalid("shard task: unknown kind '" + task.kind +
                         "' (expected kcore, knn, map_place or ivf_assign)");
}

InProcessShardExecutor::InProcessShardExecutor(std::string work_dir, int64_t worker_memory_bytes)
    : work_dir_(std::move(work_dir)), worker_memory_bytes_(worker_memory_bytes) {}

Result<std::vector<std::string>> InProcessShardExecutor::Run(const std::string& /*stage*/,
                                                             const std::vector<ShardTask>& tasks) {
  std::vector<std::string> out(tasks.size());
  for (size_t i = tasks.size(); i-- > 0;) {
    SEXTANT_ASSIGN_OR_RETURN(out[i], RunShardTask(tasks[i], work_dir_));
    ++tasks_run_;
  }
  if (!tasks.empty()) {  // a rerun, as after a worker died, must give the same bytes
    SEXTANT_ASSIGN_OR_RETURN(std::string again, RunShardTask(tasks[0], work_dir_));
    ++tasks_run_;
    if (again != out[0]) {
      return Status::Internal("shard task '" + tasks[0].kind + "' gave different bytes when rerun");
    }
  }
  return out;
}

}  // namespace sextant
