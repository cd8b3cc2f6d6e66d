// The alert step at the end of a finish (docs/alerts.md): the project's rules
// are evaluated over the committed timeline, and a failure there never fails
// or loses the finish.
#include <fstream>
#include <nlohmann/json.hpp>

#include "alerts/store.h"
#include "processing/process_run.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

// p/r: 20 labeled training samples, and the inference sets "a" and "b".
void LogRun(const fs::path& root) {
  auto client = Client::Init({.root = root, .project = "p", .run = "r"});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"neg", "pos"}));
  for (const std::string split : {"training", "a", "b"}) {
    const SplitKey key = split == "training" ? SplitKey::Make(Split::kTraining).value()
                                             : SplitKey::Make(Split::kInference, split).value();
    DataBatch data;
    std::vector<float> e, l;
    for (int i = 0; i < 20; ++i) {
      data.ids.push_back(split + std::to_string(i));
      data.texts.push_back("text " + std::to_string(i));
      if (split == "training") data.label_indices.push_back(i % 2);
      for (int d = 0; d < 4; ++d) {
        e.push_back(d == i % 2 ? 1.0f : 0.01f * static_cast<float>(i + d) + (split == "b" ? 3 : 0));
      }
      l.push_back(i % 2 ? 0.0f : 2.0f);
      l.push_back(i % 2 ? 2.0f : 0.0f);
    }
    ASSERT_OK((*client)->LogDataSamples(data, key));
    OutputsBatch b;
    b.ids = data.ids;
    b.embeddings = {e.data(), 20, 4};
    b.logits = {l.data(), 20, 2};
    ASSERT_OK((*client)->LogModelOutputs(b, key, 0));
  }
  ASSERT_OK((*client)->Flush());
}

Result<FinishReport> Finish(const fs::path& root) {
  ProcessingOptions o;
  o.drift_k = 3;
  return FinishRun(root, "p", "r", o);
}

TEST(AlertsAtFinish, TheRulesAreEvaluatedOverTheTimeline) {
  TempDir dir;
  LogRun(dir.path());
  {
    ASSERT_OK_AND_ASSIGN(auto store, alerts::AlertStore::Open(dir.path() / "p"));
    ASSERT_OK(store
                  ->AddRule(*alerts::RuleFromJson(
                      {{"id", "any"}, {"metric", "samples"}, {"op", ">="}, {"value", 1}}))
                  .status());
  }
  ASSERT_OK_AND_ASSIGN(FinishReport report, Finish(dir.path()));
  // "any" on both sets, and a default rule or more on the moved set "b".
  EXPECT_NE(report.message.find("alerts: "), std::string::npos) << report.message;
  EXPECT_NE(report.message.find(" firing, "), std::string::npos) << report.message;
  ASSERT_OK_AND_ASSIGN(auto store, alerts::AlertStore::Open(dir.path() / "p"));
  ASSERT_OK_AND_ASSIGN(std::vector<alerts::AlertState> states, store->States("r"));
  int firing = 0, any = 0;
  for (const auto& s : states) {
    if (s.key.rule_id != "any") continue;
    ++any;
    firing += s.state == alerts::kFiring;
    EXPECT_EQ(s.value, 20);
  }
  EXPECT_EQ(any, 2);
  EXPECT_EQ(firing, 2);
  // Again: the states stay, no new transition.
  ASSERT_OK_AND_ASSIGN(report, Finish(dir.path()));
  EXPECT_NE(report.message.find("0 new transition"), std::string::npos) << report.message;
}

TEST(AlertsAtFinish, ADamagedAlertStoreNeverFailsTheFinish) {
  TempDir dir;
  LogRun(dir.path());
  {
    std::ofstream f(dir.path() / "p" / ".alerts.db");
    f << "this is not an SQLite database; it is only some text that is long enough to be read";
  }
  ASSERT_OK_AND_ASSIGN(FinishReport report, Finish(dir.path()));
  EXPECT_NE(report.message.find("alerts warning"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find(".alerts.db"), std::string::npos) << report.message;
  // The results are committed, the timeline with them.
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir.path(), "p", "r"));
  ASSERT_OK_AND_ASSIGN(std::string timeline, reader->TimelineJson());
  EXPECT_EQ(nlohmann::json::parse(timeline)["sets"].size(), 2u);
}

}  // namespace
}  // namespace sextant
