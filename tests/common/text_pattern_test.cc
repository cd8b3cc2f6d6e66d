#include "common/text_pattern.h"

#include <chrono>
#include <thread>

#include "common/request_budget.h"
#include "testing.h"

namespace sextant {
namespace {

TEST(TextPattern, SearchesCaseInsensitively) {
  ASSERT_OK_AND_ASSIGN(TextPattern p, TextPattern::Compile("gr[e]at\\b", "text"));
  EXPECT_TRUE(p.Search("a GREAT day"));
  EXPECT_FALSE(p.Search("greatest"));
  ASSERT_OK_AND_ASSIGN(TextPattern anchored, TextPattern::Compile("^sample 1[0-2]$", "text"));
  EXPECT_TRUE(anchored.Search("Sample 11"));
  EXPECT_FALSE(anchored.Search("sample 13"));
  ASSERT_OK_AND_ASSIGN(TextPattern utf8, TextPattern::Compile("ÉTÉ", "text"));
  EXPECT_TRUE(utf8.Search("un été chaud"));
}

// std::regex overflowed its stack on `.*zzz` over 50,000 characters (SIGSEGV)
// and took exponential time on the two nested quantifiers.
TEST(TextPattern, PathologicalPatternsAreLinear) {
  const std::string long_text(50000, 'a');
  ASSERT_OK_AND_ASSIGN(TextPattern dot_star, TextPattern::Compile(".*zzz", "text"));
  EXPECT_FALSE(dot_star.Search(long_text));
  EXPECT_TRUE(dot_star.Search(long_text + "zzz"));

  const std::string aab = std::string(5000, 'a') + "b";
  ASSERT_OK_AND_ASSIGN(TextPattern nested, TextPattern::Compile("(a+)+$", "text"));
  EXPECT_TRUE(nested.Search(aab + "a"));
  ASSERT_OK_AND_ASSIGN(TextPattern nested_anchored, TextPattern::Compile("^(a+)+$", "text"));
  EXPECT_FALSE(nested_anchored.Search(aab));

  std::string words;
  for (int i = 0; i < 5000; ++i) words += "word ";
  ASSERT_OK_AND_ASSIGN(TextPattern wordy, TextPattern::Compile("^(\\w+\\s?)*$", "text"));
  EXPECT_FALSE(wordy.Search(words + "!"));
  EXPECT_TRUE(wordy.Search(words));
}

TEST(TextPattern, RefusesWhatRe2CannotDoNamingTheField) {
  EXPECT_STATUS(TextPattern::Compile("(a)\\1", "text").status(), kInvalidArgument, "text",
                "'(a)\\1'", "not a valid regular expression", "backreferences");
  EXPECT_STATUS(TextPattern::Compile("foo(?=bar)", "premise").status(), kInvalidArgument, "premise",
                "not a valid regular expression");
  EXPECT_STATUS(TextPattern::Compile("(unclosed", "text").status(), kInvalidArgument, "text",
                "missing )");
  EXPECT_STATUS(TextPattern::Compile(std::string(kMaxTextPatternBytes + 1, 'a'), "text").status(),
                kInvalidArgument, "text", "at most 1000");
  EXPECT_STATUS(TextPattern::Compile("((((\\w{100}){100}){100}){100})", "text").status(),
                kInvalidArgument, "text");
}

TEST(RequestBudget, StopsPastTheDeadlineOrWhenTheClientIsGone) {
  EXPECT_OK(CheckRequestBudget("the text search"));  // no budget set
  {
    RequestBudget b;
    b.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    b.budget_s = 2.5;
    ScopedRequestBudget scope(b);
    EXPECT_STATUS(CheckRequestBudget("the text search"), kInvalidArgument,
                  "the text search exceeded its time budget of 2.5 s");
  }
  {
    RequestBudget b;
    b.client_gone = [] { return true; };
    ScopedRequestBudget scope(b);
    EXPECT_FALSE(CheckRequestBudget("the text search").ok());
  }
  EXPECT_OK(CheckRequestBudget("the text search"));  // the scope is over
}

}  // namespace
}  // namespace sextant
