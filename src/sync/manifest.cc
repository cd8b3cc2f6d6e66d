#include "sync/manifest.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "sync/sha256.h"

namespace sextant::sync {
namespace {

using nlohmann::ordered_json;

const char* KindName(OutputKind k) { return k == OutputKind::kLogits ? "logits" : "probs"; }

ordered_json ChunksJson(const std::vector<ChunkRef>& chunks) {
  ordered_json out = ordered_json::array();
  for (const ChunkRef& c : chunks) out.push_back({c.sha256, c.bytes});
  return out;
}

// Reads a JSON value of an expected type; InvalidArgument naming the field.
template <typename T>
Result<T> Field(const ordered_json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) {
    return Status::Invalid("manifest: " + where + key + " is missing");
  }
  const ordered_json& v = j.at(key);
  try {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) throw std::runtime_error("");
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) throw std::runtime_error("");
    }
    return v.get<T>();
  } catch (const std::exception&) {
    return Status::Invalid("manifest: " + where + key + " has the wrong type");
  }
}

Status CheckRange(int64_t from, int64_t to, const std::string& where) {
  if (from < 0 || to <= from || to > (int64_t{1} << 40)) {
    return Status::Invalid("manifest: " + where + " rows [" + std::to_string(from) + ", " +
                           std::to_string(to) + "): expected 0 <= from < to <= 2^40");
  }
  return Status::OK();
}

}  // namespace

std::string ChunkListHash(const std::vector<ChunkRef>& chunks) {
  std::string digests;
  digests.reserve(chunks.size() * 64);
  for (const ChunkRef& c : chunks) digests += c.sha256;
  return Sha256Hex(digests);
}

std::string SamplesPath(const SplitKey& split) { return "samples/" + split.DirName() + ".jsonl"; }

std::string OutputPath(const SplitKey& split, int32_t epoch, const char* ext) {
  return "outputs/" + split.DirName() + "/epoch-" + std::to_string(epoch) + ext;
}

int64_t RowsFileBytes(const OutputSegment& s) { return (s.to - s.from) * 8; }
int64_t EmbFileBytes(const OutputSegment& s) { return (s.to - s.from) * s.emb_dim * 4; }
int64_t OutFileBytes(const OutputSegment& s) { return (s.to - s.from) * s.out_dim * 4; }

std::string Manifest::ToJson() const {
  ordered_json j;
  j["protocol"] = protocol;
  j["project"] = project;
  j["run"] = run;
  j["task"] = std::string(TaskTypeName(task));
  j["labels"] = labels;
  j["tagging_schema"] =
      tagging_schema ? ordered_json(std::string(TaggingSchemaName(*tagging_schema))) : nullptr;
  j["source"] = source;
  j["sequence"] = sequence;
  ordered_json samples_json = ordered_json::array();
  for (const SampleSegment& s : samples) {
    samples_json.push_back({{"split", s.split.ToString()}, {"from", s.from}, {"to", s.to}});
  }
  j["samples"] = std::move(samples_json);
  ordered_json outputs_json = ordered_json::array();
  for (const OutputSegment& s : outputs) {
    outputs_json.push_back({{"split", s.split.ToString()},
                            {"epoch", s.epoch},
                            {"kind", KindName(s.kind)},
                            {"emb_dim", s.emb_dim},
                            {"out_dim", s.out_dim},
                            {"from", s.from},
                            {"to", s.to},
                            {"ids", s.ids}});
  }
  j["outputs"] = std::move(outputs_json);
  ordered_json files_json = ordered_json::array();
  for (const FileEntry& f : files) {
    files_json.push_back({{"path", f.path},
                          {"bytes", f.bytes},
                          {"sha256", f.sha256},
                          {"chunks", ChunksJson(f.chunks)}});
  }
  j["files"] = std::move(files_json);
  if (!set_times.empty()) {
    ordered_json times = ordered_json::array();
    for (const SetTime& t : set_times) {
      times.push_back({{"name", t.name}, {"time", t.time}, {"source", t.source}});
    }
    j["set_times"] = std::move(times);
  }
  return j.dump();
}

std::string Manifest::Id() const { return Sha256Hex(ToJson()); }

Result<Manifest> Manifest::Parse(const std::string& text) {
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Invalid("manifest: not a JSON object");
  }
  Manifest m;
  SEXTANT_ASSIGN_OR_RETURN(int64_t protocol, Field<int64_t>(j, "protocol", ""));
  if (protocol != kProtocolVersion) {
    return Status::FailedPrecondition(
        "manifest: protocol " + std::to_string(protocol) + "; this server speaks upload protocol " +
        std::to_string(kProtocolVersion) + " (upgrade the client or the server)");
  }
  SEXTANT_ASSIGN_OR_RETURN(m.project, Field<std::string>(j, "project", ""));
  SEXTANT_ASSIGN_OR_RETURN(m.run, Field<std::string>(j, "run", ""));
  SEXTANT_RETURN_IF_ERROR(ValidateName("manifest: project", m.project));
  SEXTANT_RETURN_IF_ERROR(ValidateName("manifest: run", m.run));
  SEXTANT_ASSIGN_OR_RETURN(std::string task, Field<std::string>(j, "task", ""));
  SEXTANT_ASSIGN_OR_RETURN(m.task, ParseTaskType(task));
  if (!j.contains("labels") || !j["labels"].is_array()) {
    return Status::Invalid("manifest: labels must be an array of strings");
  }
  for (const auto& l : j["labels"]) {
    if (!l.is_string()) return Status::Invalid("manifest: labels must be an array of strings");
    m.labels.push_back(l.get<std::string>());
  }
  if (j.contains("tagging_schema") && !j["tagging_schema"].is_null()) {
    if (!j["tagging_schema"].is_string()) {
      return Status::Invalid("manifest: tagging_schema must be a string or null");
    }
    SEXTANT_ASSIGN_OR_RETURN(m.tagging_schema,
                             ParseTaggingSchema(j["tagging_schema"].get<std::string>()));
  }
  SEXTANT_ASSIGN_OR_RETURN(m.source, Field<std::string>(j, "source", ""));
  if (m.source.empty() || m.source.size() > 128) {
    return Status::Invalid("manifest: source must be 1 to 128 characters");
  }
  SEXTANT_ASSIGN_OR_RETURN(m.sequence, Field<int64_t>(j, "sequence", ""));
  if (j.contains("set_times")) {
    if (!j["set_times"].is_array() ||
        j["set_times"].size() > static_cast<size_t>(kMaxManifestFiles)) {
      return Status::Invalid("manifest: set_times must be an array of at most " +
                             std::to_string(kMaxManifestFiles) + " entries");
    }
    for (size_t i = 0; i < j["set_times"].size(); ++i) {
      const auto& t = j["set_times"][i];
      const std::string where = "set_times[" + std::to_string(i) + "].";
      SetTime st;
      SEXTANT_ASSIGN_OR_RETURN(st.name, Field<std::string>(t, "name", where));
      SEXTANT_ASSIGN_OR_RETURN(st.time, Field<double>(t, "time", where));
      SEXTANT_ASSIGN_OR_RETURN(st.source, Field<std::string>(t, "source", where));
      SEXTANT_RETURN_IF_ERROR(SplitKey::Make(Split::kInference, st.name).status());
      if (st.source != "given" && st.source != "first_sample" && st.source != "live_window") {
        return Status::Invalid("manifest: " + where +
                               "source must be given, first_sample or live_window");
      }
      m.set_times.push_back(std::move(st));
    }
  }

  // The files the segments need, with their sizes where fixed (-1: any).
  std::map<std::string, int64_t> expected;
  auto expect = [&](const std::string& path, int64_t bytes) -> Status {
    if (!expected.emplace(path, bytes).second) {
      return Status::Invalid("manifest: two segments need the file '" + path + "'");
    }
    return Status::OK();
  };
  if (!j.contains("samples") || !j["samples"].is_array() || !j.contains("outputs") ||
      !j["outputs"].is_array() || !j.contains("files") || !j["files"].is_array()) {
    return Status::Invalid("manifest: samples, outputs and files must be arrays");
  }
  for (size_t i = 0; i < j["samples"].size(); ++i) {
    const auto& s = j["samples"][i];
    const std::string where = "samples[" + std::to_string(i) + "].";
    SampleSegment seg;
    SEXTANT_ASSIGN_OR_RETURN(std::string split, Field<std::string>(s, "split", where));
    SEXTANT_ASSIGN_OR_RETURN(seg.split, SplitKey::Parse(split));
    SEXTANT_ASSIGN_OR_RETURN(seg.from, Field<int64_t>(s, "from", where));
    SEXTANT_ASSIGN_OR_RETURN(seg.to, Field<int64_t>(s, "to", where));
    SEXTANT_RETURN_IF_ERROR(CheckRange(seg.from, seg.to, where));
    SEXTANT_RETURN_IF_ERROR(expect(SamplesPath(seg.split), -1));
    m.samples.push_back(seg);
  }
  for (size_t i = 0; i < j["outputs"].size(); ++i) {
    const auto& s = j["outputs"][i];
    const std::string where = "outputs[" + std::to_string(i) + "].";
    OutputSegment seg;
    SEXTANT_ASSIGN_OR_RETURN(std::string split, Field<std::string>(s, "split", where));
    SEXTANT_ASSIGN_OR_RETURN(seg.split, SplitKey::Parse(split));
    SEXTANT_ASSIGN_OR_RETURN(int64_t epoch, Field<int64_t>(s, "epoch", where));
    if (epoch < 0 || epoch > INT32_MAX) {
      return Status::Invalid("manifest: " + where + "epoch out of range");
    }
    seg.epoch = static_cast<int32_t>(epoch);
    SEXTANT_ASSIGN_OR_RETURN(std::string kind, Field<std::string>(s, "kind", where));
    if (kind != "logits" && kind != "probs") {
      return Status::Invalid("manifest: " + where + "kind must be logits or probs");
    }
    seg.kind = kind == "logits" ? OutputKind::kLogits : OutputKind::kProbabilities;
    SEXTANT_ASSIGN_OR_RETURN(seg.emb_dim, Field<int64_t>(s, "emb_dim", where));
    SEXTANT_ASSIGN_OR_RETURN(seg.out_dim, Field<int64_t>(s, "out_dim", where));
    if (seg.emb_dim < 1 || seg.emb_dim > (1 << 20) || seg.out_dim < 1 || seg.out_dim > (1 << 20)) {
      return Status::Invalid("manifest: " + where + "emb_dim and out_dim must be 1 to 2^20");
    }
    SEXTANT_ASSIGN_OR_RETURN(seg.from, Field<int64_t>(s, "from", where));
    SEXTANT_ASSIGN_OR_RETURN(seg.to, Field<int64_t>(s, "to", where));
    SEXTANT_RETURN_IF_ERROR(CheckRange(seg.from, seg.to, where));
    SEXTANT_ASSIGN_OR_RETURN(seg.ids, Field<int64_t>(s, "ids", where));
    if (seg.ids < 1 || seg.ids > seg.to - seg.from) {
      return Status::Invalid("manifest: " + where + "ids must be 1 to the segment's rows");
    }
    SEXTANT_RETURN_IF_ERROR(expect(OutputPath(seg.split, seg.epoch, ".ids.json"), -1));
    SEXTANT_RETURN_IF_ERROR(
        expect(OutputPath(seg.split, seg.epoch, ".rows.i64"), RowsFileBytes(seg)));
    SEXTANT_RETURN_IF_ERROR(
        expect(OutputPath(seg.split, seg.epoch, ".emb.f32"), EmbFileBytes(seg)));
    SEXTANT_RETURN_IF_ERROR(
        expect(OutputPath(seg.split, seg.epoch, ".out.f32"), OutFileBytes(seg)));
    m.outputs.push_back(seg);
  }
  if (j["files"].size() > static_cast<size_t>(kMaxManifestFiles)) {
    return Status::Invalid("manifest: too many files");
  }
  int64_t total = 0;
  std::set<std::string> seen;
  for (size_t i = 0; i < j["files"].size(); ++i) {
    const auto& f = j["files"][i];
    const std::string where = "files[" + std::to_string(i) + "].";
    FileEntry e;
    SEXTANT_ASSIGN_OR_RETURN(e.path, Field<std::string>(f, "path", where));
    SEXTANT_ASSIGN_OR_RETURN(e.bytes, Field<int64_t>(f, "bytes", where));
    SEXTANT_ASSIGN_OR_RETURN(e.sha256, Field<std::string>(f, "sha256", where));
    auto it = expected.find(e.path);
    if (it == expected.end() || !seen.insert(e.path).second) {
      return Status::Invalid("manifest: " + where + "path '" + e.path +
                             "' is not a file the segments need, or is listed twice");
    }
    if (e.bytes < 1 || (it->second >= 0 && e.bytes != it->second)) {
      return Status::Invalid("manifest: " + where + "bytes " + std::to_string(e.bytes) + " for '" +
                             e.path + "'; expected " +
                             (it->second >= 0 ? std::to_string(it->second) : "at least 1"));
    }
    if (!IsSha256Hex(e.sha256)) {
      return Status::Invalid("manifest: " + where + "sha256 must be 64 lowercase hex digits");
    }
    if (!f.contains("chunks") || !f["chunks"].is_array()) {
      return Status::Invalid("manifest: " + where + "chunks must be an array");
    }
    int64_t sum = 0;
    for (const auto& c : f["chunks"]) {
      if (!c.is_array() || c.size() != 2 || !c[0].is_string() || !c[1].is_number_integer()) {
        return Status::Invalid("manifest: " + where + "chunks must be [sha256, bytes] pairs");
      }
      ChunkRef ref{c[0].get<std::string>(), c[1].get<int64_t>()};
      if (!IsSha256Hex(ref.sha256) || ref.bytes < 1 || ref.bytes > kChunkBytes) {
        return Status::Invalid("manifest: " + where + "a chunk needs a sha256 and 1 to " +
                               std::to_string(kChunkBytes) + " bytes");
      }
      sum += ref.bytes;
      e.chunks.push_back(std::move(ref));
    }
    if (e.sha256 != ChunkListHash(e.chunks)) {
      return Status::Invalid("manifest: " + where + "sha256 is not the hash of its chunk list");
    }
    if (sum != e.bytes) {
      return Status::Invalid("manifest: " + where + "chunks add up to " + std::to_string(sum) +
                             " bytes, the file has " + std::to_string(e.bytes));
    }
    total += e.bytes;
    if (total > kMaxUploadBytes) return Status::Invalid("manifest: the upload is over 1 TiB");
    m.files.push_back(std::move(e));
  }
  if (seen.size() != expected.size()) {
    return Status::Invalid("manifest: files lists " + std::to_string(seen.size()) +
                           " files; the segments need " + std::to_string(expected.size()));
  }
  if (m.samples.empty() && m.outputs.empty()) {
    return Status::Invalid("manifest: an upload needs samples or outputs");
  }
  return m;
}

}  // namespace sextant::sync
