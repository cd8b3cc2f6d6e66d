#include "server/jobs.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/fault_points.h"
#include "common/file_util.h"
#include "processing/process_run.h"
#include "store/run_store.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kJobSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, run TEXT NOT NULL,
  state TEXT NOT NULL, stage TEXT NOT NULL DEFAULT '', progress REAL NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '', uploaded_by TEXT NOT NULL DEFAULT '',
  uploads TEXT NOT NULL DEFAULT '[]', created_at REAL NOT NULL, started_at REAL,
  finished_at REAL, attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_by_run ON jobs(project, run, id);
)sql";

constexpr const char* kColumns =
    "id, project, run, state, stage, progress, error, uploaded_by, uploads, created_at, "
    "started_at, finished_at, attempts";

// The stages of a finish, for a progress fraction (an NER run has a few more).
constexpr double kExpectedStages = 8;

Job ReadJob(const store::Statement& st) {
  Job j;
  j.id = st.Int(0);
  j.project = st.Text(1);
  j.run = st.Text(2);
  j.state = st.Text(3);
  j.stage = st.Text(4);
  j.progress = st.Double(5);
  j.error = st.Text(6);
  j.uploaded_by = st.Text(7);
  json uploads = json::parse(st.Text(8), nullptr, false);
  if (uploads.is_array()) {
    for (const auto& u : uploads) {
      if (u.is_string()) j.uploads.push_back(u.get<std::string>());
    }
  }
  j.created_at = st.Double(9);
  j.started_at = st.OptDouble(10);
  j.finished_at = st.OptDouble(11);
  j.attempts = static_cast<int>(st.Int(12));
  return j;
}

}  // namespace

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<fs::path> ServerDir(const fs::path& root) {
  const fs::path dir = root / ".server";
  SEXTANT_RETURN_IF_ERROR(CreateDirs(dir));
  return dir;
}

Result<std::unique_ptr<store::Database>> OpenServerDatabase(const fs::path& root) {
  SEXTANT_ASSIGN_OR_RETURN(fs::path dir, ServerDir(root));
  return store::Database::Open(dir / "server.db", /*create=*/true);
}

Result<std::unique_ptr<JobQueue>> JobQueue::Open(const fs::path& root, RunLocks* run_locks,
                                                 Processor processor) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db, OpenServerDatabase(root));
  SEXTANT_RETURN_IF_ERROR(db->Exec(kJobSchema));
  // A job running when the server stopped runs again, from the start.
  SEXTANT_RETURN_IF_ERROR(
      db->Exec("UPDATE jobs SET state='queued', stage='interrupted by a server restart; "
               "queued again', progress=0 WHERE state='running'"));
  return std::unique_ptr<JobQueue>(
      new JobQueue(root, run_locks, std::move(processor), std::move(db)));
}

JobQueue::JobQueue(fs::path root, RunLocks* run_locks, Processor processor,
                   std::unique_ptr<store::Database> db)
    : root_(std::move(root)),
      run_locks_(run_locks),
      processor_(std::move(processor)),
      db_(std::move(db)) {}

JobQueue::~JobQueue() {
  Stop(1e9);  // a queue destroyed while a job runs waits for it
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void JobQueue::Start(int workers) {
  std::lock_guard lock(mu_);
  stopping_ = false;
  for (int i = 0; i < std::max(1, workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

bool JobQueue::Stop(double grace_s) {
  std::unique_lock lock(mu_);
  stopping_ = true;
  wake_.notify_all();
  const bool idle = idle_.wait_for(lock, std::chrono::duration<double>(std::max(0.0, grace_s)),
                                   [&] { return busy_ == 0; });
  if (!idle) {
    // A finish cannot be interrupted midway: leave it; at the next start it
    // is queued again (Open()).
    for (auto& t : workers_) t.detach();
    workers_.clear();
    return false;
  }
  lock.unlock();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  return true;
}

Result<Job> JobQueue::Enqueue(const std::string& project, const std::string& run,
                              const std::string& upload_id, const std::string& uploaded_by) {
  Job job;
  {
    std::lock_guard db_lock(db_mu_);
    SEXTANT_RETURN_IF_ERROR(db_->Transaction([&]() -> Status {
      SEXTANT_ASSIGN_OR_RETURN(
          store::Statement find,
          db_->Prepare(std::string("SELECT ") + kColumns +
                       " FROM jobs WHERE project=? AND run=? AND state='queued' "
                       "ORDER BY id LIMIT 1"));
      find.Bind(1, project).Bind(2, run);
      SEXTANT_ASSIGN_OR_RETURN(bool found, find.Step());
      if (found) {
        job = ReadJob(find);
        if (std::find(job.uploads.begin(), job.uploads.end(), upload_id) == job.uploads.end()) {
          job.uploads.push_back(upload_id);
        }
        job.uploaded_by = uploaded_by;
        SEXTANT_ASSIGN_OR_RETURN(
            store::Statement up,
            db_->Prepare("UPDATE jobs SET uploads=?, uploaded_by=? WHERE id=?"));
        up.Bind(1, json(job.uploads).dump()).Bind(2, uploaded_by).Bind(3, job.id);
        return up.Run();
      }
      job.project = project;
      job.run = run;
      job.state = "queued";
      job.stage = "waiting for a worker";
      job.uploaded_by = uploaded_by;
      job.uploads = {upload_id};
      job.created_at = UnixSeconds();
      SEXTANT_ASSIGN_OR_RETURN(
          store::Statement ins,
          db_->Prepare("INSERT INTO jobs(project, run, state, stage, uploaded_by, uploads, "
                       "created_at) VALUES(?,?,?,?,?,?,?)"));
      ins.Bind(1, project).Bind(2, run).Bind(3, job.state).Bind(4, job.stage);
      ins.Bind(5, uploaded_by).Bind(6, json(job.uploads).dump()).Bind(7, job.created_at);
      SEXTANT_RETURN_IF_ERROR(ins.Run());
      job.id = db_->LastInsertRowId();
      return Status::OK();
    }));
  }
  wake_.notify_one();
  return job;
}

Result<std::optional<Job>> JobQueue::Get(int64_t id) const {
  std::lock_guard db_lock(db_mu_);
  SEXTANT_ASSIGN_OR_RETURN(store::Statement st, db_->Prepare(std::string("SELECT ") + kColumns +
                                                             " FROM jobs WHERE id=?"));
  st.Bind(1, id);
  SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<Job>();
  return std::optional<Job>(ReadJob(st));
}

Result<std::vector<Job>> JobQueue::List(const std::string& project, const std::string& run,
                                        int limit) const {
  std::lock_guard db_lock(db_mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM jobs";
  if (!project.empty()) sql += run.empty() ? " WHERE project=?" : " WHERE project=? AND run=?";
  sql += " ORDER BY id DESC LIMIT ?";
  SEXTANT_ASSIGN_OR_RETURN(store::Statement st, db_->Prepare(sql));
  int i = 1;
  if (!project.empty()) {
    st.Bind(i++, project);
    if (!run.empty()) st.Bind(i++, run);
  }
  st.Bind(i, limit);
  std::vector<Job> out;
  for (;;) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(ReadJob(st));
  }
  return out;
}

Result<std::optional<Job>> JobQueue::Latest(const std::string& project,
                                            const std::string& run) const {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Job> jobs, List(project, run, 1));
  if (jobs.empty()) return std::optional<Job>();
  return std::optional<Job>(jobs.front());
}

Result<std::map<std::string, int64_t>> JobQueue::CountByState() const {
  std::lock_guard db_lock(db_mu_);
  SEXTANT_ASSIGN_OR_RETURN(store::Statement st,
                           db_->Prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
  std::map<std::string, int64_t> out = {{"queued", 0}, {"running", 0}, {"done", 0}, {"failed", 0}};
  for (;;) {
    SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out[st.Text(0)] = st.Int(1);
  }
  return out;
}

Result<std::optional<Job>> JobQueue::Claim() {
  std::lock_guard db_lock(db_mu_);
  std::optional<Job> job;
  SEXTANT_RETURN_IF_ERROR(db_->Transaction([&]() -> Status {
    // The oldest queued job whose run is not being processed already.
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement st,
        db_->Prepare(std::string("SELECT ") + kColumns +
                     " FROM jobs AS q WHERE state='queued' AND NOT EXISTS (SELECT 1 FROM jobs "
                     "AS r WHERE r.state='running' AND r.project=q.project AND r.run=q.run) "
                     "ORDER BY id LIMIT 1"));
    SEXTANT_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return Status::OK();
    job = ReadJob(st);
    job->state = "running";
    job->stage = "starting";
    job->started_at = UnixSeconds();
    ++job->attempts;
    SEXTANT_ASSIGN_OR_RETURN(
        store::Statement up,
        db_->Prepare("UPDATE jobs SET state='running', stage='starting', progress=0, "
                     "started_at=?, attempts=? WHERE id=?"));
    up.Bind(1, *job->started_at).Bind(2, job->attempts).Bind(3, job->id);
    return up.Run();
  }));
  return job;
}

Status JobQueue::Finish(const Job& job, const Status& result) {
  std::lock_guard db_lock(db_mu_);
  SEXTANT_ASSIGN_OR_RETURN(
      store::Statement st,
      db_->Prepare("UPDATE jobs SET state=?, stage=?, progress=?, error=?, finished_at=? "
                   "WHERE id=?"));
  st.Bind(1, result.ok() ? "done" : "failed").Bind(2, result.ok() ? "done" : job.stage);
  st.Bind(3, result.ok() ? 1.0 : job.progress).Bind(4, result.ok() ? "" : result.ToString());
  st.Bind(5, UnixSeconds()).Bind(6, job.id);
  return st.Run();
}

void JobQueue::WorkerLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      ++busy_;
    }
    Result<std::optional<Job>> claimed = Claim();
    if (claimed.ok() && *claimed) {
      Job job = **claimed;
      const auto start = std::chrono::steady_clock::now();
      Report report = [this, &job](const std::string& stage, double progress) {
        job.stage = stage;
        job.progress = progress;
        std::lock_guard db_lock(db_mu_);
        auto st =
            db_->Prepare("UPDATE jobs SET stage=?, progress=? WHERE id=? AND state='running'");
        if (st.ok()) (void)st->Bind(1, stage).Bind(2, progress).Bind(3, job.id).Run();
      };
      Status result;
      try {
        result = processor_ ? processor_(job, report) : DefaultProcess(job, report);
      } catch (const std::exception& e) {
        result = Status::Internal(std::string("processing threw: ") + e.what());
      }
      (void)Finish(job, result);
      job.state = result.ok() ? "done" : "failed";
      if (on_finished_) {
        on_finished_(
            job, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
    }
    std::unique_lock lock(mu_);
    --busy_;
    idle_.notify_all();
    if (stopping_) return;
    if (!claimed.ok() || !*claimed) wake_.wait_for(lock, std::chrono::seconds(1));
  }
}

Status JobQueue::DefaultProcess(const Job& job, const Report& report) {
  std::shared_ptr<std::mutex> run_lock = run_locks_->For(job.project, job.run);
  std::lock_guard lock(*run_lock);
  SEXTANT_ASSIGN_OR_RETURN(
      std::unique_ptr<store::RunStore> store,
      store::RunStore::Open(root_ / job.project / job.run, store::RunStore::Mode::kWrite));
  int done = 0;
  processing::StageCallback on_stage = [&](const std::string& stage) {
    ++done;
    FaultPoint("SEXTANT_FAULT_SERVER_KILL_AT_STAGE", stage);
    report(stage, std::min(0.99, done / kExpectedStages));
  };
  if (dask_) {
    // The driver finishes the run on the cluster; the run lock stays held
    // here, and its "stage: NAME" lines are the job's progress.
    store.reset();
    std::string stderr_tail;
    constexpr std::string_view kStagePrefix = "stage: ";
    SEXTANT_ASSIGN_OR_RETURN(int exit_status, RunDaskDriver(
                                                  *dask_, root_.string(), job.project, job.run,
                                                  [&](const std::string& line) {
                                                    if (line.rfind(kStagePrefix, 0) == 0)
                                                      on_stage(line.substr(kStagePrefix.size()));
                                                  },
                                                  &stderr_tail));
    if (exit_status != 0) {
      return Status::Internal("distributed finish (dask " + dask_->address + ") exited with " +
                              std::to_string(exit_status) + ": " + stderr_tail);
    }
    return Status::OK();
  }
  return processing::ProcessRun(*store, ProcessingOptions{}, on_stage).status();
}

}  // namespace sextant::server
