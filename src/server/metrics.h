// The server's metrics for an ops stack: `GET /metrics` answers them in the
// Prometheus text exposition format 0.0.4 (docs/team-server.md, "Metrics").
// Debian has no prometheus-cpp, and the format is small, so it is written here.
//
// Conventions the callers keep (https://prometheus.io/docs/practices/naming/):
// names start with `sextant_`, are in base units (`_seconds`, `_bytes`),
// counters end in `_total`; labels hold bounded sets of values (a route
// pattern, a project, run or inference set name), never a sample id or a raw
// path. A name keeps the type (and the help text, and for a histogram the
// buckets) of its first use; a later use with another type, and a name or
// label name Prometheus would reject, is dropped rather than failing the
// caller: a metric is never worth a failed request.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sextant::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Latency buckets in seconds: 5 ms to 10 s, as Prometheus' client libraries.
const std::vector<double>& DefaultSecondsBuckets();

// What a family is in the exposition's `# TYPE` line.
enum class MetricType { kCounter, kGauge, kHistogram };

// The text format's escaping: of a label value (backslash, double quote,
// newline) and of a `# HELP` text (backslash, newline).
std::string EscapeLabelValue(const std::string& value);
std::string EscapeHelp(const std::string& help);
// A sample value: the shortest text that reads back as the same double;
// "+Inf", "-Inf", "NaN" for those.
std::string FormatValue(double value);
bool IsValidMetricName(const std::string& name);
bool IsValidLabelName(const std::string& name);

// Families of samples, rendered in the text format. MetricsRegistry keeps one
// for the values it is handed; each collector gets one at scrape time.
class MetricsWriter {
 public:
  // The value of a gauge now (replaces an earlier value of the same labels).
  void Gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  // The current value of a counter (a collector reading a count kept elsewhere).
  void Counter(const std::string& name, const std::string& help, const Labels& labels,
               double value);

  // The text format: each family's HELP and TYPE lines then its samples,
  // families sorted by name, samples by labels.
  std::string Render() const;

 private:
  friend class MetricsRegistry;
  struct Histogram {
    std::vector<double> bounds;    // upper bounds, ascending, +Inf not included
    std::vector<uint64_t> counts;  // per bucket, not cumulative; one more for +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  struct Series {
    double value = 0;
    Histogram histogram;
  };
  struct Family {
    MetricType type = MetricType::kGauge;
    std::string help;
    std::vector<double> buckets;  // histograms
    std::map<Labels, Series> series;
  };
  // The family `name` of `type`, created with `help` on first use; null when
  // the name or a label name is invalid or the name has another type.
  Series* Find(const std::string& name, const std::string& help, MetricType type,
               const Labels& labels, const std::vector<double>* buckets = nullptr);
  // Adds the families of `other` whose names this one does not have yet.
  void Merge(const MetricsWriter& other);

  std::map<std::string, Family> families_;
};

class MetricsRegistry {
 public:
  // Adds `value` (>= 0; a negative one is dropped) to a counter.
  void AddCounter(const std::string& name, const std::string& help, const Labels& labels,
                  double value);
  void SetGauge(const std::string& name, const std::string& help, const Labels& labels,
                double value);
  // One observation of a histogram, in DefaultSecondsBuckets(), or in
  // `buckets` (ascending upper bounds; fixed by the name's first observation).
  void Observe(const std::string& name, const std::string& help, const Labels& labels,
               double value);
  void Observe(const std::string& name, const std::string& help, const Labels& labels, double value,
               const std::vector<double>& buckets);
  // A function called at every scrape (outside the registry's lock, possibly
  // from several scrapes at once) to write values computed then: per run
  // figures, queue lengths, open connections. A family it writes under a name
  // the registry holds too is dropped.
  void AddCollector(std::function<void(MetricsWriter&)> collector);

  // Everything in the text exposition format 0.0.4.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  MetricsWriter values_;
  std::vector<std::function<void(MetricsWriter&)>> collectors_;
};

// The team server's own metrics, named once here so that the job queue, uploads and
// live ingest record them alike (docs/team-server.md, "Metrics"). Each takes the
// registry of server::Services, and does nothing when it is null (a test without one).

// Durations in seconds of a processing job: 1 s to 1 h.
const std::vector<double>& JobSecondsBuckets();
// A processing job of `project` ended, `state` "done" or "failed", after `seconds` running:
// sextant_job_duration_seconds{project,state} and sextant_jobs_finished_total{project,state}.
void RecordJobFinished(MetricsRegistry* metrics, const std::string& project,
                       const std::string& state, double seconds);
// A worker took a job that had waited `seconds` in the queue: sextant_job_queue_wait_seconds.
void RecordJobStarted(MetricsRegistry* metrics, const std::string& project, double seconds);
// The queue's length at every scrape (`count` returns the queued and running jobs):
// sextant_jobs{state="queued"|"running"}.
void AddJobQueueCollector(MetricsRegistry* metrics,
                          std::function<std::pair<int64_t, int64_t>()> count);
// Upload chunk bytes the server received and stored (a chunk it already held is not
// counted): sextant_upload_bytes_total{project}.
void RecordUploadBytes(MetricsRegistry* metrics, const std::string& project, int64_t bytes);
// An upload's commit, `result` "accepted" or "rejected": sextant_uploads_total{project,result}.
void RecordUploadCommit(MetricsRegistry* metrics, const std::string& project,
                        const std::string& result);
// Live ingest: a batch of `samples` appended (sextant_live_samples_total{project}), and the
// time from a sample's arrival to its drift score (sextant_live_scoring_lag_seconds).
void RecordLiveSamples(MetricsRegistry* metrics, const std::string& project, int64_t samples);
void RecordLiveScoringLag(MetricsRegistry* metrics, double seconds);

}  // namespace sextant::server
