#include "sextant/suggest.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/random.h"
#include "index/cosine_index.h"
#include "sextant/processing_options.h"

namespace sextant::suggest {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Training embeddings are read in pages of this many rows (bounded memory for
// the texts that come with them).
constexpr int64_t kTrainingPage = 20000;
// Neighbours searched per candidate to find its near-duplicates among the
// candidates (a larger group still joins up through the union-find).
constexpr int32_t kDuplicateNeighbors = 16;
// Nearest-neighbour searches (pool to training, pool to pool) are exact up to
// this many multiply-adds (queries x rows x width), about a second on 2 cores;
// above, an IVF index with a fixed number of probed cells (no tuning pass):
// near-duplicates share a cell, and a novelty distance is at worst a little
// long. E.g. 6,000 against 60,000 at width 128 (4.6e10) takes 16 s exact on a
// loaded 2-core machine, under 2 s with IVF.
constexpr double kExactSearchWork = 2e9;
constexpr int32_t kIvfProbes = 16;
// A component at or above this rank (top quarter of the set) is cited as a
// reason of a default pick.
constexpr double kReasonRank = 0.75;

std::string Num(double v) {
  char buf[32];
  if (v != 0 && std::abs(v) < 0.01) {
    std::snprintf(buf, sizeof buf, "%.2g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

// Rank-normalised values in [0, 1]: 1 for the largest, 0 for the smallest,
// ties share their mean rank; all 0.5 for a single value.
std::vector<double> RankNormalise(const std::vector<double>& v) {
  const size_t n = v.size();
  std::vector<double> out(n, 0.5);
  if (n < 2) return out;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = 0.5 * static_cast<double>(i + j);
    for (size_t k = i; k <= j; ++k) out[order[k]] = mean_rank / static_cast<double>(n - 1);
    i = j + 1;
  }
  return out;
}

// Share of `v` strictly above (above = true) or below each value.
std::vector<double> ShareBeyond(const std::vector<double>& v, bool above) {
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> out(v.size());
  const double n = static_cast<double>(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const auto it = above ? std::upper_bound(sorted.begin(), sorted.end(), v[i])
                          : std::lower_bound(sorted.begin(), sorted.end(), v[i]);
    const double count =
        above ? static_cast<double>(sorted.end() - it) : static_cast<double>(it - sorted.begin());
    out[i] = n > 0 ? count / n : 0;
  }
  return out;
}

int Percent(double share) { return static_cast<int>(std::floor(100 * share)); }

struct UnionFind {
  std::vector<int64_t> parent;
  explicit UnionFind(int64_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int64_t Find(int64_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void Join(int64_t a, int64_t b) {
    a = Find(a);
    b = Find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);  // the lowest row leads
  }
};

// An index over `rows` unit vectors for `queries` searches (see kExactSearchWork).
Result<std::unique_ptr<index::CosineIndex>> NearestIndex(const float* unit, int64_t rows,
                                                         int64_t dim, int64_t queries) {
  if (static_cast<double>(rows) * static_cast<double>(queries) * static_cast<double>(dim) <=
      kExactSearchWork) {
    return index::CosineIndex::Build(unit, rows, dim);
  }
  index::IvfOptions o;
  o.nprobe = kIvfProbes;
  return index::CosineIndex::BuildIvf(unit, rows, dim, o);
}

// A text as the duplicate check compares it: without leading and trailing
// whitespace, hashed (64 bits: a collision among a million texts has odds of
// about 1 in 10^7).
uint64_t TextKey(std::string_view text) {
  const size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return std::hash<std::string_view>()(std::string_view());
  const size_t e = text.find_last_not_of(" \t\r\n");
  return std::hash<std::string_view>()(text.substr(b, e - b + 1));
}

// Everything the strategies read, per sample of the pool (index = position in
// `rows`).
struct Pool {
  std::vector<SampleRow> rows;
  int64_t dim = 0;
  std::vector<float> unit;  // rows x dim
  bool has_training = false;
  std::vector<double> train_distance;           // cosine distance to the nearest training sample
  std::unordered_set<uint64_t> training_texts;  // hashes of the training texts (TextKey)
  bool has_shift = false, has_drift = false;
  std::vector<double> margin, shift, drift;  // shift/drift: NaN where missing
  // Rank-normalised components over the pool (higher = more informative).
  std::vector<double> u_rank, s_rank, n_rank;
  // The two shift tests ranked on their own (empty where the split lacks one):
  // the domain classifier's shift_score and the k-NN distance to training.
  std::vector<double> shift_only_rank, knn_rank;
  std::vector<double> margin_share_above;  // share of the pool with a larger margin
  std::vector<double> shift_share_below;   // share with a smaller shift (or drift) score
  std::optional<double> shift_threshold;   // the set's flag threshold, when stored

  const float* Vec(int64_t i) const { return unit.data() + i * dim; }
};

// The set's shift flag threshold from its summary (domain_test.shift_threshold),
// when the run stores one.
std::optional<double> ShiftThreshold(const RunReader& reader, const SplitKey& split) {
  auto text = reader.SummaryJson(split);
  if (!text.ok()) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  // The split's own summary, or the run's with the split under "splits".
  if (auto s = j.find("splits"); s != j.end() && s->is_object() && s->contains(split.ToString())) {
    j = (*s)[split.ToString()];
  }
  auto it = j.find("domain_test");
  if (it != j.end() && it->is_object()) {
    auto t = it->find("shift_threshold");
    if (t != it->end() && t->is_number()) return t->get<double>();
  }
  return std::nullopt;
}

// Cosine distance from each pool row to its nearest training sample (the
// training embeddings of the run's results: the last epoch's).
Status TrainingDistances(const RunReader& reader, Pool* pool) {
  const SplitKey training = SplitKey::Make(Split::kTraining).value();
  int64_t training_rows = 0;
  for (const SplitInfo& s : reader.info().splits) {
    if (s.split == training && s.processed) training_rows = s.samples;
  }
  const int64_t n = static_cast<int64_t>(pool->rows.size());
  pool->train_distance.assign(n, kInf);
  if (training_rows == 0 || n == 0) return Status::OK();
  std::vector<float> t;
  t.reserve(static_cast<size_t>(training_rows * pool->dim));
  int64_t rows = 0;
  for (int64_t offset = 0;; offset += kTrainingPage) {
    SampleQuery q;
    q.split = training;
    q.offset = offset;
    q.limit = kTrainingPage;
    q.include_embeddings = true;
    SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> page, reader.Samples(q));
    for (const SampleRow& r : page) {
      if (static_cast<int64_t>(r.embedding.size()) != pool->dim) {
        return Status::FailedPrecondition(
            "suggest: training sample '" + r.id + "' has an embedding of width " +
            std::to_string(r.embedding.size()) + ", the pool's have " + std::to_string(pool->dim));
      }
      t.insert(t.end(), r.embedding.begin(), r.embedding.end());
      pool->training_texts.insert(TextKey(r.text));
      ++rows;
    }
    if (static_cast<int64_t>(page.size()) < kTrainingPage) break;
  }
  if (rows == 0) return Status::OK();
  index::NormalizeRows(t.data(), rows, pool->dim);
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<index::CosineIndex> idx,
                           NearestIndex(t.data(), rows, pool->dim, n));
  std::vector<float> dist(n);
  std::vector<int64_t> label(n);
  SEXTANT_RETURN_IF_ERROR(idx->Search(pool->unit.data(), n, 1, dist.data(), label.data()));
  for (int64_t i = 0; i < n; ++i) {
    pool->train_distance[i] = label[i] < 0 ? kInf : std::max(0.0, static_cast<double>(dist[i]));
  }
  pool->has_training = true;
  return Status::OK();
}

// Marks the pool rows to leave out: near-duplicates of training, and all but
// the lowest row of each group of near-duplicates among the rest. Returns the
// kept rows, ascending; `nearest_other` gets each row's distance to its
// nearest other pool row (kInf when alone).
Result<std::vector<int64_t>> Deduplicate(const Pool& pool, double threshold,
                                         std::vector<double>* nearest_other) {
  const int64_t n = static_cast<int64_t>(pool.rows.size());
  nearest_other->assign(n, kInf);
  std::vector<int64_t> kept;
  if (n == 0) return kept;
  UnionFind groups(n);
  if (n > 1) {
    const int32_t k = static_cast<int32_t>(std::min<int64_t>(kDuplicateNeighbors + 1, n));
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<index::CosineIndex> idx,
                             NearestIndex(pool.unit.data(), n, pool.dim, n));
    std::vector<float> dist(static_cast<size_t>(n * k));
    std::vector<int64_t> label(static_cast<size_t>(n * k));
    SEXTANT_RETURN_IF_ERROR(idx->Search(pool.unit.data(), n, k, dist.data(), label.data()));
    for (int64_t i = 0; i < n; ++i) {
      for (int32_t j = 0; j < k; ++j) {
        const int64_t other = label[i * k + j];
        if (other < 0 || other == i) continue;
        const double d = std::max(0.0, static_cast<double>(dist[i * k + j]));
        (*nearest_other)[i] = std::min((*nearest_other)[i], d);
        if (d < threshold) groups.Join(i, other);
      }
    }
  }
  // The same text is the same sample whatever the embeddings say (some models
  // put unrelated texts closer together than float rounding separates copies).
  std::unordered_map<uint64_t, int64_t> first_with_text;
  std::vector<uint64_t> keys(n);
  for (int64_t i = 0; i < n; ++i) {
    keys[i] = TextKey(pool.rows[i].text);
    auto [it, inserted] = first_with_text.emplace(keys[i], i);
    if (!inserted) groups.Join(i, it->second);
  }
  std::vector<bool> leader_taken(n, false);
  for (int64_t i = 0; i < n; ++i) {
    if (pool.has_training && pool.train_distance[i] < threshold) continue;
    if (pool.training_texts.count(keys[i])) continue;
    const int64_t g = groups.Find(i);
    if (leader_taken[g]) continue;
    leader_taken[g] = true;
    kept.push_back(i);
  }
  return kept;
}

Status LoadPool(const RunReader& reader, const SuggestOptions& o, Pool* pool) {
  SampleQuery q;
  q.split = o.split;
  q.include_embeddings = true;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SampleRow> rows, reader.Samples(q));
  for (SampleRow& r : rows) {
    if (o.class_name && r.pred != *o.class_name) continue;
    pool->rows.push_back(std::move(r));
  }
  const int64_t n = static_cast<int64_t>(pool->rows.size());
  if (n == 0) return Status::OK();
  pool->dim = static_cast<int64_t>(pool->rows[0].embedding.size());
  if (pool->dim == 0) {
    return Status::FailedPrecondition("suggest: split '" + o.split.ToString() +
                                      "' has no embeddings; log embeddings and finish the run");
  }
  pool->unit.resize(static_cast<size_t>(n * pool->dim));
  for (int64_t i = 0; i < n; ++i) {
    const SampleRow& r = pool->rows[i];
    if (static_cast<int64_t>(r.embedding.size()) != pool->dim) {
      return Status::FailedPrecondition("suggest: sample '" + r.id +
                                        "' has no embedding of width " + std::to_string(pool->dim));
    }
    std::copy(r.embedding.begin(), r.embedding.end(), pool->unit.begin() + i * pool->dim);
  }
  index::NormalizeRows(pool->unit.data(), n, pool->dim);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  pool->margin.resize(n);
  pool->shift.assign(n, nan);
  pool->drift.assign(n, nan);
  for (int64_t i = 0; i < n; ++i) {
    const SampleRow& r = pool->rows[i];
    pool->margin[i] = r.margin;
    if (r.shift_score) {
      pool->shift[i] = *r.shift_score;
      pool->has_shift = true;
    }
    if (r.drift_score) {
      pool->drift[i] = *r.drift_score;
      pool->has_drift = true;
    }
  }
  std::vector<double> neg_margin(n);
  for (int64_t i = 0; i < n; ++i) neg_margin[i] = -pool->margin[i];
  pool->u_rank = RankNormalise(neg_margin);
  pool->margin_share_above = ShareBeyond(pool->margin, /*above=*/true);
  if (pool->has_shift || pool->has_drift) {
    // A sample without the score ranks lowest.
    std::vector<double> s(n);
    for (int64_t i = 0; i < n; ++i) {
      const double v = pool->has_shift ? pool->shift[i] : pool->drift[i];
      s[i] = std::isnan(v) ? -1 : v;
    }
    pool->s_rank = RankNormalise(s);
    pool->shift_share_below = ShareBeyond(s, /*above=*/false);
  }
  if (pool->has_shift) {
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = std::isnan(pool->shift[i]) ? -1 : pool->shift[i];
    pool->shift_only_rank = RankNormalise(v);
  }
  if (pool->has_drift) {
    // The raw distance: drift_score is monotone in it but ties at 1 beyond the
    // reference's farthest sample.
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) {
      const SampleRow& r = pool->rows[i];
      v[i] =
          r.drift_distance ? *r.drift_distance : (std::isnan(pool->drift[i]) ? -1 : pool->drift[i]);
    }
    pool->knn_rank = RankNormalise(v);
  }
  if (pool->has_shift) pool->shift_threshold = ShiftThreshold(reader, o.split);
  return Status::OK();
}

// One pick of a strategy: the pool row, its score, and the distance to
// training or earlier picks at the time of the pick (diverse, default).
struct Pick {
  int64_t i = 0;
  double score = 0;
  std::optional<double> distance;
};

std::vector<Pick> PickRandom(const std::vector<int64_t>& candidates, int64_t budget, Random* rng) {
  std::vector<Pick> picks;
  for (int64_t i : candidates) picks.push_back({i, rng->Uniform()});
  std::stable_sort(picks.begin(), picks.end(),
                   [](const Pick& a, const Pick& b) { return a.score > b.score; });
  if (static_cast<int64_t>(picks.size()) > budget) picks.resize(budget);
  return picks;
}

std::vector<Pick> PickSorted(const std::vector<int64_t>& candidates, int64_t budget,
                             const std::vector<double>& score) {
  std::vector<Pick> picks;
  for (int64_t i : candidates) picks.push_back({i, score[i]});
  std::stable_sort(picks.begin(), picks.end(),
                   [](const Pick& a, const Pick& b) { return a.score > b.score; });
  if (static_cast<int64_t>(picks.size()) > budget) picks.resize(budget);
  return picks;
}

// Greedy picks over `candidates`: each step takes the candidate with the
// largest priority(i, d_i), d_i its distance to training and to the picks so
// far, then updates the distances. k-center when priority is d itself.
template <typename Priority>
std::vector<Pick> PickGreedy(const Pool& pool, const std::vector<int64_t>& candidates,
                             int64_t budget, const Priority& priority) {
  const size_t m = candidates.size();
  std::vector<double> d(m);
  for (size_t c = 0; c < m; ++c) d[c] = pool.train_distance[candidates[c]];
  // Each pick's similarities to the candidates are one matrix-vector product
  // (OpenBLAS): over the whole pool when the candidates are most of it, else
  // over a contiguous copy of theirs.
  const int64_t n = static_cast<int64_t>(pool.rows.size());
  const bool whole = 2 * static_cast<int64_t>(m) > n;
  std::vector<float> copy;
  if (!whole) {
    copy.resize(m * static_cast<size_t>(pool.dim));
    for (size_t c = 0; c < m; ++c) {
      std::copy(pool.Vec(candidates[c]), pool.Vec(candidates[c]) + pool.dim,
                copy.begin() + static_cast<int64_t>(c) * pool.dim);
    }
  }
  const float* matrix = whole ? pool.unit.data() : copy.data();
  const int64_t matrix_rows = whole ? n : static_cast<int64_t>(m);
  std::vector<float> sims(static_cast<size_t>(matrix_rows));
  std::vector<bool> taken(m, false);
  std::vector<Pick> picks;
  const int64_t steps = std::min<int64_t>(budget, static_cast<int64_t>(m));
  // Without training, the first k-center pick has no distance to go by: start
  // from the candidate farthest from the candidates' mean direction.
  std::vector<double> centre(pool.dim, 0.0);
  if (!pool.has_training) {
    for (int64_t i : candidates) {
      for (int64_t k = 0; k < pool.dim; ++k) centre[k] += pool.Vec(i)[k];
    }
  }
  for (int64_t step = 0; step < steps; ++step) {
    size_t best = m;
    double best_priority = -kInf;
    for (size_t c = 0; c < m; ++c) {
      if (taken[c]) continue;
      double p;
      if (std::isinf(d[c])) {
        double cos = 0, norm = 0;
        for (int64_t k = 0; k < pool.dim; ++k) {
          cos += centre[k] * pool.Vec(candidates[c])[k];
          norm += centre[k] * centre[k];
        }
        const double from_centre = norm > 0 ? 1 - cos / std::sqrt(norm) : 1.0;
        p = priority(candidates[c], kInf) + 1e-9 * from_centre;
      } else {
        p = priority(candidates[c], d[c]);
      }
      if (p > best_priority) {
        best_priority = p;
        best = c;
      }
    }
    if (best == m) break;
    taken[best] = true;
    const int64_t bi = candidates[best];
    picks.push_back(
        {bi, best_priority, std::isinf(d[best]) ? std::nullopt : std::optional(d[best])});
    if (step + 1 == steps) break;  // no later pick reads the distances
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(matrix_rows),
                static_cast<int>(pool.dim), 1.0f, matrix, static_cast<int>(pool.dim), pool.Vec(bi),
                1, 0.0f, sims.data(), 1);
    for (size_t c = 0; c < m; ++c) {
      if (taken[c]) continue;
      const float sim = sims[whole ? static_cast<size_t>(candidates[c]) : c];
      d[c] = std::min(d[c], std::max(0.0, 1.0 - static_cast<double>(sim)));
    }
  }
  return picks;
}

double Quantile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

struct DefaultModel {
  double wu = 0, ws = 0, wn = 0;  // renormalised weights
  double d_ref = 1;
  double cap = kCoverageCap;
  std::vector<double> info;  // per pool row
};

DefaultModel MakeDefaultModel(const Pool& pool, const std::vector<int64_t>& candidates,
                              const std::vector<double>& nearest_other, const DefaultWeights& w) {
  DefaultModel m;
  m.wu = w.uncertainty;
  m.ws = pool.s_rank.empty() ? 0 : w.shift;
  m.wn = pool.has_training ? w.novelty : 0;
  m.cap = w.coverage_cap;
  const double total = std::max(m.wu + m.ws + m.wn, 1e-12);
  m.wu /= total;
  m.ws /= total;
  m.wn /= total;
  std::vector<double> scale;
  for (int64_t i : candidates) {
    scale.push_back(pool.has_training ? pool.train_distance[i] : nearest_other[i]);
  }
  m.d_ref = std::max(Quantile(scale, kCoverageQuantile), 1e-6);
  const size_t n = pool.rows.size();
  m.info.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    m.info[i] = m.wu * pool.u_rank[i] + (m.ws > 0 ? m.ws * pool.s_rank[i] : 0) +
                (m.wn > 0 ? m.wn * pool.n_rank[i] : 0);
  }
  return m;
}

std::vector<Pick> Select(const Pool& pool, const SuggestOptions& o,
                         const std::vector<int64_t>& candidates, int64_t budget, Random* rng,
                         const DefaultModel* model) {
  if (o.strategy == "random") return PickRandom(candidates, budget, rng);
  if (o.strategy == "uncertainty") {
    std::vector<double> s(pool.rows.size());
    for (size_t i = 0; i < s.size(); ++i) s[i] = std::clamp(1.0 - pool.margin[i], 0.0, 1.0);
    return PickSorted(candidates, budget, s);
  }
  if (o.strategy == "drift") {
    // Unlike training by either test: the larger of the two ranks, so the top
    // holds both what makes the set differ from held-out data (shift_score,
    // which a small new cluster barely moves) and what lies outside the
    // training coverage (k-NN distance, which finds such a cluster); the
    // other rank breaks ties.
    const auto rank = [](const std::vector<double>& v, size_t i) { return v.empty() ? 0.0 : v[i]; };
    std::vector<double> s(pool.rows.size());
    for (size_t i = 0; i < s.size(); ++i) {
      const double a = rank(pool.shift_only_rank, i), b = rank(pool.knn_rank, i);
      s[i] = std::max(a, b) + 1e-6 * std::min(a, b);
    }
    return PickSorted(candidates, budget, s);
  }
  if (o.strategy == "diverse") {
    return PickGreedy(pool, candidates, budget, [](int64_t, double d) { return d; });
  }
  return PickGreedy(pool, candidates, budget, [&](int64_t i, double d) {
    const double discount = std::isinf(d) ? 1.0 : std::min(model->cap, d / model->d_ref);
    return model->info[i] * discount;
  });
}

std::string UncertainReason(const Pool& pool, int64_t i) {
  return "uncertain: margin " + Num(pool.margin[i]) + ", lower than " +
         std::to_string(Percent(pool.margin_share_above[i])) + "% of the set";
}

std::string KnnReason(const Pool& pool, int64_t i) {
  const SampleRow& r = pool.rows[i];
  if (std::isnan(pool.drift[i])) return "drifted: no drift score";
  std::string s = "drifted: drift score " + Num(pool.drift[i]);
  if (r.is_drifted && *r.is_drifted) s += " (flagged as drifted)";
  return s;
}

std::string ShiftReason(const Pool& pool, int64_t i) {
  const SampleRow& r = pool.rows[i];
  if (pool.has_shift) {
    if (std::isnan(pool.shift[i])) return "shifted: no shift score";
    std::string s = "shifted: shift score " + Num(pool.shift[i]);
    if (pool.shift_threshold) {
      s += " (flag above " + Num(*pool.shift_threshold) + ")";
    } else if (r.is_shifted) {
      s += *r.is_shifted ? " (flagged)" : " (not flagged)";
    }
    return s;
  }
  return KnnReason(pool, i);
}

std::string NovelReason(const Pool& pool, const Pick& p) {
  if (!p.distance)
    return "novel: the first pick, farthest from the set's centre (no training split)";
  return std::string(pool.has_training ? "novel: far from training and from the other picks"
                                       : "novel: far from the other picks") +
         " (distance " + Num(*p.distance) + ")";
}

std::vector<std::string> Reasons(const Pool& pool, const SuggestOptions& o, const Pick& p,
                                 const DefaultModel* model) {
  std::vector<std::string> out;
  const int64_t i = p.i;
  const SampleRow& r = pool.rows[i];
  const bool has_s = !pool.s_rank.empty();
  bool cited_u = false, cited_s = false;
  if (o.strategy == "random") {
    out.push_back("random: drawn at random (seed " + std::to_string(o.seed) + ")");
  } else if (o.strategy == "uncertainty") {
    out.push_back(UncertainReason(pool, i));
    cited_u = true;
  } else if (o.strategy == "drift") {
    const double a = pool.shift_only_rank.empty() ? -1 : pool.shift_only_rank[i];
    const double b = pool.knn_rank.empty() ? -1 : pool.knn_rank[i];
    if (a >= b) {
      out.push_back(ShiftReason(pool, i));
      if (b >= kReasonRank) out.push_back(KnnReason(pool, i));
    } else {
      out.push_back(KnnReason(pool, i));
      if (a >= kReasonRank) out.push_back(ShiftReason(pool, i));
    }
    cited_s = true;
  } else if (o.strategy == "diverse") {
    out.push_back(NovelReason(pool, p));
  } else {
    // The default: "novel" first when distance drove the pick, then each
    // component in the set's top quarter, the largest contribution first; at
    // least the largest.
    const bool far = !p.distance || *p.distance >= kNovelFactor * model->d_ref;
    if (far) out.push_back(NovelReason(pool, p));
    struct Part {
      double contribution;
      int which;  // 0 uncertainty, 1 shift
      double rank;
    };
    std::vector<Part> parts = {{model->wu * pool.u_rank[i], 0, pool.u_rank[i]}};
    if (model->ws > 0) parts.push_back({model->ws * pool.s_rank[i], 1, pool.s_rank[i]});
    std::stable_sort(parts.begin(), parts.end(),
                     [](const Part& a, const Part& b) { return a.contribution > b.contribution; });
    for (size_t k = 0; k < parts.size(); ++k) {
      if ((k > 0 || far) && parts[k].rank < kReasonRank) continue;
      if (parts[k].which == 0) {
        out.push_back(UncertainReason(pool, i));
        cited_u = true;
      } else {
        out.push_back(ShiftReason(pool, i));
        cited_s = true;
      }
    }
  }
  // Facts worth knowing whatever the strategy: a flag, or the set's lowest
  // tenth of margins.
  if (!cited_u && pool.margin_share_above[i] >= 0.9) out.push_back(UncertainReason(pool, i));
  if (!cited_s && has_s) {
    const bool flagged =
        pool.has_shift ? r.is_shifted.value_or(false) : r.is_drifted.value_or(false);
    if (flagged) out.push_back(ShiftReason(pool, i));
  }
  return out;
}

std::map<std::string, double> Scores(const Pool& pool, int64_t i) {
  std::map<std::string, double> s;
  s["uncertainty"] = std::clamp(1.0 - pool.margin[i], 0.0, 1.0);
  if (!std::isnan(pool.shift[i])) s["shift"] = std::clamp(pool.shift[i], 0.0, 1.0);
  if (!std::isnan(pool.drift[i])) s["drift"] = std::clamp(pool.drift[i], 0.0, 1.0);
  if (pool.has_training) s["novelty"] = std::clamp(pool.train_distance[i], 0.0, 1.0);
  return s;
}

// Per-class quotas: the budget split over the classes in proportion to their
// candidates (largest remainder), at least 1 for each class while the budget
// lasts (largest classes first).
std::vector<int64_t> Quotas(const std::vector<int64_t>& sizes, int64_t budget) {
  const size_t k = sizes.size();
  std::vector<int64_t> q(k, 0);
  const int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  if (budget >= total) return sizes;
  std::vector<size_t> by_size(k);
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
  if (budget <= static_cast<int64_t>(k)) {
    for (int64_t j = 0; j < budget; ++j) q[by_size[j]] = 1;
    return q;
  }
  std::vector<std::pair<double, size_t>> remainders;
  int64_t given = 0;
  for (size_t c = 0; c < k; ++c) {
    const double exact =
        static_cast<double>(budget) * static_cast<double>(sizes[c]) / static_cast<double>(total);
    q[c] = static_cast<int64_t>(std::floor(exact));
    given += q[c];
    remainders.push_back({exact - static_cast<double>(q[c]), c});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t j = 0; given < budget && j < remainders.size(); ++j, ++given) {
    ++q[remainders[j].second];
  }
  // At least one each: taken from the class with the largest quota.
  for (size_t c = 0; c < k; ++c) {
    if (q[c] > 0 || sizes[c] == 0) continue;
    const size_t largest = static_cast<size_t>(std::max_element(q.begin(), q.end()) - q.begin());
    if (q[largest] <= 1) break;
    --q[largest];
    q[c] = 1;
  }
  return q;
}

}  // namespace

const std::vector<std::string>& StrategyNames() {
  static const std::vector<std::string> names = {"default", "random", "uncertainty", "drift",
                                                 "diverse"};
  return names;
}

Result<SuggestResult> Suggest(const RunReader& reader, const SuggestOptions& o) {
  const auto& names = StrategyNames();
  if (std::find(names.begin(), names.end(), o.strategy) == names.end()) {
    return Status::Invalid("strategy: '" + o.strategy +
                           "' is not a strategy; expected one of default, random, uncertainty, "
                           "drift, diverse");
  }
  if (o.budget < 1) {
    return Status::Invalid("budget: must be at least 1, got " + std::to_string(o.budget));
  }
  const DefaultWeights& w = o.weights;
  if (!(w.uncertainty >= 0 && w.shift >= 0 && w.novelty >= 0 &&
        w.uncertainty + w.shift + w.novelty > 0 && w.coverage_cap > 0)) {
    return Status::Invalid(
        "weights: uncertainty, shift and novelty must be >= 0 with a positive sum, and "
        "coverage_cap > 0");
  }
  if (o.split.split == Split::kTraining) {
    return Status::Invalid(
        "split: training is already labeled; suggest from an inference set (or validation, test)");
  }
  bool found = false;
  std::string splits;
  for (const SplitInfo& s : reader.info().splits) {
    found = found || s.split == o.split;
    splits += (splits.empty() ? "" : ", ") + s.split.ToString();
  }
  if (!found) {
    return Status::NotFound("split: the run has no split '" + o.split.ToString() +
                            "' (splits: " + splits + ")");
  }
  if (o.class_name) {
    const auto& labels = reader.info().labels;
    if (std::find(labels.begin(), labels.end(), *o.class_name) == labels.end()) {
      std::string list;
      for (const auto& l : labels) list += (list.empty() ? "" : ", ") + l;
      return Status::Invalid("class: '" + *o.class_name +
                             "' is not a label of this run (labels: " + list + ")");
    }
  }

  Pool pool;
  SEXTANT_RETURN_IF_ERROR(LoadPool(reader, o, &pool));
  SuggestResult result;
  result.strategy = o.strategy;
  result.pool = static_cast<int64_t>(pool.rows.size());
  if (pool.rows.empty()) return result;
  if (o.strategy == "drift" && !pool.has_shift && !pool.has_drift) {
    return Status::FailedPrecondition(
        "strategy: 'drift' needs shift or drift scores, and split '" + o.split.ToString() +
        "' has none (finish the run with a training split; shift scores need a validation split)");
  }
  SEXTANT_RETURN_IF_ERROR(TrainingDistances(reader, &pool));
  if (pool.has_training) pool.n_rank = RankNormalise(pool.train_distance);
  // The duplicate threshold, scaled down for a model whose embeddings all lie
  // close together (see kDuplicateRelative).
  double threshold = kDuplicateDistance;
  if (pool.has_training) {
    threshold = std::min(threshold, kDuplicateRelative * Quantile(pool.train_distance, 0.5));
  }
  result.duplicate_distance = threshold;
  std::vector<double> nearest_other;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<int64_t> candidates,
                           Deduplicate(pool, threshold, &nearest_other));
  result.excluded_duplicates = result.pool - static_cast<int64_t>(candidates.size());

  DefaultModel model;
  if (o.strategy == "default") {
    model = MakeDefaultModel(pool, candidates, nearest_other, o.weights);
  }
  Random rng(o.seed);

  // (pick, order within its group) for the merge of per-class picks.
  std::vector<std::pair<Pick, int64_t>> picks;
  if (!o.per_class) {
    int64_t k = 0;
    for (const Pick& p : Select(pool, o, candidates, o.budget, &rng, &model)) {
      picks.push_back({p, k++});
    }
  } else {
    // Groups by predicted class: the run's labels in order, then any other
    // prediction (NER tags) alphabetically.
    std::map<std::string, std::vector<int64_t>> by_pred;
    for (int64_t i : candidates) by_pred[pool.rows[i].pred].push_back(i);
    std::vector<std::string> order;
    for (const auto& l : reader.info().labels) {
      if (by_pred.count(l)) order.push_back(l);
    }
    for (const auto& [pred, _] : by_pred) {
      if (std::find(order.begin(), order.end(), pred) == order.end()) order.push_back(pred);
    }
    std::vector<int64_t> sizes;
    for (const auto& c : order) sizes.push_back(static_cast<int64_t>(by_pred[c].size()));
    const std::vector<int64_t> quotas = Quotas(sizes, o.budget);
    for (size_t c = 0; c < order.size(); ++c) {
      if (quotas[c] == 0) continue;
      int64_t k = 0;
      for (const Pick& p : Select(pool, o, by_pred[order[c]], quotas[c], &rng, &model)) {
        picks.push_back({p, k++});
      }
    }
    // One list: by score, then by each class's own pick order.
    std::stable_sort(picks.begin(), picks.end(), [](const auto& a, const auto& b) {
      if (a.first.score != b.first.score) return a.first.score > b.first.score;
      return a.second < b.second;
    });
  }

  int32_t rank = 0;
  for (const auto& [p, _] : picks) {
    Suggestion s;
    s.id = pool.rows[p.i].id;
    s.row = pool.rows[p.i].row;
    s.score = p.score;
    s.rank = ++rank;
    s.reasons = Reasons(pool, o, p, &model);
    s.scores = Scores(pool, p.i);
    result.suggestions.push_back(std::move(s));
  }
  return result;
}

}  // namespace sextant::suggest
