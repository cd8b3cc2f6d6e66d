// The incremental map (processing/run_map.h): an inference set added to a
// finished run is placed on the stored layout, which does not move; anything
// else (changed training, other options, a damaged model, the switch off)
// gives a full map with its reason, never a failed finish.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "processing/run_map.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

constexpr int64_t kDim = 8;
constexpr int kClusters = 3;

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}

// The embedding of a row of cluster `c`: a unit axis plus noise.
std::vector<float> ClusterRow(int c, std::mt19937& gen) {
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::vector<float> v(kDim);
  for (int64_t j = 0; j < kDim; ++j) v[j] = (j == c ? 1.0f : 0.0f) + noise(gen);
  return v;
}

class IncrementalMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Training in three clusters, set A in the same clusters.
    std::vector<std::vector<float>> train, a;
    for (int i = 0; i < 150; ++i) train.push_back(ClusterRow(i % kClusters, gen_));
    for (int i = 0; i < 40; ++i) a.push_back(ClusterRow(i % kClusters, gen_));
    training_ = train;
    Log(Key(Split::kTraining), train, 0);
    Log(Key(Split::kInference, "a"), a, 0);
  }

  // Logs `rows` as samples first, first + 1, ... of `key` (labels by cluster).
  void Log(const SplitKey& key, const std::vector<std::vector<float>>& rows, int first) {
    ASSERT_OK_AND_ASSIGN(auto client,
                         Client::Init({.root = dir_.path(), .project = "p", .run = "r"}));
    ASSERT_OK(client->SetLabelsForRun({"a", "b", "c"}));
    DataBatch data;
    std::vector<float> emb, logits;
    for (size_t i = 0; i < rows.size(); ++i) {
      data.ids.push_back(key.ToString() + "-" + std::to_string(first + static_cast<int>(i)));
      data.texts.push_back("text");
      if (key.split == Split::kTraining) data.label_indices.push_back(static_cast<int>(i) % 3);
      emb.insert(emb.end(), rows[i].begin(), rows[i].end());
      for (int j = 0; j < 3; ++j) logits.push_back(j == static_cast<int>(i) % 3 ? 2.0f : 0.0f);
    }
    ASSERT_OK(client->LogDataSamples(data, key));
    OutputsBatch out;
    out.ids = data.ids;
    const auto n = static_cast<int64_t>(rows.size());
    out.embeddings = {emb.data(), n, kDim};
    out.logits = {logits.data(), n, 3};
    ASSERT_OK(client->LogModelOutputs(out, key, 0));
    ASSERT_OK(client->Flush());
  }

  Result<FinishReport> Finish(const ProcessingOptions& o = {}) {
    return FinishRun(dir_.path(), "p", "r", o);
  }

  nlohmann::json MapParameters() {
    auto reader = RunReader::Open(dir_.path(), "p", "r");
    EXPECT_TRUE(reader.ok());
    auto text = (*reader)->SummaryJson();
    EXPECT_TRUE(text.ok());
    return nlohmann::json::parse(*text)["parameters"]["map"];
  }

  std::vector<MapPoint> Points(const SplitKey& key) {
    auto reader = RunReader::Open(dir_.path(), "p", "r");
    EXPECT_TRUE(reader.ok());
    auto points = (*reader)->MapPoints(key);
    EXPECT_TRUE(points.ok()) << points.status().ToString();
    return points.ok() ? *points : std::vector<MapPoint>{};
  }

  fs::path ResultsDir() {
    auto store = store::RunStore::Open(dir_.path() / "p" / "r", store::RunStore::Mode::kRead);
    EXPECT_TRUE(store.ok());
    auto d = (*store)->ResultsDir();
    EXPECT_TRUE(d.ok());
    return *d;
  }

  static void ExpectSameBits(const std::vector<MapPoint>& a, const std::vector<MapPoint>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].id, b[i].id);
      EXPECT_EQ(std::memcmp(&a[i].x, &b[i].x, sizeof(float)), 0) << i;
      EXPECT_EQ(std::memcmp(&a[i].y, &b[i].y, sizeof(float)), 0) << i;
    }
  }

  TempDir dir_;
  std::mt19937 gen_{7};
  std::vector<std::vector<float>> training_;
};

TEST_F(IncrementalMapTest, ANewSetIsPlacedOnTheUnchangedLayout) {
  ASSERT_OK(Finish());
  nlohmann::json m = MapParameters();
  EXPECT_EQ(m["mode"], "full");
  EXPECT_EQ(m["full_reason"], "the run has no earlier results");
  EXPECT_TRUE(fs::exists(ResultsDir() / "map_model" / "map.json"));
  const std::vector<MapPoint> train0 = Points(Key(Split::kTraining));
  const std::vector<MapPoint> a0 = Points(Key(Split::kInference, "a"));

  // Set B: copies of training rows 0..29, so each has a twin on the map.
  std::vector<std::vector<float>> b(training_.begin(), training_.begin() + 30);
  Log(Key(Split::kInference, "b"), b, 0);
  ASSERT_OK(Finish());
  m = MapParameters();
  EXPECT_EQ(m["mode"], "incremental");
  EXPECT_FALSE(m.contains("full_reason"));
  EXPECT_EQ(m["reused_points"], 190);
  EXPECT_EQ(m["placed_points"], 30);
  EXPECT_EQ(m["points"], 220);
  EXPECT_EQ(m["n_neighbors"], 15);  // the layout's parameters are kept
  ExpectSameBits(Points(Key(Split::kTraining)), train0);
  ExpectSameBits(Points(Key(Split::kInference, "a")), a0);

  // Each B row lands in its twin's cluster, within that cluster's extent.
  double cx[kClusters] = {}, cy[kClusters] = {}, radius[kClusters] = {};
  for (size_t i = 0; i < train0.size(); ++i) {
    cx[i % kClusters] += train0[i].x / 50.0;
    cy[i % kClusters] += train0[i].y / 50.0;
  }
  for (size_t i = 0; i < train0.size(); ++i) {
    const int c = static_cast<int>(i % kClusters);
    radius[c] = std::max(radius[c], std::hypot(train0[i].x - cx[c], train0[i].y - cy[c]));
  }
  const std::vector<MapPoint> placed = Points(Key(Split::kInference, "b"));
  ASSERT_EQ(placed.size(), 30u);
  for (size_t i = 0; i < placed.size(); ++i) {
    ASSERT_TRUE(std::isfinite(placed[i].x) && std::isfinite(placed[i].y));
    const int c = static_cast<int>(i % kClusters);
    const double to_twin = std::hypot(placed[i].x - train0[i].x, placed[i].y - train0[i].y);
    EXPECT_LE(to_twin, radius[c]) << i;
    for (int other = 0; other < kClusters; ++other) {
      if (other == c) continue;
      EXPECT_LT(std::hypot(placed[i].x - cx[c], placed[i].y - cy[c]),
                std::hypot(placed[i].x - cx[other], placed[i].y - cy[other]))
          << i;
    }
  }

  // The model is kept: a third set is incremental too, and a finish with
  // nothing new changes nothing.
  const std::vector<MapPoint> b1 = Points(Key(Split::kInference, "b"));
  Log(Key(Split::kInference, "c"), {ClusterRow(0, gen_), ClusterRow(1, gen_)}, 0);
  ASSERT_OK(Finish());
  m = MapParameters();
  EXPECT_EQ(m["mode"], "incremental");
  EXPECT_EQ(m["reused_points"], 220);
  EXPECT_EQ(m["placed_points"], 2);
  ASSERT_OK(Finish());
  m = MapParameters();
  EXPECT_EQ(m["mode"], "incremental");
  EXPECT_EQ(m["placed_points"], 0);
  ExpectSameBits(Points(Key(Split::kTraining)), train0);
  ExpectSameBits(Points(Key(Split::kInference, "b")), b1);
}

TEST_F(IncrementalMapTest, ChangedTrainingGivesAFullMap) {
  ASSERT_OK(Finish());
  Log(Key(Split::kTraining), {ClusterRow(0, gen_), ClusterRow(1, gen_)}, 150);
  Log(Key(Split::kInference, "b"), {ClusterRow(2, gen_)}, 0);
  ASSERT_OK(Finish());
  const nlohmann::json m = MapParameters();
  EXPECT_EQ(m["mode"], "full");
  EXPECT_EQ(m["full_reason"], "split 'training' changed: 150 rows were mapped, it has 152 now");
  EXPECT_EQ(m["reused_points"], 0);
  EXPECT_EQ(m["points"], 193);
}

TEST_F(IncrementalMapTest, OtherMapOptionsGiveAFullMap) {
  ASSERT_OK(Finish());
  ProcessingOptions o;
  o.map_n_neighbors = 10;
  ASSERT_OK(Finish(o));
  const nlohmann::json m = MapParameters();
  EXPECT_EQ(m["mode"], "full");
  EXPECT_EQ(m["full_reason"], "the map option 'n_neighbors' changed (15, now 10)");
}

TEST_F(IncrementalMapTest, TheSwitchOffGivesAFullMap) {
  ASSERT_OK(Finish());
  Log(Key(Split::kInference, "b"), {ClusterRow(2, gen_)}, 0);
  ProcessingOptions o;
  o.map_incremental = false;
  ASSERT_OK(Finish(o));
  const nlohmann::json m = MapParameters();
  EXPECT_EQ(m["mode"], "full");
  EXPECT_EQ(m["full_reason"], "map_incremental is off");
  EXPECT_EQ(m["points"], 191);
}

TEST_F(IncrementalMapTest, ACorruptModelGivesAFullMap) {
  ASSERT_OK(Finish());
  const fs::path coords = ResultsDir() / "map_model" / "layout_coords.npy";
  {
    std::fstream f(coords, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-4, std::ios::end);
    f.write("\x7f\x7f\x7f\x7f", 4);
  }
  Log(Key(Split::kInference, "b"), {ClusterRow(2, gen_)}, 0);
  ASSERT_OK(Finish());
  nlohmann::json m = MapParameters();
  EXPECT_EQ(m["mode"], "full");
  EXPECT_NE(m["full_reason"].get<std::string>().find("the earlier map model is unusable"),
            std::string::npos)
      << m["full_reason"];
  EXPECT_NE(m["full_reason"].get<std::string>().find("layout_coords.npy"), std::string::npos);
  // The full map stored a sound model again: the next set is incremental.
  Log(Key(Split::kInference, "c"), {ClusterRow(1, gen_)}, 0);
  ASSERT_OK(Finish());
  EXPECT_EQ(MapParameters()["mode"], "incremental");
}

TEST_F(IncrementalMapTest, AMissingModelGivesAFullMap) {
  ASSERT_OK(Finish());
  fs::remove_all(ResultsDir() / "map_model");
  Log(Key(Split::kInference, "b"), {ClusterRow(2, gen_)}, 0);
  ASSERT_OK(Finish());
  const nlohmann::json m = MapParameters();
  EXPECT_EQ(m["mode"], "full");
  EXPECT_NE(m["full_reason"].get<std::string>().find("unusable"), std::string::npos)
      << m["full_reason"];
}

TEST_F(IncrementalMapTest, AFinishWithoutAMapLeavesNoModel) {
  ProcessingOptions off;
  off.compute_map = false;
  ASSERT_OK(Finish(off));
  EXPECT_FALSE(fs::exists(ResultsDir() / "map_model"));
  ASSERT_OK(Finish());
  const nlohmann::json m = MapParameters();
  EXPECT_EQ(m["mode"], "full");
  EXPECT_NE(m["full_reason"].get<std::string>().find("no map model"), std::string::npos);
}

TEST(RowsFingerprint, SeesEveryValueAndTheLength) {
  std::vector<float> v(37);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  const uint64_t base = processing::RowsFingerprint(v.data(), v.size());
  EXPECT_EQ(base, processing::RowsFingerprint(v.data(), v.size()));
  EXPECT_NE(base, processing::RowsFingerprint(v.data(), v.size() - 1));
  for (size_t i = 0; i < v.size(); ++i) {
    std::vector<float> w = v;
    w[i] = std::nextafter(w[i], 100.0f);
    EXPECT_NE(base, processing::RowsFingerprint(w.data(), w.size())) << i;
  }
}

}  // namespace
}  // namespace sextant
