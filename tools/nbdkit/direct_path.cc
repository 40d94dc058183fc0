#include "tools/nbdkit/direct_path.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace fvd::nbd {

namespace {

constexpr uint64_t kPlainUnit = 1 << 20;

uint64_t UnitOf(const format::Header& h) {
  if (h.has_base() && !h.all_data_in_image()) return h.block_size;
  if (h.compact_image) return h.chunk_size;
  return kPlainUnit;
}

uint64_t Words(uint64_t bits) {
  return (bits + 63) / 64;
}

std::string Errno(const char* what, uint64_t offset, size_t length, int err) {
  return std::string(what) + " at data-file offset " + std::to_string(offset) + " length " +
         std::to_string(length) + ": " + std::strerror(err);
}

}  // namespace

DirectPath::DirectPath(const Image& image, int fd, bool write_through, bool writable)
    : disk_size_(image.header().virtual_disk_size),
      data_offset_(image.header().data_offset()),
      chunk_size_(image.header().chunk_size),
      compact_(image.header().compact_image),
      unit_(UnitOf(image.header())),
      fd_(fd),
      write_through_(write_through),
      host_allocates_(writable && image.HostMayAllocate()),
      block_size_(image.header().block_size),
      base_size_(image.header().base_img_size),
      writable_(writable),
      known_(Words((disk_size_ + unit_ - 1) / unit_)),
      chunk_at_(compact_ ? (disk_size_ + chunk_size_ - 1) / chunk_size_ : 0) {}

DirectPath::~DirectPath() {
  if (fd_ >= 0) ::close(fd_);
}

bool DirectPath::Known(uint64_t u) const {
  return (known_[u / 64].load(std::memory_order_acquire) >> (u % 64)) & 1;
}

void DirectPath::Publish(uint64_t u, uint64_t physical) {
  const uint64_t start = u * unit_;
  if (compact_) {
    // The chunk's place first, then the bit that lets readers use it.
    chunk_at_[start / chunk_size_].store(physical - start % chunk_size_ + 1,
                                         std::memory_order_release);
  } else if (physical != data_offset_ + start) {
    return;  // not where a plain image keeps it: leave it to the loop
  }
  known_[u / 64].fetch_or(uint64_t{1} << (u % 64), std::memory_order_release);
}

void DirectPath::Learn(const Image& image, uint64_t offset, uint64_t length) {
  if (length == 0) return;
  const uint64_t first = offset / unit_;
  const uint64_t last = std::min((offset + length - 1) / unit_, (disk_size_ - 1) / unit_);
  // The common case, a range just written whole: one question for all its units.
  const uint64_t begin = first * unit_;
  if (const auto run = image.InPlaceRun(begin, std::min((last + 1) * unit_, disk_size_) - begin)) {
    for (uint64_t u = first; u <= last; ++u) {
      if (!Known(u)) Publish(u, *run + (u * unit_ - begin));
    }
    return;
  }
  for (uint64_t u = first; u <= last; ++u) {
    if (Known(u)) continue;
    const uint64_t start = u * unit_;
    const auto physical = image.InPlaceRun(start, std::min(unit_, disk_size_ - start));
    if (physical) Publish(u, *physical);
  }
}

void DirectPath::LearnAll(const Image& image) {
  if (disk_size_ > 0) Learn(image, 0, disk_size_);
}

std::optional<uint64_t> DirectPath::Lookup(uint64_t offset, uint64_t length) const {
  if (length == 0 || offset >= disk_size_ || length > disk_size_ - offset) return std::nullopt;
  const uint64_t last = (offset + length - 1) / unit_;
  for (uint64_t u = offset / unit_; u <= last; ++u) {
    if (!Known(u)) return std::nullopt;
  }
  if (!compact_) return data_offset_ + offset;
  const uint64_t chunk = offset / chunk_size_;
  if ((offset + length - 1) / chunk_size_ != chunk) return std::nullopt;
  const uint64_t at = chunk_at_[chunk].load(std::memory_order_acquire);
  if (at == 0) return std::nullopt;
  return at - 1 + offset % chunk_size_;
}

std::optional<Status> DirectPath::Read(uint64_t offset, std::span<std::byte> buf) const {
  const auto physical = Lookup(offset, buf.size());
  if (!physical) return std::nullopt;
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n =
        ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(*physical + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError(Errno("data read", *physical, buf.size(), errno));
    if (n == 0) {  // the file ends inside data the image holds: what the core reads as zeros
      std::memset(buf.data() + done, 0, buf.size() - done);
      break;
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status DirectPath::WriteAt(uint64_t physical, std::span<const std::byte> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    iovec iov{const_cast<std::byte*>(buf.data() + done), buf.size() - done};
    const ssize_t n = ::pwritev2(fd_, &iov, 1, static_cast<off_t>(physical + done),
                                 write_through_ ? RWF_DSYNC : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::IoError(Errno("data write", physical, buf.size(), n < 0 ? errno : EIO));
    }
    done += static_cast<size_t>(n);
  }
  // Once complete, so a flush that sees no written_ was issued before this write completed.
  written_.store(true, std::memory_order_release);
  return Status::Ok();
}

std::optional<Status> DirectPath::Write(uint64_t offset, std::span<const std::byte> buf) {
  if (!writable_.load(std::memory_order_acquire)) return std::nullopt;
  const auto physical = Lookup(offset, buf.size());
  if (!physical) return std::nullopt;
  return WriteAt(*physical, buf);
}

bool DirectPath::WholeBlocks(uint64_t offset, uint64_t length) const {
  const uint64_t end = offset + length;
  return (offset % block_size_ == 0 || offset >= base_size_) &&
         (end % block_size_ == 0 || end >= base_size_);
}

std::optional<Status> DirectPath::WriteAllocating(uint64_t offset, std::span<const std::byte> buf) {
  if (!host_allocates_ || !writable_.load(std::memory_order_acquire)) return std::nullopt;
  if (buf.empty() || offset >= disk_size_ || buf.size() > disk_size_ - offset) return std::nullopt;
  if (!WholeBlocks(offset, buf.size())) return std::nullopt;
  return WriteAt(data_offset_ + offset, buf);
}

Status DirectPath::SyncIfWritten() {
  if (!written_.exchange(false, std::memory_order_acq_rel)) return Status::Ok();
  while (::fdatasync(fd_) != 0) {
    if (errno == EINTR) continue;
    written_.store(true, std::memory_order_release);  // still not durable: the next flush tries
    return Status::IoError(std::string("fdatasync of the data file: ") + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace fvd::nbd
