#include "common/text_pattern.h"

#include <re2/re2.h>

namespace sextant {

Result<TextPattern> TextPattern::Compile(const std::string& pattern, const std::string& field) {
  if (pattern.size() > kMaxTextPatternBytes) {
    return Status::Invalid(field + ": the pattern has " + std::to_string(pattern.size()) +
                           " bytes; at most " + std::to_string(kMaxTextPatternBytes) +
                           " are accepted");
  }
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  // Bounds the compiled program and the DFA cache of one pattern (RE2 falls
  // back to its NFA, still linear, when the DFA cache is full).
  options.set_max_mem(8 << 20);
  auto re = std::make_shared<const RE2>(pattern, options);
  if (!re->ok()) {
    return Status::Invalid(field + ": '" + pattern +
                           "' is not a valid regular expression (RE2 syntax: no backreferences or "
                           "lookaround; docs/http-api.md): " +
                           re->error());
  }
  if (re->ProgramSize() > kMaxTextProgramSize) {
    return Status::Invalid(field + ": '" + pattern + "' is too complex (it compiles to " +
                           std::to_string(re->ProgramSize()) + " instructions; at most " +
                           std::to_string(kMaxTextProgramSize) + " are accepted)");
  }
  return TextPattern(std::move(re));
}

bool TextPattern::Search(std::string_view text) const {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

}  // namespace sextant
