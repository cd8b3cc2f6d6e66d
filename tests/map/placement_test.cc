// The map's placement of rows beyond the layout as a worker runs it: the
// placement model written to files and read back, and PlaceRows over ranges
// of the placement list, against ComputeMap's own placement.
#include <cstring>
#include <random>
#include <vector>

#include "common/file_util.h"
#include "map/knn.h"
#include "map/umap.h"
#include "testing.h"

namespace sextant::map {
namespace {

using sextant::testing::TempDir;

// n rows of width d around `clusters` centres.
std::vector<float> Rows(int64_t n, int64_t d, int clusters, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres(static_cast<size_t>(clusters * d));
  for (float& c : centres) c = normal(gen);
  std::vector<float> x(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % clusters;
    for (int64_t j = 0; j < d; ++j) x[i * d + j] = centres[c * d + j] + 0.3f * normal(gen);
  }
  return x;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// A map of 40,000 rows of which 2,000 are laid out: 38,000 rows to place,
// three placement chunks.
class Placement : public ::testing::TestWithParam<NnSearch> {
 protected:
  static constexpr int64_t kRows = 40000, kDim = 8;
  void SetUp() override {
    x_ = Rows(kRows, kDim, 12, 3);
    rows_.Add(x_.data(), kRows / 3);  // two blocks, as two splits would be
    rows_.Add(x_.data() + kRows / 3 * kDim, kRows - kRows / 3);
    options_.max_points = 2000;
    options_.epochs = 30;
    options_.knn = GetParam();
    options_.knn_auto_min_points = 1000;
  }
  std::vector<float> x_;
  RowBlocks rows_{kDim};
  MapOptions options_;
};

TEST_P(Placement, ModelFromFilesPlacesBitwiseAsComputeMapInAlignedRanges) {
  ASSERT_OK_AND_ASSIGN(MapResult plain, ComputeMap(rows_, options_));
  ASSERT_EQ(plain.info.placed_points, kRows - 2000);

  TempDir dir;
  int calls = 0;
  MapOptions hooked = options_;
  hooked.place = [&](const PlacementModel& model, const std::vector<int64_t>& rest,
                     float* placed) -> Status {
    ++calls;
    EXPECT_EQ(static_cast<int64_t>(rest.size()), kRows - 2000);
    SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> files,
                             WritePlacementModel(model, dir.path() / "model"));
    EXPECT_EQ(files.size(), 5u);
    SEXTANT_ASSIGN_OR_RETURN(PlacementModel read, ReadPlacementModel(dir.path() / "model"));
    // The round trip keeps every parameter.
    EXPECT_EQ(read.k, model.k);
    EXPECT_TRUE(SameBits(read.layout, model.layout));
    EXPECT_TRUE(SameBits(read.pca.mean(), model.pca.mean()));
    EXPECT_TRUE(SameBits(read.pca.components(), model.pca.components()));
    EXPECT_EQ(read.pca.explained_variance_ratio(), model.pca.explained_variance_ratio());
    EXPECT_EQ(read.index->size(), model.index->size());
    EXPECT_EQ(read.index->dim(), model.index->dim());
    EXPECT_EQ(read.index->approximate(), model.index->approximate());
    EXPECT_EQ(read.index->nlist(), model.index->nlist());
    EXPECT_EQ(read.index->nprobe(), model.index->nprobe());
    EXPECT_EQ(read.index->recall_estimate(), model.index->recall_estimate());
    // Shards of one chunk, then of two, as a worker would place them, from the read model.
    const auto n = static_cast<int64_t>(rest.size());
    for (int64_t b = 0; b < n; b += kPlaceChunk) {
      const int64_t e = std::min(n, b + kPlaceChunk);
      SEXTANT_RETURN_IF_ERROR(PlaceRows(read, rows_, rest, b, e, placed + 2 * b));
    }
    std::vector<float> two(static_cast<size_t>(2 * n));
    for (int64_t b = 0; b < n; b += 2 * kPlaceChunk) {
      const int64_t e = std::min(n, b + 2 * kPlaceChunk);
      SEXTANT_RETURN_IF_ERROR(PlaceRows(model, rows_, rest, b, e, two.data() + 2 * b));
    }
    EXPECT_TRUE(SameBits(two, std::vector<float>(placed, placed + 2 * n)));
    return Status::OK();
  };
  ASSERT_OK_AND_ASSIGN(MapResult sharded, ComputeMap(rows_, hooked));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(sharded.info.knn_approximate, GetParam() == NnSearch::kApproximate);
  EXPECT_TRUE(SameBits(sharded.coords, plain.coords));
}

TEST_P(Placement, AHookErrorFailsTheMap) {
  MapOptions hooked = options_;
  hooked.place = [](const PlacementModel&, const std::vector<int64_t>&, float*) {
    return Status::IOError("worker lost");
  };
  EXPECT_STATUS(ComputeMap(rows_, hooked), kIOError, "worker lost");
}

INSTANTIATE_TEST_SUITE_P(ExactAndIvf, Placement,
                         ::testing::Values(NnSearch::kExact, NnSearch::kApproximate));

// A small model: 300 layout rows of width 6, PCA to 4.
Result<PlacementModel> SmallModel(const std::vector<float>& x, int64_t n, int64_t d) {
  RowBlocks rows(d);
  rows.Add(x.data(), n);
  std::vector<int64_t> all(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) all[i] = i;
  PlacementModel m;
  SEXTANT_ASSIGN_OR_RETURN(m.pca, Pca::Fit(rows, all, 4));
  std::vector<float> reduced(static_cast<size_t>(n * 4));
  m.pca.Transform(rows, all.data(), n, reduced.data());
  SEXTANT_ASSIGN_OR_RETURN(m.index, L2Index::Build(reduced.data(), n, 4));
  m.layout.resize(static_cast<size_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) m.layout[2 * i] = m.layout[2 * i + 1] = static_cast<float>(i);
  m.k = 5;
  return m;
}

TEST(PlaceRows, RejectsRangesRowsAndWidthsThatDoNotFit) {
  const std::vector<float> x = Rows(300, 6, 3, 1);
  ASSERT_OK_AND_ASSIGN(PlacementModel model, SmallModel(x, 300, 6));
  RowBlocks rows(6);
  rows.Add(x.data(), 300);
  std::vector<float> out(20);
  const std::vector<int64_t> rest = {1, 2, 3};
  EXPECT_STATUS(PlaceRows(model, rows, rest, 2, 1, out.data()), kInvalidArgument, "[2, 1)");
  EXPECT_STATUS(PlaceRows(model, rows, rest, 0, 4, out.data()), kInvalidArgument, "3 rows");
  EXPECT_STATUS(PlaceRows(model, rows, {1, 300}, 0, 2, out.data()), kInvalidArgument, "row 300");
  EXPECT_STATUS(PlaceRows(model, rows, {-1}, 0, 1, out.data()), kInvalidArgument, "row -1");
  RowBlocks narrow(5);
  narrow.Add(x.data(), 300);
  EXPECT_STATUS(PlaceRows(model, narrow, rest, 0, 3, out.data()), kInvalidArgument, "5-wide");
  ASSERT_OK(PlaceRows(model, rows, rest, 0, 3, out.data()));
  ASSERT_OK(PlaceRows(model, rows, rest, 1, 1, out.data()));  // empty range
}

TEST(PlacementModel, MissingOrDamagedFilesAreNotFoundOrInvalid) {
  const std::vector<float> x = Rows(300, 6, 3, 2);
  ASSERT_OK_AND_ASSIGN(PlacementModel model, SmallModel(x, 300, 6));
  TempDir dir;
  EXPECT_STATUS(ReadPlacementModel(dir.path() / "none"), kNotFound);
  const auto folder = dir.path() / "m";
  ASSERT_OK(WritePlacementModel(model, folder).status());
  ASSERT_OK(ReadPlacementModel(folder).status());

  ASSERT_OK_AND_ASSIGN(std::string json, ReadFileToString(folder / "placement.json"));
  ASSERT_OK(WriteFileAtomic(folder / "placement.json", "{not json"));
  EXPECT_STATUS(ReadPlacementModel(folder), kInvalidArgument, "'format'");
  std::string k0 = json;
  k0.replace(k0.find("\"k\": 5"), 6, "\"k\": 0");
  ASSERT_OK(WriteFileAtomic(folder / "placement.json", k0));
  EXPECT_STATUS(ReadPlacementModel(folder), kInvalidArgument, "k = 0");
  std::string more = json;
  more.replace(more.find("\"layout_points\": 300"), 20, "\"layout_points\": 301");
  ASSERT_OK(WriteFileAtomic(folder / "placement.json", more));
  EXPECT_STATUS(ReadPlacementModel(folder), kInvalidArgument, "layout_coords.npy", "301 x 2");
  ASSERT_OK(WriteFileAtomic(folder / "placement.json", json));

  // Another model's index: of other rows.
  ASSERT_OK_AND_ASSIGN(PlacementModel other, SmallModel(x, 200, 6));
  ASSERT_OK(other.index->Write(folder / "layout_index.faiss"));
  EXPECT_STATUS(ReadPlacementModel(folder), kInvalidArgument, "layout_index.faiss", "200 rows");
  ASSERT_OK(WriteFileAtomic(folder / "layout_index.faiss", "junk"));
  EXPECT_STATUS(ReadPlacementModel(folder), kInvalidArgument, "not a readable Faiss index");
  std::filesystem::remove(folder / "layout_index.faiss");
  EXPECT_STATUS(ReadPlacementModel(folder), kNotFound, "layout_index.faiss");
  std::filesystem::remove(folder / "pca_mean.npy");
  EXPECT_STATUS(ReadPlacementModel(folder), kNotFound, "pca_mean.npy");
}

TEST(L2Index, WriteAndReadKeepTheSearches) {
  const std::vector<float> x = Rows(3000, 8, 6, 5);
  IvfL2Options o;
  o.k = 10;
  ASSERT_OK_AND_ASSIGN(auto ivf, L2Index::BuildIvf(x.data(), 3000, 8, o));
  ASSERT_OK_AND_ASSIGN(auto flat, L2Index::Build(x.data(), 3000, 8));
  TempDir dir;
  for (const L2Index* index : {ivf.get(), flat.get()}) {
    ASSERT_OK(index->Write(dir.path() / "i.faiss"));
    ASSERT_OK_AND_ASSIGN(auto read, L2Index::Read(dir.path() / "i.faiss", 0.5));
    EXPECT_EQ(read->nlist(), index->nlist());
    EXPECT_EQ(read->nprobe(), index->nprobe());
    EXPECT_EQ(read->recall_estimate(), index->approximate() ? 0.5 : 1.0);
    std::vector<float> d1(3000 * 10), d2(d1.size());
    std::vector<int64_t> l1(d1.size()), l2(d1.size());
    ASSERT_OK(index->Search(x.data(), 3000, 10, d1.data(), l1.data()));
    ASSERT_OK(read->Search(x.data(), 3000, 10, d2.data(), l2.data()));
    EXPECT_TRUE(SameBits(d1, d2));
    EXPECT_EQ(l1, l2);
  }
  EXPECT_STATUS(L2Index::Read(dir.path() / "missing.faiss"), kNotFound);
  ASSERT_OK(WriteFileAtomic(dir.path() / "junk.faiss", "junk"));
  EXPECT_STATUS(L2Index::Read(dir.path() / "junk.faiss"), kInvalidArgument);
}

}  // namespace
}  // namespace sextant::map
