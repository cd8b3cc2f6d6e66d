#pragma once
// Sample id -> row of a split, for the logging hot path.
//
// log_model_outputs looks up every id of a batch right after the caller's
// forward pass has evicted the table from the caches. A node-based hash map
// pays three dependent memory misses per id (bucket, node, key), one id after
// the other: about 12 us for a batch of 32. Here the table is flat (slots of
// hash and row, the ids in one arena), and FindBatch walks the batch in stages,
// prefetching what the next stage reads for every id before reading any, so a
// batch pays about one miss latency per stage.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sextant::client {

class SampleIdIndex {
 public:
  using HashFunction = uint64_t (*)(std::string_view);
  static uint64_t DefaultHash(std::string_view id);

  // `hash` is replaceable so that tests can force collisions.
  explicit SampleIdIndex(HashFunction hash = &DefaultHash);

  // Ids are rows 0, 1, ... in insertion order.
  int64_t size() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  std::string_view id(int64_t row) const;

  // The row of `id`, or -1.
  int64_t Find(std::string_view id) const;
  bool Contains(std::string_view id) const { return Find(id) >= 0; }

  // rows[i] = Find(ids[i]) for i < n.
  void FindBatch(const std::string* ids, size_t n, int64_t* rows) const;

  // Adds `id` as row size(); false (and nothing added) if it is present.
  bool Insert(std::string_view id);
  void Reserve(size_t ids, size_t chars);

 private:
  static constexpr int64_t kEmpty = -1;
  struct Slot {
    uint64_t hash = 0;
    int64_t row = kEmpty;
  };

  // The first slot at or after `pos` that is empty or holds `id`.
  size_t Probe(size_t pos, uint64_t hash, std::string_view id) const;
  void Grow();

  HashFunction hash_;
  std::vector<Slot> slots_;           // size a power of two, at most half full
  std::vector<uint64_t> offsets_{0};  // id r is chars_[offsets_[r], offsets_[r + 1])
  std::string chars_;
};

}  // namespace sextant::client
