#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>

namespace sextant::server {

namespace {

bool IsNameStart(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

bool IsNameChar(char c, bool colon) { return IsNameStart(c, colon) || (c >= '0' && c <= '9'); }

bool IsValidName(const std::string& name, bool colon) {
  if (name.empty() || !IsNameStart(name[0], colon)) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return IsNameChar(c, colon); });
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}`, with `extra` (a histogram's le) last; empty without labels.
std::string LabelText(const Labels& labels, const std::pair<std::string, std::string>* extra) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += EscapeLabelValue(v);
    out += '"';
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (extra != nullptr) add(extra->first, extra->second);
  out += '}';
  return out;
}

}  // namespace

const std::vector<double>& DefaultSecondsBuckets() {
  static const std::vector<double> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,    2.5,   5,    10};
  return buckets;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

bool IsValidMetricName(const std::string& name) { return IsValidName(name, true); }

bool IsValidLabelName(const std::string& name) {
  // Names starting with "__" are Prometheus' own.
  return IsValidName(name, false) && name.rfind("__", 0) != 0;
}

MetricsWriter::Series* MetricsWriter::Find(const std::string& name, const std::string& help,
                                           MetricType type, const Labels& labels,
                                           const std::vector<double>* buckets) {
  if (!IsValidMetricName(name)) return nullptr;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!IsValidLabelName(labels[i].first)) return nullptr;
    // A histogram's "le" is its own; a label twice is not a series.
    if (type == MetricType::kHistogram && labels[i].first == "le") return nullptr;
    for (size_t j = 0; j < i; ++j) {
      if (labels[j].first == labels[i].first) return nullptr;
    }
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family f;
    f.type = type;
    f.help = help;
    if (type == MetricType::kHistogram) {
      const std::vector<double>& b = buckets != nullptr ? *buckets : DefaultSecondsBuckets();
      // Ascending finite bounds; +Inf is always the last bucket.
      for (double bound : b) {
        if (std::isfinite(bound) && (f.buckets.empty() || bound > f.buckets.back())) {
          f.buckets.push_back(bound);
        }
      }
    }
    it = families_.emplace(name, std::move(f)).first;
  } else if (it->second.type != type) {
    return nullptr;
  }
  Family& family = it->second;
  auto [series, added] = family.series.try_emplace(labels);
  if (added && type == MetricType::kHistogram) {
    series->second.histogram.bounds = family.buckets;
    series->second.histogram.counts.assign(family.buckets.size() + 1, 0);
  }
  return &series->second;
}

void MetricsWriter::Gauge(const std::string& name, const std::string& help, const Labels& labels,
                          double value) {
  if (Series* s = Find(name, help, MetricType::kGauge, labels)) s->value = value;
}

void MetricsWriter::Counter(const std::string& name, const std::string& help, const Labels& labels,
                            double value) {
  if (!(value >= 0)) return;  // a counter never goes below zero (NaN dropped too)
  if (Series* s = Find(name, help, MetricType::kCounter, labels)) s->value = value;
}

void MetricsWriter::Merge(const MetricsWriter& other) {
  for (const auto& [name, family] : other.families_) families_.try_emplace(name, family);
}

std::string MetricsWriter::Render() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + EscapeHelp(family.help) + "\n";
    out += "# TYPE " + name + " " + TypeName(family.type) + "\n";
    for (const auto& [labels, s] : family.series) {
      if (family.type != MetricType::kHistogram) {
        out += name + LabelText(labels, nullptr) + " " + FormatValue(s.value) + "\n";
        continue;
      }
      // Buckets are cumulative in the exposition: le="x" counts values <= x.
      const Histogram& h = s.histogram;
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= h.bounds.size(); ++i) {
        cumulative += h.counts[i];
        const std::pair<std::string, std::string> le{
            "le", i < h.bounds.size() ? FormatValue(h.bounds[i]) : "+Inf"};
        out += name + "_bucket" + LabelText(labels, &le) + " " + std::to_string(cumulative) + "\n";
      }
      out += name + "_sum" + LabelText(labels, nullptr) + " " + FormatValue(h.sum) + "\n";
      out += name + "_count" + LabelText(labels, nullptr) + " " + std::to_string(h.count) + "\n";
    }
  }
  return out;
}

void MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                 const Labels& labels, double value) {
  if (!(value >= 0)) return;
  std::lock_guard lock(mu_);
  if (auto* s = values_.Find(name, help, MetricType::kCounter, labels)) s->value += value;
}

void MetricsRegistry::SetGauge(const std::string& name, const std::string& help,
                               const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  values_.Gauge(name, help, labels, value);
}

void MetricsRegistry::Observe(const std::string& name, const std::string& help,
                              const Labels& labels, double value) {
  Observe(name, help, labels, value, DefaultSecondsBuckets());
}

void MetricsRegistry::Observe(const std::string& name, const std::string& help,
                              const Labels& labels, double value,
                              const std::vector<double>& buckets) {
  if (std::isnan(value)) return;
  std::lock_guard lock(mu_);
  auto* s = values_.Find(name, help, MetricType::kHistogram, labels, &buckets);
  if (s == nullptr) return;
  MetricsWriter::Histogram& h = s->histogram;
  const size_t bucket =
      std::lower_bound(h.bounds.begin(), h.bounds.end(), value) - h.bounds.begin();
  h.counts[bucket]++;
  h.sum += value;
  h.count++;
}

void MetricsRegistry::AddCollector(std::function<void(MetricsWriter&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  MetricsWriter all;
  std::vector<std::function<void(MetricsWriter&)>> collectors;
  {
    std::lock_guard lock(mu_);
    all = values_;
    collectors = collectors_;
  }
  for (const auto& collect : collectors) {
    MetricsWriter written;
    try {
      collect(written);
    } catch (const std::exception&) {
      // A collector that fails leaves its families out of this scrape only.
      continue;
    }
    all.Merge(written);
  }
  return all.Render();
}

const std::vector<double>& JobSecondsBuckets() {
  static const std::vector<double> buckets = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600};
  return buckets;
}

void RecordJobFinished(MetricsRegistry* metrics, const std::string& project,
                       const std::string& state, double seconds) {
  if (metrics == nullptr) return;
  const Labels labels = {{"project", project}, {"state", state}};
  metrics->AddCounter("sextant_jobs_finished_total",
                      "Processing jobs that ended, by project and state (done, failed)", labels, 1);
  metrics->Observe("sextant_job_duration_seconds",
                   "Time a processing job ran, from a worker taking it to its end", labels, seconds,
                   JobSecondsBuckets());
}

void RecordJobStarted(MetricsRegistry* metrics, const std::string& project, double seconds) {
  if (metrics == nullptr) return;
  metrics->Observe("sextant_job_queue_wait_seconds",
                   "Time a processing job waited in the queue before a worker took it",
                   {{"project", project}}, seconds, JobSecondsBuckets());
}

void AddJobQueueCollector(MetricsRegistry* metrics,
                          std::function<std::pair<int64_t, int64_t>()> count) {
  if (metrics == nullptr) return;
  metrics->AddCollector([count = std::move(count)](MetricsWriter& out) {
    const auto [queued, running] = count();
    const char* help = "Processing jobs now, by state (queued, running)";
    out.Gauge("sextant_jobs", help, {{"state", "queued"}}, static_cast<double>(queued));
    out.Gauge("sextant_jobs", help, {{"state", "running"}}, static_cast<double>(running));
  });
}

void RecordUploadBytes(MetricsRegistry* metrics, const std::string& project, int64_t bytes) {
  if (metrics == nullptr) return;
  metrics->AddCounter(
      "sextant_upload_bytes_total",
      "Bytes of upload chunks received and stored (chunks already held not counted)",
      {{"project", project}}, static_cast<double>(bytes));
}

void RecordUploadCommit(MetricsRegistry* metrics, const std::string& project,
                        const std::string& result) {
  if (metrics == nullptr) return;
  metrics->AddCounter("sextant_uploads_total",
                      "Upload commits, by project and result (accepted, rejected)",
                      {{"project", project}, {"result", result}}, 1);
}

void RecordLiveSamples(MetricsRegistry* metrics, const std::string& project, int64_t samples) {
  if (metrics == nullptr) return;
  metrics->AddCounter("sextant_live_samples_total", "Samples appended by live ingest",
                      {{"project", project}}, static_cast<double>(samples));
}

void RecordLiveScoringLag(MetricsRegistry* metrics, double seconds) {
  if (metrics == nullptr) return;
  metrics->Observe("sextant_live_scoring_lag_seconds",
                   "Time from a live sample's arrival to its drift score", {}, seconds,
                   {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
}

}  // namespace sextant::server
