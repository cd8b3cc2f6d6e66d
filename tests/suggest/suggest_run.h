// A generated run with known answers for the label-suggestion tests: width 32,
// classes "neg" (embeddings along e0) and "pos" (e1), noise on e2..e29 (many
// dimensions, as real embeddings: no chance near-duplicates).
//
// training (200) and validation (100): in-domain, confident.
// inference "prod", in logging order:
// * "new_0".."new_5": a new cluster along e30, far from training, confident
//   (only drift, diverse and the default should reach it);
// * "dupc_0".."dupc_7": a tight cluster (e0 + 0.5 e31; pairwise cosine distance ~0.014,
//   above the duplicate threshold) next to neg, the set's lowest margins
//   (0.01..0.045: uncertainty takes them all, diverse and default one at most);
// * "dup_train": the embedding of training sample t0, margin 0.001 (never
//   suggested: training has it);
// * "twin_a", "twin_b": identical embeddings, margin 0.15 (one at most);
// * "unc_0".."unc_9": in-domain, margins 0.05..0.095;
// * "in_0".."in_199": in-domain, margins 0.2..0.9; 3 of 4 predicted neg.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/random.h"
#include "sextant/client.h"
#include "testing.h"

namespace sextant::suggest::testing {

inline constexpr int kDim = 32;
inline constexpr int kNoiseFrom = 2, kNoiseTo = 29;  // noise dimensions, inclusive
inline constexpr float kSpread = 0.08f;  // per dimension: in-domain samples
inline constexpr float kTight = 0.025f;  // the tight cluster (pairwise distance ~0.014)

class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : rng_(seed) {}
  float Next(float sd) {
    const double u1 = std::max(rng_.Uniform(), 1e-12), u2 = rng_.Uniform();
    return static_cast<float>(sd * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2));
  }

 private:
  Random rng_;
};

struct Batch {
  DataBatch data;
  std::vector<float> emb, probs;
  // pred: 0 neg, 1 pos; margin = p(pred) - p(other).
  void Add(const std::string& id, const std::vector<float>& e, int pred, double margin,
           int label = -1, const std::string& text = "") {
    data.ids.push_back(id);
    data.texts.push_back(text.empty() ? "text of " + id : text);
    if (label >= 0) data.label_indices.push_back(label);
    emb.insert(emb.end(), e.begin(), e.end());
    const float hi = static_cast<float>((1 + margin) / 2), lo = 1 - hi;
    probs.push_back(pred == 0 ? hi : lo);
    probs.push_back(pred == 0 ? lo : hi);
  }
};

inline std::vector<float> Around(int axis, float noise, Gaussian* g) {
  std::vector<float> e(kDim, 0.0f);
  e[axis] = 1.0f;
  for (int d = kNoiseFrom; d <= kNoiseTo; ++d) e[d] += g->Next(noise);
  return e;
}

inline void Log(Client* client, Batch& b, const SplitKey& split) {
  ASSERT_OK(client->LogDataSamples(b.data, split));
  OutputsBatch o;
  o.ids = b.data.ids;
  const int64_t n = static_cast<int64_t>(b.data.ids.size());
  o.embeddings = {b.emb.data(), n, kDim};
  o.probabilities = {b.probs.data(), n, 2};
  ASSERT_OK(client->LogModelOutputs(o, split, 0));
}

// Writes project "p", run "r" under root and finishes it.
inline void MakeSuggestRun(const std::filesystem::path& root) {
  auto client = Client::Init({.root = root, .project = "p", .run = "r"});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"neg", "pos"}));
  Gaussian g(7);
  std::vector<float> t0;
  for (const char* name : {"training", "validation"}) {
    const bool training = std::string(name) == "training";
    Batch b;
    for (int i = 0; i < (training ? 200 : 100); ++i) {
      const int c = i % 2;
      std::vector<float> e = Around(c, kSpread, &g);
      if (training && i == 0) t0 = e;
      b.Add((training ? "t" : "v") + std::to_string(i), e, c, 0.8, c);
    }
    Log(client->get(), b, SplitKey::Make(training ? Split::kTraining : Split::kValidation).value());
  }
  Batch b;
  for (int i = 0; i < 6; ++i) b.Add("new_" + std::to_string(i), Around(30, kSpread, &g), 0, 0.8);
  for (int i = 0; i < 8; ++i) {
    std::vector<float> e = Around(0, kTight, &g);
    e[31] = 0.5f;
    b.Add("dupc_" + std::to_string(i), e, 0, 0.01 + 0.005 * i);
  }
  b.Add("dup_train", t0, 0, 0.001);
  std::vector<float> twin = Around(1, kSpread, &g);
  b.Add("twin_a", twin, 1, 0.15);
  b.Add("twin_b", twin, 1, 0.15);
  for (int i = 0; i < 10; ++i) {
    const int c = i % 2;
    b.Add("unc_" + std::to_string(i), Around(c, kSpread, &g), c, 0.05 + 0.005 * i);
  }
  for (int i = 0; i < 200; ++i) {
    const int c = i % 4 == 3 ? 1 : 0;
    b.Add("in_" + std::to_string(i), Around(c, kSpread, &g), c, 0.2 + 0.7 * (i % 50) / 49.0);
  }
  Log(client->get(), b, SplitKey::Make(Split::kInference, "prod").value());
  ProcessingOptions o;
  o.drift_k = 3;
  ASSERT_OK((*client)->Finish(o).status());
}

}  // namespace sextant::suggest::testing
