#include "map/knn.h"

#include <cblas.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/random.h"

namespace sextant::map {
namespace {

using Vec8 = float __attribute__((vector_size(32)));

// Squared Euclidean distance, summed in eight lanes in a fixed order: the
// same inputs give the same bits whichever query, chunk or thread asks.
// Faiss' fvec_L2sqr is scalar in Debian's generic build (it vectorises only
// with __SSE3__/__AVX2__ at compile time), which made the IVF scan the map's
// slowest step; this one is compiled twice and picked once by CPU.
#define SEXTANT_L2SQR_BODY                                  \
  Vec8 acc = {0, 0, 0, 0, 0, 0, 0, 0};                      \
  int64_t j = 0;                                            \
  for (; j + 8 <= d; j += 8) {                              \
    Vec8 va, vb;                                            \
    std::memcpy(&va, a + j, sizeof va);                     \
    std::memcpy(&vb, b + j, sizeof vb);                     \
    const Vec8 t = va - vb;                                 \
    acc += t * t;                                           \
  }                                                         \
  float tail = 0;                                           \
  for (; j < d; ++j) tail += (a[j] - b[j]) * (a[j] - b[j]); \
  return (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))) + tail;

float L2SqrDefault(const float* a, const float* b, int64_t d) { SEXTANT_L2SQR_BODY }
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) float L2SqrAvx2(const float* a, const float* b, int64_t d) {
  SEXTANT_L2SQR_BODY
}
#endif
#undef SEXTANT_L2SQR_BODY

using L2SqrFn = float (*)(const float*, const float*, int64_t);
L2SqrFn PickL2Sqr() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return L2SqrAvx2;
#endif
  return L2SqrDefault;
}
const L2SqrFn L2Sqr = PickL2Sqr();

// Keeps the k smallest (distance, id) pairs, ascending; ties by id, so the
// result does not depend on the order candidates arrive in.
struct TopK {
  int32_t k = 0, size = 0;
  float* d = nullptr;
  int64_t* id = nullptr;
  bool Less(float da, int64_t ia, float db, int64_t ib) const {
    return da < db || (da == db && ia < ib);
  }
  void Push(float dist, int64_t i) {
    if (size == k && !Less(dist, i, d[k - 1], id[k - 1])) return;
    int32_t pos = size < k ? size++ : k - 1;
    while (pos > 0 && Less(dist, i, d[pos - 1], id[pos - 1])) {
      d[pos] = d[pos - 1];
      id[pos] = id[pos - 1];
      --pos;
    }
    d[pos] = dist;
    id[pos] = i;
  }
};

// The k nearest of each query in an IVF-Flat index probing its `nprobe`
// nearest cells, as IndexIVFFlat::search does, but scanning with L2Sqr, in
// parallel over queries (each query's scan is its own: thread-count
// independent). The cells are ranked by |c|^2 - 2 q.c from one sgemm per
// 16384 queries (the ranking's cost is nlist x d per query, more than the
// scan's); so a query's answer depends on the queries searched with it only
// through that sgemm's rounding, and blocks of the same queries give the same
// bits. Squared distances; missing entries are (+inf, -1).
void IvfSearch(const faiss::IndexIVFFlat& ivf, int64_t nprobe, const float* queries, int64_t nq,
               int32_t k, float* dist, int64_t* labels) {
  const int64_t d = ivf.d, nlist = static_cast<int64_t>(ivf.nlist);
  const auto* quantizer = dynamic_cast<const faiss::IndexFlatL2*>(ivf.quantizer);
  const float* centroids = quantizer->get_xb();
  const faiss::InvertedLists* lists = ivf.invlists;
  nprobe = std::clamp<int64_t>(nprobe, 1, nlist);
  std::vector<float> norms(static_cast<size_t>(nlist));
  for (int64_t c = 0; c < nlist; ++c) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j)
      s += static_cast<double>(centroids[c * d + j]) * centroids[c * d + j];
    norms[c] = static_cast<float>(s);
  }
  constexpr int64_t kCoarseBlock = 16384;
  std::vector<float> dots(static_cast<size_t>(std::min(kCoarseBlock, nq) * nlist));
  for (int64_t start = 0; start < nq; start += kCoarseBlock) {
    const int64_t m = std::min(kCoarseBlock, nq - start);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m),
                static_cast<int>(nlist), static_cast<int>(d), 1.0f, queries + start * d,
                static_cast<int>(d), centroids, static_cast<int>(d), 0.0f, dots.data(),
                static_cast<int>(nlist));
#pragma omp parallel if (m * nlist >= 100000)
    {
      std::vector<float> cd(static_cast<size_t>(nlist));
      std::vector<int64_t> probe(static_cast<size_t>(nlist));
#pragma omp for schedule(dynamic, 64)
      for (int64_t r = 0; r < m; ++r) {
        const int64_t q = start + r;
        const float* x = queries + q * d;
        for (int64_t c = 0; c < nlist; ++c) cd[c] = norms[c] - 2.0f * dots[r * nlist + c];
        std::iota(probe.begin(), probe.end(), 0);
        std::partial_sort(
            probe.begin(), probe.begin() + nprobe, probe.end(),
            [&](int64_t a, int64_t b) { return cd[a] < cd[b] || (cd[a] == cd[b] && a < b); });
        TopK top{k, 0, dist + q * k, labels + q * k};
        for (int64_t p = 0; p < nprobe; ++p) {
          const auto c = static_cast<size_t>(probe[p]);
          const size_t size = lists->list_size(c);
          faiss::InvertedLists::ScopedCodes scoped_codes(lists, c);
          faiss::InvertedLists::ScopedIds scoped_ids(lists, c);
          const auto* codes = reinterpret_cast<const float*>(scoped_codes.get());
          const faiss::Index::idx_t* ids = scoped_ids.get();
          for (size_t i = 0; i < size; ++i) top.Push(L2Sqr(x, codes + i * d, d), ids[i]);
        }
        for (int32_t j = top.size; j < k; ++j) {
          top.d[j] = std::numeric_limits<float>::infinity();
          top.id[j] = -1;
        }
      }
    }
  }
}

}  // namespace

Result<std::unique_ptr<L2Index>> L2Index::Build(const float* data, int64_t rows, int64_t dim) {
  if (dim <= 0) return Status::Invalid("map: vector width must be positive");
  std::unique_ptr<L2Index> out(new L2Index());
  try {
    out->index_ = std::make_unique<faiss::IndexFlatL2>(dim);
    out->index_->add(rows, data);
  } catch (const faiss::FaissException& e) {
    return Status::Internal(std::string("faiss: ") + e.what());
  }
  out->rows_ = rows;
  out->dim_ = dim;
  return out;
}

Result<std::unique_ptr<L2Index>> L2Index::BuildIvf(const float* data, int64_t rows, int64_t dim,
                                                   const IvfL2Options& o) {
  if (dim <= 0) return Status::Invalid("map: vector width must be positive");
  if (o.k <= 0) return Status::Invalid("map: k must be at least 1");
  int64_t nlist =
      o.nlist > 0 ? o.nlist : static_cast<int64_t>(2.0 * std::sqrt(static_cast<double>(rows)));
  // Faiss' k-means wants >= 39 training points per centroid to be useful.
  nlist = std::clamp<int64_t>(nlist, 1, std::max<int64_t>(1, rows / 39));
  std::unique_ptr<L2Index> out(new L2Index());
  out->rows_ = rows;
  out->dim_ = dim;
  out->nlist_ = nlist;
  Random rng(o.seed);
  try {
    auto ivf = std::make_unique<faiss::IndexIVFFlat>(new faiss::IndexFlatL2(dim), dim, nlist,
                                                     faiss::METRIC_L2);
    ivf->own_fields = true;
    ivf->cp.seed = static_cast<int>(rng.Next() & 0x7FFFFFFF);
    ivf->cp.niter = o.train_iterations;
    // k-means on a seeded sample: its cost is points x nlist x iterations,
    // and the cells only steer the search (nprobe is tuned on recall below).
    const int64_t train_rows = std::min(rows, std::max<int64_t>(40, o.train_per_list) * nlist);
    ivf->cp.max_points_per_centroid = static_cast<int>(std::max<int64_t>(40, o.train_per_list));
    if (train_rows < rows) {
      std::vector<float> train(static_cast<size_t>(train_rows * dim));
      // Selection sampling: sorted rows, uniform.
      for (int64_t i = 0, taken = 0; i < rows && taken < train_rows; ++i) {
        if (rng.Uniform() * static_cast<double>(rows - i) <
            static_cast<double>(train_rows - taken)) {
          std::copy_n(data + i * dim, dim, train.begin() + taken * dim);
          ++taken;
        }
      }
      ivf->train(train_rows, train.data());
    } else {
      ivf->train(rows, data);
    }
    ivf->add(rows, data);

    // Tune nprobe on a seeded sample of the rows against an exact search.
    const int64_t nq = std::min(rows, o.tune_queries);
    const int32_t k = static_cast<int32_t>(std::min<int64_t>(o.k, rows));
    std::vector<float> queries(static_cast<size_t>(nq * dim));
    for (int64_t q = 0; q < nq; ++q) {
      const int64_t row = static_cast<int64_t>(rng.Below(static_cast<uint32_t>(rows)));
      std::copy_n(data + row * dim, dim, queries.begin() + q * dim);
    }
    std::vector<float> d_exact(static_cast<size_t>(nq * k)), d_ivf(d_exact.size());
    std::vector<faiss::Index::idx_t> l_exact(d_exact.size()), l_ivf(d_exact.size());
    {
      faiss::IndexFlatL2 flat(dim);
      flat.add(rows, data);
      flat.search(nq, queries.data(), k, d_exact.data(), l_exact.data());
    }
    out->nprobe_ = static_cast<int32_t>(nlist);
    out->recall_estimate_ = 1.0;
    for (int64_t probe = 1; probe < nlist; probe = probe < 4 ? probe + 1 : probe * 3 / 2) {
      IvfSearch(*ivf, probe, queries.data(), nq, k, d_ivf.data(), l_ivf.data());
      int64_t found = 0;
      for (int64_t q = 0; q < nq; ++q) {
        const auto* e = l_exact.data() + q * k;
        for (int32_t j = 0; j < k; ++j) {
          const auto* a = l_ivf.data() + q * k;
          if (e[j] >= 0 && std::find(a, a + k, e[j]) != a + k) ++found;
        }
      }
      const double recall =
          nq * k > 0 ? static_cast<double>(found) / static_cast<double>(nq * k) : 1;
      if (recall >= o.target_recall) {
        out->nprobe_ = static_cast<int32_t>(probe);
        out->recall_estimate_ = recall;
        break;
      }
    }
    ivf->nprobe = static_cast<size_t>(out->nprobe_);
    out->index_ = std::move(ivf);
  } catch (const faiss::FaissException& e) {
    return Status::Internal(std::string("faiss: ") + e.what());
  }
  return out;
}

L2Index::~L2Index() = default;

Status L2Index::Write(const std::filesystem::path& path) const {
  return WriteAtomicWith(path, [&](const std::filesystem::path& tmp) -> Status {
    try {
      faiss::write_index(index_.get(), tmp.c_str());
    } catch (const faiss::FaissException& e) {
      return Status::IOError("map index: cannot write '" + path.string() + "': " + e.what());
    }
    return Status::OK();
  });
}

Result<std::unique_ptr<L2Index>> L2Index::Read(const std::filesystem::path& path,
                                               double recall_estimate) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound("map index: no file '" + path.string() + "'");
  }
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(path.c_str()));
  } catch (const faiss::FaissException& e) {
    return Status::Invalid("map index: '" + path.string() +
                           "' is not a readable Faiss index: " + e.what());
  }
  if (index->metric_type != faiss::METRIC_L2 || index->d <= 0) {
    return Status::Invalid("map index: '" + path.string() + "' is not an L2 index");
  }
  std::unique_ptr<L2Index> out(new L2Index());
  out->rows_ = index->ntotal;
  out->dim_ = index->d;
  if (auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(index.get())) {
    if (dynamic_cast<const faiss::IndexFlatL2*>(ivf->quantizer) == nullptr || ivf->nprobe < 1) {
      return Status::Invalid("map index: '" + path.string() +
                             "' is an IVF index without a flat L2 quantizer or nprobe");
    }
    out->nlist_ = static_cast<int64_t>(ivf->nlist);
    out->nprobe_ = static_cast<int32_t>(ivf->nprobe);
    out->recall_estimate_ = recall_estimate;
  } else if (dynamic_cast<faiss::IndexFlatL2*>(index.get()) == nullptr) {
    return Status::Invalid("map index: '" + path.string() +
                           "' is neither a flat nor an IVF-Flat L2 index");
  }
  out->index_ = std::move(index);
  return out;
}

Status L2Index::Search(const float* queries, int64_t num_queries, int32_t k, float* distances,
                       int64_t* labels) const {
  if (k <= 0) return Status::Invalid("k: must be at least 1");
  constexpr int64_t kBlock = 16384;
  std::vector<faiss::Index::idx_t> ids;
  std::vector<int32_t> order(static_cast<size_t>(k));
  std::vector<float> d_tmp(static_cast<size_t>(k));
  std::vector<int64_t> l_tmp(static_cast<size_t>(k));
  try {
    for (int64_t start = 0; start < num_queries; start += kBlock) {
      const int64_t n = std::min(kBlock, num_queries - start);
      ids.resize(static_cast<size_t>(n * k));
      float* dist = distances + start * k;
      if (const auto* ivf = dynamic_cast<const faiss::IndexIVFFlat*>(index_.get())) {
        IvfSearch(*ivf, static_cast<int64_t>(ivf->nprobe), queries + start * dim_, n, k, dist,
                  ids.data());
      } else {
        index_->search(n, queries + start * dim_, k, dist, ids.data());
      }
      for (int64_t q = 0; q < n; ++q) {
        float* dq = dist + q * k;
        const faiss::Index::idx_t* iq = ids.data() + q * k;
        for (int32_t j = 0; j < k; ++j) {
          l_tmp[j] = iq[j];
          // Faiss gives squared distances; rounding can make them slightly negative.
          d_tmp[j] =
              iq[j] < 0 ? std::numeric_limits<float>::infinity() : std::sqrt(std::max(0.0f, dq[j]));
        }
        // Equal distances come back in an order that depends on Faiss' blocking; fix it.
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
          if (d_tmp[a] != d_tmp[b]) return d_tmp[a] < d_tmp[b];
          const auto la = static_cast<uint64_t>(l_tmp[a]), lb = static_cast<uint64_t>(l_tmp[b]);
          return la < lb;  // -1 (missing) sorts last
        });
        int64_t* lq = labels + (start + q) * k;
        for (int32_t j = 0; j < k; ++j) {
          dq[j] = d_tmp[order[j]];
          lq[j] = l_tmp[order[j]];
        }
      }
    }
  } catch (const faiss::FaissException& e) {
    return Status::Internal(std::string("faiss: ") + e.what());
  }
  return Status::OK();
}

}  // namespace sextant::map
