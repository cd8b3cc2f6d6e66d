#include "map/pca.h"

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "testing.h"

namespace sextant::map {
namespace {

std::vector<int64_t> AllRows(int64_t n) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

TEST(RowBlocks, AddressesRowsAcrossBlocks) {
  std::vector<float> a = {1, 2, 3, 4}, b = {5, 6};
  RowBlocks rows(2);
  rows.Add(a.data(), 2);
  rows.Add(nullptr, 0);
  rows.Add(b.data(), 1);
  ASSERT_EQ(rows.rows(), 3);
  EXPECT_EQ(rows.Row(0)[0], 1);
  EXPECT_EQ(rows.Row(1)[1], 4);
  EXPECT_EQ(rows.Row(2)[0], 5);
}

TEST(Pca, AllComponentsKeepDistancesBetweenUnitRows) {
  const int64_t n = 200, d = 12;
  std::mt19937 gen(3);
  std::normal_distribution<float> normal;
  std::vector<float> x(n * d);
  for (float& v : x) v = normal(gen) + 0.5f;
  RowBlocks rows(d);
  rows.Add(x.data(), n);
  ASSERT_OK_AND_ASSIGN(Pca pca, Pca::Fit(rows, AllRows(n), d));
  EXPECT_NEAR(pca.explained_variance_ratio(), 1.0, 1e-9);
  std::vector<float> y(n * d);
  const std::vector<int64_t> ids = AllRows(n);
  pca.Transform(rows, ids.data(), n, y.data());
  std::vector<float> u(d), v(d);
  for (int64_t i = 0; i < 20; ++i) {
    const int64_t j = (i * 37 + 11) % n;
    NormalizedRow(x.data() + i * d, d, u.data());
    NormalizedRow(x.data() + j * d, d, v.data());
    double want = 0, got = 0;
    for (int64_t c = 0; c < d; ++c) {
      want += (u[c] - v[c]) * (u[c] - v[c]);
      got += (y[i * d + c] - y[j * d + c]) * (y[i * d + c] - y[j * d + c]);
    }
    EXPECT_NEAR(got, want, 1e-4);
  }
}

TEST(Pca, FindsTheSubspaceTheRowsSpan) {
  // Unit rows near a 2-D subspace of R^20 (plus a tiny isotropic noise):
  // two components explain nearly everything, and they come first.
  const int64_t n = 500, d = 20;
  std::mt19937 gen(5);
  std::normal_distribution<float> normal;
  std::vector<float> x(n * d);
  for (int64_t i = 0; i < n; ++i) {
    const float t = 2.0f * static_cast<float>(M_PI) * i / n;
    for (int64_t c = 0; c < d; ++c) x[i * d + c] = 1e-3f * normal(gen);
    x[i * d + 3] += std::cos(t);
    x[i * d + 7] += std::sin(t);
  }
  RowBlocks rows(d);
  rows.Add(x.data(), n);
  ASSERT_OK_AND_ASSIGN(Pca pca, Pca::Fit(rows, AllRows(n), 2));
  EXPECT_GT(pca.explained_variance_ratio(), 0.999);
  ASSERT_OK_AND_ASSIGN(Pca three, Pca::Fit(rows, AllRows(n), 3));
  EXPECT_GT(three.explained_variance_ratio(), pca.explained_variance_ratio());
}

TEST(Pca, RejectsBadShapes) {
  std::vector<float> x(10, 1.0f);
  RowBlocks rows(5);
  rows.Add(x.data(), 2);
  EXPECT_FALSE(Pca::Fit(rows, {0, 1}, 6).ok());
  EXPECT_FALSE(Pca::Fit(rows, {0, 1}, 0).ok());
  EXPECT_FALSE(Pca::Fit(rows, {}, 2).ok());
}

}  // namespace
}  // namespace sextant::map
