// Stored NER fields checked (docs/format.md): tokens, gold spans and span
// rows' entity type indices read from the database are validated before use.
#include <filesystem>

#include "query/check.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "store/run_store.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

const SplitKey kTraining{Split::kTraining, ""};
const std::string kText = "Ann Lee met Bob in Rome";
const std::vector<CharRange> kTokens = {{0, 3}, {4, 7}, {8, 11}, {12, 15}, {16, 18}, {19, 23}};

ProcessingOptions Options() {
  ProcessingOptions o;
  o.drift_k = 1;
  o.compute_map = false;
  return o;
}

// A finished NER run "p/ner": two training samples of six tokens.
void MakeNerRun(const fs::path& root) {
  auto c = Client::Init({root, "p", "ner", TaskType::kNamedEntityRecognition});
  ASSERT_OK(c.status());
  auto& client = *c;
  ASSERT_OK(client->SetLabelsForRun({"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}));
  ASSERT_OK(client->SetTaggingSchema(TaggingSchema::kBIO));
  DataBatch data;
  data.ids = {"a", "b"};
  data.texts = {kText, kText};
  data.token_offsets = {kTokens, kTokens};
  data.gold_spans = {{{0, 7, "PER"}, {19, 23, "LOC"}}, {{0, 3, "PER"}}};
  ASSERT_OK(client->LogDataSamples(data, kTraining));
  std::vector<float> emb, logits;
  const std::vector<int> tags = {1, 2, 0, 3, 3, 4, 0, 0, 1, 0, 0, 0};
  for (size_t t = 0; t < tags.size(); ++t) {
    for (int d = 0; d < 4; ++d) emb.push_back(static_cast<float>(tags[t] == d) + 0.01f * t);
    for (int k = 0; k < 5; ++k) logits.push_back(k == tags[t] ? 4.0f : 0.0f);
  }
  OutputsBatch batch;
  batch.ids = {"a", "b"};
  batch.embeddings = {emb.data(), 12, 4};
  batch.logits = {logits.data(), 12, 5};
  ASSERT_OK(client->LogModelOutputs(batch, kTraining, 0));
  ASSERT_OK(client->Finish(Options()).status());
}

class NerCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeNerRun(root_.path());
    run_dir_ = root_.path() / "p" / "ner";
  }
  void Sql(const std::string& sql) {
    ASSERT_OK_AND_ASSIGN(auto db, store::Database::Open(run_dir_ / store::kDatabaseFile, false));
    ASSERT_OK(db->Exec(sql));
  }
  Status ReadSamplesAndSpans() {
    SEXTANT_ASSIGN_OR_RETURN(auto reader, RunReader::Open(root_.path(), "p", "ner"));
    SampleQuery q;
    q.split = kTraining;
    SEXTANT_RETURN_IF_ERROR(reader->Samples(q).status());
    SpanQuery s;
    s.split = kTraining;
    return reader->Spans(s).status();
  }
  bool CheckNames(const std::string& part) {
    const RunCheck c = CheckRun(run_dir_);
    for (const auto& p : c.problems) {
      if (p.find(part) != std::string::npos) return true;
    }
    return false;
  }
  TempDir root_;
  fs::path run_dir_;
};

TEST_F(NerCorruptionTest, ASoundRunReads) {
  EXPECT_OK(ReadSamplesAndSpans());
  EXPECT_TRUE(CheckRun(run_dir_).ok());
}

TEST_F(NerCorruptionTest, TokensOfTheWrongTypeAreNamed) {
  Sql("UPDATE sample_fields SET tokens='[[\"x\", 1]]' WHERE row=0");
  EXPECT_STATUS(ReadSamplesAndSpans(), kIOError, "sample 'a'", "sample_fields.tokens");
  EXPECT_STATUS(FinishRun(root_.path(), "p", "ner", Options()), kIOError, "sample_fields.tokens");
  EXPECT_TRUE(CheckNames("sample_fields.tokens"));
}

TEST_F(NerCorruptionTest, TokensThatAreNotJsonAreNamed) {
  Sql("UPDATE sample_fields SET tokens='[[0, 3], [4' WHERE row=1");
  EXPECT_STATUS(ReadSamplesAndSpans(), kIOError, "sample 'b'", "tokens");
}

TEST_F(NerCorruptionTest, GoldSpansOfTheWrongShapeAreNamed) {
  Sql("UPDATE sample_fields SET gold_spans='[[0, 7]]' WHERE row=0");
  EXPECT_STATUS(FinishRun(root_.path(), "p", "ner", Options()), kIOError, "sample 'a'",
                "sample_fields.gold_spans");
  EXPECT_TRUE(CheckNames("gold_spans"));
}

TEST_F(NerCorruptionTest, SpanEntityTypePastTheListIsNamed) {
  Sql("UPDATE span_results SET gold=9 WHERE span_row=0");
  EXPECT_STATUS(ReadSamplesAndSpans(), kIOError, "span_results.gold", "entity type index 9");
  EXPECT_TRUE(CheckNames("span_results.gold"));
  Sql("UPDATE span_results SET gold=0, pred=-2 WHERE span_row=0");
  EXPECT_STATUS(ReadSamplesAndSpans(), kIOError, "span_results.pred", "entity type index -2");
}

}  // namespace
}  // namespace sextant
