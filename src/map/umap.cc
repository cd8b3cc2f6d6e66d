#include "map/umap.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <utility>

#include "common/file_util.h"
#include "common/random.h"
#include "io/npy.h"
#include "map/knn.h"

namespace sextant::map {
namespace {

using Clock = std::chrono::steady_clock;

double Lap(Clock::time_point* t) {
  const auto now = Clock::now();
  const double s = std::chrono::duration<double>(now - *t).count();
  *t = now;
  return s;
}

// m distinct row indices of [0, n), sorted, chosen uniformly (Knuth's
// selection sampling, one draw per row); all rows when m >= n.
std::vector<int64_t> SampleSorted(int64_t n, int64_t m, Random& rng) {
  std::vector<int64_t> out;
  if (m >= n) {
    out.resize(static_cast<size_t>(n));
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
  out.reserve(static_cast<size_t>(m));
  for (int64_t i = 0; i < n && static_cast<int64_t>(out.size()) < m; ++i) {
    if (rng.Uniform() * static_cast<double>(n - i) <
        static_cast<double>(m - static_cast<int64_t>(out.size()))) {
      out.push_back(i);
    }
  }
  return out;
}

double Membership(float d, float rho, float sigma) {
  const double x = static_cast<double>(d) - rho;
  return x <= 0 ? 1.0 : std::exp(-x / sigma);
}

float Clip(float v) { return std::max(-4.0f, std::min(4.0f, v)); }

// UMAP's layout SGD (the paper's Algorithm 5, with umap-learn's edge
// sampling): each edge is visited in proportion to its weight and pulls its
// head towards its tail; each visit pushes the head away from
// negative_sample_rate random points; the learning rate decays linearly to 0.
//
// Parallel and deterministic whatever the thread count: the graph holds
// each undirected edge in both directions, so an edge moves only its head
// (umap-learn's move_other = false) and each head's edges are one thread's
// work. Within an epoch a head reads the other points where the previous
// epoch left them (`prev`) and its own position as it moves (`next`): a
// Jacobi sweep between points, Gauss-Seidel along one head's edges. Each
// head's negative samples come from a generator seeded by (seed, epoch,
// head). So the result depends on neither the thread count nor the schedule.
void OptimizeLayout(float* y, int64_t n, const FuzzyGraph& g, Curve curve, int32_t epochs,
                    const MapOptions& o, uint64_t seed) {
  const size_t m = g.head.size();
  if (m == 0 || epochs <= 0) return;
  // first[i], ..., first[i + 1] - 1: head i's edges (the graph is sorted by head).
  std::vector<int64_t> first(static_cast<size_t>(n + 1), 0);
  for (size_t e = 0; e < m; ++e) ++first[g.head[e] + 1];
  for (int64_t i = 0; i < n; ++i) first[i + 1] += first[i];
  const float max_w = *std::max_element(g.weight.begin(), g.weight.end());
  std::vector<double> per_sample(m), next_sample(m), per_negative(m), next_negative(m);
  const double neg_rate = std::max(o.negative_sample_rate, 0);
  for (size_t e = 0; e < m; ++e) {
    per_sample[e] = static_cast<double>(max_w) / g.weight[e];
    next_sample[e] = per_sample[e];
    per_negative[e] =
        neg_rate > 0 ? per_sample[e] / neg_rate : std::numeric_limits<double>::infinity();
    next_negative[e] = per_negative[e];
  }
  const auto a = static_cast<float>(curve.a), b = static_cast<float>(curve.b);
  const auto n32 = static_cast<uint32_t>(n);
  std::vector<float> other_buf(y, y + 2 * n);
  float* prev = other_buf.data();
  float* next = y;
  for (int32_t epoch = 0; epoch < epochs; ++epoch) {
    std::swap(prev, next);  // prev: where the last epoch left every point
    const auto alpha =
        static_cast<float>(o.learning_rate * (1.0 - static_cast<double>(epoch) / epochs));
    // Small layouts stay on one thread: a barrier per epoch costs more than
    // they do (the result is the same either way).
#pragma omp parallel for schedule(dynamic, 2048) if (n >= 8192)
    for (int64_t j = 0; j < n; ++j) {
      float cur[2] = {prev[2 * j], prev[2 * j + 1]};
      Random rng(seed ^ (0x9E3779B97F4A7C15ULL * (static_cast<uint64_t>(epoch) + 1)) ^
                 (0xD1B54A32D192ED03ULL * (static_cast<uint64_t>(j) + 1)));
      for (int64_t e = first[j]; e < first[j + 1]; ++e) {
        if (next_sample[e] > epoch) continue;
        const float* other = prev + 2 * static_cast<int64_t>(g.tail[e]);
        float dx = cur[0] - other[0], dy = cur[1] - other[1];
        float d2 = dx * dx + dy * dy;
        if (d2 > 0) {
          const float pb = ::powf(d2, b);
          const float coeff = -2.0f * a * b * (pb / d2) / (a * pb + 1.0f);
          cur[0] += Clip(coeff * dx) * alpha;
          cur[1] += Clip(coeff * dy) * alpha;
        }
        next_sample[e] += per_sample[e];

        const auto negatives = static_cast<int64_t>((epoch - next_negative[e]) / per_negative[e]);
        for (int64_t p = 0; p < negatives; ++p) {
          const uint32_t k = rng.Below(n32);
          if (static_cast<int64_t>(k) == j) continue;
          other = prev + 2 * static_cast<int64_t>(k);
          dx = cur[0] - other[0];
          dy = cur[1] - other[1];
          d2 = dx * dx + dy * dy;
          // Coincident points exert no force (the direction is undefined).
          if (!(d2 > 0)) continue;
          const float coeff = 2.0f * b / ((0.001f + d2) * (a * ::powf(d2, b) + 1.0f));
          cur[0] += Clip(coeff * dx) * alpha;
          cur[1] += Clip(coeff * dy) * alpha;
        }
        next_negative[e] += static_cast<double>(negatives) * per_negative[e];
      }
      next[2 * j] = cur[0];
      next[2 * j + 1] = cur[1];
    }
    if (o.progress) o.progress(epoch + 1, epochs);
  }
  if (next != y) std::copy_n(next, 2 * n, y);
}

// umap-learn's 500 epochs up to 10,000 points; beyond, a budget of
// kEpochPoints point-epochs (at least 50 epochs): the layout's cost is
// points x epochs, and at 50,000-100,000 points 50-100 epochs keep the
// trustworthiness of 200 (docs/algorithms.md).
constexpr int64_t kEpochPoints = 5000000;
int32_t AutoEpochs(int64_t points) {
  if (points <= 10000) return 500;
  return static_cast<int32_t>(std::clamp<int64_t>(kEpochPoints / points, 50, 500));
}

Status CheckOptions(const MapOptions& o) {
  if (o.n_neighbors < 2) return Status::Invalid("map n_neighbors: must be at least 2");
  if (!(o.spread > 0) || !std::isfinite(o.spread))
    return Status::Invalid("map spread: must be positive");
  if (!(o.min_dist >= 0 && o.min_dist <= o.spread)) {
    return Status::Invalid("map min_dist: must be in [0, spread]");
  }
  if (o.pca_dims < 1) return Status::Invalid("map pca_dims: must be at least 1");
  if (o.pca_fit_points < 1) return Status::Invalid("map pca_fit_points: must be at least 1");
  if (o.epochs < 0) return Status::Invalid("map epochs: must be >= 0 (0 = automatic)");
  if (o.negative_sample_rate < 0) return Status::Invalid("map negative_sample_rate: must be >= 0");
  if (!(o.learning_rate > 0)) return Status::Invalid("map learning_rate: must be positive");
  if (o.max_points < 0 || o.max_points == 1) {
    return Status::Invalid("map max_points: must be 0 (no limit) or at least 2");
  }
  return Status::OK();
}

}  // namespace

Curve FitCurve(double spread, double min_dist) {
  constexpr int kPoints = 300;
  std::vector<double> x(kPoints), y(kPoints);
  for (int i = 0; i < kPoints; ++i) {
    x[i] = 3.0 * spread * i / (kPoints - 1);
    y[i] = x[i] < min_dist ? 1.0 : std::exp(-(x[i] - min_dist) / spread);
  }
  auto cost = [&](double a, double b) {
    double s = 0;
    for (int i = 0; i < kPoints; ++i) {
      const double r = 1.0 / (1.0 + a * std::pow(x[i], 2 * b)) - y[i];
      s += r * r;
    }
    return s;
  };
  double a = 1, b = 1, lambda = 1e-3, current = cost(a, b);
  for (int iter = 0; iter < 500; ++iter) {
    double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
    for (int i = 0; i < kPoints; ++i) {
      if (x[i] <= 0) continue;  // f = 1 there whatever a and b
      const double u = std::pow(x[i], 2 * b), f = 1.0 / (1.0 + a * u), r = f - y[i];
      const double da = -u * f * f, db = -a * u * 2.0 * std::log(x[i]) * f * f;
      jaa += da * da;
      jab += da * db;
      jbb += db * db;
      ga += da * r;
      gb += db * r;
    }
    bool improved = false;
    for (int tries = 0; tries < 30 && !improved; ++tries) {
      const double m00 = jaa * (1 + lambda), m11 = jbb * (1 + lambda), det = m00 * m11 - jab * jab;
      if (!(det > 0)) {
        lambda *= 10;
        continue;
      }
      const double step_a = (-ga * m11 + gb * jab) / det, step_b = (-gb * m00 + ga * jab) / det;
      const double next = cost(a + step_a, b + step_b);
      if (next < current) {
        const double gain = current - next;
        a += step_a;
        b += step_b;
        current = next;
        lambda = std::max(lambda / 10, 1e-12);
        improved = true;
        if (gain < 1e-16 * std::max(current, 1e-300)) iter = 500;  // converged
      } else {
        lambda *= 10;
      }
    }
    if (!improved) break;
  }
  return {a, b};
}

void SmoothDistances(const float* dist, int32_t k, float* rho_out, float* sigma_out) {
  int32_t valid = 0;
  while (valid < k && std::isfinite(dist[valid])) ++valid;
  double rho = 0, mean = 0;
  for (int32_t j = 0; j < valid; ++j) {
    if (rho == 0 && dist[j] > 0) rho = dist[j];
    mean += dist[j];
  }
  if (valid == 0) {
    *rho_out = 0;
    *sigma_out = 1;
    return;
  }
  mean /= valid;
  const double target = std::log2(static_cast<double>(valid) + 1.0);
  double lo = 0, hi = std::numeric_limits<double>::infinity(), mid = 1;
  for (int iter = 0; iter < 64; ++iter) {
    double psum = 0;
    for (int32_t j = 0; j < valid; ++j) {
      const double x = dist[j] - rho;
      psum += x > 0 ? std::exp(-x / mid) : 1.0;
    }
    if (std::abs(psum - target) < 1e-5) break;
    if (psum > target) {
      hi = mid;
      mid = (lo + hi) / 2;
    } else {
      lo = mid;
      mid = std::isinf(hi) ? mid * 2 : (lo + hi) / 2;
    }
  }
  // As umap-learn: sigma no smaller than 1/1000 of the mean neighbour distance.
  mid = std::max(mid, 1e-3 * mean);
  *rho_out = static_cast<float>(rho);
  *sigma_out = static_cast<float>(std::max(mid, 1e-30));
}

FuzzyGraph BuildFuzzyGraph(const float* dist, const int64_t* labels, int64_t n, int32_t k) {
  // Directed memberships keyed by the unordered pair, with their direction.
  struct Directed {
    uint64_t pair;  // (min << 32) | max
    float w;
    bool from_low;
  };
  std::vector<Directed> directed;
  directed.reserve(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < n; ++i) {
    float rho = 0, sigma = 1;
    SmoothDistances(dist + i * k, k, &rho, &sigma);
    for (int32_t j = 0; j < k; ++j) {
      const int64_t t = labels[i * k + j];
      if (t < 0 || t == i) continue;
      const auto w = static_cast<float>(Membership(dist[i * k + j], rho, sigma));
      if (!(w > 0)) continue;
      const auto lo = static_cast<uint64_t>(std::min(i, t)),
                 hi = static_cast<uint64_t>(std::max(i, t));
      directed.push_back({(lo << 32) | hi, w, i < t});
    }
  }
  std::sort(directed.begin(), directed.end(), [](const Directed& x, const Directed& y) {
    return x.pair != y.pair ? x.pair < y.pair : x.from_low > y.from_low;
  });
  std::vector<std::pair<uint64_t, float>> edges;  // ((head << 32) | tail, w)
  edges.reserve(directed.size() * 2);
  for (size_t s = 0; s < directed.size();) {
    float forward = 0, backward = 0;
    size_t e = s;
    for (; e < directed.size() && directed[e].pair == directed[s].pair; ++e) {
      (directed[e].from_low ? forward : backward) = directed[e].w;
    }
    const float w = forward + backward - forward * backward;
    const uint64_t lo = directed[s].pair >> 32, hi = directed[s].pair & 0xFFFFFFFFULL;
    edges.emplace_back((lo << 32) | hi, w);
    edges.emplace_back((hi << 32) | lo, w);
    s = e;
  }
  std::sort(edges.begin(), edges.end());
  FuzzyGraph g;
  g.head.reserve(edges.size());
  g.tail.reserve(edges.size());
  g.weight.reserve(edges.size());
  for (const auto& [key, w] : edges) {
    g.head.push_back(static_cast<int32_t>(key >> 32));
    g.tail.push_back(static_cast<int32_t>(key & 0xFFFFFFFFULL));
    g.weight.push_back(w);
  }
  return g;
}

Result<MapResult> ComputeMap(const RowBlocks& rows, const MapOptions& o) {
  SEXTANT_RETURN_IF_ERROR(CheckOptions(o));
  auto t = Clock::now();
  const auto start = t;
  const std::clock_t cpu_start = std::clock();
  const int64_t n = rows.rows(), d = rows.dim();
  MapResult result;
  MapInfo& info = result.info;
  info.points = n;
  result.coords.assign(static_cast<size_t>(2 * n), 0.0f);
  if (n == 0) return result;
  if (n > std::numeric_limits<int32_t>::max()) {
    return Status::Invalid("map: at most 2^31 - 1 rows (got " + std::to_string(n) + ")");
  }

  Random seeds(o.seed);
  Random sample_rng(seeds.Next()), pca_rng(seeds.Next()), noise_rng(seeds.Next()),
      sgd_rng(seeds.Next());
  const std::vector<int64_t> layout =
      SampleSorted(n, o.max_points > 0 ? o.max_points : n, sample_rng);
  const auto n_layout = static_cast<int64_t>(layout.size());
  info.layout_points = n_layout;
  info.placed_points = n - n_layout;

  // 1. PCA of the unit rows, then the layout points in PCA space.
  const std::vector<int64_t> pca_sample = SampleSorted(n, o.pca_fit_points, pca_rng);
  const int64_t p = std::min(o.pca_dims, d);
  SEXTANT_ASSIGN_OR_RETURN(Pca pca, Pca::Fit(rows, pca_sample, p));
  info.pca_dims = p;
  info.pca_fit_points = static_cast<int64_t>(pca_sample.size());
  info.pca_explained_variance = pca.explained_variance_ratio();
  std::vector<float> reduced(static_cast<size_t>(n_layout * p));
  pca.Transform(rows, layout.data(), n_layout, reduced.data());
  info.seconds_pca = Lap(&t);

  // 2. The kNN graph in PCA space (Euclidean distance between unit rows, i.e.
  // cosine distance, up to the dropped components). UMAP itself only needs an
  // approximate graph (umap-learn uses NN-descent); the IVF's recall is measured.
  const auto k = static_cast<int32_t>(std::min<int64_t>(o.n_neighbors, n_layout));
  info.n_neighbors = k;
  const bool approximate = o.knn == NnSearch::kApproximate ||
                           (o.knn == NnSearch::kAuto && n_layout >= o.knn_auto_min_points);
  std::unique_ptr<L2Index> index;
  if (approximate) {
    IvfL2Options ivf;
    ivf.k = k;
    ivf.target_recall = o.knn_target_recall;
    ivf.seed = seeds.Next();
    SEXTANT_ASSIGN_OR_RETURN(index, L2Index::BuildIvf(reduced.data(), n_layout, p, ivf));
  } else {
    SEXTANT_ASSIGN_OR_RETURN(index, L2Index::Build(reduced.data(), n_layout, p));
  }
  info.knn_approximate = index->approximate();
  info.knn_nlist = index->nlist();
  info.knn_nprobe = index->nprobe();
  info.knn_recall_estimate = index->recall_estimate();
  std::vector<float> knn_dist(static_cast<size_t>(n_layout * k));
  std::vector<int64_t> knn_label(static_cast<size_t>(n_layout * k));
  SEXTANT_RETURN_IF_ERROR(
      index->Search(reduced.data(), n_layout, k, knn_dist.data(), knn_label.data()));
  // Drop each point itself (it may not come first among duplicates, or at
  // all when more than k duplicates exist: then the farthest goes).
  const int32_t kn = k - 1;
  std::vector<float> nb_dist(static_cast<size_t>(n_layout * kn));
  std::vector<int64_t> nb_label(static_cast<size_t>(n_layout * kn));
  for (int64_t i = 0; i < n_layout; ++i) {
    int32_t out = 0;
    for (int32_t j = 0; j < k && out < kn; ++j) {
      if (knn_label[i * k + j] == i) continue;
      nb_dist[i * kn + out] = knn_dist[i * k + j];
      nb_label[i * kn + out] = knn_label[i * k + j];
      ++out;
    }
  }
  knn_dist = {};
  knn_label = {};
  info.seconds_knn = Lap(&t);

  // 3. The fuzzy simplicial set; edges too weak to be sampled once are dropped.
  info.epochs = o.epochs > 0 ? o.epochs : AutoEpochs(n_layout);
  FuzzyGraph graph = BuildFuzzyGraph(nb_dist.data(), nb_label.data(), n_layout, kn);
  if (!graph.weight.empty()) {
    const float floor = *std::max_element(graph.weight.begin(), graph.weight.end()) / info.epochs;
    size_t kept = 0;
    for (size_t e = 0; e < graph.weight.size(); ++e) {
      if (graph.weight[e] < floor) continue;
      graph.head[kept] = graph.head[e];
      graph.tail[kept] = graph.tail[e];
      graph.weight[kept] = graph.weight[e];
      ++kept;
    }
    graph.head.resize(kept);
    graph.tail.resize(kept);
    graph.weight.resize(kept);
  }
  info.edges = static_cast<int64_t>(graph.head.size());
  const Curve curve = FitCurve(o.spread, o.min_dist);
  info.a = curve.a;
  info.b = curve.b;
  info.seconds_graph = Lap(&t);

  // 4. Initial layout: the first two principal components scaled to
  // [-10, 10], plus noise of 1e-4 to separate duplicates (umap-learn's "pca" init).
  std::vector<float> y(static_cast<size_t>(2 * n_layout), 0.0f);
  float max_abs = 0;
  for (int64_t i = 0; i < n_layout; ++i) {
    for (int64_t c = 0; c < std::min<int64_t>(2, p); ++c) {
      y[2 * i + c] = reduced[i * p + c];
      max_abs = std::max(max_abs, std::abs(y[2 * i + c]));
    }
  }
  const float scale = max_abs > 0 ? 10.0f / max_abs : 0.0f;
  if (n_layout > 1) {
    for (float& v : y) v = v * scale + static_cast<float>((noise_rng.Uniform() - 0.5) * 2e-4);
  }
  if (n_layout > 1)
    OptimizeLayout(y.data(), n_layout, graph, curve, info.epochs, o, sgd_rng.Next());
  graph = {};
  for (int64_t i = 0; i < n_layout; ++i) {
    result.coords[2 * layout[i]] = y[2 * i];
    result.coords[2 * layout[i] + 1] = y[2 * i + 1];
  }
  info.seconds_layout = Lap(&t);

  // 5. Points beyond max_points: the membership-weighted mean of their k
  // nearest layout points (PlaceRows, or the caller's distributed placement).
  // The model is handed back either way: a later finish places new rows with it.
  auto model = std::make_shared<PlacementModel>();
  model->pca = std::move(pca);
  model->index = std::move(index);
  model->layout = std::move(y);
  model->k = k;
  if (n_layout < n) {
    std::vector<int64_t> rest;
    rest.reserve(static_cast<size_t>(n - n_layout));
    for (int64_t i = 0, s = 0; i < n; ++i) {
      if (s < n_layout && layout[s] == i) {
        ++s;
      } else {
        rest.push_back(i);
      }
    }
    std::vector<float> placed(2 * rest.size());
    if (o.place) {
      SEXTANT_RETURN_IF_ERROR(o.place(*model, rest, placed.data()));
    } else {
      SEXTANT_RETURN_IF_ERROR(
          PlaceRows(*model, rows, rest, 0, static_cast<int64_t>(rest.size()), placed.data()));
    }
    for (size_t r = 0; r < rest.size(); ++r) {
      result.coords[2 * rest[r]] = placed[2 * r];
      result.coords[2 * rest[r] + 1] = placed[2 * r + 1];
    }
  }
  result.model = std::move(model);
  info.seconds_place = Lap(&t);
  info.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  info.cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  return result;
}

Status PlaceRows(const PlacementModel& model, const RowBlocks& rows,
                 const std::vector<int64_t>& rest, int64_t begin, int64_t end, float* out) {
  if (begin < 0 || begin > end || end > static_cast<int64_t>(rest.size())) {
    return Status::Invalid("map placement: positions [" + std::to_string(begin) + ", " +
                           std::to_string(end) + ") are not within the " +
                           std::to_string(rest.size()) + " rows to place");
  }
  if (model.index == nullptr || model.k < 1 || rows.dim() != model.pca.in_dims() ||
      model.index->dim() != model.pca.out_dims() ||
      static_cast<int64_t>(model.layout.size()) != 2 * model.index->size()) {
    return Status::Invalid("map placement: the model does not fit " + std::to_string(rows.dim()) +
                           "-wide rows (PCA of " + std::to_string(model.pca.in_dims()) +
                           " columns, index of " +
                           std::to_string(model.index ? model.index->size() : 0) +
                           " layout points, " + std::to_string(model.layout.size() / 2) +
                           " coordinates, k = " + std::to_string(model.k) + ")");
  }
  for (int64_t i = begin; i < end; ++i) {
    if (rest[i] < 0 || rest[i] >= rows.rows()) {
      return Status::Invalid("map placement: row " + std::to_string(rest[i]) + " is not in [0, " +
                             std::to_string(rows.rows()) + ")");
    }
  }
  const int64_t p = model.pca.out_dims();
  const int32_t k = model.k;
  const float* y = model.layout.data();
  const int64_t chunk = std::min(kPlaceChunk, end - begin);
  std::vector<float> q(static_cast<size_t>(chunk * p)), qd(static_cast<size_t>(chunk * k));
  std::vector<int64_t> ql(static_cast<size_t>(chunk * k));
  for (int64_t s = begin; s < end; s += kPlaceChunk) {
    const int64_t m = std::min(kPlaceChunk, end - s);
    model.pca.Transform(rows, rest.data() + s, m, q.data());
    SEXTANT_RETURN_IF_ERROR(model.index->Search(q.data(), m, k, qd.data(), ql.data()));
    for (int64_t r = 0; r < m; ++r) {
      float rho = 0, sigma = 1;
      SmoothDistances(qd.data() + r * k, k, &rho, &sigma);
      double sx = 0, sy = 0, sw = 0;
      for (int32_t j = 0; j < k; ++j) {
        const int64_t l = ql[r * k + j];
        if (l < 0) continue;
        const double w = Membership(qd[r * k + j], rho, sigma);
        sx += w * y[2 * l];
        sy += w * y[2 * l + 1];
        sw += w;
      }
      float* xy = out + 2 * (s - begin + r);
      xy[0] = sw > 0 ? static_cast<float>(sx / sw) : 0.0f;
      xy[1] = sw > 0 ? static_cast<float>(sy / sw) : 0.0f;
    }
  }
  return Status::OK();
}

namespace {

constexpr const char* kModelJson = "placement.json";
constexpr const char* kPcaMean = "pca_mean.npy";
constexpr const char* kPcaComponents = "pca_components.npy";
constexpr const char* kLayoutIndex = "layout_index.faiss";
constexpr const char* kLayoutCoords = "layout_coords.npy";

// An array file of the model with the shape `rows` x `cols`.
Result<std::vector<float>> ReadModelArray(const std::filesystem::path& path, int64_t rows,
                                          int64_t cols) {
  SEXTANT_ASSIGN_OR_RETURN(io::FloatMatrix m, io::ReadNpyAsFloat32(path));
  if (m.rows != rows || m.cols != cols) {
    return Status::Invalid("map placement model: '" + path.string() + "' holds " +
                           std::to_string(m.rows) + " x " + std::to_string(m.cols) +
                           " values; expected " + std::to_string(rows) + " x " +
                           std::to_string(cols));
  }
  return std::move(m.data);
}

}  // namespace

Result<std::vector<std::string>> WritePlacementModel(const PlacementModel& model,
                                                     const std::filesystem::path& folder) {
  if (model.index == nullptr) return Status::Invalid("map placement model: no index");
  SEXTANT_RETURN_IF_ERROR(CreateDirs(folder));
  const int64_t in = model.pca.in_dims(), out = model.pca.out_dims();
  SEXTANT_RETURN_IF_ERROR(io::WriteNpyFloat32(folder / kPcaMean, model.pca.mean().data(), 1, in));
  SEXTANT_RETURN_IF_ERROR(
      io::WriteNpyFloat32(folder / kPcaComponents, model.pca.components().data(), in, out));
  SEXTANT_RETURN_IF_ERROR(model.index->Write(folder / kLayoutIndex));
  SEXTANT_RETURN_IF_ERROR(io::WriteNpyFloat32(folder / kLayoutCoords, model.layout.data(),
                                              static_cast<int64_t>(model.layout.size() / 2), 2));
  const nlohmann::json meta = {{"format", 1},
                               {"k", model.k},
                               {"pca_in_dims", in},
                               {"pca_out_dims", out},
                               {"pca_explained_variance", model.pca.explained_variance_ratio()},
                               {"layout_points", model.index->size()},
                               {"knn_recall_estimate", model.index->recall_estimate()}};
  SEXTANT_RETURN_IF_ERROR(WriteFileAtomic(folder / kModelJson, meta.dump(2)));
  return std::vector<std::string>{kPcaMean, kPcaComponents, kLayoutIndex, kLayoutCoords,
                                  kModelJson};
}

Result<PlacementModel> ReadPlacementModel(const std::filesystem::path& folder) {
  const std::filesystem::path json_path = folder / kModelJson;
  SEXTANT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(json_path));
  const nlohmann::json meta = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto field = [&](const char* name) -> Result<int64_t> {
    if (!meta.is_object() || !meta.contains(name) || !meta[name].is_number_integer()) {
      return Status::Invalid("map placement model: '" + json_path.string() + "': field '" + name +
                             "' must be an integer");
    }
    return meta[name].get<int64_t>();
  };
  auto number = [&](const char* name) -> Result<double> {
    if (!meta.is_object() || !meta.contains(name) || !meta[name].is_number()) {
      return Status::Invalid("map placement model: '" + json_path.string() + "': field '" + name +
                             "' must be a number");
    }
    return meta[name].get<double>();
  };
  SEXTANT_ASSIGN_OR_RETURN(int64_t format, field("format"));
  if (format != 1) {
    return Status::Invalid("map placement model: '" + json_path.string() + "': format " +
                           std::to_string(format) + "; expected 1");
  }
  SEXTANT_ASSIGN_OR_RETURN(int64_t k, field("k"));
  SEXTANT_ASSIGN_OR_RETURN(int64_t in, field("pca_in_dims"));
  SEXTANT_ASSIGN_OR_RETURN(int64_t out, field("pca_out_dims"));
  SEXTANT_ASSIGN_OR_RETURN(int64_t points, field("layout_points"));
  SEXTANT_ASSIGN_OR_RETURN(double explained, number("pca_explained_variance"));
  SEXTANT_ASSIGN_OR_RETURN(double recall, number("knn_recall_estimate"));
  if (in < 1 || in > 46340 || out < 1 || out > in || points < 1 || k < 1 || k > points ||
      k > std::numeric_limits<int32_t>::max()) {
    return Status::Invalid(
        "map placement model: '" + json_path.string() + "': k = " + std::to_string(k) + ", " +
        std::to_string(points) + " layout points, PCA of " + std::to_string(in) + " to " +
        std::to_string(out) + " dimensions; expected 1 <= k <= points, 1 <= out <= in <= 46340");
  }
  PlacementModel model;
  model.k = static_cast<int32_t>(k);
  SEXTANT_ASSIGN_OR_RETURN(std::vector<float> mean, ReadModelArray(folder / kPcaMean, 1, in));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<float> components,
                           ReadModelArray(folder / kPcaComponents, in, out));
  SEXTANT_ASSIGN_OR_RETURN(
      model.pca, Pca::FromParts(in, out, explained, std::move(mean), std::move(components)));
  SEXTANT_ASSIGN_OR_RETURN(model.layout, ReadModelArray(folder / kLayoutCoords, points, 2));
  SEXTANT_ASSIGN_OR_RETURN(model.index, L2Index::Read(folder / kLayoutIndex, recall));
  if (model.index->size() != points || model.index->dim() != out) {
    return Status::Invalid("map placement model: '" + (folder / kLayoutIndex).string() +
                           "' holds " + std::to_string(model.index->size()) + " rows of width " +
                           std::to_string(model.index->dim()) + "; expected " +
                           std::to_string(points) + " of width " + std::to_string(out));
  }
  return model;
}

Result<std::vector<float>> Umap2D(const float* embeddings, int64_t n, int64_t d,
                                  const MapOptions& options) {
  if (d <= 0) return Status::Invalid("map: embedding width must be positive");
  if (n < 0) return Status::Invalid("map: negative row count");
  RowBlocks rows(d);
  rows.Add(embeddings, n);
  SEXTANT_ASSIGN_OR_RETURN(MapResult r, ComputeMap(rows, options));
  return std::move(r.coords);
}

}  // namespace sextant::map
