// The map through finish and the query layer: map.npy per split, parameters.map,
// SampleRow x/y, RunReader::MapPoints, and the compute_map switch.
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "sextant/client.h"
#include "sextant/results.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

constexpr int64_t kDim = 8;
constexpr int kTrain = 120, kProd = 40;

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}

// Training in three clusters; the production set in a fourth, far away.
class RunMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 gen(11);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    ASSERT_OK_AND_ASSIGN(auto client,
                         Client::Init({.root = dir_.path(), .project = "p", .run = "r"}));
    ASSERT_OK(client->SetLabelsForRun({"a", "b", "c"}));
    auto log = [&](const SplitKey& key, int n, int first_cluster, int clusters) {
      DataBatch data;
      std::vector<float> emb, logits;
      for (int i = 0; i < n; ++i) {
        const int c = first_cluster + i % clusters;
        data.ids.push_back(key.ToString() + "-" + std::to_string(i));
        data.texts.push_back("text");
        if (key.split == Split::kTraining) data.label_indices.push_back(c % 3);
        for (int64_t j = 0; j < kDim; ++j) emb.push_back((j == c ? 1.0f : 0.0f) + noise(gen));
        for (int j = 0; j < 3; ++j) logits.push_back(j == c % 3 ? 2.0f : 0.0f);
      }
      ASSERT_OK(client->LogDataSamples(data, key));
      OutputsBatch out;
      out.ids = data.ids;
      out.embeddings = {emb.data(), n, kDim};
      out.logits = {logits.data(), n, 3};
      ASSERT_OK(client->LogModelOutputs(out, key, 0));
    };
    log(Key(Split::kTraining), kTrain, 0, 3);
    log(Key(Split::kInference, "prod"), kProd, 5, 1);
    ASSERT_OK(client->Flush());
  }

  Result<FinishReport> Finish(const ProcessingOptions& o) {
    return FinishRun(dir_.path(), "p", "r", o);
  }

  nlohmann::json MapParameters() {
    auto reader = RunReader::Open(dir_.path(), "p", "r");
    EXPECT_TRUE(reader.ok());
    auto text = (*reader)->SummaryJson();
    EXPECT_TRUE(text.ok());
    return nlohmann::json::parse(*text)["parameters"]["map"];
  }

  fs::path MapFile(const std::string& split_dir) {
    for (const auto& gen : fs::directory_iterator(dir_.path() / "p" / "r" / "results")) {
      return gen.path() / split_dir / "map.npy";
    }
    return {};
  }

  TempDir dir_;
};

TEST_F(RunMapTest, FinishStoresOneMapOfAllSplits) {
  ASSERT_OK(Finish({}));
  EXPECT_TRUE(fs::exists(MapFile("training")));
  EXPECT_TRUE(fs::exists(MapFile("inference-prod")));
  const nlohmann::json m = MapParameters();
  EXPECT_EQ(m["computed"], true);
  EXPECT_EQ(m["points"], kTrain + kProd);
  EXPECT_EQ(m["n_neighbors"], 15);
  EXPECT_EQ(m["min_dist"], 0.25);
  EXPECT_EQ(m["seed"], 42);
  EXPECT_EQ(m["pca_dims"], kDim);

  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
  for (const SplitKey& key : {Key(Split::kTraining), Key(Split::kInference, "prod")}) {
    ASSERT_OK_AND_ASSIGN(std::vector<MapPoint> points, reader->MapPoints(key));
    EXPECT_EQ(points.size(), static_cast<size_t>(key.split == Split::kTraining ? kTrain : kProd));
    SampleQuery q;
    q.split = key;
    ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
    ASSERT_EQ(points.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(points[i].id, rows[i].id);  // row order
      ASSERT_TRUE(rows[i].x && rows[i].y);
      EXPECT_EQ(*rows[i].x, points[i].x);
      EXPECT_EQ(*rows[i].y, points[i].y);
      EXPECT_TRUE(std::isfinite(points[i].x) && std::isfinite(points[i].y));
    }
  }
}

TEST_F(RunMapTest, TheSwitchTurnsTheMapOff) {
  ASSERT_OK(Finish({}));
  ProcessingOptions off;
  off.compute_map = false;
  ASSERT_OK(Finish(off));
  EXPECT_FALSE(fs::exists(MapFile("training")));
  const nlohmann::json m = MapParameters();
  EXPECT_EQ(m["computed"], false);
  EXPECT_EQ(m["reason"], "compute_map is off");
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
  auto points = reader->MapPoints(Key(Split::kTraining));
  EXPECT_EQ(points.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(points.status().message().find("no 2-D map"), std::string::npos);
  SampleQuery q;
  q.split = Key(Split::kTraining);
  ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
  ASSERT_FALSE(rows.empty());
  EXPECT_FALSE(rows[0].x.has_value());
  EXPECT_FALSE(rows[0].y.has_value());
}

TEST_F(RunMapTest, MaxPointsPlacesTheRest) {
  ProcessingOptions o;
  o.map_max_points = 60;
  ASSERT_OK(Finish(o));
  const nlohmann::json m = MapParameters();
  EXPECT_EQ(m["layout_points"], 60);
  EXPECT_EQ(m["placed_points"], kTrain + kProd - 60);
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
  ASSERT_OK_AND_ASSIGN(std::vector<MapPoint> points, reader->MapPoints(Key(Split::kTraining)));
  for (const MapPoint& p : points) EXPECT_TRUE(std::isfinite(p.x) && std::isfinite(p.y));
}

TEST_F(RunMapTest, BadMapOptionsFailTheFinishAndKeepTheResults) {
  ASSERT_OK(Finish({}));
  ProcessingOptions bad;
  bad.map_n_neighbors = 1;
  auto r = Finish(bad);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("n_neighbors"), std::string::npos);
  EXPECT_TRUE(fs::exists(MapFile("training")));
  EXPECT_EQ(MapParameters()["computed"], true);
}

}  // namespace
}  // namespace sextant
