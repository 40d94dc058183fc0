#include "sim/oracle/truth_image.h"

#include <isa-l/crc64.h>

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstdio>

namespace fvd::sim {
namespace {

constexpr uint64_t kSector = 512;

std::string Violation(const char* what, uint64_t sector, uint64_t found) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "%s: sector %" PRIu64 " (byte %" PRIu64 ") holds value %016" PRIx64, what, sector,
                sector * kSector, found);
  return buf;
}

// Splits sectors [first, first + count) by group: fn(group, first k, end k, offset in the range).
template <typename Fn>
void ForEachGroupPart(uint64_t first, uint64_t count, uint64_t group_size, Fn&& fn) {
  uint64_t done = 0;
  while (done < count) {
    const uint64_t sector = first + done;
    const uint64_t k = sector % group_size;
    const uint64_t n = std::min(group_size - k, count - done);
    fn(sector / group_size, static_cast<unsigned>(k), static_cast<unsigned>(k + n), done);
    done += n;
  }
}

}  // namespace

uint64_t SectorHash(std::span<const std::byte> sector) {
  return crc64_ecma_refl(0, reinterpret_cast<const uint8_t*>(sector.data()), sector.size());
}

void SectorHashes(std::span<const std::byte> data, std::vector<uint64_t>& out) {
  out.resize(data.size() / kSector);
  for (size_t i = 0; i < out.size(); ++i) out[i] = SectorHash(data.subspan(i * kSector, kSector));
}

TruthImage::TruthImage(std::function<uint64_t(uint64_t)> original)
    : original_(std::move(original)) {}

const TruthImage::Sector* TruthImage::Find(uint64_t sector) const {
  auto it = groups_.find(sector / kGroup);
  if (it == groups_.end()) return nullptr;
  const unsigned k = sector % kGroup;
  return (it->second.written >> k) & 1 ? &it->second.sectors[k] : nullptr;
}

TruthImage::Sector& TruthImage::At(uint64_t sector) {
  return At(groups_[sector / kGroup], sector, static_cast<unsigned>(sector % kGroup));
}

TruthImage::Sector& TruthImage::At(Group& g, uint64_t sector, unsigned k) {
  if (((g.written >> k) & 1) == 0) {
    g.written = static_cast<uint8_t>(g.written | (1u << k));
    g.sectors[k].stable = original_(sector);
  }
  return g.sectors[k];
}

// The hot paths below look each group up once, not each sector.

uint64_t TruthImage::WriteSubmitted(uint64_t offset, std::span<const std::byte> data) {
  const uint64_t id = next_write_id_++;
  const uint64_t first = offset / kSector, count = data.size() / kSector;
  ForEachGroupPart(first, count, kGroup,
                   [&](uint64_t group, unsigned k0, unsigned k1, uint64_t at) {
                     Group& g = groups_[group];
                     for (unsigned k = k0; k < k1; ++k, ++at) {
                       Sector& s = At(g, group * kGroup + k, k);
                       s.pending.push_back({SectorHash(data.subspan(at * kSector, kSector)), id});
                       ++s.in_flight;
                     }
                   });
  writes_[id] = Write{first, count, 0};
  return id;
}

void TruthImage::WriteCompleted(uint64_t id) {
  auto node = writes_.find(id);
  assert(node != writes_.end());
  Write& w = node->second;
  w.completion_seq = ++completion_seq_;
  ForEachGroupPart(w.first_sector, w.count, kGroup,
                   [&](uint64_t group, unsigned k0, unsigned k1, uint64_t) {
                     Group& g = groups_.at(group);
                     for (unsigned k = k0; k < k1; ++k) {
                       Sector& s = g.sectors[k];
                       --s.in_flight;
                       if (crashes_possible_) continue;
                       // No crash can need the older values: this write's is the sector's latest
                       // completed one (writes to a sector complete in submission order), and what
                       // reads must return now.
                       auto it = std::find_if(s.pending.begin(), s.pending.end(),
                                              [&](const Pending& p) { return p.write_id == id; });
                       if (it == s.pending.end()) continue;
                       s.stable = it->hash;
                       s.pending.erase(s.pending.begin(), it + 1);
                     }
                   });
  if (!crashes_possible_) writes_.erase(node);
}

uint64_t TruthImage::FlushSubmitted() {
  const uint64_t id = next_flush_id_++;
  flushes_[id] = completion_seq_;
  return id;
}

void TruthImage::FlushCompleted(uint64_t flush_id) {
  const uint64_t covered = flushes_.at(flush_id);
  flushes_.erase(flush_id);
  std::vector<uint64_t> durable;
  for (const auto& [id, w] : writes_) {
    if (w.completion_seq != 0 && w.completion_seq <= covered) durable.push_back(id);
  }
  std::sort(durable.begin(), durable.end());  // submission order: the later write wins
  for (uint64_t id : durable) {
    const Write w = writes_.at(id);
    writes_.erase(id);
    for (uint64_t i = 0; i < w.count; ++i) {
      Sector& s = At(w.first_sector + i);
      auto it = std::find_if(s.pending.begin(), s.pending.end(),
                             [&](const Pending& p) { return p.write_id == id; });
      if (it == s.pending.end()) continue;
      // This write and every earlier one to the sector are now behind the flush.
      s.stable = it->hash;
      s.pending.erase(s.pending.begin(), it + 1);
    }
  }
}

bool TruthImage::Quiet(uint64_t sector, uint64_t count) const {
  bool quiet = true;
  ForEachGroupPart(sector, count, kGroup, [&](uint64_t group, unsigned k0, unsigned k1, uint64_t) {
    if (!quiet) return;
    auto it = groups_.find(group);
    if (it == groups_.end()) return;
    for (unsigned k = k0; k < k1; ++k) {
      if (((it->second.written >> k) & 1) != 0 && it->second.sectors[k].in_flight > 0)
        quiet = false;
    }
  });
  return quiet;
}

void TruthImage::CheckRead(uint64_t first, std::span<const uint64_t> hashes,
                           std::vector<std::string>& out) const {
  bool reported = false;
  ForEachGroupPart(
      first, hashes.size(), kGroup, [&](uint64_t group, unsigned k0, unsigned k1, uint64_t at) {
        auto it = groups_.find(group);
        const Group* g = it == groups_.end() ? nullptr : &it->second;
        for (unsigned k = k0; k < k1 && !reported; ++k, ++at) {
          const uint64_t sector = group * kGroup + k;
          const bool written = g != nullptr && ((g->written >> k) & 1) != 0;
          const uint64_t expect = written ? Latest(g->sectors[k]) : original_(sector);
          if (hashes[at] != expect) {
            out.push_back(
                Violation("a read returned a value never written there", sector, hashes[at]));
            reported = true;  // one per read
          }
        }
      });
}

std::vector<std::pair<uint64_t, uint64_t>> TruthImage::WrittenRuns(uint64_t max_run) const {
  std::vector<uint64_t> written;
  for (const auto& [group, g] : groups_) {
    for (uint64_t k = 0; k < kGroup; ++k) {
      if ((g.written >> k) & 1) written.push_back(group * kGroup + k);
    }
  }
  std::sort(written.begin(), written.end());
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (uint64_t sector : written) {
    if (!runs.empty() && runs.back().first + runs.back().second == sector &&
        runs.back().second < max_run) {
      ++runs.back().second;
    } else {
      runs.emplace_back(sector, 1);
    }
  }
  return runs;
}

uint64_t TruthImage::values_kept() const {
  uint64_t n = 0;
  for (const auto& [group, g] : groups_) {
    for (const Sector& s : g.sectors) n += s.pending.size();
  }
  return n;
}

void TruthImage::Recovered(uint64_t sector, uint64_t hash, std::vector<std::string>& out) {
  assert(Find(sector) != nullptr);  // only written sectors are read back
  assert(crashes_possible_);
  Sector& s = At(sector);
  bool allowed = hash == s.stable;
  for (const Pending& p : s.pending) allowed |= hash == p.hash;
  if (!allowed) {
    out.push_back(Violation(s.pending.empty() ? "flushed data lost after a crash"
                                              : "a sector holds a value never written there",
                            sector, hash));
  }
  s.stable = hash;  // what survived is now the durable state
  s.pending.clear();
  s.in_flight = 0;
}

void TruthImage::CrashDone() {
  writes_.clear();
  flushes_.clear();
}

void TruthImage::Final(uint64_t sector, uint64_t hash, std::vector<std::string>& out) const {
  const Sector* s = Find(sector);
  assert(s != nullptr);
  if (hash != Latest(*s)) {
    out.push_back(Violation("a completed write is not what the disk reads", sector, hash));
  }
}

}  // namespace fvd::sim
