// The IVF build's cell assignment supplied from outside (IvfOptions::assign),
// as a distributed finish's workers compute it: AssignToCells over aligned
// ranges of rows gives the index an in-process build gives, bitwise.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common/file_util.h"
#include "index/clustered_data.h"
#include "index/cosine_index.h"
#include "testing.h"

namespace sextant::index {
namespace {

using sextant::testing::ClusteredRows;
using sextant::testing::ClusteredSpec;
using sextant::testing::TempDir;

constexpr int64_t kRows = 40000;

struct Searched {
  std::vector<float> distances;
  std::vector<int64_t> labels;
};

Searched SearchAll(const CosineIndex& index, const std::vector<float>& queries, int32_t k) {
  const auto n = static_cast<int64_t>(queries.size()) / index.dim();
  Searched s{std::vector<float>(n * k), std::vector<int64_t>(n * k)};
  const Status st = index.Search(queries.data(), n, k, s.distances.data(), s.labels.data());
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

// Raw (not unit) rows: the build normalises them as the finish's RowSource does.
std::vector<float> RawRows(const ClusteredSpec& spec) {
  std::vector<float> x = ClusteredRows(spec, kRows, 11);
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t j = 0; j < spec.dim; ++j) x[r * spec.dim + j] *= 1.0f + static_cast<float>(r % 7);
  }
  return x;
}

TEST(IvfAssign, ShardedAssignmentBuildsTheSameIndex) {
  ClusteredSpec spec;
  spec.dim = 16;
  const std::vector<float> raw = RawRows(spec);
  const int64_t d = spec.dim;
  RowSource source = [&](int64_t first, int64_t count, float* out) {
    std::copy(raw.begin() + first * d, raw.begin() + (first + count) * d, out);
    NormalizeRows(out, count, d);
  };
  IvfOptions options;
  options.nlist = 400;
  options.target_agreement = 0;
  ASSERT_OK_AND_ASSIGN(auto plain, CosineIndex::BuildIvf(source, kRows, d, options));

  int calls = 0;
  IvfOptions sharded = options;
  sharded.assign = [&](const float* centroids, int64_t nlist, int64_t dim, int64_t rows,
                       int64_t* cell_of_row) {
    ++calls;
    EXPECT_EQ(nlist, 400);
    EXPECT_EQ(dim, d);
    // Two shards of two blocks and one of the rest, each in blocks from its start.
    for (int64_t b = 0; b < rows; b += 2 * kAssignBlock) {
      const int64_t e = std::min(rows, b + 2 * kAssignBlock);
      std::vector<float> unit(static_cast<size_t>(kAssignBlock * dim));
      for (int64_t s = b; s < e; s += kAssignBlock) {
        const int64_t n = std::min(kAssignBlock, e - s);
        std::copy(raw.begin() + s * dim, raw.begin() + (s + n) * dim, unit.begin());
        NormalizeRows(unit.data(), n, dim);
        AssignToCells(centroids, nlist, dim, unit.data(), n, cell_of_row + s);
      }
    }
    return Status::OK();
  };
  ASSERT_OK_AND_ASSIGN(auto built, CosineIndex::BuildIvf(source, kRows, d, sharded));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(built->info().nlist, plain->info().nlist);
  EXPECT_EQ(built->info().nprobe, plain->info().nprobe);

  const std::vector<float> queries = ClusteredRows(spec, 3000, 12);
  const Searched a = SearchAll(*plain, queries, 10), b = SearchAll(*built, queries, 10);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(std::memcmp(a.distances.data(), b.distances.data(), a.distances.size() * 4), 0);

  TempDir dir;
  ASSERT_OK(plain->Write(dir.path() / "plain.faiss"));
  ASSERT_OK(built->Write(dir.path() / "sharded.faiss"));
  ASSERT_OK_AND_ASSIGN(std::string x, ReadFileToString(dir.path() / "plain.faiss"));
  ASSERT_OK_AND_ASSIGN(std::string y, ReadFileToString(dir.path() / "sharded.faiss"));
  EXPECT_TRUE(x == y) << "similarity index files differ";
}

TEST(IvfAssign, BadCellsAndErrorsFailTheBuild) {
  ClusteredSpec spec;
  spec.dim = 16;
  const std::vector<float> rows = ClusteredRows(spec, 3000, 3);
  IvfOptions options;
  options.nlist = 20;
  options.nprobe = 2;
  options.assign = [](const float*, int64_t nlist, int64_t, int64_t rows, int64_t* cell) {
    std::fill(cell, cell + rows, 0);
    cell[rows - 1] = nlist;
    return Status::OK();
  };
  EXPECT_STATUS(CosineIndex::BuildIvf(rows.data(), 3000, spec.dim, options), kInvalidArgument,
                "row 2999", "cell 20 of 20");
  options.assign = [](const float*, int64_t, int64_t, int64_t, int64_t*) {
    return Status::IOError("worker lost");
  };
  EXPECT_STATUS(CosineIndex::BuildIvf(rows.data(), 3000, spec.dim, options), kIOError,
                "worker lost");
  // One cell (exact): nothing to assign.
  options.nlist = 1;
  ASSERT_OK(CosineIndex::BuildIvf(rows.data(), 3000, spec.dim, options).status());
}

TEST(AssignToCells, PicksTheCentroidOfLargestInnerProductFirstOfEquals) {
  const std::vector<float> centroids = {1, 0, 0, 1, 0, 1, -1, 0};  // 4 cells in 2-D
  const std::vector<float> rows = {0.6f, 0.8f, -1, 0, 0, 1, 0.8f, -0.6f};
  std::vector<int64_t> cell(4);
  AssignToCells(centroids.data(), 4, 2, rows.data(), 4, cell.data());
  EXPECT_EQ(cell, (std::vector<int64_t>{1, 3, 1, 0}));
}

}  // namespace
}  // namespace sextant::index
