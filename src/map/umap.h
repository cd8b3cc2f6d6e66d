// The 2-D map: PCA to at most 100 dimensions, then UMAP to two (McInnes,
// Healy, Melville 2018, "UMAP: Uniform Manifold Approximation and Projection
// for Dimension Reduction", arXiv:1802.03426), written on a Faiss neighbour
// graph (exact, or IVF with a measured recall for large maps). docs/algorithms.md describes each
// step and its figures.
//
// Deterministic: the same rows, options and seed give bitwise the same map
// on the same machine, whatever the number of OpenMP threads: the layout's
// SGD gives each point's updates to one thread, reading the other points
// where the previous epoch left them, with negatives drawn from a generator
// seeded by (seed, epoch, point); the IVF search answers each query on one
// thread. (BLAS, in the PCA, and Faiss' k-means are deterministic too.)
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "map/knn.h"
#include "map/pca.h"
#include "sextant/processing_options.h"
#include "sextant/status.h"

namespace sextant::map {

struct PlacementModel;

struct MapOptions {
  // UMAP's neighbourhood size, counting the point itself (as umap-learn does).
  int32_t n_neighbors = 15;
  // Smallest distance between points in the map, relative to `spread`.
  double min_dist = 0.25;
  double spread = 1.0;
  // PCA keeps min(pca_dims, embedding width) components, fitted on a seeded
  // sample of at most pca_fit_points rows.
  int64_t pca_dims = 100;
  int64_t pca_fit_points = 20000;
  // SGD epochs; 0 means umap-learn's 500 for at most 10,000 layout points,
  // else 5,000,000 / layout points within [50, 500] (50 at 100,000 points):
  // the layout costs points x epochs, and large layouts keep their quality
  // with fewer epochs (docs/algorithms.md has the measurements).
  int32_t epochs = 0;
  int32_t negative_sample_rate = 5;
  double learning_rate = 1.0;
  // The layout is optimised on at most this many points (a seeded sample);
  // every other point is placed at the membership-weighted mean of its
  // n_neighbors nearest layout points. 0 means no limit.
  int64_t max_points = 50000;  // as ProcessingOptions::map_max_points
  uint64_t seed = 42;
  // The kNN graph: exact (Faiss flat), approximate (Faiss IVF, nprobe tuned to
  // knn_target_recall, see map/knn.h), or auto: approximate above
  // knn_auto_min_points layout points, where the exact graph's quadratic cost dominates.
  NnSearch knn = NnSearch::kAuto;
  int64_t knn_auto_min_points = 20000;
  double knn_target_recall = 0.95;
  // Called with (epochs done, epochs total) during the layout; may be empty.
  std::function<void(int64_t, int64_t)> progress;
  // Places the rows beyond the layout sample: given the model and `rest` (the
  // rows not in the layout, ascending), writes rest.size() x 2 coordinates in
  // rest's order to `placed`, as PlaceRows(model, rows, rest, 0, rest.size(),
  // placed) does. Empty: that call, in this process. A finish with a shard
  // executor runs it as shard tasks (processing/run_map.cc).
  std::function<Status(const PlacementModel& model, const std::vector<int64_t>& rest,
                       float* placed)>
      place;
};

// How a map was computed, for the run's parameters.
struct MapInfo {
  int64_t points = 0;          // rows mapped
  int64_t layout_points = 0;   // rows in the optimised layout
  int64_t placed_points = 0;   // rows placed from their neighbours afterwards
  int64_t pca_dims = 0;        // components kept
  int64_t pca_fit_points = 0;  // rows the PCA was fitted on
  double pca_explained_variance = 0;
  int32_t n_neighbors = 0;  // as used (at most the number of layout points)
  int32_t epochs = 0;
  double a = 0, b = 0;  // the fitted output kernel 1 / (1 + a d^(2b))
  int64_t edges = 0;    // directed edges of the symmetrised fuzzy graph
  bool knn_approximate = false;
  int64_t knn_nlist = 0;  // 0 when exact
  int32_t knn_nprobe = 0;
  double knn_recall_estimate = 1.0;  // recall@n_neighbors measured on a sample; 1 when exact
  double seconds_pca = 0, seconds_knn = 0, seconds_graph = 0, seconds_layout = 0, seconds_place = 0,
         seconds = 0;
  double cpu_seconds = 0;  // CPU time of the whole process meanwhile (all threads)
};

struct MapResult {
  std::vector<float> coords;  // rows x 2, row-major, in input row order
  MapInfo info;
  // What places further rows on this map (PlaceRows): the PCA, the index of
  // the layout points and their coordinates, built whether or not any row was
  // placed. Null for zero rows. A later finish keeps it to place new rows
  // without moving the layout (processing/run_map.h).
  std::shared_ptr<PlacementModel> model;
};

// What places a row beyond the layout sample (the last step of ComputeMap):
// the PCA, the layout points in PCA space (searched for each row's k nearest)
// and their 2-D coordinates. Written to files by the driver of a distributed
// finish and read back by its workers.
struct PlacementModel {
  Pca pca;
  std::unique_ptr<L2Index> index;  // layout points x pca.out_dims()
  std::vector<float> layout;       // layout points x 2, the optimised coordinates
  int32_t k = 0;                   // neighbours per placed row
};

// Rows a placement reads and searches together: ranges of the placement list
// that start at multiples of it make the same PCA and search calls as one
// PlaceRows over the whole list (a multiple of the searches' 16384-row block).
constexpr int64_t kPlaceChunk = 16384;

// The 2-D positions of rows rest[begin], ..., rest[end - 1] of `rows` (raw
// rows: the PCA normalises them): the membership-weighted mean of each row's
// k nearest layout points, (0, 0) when none is found. `out` gets
// (end - begin) x 2 floats. Works in chunks of kPlaceChunk positions from
// `begin`. Invalid for a range outside `rest`, a row outside `rows` or rows
// of another width than the PCA's.
Status PlaceRows(const PlacementModel& model, const RowBlocks& rows,
                 const std::vector<int64_t>& rest, int64_t begin, int64_t end, float* out);

// Writes the model into `folder` (created when missing): pca_mean.npy,
// pca_components.npy, layout_index.faiss, layout_coords.npy and, last,
// placement.json (k, the dimensions, the index's recall estimate). Returns
// the names of the files written, relative to `folder`.
Result<std::vector<std::string>> WritePlacementModel(const PlacementModel& model,
                                                     const std::filesystem::path& folder);
// Reads a model written by WritePlacementModel: PlaceRows with it gives
// bitwise the written model's positions. NotFound for a missing file;
// Invalid, naming the file, for one that does not fit the others.
Result<PlacementModel> ReadPlacementModel(const std::filesystem::path& folder);

// Maps every row of `rows` to 2-D. Zero rows, duplicates and fewer rows than
// n_neighbors are allowed (one row maps to (0, 0)); the output is always finite.
Result<MapResult> ComputeMap(const RowBlocks& rows, const MapOptions& options);

// The same for one contiguous n x d array; returns n x 2 coordinates.
Result<std::vector<float>> Umap2D(const float* embeddings, int64_t n, int64_t d,
                                  const MapOptions& options);

// ---- stages, exposed for tests --------------------------------------------------

// a and b of the map's kernel 1 / (1 + a x^(2b)), least-squares fitted
// (Levenberg-Marquardt) to 1 for x < min_dist and exp(-(x - min_dist) / spread)
// beyond, on 300 points of [0, 3 spread], as umap-learn's find_ab_params does.
struct Curve {
  double a = 0, b = 0;
};
Curve FitCurve(double spread, double min_dist);

// UMAP's per-point scales: rho = distance to the nearest neighbour at a
// positive distance, sigma such that sum_j exp(-max(0, d_j - rho) / sigma) =
// log2(k + 1) over the point's k neighbours (the +1 counts the point itself).
// `dist` holds k ascending distances; +inf entries (missing neighbours) are ignored.
void SmoothDistances(const float* dist, int32_t k, float* rho, float* sigma);

// The fuzzy simplicial set of a kNN graph (k neighbours per row, self
// excluded, label -1 = missing): directed memberships exp(-(d - rho) / sigma),
// symmetrised with the fuzzy union w = a + b - a b. Returns each undirected
// edge in both directions, sorted by (head, tail).
struct FuzzyGraph {
  std::vector<int32_t> head, tail;
  std::vector<float> weight;
};
FuzzyGraph BuildFuzzyGraph(const float* dist, const int64_t* labels, int64_t n, int32_t k);

}  // namespace sextant::map
