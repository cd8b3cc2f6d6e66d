// A small finished run for the server's tests: `samples` labeled training samples
// of two separable classes (width 4), finished with drift_k 3, as p/r (or
// `project`/r) under `root`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sextant/client.h"
#include "testing.h"

namespace sextant::server {

inline ProcessingOptions SmallRunOptions() {
  ProcessingOptions o;
  o.drift_k = 3;
  return o;
}

inline void LogAndFinishSmallRun(const std::filesystem::path& root, int samples,
                                 const std::string& project = "p") {
  const SplitKey training = SplitKey::Make(Split::kTraining, "").value();
  auto client = Client::Init({.root = root, .project = project, .run = "r"});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"neg", "pos"}));
  DataBatch data;
  std::vector<float> e, l;
  for (int i = 0; i < samples; ++i) {
    data.ids.push_back("t" + std::to_string(i));
    data.texts.push_back("text " + std::to_string(i));
    data.label_indices.push_back(i % 2);
    for (int d = 0; d < 4; ++d) e.push_back(d == i % 2 ? 1.0f : 0.01f * static_cast<float>(i + d));
    l.push_back(i % 2 ? 0.0f : 2.0f);
    l.push_back(i % 2 ? 2.0f : 0.0f);
  }
  ASSERT_OK((*client)->LogDataSamples(data, training));
  OutputsBatch b;
  b.ids = data.ids;
  b.embeddings = {e.data(), samples, 4};
  b.logits = {l.data(), samples, 2};
  ASSERT_OK((*client)->LogModelOutputs(b, training, 0));
  ASSERT_OK((*client)->Finish(SmallRunOptions()).status());
}

// Logs `samples` more samples of the small run's two classes to `split` of p/r
// (labeled unless it is an inference set), without finishing: embeddings moved
// by `shift` on the dimensions the classes do not use (0: like training), and
// every third sample's logits close to a tie (on the boundary).
inline void LogSmallSplit(const std::filesystem::path& root, const SplitKey& split, int samples,
                          float shift, const std::string& id_prefix) {
  auto client = Client::Init({.root = root, .project = "p", .run = "r"});
  ASSERT_OK(client.status());
  DataBatch data;
  std::vector<float> e, l;
  for (int i = 0; i < samples; ++i) {
    data.ids.push_back(id_prefix + std::to_string(i));
    data.texts.push_back("text " + std::to_string(i));
    if (split.split != Split::kInference) data.label_indices.push_back(i % 2);
    for (int d = 0; d < 4; ++d) {
      e.push_back(d == i % 2 ? 1.0f : 0.01f * static_cast<float>(i + d) + (d >= 2 ? shift : 0));
    }
    const float high = i % 3 == 0 ? 0.05f : 2.0f;
    l.push_back(i % 2 ? 0.0f : high);
    l.push_back(i % 2 ? high : 0.0f);
  }
  ASSERT_OK((*client)->LogDataSamples(data, split));
  OutputsBatch b;
  b.ids = data.ids;
  b.embeddings = {e.data(), samples, 4};
  b.logits = {l.data(), samples, 2};
  ASSERT_OK((*client)->LogModelOutputs(b, split, 0));
  ASSERT_OK((*client)->Flush());
}

}  // namespace sextant::server
