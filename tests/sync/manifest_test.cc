// The upload protocol's manifest and files (sync/manifest.h, sync/bundle.h):
// what the client builds from a local run decodes back to the same samples
// and outputs, and a manifest that does not add up is refused.
#include "sync/manifest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sextant/client.h"
#include "store/run_store.h"
#include "sync/bundle.h"
#include "sync/sha256.h"
#include "testing.h"

namespace sextant::sync {
namespace {

using sextant::testing::TempDir;
namespace fs = std::filesystem;

const SplitKey kTraining = SplitKey::Make(Split::kTraining).value();
const SplitKey kProd = SplitKey::Make(Split::kInference, "prod").value();

// A local run: 30 training samples (epochs 0 and 1) and 20 inference samples
// whose outputs are logged in reverse order, width 8.
void LogRun(const fs::path& root, TaskType task = TaskType::kTextClassification) {
  auto client = Client::Init({.root = root, .project = "p", .run = "r", .task = task});
  ASSERT_OK(client.status());
  ASSERT_OK((*client)->SetLabelsForRun({"a", "b", "c"}));
  for (const SplitKey& split : {kTraining, kProd}) {
    const int n = split == kTraining ? 30 : 20;
    DataBatch data;
    for (int i = 0; i < n; ++i) {
      data.ids.push_back(split.DirName() + "-" + std::to_string(i));
      if (task == TaskType::kNaturalLanguageInference) {
        data.premises.push_back("premise \"" + std::to_string(i) + "\"\n");
        data.hypotheses.push_back("hypothesis é " + std::to_string(i));
      } else {
        data.texts.push_back("text \"" + std::to_string(i) + "\"\nline é");
      }
      if (split == kTraining) data.label_indices.push_back(i % 3);
    }
    data.meta.push_back({"source", std::vector<std::string>(n, "unit")});
    ASSERT_OK((*client)->LogDataSamples(data, split));
    for (int epoch = 0; epoch < (split == kTraining ? 2 : 1); ++epoch) {
      std::vector<float> emb, logits;
      OutputsBatch b;
      for (int i = n - 1; i >= 0; --i) {
        b.ids.push_back(data.ids[i]);
        for (int d = 0; d < 8; ++d) emb.push_back(0.1f * i + d + epoch);
        for (int c = 0; c < 3; ++c) logits.push_back(c == i % 3 ? 2.0f : 0.0f);
      }
      b.embeddings = {emb.data(), n, 8};
      b.logits = {logits.data(), n, 3};
      ASSERT_OK((*client)->LogModelOutputs(b, split, epoch));
    }
  }
  ASSERT_OK((*client)->Flush());
}

Result<std::unique_ptr<store::RunStore>> OpenLocal(const fs::path& root) {
  return store::RunStore::Open(root / "p" / "r", store::RunStore::Mode::kRead);
}

// The state of a run that never uploaded.
UploadState FirstUpload() {
  UploadState state;
  state.source = "src";
  return state;
}

Result<DecodedUpload> Decode(const LocalUpload& up) {
  return DecodeUpload(up.manifest, [&](const FileEntry& f) -> Result<std::string> {
    for (size_t i = 0; i < up.manifest.files.size(); ++i) {
      if (up.manifest.files[i].path != f.path) continue;
      std::string bytes;
      for (size_t c = 0; c < f.chunks.size(); ++c) {
        SEXTANT_ASSIGN_OR_RETURN(std::string chunk, ReadChunk(up, i, c));
        EXPECT_EQ(Sha256Hex(chunk), f.chunks[c].sha256);
        bytes += chunk;
      }
      EXPECT_EQ(ChunkListHash(f.chunks), f.sha256);
      return bytes;
    }
    return Status::NotFound(f.path);
  });
}

TEST(Sha256, KnownDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(IsSha256Hex(Sha256Hex("")));
  EXPECT_FALSE(IsSha256Hex("BA7816BF"));
}

TEST(Upload, DecodesBackToTheLoggedSamplesAndOutputs) {
  TempDir root;
  LogRun(root.path());
  ASSERT_OK_AND_ASSIGN(auto local, OpenLocal(root.path()));
  ASSERT_OK_AND_ASSIGN(Manifest plan, PlanUpload(*local, "p", "r", FirstUpload()));
  ASSERT_EQ(plan.samples.size(), 2u);
  ASSERT_EQ(plan.outputs.size(), 3u);  // training epochs 0 and 1, prod epoch 0
  ASSERT_OK_AND_ASSIGN(LocalUpload up, BuildUpload(*local, plan, /*chunk_bytes=*/100));
  // Small chunks: the embeddings file of 30 x 8 floats is cut into 10.
  for (const FileEntry& f : up.manifest.files) {
    EXPECT_EQ(f.chunks.size(), static_cast<size_t>((f.bytes + 99) / 100)) << f.path;
  }
  // The manifest parses back to itself: the id a resumed upload recomputes.
  ASSERT_OK_AND_ASSIGN(Manifest parsed, Manifest::Parse(up.manifest.ToJson()));
  EXPECT_EQ(parsed.ToJson(), up.manifest.ToJson());
  EXPECT_EQ(parsed.Id(), up.manifest.Id());
  // The inference set's time travels with it (the server's timeline order).
  ASSERT_EQ(parsed.set_times.size(), 1u);
  EXPECT_EQ(parsed.set_times[0].name, "prod");
  EXPECT_EQ(parsed.set_times[0].source, "first_sample");
  ASSERT_OK_AND_ASSIGN(auto times, local->InferenceTimes());
  EXPECT_EQ(parsed.set_times[0].time, times[0].time);

  ASSERT_OK_AND_ASSIGN(DecodedUpload d, Decode(up));
  for (const auto& [split, records] : d.samples) {
    ASSERT_OK_AND_ASSIGN(std::vector<store::SampleRecord> logged, local->ReadSamples(split));
    ASSERT_EQ(records.size(), logged.size());
    for (size_t i = 0; i < logged.size(); ++i) {
      EXPECT_EQ(records[i].id, logged[i].id);
      EXPECT_EQ(records[i].text, logged[i].text);
      EXPECT_EQ(records[i].label, logged[i].label);
      EXPECT_EQ(records[i].meta_json, logged[i].meta_json);
    }
  }
  for (const DecodedOutputs& o : d.outputs) {
    ASSERT_OK_AND_ASSIGN(store::OutputLog log,
                         local->ReadOutputLog(o.segment.split, o.segment.epoch));
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> ids, local->SampleIds(o.segment.split));
    ASSERT_EQ(o.id_of_row.size(), log.sample_rows.size());
    for (size_t r = 0; r < log.sample_rows.size(); ++r) {
      EXPECT_EQ(o.ids[o.id_of_row[r]], ids[log.sample_rows[r]]);
    }
    EXPECT_EQ(o.embeddings, log.embeddings);
    EXPECT_EQ(o.outputs, log.outputs);
  }
}

TEST(Upload, PlansOnlyWhatWasLoggedSinceTheLastUpload) {
  TempDir root;
  LogRun(root.path());
  ASSERT_OK_AND_ASSIGN(auto local, OpenLocal(root.path()));
  UploadState state = FirstUpload();
  state.samples = {{"training", 30}, {"inference:prod", 5}};
  state.outputs = {{UploadState::LogKey(kTraining, 0), 30},
                   {UploadState::LogKey(kTraining, 1), 30},
                   {UploadState::LogKey(kProd, 0), 12}};
  ASSERT_OK_AND_ASSIGN(Manifest plan, PlanUpload(*local, "p", "r", state));
  ASSERT_EQ(plan.samples.size(), 1u);
  EXPECT_EQ(plan.samples[0].split, kProd);
  EXPECT_EQ(plan.samples[0].from, 5);
  EXPECT_EQ(plan.samples[0].to, 20);
  ASSERT_EQ(plan.outputs.size(), 1u);
  EXPECT_EQ(plan.outputs[0].from, 12);
  EXPECT_EQ(plan.outputs[0].to, 20);
  EXPECT_EQ(plan.sequence, 1);
  // The state survives a round trip through the run's meta table.
  state.pending = "{}";
  ASSERT_OK_AND_ASSIGN(UploadState back, UploadState::Parse(state.ToJson()));
  EXPECT_EQ(back.ToJson(), state.ToJson());
}

// Found by fuzz/manifest_fuzzer.cc (UBSan): a sequence or count beyond int64_t
// (a JSON number nlohmann holds as a double or a uint64) is an error naming the
// field, not undefined behaviour.
TEST(Upload, UploadStateWithAnOutOfRangeNumberIsDamaged) {
  const std::string good =
      R"({"source":"s","sequence":3,"samples":{"training@0":5},"outputs":{},"pending":null})";
  ASSERT_OK_AND_ASSIGN(UploadState s, UploadState::Parse(good));
  EXPECT_EQ(s.sequence, 3);
  EXPECT_EQ(s.samples.at("training@0"), 5);
  for (
      const std::string& bad :
      {std::string(
           R"({"source":"s","sequence":88888888888888888888888881,"samples":{},"outputs":{},"pending":null})"),
       std::string(
           R"({"source":"s","sequence":18446744073709551615,"samples":{},"outputs":{},"pending":null})"),
       std::string(R"({"source":"s","sequence":1.5,"samples":{},"outputs":{},"pending":null})"),
       std::string(
           R"({"source":"s","sequence":1,"samples":{"training@0":1e30},"outputs":{},"pending":null})"),
       std::string(R"({"source":"s","sequence":1,"samples":{},"outputs":[],"pending":null})")}) {
    Result<UploadState> r = UploadState::Parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kIOError) << bad;
    EXPECT_NE(r.status().message().find("upload_state is damaged"), std::string::npos) << bad;
  }
}

TEST(Upload, NliPairsTravel) {
  TempDir root;
  LogRun(root.path(), TaskType::kNaturalLanguageInference);
  ASSERT_OK_AND_ASSIGN(auto local, OpenLocal(root.path()));
  ASSERT_OK_AND_ASSIGN(Manifest plan, PlanUpload(*local, "p", "r", FirstUpload()));
  ASSERT_OK_AND_ASSIGN(LocalUpload up, BuildUpload(*local, plan));
  ASSERT_OK_AND_ASSIGN(DecodedUpload d, Decode(up));
  ASSERT_OK_AND_ASSIGN(auto logged, local->ReadSamples(kTraining));
  EXPECT_EQ(d.samples[0].second[3].premise, logged[3].premise);
  EXPECT_EQ(d.samples[0].second[3].hypothesis, logged[3].hypothesis);
}

// A valid manifest's JSON, to break one field at a time.
nlohmann::json ValidManifest() {
  TempDir root;
  LogRun(root.path());
  auto local = OpenLocal(root.path());
  auto plan = PlanUpload(**local, "p", "r", FirstUpload());
  auto up = BuildUpload(**local, *plan, 100);
  return nlohmann::json::parse(up->manifest.ToJson());
}

TEST(Manifest, RefusesOneThatDoesNotAddUp) {
  const nlohmann::json valid = ValidManifest();
  ASSERT_OK(Manifest::Parse(valid.dump()).status());
  auto broken = [&](auto&& change) {
    nlohmann::json j = valid;
    change(j);
    return Manifest::Parse(j.dump());
  };
  EXPECT_STATUS(broken([](auto& j) { j["protocol"] = 99; }), kFailedPrecondition, "protocol 99");
  EXPECT_STATUS(broken([](auto& j) { j["project"] = "../x"; }), kInvalidArgument, "project");
  EXPECT_STATUS(broken([](auto& j) { j["files"].erase(0); }), kInvalidArgument, "files");
  EXPECT_STATUS(broken([](auto& j) { j["files"][3]["bytes"] = 7; }), kInvalidArgument, "bytes 7");
  EXPECT_STATUS(broken([](auto& j) { j["files"][1]["chunks"][0][1] = 99; }), kInvalidArgument,
                "chunks add up");
  EXPECT_STATUS(broken([](auto& j) { j["files"][1]["chunks"][0][0] = "zz"; }), kInvalidArgument,
                "sha256");
  EXPECT_STATUS(broken([](auto& j) { j["outputs"][0]["to"] = -1; }), kInvalidArgument, "rows");
  EXPECT_STATUS(broken([](auto& j) { j["files"][0]["path"] = "../../etc/passwd"; }),
                kInvalidArgument, "not a file the segments need");
  EXPECT_STATUS(Manifest::Parse("[1,2"), kInvalidArgument, "not a JSON object");
  EXPECT_STATUS(broken([](auto& j) { j["set_times"] = 3; }), kInvalidArgument, "set_times");
  EXPECT_STATUS(broken([](auto& j) {
                  j["set_times"] = {{{"name", "a"}, {"time", 1.0}, {"source", "later"}}};
                }),
                kInvalidArgument, "set_times[0].source");
  EXPECT_STATUS(broken([](auto& j) {
                  j["set_times"] = {{{"name", "a"}, {"time", "noon"}, {"source", "given"}}};
                }),
                kInvalidArgument, "set_times[0].time");
  EXPECT_STATUS(broken([](auto& j) {
                  j["set_times"] = {{{"name", "../a"}, {"time", 1.0}, {"source", "given"}}};
                }),
                kInvalidArgument, "");
}

}  // namespace
}  // namespace sextant::sync
