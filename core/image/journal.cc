#include "core/image/journal.h"

#include <algorithm>
#include <cassert>

#include "core/format/constants.h"
#include "core/util/units.h"

namespace fvd {
namespace {

using format::BitmapRecord;
using format::JournalSectorBuilder;
using format::JournalSectorBytes;

// Bitmap record for guest sectors [a, b) (nothing when empty).
bool AddBitmap(JournalSectorBuilder& b, uint64_t a, uint64_t e) {
  if (e <= a) return true;
  return b.AddBitmap(BitmapRecord{static_cast<int64_t>(a), static_cast<uint32_t>(e - a)});
}

// Appends one update to the sectors being built, starting a new sector whenever a group does
// not fit in the current one.
void EncodeOne(const JournalUpdate& u, format::JournalFormat fmt, uint64_t epoch,
               uint64_t chunk_sectors, std::vector<JournalSectorBuilder>& out) {
  const uint64_t bm_begin = u.first_sector, bm_end = u.first_sector + u.num_sectors;
  auto current = [&]() -> JournalSectorBuilder& {
    if (out.empty()) out.emplace_back(fmt, epoch);
    return out.back();
  };
  if (u.entries.empty()) {
    // Bitmap only: records of at most UINT32_MAX sectors.
    for (uint64_t a = bm_begin; a < bm_end;) {
      const uint64_t e = std::min<uint64_t>(bm_end, a + UINT32_MAX);
      if (!AddBitmap(current(), a, e)) {
        out.emplace_back(fmt, epoch);
        AddBitmap(out.back(), a, e);
      }
      a = e;
    }
    return;
  }
  const bool with_bitmap = u.num_sectors > 0;
  size_t i = 0;
  while (i < u.entries.size()) {
    size_t fit = current().TableEntriesThatFit(with_bitmap);
    if (fit == 0) {
      out.emplace_back(fmt, epoch);
      fit = out.back().TableEntriesThatFit(with_bitmap);
    }
    const size_t n = std::min(fit, u.entries.size() - i);
    const uint64_t first_chunk = u.first_entry + i;
    JournalSectorBuilder& b = out.back();
    b.AddTable(static_cast<uint32_t>(first_chunk),
               std::span<const uint32_t>(u.entries).subspan(i, n));
    if (with_bitmap) {
      // The bitmap bits for exactly the chunks in this sector, so the sector is atomic.
      const uint64_t a = std::max(bm_begin, first_chunk * chunk_sectors);
      const uint64_t e = std::min(bm_end, (first_chunk + n) * chunk_sectors);
      AddBitmap(b, a, e);
    }
    i += n;
  }
}

}  // namespace

std::vector<JournalSectorBytes> EncodeUpdates(const std::vector<JournalUpdate>& updates,
                                              format::JournalFormat fmt, uint64_t epoch,
                                              uint64_t chunk_sectors) {
  std::vector<JournalSectorBuilder> builders;
  for (const JournalUpdate& u : updates) EncodeOne(u, fmt, epoch, chunk_sectors, builders);
  std::vector<JournalSectorBytes> sectors;
  sectors.reserve(builders.size());
  for (const auto& b : builders) {
    if (!b.empty()) sectors.push_back(b.Finish());
  }
  return sectors;
}

Journal::Journal(Image::Core& core)
    : core_(core),
      format_(core.header.version == format::kVersion1 ? format::JournalFormat::kV1
                                                       : format::JournalFormat::kV2),
      capacity_(core.header.journal_size / format::kSectorSize),
      chunk_sectors_(core.compact() ? core.header.chunk_size / format::kSectorSize : 0) {}

Journal::~Journal() {
  if (timer_ != 0) core_.env.scheduler.Cancel(timer_);
}

Task<Result<uint64_t>> Journal::Reserve(uint64_t sectors) {
  if (sectors > capacity_) {
    co_return Status::Internal("a journal update of " + std::to_string(sectors) +
                               " sectors does not fit a journal of " + std::to_string(capacity_));
  }
  const TimePoint asked_at = core_.env.clock.Now();
  bool waited = false;  // on a recycle, its own or another writer's
  for (;;) {
    if (core_.metadata_error) co_return Status::ReadOnly(core_.metadata_error_what);
    if (recycling_) {
      waited = true;
      co_await recycle_done_.Wait();
      continue;
    }
    if (next_sector_ + sectors <= capacity_) {
      const uint64_t first = next_sector_;
      next_sector_ += sectors;
      ++writes_in_flight_;
      if (waited) {
        core_.stats.journal_recycle_wait_ns +=
            static_cast<uint64_t>((core_.env.clock.Now() - asked_at).count());
      }
      co_return first;
    }
    waited = true;
    Status s = co_await Recycle();
    if (!s.ok()) co_return s;
  }
}

void Journal::EndWrite() {
  assert(writes_in_flight_ > 0);
  if (--writes_in_flight_ == 0) writes_drained_.NotifyAll(core_.env.scheduler);
}

Task<Status> Journal::WriteSectors(uint64_t first, const std::vector<JournalSectorBytes>& s,
                                   WriteMode mode) {
  IoBuffer buf(s.size() * format::kSectorSize);
  for (size_t i = 0; i < s.size(); ++i) {
    std::copy(s[i].begin(), s[i].end(),
              buf.begin() + static_cast<ptrdiff_t>(i * format::kSectorSize));
  }
  const uint64_t offset = core_.header.journal_offset + first * format::kSectorSize;
  ++core_.stats.journal_writes;
  core_.stats.journal_sector_writes += s.size();
  Status st = co_await AwaitIo(
      [&](IoCallback cb) { return core_.image_dev.SubmitWrite(offset, buf, mode, std::move(cb)); });
  if (!st.ok())
    st = core_.EnterMetadataError(st, "journal write at byte " + std::to_string(offset));
  co_return st;
}

Task<Status> Journal::Recycle() {
  recycling_ = true;
  while (writes_in_flight_ > 0) co_await writes_drained_.Wait();
  ++core_.stats.journal_recycles;
  // Snapshot before the data flush: every bit and entry in the snapshot belongs to a write
  // whose data completed before it, so the flush makes that data durable before the metadata
  // that points at it.
  const auto bitmap_bytes = core_.use_bitmap ? core_.EncodeBitmapRegion(core_.stale) : IoBuffer{};
  const auto table_bytes = core_.compact() ? core_.EncodeTableRegion() : IoBuffer{};
  Status s = co_await core_.FlushData();
  if (s.ok()) s = co_await core_.WriteRegions(bitmap_bytes, table_bytes);
  if (s.ok()) s = co_await core_.FlushImage();
  if (s.ok()) {
    ++core_.header.journal_epoch;
    s = co_await core_.WriteHeader();
  }
  if (s.ok()) {
    next_sector_ = 0;
  } else {
    s = core_.EnterMetadataError(s, "journal recycle");
  }
  recycling_ = false;
  recycle_done_.NotifyAll(core_.env.scheduler);
  co_return s;
}

void Journal::Enqueue(JournalUpdate u, std::vector<format::JournalSectorBuilder> tail) {
  queue_.push_back(std::move(u));
  if (tail.size() > 1) queued_full_sectors_ += tail.size() - 1;
  if (!tail.empty()) tail.erase(tail.begin(), tail.end() - 1);
  queue_tail_ = std::move(tail);
}

Task<Status> Journal::EncodeAndWrite(const std::vector<JournalUpdate>& updates, WriteMode mode) {
  const uint64_t epoch = core_.header.journal_epoch;
  auto sectors = EncodeUpdates(updates, format_, epoch, chunk_sectors_);
  auto first = co_await Reserve(sectors.size());
  if (!first.ok()) co_return first.status();
  // Reserve may have recycled the journal: the records must carry the epoch now in force.
  if (core_.header.journal_epoch != epoch) {
    sectors = EncodeUpdates(updates, format_, core_.header.journal_epoch, chunk_sectors_);
  }
  Status s = co_await WriteSectors(*first, sectors, mode);
  EndWrite();
  co_return s;
}

bool Journal::Fits(const JournalUpdate& u, std::vector<format::JournalSectorBuilder>& tail) const {
  tail = queue_tail_;                              // at most one sector
  EncodeOne(u, format_, 0, chunk_sectors_, tail);  // the epoch does not change the size
  return queue_.empty() ||
         (queued_full_sectors_ + tail.size()) * format::kSectorSize <= QueueLimitBytes();
}

bool Journal::TryEnqueue(JournalUpdate& u) {
  std::vector<format::JournalSectorBuilder> tail;
  while (!Fits(u, tail)) {
    if (writing_out_) return false;
    StartBackgroundWriteOut();  // takes the queue: the next pass finds it empty
  }
  Enqueue(std::move(u), std::move(tail));
  ArmTimer();
  return true;
}

bool Journal::CanAppendNow(const JournalUpdate& u) const {
  if (!core_.buffered() || core_.metadata_error) return false;
  std::vector<format::JournalSectorBuilder> tail;
  return !writing_out_ || Fits(u, tail);  // TryEnqueue's one refusal
}

bool Journal::TryAppendNow(JournalUpdate u) {
  if (!core_.buffered() || core_.metadata_error) return false;
  return TryEnqueue(u);  // refuses exactly when CanAppendNow would
}

Task<Status> Journal::Append(JournalUpdate u) {
  if (core_.buffered()) {
    if (core_.metadata_error) co_return Status::ReadOnly(core_.metadata_error_what);
    // When `u` does not fit in what is left of the buffer, the full buffer is written out in
    // the background. Updates queue up behind a write-out in flight (QueueLimitBytes); a
    // writer waits only when that queue is full too.
    while (!TryEnqueue(u)) co_await write_out_done_.Wait();
    co_return Status::Ok();
  }
  // A named vector: GCC 12 rejects a braced temporary inside co_await.
  std::vector<JournalUpdate> one;
  one.push_back(std::move(u));
  co_return co_await EncodeAndWrite(one, WriteMode::kFua);
}

Task<Status> Journal::WriteOut() {
  while (writing_out_) co_await write_out_done_.Wait();
  writing_out_ = true;
  std::vector<JournalUpdate> updates;
  updates.swap(queue_);
  queued_full_sectors_ = 0;
  queue_tail_.clear();
  Status s;
  if (!updates.empty()) {
    // Durability order: the data these records describe must be durable before them.
    [[maybe_unused]] const auto& options = core_.options;
    if (!FVD_IF_TEST_BUG(skip_data_flush_before_journal)) s = co_await core_.FlushData();
    if (s.ok()) {
      s = co_await EncodeAndWrite(updates, WriteMode::kCached);
    } else {
      s = core_.EnterMetadataError(s, "data flush before a journal write");
    }
  }
  writing_out_ = false;
  write_out_done_.NotifyAll(core_.env.scheduler);
  // What queued up behind this write-out goes next if it fills a buffer, without waiting for
  // the next Append.
  if (s.ok() && QueuedBytes() >= core_.options.journal_buffer_bytes) StartBackgroundWriteOut();
  co_return s;
}

uint64_t Journal::QueueLimitBytes() const {
  const uint64_t buffer = core_.options.journal_buffer_bytes;
  if (!writing_out_) return buffer;
  // Half the journal at most: a write-out must fit in it.
  const uint64_t behind =
      std::min(buffer * kBuffersBehindWriteOut, capacity_ * format::kSectorSize / 2);
  return std::max(buffer, behind);
}

Task<Status> Journal::Commit() {
  if (!core_.buffered()) co_return Status::Ok();
  Status s = co_await WriteOut();
  if (s.ok()) s = co_await core_.FlushImage();
  // A separate data file also holds in-place writes no record describes (found by the
  // property suite: with nothing queued, a flush left them in the data file's cache).
  if (s.ok() && &core_.data_dev != &core_.image_dev) s = co_await core_.FlushData();
  co_return s;
}

void Journal::StartBackgroundWriteOut() {
  ++background_writeouts_;
  Detach(WriteOut(), [this](const Status&) {
    // A failure already put the image in the metadata-error state: later writes and flushes
    // report it.
    if (--background_writeouts_ == 0) background_writeouts_done_.NotifyAll(core_.env.scheduler);
  });
}

void Journal::ArmTimer() {
  if (timer_ != 0) return;
  timer_ = core_.env.scheduler.ScheduleAfter(core_.options.journal_flush_period, [this] {
    timer_ = 0;
    StartBackgroundWriteOut();
  });
}

Task<void> Journal::Quiesce() {
  if (timer_ != 0) {
    core_.env.scheduler.Cancel(timer_);
    timer_ = 0;
  }
  while (background_writeouts_ > 0) co_await background_writeouts_done_.Wait();
  while (writing_out_) co_await write_out_done_.Wait();
  while (writes_in_flight_ > 0 || recycling_) {
    if (recycling_) {
      co_await recycle_done_.Wait();
    } else {
      co_await writes_drained_.Wait();
    }
  }
}

}  // namespace fvd
