// The upload protocol's manifest (docs/team-server.md#uploads): what one
// upload of a local run to a team server holds, and the content-addressed
// chunks its files are cut into.
//
// An upload carries what the local run logged since its last upload: per
// split, the samples of local rows [from, to); per output log (split, epoch),
// the log rows [from, to). Its files:
//   samples/<split-dir>.jsonl            one JSON object per sample (EncodeSamples)
//   outputs/<split-dir>/epoch-<E>.ids.json   the distinct sample ids the rows name
//   outputs/<split-dir>/epoch-<E>.rows.i64   per row, an index into ids.json
//   outputs/<split-dir>/epoch-<E>.emb.f32    the rows' embeddings (float32 LE)
//   outputs/<split-dir>/epoch-<E>.out.f32    the rows' logits or probabilities
// Sample rows are local to each machine, so outputs name their samples by id.
//
// The manifest's id is the SHA-256 of its canonical JSON: the same upload,
// resumed after a crash, has the same id, and the server commits an id once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::sync {

inline constexpr int kProtocolVersion = 1;
// Files are cut into chunks of this size (the last one shorter).
inline constexpr int64_t kChunkBytes = int64_t{4} << 20;
// Bounds that keep one manifest from asking the server for absurd work.
inline constexpr int64_t kMaxManifestFiles = 100000;
inline constexpr int64_t kMaxUploadBytes = int64_t{1} << 40;

struct ChunkRef {
  std::string sha256;
  int64_t bytes = 0;
};

struct FileEntry {
  std::string path;
  int64_t bytes = 0;
  // ChunkListHash(chunks): names the file's content without hashing its
  // bytes a second time (each chunk's hash covers them).
  std::string sha256;
  std::vector<ChunkRef> chunks;
};

// SHA-256 of the chunks' hex digests, concatenated in order.
std::string ChunkListHash(const std::vector<ChunkRef>& chunks);

struct SampleSegment {
  SplitKey split;
  int64_t from = 0, to = 0;  // local sample rows
};

struct OutputSegment {
  SplitKey split;
  int32_t epoch = 0;
  OutputKind kind = OutputKind::kLogits;
  int64_t emb_dim = 0, out_dim = 0;
  int64_t from = 0, to = 0;  // local log rows
  int64_t ids = 0;           // entries of the ids file
};

// When an inference set happened, as the local run records it (the server
// applies store::RunStore::RecordInferenceTime's rule).
struct SetTime {
  std::string name;
  double time = 0;
  std::string source;  // given, first_sample or live_window
};

struct Manifest {
  int protocol = kProtocolVersion;
  std::string project, run;
  TaskType task = TaskType::kTextClassification;
  std::vector<std::string> labels;
  std::optional<TaggingSchema> tagging_schema;
  std::string source;    // the local run's upload source id (random, kept in its meta)
  int64_t sequence = 0;  // the local run's upload number, from 1
  std::vector<SampleSegment> samples;
  std::vector<OutputSegment> outputs;
  std::vector<FileEntry> files;
  std::vector<SetTime> set_times;  // every inference set's time (absent from JSON when none)

  std::string ToJson() const;  // canonical: the same manifest, the same bytes
  std::string Id() const;      // SHA-256 hex of ToJson()
  // Parses and checks the structure: names, ranges, that `files` are exactly
  // the files the segments need with consistent sizes, and chunk sizes.
  // InvalidArgument naming the field.
  static Result<Manifest> Parse(const std::string& json);
};

std::string SamplesPath(const SplitKey& split);
std::string OutputPath(const SplitKey& split, int32_t epoch, const char* ext);

// The file sizes a segment implies (the ids and samples files vary).
int64_t RowsFileBytes(const OutputSegment& s);
int64_t EmbFileBytes(const OutputSegment& s);
int64_t OutFileBytes(const OutputSegment& s);

}  // namespace sextant::sync
