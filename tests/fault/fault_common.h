// What the crash harness's child and its checks share: the deterministic
// data of each scenario, so that a check can recompute what was logged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sextant/client.h"

namespace sextant::fault {

inline constexpr int kBatch = 32;
inline constexpr int kBatchesPerEpoch = 62;
inline constexpr int kSamples = kBatch * kBatchesPerEpoch;  // 1984
inline constexpr int64_t kDim = 64;
inline constexpr int kEpochs = 40;
inline constexpr int kFlushEvery = 10;           // batches between the child's Flush calls
inline constexpr int64_t kMaxPending = 1 << 20;  // the child's ClientOptions::max_pending_bytes
inline constexpr int64_t kBatchBytes = kBatch * (kDim * 4 + 2 * 4 + 8);
inline const std::vector<std::string> kLabels = {"neg", "pos"};

inline std::string SampleId(int row) { return "s" + std::to_string(row); }

// The value logged for (epoch, row, column): a function of the three, so that a
// check can tell a committed row from a torn or misplaced one.
inline float EmbValue(int epoch, int row, int64_t col) {
  return static_cast<float>(epoch * 1000 + row) + static_cast<float>(col) / 128.0f;
}

inline DataBatch TrainingSamples(int begin, int end) {
  DataBatch b;
  for (int i = begin; i < end; ++i) {
    b.ids.push_back(SampleId(i));
    b.texts.push_back("sample " + std::to_string(i) + (i % 2 ? " good" : " bad"));
    b.labels.push_back(kLabels[static_cast<size_t>(i % 2)]);
  }
  return b;
}

// Batch k of the logging scenario: epoch k / kBatchesPerEpoch, rows of the
// (k % kBatchesPerEpoch)-th block of kBatch samples.
struct LoggedBatch {
  int epoch = 0;
  std::vector<std::string> ids;
  std::vector<float> emb, logits;
  OutputsBatch View() const {
    OutputsBatch o;
    o.ids = ids;
    o.embeddings = {emb.data(), static_cast<int64_t>(ids.size()), kDim};
    o.logits = {logits.data(), static_cast<int64_t>(ids.size()), 2};
    return o;
  }
};

inline LoggedBatch MakeLoggedBatch(int k) {
  LoggedBatch b;
  b.epoch = k / kBatchesPerEpoch;
  const int first = (k % kBatchesPerEpoch) * kBatch;
  for (int r = first; r < first + kBatch; ++r) {
    b.ids.push_back(SampleId(r));
    for (int64_t c = 0; c < kDim; ++c) b.emb.push_back(EmbValue(b.epoch, r, c));
    const float x = (r % 2 ? 1.0f : -1.0f) * (1.0f + static_cast<float>(r % 7) / 7.0f);
    b.logits.push_back(-x);
    b.logits.push_back(x);
  }
  return b;
}

}  // namespace sextant::fault
