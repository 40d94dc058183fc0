#include "core/seam/block_device.h"

#include <cstdio>
#include <string>

namespace fvd {

Status BlockDevice::CheckRange(uint64_t offset, uint64_t length, const void* buf) const {
  const uint64_t dev_size = size();
  if (offset > dev_size || length > dev_size - offset) {
    return Status::InvalidArgument("I/O range [" + std::to_string(offset) + ", +" +
                                   std::to_string(length) + ") is past the device end " +
                                   std::to_string(dev_size));
  }
  const uint64_t align = alignment();
  if (align <= 1) return Status::Ok();
  if (offset % align != 0 || length % align != 0) {
    return Status::InvalidArgument("I/O at offset " + std::to_string(offset) + " length " +
                                   std::to_string(length) + " is not aligned to " +
                                   std::to_string(align) + " bytes, as this device requires");
  }
  if (reinterpret_cast<uintptr_t>(buf) % align != 0) {
    char addr[32];
    std::snprintf(addr, sizeof addr, "%p", buf);
    return Status::InvalidArgument("the buffer of the I/O at offset " + std::to_string(offset) +
                                   " length " + std::to_string(length) + " is at address " +
                                   addr + ", not aligned to " + std::to_string(align) +
                                   " bytes in memory, as this device requires");
  }
  return Status::Ok();
}

bool BlockDevice::TryReadNow(uint64_t, std::span<std::byte>, ReadWait) {
  return false;
}

bool BlockDevice::TryWriteNow(uint64_t, std::span<const std::byte>, WriteMode) {
  return false;
}

}  // namespace fvd
