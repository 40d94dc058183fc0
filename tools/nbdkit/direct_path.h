// DirectPath: the NBD export's requests on data the image holds durably in place, done on the
// caller's thread (one of nbdkit's workers) with one pread or pwrite on the data file, without
// a hand-off to the image's loop thread and back. The hand-off was half of raw's throughput
// (issue 24); the core stays single-threaded and untouched by these threads.
//
// What may go direct is what Image::InPlaceRun says needs no metadata: every block durably in
// the image and every chunk journaled. That only ever grows while the image is open and never
// moves, so the loop thread publishes it here (Learn), in atomics, and workers read it
// (Lookup) with no lock. Everything else (base data, allocation, copy-on-read, whatever the
// core must order) goes through the loop as before, but for one kind of allocating write: on an
// image that lets a host allocate (Image::HostMayAllocate: a plain overlay that only guests
// write), a write of whole blocks goes to its place here too (WriteAllocating), and the caller
// has the loop record it afterwards (Image::RecordHostWrite). A direct write is what Write's
// in-place path would do: the same bytes at the same place, FUA (RWF_DSYNC) when the journal is
// unbuffered; it stops when the image refuses writes (RefuseWrites, from on_metadata_error).
//
// CONTRACT
// - Learn, LearnAll and RefuseWrites run on the loop thread; Lookup, Read, Write and
//   SyncIfWritten on any thread, concurrently.
// - Read/Write return nullopt when the range is not known to be in place (then use the loop),
//   else the request's status. Buffers must meet the descriptor's alignment (O_DIRECT): the
//   caller bounces first.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/image/image.h"
#include "core/util/status.h"

namespace fvd::nbd {

class DirectPath {
 public:
  // `fd` is the data file's descriptor (dup()ed and owned from here on); `write_through`: each
  // write durable on completion (unbuffered journal); `writable`: the export takes writes.
  DirectPath(const Image& image, int fd, bool write_through, bool writable);
  ~DirectPath();
  DirectPath(const DirectPath&) = delete;
  DirectPath& operator=(const DirectPath&) = delete;

  // Loop thread: asks the image about [offset, offset + length) rounded out to units, as one
  // run and, when it is not one run in place, unit by unit; publishes the units in place.
  void Learn(const Image& image, uint64_t offset, uint64_t length);
  // Loop thread, at start: the whole disk.
  void LearnAll(const Image& image);
  void RefuseWrites() { writable_.store(false, std::memory_order_release); }

  // Where [offset, offset + length) is on the data file, if all of it is known to be in place
  // as one run.
  std::optional<uint64_t> Lookup(uint64_t offset, uint64_t length) const;
  std::optional<Status> Read(uint64_t offset, std::span<std::byte> buf) const;
  std::optional<Status> Write(uint64_t offset, std::span<const std::byte> buf);
  // A write of whole blocks the image does not hold yet, written to their place, when the image
  // allowed it at construction (Image::HostMayAllocate) and takes writes. nullopt: not such a
  // write (use the loop). After an ok result the caller must post Image::RecordHostWrite for
  // the range to the loop thread before it reports the write done.
  std::optional<Status> WriteAllocating(uint64_t offset, std::span<const std::byte> buf);
  // fdatasync of the data file when a direct write happened since the last call: a flush must
  // cover writes the core never saw. Call before the image's own Flush.
  Status SyncIfWritten();

  uint64_t unit() const { return unit_; }

 private:
  bool Known(uint64_t unit_index) const;
  // Whole blocks: neither end inside a block the base covers (Image::RecordHostWrite's rule).
  bool WholeBlocks(uint64_t offset, uint64_t length) const;
  Status WriteAt(uint64_t physical, std::span<const std::byte> buf);
  void Publish(uint64_t unit_index, uint64_t physical_of_unit);

  const uint64_t disk_size_, data_offset_, chunk_size_;
  const bool compact_;
  const uint64_t unit_;  // the bitmap's block, else the chunk, else 1 MiB
  const int fd_;
  const bool write_through_;
  const bool host_allocates_;  // Image::HostMayAllocate at construction
  const uint64_t block_size_, base_size_;
  std::atomic<bool> writable_;
  std::atomic<bool> written_{false};
  std::vector<std::atomic<uint64_t>> known_;     // a bit per unit
  std::vector<std::atomic<uint64_t>> chunk_at_;  // compact: data-file offset of chunk + 1
};

}  // namespace fvd::nbd
