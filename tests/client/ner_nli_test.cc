// NER and NLI through the C++ client: every bad input of docs/ner-nli.md is a
// clear error that changes nothing, and what is logged comes back processed
// (span rows, span F1, pairs) through the RunReader.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sextant/client.h"
#include "sextant/results.h"
#include "testing.h"

namespace sextant {
namespace {

using ::sextant::testing::TempDir;

const std::vector<std::string> kTags = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
const SplitKey kTraining{Split::kTraining, ""};
const SplitKey kProduction{Split::kInference, "prod"};

// "Ann Lee met Bob in Rome": tokens at word boundaries.
const std::string kText = "Ann Lee met Bob in Rome";
const std::vector<CharRange> kTokens = {{0, 3}, {4, 7}, {8, 11}, {12, 15}, {16, 18}, {19, 23}};

DataBatch OneSample(const std::string& id, std::vector<GoldSpan> gold) {
  DataBatch b;
  b.ids = {id};
  b.texts = {kText};
  b.token_offsets = {kTokens};
  b.gold_spans = {std::move(gold)};
  return b;
}

// Token outputs whose argmax is the given tag per token, with a confidence margin.
struct TokenOutputs {
  std::vector<float> embeddings, logits;
  MatrixView Emb(int64_t rows) const { return {embeddings.data(), rows, 4}; }
  MatrixView Logits(int64_t rows) const { return {logits.data(), rows, 5}; }
  void Add(const std::vector<int>& tags, float shift) {
    for (size_t t = 0; t < tags.size(); ++t) {
      for (int d = 0; d < 4; ++d)
        embeddings.push_back(static_cast<float>(tags[t] == d) + shift + 0.01f * t);
      for (int c = 0; c < 5; ++c) logits.push_back(c == tags[t] ? 4.0f : 0.0f);
    }
  }
};

class NerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Client::Init({dir_.path(), "p", "ner", TaskType::kNamedEntityRecognition});
    ASSERT_OK(c.status());
    client_ = std::move(*c);
    ASSERT_OK(client_->SetLabelsForRun(kTags));
  }
  TempDir dir_;
  std::unique_ptr<Client> client_;
};

TEST_F(NerClientTest, DataNeedsTheTaggingSchema) {
  EXPECT_STATUS(client_->LogDataSamples(OneSample("a", {}), kTraining), kFailedPrecondition,
                "tagging_schema", "set_tagging_schema");
}

TEST_F(NerClientTest, EveryBadInputNamesTheFieldAndTheSample) {
  ASSERT_OK(client_->SetTaggingSchema(TaggingSchema::kBIO));
  EXPECT_STATUS(client_->SetTaggingSchema(TaggingSchema::kBILOU), kInvalidArgument,
                "tagging_schema", "BILOU", "BIO");
  // Spans outside the text, empty, inside a token, unknown label, overlapping.
  EXPECT_STATUS(client_->LogDataSamples(OneSample("a", {{19, 30, "LOC"}}), kTraining),
                kInvalidArgument, "gold_spans", "'a'", "[19, 30)");
  EXPECT_STATUS(client_->LogDataSamples(OneSample("a", {{4, 4, "PER"}}), kTraining),
                kInvalidArgument, "gold_spans", "'a'");
  EXPECT_STATUS(client_->LogDataSamples(OneSample("a", {{1, 7, "PER"}}), kTraining),
                kInvalidArgument, "gold_spans", "'a'", "token");
  EXPECT_STATUS(client_->LogDataSamples(OneSample("a", {{0, 3, "ORG"}}), kTraining),
                kInvalidArgument, "gold_spans", "'ORG'", "unknown label", "LOC, PER");
  EXPECT_STATUS(client_->LogDataSamples(OneSample("a", {{0, 7, "PER"}, {4, 11, "PER"}}), kTraining),
                kInvalidArgument, "gold_spans", "overlaps");
  // Token offsets out of order or past the text.
  DataBatch disordered = OneSample("a", {});
  disordered.token_offsets[0] = {{4, 7}, {0, 3}};
  EXPECT_STATUS(client_->LogDataSamples(disordered, kTraining), kInvalidArgument,
                "text_token_indices", "'a'", "token 1");
  DataBatch past = OneSample("a", {});
  past.token_offsets[0] = {{0, 3}, {20, 40}};
  EXPECT_STATUS(client_->LogDataSamples(past, kTraining), kInvalidArgument, "text_token_indices",
                "'a'");
  // Labels instead of spans; gold spans on inference data; a missing gold-span list.
  DataBatch labeled = OneSample("a", {});
  labeled.labels = {"B-PER"};
  EXPECT_STATUS(client_->LogDataSamples(labeled, kTraining), kInvalidArgument, "labels",
                "gold_spans");
  EXPECT_STATUS(client_->LogDataSamples(OneSample("a", {{0, 3, "PER"}}), kProduction),
                kInvalidArgument, "gold_spans", "inference");
  DataBatch no_spans = OneSample("a", {});
  no_spans.gold_spans.clear();
  EXPECT_STATUS(client_->LogDataSamples(no_spans, kTraining), kInvalidArgument, "gold_spans",
                "0 values for 1 ids");

  // Nothing of the above was logged: the id is still free.
  ASSERT_OK(client_->LogDataSamples(OneSample("a", {{0, 7, "PER"}, {19, 23, "LOC"}}), kTraining));

  // Outputs whose token count differs from the logged tokens.
  TokenOutputs out;
  out.Add({1, 2, 0, 1, 0, 3, 0}, 0);  // 7 rows for 6 tokens
  OutputsBatch batch;
  batch.ids = {"a"};
  batch.embeddings = out.Emb(7);
  batch.logits = out.Logits(7);
  EXPECT_STATUS(client_->LogModelOutputs(batch, kTraining, 0), kInvalidArgument, "embeddings",
                "7 token rows", "sample 'a': 6 tokens", "one row per");
  batch.token_counts = {5};
  batch.embeddings = out.Emb(5);
  batch.logits = out.Logits(5);
  EXPECT_STATUS(client_->LogModelOutputs(batch, kTraining, 0), kInvalidArgument, "embeddings",
                "'a'", "5 token rows", "6 tokens");
  batch.token_counts = {};
  batch.tokens_per_sample = 4;  // padded shorter than the sample
  batch.embeddings = out.Emb(4);
  batch.logits = out.Logits(4);
  EXPECT_STATUS(client_->LogModelOutputs(batch, kTraining, 0), kInvalidArgument, "'a'",
                "4 padded token rows", "6 tokens");
  batch.tokens_per_sample = 7;  // padded: the seventh row is cut
  batch.embeddings = out.Emb(7);
  batch.logits = out.Logits(7);
  ASSERT_OK(client_->LogModelOutputs(batch, kTraining, 0));
  ASSERT_OK(client_->Flush());
}

TEST(NerSchemaTest, TagListsMustFitTheSchema) {
  TempDir dir;
  auto client = Client::Init({dir.path(), "p", "r", TaskType::kNamedEntityRecognition});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetTaggingSchema(TaggingSchema::kBIO));
  EXPECT_STATUS((*client)->SetLabelsForRun({"O", "B-PER", "E-PER"}), kInvalidArgument, "labels",
                "E-PER");
  ASSERT_OK((*client)->SetLabelsForRun({"O", "B-PER", "I-PER"}));
  auto tc = Client::Init({dir.path(), "p", "tc", TaskType::kTextClassification});
  ASSERT_OK(tc.status());
  EXPECT_STATUS((*tc)->SetTaggingSchema(TaggingSchema::kBIO), kInvalidArgument, "tagging_schema",
                "text_classification");
}

// Training: gold "Ann Lee"/PER, "Bob"/PER, "Rome"/LOC. Predictions: "Ann Lee" PER (correct),
// "Bob" LOC (wrong_tag), "in Rome" LOC (span_shift with the gold "Rome"), and a ghost "met" PER
// in the second sample, whose gold "Ann" is missed.
TEST_F(NerClientTest, FinishGivesSpanRowsErrorTypesAndSpanF1) {
  ASSERT_OK(client_->SetTaggingSchema(TaggingSchema::kBIO));
  DataBatch data = OneSample("a", {{0, 7, "PER"}, {12, 15, "PER"}, {19, 23, "LOC"}});
  data.ids.push_back("b");
  data.texts.push_back(kText);
  data.token_offsets.push_back(kTokens);
  data.gold_spans.push_back({{0, 3, "PER"}});
  ASSERT_OK(client_->LogDataSamples(data, kTraining));
  TokenOutputs out;
  out.Add({1, 2, 0, 3, 3, 4}, 0.0f);  // B-PER I-PER O B-LOC B-LOC I-LOC
  out.Add({0, 0, 1, 0, 0, 0}, 0.0f);  // O O B-PER O O O
  OutputsBatch batch;
  batch.ids = {"a", "b"};
  batch.embeddings = out.Emb(12);
  batch.logits = out.Logits(12);
  ASSERT_OK(client_->SetSplit(Split::kTraining));
  ASSERT_OK(client_->LogModelOutputs(batch));
  DataBatch prod = OneSample("p1", {});
  prod.gold_spans.clear();
  ASSERT_OK(client_->LogDataSamples(prod, kProduction));
  TokenOutputs prod_out;
  prod_out.Add({1, 2, 0, 0, 0, 3}, 5.0f);
  OutputsBatch prod_batch;
  prod_batch.ids = {"p1"};
  prod_batch.embeddings = prod_out.Emb(6);
  prod_batch.logits = prod_out.Logits(6);
  ASSERT_OK(client_->LogModelOutputs(prod_batch, kProduction, 0));
  ProcessingOptions options;
  options.drift_k = 1;
  options.compute_map = false;
  ASSERT_OK(client_->Finish(options).status());

  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "ner"));
  SpanQuery q;
  q.split = kTraining;
  ASSERT_OK_AND_ASSIGN(std::vector<SpanRow> rows, reader->Spans(q));
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> got;
  for (const SpanRow& r : rows) {
    got.emplace_back(r.sample_id + ":" + r.span_text, r.gold.value_or("-"), r.pred.value_or("-"),
                     r.error_type.value_or("?"));
  }
  const std::vector<std::tuple<std::string, std::string, std::string, std::string>> expected = {
      {"a:Ann Lee", "PER", "PER", "none"},     {"a:Bob", "PER", "LOC", "wrong_tag"},
      {"a:in Rome", "-", "LOC", "span_shift"}, {"a:Rome", "LOC", "-", "span_shift"},
      {"b:Ann", "PER", "-", "missed_label"},   {"b:met", "-", "PER", "ghost_span"}};
  EXPECT_EQ(got, expected);

  // Span F1: 4 gold, 4 predicted, 1 correct (PER "Ann Lee").
  ASSERT_OK_AND_ASSIGN(std::string summary, reader->SummaryJson(kTraining));
  const auto spans = nlohmann::json::parse(summary)["spans"];
  EXPECT_EQ(spans["gold"], 4);
  EXPECT_EQ(spans["pred"], 4);
  EXPECT_EQ(spans["correct"], 1);
  EXPECT_DOUBLE_EQ(spans["f1"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(spans["per_class"]["PER"]["recall"].get<double>(), 1.0 / 3.0);
  EXPECT_EQ(spans["error_types"]["wrong_tag"], 1);

  // Production spans are drift-scored against training spans; samples carry their marks.
  SpanQuery pq;
  pq.split = kProduction;
  ASSERT_OK_AND_ASSIGN(std::vector<SpanRow> prod_rows, reader->Spans(pq));
  ASSERT_EQ(prod_rows.size(), 2u);
  EXPECT_FALSE(prod_rows[0].error_type.has_value());
  EXPECT_TRUE(prod_rows[0].is_drifted.has_value());
  SampleQuery sq;
  sq.split = kTraining;
  ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> samples, reader->Samples(sq));
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].tokens, kTokens);
  EXPECT_EQ(samples[0].gold_spans.size(), 3u);  // rows with a gold span
  EXPECT_EQ(samples[1].pred_spans.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto similar, reader->SimilarSpans(kTraining, 0, 2));
  EXPECT_EQ(similar.size(), 2u);
}

TEST(NliClientTest, PairsAsTwoFieldsOrOneTextWithTheSeparator) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto client,
                       Client::Init({dir.path(), "p", "nli", TaskType::kNaturalLanguageInference}));
  ASSERT_OK(client->SetLabelsForRun({"entailment", "neutral", "contradiction"}));
  DataBatch pairs;
  pairs.ids = {"a", "b"};
  pairs.premises = {"A man sleeps.", "Two dogs run."};
  pairs.hypotheses = {"A person rests."};
  pairs.labels = {"entailment", "neutral"};
  EXPECT_STATUS(client->LogDataSamples(pairs, kTraining), kInvalidArgument, "hypotheses",
                "1 values for 2 ids");
  pairs.hypotheses.push_back("Animals move.");
  DataBatch both = pairs;
  both.texts = {"x", "y"};
  EXPECT_STATUS(client->LogDataSamples(both, kTraining), kInvalidArgument, "texts", "not both");
  ASSERT_OK(client->LogDataSamples(pairs, kTraining));
  DataBatch joined;
  joined.ids = {"c", "d"};
  joined.texts = {"A cat naps [SEP] A cat is awake", "no separator here"};
  EXPECT_STATUS(client->LogDataSamples(joined, kProduction), kInvalidArgument, "texts", "'d'",
                "[SEP]");
  joined.texts[1] = "Rain falls.[SEP]It is dry.";
  ASSERT_OK(client->LogDataSamples(joined, kProduction));
  DataBatch spans;
  spans.ids = {"e"};
  spans.texts = {"x [SEP] y"};
  spans.token_offsets = {{{0, 1}}};
  EXPECT_STATUS(client->LogDataSamples(spans, kProduction), kInvalidArgument, "text_token_indices",
                "named_entity_recognition");

  std::vector<float> emb = {1, 0, 0, 1, 1, 1, 0, 1};
  std::vector<float> logits = {2, 0, 0, 0, 2, 0};
  ASSERT_OK(client->LogModelOutputs({{"a", "b"}, {emb.data(), 2, 4}, {logits.data(), 2, 3}, {}},
                                    kTraining, 0));
  ASSERT_OK(client->LogModelOutputs({{"c", "d"}, {emb.data(), 2, 4}, {logits.data(), 2, 3}, {}},
                                    kProduction, 0));
  ProcessingOptions options;
  options.drift_k = 1;
  options.compute_map = false;
  ASSERT_OK(client->Finish(options).status());
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir.path(), "p", "nli"));
  SampleQuery q;
  q.split = kProduction;
  ASSERT_OK_AND_ASSIGN(std::vector<SampleRow> rows, reader->Samples(q));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].premise, "A cat naps");
  EXPECT_EQ(rows[0].hypothesis, "A cat is awake");
  EXPECT_EQ(rows[1].premise, "Rain falls.");
  EXPECT_EQ(rows[1].text, "Rain falls. [SEP] It is dry.");
  EXPECT_TRUE(rows[0].is_drifted.has_value());
}

}  // namespace
}  // namespace sextant
