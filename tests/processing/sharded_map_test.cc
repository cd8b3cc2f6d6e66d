// The map's placement and the similarity index's cell assignment as shard
// tasks (docs/distributed-map.md): a finish through InProcessShardExecutor
// (every task from the files, in reverse order, the first one twice) commits
// bitwise the map and index of a finish in this process; damaged task specs
// are errors, never crashes.
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "index/cosine_index.h"
#include "io/npy.h"
#include "map/umap.h"
#include "processing/process_run.h"
#include "processing/shard_tasks.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "sextant/shards.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::sextant::testing::TempDir;

constexpr int64_t kDim = 8;

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}

// Rows around 10 centres; sample i of a split gets row offset + i.
std::vector<float> Rows(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres(10 * kDim);
  std::mt19937 fixed(99);
  for (float& c : centres) c = normal(fixed);
  std::vector<float> x(static_cast<size_t>(n * kDim));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < kDim; ++j) x[i * kDim + j] = centres[(i % 10) * kDim + j] + normal(gen);
  }
  return x;
}

struct Part {
  SplitKey key;
  int64_t rows;
  uint32_t seed;
};

// 40,000 rows of width 8: training 16,000, validation 4,000, inference 20,000.
const std::vector<Part>& Parts() {
  static const std::vector<Part> parts = {{Key(Split::kTraining), 16000, 1},
                                          {Key(Split::kValidation), 4000, 2},
                                          {Key(Split::kInference, "prod"), 20000, 3}};
  return parts;
}

Status LogRun(const fs::path& root) {
  SEXTANT_ASSIGN_OR_RETURN(auto client, Client::Init({.root = root, .project = "p", .run = "r"}));
  SEXTANT_RETURN_IF_ERROR(client->SetLabelsForRun({"a", "b"}));
  for (const Part& part : Parts()) {
    DataBatch data;
    for (int64_t i = 0; i < part.rows; ++i) data.ids.push_back("s" + std::to_string(i));
    data.texts.assign(part.rows, "text");
    if (IsLabeled(part.key.split)) {
      for (int64_t i = 0; i < part.rows; ++i) data.label_indices.push_back(i % 2);
    }
    SEXTANT_RETURN_IF_ERROR(client->LogDataSamples(data, part.key));
    const std::vector<float> emb = Rows(part.rows, part.seed);
    std::vector<float> logits(static_cast<size_t>(part.rows * 2));
    for (int64_t i = 0; i < part.rows; ++i) logits[2 * i] = emb[i * kDim];
    OutputsBatch b;
    b.ids = data.ids;
    b.embeddings = {emb.data(), part.rows, kDim};
    b.logits = {logits.data(), part.rows, 2};
    SEXTANT_RETURN_IF_ERROR(client->LogModelOutputs(b, part.key, 0));
  }
  return client->Flush();
}

ProcessingOptions Options() {
  ProcessingOptions o;
  o.map_max_points = 2000;  // 38,000 rows placed: 3 tasks of 16,384 rows
  o.shard_rows = kShardRowAlignment;
  return o;
}

Result<fs::path> Results(const fs::path& root) {
  SEXTANT_ASSIGN_OR_RETURN(auto store,
                           store::RunStore::Open(root / "p" / "r", store::RunStore::Mode::kRead));
  return store->ResultsDir();
}

TEST(ShardedMap, FinishThroughShardTasksCommitsTheSameMapAndIndex) {
  TempDir local, sharded, work;
  ASSERT_OK(LogRun(local.path()));
  ASSERT_OK(LogRun(sharded.path()));
  ASSERT_OK_AND_ASSIGN(auto local_client,
                       Client::Init({.root = local.path(), .project = "p", .run = "r"}));
  ASSERT_OK_AND_ASSIGN(FinishReport plain, local_client->Finish(Options()));
  EXPECT_EQ(plain.shard_tasks, 0);

  InProcessShardExecutor executor(work.path().string());
  ProcessingOptions o = Options();
  o.executor = &executor;
  ASSERT_OK_AND_ASSIGN(auto client,
                       Client::Init({.root = sharded.path(), .project = "p", .run = "r"}));
  ASSERT_OK_AND_ASSIGN(FinishReport report, client->Finish(o));
  // 3 placement and 3 assignment tasks at least (drift may add its own).
  EXPECT_GE(report.shard_tasks, 6);
  EXPECT_GT(report.shard_bytes_written, 40000 * kDim * 4);
  EXPECT_GE(report.shard_bytes_received, 38000 * 8 + 40000 * 8);
  EXPECT_GE(executor.tasks_run(), 8);  // with the reruns
  EXPECT_TRUE(fs::is_empty(work.path())) << "the finish left files in the work directory";

  ASSERT_OK_AND_ASSIGN(fs::path a, Results(local.path()));
  ASSERT_OK_AND_ASSIGN(fs::path b, Results(sharded.path()));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  int maps = 0;
  for (const Part& part : Parts()) {
    const fs::path rel = fs::path(part.key.DirName()) / "map.npy";
    ASSERT_OK_AND_ASSIGN(std::string x, ReadFileToString(a / rel));
    ASSERT_OK_AND_ASSIGN(std::string y, ReadFileToString(b / rel));
    EXPECT_GT(x.size(), static_cast<size_t>(part.rows * 8));
    EXPECT_TRUE(x == y) << rel << " differs";
    ++maps;
  }
  EXPECT_EQ(maps, 3);
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(sharded.path(), "p", "r"));
  ASSERT_OK_AND_ASSIGN(std::string summary, reader->SummaryJson());
  const json map = json::parse(summary)["parameters"]["map"];
  EXPECT_EQ(map["placed_points"], 38000);

  ASSERT_OK_AND_ASSIGN(std::string fa, ReadFileToString(a / "similarity.faiss"));
  ASSERT_OK_AND_ASSIGN(std::string fb, ReadFileToString(b / "similarity.faiss"));
  EXPECT_TRUE(fa == fb) << "similarity.faiss differs";
  ASSERT_OK_AND_ASSIGN(auto ia, index::CosineIndex::Read(a / "similarity.faiss"));
  ASSERT_OK_AND_ASSIGN(auto ib, index::CosineIndex::Read(b / "similarity.faiss"));
  EXPECT_TRUE(ia->approximate());
  std::vector<float> queries = Rows(2000, 7);
  index::NormalizeRows(queries.data(), 2000, kDim);
  std::vector<float> da(2000 * 10), db(da.size());
  std::vector<int64_t> la(da.size()), lb(da.size());
  ASSERT_OK(ia->Search(queries.data(), 2000, 10, da.data(), la.data()));
  ASSERT_OK(ib->Search(queries.data(), 2000, 10, db.data(), lb.data()));
  EXPECT_EQ(la, lb);
  EXPECT_EQ(std::memcmp(da.data(), db.data(), da.size() * sizeof(float)), 0);
}

// A work directory with what one map_place and one ivf_assign task read:
// 40,000 staged rows in two files, a placement model of 300 layout rows, the
// placement list (every other row) and 20 centroids.
class DamagedSpecs : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path d = work_.path() / "f";
    fs::create_directories(d);
    x_ = Rows(40000, 5);
    ASSERT_OK(io::WriteNpyFloat32(d / "rows-0.npy", x_.data(), 30000, kDim));
    ASSERT_OK(io::WriteNpyFloat32(d / "rows-2.npy", x_.data() + 30000 * kDim, 10000, kDim));
    map::RowBlocks rows(kDim);
    rows.Add(x_.data(), 300);
    std::vector<int64_t> first(300);
    for (int64_t i = 0; i < 300; ++i) first[i] = i;
    map::PlacementModel model;
    ASSERT_OK_AND_ASSIGN(model.pca, map::Pca::Fit(rows, first, 4));
    std::vector<float> reduced(300 * 4);
    model.pca.Transform(rows, first.data(), 300, reduced.data());
    ASSERT_OK_AND_ASSIGN(model.index, map::L2Index::Build(reduced.data(), 300, 4));
    model.layout.assign(600, 1.0f);
    model.k = 5;
    ASSERT_OK(map::WritePlacementModel(model, d / "map-rows").status());
    for (int64_t i = 0; i < 40000; i += 2) rest_.push_back(i);
    ASSERT_OK(io::WriteNpyInt64(d / "rest.npy", rest_.data(), static_cast<int64_t>(rest_.size())));
    std::vector<float> centroids(x_.begin(), x_.begin() + 20 * kDim);
    index::NormalizeRows(centroids.data(), 20, kDim);
    ASSERT_OK(io::WriteNpyFloat32(d / "centroids.npy", centroids.data(), 20, kDim));
    const json rows_list = json::array(
        {{{"file", "f/rows-0.npy"}, {"rows", 30000}}, {{"file", "f/rows-2.npy"}, {"rows", 10000}}});
    place_ = {{"model", "f/map-rows/placement.json"},
              {"rows", rows_list},
              {"rest", "f/rest.npy"},
              {"begin", 16384},
              {"end", 20000}};
    assign_ = {
        {"centroids", "f/centroids.npy"}, {"rows", rows_list}, {"begin", 32768}, {"end", 40000}};
  }
  void TearDown() override { processing::ShardCache::Get().Clear(); }

  Result<std::string> Run(const std::string& kind, const json& spec) {
    return RunShardTask({kind, spec.dump(), {}}, work_.path().string());
  }
  Result<std::string> Run(const std::string& kind, const std::string& spec) {
    return RunShardTask({kind, spec, {}}, work_.path().string());
  }

  TempDir work_;
  std::vector<float> x_;
  std::vector<int64_t> rest_;
  json place_, assign_;
};

TEST_F(DamagedSpecs, GoodSpecsGiveTheirRowsOutputs) {
  ASSERT_OK_AND_ASSIGN(std::string placed, Run("map_place", place_));
  EXPECT_EQ(placed.size(), (20000 - 16384) * 2 * sizeof(float));
  ASSERT_OK_AND_ASSIGN(std::string cells, Run("ivf_assign", assign_));
  ASSERT_EQ(cells.size(), (40000 - 32768) * sizeof(int64_t));
  // The cells are AssignToCells' on the normalised rows.
  std::vector<float> unit(x_.begin() + 32768 * kDim, x_.end());
  index::NormalizeRows(unit.data(), 40000 - 32768, kDim);
  std::vector<float> centroids(x_.begin(), x_.begin() + 20 * kDim);
  index::NormalizeRows(centroids.data(), 20, kDim);
  std::vector<int64_t> expected(40000 - 32768);
  index::AssignToCells(centroids.data(), 20, kDim, unit.data(), 40000 - 32768, expected.data());
  EXPECT_EQ(std::memcmp(cells.data(), expected.data(), cells.size()), 0);
}

TEST_F(DamagedSpecs, MapPlaceSpecsThatDoNotFitAreInvalidOrNotFound) {
  EXPECT_STATUS(Run("map_place", std::string("[1, 2")), kInvalidArgument, "not a JSON object");
  for (const char* field : {"model", "rest", "begin", "end", "rows"}) {
    json spec = place_;
    spec.erase(field);
    EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, std::string("'") + field + "'");
  }
  json spec = place_;
  spec["begin"] = "0";
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "'begin'");
  spec = place_;
  spec["begin"] = 16384;
  spec["end"] = 100;
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "[16384, 100)");
  spec["end"] = 20001;  // past the 20,000 rows to place
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "20000 rows to place");
  spec["begin"] = 100;
  spec["end"] = 200;
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "multiple of 16384");
  spec = place_;
  spec["rows"][1]["rows"] = 10001;  // more rows than the file holds
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "rows-2.npy", "10001 x 8");
  spec = place_;
  spec["rows"] = json::array({place_["rows"][0]});  // rows past the end of the staged rows
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "not in [0, 30000)");
  spec = place_;
  spec["rows"][0]["file"] = "f/missing.npy";
  EXPECT_STATUS(Run("map_place", spec), kNotFound, "missing.npy");
  spec = place_;
  spec["rest"] = "f/none.npy";
  EXPECT_STATUS(Run("map_place", spec), kNotFound, "none.npy");
  spec = place_;
  spec["rest"] = "f/centroids.npy";  // floats, not row numbers
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "centroids.npy", "'<i8'");
  spec = place_;
  spec["model"] = "f/none/placement.json";
  EXPECT_STATUS(Run("map_place", spec), kNotFound, "placement.json");
  spec = place_;
  spec["model"] = "f/rest.npy";  // not a model
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "'model'", "placement.json");
  ASSERT_OK(WriteFileAtomic(work_.path() / "f" / "map-rows" / "placement.json", "{}"));
  spec = place_;
  EXPECT_STATUS(Run("map_place", spec), kInvalidArgument, "'format'");
}

TEST_F(DamagedSpecs, IvfAssignSpecsThatDoNotFitAreInvalidOrNotFound) {
  for (const char* field : {"centroids", "begin", "end", "rows"}) {
    json spec = assign_;
    spec.erase(field);
    EXPECT_STATUS(Run("ivf_assign", spec), kInvalidArgument, std::string("'") + field + "'");
  }
  json spec = assign_;
  spec["begin"] = 32768;
  spec["end"] = 32767;
  EXPECT_STATUS(Run("ivf_assign", spec), kInvalidArgument, "[32768, 32767)");
  spec["end"] = 40001;
  EXPECT_STATUS(Run("ivf_assign", spec), kInvalidArgument, "40000 staged rows");
  spec["begin"] = -16384;
  EXPECT_STATUS(Run("ivf_assign", spec), kInvalidArgument, "[-16384, 40001)");
  spec = assign_;
  spec["begin"] = 1;
  EXPECT_STATUS(Run("ivf_assign", spec), kInvalidArgument, "multiple of 16384");
  spec = assign_;
  spec["centroids"] = "f/none.npy";
  EXPECT_STATUS(Run("ivf_assign", spec), kNotFound, "none.npy");
  spec = assign_;
  spec["centroids"] = "f/map-rows/pca_components.npy";  // 8 x 4: rows of width 8 do not fit
  EXPECT_STATUS(Run("ivf_assign", spec), kInvalidArgument, "rows-0.npy", "30000 x 4");
  spec = assign_;
  spec["rows"] = "f/rows-0.npy";
  EXPECT_STATUS(Run("ivf_assign", spec), kInvalidArgument, "'rows'");
  spec = assign_;
  spec["rows"][0]["file"] = "f/missing.npy";
  EXPECT_STATUS(Run("ivf_assign", spec), kNotFound, "missing.npy");
}

}  // namespace
}  // namespace sextant
