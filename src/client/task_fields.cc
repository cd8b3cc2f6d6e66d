#include "client/task_fields.h"

#include <algorithm>
#include <string>

#include "ner/spans.h"

namespace sextant::client {
namespace {

std::string Count(size_t got, size_t n, const char* what) {
  return std::to_string(got) + " values for " + std::to_string(n) + " ids; expected one " + what +
         " per id";
}

std::string IdAt(const DataBatch& batch, size_t i) {
  return "sample id '" + batch.ids[i] + "' (row " + std::to_string(i) + ")";
}

// Offsets count characters (code points), as Python's str and SQLite's substr do.
int32_t CodePoints(const std::string& utf8) {
  int32_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

// One text per sample (every task logs texts, except NLI given as two fields).
Status CheckTexts(const DataBatch& batch, size_t n) {
  if (batch.texts.size() == n) return Status::OK();
  return Status::Invalid("texts: " + Count(batch.texts.size(), n, "text"));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Fields of one task given to a run of another, named so the caller sees which.
Status RejectForeignFields(TaskType task, const DataBatch& batch) {
  const std::string run = "this run is " + std::string(TaskTypeName(task));
  if (task != TaskType::kNaturalLanguageInference &&
      (!batch.premises.empty() || !batch.hypotheses.empty())) {
    return Status::Invalid(std::string(batch.premises.empty() ? "hypotheses" : "premises") +
                           ": only natural_language_inference runs take premises and "
                           "hypotheses; " +
                           run);
  }
  if (task != TaskType::kNamedEntityRecognition &&
      (!batch.token_offsets.empty() || !batch.gold_spans.empty())) {
    return Status::Invalid(
        std::string(batch.token_offsets.empty() ? "gold_spans" : "text_token_indices") +
        ": only named_entity_recognition runs take token offsets and gold "
        "spans; " +
        run);
  }
  return Status::OK();
}

Status ResolvePairs(const DataBatch& batch, std::vector<store::SampleRecord>* records) {
  const size_t n = records->size();
  const bool pairs = !batch.premises.empty() || !batch.hypotheses.empty();
  if (pairs) {
    if (!batch.texts.empty()) {
      return Status::Invalid(
          "texts: give premises and hypotheses, or texts holding "
          "'premise [SEP] hypothesis', not both");
    }
    if (batch.premises.size() != n)
      return Status::Invalid("premises: " + Count(batch.premises.size(), n, "premise"));
    if (batch.hypotheses.size() != n) {
      return Status::Invalid("hypotheses: " + Count(batch.hypotheses.size(), n, "hypothesis"));
    }
    for (size_t i = 0; i < n; ++i) {
      store::SampleRecord& r = (*records)[i];
      r.premise = batch.premises[i];
      r.hypothesis = batch.hypotheses[i];
      r.text = r.premise + " " + std::string(kPairSeparator) + " " + r.hypothesis;
    }
    return Status::OK();
  }
  SEXTANT_RETURN_IF_ERROR(CheckTexts(batch, n));
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = batch.texts[i];
    const size_t at = text.find(kPairSeparator);
    if (at == std::string::npos) {
      return Status::Invalid("texts: " + IdAt(batch, i) + " has no '" +
                             std::string(kPairSeparator) +
                             "' separator; expected 'premise [SEP] hypothesis', or log premises "
                             "and hypotheses as two fields");
    }
    store::SampleRecord& r = (*records)[i];
    r.premise = Trim(std::string_view(text).substr(0, at));
    r.hypothesis = Trim(std::string_view(text).substr(at + kPairSeparator.size()));
    r.text = r.premise + " " + std::string(kPairSeparator) + " " + r.hypothesis;
  }
  return Status::OK();
}

Status ResolveTokensAndSpans(const SplitKey& key, const DataBatch& batch, const ner::TagSet& tags,
                             std::vector<store::SampleRecord>* records) {
  const size_t n = records->size();
  SEXTANT_RETURN_IF_ERROR(CheckTexts(batch, n));
  if (!batch.labels.empty() || !batch.label_indices.empty()) {
    return Status::Invalid("labels: NER samples take gold_spans, not labels (" + IdAt(batch, 0) +
                           " has a label)");
  }
  if (batch.token_offsets.size() != n) {
    return Status::Invalid("text_token_indices: " +
                           Count(batch.token_offsets.size(), n, "list of token offsets"));
  }
  if (!IsLabeled(key.split) && !batch.gold_spans.empty()) {
    return Status::Invalid("gold_spans: inference data takes no gold spans (" + IdAt(batch, 0) +
                           "); log labeled data as training, validation or test");
  }
  if (IsLabeled(key.split) && batch.gold_spans.size() != n) {
    return Status::Invalid(
        "gold_spans: " + Count(batch.gold_spans.size(), n, "list of gold spans") +
        " (an empty list for a sample without entities) in " + key.ToString() + " data");
  }
  for (size_t i = 0; i < n; ++i) {
    store::SampleRecord& r = (*records)[i];
    r.text = batch.texts[i];
    r.tokens = batch.token_offsets[i];
    if (r.tokens.empty()) {
      return Status::Invalid("text_token_indices: " + IdAt(batch, i) +
                             " has no tokens; expected "
                             "at least one (start, end) pair");
    }
    const int32_t text_length = CodePoints(r.text);
    Status st = ner::ValidateTokenOffsets(r.tokens, text_length);
    if (!st.ok())
      return Status::Invalid("text_token_indices: " + IdAt(batch, i) + ": " + st.message());
    if (!IsLabeled(key.split)) continue;
    std::vector<GoldSpan> spans = batch.gold_spans[i];
    std::sort(spans.begin(), spans.end(), [](const GoldSpan& a, const GoldSpan& b) {
      return a.start != b.start ? a.start < b.start : a.end < b.end;
    });
    for (size_t j = 0; j < spans.size(); ++j) {
      const GoldSpan& g = spans[j];
      const std::string where = "gold_spans: " + IdAt(batch, i) + ", span [" +
                                std::to_string(g.start) + ", " + std::to_string(g.end) + ") '" +
                                g.label + "'";
      auto type = std::find(tags.entity_types.begin(), tags.entity_types.end(), g.label);
      if (type == tags.entity_types.end()) {
        std::string known;
        for (const auto& t : tags.entity_types) known += (known.empty() ? "" : ", ") + t;
        return Status::Invalid(where +
                               ": unknown label; expected an entity type of the run's "
                               "tags (" +
                               known + ")");
      }
      if (j > 0 && spans[j - 1].end > g.start) {
        return Status::Invalid(where + " overlaps the gold span [" +
                               std::to_string(spans[j - 1].start) + ", " +
                               std::to_string(spans[j - 1].end) +
                               "); expected "
                               "non-overlapping gold spans");
      }
      auto token_span =
          ner::CharToTokenSpan(r.tokens, {g.start, g.end},
                               static_cast<int32_t>(type - tags.entity_types.begin()), text_length);
      if (!token_span.ok()) return Status::Invalid(where + ": " + token_span.status().message());
    }
    r.gold_spans = std::move(spans);
  }
  return Status::OK();
}

}  // namespace

Status ResolveTaskFields(TaskType task, const SplitKey& key, const DataBatch& batch,
                         const ner::TagSet* tags, std::vector<store::SampleRecord>* records) {
  SEXTANT_RETURN_IF_ERROR(RejectForeignFields(task, batch));
  switch (task) {
    case TaskType::kNaturalLanguageInference:
      return ResolvePairs(batch, records);
    case TaskType::kNamedEntityRecognition:
      if (tags == nullptr) {
        return Status::FailedPrecondition(
            "tagging_schema: set the run's tag list (set_labels_for_run) and tagging schema "
            "(set_tagging_schema) before logging NER data");
      }
      return ResolveTokensAndSpans(key, batch, *tags, records);
    case TaskType::kTextClassification:
      break;
  }
  const size_t n = records->size();
  SEXTANT_RETURN_IF_ERROR(CheckTexts(batch, n));
  for (size_t i = 0; i < n; ++i) (*records)[i].text = batch.texts[i];
  return Status::OK();
}

}  // namespace sextant::client
