// The similarity service: the index finish stores with the results, queries by
// id and by vector with split and result filters, and float16 embeddings.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "index/cosine_index.h"
#include "io/npy.h"
#include "sextant/client.h"
#include "sextant/results.h"
#include "testing.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::TempDir;

SplitKey Key(Split split, const std::string& name = "") {
  return SplitKey::Make(split, name).value();
}
const SplitKey kTraining = Key(Split::kTraining);
const SplitKey kValidation = Key(Split::kValidation);
const SplitKey kProd = Key(Split::kInference, "prod");

// A run of three clusters (one per class) in `dim` dimensions: training and
// validation around the centres, production half around them and half around
// displaced centres (drifted). Logits follow the nearest centre, with noise.
struct Logged {
  std::vector<SplitKey> splits;  // in the run's split order
  std::map<SplitKey, std::vector<std::string>> ids;
  std::map<SplitKey, std::vector<float>> emb;
};

Logged LogRun(const fs::path& root, const std::string& run, int train, int val, int prod,
              int64_t dim, uint32_t seed) {
  Logged out;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto client = Client::Init({.root = root, .project = "p", .run = run});
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_OK((*client)->SetLabelsForRun({"a", "b", "c"}));
  std::vector<float> centres(3 * dim), moved(3 * dim);
  for (float& v : centres) v = normal(rng);
  for (size_t i = 0; i < moved.size(); ++i) moved[i] = centres[i] + 1.5f * normal(rng);
  auto log = [&](const SplitKey& key, const std::string& prefix, int n, bool labeled,
                 double shifted) {
    DataBatch data;
    std::vector<float> e(static_cast<size_t>(n) * dim), logits(static_cast<size_t>(n) * 3);
    for (int i = 0; i < n; ++i) {
      const int c = i % 3;
      const bool away = static_cast<double>(i % 100) < shifted * 100;
      data.ids.push_back(prefix + std::to_string(i));
      data.texts.push_back("text " + std::to_string(i));
      if (labeled) data.label_indices.push_back(c);
      for (int64_t j = 0; j < dim; ++j) {
        e[i * dim + j] = (away ? moved : centres)[c * dim + j] + 0.4f * normal(rng);
      }
      for (int j = 0; j < 3; ++j) logits[i * 3 + j] = (j == c ? 2.0f : 0.0f) + normal(rng);
    }
    EXPECT_OK((*client)->LogDataSamples(data, key));
    OutputsBatch b;
    b.ids = data.ids;
    b.embeddings = {e.data(), n, dim};
    b.logits = {logits.data(), n, 3};
    EXPECT_OK((*client)->LogModelOutputs(b, key, 0));
    out.ids[key] = data.ids;
    out.emb[key] = e;
  };
  log(kTraining, "t", train, true, 0.0);
  log(kValidation, "v", val, true, 0.0);
  log(kProd, "i", prod, false, 0.5);
  EXPECT_OK((*client)->Flush());
  out.splits = {kTraining, kValidation,
                kProd};  // SplitKey order: training, validation, ..., inference
  return out;
}

struct Expected {
  SplitKey split;
  std::string id;
  double distance;
};

// Brute force in double precision over the logged float32 embeddings.
std::vector<Expected> Brute(const Logged& logged, const std::vector<float>& query, int64_t dim,
                            const std::vector<SplitKey>& search_in,
                            const std::function<bool(const SplitKey&, int64_t)>& keep) {
  std::vector<double> q(query.begin(), query.end());
  double qn = 0;
  for (double v : q) qn += v * v;
  std::vector<Expected> all;
  for (const SplitKey& s : logged.splits) {
    if (!search_in.empty() && std::find(search_in.begin(), search_in.end(), s) == search_in.end()) {
      continue;
    }
    const std::vector<float>& e = logged.emb.at(s);
    for (size_t r = 0; r < logged.ids.at(s).size(); ++r) {
      if (keep && !keep(s, static_cast<int64_t>(r))) continue;
      double dot = 0, n2 = 0;
      for (int64_t j = 0; j < dim; ++j) {
        dot += q[j] * e[r * dim + j];
        n2 += double(e[r * dim + j]) * e[r * dim + j];
      }
      all.push_back({s, logged.ids.at(s)[r], 1.0 - dot / std::sqrt(qn * n2)});
    }
  }
  std::sort(all.begin(), all.end(),
            [](const Expected& a, const Expected& b) { return a.distance < b.distance; });
  return all;
}

void ExpectSame(const std::vector<Neighbor>& got, const std::vector<Expected>& want, size_t k,
                double tolerance = 2e-5) {
  ASSERT_EQ(got.size(), std::min(k, want.size()));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << "rank " << i;
    EXPECT_EQ(got[i].split, want[i].split) << "rank " << i;
    EXPECT_NEAR(got[i].distance, want[i].distance, tolerance) << "rank " << i;
  }
}

constexpr int64_t kDim = 16;

class SimilarityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    logged_ = new Logged(LogRun(dir_->path(), "r", 300, 60, 120, kDim, 5));
    ASSERT_OK(FinishRun(dir_->path(), "p", "r").status());
    ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir_->path(), "p", "r"));
    reader_ = reader.release();
  }
  static void TearDownTestSuite() {
    delete reader_;
    delete logged_;
    delete dir_;
  }
  // Each sample's predicted class and drift flag, from the reader.
  static std::map<std::pair<SplitKey, int64_t>, SampleRow> Rows() {
    std::map<std::pair<SplitKey, int64_t>, SampleRow> out;
    for (const SplitKey& s : logged_->splits) {
      SampleQuery q;
      q.split = s;
      Result<std::vector<SampleRow>> rows = reader_->Samples(q);
      EXPECT_TRUE(rows.ok()) << rows.status().ToString();
      if (!rows.ok()) continue;
      for (SampleRow& r : *rows) out[{s, r.row}] = r;
    }
    return out;
  }
  static TempDir* dir_;
  static Logged* logged_;
  static RunReader* reader_;
};
TempDir* SimilarityTest::dir_ = nullptr;
Logged* SimilarityTest::logged_ = nullptr;
RunReader* SimilarityTest::reader_ = nullptr;

TEST_F(SimilarityTest, FinishStoresTheIndexWithAManifest) {
  ASSERT_OK_AND_ASSIGN(std::string summary, reader_->SummaryJson());
  const auto j = nlohmann::json::parse(summary);
  ASSERT_TRUE(j["parameters"]["similarity_index"].is_object()) << summary;
  EXPECT_EQ(j["parameters"]["similarity_index"]["method"], "ivf");
  EXPECT_EQ(j["parameters"]["similarity_index"]["nlist"], 1);  // 480 rows: one cell, exact
  EXPECT_EQ(j["parameters"]["nn_search"]["requested"], "auto");
  EXPECT_EQ(j["parameters"]["nn_search"]["used"], "exact");
  EXPECT_EQ(j["parameters"]["embeddings_dtype"], "float32");

  fs::path gen;
  for (auto& e : fs::directory_iterator(dir_->path() / "p" / "r" / "results")) gen = e.path();
  ASSERT_TRUE(fs::exists(gen / "similarity.faiss"));
  std::ifstream in(gen / "similarity.json");
  const auto manifest = nlohmann::json::parse(in);
  EXPECT_EQ(manifest["rows"], 480);
  EXPECT_EQ(manifest["dim"], kDim);
  ASSERT_EQ(manifest["splits"].size(), 3u);
  EXPECT_EQ(manifest["splits"][0]["split"], "training");
  EXPECT_EQ(manifest["splits"][1]["offset"], 300);
  EXPECT_EQ(manifest["splits"][2]["split"], "inference:prod");
  EXPECT_EQ(manifest["splits"][2]["offset"], 360);
  // The file is a Faiss index that reads back with every row, as stored unit vectors.
  ASSERT_OK_AND_ASSIGN(auto idx, index::CosineIndex::Read(gen / "similarity.faiss"));
  EXPECT_EQ(idx->size(), 480);
  std::vector<float> row(kDim);
  ASSERT_OK(idx->Reconstruct(300 + 7, row.data()));
  const float* e = logged_->emb.at(kValidation).data() + 7 * kDim;
  double n2 = 0;
  for (int64_t j2 = 0; j2 < kDim; ++j2) n2 += double(e[j2]) * e[j2];
  for (int64_t j2 = 0; j2 < kDim; ++j2) EXPECT_NEAR(row[j2], e[j2] / std::sqrt(n2), 1e-6);
}

TEST_F(SimilarityTest, SimilarToVectorEqualsBruteForce) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int trial = 0; trial < 8; ++trial) {
    std::vector<float> q(kDim);
    for (float& v : q) v = normal(rng) * (trial + 1.0f);  // any scale
    for (const std::vector<SplitKey>& in :
         {std::vector<SplitKey>{}, {kTraining}, {kProd}, {kValidation, kProd}}) {
      ASSERT_OK_AND_ASSIGN(auto got, reader_->SimilarToVector(q.data(), kDim, 7, in));
      ExpectSame(got, Brute(*logged_, q, kDim, in, nullptr), 7);
    }
  }
  // More than there are: every sample of the split, nearest first.
  std::vector<float> q(kDim, 1.0f);
  ASSERT_OK_AND_ASSIGN(auto all, reader_->SimilarToVector(q.data(), kDim, 1000, {kValidation}));
  ExpectSame(all, Brute(*logged_, q, kDim, {kValidation}, nullptr), 1000);
}

TEST_F(SimilarityTest, SimilarByIdEqualsBruteForceWithoutItself) {
  for (const auto& [split, row] : std::vector<std::pair<SplitKey, int>>{
           {kTraining, 0}, {kTraining, 123}, {kProd, 5}, {kValidation, 59}}) {
    const std::string id = logged_->ids.at(split)[row];
    std::vector<float> q(logged_->emb.at(split).begin() + row * kDim,
                         logged_->emb.at(split).begin() + (row + 1) * kDim);
    auto not_self = [&](const SplitKey& s, int64_t r) { return !(s == split && r == row); };
    for (const std::vector<SplitKey>& in : {std::vector<SplitKey>{}, {split}, {kTraining}}) {
      ASSERT_OK_AND_ASSIGN(auto got, reader_->Similar(split, id, 6, in));
      ExpectSame(got, Brute(*logged_, q, kDim, in, not_self), 6);
    }
  }
}

TEST_F(SimilarityTest, FiltersOnPredictedClassAndDrift) {
  const auto rows = Rows();
  std::vector<float> q(logged_->emb.at(kProd).begin(), logged_->emb.at(kProd).begin() + kDim);
  for (const std::string cls : {"a", "c"}) {
    SimilarityFilter f;
    f.pred_class = cls;
    auto keep = [&](const SplitKey& s, int64_t r) { return rows.at({s, r}).pred == cls; };
    ASSERT_OK_AND_ASSIGN(auto got, reader_->SimilarToVector(q.data(), kDim, 9, {}, f));
    ExpectSame(got, Brute(*logged_, q, kDim, {}, keep), 9);
  }
  for (bool drifted : {true, false}) {
    SimilarityFilter f;
    f.is_drifted = drifted;
    // Training samples have no drift flag: they never match.
    auto keep = [&](const SplitKey& s, int64_t r) {
      const SampleRow& row = rows.at({s, r});
      return row.is_drifted && *row.is_drifted == drifted;
    };
    ASSERT_OK_AND_ASSIGN(auto got, reader_->SimilarToVector(q.data(), kDim, 9, {}, f));
    const auto want = Brute(*logged_, q, kDim, {}, keep);
    ASSERT_FALSE(want.empty());
    ExpectSame(got, want, 9);
    for (const Neighbor& n : got) EXPECT_NE(n.split, kTraining);
  }
  SimilarityFilter both;
  both.pred_class = "b";
  both.is_drifted = true;
  auto keep = [&](const SplitKey& s, int64_t r) {
    const SampleRow& row = rows.at({s, r});
    return row.pred == "b" && row.is_drifted && *row.is_drifted;
  };
  ASSERT_OK_AND_ASSIGN(auto got, reader_->Similar(kProd, "i1", 4, {kProd}, both));
  auto not_self_and_keep = [&](const SplitKey& s, int64_t r) {
    return !(s == kProd && r == 1) && keep(s, r);
  };
  std::vector<float> q1(logged_->emb.at(kProd).begin() + kDim,
                        logged_->emb.at(kProd).begin() + 2 * kDim);
  ExpectSame(got, Brute(*logged_, q1, kDim, {kProd}, not_self_and_keep), 4);
}

TEST_F(SimilarityTest, RejectsBadQueries) {
  std::vector<float> q(kDim, 1.0f);
  EXPECT_EQ(reader_->SimilarToVector(q.data(), kDim - 1, 3).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(reader_->SimilarToVector(q.data(), kDim, 0).status().code(),
            StatusCode::kInvalidArgument);
  q[3] = NAN;
  EXPECT_EQ(reader_->SimilarToVector(q.data(), kDim, 3).status().code(),
            StatusCode::kInvalidArgument);
  q[3] = 1.0f;
  SimilarityFilter f;
  f.pred_class = "zebra";
  auto st = reader_->SimilarToVector(q.data(), kDim, 3, {}, f).status();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("zebra"), std::string::npos) << st.ToString();
  EXPECT_EQ(reader_->SimilarToVector(q.data(), kDim, 3, {Key(Split::kTest)}).status().code(),
            StatusCode::kNotFound);
}

// A run large enough for an approximate (IVF) similarity index and drift.
TEST(SimilarityLarge, ApproximateIndexFindsTheTrueNeighbours) {
  TempDir dir;
  const Logged logged = LogRun(dir.path(), "big", 3000, 200, 1000, kDim, 17);
  ProcessingOptions options;
  options.nn_search = NnSearch::kApproximate;
  ASSERT_OK(FinishRun(dir.path(), "p", "big", options).status());
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir.path(), "p", "big"));
  const auto j = nlohmann::json::parse(reader->SummaryJson().value());
  EXPECT_EQ(j["parameters"]["similarity_index"]["method"], "ivf");
  EXPECT_GT(j["parameters"]["similarity_index"]["nlist"].get<int>(), 1);
  // It starts from the drift index's cells over the training rows.
  EXPECT_EQ(j["parameters"]["similarity_index"]["cells"], "given");
  EXPECT_EQ(j["parameters"]["similarity_index"]["nlist"],
            j["parameters"]["nn_search"]["index"]["nlist"]);
  EXPECT_EQ(j["parameters"]["nn_search"]["index"]["cells"], "k-means");
  EXPECT_EQ(j["parameters"]["nn_search"]["requested"], "approximate");
  EXPECT_EQ(j["parameters"]["nn_search"]["used"], "approximate");
  EXPECT_GE(j["parameters"]["nn_search"]["index"]["recall_estimate"].get<double>(), 0.95);

  std::mt19937 rng(2);
  std::uniform_int_distribution<int> pick(0, 999);
  int64_t hit = 0, total = 0;
  for (int trial = 0; trial < 50; ++trial) {
    const int row = pick(rng);
    std::vector<float> q(logged.emb.at(kProd).begin() + row * kDim,
                         logged.emb.at(kProd).begin() + (row + 1) * kDim);
    for (const std::vector<SplitKey>& in : {std::vector<SplitKey>{}, {kTraining}, {kValidation}}) {
      ASSERT_OK_AND_ASSIGN(auto got, reader->SimilarToVector(q.data(), kDim, 10, in));
      const auto want = Brute(logged, q, kDim, in, nullptr);
      ASSERT_EQ(got.size(), 10u);
      std::set<std::string> want_ids;
      for (size_t i = 0; i < 10; ++i) want_ids.insert(want[i].split.ToString() + want[i].id);
      for (const Neighbor& n : got) {
        if (!in.empty()) {
          EXPECT_EQ(n.split, in[0]);
        }
        hit += want_ids.count(n.split.ToString() + n.id);
      }
      total += 10;
    }
  }
  EXPECT_GE(static_cast<double>(hit) / total, 0.95);
}

bool IsFloat16Npy(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string header(128, '\0');
  in.read(header.data(), 128);
  return header.find("'descr': '<f2'") != std::string::npos;
}

// The newest results/gen-N folder (an open reader keeps older ones until it closes).
fs::path NewestGeneration(const fs::path& run_dir) {
  fs::path newest;
  int64_t best = -1;
  for (auto& e : fs::directory_iterator(run_dir / "results")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("gen-", 0) != 0) continue;
    const int64_t g = std::stoll(name.substr(4));
    if (g > best) best = g, newest = e.path();
  }
  return newest;
}

TEST(Float16Storage, EmbeddingsRoundTripWithinHalfPrecision) {
  TempDir dir;
  const Logged logged = LogRun(dir.path(), "half", 300, 60, 120, kDim, 23);
  ProcessingOptions options;
  options.store_float16 = true;
  ASSERT_OK(FinishRun(dir.path(), "p", "half", options).status());
  fs::path gen;
  gen = NewestGeneration(dir.path() / "p" / "half");
  for (const SplitKey& s : logged.splits) {
    const fs::path p = gen / s.DirName() / "embeddings.npy";
    EXPECT_TRUE(IsFloat16Npy(p)) << p;
    ASSERT_OK_AND_ASSIGN(io::FloatMatrix m, io::ReadNpyAsFloat32(p));
    ASSERT_EQ(m.rows, static_cast<int64_t>(logged.ids.at(s).size()));
    ASSERT_EQ(m.cols, kDim);
    for (size_t i = 0; i < m.data.size(); ++i) {
      const float want = logged.emb.at(s)[i];
      EXPECT_NEAR(m.data[i], want, std::abs(want) * 1e-3f + 1e-6f) << i;  // 11-bit mantissa
    }
    EXPECT_FALSE(IsFloat16Npy(gen / s.DirName() / "probs.npy"));
  }
  ASSERT_OK_AND_ASSIGN(auto reader, RunReader::Open(dir.path(), "p", "half"));
  EXPECT_EQ(nlohmann::json::parse(reader->SummaryJson().value())["parameters"]["embeddings_dtype"],
            "float16");
  // The index was built from the float32 values: the answers are exact.
  std::vector<float> q(logged.emb.at(kProd).begin(), logged.emb.at(kProd).begin() + kDim);
  ASSERT_OK_AND_ASSIGN(auto got, reader->SimilarToVector(q.data(), kDim, 5));
  ExpectSame(got, Brute(logged, q, kDim, {}, nullptr), 5);

  // Without a stored index the reader converts the float16 arrays and searches them exactly.
  reader.reset();  // a reader pins its generation's folder while open (docs/format.md)
  options.build_similarity_index = false;
  ASSERT_OK(FinishRun(dir.path(), "p", "half", options).status());
  gen = NewestGeneration(dir.path() / "p" / "half");
  EXPECT_FALSE(fs::exists(gen / "similarity.faiss"));
  ASSERT_OK_AND_ASSIGN(auto reader2, RunReader::Open(dir.path(), "p", "half"));
  ASSERT_OK_AND_ASSIGN(auto got2, reader2->Similar(kProd, "i0", 5));
  auto not_self = [&](const SplitKey& s, int64_t r) { return !(s == kProd && r == 0); };
  ExpectSame(got2, Brute(logged, q, kDim, {}, not_self), 5, 2e-3);
}

}  // namespace
}  // namespace sextant
