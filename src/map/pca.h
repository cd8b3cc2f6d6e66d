// Principal component analysis of unit-normalised rows, the first stage of
// the 2-D map. Rows are scaled to unit L2 norm first, so that Euclidean
// distances between them are monotone in cosine distance
// (|a - b|^2 = 2 (1 - cos(a, b))), the distance Sextant uses everywhere.
#pragma once

#include <cstdint>
#include <vector>

#include "sextant/status.h"

namespace sextant::map {

// Rows spread over several arrays (one per split) addressed as one matrix of
// `dim` columns, without copying them into one buffer. Does not own the data.
class RowBlocks {
 public:
  RowBlocks(int64_t dim) : dim_(dim) {}  // NOLINT
  void Add(const float* data, int64_t rows);

  int64_t rows() const { return offsets_.empty() ? 0 : offsets_.back(); }
  int64_t dim() const { return dim_; }
  // Row `i` of the concatenation, 0 <= i < rows().
  const float* Row(int64_t i) const;

 private:
  int64_t dim_;
  std::vector<const float*> data_;
  std::vector<int64_t> offsets_;  // offsets_[b] = rows in blocks 0..b
};

class Pca {
 public:
  // Fits the top `out_dims` components (1 <= out_dims <= rows.dim()) on the
  // rows listed in `sample` (sorted row indices of `rows`; at least one).
  // Deterministic: the covariance is accumulated in double precision in
  // sample order, and each component's sign is fixed so that its largest
  // coordinate is positive.
  static Result<Pca> Fit(const RowBlocks& rows, const std::vector<int64_t>& sample,
                         int64_t out_dims);
  // A fitted PCA from its parameters (as mean() and components() give them,
  // e.g. read back from files): Transform then computes what the original's
  // did, bitwise. Invalid when the sizes do not match the dimensions.
  static Result<Pca> FromParts(int64_t in_dims, int64_t out_dims, double explained_variance_ratio,
                               std::vector<float> mean, std::vector<float> components);

  int64_t in_dims() const { return in_dims_; }
  int64_t out_dims() const { return out_dims_; }
  // Share of the sample's total variance the kept components explain, in [0, 1].
  double explained_variance_ratio() const { return explained_; }
  // The mean of the normalised sample rows (in_dims) and the components
  // (in_dims x out_dims, row-major, columns by decreasing variance).
  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& components() const { return components_; }

  // Normalises the listed rows of `rows` (raw rows: NormalizedRow scales
  // each to unit length first) and projects them on the components: out gets
  // count x out_dims() floats.
  void Transform(const RowBlocks& rows, const int64_t* row_ids, int64_t count, float* out) const;

 private:
  int64_t in_dims_ = 0, out_dims_ = 0;
  double explained_ = 0;
  std::vector<float> mean_;        // in_dims, of the normalised sample rows
  std::vector<float> components_;  // in_dims x out_dims, row-major, columns by variance
};

// Copies row `src` (dim floats) to `dst` scaled to unit L2 norm; a zero row stays zero.
void NormalizedRow(const float* src, int64_t dim, float* dst);

}  // namespace sextant::map
