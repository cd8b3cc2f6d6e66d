// The per inference set gauges of /metrics (server/run_metrics.h): their
// values are the finished run's figures, recounted here from its sample rows;
// a run's summary is read once per results generation.
#include "server/run_metrics.h"

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sextant/client.h"
#include "sextant/results.h"
#include "small_run.h"
#include "testing.h"

namespace sextant::server {
namespace {

namespace fs = std::filesystem;
using sextant::testing::TempDir;

// "name{labels}" -> value, for every sample line of the text format.
std::map<std::string, double> ParseSamples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::string Series(const std::string& name, const std::string& set) {
  return name + "{project=\"p\",run=\"r\",inference_set=\"" + set + "\"}";
}

std::map<std::string, double> Scrape(RunMetrics& metrics) {
  MetricsWriter out;
  metrics.Collect(out);
  return ParseSamples(out.Render());
}

SplitKey Inference(const std::string& name) {
  return SplitKey::Make(Split::kInference, name).value();
}

// The figures recounted from the rows of the run's committed results.
struct Recount {
  double samples = 0, drifted = 0, on_boundary = 0, mean_confidence = 0;
};

Recount RecountSet(const fs::path& root, const std::string& set) {
  Recount r;
  auto reader = RunReader::Open(root, "p", "r");
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  SampleQuery q;
  q.split = Inference(set);
  auto rows = (*reader)->Samples(q);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  for (const SampleRow& row : *rows) {
    r.samples += 1;
    r.drifted += row.is_drifted.value_or(false) ? 1 : 0;
    r.on_boundary += row.is_on_the_boundary ? 1 : 0;
    r.mean_confidence += row.confidence;
  }
  r.drifted /= r.samples;
  r.on_boundary /= r.samples;
  r.mean_confidence /= r.samples;
  return r;
}

double DomainTestField(const fs::path& root, const std::string& set, const char* field) {
  auto reader = RunReader::Open(root, "p", "r");
  EXPECT_TRUE(reader.ok());
  auto text = (*reader)->SummaryJson(Inference(set));
  EXPECT_TRUE(text.ok());
  const auto j = nlohmann::json::parse(*text);
  const auto& split = j.contains("splits") ? j["splits"]["inference:" + set] : j;
  return split["domain_test"][field].get<double>();
}
double DomainAuc(const fs::path& root, const std::string& set) {
  return DomainTestField(root, set, "auc");
}

// Training and validation (the domain test's reference), a drifted inference
// set and one like the training data, finished.
void MakeRun(const fs::path& root) {
  LogAndFinishSmallRun(root, 40);
  LogSmallSplit(root, SplitKey::Make(Split::kValidation).value(), 30, 0, "v");
  LogSmallSplit(root, Inference("shifted"), 30, 5.0f, "s");
  LogSmallSplit(root, Inference("same"), 24, 0, "n");
  ASSERT_OK(FinishRun(root, "p", "r", SmallRunOptions()).status());
}

TEST(RunMetrics, GaugesAreTheFinishedInferenceSetsFigures) {
  TempDir root;
  MakeRun(root.path());
  RunMetrics metrics(root.path());
  const auto got = Scrape(metrics);
  for (const std::string set : {"shifted", "same"}) {
    SCOPED_TRACE(set);
    const Recount want = RecountSet(root.path(), set);
    ASSERT_TRUE(got.count(Series("sextant_inference_samples", set)));
    EXPECT_EQ(got.at(Series("sextant_inference_samples", set)), want.samples);
    EXPECT_DOUBLE_EQ(got.at(Series("sextant_inference_drifted_ratio", set)), want.drifted);
    EXPECT_DOUBLE_EQ(got.at(Series("sextant_inference_on_boundary_ratio", set)), want.on_boundary);
    EXPECT_NEAR(got.at(Series("sextant_inference_mean_confidence", set)), want.mean_confidence,
                1e-9);
    EXPECT_EQ(got.at(Series("sextant_inference_domain_auc", set)), DomainAuc(root.path(), set));
    EXPECT_EQ(got.at(Series("sextant_inference_shifted_ratio", set)),
              DomainTestField(root.path(), set, "shifted_share"));
    EXPECT_TRUE(got.count(Series("sextant_inference_drift_detected", set)));
  }
  EXPECT_EQ(got.at(Series("sextant_inference_samples", "shifted")), 30);
  EXPECT_EQ(got.at(Series("sextant_inference_samples", "same")), 24);
  // The shifted set drifted, the other did not (as a sanity check of the data).
  EXPECT_GT(got.at(Series("sextant_inference_drifted_ratio", "shifted")), 0.9);
  EXPECT_LT(got.at(Series("sextant_inference_drifted_ratio", "same")), 0.5);
  EXPECT_EQ(got.at(Series("sextant_inference_drift_detected", "shifted")), 1);
  EXPECT_GT(got.at(Series("sextant_inference_shifted_ratio", "shifted")), 0.9);
  EXPECT_GT(got.at(Series("sextant_inference_on_boundary_ratio", "same")), 0);
  EXPECT_EQ(got.at("sextant_runs{project=\"p\",status=\"ok\"}"), 1);
  // Training and validation are not inference sets.
  for (const auto& [series, value] : got) {
    EXPECT_EQ(series.find("inference_set=\"training\""), std::string::npos) << series;
  }
}

TEST(RunMetrics, ReadsASummaryOncePerResultsGeneration) {
  TempDir root;
  MakeRun(root.path());
  RunMetrics metrics(root.path());
  const auto first = Scrape(metrics);
  EXPECT_EQ(metrics.summaries_read(), 1);
  EXPECT_EQ(Scrape(metrics), first);
  EXPECT_EQ(metrics.summaries_read(), 1);

  // Logged but not finished: counted as samples at once, no figures yet.
  LogSmallSplit(root.path(), Inference("late"), 12, 5.0f, "l");
  auto got = Scrape(metrics);
  EXPECT_EQ(metrics.summaries_read(), 1);
  EXPECT_EQ(got.at(Series("sextant_inference_samples", "late")), 12);
  EXPECT_FALSE(got.count(Series("sextant_inference_drifted_ratio", "late")));

  // A new finish (generation 2) is read at the next scrape.
  ASSERT_OK(FinishRun(root.path(), "p", "r", SmallRunOptions()).status());
  got = Scrape(metrics);
  EXPECT_EQ(metrics.summaries_read(), 2);
  EXPECT_DOUBLE_EQ(got.at(Series("sextant_inference_drifted_ratio", "late")),
                   RecountSet(root.path(), "late").drifted);

  // A removed run's series go with it.
  fs::remove_all(root.path() / "p" / "r");
  got = Scrape(metrics);
  EXPECT_FALSE(got.count(Series("sextant_inference_samples", "same")));
}

TEST(RunMetrics, ARunWithoutInferenceSetsHasNoSetGauges) {
  TempDir root;
  LogAndFinishSmallRun(root.path(), 20);
  RunMetrics metrics(root.path());
  const auto got = Scrape(metrics);
  EXPECT_EQ(got.size(), 1u);  // sextant_runs only
  EXPECT_EQ(got.at("sextant_runs{project=\"p\",status=\"ok\"}"), 1);
}

}  // namespace
}  // namespace sextant::server
