// Parameters of processing at finish. Every value used is stored with the
// results, so a summary always says how it was computed.
#pragma once

#include <cstdint>

namespace sextant {

struct ProcessingOptions {
  // A sample is on the class boundary when p2 / p1 >= this.
  double boundary_ratio_threshold = 0.5;
  // k of the k-core distance (distance to the k-th nearest training embedding).
  int32_t drift_k = 10;
  // Percentile of the training reference distribution that is the drift threshold.
  double drift_percentile = 0.95;
  // Threads for nearest-neighbour search; 0 means all cores.
  int32_t threads = 0;
  // Called with (stage name, done, total) during long stages; may be empty.
  void (*progress)(const char* stage, int64_t done, int64_t total, void* user) = nullptr;
  void* progress_user = nullptr;

  // The 2-D map (docs/algorithms.md): PCA, then UMAP, of all splits together.
  bool compute_map = true;
  // UMAP's neighbourhood size and minimum distance (Galileo's values).
  int32_t map_n_neighbors = 15;
  double map_min_dist = 0.25;
  // The layout is optimised on a seeded sample of at most this many samples
  // (0 = all); the others are placed at the weighted mean of their nearest
  // layout samples.
  int64_t map_max_points = 100000;
  uint64_t map_seed = 42;
};

}  // namespace sextant
