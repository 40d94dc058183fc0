// The system under test of the crash-consistency properties: one FVD image on simulated disks
// (a volatile write cache, jitter, crashes as sim/disk/sim_disk.h models them), the oracle of
// ARCHITECTURE.md (sim/oracle/truth_image.h), and the operations the properties drive. Every
// check appends to `violations` with what and where; the properties assert it stays empty.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/image/image.h"
#include "core/seam/random.h"
#include "core/seam/virtual_loop.h"
#include "proptests/fault_points.h"
#include "sim/disk/sim_disk.h"
#include "sim/oracle/truth_image.h"

namespace fvd::proptest {

// An image configuration the properties run over.
struct ImageConfig {
  bool base = true;  // an overlay on a base image (else a plain image)
  bool compact = false;
  bool copy_on_read = false;
  bool prefetch = false;              // whole-image prefetch starts one second after open
  bool buffered = true;               // journal mode
  bool data_file = false;             // data in a separate file, on its own simulated disk
  uint64_t journal_bytes = 8 * 1024;  // small: the journal recycles often
#ifdef FVD_TEST_BUGS
  TestBugs bugs;
#endif
  // The journal-damage property decides which sectors recovery must ignore with its own model
  // of the format (journal_model.h). A test sets this to decide with a decoder that is wrong on
  // purpose (it ignores the epoch), to show what leaning on a wrong decoder would hide.
  bool damage_with_epochless_decoder = false;
  std::string Name() const;
};

// Every configuration of the list that this harness supports.
std::vector<ImageConfig> AllConfigs();

// One guest operation of a concurrent batch. Sectors are 512 bytes.
struct GuestOp {
  enum Kind { kRead, kWrite, kFlush } kind = kRead;
  uint64_t sector = 0;
  uint64_t count = 1;
  uint64_t data_seed = 0;     // writes: the content
  uint64_t delay_events = 0;  // loop events to run before submitting it (after the previous)
};

class Harness {
 public:
  static constexpr uint64_t kDiskBytes = 1 << 20;    // the virtual disk
  static constexpr uint64_t kBaseBytes = 768 << 10;  // the base image, when there is one
  static constexpr uint64_t kSectors = kDiskBytes / 512;

  Harness(const ImageConfig& config, uint64_t seed);
  ~Harness();

  // Runs `ops` concurrently (submitted together, completed in whatever order the disks give)
  // and checks each read of sectors no write of the batch touches. Writes in one batch must
  // not overlap each other.
  void Batch(const std::vector<GuestOp>& ops);
  // Lets background work run (journal timer, copy-on-read, prefetch) for `ms` of virtual time.
  void Idle(uint64_t ms);
  // Submits `ops` and cuts the power `events` loop events after the first submission (some
  // may never be submitted): the image disk keeps what the
  // crash model lets it keep. Then recovers and checks every sector ever written against the
  // oracle, a sample of never-written ones against the base, `check`, and that a second
  // recovery (another crash at once) changes nothing.
  void CrashAndRecover(const std::vector<GuestOp>& ops, uint64_t events, uint64_t crash_seed);
  // The same with the crash's choices from `chooser` (the exhaustive checks enumerate them).
  void CrashAndRecover(const std::vector<GuestOp>& ops, uint64_t events, sim::CrashChooser& chooser,
                       uint64_t crash_seed);
  // Runs `ops` as a batch to the end; returns the loop events that took (the crash points a
  // replay of the same batch can stop at).
  uint64_t RunToCompletion(const std::vector<GuestOp>& ops);
  // Cuts the power with everything flushed, then overwrites `count` journal sectors with
  // garbage, torn copies of other journal sectors, or well-formed sectors of the previous
  // epoch carrying random records; recovery must ignore all of them and lose nothing.
  void DamageJournalAndRecover(uint64_t count, uint64_t seed);
  // Arms an I/O error at `point` (the (skip + 1)-th matching operation), runs `ops` and lets
  // background work run for a while: requests may fail, or the image may refuse writes (the
  // metadata-error state). Then the power fails and the image must recover with nothing lost
  // that a completed flush promised.
  void FaultAndRecover(FaultPoint point, uint64_t skip, const std::vector<GuestOp>& ops,
                       uint64_t crash_seed);
  // Closes the image, changes options on disk as `fvd-img update` would (copy_on_read, the
  // prefetch start delay), and opens it again.
  void UpdateAndReopen(bool copy_on_read, int32_t prefetch_start_delay);
  // Closes the image cleanly and opens it again.
  void Reopen();

  const std::vector<std::string>& violations() const { return violations_; }
  uint64_t crashes() const { return crashes_; }
  // States the oracle checked: one per operation batch, idle spell or reopen, two per crash
  // (the recovery and the second recovery).
  uint64_t states() const { return states_; }

 private:
  struct InFlight;
  void Open();
  // Closes the image cleanly (a failure is a violation); false if it did not close.
  bool Close();
  void Submit(const GuestOp& op, bool check_read, std::shared_ptr<InFlight> batch);
  // After a crash: every written sector reads an allowed value, never-written ones the base,
  // check finds no corruption.
  void CheckRecovered(uint64_t sample_seed);
  // Submits `ops` in order (their delays and waits run loop events). With a `budget`, each
  // event spends one; at zero, stops and returns false (the rest are never submitted).
  bool SubmitAll(const std::vector<GuestOp>& ops, const std::shared_ptr<InFlight>& batch,
                 uint64_t* budget = nullptr);
  void Drain(const std::shared_ptr<InFlight>& batch);
  void WaitIdleAndDrop();
  // Power fails for every disk of the image (image file and data file).
  void CrashDisks(sim::CrashChooser& chooser);
  void ReviveDisks();
  // Reads every written sector and every sector of a sample; `check` runs with each hash.
  std::vector<uint64_t> ReadAllHashes();
  void Violation(const std::string& what);

  ImageConfig config_;
  uint64_t seed_;
  VirtualLoop loop_;
  PrngRandomSource random_;
  std::unique_ptr<sim::SimDisk> base_disk_;
  std::unique_ptr<sim::SimDisk> image_disk_;
  FaultInjector base_faults_;                // between the engine and base_disk_
  FaultInjector image_faults_;               // between the engine and image_disk_
  std::unique_ptr<sim::SimDisk> data_disk_;  // the separate data file (config_.data_file)
  FaultInjector data_faults_;
  bool faults_ = false;  // an injected fault may fail requests now
  sim::TruthImage oracle_;
  std::unique_ptr<Image> image_;
  std::vector<std::string> violations_;
  uint64_t crashes_ = 0;
  uint64_t states_ = 0;
};

}  // namespace fvd::proptest
