#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "dataset.h"
#include "ngram_mlp.h"
#include "testing.h"

namespace sextant::demo {
namespace {

using Features = std::vector<uint32_t>;

std::vector<const Features*> Pointers(const std::vector<Features>& features, size_t begin,
                                      size_t end) {
  std::vector<const Features*> out;
  for (size_t i = begin; i < end && i < features.size(); ++i) out.push_back(&features[i]);
  return out;
}

std::vector<Features> FeaturizeAll(const NgramMlp& model, const std::vector<LabeledText>& data) {
  std::vector<Features> out;
  for (const LabeledText& row : data) out.push_back(model.Featurize(row.text));
  return out;
}

// Trains `steps` batches of 32, cycling through the data in order.
void Train(NgramMlp* model, const std::vector<Features>& features,
           const std::vector<LabeledText>& data, int steps, float lr) {
  size_t next = 0;
  std::vector<int32_t> labels;
  for (int s = 0; s < steps; ++s) {
    if (next + 32 > features.size()) next = 0;
    labels.clear();
    for (size_t i = next; i < next + 32; ++i) labels.push_back(data[i].label);
    model->TrainBatch(Pointers(features, next, next + 32), labels.data(), lr);
    next += 32;
  }
}

// Runs the model over everything; fills hidden (N x H) and returns the accuracy.
double Evaluate(const NgramMlp& model, const std::vector<Features>& features,
                const std::vector<LabeledText>& data, std::vector<float>* hidden) {
  const size_t n = features.size();
  hidden->assign(n * model.hidden(), 0.0f);
  std::vector<float> logits(n * model.classes());
  model.Forward(Pointers(features, 0, n), hidden->data(), logits.data());
  int64_t correct = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* row = &logits[i * model.classes()];
    const int predicted = static_cast<int>(std::max_element(row, row + model.classes()) - row);
    correct += predicted == data[i].label;
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

ModelConfig SmallConfig() {
  ModelConfig config;
  config.buckets = 1u << 16;
  return config;
}

TEST(Tokenize, LowercasesAndSplitsOnNonAlphanumerics) {
  EXPECT_EQ(Tokenize("It's a DON'T-stop, 'quoted' film!! 42x"),
            (std::vector<std::string>{"it's", "a", "don't", "stop", "quoted", "film", "42x"}));
  EXPECT_EQ(Tokenize("it 's n't"), (std::vector<std::string>{"it", "s", "n't"}));
  EXPECT_TRUE(Tokenize(" ,.;- ").empty());
  EXPECT_EQ(Tokenize("caf\xC3\xA9 ok"), (std::vector<std::string>{"caf\xC3\xA9", "ok"}));
}

TEST(Fnv1a64, MatchesReferenceValues) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(Fnv1a64("bar", Fnv1a64("foo")), Fnv1a64("foobar"));
}

TEST(NgramMlp, FeaturizeFollowsTheDocumentedScheme) {
  const NgramMlp model(SmallConfig());
  const uint64_t buckets = model.config().buckets;
  auto bucket = [&](std::string_view tag, std::string_view text) {
    return static_cast<uint32_t>(Fnv1a64(text, Fnv1a64(tag)) % buckets);
  };
  const Features expected = {
      bucket("w", "good"),
      bucket("w", "movie"),
      static_cast<uint32_t>(Fnv1a64("movie", Fnv1a64("\x01", Fnv1a64("good", Fnv1a64("b")))) %
                            buckets),
      bucket("c", "<go"),
      bucket("c", "goo"),
      bucket("c", "ood"),
      bucket("c", "od>"),
      bucket("c", "<mo"),
      bucket("c", "mov"),
      bucket("c", "ovi"),
      bucket("c", "vie"),
      bucket("c", "ie>"),
  };
  EXPECT_EQ(model.Featurize("Good MOVIE!"), expected);
  EXPECT_EQ(model.Featurize("a"), (Features{bucket("w", "a"), bucket("c", "<a>")}));
  EXPECT_TRUE(model.Featurize("  ... ").empty());
}

TEST(NgramMlp, FeaturizeIsDeterministicAndIndependentOfTheSeed) {
  ModelConfig a = SmallConfig();
  ModelConfig b = SmallConfig();
  b.seed = 12345;
  const std::string text = "an often funny , sometimes tedious film about a chef 's comeback";
  const Features fa = NgramMlp(a).Featurize(text);
  EXPECT_EQ(fa, NgramMlp(a).Featurize(text));
  EXPECT_EQ(fa, NgramMlp(b).Featurize(text));
  EXPECT_EQ(fa, NgramMlp(a).Featurize("AN Often FUNNY,sometimes TEDIOUS film about a chef 's "
                                      "comeback"));
  for (uint32_t f : fa) EXPECT_LT(f, a.buckets);
}

TEST(NgramMlp, CreateRejectsBadConfigs) {
  ModelConfig config = SmallConfig();
  config.classes = 1;
  EXPECT_TRUE(NgramMlp::Create(config).status().IsInvalid());
  config = SmallConfig();
  config.hidden = 0;
  EXPECT_TRUE(NgramMlp::Create(config).status().IsInvalid());
  config = SmallConfig();
  config.buckets = 0;
  EXPECT_TRUE(NgramMlp::Create(config).status().IsInvalid());
  EXPECT_OK(NgramMlp::Create(SmallConfig()));
}

TEST(NgramMlp, ForwardFillsBatchByHiddenAndBatchByClasses) {
  ModelConfig config = SmallConfig();
  config.classes = 3;
  config.hidden = 5;
  config.bag_dim = 8;
  const NgramMlp model(config);
  EXPECT_EQ(model.hidden(), 5);
  EXPECT_EQ(model.classes(), 3);
  const std::vector<Features> features = {model.Featurize("a fine film"), model.Featurize(""),
                                          model.Featurize("the soup was cold and bland")};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // One extra row on each buffer must stay untouched.
  std::vector<float> hidden(4 * 5, nan), logits(4 * 3, nan);
  model.Forward(Pointers(features, 0, 3), hidden.data(), logits.data());
  for (int i = 0; i < 3 * 5; ++i) {
    EXPECT_TRUE(std::isfinite(hidden[i]));
    EXPECT_LE(std::abs(hidden[i]), 1.0f);
  }
  for (int i = 0; i < 3 * 3; ++i) EXPECT_TRUE(std::isfinite(logits[i]));
  for (int i = 3 * 5; i < 4 * 5; ++i) EXPECT_TRUE(std::isnan(hidden[i]));
  for (int i = 3 * 3; i < 4 * 3; ++i) EXPECT_TRUE(std::isnan(logits[i]));

  // Rows do not depend on the batch they are in; either output may be skipped.
  std::vector<float> single_logits(3);
  model.Forward(Pointers(features, 2, 3), nullptr, single_logits.data());
  for (int c = 0; c < 3; ++c) EXPECT_EQ(single_logits[c], logits[2 * 3 + c]);
  std::vector<float> single_hidden(5);
  model.Forward(Pointers(features, 0, 1), single_hidden.data(), nullptr);
  for (int j = 0; j < 5; ++j) EXPECT_EQ(single_hidden[j], hidden[j]);
}

TEST(NgramMlp, TrainingIsDeterministicForASeed) {
  const std::vector<LabeledText> data = GenerateSentiment(640, Domain::kMovies, 1, "m-");
  NgramMlp a(SmallConfig());
  NgramMlp b(SmallConfig());
  const std::vector<Features> features = FeaturizeAll(a, data);
  Train(&a, features, data, 20, 1e-2f);
  Train(&b, features, data, 20, 1e-2f);
  std::vector<float> la(2 * features.size()), lb(2 * features.size());
  a.Forward(Pointers(features, 0, features.size()), nullptr, la.data());
  b.Forward(Pointers(features, 0, features.size()), nullptr, lb.data());
  EXPECT_EQ(la, lb);

  ModelConfig other = SmallConfig();
  other.seed = 8;
  NgramMlp c(other);
  Train(&c, features, data, 20, 1e-2f);
  std::vector<float> lc(2 * features.size());
  c.Forward(Pointers(features, 0, features.size()), nullptr, lc.data());
  EXPECT_NE(la, lc);
}

TEST(NgramMlp, LearnsGeneratedSentimentAboveNinetyPercent) {
  const std::vector<LabeledText> train = GenerateSentiment(6000, Domain::kMovies, 1, "train-");
  const std::vector<LabeledText> test = GenerateSentiment(1000, Domain::kMovies, 2, "test-");
  NgramMlp model(SmallConfig());
  const std::vector<Features> train_features = FeaturizeAll(model, train);
  const std::vector<Features> test_features = FeaturizeAll(model, test);

  std::vector<int32_t> labels(32);
  float first_loss = 0, last_loss = 0;
  for (int step = 0; step < 300; ++step) {
    const size_t begin = (static_cast<size_t>(step) * 32) % (train.size() - 32);
    for (size_t i = 0; i < 32; ++i) labels[i] = train[begin + i].label;
    const float loss =
        model.TrainBatch(Pointers(train_features, begin, begin + 32), labels.data(), 1e-2f);
    if (step == 0) first_loss = loss;
    last_loss = loss;
  }
  EXPECT_NEAR(first_loss, std::log(2.0f), 0.2f);
  EXPECT_LT(last_loss, first_loss);
  std::vector<float> hidden;
  const double accuracy = Evaluate(model, test_features, test, &hidden);
  EXPECT_GT(accuracy, 0.90);
}

// Mean over queries of the cosine distance to the nearest reference row.
double MeanNearestCosineDistance(const std::vector<float>& reference,
                                 const std::vector<float>& queries, int dim) {
  auto norm = [&](const float* v) {
    double s = 0;
    for (int k = 0; k < dim; ++k) s += static_cast<double>(v[k]) * v[k];
    return std::sqrt(s) + 1e-12;
  };
  const size_t nr = reference.size() / dim, nq = queries.size() / dim;
  std::vector<double> ref_norm(nr);
  for (size_t r = 0; r < nr; ++r) ref_norm[r] = norm(&reference[r * dim]);
  double total = 0;
  for (size_t q = 0; q < nq; ++q) {
    const float* qv = &queries[q * dim];
    const double qn = norm(qv);
    double best = 2.0;
    for (size_t r = 0; r < nr; ++r) {
      const float* rv = &reference[r * dim];
      double dot = 0;
      for (int k = 0; k < dim; ++k) dot += static_cast<double>(qv[k]) * rv[k];
      best = std::min(best, 1.0 - dot / (qn * ref_norm[r]));
    }
    total += best;
  }
  return total / static_cast<double>(nq);
}

TEST(NgramMlp, ShiftedDomainIsFartherFromTrainingInTheHiddenLayer) {
  const std::vector<LabeledText> train = GenerateSentiment(3000, Domain::kMovies, 1, "train-");
  const std::vector<LabeledText> same = GenerateSentiment(300, Domain::kMovies, 2, "val-");
  const std::vector<LabeledText> shifted = GenerateSentiment(300, Domain::kRestaurants, 3, "prod-");
  NgramMlp model(SmallConfig());
  const std::vector<Features> train_features = FeaturizeAll(model, train);
  Train(&model, train_features, train, 300, 1e-2f);

  std::vector<float> train_hidden, same_hidden, shifted_hidden;
  Evaluate(model, train_features, train, &train_hidden);
  const double same_accuracy = Evaluate(model, FeaturizeAll(model, same), same, &same_hidden);
  Evaluate(model, FeaturizeAll(model, shifted), shifted, &shifted_hidden);
  EXPECT_GT(same_accuracy, 0.85);

  const double same_distance = MeanNearestCosineDistance(train_hidden, same_hidden, model.hidden());
  const double shifted_distance =
      MeanNearestCosineDistance(train_hidden, shifted_hidden, model.hidden());
  EXPECT_GT(shifted_distance, 2.0 * same_distance)
      << "same domain " << same_distance << ", shifted " << shifted_distance;
}

TEST(GenerateSentiment, IsDeterministicBalancedAndDomainSpecific) {
  const std::vector<LabeledText> movies = GenerateSentiment(2000, Domain::kMovies, 5, "m-");
  const std::vector<LabeledText> again = GenerateSentiment(2000, Domain::kMovies, 5, "m-");
  const std::vector<LabeledText> food = GenerateSentiment(2000, Domain::kRestaurants, 5, "r-");
  ASSERT_EQ(movies.size(), 2000u);
  EXPECT_EQ(movies.front().id, "m-000000");
  EXPECT_EQ(food.back().id, "r-001999");
  int positives = 0;
  double movie_words = 0, food_words = 0;
  for (size_t i = 0; i < movies.size(); ++i) {
    EXPECT_EQ(movies[i].text, again[i].text);
    EXPECT_TRUE(movies[i].label == 0 || movies[i].label == 1);
    positives += movies[i].label;
    movie_words += static_cast<double>(Tokenize(movies[i].text).size());
    food_words += static_cast<double>(Tokenize(food[i].text).size());
  }
  EXPECT_GT(positives, 900);
  EXPECT_LT(positives, 1100);
  EXPECT_GT(food_words / 2000, 2 * movie_words / 2000);  // SST-like phrases vs reviews
  EXPECT_NE(GenerateSentiment(10, Domain::kMovies, 6, "m-")[0].text,
            GenerateSentiment(10, Domain::kMovies, 5, "m-")[0].text);
  EXPECT_TRUE(GenerateSentiment(0, Domain::kMovies, 5, "m-").empty());
}

void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

TEST(LoadSentimentCsv, ParsesQuotedCommasQuotesAndNewlines) {
  testing::TempDir dir;
  const auto path = dir.path() / "data.csv";
  WriteFile(path,
            "id,text,label,domain\n"
            "a1,plain text,1,movies\n"
            "a2,\"one, two , three\",0,movies\r\n"
            "a3,\"she said \"\"wow\"\" , twice\",1,\"x,y\"\n"
            "a4,\"two\nlines\",,movies\n"
            "a5,\"\",0,movies");
  ASSERT_OK_AND_ASSIGN(std::vector<LabeledText> rows, LoadSentimentCsv(path));
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].id, "a1");
  EXPECT_EQ(rows[0].text, "plain text");
  EXPECT_EQ(rows[0].label, 1);
  EXPECT_EQ(rows[1].text, "one, two , three");
  EXPECT_EQ(rows[1].label, 0);
  EXPECT_EQ(rows[2].text, "she said \"wow\" , twice");
  EXPECT_EQ(rows[3].text, "two\nlines");
  EXPECT_EQ(rows[3].label, -1);
  EXPECT_EQ(rows[4].text, "");

  ASSERT_OK_AND_ASSIGN(std::vector<LabeledText> first, LoadSentimentCsv(path, 2));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1].id, "a2");
}

TEST(LoadSentimentCsv, FindsColumnsByNameAndAcceptsNoLabelColumn) {
  testing::TempDir dir;
  const auto path = dir.path() / "data.csv";
  WriteFile(path, "\xEF\xBB\xBFtext,extra,id\nhello,1,x\n");
  ASSERT_OK_AND_ASSIGN(std::vector<LabeledText> rows, LoadSentimentCsv(path));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, "x");
  EXPECT_EQ(rows[0].text, "hello");
  EXPECT_EQ(rows[0].label, -1);
}

TEST(LoadSentimentCsv, ReportsWhatAndWhereOnBadInput) {
  testing::TempDir dir;
  const auto path = dir.path() / "bad.csv";
  EXPECT_TRUE(LoadSentimentCsv(path).status().IsNotFound());

  auto error_of = [&](const std::string& content) {
    WriteFile(path, content);
    return LoadSentimentCsv(path).status();
  };
  Status st = error_of("id,text,label\na,\"never closed,1\n");
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("line 2"), std::string::npos) << st.ToString();

  st = error_of("id,text,label\na,ok,1\nb,too,many,fields\n");
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("line 3"), std::string::npos) << st.ToString();

  st = error_of("id,text,label\na,ok,positive\n");
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("positive"), std::string::npos) << st.ToString();

  st = error_of("name,label\na,1\n");
  EXPECT_TRUE(st.IsInvalid());
  EXPECT_NE(st.message().find("'text'"), std::string::npos) << st.ToString();

  EXPECT_TRUE(error_of("").IsInvalid());
}

}  // namespace
}  // namespace sextant::demo
