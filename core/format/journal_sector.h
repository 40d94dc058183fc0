// Journal sectors: the unit of atomic metadata update. Each 512-byte sector is self-contained
// and holds records back to back (a record type of 0 or the payload end stops parsing):
//   bitmap record (16 B): u32 type, u32 num_dirty_sectors, i64 dirty_sector_begin
//   table record (12 + 4n B): u32 type, u32 first_entry, u32 n, u32 entries[n]
// v1 sectors are just records. v2 sectors wrap them:
//   0: u32 magic "FVDJ"   4: u32 flags (0)   8: u64 epoch   16..508: records   508: u32 crc32c
// where the CRC32C covers bytes [0, 508). Replay applies a v2 sector only if its magic and
// checksum are right and its epoch is the header's stable epoch.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/format/constants.h"

namespace fvd::format {

enum class JournalFormat { kV1, kV2 };

// Bitmap bits for sectors [first_sector, first_sector + num_sectors) are set.
struct BitmapRecord {
  int64_t first_sector = 0;
  uint32_t num_sectors = 0;
  bool operator==(const BitmapRecord&) const = default;
};

// Table entries [first_entry, first_entry + entries.size()) take the given chunk ids.
struct TableRecord {
  uint32_t first_entry = 0;
  std::vector<uint32_t> entries;
  bool operator==(const TableRecord&) const = default;
};

using JournalRecord = std::variant<BitmapRecord, TableRecord>;

using JournalSectorBytes = std::array<std::byte, kSectorSize>;

// Fills one journal sector with records.
class JournalSectorBuilder {
 public:
  JournalSectorBuilder(JournalFormat format, uint64_t epoch);

  // Table entries that still fit in one table record (with room left for a bitmap record
  // when `reserve_bitmap`), or 0.
  size_t TableEntriesThatFit(bool reserve_bitmap) const;
  // Appends a record; returns false (and changes nothing) if it does not fit.
  bool AddBitmap(const BitmapRecord& r);
  bool AddTable(uint32_t first_entry, std::span<const uint32_t> entries);
  bool empty() const { return used_ == 0; }
  // The finished sector (v2: with magic, epoch and checksum).
  JournalSectorBytes Finish() const;

 private:
  size_t payload_size() const;
  JournalFormat format_;
  uint64_t epoch_;
  size_t used_ = 0;                               // payload bytes used
  std::array<std::byte, kSectorSize> payload_{};  // records, from payload offset 0
};

enum class SectorVerdict {
  kValid,        // apply `records`
  kNoMagic,      // v2: not a journal sector (never written, or foreign bytes)
  kBadChecksum,  // v2: torn or corrupted
  kOtherEpoch,   // v2: written before the last recycle (or garbage from the future)
  kMalformed,    // an unknown record type, a record past the sector end, a DIRTY entry
};

const char* SectorVerdictName(SectorVerdict v);

struct DecodedJournalSector {
  SectorVerdict verdict = SectorVerdict::kValid;
  uint64_t epoch = 0;
  std::vector<JournalRecord> records;  // only when kValid
  std::string problem;                 // what is wrong, when not kValid
};

// Decodes one 512-byte sector. REQUIRES: sector.size() == 512.
DecodedJournalSector DecodeJournalSector(std::span<const std::byte> sector, JournalFormat format,
                                         uint64_t expected_epoch);

}  // namespace fvd::format
