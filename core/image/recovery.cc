#include "core/image/recovery.h"

#include <algorithm>
#include <variant>
#include <vector>

#include "core/format/chunk_table.h"
#include "core/format/journal_sector.h"
#include "core/image/extents.h"

namespace fvd {
namespace {

Status ApplyBitmap(Image::Core& c, const format::BitmapRecord& r) {
  const uint64_t begin = static_cast<uint64_t>(r.first_sector) * format::kSectorSize;
  const uint64_t length = uint64_t{r.num_sectors} * format::kSectorSize;
  if (begin > c.header.virtual_disk_size || length > c.header.virtual_disk_size - begin) {
    return Status::Corruption("journal bitmap record for sectors [" +
                              std::to_string(r.first_sector) + ", +" +
                              std::to_string(r.num_sectors) + ") lies past the disk end");
  }
  if (!c.use_bitmap) return Status::Ok();
  const BlockSpan b = BlocksOf(c.header, begin, length);
  if (!b.empty()) {
    c.stale.SetRange(b.first, b.end - b.first);
    c.fresh.SetRange(b.first, b.end - b.first);
  }
  return Status::Ok();
}

Status ApplyTable(Image::Core& c, const format::TableRecord& r) {
  if (!c.compact() || uint64_t{r.first_entry} + r.entries.size() > c.table.size()) {
    return Status::Corruption("journal table record for entries [" + std::to_string(r.first_entry) +
                              ", +" + std::to_string(r.entries.size()) + ") lies past the table (" +
                              std::to_string(c.table.size()) + " entries)");
  }
  std::copy(r.entries.begin(), r.entries.end(), c.table.begin() + r.first_entry);
  return Status::Ok();
}

}  // namespace

Task<Result<ReplayCounts>> ReplayJournal(Image::Core& c) {
  IoBuffer journal(c.header.journal_size);
  Status s = co_await AwaitIo([&](IoCallback cb) {
    return c.image_dev.SubmitRead(c.header.journal_offset, journal, std::move(cb));
  });
  if (!s.ok()) co_return s.WithContext("journal read");
  const auto fmt = c.header.version == format::kVersion1 ? format::JournalFormat::kV1
                                                         : format::JournalFormat::kV2;
  ReplayCounts counts;
  for (uint64_t off = 0; off + format::kSectorSize <= journal.size(); off += format::kSectorSize) {
    const auto sector = std::span<const std::byte>(journal).subspan(off, format::kSectorSize);
    auto d = format::DecodeJournalSector(sector, fmt, c.header.journal_epoch);
    [[maybe_unused]] const auto& options = c.options;
    if (FVD_IF_TEST_BUG(replay_stale_epoch) && d.verdict == format::SectorVerdict::kOtherEpoch &&
        c.header.journal_epoch > 0) {
      d = format::DecodeJournalSector(sector, fmt, c.header.journal_epoch - 1);
    }
    if (d.verdict != format::SectorVerdict::kValid) {
      if (d.verdict != format::SectorVerdict::kNoMagic) ++counts.skipped;
      continue;
    }
    for (const format::JournalRecord& rec : d.records) {
      Status applied = std::holds_alternative<format::BitmapRecord>(rec)
                           ? ApplyBitmap(c, std::get<format::BitmapRecord>(rec))
                           : ApplyTable(c, std::get<format::TableRecord>(rec));
      if (!applied.ok()) {
        co_return applied.WithContext("journal sector " +
                                      std::to_string(off / format::kSectorSize));
      }
    }
    ++counts.applied;
  }
  if (c.compact()) {
    // The replayed table must still map every chunk at most once.
    IoBuffer bytes(c.table.size() * 4);
    format::EncodeChunkTable(c.table, bytes);
    auto check = format::DecodeChunkTable(bytes, c.table.size());
    if (!check.ok()) co_return check.status().WithContext("table after journal replay");
  }
  co_return counts;
}

}  // namespace fvd
