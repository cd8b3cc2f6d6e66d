#include "sextant/types.h"

#include "testing.h"

namespace sextant {
namespace {

TEST(SplitKey, InferenceNeedsAName) {
  auto r = SplitKey::Make(Split::kInference, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("inference_name"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(SplitKey k, SplitKey::Make(Split::kInference, "prod_1"));
  EXPECT_EQ(k.ToString(), "inference:prod_1");
  EXPECT_EQ(k.DirName(), "inference-prod_1");
}

TEST(SplitKey, LabeledSplitsTakeNoName) {
  EXPECT_FALSE(SplitKey::Make(Split::kTraining, "x").ok());
  ASSERT_OK_AND_ASSIGN(SplitKey k, SplitKey::Parse("train"));
  EXPECT_EQ(k.ToString(), "training");
}

TEST(SplitKey, ParseRoundTrips) {
  for (const char* s : {"training", "validation", "test", "inference:yelp.v2"}) {
    ASSERT_OK_AND_ASSIGN(SplitKey k, SplitKey::Parse(s));
    EXPECT_EQ(k.ToString(), s);
  }
}

TEST(Split, UnknownSplitNamesTheChoices) {
  auto r = ParseSplit("prod");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'prod'"), std::string::npos);
  EXPECT_NE(r.status().message().find("training, validation, test, inference"), std::string::npos);
}

TEST(ValidateName, RejectsPathCharacters) {
  EXPECT_OK(ValidateName("run", "run-1.2_a"));
  EXPECT_FALSE(ValidateName("run", "../etc").ok());
  EXPECT_FALSE(ValidateName("run", "a/b").ok());
  EXPECT_FALSE(ValidateName("run", "").ok());
  EXPECT_FALSE(ValidateName("run", ".hidden").ok());
}

}  // namespace
}  // namespace sextant
