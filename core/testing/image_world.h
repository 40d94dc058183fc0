// A small world for image tests: a virtual-time loop, in-memory devices for the base image,
// the image file and (optionally) a data file, and helpers to run tasks to completion.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "core/format/layout.h"
#include "core/image/image.h"
#include "core/image/image_file.h"
#include "core/seam/memory_device.h"
#include "core/seam/virtual_loop.h"
#include "core/testing/fault_device.h"
#include "core/util/prng.h"

namespace fvd::testing {

// A small overlay for engine tests: 4 MiB over a base, 4 KiB blocks, 64 KiB chunks (when
// compact), a 64 KiB journal.
inline format::CreateOptions SmallOverlayOptions(bool compact = false) {
  format::CreateOptions o;
  o.virtual_size = 4 << 20;
  o.base_img = "base.raw";
  o.block_size = 4096;
  o.compact_image = compact;
  o.chunk_size = 64 << 10;
  o.storage_grow_unit = 256 << 10;
  o.journal_size = 64 << 10;
  return o;
}

class ImageWorld {
 public:
  explicit ImageWorld(uint64_t seed = 1)
      : loop(seed),
        random(seed),
        base_mem(loop, 0),
        image_mem(loop, 0),
        image_dev(image_mem, loop),
        base_dev(base_mem, loop) {}

  // Runs `task` on the loop until it finishes; returns its result.
  template <typename T>
  T Run(Task<T> task) {
    std::optional<T> out;
    Detach(std::move(task), [&](T v) { out.emplace(std::move(v)); });
    loop.RunUntil([&] { return out.has_value(); });
    return std::move(*out);
  }

  void Run(Task<void> task) {
    bool done = false;
    Detach(std::move(task), [&] { done = true; });
    loop.RunUntil([&] { return done; });
  }

  // Fills the base with `size` bytes of seeded random data.
  std::vector<std::byte> MakeBase(uint64_t size, uint64_t seed) {
    std::vector<std::byte> bytes(size);
    Prng p(seed);
    for (auto& b : bytes) b = static_cast<std::byte>(p.NextU64());
    base_mem.ResizeNow(size);
    base_mem.WriteNow(0, bytes);
    return bytes;
  }

  // Creates a fresh image with `options` (base_img_length filled in from the base device).
  // `tweak` may change the planned header before it is written (fields create has no option
  // for, such as the prefetcher's tuning).
  Status Create(format::CreateOptions options,
                const std::function<void(format::Header&)>& tweak = nullptr) {
    if (!options.base_img.empty()) options.base_img_length = base_mem.size();
    FVD_ASSIGN_OR_RETURN(header, format::PlanImage(options));
    if (tweak) tweak(header);
    const LoopDriver drive = [this](const std::function<bool()>& done) { loop.RunUntil(done); };
    return WriteNewImage(image_mem, nullptr, drive, header);
  }

  // What `fvd-img update clean_shutdown=true` does: marks the image on disk clean.
  Status MarkClean() {
    const LoopDriver drive = [this](const std::function<bool()>& done) { loop.RunUntil(done); };
    FVD_ASSIGN_OR_RETURN(format::Header h, ReadImageHeader(image_mem, drive));
    h.clean_shutdown = true;
    FVD_ASSIGN_OR_RETURN(auto bytes, format::EncodeHeader(h));
    image_mem.WriteNow(0, bytes);
    return Status::Ok();
  }

  Result<std::unique_ptr<Image>> Open(ImageOptions options = {}) { return Open(options, random); }
  Result<std::unique_ptr<Image>> Open(ImageOptions options, RandomSource& coin) {
    ImageEnv env{loop, loop, coin};
    const bool base = header.has_base() && !header.all_data_in_image();
    ImageDevices devices{&image_dev, nullptr, base ? &base_dev : nullptr};
    return Run(Image::Open(env, devices, options));
  }

  VirtualLoop loop;
  PrngRandomSource random;
  MemoryDevice base_mem;
  MemoryDevice image_mem;
  FaultDevice image_dev;  // the image file, with faults when a test asks
  FaultDevice base_dev;
  format::Header header;
};

inline std::vector<std::byte> Pattern(size_t n, uint64_t seed) {
  std::vector<std::byte> v(n);
  Prng p(seed);
  for (auto& b : v) b = static_cast<std::byte>(p.NextU64());
  return v;
}

}  // namespace fvd::testing
