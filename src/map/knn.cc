#include "map/knn.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/random.h"

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

Result<std::unique_ptr<L2Index>> L2Index::BuildIvf(const float* data, int64_t rows, int64_t dim,
                                                   const IvfL2Options& o) {
  if (dim <= 0) return Status::Invalid("map: vector width must be positive");
  if (o.k <= 0) return Status::Invalid("map: k must be at least 1");
  int64_t nlist =
      o.nlist > 0 ? o.nlist : static_cast<int64_t>(4.0 * std::sqrt(static_cast<double>(rows)));
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
    ivf->train(rows, data);
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
    for (int64_t probe = 4; probe < nlist; probe = probe < 8 ? probe + 2 : probe * 3 / 2) {
      ivf->nprobe = static_cast<size_t>(probe);
      ivf->search(nq, queries.data(), k, d_ivf.data(), l_ivf.data());
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
      index_->search(n, queries + start * dim_, k, dist, ids.data());
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
