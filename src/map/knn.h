// Exact Euclidean k-nearest-neighbour search for the map: the map's one
// adapter to Faiss (Faiss exceptions are caught here and become Status).
#pragma once

#include <cstdint>
#include <memory>

#include "sextant/status.h"

namespace faiss { struct IndexFlatL2; }

namespace sextant::map {

class L2Index {
 public:
  // Copies `data` (rows x dim, row-major) into a flat (exact) L2 index.
  static Result<std::unique_ptr<L2Index>> Build(const float* data, int64_t rows, int64_t dim);
  ~L2Index();

  int64_t size() const { return rows_; }

  // The k nearest rows of each query, nearest first, ties by row.
  // distances[q*k + j] is the Euclidean (not squared) distance; labels[q*k + j]
  // the row, or -1 (distance +inf) when the index holds fewer than k rows.
  // Deterministic for given inputs and thread count.
  Status Search(const float* queries, int64_t num_queries, int32_t k, float* distances,
                int64_t* labels) const;

 private:
  L2Index() = default;
  std::unique_ptr<faiss::IndexFlatL2> index_;
  int64_t rows_ = 0, dim_ = 0;
};

}  // namespace sextant::map
