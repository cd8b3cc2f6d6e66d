// Exact cosine nearest-neighbour search, the one adapter between Sextant and
// Faiss: Faiss exceptions are caught here and become Status.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "sextant/status.h"

namespace faiss { struct IndexFlatIP; }

namespace sextant::index {

// Scales each row to unit L2 norm in place. All-zero rows stay zero (their
// cosine similarity to anything is 0, i.e. distance 1).
void NormalizeRows(float* data, int64_t rows, int64_t dim);

// Sets the number of threads nearest-neighbour search may use (0 = all cores).
void SetSearchThreads(int32_t threads);

class CosineIndex {
 public:
  // Copies `normalized` (rows x dim, unit rows) into a flat inner-product index.
  static Result<std::unique_ptr<CosineIndex>> Build(const float* normalized, int64_t rows,
                                                     int64_t dim);
  ~CosineIndex();

  int64_t size() const { return rows_; }
  int64_t dim() const { return dim_; }

  // The k nearest rows of each query (unit rows), nearest first.
  // distances[q*k + j] = 1 - cosine similarity; labels[q*k + j] = row, or -1
  // when the index holds fewer than k rows. Queries are processed in blocks
  // so the working set stays bounded.
  Status Search(const float* queries, int64_t num_queries, int32_t k, float* distances,
                int64_t* labels) const;

 private:
  CosineIndex() = default;
  std::unique_ptr<faiss::IndexFlatIP> index_;
  int64_t rows_ = 0, dim_ = 0;
};

}  // namespace sextant::index
