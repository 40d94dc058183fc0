// The harness's own reading and writing of v2 journal sectors, from core/format/FORMAT.md
// ("Journal") and nothing of the engine's: the journal-damage property decides which sectors
// recovery must ignore with this, so a decoder bug in the engine cannot also hide the damage
// that would expose it (a harness that asked the engine's decoder would skip planting exactly
// the sectors that decoder wrongly accepts).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace fvd::proptest {

inline constexpr size_t kJournalSector = 512;
using JournalSector = std::array<std::byte, kJournalSector>;

// True if recovery must apply `sector` in a journal of epoch `epoch`: the FVDJ magic, flags 0,
// this epoch, a right CRC32C, and records that parse (types 0x3F2AB8ED and 0xB4E6F7AC, no record
// past the payload, no negative sector, no DIRTY entry).
bool ModelAppliesSector(std::span<const std::byte, kJournalSector> sector, uint64_t epoch);

// The epoch a sector says it belongs to (bytes [8, 16)), whatever else it holds.
uint64_t ModelSectorEpoch(std::span<const std::byte, kJournalSector> sector);

// A well-formed sector of `epoch` holding a bitmap record over sectors [first, first + count)
// and, if `entries` is not empty, a table record setting entries from `first_entry`.
JournalSector ModelSector(uint64_t epoch, int64_t first, uint32_t count, uint32_t first_entry,
                          const std::vector<uint32_t>& entries);

}  // namespace fvd::proptest
