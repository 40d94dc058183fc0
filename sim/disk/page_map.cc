#include "sim/disk/page_map.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "sim/disk/sector_token.h"

namespace fvd::sim {
namespace {

constexpr uint64_t kSector = kTokenSectorBytes;

// Calls fn(sector in page, offset in sector, offset in the range, bytes) for each sector piece
// of [in_page, in_page + length).
template <typename Fn>
void ForEachSector(uint64_t in_page, uint64_t length, Fn&& fn) {
  uint64_t done = 0;
  while (done < length) {
    const uint64_t pos = in_page + done;
    const uint64_t in_sector = pos % kSector;
    const uint64_t n = std::min(kSector - in_sector, length - done);
    fn(static_cast<unsigned>(pos / kSector), in_sector, done, n);
    done += n;
  }
}

}  // namespace

PageMap::Page::Page(const Page& other) : tokens_(other.tokens_), raw_(other.raw_) {
  if (other.bytes_) bytes_ = std::make_unique<std::array<std::byte, kPageBytes>>(*other.bytes_);
}

void PageMap::Page::ReadSector(unsigned k, std::span<std::byte> out) const {
  if (raw_ & (1u << k)) {
    std::memcpy(out.data(), bytes_->data() + k * kSector, kSector);
  } else {
    FillTokenSector(tokens_[k], out);
  }
}

void PageMap::Page::StoreSector(unsigned k, std::span<const std::byte> sector) {
  if (const std::optional<uint64_t> token = TokenOf(sector)) {
    SetToken(k, *token);
    return;
  }
  if (!bytes_) bytes_ = std::make_unique<std::array<std::byte, kPageBytes>>();
  std::memcpy(bytes_->data() + k * kSector, sector.data(), kSector);
  raw_ = static_cast<uint8_t>(raw_ | (1u << k));
}

void PageMap::Page::SetToken(unsigned k, uint64_t token) {
  assert(k < kSectorsPerPage);
  tokens_[k] = token;
  raw_ = static_cast<uint8_t>(raw_ & ~(1u << k));
  if (raw_ == 0) bytes_.reset();
}

void PageMap::Page::Read(uint64_t in_page, std::span<std::byte> out) const {
  assert(in_page + out.size() <= kPageBytes);
  ForEachSector(in_page, out.size(), [&](unsigned k, uint64_t in_sector, uint64_t at, uint64_t n) {
    if (n == kSector) {
      ReadSector(k, out.subspan(at, kSector));
      return;
    }
    std::array<std::byte, kSector> sector;
    ReadSector(k, sector);
    std::memcpy(out.data() + at, sector.data() + in_sector, n);
  });
}

void PageMap::Page::Write(uint64_t in_page, std::span<const std::byte> data) {
  assert(in_page + data.size() <= kPageBytes);
  ForEachSector(in_page, data.size(), [&](unsigned k, uint64_t in_sector, uint64_t at, uint64_t n) {
    if (n == kSector) {
      StoreSector(k, data.subspan(at, kSector));
      return;
    }
    std::array<std::byte, kSector> sector;
    ReadSector(k, sector);
    std::memcpy(sector.data() + in_sector, data.data() + at, n);
    StoreSector(k, sector);
  });
}

PageMap::Page& PageMap::Hold(uint64_t index, const PageMap* base, const InitPage& init) {
  auto it = pages_.find(index);
  if (it != pages_.end()) return it->second;
  const Page* from = base != nullptr ? base->Find(index) : nullptr;
  if (from != nullptr) return pages_.emplace(index, *from).first->second;
  Page& page = pages_.try_emplace(index).first->second;
  init(index, page);
  return page;
}

void PageMap::Write(uint64_t offset, std::span<const std::byte> data, const PageMap* base,
                    const InitPage& init) {
  ForEachPage(offset, data.size(), [&](uint64_t index, uint64_t in_page, uint64_t at, uint64_t n) {
    Hold(index, base, init).Write(in_page, data.subspan(at, n));
  });
}

void PageMap::Write(uint64_t offset, const CompactCopy& copy, const PageMap* base,
                    const InitPage& init) {
  if (!copy.compact()) {
    Write(offset, copy.raw_bytes(), base, init);
    return;
  }
  if (offset % kSector != 0) {
    Write(offset, copy.Bytes(), base, init);
    return;
  }
  const std::span<const uint64_t> tokens = copy.tokens();
  ForEachPage(offset, copy.size(), [&](uint64_t index, uint64_t in_page, uint64_t at, uint64_t n) {
    Page& page = Hold(index, base, init);
    for (uint64_t i = 0; i < n / kSector; ++i) {
      page.SetToken(static_cast<unsigned>(in_page / kSector + i), tokens[at / kSector + i]);
    }
  });
}

void PageMap::WriteHeld(uint64_t offset, std::span<const std::byte> data) {
  ForEachPage(offset, data.size(), [&](uint64_t index, uint64_t in_page, uint64_t at, uint64_t n) {
    auto it = pages_.find(index);
    if (it != pages_.end()) it->second.Write(in_page, data.subspan(at, n));
  });
}

void PageMap::Truncate(uint64_t size) {
  const uint64_t first_dropped = (size + kPageBytes - 1) / kPageBytes;
  // The erase visits pages in hash order, but only decides membership: no order escapes.
  for (auto it = pages_.begin(); it != pages_.end();) {
    if (it->first >= first_dropped) {
      pages_.erase(it++);
    } else {
      ++it;
    }
  }
  if (size % kPageBytes == 0) return;
  auto it = pages_.find(size / kPageBytes);
  if (it == pages_.end()) return;
  const std::array<std::byte, kPageBytes> zeros{};
  const uint64_t from = size % kPageBytes;
  it->second.Write(from, std::span<const std::byte>(zeros).first(kPageBytes - from));
}

}  // namespace fvd::sim
