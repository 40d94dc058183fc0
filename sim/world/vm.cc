#include "sim/world/vm.h"

#include <algorithm>
#include <cassert>

#include "core/util/units.h"
#include "sim/disk/sector_token.h"

namespace fvd::sim {
namespace {

constexpr uint64_t kSector = 512;

// co_await SleepFor(scheduler, ns): resumes after `ns` of the scheduler's time.
struct SleepFor {
  Scheduler& scheduler;
  uint64_t ns;
  bool await_ready() const noexcept { return ns == 0; }
  void await_suspend(std::coroutine_handle<> h) {
    scheduler.ScheduleAfter(Duration(static_cast<int64_t>(ns)), [h] { h.resume(); });
  }
  void await_resume() const noexcept {}
};

// Guest data: a fresh token sector (sector_token.h) per 512 bytes, each token into `tokens`
// (a token sector's SectorHash is its token); guest requests are whole sectors.
void FillTokenData(Prng& p, std::span<std::byte> data, std::vector<uint64_t>& tokens) {
  tokens.clear();
  for (uint64_t i = 0; i + kSector <= data.size(); i += kSector) {
    tokens.push_back(NonzeroToken(p.NextU64()));
    FillTokenSector(tokens.back(), data.subspan(i, kSector));
  }
}

}  // namespace

uint64_t LatencyLog::Percentile(double p) const {
  if (ns_.empty()) return 0;
  std::vector<uint64_t> values = ns_;
  const double rank = p / 100.0 * static_cast<double>(values.size());
  size_t index = static_cast<size_t>(rank);
  if (static_cast<double>(index) < rank) ++index;  // nearest rank, 1-based
  // The value a sort would put there, in linear time.
  const auto at =
      values.begin() + static_cast<ptrdiff_t>(std::clamp<size_t>(index, 1, values.size()) - 1);
  std::nth_element(values.begin(), at, values.end());
  return *at;
}

uint64_t LatencyLog::Percentile(double p, size_t from) const {
  LatencyLog tail;
  tail.ns_.assign(ns_.begin() + static_cast<ptrdiff_t>(std::min(from, ns_.size())), ns_.end());
  return tail.Percentile(p);
}

uint64_t LatencyLog::Max() const {
  return ns_.empty() ? 0 : *std::max_element(ns_.begin(), ns_.end());
}

Vm::Vm(VmWorld world, std::string name, uint64_t id, const VmConfig& config, VmDisks disks,
       uint64_t disk_bytes, uint64_t seed, std::function<uint64_t(uint64_t)> original)
    : w_(world),
      name_(std::move(name)),
      id_(id),
      config_(config),
      disks_(disks),
      disk_bytes_(disk_bytes),
      prng_(seed),
      data_prng_(DeriveSeed(seed, 1)),
      oracle_(std::move(original)) {
  if (config_.image.journal_mode == "unbuffered") oracle_.SetWriteThrough();
}

Vm::~Vm() = default;

void Vm::Start() {
  Detach(Main(), [this] { finished_ = true; });
}

void Vm::Violation(std::string_view what, FailureStage stage, const std::string& message) {
  const std::string signature = Signature(what, stage);
  const std::string text =
      "vm " + name_ + " at " + std::to_string(NowNs(w_.clock)) + " ns: " + message;
  if (tap_ != nullptr) tap_->Violation(signature, text);
  w_.violations.Add(signature, text);
}

void Vm::OracleViolations(FailureStage stage) {
  for (const std::string& m : oracle_found_) {
    const std::string signature = OracleSignature(m, stage);
    const std::string text = "vm " + name_ + " at " + std::to_string(NowNs(w_.clock)) + " ns: " + m;
    if (tap_ != nullptr) tap_->Violation(signature, text);
    w_.violations.Add(signature, text);
  }
  oracle_found_.clear();
}

void Vm::CheckInPlace(uint64_t offset, uint64_t length) {
  if (++in_place_reads_ % 8 != 0 || !oracle_.Quiet(offset / kSector, length / kSector)) return;
  const std::optional<uint64_t> at = image_->InPlaceRun(offset, length);
  if (!at.has_value()) return;
  SimDisk* data = disks_.data_disk != nullptr ? disks_.data_disk : disks_.image_disk;
  if (data == nullptr) return;  // not a simulated disk: nothing to read behind the engine's back
  in_place_bytes_.resize(length);
  data->ReadNow(*at, in_place_bytes_);
  SectorHashes(in_place_bytes_, read_hashes_);
  oracle_.CheckRead(offset / kSector, read_hashes_, oracle_found_);
  if (oracle_found_.empty()) return;
  Violation("in-place-run-wrong", FailureStage::kGuestRead,
            "Image::InPlaceRun(" + std::to_string(offset) + ", " + std::to_string(length) +
                ") names data-device offset " + std::to_string(*at) +
                ", which does not hold the latest values: " + oracle_found_.front());
  oracle_found_.clear();
}

void Vm::Crash(Prng& rng, const CrashFates& fates) {
  assert(crashes_possible_);
  assert(disks_.image_disk != nullptr);
  if (!running_ || crash_pending_) return;
  crash_pending_ = true;
  disks_.image_disk->Crash(rng, fates);
  if (disks_.data_disk != nullptr) disks_.data_disk->Crash(rng, fates);
  w_.trace.Add({NowNs(w_.clock), id_, 100});
}

Task<void> Vm::Sleep(uint64_t ns) {
  co_await SleepFor{w_.scheduler, ns};
}

Task<void> Vm::OpenImage(FailureStage stage) {
  ImageOptions options;
  options.journal_mode = config_.image.journal_mode == "unbuffered" ? JournalMode::kUnbuffered
                                                                    : JournalMode::kBuffered;
  options.journal_buffer_bytes = config_.image.journal_buffer_bytes;
  options.journal_flush_period =
      Duration(static_cast<int64_t>(config_.image.journal_flush_period_ns));
#ifdef FVD_TEST_BUGS
  options.bugs = w_.options.bugs;
#endif
  options.record_prefetch_profile = config_.image.record_prefetch_profile;
  options.prefetch_queue_target =
      Duration(static_cast<int64_t>(config_.image.prefetch_queue_target_ns));
  options.prefetch_control =
      config_.image.prefetch_control == "window" ? PrefetchControl::kWindow : PrefetchControl::kFvd;
  options.prefetch_window.read_bytes = config_.image.prefetch_read_bytes;
  options.prefetch_window.max_reads = config_.image.prefetch_window_max;
  if (!config_.image.prefetch_profile_from.empty() && w_.profile_of)
    options.prefetch_profile = w_.profile_of(config_.image.prefetch_profile_from);
  const uint64_t copied_before = stats_.prefetch_bytes;
  options.on_prefetch_progress = [this, copied_before](uint64_t bytes) {
    if (w_.recorder != nullptr)
      w_.recorder->AddPrefetch(NowNs(w_.clock), copied_before + bytes, static_cast<uint16_t>(id_));
    if (tap_ != nullptr) tap_->PrefetchProgress(NowNs(w_.clock), copied_before + bytes);
  };
  ImageEnv env{w_.clock, w_.scheduler, w_.random};
  auto opened =
      co_await Image::Open(env, {&disks_.image_dev, disks_.data_dev, disks_.base}, options);
  if (!opened.ok()) {
    Violation("open-failed", stage, "the image does not open: " + opened.status().ToString());
    stopped_ = true;
    co_return;
  }
  image_ = std::move(*opened);
}

std::optional<PhaseConfig> Vm::PhaseToRun(size_t index) const {
  PhaseConfig phase = config_.phases[index];
  if (!resume_ || index != resume_->phase) return phase;
  if (phase.ops > 0) {
    if (resume_->ops_done >= phase.ops) return std::nullopt;
    phase.ops -= resume_->ops_done;
  }
  if (phase.duration_ns > 0) {
    if (resume_->elapsed_ns >= phase.duration_ns) return std::nullopt;
    phase.duration_ns -= resume_->elapsed_ns;
  }
  return phase;
}

Task<void> Vm::RecoverAfterKill() {
  ++stats_.crashes;
  const uint64_t at = NowNs(w_.clock);
  co_await OpenImage(FailureStage::kReopenAfterCrash);
  stats_.recovery_ns_max = std::max(stats_.recovery_ns_max, NowNs(w_.clock) - at);
  if (stopped_) co_return;
  stats_.replayed_sectors += image_->stats().replayed_sectors;
  co_await CheckAll(/*after_crash=*/true);
  const Status closed = co_await image_->Close();
  if (!closed.ok()) {
    Violation("close-failed", FailureStage::kClose,
              "the image does not close cleanly after recovery: " + closed.ToString());
  }
  image_.reset();
}

Task<void> Vm::Main() {
  if (!resume_) co_await Sleep(config_.start_ns);
  stats_.start_ns = NowNs(w_.clock);
  {
    // Injected errors hit the workload, not the setup: an image that does not open because
    // its header write failed is the host's error to report, not the engine's bug (swarm seed
    // 4046 failed open-failed@first-open so).
    FaultGateHold no_faults(&w_.faults);
    co_await OpenImage(FailureStage::kFirstOpen);
  }
  if (stopped_) co_return;
  running_ = true;
  for (size_t index = resume_ ? resume_->phase : 0; index < config_.phases.size(); ++index) {
    phase_index_ = static_cast<uint8_t>(index);
    const std::optional<PhaseConfig> to_run = PhaseToRun(index);
    if (!to_run) continue;
    const PhaseConfig& phase = *to_run;
    if (tap_ != nullptr) tap_->PhaseStarted(static_cast<uint32_t>(index), NowNs(w_.clock));
    PhaseStats ps{phase.kind, NowNs(w_.clock)};
    ps.reads = stats_.reads;
    ps.writes = stats_.writes;
    ps.base_bytes_read = BaseBytesSoFar();
    const size_t reads_logged = stats_.read_latency.count();
    co_await RunPhase(phase);
    // The workload's reads only: the checks that follow read the base too.
    if (image_ != nullptr) {
      stats_.last_guest_base_read_ns =
          std::max(stats_.last_guest_base_read_ns, image_->stats().last_guest_base_read_ns);
    }
    ps.end_ns = NowNs(w_.clock);
    ps.reads = stats_.reads - ps.reads;
    ps.writes = stats_.writes - ps.writes;
    ps.base_bytes_read = BaseBytesSoFar() - ps.base_bytes_read;
    ps.read_p99_ns = stats_.read_latency.Percentile(99, reads_logged);
    stats_.phases.push_back(ps);
    if (stopped_ || stop_requested_) break;
  }
  // The image did not come back after a crash: the violation is recorded, and there is no
  // image left to drain, check or close.
  if (image_ == nullptr) co_return;
  co_await Drain();
  if (crash_pending_) {
    co_await Recover();
    if (stopped_) co_return;
  }
  running_ = false;
  FaultGateHold no_faults(&w_.faults);  // the checks and the close see no injected errors
  co_await CheckAll(/*after_crash=*/false);
  Status closed = co_await image_->Close();
  if (!closed.ok() && image_->metadata_error() && crashes_possible_) {
    // An injected error stopped the engine's metadata writes (its metadata-error state), so it
    // refuses a clean close, as it must. With a journal, reopen it as a host would (recovery
    // replays the journal), check it as after a crash, and close again. Without one there is
    // nothing to recover from: the image stays unclean by design (FORMAT.md), and the check
    // above was the last word.
    if (config_.image.journal_size_bytes == 0) {
      AddImageStats();
      stats_.end_ns = NowNs(w_.clock);
      co_return;
    }
    co_await Reopen(FailureStage::kReopenAfterError);
    if (stopped_) co_return;
    closed = co_await image_->Close();
  }
  if (!closed.ok()) {
    Violation("close-failed", FailureStage::kClose,
              "the image does not close cleanly: " + closed.ToString());
  }
  AddImageStats();
  stats_.end_ns = NowNs(w_.clock);
}

bool Vm::Overlaps(const GuestOp& op) const {
  if (op.kind == GuestOp::kFlush) return false;
  for (const GuestOp& other : in_flight_ops_) {
    if (other.kind == GuestOp::kFlush) continue;
    if (op.kind == GuestOp::kRead && other.kind == GuestOp::kRead) continue;
    if (op.offset < other.offset + other.length && other.offset < op.offset + op.length)
      return true;
  }
  return false;
}

Task<void> Vm::RunPhase(const PhaseConfig& phase) {
  auto gen = MakeGenerator(phase, disk_bytes_);
  sync_write_percent_ = phase.sync_write_percent;
  const uint64_t end = phase.duration_ns == 0 ? UINT64_MAX : NowNs(w_.clock) + phase.duration_ns;
  std::optional<GuestOp> next;
  for (;;) {
    if (crash_pending_) {
      co_await Recover();
      if (stopped_) co_return;
    }
    if (NowNs(w_.clock) >= end || stop_requested_) break;
    if (!next) next = gen->Next(prng_);
    if (!next) {
      co_await Drain();
      if (end != UINT64_MAX && !crash_pending_)
        co_await Sleep(std::min<uint64_t>(end - NowNs(w_.clock), 100'000'000));
      if (crash_pending_ || (end != UINT64_MAX && NowNs(w_.clock) < end && !stop_requested_))
        continue;
      break;
    }
    if (in_flight_ >= phase.queue_depth || Overlaps(*next)) {
      co_await completions_.Wait();
      continue;
    }
    Detach(DoOp(*next), [] {});
    next.reset();
    if (gen->think_time_ns() > 0) {
      co_await Drain();
      co_await Sleep(gen->think_time_ns());
    }
  }
  co_await Drain();
}

Task<void> Vm::Drain() {
  while (in_flight_ > 0) co_await completions_.Wait();
}

Task<void> Vm::DoOp(GuestOp op) {
  ++in_flight_;
  in_flight_ops_.push_back(op);
  const uint64_t start = NowNs(w_.clock);
  UninitializedIoBuffer data = TakeBuffer(op.kind == GuestOp::kFlush ? 0 : op.length);
  uint64_t write_id = 0, flush_id = 0;
  bool verify = false;
  Status s;
  if (op.kind == GuestOp::kWrite) {
    FillTokenData(data_prng_, data, write_tokens_);
    write_id = oracle_.WriteSubmittedValues(op.offset, write_tokens_);
    if (tap_ != nullptr) tap_->WriteSubmitted(write_id, op.offset, write_tokens_);
    // A synchronous host tries to have the write done right here (no draw at 0%: the phases of
    // earlier files keep their request streams).
    const bool now = sync_write_percent_ > 0 && prng_.Below(100) < sync_write_percent_ &&
                     image_->TryWriteNow(op.offset, data);
    if (!now) s = co_await image_->Write(op.offset, data);
  } else if (op.kind == GuestOp::kRead) {
    verify = oracle_.Quiet(op.offset / kSector, op.length / kSector);
    s = co_await image_->Read(op.offset, data);
  } else {
    flush_id = oracle_.FlushSubmitted();
    if (tap_ != nullptr) tap_->FlushSubmitted(flush_id);
    s = co_await image_->Flush();
  }
  const uint64_t now = NowNs(w_.clock);
  const bool crashed = crash_pending_;
  // A read's sector hashes, once: folded into the trace, and checked by the oracle.
  uint64_t read_hash = 0;
  if (op.kind == GuestOp::kRead && s.ok()) {
    SectorHashes(data, read_hashes_);
    read_hash = SectorHash(std::as_bytes(std::span<const uint64_t>(read_hashes_)));
  }
  w_.trace.Add({now, id_, static_cast<uint64_t>(op.kind), op.offset, op.length,
                static_cast<uint64_t>(s.code()), read_hash});
  if (s.ok() && !crashed && w_.recorder != nullptr) {
    w_.recorder->Add(now, now - start, static_cast<uint32_t>(op.length), static_cast<uint16_t>(id_),
                     static_cast<uint8_t>(op.kind), phase_index_);
  }
  if (s.ok() && !crashed) {
    if (op.kind == GuestOp::kWrite) {
      oracle_.WriteCompleted(write_id);
      if (tap_ != nullptr) tap_->WriteCompleted(write_id);
      ++stats_.writes;
      stats_.bytes_written += op.length;
      stats_.write_latency.Add(now - start);
    } else if (op.kind == GuestOp::kRead) {
      if (verify) {
        oracle_.CheckRead(op.offset / kSector, read_hashes_, oracle_found_);
        if (!oracle_found_.empty()) OracleViolations(FailureStage::kGuestRead);
        CheckInPlace(op.offset, op.length);
      }
      ++stats_.reads;
      stats_.bytes_read += op.length;
      stats_.read_latency.Add(now - start);
    } else {
      oracle_.FlushCompleted(flush_id);
      if (tap_ != nullptr) tap_->FlushCompleted(flush_id);
      ++stats_.flushes;
      stats_.flush_latency.Add(now - start);
    }
  } else if (!crashed) {
    // An injected fault: the guest sees an error; a failed write's sectors may hold its values or
    // the ones before, and a failed flush made nothing durable.
    ++stats_.failed_ops;
    if (op.kind == GuestOp::kWrite) oracle_.WriteFailed(write_id);
    if (op.kind == GuestOp::kFlush) oracle_.FlushFailed(flush_id);
    if (tap_ != nullptr && op.kind == GuestOp::kWrite) tap_->WriteFailed(write_id);
    if (tap_ != nullptr && op.kind == GuestOp::kFlush) tap_->FlushFailed(flush_id);
  }
  if (tap_ != nullptr && !crashed) {
    tap_->OpDone({op.length, now - start, now, BaseBytesSoFar(), op.kind, phase_index_, s.ok()});
  }
  auto it = std::find_if(in_flight_ops_.begin(), in_flight_ops_.end(), [&](const GuestOp& o) {
    return o.kind == op.kind && o.offset == op.offset && o.length == op.length;
  });
  if (it != in_flight_ops_.end()) in_flight_ops_.erase(it);
  GiveBack(std::move(data));
  --in_flight_;
  completions_.NotifyAll(w_.scheduler);
}

UninitializedIoBuffer Vm::TakeBuffer(uint64_t length) {
  if (spare_buffers_.empty()) return UninitializedIoBuffer(length);
  UninitializedIoBuffer buffer = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  buffer.resize(length);
  return buffer;
}

void Vm::GiveBack(UninitializedIoBuffer buffer) {
  constexpr size_t kMaxSpares = 64;  // more than any queue depth a workload uses
  if (spare_buffers_.size() < kMaxSpares) spare_buffers_.push_back(std::move(buffer));
}

// Sets stopped_ when the image does not come back or a check fails.
Task<void> Vm::Recover() {
  running_ = false;                     // no new crash while the image is down or being checked
  FaultGateHold no_faults(&w_.faults);  // recovery and its checks see no injected errors
  co_await Drain();
  co_await image_->WaitIdle();
  disks_.image_disk->Revive();
  if (disks_.data_disk != nullptr) disks_.data_disk->Revive();
  ++stats_.crashes;
  co_await Reopen(FailureStage::kReopenAfterCrash);
  if (image_ == nullptr) co_return;  // it did not open: Main ends the VM
  crash_pending_ = false;
  running_ = !stopped_;
}

// Drops the open image without closing it, opens it again (recovery runs) and checks every
// written sector as after a crash. Sets stopped_ on failure.
Task<void> Vm::Reopen(FailureStage stage) {
  AddImageStats();
  image_.reset();
  const uint64_t reopen_at = NowNs(w_.clock);
  co_await OpenImage(stage);
  stats_.recovery_ns_max = std::max(stats_.recovery_ns_max, NowNs(w_.clock) - reopen_at);
  if (stopped_) co_return;
  co_await CheckAll(/*after_crash=*/true);
}

uint64_t Vm::BaseBytesSoFar() const {
  return stats_.base_bytes_read + (image_ ? image_->stats().base_bytes_read : 0);
}

std::vector<ByteRange> Vm::recorded_profile() const {
  if (image_ != nullptr) {
    auto live = image_->recorded_prefetch_profile();
    if (!live.empty()) return live;
  }
  return saved_profile_;
}

void Vm::AddImageStats() {
  if (auto p = image_->recorded_prefetch_profile(); !p.empty()) saved_profile_ = std::move(p);
  const ImageStats& s = image_->stats();
  if (s.prefetch_started) stats_.prefetch_started_ns = s.prefetch_started_at_ns;
  stats_.base_bytes_read += s.base_bytes_read;
  stats_.replayed_sectors += s.replayed_sectors;
  stats_.copy_on_read_bytes += s.copy_on_read_bytes;
  stats_.prefetch_bytes += s.prefetch_bytes_written;
  stats_.prefetch_profile_bytes += s.prefetch_profile_bytes;
  stats_.prefetch_pauses += s.prefetch_pauses;
  stats_.prefetch_backoffs += s.prefetch_backoffs;
  stats_.prefetch_resets += s.prefetch_resets;
  if (s.prefetch_finished) stats_.prefetch_finished_ns = s.prefetch_finished_at_ns;
}

Task<void> Vm::CheckAll(bool after_crash) {
  const size_t before = w_.violations.size();
  const FailureStage stage =
      after_crash ? FailureStage::kCheckAfterCrash : FailureStage::kFinalCheck;
  UninitializedIoBuffer buf;  // aligned: real mode may read with O_DIRECT
  for (const auto& [first, count] : oracle_.WrittenRuns(2048)) {
    buf.resize(count * kSector);
    const Status s = co_await image_->Read(first * kSector, buf);
    if (!s.ok()) {
      Violation("read-back-failed", stage, "read-back failed: " + s.ToString());
      break;
    }
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t h = SectorHash(std::span<const std::byte>(buf).subspan(i * kSector, kSector));
      if (after_crash) {
        oracle_.Recovered(first + i, h, oracle_found_);
      } else {
        oracle_.Final(first + i, h, oracle_found_);
      }
    }
    OracleViolations(stage);
  }
  if (after_crash) oracle_.CrashDone();
  // A sample of never-written sectors must read their original content.
  UninitializedIoBuffer sector(kSector);
  for (int i = 0; i < 64; ++i) {
    const uint64_t s = prng_.Below(disk_bytes_ / kSector);
    if (oracle_.Written(s)) continue;
    if (!(co_await image_->Read(s * kSector, sector)).ok()) break;
    if (SectorHash(sector) != oracle_.Original(s)) {
      Violation("base-data-wrong", stage,
                "never-written sector " + std::to_string(s) + " does not read the base (or zeros)");
    }
  }
  const CheckReport report = image_->Check();
  for (const std::string& c : report.corruptions) {
    Violation("check-corruption", stage, "check: " + c);
  }
  if (w_.violations.size() > before) stopped_ = true;
}

}  // namespace fvd::sim
