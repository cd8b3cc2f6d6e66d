#include "index/cosine_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>
#include <omp.h>

#include <cmath>
#include <thread>

namespace sextant::index {

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

void SetSearchThreads(int32_t threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  omp_set_num_threads(n);
}

Result<std::unique_ptr<CosineIndex>> CosineIndex::Build(const float* normalized, int64_t rows,
                                                        int64_t dim) {
  if (dim <= 0) return Status::Invalid("embeddings: width must be positive");
  std::unique_ptr<CosineIndex> out(new CosineIndex());
  try {
    out->index_ = std::make_unique<faiss::IndexFlatIP>(dim);
    out->index_->add(rows, normalized);
  } catch (const faiss::FaissException& e) {
    return Status::Internal(std::string("faiss: ") + e.what());
  }
  out->rows_ = rows;
  out->dim_ = dim;
  return out;
}

CosineIndex::~CosineIndex() = default;

Status CosineIndex::Search(const float* queries, int64_t num_queries, int32_t k, float* distances,
                           int64_t* labels) const {
  if (k <= 0) return Status::Invalid("k: must be at least 1");
  constexpr int64_t kBlock = 16384;
  try {
    for (int64_t start = 0; start < num_queries; start += kBlock) {
      const int64_t n = std::min(kBlock, num_queries - start);
      std::vector<faiss::Index::idx_t> ids(static_cast<size_t>(n * k));
      index_->search(n, queries + start * dim_, k, distances + start * k, ids.data());
      for (int64_t i = 0; i < n * k; ++i) {
        labels[start * k + i] = ids[i];
        // Inner product of unit vectors is the cosine similarity.
        distances[start * k + i] = ids[i] < 0 ? 2.0f : 1.0f - distances[start * k + i];
      }
    }
  } catch (const faiss::FaissException& e) {
    return Status::Internal(std::string("faiss: ") + e.what());
  }
  return Status::OK();
}

}  // namespace sextant::index
