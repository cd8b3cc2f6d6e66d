#include "query/check.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/crc32c.h"
#include "common/file_util.h"
#include "sextant/results.h"
#include "store/run_store.h"

namespace sextant {
namespace fs = std::filesystem;

namespace {

constexpr const char* kRequiredTables[] = {"meta", "samples", "output_logs", "results",
                                           "summaries"};

std::string Range(int64_t a, int64_t b) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

std::string LogName(const store::OutputLogInfo& info) {
  return "output log of split '" + info.split.ToString() + "' epoch " + std::to_string(info.epoch);
}

// How much of a committed output log is sound: rows [0, valid_rows) pass
// every check; `reason` says what is wrong at valid_rows when less than all.
struct LogScan {
  store::OutputLogInfo info;
  int64_t valid_rows = 0;
  std::string reason;
};

template <typename T>
void ReadPrefix(const fs::path& path, int64_t count, std::vector<T>* out) {
  out->assign(static_cast<size_t>(std::max<int64_t>(count, 0)), T{});
  if (count <= 0) return;
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(out->data()), static_cast<std::streamsize>(count * sizeof(T)));
}

Result<LogScan> ScanLog(const store::RunStore& store, const store::OutputLogInfo& info) {
  LogScan scan{info, info.rows, ""};
  auto cut = [&](int64_t at, const std::string& why) {
    if (at < scan.valid_rows) {
      scan.valid_rows = at;
      scan.reason = why;
    }
  };
  SEXTANT_ASSIGN_OR_RETURN(int64_t samples, store.SampleCount(info.split));
  const fs::path rows_path = store.LogPath(info.split, info.epoch, ".rows.i64");
  const fs::path emb_path = store.LogPath(info.split, info.epoch, ".emb.f32");
  const fs::path out_path = store.LogPath(info.split, info.epoch, ".out.f32");
  int64_t available = info.rows;
  for (const auto& [path, width] :
       {std::pair{rows_path, int64_t{8}}, std::pair{emb_path, info.emb_dim * 4},
        std::pair{out_path, info.out_dim * 4}}) {
    if (width == 0 || info.rows == 0) continue;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const int64_t rows = ec ? 0 : static_cast<int64_t>(size) / width;
    if (rows < info.rows) {
      cut(rows, "file '" + path.string() + "' " +
                    (ec ? "is missing" : "holds " + std::to_string(rows) + " rows") + "; " +
                    std::to_string(info.rows) + " are committed");
    }
    available = std::min(available, rows);
  }
  std::vector<int64_t> rows;
  std::vector<float> emb, out;
  ReadPrefix(rows_path, available, &rows);
  ReadPrefix(emb_path, available * info.emb_dim, &emb);
  ReadPrefix(out_path, available * info.out_dim, &out);

  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::OutputBatchInfo> batches,
                           store.ListOutputBatches(info.split, info.epoch));
  // The start of the batch holding row i: a cut keeps whole batches.
  auto batch_start = [&](int64_t i) {
    for (const auto& b : batches) {
      if (i >= b.first_row && i < b.first_row + b.rows) return b.first_row;
    }
    return i;
  };
  int64_t expected = 0;
  for (const store::OutputBatchInfo& b : batches) {
    if (b.first_row >= info.rows) break;
    if (b.first_row != expected) {
      if (store.format_version() >= 2 || expected > 0) {
        cut(expected, "file '" + rows_path.string() + "': rows " + Range(expected, b.first_row) +
                          " have no recorded checksum (sextant.db table output_batches)");
        break;
      }
    }
    expected = b.first_row + b.rows;
    if (b.first_row + b.rows > available) break;  // already cut by the file length
    auto crc = [&](const void* base, int64_t width, size_t item) {
      const auto* p =
          static_cast<const char*>(base) + b.first_row * width * static_cast<int64_t>(item);
      return Crc32c(p, static_cast<size_t>(b.rows * width) * item);
    };
    const char* bad = nullptr;
    uint32_t got = 0, want = 0;
    if ((got = crc(rows.data(), 1, 8)) != b.rows_crc) {
      bad = ".rows.i64", want = b.rows_crc;
    } else if ((got = crc(emb.data(), info.emb_dim, 4)) != b.emb_crc) {
      bad = ".emb.f32", want = b.emb_crc;
    } else if ((got = crc(out.data(), info.out_dim, 4)) != b.out_crc) {
      bad = ".out.f32", want = b.out_crc;
    }
    if (bad != nullptr) {
      cut(b.first_row, "file '" + store.LogPath(info.split, info.epoch, bad).string() + "': rows " +
                           Range(b.first_row, b.first_row + b.rows) + " have checksum " +
                           Crc32cHex(got) + "; " + Crc32cHex(want) + " was recorded");
      break;
    }
  }
  if (store.format_version() >= 2 && expected < std::min(available, info.rows)) {
    cut(expected, "file '" + rows_path.string() + "': rows " + Range(expected, info.rows) +
                      " have no recorded checksum (sextant.db table output_batches)");
  }
  for (int64_t i = 0; i < std::min(available, scan.valid_rows); ++i) {
    if (rows[i] < 0 || rows[i] >= samples) {
      cut(batch_start(i), "file '" + rows_path.string() + "': entry " + std::to_string(i) +
                              " names sample row " + std::to_string(rows[i]) + "; split '" +
                              info.split.ToString() + "' has " + std::to_string(samples) +
                              " samples");
      break;
    }
    auto finite = [&](const std::vector<float>& v, int64_t width) {
      for (int64_t c = 0; c < width; ++c) {
        if (!std::isfinite(v[static_cast<size_t>(i * width + c)])) return false;
      }
      return true;
    };
    if (!finite(emb, info.emb_dim) || !finite(out, info.out_dim)) {
      cut(batch_start(i), "file '" + (finite(emb, info.emb_dim) ? out_path : emb_path).string() +
                              "': entry " + std::to_string(i) + " holds NaN or an infinite value");
      break;
    }
  }
  return scan;
}

// The results of the committed generation, through the reader users read
// them with: every check it makes on open and on each read.
void CheckResults(const fs::path& run_dir, const store::RunStore& store, int64_t gen,
                  std::vector<std::string>* problems) {
  auto problem = [&](const Status& st) { problems->push_back(st.message()); };
  const fs::path gen_dir = store.GenerationDir(gen);
  std::error_code ec;
  if (!fs::is_directory(gen_dir, ec)) {
    problems->push_back("results folder '" + gen_dir.string() + "' of the committed generation " +
                        std::to_string(gen) + " is missing");
    return;
  }
  auto files = store.ListResultFiles(gen);
  if (!files.ok()) return problem(files.status());
  for (const store::ResultFileInfo& f : *files) {
    Status st = store.VerifyResultFile(gen, f.path);
    if (!st.ok()) problem(st);
  }
  auto reader =
      RunReader::Open(run_dir.parent_path().parent_path(),
                      run_dir.parent_path().filename().string(), run_dir.filename().string());
  if (!reader.ok()) return problem(reader.status());
  const RunReader& r = **reader;
  if (auto s = r.SummaryJson(); !s.ok()) problem(s.status());
  for (const SplitInfo& split : r.info().splits) {
    if (!split.processed) continue;
    if (auto s = r.SummaryJson(split.split); !s.ok()) problem(s.status());
    constexpr int64_t kPage = 10000;
    std::string first_id;
    for (int64_t offset = 0;; offset += kPage) {
      SampleQuery q;
      q.split = split.split;
      q.offset = offset;
      q.limit = kPage;
      q.include_probs = true;
      q.include_embeddings = true;
      auto rows = r.Samples(q);
      if (!rows.ok()) {
        problem(rows.status());
        break;
      }
      if (first_id.empty() && !rows->empty()) first_id = rows->front().id;
      if (static_cast<int64_t>(rows->size()) < kPage) break;
    }
    // Loads (and so checks) the similarity index and its manifest.
    if (!first_id.empty()) {
      if (auto sim = r.Similar(split.split, first_id, 1);
          !sim.ok() && sim.status().code() != StatusCode::kFailedPrecondition) {
        problem(sim.status());
      }
    }
    if (auto m = r.MapPoints(split.split);
        !m.ok() && m.status().code() != StatusCode::kFailedPrecondition) {
      problem(m.status());
    }
    if (store.task() == TaskType::kNamedEntityRecognition) {
      SpanQuery q;
      q.split = split.split;
      if (auto spans = r.Spans(q); !spans.ok()) problem(spans.status());
    }
  }
}

// Runs of `root` as CheckStore and ListRuns see them: folders holding a
// database, or output logs or results without one.
bool LooksLikeRun(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / store::kDatabaseFile, ec) || fs::is_directory(dir / "outputs", ec) ||
         fs::is_directory(dir / "results", ec);
}

std::vector<std::string> Leftovers(const fs::path& run_dir, int64_t committed,
                                   std::vector<fs::path>* paths) {
  std::vector<std::string> notes;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir / "results", ec)) {
    if (e.path().filename() == "gen-" + std::to_string(committed)) continue;
    notes.push_back("'" + e.path().string() + "' is not the committed generation (" +
                    std::to_string(committed) + "): left by a failed finish or kept for a reader");
    paths->push_back(e.path());
  }
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    if (e.path().filename().string().rfind(".sextant.db.creating-", 0) == 0) {
      notes.push_back("'" + e.path().string() + "' is left by an interrupted run creation");
      paths->push_back(e.path());
    }
  }
  return notes;
}

}  // namespace

RunCheck CheckRun(const fs::path& run_dir) {
  RunCheck c;
  c.dir = run_dir;
  c.project = run_dir.parent_path().filename().string();
  c.run = run_dir.filename().string();
  auto problem = [&](const std::string& p) { c.problems.push_back(p); };
  const fs::path db_path = run_dir / store::kDatabaseFile;
  std::error_code ec;
  if (!fs::exists(db_path, ec)) {
    problem("'" + db_path.string() + "' is missing");
    return c;
  }
  {
    auto db = store::Database::Open(db_path, /*create=*/false);
    if (!db.ok()) {
      problem(db.status().message());
      return c;
    }
    auto st = (*db)->Prepare("PRAGMA integrity_check(20)");
    if (!st.ok()) {
      problem("'" + db_path.string() + "': " + st.status().message());
      return c;
    }
    while (true) {
      auto row = st->Step();
      if (!row.ok()) {
        problem("'" + db_path.string() + "': integrity_check: " + row.status().message());
        return c;
      }
      if (!*row) break;
      if (st->Text(0) != "ok")
        problem("'" + db_path.string() + "': integrity_check: " + st->Text(0));
    }
    std::vector<std::string> missing;
    for (const char* table : kRequiredTables) {
      auto has = (*db)->Prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
      if (!has.ok()) continue;
      has->Bind(1, table);
      auto found = has->Step();
      if (found.ok() && !*found) missing.push_back(table);
    }
    if (missing.size() == std::size(kRequiredTables)) {
      problem("'" + db_path.string() + "' has no tables (left by an interrupted run creation); " +
              "`sextant repair` moves it aside when the run holds nothing else");
    } else {
      for (const std::string& table : missing) {
        problem("'" + db_path.string() + "' has no table '" + table + "'");
      }
    }
    if (!c.problems.empty()) return c;
  }
  auto opened = store::RunStore::Open(run_dir, store::RunStore::Mode::kRead);
  if (!opened.ok()) {
    problem(opened.status().message());
    return c;
  }
  const store::RunStore& store = **opened;
  if (store.format_version() < 2) {
    c.notes.push_back("format version " + std::to_string(store.format_version()) +
                      ": written without checksums; output logs and results are checked for "
                      "lengths, shapes and values only");
  }
  auto splits = store.ListSplits();
  if (!splits.ok()) {
    problem(splits.status().message());
    return c;
  }
  for (const SplitKey& split : *splits) {
    if (auto samples = store.ReadSamples(split); !samples.ok()) problem(samples.status().message());
  }
  // The timeline's order: a corrupt time would fail the next finish.
  if (auto times = store.InferenceTimes(); !times.ok()) problem(times.status().message());
  auto logs = store.ListOutputLogs();
  if (!logs.ok()) {
    problem(logs.status().message());
  } else {
    for (const store::OutputLogInfo& info : *logs) {
      const auto labels = static_cast<int64_t>(store.labels().size());
      if (labels > 0 && info.out_dim != labels) {
        problem("sextant.db table output_logs: the " + LogName(info) + " has out_dim " +
                std::to_string(info.out_dim) + "; the run has " + std::to_string(labels) +
                " labels");
      }
      auto scan = ScanLog(store, info);
      if (!scan.ok()) {
        problem(scan.status().message());
      } else if (scan->valid_rows < info.rows) {
        problem(LogName(info) + ": " + scan->reason + "; rows " +
                Range(scan->valid_rows, info.rows) + " of " + std::to_string(info.rows) +
                " are damaged (`sextant repair` cuts the log back to " +
                std::to_string(scan->valid_rows) + " rows)");
      }
    }
  }
  auto gen = store.CommittedGeneration();
  if (!gen.ok()) {
    problem(gen.status().message());
    return c;
  }
  std::vector<fs::path> leftover_paths;
  for (std::string& n : Leftovers(run_dir, *gen, &leftover_paths)) c.notes.push_back(std::move(n));
  if (*gen > 0) CheckResults(run_dir, store, *gen, &c.problems);
  return c;
}

Result<std::vector<RunCheck>> CheckStore(const fs::path& root,
                                         const std::optional<std::string>& project,
                                         const std::optional<std::string>& run) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  if (project && run) {
    SEXTANT_RETURN_IF_ERROR(ValidateName("project", *project));
    SEXTANT_RETURN_IF_ERROR(ValidateName("run", *run));
    if (!LooksLikeRun(root / *project / *run)) {
      return Status::NotFound("no run '" + *project + "/" + *run + "' under '" + root.string() +
                              "'");
    }
    dirs.push_back(root / *project / *run);
  } else {
    if (project) {
      SEXTANT_RETURN_IF_ERROR(ValidateName("project", *project));
      if (!fs::is_directory(root / *project, ec)) {
        return Status::NotFound("no project '" + *project + "' under '" + root.string() + "'");
      }
    }
    for (const auto& p : fs::directory_iterator(root, ec)) {
      // Project names never start with '.': <root>/.server is the team server's own data.
      if (!p.is_directory() || p.path().filename().string().front() == '.' ||
          (project && p.path().filename() != *project)) {
        continue;
      }
      for (const auto& r : fs::directory_iterator(p.path(), ec)) {
        if (r.is_directory() && LooksLikeRun(r.path())) dirs.push_back(r.path());
      }
    }
    std::sort(dirs.begin(), dirs.end());
  }
  std::vector<RunCheck> out;
  for (const fs::path& d : dirs) out.push_back(CheckRun(d));
  return out;
}

namespace {

// Holds the run's writer lock (the LOCK file every writer takes).
class WriterLock {
 public:
  ~WriterLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Acquire(const fs::path& run_dir) {
    const fs::path path = run_dir / "LOCK";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      return Status::IOError("cannot open '" + path.string() + "': " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::FailedPrecondition("run '" + run_dir.string() +
                                        "' is being written by another process; repair it when "
                                        "that has finished");
    }
    return Status::OK();
  }

 private:
  int fd_ = -1;
};

bool HasTable(store::Database& db, const char* table) {
  auto has = db.Prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
  if (!has.ok()) return false;
  has->Bind(1, table);
  auto found = has->Step();
  return found.ok() && *found;
}

bool RemoveIfUnpinned(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return fs::remove(p, ec);
  const int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool removed = false;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) removed = fs::remove_all(p, ec) > 0 && !ec;
  ::close(fd);
  return removed;
}

Status TruncateFile(const fs::path& path, int64_t bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::OK();
  if (static_cast<int64_t>(fs::file_size(path, ec)) <= bytes) return Status::OK();
  fs::resize_file(path, static_cast<uintmax_t>(bytes), ec);
  if (ec) return Status::IOError("cannot truncate '" + path.string() + "': " + ec.message());
  return FsyncFile(path);
}

}  // namespace

Result<RepairReport> RepairRun(const fs::path& run_dir) {
  RepairReport rep;
  WriterLock lock;
  SEXTANT_RETURN_IF_ERROR(lock.Acquire(run_dir));
  const fs::path db_path = run_dir / store::kDatabaseFile;
  std::error_code ec;
  if (!fs::exists(db_path, ec)) {
    rep.unrepaired.push_back("'" + db_path.string() +
                             "' is missing: the run's samples and log "
                             "index are lost; remove the run folder and log the run again");
    return rep;
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                           store::Database::Open(db_path, /*create=*/false));
  // A database that never got its tables (an interrupted creation by an older
  // version) holds nothing: moved aside, the run can be created afresh.
  if (!HasTable(*db, "meta")) {
    bool has_data = false;
    for (const char* sub : {"outputs", "results"}) {
      for (auto it = fs::recursive_directory_iterator(run_dir / sub, ec); !ec && it != fs::end(it);
           it.increment(ec)) {
        if (it->is_regular_file(ec) && it->file_size(ec) > 0) has_data = true;
      }
      ec.clear();
    }
    if (has_data) {
      rep.unrepaired.push_back("'" + db_path.string() +
                               "' has no tables but the run folder "
                               "holds output logs or results; not moved");
      return rep;
    }
    db.reset();
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const fs::path aside = run_dir / ("sextant.db.damaged-" + std::to_string(now));
    SEXTANT_RETURN_IF_ERROR(RenameDurably(db_path, aside));
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(fs::path(db_path.string() + suffix), ec);
    rep.dropped.push_back("'" + db_path.string() +
                          "' had no tables (an interrupted run creation) "
                          "and the run no data: moved to '" +
                          aside.string() + "'; log the run again to create it");
    return rep;
  }
  {
    auto st = db->Prepare("PRAGMA integrity_check(5)");
    if (st.ok()) {
      while (true) {
        auto row = st->Step();
        if (!row.ok() || !*row) break;
        if (st->Text(0) != "ok") {
          rep.unrepaired.push_back("'" + db_path.string() + "': integrity_check: " + st->Text(0) +
                                   " (SQLite's .recover or a backup is needed)");
        }
      }
    }
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<store::RunStore> store,
                           store::RunStore::Open(run_dir, store::RunStore::Mode::kRead));
  store::Database& sdb = store->db();

  // Sample metadata that does not parse: {} instead (the values are unreadable anyway).
  {
    SEXTANT_ASSIGN_OR_RETURN(store::Statement st,
                             sdb.Prepare("SELECT split, row, id, meta FROM samples"));
    std::vector<std::tuple<std::string, int64_t, std::string, std::string>> bad;
    while (true) {
      SEXTANT_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const auto j = nlohmann::json::parse(st.Text(3), nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) bad.emplace_back(st.Text(0), st.Int(1), st.Text(2), st.Text(3));
    }
    if (!bad.empty()) {
      SEXTANT_RETURN_IF_ERROR(sdb.Transaction([&]() -> Status {
        SEXTANT_ASSIGN_OR_RETURN(
            store::Statement up,
            sdb.Prepare("UPDATE samples SET meta='{}' WHERE split=? AND row=?"));
        for (const auto& [split, row, id, meta] : bad) {
          up.Bind(1, split).Bind(2, row);
          SEXTANT_RETURN_IF_ERROR(up.Run());
        }
        return Status::OK();
      }));
      for (const auto& [split, row, id, meta] : bad) {
        rep.dropped.push_back("sample '" + id + "' of split '" + split +
                              "': unreadable metadata '" + meta.substr(0, 60) + "' replaced by {}");
      }
    }
  }
  // Samples are never dropped; what remains wrong in them is reported.
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SplitKey> splits, store->ListSplits());
  for (const SplitKey& split : splits) {
    if (auto s = store->ReadSamples(split); !s.ok()) {
      rep.unrepaired.push_back(s.status().message() +
                               " (samples are not dropped: log the run again)");
    }
  }

  // Output logs: cut back to the last sound batch.
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::OutputLogInfo> logs, store->ListOutputLogs());
  for (const store::OutputLogInfo& info : logs) {
    SEXTANT_ASSIGN_OR_RETURN(LogScan scan, ScanLog(*store, info));
    if (scan.valid_rows >= info.rows) continue;
    const std::string key = info.split.ToString();
    SEXTANT_RETURN_IF_ERROR(sdb.Transaction([&]() -> Status {
      SEXTANT_ASSIGN_OR_RETURN(store::Statement up, sdb.Prepare("UPDATE output_logs SET rows=? "
                                                                "WHERE split=? AND epoch=?"));
      up.Bind(1, scan.valid_rows).Bind(2, key).Bind(3, info.epoch);
      SEXTANT_RETURN_IF_ERROR(up.Run());
      if (HasTable(sdb, "output_batches")) {
        SEXTANT_ASSIGN_OR_RETURN(store::Statement drop,
                                 sdb.Prepare("DELETE FROM output_batches WHERE split=? AND epoch=? "
                                             "AND first_row>=?"));
        drop.Bind(1, key).Bind(2, info.epoch).Bind(3, scan.valid_rows);
        SEXTANT_RETURN_IF_ERROR(drop.Run());
      }
      return Status::OK();
    }));
    // Bytes beyond the commit are what every writer cuts first anyway.
    SEXTANT_RETURN_IF_ERROR(
        TruncateFile(store->LogPath(info.split, info.epoch, ".rows.i64"), scan.valid_rows * 8));
    SEXTANT_RETURN_IF_ERROR(TruncateFile(store->LogPath(info.split, info.epoch, ".emb.f32"),
                                         scan.valid_rows * info.emb_dim * 4));
    SEXTANT_RETURN_IF_ERROR(TruncateFile(store->LogPath(info.split, info.epoch, ".out.f32"),
                                         scan.valid_rows * info.out_dim * 4));
    rep.dropped.push_back(LogName(info) + ": dropped rows " + Range(scan.valid_rows, info.rows) +
                          " (" + std::to_string(info.rows - scan.valid_rows) + " of " +
                          std::to_string(info.rows) + "): " + scan.reason);
  }

  // Results of a damaged generation: dropped, so the run can be finished again.
  SEXTANT_ASSIGN_OR_RETURN(int64_t gen, store->CommittedGeneration());
  if (gen > 0) {
    std::vector<std::string> problems;
    CheckResults(run_dir, *store, gen, &problems);
    if (!problems.empty()) {
      SEXTANT_RETURN_IF_ERROR(sdb.Transaction([&]() -> Status {
        SEXTANT_RETURN_IF_ERROR(sdb.Exec("DELETE FROM results; DELETE FROM summaries;"));
        if (HasTable(sdb, "span_results"))
          SEXTANT_RETURN_IF_ERROR(sdb.Exec("DELETE FROM span_results;"));
        if (HasTable(sdb, "result_files"))
          SEXTANT_RETURN_IF_ERROR(sdb.Exec("DELETE FROM result_files;"));
        return sdb.Exec("UPDATE meta SET value='0' WHERE key='results_generation'");
      }));
      rep.dropped.push_back(
          "the results of generation " + std::to_string(gen) + " (" + problems.front() +
          (problems.size() > 1 ? "; and " + std::to_string(problems.size() - 1) + " more problems"
                               : std::string()) +
          "): run `sextant finish` again");
      gen = 0;
    }
  }
  std::vector<fs::path> leftovers;
  Leftovers(run_dir, gen, &leftovers);
  for (const fs::path& p : leftovers) {
    if (RemoveIfUnpinned(p)) {
      rep.dropped.push_back("removed '" + p.string() + "' (not part of the committed run)");
    }
  }
  return rep;
}

}  // namespace sextant
