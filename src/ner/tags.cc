#include "ner/tags.h"

#include <algorithm>
#include <cassert>
#include <string_view>

namespace sextant::ner {
namespace {

constexpr int kNumPrefixSlots = 5;  // O, B, I, E, S

int PrefixSlot(char prefix) {
  switch (prefix) {
    case 'B':
      return 1;
    case 'I':
      return 2;
    case 'E':
      return 3;
    case 'S':
      return 4;
    default:
      return 0;
  }
}

// The prefixes a schema allows, in its own spelling, for error messages.
std::string_view AllowedPrefixes(TaggingSchema schema) {
  switch (schema) {
    case TaggingSchema::kBIO:
      return "B, I";
    case TaggingSchema::kBIOES:
      return "B, I, E, S";
    case TaggingSchema::kBILOU:
      return "B, I, L, U";
  }
  return "";
}

// Maps a prefix as written in the tag list to the normalised alphabet, or 0
// when the schema does not allow it.
char NormalisePrefix(char written, TaggingSchema schema) {
  switch (written) {
    case 'B':
    case 'I':
      return written;
    case 'E':
    case 'S':
      return schema == TaggingSchema::kBIOES ? written : 0;
    case 'L':
      return schema == TaggingSchema::kBILOU ? 'E' : 0;
    case 'U':
      return schema == TaggingSchema::kBILOU ? 'S' : 0;
    default:
      return 0;
  }
}

}  // namespace

int32_t TagSet::TagIndex(char p, int32_t t) const {
  if (p == 'O') return outside;
  if (t < 0 || t >= static_cast<int32_t>(entity_types.size())) return -1;
  const size_t slot = static_cast<size_t>(t) * kNumPrefixSlots + PrefixSlot(p);
  return slot < index_by_type_prefix.size() ? index_by_type_prefix[slot] : -1;
}

std::string TagSet::TagName(char p, int32_t t) const {
  if (p == 'O') return "O";
  char written = p;
  if (schema == TaggingSchema::kBILOU && p == 'E') written = 'L';
  if (schema == TaggingSchema::kBILOU && p == 'S') written = 'U';
  const bool known = t >= 0 && t < static_cast<int32_t>(entity_types.size());
  return std::string(1, written) + "-" +
         (known ? entity_types[t] : "<type " + std::to_string(t) + ">");
}

int32_t TagSet::TypeIndex(std::string_view name) const {
  auto it = std::lower_bound(entity_types.begin(), entity_types.end(), name);
  if (it == entity_types.end() || *it != name) return -1;
  return static_cast<int32_t>(it - entity_types.begin());
}

Result<TagSet> ParseTagList(const std::vector<std::string>& tags, TaggingSchema schema) {
  TagSet set;
  set.schema = schema;
  const std::string expected = "expected \"O\" or \"<prefix>-<TYPE>\" with prefix one of " +
                               std::string(AllowedPrefixes(schema)) + " (" +
                               std::string(TaggingSchemaName(schema)) + " schema)";
  // First pass: validate each tag and collect the types, so that type indices
  // follow the sorted type names rather than the order of the list.
  std::vector<std::string_view> type_names(tags.size());
  set.prefix.resize(tags.size());
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string& tag = tags[i];
    const std::string where = "tag '" + tag + "' (index " + std::to_string(i) + ")";
    if (tag == "O") {
      if (set.outside >= 0) {
        return Status::Invalid(where + " is listed twice (first at index " +
                               std::to_string(set.outside) + "); expected each tag once");
      }
      set.outside = static_cast<int32_t>(i);
      set.prefix[i] = 'O';
      continue;
    }
    if (tag.size() < 3 || tag[1] != '-') {
      return Status::Invalid(where + " is not a tag of the schema; " + expected);
    }
    const char p = NormalisePrefix(tag[0], schema);
    if (p == 0) {
      return Status::Invalid(where + ": prefix '" + std::string(1, tag[0]) +
                             "' is not part of the " + std::string(TaggingSchemaName(schema)) +
                             " schema; " + expected);
    }
    set.prefix[i] = p;
    type_names[i] = std::string_view(tag).substr(2);
    set.entity_types.emplace_back(type_names[i]);
  }
  if (set.outside < 0) {
    return Status::Invalid(
        "the tag list has no \"O\" tag; expected \"O\" and tags \"<prefix>-<TYPE>\" (" +
        std::string(TaggingSchemaName(schema)) + " prefixes " +
        std::string(AllowedPrefixes(schema)) + ")");
  }
  std::sort(set.entity_types.begin(), set.entity_types.end());
  set.entity_types.erase(std::unique(set.entity_types.begin(), set.entity_types.end()),
                         set.entity_types.end());

  set.type.assign(tags.size(), -1);
  set.index_by_type_prefix.assign(set.entity_types.size() * kNumPrefixSlots, -1);
  for (size_t i = 0; i < tags.size(); ++i) {
    if (set.prefix[i] == 'O') continue;
    const int32_t t = set.TypeIndex(type_names[i]);
    set.type[i] = t;
    int32_t& slot = set.index_by_type_prefix[static_cast<size_t>(t) * kNumPrefixSlots +
                                             PrefixSlot(set.prefix[i])];
    if (slot >= 0) {
      return Status::Invalid("tag '" + tags[i] + "' (index " + std::to_string(i) +
                             ") is listed twice (first at index " + std::to_string(slot) +
                             "); expected each tag once");
    }
    slot = static_cast<int32_t>(i);
  }
  return set;
}

namespace {

// Strict decoding, one state machine for all schemas: under BIO the only
// terminators are the tokens that follow a span, under BIOES/BILOU only E/S.
std::vector<TokenSpan> DecodeStrict(const TagSet& tags, const int32_t* ids, int32_t n) {
  const bool bio = tags.schema == TaggingSchema::kBIO;
  std::vector<TokenSpan> spans;
  int32_t open_begin = -1;  // begin of the span being read, -1 when none
  int32_t open_type = -1;
  // Under BIO an open span is complete as soon as it stops; under BIOES/BILOU
  // it only counts once an E closes it, so stopping early drops it.
  auto stop = [&](int32_t at) {
    if (open_begin >= 0 && bio) spans.push_back({open_begin, at, open_type});
    open_begin = -1;
  };
  for (int32_t i = 0; i < n; ++i) {
    assert(ids[i] >= 0 && ids[i] < tags.num_tags());
    const char p = tags.prefix[ids[i]];
    const int32_t t = tags.type[ids[i]];
    switch (p) {
      case 'B':
        stop(i);
        open_begin = i;
        open_type = t;
        break;
      case 'I':
        // A continuation of the open span, or a stray I that belongs to no span.
        if (open_begin < 0 || open_type != t) stop(i);
        break;
      case 'E':
        if (open_begin >= 0 && open_type == t) {
          spans.push_back({open_begin, i + 1, t});
          open_begin = -1;
        } else {
          stop(i);
        }
        break;
      case 'S':
        stop(i);
        spans.push_back({i, i + 1, t});
        break;
      default:  // 'O'
        stop(i);
        break;
    }
  }
  stop(n);
  return spans;
}

// conlleval.pl's endOfChunk / startOfChunk, as seqeval ports them with the
// IOBES cases. 'O' carries type -1, and the sequence is read as if an O came
// before and after it.
bool EndOfChunk(char prev, char cur, int32_t prev_type, int32_t type) {
  if (prev == 'E' || prev == 'S') return true;
  if ((prev == 'B' || prev == 'I') && (cur == 'B' || cur == 'S' || cur == 'O')) return true;
  return prev != 'O' && prev_type != type;
}

bool StartOfChunk(char prev, char cur, int32_t prev_type, int32_t type) {
  if (cur == 'B' || cur == 'S') return true;
  if ((prev == 'E' || prev == 'S' || prev == 'O') && (cur == 'E' || cur == 'I')) return true;
  return cur != 'O' && prev_type != type;
}

std::vector<TokenSpan> DecodeConlleval(const TagSet& tags, const int32_t* ids, int32_t n) {
  std::vector<TokenSpan> spans;
  char prev = 'O';
  int32_t prev_type = -1;
  int32_t begin = 0;
  for (int32_t i = 0; i <= n; ++i) {
    char cur = 'O';
    int32_t type = -1;
    if (i < n) {
      assert(ids[i] >= 0 && ids[i] < tags.num_tags());
      cur = tags.prefix[ids[i]];
      type = tags.type[ids[i]];
    }
    if (EndOfChunk(prev, cur, prev_type, type)) spans.push_back({begin, i, prev_type});
    if (StartOfChunk(prev, cur, prev_type, type)) begin = i;
    prev = cur;
    prev_type = type;
  }
  return spans;
}

std::string RangeText(const TokenSpan& s) {
  return "[" + std::to_string(s.begin) + ", " + std::to_string(s.end) + ")";
}

}  // namespace

std::vector<TokenSpan> DecodeTags(const TagSet& tags, const int32_t* tag_ids, int32_t n,
                                  DecodeMode mode) {
  return mode == DecodeMode::kStrict ? DecodeStrict(tags, tag_ids, n)
                                     : DecodeConlleval(tags, tag_ids, n);
}

Result<std::vector<int32_t>> EncodeSpans(const TagSet& tags, const std::vector<TokenSpan>& spans,
                                         int32_t num_tokens) {
  const int32_t num_types = static_cast<int32_t>(tags.entity_types.size());
  std::vector<TokenSpan> sorted = spans;
  for (const TokenSpan& s : sorted) {
    if (s.begin < 0 || s.begin >= s.end || s.end > num_tokens) {
      return Status::Invalid("span of tokens " + RangeText(s) + " is empty or outside the " +
                             std::to_string(num_tokens) +
                             " tokens; expected 0 <= begin < end <= " + std::to_string(num_tokens));
    }
    if (s.type < 0 || s.type >= num_types) {
      return Status::Invalid("span of tokens " + RangeText(s) + " has type index " +
                             std::to_string(s.type) + "; expected 0 to " +
                             std::to_string(num_types - 1));
    }
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const TokenSpan& a, const TokenSpan& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].begin < sorted[i - 1].end) {
      return Status::Invalid("spans of tokens " + RangeText(sorted[i - 1]) + " and " +
                             RangeText(sorted[i]) + " overlap; expected disjoint spans");
    }
  }

  const bool bio = tags.schema == TaggingSchema::kBIO;
  std::vector<int32_t> out(static_cast<size_t>(num_tokens), tags.outside);
  for (const TokenSpan& s : sorted) {
    for (int32_t i = s.begin; i < s.end; ++i) {
      char p = 'I';
      if (!bio && s.end - s.begin == 1) {
        p = 'S';
      } else if (i == s.begin) {
        p = 'B';
      } else if (!bio && i == s.end - 1) {
        p = 'E';
      }
      const int32_t id = tags.TagIndex(p, s.type);
      if (id < 0) {
        return Status::Invalid("tag '" + tags.TagName(p, s.type) +
                               "' is needed to encode the span of tokens " + RangeText(s) +
                               " but is not in the tag list; expected the list to include it");
      }
      out[static_cast<size_t>(i)] = id;
    }
  }
  return out;
}

}  // namespace sextant::ner
