// Image::Core: the state of an open image, shared by its request paths (read_path.cc,
// write_path.cc, copy_on_read.cc), its journal (journal.cc) and open/close (image.cc).
// Private to core/image.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/format/bitmap.h"
#include "core/format/header.h"
#include "core/image/chunk_allocator.h"
#include "core/image/image.h"
#include "core/image/range_locks.h"
#include "core/image/wait_list.h"
#include "core/util/io_buffer.h"

namespace fvd {

class DirectMetadata;
class Journal;
class Prefetcher;
class ProfileRecorder;

struct Image::Core {
  Core(ImageEnv e, ImageDevices d, ImageOptions o);
  ~Core();

  ImageEnv env;
  ImageOptions options;
  BlockDevice& image_dev;
  BlockDevice& data_dev;  // == image_dev unless a separate data file
  BlockDevice* base_dev;  // null when there is no base or it is no longer needed

  format::Header header;
  // True while reads may still need the base image (a base exists and not all data is in FVD).
  bool use_bitmap = false;
  // fresh: the truth in memory. stale: what is durable (on-disk bitmap plus journal); a subset
  // of fresh. Copy-on-read only sets fresh; guest writes set stale once journaled.
  format::Bitmap fresh;
  format::Bitmap stale;
  // The chunk table (compact images): ids, kEmptyChunk, or id | kDirtyChunk while the
  // allocating write has not journaled it.
  std::vector<uint32_t> table;
  ChunkAllocator allocator;
  bool growing = false;  // one storage growth at a time
  WaitList grow_done;

  RangeLocks locks;
  std::unique_ptr<Journal> journal;        // when the image has a journal
  std::unique_ptr<DirectMetadata> direct;  // read-write without a journal
  std::unique_ptr<Prefetcher> prefetcher;  // when the image prefetches (Prefetcher::Wanted)
  std::unique_ptr<ProfileRecorder> profile_recorder;  // when recording a prefetch profile

  bool metadata_error = false;
  std::string metadata_error_what;
  std::string open_warning;   // why the image opened read-only against the caller's wish
  std::string journal_error;  // why the journal could not be replayed (empty: it could)
  uint64_t outstanding_copy_on_read_bytes = 0;
  uint64_t in_flight = 0;  // guest requests and background copies
  WaitList idle;           // notified when in_flight drops to 0
  bool closed = false;
  bool header_writing = false;  // header writes go one at a time, each with the latest state
  WaitList header_written;
  ImageStats stats;

  bool compact() const { return header.compact_image; }
  bool read_only() const { return options.access == AccessMode::kReadOnly; }
  bool buffered() const { return options.journal_mode == JournalMode::kBuffered; }
  // Data writes are FUA in unbuffered (write-through) mode.
  WriteMode data_write_mode() const {
    if (FVD_IF_TEST_BUG(skip_data_flush_before_journal)) return WriteMode::kCached;
    return buffered() ? WriteMode::kCached : WriteMode::kFua;
  }

  // Enters the metadata-error state (idempotent) and returns `s` with context.
  Status EnterMetadataError(const Status& s, const std::string& what);
  Status CheckRange(uint64_t offset, uint64_t length) const;
  Status CheckWritable() const;

  // Device helpers (async). Count stats; never used for guest data of the fast paths.
  Task<Status> FlushData();
  Task<Status> FlushImage();
  // Writes the header as it is in memory now (FUA). Serialized: a later call waits for an
  // earlier one, so the last write to land carries the latest state.
  Task<Status> WriteHeader();
  // Makes every metadata change so far durable: a buffered journal is written out, pending
  // direct metadata written back (the data file is flushed first either way).
  Task<Status> CommitMetadata();
  // Reads [offset, offset + buf.size()) of the base image; bytes past the base device's end
  // read as zeros.
  Task<Status> ReadBase(uint64_t offset, std::span<std::byte> buf);
  // Reads guest bytes that are in the FVD image (unallocated chunks read as zeros).
  Task<Status> ReadData(uint64_t offset, std::span<std::byte> buf);
  // Encodes the bitmap `bm` and the table (DIRTY entries as empty) into their regions' bytes.
  IoBuffer EncodeBitmapRegion(const format::Bitmap& bm) const;
  IoBuffer EncodeTableRegion() const;
  // Writes the given region images (either may be empty) at their offsets: the table first,
  // flushed, then the bitmap. A crash part way leaves the table's new entries without their
  // bits (harmless: those blocks still read the base), never bits without their entries. The
  // journal cannot make up for that: a recycle's snapshot holds records not yet journaled
  // (found by crash-storm.yaml seed 242: a crash between the two writes left a block reading
  // zeros). The caller flushes after.
  Task<Status> WriteRegions(const IoBuffer& bitmap_bytes, const IoBuffer& table_bytes);
};

// Counts a request in flight for the lifetime of the guard; wakes Close when the last ends.
class InFlightGuard {
 public:
  explicit InFlightGuard(Image::Core& core) : core_(core) { ++core_.in_flight; }
  ~InFlightGuard() {
    if (--core_.in_flight == 0) core_.idle.NotifyAll(core_.env.scheduler);
  }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

 private:
  Image::Core& core_;
};

}  // namespace fvd
