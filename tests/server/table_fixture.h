// A small hand-filled SampleTable for the server's unit tests.
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "server/sample_table.h"

namespace sextant::server::testing {

inline const std::vector<std::string> kLabels = {"neg", "pos"};

// Rows 0..n-1: id "s<r>", text "text <r>" ("great" on even rows), gold r%2 (none
// when unlabeled), pred (r/2)%2, confidence 0.5 + r/(2n), dep r/n, drifted r%3==0
// (none when labeled), shift score r/n and shifted r >= 0.8n (none when labeled), map
// position (r, r%5), meta {"source": "a"|"b"}.
inline std::unique_ptr<SampleTable> MakeTable(int n, bool labeled) {
  auto t = std::make_unique<SampleTable>();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int r = 0; r < n; ++r) {
    t->id.push_back("s" + std::to_string(r));
    t->text.push_back("text " + std::to_string(r) + (r % 2 == 0 ? " great" : " dull"));
    t->meta_json.push_back(std::string("{\"source\":\"") + (r < n / 2 ? "a" : "b") + "\"}");
    t->gold.push_back(labeled ? r % 2 : -1);
    t->pred.push_back((r / 2) % 2);
    t->epoch.push_back(1);
    t->confidence.push_back(0.5 + r / (2.0 * n));
    t->margin.push_back(0.1);
    t->certainty_ratio.push_back(1.0);
    t->entropy.push_back(0.2);
    t->aum.push_back(labeled ? 0.3 : nan);
    t->dep.push_back(labeled ? static_cast<double>(r) / n : nan);
    t->drift_distance.push_back(labeled ? nan : r * 0.01);
    t->drift_score.push_back(labeled ? nan : static_cast<double>(n - r) / n);
    t->x.push_back(static_cast<float>(r));
    t->y.push_back(static_cast<float>(r % 5));
    t->on_boundary.push_back(r % 4 == 0);
    t->drifted.push_back(labeled ? -1 : (r % 3 == 0));
    t->shift_score.push_back(labeled ? nan : static_cast<double>(r) / n);
    t->shifted.push_back(labeled ? -1 : (r >= 0.8 * n));
  }
  t->Finalize(labeled ? SplitKey{Split::kTraining, ""} : SplitKey{Split::kInference, "prod"});
  return t;
}

}  // namespace sextant::server::testing
