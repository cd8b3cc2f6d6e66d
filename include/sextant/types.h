// Vocabulary shared by the client, the store and the query layer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sextant/status.h"

namespace sextant {

// The on-disk format version written into every run (docs/format.md).
inline constexpr int kFormatVersion = 2;
// The oldest format version this build still reads (version 1: no checksums).
inline constexpr int kOldestReadableFormatVersion = 1;

enum class TaskType {
  kTextClassification,
  kNaturalLanguageInference,  // a sample is a premise and a hypothesis
  kNamedEntityRecognition,    // a sample is a tagged token sequence; results per span
};

// Accepts "text_classification" (and "tc"), "natural_language_inference"
// (and "nli"), "named_entity_recognition" (and "ner").
Result<TaskType> ParseTaskType(std::string_view name);
std::string_view TaskTypeName(TaskType task);

// How NER tags encode spans (docs/algorithms.md): BIO, BIOES (B, I, E, S, O)
// or BILOU (B, I, L, U, O).
enum class TaggingSchema { kBIO, kBIOES, kBILOU };

// Accepts "BIO", "BIOES", "BILOU" in any case.
Result<TaggingSchema> ParseTaggingSchema(std::string_view name);
std::string_view TaggingSchemaName(TaggingSchema schema);  // "BIO", "BIOES", "BILOU"

enum class Split { kTraining, kValidation, kTest, kInference };

// Accepts "training"/"train", "validation"/"val", "test", "inference".
Result<Split> ParseSplit(std::string_view name);
std::string_view SplitName(Split split);  // "training", "validation", ...
inline bool IsLabeled(Split split) { return split != Split::kInference; }

// A split of a run, plus the inference name for inference data. Inference sets
// with different names live side by side in one run.
struct SplitKey {
  Split split = Split::kTraining;
  std::string inference_name;  // non-empty exactly when split == kInference

  // Validates the combination (inference needs a name; other splits take none).
  static Result<SplitKey> Make(Split split, std::string inference_name = "");
  // Parses "training", "validation", "test" or "inference:NAME".
  static Result<SplitKey> Parse(std::string_view text);

  // "training", "validation", "test" or "inference:NAME".
  std::string ToString() const;
  // A file-system-safe folder name: "training", ..., "inference-NAME".
  std::string DirName() const;

  bool operator==(const SplitKey&) const = default;
  auto operator<=>(const SplitKey&) const = default;
};

// Names of projects, runs and inference sets become folder names, so they are
// restricted to [A-Za-z0-9_.-], 1 to 128 characters, not starting with '.'.
Status ValidateName(std::string_view field, std::string_view name);

enum class OutputKind { kLogits, kProbabilities };

// [start, end) character offsets into a sample's text: an NER token, or a span.
struct CharRange {
  int32_t start = 0;
  int32_t end = 0;
  bool operator==(const CharRange&) const = default;
};

// A gold entity span of an NER sample: characters [start, end) and its entity
// type (e.g. "PER"), a type carried by the run's tag list.
struct GoldSpan {
  int32_t start = 0;
  int32_t end = 0;
  std::string label;
  bool operator==(const GoldSpan&) const = default;
};

// The separator of an NLI pair logged as one text ("premise [SEP] hypothesis").
inline constexpr std::string_view kPairSeparator = "[SEP]";

}  // namespace sextant
