// PageMap: the sparse storage of a simulated disk, in 4 KiB pages allocated on first write.
// A page keeps each 512-byte sector as a token (sector_token.h) when its content is a token
// sector, and as bytes otherwise, so guest data costs 8 bytes a sector and the engine's
// metadata costs what it weighs.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "sim/disk/compact_copy.h"

namespace fvd::sim {

class PageMap {
 public:
  static constexpr uint64_t kPageBytes = 4096;
  static constexpr unsigned kSectorsPerPage = 8;

  // One page. A new page reads zeros.
  class Page {
   public:
    Page() = default;
    Page(const Page& other);
    Page& operator=(const Page& other) = delete;

    // Bytes [in_page, in_page + out.size()) of the page; the range must lie in the page.
    void Read(uint64_t in_page, std::span<std::byte> out) const;
    void Write(uint64_t in_page, std::span<const std::byte> data);
    // Sector `k` of the page (0..7) holds token `token`'s content.
    void SetToken(unsigned k, uint64_t token);
    // True while some sector is held as bytes (not a token sector).
    bool HoldsBytes() const { return raw_ != 0; }

   private:
    void ReadSector(unsigned k, std::span<std::byte> out) const;  // 512 bytes
    void StoreSector(unsigned k, std::span<const std::byte> sector);

    std::array<uint64_t, kSectorsPerPage> tokens_{};
    uint8_t raw_ = 0;  // bit k set: sector k is held as bytes in bytes_
    std::unique_ptr<std::array<std::byte, kPageBytes>> bytes_;  // only while raw_ != 0
  };

  // Fills a page that neither map holds yet with the disk's initial content.
  using InitPage = std::function<void(uint64_t index, Page&)>;

  const Page* Find(uint64_t index) const {
    auto it = pages_.find(index);
    return it == pages_.end() ? nullptr : &it->second;
  }

  // Writes `data` at `offset`. A new page starts as a copy of `base`'s page or, if `base` has
  // none, as `init` makes it, so an overlay page always holds its page's whole contents.
  void Write(uint64_t offset, std::span<const std::byte> data, const PageMap* base,
             const InitPage& init);
  // Write(offset, copy.Bytes(), base, init), but a compact copy at a sector-aligned offset
  // goes in as its tokens, without decoding and re-encoding every sector.
  void Write(uint64_t offset, const CompactCopy& copy, const PageMap* base, const InitPage& init);
  // Writes only into pages already held (keeps an overlay current without growing it).
  void WriteHeld(uint64_t offset, std::span<const std::byte> data);
  // Drops pages past `size` and zeroes the tail of the last partial page, so a later grow
  // reads zeros there.
  void Truncate(uint64_t size);

  void Clear() { pages_.clear(); }
  uint64_t pages() const { return pages_.size(); }

 private:
  // The page `index`, created as Write describes if missing.
  Page& Hold(uint64_t index, const PageMap* base, const InitPage& init);

  absl::flat_hash_map<uint64_t, Page> pages_;  // lookup only; never iterated in an order that
                                               // escapes
};

// Splits [offset, offset + length) at page boundaries: fn(page, offset in page, offset in the
// range, bytes).
template <typename Fn>
void ForEachPage(uint64_t offset, uint64_t length, Fn&& fn) {
  uint64_t done = 0;
  while (done < length) {
    const uint64_t pos = offset + done;
    const uint64_t in_page = pos % PageMap::kPageBytes;
    const uint64_t n = std::min(PageMap::kPageBytes - in_page, length - done);
    fn(pos / PageMap::kPageBytes, in_page, done, n);
    done += n;
  }
}

}  // namespace fvd::sim
