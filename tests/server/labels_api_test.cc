// Exports for labeling tools and labels coming back over the API
// (docs/labeling-tools.md): GET .../export?format=labelstudio|argilla, the
// selection export, and POST .../labels.
#include <nlohmann/json.hpp>

#include "server/api.h"
#include "sextant/client.h"
#include "small_run.h"
#include "store/imported_labels.h"
#include "testing.h"

namespace sextant::server {
namespace {

using json = nlohmann::json;
using sextant::testing::TempDir;

class LabelsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LogAndFinishSmallRun(tmp_.path(), 12);
    // Production texts of their own (suggestions leave out copies of training texts).
    auto client = Client::Init({.root = tmp_.path(), .project = "p", .run = "r"});
    ASSERT_OK(client.status());
    const SplitKey prod = SplitKey::Make(Split::kInference, "prod").value();
    DataBatch data;
    std::vector<float> e, l;
    for (int i = 0; i < 6; ++i) {
      data.ids.push_back("n" + std::to_string(i));
      data.texts.push_back("production review " + std::to_string(i));
      for (int d = 0; d < 4; ++d) e.push_back(d == i % 2 ? 1.0f : 0.3f * static_cast<float>(i + d));
      l.push_back(i % 2 ? 0.0f : 0.2f * static_cast<float>(i));
      l.push_back(i % 2 ? 0.3f * static_cast<float>(i) : 0.0f);
    }
    ASSERT_OK((*client)->LogDataSamples(data, prod));
    OutputsBatch b;
    b.ids = data.ids;
    b.embeddings = {e.data(), 6, 4};
    b.logits = {l.data(), 6, 2};
    ASSERT_OK((*client)->LogModelOutputs(b, prod, 0));
    ASSERT_OK((*client)->Finish(SmallRunOptions()).status());
    api_ = std::make_unique<Api>(tmp_.path());
  }
  ApiResponse Call(const std::string& method, std::vector<std::string> path, Params params = {},
                   std::string body = "") {
    return api_->Handle({method, std::move(path), std::move(params), std::move(body)});
  }
  std::string Header(const ApiResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  json ProdSamples() {
    ApiResponse r = Call("GET", {"runs", "p", "r", "samples"}, {{"split", "inference:prod"}});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["samples"];
  }

  TempDir tmp_;
  std::unique_ptr<Api> api_;
};

// What Label Studio's importer needs: an array of tasks, each with data (the
// text) and predictions whose results it can show.
void ExpectLabelStudioTasks(const std::string& body, size_t n) {
  const json tasks = json::parse(body);
  ASSERT_TRUE(tasks.is_array());
  ASSERT_EQ(tasks.size(), n);
  for (const json& t : tasks) {
    ASSERT_TRUE(t["data"].is_object());
    EXPECT_TRUE(t["data"]["text"].is_string());
    EXPECT_TRUE(t["data"]["sextant_id"].is_string());
    ASSERT_EQ(t["predictions"].size(), 1u);
    EXPECT_EQ(t["predictions"][0]["model_version"], "sextant:p/r");
    const json& res = t["predictions"][0]["result"][0];
    EXPECT_EQ(res["type"], "choices");
    EXPECT_TRUE(res["value"]["choices"][0] == "neg" || res["value"]["choices"][0] == "pos");
  }
}

TEST_F(LabelsApiTest, FilterExportInLabelStudioAndArgillaFormats) {
  ApiResponse ls = Call("GET", {"runs", "p", "r", "export"},
                        {{"split", "inference:prod"}, {"format", "labelstudio"}});
  ASSERT_EQ(ls.status, 200) << ls.body;
  EXPECT_EQ(ls.content_type, "application/json; charset=utf-8");
  EXPECT_NE(Header(ls, "Content-Disposition").find(".json\""), std::string::npos);
  ExpectLabelStudioTasks(ls.body, 6);

  ApiResponse ar = Call("GET", {"runs", "p", "r", "export"},
                        {{"split", "inference:prod"}, {"format", "argilla"}});
  ASSERT_EQ(ar.status, 200) << ar.body;
  EXPECT_NE(Header(ar, "Content-Disposition").find(".jsonl\""), std::string::npos);
  const json first = json::parse(ar.body.substr(0, ar.body.find('\n')));
  EXPECT_EQ(first["fields"]["text"], "production review 0");
  EXPECT_EQ(first["metadata"]["split"], "inference:prod");
  EXPECT_EQ(first["suggestions"][0]["question_name"], "label");

  ApiResponse bad =
      Call("GET", {"runs", "p", "r", "export"}, {{"split", "training"}, {"format", "xml"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("labelstudio"), std::string::npos);
}

TEST_F(LabelsApiTest, SelectionExportsInLabelStudioFormat) {
  ASSERT_EQ(Call("POST", {"runs", "p", "r", "selections"}, {}, R"({"name": "s"})").status, 201);
  ASSERT_EQ(Call("POST", {"runs", "p", "r", "selections", "s", "add"}, {},
                 R"({"items": [{"split": "inference:prod", "id": "n1"},
                               {"split": "training", "id": "t2"}]})")
                .status,
            200);
  ApiResponse r =
      Call("GET", {"runs", "p", "r", "selections", "s", "export"}, {{"format", "labelstudio"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectLabelStudioTasks(r.body, 2);
  EXPECT_EQ(json::parse(r.body)[1]["data"]["split"], "training");
}

TEST_F(LabelsApiTest, SuggestionsDownloadAsLabelStudioTasksWithTheirReasons) {
  ApiResponse r = Call("GET", {"runs", "p", "r", "suggest"},
                       {{"split", "inference:prod"}, {"budget", "3"}, {"format", "labelstudio"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_NE(Header(r, "Content-Disposition").find("suggestions.json"), std::string::npos);
  ExpectLabelStudioTasks(r.body, 3);
  const json tasks = json::parse(r.body);
  EXPECT_EQ(tasks[0]["data"]["rank"], 1);
  EXPECT_FALSE(tasks[0]["data"]["reasons"].empty());
  r = Call("GET", {"runs", "p", "r", "suggest"},
           {{"split", "inference:prod"}, {"budget", "2"}, {"format", "argilla"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 2);
  r = Call("GET", {"runs", "p", "r", "suggest"}, {{"split", "inference:prod"}, {"format", "csv"}});
  EXPECT_EQ(r.status, 400);
}

TEST_F(LabelsApiTest, PostedLabelsShowAsGoldAtOnce) {
  EXPECT_TRUE(ProdSamples()[0]["gold"].is_null());  // the run is cached from here on
  ApiResponse r = Call("POST", {"runs", "p", "r", "labels"}, {},
                       R"({"split": "inference", "inference_name": "prod",
                           "labels": [{"id": "n0", "label": "neg"}, {"id": "n1", "label": "neg"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["imported"], 2);
  json samples = ProdSamples();
  EXPECT_EQ(samples[0]["gold"], "neg");
  EXPECT_EQ(samples[1]["gold"], "neg");
  EXPECT_EQ(samples[1]["is_correct"], samples[1]["pred"] == "neg");

  // A file body with its format; a re-import overwrites.
  r = Call("POST", {"runs", "p", "r", "labels"}, {{"split", "inference:prod"}, {"format", "csv"}},
           "id,label\nn1,pos\n");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["overwritten"], 1);
  EXPECT_EQ(json::parse(r.body)["labeled"], 2);
  EXPECT_EQ(ProdSamples()[1]["gold"], "pos");
}

TEST_F(LabelsApiTest, LabelsImportedOutsideTheServerShowAtTheNextRequest) {
  EXPECT_TRUE(ProdSamples()[2]["gold"].is_null());  // the run is cached from here on
  // As `sextant labels import` does while the server runs.
  ASSERT_OK_AND_ASSIGN(io::LabelFile f, io::ParseLabelFile("id,label\nn2,pos\n", "l.csv",
                                                           io::LabelFileFormat::kCsv));
  const SplitKey prod = SplitKey::Make(Split::kInference, "prod").value();
  ASSERT_OK(
      store::ImportLabels(tmp_.path() / "p" / "r", prod, f, {"neg", "pos"}, "l.csv").status());
  EXPECT_EQ(ProdSamples()[2]["gold"], "pos");
  // Overwritten: the same id, the same number of labels, another label.
  ASSERT_OK_AND_ASSIGN(
      f, io::ParseLabelFile("id,label\nn2,neg\n", "l.csv", io::LabelFileFormat::kCsv));
  ASSERT_OK(
      store::ImportLabels(tmp_.path() / "p" / "r", prod, f, {"neg", "pos"}, "l.csv").status());
  EXPECT_EQ(ProdSamples()[2]["gold"], "neg");
  ASSERT_OK(store::ClearImportedLabels(tmp_.path() / "p" / "r", prod).status());
  EXPECT_TRUE(ProdSamples()[2]["gold"].is_null());
}

TEST_F(LabelsApiTest, PostedLabelsAreCheckedAndAllOrNothing) {
  ApiResponse r =
      Call("POST", {"runs", "p", "r", "labels"}, {{"split", "inference:prod"}, {"format", "csv"}},
           "id,label\nn0,neg\nzz,pos\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'zz'"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("line 3"), std::string::npos) << r.body;
  r = Call("POST", {"runs", "p", "r", "labels"}, {{"split", "inference:prod"}},
           R"({"labels": [{"id": "n0", "label": "maybe"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'maybe'"), std::string::npos) << r.body;
  EXPECT_TRUE(ProdSamples()[0]["gold"].is_null()) << "nothing written";
  r = Call("POST", {"runs", "p", "r", "labels"}, {{"split", "training"}, {"format", "csv"}},
           "id,label\nt0,neg\n");
  EXPECT_EQ(r.status, 400);
}

}  // namespace
}  // namespace sextant::server
