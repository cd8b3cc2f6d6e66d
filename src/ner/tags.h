// NER tag lists and the conversion between tag sequences and token spans
// (docs/algorithms.md, section NER; docs/ner-nli.md).
//
// Pure functions over in-memory vectors: no I/O, no state, safe to call from
// any number of threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::ner {

// A run's tag list (the model's logit order) parsed for its tagging schema.
// Prefixes are normalised so that the decoders see one alphabet: BILOU's L is
// stored as 'E' and U as 'S'.
struct TagSet {
  TaggingSchema schema = TaggingSchema::kBIO;
  std::vector<std::string> entity_types;  // sorted, unique ("LOC", "PER", ...)
  std::vector<char> prefix;               // per tag index: 'O', 'B', 'I', 'E' or 'S'
  std::vector<int32_t> type;              // per tag index: index into entity_types, -1 for O
  int32_t outside = -1;                   // index of "O"
  // Tag index by (type, prefix slot O/B/I/E/S); filled by ParseTagList, read by TagIndex.
  std::vector<int32_t> index_by_type_prefix;

  int32_t num_tags() const { return static_cast<int32_t>(prefix.size()); }
  // The tag index of `prefix` ('B', 'I', 'E', 'S'; 'O' with any type) and
  // `type`; -1 when the list has no such tag.
  int32_t TagIndex(char prefix, int32_t type) const;
  // The tag as the schema spells it ("L-PER" under BILOU for prefix 'E'), whether
  // or not the list holds it; for error messages.
  std::string TagName(char prefix, int32_t type) const;
  // Index of `name` in entity_types, or -1.
  int32_t TypeIndex(std::string_view name) const;
};

// Parses the tag list. Errors (Status::Invalid) name the tag, its index and what
// was expected: a tag that is not "O" or "<P>-<TYPE>" with P allowed by the
// schema (BIO: B, I; BIOES: B, I, E, S; BILOU: B, I, L, U) and a non-empty TYPE;
// a list without "O"; a tag listed twice. A type need not have every prefix in
// the list (EncodeSpans reports a tag it needs and cannot find).
Result<TagSet> ParseTagList(const std::vector<std::string>& tags, TaggingSchema schema);

// Tokens [begin, end) of one sample, with an entity type (index into
// TagSet::entity_types).
struct TokenSpan {
  int32_t begin = 0, end = 0;
  int32_t type = 0;
  bool operator==(const TokenSpan&) const = default;
};

enum class DecodeMode {
  // The run's default (as Galileo and seqeval's strict mode): BIO: B-X I-X*, a
  // stray I-X belongs to no span. BIOES/BILOU: S-X (U-X) is a one-token span,
  // B-X I-X* E-X (L-X) a longer one; a span without its end tag is dropped.
  kStrict,
  // conlleval.pl and seqeval's default: a chunk also starts at an I-X (or E-X)
  // after O or a token of another type, and ends before B-, S-, O or a type
  // change, or after E-/S-. Reproduces the published CoNLL figures on IOB1 data.
  kConlleval,
};

// The spans of one sample's tag sequence, in order. `tag_ids` holds `n` tag
// indices into `tags`, each in [0, tags.num_tags()) (the argmax of a logit row,
// or EncodeSpans' output); this is asserted, not checked.
std::vector<TokenSpan> DecodeTags(const TagSet& tags, const int32_t* tag_ids, int32_t n,
                                  DecodeMode mode);
inline std::vector<TokenSpan> DecodeTags(const TagSet& tags, const std::vector<int32_t>& tag_ids,
                                         DecodeMode mode) {
  return DecodeTags(tags, tag_ids.data(), static_cast<int32_t>(tag_ids.size()), mode);
}

// One sample's gold spans as a tag per token in the schema (the per-token gold
// tags): tokens outside every span get "O". Spans may come in any order.
// Errors: a span outside [0, num_tokens) or empty, a type out of range, two
// spans sharing a token, a tag the encoding needs that the list lacks (named,
// e.g. "U-PER"). DecodeTags(kStrict) of the result gives the spans back, sorted.
Result<std::vector<int32_t>> EncodeSpans(const TagSet& tags, const std::vector<TokenSpan>& spans,
                                         int32_t num_tokens);

}  // namespace sextant::ner
