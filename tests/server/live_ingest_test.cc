// Live ingest (server/live_ingest.h): validation, time windows, scores equal
// to a finish's for the same samples, durability across a restart, the busy
// run lock, the full buffer and the refresh hook.
#include "server/live_ingest.h"

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "server/api.h"
#include "sextant/client.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using sextant::testing::TempDir;

constexpr int kDim = 8;
constexpr int kLabels = 3;

// Samples near one of three class centres; `shift` moves some off them.
struct Samples {
  std::vector<std::string> ids, texts;
  std::vector<int32_t> labels;
  std::vector<float> embs, logits;
};

Samples MakeSamples(const std::string& prefix, int n, uint64_t seed, float shift = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0, 1);
  Samples s;
  for (int i = 0; i < n; ++i) {
    const int y = i % kLabels;
    s.ids.push_back(prefix + std::to_string(i));
    s.texts.push_back("text " + std::to_string(i));
    s.labels.push_back(y);
    for (int d = 0; d < kDim; ++d) {
      s.embs.push_back((d == y ? 4.0f : 0.0f) + noise(rng) + (i % 4 == 0 ? shift * (d % 2) : 0));
    }
    for (int c = 0; c < kLabels; ++c) s.logits.push_back((c == y ? 2.0f : 0.0f) + noise(rng));
  }
  return s;
}

void LogSplit(Client& client, const Samples& s, const SplitKey& split) {
  DataBatch data;
  data.ids = s.ids;
  data.texts = s.texts;
  if (split.split != Split::kInference) data.label_indices = s.labels;
  ASSERT_OK(client.LogDataSamples(data, split));
  OutputsBatch b;
  b.ids = s.ids;
  const auto n = static_cast<int64_t>(s.ids.size());
  b.embeddings = {s.embs.data(), n, kDim};
  b.logits = {s.logits.data(), n, kLabels};
  ASSERT_OK(client.LogModelOutputs(b, split, 0));
}

// A finished run p/r: 300 training samples and, with `validation`, 240
// validation samples (the auto reference is then validation).
void MakeFinishedRun(const fs::path& root, bool validation) {
  auto client = Client::Init({.root = root, .project = "p", .run = "r"});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"a", "b", "c"}));
  LogSplit(**client, MakeSamples("t", 300, 1), SplitKey::Make(Split::kTraining).value());
  if (validation) {
    LogSplit(**client, MakeSamples("v", 240, 2), SplitKey::Make(Split::kValidation).value());
  }
  ProcessingOptions o;
  o.drift_k = 5;
  ASSERT_OK((*client)->Finish(o).status());
}

json Body(const Samples& s, bool base64 = true) {
  json j;
  j["ids"] = s.ids;
  j["texts"] = s.texts;
  auto matrix = [&](const std::vector<float>& v, int width) {
    if (!base64) {
      json rows = json::array();
      for (size_t i = 0; i < v.size() / width; ++i) {
        rows.push_back(std::vector<float>(v.begin() + i * width, v.begin() + (i + 1) * width));
      }
      return rows;
    }
    static const char* kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    const size_t len = v.size() * 4;
    std::string out;
    for (size_t i = 0; i < len; i += 3) {
      uint32_t x = p[i] << 16;
      if (i + 1 < len) x |= p[i + 1] << 8;
      if (i + 2 < len) x |= p[i + 2];
      out += kAlphabet[(x >> 18) & 63];
      out += kAlphabet[(x >> 12) & 63];
      out += i + 1 < len ? kAlphabet[(x >> 6) & 63] : '=';
      out += i + 2 < len ? kAlphabet[x & 63] : '=';
    }
    return json{{"dtype", "float32"}, {"shape", {v.size() / width, width}}, {"b64", out}};
  };
  j["embeddings"] = matrix(s.embs, kDim);
  j["logits"] = matrix(s.logits, kLabels);
  return j;
}

json Status(LiveIngest& live, const std::string& set) {
  auto text = live.StatusJson("p", "r");
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  if (!text.ok()) return json();
  const json all = json::parse(*text);
  for (const json& e : all["sets"]) {
    if (e["name"] == set) return e;
  }
  return json();
}

struct LiveRow {
  int64_t pred;
  double confidence, margin, distance, score;
  int64_t drifted, on_boundary;
};

std::map<std::string, LiveRow> ReadRows(const fs::path& run_dir, const std::string& sql,
                                        const std::string& split) {
  std::map<std::string, LiveRow> out;
  auto st = store::RunStore::Open(run_dir, store::RunStore::Mode::kRead);
  EXPECT_TRUE(st.ok());
  auto q = (*st)->db().Prepare(sql);
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  q->Bind(1, split);
  while (*q->Step()) {
    out[q->Text(0)] = {q->Int(1),    q->Double(2), q->Double(3), q->Double(4),
                       q->Double(5), q->Int(6),    q->Int(7)};
  }
  return out;
}

void ExpectScoresEqualFinish(bool validation) {
  TempDir dir;
  MakeFinishedRun(dir.path(), validation);
  Samples prod = MakeSamples("q", 120, 7, /*shift=*/6);
  {
    LiveIngest live(dir.path(), nullptr);
    // Two requests, one base64 and one nested lists.
    Samples first = prod, second = prod;
    first.ids.resize(70), first.texts.resize(70);
    first.embs.resize(70 * kDim), first.logits.resize(70 * kLabels);
    second.ids.erase(second.ids.begin(), second.ids.begin() + 70);
    second.texts.erase(second.texts.begin(), second.texts.begin() + 70);
    second.embs.erase(second.embs.begin(), second.embs.begin() + 70 * kDim);
    second.logits.erase(second.logits.begin(), second.logits.begin() + 70 * kLabels);
    json b1 = Body(first), b2 = Body(second, false);
    b1["inference_name"] = b2["inference_name"] = "prod";
    ASSERT_OK_AND_ASSIGN(LiveAck a1, live.Ingest("p", "r", b1.dump()));
    ASSERT_OK_AND_ASSIGN(LiveAck a2, live.Ingest("p", "r", b2.dump()));
    EXPECT_TRUE(a1.accepted && a2.accepted);
    ASSERT_TRUE(live.Flush());
    json s = Status(live, "prod");
    EXPECT_EQ(s["samples_ingested"], 120);
    EXPECT_EQ(s["samples_scored"], 120);
    EXPECT_EQ(s["samples_pending"], 0);
  }
  // A finish over the same run scores the same samples of inference:prod.
  {
    auto client = Client::Init({.root = dir.path(), .project = "p", .run = "r"});
    ASSERT_OK(client.status());
    ProcessingOptions o;
    o.drift_k = 5;
    ASSERT_OK((*client)->Finish(o).status());
  }
  const fs::path run_dir = dir.path() / "p" / "r";
  auto live_rows = ReadRows(run_dir,
                            "SELECT id, pred, confidence, margin, drift_distance, drift_score, "
                            "drifted, on_boundary FROM live_results WHERE split = ?",
                            "inference:prod");
  auto finish_rows = ReadRows(run_dir,
                              "SELECT s.id, r.pred, r.confidence, r.margin, r.drift_distance, "
                              "r.drift_score, r.drifted, r.on_boundary FROM results r JOIN samples "
                              "s ON s.split = r.split AND s.row = r.row WHERE r.split = ?",
                              "inference:prod");
  ASSERT_EQ(live_rows.size(), 120u);
  ASSERT_EQ(finish_rows.size(), 120u);
  int drifted = 0;
  for (const auto& [id, f] : finish_rows) {
    SCOPED_TRACE(id);
    ASSERT_TRUE(live_rows.count(id));
    const LiveRow& l = live_rows[id];
    EXPECT_EQ(l.pred, f.pred);
    EXPECT_NEAR(l.confidence, f.confidence, 1e-6);
    EXPECT_NEAR(l.margin, f.margin, 1e-6);
    EXPECT_NEAR(l.distance, f.distance, 1e-5);
    EXPECT_NEAR(l.score, f.score, 1e-9);
    EXPECT_EQ(l.drifted, f.drifted);
    EXPECT_EQ(l.on_boundary, f.on_boundary);
    drifted += static_cast<int>(f.drifted);
  }
  EXPECT_GT(drifted, 0);  // the shifted quarter
}

TEST(LiveIngest, ScoresEqualAFinishWithTheTrainingReference) { ExpectScoresEqualFinish(false); }

TEST(LiveIngest, ScoresEqualAFinishWithTheValidationReference) { ExpectScoresEqualFinish(true); }

TEST(LiveIngest, ValidationErrorsNameTheFieldTheSampleAndWhatWasExpected) {
  TempDir dir;
  MakeFinishedRun(dir.path(), false);
  LiveIngest live(dir.path(), nullptr);
  Samples s = MakeSamples("x", 3, 3);
  auto with = [&](const std::function<void(json&)>& edit) {
    json b = Body(s, false);
    b["inference_name"] = "prod";
    edit(b);
    return live.Ingest("p", "r", b.dump());
  };
  EXPECT_STATUS(with([](json& b) { b["embeddings"][1] = std::vector<float>(5, 0.f); }),
                kInvalidArgument, "embeddings", "'x1'", "width 5", "expected 8");
  EXPECT_STATUS(with([](json& b) { b["logits"][2] = std::vector<float>(2, 0.f); }),
                kInvalidArgument, "logits", "'x2'", "expected 3");
  EXPECT_STATUS(with([](json& b) { b["embeddings"][0][3] = "nan"; }), kInvalidArgument,
                "embeddings", "'x0'");
  EXPECT_STATUS(with([](json& b) { b["ids"][2] = "x0"; }), kInvalidArgument, "ids", "'x0'",
                "twice");
  EXPECT_STATUS(with([](json& b) { b["texts"].erase(0); }), kInvalidArgument, "texts");
  EXPECT_STATUS(with([](json& b) { b.erase("inference_name"); }), kInvalidArgument,
                "inference_name", "--live-window");
  EXPECT_STATUS(with([](json& b) { b["window"] = "week"; }), kInvalidArgument, "window");
  EXPECT_STATUS(with([](json& b) { b["inference_name"] = "../x"; }), kInvalidArgument,
                "inference_name");
  EXPECT_STATUS(with([](json& b) {
                  b["timestamps"] = {1, -1, 2};
                }),
                kInvalidArgument, "timestamps", "'x1'");
  // base64 of the wrong length.
  json b64 = Body(s);
  b64["inference_name"] = "prod";
  b64["embeddings"]["shape"] = {3, 7};
  EXPECT_STATUS(live.Ingest("p", "r", b64.dump()), kInvalidArgument, "embeddings", "width 7", "8");
  // Non-finite values through base64.
  Samples bad = s;
  bad.embs[kDim + 2] = std::numeric_limits<float>::infinity();
  json b = Body(bad);
  b["inference_name"] = "prod";
  EXPECT_STATUS(live.Ingest("p", "r", b.dump()), kInvalidArgument, "embeddings", "'x1'",
                "non-finite", "column 2");

  // Ids must be new in the set: already queued, and already stored.
  json good = Body(s);
  good["inference_name"] = "prod";
  ASSERT_OK(live.Ingest("p", "r", good.dump()).status());
  EXPECT_STATUS(live.Ingest("p", "r", good.dump()), kInvalidArgument, "'x0'", "'prod'");
  ASSERT_TRUE(live.Flush());
  EXPECT_STATUS(live.Ingest("p", "r", good.dump()), kInvalidArgument, "'x0'", "already");
  // The same ids into another set are fine.
  good["inference_name"] = "other";
  EXPECT_OK(live.Ingest("p", "r", good.dump()).status());

  EXPECT_STATUS(live.Ingest("p", "missing", good.dump()), kNotFound, "p/missing");
}

TEST(LiveIngest, AnUnfinishedRunIsRefused) {
  TempDir dir;
  {
    auto client = Client::Init({.root = dir.path(), .project = "p", .run = "r"});
    ASSERT_OK(client.status());
    ASSERT_OK((*client)->SetLabelsForRun({"a", "b", "c"}));
    LogSplit(**client, MakeSamples("t", 30, 1), SplitKey::Make(Split::kTraining).value());
    ASSERT_OK((*client)->Flush());
  }
  LiveIngest live(dir.path(), nullptr);
  json b = Body(MakeSamples("x", 2, 3));
  b["inference_name"] = "prod";
  EXPECT_STATUS(live.Ingest("p", "r", b.dump()), kFailedPrecondition, "p/r", "finish");
}

TEST(LiveIngest, WindowsPutEachSampleIntoTheSetOfItsUtcDayOrHour) {
  EXPECT_EQ(WindowSetName(LiveWindow::kDay, 1796477400), "2026-12-05");
  EXPECT_EQ(WindowSetName(LiveWindow::kHour, 1796477400), "2026-12-05T13");
  EXPECT_EQ(WindowSetName(LiveWindow::kDay, 1796477400 + 11 * 3600), "2026-12-06");

  TempDir dir;
  MakeFinishedRun(dir.path(), false);
  LiveOptions o;
  o.window = LiveWindow::kDay;  // the server's default
  LiveIngest live(dir.path(), nullptr, o);
  Samples s = MakeSamples("w", 4, 5);
  json b = Body(s);
  // 13:30, 14:00 and 14:30 on 2026-12-05, 00:30 on the 6th (UTC).
  b["timestamps"] = {1796477400, 1796477400 + 1800, 1796477400 + 3600, 1796477400 + 11 * 3600};
  ASSERT_OK_AND_ASSIGN(LiveAck day, live.Ingest("p", "r", b.dump()));
  EXPECT_EQ(day.sets, (std::map<std::string, int64_t>{{"2026-12-05", 3}, {"2026-12-06", 1}}));
  b["window"] = "hour";
  for (auto& id : b["ids"]) id = id.get<std::string>() + "h";
  ASSERT_OK_AND_ASSIGN(LiveAck hour, live.Ingest("p", "r", b.dump()));
  EXPECT_EQ(hour.sets, (std::map<std::string, int64_t>{
                           {"2026-12-05T13", 1}, {"2026-12-05T14", 2}, {"2026-12-06T00", 1}}));
  ASSERT_TRUE(live.Flush());
  auto st = store::RunStore::Open(dir.path() / "p" / "r", store::RunStore::Mode::kRead);
  ASSERT_OK(st.status());
  EXPECT_EQ(*(*st)->SampleCount(SplitKey::Make(Split::kInference, "2026-12-05").value()), 3);
  EXPECT_EQ(*(*st)->SampleCount(SplitKey::Make(Split::kInference, "2026-12-05T14").value()), 2);
  // Each window set sits on the timeline at its window's start.
  ASSERT_OK_AND_ASSIGN(std::vector<store::InferenceSetTime> times, (*st)->InferenceTimes());
  std::map<std::string, std::pair<double, store::SetTimeSource>> by_name;
  for (const auto& t : times) by_name[t.name] = {t.time, t.source};
  const double day5 = 1796477400 - 13.5 * 3600;  // 2026-12-05T00:00:00Z
  EXPECT_EQ(by_name["2026-12-05"], std::make_pair(day5, store::SetTimeSource::kLiveWindow));
  EXPECT_EQ(by_name["2026-12-06"].first, day5 + 86400);
  EXPECT_EQ(by_name["2026-12-05T14"].first, day5 + 14 * 3600);
  EXPECT_EQ(by_name.size(), 5u);
}

TEST(LiveIngest, ANamedSetIsTimedByItsEarliestSample) {
  TempDir dir;
  MakeFinishedRun(dir.path(), false);
  LiveIngest live(dir.path(), nullptr);
  json b = Body(MakeSamples("n", 3, 5));
  b["inference_name"] = "named";
  b["timestamps"] = {1796477400 + 60, 1796477400, 1796477400 + 30};
  ASSERT_OK(live.Ingest("p", "r", b.dump()).status());
  ASSERT_TRUE(live.Flush());
  auto st = store::RunStore::Open(dir.path() / "p" / "r", store::RunStore::Mode::kRead);
  ASSERT_OK(st.status());
  ASSERT_OK_AND_ASSIGN(std::vector<store::InferenceSetTime> times, (*st)->InferenceTimes());
  ASSERT_EQ(times.size(), 1u);
  EXPECT_EQ(times[0].time, 1796477400.0);
  EXPECT_EQ(times[0].source, store::SetTimeSource::kFirstSample);
}

TEST(LiveIngest, ScoresAndCountsSurviveARestart) {
  TempDir dir;
  MakeFinishedRun(dir.path(), false);
  json before;
  {
    LiveIngest live(dir.path(), nullptr);
    json b = Body(MakeSamples("d", 50, 9, 6));
    b["inference_name"] = "prod";
    ASSERT_OK(live.Ingest("p", "r", b.dump()).status());
    ASSERT_TRUE(live.Flush());
    before = Status(live, "prod");
  }
  LiveIngest live(dir.path(), nullptr);
  json after = Status(live, "prod");
  ASSERT_FALSE(after.is_null());
  for (const char* key : {"samples_ingested", "samples_scored", "generation"}) {
    EXPECT_EQ(after[key], before[key]) << key;
  }
  for (const char* key : {"drifted_share", "mean_confidence", "on_boundary_share"}) {
    EXPECT_NEAR(after[key].get<double>(), before[key].get<double>(), 1e-6) << key;
  }
  EXPECT_EQ(after["samples_ingested"], 50);
  // Ids stored before the restart are still known.
  json again = Body(MakeSamples("d", 1, 9));
  again["inference_name"] = "prod";
  EXPECT_STATUS(live.Ingest("p", "r", again.dump()), kInvalidArgument, "'d0'", "already");
}

TEST(LiveIngest, ScoresWhileTheRunLockIsHeldAndAppendsAfter) {
  TempDir dir;
  MakeFinishedRun(dir.path(), false);
  RunLocks locks;
  LiveOptions o;
  o.busy_retry = std::chrono::milliseconds(10);
  LiveIngest live(dir.path(), &locks, o);
  auto lock = locks.For("p", "r");
  std::unique_lock held(*lock);  // a processing job
  json b = Body(MakeSamples("l", 20, 4));
  b["inference_name"] = "prod";
  ASSERT_OK(live.Ingest("p", "r", b.dump()).status());
  json s;
  for (int i = 0; i < 6000; ++i) {  // scored without the lock (bound: 60 s)
    s = Status(live, "prod");
    if (s["samples_scored"] == 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(s["samples_scored"], 20);
  EXPECT_EQ(s["samples_ingested"], 0);
  EXPECT_EQ(s["samples_pending"], 20);
  held.unlock();
  ASSERT_TRUE(live.Flush());
  s = Status(live, "prod");
  EXPECT_EQ(s["samples_ingested"], 20);
  EXPECT_EQ(s["samples_pending"], 0);
}

TEST(LiveIngest, AFullBufferRefusesWithRetryAfter) {
  TempDir dir;
  MakeFinishedRun(dir.path(), false);
  RunLocks locks;
  LiveOptions o;
  o.max_pending_bytes = 1000;
  LiveIngest live(dir.path(), &locks, o);
  auto lock = locks.For("p", "r");
  std::unique_lock held(*lock);
  json b = Body(MakeSamples("f", 20, 4));
  b["inference_name"] = "prod";
  ASSERT_OK_AND_ASSIGN(LiveAck first, live.Ingest("p", "r", b.dump()));
  EXPECT_TRUE(first.accepted);  // an empty buffer takes any batch
  b = Body(MakeSamples("g", 20, 4));
  b["inference_name"] = "prod";
  ASSERT_OK_AND_ASSIGN(LiveAck second, live.Ingest("p", "r", b.dump()));
  EXPECT_FALSE(second.accepted);
  EXPECT_GE(second.retry_after_s, 1);
  // Through the API: 503 with Retry-After.
  Api api(dir.path(), Services{.live = &live, .run_locks = &locks});
  ApiResponse r = api.Handle({"POST", {"runs", "p", "r", "live"}, {}, b.dump()});
  EXPECT_EQ(r.status, 503) << r.body;
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  held.unlock();
  ASSERT_TRUE(live.Flush());
  r = api.Handle({"POST", {"runs", "p", "r", "live"}, {}, b.dump()});
  EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(live.Flush());
  r = api.Handle({"GET", {"runs", "p", "r", "live"}, {}, ""});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["sets"][0]["samples_ingested"], 40);
}

TEST(LiveIngest, RequestsARefreshAtMostOncePerIntervalPerRun) {
  TempDir dir;
  MakeFinishedRun(dir.path(), false);
  std::atomic<int> calls{0};
  std::string seen;
  LiveOptions o;
  o.refresh_interval = std::chrono::hours(1);
  o.request_refresh = [&](const std::string& project, const std::string& run) {
    seen = project + "/" + run;
    ++calls;
  };
  LiveIngest live(dir.path(), nullptr, o);
  for (int i = 0; i < 3; ++i) {
    json b = Body(MakeSamples("r" + std::to_string(i) + "_", 5, 4));
    b["inference_name"] = "prod";
    ASSERT_OK(live.Ingest("p", "r", b.dump()).status());
    ASSERT_TRUE(live.Flush());
  }
  // The first append asked for a refresh; the later ones fall in its interval.
  // (The third append ran in a later turn than the first's refresh.)
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(seen, "p/r");
}

}  // namespace
}  // namespace sextant::server

namespace sextant::server {
namespace {

TEST(LiveIngest, TheRouteAnswersItsMethodsAndNeedsTheService) {
  sextant::testing::TempDir dir;
  MakeFinishedRun(dir.path(), false);
  Api without(dir.path());
  ApiResponse r = without.Handle({"POST", {"runs", "p", "r", "live"}, {}, "{}"});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("not enabled"), std::string::npos) << r.body;
  LiveIngest live(dir.path(), nullptr);
  Api api(dir.path(), Services{.live = &live});
  EXPECT_EQ(api.Handle({"DELETE", {"runs", "p", "r", "live"}, {}, ""}).status, 400);
  EXPECT_EQ(api.Handle({"POST", {"runs", "p", "nope", "live"}, {}, "{}"}).status, 404);
  r = api.Handle({"POST", {"runs", "p", "r", "live"}, {}, R"({"inference_name": "x"})"});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("ids"), std::string::npos) << r.body;
  r = api.Handle({"GET", {"runs", "p", "r", "live"}, {}, ""});
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace sextant::server

namespace sextant::server {
namespace {

TEST(LiveIngest, SamplesACrashLeftWithoutOutputsAreDroppedAndMayBeSentAgain) {
  sextant::testing::TempDir dir;
  MakeFinishedRun(dir.path(), false);
  const SplitKey prod = SplitKey::Make(Split::kInference, "prod").value();
  Samples first = MakeSamples("c", 4, 11);
  {
    LiveIngest live(dir.path(), nullptr);
    json b = Body(first);
    b["inference_name"] = "prod";
    ASSERT_OK(live.Ingest("p", "r", b.dump()).status());
    ASSERT_TRUE(live.Flush());
  }
  {
    // A crash between the samples' commit and the outputs' commit.
    auto st = store::RunStore::Open(dir.path() / "p" / "r", store::RunStore::Mode::kWrite);
    ASSERT_OK(st.status());
    std::vector<store::SampleRecord> orphans(2);
    orphans[0].id = "o0";
    orphans[1].id = "o1";
    ASSERT_OK((*st)->AppendSamples(prod, orphans));
  }
  LiveIngest live(dir.path(), nullptr);
  Samples again = MakeSamples("o", 2, 12);
  json b = Body(again);
  b["inference_name"] = "prod";
  // The orphans' ids are still in the set: refused until the next append drops them.
  EXPECT_STATUS(live.Ingest("p", "r", b.dump()), kInvalidArgument, "'o0'");
  json other = Body(MakeSamples("n", 3, 13));
  other["inference_name"] = "prod";
  ASSERT_OK(live.Ingest("p", "r", other.dump()).status());
  ASSERT_TRUE(live.Flush());
  ASSERT_OK(live.Ingest("p", "r", b.dump()).status());
  ASSERT_TRUE(live.Flush());
  auto st = store::RunStore::Open(dir.path() / "p" / "r", store::RunStore::Mode::kRead);
  ASSERT_OK(st.status());
  EXPECT_EQ(*(*st)->SampleCount(prod), 4 + 3 + 2);
  auto log = (*st)->ReadOutputLog(prod, 0);
  ASSERT_OK(log.status());
  EXPECT_EQ(log->info.rows, 4 + 3 + 2);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> ids, (*st)->SampleIds(prod));
  EXPECT_EQ(ids, (std::vector<std::string>{"c0", "c1", "c2", "c3", "n0", "n1", "n2", "o0", "o1"}));
}

}  // namespace
}  // namespace sextant::server

namespace sextant::server {
namespace {

TEST(LiveIngest, ASetsScoresAreReadableByRow) {
  sextant::testing::TempDir dir;
  MakeFinishedRun(dir.path(), false);
  LiveIngest live(dir.path(), nullptr);
  Api api(dir.path(), Services{.live = &live});
  json b = Body(MakeSamples("s", 12, 14, 6));
  b["inference_name"] = "prod";
  ASSERT_EQ(api.Handle({"POST", {"runs", "p", "r", "live"}, {}, b.dump()}).status, 202);
  ASSERT_TRUE(live.Flush());
  ApiResponse r = api.Handle(
      {"GET", {"runs", "p", "r", "live", "prod"}, {{"offset", "2"}, {"limit", "3"}}, ""});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["total"], 12);
  ASSERT_EQ(j["samples"].size(), 3u);
  EXPECT_EQ(j["samples"][0]["id"], "s2");
  EXPECT_EQ(j["samples"][0]["text"], "text 2");
  EXPECT_TRUE(j["samples"][0]["pred"].is_string());
  EXPECT_TRUE(j["samples"][0]["drift_score"].is_number());
  r = api.Handle({"GET", {"runs", "p", "r", "live", "prod"}, {{"drifted", "true"}}, ""});
  ASSERT_EQ(r.status, 200) << r.body;
  const json drifted = json::parse(r.body);  // named: a temporary ends before the loop's body
  for (const json& s : drifted["samples"]) EXPECT_EQ(s["drifted"], true);
  EXPECT_EQ(api.Handle({"GET", {"runs", "p", "r", "live", "nope"}, {}, ""}).status, 404);
  EXPECT_EQ(api.Handle({"GET", {"runs", "p", "r", "live", "prod"}, {{"limit", "x"}}, ""}).status,
            400);
}

}  // namespace
}  // namespace sextant::server

namespace sextant::server {
namespace {

TEST(LiveIngest, WaitsForAnotherProcesssWriterInsteadOfFailing) {
  sextant::testing::TempDir dir;
  MakeFinishedRun(dir.path(), false);
  LiveOptions o;
  o.busy_retry = std::chrono::milliseconds(10);
  LiveIngest live(dir.path(), nullptr, o);
  // A writer outside the server's RunLocks (a CLI finish, a logging client).
  auto writer = store::RunStore::Open(dir.path() / "p" / "r", store::RunStore::Mode::kWrite);
  ASSERT_OK(writer.status());
  json b = Body(MakeSamples("k", 6, 4));
  b["inference_name"] = "prod";
  ASSERT_OK(live.Ingest("p", "r", b.dump()).status());
  EXPECT_FALSE(live.Flush(std::chrono::milliseconds(300)));
  json s = Status(live, "prod");
  EXPECT_EQ(s["samples_ingested"], 0);
  EXPECT_EQ(s["samples_failed"], 0);
  writer->reset();
  ASSERT_TRUE(live.Flush());
  s = Status(live, "prod");
  EXPECT_EQ(s["samples_ingested"], 6);
  EXPECT_EQ(s["samples_failed"], 0);
}

}  // namespace
}  // namespace sextant::server
