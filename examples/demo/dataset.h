// Data for the demo: the shared sentiment CSVs, or a synthetic stand-in for
// machines that do not have them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sextant/status.h"

namespace sextant::demo {

struct LabeledText {
  std::string id;
  std::string text;
  int32_t label = -1;  // class index; -1 when unknown
};

// Reads a CSV with a header row that names at least `id` and `text` columns,
// and optionally `label` (other columns are ignored), e.g. the shared data's
// `id,text,label,domain`. Fields follow RFC 4180: quoted fields may hold
// commas, doubled quotes ("") and newlines; CRLF and LF line ends and a UTF-8
// byte-order mark are accepted. A `label` must be an integer, or empty for -1.
// Reads at most `max_rows` data rows when max_rows >= 0.
// Errors: NotFound (no such file), IOError (unreadable), InvalidArgument
// naming the line and what was wrong (missing column, unterminated quote,
// wrong field count, non-integer label).
Result<std::vector<LabeledText>> LoadSentimentCsv(const std::filesystem::path& path,
                                                  int64_t max_rows = -1);

enum class Domain { kMovies, kRestaurants };

// `n` synthetic reviews, labelled 0 = negative, 1 = positive, with ids
// `id_prefix` + "000000", "000001", ... Both domains draw from the same
// sentiment words. Movies are short SST-like phrases (about 3 to 14 words) with
// film vocabulary; restaurants are longer reviews (about 20 to 35 words) of a
// visit, mostly about food, staff and occasion, so a model trained on movies
// sees restaurants as shifted in its hidden layer (as SST-2 -> Yelp is). About
// 6% are mixed ("the plot was dull but the cast was superb": the clause after
// "but" decides) and 4% neutral with a random label, so not every sample is
// separable from its words. Deterministic for a given seed on every platform.
std::vector<LabeledText> GenerateSentiment(int64_t n, Domain domain, uint64_t seed,
                                           const std::string& id_prefix);

}  // namespace sextant::demo
