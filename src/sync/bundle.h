// Building an upload from a local run (the client side) and decoding one
// (the server side); the format is sync/manifest.h's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/run_store.h"
#include "sync/manifest.h"

namespace sextant::sync {

// What a local run has uploaded, kept in its meta table (key "upload_state")
// so that it survives crashes with the run: the source id, the number of
// uploads made, per split the samples and per log the rows uploaded, and the
// manifest of an upload begun but not known to be committed.
struct UploadState {
  std::string source;
  int64_t sequence = 0;
  std::map<std::string, int64_t> samples;  // split -> rows uploaded
  std::map<std::string, int64_t> outputs;  // "split@epoch" -> log rows uploaded
  std::optional<std::string> pending;      // the manifest JSON

  std::string ToJson() const;
  static Result<UploadState> Parse(const std::string& json);
  static std::string LogKey(const SplitKey& split, int32_t epoch);
};

inline constexpr const char* kUploadStateKey = "upload_state";

Result<UploadState> ReadUploadState(const store::RunStore& local);
Status WriteUploadState(store::RunStore& local, const UploadState& state);

// One file of a local upload: bytes in memory, or a range of a local log file.
struct FileSource {
  std::string bytes;
  std::filesystem::path file;
  int64_t offset = 0;
};

struct LocalUpload {
  Manifest manifest;
  int64_t chunk_bytes = kChunkBytes;
  std::vector<FileSource> sources;  // parallel to manifest.files
};

// The segments logged since `state`'s watermarks (empty when nothing is new),
// in a manifest without files.
Result<Manifest> PlanUpload(const store::RunStore& local, const std::string& project,
                            const std::string& run, const UploadState& state);
// Fills in the files (and their chunk hashes) of a planned manifest, reading
// the local run.
// `chunk_bytes` (at most kChunkBytes) is the size files are cut at.
Result<LocalUpload> BuildUpload(const store::RunStore& local, Manifest manifest,
                                int64_t chunk_bytes = kChunkBytes);
// The bytes of chunk `chunk` of file `file`.
Result<std::string> ReadChunk(const LocalUpload& upload, size_t file, size_t chunk);

// The server side: an upload's files decoded and checked on their own (ids,
// shapes, finite values, stored JSON); the run-level checks are the server's.
struct DecodedOutputs {
  OutputSegment segment;
  std::vector<std::string> ids;    // distinct sample ids
  std::vector<int64_t> id_of_row;  // per row, an index into ids
  std::vector<float> embeddings;   // rows x emb_dim
  std::vector<float> outputs;      // rows x out_dim
};

struct DecodedUpload {
  std::vector<std::pair<SplitKey, std::vector<store::SampleRecord>>> samples;
  std::vector<DecodedOutputs> outputs;
};

// `read_file` returns a file's whole bytes, already checked against its SHA-256.
Result<DecodedUpload> DecodeUpload(
    const Manifest& manifest,
    const std::function<Result<std::string>(const FileEntry& file)>& read_file);

}  // namespace sextant::sync
