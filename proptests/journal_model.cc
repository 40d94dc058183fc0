#include "proptests/journal_model.h"

#include <isa-l/crc.h>

namespace fvd::proptest {
namespace {

constexpr uint32_t kMagic = 0x4A445646;
constexpr uint32_t kBitmapType = 0x3F2AB8ED;
constexpr uint32_t kTableType = 0xB4E6F7AC;
constexpr size_t kPayload = 16, kCrcAt = 508;
constexpr uint32_t kDirty = 0x80000000;

uint64_t Get(std::span<const std::byte> s, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(s[at + i]) << (8 * i);
  return v;
}

void Put(std::span<std::byte> s, size_t at, size_t n, uint64_t v) {
  for (size_t i = 0; i < n; ++i) s[at + i] = static_cast<std::byte>(v >> (8 * i));
}

// CRC32C as FORMAT.md means it (the standard one: register pre- and post-inverted), from
// ISA-L's raw update: a library's, not the engine's.
uint32_t Crc32c(std::span<const std::byte> data) {
  return ~crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<std::byte*>(data.data())),
                      static_cast<int>(data.size()), ~uint32_t{0});
}

bool RecordsParse(std::span<const std::byte> s) {
  size_t at = kPayload;
  while (at + 4 <= kCrcAt) {
    const uint32_t type = static_cast<uint32_t>(Get(s, at, 4));
    if (type == 0) return true;
    if (type == kBitmapType) {
      if (at + 16 > kCrcAt || static_cast<int64_t>(Get(s, at + 8, 8)) < 0) return false;
      at += 16;
    } else if (type == kTableType) {
      if (at + 12 > kCrcAt) return false;
      const uint64_t n = Get(s, at + 8, 4);
      if (at + 12 + 4 * n > kCrcAt) return false;
      for (uint64_t i = 0; i < n; ++i)
        if (Get(s, at + 12 + 4 * i, 4) & kDirty) return false;
      at += 12 + 4 * n;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ModelAppliesSector(std::span<const std::byte, kJournalSector> s, uint64_t epoch) {
  return Get(s, 0, 4) == kMagic && Get(s, 4, 4) == 0 && Get(s, 8, 8) == epoch &&
         Get(s, kCrcAt, 4) == Crc32c(s.first(kCrcAt)) && RecordsParse(s);
}

uint64_t ModelSectorEpoch(std::span<const std::byte, kJournalSector> s) { return Get(s, 8, 8); }

JournalSector ModelSector(uint64_t epoch, int64_t first, uint32_t count, uint32_t first_entry,
                          const std::vector<uint32_t>& entries) {
  JournalSector s{};
  Put(s, 0, 4, kMagic);
  Put(s, 8, 8, epoch);
  size_t at = kPayload;
  Put(s, at, 4, kBitmapType);
  Put(s, at + 4, 4, count);
  Put(s, at + 8, 8, static_cast<uint64_t>(first));
  at += 16;
  if (!entries.empty()) {
    Put(s, at, 4, kTableType);
    Put(s, at + 4, 4, first_entry);
    Put(s, at + 8, 4, entries.size());
    for (size_t i = 0; i < entries.size(); ++i) Put(s, at + 12 + 4 * i, 4, entries[i]);
  }
  Put(s, kCrcAt, 4, Crc32c(std::span<const std::byte>(s).first(kCrcAt)));
  return s;
}

}  // namespace fvd::proptest
