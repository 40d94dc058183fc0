// Consistency check of an open image (FVD-FORMAT.md; `fvd-img check`). The image is opened
// read-only first: opening decodes and validates the header, the bitmap and the table, and
// replays the journal in memory when the image was not shut down cleanly, so a failure there
// is already a corruption finding. Check() then looks at what opening cannot: chunks mapped
// past the end of the data file, and leaked chunks (storage no table entry points at).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fvd {

struct CheckReport {
  std::vector<std::string> corruptions;  // each names what and where
  uint64_t allocated_chunks = 0;
  uint64_t leaked_chunks = 0;  // unreferenced chunks below the highest referenced one
  uint64_t capacity_chunks = 0;
  bool clean_shutdown = true;
  uint64_t replayed_sectors = 0;      // journal sectors applied in memory (unclean images)
  uint64_t skipped_sectors = 0;       // torn, stale-epoch or malformed journal sectors
  bool journal_unreplayable = false;  // the journal is corrupt beyond replay (in corruptions)

  bool corrupt() const { return !corruptions.empty(); }
  // qemu-img check's exit code: 0 clean, 2 corruption, 3 leaks only.
  int exit_code() const { return corrupt() ? 2 : (leaked_chunks > 0 ? 3 : 0); }
};

}  // namespace fvd
