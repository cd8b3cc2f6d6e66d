// The readers of JSON stored in a run (src/store, src/query, src/server): the
// first byte picks a stored JSON value of a small finished run, the rest
// replaces it (a corrupt or hostile store); then the run is opened and read
// the ways `summary`, `samples` and the console do. Errors are fine; crashes,
// hangs and uncaught exceptions are not.
#include <sqlite3.h>

#include <filesystem>

#include "fixture_run.h"
#include "server/api.h"
#include "sextant/results.h"

namespace {

namespace fs = std::filesystem;

// Each target: an UPDATE whose one parameter is the fuzz input.
constexpr const char* kTargets[] = {
    "UPDATE meta SET value = ?1 WHERE key = 'labels'",
    "UPDATE summaries SET json = ?1 WHERE scope = 'run'",
    "UPDATE summaries SET json = ?1 WHERE scope = 'training'",
    "UPDATE summaries SET json = ?1 WHERE scope = 'inference:prod'",
    "UPDATE samples SET meta = ?1 WHERE row = 3",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sextant;
  if (size < 1) return 0;
  const fs::path& fixture = fuzz::FixtureRoot();
  // A pristine copy of the run's database for every input; its other files
  // (outputs, results) are only read, so they are linked.
  const fs::path root = fuzz::ScratchDir() / "mutated";
  const fs::path run = root / "p" / "r";
  if (!fs::exists(run)) {
    fs::create_directories(run);
    for (const auto& e : fs::directory_iterator(fixture / "p" / "r")) {
      if (e.path().filename() == "sextant.db") continue;
      if (e.is_directory()) {
        fs::create_directory_symlink(e.path(), run / e.path().filename());
      } else {
        fs::copy_file(e.path(), run / e.path().filename());
      }
    }
  }
  std::error_code ec;
  fs::remove(run / "sextant.db-wal", ec);
  fs::remove(run / "sextant.db-shm", ec);
  fs::copy_file(fixture / "p" / "r" / "sextant.db", run / "sextant.db",
                fs::copy_options::overwrite_existing);
  const size_t which = data[0] % (sizeof(kTargets) / sizeof(kTargets[0]));
  {
    sqlite3* db = nullptr;
    if (sqlite3_open((root / "p" / "r" / "sextant.db").c_str(), &db) != SQLITE_OK) std::abort();
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, kTargets[which], -1, &st, nullptr) != SQLITE_OK) std::abort();
    sqlite3_bind_text(st, 1, reinterpret_cast<const char*>(data + 1), static_cast<int>(size - 1),
                      SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  (void)ListRuns(root);
  if (auto reader = RunReader::Open(root, "p", "r"); reader.ok()) {
    (void)(*reader)->SummaryJson();
    for (const char* split : {"training", "inference:prod"}) {
      const SplitKey key = SplitKey::Parse(split).value();
      (void)(*reader)->SummaryJson(key);
      SampleQuery q;
      q.split = key;
      (void)(*reader)->Samples(q);
    }
  }
  const server::Api api(root);
  for (const std::vector<std::string>& path :
       std::vector<std::vector<std::string>>{{"runs"},
                                             {"runs", "p", "r"},
                                             {"runs", "p", "r", "summary"},
                                             {"runs", "p", "r", "insights"},
                                             {"runs", "p", "r", "samples"}}) {
    server::ApiRequest request;
    request.method = "GET";
    request.path = path;
    if (path.size() > 3) request.params.emplace("split", "inference:prod");
    const server::ApiResponse response = api.Handle(request);
    SEXTANT_FUZZ_CHECK(response.status >= 200 && response.status < 600);
  }
  return 0;
}
