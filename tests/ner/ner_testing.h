// Helpers for the NER tests: tag sequences written as strings.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "ner/spans.h"
#include "ner/tags.h"
#include "testing.h"

namespace sextant::ner::testing {

// Splits "B-PER I-PER O" at spaces.
inline std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The full tag list of a schema for the given types, in the schema's spelling.
inline std::vector<std::string> FullTagList(TaggingSchema schema,
                                            const std::vector<std::string>& types) {
  std::string prefixes = "BI";
  if (schema == TaggingSchema::kBIOES) prefixes = "BIES";
  if (schema == TaggingSchema::kBILOU) prefixes = "BILU";
  std::vector<std::string> tags = {"O"};
  for (const std::string& t : types) {
    for (char p : prefixes) tags.push_back(std::string(1, p) + "-" + t);
  }
  return tags;
}

// A parsed tag list that keeps the names, so that sequences can be written as
// text and spans printed as "PER[0,2)".
class Tags {
 public:
  Tags(std::vector<std::string> names, TaggingSchema schema) : names_(std::move(names)) {
    auto r = ParseTagList(names_, schema);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) set_ = std::move(r).value();
  }
  static Tags Full(TaggingSchema schema,
                   const std::vector<std::string>& types = {"LOC", "ORG", "PER"}) {
    return Tags(FullTagList(schema, types), schema);
  }

  const TagSet& set() const { return set_; }

  std::vector<int32_t> Ids(const std::string& sequence) const {
    std::vector<int32_t> ids;
    for (const std::string& w : Words(sequence)) {
      int32_t id = -1;
      for (size_t i = 0; i < names_.size(); ++i) {
        if (names_[i] == w) id = static_cast<int32_t>(i);
      }
      EXPECT_GE(id, 0) << "no tag '" << w << "' in the test's tag list";
      ids.push_back(id < 0 ? set_.outside : id);
    }
    return ids;
  }

  std::string Names(const std::vector<int32_t>& ids) const {
    std::string out;
    for (int32_t id : ids) out += (out.empty() ? "" : " ") + names_[static_cast<size_t>(id)];
    return out;
  }

  std::string Print(const std::vector<TokenSpan>& spans) const {
    std::string out;
    for (const TokenSpan& s : spans) {
      out += (out.empty() ? "" : " ") + set_.entity_types[static_cast<size_t>(s.type)] + "[" +
             std::to_string(s.begin) + "," + std::to_string(s.end) + ")";
    }
    return out;
  }

  // Decodes a sequence written as text and prints its spans.
  std::string Decode(const std::string& sequence, DecodeMode mode) const {
    return Print(DecodeTags(set_, Ids(sequence), mode));
  }

  int32_t Type(const std::string& name) const { return set_.TypeIndex(name); }

 private:
  std::vector<std::string> names_;
  TagSet set_;
};

// Token spans as labeled spans whose character range is the token range: the
// scores only compare offsets, so token positions serve as characters.
inline std::vector<LabeledSpan> AsLabeled(const std::vector<TokenSpan>& spans) {
  std::vector<LabeledSpan> out;
  for (const TokenSpan& s : spans) out.push_back({{s.begin, s.end}, s.type});
  return out;
}

}  // namespace sextant::ner::testing
