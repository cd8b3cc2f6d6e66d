#include "sync/bundle.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "sync/sha256.h"

namespace sextant::sync {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    const ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<std::string> ReadRange(const fs::path& path, int64_t offset, int64_t bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open '" + path.string() + "': " + strerror(errno));
  std::string out(static_cast<size_t>(bytes), '\0');
  int64_t done = 0;
  while (done < bytes) {
    const ssize_t n =
        pread(fd, out.data() + done, static_cast<size_t>(bytes - done), offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return Status::IOError("cannot read " + std::to_string(bytes) + " bytes at " +
                             std::to_string(offset) + " of '" + path.string() + "'" +
                             (n < 0 ? std::string(": ") + strerror(errno) : ": file too short"));
    }
    done += n;
  }
  close(fd);
  return out;
}

std::string EncodeSample(const store::SampleRecord& s, TaskType task) {
  json j;
  j["id"] = s.id;
  j["text"] = s.text;
  j["label"] = s.label ? json(*s.label) : json(nullptr);
  j["meta"] = s.meta_json;
  if (task == TaskType::kNaturalLanguageInference) {
    j["premise"] = s.premise;
    j["hypothesis"] = s.hypothesis;
  } else if (task == TaskType::kNamedEntityRecognition) {
    json tokens = json::array();
    for (const CharRange& t : s.tokens) tokens.push_back({t.start, t.end});
    j["tokens"] = std::move(tokens);
    json spans = json::array();
    for (const GoldSpan& g : s.gold_spans) spans.push_back({g.start, g.end, g.label});
    j["gold_spans"] = std::move(spans);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<store::SampleRecord> DecodeSample(const std::string& line, TaskType task,
                                         const std::string& where) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Invalid(where + ": not a JSON object");
  auto text_field = [&](const char* key) -> Result<std::string> {
    if (!j.contains(key) || !j[key].is_string()) {
      return Status::Invalid(where + ": " + key + " must be a string");
    }
    return j[key].get<std::string>();
  };
  store::SampleRecord s;
  SEXTANT_ASSIGN_OR_RETURN(s.id, text_field("id"));
  const std::string at = where + " (sample id '" + s.id + "')";
  if (s.id.empty()) return Status::Invalid(where + ": id is empty");
  SEXTANT_ASSIGN_OR_RETURN(s.text, text_field("text"));
  SEXTANT_ASSIGN_OR_RETURN(s.meta_json, text_field("meta"));
  SEXTANT_RETURN_IF_ERROR(store::CheckStoredJsonObject(s.meta_json, at + ": meta"));
  if (!j.contains("label")) return Status::Invalid(at + ": label is missing");
  if (!j["label"].is_null()) {
    if (!j["label"].is_number_integer()) return Status::Invalid(at + ": label must be an index");
    const int64_t label = j["label"].get<int64_t>();
    if (label < 0 || label > INT32_MAX) return Status::Invalid(at + ": label out of range");
    s.label = static_cast<int32_t>(label);
  }
  if (task == TaskType::kNaturalLanguageInference) {
    SEXTANT_ASSIGN_OR_RETURN(s.premise, text_field("premise"));
    SEXTANT_ASSIGN_OR_RETURN(s.hypothesis, text_field("hypothesis"));
  } else if (task == TaskType::kNamedEntityRecognition) {
    if (!j.contains("tokens") || !j.contains("gold_spans")) {
      return Status::Invalid(at + ": NER samples need tokens and gold_spans");
    }
    SEXTANT_ASSIGN_OR_RETURN(s.tokens,
                             store::ParseStoredTokens(j["tokens"].dump(), at + ": tokens"));
    SEXTANT_ASSIGN_OR_RETURN(
        s.gold_spans, store::ParseStoredGoldSpans(j["gold_spans"].dump(), at + ": gold_spans"));
  }
  return s;
}

void AddFile(const std::string& path, FileSource source, int64_t bytes, LocalUpload* up) {
  FileEntry e;
  e.path = path;
  e.bytes = bytes;
  up->manifest.files.push_back(std::move(e));
  up->sources.push_back(std::move(source));
}

Result<std::vector<float>> Floats(const std::string& bytes, int64_t expected_values,
                                  const std::string& path) {
  if (static_cast<int64_t>(bytes.size()) != expected_values * 4) {
    return Status::Invalid("upload file '" + path + "' has " + std::to_string(bytes.size()) +
                           " bytes; expected " + std::to_string(expected_values * 4));
  }
  std::vector<float> out(static_cast<size_t>(expected_values));
  std::memcpy(out.data(), bytes.data(), bytes.size());
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) {
      return Status::Invalid("upload file '" + path + "': value " + std::to_string(i) +
                             " is not finite");
    }
  }
  return out;
}

}  // namespace

std::string UploadState::LogKey(const SplitKey& split, int32_t epoch) {
  return split.ToString() + "@" + std::to_string(epoch);
}

std::string UploadState::ToJson() const {
  json j;
  j["source"] = source;
  j["sequence"] = sequence;
  j["samples"] = samples;
  j["outputs"] = outputs;
  j["pending"] = pending ? json(*pending) : json(nullptr);
  return j.dump();
}

namespace {

// An integer that fits int64_t, else throws naming `what`. nlohmann's
// get<int64_t>() of a number beyond it (a double such as 8.9e25) is undefined
// behaviour, not an exception (found by fuzz/manifest_fuzzer.cc).
int64_t Int64Of(const json& v, const std::string& what) {
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() &&
       v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    throw std::runtime_error(what + ": expected an integer of at most 63 bits");
  }
  return v.get<int64_t>();
}

std::map<std::string, int64_t> CountsOf(const json& v, const std::string& what) {
  if (!v.is_object()) throw std::runtime_error(what + ": expected an object");
  std::map<std::string, int64_t> out;
  for (const auto& [key, count] : v.items()) out[key] = Int64Of(count, what + "." + key);
  return out;
}

}  // namespace

Result<UploadState> UploadState::Parse(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  UploadState s;
  try {
    if (j.is_discarded() || !j.is_object()) throw std::runtime_error("not an object");
    s.source = j.at("source").get<std::string>();
    s.sequence = Int64Of(j.at("sequence"), "sequence");
    s.samples = CountsOf(j.at("samples"), "samples");
    s.outputs = CountsOf(j.at("outputs"), "outputs");
    if (!j.at("pending").is_null()) s.pending = j.at("pending").get<std::string>();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("sextant.db table meta: upload_state is damaged: ") +
                           e.what());
  }
  return s;
}

Result<UploadState> ReadUploadState(const store::RunStore& local) {
  SEXTANT_ASSIGN_OR_RETURN(std::optional<std::string> text, local.ReadMetaValue(kUploadStateKey));
  if (!text) {
    UploadState fresh;
    fresh.source = RandomHex(16);
    return fresh;
  }
  return UploadState::Parse(*text);
}

Status WriteUploadState(store::RunStore& local, const UploadState& state) {
  return local.WriteMetaValue(kUploadStateKey, state.ToJson());
}

Result<Manifest> PlanUpload(const store::RunStore& local, const std::string& project,
                            const std::string& run, const UploadState& state) {
  Manifest m;
  m.project = project;
  m.run = run;
  m.task = local.task();
  m.labels = local.labels();
  m.tagging_schema = local.tagging_schema();
  m.source = state.source;
  m.sequence = state.sequence + 1;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<SplitKey> splits, local.ListSplits());
  for (const SplitKey& split : splits) {
    SEXTANT_ASSIGN_OR_RETURN(int64_t count, local.SampleCount(split));
    auto it = state.samples.find(split.ToString());
    const int64_t done = it == state.samples.end() ? 0 : it->second;
    if (count > done) m.samples.push_back({split, done, count});
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::OutputLogInfo> logs, local.ListOutputLogs());
  for (const store::OutputLogInfo& log : logs) {
    auto it = state.outputs.find(UploadState::LogKey(log.split, log.epoch));
    const int64_t done = it == state.outputs.end() ? 0 : it->second;
    if (log.rows > done) {
      m.outputs.push_back(
          {log.split, log.epoch, log.kind, log.emb_dim, log.out_dim, done, log.rows, 0});
    }
  }
  SEXTANT_ASSIGN_OR_RETURN(std::vector<store::InferenceSetTime> times, local.InferenceTimes());
  for (const store::InferenceSetTime& t : times) {
    m.set_times.push_back({t.name, t.time, store::SetTimeSourceName(t.source)});
  }
  return m;
}

Result<LocalUpload> BuildUpload(const store::RunStore& local, Manifest manifest,
                                int64_t chunk_bytes) {
  if (chunk_bytes < 1 || chunk_bytes > kChunkBytes) {
    return Status::Invalid("chunk_bytes: must be 1 to " + std::to_string(kChunkBytes));
  }
  LocalUpload up;
  up.chunk_bytes = chunk_bytes;
  up.manifest = std::move(manifest);
  up.manifest.files.clear();
  for (const SampleSegment& seg : up.manifest.samples) {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<store::SampleRecord> all, local.ReadSamples(seg.split));
    if (static_cast<int64_t>(all.size()) < seg.to) {
      return Status::FailedPrecondition("split '" + seg.split.ToString() + "' has " +
                                        std::to_string(all.size()) + " samples; the upload needs " +
                                        std::to_string(seg.to));
    }
    std::string text;
    for (int64_t r = seg.from; r < seg.to; ++r) {
      text += EncodeSample(all[static_cast<size_t>(r)], local.task());
      text += '\n';
    }
    const auto bytes = static_cast<int64_t>(text.size());
    AddFile(SamplesPath(seg.split), FileSource{std::move(text), {}, 0}, bytes, &up);
  }
  for (OutputSegment& seg : up.manifest.outputs) {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<int64_t> rows, local.ReadOutputRows(seg.split, seg.epoch));
    SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> sample_ids, local.SampleIds(seg.split));
    if (static_cast<int64_t>(rows.size()) < seg.to) {
      return Status::FailedPrecondition("the output log of split '" + seg.split.ToString() +
                                        "' epoch " + std::to_string(seg.epoch) + " has " +
                                        std::to_string(rows.size()) + " rows; the upload needs " +
                                        std::to_string(seg.to));
    }
    // Rows name samples by id: distinct ids in order of first use, and per
    // row an index into them.
    std::unordered_map<int64_t, int64_t> index_of_row;
    json ids = json::array();
    std::string index_bytes(static_cast<size_t>((seg.to - seg.from) * 8), '\0');
    for (int64_t r = seg.from; r < seg.to; ++r) {
      const int64_t sample_row = rows[static_cast<size_t>(r)];
      auto [it, added] = index_of_row.emplace(sample_row, static_cast<int64_t>(ids.size()));
      if (added) ids.push_back(sample_ids.at(static_cast<size_t>(sample_row)));
      std::memcpy(index_bytes.data() + (r - seg.from) * 8, &it->second, 8);
    }
    seg.ids = static_cast<int64_t>(ids.size());
    std::string ids_text = ids.dump(-1, ' ', false, json::error_handler_t::replace);
    const auto ids_bytes = static_cast<int64_t>(ids_text.size());
    AddFile(OutputPath(seg.split, seg.epoch, ".ids.json"), FileSource{std::move(ids_text), {}, 0},
            ids_bytes, &up);
    AddFile(OutputPath(seg.split, seg.epoch, ".rows.i64"),
            FileSource{std::move(index_bytes), {}, 0}, RowsFileBytes(seg), &up);
    AddFile(
        OutputPath(seg.split, seg.epoch, ".emb.f32"),
        FileSource{{}, local.LogPath(seg.split, seg.epoch, ".emb.f32"), seg.from * seg.emb_dim * 4},
        EmbFileBytes(seg), &up);
    AddFile(
        OutputPath(seg.split, seg.epoch, ".out.f32"),
        FileSource{{}, local.LogPath(seg.split, seg.epoch, ".out.f32"), seg.from * seg.out_dim * 4},
        OutFileBytes(seg), &up);
  }
  // Chunk hashes: one pass over the bytes.
  for (size_t f = 0; f < up.manifest.files.size(); ++f) {
    FileEntry& e = up.manifest.files[f];
    for (int64_t off = 0; off < e.bytes; off += chunk_bytes) {
      const size_t chunk = e.chunks.size();
      e.chunks.push_back({"", std::min(chunk_bytes, e.bytes - off)});
      SEXTANT_ASSIGN_OR_RETURN(std::string bytes, ReadChunk(up, f, chunk));
      e.chunks.back().sha256 = Sha256Hex(bytes);
    }
    e.sha256 = ChunkListHash(e.chunks);
  }
  return up;
}

Result<std::string> ReadChunk(const LocalUpload& up, size_t file, size_t chunk) {
  const FileEntry& e = up.manifest.files.at(file);
  const FileSource& src = up.sources.at(file);
  const int64_t offset = static_cast<int64_t>(chunk) * up.chunk_bytes;
  const int64_t bytes = e.chunks.at(chunk).bytes;
  if (src.file.empty())
    return src.bytes.substr(static_cast<size_t>(offset), static_cast<size_t>(bytes));
  return ReadRange(src.file, src.offset + offset, bytes);
}

Result<DecodedUpload> DecodeUpload(
    const Manifest& m, const std::function<Result<std::string>(const FileEntry&)>& read_file) {
  std::map<std::string, const FileEntry*> files;
  for (const FileEntry& f : m.files) files[f.path] = &f;
  auto read = [&](const std::string& path) -> Result<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return Status::Invalid("upload: file '" + path + "' is missing");
    return read_file(*it->second);
  };
  DecodedUpload out;
  for (const SampleSegment& seg : m.samples) {
    const std::string path = SamplesPath(seg.split);
    SEXTANT_ASSIGN_OR_RETURN(std::string text, read(path));
    std::vector<store::SampleRecord> records;
    std::set<std::string> ids;
    size_t start = 0;
    for (int64_t line = 0; start < text.size(); ++line) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string where = "upload file '" + path + "' line " + std::to_string(line + 1);
      SEXTANT_ASSIGN_OR_RETURN(store::SampleRecord s,
                               DecodeSample(text.substr(start, end - start), m.task, where));
      if (s.label && *s.label >= static_cast<int32_t>(m.labels.size())) {
        return Status::Invalid(where + " (sample id '" + s.id + "'): label " +
                               std::to_string(*s.label) + " is not an index into the " +
                               std::to_string(m.labels.size()) + " labels");
      }
      if (!ids.insert(s.id).second) {
        return Status::Invalid(where + ": sample id '" + s.id + "' appears twice in the upload");
      }
      records.push_back(std::move(s));
      start = end + 1;
    }
    if (static_cast<int64_t>(records.size()) != seg.to - seg.from) {
      return Status::Invalid("upload file '" + path + "' holds " + std::to_string(records.size()) +
                             " samples; the manifest says " + std::to_string(seg.to - seg.from));
    }
    out.samples.emplace_back(seg.split, std::move(records));
  }
  for (const OutputSegment& seg : m.outputs) {
    DecodedOutputs d;
    d.segment = seg;
    const std::string ids_path = OutputPath(seg.split, seg.epoch, ".ids.json");
    SEXTANT_ASSIGN_OR_RETURN(std::string ids_text, read(ids_path));
    json ids = json::parse(ids_text, nullptr, /*allow_exceptions=*/false);
    if (ids.is_discarded() || !ids.is_array() || static_cast<int64_t>(ids.size()) != seg.ids) {
      return Status::Invalid("upload file '" + ids_path + "': expected a JSON array of " +
                             std::to_string(seg.ids) + " sample ids");
    }
    for (const auto& id : ids) {
      if (!id.is_string()) {
        return Status::Invalid("upload file '" + ids_path + "': sample ids must be strings");
      }
      d.ids.push_back(id.get<std::string>());
    }
    const std::string rows_path = OutputPath(seg.split, seg.epoch, ".rows.i64");
    SEXTANT_ASSIGN_OR_RETURN(std::string rows, read(rows_path));
    const int64_t n = seg.to - seg.from;
    if (static_cast<int64_t>(rows.size()) != n * 8) {
      return Status::Invalid("upload file '" + rows_path + "' has the wrong size");
    }
    d.id_of_row.resize(static_cast<size_t>(n));
    std::memcpy(d.id_of_row.data(), rows.data(), rows.size());
    for (int64_t i = 0; i < n; ++i) {
      if (d.id_of_row[i] < 0 || d.id_of_row[i] >= seg.ids) {
        return Status::Invalid("upload file '" + rows_path + "': row " + std::to_string(i) +
                               " names id " + std::to_string(d.id_of_row[i]) + " of " +
                               std::to_string(seg.ids));
      }
    }
    const std::string emb_path = OutputPath(seg.split, seg.epoch, ".emb.f32");
    SEXTANT_ASSIGN_OR_RETURN(std::string emb, read(emb_path));
    SEXTANT_ASSIGN_OR_RETURN(d.embeddings, Floats(emb, n * seg.emb_dim, emb_path));
    emb = std::string();
    const std::string out_path = OutputPath(seg.split, seg.epoch, ".out.f32");
    SEXTANT_ASSIGN_OR_RETURN(std::string outs, read(out_path));
    SEXTANT_ASSIGN_OR_RETURN(d.outputs, Floats(outs, n * seg.out_dim, out_path));
    out.outputs.push_back(std::move(d));
  }
  return out;
}

}  // namespace sextant::sync
