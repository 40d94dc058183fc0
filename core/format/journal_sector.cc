#include "core/format/journal_sector.h"

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstdio>

#include "core/util/crc32c.h"
#include "core/util/endian.h"

namespace fvd::format {
namespace {

constexpr size_t kCrcOffset = kSectorSize - kJournalV2TrailerSize;

size_t PayloadOffset(JournalFormat f) {
  return f == JournalFormat::kV2 ? kJournalV2HeaderSize : 0;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

// Parses records from `payload` until a zero type or the end. Returns false with `problem`
// set when a record is malformed.
bool ParseRecords(std::span<const std::byte> payload, std::vector<JournalRecord>& out,
                  std::string& problem) {
  size_t pos = 0;
  while (pos + 4 <= payload.size()) {
    const uint32_t type = LoadLE32(payload, pos);
    if (type == 0) return true;
    if (type == kBitmapRecordType) {
      if (pos + kBitmapRecordSize > payload.size()) {
        problem = "bitmap record at payload byte " + std::to_string(pos) + " runs past the sector";
        return false;
      }
      BitmapRecord r{static_cast<int64_t>(LoadLE64(payload, pos + 8)), LoadLE32(payload, pos + 4)};
      if (r.first_sector < 0) {
        problem = "bitmap record at payload byte " + std::to_string(pos) + " starts at sector " +
                  std::to_string(r.first_sector);
        return false;
      }
      out.emplace_back(r);
      pos += kBitmapRecordSize;
    } else if (type == kTableRecordType) {
      if (pos + kTableRecordHeaderSize > payload.size()) {
        problem = "table record at payload byte " + std::to_string(pos) + " runs past the sector";
        return false;
      }
      TableRecord r;
      r.first_entry = LoadLE32(payload, pos + 4);
      const uint64_t n = LoadLE32(payload, pos + 8);
      if (n > (payload.size() - pos - kTableRecordHeaderSize) / 4) {
        problem = "table record at payload byte " + std::to_string(pos) + " claims " +
                  std::to_string(n) + " entries, more than the sector holds";
        return false;
      }
      r.entries.resize(n);
      for (uint64_t i = 0; i < n; ++i) {
        r.entries[i] = LoadLE32(payload, pos + kTableRecordHeaderSize + i * 4);
        if (r.entries[i] != kEmptyChunk && (r.entries[i] & kDirtyChunk)) {
          problem = "table record entry " + std::to_string(r.first_entry + i) + " = " +
                    Hex(r.entries[i]) + " has the in-memory DIRTY bit";
          return false;
        }
      }
      pos += kTableRecordHeaderSize + n * 4;
      out.emplace_back(std::move(r));
    } else {
      problem = "unknown record type " + Hex(type) + " at payload byte " + std::to_string(pos);
      return false;
    }
  }
  return true;
}

}  // namespace

const char* SectorVerdictName(SectorVerdict v) {
  switch (v) {
    case SectorVerdict::kValid:
      return "valid";
    case SectorVerdict::kNoMagic:
      return "no magic";
    case SectorVerdict::kBadChecksum:
      return "bad checksum";
    case SectorVerdict::kOtherEpoch:
      return "other epoch";
    case SectorVerdict::kMalformed:
      return "malformed";
  }
  return "?";
}

JournalSectorBuilder::JournalSectorBuilder(JournalFormat format, uint64_t epoch)
    : format_(format), epoch_(epoch) {}

size_t JournalSectorBuilder::payload_size() const {
  return format_ == JournalFormat::kV2 ? kJournalV2Payload : kSectorSize;
}

size_t JournalSectorBuilder::TableEntriesThatFit(bool reserve_bitmap) const {
  const size_t reserve = kTableRecordHeaderSize + (reserve_bitmap ? kBitmapRecordSize : 0);
  const size_t left = payload_size() - used_;
  return left > reserve ? (left - reserve) / 4 : 0;
}

bool JournalSectorBuilder::AddBitmap(const BitmapRecord& r) {
  if (used_ + kBitmapRecordSize > payload_size()) return false;
  std::span<std::byte> p(payload_);
  StoreLE32(p, used_, kBitmapRecordType);
  StoreLE32(p, used_ + 4, r.num_sectors);
  StoreLE64(p, used_ + 8, static_cast<uint64_t>(r.first_sector));
  used_ += kBitmapRecordSize;
  return true;
}

bool JournalSectorBuilder::AddTable(uint32_t first_entry, std::span<const uint32_t> entries) {
  const size_t size = kTableRecordHeaderSize + entries.size() * 4;
  if (entries.empty() || used_ + size > payload_size()) return false;
  std::span<std::byte> p(payload_);
  StoreLE32(p, used_, kTableRecordType);
  StoreLE32(p, used_ + 4, first_entry);
  StoreLE32(p, used_ + 8, static_cast<uint32_t>(entries.size()));
  for (size_t i = 0; i < entries.size(); ++i) {
    assert(entries[i] == kEmptyChunk || !(entries[i] & kDirtyChunk));
    StoreLE32(p, used_ + kTableRecordHeaderSize + i * 4, entries[i]);
  }
  used_ += size;
  return true;
}

JournalSectorBytes JournalSectorBuilder::Finish() const {
  JournalSectorBytes s{};
  const size_t off = PayloadOffset(format_);
  std::copy_n(payload_.begin(), payload_size(), s.begin() + static_cast<ptrdiff_t>(off));
  if (format_ == JournalFormat::kV2) {
    StoreLE32(s, 0, kJournalSectorMagic);
    StoreLE32(s, 4, 0);
    StoreLE64(s, 8, epoch_);
    StoreLE32(s, kCrcOffset, Crc32c(std::span<const std::byte>(s).subspan(0, kCrcOffset)));
  }
  return s;
}

DecodedJournalSector DecodeJournalSector(std::span<const std::byte> sector, JournalFormat format,
                                         uint64_t expected_epoch) {
  assert(sector.size() == kSectorSize);
  DecodedJournalSector d;
  if (format == JournalFormat::kV2) {
    const uint32_t magic = LoadLE32(sector, 0);
    if (magic != kJournalSectorMagic) {
      d.verdict = SectorVerdict::kNoMagic;
      d.problem = "magic " + Hex(magic) + " is not " + Hex(kJournalSectorMagic);
      return d;
    }
    const uint32_t stored = LoadLE32(sector, kCrcOffset);
    const uint32_t computed = Crc32c(sector.subspan(0, kCrcOffset));
    if (stored != computed) {
      d.verdict = SectorVerdict::kBadChecksum;
      d.problem = "checksum mismatch: stored " + Hex(stored) + ", computed " + Hex(computed);
      return d;
    }
    d.epoch = LoadLE64(sector, 8);
    if (d.epoch != expected_epoch) {
      d.verdict = SectorVerdict::kOtherEpoch;
      d.problem = "epoch " + std::to_string(d.epoch) + " is not the stable epoch " +
                  std::to_string(expected_epoch);
      return d;
    }
  }
  const size_t off = PayloadOffset(format);
  const size_t len = format == JournalFormat::kV2 ? kJournalV2Payload : kSectorSize;
  if (!ParseRecords(sector.subspan(off, len), d.records, d.problem)) {
    d.verdict = SectorVerdict::kMalformed;
    d.records.clear();
  }
  return d;
}

}  // namespace fvd::format
