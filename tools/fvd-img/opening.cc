#include "tools/fvd-img/opening.h"

#include "core/util/units.h"

namespace fvd::img {

Status OpeningArgs::ApplyTo(ImageOptions& o, host::PosixFiles& files) const {
  files.set_base_timeout(std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(base_timeout_s)));
  auto bytes = ParseByteSize(max_metadata_memory);
  if (!bytes.ok()) {
    return Status::InvalidArgument("--max-metadata-memory " + max_metadata_memory + ": " +
                                   bytes.status().message());
  }
  o.max_metadata_memory = *bytes;
  return Status::Ok();
}

void AddOpeningOptions(CLI::App& app, OpeningArgs& a) {
  app.add_flag("--untrusted", a.untrusted,
               "The image comes from elsewhere: its base and data file must be regular files in "
               "its own directory, and it runs no command");
  app.add_flag("--allow-storage-cmd", a.allow_storage_cmd,
               "Run the header's add_storage_cmd when a block device must grow (off by default)");
  app.add_option("--storage-cmd", a.storage_cmd,
                 "Grow block devices with this command instead of the header's");
  app.add_option("--max-metadata-memory", a.max_metadata_memory,
                 "The most memory opening an image may spend on its metadata (default 1G)");
  app.add_option("--base-timeout", a.base_timeout_s,
                 "Seconds a remote (NBD) base may take to connect or answer a read; then the "
                 "read fails with EIO (default 30)")
      ->check(CLI::PositiveNumber);
  app.fallthrough();  // these may follow the command's name too
}

}  // namespace fvd::img
