// Cosine nearest-neighbour search over unit vectors, exact or approximate: the
// one adapter between Sextant and Faiss. Faiss exceptions are caught here and
// become Status.
//
// Two kinds of index share one interface:
// * exact: a Faiss flat inner-product index; Search is Faiss' own BLAS search.
// * approximate (IVF): the rows are clustered by k-means into `nlist` cells
//   (spherical centroids) and stored per cell in a Faiss IndexIVFFlat, which is
//   also the file format (Write/Read). A query visits its `nprobe` nearest
//   cells. The scan is Sextant's: queries are grouped by cell and each cell is
//   one BLAS matrix product, so a batch runs at matrix-multiply speed instead
//   of Faiss' per-vector loop. nprobe is tuned at build time, when not given,
//   to reach a target recall@k on a sample of the index's own rows against an
//   exact search; the recall reached is kept in info().
//
// An IVF index with nlist = 1 holds every row in one cell: its searches are
// exact (the similarity index of a small run is built that way).
//
// Thread safety: a built or read index is immutable; Search, SearchFiltered
// and Reconstruct may be called from many threads at once. Each call uses the
// OpenMP threads set by SetSearchThreads and the BLAS library's own threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sextant/processing_options.h"
#include "sextant/status.h"

namespace faiss {
struct Index;
}

namespace sextant::index {

// Scales each row to unit L2 norm in place. All-zero rows stay zero (their
// cosine similarity to anything is 0, i.e. distance 1).
void NormalizeRows(float* data, int64_t rows, int64_t dim);

// Sets the number of threads nearest-neighbour search may use (0 = all cores).
void SetSearchThreads(int32_t threads);
// The OpenMP threads a search uses now.
int32_t SearchThreads();

// OpenBLAS' thread count now; 0 when Faiss' BLAS is another library.
int32_t BlasThreadCount();
// OpenBLAS' kernel name (openblas_get_corename); "unknown" for another BLAS.
std::string BlasCoreName();

// Sets both OpenMP's and OpenBLAS' thread counts for its scope and restores
// them when it ends. A shard task runs under the thread counts of the finish
// that made it: OpenBLAS partitions a product by its thread count, and the
// partition changes the last bits of some inner products, so a worker with
// other counts than the driver would not give bitwise the driver's results.
// A count <= 0 leaves that setting as it is.
class ScopedThreadCounts {
 public:
  ScopedThreadCounts(int32_t omp_threads, int32_t blas_threads);
  ~ScopedThreadCounts();
  ScopedThreadCounts(const ScopedThreadCounts&) = delete;
  ScopedThreadCounts& operator=(const ScopedThreadCounts&) = delete;

 private:
  int32_t saved_omp_, saved_blas_;
};

// Sets the search threads (as SetSearchThreads) for its scope and restores the
// calling thread's previous OpenMP setting when it ends, so that a library
// call (finish) does not change its caller's omp_get_max_threads(), e.g.
// PyTorch's thread count. Faiss reads the setting through
// omp_get_max_threads(), hence a guard rather than a per-call argument.
class ScopedSearchThreads {
 public:
  explicit ScopedSearchThreads(int32_t threads);
  ~ScopedSearchThreads();
  ScopedSearchThreads(const ScopedSearchThreads&) = delete;
  ScopedSearchThreads& operator=(const ScopedSearchThreads&) = delete;

 private:
  int32_t saved_;
};

// Parameters of an approximate (IVF) index. Zero means "choose".
struct IvfOptions {
  // Cells. 0: about sqrt(rows) (1 below 2,000 rows, which is exact search).
  int64_t nlist = 0;
  // Cells visited per query. 0: tuned on a sample of `tune_queries` of the
  // index's own rows, each searched for its tune_k nearest other rows as drift
  // does (exact answers from a scan of every cell): the smallest of 1, 2, 3, 4,
  // 6, 8, 12, 16, ... (at least `min_nprobe`) whose recall@tune_k reaches
  // `target_recall` and whose drifted-flag agreement reaches
  // `target_agreement`: the share of sample rows that fall on the same side
  // of the `tune_percentile` of the sample's k-core distances, exact and
  // approximate. Recall alone is not enough: a few rows with far-off k-th
  // neighbours move the upper percentiles, where the drift threshold lies.
  int32_t nprobe = 0;
  double target_recall = 0.98;
  double target_agreement = 0.995;
  double tune_percentile = 0.95;
  int32_t min_nprobe = 1;
  int32_t tune_k = 10;
  int64_t tune_queries = 512;
  // Rows the k-means is trained on, a seeded sample. 0: min(rows, 40 * nlist).
  int64_t train_size = 0;
  int32_t kmeans_iterations = 10;
  uint64_t seed = 1;
  // Cells to start from instead of training (nlist and train_size are then
  // unused): unit centroids, (given rows) x dim floats, e.g. those of the
  // drift index over the training rows, which the similarity index of every
  // split reuses (processing/similarity_index.h). Kept when the rows spread
  // over them evenly enough: when IndexInfo::cell_imbalance exceeds
  // `max_cell_imbalance`, the given cells are dropped and cells trained as
  // without them (IndexInfo::cells says which).
  std::vector<float> given_centroids;
  double max_cell_imbalance = 4.0;
  // Assigns every row to its cell once the centroids are trained (nlist > 1
  // only): writes cell_of_row[r] for r in [0, rows), the cell whose unit
  // centroid (nlist x dim, row-major) has the largest inner product with the
  // unit row r. Must give AssignToCells' answers over blocks of
  // kAssignBlock rows. Empty: AssignToCells on the source's rows in this
  // process. A finish with a shard executor runs it as shard tasks
  // (processing/similarity_index.cc).
  std::function<Status(const float* centroids, int64_t nlist, int64_t dim, int64_t rows,
                       int64_t* cell_of_row)>
      assign;
};

// IvfOptions' nlist = 0: about sqrt(rows) cells; one (exact) below 2,000 rows.
int64_t DefaultNlist(int64_t rows);

// Rows an IVF build assigns to cells together; ranges of rows starting at
// multiples of it give the same matrix products as a whole build.
constexpr int64_t kAssignBlock = 16384;

// The cell of each of `rows` unit rows (rows x dim): the index of the
// centroid (nlist x dim, unit rows) of largest inner product, the first of
// equals. BuildIvf calls it on each block of kAssignBlock rows from row 0;
// a row's answer depends on its block's rows only, not on thread counts.
void AssignToCells(const float* centroids, int64_t nlist, int64_t dim, const float* unit_rows,
                   int64_t rows, int64_t* cell_of_row);

// What an index is, for the parameters stored with results.
struct IndexInfo {
  std::string method;               // "exact" or "ivf"
  int64_t nlist = 0;                // 0 for exact
  int32_t nprobe = 0;               // 0 for exact
  double recall_estimate = 1.0;     // measured recall@tune_k at nprobe; 1 for exact
  int32_t recall_k = 0;             // the k of that recall (0: not measured)
  int64_t recall_queries = 0;       // how many sample rows it was measured on
  double agreement_estimate = 1.0;  // drifted-flag agreement on that sample (see IvfOptions)
  // Where the cells came from: "k-means", "given", or "k-means (the given
  // cells' imbalance was X)". Empty for exact and for an index read from a file.
  std::string cells;
  // The mean number of rows in a row's cell over the mean cell size:
  // nlist * sum(cell size^2) / rows^2; 1 when every cell holds as many rows.
  // A query's scan grows with it (k-means cells of clustered rows: about 1-3).
  double cell_imbalance = 0;
  double build_seconds = 0;   // all of it; for IVF the parts:
  double train_seconds = 0;   //   k-means
  double assign_seconds = 0;  //   assigning and copying the rows into cells
  double tune_seconds = 0;    //   tuning nprobe
};

// Writes the unit rows [first, first + count) into `out` (count x dim floats).
// Lets an index be built from data that is not one contiguous array.
using RowSource = std::function<void(int64_t first, int64_t count, float* out)>;

// Rows a filtered search may return: allowed[row] != 0, `count` of them.
// `rows`, when given, lists them ascending (saves a pass over `allowed`).
struct RowFilter {
  const uint8_t* allowed = nullptr;  // size() bytes
  int64_t count = 0;
  const int64_t* rows = nullptr;  // count rows, or null
};

class CosineIndex {
 public:
  // Exact: copies `normalized` (rows x dim, unit rows) into a flat
  // inner-product index.
  static Result<std::unique_ptr<CosineIndex>> Build(const float* normalized, int64_t rows,
                                                    int64_t dim);
  // Approximate (IVF, see above). Memory: one copy of the rows plus
  // O(train_size * dim) during k-means; rows are added in blocks.
  static Result<std::unique_ptr<CosineIndex>> BuildIvf(const float* normalized, int64_t rows,
                                                       int64_t dim, const IvfOptions& options);
  static Result<std::unique_ptr<CosineIndex>> BuildIvf(const RowSource& source, int64_t rows,
                                                       int64_t dim, const IvfOptions& options);

  // Writes the index as a Faiss index file (faiss::write_index; readable by
  // faiss.read_index in Python), atomically: temporary file, fsync, rename.
  Status Write(const std::filesystem::path& path) const;
  // Reads a file written by Write. NotFound when missing; Invalid when it is
  // not a flat or IVF-Flat inner-product index.
  static Result<std::unique_ptr<CosineIndex>> Read(const std::filesystem::path& path);

  ~CosineIndex();

  int64_t size() const { return rows_; }
  int64_t dim() const { return dim_; }
  bool approximate() const { return info_.method != "exact" && info_.nlist > 1; }
  const IndexInfo& info() const { return info_; }

  // The k nearest rows of each query (unit rows), nearest first.
  // distances[q*k + j] = 1 - cosine similarity; labels[q*k + j] = row, or -1
  // (distance 2) when fewer than k rows were found. Queries are processed in
  // blocks so the working set stays bounded. `nprobe` overrides the index's
  // (IVF only; 0 = the index's).
  Status Search(const float* queries, int64_t num_queries, int32_t k, float* distances,
                int64_t* labels, int32_t nprobe = 0) const;

  // As Search, among the rows the filter allows only. When the allowed rows
  // are fewer than an IVF search would scan, they are scanned exactly;
  // otherwise the IVF search skips the others and, for a query that finds
  // fewer than k, retries with 4x the cells until every cell was visited.
  Status SearchFiltered(const float* queries, int64_t num_queries, int32_t k,
                        const RowFilter& filter, float* distances, int64_t* labels) const;

  // Copies row `row` (a unit vector as stored) into `out` (dim floats).
  Status Reconstruct(int64_t row, float* out) const;

  // An IVF index's unit centroids (nlist x dim); empty for an exact index.
  std::vector<float> Centroids() const;

 private:
  CosineIndex();
  struct Ivf;
  Status SearchIvf(const float* queries, int64_t num_queries, int32_t k, int32_t nprobe,
                   const uint8_t* allowed, float* sims, int64_t* labels) const;
  Status TuneNprobe(const IvfOptions& options);
  const float* RowPointer(int64_t row) const;

  std::unique_ptr<faiss::Index> index_;
  std::unique_ptr<Ivf> ivf_;  // cell layout of an IVF index; null when exact
  int64_t rows_ = 0, dim_ = 0;
  IndexInfo info_;
};

// Whether `method` searches approximately for an index of rows x dim values.
// "auto": ChooseSearch (index/search_cost.h) for as many queries as rows; a
// positive `auto_min_values` keeps the older rule (from that many values on).
bool UseApproximate(NnSearch method, int64_t rows, int64_t dim, int64_t auto_min_values);

// The index drift searches: exact (Build) or IVF (BuildIvf), per UseApproximate.
Result<std::unique_ptr<CosineIndex>> BuildForSearch(const float* normalized, int64_t rows,
                                                    int64_t dim, NnSearch method,
                                                    int64_t auto_min_values,
                                                    const IvfOptions& ivf = {});

}  // namespace sextant::index
