// A program built against an installed Sextant (tests/install/run.sh): logs a
// tiny run through the public client API, finishes it and reads it back.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "sextant/client.h"
#include "sextant/results.h"
#include "sextant/version.h"

int main(int argc, char** argv) {
  using namespace sextant;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ROOT\n", argv[0]);
    return 2;
  }
  auto fail = [](const Status& st) {
    std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
    return 1;
  };
  auto client = Client::Init({.root = argv[1], .project = "installed", .run = "r"});
  if (!client.ok()) return fail(client.status());
  if (Status st = (*client)->SetLabelsForRun({"neg", "pos"}); !st.ok()) return fail(st);
  const SplitKey train = SplitKey::Make(Split::kTraining).value();
  DataBatch data;
  std::vector<float> emb, logits;
  for (int i = 0; i < 12; ++i) {
    data.ids.push_back("s" + std::to_string(i));
    data.texts.push_back("sample " + std::to_string(i));
    data.labels.push_back(i % 2 ? "pos" : "neg");
    for (int d = 0; d < 3; ++d) emb.push_back(std::sin(1.0f * i + d));
    logits.push_back(i % 2 ? -1.0f : 1.0f);
    logits.push_back(i % 2 ? 1.0f : -1.0f);
  }
  if (Status st = (*client)->LogDataSamples(data, train); !st.ok()) return fail(st);
  OutputsBatch out;
  out.ids = data.ids;
  out.embeddings = {emb.data(), 12, 3};
  out.logits = {logits.data(), 12, 2};
  if (Status st = (*client)->LogModelOutputs(out, train, 0); !st.ok()) return fail(st);
  ProcessingOptions options;
  options.drift_k = 2;
  auto report = (*client)->Finish(options);
  if (!report.ok()) return fail(report.status());
  auto reader = RunReader::Open(argv[1], "installed", "r");
  if (!reader.ok()) return fail(reader.status());
  std::printf("sextant %s: finished %lld samples, %zu splits\n", SEXTANT_VERSION_STRING,
              static_cast<long long>(report->samples), (*reader)->info().splits.size());
  return report->samples == 12 ? 0 : 1;
}
