#include "index/cosine_index.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/file_util.h"
#include "index/clustered_data.h"
#include "testing.h"

namespace sextant::index {
namespace {

using sextant::testing::ClusteredRows;
using sextant::testing::ClusteredSpec;
using sextant::testing::RecallAtK;
using sextant::testing::TempDir;

constexpr int32_t kK = 10;

struct Answers {
  std::vector<float> distances;
  std::vector<int64_t> labels;
};

Answers SearchAll(const CosineIndex& index, const std::vector<float>& queries, int32_t k,
                  int32_t nprobe = 0) {
  const auto n = static_cast<int64_t>(queries.size()) / index.dim();
  Answers a{std::vector<float>(n * k), std::vector<int64_t>(n * k)};
  const Status st = index.Search(queries.data(), n, k, a.distances.data(), a.labels.data(), nprobe);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return a;
}

// Cosine distances of unit rows, by brute force in double precision.
Answers BruteForce(const std::vector<float>& rows, const std::vector<float>& queries, int64_t dim,
                   int32_t k, const std::vector<uint8_t>* allowed = nullptr) {
  const auto n = static_cast<int64_t>(rows.size()) / dim;
  const auto nq = static_cast<int64_t>(queries.size()) / dim;
  Answers a{std::vector<float>(nq * k, 2.0f), std::vector<int64_t>(nq * k, -1)};
  for (int64_t q = 0; q < nq; ++q) {
    std::vector<std::pair<double, int64_t>> d;
    for (int64_t r = 0; r < n; ++r) {
      if (allowed && !(*allowed)[r]) continue;
      double dot = 0;
      for (int64_t j = 0; j < dim; ++j) dot += double(rows[r * dim + j]) * queries[q * dim + j];
      d.emplace_back(1.0 - dot, r);
    }
    std::sort(d.begin(), d.end());
    for (int32_t j = 0; j < k && j < static_cast<int32_t>(d.size()); ++j) {
      a.distances[q * k + j] = static_cast<float>(d[j].first);
      a.labels[q * k + j] = d[j].second;
    }
  }
  return a;
}

class ClusteredIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rows_ = ClusteredRows(spec_, kRows, /*seed=*/1);
    // In-distribution queries plus a share from displaced clusters.
    queries_ = ClusteredRows(spec_, kQueries, /*seed=*/2, /*shifted=*/0.15);
  }
  static constexpr int64_t kRows = 5000, kQueries = 1000;
  ClusteredSpec spec_;
  std::vector<float> rows_, queries_;
};

TEST_F(ClusteredIndexTest, IvfRecallAtKIsAtLeast95Percent) {
  ASSERT_OK_AND_ASSIGN(auto exact, CosineIndex::Build(rows_.data(), kRows, spec_.dim));
  ASSERT_OK_AND_ASSIGN(auto ivf, CosineIndex::BuildIvf(rows_.data(), kRows, spec_.dim, {}));
  EXPECT_TRUE(ivf->approximate());
  EXPECT_FALSE(exact->approximate());
  EXPECT_EQ(ivf->info().method, "ivf");
  EXPECT_EQ(ivf->info().nlist, 71);  // about sqrt(5000)
  EXPECT_GE(ivf->info().nprobe, 1);
  EXPECT_LT(ivf->info().nprobe, ivf->info().nlist) << "tuning should not need every cell";
  EXPECT_GE(ivf->info().recall_estimate, 0.98);
  EXPECT_EQ(ivf->info().recall_k, 10);
  EXPECT_EQ(ivf->info().recall_queries, 512);
  EXPECT_GE(ivf->info().agreement_estimate, 0.995);

  const Answers truth = SearchAll(*exact, queries_, kK);
  const Answers got = SearchAll(*ivf, queries_, kK);
  const double recall = RecallAtK(got.labels, truth.labels, kQueries, kK);
  EXPECT_GE(recall, 0.95);
  // Approximate distances are never below the true ones; sorted nearest first.
  for (int64_t q = 0; q < kQueries; ++q) {
    EXPECT_GE(got.distances[q * kK + kK - 1], truth.distances[q * kK + kK - 1] - 1e-5);
    for (int32_t j = 1; j < kK; ++j) {
      EXPECT_LE(got.distances[q * kK + j - 1], got.distances[q * kK + j]);
    }
  }
  // Visiting every cell is exact.
  const Answers all = SearchAll(*ivf, queries_, kK, static_cast<int32_t>(ivf->info().nlist));
  EXPECT_GE(RecallAtK(all.labels, truth.labels, kQueries, kK), 0.999);
}

// The similarity index starts from the drift index's cells: an index of more
// rows built on the cells of an index over some of them keeps those cells,
// searches as well, and reports where its cells came from.
TEST_F(ClusteredIndexTest, GivenCellsAreKeptWhenTheRowsSpreadOverThem) {
  const int64_t first = 3000;  // "training": the first rows
  ASSERT_OK_AND_ASSIGN(auto part, CosineIndex::BuildIvf(rows_.data(), first, spec_.dim, {}));
  const std::vector<float> cells = part->Centroids();
  ASSERT_EQ(cells.size(), static_cast<size_t>(part->info().nlist * spec_.dim));
  EXPECT_EQ(part->info().cells, "k-means");

  IvfOptions given;
  given.given_centroids = cells;
  ASSERT_OK_AND_ASSIGN(auto all, CosineIndex::BuildIvf(rows_.data(), kRows, spec_.dim, given));
  EXPECT_EQ(all->info().cells, "given");
  EXPECT_EQ(all->info().nlist, part->info().nlist);
  EXPECT_EQ(all->Centroids(), cells);
  EXPECT_EQ(all->info().train_seconds, 0.0);
  EXPECT_GE(all->info().cell_imbalance, 1.0);
  EXPECT_LE(all->info().cell_imbalance, given.max_cell_imbalance);
  EXPECT_GE(all->info().recall_estimate, 0.98);

  ASSERT_OK_AND_ASSIGN(auto exact, CosineIndex::Build(rows_.data(), kRows, spec_.dim));
  const Answers truth = SearchAll(*exact, queries_, kK);
  EXPECT_GE(RecallAtK(SearchAll(*all, queries_, kK).labels, truth.labels, kQueries, kK), 0.95);
  EXPECT_TRUE(CosineIndex::Build(rows_.data(), kRows, spec_.dim).value()->Centroids().empty());
}

// Rows that crowd into a few of the given cells would make each query scan
// most rows: the index trains its own. Here 71 cells of which only two
// directions differ, the rows' mean and its opposite, so every row falls in
// one of two cells.
TEST_F(ClusteredIndexTest, GivenCellsTheRowsCrowdIntoAreReplacedByKMeans) {
  const int64_t d = spec_.dim;
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t j = 0; j < d; ++j) mean[j] += rows_[r * d + j];
  }
  double norm = 0;
  for (double v : mean) norm += v * v;
  std::vector<float> cells;
  for (int c = 0; c < 71; ++c) {
    for (double v : mean)
      cells.push_back(static_cast<float>((c == 0 ? 1 : -1) * v / std::sqrt(norm)));
  }
  IvfOptions given;
  given.given_centroids = cells;
  ASSERT_OK_AND_ASSIGN(auto ivf, CosineIndex::BuildIvf(rows_.data(), kRows, d, given));
  EXPECT_EQ(ivf->info().cells.rfind("k-means (the given cells' imbalance was ", 0), 0)
      << ivf->info().cells;
  EXPECT_EQ(ivf->info().nlist, 71);  // its own sqrt(rows) cells
  EXPECT_NE(ivf->Centroids(), cells);
  EXPECT_LE(ivf->info().cell_imbalance, given.max_cell_imbalance);
  EXPECT_GT(ivf->info().train_seconds, 0.0);

  IvfOptions crooked;
  crooked.given_centroids = std::vector<float>(spec_.dim + 1, 0.5f);
  EXPECT_FALSE(CosineIndex::BuildIvf(rows_.data(), kRows, spec_.dim, crooked).ok());
}

TEST_F(ClusteredIndexTest, ExactAndSingleCellIvfEqualBruteForce) {
  const std::vector<float> queries(queries_.begin(), queries_.begin() + 50 * spec_.dim);
  const Answers brute = BruteForce(rows_, queries, spec_.dim, kK);
  ASSERT_OK_AND_ASSIGN(auto exact, CosineIndex::Build(rows_.data(), kRows, spec_.dim));
  IvfOptions one;
  one.nlist = 1;
  ASSERT_OK_AND_ASSIGN(auto single, CosineIndex::BuildIvf(rows_.data(), kRows, spec_.dim, one));
  EXPECT_FALSE(single->approximate());
  EXPECT_EQ(single->info().recall_estimate, 1.0);
  for (const CosineIndex* idx : {exact.get(), single.get()}) {
    const Answers got = SearchAll(*idx, queries, kK);
    for (size_t i = 0; i < got.labels.size(); ++i) {
      EXPECT_NEAR(got.distances[i], brute.distances[i], 2e-5) << i;
    }
    EXPECT_GE(RecallAtK(got.labels, brute.labels, 50, kK), 0.99);  // ties may swap
  }
}

TEST_F(ClusteredIndexTest, WrittenIndexReadsBackWithTheSameAnswers) {
  TempDir dir;
  IvfOptions options;
  options.nprobe = 5;
  ASSERT_OK_AND_ASSIGN(auto ivf, CosineIndex::BuildIvf(rows_.data(), kRows, spec_.dim, options));
  ASSERT_OK_AND_ASSIGN(auto exact, CosineIndex::Build(rows_.data(), kRows, spec_.dim));
  ASSERT_OK(ivf->Write(dir.path() / "ivf.faiss"));
  ASSERT_OK(exact->Write(dir.path() / "flat.faiss"));
  ASSERT_OK_AND_ASSIGN(auto ivf2, CosineIndex::Read(dir.path() / "ivf.faiss"));
  ASSERT_OK_AND_ASSIGN(auto exact2, CosineIndex::Read(dir.path() / "flat.faiss"));
  EXPECT_EQ(ivf2->info().method, "ivf");
  EXPECT_EQ(ivf2->info().nlist, ivf->info().nlist);
  EXPECT_EQ(ivf2->info().nprobe, 5);
  EXPECT_EQ(ivf2->size(), kRows);
  EXPECT_EQ(ivf2->dim(), spec_.dim);
  EXPECT_EQ(exact2->info().method, "exact");
  const Answers a = SearchAll(*ivf, queries_, kK), b = SearchAll(*ivf2, queries_, kK);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.distances, b.distances);
  const Answers c = SearchAll(*exact, queries_, kK), e = SearchAll(*exact2, queries_, kK);
  EXPECT_EQ(c.labels, e.labels);
  EXPECT_EQ(c.distances, e.distances);
  std::vector<float> row(spec_.dim);
  ASSERT_OK(ivf2->Reconstruct(1234, row.data()));
  EXPECT_TRUE(std::equal(row.begin(), row.end(), rows_.begin() + 1234 * spec_.dim));
  // No temporary files left behind.
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir.path()))
    files += entry.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST_F(ClusteredIndexTest, FilteredSearchReturnsOnlyAllowedRows) {
  ASSERT_OK_AND_ASSIGN(auto ivf, CosineIndex::BuildIvf(rows_.data(), kRows, spec_.dim, {}));
  ASSERT_OK_AND_ASSIGN(auto exact, CosineIndex::Build(rows_.data(), kRows, spec_.dim));
  const std::vector<float> queries(queries_.begin(), queries_.begin() + 40 * spec_.dim);
  for (int64_t every : {2, 97}) {  // a broad filter (IVF scan) and a narrow one (exact scan)
    std::vector<uint8_t> allowed(kRows, 0);
    int64_t count = 0;
    for (int64_t r = 0; r < kRows; r += every) allowed[r] = 1, ++count;
    const Answers brute = BruteForce(rows_, queries, spec_.dim, kK, &allowed);
    for (const CosineIndex* idx : {ivf.get(), exact.get()}) {
      Answers got{std::vector<float>(40 * kK), std::vector<int64_t>(40 * kK)};
      ASSERT_OK(idx->SearchFiltered(queries.data(), 40, kK, RowFilter{allowed.data(), count},
                                    got.distances.data(), got.labels.data()));
      for (int64_t l : got.labels) {
        ASSERT_GE(l, 0);
        EXPECT_TRUE(allowed[l]);
      }
      const double recall = RecallAtK(got.labels, brute.labels, 40, kK);
      if (every == 97 || !idx->approximate()) {
        EXPECT_GE(recall, 0.99) << "every " << every;
        for (size_t i = 0; i < got.distances.size(); ++i) {
          EXPECT_NEAR(got.distances[i], brute.distances[i], 2e-5);
        }
      } else {
        EXPECT_GE(recall, 0.9) << "every " << every;
      }
    }
  }
  // Fewer allowed rows than k: the rest is -1 at distance 2.
  std::vector<uint8_t> three(kRows, 0);
  three[5] = three[500] = three[4999] = 1;
  std::vector<float> d(kK);
  std::vector<int64_t> l(kK);
  ASSERT_OK(
      ivf->SearchFiltered(queries.data(), 1, kK, RowFilter{three.data(), 3}, d.data(), l.data()));
  std::vector<int64_t> found(l.begin(), l.begin() + 3);
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<int64_t>{5, 500, 4999}));
  for (int j = 3; j < kK; ++j) {
    EXPECT_EQ(l[j], -1);
    EXPECT_EQ(d[j], 2.0f);
  }
}

TEST(CosineIndex, HierarchicalTrainingOfManyCellsKeepsRecall) {
  ClusteredSpec spec;
  spec.clusters = 300;
  const std::vector<float> rows = ClusteredRows(spec, 30000, 5);
  const std::vector<float> queries = ClusteredRows(spec, 300, 6);
  IvfOptions options;
  options.nlist = 600;  // two-level k-means from 512 cells on
  ASSERT_OK_AND_ASSIGN(auto ivf, CosineIndex::BuildIvf(rows.data(), 30000, spec.dim, options));
  EXPECT_NEAR(ivf->info().nlist, 600, 15);  // per-group shares are rounded
  ASSERT_OK_AND_ASSIGN(auto exact, CosineIndex::Build(rows.data(), 30000, spec.dim));
  const Answers truth = SearchAll(*exact, queries, kK);
  const Answers got = SearchAll(*ivf, queries, kK);
  EXPECT_GE(RecallAtK(got.labels, truth.labels, 300, kK), 0.95);
}

TEST(CosineIndex, RejectsBadArguments) {
  const std::vector<float> rows = ClusteredRows(ClusteredSpec{}, 100, 3);
  EXPECT_EQ(CosineIndex::Build(rows.data(), 100, 0).status().code(), StatusCode::kInvalidArgument);
  IvfOptions bad;
  bad.nlist = -1;
  EXPECT_EQ(CosineIndex::BuildIvf(rows.data(), 100, 48, bad).status().code(),
            StatusCode::kInvalidArgument);
  bad = IvfOptions{};
  bad.target_recall = 1.5;
  EXPECT_EQ(CosineIndex::BuildIvf(rows.data(), 100, 48, bad).status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto idx, CosineIndex::BuildIvf(rows.data(), 100, 48, {}));
  float d;
  int64_t l;
  EXPECT_EQ(idx->Search(rows.data(), 1, 0, &d, &l).code(), StatusCode::kInvalidArgument);
  std::vector<float> out(48);
  EXPECT_EQ(idx->Reconstruct(100, out.data()).code(), StatusCode::kInvalidArgument);
  TempDir dir;
  EXPECT_EQ(CosineIndex::Read(dir.path() / "missing.faiss").status().code(), StatusCode::kNotFound);
  ASSERT_OK(WriteFileAtomic(dir.path() / "junk.faiss", "not an index"));
  EXPECT_EQ(CosineIndex::Read(dir.path() / "junk.faiss").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CosineIndex, BuildsFromARowSourceInPieces) {
  const ClusteredSpec spec;
  const std::vector<float> rows = ClusteredRows(spec, 3000, 4);
  int calls = 0;
  RowSource source = [&](int64_t first, int64_t count, float* out) {
    ++calls;
    std::copy(rows.begin() + first * spec.dim, rows.begin() + (first + count) * spec.dim, out);
  };
  IvfOptions options;
  options.nprobe = 4;
  ASSERT_OK_AND_ASSIGN(auto a, CosineIndex::BuildIvf(source, 3000, spec.dim, options));
  ASSERT_OK_AND_ASSIGN(auto b, CosineIndex::BuildIvf(rows.data(), 3000, spec.dim, options));
  EXPECT_GT(calls, 2);
  const Answers x = SearchAll(*a, rows, 5), y = SearchAll(*b, rows, 5);
  EXPECT_EQ(x.labels, y.labels);
  // Each row finds itself first.
  for (int64_t r = 0; r < 3000; ++r) EXPECT_EQ(x.labels[r * 5], r);
}

}  // namespace
}  // namespace sextant::index
