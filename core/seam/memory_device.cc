#include "core/seam/memory_device.h"

#include <algorithm>
#include <cstring>

namespace fvd {

void MemoryDevice::ReadNow(uint64_t offset, std::span<std::byte> buf) const {
  size_t done = 0;
  while (done < buf.size()) {
    const uint64_t pos = offset + done;
    const uint64_t in_page = pos % kPageSize;
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(kPageSize - in_page, buf.size() - done));
    auto it = pages_.find(pos / kPageSize);
    if (it == pages_.end()) {
      std::memset(buf.data() + done, 0, n);
    } else {
      std::memcpy(buf.data() + done, it->second->data() + in_page, n);
    }
    done += n;
  }
}

void MemoryDevice::WriteNow(uint64_t offset, std::span<const std::byte> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    const uint64_t pos = offset + done;
    const uint64_t in_page = pos % kPageSize;
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(kPageSize - in_page, buf.size() - done));
    auto& page = pages_[pos / kPageSize];
    if (!page) page = std::make_unique<Page>(Page{});
    std::memcpy(page->data() + in_page, buf.data() + done, n);
    done += n;
  }
}

void MemoryDevice::ResizeNow(uint64_t new_size) {
  if (new_size < size_) {
    // Drop whole pages past the end and zero the tail of the last partial page, so a later
    // grow reads zeros there.
    const uint64_t first_dropped = (new_size + kPageSize - 1) / kPageSize;
    std::erase_if(pages_, [&](const auto& kv) { return kv.first >= first_dropped; });
    if (new_size % kPageSize != 0) {
      auto it = pages_.find(new_size / kPageSize);
      if (it != pages_.end()) {
        std::memset(it->second->data() + new_size % kPageSize, 0, kPageSize - new_size % kPageSize);
      }
    }
  }
  size_ = new_size;
}

Status MemoryDevice::SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) {
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()));
  scheduler_.Post([this, offset, buf, done = std::move(done)] {
    // The range was checked at submit; a shrink in between turns the tail into zeros.
    if (offset + buf.size() <= size_) {
      ReadNow(offset, buf);
      done(Status::Ok());
    } else {
      done(Status::IoError("read past the end of a device that shrank"));
    }
  });
  return Status::Ok();
}

bool MemoryDevice::TryReadNow(uint64_t offset, std::span<std::byte> buf, ReadWait) {
  if (!CheckRange(offset, buf.size(), buf.data()).ok()) return false;
  ReadNow(offset, buf);
  return true;
}

bool MemoryDevice::TryWriteNow(uint64_t offset, std::span<const std::byte> buf, WriteMode) {
  if (!CheckRange(offset, buf.size(), buf.data()).ok()) return false;
  WriteNow(offset, buf);
  return true;
}

Status MemoryDevice::SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode,
                                 IoCallback done) {
  FVD_RETURN_IF_ERROR(CheckRange(offset, buf.size(), buf.data()));
  scheduler_.Post([this, offset, buf, done = std::move(done)] {
    if (offset + buf.size() <= size_) {
      WriteNow(offset, buf);
      done(Status::Ok());
    } else {
      done(Status::IoError("write past the end of a device that shrank"));
    }
  });
  return Status::Ok();
}

Status MemoryDevice::SubmitFlush(IoCallback done) {
  scheduler_.Post([done = std::move(done)] { done(Status::Ok()); });
  return Status::Ok();
}

Status MemoryDevice::SubmitResize(uint64_t new_size, IoCallback done) {
  scheduler_.Post([this, new_size, done = std::move(done)] {
    ResizeNow(new_size);
    done(Status::Ok());
  });
  return Status::Ok();
}

}  // namespace fvd
