#include "index/cosine_index.h"

#include <dlfcn.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/Heap.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <limits>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "common/file_util.h"
#include "index/search_cost.h"

// BLAS (Fortran interface, as Faiss calls it; Faiss' CMake target links the library).
extern "C" {
int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
           const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
           const float* beta, float* c, const int* ldc);
}

namespace sextant::index {
namespace {

using Clock = std::chrono::steady_clock;
using MinHeap = faiss::CMin<float, int64_t>;  // a heap that keeps the k largest similarities

Status FromFaiss(const faiss::FaissException& e) {
  return Status::Internal(std::string("faiss: ") + e.what());
}

// Dot product of two d-vectors. This file is built for baseline x86-64;
// target_clones picks the widest vector unit of the CPU at load time. 32
// partial sums: independent chains for the FMA units.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
float Dot(const float* a, const float* b, int64_t d) {
  float part[32] = {};
  int64_t j = 0;
  for (; j + 32 <= d; j += 32) {
#pragma omp simd
    for (int t = 0; t < 32; ++t) part[t] += a[j + t] * b[j + t];
  }
  float s = 0;
  for (int t = 0; t < 32; ++t) s += part[t];
  for (; j < d; ++j) s += a[j] * b[j];
  return s;
}

// scores (m x n, row-major) = a (m x d, row-major) . b (n x d, row-major)^T.
// One query (m = 1) is scanned on the calling thread: BLAS would split even
// small products across its threads, and a single query's latency would then
// wait on a busy core.
void MatMulAbt(const float* a, int64_t m, const float* b, int64_t n, int64_t d, float* scores) {
  if (m == 1) {
    for (int64_t j = 0; j < n; ++j) scores[j] = Dot(a, b + j * d, d);
    return;
  }
  const float one = 1, zero = 0;
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), di = static_cast<int>(d);
  sgemm_("T", "N", &ni, &mi, &di, &one, b, &di, a, &di, &zero, scores, &ni);
}

// A seeded uniform sample of min(n, rows) distinct rows of [0, rows),
// ascending (Knuth's selection sampling: one pass, O(n) memory).
std::vector<int64_t> SampleRows(int64_t rows, int64_t n, uint64_t seed) {
  std::vector<int64_t> out;
  n = std::min(n, rows);
  out.reserve(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < rows && static_cast<int64_t>(out.size()) < n; ++i) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    if (static_cast<double>(rows - i) * u <
        static_cast<double>(n - static_cast<int64_t>(out.size()))) {
      out.push_back(i);
    }
  }
  return out;
}

inline void HeapPushIfBetter(int32_t k, float* vals, int64_t* ids, float v, int64_t id) {
  if (v > vals[0]) faiss::heap_replace_top<MinHeap>(k, vals, ids, v, id);
}

constexpr int64_t kQueryBlock = 65536;      // queries searched together at most
constexpr int64_t kSlotBudget = 1 << 22;    // (query, cell) top-k entries per block (48 MiB)
constexpr int64_t kCoarseFloats = 1 << 22;  // query-by-centroid scores per coarse step (16 MiB)
constexpr int64_t kGatherRows = 1024;       // queries per matrix product
constexpr int64_t kCellColumns = 4096;      // cell rows per matrix product
constexpr int64_t kHierarchicalFrom = 512;  // cells from which k-means is two-level

// Cells of an IVF: unit centroids and, per cell, its rows (contiguous unit
// vectors) and their ids.
struct Cells {
  int64_t nlist = 0, dim = 0;
  const float* centroids = nullptr;  // nlist x dim
  std::vector<const float*> rows;
  std::vector<const int64_t*> ids;
  std::vector<int64_t> size;

  // The `p` best cells of each of the `n` queries.
  void Coarse(const float* q, int64_t n, int32_t p, int32_t* cells) const;
};

// OpenBLAS' thread count, looked up at run time (Faiss' BLAS may be another library).
struct BlasThreads {
  int (*get)() = nullptr;
  void (*set)(int) = nullptr;
  BlasThreads() {
    Lookup(RTLD_DEFAULT);
    // Inside a Python extension the BLAS is loaded RTLD_LOCAL, out of
    // RTLD_DEFAULT's reach: look in the library that holds sgemm_ itself.
    Dl_info info;
    if (get == nullptr && dladdr(reinterpret_cast<void*>(&sgemm_), &info) != 0 &&
        info.dli_fname != nullptr) {
      if (void* lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) Lookup(lib);  // kept open
    }
  }
  char* (*core)() = nullptr;
  void Lookup(void* where) {
    get = reinterpret_cast<int (*)()>(dlsym(where, "openblas_get_num_threads"));
    set = reinterpret_cast<void (*)(int)>(dlsym(where, "openblas_set_num_threads"));
    core = reinterpret_cast<char* (*)()>(dlsym(where, "openblas_get_corename"));
    if (get == nullptr || set == nullptr) get = nullptr, set = nullptr, core = nullptr;
  }
};
const BlasThreads& Blas() {
  static const BlasThreads blas;
  return blas;
}

// While alive, OpenBLAS runs each call on the calling thread only, so that
// many mid-sized matrix products run side by side on OpenMP threads instead of
// each being split across threads (whose wake-ups and spin-waits cost more
// than they save at these sizes). The setting is process-wide: one such
// section at a time, and the previous value is restored.
class OneThreadBlas {
 public:
  OneThreadBlas() : lock_(Mutex()) {
    before_ = Blas().get();
    Blas().set(1);
  }
  ~OneThreadBlas() { Blas().set(before_); }

 private:
  static std::mutex& Mutex() {
    static std::mutex mu;
    return mu;
  }
  std::lock_guard<std::mutex> lock_;
  int before_ = 1;
};

// Whether `work` independent units are worth a parallel section of
// single-threaded BLAS calls.
bool UseParallel(int64_t work, int64_t min_work) {
  return omp_get_max_threads() > 1 && work >= min_work && Blas().set != nullptr &&
         !omp_in_parallel();
}

// Runs `chunk(first, count)` over [0, n): in parallel chunks with
// single-threaded BLAS when n is large enough, else in one call.
template <typename Fn>
void ParallelChunks(int64_t n, int64_t min_chunk, Fn&& chunk) {
  if (!UseParallel(n, 2 * min_chunk)) {
    chunk(int64_t{0}, n);
    return;
  }
  OneThreadBlas one;
  const int64_t pieces = std::min<int64_t>(2 * omp_get_max_threads(), n / min_chunk);
  const int64_t step = (n + pieces - 1) / pieces;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < pieces; ++c) {
    const int64_t first = c * step;
    if (first < n) chunk(first, std::min(step, n - first));
  }
}

// The index of the best-scoring row of `b` (n x dim) for each row of `a` (m
// x dim). Fixed chunks of rows, each one matrix product, on OpenMP threads
// when there are several: a row's answer depends on its chunk only, so on
// neither the thread count nor OpenBLAS's (a finish runs OpenBLAS on one
// thread, where one product over every row would use one core of two).
std::vector<int32_t> Nearest(const float* a, int64_t m, const float* b, int64_t n, int64_t dim) {
  std::vector<int32_t> out(static_cast<size_t>(m));
  const int64_t step = std::clamp<int64_t>(kCoarseFloats / std::max<int64_t>(n, 1), 1, 1024);
  const int64_t chunks = (m + step - 1) / step;
  auto run = [&](int64_t c, std::vector<float>& scores) {
    const int64_t s = c * step, r = std::min(step, m - s);
    scores.resize(static_cast<size_t>(r * n));
    MatMulAbt(a + s * dim, r, b, n, dim, scores.data());
    for (int64_t i = 0; i < r; ++i) {
      const float* row = scores.data() + i * n;
      out[s + i] = static_cast<int32_t>(std::max_element(row, row + n) - row);
    }
  };
  if (chunks > 1 && UseParallel(m * n * dim, 1 << 24)) {
    OneThreadBlas one;
#pragma omp parallel
    {
      std::vector<float> scores;
#pragma omp for schedule(dynamic, 1)
      for (int64_t c = 0; c < chunks; ++c) run(c, scores);
    }
  } else {
    std::vector<float> scores;
    for (int64_t c = 0; c < chunks; ++c) run(c, scores);
  }
  return out;
}

// Spherical k-means (Lloyd's iterations; centroids kept at unit length) of n
// unit rows into k centroids: seeded with k distinct rows, an emptied cell is
// re-seeded with a random row. Assignment is one matrix product per iteration.
// (Faiss' Clustering does the same, but its per-call threading overhead
// dominates on the many small sets of the hierarchical training.)
std::vector<float> KMeans(const float* x, int64_t n, int64_t dim, int64_t k, int32_t iterations,
                          uint64_t seed) {
  if (k >= n) return std::vector<float>(x, x + n * dim);  // every row its own centroid
  std::mt19937_64 rng(seed);
  std::vector<float> c(static_cast<size_t>(k * dim));
  {
    std::vector<int64_t> pick = SampleRows(n, k, seed);
    std::shuffle(pick.begin(), pick.end(), rng);
    for (int64_t j = 0; j < k; ++j) {
      std::memcpy(c.data() + j * dim, x + pick[j] * dim, sizeof(float) * dim);
    }
  }
  std::vector<double> sum(static_cast<size_t>(k * dim));
  std::vector<int64_t> count(static_cast<size_t>(k));
  for (int32_t it = 0; it < std::max(1, iterations); ++it) {
    const std::vector<int32_t> of = Nearest(x, n, c.data(), k, dim);
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      double* s = sum.data() + of[i] * dim;
      const float* r = x + i * dim;
      for (int64_t j = 0; j < dim; ++j) s[j] += r[j];
      count[of[i]]++;
    }
    std::uniform_int_distribution<int64_t> any(0, n - 1);
    for (int64_t j = 0; j < k; ++j) {
      float* cj = c.data() + j * dim;
      if (count[j] == 0) {
        std::memcpy(cj, x + any(rng) * dim, sizeof(float) * dim);
        continue;
      }
      double norm = 0;
      for (int64_t t = 0; t < dim; ++t) norm += sum[j * dim + t] * sum[j * dim + t];
      const double inv = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
      for (int64_t t = 0; t < dim; ++t) cj[t] = static_cast<float>(sum[j * dim + t] * inv);
    }
  }
  return c;
}

// The k rows of highest inner product with each query among the rows of the
// `nprobe` best cells (and with allowed[row] != 0 when `allowed` is given):
// sims and labels (n x k) nearest first, -1 labels where fewer were found.
//
// Queries are grouped by cell, so each cell is one matrix product with all the
// queries of a block that visit it (the cell's rows are read once per block).
// Each (query, visited cell) pair keeps its own top k, so cells are processed
// in parallel without sharing a heap; a query's pairs are merged at the end.
void Scan(const Cells& cells, const float* queries, int64_t num_queries, int32_t k, int32_t nprobe,
          const uint8_t* allowed, float* sims, int64_t* labels) {
  const int32_t p = static_cast<int32_t>(std::clamp<int64_t>(nprobe, 1, cells.nlist));
  const int64_t d = cells.dim;
  const int64_t block = std::clamp<int64_t>(kSlotBudget / (int64_t{p} * k), 1, kQueryBlock);
  std::vector<int32_t> probe;
  std::vector<int64_t> start, members, slot_i;
  std::vector<float> slot_v;
  for (int64_t b0 = 0; b0 < num_queries; b0 += block) {
    const int64_t nb = std::min(block, num_queries - b0);
    const float* q = queries + b0 * d;

    probe.resize(static_cast<size_t>(nb * p));
    ParallelChunks(nb, 1024, [&](int64_t first, int64_t count) {
      cells.Coarse(q + first * d, count, p, probe.data() + first * p);
    });
    // Which (query, probe) slots visit which cell: a counting sort.
    start.assign(static_cast<size_t>(cells.nlist + 1), 0);
    for (int32_t c : probe) {
      if (c >= 0) start[c + 1]++;
    }
    for (int64_t l = 0; l < cells.nlist; ++l) start[l + 1] += start[l];
    members.resize(static_cast<size_t>(start[cells.nlist]));
    {
      std::vector<int64_t> at(start.begin(), start.end() - 1);
      for (int64_t slot = 0; slot < nb * p; ++slot) {
        if (probe[slot] >= 0) members[at[probe[slot]]++] = slot;
      }
    }
    slot_v.assign(static_cast<size_t>(nb * p * k), MinHeap::neutral());
    slot_i.assign(slot_v.size(), -1);

    auto cell = [&](int64_t l, std::vector<float>& gathered, std::vector<float>& scores) {
      const int64_t size = cells.size[l];
      if (size == 0 || start[l] == start[l + 1]) return;
      const float* rows = cells.rows[l];
      const int64_t* ids = cells.ids[l];
      for (int64_t g = start[l]; g < start[l + 1]; g += kGatherRows) {
        const int64_t m = std::min(kGatherRows, start[l + 1] - g);
        const float* a;
        if (m == 1) {
          a = q + (members[g] / p) * d;
        } else {
          gathered.resize(static_cast<size_t>(m * d));
          for (int64_t i = 0; i < m; ++i) {
            std::memcpy(gathered.data() + i * d, q + (members[g + i] / p) * d, sizeof(float) * d);
          }
          a = gathered.data();
        }
        for (int64_t c0 = 0; c0 < size; c0 += kCellColumns) {
          const int64_t n = std::min(kCellColumns, size - c0);
          scores.resize(static_cast<size_t>(m * n));
          MatMulAbt(a, m, rows + c0 * d, n, d, scores.data());
          for (int64_t i = 0; i < m; ++i) {
            float* v = slot_v.data() + members[g + i] * k;
            int64_t* id = slot_i.data() + members[g + i] * k;
            const float* s = scores.data() + i * n;
            for (int64_t j = 0; j < n; ++j) {
              if (s[j] > v[0]) {
                const int64_t row = ids[c0 + j];
                if (allowed == nullptr || allowed[row]) {
                  faiss::heap_replace_top<MinHeap>(k, v, id, s[j], row);
                }
              }
            }
          }
        }
      }
    };
    if (UseParallel(start[cells.nlist], 4096)) {
      OneThreadBlas one;
#pragma omp parallel
      {
        std::vector<float> gathered, scores;
#pragma omp for schedule(dynamic, 1)
        for (int64_t l = 0; l < cells.nlist; ++l) cell(l, gathered, scores);
      }
    } else {
      std::vector<float> gathered, scores;
      for (int64_t l = 0; l < cells.nlist; ++l) cell(l, gathered, scores);
    }

    // Each query's k best of its p * k candidates.
#pragma omp parallel for schedule(static) if (nb * p * k >= 65536)
    for (int64_t i = 0; i < nb; ++i) {
      float* v = sims + (b0 + i) * k;
      int64_t* id = labels + (b0 + i) * k;
      faiss::heap_heapify<MinHeap>(k, v, id);
      const float* cv = slot_v.data() + i * p * k;
      const int64_t* ci = slot_i.data() + i * p * k;
      for (int64_t j = 0; j < int64_t{p} * k; ++j) {
        if (ci[j] >= 0) HeapPushIfBetter(k, v, id, cv[j], ci[j]);
      }
      faiss::heap_reorder<MinHeap>(k, v, id);
    }
  }
}

void Cells::Coarse(const float* q, int64_t n, int32_t p, int32_t* cells) const {
  if (nlist == 1) {
    std::fill(cells, cells + n * p, 0);
    return;
  }
  const int64_t step = std::max<int64_t>(1, kCoarseFloats / nlist);
  std::vector<float> scores(static_cast<size_t>(std::min(step, n) * nlist));
  std::vector<float> hv(static_cast<size_t>(p) * std::min(step, n));
  std::vector<int64_t> hi(hv.size());
  for (int64_t s = 0; s < n; s += step) {
    const int64_t m = std::min(step, n - s);
    MatMulAbt(q + s * dim, m, centroids, nlist, dim, scores.data());
#pragma omp parallel for schedule(static) if (m * nlist > 65536)
    for (int64_t i = 0; i < m; ++i) {
      float* v = hv.data() + i * p;
      int64_t* id = hi.data() + i * p;
      faiss::heap_heapify<MinHeap>(p, v, id);
      const float* row = scores.data() + i * nlist;
      for (int64_t l = 0; l < nlist; ++l) HeapPushIfBetter(p, v, id, row[l], l);
      for (int32_t j = 0; j < p; ++j) cells[(s + i) * p + j] = static_cast<int32_t>(id[j]);
    }
  }
}

// Centroids for `nlist` cells from a sample. From kHierarchicalFrom cells on,
// hierarchical: sqrt(nlist) groups first, then each group's points into its
// share of the cells, so training costs about 2 sqrt(nlist) inner products per
// point and iteration instead of nlist. Returns the centroids (the count can
// differ slightly from nlist by rounding).
std::vector<float> TrainCentroids(const float* x, int64_t n, int64_t dim, int64_t nlist,
                                  int32_t iterations, uint64_t seed) {
  if (nlist < kHierarchicalFrom) return KMeans(x, n, dim, nlist, iterations, seed);
  const auto g = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(nlist))));
  const std::vector<float> top = KMeans(x, n, dim, g, iterations, seed);
  const std::vector<int32_t> of = Nearest(x, n, top.data(), g, dim);
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(g));
  for (int64_t i = 0; i < n; ++i) members[of[i]].push_back(i);
  // Each group's k-means is its own (seeded by its index): the groups run
  // side by side on OpenMP threads, their centroids concatenated in order.
  std::vector<std::vector<float>> of_group(static_cast<size_t>(g));
  auto train_group = [&](int64_t j) {
    const auto nj = static_cast<int64_t>(members[j].size());
    if (nj == 0) return;
    const int64_t cj = std::clamp<int64_t>(
        std::llround(static_cast<double>(nlist) * static_cast<double>(nj) / static_cast<double>(n)),
        1, nj);
    std::vector<float> part(static_cast<size_t>(nj * dim));
    for (int64_t i = 0; i < nj; ++i) {
      std::memcpy(part.data() + i * dim, x + members[j][i] * dim, sizeof(float) * dim);
    }
    of_group[j] = KMeans(part.data(), nj, dim, cj, iterations, seed + 1 + j);
  };
  if (UseParallel(g, 2)) {
    OneThreadBlas one;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t j = 0; j < g; ++j) train_group(j);
  } else {
    for (int64_t j = 0; j < g; ++j) train_group(j);
  }
  std::vector<float> out;
  for (const std::vector<float>& c : of_group) out.insert(out.end(), c.begin(), c.end());
  return out;
}

}  // namespace

// The cells of an IVF index, as views into its Faiss inverted lists.
struct CosineIndex::Ivf {
  Cells cells;
  int64_t nlist = 0;
  // Row -> its vector inside its cell; built on first use.
  mutable std::once_flag locate_once;
  mutable std::vector<const float*> row_ptr;

  // Views `ivf`'s centroids and lists.
  void Attach(const faiss::IndexIVFFlat* ivf) {
    nlist = static_cast<int64_t>(ivf->nlist);
    cells.nlist = nlist;
    cells.dim = ivf->d;
    cells.centroids = static_cast<const faiss::IndexFlat*>(ivf->quantizer)->get_xb();
    AttachLists(ivf);
  }

  // Views the lists again (after they were filled).
  void AttachLists(const faiss::IndexIVFFlat* ivf) {
    cells.rows.resize(nlist);
    cells.ids.resize(nlist);
    cells.size.resize(nlist);
    for (int64_t l = 0; l < nlist; ++l) {
      cells.size[l] = static_cast<int64_t>(ivf->invlists->list_size(l));
      cells.rows[l] = reinterpret_cast<const float*>(ivf->invlists->get_codes(l));
      cells.ids[l] = ivf->invlists->get_ids(l);
    }
  }

  const float* Locate(int64_t row, int64_t rows, int64_t dim) const {
    std::call_once(locate_once, [&] {
      row_ptr.assign(static_cast<size_t>(rows), nullptr);
      for (int64_t l = 0; l < nlist; ++l) {
        for (int64_t j = 0; j < cells.size[l]; ++j) {
          row_ptr[cells.ids[l][j]] = cells.rows[l] + j * dim;
        }
      }
    });
    return row_ptr[row];
  }
};

int64_t DefaultNlist(int64_t rows) {
  return rows < 2000 ? 1 : static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(rows))));
}

void NormalizeRows(float* data, int64_t rows, int64_t dim) {
  for (int64_t i = 0; i < rows; ++i) {
    float* r = data + i * dim;
    double norm2 = 0;
    for (int64_t j = 0; j < dim; ++j) norm2 += static_cast<double>(r[j]) * r[j];
    if (norm2 <= 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
    for (int64_t j = 0; j < dim; ++j) r[j] *= inv;
  }
}

void AssignToCells(const float* centroids, int64_t nlist, int64_t dim, const float* unit_rows,
                   int64_t rows, int64_t* cell_of_row) {
  Cells cells;
  cells.nlist = nlist;
  cells.dim = dim;
  cells.centroids = centroids;
  // Fixed chunks, not ParallelChunks' thread-dependent ones: a chunk of one
  // row is scored by Dot instead of BLAS, so the split must not depend on
  // the machine that runs it.
  constexpr int64_t kChunk = 1024;
  const int64_t chunks = (rows + kChunk - 1) / kChunk;
  std::vector<int32_t> cell(static_cast<size_t>(rows));
  auto run = [&](int64_t c) {
    const int64_t first = c * kChunk, count = std::min(kChunk, rows - first);
    cells.Coarse(unit_rows + first * dim, count, 1, cell.data() + first);
  };
  if (UseParallel(rows, 2 * kChunk)) {
    OneThreadBlas one;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; ++c) run(c);
  } else {
    for (int64_t c = 0; c < chunks; ++c) run(c);
  }
  for (int64_t r = 0; r < rows; ++r) cell_of_row[r] = cell[r];
}

void SetSearchThreads(int32_t threads) {
  int n =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  omp_set_num_threads(n);
}

int32_t SearchThreads() { return omp_get_max_threads(); }

int32_t BlasThreadCount() { return Blas().get != nullptr ? Blas().get() : 0; }

std::string BlasCoreName() {
  const char* name = Blas().core != nullptr ? Blas().core() : nullptr;
  return name != nullptr ? std::string(name) : std::string("unknown");
}

ScopedThreadCounts::ScopedThreadCounts(int32_t omp_threads, int32_t blas_threads)
    : saved_omp_(omp_get_max_threads()), saved_blas_(BlasThreadCount()) {
  if (omp_threads > 0) omp_set_num_threads(omp_threads);
  if (blas_threads > 0 && Blas().set != nullptr) Blas().set(blas_threads);
}

ScopedThreadCounts::~ScopedThreadCounts() {
  omp_set_num_threads(saved_omp_);
  if (saved_blas_ > 0 && Blas().set != nullptr) Blas().set(saved_blas_);
}

ScopedSearchThreads::ScopedSearchThreads(int32_t threads) : saved_(omp_get_max_threads()) {
  SetSearchThreads(threads);
}
ScopedSearchThreads::~ScopedSearchThreads() { omp_set_num_threads(saved_); }

CosineIndex::CosineIndex() = default;
CosineIndex::~CosineIndex() = default;

Result<std::unique_ptr<CosineIndex>> CosineIndex::Build(const float* normalized, int64_t rows,
                                                        int64_t dim) {
  if (dim <= 0) return Status::Invalid("embeddings: width must be positive");
  const auto start = Clock::now();
  std::unique_ptr<CosineIndex> out(new CosineIndex());
  try {
    auto flat = std::make_unique<faiss::IndexFlatIP>(dim);
    flat->add(rows, normalized);
    out->index_ = std::move(flat);
  } catch (const faiss::FaissException& e) {
    return FromFaiss(e);
  }
  out->rows_ = rows;
  out->dim_ = dim;
  out->info_.method = "exact";
  out->info_.build_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

Result<std::unique_ptr<CosineIndex>> CosineIndex::BuildIvf(const float* normalized, int64_t rows,
                                                           int64_t dim, const IvfOptions& options) {
  return BuildIvf(
      [&](int64_t first, int64_t count, float* out) {
        std::memcpy(out, normalized + first * dim, sizeof(float) * count * dim);
      },
      rows, dim, options);
}

Result<std::unique_ptr<CosineIndex>> CosineIndex::BuildIvf(const RowSource& source, int64_t rows,
                                                           int64_t dim, const IvfOptions& options) {
  if (dim <= 0) return Status::Invalid("embeddings: width must be positive");
  if (rows < 0) return Status::Invalid("index: negative row count");
  if (options.nlist < 0 || options.nprobe < 0) {
    return Status::Invalid("index: nlist and nprobe must not be negative");
  }
  if (options.nprobe == 0 && !(options.target_recall > 0 && options.target_recall <= 1 &&
                               options.target_agreement >= 0 && options.target_agreement <= 1 &&
                               options.tune_percentile > 0 && options.tune_percentile < 1)) {
    return Status::Invalid(
        "index: target_recall must be in (0, 1], target_agreement in [0, 1], tune_percentile in "
        "(0, 1)");
  }
  const auto start = Clock::now();
  int64_t nlist = options.nlist > 0 ? options.nlist : DefaultNlist(rows);
  nlist = std::max<int64_t>(1, std::min(nlist, std::max<int64_t>(rows, 1)));

  if (!options.given_centroids.empty() &&
      (options.given_centroids.size() % static_cast<size_t>(dim) != 0)) {
    return Status::Invalid("index: the given centroids are not rows of width " +
                           std::to_string(dim));
  }

  std::unique_ptr<CosineIndex> out(new CosineIndex());
  out->rows_ = rows;
  out->dim_ = dim;
  try {
    // Each row's cell: the centroid of largest inner product (by the same
    // coarse step searches use), in blocks of rows or by options.assign.
    std::vector<int64_t> cell_of(static_cast<size_t>(rows), 0);
    const int64_t block = kAssignBlock;
    std::vector<float> buf(static_cast<size_t>(std::min(block, std::max<int64_t>(rows, 1)) * dim));
    auto assign = [&](const std::vector<float>& centroids, int64_t cells) -> Status {
      if (cells <= 1) {
        std::fill(cell_of.begin(), cell_of.end(), 0);
        return Status::OK();
      }
      if (options.assign) {
        SEXTANT_RETURN_IF_ERROR(options.assign(centroids.data(), cells, dim, rows, cell_of.data()));
        for (int64_t r = 0; r < rows; ++r) {
          if (cell_of[r] < 0 || cell_of[r] >= cells) {
            return Status::Invalid("index: row " + std::to_string(r) + " was assigned to cell " +
                                   std::to_string(cell_of[r]) + " of " + std::to_string(cells));
          }
        }
        return Status::OK();
      }
      for (int64_t s = 0; s < rows; s += block) {
        const int64_t n = std::min(block, rows - s);
        source(s, n, buf.data());
        AssignToCells(centroids.data(), cells, dim, buf.data(), n, cell_of.data() + s);
      }
      return Status::OK();
    };
    auto imbalance = [&](int64_t cells) {
      std::vector<int64_t> size(static_cast<size_t>(cells), 0);
      for (int64_t c : cell_of) size[c]++;
      double squares = 0;
      for (int64_t n : size) squares += static_cast<double>(n) * static_cast<double>(n);
      const double r = static_cast<double>(std::max<int64_t>(rows, 1));
      return static_cast<double>(cells) * squares / (r * r);
    };

    std::vector<float> centroids;
    bool trained = true;
    if (!options.given_centroids.empty()) {
      centroids = options.given_centroids;
      nlist = static_cast<int64_t>(centroids.size()) / dim;
      SEXTANT_RETURN_IF_ERROR(assign(centroids, nlist));
      out->info_.cell_imbalance = imbalance(nlist);
      if (out->info_.cell_imbalance <= options.max_cell_imbalance) {
        trained = false;
        out->info_.cells = "given";
      } else {
        std::ostringstream why;
        why << "k-means (the given cells' imbalance was " << std::setprecision(3)
            << out->info_.cell_imbalance << ")";
        out->info_.cells = why.str();
        nlist = options.nlist > 0 ? options.nlist : DefaultNlist(rows);
        nlist = std::max<int64_t>(1, std::min(nlist, std::max<int64_t>(rows, 1)));
      }
    }
    if (trained) {
      // k-means on a seeded sample; spherical centroids suit inner products of unit rows.
      const auto train_start = Clock::now();
      centroids.assign(static_cast<size_t>(dim), 0.0f);
      if (nlist > 1) {
        const int64_t train = options.train_size > 0
                                  ? std::min(options.train_size, rows)
                                  : std::min({rows, 40 * nlist, int64_t{131072}});
        const std::vector<int64_t> picked = SampleRows(rows, train, options.seed);
        std::vector<float> x(static_cast<size_t>(train * dim));
        for (size_t i = 0; i < picked.size();) {
          size_t j = i + 1;  // runs of consecutive rows are fetched together
          while (j < picked.size() && picked[j] == picked[j - 1] + 1) ++j;
          source(picked[i], static_cast<int64_t>(j - i), x.data() + i * dim);
          i = j;
        }
        centroids =
            TrainCentroids(x.data(), train, dim, nlist, options.kmeans_iterations, options.seed);
        nlist = static_cast<int64_t>(centroids.size()) / dim;
      }
      out->info_.train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();
      if (out->info_.cells.empty()) out->info_.cells = "k-means";
      SEXTANT_RETURN_IF_ERROR(assign(centroids, nlist));
      out->info_.cell_imbalance = imbalance(nlist);
    }
    auto quantizer = std::make_unique<faiss::IndexFlatIP>(dim);
    quantizer->add(nlist, centroids.data());
    auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), dim, nlist,
                                                     faiss::METRIC_INNER_PRODUCT);
    quantizer.release();
    ivf->own_fields = true;
    ivf->is_trained = true;
    auto* lists = dynamic_cast<faiss::ArrayInvertedLists*>(ivf->invlists);
    if (lists == nullptr) return Status::Internal("index: unexpected inverted-list type");
    out->ivf_ = std::make_unique<Ivf>();
    out->ivf_->Attach(ivf.get());

    // Size the cells exactly, then copy the rows in (no growth, no second full copy).
    std::vector<int64_t> fill(static_cast<size_t>(nlist), 0);
    for (int64_t c : cell_of) fill[c]++;
    const size_t code_size = ivf->code_size;
    for (int64_t l = 0; l < nlist; ++l) {
      lists->codes[l].resize(static_cast<size_t>(fill[l]) * code_size);
      lists->ids[l].resize(static_cast<size_t>(fill[l]));
      fill[l] = 0;
    }
    for (int64_t s = 0; s < rows; s += block) {
      const int64_t n = std::min(block, rows - s);
      source(s, n, buf.data());
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = cell_of[s + i];
        const int64_t at = fill[c]++;
        std::memcpy(lists->codes[c].data() + at * code_size, buf.data() + i * dim, code_size);
        lists->ids[c][at] = s + i;
      }
    }
    ivf->ntotal = rows;
    out->ivf_->AttachLists(ivf.get());
    out->info_.assign_seconds =
        std::chrono::duration<double>(Clock::now() - start).count() - out->info_.train_seconds;
    out->index_ = std::move(ivf);
  } catch (const faiss::FaissException& e) {
    return FromFaiss(e);
  }
  out->info_.method = "ivf";
  out->info_.nlist = nlist;
  if (options.nprobe > 0 || nlist == 1) {
    out->info_.nprobe = static_cast<int32_t>(std::min<int64_t>(std::max(options.nprobe, 1), nlist));
    out->info_.recall_estimate = nlist == 1 ? 1.0 : -1.0;
  } else {
    const auto tune_start = Clock::now();
    SEXTANT_RETURN_IF_ERROR(out->TuneNprobe(options));
    out->info_.tune_seconds = std::chrono::duration<double>(Clock::now() - tune_start).count();
  }
  static_cast<faiss::IndexIVFFlat*>(out->index_.get())->nprobe = out->info_.nprobe;
  out->info_.build_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

Status CosineIndex::TuneNprobe(const IvfOptions& options) {
  const int32_t k = std::max(1, options.tune_k);
  const int32_t kk = k + 1;  // the row itself is among its neighbours
  const std::vector<int64_t> rows = SampleRows(rows_, std::max<int64_t>(1, options.tune_queries),
                                               options.seed ^ 0x9e3779b97f4a7c15ULL);
  const auto t = static_cast<int64_t>(rows.size());
  std::vector<float> q(static_cast<size_t>(t * dim_));
  for (int64_t i = 0; i < t; ++i) {
    std::memcpy(q.data() + i * dim_, RowPointer(rows[i]), sizeof(float) * dim_);
  }
  // The k nearest other rows: drop the row itself, else the farthest.
  auto others = [&](const int64_t* labels, int64_t i) {
    std::vector<int64_t> o;
    for (int32_t j = 0; j < kk && static_cast<int32_t>(o.size()) < k; ++j) {
      if (labels[i * kk + j] != rows[i] && labels[i * kk + j] >= 0) o.push_back(labels[i * kk + j]);
    }
    std::sort(o.begin(), o.end());
    return o;
  };
  std::vector<float> sims(static_cast<size_t>(t * kk));
  std::vector<int64_t> exact(static_cast<size_t>(t * kk)), approx(exact.size());
  SEXTANT_RETURN_IF_ERROR(SearchIvf(q.data(), t, kk, static_cast<int32_t>(ivf_->nlist), nullptr,
                                    sims.data(), exact.data()));
  // Each row's k-core distance (its k-th nearest other row), as drift computes it.
  auto kth_other = [&](const float* s, const int64_t* labels, int64_t i) {
    int32_t self = kk - 1;  // drop the farthest when the row itself is not found
    for (int32_t j = 0; j < kk; ++j) {
      if (labels[i * kk + j] == rows[i]) {
        self = j;
        break;
      }
    }
    const int32_t at = self > k - 1 ? k - 1 : k;
    return labels[i * kk + at] < 0 ? 2.0f : 1.0f - s[i * kk + at];
  };
  // Whether each row's distance is above the `percentile` of the sample's.
  auto flags = [&](const std::vector<float>& d) {
    std::vector<float> sorted = d;
    std::sort(sorted.begin(), sorted.end());
    const double pos = options.tune_percentile * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double threshold =
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
    std::vector<char> f(d.size());
    for (size_t i = 0; i < d.size(); ++i) f[i] = d[i] > threshold;
    return f;
  };
  std::vector<std::vector<int64_t>> truth(static_cast<size_t>(t));
  std::vector<float> exact_kth(static_cast<size_t>(t)), approx_kth(exact_kth.size());
  int64_t total = 0;
  for (int64_t i = 0; i < t; ++i) {
    truth[i] = others(exact.data(), i);
    total += static_cast<int64_t>(truth[i].size());
    exact_kth[i] = kth_other(sims.data(), exact.data(), i);
  }
  const std::vector<char> exact_flags = flags(exact_kth);
  int32_t p = std::max(1, options.min_nprobe);
  double recall = 1, agreement = 1;
  while (true) {
    p = static_cast<int32_t>(std::min<int64_t>(p, ivf_->nlist));
    SEXTANT_RETURN_IF_ERROR(SearchIvf(q.data(), t, kk, p, nullptr, sims.data(), approx.data()));
    int64_t hit = 0;
    for (int64_t i = 0; i < t; ++i) {
      std::vector<int64_t> a = others(approx.data(), i);
      std::vector<int64_t> common;
      std::set_intersection(a.begin(), a.end(), truth[i].begin(), truth[i].end(),
                            std::back_inserter(common));
      hit += static_cast<int64_t>(common.size());
    }
    recall = total > 0 ? static_cast<double>(hit) / static_cast<double>(total) : 1.0;
    for (int64_t i = 0; i < t; ++i) approx_kth[i] = kth_other(sims.data(), approx.data(), i);
    const std::vector<char> approx_flags = flags(approx_kth);
    int64_t same = 0;
    for (int64_t i = 0; i < t; ++i) same += approx_flags[i] == exact_flags[i];
    agreement = static_cast<double>(same) / static_cast<double>(t);
    if ((recall >= options.target_recall && agreement >= options.target_agreement) ||
        p >= ivf_->nlist) {
      break;
    }
    // 1, 2, 3, 4, 6, 8, 12, 16, 24, ...: steps of about sqrt(2).
    const int32_t pow2 = 1 << (31 - __builtin_clz(static_cast<unsigned>(p)));
    p = p == pow2 ? (p < 2 ? 2 : p + p / 2) : 2 * pow2;
  }
  info_.nprobe = p;
  info_.recall_estimate = recall;
  info_.recall_k = k;
  info_.recall_queries = t;
  info_.agreement_estimate = agreement;
  return Status::OK();
}

const float* CosineIndex::RowPointer(int64_t row) const {
  if (ivf_ == nullptr) {
    return static_cast<const faiss::IndexFlat*>(index_.get())->get_xb() + row * dim_;
  }
  return ivf_->Locate(row, rows_, dim_);
}

std::vector<float> CosineIndex::Centroids() const {
  if (ivf_ == nullptr || !approximate()) return {};
  const Cells& c = ivf_->cells;
  return std::vector<float>(c.centroids, c.centroids + c.nlist * c.dim);
}

Status CosineIndex::Reconstruct(int64_t row, float* out) const {
  if (row < 0 || row >= rows_) {
    return Status::Invalid("index: row " + std::to_string(row) + " is not in [0, " +
                           std::to_string(rows_) + ")");
  }
  std::memcpy(out, RowPointer(row), sizeof(float) * dim_);
  return Status::OK();
}

Status CosineIndex::SearchIvf(const float* queries, int64_t num_queries, int32_t k, int32_t nprobe,
                              const uint8_t* allowed, float* sims, int64_t* labels) const {
  Scan(ivf_->cells, queries, num_queries, k, nprobe, allowed, sims, labels);
  return Status::OK();
}

Status CosineIndex::Search(const float* queries, int64_t num_queries, int32_t k, float* distances,
                           int64_t* labels, int32_t nprobe) const {
  if (k <= 0) return Status::Invalid("k: must be at least 1");
  if (num_queries <= 0) return Status::OK();
  try {
    if (ivf_ != nullptr) {
      SEXTANT_RETURN_IF_ERROR(SearchIvf(queries, num_queries, k, nprobe > 0 ? nprobe : info_.nprobe,
                                        nullptr, distances, labels));
      for (int64_t i = 0; i < num_queries * k; ++i) {
        distances[i] = labels[i] < 0 ? 2.0f : 1.0f - distances[i];
      }
      return Status::OK();
    }
    constexpr int64_t kBlock = 16384;
    std::vector<faiss::Index::idx_t> ids;
    for (int64_t start = 0; start < num_queries; start += kBlock) {
      const int64_t n = std::min(kBlock, num_queries - start);
      ids.resize(static_cast<size_t>(n * k));
      index_->search(n, queries + start * dim_, k, distances + start * k, ids.data());
      for (int64_t i = 0; i < n * k; ++i) {
        labels[start * k + i] = ids[i];
        // Inner product of unit vectors is the cosine similarity.
        distances[start * k + i] = ids[i] < 0 ? 2.0f : 1.0f - distances[start * k + i];
      }
    }
  } catch (const faiss::FaissException& e) {
    return FromFaiss(e);
  }
  return Status::OK();
}

Status CosineIndex::SearchFiltered(const float* queries, int64_t num_queries, int32_t k,
                                   const RowFilter& filter, float* distances,
                                   int64_t* labels) const {
  if (k <= 0) return Status::Invalid("k: must be at least 1");
  if (filter.allowed == nullptr) return Search(queries, num_queries, k, distances, labels);
  if (num_queries <= 0) return Status::OK();
  const int64_t d = dim_;
  const bool few =
      ivf_ == nullptr ||
      filter.count <= info_.nprobe * (rows_ / std::max<int64_t>(1, ivf_->nlist)) + ivf_->nlist;
  if (few) {
    // Scan the allowed rows exactly: cheaper than the cells a search would visit.
    std::vector<int64_t> listed;
    const int64_t* allowed_rows = filter.rows;
    int64_t n_allowed = filter.count;
    if (allowed_rows == nullptr) {
      listed.reserve(static_cast<size_t>(std::max<int64_t>(filter.count, 0)));
      for (int64_t r = 0; r < rows_; ++r) {
        if (filter.allowed[r]) listed.push_back(r);
      }
      allowed_rows = listed.data();
      n_allowed = static_cast<int64_t>(listed.size());
    }
#pragma omp parallel for schedule(dynamic, 16) if (num_queries > 1)
    for (int64_t qi = 0; qi < num_queries; ++qi) {
      float* v = distances + qi * k;
      int64_t* id = labels + qi * k;
      faiss::heap_heapify<MinHeap>(k, v, id);
      const float* q = queries + qi * d;
      for (int64_t i = 0; i < n_allowed; ++i) {
        HeapPushIfBetter(k, v, id, Dot(q, RowPointer(allowed_rows[i]), d), allowed_rows[i]);
      }
      faiss::heap_reorder<MinHeap>(k, v, id);
    }
  } else {
    try {
      SEXTANT_RETURN_IF_ERROR(
          SearchIvf(queries, num_queries, k, info_.nprobe, filter.allowed, distances, labels));
      // Queries that found fewer than k allowed rows look again, in 4x the cells.
      std::vector<int64_t> short_of;
      for (int64_t qi = 0; qi < num_queries; ++qi) {
        if (labels[qi * k + k - 1] < 0) short_of.push_back(qi);
      }
      int64_t p = info_.nprobe;
      std::vector<float> q, v;
      std::vector<int64_t> id;
      while (!short_of.empty() && p < ivf_->nlist) {
        p = std::min<int64_t>(p * 4, ivf_->nlist);
        const auto n = static_cast<int64_t>(short_of.size());
        q.resize(static_cast<size_t>(n * d));
        v.resize(static_cast<size_t>(n * k));
        id.resize(static_cast<size_t>(n * k));
        for (int64_t i = 0; i < n; ++i) {
          std::memcpy(q.data() + i * d, queries + short_of[i] * d, sizeof(float) * d);
        }
        SEXTANT_RETURN_IF_ERROR(SearchIvf(q.data(), n, k, static_cast<int32_t>(p), filter.allowed,
                                          v.data(), id.data()));
        std::vector<int64_t> still;
        for (int64_t i = 0; i < n; ++i) {
          std::copy(v.begin() + i * k, v.begin() + (i + 1) * k, distances + short_of[i] * k);
          std::copy(id.begin() + i * k, id.begin() + (i + 1) * k, labels + short_of[i] * k);
          if (id[i * k + k - 1] < 0) still.push_back(short_of[i]);
        }
        short_of.swap(still);
      }
    } catch (const faiss::FaissException& e) {
      return FromFaiss(e);
    }
  }
  for (int64_t i = 0; i < num_queries * k; ++i) {
    distances[i] = labels[i] < 0 ? 2.0f : 1.0f - distances[i];
  }
  return Status::OK();
}

Status CosineIndex::Write(const std::filesystem::path& path) const {
  return WriteAtomicWith(path, [&](const std::filesystem::path& tmp) -> Status {
    try {
      faiss::write_index(index_.get(), tmp.c_str());
    } catch (const faiss::FaissException& e) {
      return Status::IOError("index: cannot write '" + path.string() + "': " + e.what());
    }
    return Status::OK();
  });
}

Result<std::unique_ptr<CosineIndex>> CosineIndex::Read(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound("index: no file '" + path.string() + "'");
  }
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(path.c_str()));
  } catch (const faiss::FaissException& e) {
    return Status::Invalid("index: '" + path.string() +
                           "' is not a readable Faiss index: " + e.what());
  }
  std::unique_ptr<CosineIndex> out(new CosineIndex());
  out->rows_ = index->ntotal;
  out->dim_ = index->d;
  if (index->metric_type != faiss::METRIC_INNER_PRODUCT) {
    return Status::Invalid("index: '" + path.string() + "' does not use inner products");
  }
  if (auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(index.get())) {
    if (dynamic_cast<const faiss::IndexFlat*>(ivf->quantizer) == nullptr ||
        dynamic_cast<faiss::ArrayInvertedLists*>(ivf->invlists) == nullptr) {
      return Status::Invalid("index: '" + path.string() + "' has an unsupported IVF layout");
    }
    out->ivf_ = std::make_unique<Ivf>();
    out->ivf_->Attach(ivf);
    out->info_.method = "ivf";
    out->info_.nlist = static_cast<int64_t>(ivf->nlist);
    out->info_.nprobe = static_cast<int32_t>(std::max<size_t>(1, ivf->nprobe));
    out->info_.recall_estimate = ivf->nlist == 1 ? 1.0 : -1.0;
  } else if (dynamic_cast<faiss::IndexFlatIP*>(index.get()) != nullptr) {
    out->info_.method = "exact";
  } else {
    return Status::Invalid("index: '" + path.string() +
                           "' is neither a flat nor an IVF-Flat inner-product index");
  }
  out->index_ = std::move(index);
  return out;
}

bool UseApproximate(NnSearch method, int64_t rows, int64_t dim, int64_t auto_min_values) {
  switch (method) {
    case NnSearch::kExact:
      return false;
    case NnSearch::kApproximate:
      return true;
    case NnSearch::kAuto:
      break;
  }
  // Without a query count, as many queries as rows (a leave-one-out pass).
  return ChooseSearch(method, rows, dim, rows, auto_min_values).approximate;
}

Result<std::unique_ptr<CosineIndex>> BuildForSearch(const float* normalized, int64_t rows,
                                                    int64_t dim, NnSearch method,
                                                    int64_t auto_min_values,
                                                    const IvfOptions& ivf) {
  if (UseApproximate(method, rows, dim, auto_min_values)) {
    return CosineIndex::BuildIvf(normalized, rows, dim, ivf);
  }
  return CosineIndex::Build(normalized, rows, dim);
}

}  // namespace sextant::index
