#include "map/knn.h"

#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace sextant::map {

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

L2Index::~L2Index() = default;

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
      index_->search(n, queries + start * dim_, k, dist, ids.data());
      for (int64_t q = 0; q < n; ++q) {
        float* dq = dist + q * k;
        const faiss::Index::idx_t* iq = ids.data() + q * k;
        for (int32_t j = 0; j < k; ++j) {
          l_tmp[j] = iq[j];
          // Faiss gives squared distances; rounding can make them slightly negative.
          d_tmp[j] = iq[j] < 0 ? std::numeric_limits<float>::infinity()
                               : std::sqrt(std::max(0.0f, dq[j]));
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
