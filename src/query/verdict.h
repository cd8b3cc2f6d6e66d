// The statistical verdict of a split in words: the one formatting of the drift
// verdict, the per-class findings, NER span drift and the domain-classifier
// test, shared by `sextant report` (src/cli/report.cc) and the console's
// GET .../insights `verdict` object (docs/http-api.md), so that both say the
// same thing from the same stored summary.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sextant::verdict {

// A p-value as text, never "p = 0": "p = 0.059", "p = 0.00098",
// "p = 3.8e-7", "p = 2.0e-623" (from its log10 when the double underflowed),
// "p < 1e-300" when neither gives a finite non-zero value, "p = -" when
// neither is known. `log10_p` wins when finite: it keeps every digit the
// double has lost.
std::string PText(std::optional<double> p, std::optional<double> log10_p);
// The same from JSON values (numbers or null/absent).
std::string PText(const nlohmann::json& p, const nlohmann::json& log10_p);
std::string PText(const nlohmann::ordered_json& p, const nlohmann::ordered_json& log10_p);
std::string PText(double p, double log10_p);

// The verdict object of GET .../insights for one split (docs/http-api.md,
// "Verdict"): `run_summary` is RunReader::SummaryJson() (parameters, splits),
// `split` a key of its splits. Fields: lines, drift, domain_test,
// disagreement, findings, span_drift. A split the summary lacks answers the
// object with nulls and no lines.
nlohmann::ordered_json SplitVerdict(const nlohmann::ordered_json& run_summary,
                                    const std::string& split);

// The report's drift-verdict line of a split, e.g. "drift detected (p = 3.1e-120,
// 36.2% [35.1%, 37.3%] vs 5.0% nominal)"; `verdict` is the split's
// drift_verdict, `inference` whether the split is an inference set (drift)
// or validation/test (coverage).
std::string DriftVerdictText(const nlohmann::ordered_json& verdict, bool inference);
// The report's domain-classifier line, e.g. "AUC 0.914 (95% CI 0.905 to
// 0.923), p = 2.8e-624, 2000 vs 4582 samples: shift".
std::string DomainTestText(const nlohmann::ordered_json& domain_test);

}  // namespace sextant::verdict
