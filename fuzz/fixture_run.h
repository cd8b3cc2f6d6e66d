// A small finished text-classification run (training, validation and one
// inference set, with metadata) under ScratchDir()/store, made once per
// process for the targets that read a run: the API and the stored JSON.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "sextant/client.h"

namespace sextant::fuzz {

inline const std::filesystem::path& FixtureRoot() {
  static const std::filesystem::path root = [] {
    const std::filesystem::path r = ScratchDir() / "store";
    auto client = Client::Init(
        {.root = r, .project = "p", .run = "r", .task = TaskType::kTextClassification});
    auto check = [](const Status& st) {
      if (!st.ok()) {
        std::fprintf(stderr, "fixture run: %s\n", st.ToString().c_str());
        std::abort();
      }
    };
    check(client.status());
    check((*client)->SetLabelsForRun({"neg", "pos"}));
    const std::vector<std::pair<Split, std::string>> splits = {
        {Split::kTraining, ""}, {Split::kValidation, ""}, {Split::kInference, "prod"}};
    int s = 0;
    for (const auto& [split, name] : splits) {
      const SplitKey key = SplitKey::Make(split, name).value();
      DataBatch data;
      std::vector<float> emb, logits;
      for (int i = 0; i < 24; ++i) {
        data.ids.push_back("s" + std::to_string(s) + "-" + std::to_string(i));
        data.texts.push_back("text number " + std::to_string(i) + " of split " + key.ToString());
        if (IsLabeled(split)) data.labels.push_back(i % 2 ? "pos" : "neg");
        for (int d = 0; d < 4; ++d) emb.push_back(std::sin(0.7f * i + 1.3f * d + s));
        logits.push_back(std::cos(0.3f * i + s));
        logits.push_back(std::sin(0.5f * i));
      }
      data.meta.push_back({"source", std::vector<std::string>(24, "web")});
      check((*client)->LogDataSamples(data, key));
      OutputsBatch out;
      out.ids = data.ids;
      out.embeddings = {emb.data(), 24, 4};
      out.logits = {logits.data(), 24, 2};
      check((*client)->LogModelOutputs(out, key, 0));
      ++s;
    }
    ProcessingOptions options;
    options.drift_k = 3;
    options.threads = 1;
    check((*client)->Finish(options).status());
    return r;
  }();
  return root;
}

}  // namespace sextant::fuzz
