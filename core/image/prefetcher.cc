#include "core/image/prefetcher.h"

#include <algorithm>
#include <cmath>

#include "core/image/base_copy.h"
#include "core/image/storage.h"
#include "core/util/units.h"

namespace fvd {
namespace {

using std::chrono::milliseconds;

// How long a pass that found only locked blocks waits before the next one.
constexpr Duration kLockedRetry = milliseconds(10);
// At most this many passes over a prefetch profile.
constexpr int kProfilePasses = 4;

PrefetchWindowLimits WindowLimits(const ImageOptions& o) {
  PrefetchWindowLimits l = o.prefetch_window;
  if (o.prefetch_queue_target > Duration::zero()) l.target = o.prefetch_queue_target;
  return l;
}

double WindowMaxReads(const ImageOptions& o) {
  return std::max(1.0, o.prefetch_window.max_reads);
}

uint64_t SlotBlocks(const format::Header& h) {
  const uint64_t bytes = h.bytes_per_prefetch > 0 ? uint64_t(h.bytes_per_prefetch) : 1;
  return std::max<uint64_t>(1, DivRoundUp(bytes, h.block_size));
}

}  // namespace

class Prefetcher::SleepAwaiter {
 public:
  SleepAwaiter(Prefetcher& p, Duration d) : p_(p), d_(d) {}
  bool await_ready() const noexcept { return p_.ShouldStop(); }
  void await_suspend(std::coroutine_handle<> h) {
    node_.handle = h;
    node_.timer = p_.c_.env.scheduler.ScheduleAfter(d_, [this] {
      std::erase(p_.sleepers_, &node_);
      node_.handle.resume();
    });
    p_.sleepers_.push_back(&node_);
  }
  void await_resume() const noexcept {}

 private:
  Prefetcher& p_;
  Duration d_;
  Sleeper node_;
};

Prefetcher::Prefetcher(Image::Core& core)
    : c_(core),
      max_blocks_(SlotBlocks(core.header)),
      slots_(std::max<int32_t>(1, core.header.num_prefetch_slots)),
      read_meter_(milliseconds(core.header.prefetch_read_throughput_measure_time),
                  core.header.prefetch_perf_calc_alpha),
      write_meter_(milliseconds(core.header.prefetch_write_throughput_measure_time),
                   core.header.prefetch_perf_calc_alpha),
      read_cap_(KiBpsToBytesPerSecond(core.header.prefetch_max_read_throughput)),
      write_cap_(KiBpsToBytesPerSecond(core.header.prefetch_max_write_throughput)),
      queue_pacer_(core.options.prefetch_queue_target,
                   milliseconds(std::max<int32_t>(1, core.header.prefetch_throttle_time))),
      window_(WindowLimits(core.options)) {
  // A window of pieces in flight needs room for them (and one slot for the writer).
  if (Windowed()) {
    const uint64_t piece = std::max<uint64_t>(1, core.options.prefetch_window.read_bytes);
    const uint64_t per_slot =
        std::max<uint64_t>(1, DivRoundUp(max_blocks_ * core.header.block_size, piece));
    const uint64_t want =
        1 + DivRoundUp(static_cast<uint64_t>(std::ceil(WindowMaxReads(core.options))), per_slot);
    if (slots_.size() < want) slots_.resize(want);
  }
  for (const ByteRange& r : core.options.prefetch_profile) {
    if (r.length > 0 && r.offset < core.header.base_img_size)
      profile_.push_back({r.offset, r.length});
  }
}

bool Prefetcher::FollowsProfile() const {
  return !profile_.empty() && c_.header.profile_directed_prefetch_start_delay >= 0;
}

Prefetcher::~Prefetcher() {
  if (start_timer_ != 0) c_.env.scheduler.Cancel(start_timer_);
  for (Sleeper* s : sleepers_) c_.env.scheduler.Cancel(s->timer);
}

bool Prefetcher::Wanted(const Image::Core& c) {
  const bool profile =
      !c.options.prefetch_profile.empty() && c.header.profile_directed_prefetch_start_delay >= 0;
  return !c.read_only() && c.use_bitmap && c.base_dev != nullptr &&
         (c.header.prefetch_start_delay > 0 || profile) &&
         (c.journal != nullptr || c.direct != nullptr);
}

void Prefetcher::Start() {
  if (stop_requested_ || running_ || start_timer_ != 0) return;
  opened_ = c_.env.clock.Now();
  const int32_t delay_s = FollowsProfile() ? c_.header.profile_directed_prefetch_start_delay
                                           : c_.header.prefetch_start_delay;
  start_timer_ = c_.env.scheduler.ScheduleAfter(std::chrono::seconds(delay_s), [this] {
    start_timer_ = 0;
    if (!ShouldStop()) Detach(Run(), [] {});
  });
}

Task<void> Prefetcher::Stop() {
  stop_requested_ = true;
  if (start_timer_ != 0) {
    c_.env.scheduler.Cancel(start_timer_);
    start_timer_ = 0;
  }
  WakeSleepers();
  ring_changed_.NotifyAll(c_.env.scheduler);
  while (running_) co_await stopped_.Wait();
}

bool Prefetcher::ShouldStop() const {
  return stop_requested_ || failed_ || c_.closed || c_.metadata_error;
}

void Prefetcher::Fail(const Status& s, const char* what) {
  if (!failed_) {
    failed_ = true;
    c_.stats.prefetch_failed = true;
    c_.stats.prefetch_error = s.WithContext(what).ToString();
  }
  WakeSleepers();
  ring_changed_.NotifyAll(c_.env.scheduler);
}

Prefetcher::SleepAwaiter Prefetcher::Sleep(Duration d) {
  return SleepAwaiter(*this, d);
}

void Prefetcher::WakeSleepers() {
  for (Sleeper* s : sleepers_) {
    if (c_.env.scheduler.Cancel(s->timer)) c_.env.scheduler.Post([h = s->handle] { h.resume(); });
  }
  sleepers_.clear();
}

Task<void> Prefetcher::Run() {
  running_ = true;
  c_.stats.prefetch_started = true;
  c_.stats.prefetch_started_at_ns = c_.env.clock.Now().time_since_epoch().count();
  if (FollowsProfile()) {
    const uint64_t before = c_.stats.prefetch_bytes_written;
    // Ranges some request held locked are skipped; a few more passes pick them up (each reads
    // only what is still missing).
    for (int pass = 0; pass < kProfilePasses && !ShouldStop(); ++pass) {
      const uint64_t skipped = c_.stats.prefetch_skipped_locked;
      co_await Pass(/*profile=*/true);
      if (c_.stats.prefetch_skipped_locked == skipped) break;
      co_await Sleep(kLockedRetry);
    }
    c_.stats.prefetch_profile_bytes = c_.stats.prefetch_bytes_written - before;
    // Whole-image prefetch keeps its own start time.
    const TimePoint whole = opened_ + std::chrono::seconds(c_.header.prefetch_start_delay);
    if (WholeImage() && c_.env.clock.Now() < whole && !ShouldStop())
      co_await Sleep(whole - c_.env.clock.Now());
  }
  if (WholeImage()) co_await WholeImagePasses();
  running_ = false;
  stopped_.NotifyAll(c_.env.scheduler);
}

Task<void> Prefetcher::WholeImagePasses() {
  const uint64_t bits = c_.fresh.bits();
  while (!ShouldStop()) {
    ++c_.stats.prefetch_passes;
    co_await Pass(/*profile=*/false);
    if (ShouldStop()) break;
    if (c_.fresh.AllSet(0, bits)) {
      Status s = co_await Complete();
      if (!s.ok()) Fail(s, "prefetch completion");
      break;
    }
    // Only locked blocks were left: give their owners time before looking again.
    if (!progress_) co_await Sleep(kLockedRetry);
  }
}

Task<void> Prefetcher::Pass(bool profile) {
  profile_pass_ = profile;
  profile_index_ = 0;
  cursor_ = 0;
  window_end_ = profile ? 0 : c_.fresh.bits();
  head_ = tail_ = 0;
  progress_ = false;
  reader_done_ = false;
  Detach(Windowed() ? WindowReader() : Reader(), [this] {
    reader_done_ = true;
    ring_changed_.NotifyAll(c_.env.scheduler);
  });
  co_await Writer();
  while (!reader_done_) co_await ring_changed_.Wait();
}

std::optional<Extent> Prefetcher::NextRange() {
  for (;;) {
    if (auto r = NextInWindow()) return r;
    if (!profile_pass_ || profile_index_ >= profile_.size()) return std::nullopt;
    const Extent& e = profile_[profile_index_++];
    const uint64_t bs = c_.header.block_size;
    cursor_ = e.offset / bs;
    window_end_ = std::min(c_.fresh.bits(), DivRoundUp(e.offset + e.length, bs));
  }
}

std::optional<Extent> Prefetcher::NextInWindow() {
  const format::Bitmap& fresh = c_.fresh;
  const uint64_t bits = window_end_, bs = c_.header.block_size;
  while (cursor_ < bits) {
    if (cursor_ % 8 == 0 && cursor_ + 8 <= bits && fresh.bytes()[cursor_ / 8] == 0xff) {
      cursor_ += 8;
      continue;
    }
    if (fresh.Test(cursor_)) {
      ++cursor_;
      continue;
    }
    uint64_t end = cursor_ + 1;
    while (end < bits && end - cursor_ < max_blocks_ && !fresh.Test(end)) ++end;
    const uint64_t begin_byte = cursor_ * bs;
    if (RangeLock* l = c_.locks.FindOverlap(begin_byte, end * bs)) {
      if (l->begin() < begin_byte + bs) {  // the first block is locked: skip past the lock
        ++c_.stats.prefetch_skipped_locked;
        cursor_ = std::max(cursor_ + 1, DivRoundUp(l->end(), bs));
        continue;
      }
      end = l->begin() / bs;  // read up to the lock
    }
    const uint64_t end_byte = std::min(end * bs, c_.header.base_img_size);
    cursor_ = end;
    return Extent{begin_byte, end_byte - begin_byte};
  }
  return std::nullopt;
}

Task<void> Prefetcher::Reader() {
  while (!ShouldStop()) {
    const std::optional<Extent> next = NextRange();
    if (!next.has_value()) break;
    progress_ = true;
    while (head_ - tail_ == slots_.size() && !ShouldStop()) co_await ring_changed_.Wait();
    if (ShouldStop()) break;
    co_await Pace(read_meter_, read_cap_, next->length, c_.header.prefetch_min_read_throughput);
    if (ShouldStop()) break;
    Slot& slot = slots_[head_ % slots_.size()];
    slot.offset = next->offset;
    slot.bytes.resize(next->length);
    slot.filled = true;
    const TimePoint t0 = c_.env.clock.Now();
    Status s = co_await c_.ReadBase(slot.offset, slot.bytes);
    if (!s.ok()) {
      Fail(s, "prefetch base read");
      break;
    }
    const Duration took = c_.env.clock.Now() - t0;
    read_meter_.Add(next->length, took);
    c_.stats.prefetch_bytes_read += next->length;
    ++head_;
    ring_changed_.NotifyAll(c_.env.scheduler);
    if (const Duration gap = queue_pacer_.Add(next->length, took); gap > Duration::zero()) {
      ++c_.stats.prefetch_backoffs;
      co_await Sleep(gap);
    }
  }
}

Task<void> Prefetcher::WindowReader() {
  const uint64_t piece = std::max<uint64_t>(1, c_.options.prefetch_window.read_bytes);
  while (!ShouldStop()) {
    const std::optional<Extent> next = NextRange();
    if (!next.has_value()) break;
    progress_ = true;
    while (head_ - tail_ == slots_.size() && !ShouldStop()) co_await ring_changed_.Wait();
    if (ShouldStop()) break;
    const uint64_t index = head_;
    Slot& slot = slots_[index % slots_.size()];
    slot.offset = next->offset;
    slot.bytes.resize(next->length);
    slot.pending = static_cast<int>(DivRoundUp(next->length, piece));
    slot.filled = false;
    ++head_;
    for (uint64_t at = 0; at < next->length && !ShouldStop(); at += piece) {
      while (in_flight_ >= window_.reads() && !ShouldStop()) co_await ring_changed_.Wait();
      if (const TimePoint now = c_.env.clock.Now(); now < next_read_at_ && !ShouldStop())
        co_await Sleep(next_read_at_ - now);
      const uint64_t length = std::min(piece, next->length - at);
      co_await Pace(read_meter_, read_cap_, length, /*min_kibps=*/0);
      if (ShouldStop()) break;
      ++in_flight_;
      Detach(ReadPiece(index, at, length), [this] {
        --in_flight_;
        ring_changed_.NotifyAll(c_.env.scheduler);
      });
    }
  }
  while (in_flight_ > 0) co_await ring_changed_.Wait();
}

Task<void> Prefetcher::ReadPiece(uint64_t slot_index, uint64_t at, uint64_t length) {
  Slot& slot = slots_[slot_index % slots_.size()];
  const TimePoint t0 = c_.env.clock.Now();
  Status s =
      co_await c_.ReadBase(slot.offset + at, std::span<std::byte>(slot.bytes).subspan(at, length));
  if (!s.ok()) {
    Fail(s, "prefetch base read");
    co_return;
  }
  const TimePoint now = c_.env.clock.Now();
  const Duration took = now - t0;
  read_meter_.Add(length, took);
  c_.stats.prefetch_bytes_read += length;
  window_.Completed(now, length, took);
  if (const Duration gap = window_.TakeGap(took); gap > Duration::zero()) {
    ++c_.stats.prefetch_backoffs;
    next_read_at_ = std::max(next_read_at_, now + gap);
  }
  if (--slot.pending == 0) slot.filled = true;
}

Task<void> Prefetcher::Writer() {
  for (;;) {
    while ((head_ == tail_ ? !reader_done_ : !slots_[tail_ % slots_.size()].filled) &&
           !ShouldStop())
      co_await ring_changed_.Wait();
    if (ShouldStop() || head_ == tail_) break;
    const Slot& slot = slots_[tail_ % slots_.size()];
    co_await Pace(write_meter_, write_cap_, slot.bytes.size(),
                  c_.header.prefetch_min_write_throughput);
    if (ShouldStop()) break;
    co_await CopySlot(slot);
    ++tail_;
    ring_changed_.NotifyAll(c_.env.scheduler);
  }
}

Task<void> Prefetcher::Pace(ThroughputMeter& meter, RateCap& cap, uint64_t bytes,
                            int32_t min_kibps) {
  const int32_t throttle_ms = c_.header.prefetch_throttle_time;
  if (throttle_ms > 0 && meter.Below(static_cast<double>(KiBpsToBytesPerSecond(min_kibps)))) {
    meter.Reset();
    RandomSource& random = c_.env.random;
    if (random.UnitDouble() < 0.5) {
      ++c_.stats.prefetch_pauses;
      const double ms = 1 + random.UnitDouble() * throttle_ms;
      co_await Sleep(
          std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms)));
    } else {
      ++c_.stats.prefetch_resets;
    }
  }
  if (!cap.enabled() || ShouldStop()) co_return;
  const TimePoint now = c_.env.clock.Now();
  const TimePoint start = cap.Admit(now, bytes);
  if (start > now) {
    ++c_.stats.prefetch_cap_waits;
    co_await Sleep(start - now);
  }
}

Task<void> Prefetcher::CopySlot(const Slot& slot) {
  const uint64_t size = slot.bytes.size();
  const uint64_t step = Windowed() ? WritePieceBytes() : size;
  for (uint64_t at = 0; at < size && !ShouldStop(); at += step) {
    const uint64_t length = std::min(step, size - at);
    co_await CopyPiece(slot.offset + at,
                       std::span<const std::byte>(slot.bytes).subspan(at, length));
  }
}

uint64_t Prefetcher::WritePieceBytes() const {
  const uint64_t bs = c_.header.block_size;
  return RoundUp(std::max<uint64_t>(c_.options.prefetch_window.read_bytes, bs), bs);
}

Task<void> Prefetcher::CopyPiece(uint64_t offset, std::span<const std::byte> bytes) {
  const Extent span = LockSpan(c_, offset, bytes.size());
  RangeLock lock;
  if (!c_.locks.TryAcquire(lock, LockKind::kCopy, span.offset, span.offset + span.length)) {
    ++c_.stats.prefetch_skipped_locked;  // a later pass copies what is still missing
    co_return;
  }
  const TimePoint t0 = c_.env.clock.Now();
  auto copied = co_await CopyBaseIntoImage(c_, offset, bytes, /*recheck=*/true);
  c_.locks.Release(lock);
  if (!copied.ok()) {
    Fail(copied.status(), "prefetch copy");
    co_return;
  }
  if (*copied == 0) co_return;
  write_meter_.Add(*copied, c_.env.clock.Now() - t0);
  c_.stats.prefetch_bytes_written += *copied;
  ++c_.stats.prefetch_copies;
  if (c_.options.on_prefetch_progress)
    c_.options.on_prefetch_progress(c_.stats.prefetch_bytes_written);
}

Task<Status> Prefetcher::Complete() {
  // A lock over the whole disk: no write is between setting its fresh and stale bits, and no
  // copy or allocation is in flight, while the bitmap and table are written.
  RangeLock lock;
  while (!c_.locks.TryAcquire(lock, LockKind::kCopy, 0, c_.header.virtual_disk_size)) {
    if (ShouldStop()) co_return Status::Ok();
    co_await Sleep(milliseconds(1));
  }
  Status s = co_await MarkSelfContained();
  c_.locks.Release(lock);
  // Whatever failed, the metadata on disk may now be part written: refuse writes until reopened.
  if (!s.ok()) s = c_.EnterMetadataError(s, "prefetch completion");
  co_return s;
}

Task<Status> Prefetcher::MarkSelfContained() {
  // Queued journal records first (they clean the table's dirty entries), then the data: the
  // bitmap and table written next point at it.
  FVD_CO_RETURN_IF_ERROR(co_await c_.CommitMetadata());
  FVD_CO_RETURN_IF_ERROR(co_await c_.FlushData());
  const IoBuffer bitmap = c_.EncodeBitmapRegion(c_.fresh);
  const IoBuffer table = c_.compact() ? c_.EncodeTableRegion() : IoBuffer{};
  FVD_CO_RETURN_IF_ERROR(co_await c_.WriteRegions(bitmap, table));
  FVD_CO_RETURN_IF_ERROR(co_await c_.FlushImage());
  c_.stale = c_.fresh;
  c_.header.self_contained = true;  // in the header's run-time sector: the write cannot tear
  FVD_CO_RETURN_IF_ERROR(co_await c_.WriteHeader());
  FVD_CO_RETURN_IF_ERROR(co_await c_.FlushImage());
  c_.use_bitmap = false;
  c_.stats.prefetch_finished = true;
  c_.stats.prefetch_finished_at_ns = c_.env.clock.Now().time_since_epoch().count();
  co_return Status::Ok();
}

}  // namespace fvd
