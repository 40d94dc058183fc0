// SimDisk: the fault model is the header comment of sim_disk.h. This file keeps the pristine
// bytes (two sparse page maps) apart from the fault state (the list of writes not yet durable),
// as TigerBeetle's testing/storage.zig does, so a crash is one ordered pass over that list.
//
// Bytes. `durable` holds what survives power loss. `overlay` holds the full current contents of
// every page a completed-but-cached write touched; a read looks in overlay, then durable, then
// reads zeros. Invariant: a page touched by a cached write stays in overlay until no cached
// write remains, so writing durable underneath (a flush) never changes what reads see. When no
// cached write remains, overlay equals durable and is dropped: memory stays near the bytes
// written (twice at most, while writes wait for a flush). Pages keep token sectors
// (sector_token.h) as 8-byte tokens, so guest data costs little memory (page_map.h).
//
// Trace codes: submissions fold op 1 read, 2 cached write, 3 FUA write, 4 flush, 5 resize (its
// offset field is the new size); completions fold the same code + 16 and the status code.
#include "sim/disk/sim_disk.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <utility>

#include "sim/disk/compact_copy.h"
#include "sim/disk/initial_content.h"
#include "sim/disk/page_map.h"

namespace fvd::sim {
namespace {

constexpr uint64_t kSectorSize = 512;  // the unit of a torn write
constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kCompletionCode = 16;

enum class OpKind : uint64_t { kRead = 1, kWrite = 2, kFuaWrite = 3, kFlush = 4, kResize = 5 };

bool IsWrite(OpKind k) {
  return k == OpKind::kWrite || k == OpKind::kFuaWrite;
}
bool IsData(OpKind k) {
  return k == OpKind::kRead || IsWrite(k);
}

uint64_t Saturate(Uint128 v) {
  return v > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(v);
}

// The part of [offset, offset + data.size()) that lies inside [lo, hi), as a sub-span and its
// offset; empty when they do not meet.
std::pair<uint64_t, std::span<const std::byte>> Clip(uint64_t offset,
                                                     std::span<const std::byte> data, uint64_t lo,
                                                     uint64_t hi) {
  const uint64_t begin = std::max(offset, lo);
  const uint64_t end = std::min(offset + data.size(), hi);
  if (begin >= end) return {begin, {}};
  return {begin, data.subspan(begin - offset, end - begin)};
}

}  // namespace

struct SimDisk::Impl {
  // What a page nobody has written holds: zeros, or the seeded initial content.
  PageMap::InitPage init_page = [](uint64_t, PageMap::Page&) {};  // a new page reads zeros

  // One accepted operation, from submission to completion.
  struct Op {
    uint64_t seq = 0;
    OpKind kind = OpKind::kRead;
    uint64_t offset = 0;  // resize: the new size
    std::span<std::byte> read_buf;
    std::span<const std::byte> write_buf;
    uint64_t flush_mark = 0;  // flush: writes completed when it was submitted
    IoCallback done;
    TimerId timer = 0;
    uint64_t length() const { return kind == OpKind::kRead ? read_buf.size() : write_buf.size(); }
  };

  // A write that is not durable yet: in flight (the caller keeps its buffer alive until the
  // callback runs) or completed into the cache (then a copy: the caller may reuse its buffer).
  struct PendingWrite {
    uint64_t offset = 0;
    std::span<const std::byte> in_flight;
    CompactCopy cached;
    uint64_t completion = 0;  // completion index (1, 2, ...), 0 while in flight
    uint64_t size() const { return completion != 0 ? cached.size() : in_flight.size(); }
    // The bytes: the caller's buffer while in flight, else decoded into `scratch`.
    std::span<const std::byte> bytes(std::vector<std::byte>& scratch) const {
      if (completion == 0) return in_flight;
      scratch = cached.Bytes();
      return scratch;
    }
  };

  enum class Fate : uint8_t { kSurvived, kLost, kTorn };
  struct CrashDraw {
    const PendingWrite* write;
    uint64_t seq;
    Fate fate;
    std::vector<uint8_t> sector_is_new;  // torn only: one coin per 512-byte sector touched
  };

  Impl(SimDisk& d, uint64_t disk_id, uint64_t seed, Trace* t)
      : disk(d), id(disk_id), trace(t), jitter(seed) {}

  uint64_t NowNs() const {
    return static_cast<uint64_t>(disk.loop_.Now().time_since_epoch().count());
  }
  uint64_t QueueDepth() const { return std::max<uint32_t>(disk.model_.queue_depth, 1); }

  void TraceOp(const Op& op, bool completion, StatusCode code) {
    if (trace == nullptr) return;
    const uint64_t kind = static_cast<uint64_t>(op.kind) + (completion ? kCompletionCode : 0);
    trace->Add({NowNs(), id, kind, op.offset, op.length(), static_cast<uint64_t>(code)});
  }

  // --- Timing ---

  // `fresh`: a write that covers a page nobody has written yet (FreshWrite).
  uint64_t FixedLatencyNs(const Op& op, bool fresh) {
    const DiskConfig& m = disk.model_;
    switch (op.kind) {
      case OpKind::kRead:
        return m.read_latency_ns;
      case OpKind::kFlush:
        // The first flush after writes into fresh space commits their allocation.
        if (m.fresh_flush_latency_ns > 0 && fresh_unflushed) {
          fresh_unflushed = false;
          return m.fresh_flush_latency_ns;
        }
        return m.flush_latency_ns;
      default: {  // writes, and a resize (a metadata update)
        const bool fua = op.kind == OpKind::kFuaWrite;
        if (m.fresh_write_latency_ns > 0 && fresh) {
          // A FUA write commits its own allocation; a cached one leaves it to the next flush.
          if (fua) return m.fresh_write_latency_ns + m.fresh_flush_latency_ns;
          fresh_unflushed = true;
          return m.fresh_write_latency_ns;
        }
        if (fua && m.fua_write_latency_ns > 0) return m.fua_write_latency_ns;
        return m.write_latency_ns;
      }
    }
  }

  // Whether `op` is a write into fresh space, asked only when the model charges fresh space
  // apart (a lookup per page).
  bool FreshWrite(const Op& op) const {
    const DiskConfig& m = disk.model_;
    return IsWrite(op.kind) &&
           (m.fresh_write_latency_ns > 0 || m.fresh_write_service_ns > 0 ||
            m.fresh_fua_write_service_ns > 0 || m.fresh_write_host_cost_ns > 0) &&
           TouchesFresh(op);
  }

  // A write's serialized work (DiskConfig::write_service_ns and the FUA ones); 0 for other
  // operations.
  uint64_t ServiceNs(const Op& op, bool fresh) const {
    if (!IsWrite(op.kind)) return 0;
    const DiskConfig& m = disk.model_;
    if (op.kind == OpKind::kFuaWrite) {
      if (fresh && m.fresh_fua_write_service_ns > 0) return m.fresh_fua_write_service_ns;
      if (m.fua_write_service_ns > 0) return m.fua_write_service_ns;
    }
    return fresh && m.fresh_write_service_ns > 0 ? m.fresh_write_service_ns : m.write_service_ns;
  }

  // Whether a write covers a page nobody has written yet (only asked when the model charges
  // fresh space apart: a lookup per page).
  bool TouchesFresh(const Op& op) const {
    if (op.length() == 0) return false;
    const uint64_t last = (op.offset + op.length() - 1) / PageMap::kPageBytes;
    for (uint64_t page = op.offset / PageMap::kPageBytes; page <= last; ++page) {
      if (overlay.Find(page) == nullptr && durable.Find(page) == nullptr) return true;
    }
    return false;
  }

  // Head movement from the previous data operation's end; only an HDD model sets a cost.
  uint64_t SeekNs(const Op& op) {
    if (!IsData(op.kind)) return 0;
    const uint64_t distance = op.offset > head ? op.offset - head : head - op.offset;
    head = op.offset + op.length();
    const DiskConfig& m = disk.model_;
    uint64_t seek = Saturate(static_cast<Uint128>(distance) * m.seek_ns_per_gib / kGiB);
    if (m.max_seek_ns > 0) seek = std::min(seek, m.max_seek_ns);
    return seek;
  }

  // bytes / bandwidth in nanoseconds, rounded up; bandwidth 0 means an unlimited link.
  uint64_t TransferNs(uint64_t bytes) const {
    const uint64_t bw = disk.model_.bandwidth_bytes_per_s;
    if (bw == 0 || bytes == 0) return 0;
    return Saturate((static_cast<Uint128>(bytes) * kNsPerSecond + bw - 1) / bw);
  }

  uint64_t JitterNs() {
    return disk.model_.jitter_ns > 0 ? jitter.Below(disk.model_.jitter_ns) : 0;
  }

  // When an operation admitted now is through with the host (DiskConfig::host_cost_ns): the
  // host serves one at a time.
  uint64_t HostDoneNs(uint64_t now, bool fresh) {
    const DiskConfig& m = disk.model_;
    const uint64_t cost =
        fresh && m.fresh_write_host_cost_ns > 0 ? m.fresh_write_host_cost_ns : m.host_cost_ns;
    if (cost == 0) return now;
    SimHost& host = *disk.host_;
    host.free_at_ns = std::max(now, host.free_at_ns) + cost;
    return host.free_at_ns;
  }

  // Starts service now: the host's share, fixed latency and seek, then the bytes wait for the
  // shared link.
  void Admit(Op op) {
    const uint64_t now = NowNs();
    const bool fresh = FreshWrite(op);
    const uint64_t start = HostDoneNs(now, fresh);
    uint64_t end = start + FixedLatencyNs(op, fresh) + SeekNs(op);
    const uint64_t transfer = TransferNs(op.length());
    if (transfer > 0) {
      end = std::max(end, link_free_at) + transfer;
      link_free_at = end;
      disk.stats_.busy_ns += transfer;
    }
    if (const uint64_t service = ServiceNs(op, fresh); service > 0) {
      // One write's service at a time, beside its latency and transfer (after the link, so a
      // write waiting for its service holds no link time from the operations behind it).
      service_free_at = std::max(start, service_free_at) + service;
      end = std::max(end, service_free_at);
    }
    const uint64_t done_at = end + JitterNs();
    const uint64_t seq = op.seq;
    op.timer = disk.loop_.ScheduleAfter(std::chrono::nanoseconds(done_at - now),
                                        [this, seq] { Complete(seq); });
    in_service.emplace(seq, std::move(op));
  }

  void AdmitWaiting() {
    while (!waiting.empty() && in_service.size() < QueueDepth()) {
      Op next = std::move(waiting.front());
      waiting.pop_front();
      Admit(std::move(next));
    }
  }

  // --- Submission and completion ---

  void Submit(Op op) {
    op.seq = next_seq++;
    TraceOp(op, false, StatusCode::kOk);
    if (!disk.alive_) {
      FailLater(std::move(op));
      return;
    }
    if (IsWrite(op.kind)) pending.emplace(op.seq, PendingWrite{op.offset, op.write_buf, {}, 0});
    if (op.kind == OpKind::kFlush) op.flush_mark = completed_writes;
    if (in_service.size() < QueueDepth()) {
      Admit(std::move(op));
    } else {
      ++disk.stats_.queued_ops;
      waiting.push_back(std::move(op));
    }
  }

  void Complete(uint64_t seq) {
    auto node = in_service.extract(seq);
    assert(!node.empty());
    Op op = std::move(node.mapped());
    const Status status = Execute(op);
    AdmitWaiting();
    TraceOp(op, true, status.code());
    op.done(status);  // last: the callback may crash, revive or submit to this disk
  }

  Status Execute(const Op& op) {
    switch (op.kind) {
      case OpKind::kRead:
        return ExecuteRead(op);
      case OpKind::kWrite:
      case OpKind::kFuaWrite:
        return ExecuteWrite(op);
      case OpKind::kFlush:
        return ExecuteFlush(op);
      case OpKind::kResize:
        return ExecuteResize(op);
    }
    return Status::Internal("unknown simulated disk operation");
  }

  Status ExecuteRead(const Op& op) {
    // The range was checked at submit; a shrink in between fails the read.
    if (op.offset + op.read_buf.size() > disk.size_) {
      return Status::IoError("read past the end of a disk that shrank");
    }
    ReadCurrent(op.offset, op.read_buf);
    ++disk.stats_.reads;
    disk.stats_.bytes_read += op.read_buf.size();
    return Status::Ok();
  }

  Status ExecuteWrite(const Op& op) {
    auto it = pending.find(op.seq);
    assert(it != pending.end());
    if (op.offset + op.write_buf.size() > disk.size_) {
      pending.erase(it);
      return Status::IoError("write past the end of a disk that shrank");
    }
    ++completed_writes;
    ++disk.stats_.writes;
    disk.stats_.bytes_written += op.write_buf.size();
    if (op.kind == OpKind::kFuaWrite) ++disk.stats_.fua_writes;
    if (!disk.model_.volatile_cache || op.kind == OpKind::kFuaWrite) {
      pending.erase(it);
      MakeDurableNow(op.offset, op.write_buf);
      return Status::Ok();
    }
    PendingWrite& w = it->second;
    w.cached = CompactCopy(op.write_buf);
    overlay.Write(op.offset, w.cached, &durable, init_page);
    w.in_flight = {};
    w.completion = completed_writes;
    ++cached_writes;
    cached_bytes += w.cached.size();
    return Status::Ok();
  }

  // Makes durable every cached write that completed before the flush was submitted, in
  // completion order so the newest bytes win, as they do in `overlay`.
  Status ExecuteFlush(const Op& op) {
    std::vector<std::map<uint64_t, PendingWrite>::iterator> due;
    for (auto it = pending.begin(); it != pending.end(); ++it) {
      const uint64_t c = it->second.completion;
      if (c != 0 && c <= op.flush_mark) due.push_back(it);
    }
    std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) {
      return a->second.completion < b->second.completion;
    });
    for (const auto& it : due) {
      durable.Write(it->second.offset, it->second.cached, nullptr, init_page);
      DropCached(it);
    }
    DropOverlayIfClean();
    ++disk.stats_.flushes;
    return Status::Ok();
  }

  Status ExecuteResize(const Op& op) {
    const uint64_t new_size = op.offset;
    if (new_size < disk.size_) Shrink(new_size);
    disk.size_ = new_size;
    ++disk.stats_.resizes;
    return Status::Ok();
  }

  // Drops data past the new end everywhere it is kept, so a later grow reads zeros.
  void Shrink(uint64_t new_size) {
    durable.Truncate(new_size);
    overlay.Truncate(new_size);
    for (auto it = pending.begin(); it != pending.end();) {
      PendingWrite& w = it->second;
      const uint64_t keep = w.offset >= new_size ? 0 : new_size - w.offset;
      if (w.completion == 0) {
        // In flight: its completion checks the size again; a crash sees only the kept part.
        w.in_flight = w.in_flight.first(std::min<uint64_t>(keep, w.in_flight.size()));
        ++it;
      } else if (keep == 0) {
        it = DropCached(it);
      } else if (keep < w.cached.size()) {
        cached_bytes -= w.cached.size() - keep;
        w.cached.Truncate(keep);
        ++it;
      } else {
        ++it;
      }
    }
    DropOverlayIfClean();
  }

  // --- Bytes ---

  void ReadCurrent(uint64_t offset, std::span<std::byte> buf) const {
    ForEachPage(offset, buf.size(), [&](uint64_t index, uint64_t in_page, uint64_t at, uint64_t n) {
      const PageMap::Page* page = overlay.Find(index);
      if (page == nullptr) page = durable.Find(index);
      if (page == nullptr) {
        PageMap::Page fresh;
        init_page(index, fresh);
        fresh.Read(in_page, buf.subspan(at, n));
      } else {
        page->Read(in_page, buf.subspan(at, n));
      }
    });
  }

  // A FUA write, a write to a disk without cache, or set-up data: durable now, and newest.
  void MakeDurableNow(uint64_t offset, std::span<const std::byte> data) {
    durable.Write(offset, data, nullptr, init_page);
    overlay.WriteHeld(offset, data);
    // Older cached writes under these bytes must not undo them when a later flush (or a crash
    // that lets them survive) writes them to durable: give their copies the newer bytes.
    for (auto& [seq, w] : pending) {
      if (w.completion == 0) continue;
      const auto [at, part] = Clip(offset, data, w.offset, w.offset + w.cached.size());
      if (!part.empty()) w.cached.Patch(at - w.offset, part);
    }
    DropOverlayIfClean();
  }

  std::map<uint64_t, PendingWrite>::iterator DropCached(
      std::map<uint64_t, PendingWrite>::iterator it) {
    --cached_writes;
    cached_bytes -= it->second.cached.size();
    return pending.erase(it);
  }

  void DropOverlayIfClean() {
    if (cached_writes == 0) overlay.Clear();
  }

  // --- Crash ---

  // Draws each non-durable write's fate in submission order (the order of `pending`).
  std::vector<CrashDraw> DrawFates(CrashChooser& rng) {
    std::vector<CrashDraw> draws;
    for (const auto& [seq, w] : pending) {
      CrashDraw d{&w, seq, static_cast<Fate>(rng.ChooseFate()), {}};
      if (d.fate == Fate::kTorn && w.size() != 0) {
        const uint64_t first = w.offset / kSectorSize;
        const uint64_t last = (w.offset + w.size() - 1) / kSectorSize;
        for (uint64_t s = first; s <= last; ++s) d.sector_is_new.push_back(rng.Choose(2) < 1);
      }
      draws.push_back(std::move(d));
    }
    return draws;
  }

  // Writes what a fate keeps of one write onto durable, clipped to the current size.
  void ApplyFate(const CrashDraw& d) {
    std::vector<std::byte> scratch;
    const auto [offset, data] = Clip(d.write->offset, d.write->bytes(scratch), 0, disk.size_);
    if (data.empty() || d.fate == Fate::kLost) return;
    if (d.fate == Fate::kSurvived) {
      durable.Write(offset, data, nullptr, init_page);
      return;
    }
    const uint64_t first = d.write->offset / kSectorSize;
    for (size_t i = 0; i < d.sector_is_new.size(); ++i) {
      if (!d.sector_is_new[i]) continue;
      const uint64_t lo = (first + i) * kSectorSize;
      const auto [at, part] = Clip(offset, data, lo, lo + kSectorSize);
      if (!part.empty()) durable.Write(at, part, nullptr, init_page);
    }
  }

  void CountFates(const std::vector<CrashDraw>& draws) {
    for (const CrashDraw& d : draws) {
      if (d.fate == Fate::kSurvived) ++disk.stats_.writes_survived;
      if (d.fate == Fate::kLost) ++disk.stats_.writes_lost;
      if (d.fate == Fate::kTorn) ++disk.stats_.writes_torn;
    }
  }

  void Crash(CrashChooser& rng) {
    std::vector<CrashDraw> draws = DrawFates(rng);
    CountFates(draws);
    // Completed writes land in completion order (newest wins, as reads saw), then writes
    // still in flight, whose order the device never promised.
    auto key = [](const CrashDraw& d) {
      return std::pair(d.write->completion == 0 ? UINT64_MAX : d.write->completion, d.seq);
    };
    std::sort(draws.begin(), draws.end(),
              [&](const CrashDraw& a, const CrashDraw& b) { return key(a) < key(b); });
    for (const CrashDraw& d : draws) ApplyFate(d);
    pending.clear();
    cached_writes = 0;
    cached_bytes = 0;
    overlay.Clear();  // current = durable
    FailAllInService();
    ++disk.stats_.crashes;
  }

  // Every operation in service or queued completes with an error, in submission order.
  void FailAllInService() {
    std::vector<Op> ops;
    for (auto& [seq, op] : in_service) {
      disk.loop_.Cancel(op.timer);
      ops.push_back(std::move(op));
    }
    in_service.clear();
    for (Op& op : waiting) ops.push_back(std::move(op));
    waiting.clear();
    std::sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) { return a.seq < b.seq; });
    for (Op& op : ops) FailLater(std::move(op));
  }

  // Failures run from one posted event so they keep submission order even when the loop
  // breaks ties between same-time events at random.
  void FailLater(Op op) {
    failures.push_back(std::move(op));
    if (drain_timer == 0) drain_timer = disk.loop_.Post([this] { DrainFailures(); });
  }

  void DrainFailures() {
    drain_timer = 0;
    std::vector<Op> batch = std::move(failures);
    failures.clear();
    for (Op& op : batch) {
      const Status status = Status::IoError("disk crashed");
      TraceOp(op, true, status.code());
      op.done(status);
    }
  }

  void CancelTimers() {
    for (auto& [seq, op] : in_service) disk.loop_.Cancel(op.timer);
    if (drain_timer != 0) disk.loop_.Cancel(drain_timer);
  }

  SimDisk& disk;
  const uint64_t id;
  Trace* const trace;
  Prng jitter;
  PageMap durable;
  PageMap overlay;
  std::map<uint64_t, PendingWrite> pending;  // not yet durable, by submission sequence
  uint64_t cached_writes = 0;                // entries of `pending` that completed
  uint64_t cached_bytes = 0;                 // bytes of their copies
  uint64_t completed_writes = 0;             // the completion index of the latest write
  std::map<uint64_t, Op> in_service;         // by submission sequence
  std::deque<Op> waiting;                    // for a queue slot, in submission order
  std::vector<Op> failures;                  // to complete with "disk crashed"
  TimerId drain_timer = 0;
  uint64_t next_seq = 1;
  uint64_t link_free_at = 0;     // when the link finishes the transfers already admitted
  uint64_t service_free_at = 0;  // when the writes admitted so far finish their service
  bool fresh_unflushed = false;  // a write into fresh space was admitted since the last flush
  uint64_t head = 0;             // the previous data operation's end, for seeks
};

SimDisk::SimDisk(VirtualLoop& loop, const DiskConfig& model, uint64_t size, uint64_t id,
                 uint64_t seed, Trace* trace)
    : impl_(std::make_unique<Impl>(*this, id, seed, trace)),
      loop_(loop),
      model_(model),
      size_(size) {}

// Pending completions would call into a destroyed disk: they never run (the owner tears the
// world down after its loop is done with it).
SimDisk::~SimDisk() {
  impl_->CancelTimers();
}

Status SimDisk::SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) {
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()));
  Impl::Op op;
  op.kind = OpKind::kRead;
  op.offset = offset;
  op.read_buf = buf;
  op.done = std::move(done);
  impl_->Submit(std::move(op));
  return Status::Ok();
}

Status SimDisk::SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                            IoCallback done) {
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()));
  Impl::Op op;
  op.kind = mode == WriteMode::kFua ? OpKind::kFuaWrite : OpKind::kWrite;
  op.offset = offset;
  op.write_buf = buf;
  op.done = std::move(done);
  impl_->Submit(std::move(op));
  return Status::Ok();
}

bool SimDisk::TryWriteNow(uint64_t offset, std::span<const std::byte> buf, WriteMode mode) {
  if (!alive_ || !CheckRange(offset, buf.size(), buf.data()).ok()) return false;
  Impl::Op op;
  op.seq = impl_->next_seq++;
  op.kind = mode == WriteMode::kFua ? OpKind::kFuaWrite : OpKind::kWrite;
  op.offset = offset;
  op.write_buf = buf;
  impl_->TraceOp(op, false, StatusCode::kOk);
  impl_->pending.emplace(op.seq, Impl::PendingWrite{offset, buf, {}, 0});
  const Status status = impl_->ExecuteWrite(op);
  impl_->TraceOp(op, true, status.code());
  return status.ok();
}

Status SimDisk::SubmitFlush(IoCallback done) {
  Impl::Op op;
  op.kind = OpKind::kFlush;
  op.done = std::move(done);
  impl_->Submit(std::move(op));
  return Status::Ok();
}

Status SimDisk::SubmitResize(uint64_t new_size, IoCallback done) {
  Impl::Op op;
  op.kind = OpKind::kResize;
  op.offset = new_size;
  op.done = std::move(done);
  impl_->Submit(std::move(op));
  return Status::Ok();
}

void SimDisk::Crash(Prng& rng) {
  PrngCrashChooser chooser(rng);
  Crash(chooser);
}

void SimDisk::Crash(Prng& rng, const CrashFates& fates) {
  FateMixChooser chooser(rng, fates);
  Crash(chooser);
}

uint64_t FateMixChooser::ChooseFate() {
  if (fates_ == CrashFates{}) return p_.Below(3);
  const uint64_t r = p_.Below(uint64_t{fates_.survive} + fates_.lose + fates_.tear);
  if (r < fates_.survive) return 0;
  return r < uint64_t{fates_.survive} + fates_.lose ? 1 : 2;
}

void SimDisk::Crash(CrashChooser& chooser) {
  assert(alive_);
  impl_->Crash(chooser);
  alive_ = false;
}

void SimDisk::Revive() {
  alive_ = true;
  impl_->link_free_at = impl_->NowNs();
  impl_->service_free_at = impl_->NowNs();
}

void SimDisk::ReadNow(uint64_t offset, std::span<std::byte> buf) const {
  assert(offset <= size_ && buf.size() <= size_ - offset);
  impl_->ReadCurrent(offset, buf);
}

void SimDisk::SetInitialContent(uint64_t seed, uint64_t nonzero_bytes) {
  impl_->init_page = [seed, nonzero_bytes](uint64_t index, PageMap::Page& page) {
    for (unsigned k = 0; k < PageMap::kSectorsPerPage; ++k) {
      page.SetToken(k, InitialToken(seed, nonzero_bytes, index * PageMap::kSectorsPerPage + k));
    }
  };
}

void SimDisk::WriteNowDurable(uint64_t offset, std::span<const std::byte> buf) {
  assert(offset <= size_ && buf.size() <= size_ - offset);
  impl_->MakeDurableNow(offset, buf);
}

uint64_t SimDisk::allocated_bytes() const {
  return (impl_->durable.pages() + impl_->overlay.pages()) * PageMap::kPageBytes +
         impl_->cached_bytes;
}

}  // namespace fvd::sim
