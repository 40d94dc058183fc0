#include "core/seam/block_device.h"

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
  if (align > 1 && (offset % align != 0 || length % align != 0 ||
                    reinterpret_cast<uintptr_t>(buf) % align != 0)) {
    return Status::InvalidArgument("I/O at offset " + std::to_string(offset) + " length " +
                                   std::to_string(length) + " is not aligned to " +
                                   std::to_string(align) + " bytes");
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
