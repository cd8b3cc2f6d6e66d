// Labels imported for an inference set (store/imported_labels.h) and how the
// query layer reports them: gold, is_correct, filters and sort.
#include "store/imported_labels.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sextant/client.h"
#include "sextant/results.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

constexpr int64_t kDim = 2;

// Training t0..t5 (neg, pos alternating); inference "prod" i0..i5 predicted
// neg for even i and pos for odd i.
class ImportedLabelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(auto client,
                         Client::Init({.root = dir_.path(), .project = "p", .run = "r"}));
    ASSERT_OK(client->SetLabelsForRun({"neg", "pos"}));
    for (const SplitKey& key : {training_, prod_}) {
      const std::string prefix = key == training_ ? "t" : "i";
      DataBatch data;
      std::vector<float> emb, logits;
      for (int i = 0; i < 6; ++i) {
        data.ids.push_back(prefix + std::to_string(i));
        data.texts.push_back("text " + std::to_string(i));
        if (key == training_) data.label_indices.push_back(i % 2);
        emb.insert(emb.end(), {static_cast<float>(i % 2) + 0.1f * i, 1.0f});
        logits.insert(logits.end(), {i % 2 ? 0.0f : 2.0f, i % 2 ? 2.0f : 0.0f});
      }
      ASSERT_OK(client->LogDataSamples(data, key));
      OutputsBatch b;
      b.ids = data.ids;
      b.embeddings = {emb.data(), 6, kDim};
      b.logits = {logits.data(), 6, 2};
      ASSERT_OK(client->LogModelOutputs(b, key, 0));
    }
    ProcessingOptions options;
    options.compute_map = false;
    options.drift_k = 3;
    ASSERT_OK(client->Finish(options));
  }

  fs::path run_dir() const { return dir_.path() / "p" / "r"; }

  Result<store::ImportLabelsReport> Import(const std::string& csv) {
    SEXTANT_ASSIGN_OR_RETURN(io::LabelFile f,
                             io::ParseLabelFile(csv, "l.csv", io::LabelFileFormat::kCsv));
    return store::ImportLabels(run_dir(), prod_, f, {"neg", "pos"}, "l.csv");
  }

  std::vector<SampleRow> Samples(SampleQuery q) {
    q.split = prod_;
    auto reader = RunReader::Open(dir_.path(), "p", "r");
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    auto rows = (*reader)->Samples(q);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? *rows : std::vector<SampleRow>{};
  }

  TempDir dir_;
  SplitKey training_ = SplitKey::Make(Split::kTraining, "").value();
  SplitKey prod_ = SplitKey::Make(Split::kInference, "prod").value();
};

TEST_F(ImportedLabelsTest, BeforeAnyImportInferenceRowsHaveNoGold) {
  for (const SampleRow& r : Samples({})) {
    EXPECT_FALSE(r.gold) << r.id;
    EXPECT_FALSE(r.is_correct) << r.id;
  }
}

TEST_F(ImportedLabelsTest, ImportedLabelsShowAsGoldWithIsCorrect) {
  ASSERT_OK_AND_ASSIGN(auto report, Import("id,label\ni0,neg\ni1,neg\ni2,neg\n"));
  EXPECT_EQ(report.imported, 3);
  EXPECT_EQ(report.overwritten, 0);
  EXPECT_EQ(report.labeled, 3);
  const std::vector<SampleRow> rows = Samples({});
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].gold, "neg");
  EXPECT_EQ(rows[0].is_correct, true);
  EXPECT_EQ(rows[1].gold, "neg");
  EXPECT_EQ(rows[1].is_correct, false) << "predicted pos";
  EXPECT_FALSE(rows[3].gold);

  SampleQuery wrong;
  wrong.is_correct = false;
  const auto misclassified = Samples(wrong);
  ASSERT_EQ(misclassified.size(), 1u);
  EXPECT_EQ(misclassified[0].id, "i1");
  SampleQuery by_gold;
  by_gold.gold_class = "neg";
  EXPECT_EQ(Samples(by_gold).size(), 3u);
  SampleQuery sorted;
  sorted.sort_by = "gold";
  sorted.descending = true;
  EXPECT_TRUE(Samples(sorted).front().gold.has_value());
}

TEST_F(ImportedLabelsTest, SummariesCountTheLabeledSamplesAndTheirAccuracy) {
  ASSERT_OK(Import("id,label\ni0,neg\ni1,neg\ni2,neg\ni3,pos\n").status());
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
  ASSERT_OK_AND_ASSIGN(std::string run_text, reader->SummaryJson());
  const auto run = nlohmann::json::parse(run_text);
  ASSERT_TRUE(run["splits"]["inference:prod"].contains("labeled")) << run_text.substr(0, 300);
  EXPECT_EQ(run["splits"]["inference:prod"]["labeled"]["samples"], 4);
  EXPECT_DOUBLE_EQ(run["splits"]["inference:prod"]["labeled"]["accuracy"].get<double>(), 0.75);
  EXPECT_FALSE(run["splits"]["training"].contains("labeled"));
  ASSERT_OK_AND_ASSIGN(std::string split_text, reader->SummaryJson(prod_));
  EXPECT_EQ(nlohmann::json::parse(split_text)["labeled"]["samples"], 4);
}

TEST_F(ImportedLabelsTest, ReimportOverwrites) {
  ASSERT_OK(Import("id,label\ni1,neg\n").status());
  ASSERT_OK_AND_ASSIGN(auto report, Import("id,label\ni1,pos\ni3,pos\n"));
  EXPECT_EQ(report.imported, 2);
  EXPECT_EQ(report.overwritten, 1);
  EXPECT_EQ(report.labeled, 2);
  EXPECT_EQ(Samples({})[1].gold, "pos");
}

TEST_F(ImportedLabelsTest, UnknownIdOrLabelWritesNothing) {
  ASSERT_OK(Import("id,label\ni0,neg\n").status());
  // Valid rows first, then a bad one: the whole file is refused.
  EXPECT_STATUS(Import("id,label\ni1,pos\ni2,neg\nnope,neg\n"), kInvalidArgument, "l.csv line 4",
                "'nope'", "inference:prod", "expected the id");
  EXPECT_STATUS(Import("id,label\ni1,pos\ni2,neutral\n"), kInvalidArgument, "l.csv line 3", "'i2'",
                "'neutral'", "[neg, pos]");
  const auto rows = Samples({});
  EXPECT_EQ(rows[0].gold, "neg");
  EXPECT_FALSE(rows[1].gold) << "nothing of the refused files was written";
  EXPECT_FALSE(rows[2].gold);
}

TEST_F(ImportedLabelsTest, TrainingIdsAndLabeledSplitsAreRefused) {
  EXPECT_STATUS(Import("id,label\nt0,neg\n"), kInvalidArgument, "'t0'", "not in split");
  ASSERT_OK_AND_ASSIGN(io::LabelFile f, io::ParseLabelFile("id,label\nt0,neg\n", "l.csv",
                                                           io::LabelFileFormat::kCsv));
  EXPECT_STATUS(store::ImportLabels(run_dir(), training_, f, {"neg", "pos"}, "l.csv"),
                kInvalidArgument, "'training'", "inference set");
  const SplitKey other = SplitKey::Make(Split::kInference, "other").value();
  EXPECT_STATUS(store::ImportLabels(run_dir(), other, f, {"neg", "pos"}, "l.csv"), kNotFound,
                "inference:other");
}

TEST_F(ImportedLabelsTest, ClearRemovesTheSplitsLabels) {
  ASSERT_OK(Import("id,label\ni0,neg\ni1,pos\n").status());
  ASSERT_OK_AND_ASSIGN(int64_t n, store::ClearImportedLabels(run_dir(), prod_));
  EXPECT_EQ(n, 2);
  EXPECT_FALSE(Samples({})[0].gold);
}

TEST_F(ImportedLabelsTest, ImportWhileAReaderIsOpenSucceeds) {
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_.path(), "p", "r"));
  ASSERT_OK(Import("id,label\ni0,neg\n").status());
  SampleQuery q;
  q.split = prod_;
  ASSERT_OK_AND_ASSIGN(auto rows, reader->Samples(q));
  // The open reader reads its snapshot; a fresh one sees the label.
  (void)rows;
  EXPECT_EQ(Samples({})[0].gold, "neg");
}

}  // namespace
}  // namespace sextant
