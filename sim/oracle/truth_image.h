// The oracle (ARCHITECTURE.md, "Crash model"): a truth image per virtual disk, holding for every
// sector the set of values it may hold after a crash: its value at the last completed guest
// flush, plus every value written to it since (submitted before the crash). A value stands for
// a 512-byte sector's whole content (SectorHash). Sectors never written must read the base image
// (or zeros).
//
// The workload never has two writes to one sector in flight at once, so per sector the writes
// complete in submission order.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fvd::sim {

// What the oracle's violations say, word for word (each message then names the sector and the
// value found): sim/world/failure.h classifies failures by these.
inline constexpr const char* kReadNeverWritten = "a read returned a value never written there";
inline constexpr const char* kReadNotBase =
    "a read of a never-written sector returned neither its base data nor zeros";
inline constexpr const char* kFlushedDataLost = "flushed data lost after a crash";
inline constexpr const char* kHoldsNeverWritten = "a sector holds a value never written there";
inline constexpr const char* kCompletedWriteLost = "a completed write is not what the disk reads";

// The value of one 512-byte sector: its token if it is a token sector (sim/disk/sector_token.h,
// which every guest write and base image is made of; TokenOf checks all 512 bytes), else the
// CRC-64 of its bytes. Telling a token sector costs a compare of its bytes against zeros, a
// fraction of a CRC; a token and a CRC-64 meet with the odds of two CRC-64s meeting. (Any other
// length: the CRC-64.)
uint64_t SectorHash(std::span<const std::byte> sector);
// The SectorHash of each 512-byte sector of `data`, into `out` (resized).
void SectorHashes(std::span<const std::byte> data, std::vector<uint64_t>& out);

class TruthImage {
 public:
  // `original(sector)` is the hash a never-written sector must read (base data or zeros).
  explicit TruthImage(std::function<uint64_t(uint64_t)> original);

  // The disk will never crash (no crash is configured for its VM): keep only what reads must
  // return, each sector's latest value, not every value a crash could leave. Call before the
  // first write; Recovered must not be called after it. Without it, a run with no flushes
  // keeps every value ever written.
  void SetNoCrashes() { crashes_possible_ = false; }
  // Every write is durable when it completes (an image in unbuffered journal mode promises
  // write-through: data and metadata written with FUA before the write completes), as if a
  // flush had completed right after it.
  void SetWriteThrough() { write_through_ = true; }

  // A guest write of `data` at byte `offset` was submitted; returns its id.
  uint64_t WriteSubmitted(uint64_t offset, std::span<const std::byte> data);
  // The same, given each sector's value (its SectorHash), as a writer that built the data from
  // token sectors knows them without reading the bytes back.
  uint64_t WriteSubmittedValues(uint64_t offset, std::span<const uint64_t> values);
  void WriteCompleted(uint64_t id);
  // A guest write failed (an injected I/O error): each of its sectors may hold its value or the
  // one before, now and after any crash, until a later write to it completes.
  void WriteFailed(uint64_t id);
  // A guest flush was submitted / completed: writes completed before the submit are durable.
  uint64_t FlushSubmitted();
  void FlushCompleted(uint64_t flush_id);
  // A guest flush failed: it made nothing durable.
  void FlushFailed(uint64_t flush_id) { flushes_.erase(flush_id); }

  // True if no write to [sector, sector + count) is in flight: then a read must return the
  // latest values exactly.
  bool Quiet(uint64_t sector, uint64_t count) const;
  // Checks a read of quiet sectors from `first` returned the latest values, given the
  // SectorHash of each sector read; appends violations.
  void CheckRead(uint64_t first, std::span<const uint64_t> hashes,
                 std::vector<std::string>& out) const;

  // Sorted runs (first sector, count) of the sectors ever written, at most `max_run` long:
  // what to read back after a crash or at the end.
  std::vector<std::pair<uint64_t, uint64_t>> WrittenRuns(uint64_t max_run) const;
  bool Written(uint64_t sector) const { return FindWritten(sector) != nullptr; }
  // Values kept besides each written sector's durable one (what a crash could leave): memory.
  uint64_t values_kept() const;
  uint64_t Original(uint64_t sector) const { return original_(sector); }

  // After a crash and recovery, `sector` (written before) reads `hash`: it must be its value at
  // the last completed flush or one written since. It becomes the new durable value.
  void Recovered(uint64_t sector, uint64_t hash, std::vector<std::string>& out);
  // After every written sector was Recovered: forget the writes and flushes of before the crash.
  void CrashDone();
  // At the end, with nothing in flight: `sector` must read its latest value.
  void Final(uint64_t sector, uint64_t hash, std::vector<std::string>& out) const;

 private:
  struct Pending {
    uint64_t hash;
    uint64_t write_id;
  };
  // Values written to one sector since its last completed flush, in submission order. Mostly one
  // or two: kept inline, as a heap allocation per written sector was a tenth of a simulation.
  using PendingList = boost::container::small_vector<Pending, 2>;
  struct Write {
    uint64_t first_sector;
    uint64_t count;
    uint64_t completion_seq = 0;  // 0 while in flight
    // With no crashes possible, the written values wait here (not in the groups' pending lists)
    // until the write completes and they become the sectors' values.
    boost::container::small_vector<uint64_t, 8> values;
  };

  // Sectors in groups of 8 consecutive ones, so a 4 KiB write costs one map node, not eight. A
  // group is small (what every written sector needs); its pending lists live apart, only while
  // some sector of the group has values written since the last flush.
  static constexpr uint64_t kGroup = 8;
  struct Group {
    std::array<uint64_t, kGroup> stable{};     // value at the last completed flush (or original)
    std::array<uint32_t, kGroup> in_flight{};  // writes submitted, not completed
    uint8_t written = 0;                       // bit k: sector k was ever written
    std::unique_ptr<std::array<PendingList, kGroup>> pending;  // null while all are empty

    bool Written(unsigned k) const { return ((written >> k) & 1) != 0; }
    const PendingList* PendingOf(unsigned k) const {
      return pending && !(*pending)[k].empty() ? &(*pending)[k] : nullptr;
    }
    PendingList& PendingFor(unsigned k);  // creates the lists if needed
    void ReleaseIfEmpty();
    uint64_t Latest(unsigned k) const {
      const PendingList* p = PendingOf(k);
      return p != nullptr ? p->back().hash : stable[k];
    }
    // This write and every earlier one to sector k are behind a flush: its value becomes the
    // stable one.
    void Settle(unsigned k, uint64_t write_id);
  };

  // The group of a written sector, or null if the sector was never written.
  const Group* FindWritten(uint64_t sector) const;
  // Marks sector k of `g` (sector number `sector`) written, its value the original, if new.
  void Touch(Group& g, uint64_t sector, unsigned k);

  // Values a sector may also hold after failed writes (WriteFailed), by sector: rare, so kept
  // apart and consulted only when a value is not the expected one.
  bool AlsoAllowed(uint64_t sector, uint64_t hash) const;
  void ClearUncertain(uint64_t first_sector, uint64_t count);

  std::function<uint64_t(uint64_t)> original_;
  std::unordered_map<uint64_t, boost::container::small_vector<uint64_t, 2>> uncertain_;
  absl::flat_hash_map<uint64_t, Group> groups_;  // by sector / kGroup; lookups only, except
                                                 // WrittenRuns (sorted first)
  std::unordered_map<uint64_t, Write> writes_;   // not yet durable (no crashes: in flight)
  uint64_t next_write_id_ = 1;
  uint64_t completion_seq_ = 0;
  std::unordered_map<uint64_t, uint64_t> flushes_;  // flush id -> completion_seq at submit
  uint64_t next_flush_id_ = 1;
  bool crashes_possible_ = true;
  bool write_through_ = false;
};

}  // namespace fvd::sim
