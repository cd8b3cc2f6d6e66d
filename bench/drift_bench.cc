// Sextant's drift scoring and nearest-neighbour search on .npy embeddings,
// timed stage by stage, for bench/run.sh (which compares the results with
// python3-faiss, scikit-learn and hnswlib on the same arrays in the same run).
//
//   drift_bench exact --train T.npy --queries Q.npy [--nq N] [--k 10] [--repeat R]
//       Sextant's exact drift scoring of the first N queries (normalize,
//       k-core distances, percentile ranks, flags) against the raw Faiss
//       IndexFlatIP search it performs, alternated R times; the best of each.
//   drift_bench drift --train T.npy --queries Q.npy --method auto|exact|approximate
//                     [--reference-rows S] [--k 10] [--out DIR] [--labels-for N]
//       What finish does for drift: normalize, build the index, the
//       leave-one-out reference of S training rows, score every query. Writes
//       DIR/kcore.npy (each query's k-core distance), DIR/ref_kcore.npy,
//       DIR/labels.npy (the k neighbours of the first N queries).
//
// Every command prints one JSON object on stdout: timings in seconds, the
// index used, peak resident memory (getrusage), threads and the OpenBLAS kernel.
#include <dlfcn.h>
#include <faiss/IndexFlat.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "drift/knn_drift.h"
#include "index/cosine_index.h"
#include "io/npy.h"
#include "sextant/processing_options.h"

namespace {

using nlohmann::ordered_json;
using namespace sextant;
using namespace sextant::bench;

ordered_json Environment() {
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  const char* l2 = std::getenv("OPENBLAS_L2_SIZE");
  return {{"peak_rss_mib", PeakRssMib()},
          {"omp_threads", index::SearchThreads()},
          {"openblas_core", BlasCore()},
          {"OPENBLAS_CORETYPE", core ? ordered_json(core) : ordered_json(nullptr)},
          {"OPENBLAS_L2_SIZE", l2 ? ordered_json(l2) : ordered_json(nullptr)}};
}

struct Args {
  std::map<std::string, std::string> kv;
  std::string Get(const std::string& key, const std::string& fallback = "") const {
    auto it = kv.find(key);
    return it == kv.end() ? fallback : it->second;
  }
  int64_t Int(const std::string& key, int64_t fallback) const {
    auto it = kv.find(key);
    return it == kv.end() ? fallback : std::stoll(it->second);
  }
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) Die("bad argument '" + key + "'");
    a.kv[key.substr(2)] = argv[++i];
  }
  return a;
}

// Reads rows [0, limit) of a .npy (all when limit <= 0), as float32.
io::FloatMatrix Load(const std::string& path, int64_t limit = 0) {
  if (path.empty()) Die("missing an input path");
  io::FloatMatrix m = Check(io::ReadNpyAsFloat32(path), "reading embeddings");
  if (limit > 0 && limit < m.rows) {
    m.data.resize(static_cast<size_t>(limit * m.cols));
    m.data.shrink_to_fit();
    m.rows = limit;
  }
  return m;
}

ordered_json IndexJson(const index::CosineIndex& idx) {
  const index::IndexInfo& i = idx.info();
  return {{"method", i.method},           {"nlist", i.nlist},
          {"nprobe", i.nprobe},           {"recall_estimate", i.recall_estimate},
          {"recall_k", i.recall_k},       {"agreement_estimate", i.agreement_estimate},
          {"build_s", i.build_seconds},   {"train_s", i.train_seconds},
          {"assign_s", i.assign_seconds}, {"tune_s", i.tune_seconds}};
}

int Exact(const Args& a) {
  const int32_t k = static_cast<int32_t>(a.Int("k", 10));
  const int64_t repeat = std::max<int64_t>(1, a.Int("repeat", 1));
  io::FloatMatrix train = Load(a.Get("train"));
  io::FloatMatrix queries = Load(a.Get("queries"), a.Int("nq", 10000));
  const int64_t d = train.cols;
  index::NormalizeRows(train.data.data(), train.rows, d);
  auto start = Clock::now();
  auto idx = Check(index::CosineIndex::Build(train.data.data(), train.rows, d), "index");
  const double build_s = Seconds(start);
  // A reference distribution for ranks and flags, from 2,000 training rows (not timed).
  drift::ReferenceDistribution ref;
  ref.k = k;
  ref.sorted = Check(drift::KCoreDistances(*idx, train.data.data(), 2000, k, true), "reference");
  std::sort(ref.sorted.begin(), ref.sorted.end());
  ref.threshold = drift::Percentile(ref.sorted, 0.95);

  // The raw Faiss search Sextant's exact path performs: IndexFlatIP over the same unit rows.
  faiss::IndexFlatIP raw(d);
  raw.add(train.rows, train.data.data());
  std::vector<float> qn = queries.data;
  index::NormalizeRows(qn.data(), queries.rows, d);
  std::vector<float> dist(static_cast<size_t>(queries.rows * k));
  std::vector<faiss::Index::idx_t> ids(dist.size());

  double best_faiss = 1e300, best_sextant = 1e300;
  int64_t drifted = 0;
  for (int64_t r = 0; r < repeat; ++r) {
    start = Clock::now();
    raw.search(queries.rows, qn.data(), k, dist.data(), ids.data());
    best_faiss = std::min(best_faiss, Seconds(start));

    // Sextant: what finish does per inference split once the index and reference exist.
    start = Clock::now();
    std::vector<float> q = queries.data;
    index::NormalizeRows(q.data(), queries.rows, d);
    std::vector<float> kcore =
        Check(drift::KCoreDistances(*idx, q.data(), queries.rows, k, false), "scoring");
    std::vector<double> score(kcore.size());
    std::vector<uint8_t> flag(kcore.size());
    for (size_t i = 0; i < kcore.size(); ++i) {
      score[i] = drift::PercentileRank(ref, kcore[i]);
      flag[i] = kcore[i] > ref.threshold;
    }
    best_sextant = std::min(best_sextant, Seconds(start));
    drifted = std::count(flag.begin(), flag.end(), 1);
  }
  ordered_json out = {{"command", "exact"},
                      {"train_rows", train.rows},
                      {"queries", queries.rows},
                      {"dim", d},
                      {"k", k},
                      {"repeat", repeat},
                      {"index_build_s", build_s},
                      {"faiss_flat_search_s", best_faiss},
                      {"sextant_exact_scoring_s", best_sextant},
                      {"ratio", best_sextant / best_faiss},
                      {"drifted", drifted}};
  out["env"] = Environment();
  std::cout << out.dump() << std::endl;
  return 0;
}

int Drift(const Args& a) {
  const int32_t k = static_cast<int32_t>(a.Int("k", 10));
  const std::string method_name = a.Get("method", "auto");
  NnSearch method = NnSearch::kAuto;
  if (method_name == "exact")
    method = NnSearch::kExact;
  else if (method_name == "approximate")
    method = NnSearch::kApproximate;
  else if (method_name != "auto")
    Die("--method: auto, exact or approximate");
  const ProcessingOptions defaults;
  const int64_t labels_for = a.Int("labels-for", 0);
  const std::filesystem::path out_dir = a.Get("out");

  io::FloatMatrix train = Load(a.Get("train"), a.Int("nt", 0));
  io::FloatMatrix queries = Load(a.Get("queries"), a.Int("nq", 0));
  const int64_t d = train.cols;
  int64_t ref_rows = a.Int("reference-rows", defaults.drift_reference_sample_size);
  if (ref_rows <= 0 || ref_rows > train.rows) ref_rows = train.rows;
  index::IvfOptions ivf;
  ivf.nlist = a.Int("nlist", 0);
  ivf.nprobe = static_cast<int32_t>(a.Int("nprobe", 0));
  ivf.tune_k = k;
  ivf.tune_percentile = defaults.drift_percentile;
  if (a.kv.count("target-recall")) ivf.target_recall = std::stod(a.Get("target-recall"));
  if (a.kv.count("target-agreement")) ivf.target_agreement = std::stod(a.Get("target-agreement"));

  const auto t0 = Clock::now();
  auto start = t0;
  double cpu = CpuSeconds();
  ordered_json cpu_s;
  auto cpu_mark = [&](const char* stage) {
    const double now = CpuSeconds();
    cpu_s[stage] = now - cpu;
    cpu = now;
  };
  index::NormalizeRows(train.data.data(), train.rows, d);
  const double normalize_s = Seconds(start);
  start = Clock::now();
  auto idx = Check(index::BuildForSearch(train.data.data(), train.rows, d, method,
                                         defaults.nn_auto_min_values, ivf),
                   "index");
  const double build_s = Seconds(start);
  cpu_mark("index");
  // The leave-one-out reference of the first `ref_rows` rows (the arrays are
  // generated i.i.d., so they are a uniform sample): row i is query i.
  start = Clock::now();
  std::vector<float> ref_kcore =
      Check(drift::KCoreDistances(*idx, train.data.data(), ref_rows, k, true), "reference");
  drift::ReferenceDistribution ref;
  ref.k = k;
  ref.sorted = ref_kcore;
  std::sort(ref.sorted.begin(), ref.sorted.end());
  ref.threshold = drift::Percentile(ref.sorted, defaults.drift_percentile);
  const double reference_s = Seconds(start);
  cpu_mark("reference");
  start = Clock::now();
  index::NormalizeRows(queries.data.data(), queries.rows, d);
  std::vector<float> kcore =
      Check(drift::KCoreDistances(*idx, queries.data.data(), queries.rows, k, false), "scoring");
  int64_t drifted = 0;
  std::vector<float> score(kcore.size());
  for (size_t i = 0; i < kcore.size(); ++i) {
    score[i] = static_cast<float>(drift::PercentileRank(ref, kcore[i]));
    drifted += kcore[i] > ref.threshold;
  }
  const double score_s = Seconds(start);
  cpu_mark("score");
  const double total_s = Seconds(t0);
  ordered_json env = Environment();  // peak memory of the drift computation itself

  if (!out_dir.empty()) {
    std::filesystem::create_directories(out_dir);
    Check(io::WriteNpyFloat32(out_dir / "kcore.npy", kcore.data(), queries.rows, 1), "write");
    Check(io::WriteNpyFloat32(out_dir / "ref_kcore.npy", ref_kcore.data(), ref_rows, 1), "write");
    if (labels_for > 0) {
      const int64_t n = std::min(labels_for, queries.rows);
      std::vector<float> dist(static_cast<size_t>(n * k));
      std::vector<int64_t> labels(dist.size());
      Check(idx->Search(queries.data.data(), n, k, dist.data(), labels.data()), "search");
      Check(io::WriteNpyInt64(out_dir / "labels.npy", labels.data(), n * k), "write");
    }
  }
  ordered_json out = {{"command", "drift"},
                      {"method", method_name},
                      {"train_rows", train.rows},
                      {"queries", queries.rows},
                      {"dim", d},
                      {"k", k},
                      {"reference_rows", ref_rows},
                      {"threshold", ref.threshold},
                      {"drifted", drifted},
                      {"index", IndexJson(*idx)},
                      {"normalize_s", normalize_s},
                      {"index_s", build_s},
                      {"reference_s", reference_s},
                      {"score_s", score_s},
                      {"total_s", total_s},
                      {"cpu_s", cpu_s}};
  out["env"] = env;
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ProgramName() = "drift_bench";
  if (argc < 2) {
    std::cerr << "usage: drift_bench exact|drift --train T.npy --queries Q.npy [options]\n";
    return 2;
  }
  const std::string command = argv[1];
  const Args args = Parse(argc, argv);
  index::SetSearchThreads(static_cast<int32_t>(args.Int("threads", 0)));
  if (command == "exact") return Exact(args);
  if (command == "drift") return Drift(args);
  Die("unknown command '" + command + "'");
}
