// A sparse in-memory block device: storage is allocated in 4 KiB pages on first write, so a
// 1 TiB device that saw 1 MiB of writes holds about 1 MiB. Completions are posted to the
// given scheduler with zero delay (never inline). It has no volatile cache: a completed write
// is durable. Crash and latency behaviour belong to decorators (sim/), not here.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "core/seam/block_device.h"
#include "core/seam/clock.h"

namespace fvd {

class MemoryDevice final : public BlockDevice {
 public:
  static constexpr uint64_t kPageSize = 4096;

  MemoryDevice(Scheduler& scheduler, uint64_t size) : scheduler_(scheduler), size_(size) {}

  uint64_t size() const override { return size_; }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override;
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override;
  Status SubmitFlush(IoCallback done) override;
  Status SubmitResize(uint64_t new_size, IoCallback done) override;
  // Always served (memory never waits), unless the range is bad.
  bool TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait wait) override;
  // Always done (memory never waits, and a completed write is durable), unless the range is bad.
  bool TryWriteNow(uint64_t offset, std::span<const std::byte> buf, WriteMode mode) override;

  // Synchronous access for tests and tools that set up or inspect contents directly.
  void ReadNow(uint64_t offset, std::span<std::byte> buf) const;
  void WriteNow(uint64_t offset, std::span<const std::byte> buf);
  void ResizeNow(uint64_t new_size);

  // Bytes of pages allocated to hold written data.
  uint64_t allocated_bytes() const { return pages_.size() * kPageSize; }

 private:
  using Page = std::array<std::byte, kPageSize>;

  Scheduler& scheduler_;
  uint64_t size_;
  std::unordered_map<uint64_t, std::unique_ptr<Page>> pages_;  // lookup only; never iterated
};

}  // namespace fvd
