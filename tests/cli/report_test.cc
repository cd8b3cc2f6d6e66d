#include "cli/report.h"

#include <sstream>

#include "query/verdict.h"
#include "query/verdict_fixture.h"
#include "testing.h"

namespace sextant::cli {
namespace {

using json = nlohmann::ordered_json;

std::string Report(const json& run) {
  std::ostringstream out;
  EXPECT_OK(WriteHumanReport(run.dump(), out));
  return out.str();
}

TEST(Report, SaysWhatTheConsoleVerdictSays) {
  const json run = testing::VerdictRunSummary();
  const std::string report = Report(run);
  const json v = verdict::SplitVerdict(run, "inference:snli");
  // The console's verdict texts appear verbatim in the report.
  for (const char* key : {"drift", "domain_test"}) {
    EXPECT_NE(report.find(v[key]["text"].get<std::string>()), std::string::npos) << key << "\n"
                                                                                 << report;
  }
  EXPECT_NE(report.find(v["findings"][0]["text"].get<std::string>()), std::string::npos) << report;
  EXPECT_NE(report.find("\n  inference:snli: " + v["disagreement"].get<std::string>()),
            std::string::npos)
      << report;
}

TEST(Report, UnderflowedPValuesAreNeverZero) {
  const std::string report = Report(testing::VerdictRunSummary());
  // Before: "p = 1e-623" for the domain test, rounded down from its log10.
  EXPECT_NE(report.find("p = 3.5e-624, 2000 vs 4582 samples: shift"), std::string::npos) << report;
  EXPECT_NE(report.find("ALERT inference:snli: distribution shift (a domain classifier tells it "
                        "from validation, AUC 0.914, p = 3.5e-624)"),
            std::string::npos)
      << report;
  EXPECT_EQ(report.find("p = 0,"), std::string::npos) << report;
  EXPECT_EQ(report.find("p = 0)"), std::string::npos) << report;
  // A domain test stored without its log10 and underflowed: before, "p = 0".
  json run = testing::VerdictRunSummary();
  run["splits"]["inference:snli"]["domain_test"].erase("log10_p_value");
  const std::string old = Report(run);
  EXPECT_NE(old.find("p < 1e-300, 2000 vs 4582 samples: shift"), std::string::npos) << old;
  EXPECT_EQ(old.find("p = 0,"), std::string::npos) << old;
}

}  // namespace
}  // namespace sextant::cli
