// Named fault points of the engine, as the property tests inject them: the image file's
// regions (header, bitmap, table, journal, data) and the base image, told apart by offset
// through the image's own layout. A FaultInjector sits between the engine and a simulated disk
// and fails the n-th matching operation after it is armed, once.
#pragma once

#include <cstdint>
#include <string>

#include "core/format/header.h"
#include "core/seam/block_device.h"
#include "core/seam/clock.h"

namespace fvd::proptest {

enum class FaultPoint {
  kHeaderWrite,   // header.write: epoch, clean_shutdown, prefetch completion
  kBitmapWrite,   // bitmap.flush: bitmap region written back (recycle, close, no journal)
  kTableWrite,    // table.update: table region written back
  kJournalWrite,  // journal.append / journal.recycle: a journal sector write
  kDataWrite,     // data.write: guest data, copy-on-read and prefetch copies
  kImageFlush,    // a flush of the image file
  kBaseRead,      // prefetch.copy / copy-on-read / guest reads of the base image
};
inline constexpr int kFaultPoints = 7;
std::string FaultPointName(FaultPoint p);

class FaultInjector final : public BlockDevice {
 public:
  FaultInjector(BlockDevice& inner, Scheduler& scheduler) : inner_(inner), scheduler_(scheduler) {}

  // Fails the (skip + 1)-th operation at `point` from now on (once). `layout` names the regions.
  void Arm(FaultPoint point, uint64_t skip, const format::Header& layout);
  void Disarm() { armed_ = false; }
  bool fired() const { return fired_; }

  uint64_t size() const override { return inner_.size(); }
  Status SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) override;
  Status SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                     IoCallback done) override;
  Status SubmitFlush(IoCallback done) override;
  // Forwarded, unless the armed fault would hit this write: then declined, so the caller's
  // submission is the one that fails.
  bool TryWriteNow(uint64_t offset, std::span<const std::byte> buf, WriteMode mode) override {
    if (armed_ && !fired_ && WriteMatches(offset, buf.size())) return false;
    return inner_.TryWriteNow(offset, buf, mode);
  }
  Status SubmitResize(uint64_t new_size, IoCallback done) override {
    return inner_.SubmitResize(new_size, std::move(done));
  }

 private:
  // True if this operation is the one to fail.
  bool Hit(bool matches);
  bool WriteMatches(uint64_t offset, uint64_t length) const;

  BlockDevice& inner_;
  Scheduler& scheduler_;
  format::Header layout_;
  FaultPoint point_ = FaultPoint::kDataWrite;
  uint64_t skip_ = 0;
  bool armed_ = false, fired_ = false;
};

}  // namespace fvd::proptest
