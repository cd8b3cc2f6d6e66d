// The Prometheus text format of MetricsRegistry (docs/team-server.md,
// "Metrics"): HELP and TYPE lines, escaping, counters, gauges, histograms and
// collectors.
#include "server/metrics.h"

#include <cmath>
#include <limits>
#include <thread>

#include "server/api.h"
#include "testing.h"

namespace sextant::server {
namespace {

TEST(MetricsFormat, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeLabelValue("plain/runs/*"), "plain/runs/*");
  // HELP escapes backslash and newline only; a quote stays.
  EXPECT_EQ(EscapeHelp("a \"b\" \\ c\nd"), "a \"b\" \\\\ c\\nd");
}

TEST(MetricsFormat, FormatsValuesSoTheyReadBack) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(FormatValue(1.0 / 3)), 1.0 / 3);
}

TEST(MetricsFormat, ChecksNames) {
  EXPECT_TRUE(IsValidMetricName("sextant_http_requests_total"));
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_FALSE(IsValidMetricName("9lives"));
  EXPECT_FALSE(IsValidMetricName("with-dash"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("route"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
}

TEST(MetricsRegistry, CountersAddUpWithHelpAndTypeLines) {
  MetricsRegistry m;
  m.AddCounter("x_total", "Things.", {{"code", "200"}}, 1);
  m.AddCounter("x_total", "Things.", {{"code", "200"}}, 2);
  m.AddCounter("x_total", "Things.", {{"code", "404"}}, 1);
  m.AddCounter("x_total", "Things.", {{"code", "404"}}, -5);  // dropped: counters only grow
  EXPECT_EQ(m.Render(),
            "# HELP x_total Things.\n"
            "# TYPE x_total counter\n"
            "x_total{code=\"200\"} 3\n"
            "x_total{code=\"404\"} 1\n");
}

TEST(MetricsRegistry, GaugesKeepTheLastValueAndEscapeLabels) {
  MetricsRegistry m;
  m.SetGauge("g", "A \"gauge\"\nof things \\ here", {{"name", "a\"b\\c\nd"}}, 1);
  m.SetGauge("g", "ignored: the first help stays", {{"name", "a\"b\\c\nd"}}, 0.25);
  m.SetGauge("g", "", {}, 7);
  EXPECT_EQ(m.Render(),
            "# HELP g A \"gauge\"\\nof things \\\\ here\n"
            "# TYPE g gauge\n"
            "g 7\n"
            "g{name=\"a\\\"b\\\\c\\nd\"} 0.25\n");
}

TEST(MetricsRegistry, HistogramsHaveCumulativeBucketsSumAndCount) {
  MetricsRegistry m;
  const std::vector<double> buckets = {0.1, 1, 10};
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0}) {
    m.Observe("d_seconds", "Durations.", {{"route", "runs/*/*"}}, v, buckets);
  }
  EXPECT_EQ(m.Render(),
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{route=\"runs/*/*\",le=\"0.1\"} 2\n"  // le is inclusive
            "d_seconds_bucket{route=\"runs/*/*\",le=\"1\"} 3\n"
            "d_seconds_bucket{route=\"runs/*/*\",le=\"10\"} 4\n"
            "d_seconds_bucket{route=\"runs/*/*\",le=\"+Inf\"} 5\n"
            "d_seconds_sum{route=\"runs/*/*\"} " +
                FormatValue(0.05 + 0.1 + 0.5 + 2.0 + 20.0) +
                "\n"
                "d_seconds_count{route=\"runs/*/*\"} 5\n");
}

TEST(MetricsRegistry, HistogramsDefaultToSecondsBuckets) {
  MetricsRegistry m;
  m.Observe("h_seconds", "H.", {}, 0.003);
  const std::string text = m.Render();
  EXPECT_NE(text.find("h_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"10\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_count 1\n"), std::string::npos) << text;
  EXPECT_EQ(DefaultSecondsBuckets().size(), 11u);
}

TEST(MetricsRegistry, DropsInvalidNamesAndTypeChanges) {
  MetricsRegistry m;
  m.AddCounter("bad-name_total", "", {}, 1);
  m.SetGauge("g", "", {{"bad label", "x"}}, 1);
  m.SetGauge("g", "", {{"__reserved", "x"}}, 1);
  m.SetGauge("g", "", {{"a", "1"}, {"a", "2"}}, 1);  // a label twice
  m.Observe("h", "", {{"le", "1"}}, 1);              // a histogram's own label
  m.SetGauge("t", "T.", {}, 1);
  m.AddCounter("t", "T.", {}, 1);  // t is a gauge
  EXPECT_EQ(m.Render(), "# HELP t T.\n# TYPE t gauge\nt 1\n");
}

TEST(MetricsRegistry, CollectorsWriteAtScrapeTimeAndCannotShadowValues) {
  MetricsRegistry m;
  m.SetGauge("b", "Registry's.", {}, 1);
  int scrapes = 0;
  m.AddCollector([&](MetricsWriter& out) {
    ++scrapes;
    out.Gauge("a", "Collected.", {{"k", "v"}}, scrapes);
    out.Gauge("b", "Shadow.", {}, 99);  // the registry's b wins
    out.Counter("c_total", "Collected count.", {}, 5);
  });
  m.AddCollector([](MetricsWriter&) { throw std::runtime_error("broken collector"); });
  EXPECT_EQ(m.Render(),
            "# HELP a Collected.\n# TYPE a gauge\na{k=\"v\"} 1\n"
            "# HELP b Registry's.\n# TYPE b gauge\nb 1\n"
            "# HELP c_total Collected count.\n# TYPE c_total counter\nc_total 5\n");
  EXPECT_NE(m.Render().find("a{k=\"v\"} 2\n"), std::string::npos);
}

// Request metrics are labelled by the route table's pattern, never by the raw path.
TEST(MetricsRoutes, RequestsAreNamedByTheirEndpointsPattern) {
  EXPECT_EQ(RoutePattern({"runs"}), "runs");
  EXPECT_EQ(RoutePattern({"runs", "proj", "run-1", "samples"}), "runs/*/*/samples");
  EXPECT_EQ(RoutePattern({"runs", "p", "r", "samples", "inference:prod", "id-123"}),
            "runs/*/*/samples/*/*");
  EXPECT_EQ(RoutePattern({"runs", "p", "r", "selections", "s", "add"}),
            "runs/*/*/selections/*/add");
  EXPECT_EQ(RoutePattern({"runs", "p", "r", "spans", "x", "y"}), "runs/*/*/spans/**");
  EXPECT_EQ(RoutePattern({"no", "such", "path"}), "unmatched");
  EXPECT_EQ(RoutePattern({}), "unmatched");
}

TEST(TeamMetrics, JobsUploadsAndLiveIngestAreRecordedUnderTheirNames) {
  MetricsRegistry m;
  RecordJobStarted(&m, "p", 2);
  RecordJobFinished(&m, "p", "done", 42);
  RecordJobFinished(&m, "p", "failed", 3);
  AddJobQueueCollector(&m, [] { return std::pair<int64_t, int64_t>{4, 1}; });
  RecordUploadBytes(&m, "p", 1 << 20);
  RecordUploadBytes(&m, "p", 1024);
  RecordUploadCommit(&m, "p", "accepted");
  RecordLiveSamples(&m, "p", 500);
  RecordLiveScoringLag(&m, 0.3);
  const std::string text = m.Render();
  for (const char* want : {
           "# TYPE sextant_job_duration_seconds histogram\n",
           "sextant_job_duration_seconds_bucket{project=\"p\",state=\"done\",le=\"60\"} 1\n",
           "sextant_job_duration_seconds_bucket{project=\"p\",state=\"done\",le=\"30\"} 0\n",
           "sextant_jobs_finished_total{project=\"p\",state=\"failed\"} 1\n",
           "sextant_job_queue_wait_seconds_count{project=\"p\"} 1\n",
           "sextant_jobs{state=\"queued\"} 4\n",
           "sextant_jobs{state=\"running\"} 1\n",
           "sextant_upload_bytes_total{project=\"p\"} 1049600\n",
           "sextant_uploads_total{project=\"p\",result=\"accepted\"} 1\n",
           "sextant_live_samples_total{project=\"p\"} 500\n",
           "sextant_live_scoring_lag_seconds_bucket{le=\"0.5\"} 1\n",
       }) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " in\n" << text;
  }
  // Without a registry (a test of the part alone) nothing happens.
  RecordJobFinished(nullptr, "p", "done", 1);
  RecordUploadBytes(nullptr, "p", 1);
  AddJobQueueCollector(nullptr, [] { return std::pair<int64_t, int64_t>{0, 0}; });
}

TEST(MetricsRegistry, CountsFromManyThreads) {
  MetricsRegistry m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        m.AddCounter("n_total", "N.", {}, 1);
        m.Observe("o_seconds", "O.", {}, 0.01);
        if (i % 100 == 0) (void)m.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = m.Render();
  EXPECT_NE(text.find("n_total 4000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("o_seconds_count 4000\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace sextant::server
