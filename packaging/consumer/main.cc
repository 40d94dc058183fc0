// Creates an FVD image over a base in memory, writes through it, reads it back: the engine
// embedded through find_package(fvd); and asks the host layer whether an untrusted image may
// name /etc/passwd as its base. Prints "ok" and exits 0, or says what went wrong.
#include <cstdio>
#include <vector>

#include "core/format/layout.h"
#include "core/image/image.h"
#include "core/image/image_file.h"
#include "core/seam/memory_device.h"
#include "core/seam/random.h"
#include "core/seam/virtual_loop.h"
#include "tools/host/trust.h"

namespace {

template <typename T>
T Run(fvd::VirtualLoop& loop, fvd::Task<T> task) {
  std::optional<T> out;
  fvd::Detach(std::move(task), [&](T v) { out.emplace(std::move(v)); });
  loop.RunUntil([&] { return out.has_value(); });
  return std::move(*out);
}

int Fail(const char* what, const fvd::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  return 1;
}

}  // namespace

int main() {
  fvd::VirtualLoop loop(1);
  fvd::PrngRandomSource coin(1);
  fvd::MemoryDevice base(loop, 1 << 20), image(loop, 0);
  std::vector<std::byte> base_bytes(1 << 20, std::byte{0x42});
  base.WriteNow(0, base_bytes);
  fvd::format::CreateOptions o;
  o.base_img = "base.raw";
  o.base_img_length = base.size();
  auto header = fvd::format::PlanImage(o);
  if (!header.ok()) return Fail("plan", header.status());
  const fvd::LoopDriver drive = [&](const std::function<bool()>& done) { loop.RunUntil(done); };
  if (auto s = fvd::WriteNewImage(image, nullptr, drive, *header); !s.ok()) return Fail("create", s);
  fvd::ImageEnv env{loop, loop, coin};
  auto img = Run(loop, fvd::Image::Open(env, {&image, nullptr, &base}, {}));
  if (!img.ok()) return Fail("open", img.status());
  const std::vector<std::byte> mine(4096, std::byte{0x17});
  if (auto s = Run(loop, (*img)->Write(8192, mine)); !s.ok()) return Fail("write", s);
  std::vector<std::byte> back(16384);
  if (auto s = Run(loop, (*img)->Read(4096, back)); !s.ok()) return Fail("read", s);
  const bool right = back[0] == std::byte{0x42} && back[4096] == std::byte{0x17} &&
                     back[8191] == std::byte{0x17} && back[8192] == std::byte{0x42};
  if (auto s = Run(loop, (*img)->Close()); !s.ok()) return Fail("close", s);
  if (!right) return std::puts("wrong data"), 1;
  const auto named = fvd::host::ResolveNamedFile("/srv/upload/disk.fvd", "base_img", "/etc/passwd",
                                                 {.untrusted = true});
  if (named.ok()) return std::puts("an untrusted image named /etc/passwd"), 1;
  std::puts("ok");
  return 0;
}
