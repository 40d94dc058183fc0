#include "sim/oracle/truth_image.h"

#include <isa-l/crc64.h>

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstdio>

#include "sim/disk/sector_token.h"

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
  if (sector.size() == kSector) {
    if (const std::optional<uint64_t> token = TokenOf(sector)) return *token;
  }
  return crc64_ecma_refl(0, reinterpret_cast<const uint8_t*>(sector.data()), sector.size());
}

void SectorHashes(std::span<const std::byte> data, std::vector<uint64_t>& out) {
  out.resize(data.size() / kSector);
  for (size_t i = 0; i < out.size(); ++i) out[i] = SectorHash(data.subspan(i * kSector, kSector));
}

TruthImage::TruthImage(std::function<uint64_t(uint64_t)> original)
    : original_(std::move(original)) {}

TruthImage::PendingList& TruthImage::Group::PendingFor(unsigned k) {
  if (!pending) pending = std::make_unique<std::array<PendingList, kGroup>>();
  return (*pending)[k];
}

void TruthImage::Group::ReleaseIfEmpty() {
  if (pending && std::all_of(pending->begin(), pending->end(),
                             [](const PendingList& l) { return l.empty(); })) {
    pending.reset();
  }
}

void TruthImage::Group::Settle(unsigned k, uint64_t write_id) {
  if (!pending) return;
  PendingList& list = (*pending)[k];
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const Pending& p) { return p.write_id == write_id; });
  if (it == list.end()) return;
  stable[k] = it->hash;
  list.erase(list.begin(), it + 1);
}

const TruthImage::Group* TruthImage::FindWritten(uint64_t sector) const {
  auto it = groups_.find(sector / kGroup);
  if (it == groups_.end() || !it->second.Written(sector % kGroup)) return nullptr;
  return &it->second;
}

void TruthImage::Touch(Group& g, uint64_t sector, unsigned k) {
  if (g.Written(k)) return;
  g.written = static_cast<uint8_t>(g.written | (1u << k));
  g.stable[k] = original_(sector);
}

// The hot paths below look each group up once, not each sector.

uint64_t TruthImage::WriteSubmitted(uint64_t offset, std::span<const std::byte> data) {
  std::vector<uint64_t> values;
  SectorHashes(data, values);
  return WriteSubmittedValues(offset, values);
}

uint64_t TruthImage::WriteSubmittedValues(uint64_t offset, std::span<const uint64_t> values) {
  const uint64_t id = next_write_id_++;
  const uint64_t first = offset / kSector, count = values.size();
  Write& w = writes_[id];
  w.first_sector = first;
  w.count = count;
  ForEachGroupPart(first, count, kGroup,
                   [&](uint64_t group, unsigned k0, unsigned k1, uint64_t at) {
                     Group& g = groups_[group];
                     for (unsigned k = k0; k < k1; ++k, ++at) {
                       Touch(g, group * kGroup + k, k);
                       const uint64_t value = values[at];
                       if (crashes_possible_) {
                         g.PendingFor(k).push_back({value, id});
                       } else {
                         w.values.push_back(value);
                       }
                       ++g.in_flight[k];
                     }
                   });
  return id;
}

void TruthImage::WriteCompleted(uint64_t id) {
  auto node = writes_.find(id);
  assert(node != writes_.end());
  Write& w = node->second;
  w.completion_seq = ++completion_seq_;
  ForEachGroupPart(w.first_sector, w.count, kGroup,
                   [&](uint64_t group, unsigned k0, unsigned k1, uint64_t at) {
                     Group& g = groups_.at(group);
                     for (unsigned k = k0; k < k1; ++k, ++at) {
                       --g.in_flight[k];
                       // No crash can need the older values: this write's is the sector's
                       // latest completed one (writes to a sector complete in submission
                       // order), and what reads must return now.
                       if (!crashes_possible_) g.stable[k] = w.values[at];
                     }
                   });
  ClearUncertain(w.first_sector, w.count);
  if (!crashes_possible_) {
    writes_.erase(node);
  } else if (write_through_) {
    // Durable now: its values become the stable ones. Writes to a sector complete in
    // submission order, so no earlier write to these sectors is still pending.
    const Write done = w;
    writes_.erase(node);
    ForEachGroupPart(done.first_sector, done.count, kGroup,
                     [&](uint64_t group, unsigned k0, unsigned k1, uint64_t) {
                       Group& g = groups_.at(group);
                       for (unsigned k = k0; k < k1; ++k) g.Settle(k, id);
                       g.ReleaseIfEmpty();
                     });
  }
}

void TruthImage::WriteFailed(uint64_t id) {
  auto node = writes_.find(id);
  assert(node != writes_.end());
  Write& w = node->second;
  ForEachGroupPart(
      w.first_sector, w.count, kGroup, [&](uint64_t group, unsigned k0, unsigned k1, uint64_t at) {
        Group& g = groups_.at(group);
        for (unsigned k = k0; k < k1; ++k, ++at) {
          --g.in_flight[k];
          auto& also = uncertain_[group * kGroup + k];
          // The value before the write (what Latest() would have said) and its own.
          if (crashes_possible_) {
            const PendingList* p = g.PendingOf(k);
            const auto mine = std::find_if(p->begin(), p->end(),
                                           [&](const Pending& e) { return e.write_id == id; });
            also.push_back(mine == p->begin() ? g.stable[k] : std::prev(mine)->hash);
            also.push_back(mine->hash);
          } else {
            also.push_back(g.stable[k]);
            also.push_back(w.values[at]);
          }
        }
      });
  // Without crashes the write is forgotten; with them its values stay possible after one
  // (it never completes, so no flush settles it).
  if (!crashes_possible_) writes_.erase(node);
}

bool TruthImage::AlsoAllowed(uint64_t sector, uint64_t hash) const {
  if (uncertain_.empty()) return false;
  auto it = uncertain_.find(sector);
  return it != uncertain_.end() &&
         std::find(it->second.begin(), it->second.end(), hash) != it->second.end();
}

void TruthImage::ClearUncertain(uint64_t first_sector, uint64_t count) {
  if (uncertain_.empty()) return;
  for (uint64_t s = first_sector; s < first_sector + count; ++s) uncertain_.erase(s);
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
    ForEachGroupPart(w.first_sector, w.count, kGroup,
                     [&](uint64_t group, unsigned k0, unsigned k1, uint64_t) {
                       Group& g = groups_.at(group);
                       for (unsigned k = k0; k < k1; ++k) g.Settle(k, id);
                       g.ReleaseIfEmpty();
                     });
  }
}

bool TruthImage::Quiet(uint64_t sector, uint64_t count) const {
  bool quiet = true;
  ForEachGroupPart(sector, count, kGroup, [&](uint64_t group, unsigned k0, unsigned k1, uint64_t) {
    if (!quiet) return;
    auto it = groups_.find(group);
    if (it == groups_.end()) return;
    for (unsigned k = k0; k < k1; ++k) {
      if (it->second.Written(k) && it->second.in_flight[k] > 0) quiet = false;
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
          const uint64_t expect = g != nullptr && g->Written(k) ? g->Latest(k) : original_(sector);
          if (hashes[at] != expect && !AlsoAllowed(sector, hashes[at])) {
            const bool written = g != nullptr && g->Written(k);
            out.push_back(
                Violation(written ? kReadNeverWritten : kReadNotBase, sector, hashes[at]));
            reported = true;  // one per read
          }
        }
      });
}

std::vector<std::pair<uint64_t, uint64_t>> TruthImage::WrittenRuns(uint64_t max_run) const {
  // Sort the groups, not the sectors: eight times fewer keys.
  std::vector<std::pair<uint64_t, uint8_t>> groups;
  groups.reserve(groups_.size());
  for (const auto& [group, g] : groups_) groups.emplace_back(group, g.written);
  std::sort(groups.begin(), groups.end());
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (const auto& [group, written] : groups) {
    for (unsigned k = 0; k < kGroup; ++k) {
      if (((written >> k) & 1) == 0) continue;
      const uint64_t sector = group * kGroup + k;
      if (!runs.empty() && runs.back().first + runs.back().second == sector &&
          runs.back().second < max_run) {
        ++runs.back().second;
      } else {
        runs.emplace_back(sector, 1);
      }
    }
  }
  return runs;
}

uint64_t TruthImage::values_kept() const {
  uint64_t n = 0;
  for (const auto& [id, w] : writes_) n += w.values.size();
  for (const auto& [group, g] : groups_) {
    if (!g.pending) continue;
    for (const PendingList& l : *g.pending) n += l.size();
  }
  return n;
}

void TruthImage::Recovered(uint64_t sector, uint64_t hash, std::vector<std::string>& out) {
  assert(crashes_possible_);
  auto it = groups_.find(sector / kGroup);
  const unsigned k = sector % kGroup;
  assert(it != groups_.end() && it->second.Written(k));  // only written sectors are read back
  Group& g = it->second;
  const PendingList* pending = g.PendingOf(k);
  bool allowed = hash == g.stable[k] || AlsoAllowed(sector, hash);
  if (pending != nullptr) {
    for (const Pending& p : *pending) allowed |= hash == p.hash;
  }
  if (!allowed) {
    out.push_back(
        Violation(pending == nullptr ? kFlushedDataLost : kHoldsNeverWritten, sector, hash));
  }
  g.stable[k] = hash;  // what survived is now the durable state
  uncertain_.erase(sector);
  if (g.pending) (*g.pending)[k].clear();
  g.ReleaseIfEmpty();
  g.in_flight[k] = 0;
}

void TruthImage::CrashDone() {
  writes_.clear();
  flushes_.clear();
}

void TruthImage::Final(uint64_t sector, uint64_t hash, std::vector<std::string>& out) const {
  const Group* g = FindWritten(sector);
  assert(g != nullptr);
  if (hash != g->Latest(sector % kGroup) && !AlsoAllowed(sector, hash)) {
    out.push_back(Violation(kCompletedWriteLost, sector, hash));
  }
}

}  // namespace fvd::sim
