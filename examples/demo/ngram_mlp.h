// The demo's text classifier: hashed n-gram features, an embedding bag, one
// tanh hidden layer and a linear classifier, trained from scratch.
//
//   NgramMlp model(ModelConfig{.classes = 2});
//   std::vector<uint32_t> f = model.Featurize("a charming , often funny film");
//   model.TrainBatch({&f}, labels, 3e-3f);       // returns the batch's mean loss
//   model.Forward({&f}, embeddings, logits);      // embeddings = the hidden layer
//
// The hidden layer h is what Sextant logs as the sample's embedding: the last
// representation before the classifier.
//
// Thread safety: const methods (Featurize, Forward) may run concurrently with
// each other; TrainBatch must not run concurrently with anything else on the
// same model.
//
// Determinism: a model is a pure function of its config and of the sequence of
// TrainBatch calls. It uses its own random number generator and FNV-1a hashing,
// so results do not depend on the standard library's implementation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::demo {

struct ModelConfig {
  int classes = 2;              // width of the logits, >= 2
  uint32_t buckets = 1u << 18;  // rows of the hashed feature table, >= 1
  int bag_dim = 64;             // width of a feature vector, >= 1
  int hidden = 64;              // width of the hidden layer (the logged embedding), >= 1
  uint64_t seed = 7;            // initial weights
};

// OK, or InvalidArgument naming the field that is out of range.
Status ValidateModelConfig(const ModelConfig& config);

inline constexpr uint64_t kFnv1a64Offset = 14695981039346656037ull;
inline constexpr uint64_t kFnv1a64Prime = 1099511628211ull;

// FNV-1a (64 bit) of `bytes`, continuing from `state` (so calls can be chained).
uint64_t Fnv1a64(std::string_view bytes, uint64_t state = kFnv1a64Offset);

// The words the featurizer sees: ASCII letters lower-cased, split on every byte
// that is not an ASCII letter or digit. Bytes >= 0x80 (UTF-8 sequences) count
// as word characters. An apostrophe is kept when it sits between two word
// characters ("don't", "n't"), dropped otherwise ("'s" -> "s").
std::vector<std::string> Tokenize(std::string_view text);

class NgramMlp {
 public:
  // Checks the config first: InvalidArgument when ValidateModelConfig fails.
  static Result<NgramMlp> Create(const ModelConfig& config);
  // Precondition: ValidateModelConfig(config).ok() (asserted).
  explicit NgramMlp(ModelConfig config);

  // The hashed features of `text`, in this order and with repeats kept:
  //   word unigrams:   Fnv1a64(w, Fnv1a64("w"))
  //   word bigrams:    Fnv1a64(b, Fnv1a64("\x01", Fnv1a64(a, Fnv1a64("b"))))
  //   char 3-grams of each word wrapped as "<word>": Fnv1a64(g, Fnv1a64("c"))
  // each reduced modulo `buckets`. Depends on `buckets` only, not on the seed.
  // A text without words gives no features (its bag is the zero vector).
  std::vector<uint32_t> Featurize(std::string_view text) const;

  // Runs the model on a batch of featurized texts. `embeddings` receives
  // B x hidden() floats (the tanh hidden layer) and `logits` B x classes(),
  // both row-major and owned by the caller; either may be null to skip it.
  // Precondition: every pointer in `batch` is non-null and its features are
  // below `buckets` (as Featurize makes them).
  void Forward(const std::vector<const std::vector<uint32_t>*>& batch, float* embeddings,
               float* logits) const;

  // One optimisation step on a batch: softmax cross-entropy, Adam (beta1 0.9,
  // beta2 0.999) on the dense layers and lazy Adam on the feature table (only
  // the rows the batch touches are read and written, so a step costs
  // O(features in the batch), not O(buckets)). `labels` holds batch.size()
  // class indices in [0, classes()). Returns the batch's mean loss before the
  // step. An empty batch is a no-op that returns 0.
  float TrainBatch(const std::vector<const std::vector<uint32_t>*>& batch, const int32_t* labels,
                   float learning_rate);

  int hidden() const { return config_.hidden; }
  int classes() const { return config_.classes; }
  const ModelConfig& config() const { return config_; }

 private:
  // Per-sample activations kept between the forward and the backward pass.
  struct Activations {
    std::vector<float> x;       // bag_dim: mean of the feature rows
    std::vector<float> h;       // hidden
    std::vector<float> logits;  // classes
  };
  void ForwardOne(const std::vector<uint32_t>& features, Activations* act) const;
  void AdamStep(float* param, float* m, float* v, const float* grad, size_t n, float lr);

  ModelConfig config_;
  std::vector<float> table_;  // buckets x bag_dim
  std::vector<float> w1_;     // hidden x bag_dim
  std::vector<float> b1_;     // hidden
  std::vector<float> w2_;     // classes x hidden
  std::vector<float> b2_;     // classes

  // Adam state: first and second moments of every parameter, and the step.
  std::vector<float> table_m_, table_v_;
  std::vector<float> w1_m_, w1_v_, b1_m_, b1_v_, w2_m_, w2_v_, b2_m_, b2_v_;
  int64_t step_ = 0;
  double beta1_power_ = 1.0;
  double beta2_power_ = 1.0;

  // Scratch for TrainBatch: the gradient slot of each touched table row, or -1.
  std::vector<int32_t> row_slot_;
};

}  // namespace sextant::demo
