// Reading a NER split's samples does work linear in its samples and span rows
// (issue 16: the console's first read of CoNLL-2003's training split took a
// minute, one scan of every span row per sample). The work is SQLite's
// virtual-machine steps (store::VmStepsSoFar), not wall time.
#include <filesystem>

#include "sextant/client.h"
#include "sextant/results.h"
#include "store/sqlite_stats.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

const SplitKey kTraining{Split::kTraining, ""};

// A finished NER run "p/ner<samples>": sentences "Ann met Bob in Rome" with a
// PER, a PER and a LOC span each (gold), tagged right by the model.
void MakeNerRun(const fs::path& root, int samples) {
  auto c =
      Client::Init({root, "p", "ner" + std::to_string(samples), TaskType::kNamedEntityRecognition});
  ASSERT_OK(c.status());
  auto& client = *c;
  ASSERT_OK(client->SetLabelsForRun({"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}));
  ASSERT_OK(client->SetTaggingSchema(TaggingSchema::kBIO));
  const std::string text = "Ann met Bob in Rome";
  const std::vector<CharRange> tokens = {{0, 3}, {4, 7}, {8, 11}, {12, 14}, {15, 19}};
  const std::vector<int> tags = {1, 0, 1, 0, 3};
  DataBatch data;
  std::vector<float> emb, logits;
  for (int i = 0; i < samples; ++i) {
    data.ids.push_back("s" + std::to_string(i));
    data.texts.push_back(text);
    data.token_offsets.push_back(tokens);
    data.gold_spans.push_back({{0, 3, "PER"}, {8, 11, "PER"}, {15, 19, "LOC"}});
    for (size_t t = 0; t < tags.size(); ++t) {
      for (int d = 0; d < 4; ++d) {
        emb.push_back(static_cast<float>(tags[t] == d) + 0.001f * static_cast<float>(i + t));
      }
      for (int k = 0; k < 5; ++k) logits.push_back(k == tags[t] ? 4.0f : 0.0f);
    }
  }
  ASSERT_OK(client->LogDataSamples(data, kTraining));
  OutputsBatch batch;
  batch.ids = data.ids;
  const int64_t token_rows = static_cast<int64_t>(samples) * static_cast<int64_t>(tags.size());
  batch.embeddings = {emb.data(), token_rows, 4};
  batch.logits = {logits.data(), token_rows, 5};
  ASSERT_OK(client->LogModelOutputs(batch, kTraining, 0));
  ProcessingOptions o;
  o.drift_k = 1;
  o.compute_map = false;
  ASSERT_OK(client->Finish(o).status());
}

// The SQLite steps of reading every sample of the run's training split (as the
// console's sample table loads it), checking each sample's spans on the way.
int64_t StepsToReadAll(const fs::path& root, int samples) {
  auto reader = RunReader::Open(root, "p", "ner" + std::to_string(samples));
  EXPECT_OK(reader.status());
  if (!reader.ok()) return -1;
  SampleQuery q;
  q.split = kTraining;
  const int64_t before = store::VmStepsSoFar();
  auto rows = (*reader)->Samples(q);
  const int64_t steps = store::VmStepsSoFar() - before;
  EXPECT_OK(rows.status());
  if (!rows.ok()) return -1;
  EXPECT_EQ(static_cast<int>(rows->size()), samples);
  for (const SampleRow& r : *rows) {
    EXPECT_EQ(r.gold_spans.size(), 3u) << r.id;
    EXPECT_EQ(r.pred_spans.size(), 3u) << r.id;
    for (const SpanMark& m : r.pred_spans) {
      // Each mark is one of this sample's span rows (3 per sample, in sample order).
      EXPECT_GE(m.span_row, 3 * r.row) << r.id;
      EXPECT_LT(m.span_row, 3 * r.row + 3) << r.id;
    }
  }
  return steps;
}

TEST(NerSampleRead, WorkGrowsLinearlyWithTheSplit) {
  TempDir root;
  MakeNerRun(root.path(), 100);
  MakeNerRun(root.path(), 800);
  const int64_t small = StepsToReadAll(root.path(), 100);
  const int64_t large = StepsToReadAll(root.path(), 800);
  ASSERT_GT(small, 0);
  RecordProperty("steps_100", std::to_string(small));
  RecordProperty("steps_800", std::to_string(large));
  // 8x the samples (and span rows): about 8x the work when linear, 64x when
  // every sample scans every span row (the old per-sample lookup: ~40x here).
  EXPECT_LT(large, 16 * small) << "steps for 100 samples: " << small << ", for 800: " << large;
}

}  // namespace
}  // namespace sextant
