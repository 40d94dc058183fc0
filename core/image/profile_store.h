// Keeping a prefetch profile in the image file (format/profile_region.h): the profile an open
// image follows comes from its own region unless ImageOptions gives one, and what the image
// recorded goes back into the region when it closes.
#pragma once

#include "core/image/image_core.h"
#include "core/util/task.h"

namespace fvd {

// When the image has a profile region, reads it (`c.stats.stored_profile_entries`) and, unless
// `c.options.prefetch_profile` already holds one, makes it the profile to follow. A damaged region
// is not an error: the profile only orders prefetching, so it is ignored and
// `c.stats.prefetch_profile_error` says why.
Task<void> LoadStoredProfile(Image::Core& c);

// Writes what the profile recorder holds into the region (truncated to its capacity), when the
// image has a region, the recorder recorded anything, and the region held no profile at open:
// the first session that records fills it, later ones follow it (a session that follows a
// profile finds most blocks copied already, and would record a poorer one). Not flushed: the
// caller flushes.
Task<Status> StoreRecordedProfile(Image::Core& c);

}  // namespace fvd
