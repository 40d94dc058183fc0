// Growing a block device that holds a compact image: FVD's `add_storage_cmd`.
//
// A regular file grows by ftruncate; a block device (an LVM volume, a loop device) grows only by
// asking whoever manages it. The image header names a command for that. It runs through
// `/bin/sh -c` with these variables in its environment:
//   FVD_DEVICE    the block device's path
//   FVD_NEW_SIZE  the size in bytes the device must reach (at least)
// The command "builtin:lvextend" means `lvextend -L <FVD_NEW_SIZE>b <FVD_DEVICE>`.
// The command's stdout and stderr go to ours. Blocking: the caller waits for it to exit.
#pragma once

#include <cstdint>
#include <string>

#include "core/util/status.h"

namespace fvd {

// Runs `command` to grow `device` to `new_size` bytes. OK when it exits 0; otherwise an error
// naming the command and how it ended (exit code or signal). Does not check the new size.
Status RunGrowCommand(const std::string& command, const std::string& device, uint64_t new_size);

}  // namespace fvd
