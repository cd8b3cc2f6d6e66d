// `finish` end to end through the public client, for bench/run.sh: logs a
// training set and a production set (embeddings from .npy files, logits from a
// fixed random linear model, short texts), then times Finish with the default
// options and reports the share of each stage.
//
//   finish_bench --train T.npy --production P.npy --root DIR [--rows N] [--keep 1]
//   --keep 1 keeps the run directory (its results hold each index's build parts).
//
// Prints one JSON object.
#include <dlfcn.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "bench_util.h"
#include "io/npy.h"
#include "sextant/client.h"

namespace {

using namespace sextant;
using namespace sextant::bench;

}  // namespace

int main(int argc, char** argv) {
  ProgramName() = "finish_bench";
  const std::filesystem::path root = Arg(argc, argv, "root");
  if (root.empty()) Die("--root is required");
  const int64_t limit = std::stoll(Arg(argc, argv, "rows", "0"));
  std::filesystem::remove_all(root);
  auto start = Clock::now();
  auto client_or = Client::Init({.root = root, .project = "bench", .run = "finish"});
  if (!client_or.ok()) Die(client_or.status().ToString());
  auto client = std::move(client_or).value();
  Check(client->SetLabelsForRun({"neg", "pos"}), "labels");
  std::mt19937 model(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w;
  int64_t sizes[2] = {0, 0}, dim = 0;
  const char* files[2] = {"train", "production"};
  for (int part = 0; part < 2; ++part) {
    auto m = io::ReadNpyAsFloat32(Arg(argc, argv, files[part]));
    if (!m.ok()) Die(m.status().ToString());
    io::FloatMatrix emb = std::move(m).value();
    const int64_t n = limit > 0 ? std::min(limit, emb.rows) : emb.rows;
    dim = emb.cols;
    if (w.empty()) {
      w.resize(static_cast<size_t>(2 * dim));
      for (float& v : w) v = normal(model) / std::sqrt(static_cast<float>(dim));
    }
    const SplitKey key = part == 0 ? SplitKey::Make(Split::kTraining).value()
                                   : SplitKey::Make(Split::kInference, "production").value();
    constexpr int64_t kBatch = 10000;
    for (int64_t s = 0; s < n; s += kBatch) {
      const int64_t b = std::min(kBatch, n - s);
      DataBatch data;
      std::vector<float> logits(static_cast<size_t>(2 * b));
      for (int64_t i = 0; i < b; ++i) {
        data.ids.push_back(std::to_string(s + i));
        data.texts.push_back("sample " + std::to_string(s + i) + " of the benchmark");
        for (int c = 0; c < 2; ++c) {
          double z = 0;
          for (int64_t j = 0; j < dim; ++j) z += w[c * dim + j] * emb.data[(s + i) * dim + j];
          logits[2 * i + c] = static_cast<float>(z);
        }
        if (part == 0) data.label_indices.push_back(logits[2 * i + 1] > logits[2 * i] ? 1 : 0);
      }
      Check(client->LogDataSamples(data, key), "log samples");
      OutputsBatch out;
      out.ids = data.ids;
      out.embeddings = {emb.data.data() + s * dim, b, dim};
      out.logits = {logits.data(), b, 2};
      Check(client->LogModelOutputs(out, key, 0), "log outputs");
    }
    sizes[part] = n;
  }
  Check(client->Flush(), "flush");
  const double log_s = Seconds(start);

  start = Clock::now();
  auto report = client->Finish();
  if (!report.ok()) Die(report.status().ToString());
  const double finish_s = Seconds(start);

  nlohmann::ordered_json out = {
      {"command", "finish"}, {"training", sizes[0]}, {"inference", sizes[1]},          {"dim", dim},
      {"log_s", log_s},      {"finish_s", finish_s}, {"stages", report->stage_seconds}};
  out["env"] = {{"peak_rss_mib", PeakRssMib()}, {"openblas_core", BlasCore()}};
  std::cout << out.dump() << std::endl;
  client.reset();
  if (Arg(argc, argv, "keep", "0") != "1") std::filesystem::remove_all(root);
  return 0;
}
