// The search-choice grid (issue 18): for training rows N, width d and scored
// queries Q, the drift work timed with forced exact search, forced
// approximate (IVF) search, and what nn_search = auto chooses (the cost model,
// index/search_cost.h) with its predictions next to the measured times, and
// the drifted-flag agreement of approximate with exact.
//
//   search_grid [--rows 10000,100000,1000000] [--dims 32,128,768]
//               [--queries 1000,100000] [--k 10] [--reference 2000]
//               [--max-exact-s 120] [--threads 0]
//   search_grid --replay OUTPUT [--reference R]
//       Reads the cells a run printed and decides auto again with this
//       machine's constants now (cached or measured): the forced timings do
//       not depend on them. For a model changed after a long run.
//
// Data: clustered synthetic embeddings generated in memory with fixed seeds,
// as bench/gen_data.py (200 clusters, a low-rank spread of min(48, d/2)
// dimensions, isotropic noise; the queries take 20% of their rows from
// displaced centres). Per (N, d), each method builds its index once and
// serves the cells of every Q; a cell's time is build + reference + scoring:
//   build      CosineIndex::Build (exact) or BuildIvf (nprobe tuned as drift tunes it)
//   reference  the training leave-one-out threshold from `reference` sampled
//              rows (drift::BuildSampledReference), as finish computes it
//   scoring    the k-core distances of the Q queries (drift::KCoreDistances)
// Auto's time is that of the method it chose, measured here: auto runs the
// same code once decided (the decision itself reads the cached constants).
// Forced exact scoring predicted over --max-exact-s (from the first 1,000
// queries) is timed on those queries and extrapolated linearly:
// "exact_s_extrapolated_from" says from how many; agreement is then measured
// on those queries.
//
// Prints one JSON object per cell (as soon as it is done), then a table.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "drift/knn_drift.h"
#include "drift/reference.h"
#include "index/cosine_index.h"
#include "index/search_cost.h"

namespace {

using nlohmann::ordered_json;
using namespace sextant;
using namespace sextant::bench;

std::vector<int64_t> List(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoll(item));
  return out;
}

// gen_data.py's model at width d: `rows` unit rows; a `shifted` share from
// displaced centres. Blocks of rows are generated in parallel, each from its
// own seed, so the data does not depend on the thread count.
std::vector<float> Clustered(int64_t rows, int64_t d, uint64_t seed, double shifted) {
  constexpr int64_t kClusters = 200;
  const int64_t latent = std::min<int64_t>(48, d / 2);
  std::mt19937_64 model(20240601 + static_cast<uint64_t>(d));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> centres(static_cast<size_t>(kClusters * d)), moved(centres.size());
  std::vector<float> bases(static_cast<size_t>(kClusters * latent * d));
  for (float& v : centres) v = normal(model);
  for (float& v : bases) v = 0.12f * normal(model);
  for (size_t i = 0; i < moved.size(); ++i) moved[i] = centres[i] + normal(model);
  std::vector<float> out(static_cast<size_t>(rows * d));
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < blocks; ++b) {
    std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(b));
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::uniform_int_distribution<int64_t> pick(0, kClusters - 1);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    std::vector<float> z(static_cast<size_t>(latent));
    for (int64_t i = b * kBlock; i < std::min(rows, (b + 1) * kBlock); ++i) {
      const int64_t c = pick(rng);
      const float* centre = (coin(rng) < shifted ? moved.data() : centres.data()) + c * d;
      float* x = out.data() + i * d;
      for (int64_t j = 0; j < d; ++j) x[j] = centre[j] + 0.25f * g(rng);
      for (float& v : z) v = g(rng);
      for (int64_t l = 0; l < latent; ++l) {
        const float* basis = bases.data() + (c * latent + l) * d;
        for (int64_t j = 0; j < d; ++j) x[j] += z[l] * basis[j];
      }
    }
  }
  index::NormalizeRows(out.data(), rows, d);
  return out;
}

struct MethodRun {
  double build_s = 0, reference_s = 0, threshold = 0;
  std::vector<double> score_s;            // per Q
  std::vector<int64_t> scored;            // queries actually scored per Q
  std::vector<std::vector<float>> kcore;  // per Q
  ordered_json index;
};

ordered_json IndexJson(const index::IndexInfo& i) {
  return {{"method", i.method},
          {"nlist", i.nlist},
          {"nprobe", i.nprobe},
          {"recall_estimate", i.recall_estimate},
          {"agreement_estimate", i.agreement_estimate},
          {"train_s", i.train_seconds},
          {"assign_s", i.assign_seconds},
          {"tune_s", i.tune_seconds}};
}

MethodRun Run(bool approximate, const std::vector<float>& train, int64_t n, int64_t d,
              const std::vector<float>& queries, const std::vector<int64_t>& qs, int32_t k,
              int64_t reference, double max_exact_s) {
  MethodRun r;
  auto start = Clock::now();
  index::IvfOptions ivf;
  ivf.tune_k = k;
  ivf.tune_percentile = 0.95;
  auto idx = Check(approximate ? index::CosineIndex::BuildIvf(train.data(), n, d, ivf)
                               : index::CosineIndex::Build(train.data(), n, d),
                   "index");
  r.build_s = Seconds(start);
  r.index = IndexJson(idx->info());
  start = Clock::now();
  const drift::ReferenceDistribution ref = Check(
      drift::BuildSampledReference(*idx, train.data(), k, 0.95, std::min(reference, n - 1), 7),
      "reference");
  r.reference_s = Seconds(start);
  r.threshold = ref.threshold;
  double per_query = 0;  // measured on the smallest Q
  for (int64_t q : qs) {
    int64_t nq = q;
    if (!approximate && per_query > 0 && per_query * static_cast<double>(q) > max_exact_s) {
      nq = qs.front();  // extrapolated from the first queries' time
    }
    start = Clock::now();
    std::vector<float> kc =
        Check(drift::KCoreDistances(*idx, queries.data(), nq, k, false), "scoring");
    const double t = Seconds(start);
    if (per_query == 0) per_query = t / static_cast<double>(nq);
    r.score_s.push_back(t * static_cast<double>(q) / static_cast<double>(nq));
    r.scored.push_back(nq);
    r.kcore.push_back(std::move(kc));
  }
  return r;
}

}  // namespace

// The table row of a cell.
void PrintRow(const ordered_json& c) {
  std::string exact = std::to_string(c["exact_s"].get<double>());
  if (c.contains("exact_s_extrapolated_from")) {
    exact += " (from " + std::to_string(c["exact_s_extrapolated_from"].get<int64_t>()) + " q)";
  }
  const std::string predicted = c.contains("predicted_exact_s")
                                    ? std::to_string(c["predicted_exact_s"].get<double>()) + " / " +
                                          std::to_string(c["predicted_approximate_s"].get<double>())
                                    : "- (small)";
  std::printf(
      "| %lld | %lld | %lld | %s | %.2f (%lld, %d) | %s | %.2f | %.2f%% | %s |\n",
      static_cast<long long>(c["rows"].get<int64_t>()),
      static_cast<long long>(c["dim"].get<int64_t>()),
      static_cast<long long>(c["queries"].get<int64_t>()), exact.c_str(),
      c["approximate_s"].get<double>(), static_cast<long long>(c["ivf"]["nlist"].get<int64_t>()),
      c["ivf"]["nprobe"].get<int>(), c["auto_choice"].get<std::string>().c_str(),
      c["auto_over_best"].get<double>(), 100 * c["agreement"].get<double>(), predicted.c_str());
}

void PrintHeader() {
  std::printf(
      "\n| N | d | Q | exact s | approximate s (nlist, nprobe) | auto | auto / best | agreement "
      "| predicted exact / approx s |\n|---|---|---|---|---|---|---|---|---|\n");
}

int Replay(const std::string& path, int64_t reference) {
  const index::SearchCostConstants constants =
      Check(index::MachineSearchCost(), "cost model constants");
  std::cout << index::SearchChoiceJson(
                   index::SearchChoice{false, "constants", constants, std::nullopt})
                   .dump()
            << std::endl;
  std::ifstream in(path);
  if (!in) Die("cannot read '" + path + "'");
  std::vector<ordered_json> cells;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    ordered_json c = ordered_json::parse(line, nullptr, false);
    if (c.is_discarded() || !c.contains("rows")) continue;
    const int64_t n = c["rows"], d = c["dim"], q = c["queries"];
    const int64_t ref = c.contains("reference") ? c["reference"].get<int64_t>() : reference;
    const index::SearchChoice choice =
        index::ChooseSearch(NnSearch::kAuto, n, d, q + std::min(ref, n - 1), 0,
                            [&]() -> Result<index::SearchCostConstants> { return constants; });
    const double exact_s = c["exact_s"], approx_s = c["approximate_s"];
    const double auto_s = choice.approximate ? approx_s : exact_s;
    c["run_auto_choice"] = c["auto_choice"];
    c["auto_choice"] = choice.approximate ? "approximate" : "exact";
    c["auto_reason"] = choice.reason;
    c["auto_s"] = auto_s;
    c["auto_over_best"] = auto_s / std::min(exact_s, approx_s);
    c.erase("predicted_exact_s");
    c.erase("predicted_approximate_s");
    if (choice.prediction) {
      c["predicted_exact_s"] = choice.prediction->exact_s;
      c["predicted_approximate_s"] = choice.prediction->approximate_s;
    }
    std::cout << c.dump() << std::endl;
    cells.push_back(c);
  }
  PrintHeader();
  for (const ordered_json& c : cells) PrintRow(c);
  return 0;
}

int main(int argc, char** argv) {
  ProgramName() = "search_grid";
  const std::string replay = Arg(argc, argv, "replay");
  if (!replay.empty()) return Replay(replay, std::stoll(Arg(argc, argv, "reference", "2000")));
  const std::vector<int64_t> rows = List(Arg(argc, argv, "rows", "10000,100000,1000000"));
  const std::vector<int64_t> dims = List(Arg(argc, argv, "dims", "32,128,768"));
  std::vector<int64_t> qs = List(Arg(argc, argv, "queries", "1000,100000"));
  std::sort(qs.begin(), qs.end());
  const auto k = static_cast<int32_t>(std::stoi(Arg(argc, argv, "k", "10")));
  const int64_t reference = std::stoll(Arg(argc, argv, "reference", "2000"));
  const double max_exact_s = std::stod(Arg(argc, argv, "max-exact-s", "120"));
  index::SetSearchThreads(std::stoi(Arg(argc, argv, "threads", "0")));

  // The machine's constants: measured here unless cached for this fingerprint.
  auto start = Clock::now();
  const index::SearchCostConstants constants =
      Check(index::MachineSearchCost(), "cost model constants");
  ordered_json head = {{"command", "search_grid"},
                       {"constants_s", Seconds(start)},
                       {"constants", index::SearchChoiceJson(index::SearchChoice{
                                         false, "constants", constants, std::nullopt})},
                       {"cache", index::DefaultCostModelPath().string()},
                       {"omp_threads", index::SearchThreads()},
                       {"openblas_core", BlasCore()}};
  std::cout << head.dump() << std::endl;

  std::vector<ordered_json> cells;
  for (int64_t n : rows) {
    for (int64_t d : dims) {
      const std::vector<float> queries =
          Clustered(qs.back(), d, 2 * static_cast<uint64_t>(d) + 1, 0.2);
      const std::vector<float> train = Clustered(n, d, static_cast<uint64_t>(d), 0.0);
      const MethodRun exact = Run(false, train, n, d, queries, qs, k, reference, max_exact_s);
      const MethodRun approx = Run(true, train, n, d, queries, qs, k, reference, max_exact_s);
      for (size_t i = 0; i < qs.size(); ++i) {
        const int64_t q = qs[i];
        // What auto decides for this drift work: the reference sample and the queries.
        const index::SearchChoice choice =
            index::ChooseSearch(NnSearch::kAuto, n, d, q + std::min(reference, n - 1), 0,
                                [&]() -> Result<index::SearchCostConstants> { return constants; });
        const double exact_s = exact.build_s + exact.reference_s + exact.score_s[i];
        const double approx_s = approx.build_s + approx.reference_s + approx.score_s[i];
        const double auto_s = choice.approximate ? approx_s : exact_s;
        const int64_t compared = exact.scored[i];
        int64_t same = 0;
        for (int64_t j = 0; j < compared; ++j) {
          same += (exact.kcore[i][j] > exact.threshold) == (approx.kcore[i][j] > approx.threshold);
        }
        ordered_json cell = {
            {"rows", n},
            {"dim", d},
            {"queries", q},
            {"exact_s", exact_s},
            {"exact_parts_s", {exact.build_s, exact.reference_s, exact.score_s[i]}},
            {"approximate_s", approx_s},
            {"approximate_parts_s", {approx.build_s, approx.reference_s, approx.score_s[i]}},
            {"auto_choice", choice.approximate ? "approximate" : "exact"},
            {"auto_reason", choice.reason},
            {"auto_s", auto_s},
            {"auto_over_best", auto_s / std::min(exact_s, approx_s)},
            {"agreement", static_cast<double>(same) / static_cast<double>(compared)},
            {"agreement_queries", compared},
            {"ivf", approx.index}};
        if (compared < q) cell["exact_s_extrapolated_from"] = compared;
        if (choice.prediction) {
          cell["predicted_exact_s"] = choice.prediction->exact_s;
          cell["predicted_approximate_s"] = choice.prediction->approximate_s;
        }
        std::cout << cell.dump() << std::endl;
        cells.push_back(cell);
      }
    }
  }
  PrintHeader();
  for (const ordered_json& c : cells) PrintRow(c);
  return 0;
}
