// The drift shard tasks: "kcore" and "knn" (processing/shard_tasks.h).
//
// Spec of both (file names relative to the work directory):
//   "index":  a CosineIndex::Write file: the training reference, or one shard of it
//   "rows":   a float32 .npy of raw embeddings (ShardWorkspace::SplitRows)
//   "sample": optional int64 .npy: the rows of "rows" that are the queries, in
//             order (the training leave-one-out sample, drift::PlanLeaveOneOut);
//             without it query i is row i
//   "begin", "end": the query positions [begin, end) this task covers
//   "k":      neighbours searched (the k-core's k; k + 1 for the sampled reference)
// "kcore" only:
//   "leave_one_out": bool; query i is index row i and is not its own neighbour
//             (the whole-training reference; needs no "sample"; the row left
//             out is the GLOBAL row begin + i)
// "knn" only:
//   "offset": the training row of the shard index's row 0 (added to its rows)
//
// Queries are normalised by the task with index::NormalizeRows, row by row as
// the driver's in-process path does, and searched by the drift functions the
// in-process path calls, so outputs are bitwise those of a single-machine finish.
#include <algorithm>
#include <vector>

#include "drift/knn_drift.h"
#include "index/cosine_index.h"
#include "io/npy.h"
#include "processing/shard_tasks.h"

namespace sextant::processing {
namespace {

// A task's training index (once per process) and its normalised query rows.
struct DriftTaskInput {
  std::shared_ptr<const index::CosineIndex> index;
  std::vector<float> queries;  // (end - begin) x dim, unit rows
  int64_t begin = 0, end = 0;
  int32_t k = 0;
};

Result<DriftTaskInput> ReadDriftTask(const char* kind, const nlohmann::json& spec,
                                     const std::filesystem::path& work_dir) {
  const std::string what = std::string("shard task '") + kind + "': ";
  SEXTANT_ASSIGN_OR_RETURN(const std::string index_file, SpecString(spec, "index"));
  SEXTANT_ASSIGN_OR_RETURN(const std::string rows_file, SpecString(spec, "rows"));
  SEXTANT_ASSIGN_OR_RETURN(const int64_t begin, SpecInt(spec, "begin"));
  SEXTANT_ASSIGN_OR_RETURN(const int64_t end, SpecInt(spec, "end"));
  SEXTANT_ASSIGN_OR_RETURN(const int64_t k, SpecInt(spec, "k"));
  if (k < 1 || k > 4096) return Status::Invalid(what + "field 'k' must be in [1, 4096]");
  if (begin < 0 || begin > end) {
    return Status::Invalid(what + "fields 'begin' and 'end' must satisfy 0 <= begin <= end (got " +
                           std::to_string(begin) + ", " + std::to_string(end) + ")");
  }
  DriftTaskInput in;
  in.begin = begin;
  in.end = end;
  in.k = static_cast<int32_t>(k);
  const std::filesystem::path index_path = work_dir / index_file;
  SEXTANT_ASSIGN_OR_RETURN(in.index,
                           ShardCache::Get().Load<index::CosineIndex>(
                               index_path, [&]() -> Result<std::shared_ptr<index::CosineIndex>> {
                                 SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<index::CosineIndex> read,
                                                          index::CosineIndex::Read(index_path));
                                 return std::shared_ptr<index::CosineIndex>(std::move(read));
                               }));
  SEXTANT_ASSIGN_OR_RETURN(const io::MappedNpy rows, io::MappedNpy::Open(work_dir / rows_file));
  const int64_t dim = in.index->dim();
  if (rows.cols() != dim) {
    return Status::Invalid(what + "rows '" + rows_file + "' have width " +
                           std::to_string(rows.cols()) + "; the index '" + index_file + "' has " +
                           std::to_string(dim));
  }
  std::vector<int64_t> which;
  if (auto it = spec.find("sample"); it != spec.end()) {
    if (!it->is_string()) return Status::Invalid(what + "field 'sample' must be a string");
    SEXTANT_ASSIGN_OR_RETURN(which, io::ReadNpyInt64(work_dir / it->get<std::string>()));
    for (int64_t r : which) {
      if (r < 0 || r >= rows.rows()) {
        return Status::Invalid(what + "sample row " + std::to_string(r) + " is outside the " +
                               std::to_string(rows.rows()) + " rows of '" + rows_file + "'");
      }
    }
  }
  const int64_t queries =
      spec.contains("sample") ? static_cast<int64_t>(which.size()) : rows.rows();
  if (end > queries) {
    return Status::Invalid(what + "field 'end' (" + std::to_string(end) + ") is past the " +
                           std::to_string(queries) + " queries");
  }
  in.queries.resize(static_cast<size_t>((end - begin) * dim));
  for (int64_t i = begin; i < end; ++i) {
    const int64_t row = which.empty() ? i : which[i];
    std::copy_n(rows.data() + row * dim, dim, in.queries.begin() + (i - begin) * dim);
  }
  index::NormalizeRows(in.queries.data(), end - begin, dim);
  return in;
}

}  // namespace

Result<std::string> RunKcoreTask(const nlohmann::json& spec,
                                 const std::filesystem::path& work_dir) {
  SEXTANT_ASSIGN_OR_RETURN(const DriftTaskInput in, ReadDriftTask("kcore", spec, work_dir));
  bool leave_one_out = false;
  if (auto it = spec.find("leave_one_out"); it != spec.end()) {
    if (!it->is_boolean()) {
      return Status::Invalid("shard task 'kcore': field 'leave_one_out' must be a bool");
    }
    leave_one_out = it->get<bool>();
  }
  if (leave_one_out && spec.contains("sample")) {
    return Status::Invalid(
        "shard task 'kcore': 'leave_one_out' queries are the index's own rows; no 'sample'");
  }
  SEXTANT_ASSIGN_OR_RETURN(const std::vector<float> distances,
                           drift::KCoreDistancesAt(*in.index, in.queries.data(), in.end - in.begin,
                                                   in.k, leave_one_out, in.begin));
  return PackArray(distances.data(), distances.size());
}

Result<std::string> RunKnnTask(const nlohmann::json& spec, const std::filesystem::path& work_dir) {
  SEXTANT_ASSIGN_OR_RETURN(const int64_t offset, SpecInt(spec, "offset"));
  if (offset < 0) return Status::Invalid("shard task 'knn': field 'offset' must be >= 0");
  SEXTANT_ASSIGN_OR_RETURN(const DriftTaskInput in, ReadDriftTask("knn", spec, work_dir));
  const int64_t n = in.end - in.begin;
  SEXTANT_ASSIGN_OR_RETURN(const drift::Neighbours found,
                           drift::ShardNeighbours(*in.index, in.queries.data(), n, in.k, offset));
  return PackNeighbours(found, n);
}

std::string PackNeighbours(const drift::Neighbours& found, int64_t num_queries) {
  std::string out;
  out.reserve(static_cast<size_t>(num_queries * found.k) * (sizeof(float) + sizeof(int64_t)));
  for (int64_t i = 0; i < num_queries; ++i) {
    out += PackArray(found.distances.data() + i * found.k, static_cast<size_t>(found.k));
    out += PackArray(found.rows.data() + i * found.k, static_cast<size_t>(found.k));
  }
  return out;
}

Status UnpackNeighbours(const std::string& bytes, int64_t num_queries, drift::Neighbours* into,
                        int64_t first_query) {
  const auto k = static_cast<size_t>(into->k);
  const size_t row_bytes = k * (sizeof(float) + sizeof(int64_t));
  if (bytes.size() != static_cast<size_t>(num_queries) * row_bytes) {
    return Status::Invalid("knn: a shard task returned " + std::to_string(bytes.size()) +
                           " bytes; expected " +
                           std::to_string(static_cast<size_t>(num_queries) * row_bytes));
  }
  for (int64_t i = 0; i < num_queries; ++i) {
    const char* row = bytes.data() + static_cast<size_t>(i) * row_bytes;
    const size_t at = static_cast<size_t>(first_query + i) * k;
    std::memcpy(into->distances.data() + at, row, k * sizeof(float));
    std::memcpy(into->rows.data() + at, row + k * sizeof(float), k * sizeof(int64_t));
  }
  return Status::OK();
}

}  // namespace sextant::processing
