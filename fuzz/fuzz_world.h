// What the fuzz targets share: a virtual-time world with in-memory devices, and the ways they
// turn fuzz bytes into an image. Header-only; targets are single files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/image/image.h"
#include "core/seam/memory_device.h"
#include "core/seam/virtual_loop.h"
#include "core/util/prng.h"

namespace fvd::fuzz {

// The most an input may make a target read or write back, so one input cannot take seconds.
inline constexpr uint64_t kMaxTouch = 512 << 10;

struct World {
  VirtualLoop loop{1};
  PrngRandomSource random{1};
  MemoryDevice base{loop, 0};
  MemoryDevice image{loop, 0};

  template <typename T>
  std::optional<T> Run(Task<T> task) {
    std::optional<T> out;
    Detach(std::move(task), [&](T v) { out.emplace(std::move(v)); });
    // Virtual time: a hang shows up as a loop that never goes idle, which libFuzzer's
    // -timeout catches.
    loop.RunUntil([&] { return out.has_value(); });
    return out;
  }

  // A base of `size` bytes of seeded content.
  void MakeBase(uint64_t size) {
    std::vector<std::byte> bytes(size);
    Prng p(7);
    for (size_t i = 0; i + 8 <= size; i += 8) {
      const uint64_t v = p.NextU64();
      std::memcpy(bytes.data() + i, &v, 8);
    }
    base.ResizeNow(size);
    base.WriteNow(0, bytes);
  }

  // Opens the image (read-write: recovery runs on an unclean image), and if that works reads
  // what it may, writes a little, flushes, checks and closes. Nothing may crash or hang;
  // errors are fine.
  void Exercise(AccessMode access) {
    ImageEnv env{loop, loop, random};
    auto opened = Run(Image::Open(env, {&image, nullptr, &base}, {.access = access}));
    if (!opened || !opened->ok()) return;
    std::unique_ptr<Image> img = std::move(**opened);
    const uint64_t len = std::min<uint64_t>(img->size() / 512 * 512, kMaxTouch);
    std::vector<std::byte> buf(len);
    (void)Run(img->Read(0, buf));
    (void)img->Check();
    (void)img->Map(0, len);
    if (access == AccessMode::kReadWrite && len >= 8192) {
      std::vector<std::byte> data(8192, std::byte{0x5a});
      (void)Run(img->Write(len / 2 / 512 * 512, data));
      (void)Run(img->Flush());
      (void)Run(img->Read(0, buf));
    }
    (void)Run(img->Close());
  }
};

}  // namespace fvd::fuzz
