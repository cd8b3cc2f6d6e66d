#include "dataset.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/random.h"
#include "io/table.h"

namespace sextant::demo {
namespace {

// ----------------------------------------------------------- synthetic data

// The platform-independent generator, with the draws the generator needs.
// Below is a plain modulo (not Random::Below): the generated data stay as they were.
class Rng {
 public:
  explicit Rng(uint64_t seed) : random_(seed) {}
  size_t Below(size_t n) { return static_cast<size_t>(random_.Next() % n); }
  double Unit() { return random_.Uniform(); }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[Below(N)];
  }

 private:
  Random random_;
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
  SEXTANT_ASSIGN_OR_RETURN(io::Table table, io::ReadCsv(path));
  const int id_col = table.ColumnIndex("id");
  const int text_col = table.ColumnIndex("text");
  const int label_col = table.ColumnIndex("label");
  if (id_col < 0 || text_col < 0) {
    return Status::Invalid(path.string() + ": line 1: the header needs 'id' and 'text' columns");
  }
  std::vector<LabeledText> rows;
  for (auto& fields : table.rows) {
    if (max_rows >= 0 && static_cast<int64_t>(rows.size()) >= max_rows) break;
    LabeledText row{std::move(fields[id_col]), std::move(fields[text_col]), -1};
    if (label_col >= 0 && !fields[label_col].empty()) {
      const std::string& label = fields[label_col];
      int32_t value = 0;
      const auto [end, err] = std::from_chars(label.data(), label.data() + label.size(), value);
      if (err != std::errc() || end != label.data() + label.size() || value < 0) {
        return Status::Invalid(path.string() + ": label '" + label + "' of sample '" + row.id +
                               "'; expected a class index >= 0 or empty");
      }
      row.label = value;
    }
    rows.push_back(std::move(row));
  }
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
