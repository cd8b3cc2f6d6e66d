// The 2-D map (map::ComputeMap) on .npy embeddings, timed stage by stage,
// with the map's trustworthiness measured in the same run.
//
//   map_bench --train T.npy [--production P.npy] [--epochs E] [--max-points M]
//             [--seed S] [--trust-queries 2000] [--trust-reference 20000] [--k 10]
//             [--out coords.npy]
//
// Maps the rows of T followed by those of P (as a finish maps its splits) with
// default MapOptions except the options given, and prints one JSON object:
// MapInfo's stage seconds, the map's CPU seconds, and its trustworthiness at k.
//
// Trustworthiness (Venna and Kaski 2001; the formula of
// sklearn.manifold.trustworthiness) is measured on a seeded sample of
// --trust-reference points of the map: --trust-queries of them are the
// queries, ranked against all reference points by cosine distance in the
// original space (exact, through sgemm) and by Euclidean distance in 2-D. With
// n the reference size and Q the queries,
//   T = 1 - 2 / (Q k (2n - 3k - 1)) * sum_q sum_{j in U_q} (r(q, j) - k),
// U_q the k 2-D neighbours of q that are not among its k original neighbours,
// r(q, j) j's rank among q's original neighbours (1 = nearest, self excluded).
// With Q = n it is sklearn's score on the reference sample.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "bench_util.h"
#include "common/random.h"
#include "io/npy.h"
#include "map/umap.h"

namespace {

using nlohmann::ordered_json;
using namespace sextant;
using namespace sextant::bench;

// Sorted sample of m of [0, n) (selection sampling).
std::vector<int64_t> Sample(int64_t n, int64_t m, Random& rng) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n && static_cast<int64_t>(out.size()) < m; ++i) {
    if (rng.Uniform() * static_cast<double>(n - i) <
        static_cast<double>(m - static_cast<int64_t>(out.size()))) {
      out.push_back(i);
    }
  }
  return out;
}

double Trustworthiness(const map::RowBlocks& rows, const std::vector<float>& coords, int64_t nref,
                       int64_t nq, int32_t k, uint64_t seed) {
  const int64_t n = rows.rows(), d = rows.dim();
  Random rng(seed);
  const std::vector<int64_t> ref = Sample(n, std::min(nref, n), rng);
  nref = static_cast<int64_t>(ref.size());
  // Queries: a seeded subset of the reference positions.
  std::vector<int64_t> qpos(static_cast<size_t>(nref));
  std::iota(qpos.begin(), qpos.end(), 0);
  for (int64_t i = nref - 1; i > 0; --i) {
    std::swap(qpos[i], qpos[rng.Below(static_cast<uint32_t>(i + 1))]);
  }
  nq = std::min(nq, nref);
  qpos.resize(static_cast<size_t>(nq));
  std::sort(qpos.begin(), qpos.end());

  std::vector<float> unit(static_cast<size_t>(nref * d)), queries(static_cast<size_t>(nq * d));
  for (int64_t i = 0; i < nref; ++i) map::NormalizedRow(rows.Row(ref[i]), d, &unit[i * d]);
  for (int64_t q = 0; q < nq; ++q) {
    std::copy_n(&unit[qpos[q] * d], d, &queries[q * d]);
  }
  constexpr int64_t kBlock = 256;
  double penalty = 0;
  std::vector<float> sims(static_cast<size_t>(kBlock * nref));
  for (int64_t s = 0; s < nq; s += kBlock) {
    const int64_t m = std::min(kBlock, nq - s);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m),
                static_cast<int>(nref), static_cast<int>(d), 1.0f, &queries[s * d],
                static_cast<int>(d), unit.data(), static_cast<int>(d), 0.0f, sims.data(),
                static_cast<int>(nref));
#pragma omp parallel for reduction(+ : penalty) schedule(dynamic, 8)
    for (int64_t r = 0; r < m; ++r) {
      const int64_t self = qpos[s + r];
      const float* sim = &sims[r * nref];
      // Original ranks: by descending cosine similarity, ties by position; self first.
      std::vector<int32_t> order(static_cast<size_t>(nref));
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        if (a == self || b == self) return a == self && b != self;
        if (sim[a] != sim[b]) return sim[a] > sim[b];
        return a < b;
      });
      std::vector<int32_t> rank(static_cast<size_t>(nref));
      for (int64_t j = 0; j < nref; ++j) rank[order[j]] = static_cast<int32_t>(j);
      // k nearest in 2-D, self excluded.
      const float* me = &coords[2 * ref[self]];
      std::vector<std::pair<float, int32_t>> d2(static_cast<size_t>(nref));
      for (int64_t j = 0; j < nref; ++j) {
        const float dx = coords[2 * ref[j]] - me[0], dy = coords[2 * ref[j] + 1] - me[1];
        d2[j] = {j == self ? -1.0f : dx * dx + dy * dy, static_cast<int32_t>(j)};
      }
      std::partial_sort(d2.begin(), d2.begin() + k + 1, d2.end());
      for (int32_t j = 1; j <= k; ++j) {
        const int32_t rk = rank[d2[j].second];
        if (rk > k) penalty += rk - k;
      }
    }
  }
  const double nn = static_cast<double>(nref);
  return 1.0 - 2.0 / (static_cast<double>(nq) * k * (2.0 * nn - 3.0 * k - 1.0)) * penalty;
}

}  // namespace

int main(int argc, char** argv) {
  ProgramName() = "map_bench";
  const std::string train = Arg(argc, argv, "train"), prod = Arg(argc, argv, "production");
  if (train.empty()) Die("usage: map_bench --train T.npy [--production P.npy] [options]");
  const auto t_load = Clock::now();
  io::FloatMatrix a = Check(io::ReadNpyAsFloat32(train), "read train");
  io::FloatMatrix b;
  if (!prod.empty()) b = Check(io::ReadNpyAsFloat32(prod), "read production");
  if (!prod.empty() && b.cols != a.cols) Die("the two arrays' widths differ");
  const double load_s = Seconds(t_load);
  map::RowBlocks rows(a.cols);
  rows.Add(a.data.data(), a.rows);
  if (!prod.empty()) rows.Add(b.data.data(), b.rows);

  map::MapOptions o;
  o.epochs = std::stoi(Arg(argc, argv, "epochs", "0"));
  o.max_points = std::stoll(Arg(argc, argv, "max-points", std::to_string(o.max_points)));
  o.seed = std::stoull(Arg(argc, argv, "seed", std::to_string(o.seed)));
  const auto cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  map::MapResult r = Check(map::ComputeMap(rows, o), "map");
  const double wall = Seconds(t0), cpu = CpuSeconds() - cpu0;
  const map::MapInfo& i = r.info;

  const std::string out = Arg(argc, argv, "out");
  if (!out.empty()) {
    Check(io::WriteNpyFloat32(out, r.coords.data(), rows.rows(), 2), "write coords");
  }
  const auto k = static_cast<int32_t>(std::stoi(Arg(argc, argv, "k", "10")));
  const int64_t nq = std::stoll(Arg(argc, argv, "trust-queries", "2000"));
  const int64_t nref = std::stoll(Arg(argc, argv, "trust-reference", "20000"));
  const auto t_trust = Clock::now();
  const double trust = nq > 0 ? Trustworthiness(rows, r.coords, nref, nq, k, 7) : -1;
  const double trust_s = Seconds(t_trust);

  ordered_json j = {{"points", i.points},
                    {"dim", rows.dim()},
                    {"layout_points", i.layout_points},
                    {"placed_points", i.placed_points},
                    {"epochs", i.epochs},
                    {"edges", i.edges},
                    {"knn_approximate", i.knn_approximate},
                    {"knn_nlist", i.knn_nlist},
                    {"knn_nprobe", i.knn_nprobe},
                    {"knn_recall_estimate", i.knn_recall_estimate},
                    {"stage_seconds",
                     {{"pca", i.seconds_pca},
                      {"knn", i.seconds_knn},
                      {"graph", i.seconds_graph},
                      {"layout", i.seconds_layout},
                      {"place", i.seconds_place}}},
                    {"seconds", i.seconds},
                    {"wall_seconds", wall},
                    {"cpu_seconds", cpu},
                    {"load_seconds", load_s},
                    {"trustworthiness",
                     {{"k", k},
                      {"value", trust},
                      {"queries", std::min(nq, nref)},
                      {"reference_points", nref},
                      {"space", "cosine (original) vs Euclidean (2-D)"},
                      {"seconds", trust_s}}},
                    {"omp_threads", omp_get_max_threads()},
                    {"peak_rss_mib", PeakRssMib()},
                    {"openblas_core", BlasCore()}};
  std::cout << j.dump(2) << "\n";
  return 0;
}
