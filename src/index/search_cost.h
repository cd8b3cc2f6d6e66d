// The cost model behind nn_search = auto (docs/algorithms.md, "Exact or
// approximate: the cost model"): predicted seconds of an exact search and of
// an approximate (IVF) one for Q queries against N rows of width d, from a
// few machine constants measured once per machine and cached.
//
// Exact (CosineIndex::Build + Search: Faiss' IndexFlatIP, a blocked BLAS
// product, then each query's top k kept in a heap over every score):
//   exact_s = Q * N * (d / flat_macs + 1 / flat_select)
// The second term, one heap test per (query, row), dominates at small widths.
//
// Approximate (CosineIndex::BuildIvf, nlist = round(sqrt(N)), nprobe tuned):
//   build_s  = (iterations * T * c + N * nlist) * (d / build_macs + 1 / build_select)
//              T = min(N, 40 nlist, 131072) k-means rows; c = nlist below 512
//              cells, else 2 sqrt(nlist) (two-level k-means), plus N * nlist
//              for assigning every row to its cell
//   tune_s   = tq * N * u + tq * P * (N / nlist) * u,  u = d / ivf_macs + 1 / ivf_select
//              (tq = 512 sample rows: one scan of every cell for the exact
//              answers, then the nprobe steps tried, P their sum)
//   search_s = Q * nlist * (d / flat_macs + 1 / flat_select)   (coarse step)
//              + Q * nprobe * (N / nlist) * u                  (cell scan)
// with nprobe = the expected tuned value kExpectedNprobe(nlist) (the tuning
// cannot be known before the build; the value is pessimistic against the
// measured 2-6 on clustered embeddings).
//
// Decision (auto): exact when N < kMinApproximateRows (an IVF of fewer rows
// is one cell) or Q * N < kMinApproximatePairs (the exact search then takes
// a few seconds at most, and agrees perfectly): nothing is measured. Else
// approximate iff approximate_s * kApproximateMargin <= exact_s.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sextant/processing_options.h"
#include "sextant/status.h"

namespace sextant::index {

// Below this many training rows, or this many (query, row) pairs, auto
// searches exactly without consulting the model (no measurement, no cache
// file). Under 10,000 rows the IVF cells hold under 100 rows each and the
// drifted-flag agreement with exact was not measured (99.1% at 10,000 rows,
// the grid's smallest). Below 2e7 pairs the exact search takes a few tenths
// of a second at most: measuring the constants (0.5-0.7 s, once per machine)
// would cost more than any choice saves. At 2e8 (the first value) the quiet
// grid's 10,000-row cells with 1,000 queries (3e7 pairs with the reference
// sample) stayed exact at up to 1.5x the approximate search's time; the model
// chooses approximate there (bench/search_grid --replay, docs/benchmarks.md).
constexpr int64_t kMinApproximateRows = 10000;
constexpr double kMinApproximatePairs = 2e7;
// Approximate must be predicted at least this many times cheaper.
constexpr double kApproximateMargin = 1.2;
// The nprobe the model assumes the tuning reaches for `nlist` cells.
int32_t ExpectedNprobe(int64_t nlist);

// Rates measured by MeasureSearchCost. "macs": multiply-adds per second of
// the matrix products; "select": scores per second the top-k (or argmax)
// step consumes. Each pair is fitted from the same search at two widths.
struct SearchCostConstants {
  double flat_macs = 0, flat_select = 0;    // exact: Faiss flat search
  double ivf_macs = 0, ivf_select = 0;      // IVF: the cell scan
  double build_macs = 0, build_select = 0;  // IVF: k-means and assignment
  std::string fingerprint;                  // the machine they were measured on
  double measure_seconds = 0;               // what measuring took
  std::string source;                       // "measured", "cached" or "given"

  bool Valid() const;
};

// Predicted seconds of each way to search `queries` queries against `rows`
// rows of width `dim`.
struct SearchCostPrediction {
  int64_t rows = 0, dim = 0, queries = 0;
  int64_t nlist = 0;
  int32_t nprobe = 0;  // the expected tuned nprobe assumed
  double exact_s = 0;
  double build_s = 0, tune_s = 0, search_s = 0;
  double approximate_s = 0;  // build_s + tune_s + search_s
};

SearchCostPrediction PredictSearchCost(const SearchCostConstants& c, int64_t rows, int64_t dim,
                                       int64_t queries);

// The decision for a drift search, and why.
struct SearchChoice {
  bool approximate = false;
  // "forced", "small" (under kMinApproximateRows or kMinApproximatePairs),
  // "cost_model",
  // "auto_min_values" (the legacy rule, when a positive nn_auto_min_values
  // asks for it), "no_constants" (measuring failed: exact).
  std::string reason;
  std::optional<SearchCostConstants> constants;
  std::optional<SearchCostPrediction> prediction;
  // Set by ReviseAfterTuning: the tuned index's nprobe and the seconds left.
  int32_t tuned_nprobe = 0;
  double remaining_exact_s = 0, remaining_approximate_s = 0;
};

// Once an approximate index chosen by the model is built and tuned, its
// nlist and nprobe are known: compares what is left, the exact search of the
// queries against the approximate one at that nprobe (the build is spent, so
// without a margin), and switches `choice` to exact (reason
// "cost_model_revised") when exact is now cheaper, e.g. when the tuning had
// to visit most cells. Returns whether it switched. Only for reason
// "cost_model".
bool ReviseAfterTuning(SearchChoice* choice, int64_t nlist, int32_t nprobe);

// Supplies the machine's constants (MachineSearchCost by default; tests inject
// fixed ones).
using ConstantsFn = std::function<Result<SearchCostConstants>()>;

// How `method` searches `queries` queries against `rows` x `dim` training
// rows. A positive `auto_min_values` keeps the rule before the cost model
// (approximate from rows * dim >= auto_min_values); 0 uses the cost model.
SearchChoice ChooseSearch(NnSearch method, int64_t rows, int64_t dim, int64_t queries,
                          int64_t auto_min_values, const ConstantsFn& constants = {});

// The search choice's parameters ("cost_model" in the results' nn_search).
nlohmann::ordered_json SearchChoiceJson(const SearchChoice& choice);

// CPU model (/proc/cpuinfo), cores, OpenBLAS core name and the OpenMP and
// BLAS thread counts: the constants are re-measured when it changes.
std::string MachineFingerprint();

// Runs the micro-benchmark (about half a second on two idle cores), on random
// unit rows at widths 32 and 192: a flat search (1,024 queries, 4,096 rows),
// an assignment of 4,096 rows to 512 centroids (the build's products) and an
// IVF scan (2,048 queries, 4 of 16 cells of ~1,024 rows); widths alternate,
// best of three each.
Result<SearchCostConstants> MeasureSearchCost();

// The constants cached in `cache` for `fingerprint`; measured with `measure`
// and written to `cache` (atomically) when the file is missing, unreadable,
// corrupt or of another fingerprint. A failed write is not an error.
Result<SearchCostConstants> LoadOrMeasure(const std::filesystem::path& cache,
                                          const std::string& fingerprint,
                                          const ConstantsFn& measure);

// The cache file: $SEXTANT_COST_MODEL, else <$SEXTANT_HOME or ~/.sextant>/
// .sextant-cost-model.json.
std::filesystem::path DefaultCostModelPath();

// This machine's constants: LoadOrMeasure(DefaultCostModelPath(),
// MachineFingerprint(), MeasureSearchCost), once per process and fingerprint.
// Thread-safe.
Result<SearchCostConstants> MachineSearchCost();

}  // namespace sextant::index
