// Per-sample numbers computed from a probability vector (docs/algorithms.md).
#pragma once

#include <cstdint>

namespace sextant::processing {

// Numerically stable softmax of `logits` into `probs` (both of length c).
void Softmax(const float* logits, int64_t c, float* probs);

struct SampleMetrics {
  int32_t pred = 0;
  float confidence = 0;       // p1
  float margin = 0;           // p1 - p2
  float certainty_ratio = 0;  // p2 / p1
  float entropy = 0;          // -sum p log p (natural log)
  bool on_boundary = false;   // certainty_ratio >= boundary_ratio_threshold
};

SampleMetrics ComputeSampleMetrics(const float* probs, int64_t c, double boundary_ratio_threshold);

// Copies the metrics into a result row (pred, confidence, margin, certainty
// ratio, entropy, boundary flag).
template <typename Row>
void CopyMetrics(const SampleMetrics& m, Row* r) {
  r->pred = m.pred;
  r->confidence = m.confidence;
  r->margin = m.margin;
  r->certainty_ratio = m.certainty_ratio;
  r->entropy = m.entropy;
  r->on_boundary = m.on_boundary;
}

// Area-under-the-margin term of one epoch: p(gold) - max over y != gold of p(y).
double Aum(const float* probs, int64_t c, int32_t gold);

}  // namespace sextant::processing
