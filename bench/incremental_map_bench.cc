// The map stage of `finish` when inference sets are added to a finished run
// (docs/algorithms.md, map step 8): a full finish of training + set A, then
// sets added one at a time and finished again (incremental: only the new rows
// are placed), then the same run finished with a full map for comparison.
//
//   incremental_map_bench --root DIR [--train 50000] [--a 20000] [--add 5000,20000]
//                         [--dim 64] [--threads 0]
//
// Synthetic clustered embeddings (seeded). Prints one JSON object per finish:
// the rows added, the map's mode, points reused and placed, and the seconds of
// the "2-D map" stage, with /proc/loadavg at its end (the machine may be shared).
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "sextant/client.h"
#include "sextant/results.h"

namespace {

using namespace sextant;
using namespace sextant::bench;

constexpr int kClusters = 20;

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Rows around kClusters random unit centres, with a per-set shift.
class Data {
 public:
  explicit Data(int64_t dim) : dim_(dim), gen_(3) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    centres_.resize(static_cast<size_t>(kClusters * dim));
    for (float& v : centres_) v = normal(gen_);
  }
  std::vector<float> Rows(int64_t n, float shift) {
    std::normal_distribution<float> normal(0.0f, 0.35f);
    std::vector<float> out(static_cast<size_t>(n * dim_));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = static_cast<int64_t>(gen_() % kClusters);
      for (int64_t j = 0; j < dim_; ++j) {
        out[i * dim_ + j] = centres_[c * dim_ + j] + normal(gen_) + (j == 0 ? shift : 0.0f);
      }
    }
    return out;
  }

 private:
  int64_t dim_;
  std::mt19937 gen_;
  std::vector<float> centres_;
};

void LogSet(const std::filesystem::path& root, const SplitKey& key, const std::vector<float>& emb,
            int64_t dim) {
  auto client =
      Check(Client::Init({.root = root, .project = "bench", .run = "incremental"}), "client");
  Check(client->SetLabelsForRun({"neg", "pos"}), "labels");
  const auto n = static_cast<int64_t>(emb.size()) / dim;
  constexpr int64_t kBatch = 10000;
  for (int64_t s = 0; s < n; s += kBatch) {
    const int64_t b = std::min(kBatch, n - s);
    DataBatch data;
    std::vector<float> logits(static_cast<size_t>(2 * b));
    for (int64_t i = 0; i < b; ++i) {
      data.ids.push_back(std::to_string(s + i));
      data.texts.push_back("sample");
      logits[2 * i] = emb[(s + i) * dim];
      logits[2 * i + 1] = emb[(s + i) * dim + 1];
      if (key.split == Split::kTraining) {
        data.label_indices.push_back(logits[2 * i + 1] > logits[2 * i] ? 1 : 0);
      }
    }
    Check(client->LogDataSamples(data, key), "log samples");
    OutputsBatch out;
    out.ids = data.ids;
    out.embeddings = {emb.data() + s * dim, b, dim};
    out.logits = {logits.data(), b, 2};
    Check(client->LogModelOutputs(out, key, 0), "log outputs");
  }
  Check(client->Flush(), "flush");
}

nlohmann::ordered_json Finish(const std::filesystem::path& root, ProcessingOptions o,
                              const std::string& step, int64_t added) {
  o.build_similarity_index = false;  // not the map's business: shorter finishes
  o.domain_test = false;
  const auto start = Clock::now();
  FinishReport report = Check(FinishRun(root, "bench", "incremental", o), "finish");
  const double finish_s = Seconds(start);
  double map_s = -1;
  for (const auto& [stage, s] : report.stage_seconds) {
    if (stage == "2-D map") map_s = s;
  }
  auto reader = Check(RunReader::Open(root, "bench", "incremental"), "reader");
  const auto summary = nlohmann::json::parse(Check(reader->SummaryJson(), "summary"));
  const auto& m = summary["parameters"]["map"];
  nlohmann::ordered_json out = {{"step", step},
                                {"added_rows", added},
                                {"samples", report.samples},
                                {"mode", m.value("mode", "")},
                                {"reused_points", m.value("reused_points", int64_t{0})},
                                {"placed_points", m.value("placed_points", int64_t{0})},
                                {"layout_points", m.value("layout_points", int64_t{0})},
                                {"map_stage_s", map_s},
                                {"map_seconds", m.value("seconds", 0.0)},
                                {"map_cpu_seconds", m.value("cpu_seconds", 0.0)},
                                {"finish_s", finish_s},
                                {"loadavg", LoadAverage()}};
  out["map_stage_seconds"] = m.value("stage_seconds", nlohmann::json::object());
  if (m.contains("full_reason")) out["full_reason"] = m["full_reason"];
  std::cout << out.dump() << std::endl;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  ProgramName() = "incremental_map_bench";
  const std::filesystem::path root = Arg(argc, argv, "root");
  if (root.empty()) Die("--root is required");
  const int64_t train = std::stoll(Arg(argc, argv, "train", "50000"));
  const int64_t a = std::stoll(Arg(argc, argv, "a", "20000"));
  const int64_t dim = std::stoll(Arg(argc, argv, "dim", "64"));
  std::vector<int64_t> adds;
  std::stringstream list(Arg(argc, argv, "add", "5000,20000"));
  for (std::string item; std::getline(list, item, ',');) adds.push_back(std::stoll(item));
  ProcessingOptions o;
  o.threads = std::stoi(Arg(argc, argv, "threads", "0"));
  o.progress = nullptr;

  std::filesystem::remove_all(root);
  Data data(dim);
  LogSet(root, SplitKey::Make(Split::kTraining).value(), data.Rows(train, 0.0f), dim);
  LogSet(root, SplitKey::Make(Split::kInference, "a").value(), data.Rows(a, 0.0f), dim);
  Finish(root, o, "full: training + a", train + a);
  for (size_t i = 0; i < adds.size(); ++i) {
    const std::string name = "add" + std::to_string(i);
    LogSet(root, SplitKey::Make(Split::kInference, name).value(), data.Rows(adds[i], 0.3f), dim);
    Finish(root, o, "incremental: + " + name, adds[i]);
  }
  ProcessingOptions full = o;
  full.map_incremental = false;
  Finish(root, full, "full: the same run, map_incremental off", 0);
  std::filesystem::remove_all(root);
  return 0;
}
