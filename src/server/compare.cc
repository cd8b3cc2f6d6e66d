#include "server/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "drift/verdict.h"

namespace sextant::server {

using ordered_json = nlohmann::ordered_json;
using json = nlohmann::json;

namespace stats {

double NormalUpperTail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

namespace {

// Lower regularized gamma P(a, x) by its series (x < a + 1) and upper Q(a, x)
// by its continued fraction (otherwise); Numerical Recipes 6.2.
double GammaSeriesP(double a, double x) {
  double sum = 1.0 / a, term = sum, ap = a;
  for (int i = 0; i < 10000; ++i) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (std::abs(term) < std::abs(sum) * 1e-15) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

double GammaContinuedFractionQ(double a, double x) {
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-15) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

// The continued fraction of the incomplete beta function (Numerical Recipes 6.4).
double BetaContinuedFraction(double x, double a, double b) {
  constexpr double kTiny = 1e-300;
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m < 10000; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::abs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-15) break;
  }
  return h;
}

double LogChoose(int64_t n, int64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

}  // namespace

double ChiSquareUpperTail(double x, double df) {
  if (!(x > 0)) return 1.0;
  const double a = df / 2, half = x / 2;
  if (half < a + 1) return std::clamp(1.0 - GammaSeriesP(a, half), 0.0, 1.0);
  return std::clamp(GammaContinuedFractionQ(a, half), 0.0, 1.0);
}

double RegularizedBeta(double x, double a, double b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use
  // the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) on the other side.
  if (x < (a + 1) / (a + b + 2)) return front * BetaContinuedFraction(x, a, b) / a;
  return 1 - front * BetaContinuedFraction(1 - x, b, a) / b;
}

double StudentTwoSided(double t, double df) {
  if (!std::isfinite(t)) return 0;
  return std::clamp(RegularizedBeta(df / (df + t * t), df / 2, 0.5), 0.0, 1.0);
}

double FisherExactTwoSided(int64_t a, int64_t b, int64_t c, int64_t d) {
  // Margins fixed: row 1 has a + b, column 1 has a + c, of n. Sum the
  // probabilities of every table no more likely than the observed one.
  const int64_t row1 = a + b, col1 = a + c, n = a + b + c + d;
  const double log_denominator = LogChoose(n, col1);
  auto log_p = [&](int64_t x) {
    return LogChoose(row1, x) + LogChoose(n - row1, col1 - x) - log_denominator;
  };
  const double observed = log_p(a);
  const int64_t lo = std::max<int64_t>(0, col1 - (n - row1)), hi = std::min(row1, col1);
  double p = 0;
  for (int64_t x = lo; x <= hi; ++x) {
    const double lp = log_p(x);
    // Relative tolerance as R's fisher.test, so ties in floating point count.
    if (lp <= observed + 1e-7) p += std::exp(lp);
  }
  return std::min(1.0, p);
}

std::optional<TestResult> TwoProportionTest(int64_t xa, int64_t na, int64_t xb, int64_t nb) {
  if (na <= 0 || nb <= 0) return std::nullopt;
  const double n = static_cast<double>(na + nb);
  const double with = static_cast<double>(xa + xb), without = n - with;
  const double min_expected =
      std::min({with * na / n, with * nb / n, without * na / n, without * nb / n});
  const double pa = static_cast<double>(xa) / na, pb = static_cast<double>(xb) / nb;
  const double pooled = with / n;
  const double se = std::sqrt(pooled * (1 - pooled) * (1.0 / na + 1.0 / nb));
  const double z = se > 0 ? (pb - pa) / se : 0;
  if (min_expected < 5) {
    // The sum runs over the smaller column's tables: count the rarer outcome.
    const bool flip = with > without;
    const double p = flip ? FisherExactTwoSided(na - xa, xa, nb - xb, xb)
                          : FisherExactTwoSided(xa, na - xa, xb, nb - xb);
    return TestResult{"Fisher exact", z, std::nullopt, p};
  }
  return TestResult{"two-proportion z", z, std::nullopt,
                    se > 0 ? std::min(1.0, 2 * NormalUpperTail(std::abs(z))) : 1.0};
}

std::optional<TestResult> ChiSquareHomogeneity(const std::vector<int64_t>& a,
                                               const std::vector<int64_t>& b) {
  int64_t na = 0, nb = 0, used = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    na += a[i];
    nb += b[i];
    used += a[i] + b[i] > 0;
  }
  if (na == 0 || nb == 0 || used < 2) return std::nullopt;
  const double n = static_cast<double>(na + nb);
  double x = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double total = static_cast<double>(a[i] + b[i]);
    if (total == 0) continue;
    const double ea = total * na / n, eb = total * nb / n;
    x += (a[i] - ea) * (a[i] - ea) / ea + (b[i] - eb) * (b[i] - eb) / eb;
  }
  const double df = static_cast<double>(used - 1);
  return TestResult{"chi-square", x, df, ChiSquareUpperTail(x, df)};
}

std::optional<TestResult> WelchTTest(double mean_a, double var_a, int64_t n_a, double mean_b,
                                     double var_b, int64_t n_b) {
  if (n_a < 2 || n_b < 2) return std::nullopt;
  const double va = var_a / n_a, vb = var_b / n_b;
  if (!(va + vb > 0)) return std::nullopt;
  const double t = (mean_b - mean_a) / std::sqrt(va + vb);
  const double df = (va + vb) * (va + vb) / (va * va / (n_a - 1) + vb * vb / (n_b - 1));
  return TestResult{"Welch t", t, df, StudentTwoSided(t, df)};
}

}  // namespace stats

namespace {

ordered_json TestJson(const std::optional<stats::TestResult>& t, double alpha) {
  if (!t) return nullptr;
  ordered_json j = {{"name", t->name}, {"statistic", t->statistic}};
  j["df"] = t->df ? ordered_json(*t->df) : ordered_json(nullptr);
  j["p_value"] = t->p_value;
  j["significant"] = t->p_value < alpha;
  return j;
}

ordered_json Value(std::optional<double> v, std::optional<double> low = std::nullopt,
                   std::optional<double> high = std::nullopt) {
  if (!v) return nullptr;
  return {{"value", *v},
          {"low", low ? ordered_json(*low) : ordered_json(nullptr)},
          {"high", high ? ordered_json(*high) : ordered_json(nullptr)}};
}

ordered_json ShareValue(int64_t count, int64_t n) {
  if (n <= 0) return nullptr;
  const drift::Interval ci = drift::WilsonInterval95(count, n);
  return Value(static_cast<double>(count) / n, ci.low, ci.high);
}

std::optional<double> Num(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* key : path) {
    if (!p->is_object() || !p->contains(key)) return std::nullopt;
    p = &p->at(key);
  }
  if (!p->is_number()) return std::nullopt;
  return p->get<double>();
}

// Running mean and variance (Welford), and the values' count.
struct Moments {
  int64_t n = 0;
  double mean = 0, m2 = 0;
  void Add(double v) {
    ++n;
    const double d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  double var() const { return n > 1 ? m2 / (n - 1) : 0; }
};

// What one side of the comparison counts over its samples.
struct Side {
  SplitKey split;
  json summary;
  std::vector<SampleRow> rows;
  int64_t n = 0, on_boundary = 0, drift_known = 0, drifted = 0, labeled = 0, correct = 0;
  Moments confidence;
  std::vector<int64_t> pred_count;
  std::vector<Moments> class_confidence;
};

Result<Side> LoadSide(const RunReader& reader, const SplitKey& split, const char* which,
                      const std::vector<std::string>& labels) {
  const RunInfo& info = reader.info();
  bool present = false;
  for (const SplitInfo& s : info.splits) present |= s.split == split;
  if (!present) {
    std::string have;
    for (const SplitInfo& s : info.splits) have += (have.empty() ? "" : ", ") + s.split.ToString();
    return Status::NotFound(std::string(which) + ": split '" + split.ToString() +
                            "' is not in run '" + info.project + "/" + info.run +
                            "' (its splits: " + (have.empty() ? "none" : have) + ")");
  }
  Side side;
  side.split = split;
  auto text = reader.SummaryJson(split);
  if (!text.ok()) return text.status().WithContext(std::string(which) + ": " + split.ToString());
  side.summary = json::parse(*text, nullptr, false);
  SampleQuery q;
  q.split = split;
  auto rows = reader.Samples(q);
  if (!rows.ok()) return rows.status().WithContext(std::string(which) + ": " + split.ToString());
  side.rows = std::move(*rows);
  side.pred_count.assign(labels.size(), 0);
  side.class_confidence.assign(labels.size(), {});
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < labels.size(); ++i) index[labels[i]] = i;
  for (const SampleRow& r : side.rows) {
    side.n++;
    side.on_boundary += r.is_on_the_boundary;
    side.confidence.Add(r.confidence);
    if (r.is_drifted) {
      side.drift_known++;
      side.drifted += *r.is_drifted;
    }
    if (r.is_correct) {
      side.labeled++;
      side.correct += *r.is_correct;
    }
    if (auto it = index.find(r.pred); it != index.end()) {
      side.pred_count[it->second]++;
      side.class_confidence[it->second].Add(r.confidence);
    }
  }
  return side;
}

ordered_json Change(const ordered_json& a, const ordered_json& b) {
  if (!a.is_object() || !b.is_object()) return nullptr;
  return b["value"].get<double>() - a["value"].get<double>();
}

ordered_json Metric(const std::string& name, ordered_json a, ordered_json b, ordered_json test,
                    const std::string& note = "") {
  ordered_json m = {{"name", name}, {"a", a}, {"b", b}, {"change", Change(a, b)}};
  m["test"] = std::move(test);
  if (!note.empty()) m["note"] = note;
  return m;
}

ordered_json MeanValue(const Moments& m) {
  if (m.n == 0) return nullptr;
  const double half = m.n > 1 ? 1.959964 * std::sqrt(m.var() / m.n) : 0;
  return Value(m.mean, m.mean - half, m.mean + half);
}

ordered_json Verdict(const Side& s) {
  if (!s.summary.contains("drift_verdict")) return nullptr;
  const json& v = s.summary["drift_verdict"];
  ordered_json j;
  j["drifted"] = v.contains("drifted") ? ordered_json(v["drifted"]) : ordered_json(nullptr);
  j["fraction"] = v.value("fraction", 0.0);
  j["low"] = v.contains("ci_low") ? ordered_json(v["ci_low"]) : ordered_json(nullptr);
  j["high"] = v.contains("ci_high") ? ordered_json(v["ci_high"]) : ordered_json(nullptr);
  j["p_value"] = v.contains("p_value") ? ordered_json(v["p_value"]) : ordered_json(nullptr);
  j["is_reference"] = v.value("is_reference", false);
  return j;
}

ordered_json Domain(const Side& s) {
  if (!s.summary.contains("domain_test") || !s.summary["domain_test"].contains("auc")) {
    return nullptr;
  }
  const json& d = s.summary["domain_test"];
  const bool ci = d.contains("auc_ci") && d["auc_ci"].is_array() && d["auc_ci"].size() == 2;
  ordered_json j = Value(d["auc"].get<double>(),
                         ci ? std::optional<double>(d["auc_ci"][0].get<double>()) : std::nullopt,
                         ci ? std::optional<double>(d["auc_ci"][1].get<double>()) : std::nullopt);
  j["shifted"] = d.value("shifted", false);
  j["p_value"] = d.contains("p_value") ? ordered_json(d["p_value"]) : ordered_json(nullptr);
  j["reference"] = d.value("reference", "");
  return j;
}

std::string PercentEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The regions of the run's 2-D map (a grid over both sides' points) whose
// share of B's samples grew (or shrank) most from their share of A's.
ordered_json Regions(const std::string& project, const std::string& run, const Side& a,
                     const Side& b, const CompareOptions& o) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  int64_t placed_a = 0, placed_b = 0;
  for (const Side* s : {&a, &b}) {
    for (const SampleRow& r : s->rows) {
      if (!r.x || !r.y) continue;
      x0 = std::min(x0, *r.x);
      x1 = std::max(x1, *r.x);
      y0 = std::min(y0, *r.y);
      y1 = std::max(y1, *r.y);
      (s == &a ? placed_a : placed_b)++;
    }
  }
  if (placed_a == 0 || placed_b == 0) return nullptr;
  const int g = std::max(1, o.grid);
  const double w = (x1 - x0) / g, h = (y1 - y0) / g;
  auto cell = [&](double x, double y) {
    const int ix = w > 0 ? std::min(g - 1, static_cast<int>((x - x0) / w)) : 0;
    const int iy = h > 0 ? std::min(g - 1, static_cast<int>((y - y0) / h)) : 0;
    return iy * g + ix;
  };
  std::vector<int64_t> count_a(g * g, 0), count_b(g * g, 0);
  std::vector<std::vector<const SampleRow*>> members_b(g * g);
  for (const SampleRow& r : a.rows) {
    if (r.x && r.y) count_a[cell(*r.x, *r.y)]++;
  }
  for (const SampleRow& r : b.rows) {
    if (!r.x || !r.y) continue;
    const int c = cell(*r.x, *r.y);
    count_b[c]++;
    members_b[c].push_back(&r);
  }
  int64_t occupied = 0;
  for (int i = 0; i < g * g; ++i) occupied += count_a[i] + count_b[i] > 0;
  std::vector<int> order(g * g);
  for (int i = 0; i < g * g; ++i) order[i] = i;
  auto growth = [&](int c) {
    return static_cast<double>(count_b[c]) / placed_b - static_cast<double>(count_a[c]) / placed_a;
  };
  std::stable_sort(order.begin(), order.end(), [&](int l, int r) { return growth(l) > growth(r); });

  auto region = [&](int c) {
    const int ix = c % g, iy = c / g;
    const double cx0 = x0 + ix * w, cx1 = ix == g - 1 ? x1 : x0 + (ix + 1) * w;
    const double cy0 = y0 + iy * h, cy1 = iy == g - 1 ? y1 : y0 + (iy + 1) * h;
    ordered_json j;
    j["cell"] = {{"col", ix}, {"row", iy}, {"x0", cx0}, {"x1", cx1}, {"y0", cy0}, {"y1", cy1}};
    j["a"] = {{"count", count_a[c]}, {"share", static_cast<double>(count_a[c]) / placed_a}};
    j["b"] = {{"count", count_b[c]}, {"share", static_cast<double>(count_b[c]) / placed_b}};
    j["change"] = growth(c);
    // The regions listed are the most extreme of many cells: their p-values are
    // Bonferroni-adjusted for the occupied cells, and "significant" uses that.
    auto test = stats::TwoProportionTest(count_a[c], placed_a, count_b[c], placed_b);
    j["test"] = TestJson(test, o.alpha);
    if (test) {
      const double adjusted = std::min(1.0, test->p_value * static_cast<double>(occupied));
      j["test"]["p_value_adjusted"] = adjusted;
      j["test"]["significant"] = adjusted < o.alpha;
    }
    // B's predicted classes in the region, most frequent first.
    std::map<std::string, int64_t> preds;
    for (const SampleRow* r : members_b[c]) preds[r->pred]++;
    std::vector<std::pair<std::string, int64_t>> top(preds.begin(), preds.end());
    std::stable_sort(top.begin(), top.end(),
                     [](const auto& l, const auto& r) { return l.second > r.second; });
    ordered_json pj = ordered_json::object();
    for (const auto& [label, k] : top) pj[label] = k;
    j["b_pred_counts"] = pj;
    // Representative samples: B's members nearest their centroid.
    double mx = 0, my = 0;
    for (const SampleRow* r : members_b[c]) {
      mx += *r->x;
      my += *r->y;
    }
    std::vector<const SampleRow*> near = members_b[c];
    if (!near.empty()) {
      mx /= static_cast<double>(near.size());
      my /= static_cast<double>(near.size());
    }
    auto d2 = [&](const SampleRow* r) {
      return (*r->x - mx) * (*r->x - mx) + (*r->y - my) * (*r->y - my);
    };
    std::stable_sort(near.begin(), near.end(),
                     [&](const SampleRow* l, const SampleRow* r) { return d2(l) < d2(r); });
    ordered_json examples = ordered_json::array();
    for (size_t i = 0; i < near.size() && i < static_cast<size_t>(o.examples); ++i) {
      const SampleRow& r = *near[i];
      std::string text = r.text.size() > 300 ? r.text.substr(0, 300) + "…" : r.text;
      examples.push_back(
          {{"id", r.id},
           {"text", text},
           {"pred", r.pred},
           {"confidence", r.confidence},
           {"is_drifted", r.is_drifted ? ordered_json(*r.is_drifted) : ordered_json(nullptr)}});
    }
    j["examples"] = examples;
    // The console's filter for the region (its lasso) and a link to B's view.
    ordered_json filter = {{"polygon", {{cx0, cy0}, {cx1, cy0}, {cx1, cy1}, {cx0, cy1}}}};
    j["filter"] = filter;
    j["link"] = "/runs/" + PercentEncode(project) + "/" + PercentEncode(run) +
                "?split=" + PercentEncode(b.split.ToString()) +
                "&f=" + PercentEncode(filter.dump());
    return j;
  };

  ordered_json grew = ordered_json::array(), shrank = ordered_json::array();
  for (int c : order) {
    if (static_cast<int>(grew.size()) >= o.regions) break;
    if (growth(c) <= 0) break;
    if (count_b[c] < o.min_region_samples) continue;
    grew.push_back(region(c));
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (static_cast<int>(shrank.size()) >= o.regions) break;
    if (growth(*it) >= 0) break;
    if (count_a[*it] < o.min_region_samples) continue;
    shrank.push_back(region(*it));
  }
  ordered_json j;
  j["grid"] = g;
  j["bounds"] = {{"x0", x0}, {"x1", x1}, {"y0", y0}, {"y1", y1}};
  j["cells_occupied"] = occupied;
  j["a_samples"] = placed_a;
  j["b_samples"] = placed_b;
  j["grew"] = std::move(grew);
  j["shrank"] = std::move(shrank);
  return j;
}

}  // namespace

Result<ordered_json> CompareSplits(const RunReader& reader, const SplitKey& a_key,
                                   const SplitKey& b_key, const CompareOptions& o) {
  const RunInfo& info = reader.info();
  const std::vector<std::string>& labels = info.labels;
  SEXTANT_ASSIGN_OR_RETURN(Side a, LoadSide(reader, a_key, "a", labels));
  SEXTANT_ASSIGN_OR_RETURN(Side b, LoadSide(reader, b_key, "b", labels));

  ordered_json out;
  out["project"] = info.project;
  out["run"] = info.run;
  out["alpha"] = o.alpha;
  for (const Side* s : {&a, &b}) {
    out[s == &a ? "a" : "b"] = {
        {"split", s->split.ToString()}, {"samples", s->n}, {"labeled", s->labeled > 0}};
  }

  ordered_json metrics = ordered_json::array();
  metrics.push_back(
      Metric("samples", Value(static_cast<double>(a.n)), Value(static_cast<double>(b.n)), nullptr));
  metrics.push_back(
      Metric("mean_confidence", MeanValue(a.confidence), MeanValue(b.confidence),
             TestJson(stats::WelchTTest(a.confidence.mean, a.confidence.var(), a.confidence.n,
                                        b.confidence.mean, b.confidence.var(), b.confidence.n),
                      o.alpha)));
  metrics.push_back(
      Metric("on_boundary_share", ShareValue(a.on_boundary, a.n), ShareValue(b.on_boundary, b.n),
             TestJson(stats::TwoProportionTest(a.on_boundary, a.n, b.on_boundary, b.n), o.alpha)));
  {
    // Drift flags exist for inference sets (drifted) and validation/test (out
    // of coverage); training is the reference and has none.
    ordered_json va = a.drift_known ? ShareValue(a.drifted, a.drift_known) : ordered_json(nullptr);
    ordered_json vb = b.drift_known ? ShareValue(b.drifted, b.drift_known) : ordered_json(nullptr);
    ordered_json test =
        a.drift_known && b.drift_known
            ? TestJson(stats::TwoProportionTest(a.drifted, a.drift_known, b.drifted, b.drift_known),
                       o.alpha)
            : ordered_json(nullptr);
    metrics.push_back(Metric("drifted_share", va, vb, test,
                             a.drift_known && b.drift_known
                                 ? ""
                                 : "training is the drift reference: it has no drift flags"));
  }
  {
    ordered_json da = Domain(a), db = Domain(b);
    auto value_only = [](const ordered_json& d) -> ordered_json {
      if (!d.is_object()) return nullptr;
      return {{"value", d["value"]}, {"low", d["low"]}, {"high", d["high"]}};
    };
    ordered_json va = value_only(da), vb = value_only(db);
    metrics.push_back(Metric("domain_auc", va, vb, nullptr,
                             "each set against the held-out reference; compare the intervals"));
  }
  if (a.labeled > 0 || b.labeled > 0) {
    metrics.push_back(
        Metric("accuracy", ShareValue(a.correct, a.labeled), ShareValue(b.correct, b.labeled),
               a.labeled && b.labeled
                   ? TestJson(stats::TwoProportionTest(a.correct, a.labeled, b.correct, b.labeled),
                              o.alpha)
                   : ordered_json(nullptr)));
    auto macro_f1 = [](const Side& s) { return Value(Num(s.summary, {"macro_f1"})); };
    metrics.push_back(Metric("macro_f1", macro_f1(a), macro_f1(b), nullptr));
  }
  {
    auto estimate = [](const Side& s) -> ordered_json {
      auto v = Num(s.summary, {"performance_estimate", "accuracy", "value"});
      if (!v) return nullptr;
      return Value(v, Num(s.summary, {"performance_estimate", "accuracy", "low"}),
                   Num(s.summary, {"performance_estimate", "accuracy", "high"}));
    };
    ordered_json ea = estimate(a), eb = estimate(b);
    if (!ea.is_null() || !eb.is_null()) {
      metrics.push_back(Metric("estimated_accuracy", ea, eb, nullptr,
                               "label-free estimate with its 90% interval"));
    }
  }
  out["metrics"] = std::move(metrics);

  ordered_json verdicts = {{"a", Verdict(a)}, {"b", Verdict(b)}};
  {
    const ordered_json &va = verdicts["a"], &vb = verdicts["b"];
    verdicts["changed"] =
        va.is_object() && vb.is_object() && va["drifted"].is_boolean() && vb["drifted"].is_boolean()
            ? ordered_json(va["drifted"] != vb["drifted"])
            : ordered_json(nullptr);
  }
  verdicts["domain"] = {{"a", Domain(a)}, {"b", Domain(b)}};
  out["drift_verdicts"] = std::move(verdicts);

  ordered_json classes = ordered_json::array();
  ordered_json confidence = ordered_json::array();
  for (size_t i = 0; i < labels.size(); ++i) {
    ordered_json c;
    c["label"] = labels[i];
    c["a"] = {{"count", a.pred_count[i]},
              {"share", a.n ? static_cast<double>(a.pred_count[i]) / a.n : 0.0}};
    c["b"] = {{"count", b.pred_count[i]},
              {"share", b.n ? static_cast<double>(b.pred_count[i]) / b.n : 0.0}};
    c["change"] = c["b"]["share"].get<double>() - c["a"]["share"].get<double>();
    c["test"] =
        TestJson(stats::TwoProportionTest(a.pred_count[i], a.n, b.pred_count[i], b.n), o.alpha);
    classes.push_back(std::move(c));

    const Moments &ma = a.class_confidence[i], &mb = b.class_confidence[i];
    ordered_json k;
    k["label"] = labels[i];
    k["a"] = {{"n", ma.n},
              {"mean", ma.n ? ordered_json(ma.mean) : ordered_json(nullptr)},
              {"sd", ma.n > 1 ? ordered_json(std::sqrt(ma.var())) : ordered_json(nullptr)}};
    k["b"] = {{"n", mb.n},
              {"mean", mb.n ? ordered_json(mb.mean) : ordered_json(nullptr)},
              {"sd", mb.n > 1 ? ordered_json(std::sqrt(mb.var())) : ordered_json(nullptr)}};
    k["change"] = ma.n && mb.n ? ordered_json(mb.mean - ma.mean) : ordered_json(nullptr);
    k["test"] =
        TestJson(stats::WelchTTest(ma.mean, ma.var(), ma.n, mb.mean, mb.var(), mb.n), o.alpha);
    confidence.push_back(std::move(k));
  }
  out["class_shares"] = {
      {"test", TestJson(stats::ChiSquareHomogeneity(a.pred_count, b.pred_count), o.alpha)},
      {"classes", std::move(classes)}};
  {
    // The chi-square approximation is rough where an expected count is small.
    double min_expected = std::numeric_limits<double>::infinity();
    const double n = static_cast<double>(a.n + b.n);
    for (size_t i = 0; i < labels.size() && n > 0; ++i) {
      const double total = static_cast<double>(a.pred_count[i] + b.pred_count[i]);
      if (total > 0) min_expected = std::min({min_expected, total * a.n / n, total * b.n / n});
    }
    if (min_expected < 5) {
      out["class_shares"]["note"] =
          "approximate: an expected count is below 5 (rare classes); read the per-class tests";
    }
  }
  out["confidence_per_class"] = std::move(confidence);
  out["regions"] = Regions(info.project, info.run, a, b, o);
  if (out["regions"].is_null()) out["regions_note"] = "the run was finished without the 2-D map";
  return out;
}

}  // namespace sextant::server
