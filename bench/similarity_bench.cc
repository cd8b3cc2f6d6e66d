// The similarity service at scale, for bench/run.sh: a processed run of
// TRAIN + PROD samples is written straight through the store (results as
// finish would commit them, with the similarity index finish builds), then
// RunReader answers queries by vector and by id, with split and result
// filters; latency percentiles over many queries, recall against an exact
// scan of the same index.
//
//   similarity_bench --train T.npy --production P.npy --queries Q.npy --root DIR
//                    [--train-rows N] [--count 1000] [--k 10]
//
// Prints one JSON object.
#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench_util.h"
#include "index/cosine_index.h"
#include "io/npy.h"
#include "processing/similarity_index.h"
#include "sextant/results.h"
#include "store/run_store.h"

namespace {

using namespace sextant;
using namespace sextant::bench;
using nlohmann::ordered_json;

// One split as finish would commit it: predictions from a fixed random linear
// model; production samples drifted at random (8%).
store::SplitResults MakeSplit(const SplitKey& key, io::FloatMatrix emb, uint32_t seed) {
  store::SplitResults s;
  s.split = key;
  s.emb_dim = emb.cols;
  s.num_labels = 2;
  const auto n = emb.rows;
  s.samples.resize(static_cast<size_t>(n));
  s.probs.resize(static_cast<size_t>(2 * n));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(emb.cols));
  std::mt19937 model(7);
  for (float& v : w) v = normal(model);
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    double z = 0;
    for (int64_t j = 0; j < emb.cols; ++j) z += w[j] * emb.data[i * emb.cols + j];
    const float p1 = static_cast<float>(1.0 / (1.0 + std::exp(-z)));
    store::SampleResult& r = s.samples[i];
    r.pred = p1 > 0.5f ? 1 : 0;
    r.confidence = std::max(p1, 1 - p1);
    s.probs[2 * i] = 1 - p1;
    s.probs[2 * i + 1] = p1;
    if (key.split == Split::kTraining) {
      r.gold = r.pred;
    } else {
      r.drift_distance = 0.5;
      r.drift_score = 0.5;
      r.drifted = u(rng) < 0.08;
    }
  }
  s.embeddings = std::move(emb.data);
  return s;
}

struct Latency {
  explicit Latency(std::string n) : name(std::move(n)) {}
  std::string name;
  std::vector<double> ms;
  double recall = -1;
  ordered_json Json() {
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
      return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
    };
    ordered_json j = {{"name", name},
                      {"count", ms.size()},
                      {"p50_ms", pct(0.5)},
                      {"p99_ms", pct(0.99)},
                      {"max_ms", ms.back()}};
    if (recall >= 0) j["recall"] = recall;
    return j;
  }
};

}  // namespace

int main(int argc, char** argv) {
  ProgramName() = "similarity_bench";
  const std::filesystem::path root = Arg(argc, argv, "root");
  if (root.empty()) Die("--root is required");
  const int64_t count = std::stoll(Arg(argc, argv, "count", "1000"));
  const int32_t k = std::stoi(Arg(argc, argv, "k", "10"));
  const int64_t train_rows = std::stoll(Arg(argc, argv, "train-rows", "0"));
  index::SetSearchThreads(0);

  // The run: training and production, straight through the store.
  auto start = Clock::now();
  io::FloatMatrix train = Check(io::ReadNpyAsFloat32(Arg(argc, argv, "train")), "train");
  if (train_rows > 0 && train_rows < train.rows) {
    train.data.resize(static_cast<size_t>(train_rows * train.cols));
    train.rows = train_rows;
  }
  io::FloatMatrix prod = Check(io::ReadNpyAsFloat32(Arg(argc, argv, "production")), "production");
  const int64_t dim = train.cols;
  const SplitKey kTrain = Check(SplitKey::Make(Split::kTraining), "split");
  const SplitKey kProd = Check(SplitKey::Make(Split::kInference, "prod"), "split");
  std::filesystem::remove_all(root);
  auto run = Check(store::RunStore::Open(root / "bench" / "big", store::RunStore::Mode::kWrite,
                                         TaskType::kTextClassification),
                   "open run");
  Check(run->SetLabels({"neg", "pos"}), "labels");
  for (const auto& [key, rows, prefix] :
       {std::tuple{kTrain, train.rows, "t"}, std::tuple{kProd, prod.rows, "i"}}) {
    std::vector<store::SampleRecord> batch;
    for (int64_t i = 0; i < rows; ++i) {
      batch.push_back({prefix + std::to_string(i), "",
                       key.split == Split::kTraining ? std::optional<int32_t>(0) : std::nullopt,
                       "{}"});
      if (batch.size() == 100000 || i + 1 == rows) {
        Check(run->AppendSamples(key, batch), "samples");
        batch.clear();
      }
    }
  }
  std::vector<store::SplitResults> splits;
  splits.push_back(MakeSplit(kTrain, std::move(train), 1));
  splits.push_back(MakeSplit(kProd, std::move(prod), 2));
  const double setup_s = Seconds(start);

  start = Clock::now();
  auto similarity = Check(processing::BuildSimilarityIndex(splits), "similarity index");
  if (!similarity) Die("no similarity index");
  const double build_s = Seconds(start);
  const index::IndexInfo info = similarity->index->info();

  // Queries: fresh vectors of the same distribution; exact answers for recall
  // from the same index with every cell visited.
  io::FloatMatrix queries = Check(io::ReadNpyAsFloat32(Arg(argc, argv, "queries")), "queries");
  const int64_t nq = std::min(queries.rows, count);
  const int64_t nr = std::min<int64_t>(nq, 100);
  std::vector<int64_t> exact(static_cast<size_t>(nr * k));
  {
    std::vector<float> unit(queries.data.begin(), queries.data.begin() + nr * dim);
    index::NormalizeRows(unit.data(), nr, dim);
    std::vector<float> dist(exact.size());
    Check(similarity->index->Search(unit.data(), nr, k, dist.data(), exact.data(),
                                    static_cast<int32_t>(std::max<int64_t>(1, info.nlist))),
          "exact");
  }

  store::CommitOptions commit;
  processing::AddSimilarityFiles(*similarity, &commit);
  for (auto& s : splits) s.summary_json = "{}";
  Check(run->CommitResults(splits, R"({"parameters":{}})", commit), "commit");
  const int64_t rows = similarity->index->size();
  const int64_t train_n = static_cast<int64_t>(splits[0].samples.size());
  splits.clear();
  splits.shrink_to_fit();
  similarity.reset();
  run.reset();

  auto reader = Check(RunReader::Open(root, "bench", "big"), "reader");
  start = Clock::now();
  Check(reader->SimilarToVector(queries.data.data(), dim, k).status(), "first query");
  const double load_s = Seconds(start);

  auto global = [&](const Neighbor& n) {
    const int64_t row = std::stoll(n.id.substr(1));
    return n.split == kTrain ? row : train_n + row;
  };
  auto time_query = [&](Latency& lat, auto&& query) {
    for (int64_t i = 0; i < 20; ++i) Check(query(i).status(), lat.name.c_str());  // warm up
    for (int64_t i = 0; i < nq; ++i) {
      const auto t = Clock::now();
      Check(query(i).status(), lat.name.c_str());
      lat.ms.push_back(1000.0 * Seconds(t));
    }
  };
  std::vector<Latency> all;
  {
    Latency lat{"by vector, all splits"};
    int64_t hit = 0;
    for (int64_t i = 0; i < nr; ++i) {
      auto got = Check(reader->SimilarToVector(queries.data.data() + i * dim, dim, k), "query");
      std::set<int64_t> truth(exact.begin() + i * k, exact.begin() + (i + 1) * k);
      for (const Neighbor& n : got) hit += truth.count(global(n));
    }
    lat.recall = static_cast<double>(hit) / static_cast<double>(nr * k);
    time_query(lat, [&](int64_t i) {
      return reader->SimilarToVector(queries.data.data() + i * dim, dim, k);
    });
    all.push_back(lat);
  }
  {
    Latency lat{"by vector, training only"};
    time_query(lat, [&](int64_t i) {
      return reader->SimilarToVector(queries.data.data() + i * dim, dim, k, {kTrain});
    });
    all.push_back(lat);
  }
  {
    Latency lat{"by id (production), production only"};
    std::mt19937 rng(5);
    std::uniform_int_distribution<int64_t> pick(0, rows - train_n - 1);
    std::vector<std::string> ids;
    for (int64_t i = 0; i < nq + 20; ++i) ids.push_back("i" + std::to_string(pick(rng)));
    time_query(lat, [&](int64_t i) { return reader->Similar(kProd, ids[i], k, {kProd}); });
    all.push_back(lat);
  }
  {
    Latency lat{"by id (training), all splits"};
    std::mt19937 rng(6);
    std::uniform_int_distribution<int64_t> pick(0, train_n - 1);
    std::vector<std::string> ids;
    for (int64_t i = 0; i < nq + 20; ++i) ids.push_back("t" + std::to_string(pick(rng)));
    time_query(lat, [&](int64_t i) { return reader->Similar(kTrain, ids[i], k); });
    all.push_back(lat);
  }
  {
    Latency lat{"by vector, predicted 'pos'"};
    SimilarityFilter f;
    f.pred_class = "pos";
    time_query(lat, [&](int64_t i) {
      return reader->SimilarToVector(queries.data.data() + i * dim, dim, k, {}, f);
    });
    all.push_back(lat);
  }
  {
    Latency lat{"by vector, drifted production only"};
    SimilarityFilter f;
    f.is_drifted = true;
    time_query(lat, [&](int64_t i) {
      return reader->SimilarToVector(queries.data.data() + i * dim, dim, k, {kProd}, f);
    });
    all.push_back(lat);
  }

  ordered_json out = {{"command", "similarity"}, {"rows", rows},    {"dim", dim}, {"k", k},
                      {"setup_s", setup_s},      {"load_s", load_s}};
  out["index"] = {{"method", info.method},
                  {"nlist", info.nlist},
                  {"nprobe", info.nprobe},
                  {"recall_estimate", info.recall_estimate},
                  {"build_s", build_s},
                  {"train_s", info.train_seconds},
                  {"assign_s", info.assign_seconds},
                  {"tune_s", info.tune_seconds}};
  out["queries"] = ordered_json::array();
  for (Latency& l : all) out["queries"].push_back(l.Json());
  out["env"] = {{"peak_rss_mib", PeakRssMib()},
                {"omp_threads", index::SearchThreads()},
                {"openblas_core", BlasCore()}};
  std::cout << out.dump() << std::endl;
  std::filesystem::remove_all(root);
  return 0;
}
