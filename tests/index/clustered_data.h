// Clustered synthetic embeddings for the index and drift tests: each cluster is
// a centre plus a low-rank spread (its own random basis) plus a little
// isotropic noise, as embeddings of a trained model tend to be. Deterministic.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "index/cosine_index.h"

namespace sextant::testing {

struct ClusteredSpec {
  int64_t dim = 48;
  int32_t clusters = 40;
  int32_t latent = 8;
  float spread = 0.35f;  // scale of the low-rank part
  float noise = 0.25f;   // scale of the isotropic part
  uint64_t model_seed = 7;
};

// `rows` unit rows. A `shifted` share of them come from displaced centres
// (each centre moved by `shift` times a random direction of the centre's norm).
inline std::vector<float> ClusteredRows(const ClusteredSpec& spec, int64_t rows, uint64_t seed,
                                        double shifted = 0.0, float shift = 1.0f) {
  const int64_t d = spec.dim;
  std::mt19937_64 model(spec.model_seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> centres(static_cast<size_t>(spec.clusters * d));
  std::vector<float> moved(centres.size());
  std::vector<float> bases(static_cast<size_t>(spec.clusters) * spec.latent * d);
  for (float& v : centres) v = normal(model);
  for (float& v : bases) v = normal(model) * spec.spread;
  for (size_t i = 0; i < moved.size(); ++i) moved[i] = centres[i] + shift * normal(model);

  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, spec.clusters - 1);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> out(static_cast<size_t>(rows * d));
  std::vector<float> z(static_cast<size_t>(spec.latent));
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t c = pick(rng);
    const bool is_shifted = coin(rng) < shifted;
    const float* centre = (is_shifted ? moved.data() : centres.data()) + c * d;
    for (float& v : z) v = normal(rng);
    float* x = out.data() + r * d;
    for (int64_t j = 0; j < d; ++j) x[j] = centre[j] + spec.noise * normal(rng);
    for (int32_t l = 0; l < spec.latent; ++l) {
      const float* b = bases.data() + (static_cast<int64_t>(c) * spec.latent + l) * d;
      for (int64_t j = 0; j < d; ++j) x[j] += z[l] * b[j];
    }
  }
  index::NormalizeRows(out.data(), rows, d);
  return out;
}

// recall@k of `got` against `truth` (both num_queries x k labels, -1 = none).
inline double RecallAtK(const std::vector<int64_t>& got, const std::vector<int64_t>& truth,
                        int64_t num_queries, int32_t k) {
  int64_t hit = 0, total = 0;
  for (int64_t q = 0; q < num_queries; ++q) {
    for (int32_t j = 0; j < k; ++j) {
      const int64_t t = truth[q * k + j];
      if (t < 0) continue;
      ++total;
      for (int32_t i = 0; i < k; ++i) {
        if (got[q * k + i] == t) {
          ++hit;
          break;
        }
      }
    }
  }
  return total ? static_cast<double>(hit) / static_cast<double>(total) : 1.0;
}

}  // namespace sextant::testing
