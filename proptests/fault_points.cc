#include "proptests/fault_points.h"

#include "core/format/constants.h"

namespace fvd::proptest {

std::string FaultPointName(FaultPoint p) {
  switch (p) {
    case FaultPoint::kHeaderWrite:
      return "header.write";
    case FaultPoint::kBitmapWrite:
      return "bitmap.flush";
    case FaultPoint::kTableWrite:
      return "table.update";
    case FaultPoint::kJournalWrite:
      return "journal.append";
    case FaultPoint::kDataWrite:
      return "data.write";
    case FaultPoint::kImageFlush:
      return "image.flush";
    case FaultPoint::kBaseRead:
      return "base.read";
  }
  return "?";
}

void FaultInjector::Arm(FaultPoint point, uint64_t skip, const format::Header& layout) {
  point_ = point;
  skip_ = skip;
  layout_ = layout;
  armed_ = true;
  fired_ = false;
}

bool FaultInjector::Hit(bool matches) {
  if (!armed_ || !matches) return false;
  if (skip_ > 0) {
    --skip_;
    return false;
  }
  armed_ = false;
  fired_ = true;
  return true;
}

bool FaultInjector::WriteMatches(uint64_t offset, uint64_t length) const {
  const auto overlaps = [&](uint64_t begin, uint64_t size) {
    return size > 0 && offset < begin + size && begin < offset + length;
  };
  const format::Header& h = layout_;
  switch (point_) {
    case FaultPoint::kHeaderWrite:
      return overlaps(0, format::kHeaderRegionSize);
    case FaultPoint::kBitmapWrite:
      return overlaps(h.bitmap_offset, h.bitmap_size);
    case FaultPoint::kTableWrite:
      return h.compact_image && overlaps(h.table_offset, h.table_region_size());
    case FaultPoint::kJournalWrite:
      return overlaps(h.journal_offset, h.journal_size);
    case FaultPoint::kDataWrite:
      return offset >= h.data_offset();
    default:
      return false;
  }
}

Status FaultInjector::SubmitRead(uint64_t offset, std::span<std::byte> buf, IoCallback done) {
  if (Hit(point_ == FaultPoint::kBaseRead)) {
    scheduler_.Post(
        [done = std::move(done)] { done(Status::IoError("injected base.read fault")); });
    return Status::Ok();
  }
  return inner_.SubmitRead(offset, buf, std::move(done));
}

Status FaultInjector::SubmitWrite(uint64_t offset, std::span<const std::byte> buf, WriteMode mode,
                                  IoCallback done) {
  if (Hit(WriteMatches(offset, buf.size()))) {
    const std::string what = "injected " + FaultPointName(point_) + " fault";
    scheduler_.Post([done = std::move(done), what] { done(Status::IoError(what)); });
    return Status::Ok();
  }
  return inner_.SubmitWrite(offset, buf, mode, std::move(done));
}

Status FaultInjector::SubmitFlush(IoCallback done) {
  if (Hit(point_ == FaultPoint::kImageFlush)) {
    scheduler_.Post(
        [done = std::move(done)] { done(Status::IoError("injected image.flush fault")); });
    return Status::Ok();
  }
  return inner_.SubmitFlush(std::move(done));
}

}  // namespace fvd::proptest
