// Recovery after an unclean shutdown: replay the journal into the in-memory bitmap and table.
// Only v2 sectors of the header's stable epoch with a right checksum are applied (v1: every
// well-formed sector); torn, never-written and older-epoch sectors are skipped.
#pragma once

#include "core/image/image_core.h"

namespace fvd {

struct ReplayCounts {
  uint64_t applied = 0;
  uint64_t skipped = 0;  // torn, other epoch or malformed
};

// Reads the whole journal and applies it to c.stale, c.fresh and c.table. Fails (kCorruption)
// only if the result is impossible (a record outside the disk, two chunks mapped to one id).
Task<Result<ReplayCounts>> ReplayJournal(Image::Core& c);

}  // namespace fvd
