#include "dataset.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/file_util.h"

namespace sextant::demo {
namespace {

// ---------------------------------------------------------------- CSV reading

// Splits RFC-4180 text into records. Keeps the 1-based line each record starts
// on, for error messages.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
  }

  // Reads the next record into `fields`. Returns false at the end of the text;
  // `status` is set when the text is malformed.
  bool Next(std::vector<std::string>* fields, int64_t* line, Status* status) {
    fields->clear();
    if (pos_ >= text_.size()) return false;
    *line = line_;
    std::string field;
    bool quoted = false;      // inside a quoted field
    bool was_quoted = false;  // the current field started with a quote
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (quoted) {
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            field.push_back('"');
            ++pos_;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line_;
          field.push_back(c);
        }
        continue;
      }
      if (c == ',') {
        fields->push_back(std::move(field));
        field.clear();
        was_quoted = false;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        ++line_;
        fields->push_back(std::move(field));
        return true;
      } else if (c == '"' && field.empty() && !was_quoted) {
        quoted = true;
        was_quoted = true;
      } else if (was_quoted) {
        *status = Status::Invalid("line " + std::to_string(line_) +
                                  ": unexpected character after a closing quote; expected ',' "
                                  "or the end of the line");
        return false;
      } else {
        field.push_back(c);
      }
    }
    if (quoted) {
      *status = Status::Invalid("line " + std::to_string(*line) +
                                ": quoted field is not closed before the end of the file");
      return false;
    }
    fields->push_back(std::move(field));  // last line without a line end
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

Status CsvError(const std::filesystem::path& path, const Status& status) {
  return status.WithContext(path.string());
}

// ----------------------------------------------------------- synthetic data

class Rng {  // SplitMix64, identical on every platform
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[Below(N)];
  }

 private:
  uint64_t state_;
};

constexpr std::array<std::string_view, 14> kPositive = {
    "great",    "wonderful", "excellent", "delightful", "brilliant", "superb",      "enjoyable",
    "charming", "fantastic", "lovely",    "terrific",   "memorable", "outstanding", "pleasant"};
constexpr std::array<std::string_view, 14> kNegative = {
    "terrible", "awful",       "boring",  "dull",  "bland",   "disappointing", "mediocre",
    "horrible", "forgettable", "tedious", "lousy", "painful", "dreadful",      "unpleasant"};
constexpr std::array<std::string_view, 6> kNeutral = {"okay",     "fine",       "average",
                                                      "ordinary", "acceptable", "passable"};
constexpr std::array<std::string_view, 8> kAdverbs = {"really",     "truly",  "quite",  "very",
                                                      "absolutely", "rather", "pretty", "so"};

constexpr std::array<std::string_view, 20> kMovieNouns = {
    "film",   "movie",      "plot",        "script",   "cast",    "director",      "soundtrack",
    "ending", "screenplay", "performance", "dialogue", "story",   "lead actor",    "sequel",
    "pacing", "villain",    "editing",     "score",    "premise", "cinematography"};
constexpr std::array<std::string_view, 10> kGenres = {
    "thriller",    "comedy",  "drama",  "documentary",      "western",
    "horror film", "musical", "biopic", "animated feature", "romance"};
constexpr std::array<std::string_view, 8> kMovieContexts = {"from start to finish",
                                                            "in the second act",
                                                            "despite all the hype",
                                                            "compared to the original",
                                                            "on the big screen",
                                                            "in every single scene",
                                                            "for most of its running time",
                                                            "right up to the final credits"};

constexpr std::array<std::string_view, 10> kRestaurantNouns = {
    "service", "atmosphere", "decor",   "music", "patio",
    "seating", "menu",       "portion", "price", "wine list"};
constexpr std::array<std::string_view, 7> kStaff = {"waiter",    "waitress", "server", "hostess",
                                                    "bartender", "manager",  "chef"};
constexpr std::array<std::string_view, 14> kDishes = {
    "pasta",    "pizza",        "burger",        "sushi roll", "ramen",   "steak",   "fish tacos",
    "pad thai", "caesar salad", "fried chicken", "pho",        "lasagna", "burrito", "dumplings"};
constexpr std::array<std::string_view, 5> kDesserts = {"cheesecake", "tiramisu", "creme brulee",
                                                       "gelato", "apple pie"};
constexpr std::array<std::string_view, 6> kOccasions = {
    "for my sister 's birthday",        "on a busy friday night", "after a long day at work",
    "for a quick lunch with coworkers", "for brunch on sunday",   "before a concert downtown"};
constexpr std::array<std::string_view, 6> kClosings = {"parking was easy to find",
                                                       "it came to about twenty dollars each",
                                                       "the place is right next to the mall",
                                                       "we had a reservation for seven",
                                                       "they take cards and cash",
                                                       "the kitchen closes at ten"};

template <size_t N>
std::string Pick(Rng& rng, const std::array<std::string_view, N>& items) {
  return std::string(rng.Pick(items));
}

// Sentiment words only one domain uses ("gripping" films, "greasy" food): a
// model trained on one domain has never seen the other's, which is what
// lowers its confidence there, as on real out-of-domain reviews.
constexpr std::array<std::string_view, 8> kMoviePositive = {
    "gripping", "hilarious", "moving", "riveting", "touching", "witty", "suspenseful", "heartfelt"};
constexpr std::array<std::string_view, 8> kMovieNegative = {"cliched",    "overlong",    "wooden",
                                                            "clumsy",     "pretentious", "plodding",
                                                            "incoherent", "overacted"};
constexpr std::array<std::string_view, 8> kRestaurantPositive = {
    "delicious", "tasty", "fresh", "flavorful", "attentive", "friendly", "cozy", "generous"};
constexpr std::array<std::string_view, 8> kRestaurantNegative = {
    "greasy", "stale", "rude", "overpriced", "soggy", "undercooked", "cold", "slow"};

// An adjective of the given polarity: from the shared list, or (40%) from the
// domain's own.
std::string Adjective(Rng& rng, Domain domain, bool positive) {
  if (rng.Unit() < 0.4) {
    if (domain == Domain::kMovies) {
      return positive ? Pick(rng, kMoviePositive) : Pick(rng, kMovieNegative);
    }
    return positive ? Pick(rng, kRestaurantPositive) : Pick(rng, kRestaurantNegative);
  }
  return positive ? Pick(rng, kPositive) : Pick(rng, kNegative);
}

// A sentiment phrase of the given polarity: "[adverb] adjective", sometimes
// a negated shared adjective of the other polarity ("not great" is negative).
std::string Sentiment(Rng& rng, Domain domain, bool positive) {
  if (rng.Unit() < 0.1) {
    return positive ? "far from " + Pick(rng, kNegative) : "not " + Pick(rng, kPositive);
  }
  std::string out;
  if (rng.Unit() < 0.6) out.append(rng.Pick(kAdverbs)).append(" ");
  return out + Adjective(rng, domain, positive);
}

// Movies: short phrases, like SST's (about 3 to 14 words).
std::string MovieSentence(Rng& rng, bool positive) {
  switch (rng.Below(5)) {
    case 0:
      return "a " + Sentiment(rng, Domain::kMovies, positive) + " " + Pick(rng, kGenres);
    case 1:
      return "the " + Pick(rng, kMovieNouns) + " is " + Sentiment(rng, Domain::kMovies, positive);
    case 2:
      return Sentiment(rng, Domain::kMovies, positive) + " " + Pick(rng, kMovieNouns) + " and " +
             Sentiment(rng, Domain::kMovies, positive) + " " + Pick(rng, kMovieNouns);
    case 3:
      return "the " + Pick(rng, kMovieNouns) + " of this " + Pick(rng, kGenres) + " was " +
             Sentiment(rng, Domain::kMovies, positive) + " " + Pick(rng, kMovieContexts);
    default:
      return Pick(rng, kMovieContexts) + " , a " + Sentiment(rng, Domain::kMovies, positive) + " " +
             Pick(rng, kGenres);
  }
}

// Restaurants: longer reviews (about 18 to 32 words) where most words are about
// the visit, not the sentiment.
std::string RestaurantSentence(Rng& rng, bool positive) {
  switch (rng.Below(3)) {
    case 0:
      return "we came here " + Pick(rng, kOccasions) + " and ordered the " + Pick(rng, kDishes) +
             " with a side of " + Pick(rng, kDishes) + " . the " + Pick(rng, kRestaurantNouns) +
             " was " + Sentiment(rng, Domain::kRestaurants, positive) + " and the " +
             Pick(rng, kStaff) + " was " + Sentiment(rng, Domain::kRestaurants, positive) + " . " +
             Pick(rng, kClosings) + " .";
    case 1:
      return Pick(rng, kOccasions) + " my friends and i tried the " + Pick(rng, kDishes) +
             " , the " + Pick(rng, kDishes) + " and the " + Pick(rng, kDesserts) +
             " . everything was " + Sentiment(rng, Domain::kRestaurants, positive) + " , and the " +
             Pick(rng, kRestaurantNouns) + " felt " +
             Sentiment(rng, Domain::kRestaurants, positive) + " . " + Pick(rng, kClosings) + " .";
    default:
      return "the " + Pick(rng, kDishes) + " here is " +
             Sentiment(rng, Domain::kRestaurants, positive) + " . the " + Pick(rng, kStaff) +
             " brought our " + Pick(rng, kDesserts) + " quickly and the " +
             Pick(rng, kRestaurantNouns) + " was " +
             Sentiment(rng, Domain::kRestaurants, positive) + " . " + Pick(rng, kClosings) + " .";
  }
}

// "first clause but second clause": the second clause carries the label.
std::string MixedSentence(Rng& rng, Domain domain, bool positive) {
  if (domain == Domain::kMovies) {
    return "the " + Pick(rng, kMovieNouns) + " was " + Adjective(rng, domain, !positive) +
           " but the " + Pick(rng, kMovieNouns) + " was " + Adjective(rng, domain, positive);
  }
  return "we ordered the " + Pick(rng, kDishes) + " and the " + Pick(rng, kDishes) + " " +
         Pick(rng, kOccasions) + " . the " + Pick(rng, kRestaurantNouns) + " was " +
         Adjective(rng, domain, !positive) + " but the " + Pick(rng, kStaff) + " was " +
         Adjective(rng, domain, positive) + " . " + Pick(rng, kClosings) + " .";
}

std::string NeutralSentence(Rng& rng, Domain domain) {
  if (domain == Domain::kMovies) {
    return "the " + Pick(rng, kMovieNouns) + " of this " + Pick(rng, kGenres) + " was " +
           Pick(rng, kNeutral);
  }
  return "we ordered the " + Pick(rng, kDishes) + " " + Pick(rng, kOccasions) + " . the " +
         Pick(rng, kRestaurantNouns) + " was " + Pick(rng, kNeutral) + " . " +
         Pick(rng, kClosings) + " .";
}

}  // namespace

Result<std::vector<LabeledText>> LoadSentimentCsv(const std::filesystem::path& path,
                                                  int64_t max_rows) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound("'" + path.string() + "' is not a readable file");
  }
  Result<std::string> content = ReadFileToString(path);
  if (!content.ok()) return Status::IOError(content.status().message());

  CsvReader reader(*content);
  std::vector<std::string> fields;
  int64_t line = 0;
  Status status;
  if (!reader.Next(&fields, &line, &status)) {
    if (!status.ok()) return CsvError(path, status);
    return CsvError(path, Status::Invalid("the file is empty; expected a header row"));
  }
  std::optional<size_t> id_col, text_col, label_col;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i] == "id") id_col = i;
    if (fields[i] == "text") text_col = i;
    if (fields[i] == "label") label_col = i;
  }
  if (!id_col || !text_col) {
    return CsvError(path, Status::Invalid("line 1: the header needs 'id' and 'text' columns"));
  }
  const size_t columns = fields.size();

  std::vector<LabeledText> rows;
  while ((max_rows < 0 || static_cast<int64_t>(rows.size()) < max_rows) &&
         reader.Next(&fields, &line, &status)) {
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() != columns) {
      return CsvError(path, Status::Invalid("line " + std::to_string(line) + ": " +
                                            std::to_string(fields.size()) + " fields; expected " +
                                            std::to_string(columns) + " as in the header"));
    }
    LabeledText row{std::move(fields[*id_col]), std::move(fields[*text_col]), -1};
    if (label_col && !fields[*label_col].empty()) {
      const std::string& label = fields[*label_col];
      int32_t value = 0;
      const auto [end, err] = std::from_chars(label.data(), label.data() + label.size(), value);
      if (err != std::errc() || end != label.data() + label.size() || value < 0) {
        return CsvError(path, Status::Invalid("line " + std::to_string(line) + ": label '" + label +
                                              "' of sample '" + row.id +
                                              "'; expected a class index >= 0 or empty"));
      }
      row.label = value;
    }
    rows.push_back(std::move(row));
  }
  if (!status.ok()) return CsvError(path, status);
  return rows;
}

std::vector<LabeledText> GenerateSentiment(int64_t n, Domain domain, uint64_t seed,
                                           const std::string& id_prefix) {
  // Mix the domain into the seed so the two domains never share a stream.
  Rng rng(seed * 0x2545f4914f6cdd1dull + (domain == Domain::kMovies ? 1 : 2));
  std::vector<LabeledText> out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) {
    const bool positive = rng.Below(2) == 1;
    const double kind = rng.Unit();
    std::string text;
    if (kind < 0.06) {
      text = MixedSentence(rng, domain, positive);
    } else if (kind < 0.10) {
      text = NeutralSentence(rng, domain);
    } else if (domain == Domain::kMovies) {
      text = MovieSentence(rng, positive);
    } else {
      text = RestaurantSentence(rng, positive);
    }
    char number[24];
    std::snprintf(number, sizeof(number), "%06lld", static_cast<long long>(i));
    out.push_back({id_prefix + number, std::move(text), positive ? 1 : 0});
  }
  return out;
}

}  // namespace sextant::demo
