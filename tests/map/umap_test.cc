#include "map/umap.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include "testing.h"

namespace sextant::map {
namespace {

// `clusters` Gaussian blobs of `per` points in d dimensions; centres far apart.
struct Blobs {
  std::vector<float> x;
  std::vector<int> label;
  int64_t n = 0, d = 0;
};

Blobs MakeBlobs(int clusters, int per, int64_t d, float spread, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  Blobs b;
  b.n = static_cast<int64_t>(clusters) * per;
  b.d = d;
  std::vector<float> centres(static_cast<size_t>(clusters * d));
  for (float& c : centres) c = normal(gen);
  for (int c = 0; c < clusters; ++c) {
    for (int i = 0; i < per; ++i) {
      for (int64_t j = 0; j < d; ++j) b.x.push_back(centres[c * d + j] + spread * normal(gen));
      b.label.push_back(c);
    }
  }
  return b;
}

bool AllFinite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
}

// Trustworthiness at k (Venna and Kaski 2001; sklearn.manifold.trustworthiness)
// of the map y of the rows x, with cosine distances in x, for the first
// `queries` rows as queries against all rows.
double Trustworthiness(const Blobs& b, const std::vector<float>& y, int64_t queries, int k) {
  const int64_t n = b.n, d = b.d;
  std::vector<float> unit(b.x.size());
  for (int64_t i = 0; i < n; ++i) NormalizedRow(&b.x[i * d], d, &unit[i * d]);
  double penalty = 0;
  std::vector<float> sim(static_cast<size_t>(n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::vector<int64_t> rank(static_cast<size_t>(n));
  std::vector<std::pair<float, int64_t>> d2(static_cast<size_t>(n));
  for (int64_t q = 0; q < queries; ++q) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += static_cast<double>(unit[q * d + c]) * unit[j * d + c];
      sim[j] = static_cast<float>(s);
    }
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t c) {
      if (a == q || c == q) return a == q && c != q;
      return sim[a] > sim[c] || (sim[a] == sim[c] && a < c);
    });
    for (int64_t j = 0; j < n; ++j) rank[order[j]] = j;
    for (int64_t j = 0; j < n; ++j) {
      const float dx = y[2 * q] - y[2 * j], dy = y[2 * q + 1] - y[2 * j + 1];
      d2[j] = {j == q ? -1.0f : dx * dx + dy * dy, j};
    }
    std::partial_sort(d2.begin(), d2.begin() + k + 1, d2.end());
    for (int j = 1; j <= k; ++j) penalty += std::max<int64_t>(0, rank[d2[j].second] - k);
  }
  return 1.0 - 2.0 / (static_cast<double>(queries) * k * (2.0 * n - 3.0 * k - 1.0)) * penalty;
}

// Leave-one-out accuracy of a 5-nearest-neighbour vote in the 2-D map.
double KnnAccuracy(const std::vector<float>& y, const std::vector<int>& label) {
  const auto n = static_cast<int64_t>(label.size());
  int64_t correct = 0;
  std::vector<std::pair<float, int>> d(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const float dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
      d[j] = {j == i ? INFINITY : dx * dx + dy * dy, label[j]};
    }
    std::partial_sort(d.begin(), d.begin() + 5, d.end());
    std::map<int, int> votes;
    for (int k = 0; k < 5; ++k) votes[d[k].second]++;
    int best = -1, best_votes = 0;
    for (auto [l, v] : votes) {
      if (v > best_votes) best = l, best_votes = v;
    }
    correct += best == label[i];
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

TEST(FitCurve, MatchesUmapLearnsFit) {
  // scipy.optimize.curve_fit on the same 300 points (umap-learn's find_ab_params).
  const Curve c = FitCurve(1.0, 0.25);
  EXPECT_NEAR(c.a, 1.12144, 2e-3);
  EXPECT_NEAR(c.b, 1.05750, 2e-3);
  const Curve d = FitCurve(1.0, 0.1);  // umap-learn's defaults: a = 1.577, b = 0.895
  EXPECT_NEAR(d.a, 1.57694, 2e-3);
  EXPECT_NEAR(d.b, 0.89506, 2e-3);
}

TEST(SmoothDistances, SumOfMembershipsIsLog2K) {
  const std::vector<float> dist = {0.3f, 0.5f, 0.6f, 0.9f, 1.4f, 2.0f};
  float rho = 0, sigma = 0;
  SmoothDistances(dist.data(), 6, &rho, &sigma);
  EXPECT_FLOAT_EQ(rho, 0.3f);
  double sum = 0;
  for (float x : dist) sum += std::exp(-std::max(0.0f, x - rho) / sigma);
  EXPECT_NEAR(sum, std::log2(7.0), 1e-4);
}

TEST(SmoothDistances, ZeroDistancesAndMissingNeighbours) {
  const std::vector<float> dist = {0, 0, 0.2f, INFINITY};
  float rho = 0, sigma = 0;
  SmoothDistances(dist.data(), 4, &rho, &sigma);
  EXPECT_FLOAT_EQ(rho, 0.2f);  // the first positive distance
  EXPECT_GT(sigma, 0);
  const std::vector<float> same = {0, 0, 0};
  SmoothDistances(same.data(), 3, &rho, &sigma);
  EXPECT_EQ(rho, 0);
  EXPECT_GT(sigma, 0);
  EXPECT_TRUE(std::isfinite(sigma));
}

TEST(BuildFuzzyGraph, IsTheSymmetricFuzzyUnion) {
  // Three points, two neighbours each (self excluded).
  const std::vector<float> dist = {1, 2, 1, 3, 2, 3};
  const std::vector<int64_t> labels = {1, 2, 0, 2, 0, 1};
  const FuzzyGraph g = BuildFuzzyGraph(dist.data(), labels.data(), 3, 2);
  ASSERT_EQ(g.head.size(), 6u);
  std::map<std::pair<int, int>, float> w;
  for (size_t e = 0; e < g.head.size(); ++e) w[{g.head[e], g.tail[e]}] = g.weight[e];
  for (auto [edge, weight] : w) EXPECT_FLOAT_EQ(weight, (w[{edge.second, edge.first}]));
  // Directed memberships by hand: nearest neighbour 1, the other exp(-(d - rho) / sigma).
  auto directed = [&](int i, int j) {
    float rho = 0, sigma = 0;
    SmoothDistances(dist.data() + 2 * i, 2, &rho, &sigma);
    const float d = dist[2 * i + (labels[2 * i] == j ? 0 : 1)];
    return std::exp(-std::max(0.0f, d - rho) / sigma);
  };
  const float a = directed(0, 2), b = directed(2, 0);
  EXPECT_NEAR((w[{0, 2}]), a + b - a * b, 1e-6);
  EXPECT_FLOAT_EQ((w[{0, 1}]), 1.0f);  // nearest of each other
  for (size_t e = 1; e < g.head.size(); ++e) {
    EXPECT_TRUE(std::make_pair(g.head[e - 1], g.tail[e - 1]) <
                std::make_pair(g.head[e], g.tail[e]));
  }
}

TEST(Umap2D, SameSeedIsBitwiseEqual) {
  const Blobs b = MakeBlobs(4, 150, 32, 0.3f, 1);
  MapOptions o;
  ASSERT_OK_AND_ASSIGN(std::vector<float> first, Umap2D(b.x.data(), b.n, b.d, o));
  ASSERT_OK_AND_ASSIGN(std::vector<float> second, Umap2D(b.x.data(), b.n, b.d, o));
  ASSERT_EQ(first.size(), static_cast<size_t>(2 * b.n));
  EXPECT_EQ(std::memcmp(first.data(), second.data(), first.size() * sizeof(float)), 0);
  o.seed = 7;
  ASSERT_OK_AND_ASSIGN(std::vector<float> other, Umap2D(b.x.data(), b.n, b.d, o));
  EXPECT_NE(std::memcmp(first.data(), other.data(), first.size() * sizeof(float)), 0);
}

TEST(Umap2D, SeparatedClustersStaySeparated) {
  // 150-d: the PCA stage (to 100) is used too.
  const Blobs b = MakeBlobs(5, 200, 150, 0.15f, 2);
  MapOptions o;
  ASSERT_OK_AND_ASSIGN(MapResult r, [&] {
    RowBlocks rows(b.d);
    rows.Add(b.x.data(), b.n);
    return ComputeMap(rows, o);
  }());
  ASSERT_TRUE(AllFinite(r.coords));
  EXPECT_EQ(r.info.pca_dims, 100);
  EXPECT_EQ(r.info.epochs, 500);
  EXPECT_EQ(r.info.n_neighbors, 15);
  EXPECT_GT(r.info.edges, 0);
  EXPECT_GT(KnnAccuracy(r.coords, b.label), 0.95);
  // The map spans a sensible range (not collapsed, not exploded).
  const auto [lo, hi] = std::minmax_element(r.coords.begin(), r.coords.end());
  EXPECT_GT(*hi - *lo, 1.0f);
  EXPECT_LT(*hi - *lo, 1000.0f);
}

TEST(Umap2D, RowsSplitOverBlocksMapLikeOneArray) {
  const Blobs b = MakeBlobs(3, 100, 16, 0.3f, 3);
  RowBlocks rows(b.d);
  rows.Add(b.x.data(), 120);
  rows.Add(b.x.data() + 120 * b.d, b.n - 120);
  ASSERT_OK_AND_ASSIGN(MapResult split, ComputeMap(rows, MapOptions()));
  ASSERT_OK_AND_ASSIGN(std::vector<float> whole, Umap2D(b.x.data(), b.n, b.d, MapOptions()));
  EXPECT_EQ(split.coords, whole);
}

TEST(Umap2D, PointsBeyondMaxPointsArePlacedAmongTheirNeighbours) {
  const Blobs b = MakeBlobs(4, 300, 24, 0.2f, 4);
  MapOptions o;
  o.max_points = 400;
  RowBlocks rows(b.d);
  rows.Add(b.x.data(), b.n);
  ASSERT_OK_AND_ASSIGN(MapResult r, ComputeMap(rows, o));
  EXPECT_EQ(r.info.layout_points, 400);
  EXPECT_EQ(r.info.placed_points, b.n - 400);
  ASSERT_TRUE(AllFinite(r.coords));
  EXPECT_GT(KnnAccuracy(r.coords, b.label), 0.95);
}

TEST(Umap2D, ApproximateNeighbourGraphKeepsClustersAndStatesItsRecall) {
  const Blobs b = MakeBlobs(6, 400, 48, 0.3f, 9);
  MapOptions o;
  o.knn = NnSearch::kApproximate;
  RowBlocks rows(b.d);
  rows.Add(b.x.data(), b.n);
  ASSERT_OK_AND_ASSIGN(MapResult r, ComputeMap(rows, o));
  EXPECT_TRUE(r.info.knn_approximate);
  EXPECT_GT(r.info.knn_nlist, 1);
  EXPECT_GE(r.info.knn_recall_estimate, o.knn_target_recall);
  ASSERT_TRUE(AllFinite(r.coords));
  EXPECT_GT(KnnAccuracy(r.coords, b.label), 0.95);
  ASSERT_OK_AND_ASSIGN(MapResult again, ComputeMap(rows, o));
  EXPECT_EQ(again.coords, r.coords);
  // auto stays exact below knn_auto_min_points.
  o.knn = NnSearch::kAuto;
  ASSERT_OK_AND_ASSIGN(MapResult small, ComputeMap(rows, o));
  EXPECT_FALSE(small.info.knn_approximate);
  EXPECT_EQ(small.info.knn_recall_estimate, 1.0);
}

// Quality, not speed: 20 overlapping-ish Gaussian clusters in 64-d, through
// every stage (PCA, the IVF graph, the parallel layout, placement of the rows
// beyond max_points). Trustworthiness at k = 10 of the map (sklearn's
// formula, cosine distances, 1,000 query rows against all 8,000).
TEST(Umap2D, ClusteredDataKeepTheirNeighbourhoods) {
  const Blobs b = MakeBlobs(20, 400, 64, 0.5f, 11);
  MapOptions o;
  o.knn = NnSearch::kApproximate;
  o.max_points = 5000;
  RowBlocks rows(b.d);
  rows.Add(b.x.data(), b.n);
  ASSERT_OK_AND_ASSIGN(MapResult r, ComputeMap(rows, o));
  EXPECT_TRUE(r.info.knn_approximate);
  EXPECT_EQ(r.info.placed_points, b.n - 5000);
  ASSERT_TRUE(AllFinite(r.coords));
  EXPECT_GE(Trustworthiness(b, r.coords, 1000, 10), 0.95);
}

// The layout's SGD, the IVF search and the placement run on all OpenMP
// threads, each point's or query's work on one: the map is bitwise the same
// whatever the thread count, and from run to run.
TEST(Umap2D, SameMapWithOneOrTwoThreads) {
  const Blobs b = MakeBlobs(8, 300, 40, 0.4f, 12);
  MapOptions o;
  o.knn = NnSearch::kApproximate;
  o.max_points = 1600;
  o.epochs = 60;
  RowBlocks rows(b.d);
  rows.Add(b.x.data(), b.n);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = ComputeMap(rows, o);
  omp_set_num_threads(2);
  auto two = ComputeMap(rows, o);
  auto again = ComputeMap(rows, o);
  omp_set_num_threads(threads);
  ASSERT_OK(one.status());
  ASSERT_OK(two.status());
  ASSERT_OK(again.status());
  ASSERT_EQ(one->coords.size(), static_cast<size_t>(2 * b.n));
  EXPECT_EQ(std::memcmp(one->coords.data(), two->coords.data(), one->coords.size() * sizeof(float)),
            0);
  EXPECT_EQ(
      std::memcmp(two->coords.data(), again->coords.data(), two->coords.size() * sizeof(float)), 0);
}

TEST(Umap2D, FewPointsAreHandled) {
  for (int64_t n : {0, 1, 2, 3, 14, 15, 16}) {
    const Blobs b = MakeBlobs(1, static_cast<int>(n), 8, 1.0f, 5);
    ASSERT_OK_AND_ASSIGN(std::vector<float> y, Umap2D(b.x.data(), n, 8, MapOptions()));
    ASSERT_EQ(y.size(), static_cast<size_t>(2 * n)) << n;
    EXPECT_TRUE(AllFinite(y)) << n;
    if (n == 1) {
      EXPECT_EQ(y, (std::vector<float>{0, 0}));
    }
  }
}

TEST(Umap2D, DuplicatesAndZeroRowsGiveFiniteCoordinates) {
  const int64_t d = 10;
  // 60 copies of one row, 30 of another, 10 zero rows and 50 distinct ones.
  Blobs b = MakeBlobs(1, 50, d, 1.0f, 6);
  std::vector<float> x;
  for (int i = 0; i < 60; ++i) x.insert(x.end(), b.x.begin(), b.x.begin() + d);
  for (int i = 0; i < 30; ++i) x.insert(x.end(), b.x.begin() + d, b.x.begin() + 2 * d);
  x.insert(x.end(), 10 * d, 0.0f);
  x.insert(x.end(), b.x.begin(), b.x.end());
  const auto n = static_cast<int64_t>(x.size()) / d;
  ASSERT_OK_AND_ASSIGN(std::vector<float> y, Umap2D(x.data(), n, d, MapOptions()));
  EXPECT_TRUE(AllFinite(y));
  // Every row identical.
  std::vector<float> same(40 * d, 0.5f);
  ASSERT_OK_AND_ASSIGN(std::vector<float> z, Umap2D(same.data(), 40, d, MapOptions()));
  EXPECT_TRUE(AllFinite(z));
}

TEST(Umap2D, RejectsBadOptions) {
  const Blobs b = MakeBlobs(1, 20, 4, 1.0f, 7);
  MapOptions o;
  o.n_neighbors = 1;
  EXPECT_FALSE(Umap2D(b.x.data(), b.n, b.d, o).ok());
  o = MapOptions();
  o.min_dist = 2.0;
  EXPECT_FALSE(Umap2D(b.x.data(), b.n, b.d, o).ok());
  o = MapOptions();
  o.max_points = 1;
  EXPECT_FALSE(Umap2D(b.x.data(), b.n, b.d, o).ok());
  EXPECT_FALSE(Umap2D(b.x.data(), b.n, 0, MapOptions()).ok());
}

}  // namespace
}  // namespace sextant::map
