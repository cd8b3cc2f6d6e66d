// Euclidean k-nearest-neighbour search for the map, exact or approximate: the
// map's one adapter to Faiss (Faiss exceptions are caught here and become Status).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "sextant/status.h"

namespace faiss {
struct Index;
}

namespace sextant::map {

// An approximate index: Faiss IndexIVFFlat (L2) with `nlist` cells (0: 2 sqrt(rows)),
// k-means (`train_iterations` iterations) trained on a seeded sample of at
// most train_per_list x nlist rows (at least 40 per cell, Faiss' minimum);
// nprobe is the smallest of 1, 2, 3, 4, 6, 9, ...
// whose recall@k on `tune_queries` of the index's own rows, against an exact
// search, reaches `target_recall`.
struct IvfL2Options {
  int64_t nlist = 0;
  int32_t k = 15;
  double target_recall = 0.95;
  int64_t tune_queries = 500;
  int64_t train_per_list = 40;
  int32_t train_iterations = 10;
  uint64_t seed = 1;
};

class L2Index {
 public:
  // Copies `data` (rows x dim, row-major) into a flat (exact) L2 index.
  static Result<std::unique_ptr<L2Index>> Build(const float* data, int64_t rows, int64_t dim);
  // Copies `data` into an IVF index (see IvfL2Options) and tunes its nprobe.
  static Result<std::unique_ptr<L2Index>> BuildIvf(const float* data, int64_t rows, int64_t dim,
                                                   const IvfL2Options& options);
  ~L2Index();

  // Writes the Faiss index (faiss::write_index: its rows, and for an IVF
  // index its cells and nprobe) atomically. The recall estimate is not in
  // the file; the caller keeps it.
  Status Write(const std::filesystem::path& path) const;
  // Reads a file written by Write; searches then return what the written
  // index's did. NotFound when missing; Invalid when it is not a flat or
  // IVF-Flat L2 index.
  static Result<std::unique_ptr<L2Index>> Read(const std::filesystem::path& path,
                                               double recall_estimate = 1.0);

  int64_t size() const { return rows_; }
  int64_t dim() const { return dim_; }
  bool approximate() const { return nlist_ > 0; }
  int64_t nlist() const { return nlist_; }
  int32_t nprobe() const { return nprobe_; }
  // recall@k measured when the nprobe was tuned; 1 for an exact index.
  double recall_estimate() const { return recall_estimate_; }

  // The k nearest rows of each query, nearest first, ties by row.
  // distances[q*k + j] is the Euclidean (not squared) distance; labels[q*k + j]
  // the row, or -1 (distance +inf) when the index holds fewer than k rows
  // (or an approximate search found fewer). Deterministic for given inputs,
  // whatever the OpenMP thread count: an IVF index is searched by Sextant's
  // own scan (one query per task, on all OpenMP threads), the probed cells
  // (ranked by one sgemm per block of 16,384 queries) and the neighbours both
  // ordered by (distance, id); a flat index by Faiss (BLAS). Queries searched
  // in the same blocks of 16,384 (as PlaceRows' aligned ranges are) get the
  // same bits.
  Status Search(const float* queries, int64_t num_queries, int32_t k, float* distances,
                int64_t* labels) const;

 private:
  L2Index() = default;
  std::unique_ptr<faiss::Index> index_;
  int64_t rows_ = 0, dim_ = 0, nlist_ = 0;
  int32_t nprobe_ = 0;
  double recall_estimate_ = 1.0;
};

}  // namespace sextant::map
