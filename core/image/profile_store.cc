#include "core/image/profile_store.h"

#include "core/format/profile_region.h"
#include "core/image/prefetch_profile.h"

namespace fvd {

Task<void> LoadStoredProfile(Image::Core& c) {
  const format::Header& h = c.header;
  if (h.prefetch_profile_entries == 0) co_return;
  IoBuffer region(format::ProfileRegionSize(h.prefetch_profile_entries));
  Status s = co_await AwaitIo([&](IoCallback cb) {
    return c.image_dev.SubmitRead(h.prefetch_profile_offset, region, std::move(cb));
  });
  if (!s.ok()) {
    c.stats.prefetch_profile_error = s.WithContext("prefetch profile read").ToString();
    co_return;
  }
  auto entries = format::DecodeProfileRegion(region, h.prefetch_profile_entries,
                                             h.unit_of_prefetch_profile_entry_len, h.base_img_size);
  if (!entries.ok()) {
    c.stats.prefetch_profile_error = entries.status().ToString();
    co_return;
  }
  c.stats.stored_profile_entries = entries->size();
  if (!c.options.prefetch_profile.empty()) co_return;  // the caller's profile wins
  for (const format::ProfileEntry& e : *entries)
    c.options.prefetch_profile.push_back({e.offset, e.length});
}

Task<Status> StoreRecordedProfile(Image::Core& c) {
  const format::Header& h = c.header;
  if (h.prefetch_profile_entries == 0 || c.profile_recorder == nullptr ||
      c.profile_recorder->entries().empty() || c.stats.stored_profile_entries > 0) {
    co_return Status::Ok();
  }
  std::vector<format::ProfileEntry> entries;
  for (const Extent& e : c.profile_recorder->entries()) entries.push_back({e.offset, e.length});
  const IoBuffer region = format::EncodeProfileRegion(entries, h.prefetch_profile_entries,
                                                      h.unit_of_prefetch_profile_entry_len);
  Status s = co_await AwaitIo([&](IoCallback cb) {
    return c.image_dev.SubmitWrite(h.prefetch_profile_offset, region, WriteMode::kCached,
                                   std::move(cb));
  });
  co_return s.WithContext("prefetch profile write");
}

}  // namespace fvd
