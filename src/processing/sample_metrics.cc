#include "processing/sample_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sextant::processing {

void Softmax(const float* logits, int64_t c, float* probs) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < c; ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < c; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  for (int64_t i = 0; i < c; ++i) {
    probs[i] = static_cast<float>(std::exp(static_cast<double>(logits[i]) - max) / sum);
  }
}

SampleMetrics ComputeSampleMetrics(const float* probs, int64_t c, double boundary_ratio_threshold) {
  SampleMetrics m;
  int64_t top = 0;
  for (int64_t i = 1; i < c; ++i) {
    if (probs[i] > probs[top]) top = i;
  }
  float second = 0;
  double entropy = 0;
  for (int64_t i = 0; i < c; ++i) {
    if (i != top) second = std::max(second, probs[i]);
    if (probs[i] > 0) entropy -= static_cast<double>(probs[i]) * std::log(probs[i]);
  }
  m.pred = static_cast<int32_t>(top);
  m.confidence = probs[top];
  m.margin = probs[top] - second;
  m.certainty_ratio = probs[top] > 0 ? second / probs[top] : 1.0f;
  m.entropy = static_cast<float>(entropy);
  m.on_boundary = m.certainty_ratio >= boundary_ratio_threshold;
  return m;
}

double Aum(const float* probs, int64_t c, int32_t gold) {
  float other = 0;
  for (int64_t i = 0; i < c; ++i) {
    if (i != gold) other = std::max(other, probs[i]);
  }
  return static_cast<double>(probs[gold]) - other;
}

}  // namespace sextant::processing
