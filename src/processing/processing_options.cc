#include "sextant/processing_options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace sextant {

namespace {

using Type = ProcessingOptionSpec::Type;

// Where each option lives in ProcessingOptions: one accessor per name, so that
// the table below holds only what a user reads.
struct Field {
  bool* b = nullptr;
  int32_t* i32 = nullptr;
  int64_t* i64 = nullptr;
  uint64_t* u64 = nullptr;
  double* d = nullptr;
  DriftReference* reference = nullptr;
  NnSearch* search = nullptr;
};

Field FieldOf(ProcessingOptions& o, std::string_view name) {
  Field f;
  if (name == "boundary_ratio_threshold")
    f.d = &o.boundary_ratio_threshold;
  else if (name == "ner_conlleval_decoding")
    f.b = &o.ner_conlleval_decoding;
  else if (name == "drift_k")
    f.i32 = &o.drift_k;
  else if (name == "drift_percentile")
    f.d = &o.drift_percentile;
  else if (name == "drift_reference")
    f.reference = &o.drift_reference;
  else if (name == "drift_reference_sample_size")
    f.i64 = &o.drift_reference_sample_size;
  else if (name == "drift_seed")
    f.u64 = &o.drift_seed;
  else if (name == "drift_compare_references")
    f.b = &o.drift_compare_references;
  else if (name == "drift_alpha")
    f.d = &o.drift_alpha;
  else if (name == "domain_test")
    f.b = &o.domain_test;
  else if (name == "domain_test_max_samples")
    f.i64 = &o.domain_test_max_samples;
  else if (name == "threads")
    f.i32 = &o.threads;
  else if (name == "concurrent_stages")
    f.b = &o.concurrent_stages;
  else if (name == "nn_search")
    f.search = &o.nn_search;
  else if (name == "nn_auto_min_values")
    f.i64 = &o.nn_auto_min_values;
  else if (name == "store_float16")
    f.b = &o.store_float16;
  else if (name == "build_similarity_index")
    f.b = &o.build_similarity_index;
  else if (name == "compute_map")
    f.b = &o.compute_map;
  else if (name == "map_n_neighbors")
    f.i32 = &o.map_n_neighbors;
  else if (name == "map_min_dist")
    f.d = &o.map_min_dist;
  else if (name == "map_max_points")
    f.i64 = &o.map_max_points;
  else if (name == "map_seed")
    f.u64 = &o.map_seed;
  else if (name == "map_incremental")
    f.b = &o.map_incremental;
  else if (name == "training_shards")
    f.i32 = &o.training_shards;
  else if (name == "shard_rows")
    f.i64 = &o.shard_rows;
  return f;
}

std::string Quoted(std::string_view v) { return "'" + std::string(v) + "'"; }

Result<int64_t> ParseInteger(const ProcessingOptionSpec& spec, std::string_view text, int64_t lo,
                             int64_t hi) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
    return Status::Invalid(std::string(spec.name) + ": expected an integer from " +
                           std::to_string(lo) + " to " + std::to_string(hi) + ", got " +
                           Quoted(text));
  }
  return static_cast<int64_t>(v);
}

}  // namespace

const std::vector<ProcessingOptionSpec>& ProcessingOptionSpecs() {
  static const std::vector<ProcessingOptionSpec> specs = {
      {"drift_k", "k", Type::kInt, "k of the drift k-core distance", {}},
      {"drift_percentile",
       "percentile",
       Type::kDouble,
       "Drift threshold percentile of the reference",
       {}},
      {"drift_reference",
       "reference",
       Type::kChoice,
       "Drift reference: auto (validation when logged, else training_loo), training_loo or "
       "validation",
       {"auto", "training_loo", "validation"}},
      {"drift_reference_sample_size",
       "reference_sample_size",
       Type::kInt,
       "Estimate the reference from at most this many samples (0 = all)",
       {}},
      {"drift_seed",
       "seed",
       Type::kInt,
       "Seed of the reference sample and the domain test's samples",
       {}},
      {"drift_alpha", "alpha", Type::kDouble, "Significance level of the drift verdict", {}},
      {"drift_compare_references",
       "compare_references",
       Type::kBool,
       "With the validation reference, also compute the training leave-one-out threshold and store "
       "it next to it",
       {}},
      {"boundary_ratio_threshold",
       "boundary_ratio",
       Type::kDouble,
       "On-boundary threshold of p2/p1",
       {}},
      {"ner_conlleval_decoding",
       nullptr,
       Type::kBool,
       "NER: decode predicted spans as conlleval.pl does (an I-X may open a span)",
       {}},
      {"domain_test",
       nullptr,
       Type::kBool,
       "The domain-classifier test of each inference split against the validation (else test) "
       "split",
       {}},
      {"domain_test_max_samples",
       nullptr,
       Type::kInt,
       "Rows of each side of the domain-classifier test, sampled down to this (0 = all)",
       {}},
      {"threads",
       nullptr,
       Type::kInt,
       "Threads for nearest neighbours and the map (0 = all cores)",
       {}},
      {"concurrent_stages",
       nullptr,
       Type::kBool,
       "Run the 2-D map beside the other stages (in this process)",
       {}},
      {"nn_search",
       nullptr,
       Type::kChoice,
       "Nearest-neighbour search for drift and the map's neighbour graph: auto (drift: by a cost "
       "model measured once per machine; map: from 20,000 points), exact or approximate",
       {"auto", "exact", "approximate"}},
      {"nn_auto_min_values",
       nullptr,
       Type::kInt,
       "Deprecated: 0 (default) lets auto use the cost model; a positive value restores the old "
       "rule (approximate from this many training values, samples x width)",
       {}},
      {"store_float16", "float16", Type::kBool, "Store the result embeddings as float16", {}},
      {"build_similarity_index",
       nullptr,
       Type::kBool,
       "Build the similarity index of all splits at finish",
       {}},
      {"compute_map", "map", Type::kBool, "The 2-D map (PCA, then UMAP, of all splits)", {}},
      {"map_n_neighbors", nullptr, Type::kInt, "UMAP's neighbourhood size", {}},
      {"map_min_dist", nullptr, Type::kDouble, "UMAP's minimum distance", {}},
      {"map_max_points",
       nullptr,
       Type::kInt,
       "Optimise the map on at most this many samples, place the rest from their neighbours (0 = "
       "all)",
       {}},
      {"map_seed", nullptr, Type::kInt, "Seed of the map", {}},
      {"map_incremental",
       nullptr,
       Type::kBool,
       "Keep the last finish's map and place only new splits on it, when the earlier splits and "
       "the map options are unchanged (off: lay the map out again; --full-map)",
       {}},
      {"training_shards",
       nullptr,
       Type::kInt,
       "Split the training reference into this many shards, searched apart and merged (0 = "
       "one, or as many as fit each worker's memory on a cluster)",
       {}},
      {"shard_rows",
       nullptr,
       Type::kInt,
       "Query rows per shard task on a cluster (a multiple of 16384)",
       {}},
  };
  return specs;
}

std::string GetProcessingOption(const ProcessingOptions& options,
                                const ProcessingOptionSpec& spec) {
  const Field f = FieldOf(const_cast<ProcessingOptions&>(options), spec.name);
  if (f.b) return *f.b ? "true" : "false";
  if (f.i32) return std::to_string(*f.i32);
  if (f.i64) return std::to_string(*f.i64);
  if (f.u64) return std::to_string(*f.u64);
  if (f.reference) return DriftReferenceName(*f.reference);
  if (f.search) return NnSearchName(*f.search);
  if (f.d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", *f.d);
    return buf;
  }
  return "";
}

Status SetProcessingOption(ProcessingOptions* options, std::string_view name,
                           std::string_view value) {
  const ProcessingOptionSpec* spec = nullptr;
  for (const ProcessingOptionSpec& s : ProcessingOptionSpecs()) {
    if (name == s.name || (s.short_name && name == s.short_name)) spec = &s;
  }
  if (!spec) return Status::Invalid(std::string(name) + ": not a processing option");
  const Field f = FieldOf(*options, spec->name);
  if (f.b) {
    if (value == "true" || value == "1" || value == "yes" || value == "on") {
      *f.b = true;
    } else if (value == "false" || value == "0" || value == "no" || value == "off") {
      *f.b = false;
    } else {
      return Status::Invalid(std::string(spec->name) + ": expected true or false, got " +
                             Quoted(value));
    }
    return Status::OK();
  }
  if (f.i32) {
    SEXTANT_ASSIGN_OR_RETURN(int64_t v,
                             ParseInteger(*spec, value, 0, std::numeric_limits<int32_t>::max()));
    *f.i32 = static_cast<int32_t>(v);
    return Status::OK();
  }
  if (f.i64 || f.u64) {
    SEXTANT_ASSIGN_OR_RETURN(int64_t v,
                             ParseInteger(*spec, value, 0, std::numeric_limits<int64_t>::max()));
    if (f.i64) *f.i64 = v;
    if (f.u64) *f.u64 = static_cast<uint64_t>(v);
    return Status::OK();
  }
  if (f.d) {
    const std::string s(value);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !std::isfinite(v)) {
      return Status::Invalid(std::string(spec->name) + ": expected a number, got " + Quoted(value));
    }
    *f.d = v;
    return Status::OK();
  }
  for (const std::string& choice : spec->choices) {
    if (value != choice) continue;
    if (f.reference) {
      for (DriftReference r : {DriftReference::kAuto, DriftReference::kTrainingLeaveOneOut,
                               DriftReference::kValidation}) {
        if (choice == DriftReferenceName(r)) *f.reference = r;
      }
    }
    if (f.search) {
      for (NnSearch n : {NnSearch::kAuto, NnSearch::kExact, NnSearch::kApproximate}) {
        if (choice == NnSearchName(n)) *f.search = n;
      }
    }
    return Status::OK();
  }
  std::string expected;
  for (const std::string& c : spec->choices) expected += (expected.empty() ? "" : ", ") + c;
  return Status::Invalid(std::string(spec->name) + ": " + Quoted(value) + "; expected one of " +
                         expected);
}

}  // namespace sextant
