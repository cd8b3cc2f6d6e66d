// sextant_demo: trains the demo classifier and logs a whole run to Sextant.
//
//   sextant_demo --root DIR --project P --run R [--data DIR] [--epochs N]
//                [--max-train N] [--production NAME=PATH ...]
//
// With the shared data (DIR/sst2/train.csv) it trains on SST-2 and logs Yelp
// and Amazon reviews as production data; without it, it generates movie
// reviews for training and restaurant reviews for production. Training logs
// the training and validation outputs of every epoch; each production set is
// then logged by a separate client, as a separate inference job would, and
// the run is finished with sextant::FinishRun.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/random.h"
#include "dataset.h"
#include "ngram_mlp.h"
#include "sextant/client.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::demo {
namespace {

namespace fs = std::filesystem;

constexpr int kTrainBatch = 32;
constexpr int kInferenceBatch = 32;
constexpr int kLogBatch = 256;           // forward passes whose outputs are logged after an epoch
constexpr size_t kSamplesChunk = 10000;  // rows per LogDataSamples call
constexpr float kLearningRate = 5e-3f;
constexpr uint64_t kShuffleSeed = 42;
const std::vector<std::string> kLabels = {"negative", "positive"};

constexpr const char* kUsage =
    "usage: sextant_demo --root DIR --project P --run R [--data DIR] [--epochs N]\n"
    "                    [--max-train N] [--production NAME=PATH ...]\n"
    "  --data DIR       shared data folder (default: $SEXTANT_DATA, else ../shared/data);\n"
    "                   without DIR/sst2/train.csv, synthetic data is generated\n"
    "  --epochs N       training epochs (default 3)\n"
    "  --max-train N    use at most N training rows\n"
    "  --production NAME=PATH  a CSV (id,text[,label]) logged as inference set NAME;\n"
    "                   repeatable (default with SST-2: yelp and amazon)\n";

struct Args {
  fs::path root;
  std::string project;
  std::string run;
  fs::path data;
  int epochs = 3;
  int64_t max_train = -1;
  std::vector<std::pair<std::string, fs::path>> productions;
};

struct Dataset {
  std::vector<LabeledText> rows;
  std::vector<std::vector<uint32_t>> features;
};

struct ProductionSet {
  std::string name;
  Dataset data;
};

Result<int64_t> ParseInt(std::string_view flag, const std::string& value, int64_t min) {
  char* end = nullptr;
  const long long parsed = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || parsed < min) {
    return Status::Invalid(std::string(flag) + " is '" + value +
                           "'; expected an integer >= " + std::to_string(min));
  }
  return static_cast<int64_t>(parsed);
}

Result<Args> ParseArgs(int argc, char** argv) {
  Args args;
  bool data_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Status::Invalid(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--root") {
      args.root = value;
    } else if (flag == "--project") {
      args.project = value;
    } else if (flag == "--run") {
      args.run = value;
    } else if (flag == "--data") {
      args.data = value;
      data_given = true;
    } else if (flag == "--epochs") {
      SEXTANT_ASSIGN_OR_RETURN(const int64_t epochs, ParseInt(flag, value, 1));
      args.epochs = static_cast<int>(std::min<int64_t>(epochs, 1000));
    } else if (flag == "--max-train") {
      SEXTANT_ASSIGN_OR_RETURN(args.max_train, ParseInt(flag, value, 1));
    } else if (flag == "--production") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) {
        return Status::Invalid("--production is '" + value + "'; expected NAME=PATH");
      }
      args.productions.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else {
      return Status::Invalid("unknown argument '" + flag + "'");
    }
  }
  if (args.project.empty()) return Status::Invalid("--project is required");
  if (args.run.empty()) return Status::Invalid("--run is required");
  if (!data_given) {
    const char* env = std::getenv("SEXTANT_DATA");
    args.data = (env != nullptr && *env != '\0') ? fs::path(env) : fs::path("../shared/data");
  }
  return args;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Fisher-Yates on the platform-independent generator: the same order everywhere.
void Shuffle(std::vector<size_t>* order, Random* rng) {
  for (size_t i = order->size(); i > 1; --i) std::swap((*order)[i - 1], (*order)[rng->Next() % i]);
}

Status CheckBinaryLabels(const std::vector<LabeledText>& rows, const std::string& what) {
  for (const LabeledText& row : rows) {
    if (row.label != 0 && row.label != 1) {
      return Status::Invalid(what + ": sample '" + row.id + "' has label " +
                             std::to_string(row.label) + "; expected 0 (negative) or 1 (positive)");
    }
  }
  return Status::OK();
}

Result<Dataset> LoadCsv(const fs::path& path, int64_t max_rows) {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<LabeledText> rows, LoadSentimentCsv(path, max_rows));
  if (rows.empty()) return Status::Invalid("'" + path.string() + "' has no data rows");
  return Dataset{std::move(rows), {}};
}

Status LogSamples(Client& client, const Dataset& data, const SplitKey& split, bool labeled) {
  for (size_t begin = 0; begin < data.rows.size(); begin += kSamplesChunk) {
    const size_t end = std::min(data.rows.size(), begin + kSamplesChunk);
    DataBatch batch;
    for (size_t i = begin; i < end; ++i) {
      batch.ids.push_back(data.rows[i].id);
      batch.texts.push_back(data.rows[i].text);
      if (labeled) batch.label_indices.push_back(data.rows[i].label);
    }
    SEXTANT_RETURN_IF_ERROR(client.LogDataSamples(batch, split)
                                .WithContext("logging " + split.ToString() + " samples"));
  }
  return Status::OK();
}

struct PassResult {
  int64_t correct = 0;   // predictions equal to known labels
  int64_t labeled = 0;   // samples with a known label
  int64_t positive = 0;  // samples predicted positive
};

// Runs the model over `data` in batches and logs every batch's hidden layer and
// logits for the client's current split and epoch.
Result<PassResult> ForwardAndLog(const NgramMlp& model, const Dataset& data, size_t batch_size,
                                 Client& client) {
  PassResult result;
  const int hidden = model.hidden();
  const int classes = model.classes();
  std::vector<float> embeddings(batch_size * hidden);
  std::vector<float> logits(batch_size * classes);
  std::vector<const std::vector<uint32_t>*> batch;
  OutputsBatch outputs;
  for (size_t begin = 0; begin < data.rows.size(); begin += batch_size) {
    const size_t end = std::min(data.rows.size(), begin + batch_size);
    batch.clear();
    outputs.ids.clear();
    for (size_t i = begin; i < end; ++i) {
      batch.push_back(&data.features[i]);
      outputs.ids.push_back(data.rows[i].id);
    }
    model.Forward(batch, embeddings.data(), logits.data());
    const auto rows = static_cast<int64_t>(batch.size());
    outputs.embeddings = MatrixView{embeddings.data(), rows, hidden};
    outputs.logits = MatrixView{logits.data(), rows, classes};
    SEXTANT_RETURN_IF_ERROR(client.LogModelOutputs(outputs));
    for (size_t i = begin; i < end; ++i) {
      const float* row = &logits[(i - begin) * classes];
      const int predicted = static_cast<int>(std::max_element(row, row + classes) - row);
      result.positive += predicted == 1;
      if (data.rows[i].label >= 0) {
        ++result.labeled;
        result.correct += predicted == data.rows[i].label;
      }
    }
  }
  return result;
}

double Percent(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

Status RunDemo(const Args& args) {
  const fs::path root = ResolveRoot(args.root);
  Dataset train, validation;
  std::vector<ProductionSet> productions;

  // ---- data
  const fs::path sst2 = args.data / "sst2";
  if (fs::exists(sst2 / "train.csv")) {
    std::printf("data: SST-2 from %s\n", sst2.string().c_str());
    SEXTANT_ASSIGN_OR_RETURN(train, LoadCsv(sst2 / "train.csv", args.max_train));
    SEXTANT_ASSIGN_OR_RETURN(validation, LoadCsv(sst2 / "validation.csv", -1));
    std::vector<std::pair<std::string, fs::path>> sets = args.productions;
    if (sets.empty()) {
      sets = {{"yelp", args.data / "sentiment_textfooler_samples" / "yelp.csv"},
              {"amazon", args.data / "amazon_multidomain_sentiment" / "reviews.csv"}};
    }
    for (const auto& [name, path] : sets) {
      SEXTANT_ASSIGN_OR_RETURN(Dataset data, LoadCsv(path, -1));
      productions.push_back({name, std::move(data)});
    }
  } else {
    std::printf(
        "data: %s not found; using generated data (movie reviews for training and "
        "validation, restaurant reviews for production)\n",
        (sst2 / "train.csv").string().c_str());
    const int64_t n_train = args.max_train > 0 ? std::min<int64_t>(args.max_train, 6000) : 6000;
    train.rows = GenerateSentiment(n_train, Domain::kMovies, 1, "movies-train-");
    validation.rows = GenerateSentiment(1000, Domain::kMovies, 2, "movies-val-");
    for (const auto& [name, path] : args.productions) {
      SEXTANT_ASSIGN_OR_RETURN(Dataset data, LoadCsv(path, -1));
      productions.push_back({name, std::move(data)});
    }
    if (args.productions.empty()) {
      productions.push_back(
          {"restaurants", {GenerateSentiment(1000, Domain::kRestaurants, 3, "restaurants-"), {}}});
    }
  }
  SEXTANT_RETURN_IF_ERROR(CheckBinaryLabels(train.rows, "training data"));
  SEXTANT_RETURN_IF_ERROR(CheckBinaryLabels(validation.rows, "validation data"));

  NgramMlp model(ModelConfig{});
  auto featurize = [&model](Dataset* data) {
    data->features.clear();
    data->features.reserve(data->rows.size());
    for (const LabeledText& row : data->rows) data->features.push_back(model.Featurize(row.text));
  };
  featurize(&train);
  featurize(&validation);
  for (ProductionSet& set : productions) featurize(&set.data);
  std::printf("training %zu, validation %zu", train.rows.size(), validation.rows.size());
  for (const ProductionSet& set : productions) {
    std::printf(", production %s %zu", set.name.c_str(), set.data.rows.size());
  }
  std::printf("\n");

  // ---- training job
  {
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
                             Client::Init({.root = root,
                                           .project = args.project,
                                           .run = args.run,
                                           .task = TaskType::kTextClassification}));
    SEXTANT_RETURN_IF_ERROR(client->SetLabelsForRun(kLabels));
    SEXTANT_RETURN_IF_ERROR(LogSamples(*client, train, SplitKey{Split::kTraining, ""}, true));
    SEXTANT_RETURN_IF_ERROR(
        LogSamples(*client, validation, SplitKey{Split::kValidation, ""}, true));

    std::vector<size_t> order(train.rows.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    Random shuffle_rng(kShuffleSeed);
    std::vector<const std::vector<uint32_t>*> batch;
    std::vector<int32_t> labels;
    for (int epoch = 0; epoch < args.epochs; ++epoch) {
      SEXTANT_RETURN_IF_ERROR(client->SetSplit(Split::kTraining));
      SEXTANT_RETURN_IF_ERROR(client->SetEpoch(epoch));
      const auto start = std::chrono::steady_clock::now();
      Shuffle(&order, &shuffle_rng);
      double loss_sum = 0;
      for (size_t begin = 0; begin < order.size(); begin += kTrainBatch) {
        const size_t end = std::min(order.size(), begin + kTrainBatch);
        batch.clear();
        labels.clear();
        for (size_t i = begin; i < end; ++i) {
          batch.push_back(&train.features[order[i]]);
          labels.push_back(train.rows[order[i]].label);
        }
        loss_sum += static_cast<double>(model.TrainBatch(batch, labels.data(), kLearningRate)) *
                    static_cast<double>(batch.size());
      }
      const double train_seconds = SecondsSince(start);

      const auto log_start = std::chrono::steady_clock::now();
      SEXTANT_ASSIGN_OR_RETURN(const PassResult train_pass,
                               ForwardAndLog(model, train, kLogBatch, *client));
      SEXTANT_RETURN_IF_ERROR(client->SetSplit(Split::kValidation));
      SEXTANT_RETURN_IF_ERROR(client->SetEpoch(epoch));
      SEXTANT_ASSIGN_OR_RETURN(const PassResult val_pass,
                               ForwardAndLog(model, validation, kLogBatch, *client));
      std::printf(
          "epoch %d: train loss %.4f, train accuracy %.2f%%, validation accuracy %.2f%% "
          "(training %.2fs, forward + logging %.2fs)\n",
          epoch, loss_sum / static_cast<double>(train.rows.size()),
          Percent(train_pass.correct, train_pass.labeled),
          Percent(val_pass.correct, val_pass.labeled), train_seconds, SecondsSince(log_start));
      std::fflush(stdout);
    }
    SEXTANT_RETURN_IF_ERROR(client->Flush());
  }

  // ---- one inference job per production set, each with its own client
  for (const ProductionSet& set : productions) {
    const auto start = std::chrono::steady_clock::now();
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
                             Client::Init({.root = root,
                                           .project = args.project,
                                           .run = args.run,
                                           .task = TaskType::kTextClassification}));
    SEXTANT_RETURN_IF_ERROR(client->SetLabelsForRun(kLabels));
    SEXTANT_ASSIGN_OR_RETURN(const SplitKey split, SplitKey::Make(Split::kInference, set.name));
    SEXTANT_RETURN_IF_ERROR(LogSamples(*client, set.data, split, false));
    SEXTANT_RETURN_IF_ERROR(client->SetSplit(Split::kInference, set.name));
    SEXTANT_ASSIGN_OR_RETURN(const PassResult pass,
                             ForwardAndLog(model, set.data, kInferenceBatch, *client));
    SEXTANT_RETURN_IF_ERROR(client->Flush());
    std::printf("production %s: %zu samples, %.1f%% predicted positive", set.name.c_str(),
                set.data.rows.size(), Percent(pass.positive, set.data.rows.size()));
    if (pass.labeled > 0) {
      std::printf(", accuracy %.2f%% on its (unlogged) labels",
                  Percent(pass.correct, pass.labeled));
    }
    std::printf(" (%.2fs)\n", SecondsSince(start));
  }

  // ---- processing
  SEXTANT_ASSIGN_OR_RETURN(const FinishReport report, FinishRun(root, args.project, args.run));
  std::printf("finished %s/%s: %lld samples in %zu splits, %.2fs\n", args.project.c_str(),
              args.run.c_str(), static_cast<long long>(report.samples), report.splits.size(),
              report.seconds);
  for (const auto& [stage, seconds] : report.stage_seconds) {
    std::printf("  %s: %.2fs\n", stage.c_str(), seconds);
  }
  return Status::OK();
}

}  // namespace
}  // namespace sextant::demo

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << sextant::demo::kUsage;
      return 0;
    }
  }
  sextant::Result<sextant::demo::Args> args = sextant::demo::ParseArgs(argc, argv);
  if (!args.ok()) {
    std::cerr << "sextant_demo: " << args.status().ToString() << "\n" << sextant::demo::kUsage;
    return 1;
  }
  const sextant::Status status = sextant::demo::RunDemo(*args);
  if (!status.ok()) {
    std::cerr << "sextant_demo: " << status.ToString() << "\n";
    return 1;
  }
  return 0;
}
