#include "proptests/harness.h"

#include <array>
#include <functional>
#include <set>

#include "core/format/journal_sector.h"
#include "proptests/journal_model.h"
#include "core/format/layout.h"
#include "core/image/image_file.h"
#include "core/util/prng.h"
#include "sim/disk/initial_content.h"

namespace fvd::proptest {
namespace {

constexpr uint64_t kSector = 512;

sim::DiskConfig ImageDiskModel() {
  sim::DiskConfig m;
  m.name = "image";
  m.read_latency_ns = 20'000;
  m.write_latency_ns = 20'000;
  m.flush_latency_ns = 100'000;
  m.bandwidth_bytes_per_s = 1'000'000'000;
  m.jitter_ns = 40'000;  // wide, so completions reorder
  m.queue_depth = 8;
  m.volatile_cache = true;
  return m;
}

sim::DiskConfig BaseDiskModel() {
  sim::DiskConfig m = ImageDiskModel();
  m.name = "base";
  m.read_latency_ns = 200'000;
  m.volatile_cache = false;
  return m;
}

std::vector<std::byte> Pattern(uint64_t seed, uint64_t bytes) {
  std::vector<std::byte> out(bytes);
  Prng p(seed);
  for (size_t i = 0; i < out.size(); i += 8) {
    const uint64_t v = p.NextU64();
    for (size_t j = 0; j < 8 && i + j < out.size(); ++j)
      out[i + j] = static_cast<std::byte>(v >> (8 * j));
  }
  return out;
}

}  // namespace

std::string ImageConfig::Name() const {
  std::string n = base ? "overlay" : "plain";
  if (compact) n += "_compact";
  if (copy_on_read) n += "_cor";
  if (prefetch) n += "_prefetch";
  n += buffered ? "_buffered" : "_unbuffered";
  if (journal_bytes == 0) n += "_nojournal";
  if (data_file) n += "_datafile";
  return n;
}

std::vector<ImageConfig> AllConfigs() {
  std::vector<ImageConfig> out;
  for (const bool base : {true, false}) {
    for (const bool compact : {false, true}) {
      for (const bool buffered : {true, false}) {
        ImageConfig c;
        c.base = base;
        c.compact = compact;
        c.buffered = buffered;
        out.push_back(c);
        if (base) {
          c.copy_on_read = true;
          out.push_back(c);
          c.prefetch = true;
          out.push_back(c);
          c.prefetch = false;
          c.data_file = true;
          out.push_back(c);
        }
      }
    }
  }
  return out;
}

struct Harness::InFlight {
  uint64_t outstanding = 0;
  std::vector<GuestOp> writes;  // writes of the batch still in flight

  bool Overlaps(const GuestOp& op) const {
    for (const GuestOp& w : writes)
      if (op.sector < w.sector + w.count && w.sector < op.sector + op.count) return true;
    return false;
  }
};

Harness::Harness(const ImageConfig& config, uint64_t seed)
    : config_(config),
      seed_(seed),
      loop_(seed),
      random_(seed ^ 0x9e3779b97f4a7c15ull),
      base_disk_(
          std::make_unique<sim::SimDisk>(loop_, BaseDiskModel(), kBaseBytes, 0, seed + 1, nullptr)),
      image_disk_(std::make_unique<sim::SimDisk>(loop_, ImageDiskModel(), 0, 1, seed + 2, nullptr)),
      base_faults_(*base_disk_, loop_),
      image_faults_(*image_disk_, loop_),
      data_disk_(std::make_unique<sim::SimDisk>(loop_, ImageDiskModel(), 0, 2, seed + 3, nullptr)),
      data_faults_(*data_disk_, loop_),
      oracle_([base = config.base, seed](uint64_t sector) {
        std::array<std::byte, kSector> buf{};
        if (base && sector * kSector < kBaseBytes)
          sim::FillInitialSector(seed, kBaseBytes, sector, buf);
        return sim::SectorHash(buf);
      }) {
  base_disk_->SetInitialContent(seed, kBaseBytes);
  format::CreateOptions o;
  o.virtual_size = kDiskBytes;
  if (config.base) {
    o.base_img = "base.raw";
    o.base_img_length = kBaseBytes;
  }
  o.compact_image = config.compact;
  o.block_size = 4096;
  o.chunk_size = 64 * 1024;
  o.storage_grow_unit = 64 * 1024;
  o.journal_size = config.journal_bytes;
  o.copy_on_read = config.copy_on_read;
  o.prefetch_start_delay = config.prefetch ? 1 : -1;
  if (config.data_file) o.data_file = "data.raw";
  auto h = format::PlanImage(o);
  if (!h.ok()) {
    Violation("create: " + h.status().ToString());
    return;
  }
  h->bytes_per_prefetch = 64 * 1024;
  h->prefetch_throttle_time = 0;
  const LoopDriver drive = [this](const std::function<bool()>& done) { loop_.RunUntil(done); };
  const Status s =
      WriteNewImage(*image_disk_, config.data_file ? data_disk_.get() : nullptr, drive, *h);
  if (!s.ok()) {
    Violation("create: " + s.ToString());
    return;
  }
  Open();
}

Harness::~Harness() {
  if (image_ != nullptr) WaitIdleAndDrop();
}

void Harness::Violation(const std::string& what) {
  violations_.push_back("[" + config_.Name() + ", seed " + std::to_string(seed_) + ", after " +
                        std::to_string(crashes_) + " crashes, t=" +
                        std::to_string(loop_.Now().time_since_epoch().count()) + "ns] " + what);
}

void Harness::Open() {
  ImageOptions options;
  options.journal_mode = config_.buffered ? JournalMode::kBuffered : JournalMode::kUnbuffered;
  options.journal_buffer_bytes = 4096;
  options.journal_flush_period = std::chrono::milliseconds(50);
#ifdef FVD_TEST_BUGS
  options.bugs = config_.bugs;
#endif
  ImageEnv env{loop_, loop_, random_};
  ImageDevices devices{&image_faults_, config_.data_file ? &data_faults_ : nullptr,
                       config_.base ? &base_faults_ : nullptr};
  std::optional<Result<std::unique_ptr<Image>>> opened;
  Detach(Image::Open(env, devices, options),
         [&](Result<std::unique_ptr<Image>> r) { opened.emplace(std::move(r)); });
  loop_.RunUntil([&] { return opened.has_value(); });
  if (!opened.has_value()) {
    Violation("open never finished");
  } else if (!opened->ok()) {
    Violation("open: " + opened->status().ToString());
  } else {
    image_ = std::move(**opened);
  }
}

void Harness::Submit(const GuestOp& op, bool check_read, std::shared_ptr<InFlight> batch) {
  const uint64_t offset = op.sector * kSector, bytes = op.count * kSector;
  ++batch->outstanding;
  if (op.kind == GuestOp::kWrite) {
    auto data = std::make_shared<std::vector<std::byte>>(Pattern(op.data_seed, bytes));
    const uint64_t id = oracle_.WriteSubmitted(offset, *data);
    // A quarter of the writes play a synchronous host first (Image::TryWriteNow, as the fio
    // plugin's sync jobs and fvd-img bench at depth 1 do): done right here, or submitted.
    if (op.data_seed % 4 == 0 && image_->TryWriteNow(offset, *data)) {
      oracle_.WriteCompleted(id);
      if (!config_.buffered) oracle_.FlushCompleted(oracle_.FlushSubmitted());
      --batch->outstanding;
      return;
    }
    batch->writes.push_back(op);
    Detach(image_->Write(offset, *data), [this, batch, data, id, op](Status s) {
      auto& ws = batch->writes;
      for (auto it = ws.begin(); it != ws.end(); ++it) {
        if (it->sector == op.sector && it->count == op.count && it->data_seed == op.data_seed) {
          ws.erase(it);
          break;
        }
      }
      if (s.ok()) {
        oracle_.WriteCompleted(id);
        // Unbuffered (write-through): a completed write is durable at once, as if flushed.
        if (!config_.buffered) oracle_.FlushCompleted(oracle_.FlushSubmitted());
      } else if (image_disk_->alive() && !faults_) {
        Violation("write of sectors [" + std::to_string(op.sector) + ", +" +
                  std::to_string(op.count) + ") failed: " + s.ToString());
      }
      --batch->outstanding;
    });
  } else if (op.kind == GuestOp::kRead) {
    auto data = std::make_shared<std::vector<std::byte>>(bytes);
    const bool quiet = check_read && oracle_.Quiet(op.sector, op.count);
    Detach(image_->Read(offset, *data), [this, batch, data, quiet, op](Status s) {
      if (s.ok() && quiet) {
        std::vector<uint64_t> hashes;
        sim::SectorHashes(*data, hashes);
        oracle_.CheckRead(op.sector, hashes, violations_);
      } else if (!s.ok() && image_disk_->alive() && !faults_) {
        Violation("read of sectors [" + std::to_string(op.sector) + ", +" +
                  std::to_string(op.count) + ") failed: " + s.ToString());
      }
      --batch->outstanding;
    });
  } else {
    const uint64_t id = oracle_.FlushSubmitted();
    Detach(image_->Flush(), [this, batch, id](Status s) {
      if (s.ok()) {
        oracle_.FlushCompleted(id);
      } else if (image_disk_->alive() && !faults_) {
        Violation("flush failed: " + s.ToString());
      }
      --batch->outstanding;
    });
  }
}

bool Harness::SubmitAll(const std::vector<GuestOp>& ops, const std::shared_ptr<InFlight>& batch,
                        uint64_t* budget) {
  // One loop event, unless the crash budget is spent (then false: stop submitting).
  auto step = [&] {
    if (budget != nullptr) {
      if (*budget == 0) return false;
      --*budget;
    }
    return loop_.RunOne();
  };
  // In the given order, each after its delay; a write waits for an earlier write of the batch
  // to the same sectors (the oracle allows one write per sector in flight). A read that a
  // write of the batch overlaps is not checked, whichever is submitted first.
  for (const GuestOp& op : ops) {
    for (uint64_t i = 0; i < op.delay_events; ++i) {
      if (!step()) {
        if (budget != nullptr && *budget == 0) return false;
        break;
      }
    }
    while (op.kind == GuestOp::kWrite && batch->Overlaps(op)) {
      if (!step()) return false;
    }
    bool check = true;
    for (const GuestOp& w : ops) {
      check &= !(w.kind == GuestOp::kWrite && op.sector < w.sector + w.count &&
                 w.sector < op.sector + op.count);
    }
    if (image_ != nullptr) Submit(op, check, batch);
  }
  return true;
}

void Harness::Drain(const std::shared_ptr<InFlight>& batch) {
  loop_.RunUntil([&] { return batch->outstanding == 0; });
  if (batch->outstanding != 0) Violation("requests never completed (hang)");
}

void Harness::Batch(const std::vector<GuestOp>& ops) {
  if (image_ == nullptr) return;
  auto batch = std::make_shared<InFlight>();
  SubmitAll(ops, batch);
  Drain(batch);
  ++states_;
}

void Harness::Idle(uint64_t ms) {
  loop_.RunFor(std::chrono::milliseconds(ms));
  ++states_;
}

void Harness::WaitIdleAndDrop() {
  bool idle = false;
  Detach(image_->WaitIdle(), [&] { idle = true; });
  loop_.RunUntil([&] { return idle; });
  if (!idle) Violation("the image never went idle (hang)");
  image_.reset();
}

std::vector<uint64_t> Harness::ReadAllHashes() {
  std::vector<uint64_t> out;
  std::vector<std::byte> buf;
  for (const auto& [first, count] : oracle_.WrittenRuns(256)) {
    buf.resize(count * kSector);
    std::optional<Status> s;
    Detach(image_->Read(first * kSector, buf), [&](Status r) { s = r; });
    loop_.RunUntil([&] { return s.has_value(); });
    if (!s.has_value() || !s->ok()) {
      Violation("read-back of sectors [" + std::to_string(first) + ", +" + std::to_string(count) +
                ") failed" + (s.has_value() ? ": " + s->ToString() : " (hang)"));
      return {};
    }
    for (uint64_t i = 0; i < count; ++i)
      out.push_back(sim::SectorHash(std::span<const std::byte>(buf).subspan(i * kSector, kSector)));
  }
  return out;
}

void Harness::CrashAndRecover(const std::vector<GuestOp>& ops, uint64_t events,
                              uint64_t crash_seed) {
  Prng rng(crash_seed);
  sim::PrngCrashChooser chooser(rng);
  CrashAndRecover(ops, events, chooser, crash_seed);
}

uint64_t Harness::RunToCompletion(const std::vector<GuestOp>& ops) {
  if (image_ == nullptr) return 0;
  const uint64_t before = loop_.events_run();
  Batch(ops);
  return loop_.events_run() - before;
}

void Harness::CrashAndRecover(const std::vector<GuestOp>& ops, uint64_t events,
                              sim::CrashChooser& chooser, uint64_t crash_seed) {
  if (image_ == nullptr) return;
  auto batch = std::make_shared<InFlight>();
  uint64_t budget = events;  // the crash comes after this many loop events from the first submit
  SubmitAll(ops, batch, &budget);
  for (; budget > 0 && loop_.RunOne(); --budget) {
  }
  CrashDisks(chooser);
  ++crashes_;
  states_ += 2;
  Drain(batch);
  WaitIdleAndDrop();
  ReviveDisks();
  Open();
  if (image_ == nullptr) return;

  CheckRecovered(crash_seed);
  if (!violations_.empty()) return;
  const std::vector<uint64_t> hashes = ReadAllHashes();

  // A second recovery (power fails again at once) changes nothing.
  Prng again_rng(crash_seed ^ 0xa5a5);
  sim::PrngCrashChooser again(again_rng);
  WaitIdleAndDrop();
  CrashDisks(again);
  ReviveDisks();
  Open();
  if (image_ == nullptr) return;
  const std::vector<uint64_t> second = ReadAllHashes();
  if (second != hashes) Violation("a second recovery changed what the first one read back");
}

void Harness::CheckRecovered(uint64_t sample_seed) {
  // Every sector ever written reads a value the crash model allows.
  const auto runs = oracle_.WrittenRuns(256);
  const std::vector<uint64_t> hashes = ReadAllHashes();
  if (!violations_.empty()) return;
  size_t k = 0;
  for (const auto& [first, count] : runs)
    for (uint64_t i = 0; i < count; ++i) oracle_.Recovered(first + i, hashes[k++], violations_);
  oracle_.CrashDone();
  // Never-written sectors read the base (or zeros).
  Prng sample(sample_seed ^ 0x5a5a);
  std::vector<std::byte> sector(kSector);
  for (int i = 0; i < 16; ++i) {
    const uint64_t s = sample.Below(kSectors);
    if (oracle_.Written(s)) continue;
    std::optional<Status> st;
    Detach(image_->Read(s * kSector, sector), [&](Status r) { st = r; });
    loop_.RunUntil([&] { return st.has_value(); });
    if (!st.has_value() || !st->ok()) {
      Violation("read of never-written sector " + std::to_string(s) + " failed");
    } else if (sim::SectorHash(sector) != oracle_.Original(s)) {
      Violation("never-written sector " + std::to_string(s) + " does not read the base (or zeros)");
    }
  }
  for (const std::string& c : image_->Check().corruptions) Violation("check: " + c);
}

void Harness::DamageJournalAndRecover(uint64_t count, uint64_t seed) {
  if (image_ == nullptr) return;
  const format::Header h = image_->header();
  if (!h.has_journal()) return;
  // Everything written so far becomes durable, then the power fails.
  Batch({GuestOp{GuestOp::kFlush}});
  WaitIdleAndDrop();
  Prng none_rng(seed);
  sim::PrngCrashChooser none(none_rng);
  CrashDisks(none);
  ReviveDisks();
  Prng rng(seed);
  const uint64_t sectors = h.journal_size / kSector;
  const uint64_t entries = h.compact_image ? h.table_entries() : 0;
  // Whether recovery must apply a sector: the harness's own model of the format, never the
  // engine's decoder (a decoder bug would hide the damage that exposes it).
  const auto applies = [&](const JournalSector& s) {
    // The decoder wrong on purpose: any epoch will do.
    const uint64_t epoch =
        config_.damage_with_epochless_decoder ? ModelSectorEpoch(s) : h.journal_epoch;
    return ModelAppliesSector(s, epoch);
  };
  for (uint64_t i = 0; i < count; ++i) {
    // Only sectors recovery must not apply: a valid record of the current epoch was durable,
    // and destroying durable data is not a crash the model allows.
    const uint64_t at = h.journal_offset + rng.Below(sectors) * kSector;
    JournalSector bytes{};
    image_disk_->ReadNow(at, bytes);
    if (applies(bytes)) continue;
    switch (rng.Below(3)) {
      case 0:  // garbage
        for (auto& b : bytes) b = static_cast<std::byte>(rng.NextU64());
        break;
      case 1: {  // torn: the first part of another journal sector, the rest of this one
        std::array<std::byte, kSector> other{};
        image_disk_->ReadNow(h.journal_offset + rng.Below(sectors) * kSector, other);
        const uint64_t cut = rng.Below(kSector);
        std::copy(other.begin(), other.begin() + static_cast<ptrdiff_t>(cut), bytes.begin());
        break;
      }
      default: {  // a well-formed sector of the previous epoch with random records
        if (h.journal_epoch == 0) continue;
        const uint64_t first = rng.Below(kSectors);
        const auto count_sectors =
            static_cast<uint32_t>(1 + rng.Below(std::min<uint64_t>(64, kSectors - first)));
        std::vector<uint32_t> entry;
        uint32_t first_entry = 0;
        if (entries > 0) {
          entry.push_back(static_cast<uint32_t>(rng.Below(entries)));
          first_entry = static_cast<uint32_t>(rng.Below(entries));
        }
        bytes = ModelSector(h.journal_epoch - 1, static_cast<int64_t>(first), count_sectors,
                            first_entry, entry);
        break;
      }
    }
    if (applies(bytes)) continue;  // a torn copy of a current sector is that sector's own record
    image_disk_->WriteNowDurable(at, bytes);
  }
  Open();
  if (image_ == nullptr) return;
  ++states_;
  CheckRecovered(seed);
}

void Harness::CrashDisks(sim::CrashChooser& chooser) {
  image_disk_->Crash(chooser);
  if (config_.data_file) data_disk_->Crash(chooser);
}

void Harness::ReviveDisks() {
  image_disk_->Revive();
  if (config_.data_file) data_disk_->Revive();
}

void Harness::UpdateAndReopen(bool copy_on_read, int32_t prefetch_start_delay) {
  if (image_ == nullptr || !Close()) return;
  const LoopDriver drive = [this](const std::function<bool()>& done) { loop_.RunUntil(done); };
  auto h = ReadImageHeader(*image_disk_, drive);
  if (!h.ok()) {
    Violation("header after close: " + h.status().ToString());
    return;
  }
  if (config_.base) {  // both are about the base image
    h->copy_on_read = copy_on_read;
    h->prefetch_start_delay = prefetch_start_delay;
  }
  auto bytes = format::EncodeHeader(*h);
  if (!bytes.ok()) {
    Violation("update: " + bytes.status().ToString());
    return;
  }
  image_disk_->WriteNowDurable(0, *bytes);
  Open();
  ++states_;
}

void Harness::FaultAndRecover(FaultPoint point, uint64_t skip, const std::vector<GuestOp>& ops,
                              uint64_t crash_seed) {
  if (image_ == nullptr) return;
  FaultInjector& target = point == FaultPoint::kBaseRead                         ? base_faults_
                          : point == FaultPoint::kDataWrite && config_.data_file ? data_faults_
                                                                                 : image_faults_;
  target.Arm(point, skip, image_->header());
  faults_ = true;
  auto batch = std::make_shared<InFlight>();
  SubmitAll(ops, batch);
  Drain(batch);
  Idle(200);  // the journal timer, copy-on-read and prefetch meet the fault too
  target.Disarm();
  CrashAndRecover({}, 0, crash_seed);
  faults_ = false;
}

bool Harness::Close() {
  std::optional<Status> s;
  Detach(image_->Close(), [&](Status r) { s = r; });
  loop_.RunUntil([&] { return s.has_value(); });
  if (!s.has_value() || !s->ok()) {
    Violation("close: " + (s.has_value() ? s->ToString() : std::string("hang")));
    return false;
  }
  image_.reset();
  return true;
}

void Harness::Reopen() {
  if (image_ == nullptr || !Close()) return;
  Open();
  ++states_;
}

}  // namespace fvd::proptest
