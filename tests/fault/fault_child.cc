// The crash harness's child (crash_test.cc): does one kind of write in a loop
// and acknowledges each completed step on stdout with an unbuffered write, until
// the test kills it with SIGKILL at a random moment.
//
//   fault_child log ROOT      logs output batches into p/r (acks "B k", "F k")
//   fault_child finish ROOT   finishes p/r again and again (acks "D n")
//   fault_child select ROOT   writes selections of p/r (acks "S k")
//   fault_child create ROOT   creates runs p/c<k> with a few samples (acks "C k")
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "fault_common.h"
#include "sextant/client.h"
#include "store/selections.h"

namespace sextant::fault {
namespace {

void Ack(char kind, int64_t k) {
  const std::string line = std::string(1, kind) + " " + std::to_string(k) + "\n";
  if (write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

int Fail(const Status& st) {
  std::fprintf(stderr, "fault_child: %s\n", st.ToString().c_str());
  return 2;
}

int Log(const std::string& root) {
  auto client =
      Client::Init({.root = root, .project = "p", .run = "r", .max_pending_bytes = kMaxPending});
  if (!client.ok()) return Fail(client.status());
  if (Status st = (*client)->SetSplit(Split::kTraining); !st.ok()) return Fail(st);
  Ack('R', 0);
  for (int k = 0; k < kEpochs * kBatchesPerEpoch; ++k) {
    const LoggedBatch b = MakeLoggedBatch(k);
    if (Status st = (*client)->LogModelOutputs(b.View(), std::nullopt, b.epoch); !st.ok())
      return Fail(st);
    Ack('B', k);
    if ((k + 1) % kFlushEvery == 0) {
      if (Status st = (*client)->Flush(); !st.ok()) return Fail(st);
      Ack('F', k);
    }
  }
  return 0;
}

int Finish(const std::string& root) {
  Ack('R', 0);
  for (int n = 0;; ++n) {
    auto report = FinishRun(root, "p", "r");
    if (!report.ok()) return Fail(report.status());
    Ack('D', n);
  }
}

int Select(const std::string& root) {
  auto store = store::SelectionStore::Open(std::filesystem::path(root) / "p" / "r");
  if (!store.ok()) return Fail(store.status());
  Ack('R', 0);
  for (int k = 0;; ++k) {
    const std::string name = "sel-" + std::to_string(k);
    if (Status st = (*store)->Create(name); !st.ok()) return Fail(st);
    std::vector<store::SelectionItem> items;
    for (int i = 0; i < kBatch; ++i) items.push_back({"training", SampleId((k + i) % kSamples)});
    if (auto r = (*store)->Add(name, items); !r.ok()) return Fail(r.status());
    if (k % 2 == 1) {
      // Half of them again, then removed: the selection keeps the other half.
      items.resize(kBatch / 2);
      if (auto r = (*store)->Remove(name, items); !r.ok()) return Fail(r.status());
    }
    Ack('S', k);
  }
}

int Create(const std::string& root) {
  Ack('R', 0);
  for (int k = 0;; ++k) {
    auto client = Client::Init({.root = root, .project = "p", .run = "c" + std::to_string(k)});
    if (!client.ok()) return Fail(client.status());
    if (Status st = (*client)->SetLabelsForRun(kLabels); !st.ok()) return Fail(st);
    if (Status st =
            (*client)->LogDataSamples(TrainingSamples(0, 5), SplitKey{Split::kTraining, ""});
        !st.ok()) {
      return Fail(st);
    }
    if (Status st = (*client)->Flush(); !st.ok()) return Fail(st);
    Ack('C', k);
  }
}

}  // namespace
}  // namespace sextant::fault

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fault_child log|finish|select|create ROOT\n");
    return 64;
  }
  const std::string what = argv[1], root = argv[2];
  if (what == "log") return sextant::fault::Log(root);
  if (what == "finish") return sextant::fault::Finish(root);
  if (what == "select") return sextant::fault::Select(root);
  if (what == "create") return sextant::fault::Create(root);
  std::fprintf(stderr, "fault_child: unknown scenario '%s'\n", what.c_str());
  return 64;
}
