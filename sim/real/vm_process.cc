#include "sim/real/vm_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "core/util/task.h"
#include "sim/world/failure.h"
#include "sim/world/image_plan.h"

namespace fvd::sim::real {
namespace {

std::string HowItEnded(int status) {
  if (WIFSIGNALED(status)) {
    return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended (status " + std::to_string(status) + ")";
}

}  // namespace

VmProcess::VmProcess(const VmPlan& plan, host::PosixFiles& files, Violations& violations)
    : plan_(plan), files_(files), violations_(violations) {}

VmProcess::~VmProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<VmProcess>> VmProcess::Create(const VmPlan& plan, host::PosixFiles& files,
                                                     Violations& violations) {
  std::unique_ptr<VmProcess> p(new VmProcess(plan, files, violations));
  if (!plan.base_at.empty()) {
    FVD_ASSIGN_OR_RETURN(p->base_, files.OpenBase(plan.base_at));
  }
  FVD_RETURN_IF_ERROR(p->BuildMirror());
  p->phase_reads_.resize(plan.config.phases.size());
  return p;
}

// The image device is opened afresh each time: a life may have grown the file since, and a
// device knows the size it had at open.
Status VmProcess::BuildMirror() {
  std::optional<TruthImage> oracle;
  if (mirror_ != nullptr) oracle.emplace(std::move(mirror_->oracle()));
  mirror_.reset();
  image_.reset();
  FVD_ASSIGN_OR_RETURN(image_, files_.Open(plan_.image_path, OpenMode::kReadWrite));
  VmWorld world{
      files_.loop(), files_.loop(), files_.random(),
      trace_,        violations_,   faults_,
      options_,      nullptr,       [](const std::string&) {
                  return std::vector<ByteRange>{}; }};
  mirror_ = std::make_unique<Vm>(
      world, plan_.config.name, plan_.id, plan_.config,
      VmDisks{nullptr, *image_, nullptr, nullptr, base_.get()}, plan_.config.image.size_bytes,
      plan_.seed, OriginalValues(plan_.content_seed, plan_.seeded_bytes, plan_.base_len));
  if (oracle) mirror_->AdoptOracle(std::move(*oracle));
  PipeSink& sink = *this;  // a private base, reachable here
  reader_ = std::make_unique<PipeReader>(mirror_->oracle(), sink);
  return Status::Ok();
}

Status VmProcess::Start() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Status::IoError("vm " + name() + ": no pipe for its process (" + std::strerror(errno) +
                           ")");
  }
  ::fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);  // room for bursts while the parent recovers another
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::IoError("vm " + name() + ": cannot fork its process (" + std::strerror(errno) +
                           ")");
  }
  if (pid == 0) {
    ::close(fds[0]);
    RunLife(fds[1]);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  base_before_ += base_now_;
  prefetch_before_ += prefetch_now_;
  base_now_ = prefetch_now_ = 0;
  pid_ = pid;
  fd_ = fds[0];
  ++lives_;
  return Status::Ok();
}

// In the child: the parent's loop, files and mirror are copies it never touches but to move the
// mirror's oracle into this life's VM. It leaves by _exit, running no destructor of the
// parent's (its nbdkit servers, its files).
void VmProcess::RunLife(int fd) {
  PipeTap tap(fd);
  auto fail = [&](const std::string& what) {
    tap.Violation(Signature("real-life-setup", FailureStage::kFirstOpen),
                  "vm " + name() + ": its process could not start: " + what);
    ::_exit(4);
  };
  auto files = host::PosixFiles::Create();
  if (!files.ok()) fail(files.status().ToString());
  files->set_direct(plan_.direct);
  auto image = files->Open(plan_.image_path, OpenMode::kReadWrite);
  if (!image.ok()) fail(image.status().ToString());
  std::unique_ptr<BlockDevice> base;
  if (!plan_.base_at.empty()) {
    auto b = files->OpenBase(plan_.base_at);
    if (!b.ok()) fail(b.status().ToString());
    base = std::move(*b);
  }
  Trace trace;
  Violations violations;
  FaultGate faults;
  SimOptions options;
  VmWorld world{
      files->loop(), files->loop(), files->random(),
      trace,         violations,    faults,
      options,       nullptr,       [](const std::string&) {
                  return std::vector<ByteRange>{}; }};
  Vm vm(world, name(), plan_.id, plan_.config,
        VmDisks{nullptr, **image, nullptr, nullptr, base.get()}, plan_.config.image.size_bytes,
        DeriveSeed(plan_.seed, 1000 + lives_),
        OriginalValues(plan_.content_seed, plan_.seeded_bytes, plan_.base_len));
  vm.AdoptOracle(std::move(mirror_->oracle()));
  if (lives_ > 0) vm.ResumeAt(progress_);  // lives_ counts the earlier lives here
  vm.SetTap(&tap);
  const uint64_t end = plan_.run_start_ns + plan_.max_time_ns, now = NowNs(files->loop());
  bool timed_out = false;
  files->loop().ScheduleAfter(Duration(static_cast<int64_t>(end > now ? end - now : 0)),
                              [&vm, &timed_out] {
                                if (vm.finished()) return;
                                timed_out = true;
                                vm.Stop();
                              });
  vm.Start();
  files->loop().RunUntil([&vm] { return vm.finished(); });
  const VmStats& s = vm.stats();
  ProcessTotals t;
  t.base_bytes_read = s.base_bytes_read;
  t.copy_on_read_bytes = s.copy_on_read_bytes;
  t.prefetch_bytes = s.prefetch_bytes;
  t.prefetch_profile_bytes = s.prefetch_profile_bytes;
  t.prefetch_pauses = s.prefetch_pauses;
  t.prefetch_backoffs = s.prefetch_backoffs;
  t.prefetch_resets = s.prefetch_resets;
  t.replayed_sectors = s.replayed_sectors;
  t.prefetch_started_ns = s.prefetch_started_ns;
  t.prefetch_finished_ns = s.prefetch_finished_ns;
  t.last_guest_base_read_ns = s.last_guest_base_read_ns;
  t.end_ns = s.end_ns;
  t.timed_out = timed_out;
  if (const ImageStats* i = vm.image_stats(); i != nullptr) {
    t.allocating_writes = i->allocating_writes;
    t.journal_sector_writes = i->journal_sector_writes;
    t.journal_writes = i->journal_writes;
    t.journal_recycles = i->journal_recycles;
    t.journal_recycle_wait_ns = i->journal_recycle_wait_ns;
    t.image_flushes = i->image_flushes;
    t.data_flushes = i->data_flushes;
  }
  tap.End(t);
  ::_exit(0);
}

Status VmProcess::Read() {
  std::byte buf[1 << 16];
  while (fd_ >= 0) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) {
      FVD_RETURN_IF_ERROR(
          reader_->Feed(std::span(buf, static_cast<size_t>(n))).WithContext("vm " + name()));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::Ok();
    Reap();  // the end of the stream: the life is over
  }
  return Status::Ok();
}

void VmProcess::Reap() {
  ::close(fd_);
  fd_ = -1;
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  reader_->DropPending();  // a record cut by a kill: its operation never reached the engine
  if (!finished_ && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && killing_)) {
    Violation(
        Signature("process-died", FailureStage::kGuestRead),
        "vm " + name() + ": its process " + HowItEnded(status) + " before its workload ended");
  }
}

Status VmProcess::Kill() {
  if (pid_ <= 0) return Status::Ok();
  killing_ = true;
  ::kill(pid_, SIGKILL);
  ::fcntl(fd_, F_SETFL, 0);  // blocking: read to the end of what it wrote
  const Status s = Read();
  killing_ = false;
  const uint64_t now = NowNs(files_.loop());
  if (phase_started_ns_ > 0 && now > phase_started_ns_)
    progress_.elapsed_ns += now - phase_started_ns_;
  phase_started_ns_ = 0;
  stats_.end_ns = now;
  return s;
}

Status VmProcess::Recover() {
  FVD_RETURN_IF_ERROR(BuildMirror().WithContext("vm " + name() + ": reopening after the kill"));
  const size_t before = violations_.size();
  bool done = false;
  Detach(mirror_->RecoverAfterKill(), [&done] { done = true; });
  files_.loop().RunUntil([&done] { return done; });
  if (violations_.size() > before) violated_ = true;
  const VmStats& m = mirror_->stats();
  ++crashes_;
  recovery_ns_max_ = std::max(recovery_ns_max_, m.recovery_ns_max);
  replayed_sectors_ += m.replayed_sectors;
  return Status::Ok();
}

bool VmProcess::stopped() const {
  return violated_;
}

void VmProcess::OpDone(const VmOpReport& op) {
  ++progress_.ops_done;
  base_now_ = op.base_bytes_read;
  if (!op.ok) {
    ++stats_.failed_ops;
    return;
  }
  if (recorder_ != nullptr) {
    recorder_->Add(op.now_ns, op.latency_ns, static_cast<uint32_t>(op.bytes),
                   static_cast<uint16_t>(plan_.id), static_cast<uint8_t>(op.kind), op.phase);
  }
  const GuestOp::Kind kind = op.kind;
  const uint64_t bytes = op.bytes, latency_ns = op.latency_ns;
  PhaseStats* phase = stats_.phases.empty() ? nullptr : &stats_.phases.back();
  if (kind == GuestOp::kRead) {
    ++stats_.reads;
    stats_.bytes_read += bytes;
    stats_.read_latency.Add(latency_ns);
    if (phase != nullptr) {
      ++phase->reads;
      phase_reads_[progress_.phase].Add(latency_ns);
    }
  } else if (kind == GuestOp::kWrite) {
    ++stats_.writes;
    stats_.bytes_written += bytes;
    stats_.write_latency.Add(latency_ns);
    if (phase != nullptr) ++phase->writes;
  } else {
    ++stats_.flushes;
    stats_.flush_latency.Add(latency_ns);
  }
}

void VmProcess::PhaseStarted(uint32_t index, uint64_t now_ns) {
  if (stats_.start_ns == 0) stats_.start_ns = now_ns;
  phase_started_ns_ = now_ns;
  const bool again = !stats_.phases.empty() && progress_.phase == index;
  if (again) return;  // a new life takes up the phase its last one was in
  if (!stats_.phases.empty()) stats_.phases.back().end_ns = now_ns;
  progress_ = VmProgress{index, 0, 0};
  stats_.phases.push_back({plan_.config.phases[index].kind, now_ns});
  phase_indexes_.push_back(index);
}

void VmProcess::PrefetchProgress(uint64_t now_ns, uint64_t bytes) {
  prefetch_now_ = bytes;
  if (recorder_ != nullptr) {
    recorder_->AddPrefetch(now_ns, prefetch_before_ + bytes, static_cast<uint16_t>(plan_.id));
  }
}

void VmProcess::Violation(const std::string& signature, const std::string& message) {
  violations_.Add(signature, message);
  violated_ = true;
}

void VmProcess::End(const ProcessTotals& totals) {
  totals_ = totals;
  finished_ = true;
  stats_.end_ns = totals.end_ns;
  if (!stats_.phases.empty()) stats_.phases.back().end_ns = totals.end_ns;
}

VmReport VmProcess::Report() const {
  VmReport r{name(), stats_, {}};
  VmStats& s = r.stats;
  s.crashes = crashes_;
  s.recovery_ns_max = recovery_ns_max_;
  s.replayed_sectors = replayed_sectors_ + totals_.replayed_sectors;
  s.base_bytes_read = totals_.base_bytes_read;
  s.copy_on_read_bytes = totals_.copy_on_read_bytes;
  s.prefetch_bytes = totals_.prefetch_bytes;
  s.prefetch_profile_bytes = totals_.prefetch_profile_bytes;
  s.prefetch_pauses = totals_.prefetch_pauses;
  s.prefetch_backoffs = totals_.prefetch_backoffs;
  s.prefetch_resets = totals_.prefetch_resets;
  s.prefetch_started_ns = totals_.prefetch_started_ns;
  s.prefetch_finished_ns = totals_.prefetch_finished_ns;
  s.last_guest_base_read_ns = totals_.last_guest_base_read_ns;
  for (size_t i = 0; i < s.phases.size(); ++i) {
    s.phases[i].read_p99_ns = phase_reads_[phase_indexes_[i]].Percentile(99);
  }
  r.image.allocating_writes = totals_.allocating_writes;
  r.image.journal_sector_writes = totals_.journal_sector_writes;
  r.image.journal_writes = totals_.journal_writes;
  r.image.journal_recycles = totals_.journal_recycles;
  r.image.journal_recycle_wait_ns = totals_.journal_recycle_wait_ns;
  r.image.image_flushes = totals_.image_flushes;
  r.image.data_flushes = totals_.data_flushes;
  return r;
}

}  // namespace fvd::sim::real
