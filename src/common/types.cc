#include "sextant/types.h"

#include <cctype>

namespace sextant {

Result<TaskType> ParseTaskType(std::string_view name) {
  if (name == "text_classification" || name == "tc") return TaskType::kTextClassification;
  if (name == "natural_language_inference" || name == "nli") {
    return TaskType::kNaturalLanguageInference;
  }
  if (name == "named_entity_recognition" || name == "ner") return TaskType::kNamedEntityRecognition;
  return Status::Invalid("task_type: unknown task type '" + std::string(name) +
                         "'; expected one of: text_classification (tc), "
                         "natural_language_inference (nli), named_entity_recognition (ner)");
}

std::string_view TaskTypeName(TaskType task) {
  switch (task) {
    case TaskType::kTextClassification:
      return "text_classification";
    case TaskType::kNaturalLanguageInference:
      return "natural_language_inference";
    case TaskType::kNamedEntityRecognition:
      return "named_entity_recognition";
  }
  return "unknown";
}

Result<TaggingSchema> ParseTaggingSchema(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "BIO") return TaggingSchema::kBIO;
  if (upper == "BIOES") return TaggingSchema::kBIOES;
  if (upper == "BILOU") return TaggingSchema::kBILOU;
  return Status::Invalid("tagging_schema: unknown schema '" + std::string(name) +
                         "'; expected one of: BIO, BIOES, BILOU");
}

std::string_view TaggingSchemaName(TaggingSchema schema) {
  switch (schema) {
    case TaggingSchema::kBIO:
      return "BIO";
    case TaggingSchema::kBIOES:
      return "BIOES";
    case TaggingSchema::kBILOU:
      return "BILOU";
  }
  return "unknown";
}

Result<Split> ParseSplit(std::string_view name) {
  if (name == "training" || name == "train") return Split::kTraining;
  if (name == "validation" || name == "val") return Split::kValidation;
  if (name == "test") return Split::kTest;
  if (name == "inference") return Split::kInference;
  return Status::Invalid("split: unknown split '" + std::string(name) +
                         "'; expected one of: training, validation, test, inference");
}

std::string_view SplitName(Split split) {
  switch (split) {
    case Split::kTraining:
      return "training";
    case Split::kValidation:
      return "validation";
    case Split::kTest:
      return "test";
    case Split::kInference:
      return "inference";
  }
  return "unknown";
}

Status ValidateName(std::string_view field, std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Status::Invalid(std::string(field) + ": '" + std::string(name) + "' " + why +
                           "; expected 1 to 128 characters from [A-Za-z0-9_.-], not starting "
                           "with '.'");
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 128) return bad("is too long");
  if (name.front() == '.') return bad("starts with '.'");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return bad("contains '" + std::string(1, c) + "'");
    }
  }
  return Status::OK();
}

Result<SplitKey> SplitKey::Make(Split split, std::string inference_name) {
  if (split == Split::kInference) {
    if (inference_name.empty()) {
      return Status::Invalid(
          "inference_name: inference data needs an inference name (e.g. 'prod_1')");
    }
    SEXTANT_RETURN_IF_ERROR(ValidateName("inference_name", inference_name));
  } else if (!inference_name.empty()) {
    return Status::Invalid("inference_name: '" + inference_name + "' given for split '" +
                           std::string(SplitName(split)) +
                           "'; only inference data takes an inference name");
  }
  return SplitKey{split, std::move(inference_name)};
}

Result<SplitKey> SplitKey::Parse(std::string_view text) {
  auto colon = text.find(':');
  std::string_view split_part = text.substr(0, colon);
  std::string name = colon == std::string_view::npos ? "" : std::string(text.substr(colon + 1));
  SEXTANT_ASSIGN_OR_RETURN(Split split, ParseSplit(split_part));
  return Make(split, std::move(name));
}

std::string SplitKey::ToString() const {
  if (split == Split::kInference) return "inference:" + inference_name;
  return std::string(SplitName(split));
}

std::string SplitKey::DirName() const {
  if (split == Split::kInference) return "inference-" + inference_name;
  return std::string(SplitName(split));
}

}  // namespace sextant
