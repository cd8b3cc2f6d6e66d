#include "index/search_cost.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "index/cosine_index.h"

namespace sextant::index {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kCacheFormat = 1;
constexpr int32_t kSearchK = 11;  // drift's k = 10, plus the row itself when leaving one out
// BuildIvf's and TuneNprobe's defaults, as the model needs them.
constexpr int32_t kKmeansIterations = 10;
constexpr int64_t kTuneQueries = 512;
constexpr int64_t kHierarchicalFrom = 512;
// Sum of the nprobe steps TuneNprobe tries up to p (1, 2, 3, 4, 6, 8, ...): about 3.3 p.
constexpr double kTriedNprobeFactor = 3.3;

bool Positive(double v) { return std::isfinite(v) && v > 0; }

double Elapsed(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Fits seconds = pairs * (d / macs + 1 / select) from the same work at two
// widths. Noise can make the difference negative: each rate is kept within
// plausible bounds rather than trusted blindly.
void Fit(double pairs, double d_lo, double t_lo, double d_hi, double t_hi, double* macs,
         double* select) {
  const double per_lo = t_lo / pairs, per_hi = t_hi / pairs;
  double per_mac = (per_hi - per_lo) / (d_hi - d_lo);
  per_mac = std::max(per_mac, per_hi / d_hi * 0.05);  // at least 5% of the wide run is products
  double per_select = per_lo - d_lo * per_mac;
  per_select = std::max(per_select, per_lo * 0.05);
  *macs = 1.0 / per_mac;
  *select = 1.0 / per_select;
}

// `rows` random unit rows of width `dim` (Gaussian directions), seeded.
std::vector<float> RandomUnitRows(int64_t rows, int64_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(static_cast<size_t>(rows * dim));
  for (float& v : out) v = normal(rng);
  NormalizeRows(out.data(), rows, dim);
  return out;
}

// The first `dim` columns of `wide` (rows x wide_dim), as unit rows.
std::vector<float> Narrow(const std::vector<float>& wide, int64_t rows, int64_t wide_dim,
                          int64_t dim) {
  std::vector<float> out(static_cast<size_t>(rows * dim));
  for (int64_t i = 0; i < rows; ++i) {
    std::copy_n(wide.data() + i * wide_dim, dim, out.data() + i * dim);
  }
  NormalizeRows(out.data(), rows, dim);
  return out;
}

std::string ReadCpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
      }
    }
  }
  return "unknown";
}

nlohmann::ordered_json ConstantsJson(const SearchCostConstants& c) {
  return {{"flat_macs", c.flat_macs},   {"flat_select", c.flat_select},
          {"ivf_macs", c.ivf_macs},     {"ivf_select", c.ivf_select},
          {"build_macs", c.build_macs}, {"build_select", c.build_select}};
}

// The constants in a cache file's text for `fingerprint`, if it holds them.
std::optional<SearchCostConstants> ParseCache(const std::string& text,
                                              const std::string& fingerprint) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto num = [&](const nlohmann::json& o, const char* key) -> double {
    const auto it = o.find(key);
    return it != o.end() && it->is_number() ? it->get<double>() : -1.0;
  };
  const auto format = j.find("format");
  const auto fp = j.find("fingerprint");
  const auto constants = j.find("constants");
  if (format == j.end() || !format->is_number_integer() || format->get<int>() != kCacheFormat ||
      fp == j.end() || !fp->is_string() || fp->get<std::string>() != fingerprint ||
      constants == j.end() || !constants->is_object()) {
    return std::nullopt;
  }
  SearchCostConstants c;
  c.flat_macs = num(*constants, "flat_macs");
  c.flat_select = num(*constants, "flat_select");
  c.ivf_macs = num(*constants, "ivf_macs");
  c.ivf_select = num(*constants, "ivf_select");
  c.build_macs = num(*constants, "build_macs");
  c.build_select = num(*constants, "build_select");
  c.measure_seconds = std::max(0.0, num(j, "measure_seconds"));
  c.fingerprint = fingerprint;
  c.source = "cached";
  if (!c.Valid()) return std::nullopt;
  return c;
}

}  // namespace

bool SearchCostConstants::Valid() const {
  return Positive(flat_macs) && Positive(flat_select) && Positive(ivf_macs) &&
         Positive(ivf_select) && Positive(build_macs) && Positive(build_select);
}

int32_t ExpectedNprobe(int64_t nlist) {
  return static_cast<int32_t>(
      std::min<int64_t>(std::max<int64_t>(nlist, 1), std::max<int64_t>(8, nlist / 64)));
}

SearchCostPrediction PredictSearchCost(const SearchCostConstants& c, int64_t rows, int64_t dim,
                                       int64_t queries) {
  SearchCostPrediction p;
  p.rows = rows;
  p.dim = dim;
  p.queries = queries;
  const double n = static_cast<double>(rows), d = static_cast<double>(dim),
               q = static_cast<double>(queries);
  const double flat = d / c.flat_macs + 1.0 / c.flat_select;  // seconds per (query, row)
  const double ivf = d / c.ivf_macs + 1.0 / c.ivf_select;
  const double build = d / c.build_macs + 1.0 / c.build_select;
  p.exact_s = q * n * flat;

  p.nlist = DefaultNlist(rows);
  p.nprobe = ExpectedNprobe(p.nlist);
  const double nlist = static_cast<double>(p.nlist);
  const double cell = n / nlist;
  if (p.nlist > 1) {
    const double train = std::min({n, 40.0 * nlist, 131072.0});
    const double per_point = p.nlist < kHierarchicalFrom ? nlist : 2.0 * std::sqrt(nlist);
    p.build_s = (kKmeansIterations * train * per_point + n * nlist) * build;
    const double tq = std::min(n, static_cast<double>(kTuneQueries));
    p.tune_s = tq * n * ivf + tq * kTriedNprobeFactor * p.nprobe * cell * ivf + tq * nlist * flat;
  }
  p.search_s = q * nlist * flat + q * p.nprobe * cell * ivf;
  p.approximate_s = p.build_s + p.tune_s + p.search_s;
  return p;
}

SearchChoice ChooseSearch(NnSearch method, int64_t rows, int64_t dim, int64_t queries,
                          int64_t auto_min_values, const ConstantsFn& constants) {
  SearchChoice out;
  if (method != NnSearch::kAuto) {
    out.approximate = method == NnSearch::kApproximate;
    out.reason = "forced";
    return out;
  }
  if (auto_min_values > 0) {
    out.approximate = rows * dim >= auto_min_values;
    out.reason = "auto_min_values";
    return out;
  }
  if (rows < kMinApproximateRows ||
      static_cast<double>(rows) * static_cast<double>(queries) < kMinApproximatePairs) {
    out.reason = "small";
    return out;
  }
  Result<SearchCostConstants> c = constants ? constants() : MachineSearchCost();
  if (!c.ok() || !c->Valid()) {
    out.reason = "no_constants";
    return out;
  }
  out.constants = *c;
  out.prediction = PredictSearchCost(*c, rows, dim, queries);
  out.approximate = out.prediction->approximate_s * kApproximateMargin <= out.prediction->exact_s;
  out.reason = "cost_model";
  return out;
}

bool ReviseAfterTuning(SearchChoice* choice, int64_t nlist, int32_t nprobe) {
  if (choice->reason != "cost_model" || !choice->approximate || !choice->prediction ||
      !choice->constants || nlist <= 1) {
    return false;
  }
  const SearchCostConstants& c = *choice->constants;
  const SearchCostPrediction& p = *choice->prediction;
  const double n = static_cast<double>(p.rows), d = static_cast<double>(p.dim),
               q = static_cast<double>(p.queries), cells = static_cast<double>(nlist);
  const double flat = d / c.flat_macs + 1.0 / c.flat_select;
  const double ivf = d / c.ivf_macs + 1.0 / c.ivf_select;
  choice->tuned_nprobe = nprobe;
  choice->remaining_exact_s = q * n * flat;
  choice->remaining_approximate_s = q * cells * flat + q * nprobe * (n / cells) * ivf;
  if (choice->remaining_exact_s > choice->remaining_approximate_s) return false;
  choice->approximate = false;
  choice->reason = "cost_model_revised";
  return true;
}

nlohmann::ordered_json SearchChoiceJson(const SearchChoice& choice) {
  nlohmann::ordered_json j = {{"choice", choice.approximate ? "approximate" : "exact"},
                              {"reason", choice.reason}};
  if (choice.prediction) {
    const SearchCostPrediction& p = *choice.prediction;
    j["queries"] = p.queries;
    j["predicted_exact_s"] = p.exact_s;
    j["predicted_approximate_s"] = p.approximate_s;
    j["predicted_parts_s"] = {{"build", p.build_s}, {"tune", p.tune_s}, {"search", p.search_s}};
    j["assumed_nlist"] = p.nlist;
    j["assumed_nprobe"] = p.nprobe;
    j["margin"] = kApproximateMargin;
  }
  if (choice.tuned_nprobe > 0) {
    j["tuned_nprobe"] = choice.tuned_nprobe;
    j["remaining_exact_s"] = choice.remaining_exact_s;
    j["remaining_approximate_s"] = choice.remaining_approximate_s;
  }
  if (choice.constants) {
    j["constants"] = ConstantsJson(*choice.constants);
    j["constants_source"] = choice.constants->source;
    j["fingerprint"] = choice.constants->fingerprint;
  }
  return j;
}

std::string MachineFingerprint() {
  return ReadCpuModel() + "; cores " + std::to_string(std::thread::hardware_concurrency()) +
         "; blas " + BlasCoreName() + "; omp threads " + std::to_string(SearchThreads()) +
         "; blas threads " + std::to_string(BlasThreadCount());
}

Result<SearchCostConstants> MeasureSearchCost() {
  const auto start = Clock::now();
  constexpr int64_t kWide = 192, kNarrow = 32;
  // The narrow and the wide run alternate, best of kRuns each: on a shared
  // machine a slow spell then hits both widths alike instead of one.
  constexpr int kRuns = 3;
  auto best_of = [&](const std::function<Status(bool wide)>& run, double* lo,
                     double* hi) -> Status {
    *lo = *hi = 1e300;
    for (int r = 0; r < kRuns; ++r) {
      for (bool wide : {false, true}) {
        const auto t = Clock::now();
        SEXTANT_RETURN_IF_ERROR(run(wide));
        double& best = wide ? *hi : *lo;
        best = std::min(best, Elapsed(t));
      }
    }
    return Status::OK();
  };
  SearchCostConstants c;
  double t_lo = 0, t_hi = 0;
  // The k-nearest searches of `queries` narrow and wide queries, into t_lo and t_hi.
  auto time_searches = [&](const CosineIndex& lo, const CosineIndex& hi,
                           const std::vector<float>& q_lo, const std::vector<float>& q_hi,
                           int64_t queries) -> Status {
    std::vector<float> dist(static_cast<size_t>(queries * kSearchK));
    std::vector<int64_t> labels(dist.size());
    return best_of(
        [&](bool wide) {
          return (wide ? hi : lo)
              .Search((wide ? q_hi : q_lo).data(), queries, kSearchK, dist.data(), labels.data());
        },
        &t_lo, &t_hi);
  };
  // Exact: a flat search of 1,024 queries over 4,096 rows.
  {
    constexpr int64_t kRows = 4096, kQueries = 1024;
    const std::vector<float> rows_hi = RandomUnitRows(kRows, kWide, 11);
    const std::vector<float> q_hi = RandomUnitRows(kQueries, kWide, 12);
    const std::vector<float> q_lo = Narrow(q_hi, kQueries, kWide, kNarrow);
    SEXTANT_ASSIGN_OR_RETURN(
        auto idx_lo,
        CosineIndex::Build(Narrow(rows_hi, kRows, kWide, kNarrow).data(), kRows, kNarrow));
    SEXTANT_ASSIGN_OR_RETURN(auto idx_hi, CosineIndex::Build(rows_hi.data(), kRows, kWide));
    SEXTANT_RETURN_IF_ERROR(time_searches(*idx_lo, *idx_hi, q_lo, q_hi, kQueries));
    Fit(static_cast<double>(kRows * kQueries), kNarrow, t_lo, kWide, t_hi, &c.flat_macs,
        &c.flat_select);
  }
  // The IVF build's products: assigning 4,096 rows to 512 centroids, as
  // k-means and the assignment of every row do (a product, then an argmax).
  {
    constexpr int64_t kRows = 4096, kCentroids = 512;
    const std::vector<float> rows_hi = RandomUnitRows(kRows, kWide, 31);
    const std::vector<float> cent_hi = RandomUnitRows(kCentroids, kWide, 32);
    const std::vector<float> rows_lo = Narrow(rows_hi, kRows, kWide, kNarrow);
    const std::vector<float> cent_lo = Narrow(cent_hi, kCentroids, kWide, kNarrow);
    std::vector<int64_t> cell(static_cast<size_t>(kRows));
    SEXTANT_RETURN_IF_ERROR(best_of(
        [&](bool wide) {
          AssignToCells((wide ? cent_hi : cent_lo).data(), kCentroids, wide ? kWide : kNarrow,
                        (wide ? rows_hi : rows_lo).data(), kRows, cell.data());
          return Status::OK();
        },
        &t_lo, &t_hi));
    Fit(static_cast<double>(kRows * kCentroids), kNarrow, t_lo, kWide, t_hi, &c.build_macs,
        &c.build_select);
  }
  // The IVF scan: 16,384 rows in 16 cells of about 1,024 rows (the cell size
  // of sqrt(N) cells at N = 1,000,000), 2,048 queries visiting 4 cells each.
  {
    constexpr int64_t kRows = 16384, kQueries = 2048, kNlist = 16;
    constexpr int32_t kNprobe = 4;
    const std::vector<float> rows_hi = RandomUnitRows(kRows, kWide, 21);
    const std::vector<float> q_hi = RandomUnitRows(kQueries, kWide, 22);
    const std::vector<float> q_lo = Narrow(q_hi, kQueries, kWide, kNarrow);
    IvfOptions o;
    o.nlist = kNlist;
    o.nprobe = kNprobe;
    o.kmeans_iterations = 2;
    SEXTANT_ASSIGN_OR_RETURN(
        auto idx_lo,
        CosineIndex::BuildIvf(Narrow(rows_hi, kRows, kWide, kNarrow).data(), kRows, kNarrow, o));
    SEXTANT_ASSIGN_OR_RETURN(auto idx_hi, CosineIndex::BuildIvf(rows_hi.data(), kRows, kWide, o));
    SEXTANT_RETURN_IF_ERROR(time_searches(*idx_lo, *idx_hi, q_lo, q_hi, kQueries));
    const double scan_pairs = double{kQueries} * kNprobe * (double{kRows} / kNlist);
    Fit(scan_pairs, kNarrow, t_lo, kWide, t_hi, &c.ivf_macs, &c.ivf_select);
  }
  c.measure_seconds = Elapsed(start);
  c.source = "measured";
  if (!c.Valid()) return Status::Internal("search cost: the measured rates are not positive");
  return c;
}

Result<SearchCostConstants> LoadOrMeasure(const std::filesystem::path& cache,
                                          const std::string& fingerprint,
                                          const ConstantsFn& measure) {
  if (!cache.empty()) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(cache, ec)) {
      Result<std::string> text = ReadFileToString(cache);
      if (text.ok()) {
        if (std::optional<SearchCostConstants> c = ParseCache(*text, fingerprint)) return *c;
      }
    }
  }
  SEXTANT_ASSIGN_OR_RETURN(SearchCostConstants c, measure());
  c.fingerprint = fingerprint;
  if (!cache.empty()) {
    nlohmann::ordered_json j = {{"format", kCacheFormat},
                                {"fingerprint", fingerprint},
                                {"measured_at", static_cast<int64_t>(std::time(nullptr))},
                                {"measure_seconds", c.measure_seconds},
                                {"constants", ConstantsJson(c)}};
    // A cache that cannot be written costs a re-measurement next process, nothing more.
    std::error_code ec;
    std::filesystem::create_directories(cache.parent_path(), ec);
    (void)WriteFileAtomic(cache, j.dump(2) + "\n");
  }
  return c;
}

std::filesystem::path DefaultCostModelPath() {
  if (const char* p = std::getenv("SEXTANT_COST_MODEL"); p != nullptr && *p != '\0') return p;
  std::filesystem::path root;
  if (const char* h = std::getenv("SEXTANT_HOME"); h != nullptr && *h != '\0') {
    root = h;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    root = std::filesystem::path(home) / ".sextant";
  } else {
    return {};
  }
  return root / ".sextant-cost-model.json";
}

Result<SearchCostConstants> MachineSearchCost() {
  static std::mutex mu;
  static std::map<std::string, SearchCostConstants> known;
  const std::string fingerprint = MachineFingerprint();
  std::lock_guard<std::mutex> lock(mu);  // one measurement at a time, never two at once
  if (auto it = known.find(fingerprint); it != known.end()) return it->second;
  SEXTANT_ASSIGN_OR_RETURN(SearchCostConstants c,
                           LoadOrMeasure(DefaultCostModelPath(), fingerprint, MeasureSearchCost));
  known[fingerprint] = c;
  return c;
}

}  // namespace sextant::index
