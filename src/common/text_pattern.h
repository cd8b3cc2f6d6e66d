// TextPattern: the one regular-expression engine of every text search (the
// console's text/premise/hypothesis filters, RunReader::Samples/Spans, the CLI
// and Python). RE2 syntax, case-insensitive, unanchored search; matching time
// is linear in the text's length whatever the pattern, unlike std::regex, whose
// backtracking was exponential on `(a+)+$` and overflowed the stack on
// `.*zzz` over a 50,000-character text.
//
// What RE2 refuses (backreferences `\1`, lookaround `(?=`, `(?!`, `(?<=`,
// possessive quantifiers) is an InvalidArgument naming the field; so are
// patterns longer than kMaxTextPatternBytes or compiling to more than
// kMaxTextProgramSize instructions (e.g. `(\w{100}){100}`).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "sextant/status.h"

namespace re2 {
class RE2;
}

namespace sextant {

inline constexpr size_t kMaxTextPatternBytes = 1000;
inline constexpr int kMaxTextProgramSize = 20000;

class TextPattern {
 public:
  // `field` names the parameter in errors ("text", "premise", "text regex").
  static Result<TextPattern> Compile(const std::string& pattern, const std::string& field);
  // Whether the pattern occurs anywhere in `text` (case-insensitive).
  bool Search(std::string_view text) const;

 private:
  explicit TextPattern(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace sextant
