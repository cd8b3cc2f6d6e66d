#include "map/pca.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

// LAPACK's symmetric eigensolver (MRRR), from OpenBLAS. No LAPACKE header is
// installed, so the Fortran symbol is declared here; the trailing size_t
// arguments are gfortran's hidden lengths of the three character arguments.
extern "C" void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n,
                        double* a, const int* lda, const double* vl, const double* vu,
                        const int* il, const int* iu, const double* abstol, int* m, double* w,
                        double* z, const int* ldz, int* isuppz, double* work, const int* lwork,
                        int* iwork, const int* liwork, int* info, size_t, size_t, size_t);

namespace sextant::map {

void RowBlocks::Add(const float* data, int64_t rows) {
  if (rows <= 0) return;
  data_.push_back(data);
  offsets_.push_back(this->rows() + rows);
}

const float* RowBlocks::Row(int64_t i) const {
  const auto b =
      static_cast<size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), i) - offsets_.begin());
  const int64_t first = b == 0 ? 0 : offsets_[b - 1];
  return data_[b] + (i - first) * dim_;
}

void NormalizedRow(const float* src, int64_t dim, float* dst) {
  double norm2 = 0;
  for (int64_t j = 0; j < dim; ++j) norm2 += static_cast<double>(src[j]) * src[j];
  const double inv = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
  for (int64_t j = 0; j < dim; ++j) dst[j] = static_cast<float>(src[j] * inv);
}

Result<Pca> Pca::Fit(const RowBlocks& rows, const std::vector<int64_t>& sample, int64_t out_dims) {
  const int64_t d = rows.dim();
  if (sample.empty()) return Status::Invalid("pca: no rows to fit on");
  if (out_dims < 1 || out_dims > d) {
    return Status::Invalid("pca: " + std::to_string(out_dims) + " components of " +
                           std::to_string(d) + "-dimensional rows");
  }
  if (d > 46340) return Status::Invalid("pca: rows wider than 46340 are not supported");
  Pca pca;
  pca.in_dims_ = d;
  pca.out_dims_ = out_dims;

  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  std::vector<float> row(static_cast<size_t>(d));
  for (int64_t i : sample) {
    NormalizedRow(rows.Row(i), d, row.data());
    for (int64_t j = 0; j < d; ++j) mean[j] += row[j];
  }
  for (double& m : mean) m /= static_cast<double>(sample.size());

  // Covariance (up to the 1/(m-1) factor, irrelevant to the eigenvectors):
  // sum of outer products of centred rows, in chunks through dsyrk.
  constexpr int64_t kChunk = 2048;
  std::vector<double> cov(static_cast<size_t>(d * d), 0.0);
  std::vector<double> chunk(static_cast<size_t>(kChunk * d));
  for (size_t start = 0; start < sample.size(); start += kChunk) {
    const auto count = static_cast<int64_t>(std::min<size_t>(kChunk, sample.size() - start));
    for (int64_t r = 0; r < count; ++r) {
      NormalizedRow(rows.Row(sample[start + r]), d, row.data());
      for (int64_t j = 0; j < d; ++j) chunk[r * d + j] = row[j] - mean[j];
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(d), static_cast<int>(count),
                1.0, chunk.data(), static_cast<int>(d), 1.0, cov.data(), static_cast<int>(d));
  }
  double trace = 0;
  for (int64_t j = 0; j < d; ++j) trace += cov[j * d + j];

  // Upper triangle in row-major order is the lower one in LAPACK's column-major order.
  const int n = static_cast<int>(d), il = static_cast<int>(d - out_dims + 1), iu = n;
  const double vl = 0, vu = 0, abstol = 0;
  int found = 0, info = 0;
  std::vector<double> w(static_cast<size_t>(d)), z(static_cast<size_t>(d * out_dims));
  std::vector<int> isuppz(static_cast<size_t>(2 * out_dims));
  int lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0;
  dsyevr_("V", "I", "L", &n, cov.data(), &n, &vl, &vu, &il, &iu, &abstol, &found, w.data(),
          z.data(), &n, isuppz.data(), &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1, 1);
  if (info != 0)
    return Status::Internal("pca: dsyevr workspace query failed, info " + std::to_string(info));
  lwork = static_cast<int>(work_query);
  liwork = iwork_query;
  std::vector<double> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  dsyevr_("V", "I", "L", &n, cov.data(), &n, &vl, &vu, &il, &iu, &abstol, &found, w.data(),
          z.data(), &n, isuppz.data(), work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1, 1);
  if (info != 0 || found != out_dims) {
    return Status::Internal("pca: dsyevr failed, info " + std::to_string(info) + ", " +
                            std::to_string(found) + " of " + std::to_string(out_dims) +
                            " eigenvectors");
  }

  // dsyevr returns ascending eigenvalues; the components go by descending variance.
  pca.components_.assign(static_cast<size_t>(d * out_dims), 0.0f);
  double kept = 0;
  for (int64_t c = 0; c < out_dims; ++c) {
    const int64_t src = out_dims - 1 - c;
    const double* v = z.data() + src * d;
    kept += std::max(0.0, w[src]);
    int64_t arg = 0;
    for (int64_t j = 1; j < d; ++j) {
      if (std::abs(v[j]) > std::abs(v[arg])) arg = j;
    }
    const double sign = v[arg] < 0 ? -1.0 : 1.0;
    for (int64_t j = 0; j < d; ++j)
      pca.components_[j * out_dims + c] = static_cast<float>(sign * v[j]);
  }
  pca.explained_ = trace > 0 ? std::min(1.0, kept / trace) : 1.0;
  pca.mean_.assign(mean.begin(), mean.end());
  return pca;
}

Result<Pca> Pca::FromParts(int64_t in_dims, int64_t out_dims, double explained_variance_ratio,
                           std::vector<float> mean, std::vector<float> components) {
  if (in_dims < 1 || out_dims < 1 || out_dims > in_dims || in_dims > 46340) {
    return Status::Invalid("pca: " + std::to_string(out_dims) + " components of " +
                           std::to_string(in_dims) + "-dimensional rows");
  }
  if (static_cast<int64_t>(mean.size()) != in_dims ||
      static_cast<int64_t>(components.size()) != in_dims * out_dims) {
    return Status::Invalid("pca: mean of " + std::to_string(mean.size()) + " values and " +
                           std::to_string(components.size()) + " component values; expected " +
                           std::to_string(in_dims) + " and " + std::to_string(in_dims * out_dims));
  }
  Pca pca;
  pca.in_dims_ = in_dims;
  pca.out_dims_ = out_dims;
  pca.explained_ = explained_variance_ratio;
  pca.mean_ = std::move(mean);
  pca.components_ = std::move(components);
  return pca;
}

void Pca::Transform(const RowBlocks& rows, const int64_t* row_ids, int64_t count,
                    float* out) const {
  const int64_t d = in_dims_;
  constexpr int64_t kChunk = 4096;
  std::vector<float> chunk(static_cast<size_t>(std::min(kChunk, count) * d));
  for (int64_t start = 0; start < count; start += kChunk) {
    const int64_t m = std::min(kChunk, count - start);
    for (int64_t r = 0; r < m; ++r) {
      float* dst = chunk.data() + r * d;
      NormalizedRow(rows.Row(row_ids[start + r]), d, dst);
      for (int64_t j = 0; j < d; ++j) dst[j] -= mean_[j];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m),
                static_cast<int>(out_dims_), static_cast<int>(d), 1.0f, chunk.data(),
                static_cast<int>(d), components_.data(), static_cast<int>(out_dims_), 0.0f,
                out + start * out_dims_, static_cast<int>(out_dims_));
  }
}

}  // namespace sextant::map
