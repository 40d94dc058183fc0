// Physical chunk allocation of a compact image. Chunks are handed out in order of id; chunks
// that a crash leaked (allocated, never journaled) are found at open and handed out before the
// data file grows. A reused chunk is not zero: the caller must overwrite all of it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace fvd {

class ChunkAllocator {
 public:
  struct Chunk {
    uint32_t id = 0;
    bool may_hold_garbage = false;  // reused: zero (or fully overwrite) it before use
  };

  ChunkAllocator() = default;
  // `table` entries (EMPTY or ids) and the number of chunks the data file can hold now.
  // Every id below `capacity_chunks` that no entry references becomes a reusable chunk.
  ChunkAllocator(const std::vector<uint32_t>& table, uint64_t capacity_chunks);

  // A chunk, reused ones first (lowest id first); nullopt when the data file must grow first.
  std::optional<Chunk> Take();
  // Returns a chunk taken but not used (its write failed): it may hold garbage now.
  void Return(uint32_t id);
  // Storage that is not zero-initialized (a block device): fresh chunks hold garbage too.
  void set_fresh_chunks_hold_garbage(bool v) { fresh_hold_garbage_ = v; }
  // The data file grew to hold `capacity_chunks`.
  void SetCapacity(uint64_t capacity_chunks) { capacity_ = capacity_chunks; }

  uint64_t capacity() const { return capacity_; }
  // Chunks below this id have been handed out or found in use.
  uint64_t high_water() const { return next_; }
  size_t reusable() const { return reusable_.size(); }

 private:
  uint64_t next_ = 0;  // fresh ids start here
  uint64_t capacity_ = 0;
  bool fresh_hold_garbage_ = false;
  std::vector<uint32_t> reusable_;  // descending, so back() is the lowest id
};

}  // namespace fvd
