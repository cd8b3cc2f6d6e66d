// `sextant report`: the run's results as a short human summary.
#pragma once

#include <ostream>
#include <string>

#include "sextant/status.h"

namespace sextant::cli {

// Renders the run summary JSON (RunReader::SummaryJson()) as text: one line
// per split, then for each inference set its class shares and confidence per
// class next to training, and the alerts that fire.
Status WriteHumanReport(const std::string& run_summary_json, std::ostream& out);

}  // namespace sextant::cli
