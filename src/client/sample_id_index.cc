#include "client/sample_id_index.h"

#include <algorithm>
#include <functional>

namespace sextant::client {

uint64_t SampleIdIndex::DefaultHash(std::string_view id) {
  return std::hash<std::string_view>{}(id);
}

SampleIdIndex::SampleIdIndex(HashFunction hash) : hash_(hash), slots_(16) {}

std::string_view SampleIdIndex::id(int64_t row) const {
  const auto r = static_cast<size_t>(row);
  return std::string_view(chars_).substr(offsets_[r], offsets_[r + 1] - offsets_[r]);
}

size_t SampleIdIndex::Probe(size_t pos, uint64_t hash, std::string_view id) const {
  const size_t mask = slots_.size() - 1;
  for (;; pos = (pos + 1) & mask) {
    const Slot& s = slots_[pos];
    if (s.row == kEmpty || (s.hash == hash && this->id(s.row) == id)) return pos;
  }
}

int64_t SampleIdIndex::Find(std::string_view id) const {
  const uint64_t h = hash_(id);
  return slots_[Probe(h & (slots_.size() - 1), h, id)].row;
}

void SampleIdIndex::FindBatch(const std::string* ids, size_t n, int64_t* rows) const {
  constexpr size_t kChunk = 64;
  uint64_t hashes[kChunk];
  size_t pos[kChunk];
  const size_t mask = slots_.size() - 1;
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t m = std::min(kChunk, n - begin);
    const std::string* chunk = ids + begin;
    int64_t* out = rows + begin;
    // Stage 1: every id's home slot.
    for (size_t i = 0; i < m; ++i) {
      hashes[i] = hash_(chunk[i]);
      pos[i] = hashes[i] & mask;
      __builtin_prefetch(&slots_[pos[i]]);
    }
    // Stage 2: the first slot with the same hash (or an empty one); its id's offsets.
    for (size_t i = 0; i < m; ++i) {
      while (slots_[pos[i]].row != kEmpty && slots_[pos[i]].hash != hashes[i]) {
        pos[i] = (pos[i] + 1) & mask;
      }
      out[i] = slots_[pos[i]].row;
      if (out[i] != kEmpty) __builtin_prefetch(&offsets_[static_cast<size_t>(out[i])]);
    }
    // Stage 3: the candidate ids' characters.
    for (size_t i = 0; i < m; ++i) {
      if (out[i] != kEmpty)
        __builtin_prefetch(chars_.data() + offsets_[static_cast<size_t>(out[i])]);
    }
    // Stage 4: compare; on a 64-bit hash collision, probe on one id at a time.
    for (size_t i = 0; i < m; ++i) {
      if (out[i] != kEmpty && id(out[i]) != chunk[i]) {
        out[i] = slots_[Probe((pos[i] + 1) & mask, hashes[i], chunk[i])].row;
      }
    }
  }
}

bool SampleIdIndex::Insert(std::string_view id) {
  if (static_cast<size_t>(size() + 1) * 2 > slots_.size()) Grow();
  const uint64_t h = hash_(id);
  Slot& s = slots_[Probe(h & (slots_.size() - 1), h, id)];
  if (s.row != kEmpty) return false;
  s = {h, size()};
  chars_.append(id);
  offsets_.push_back(chars_.size());
  return true;
}

void SampleIdIndex::Reserve(size_t ids, size_t chars) {
  offsets_.reserve(ids + 1);
  chars_.reserve(chars);
  while (ids * 2 > slots_.size()) Grow();
}

void SampleIdIndex::Grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.row == kEmpty) continue;
    size_t p = s.hash & mask;
    while (slots_[p].row != kEmpty) p = (p + 1) & mask;
    slots_[p] = s;
  }
}

}  // namespace sextant::client
