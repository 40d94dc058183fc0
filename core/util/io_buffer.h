// IoBuffer: a byte vector whose storage is aligned for any device, O_DIRECT included.
//
// Every buffer the core allocates and hands to a BlockDevice is an IoBuffer, so an image runs
// on files opened with O_DIRECT (their devices demand aligned addresses; the core's offsets and
// lengths are whole sectors already). 4096 covers every logical block size Linux uses.
#pragma once

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace fvd {

inline constexpr std::size_t kIoBufferAlignment = 4096;

template <typename T>
struct IoAllocator {
  using value_type = T;
  IoAllocator() = default;
  template <typename U>
  IoAllocator(const IoAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kIoBufferAlignment}));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    (void)n;  // unsized: Clang 14 does not declare sized deallocation by default
    ::operator delete (p, std::align_val_t{kIoBufferAlignment});
  }
  template <typename U>
  bool operator==(const IoAllocator<U>&) const noexcept {
    return true;
  }
};

using IoBuffer = std::vector<std::byte, IoAllocator<std::byte>>;

// IoAllocator whose resize() leaves new elements default-initialized: uninitialized bytes.
// Only for buffers a device read fills completely before anything looks at them (a 64 KiB
// zero-fill per copy-on-read was a sixth of a simulated boot).
template <typename T>
struct UninitializedIoAllocator : IoAllocator<T> {
  UninitializedIoAllocator() = default;
  template <typename U>
  UninitializedIoAllocator(const UninitializedIoAllocator<U>&) noexcept {}  // NOLINT: rebinding
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using UninitializedIoBuffer = std::vector<std::byte, UninitializedIoAllocator<std::byte>>;

}  // namespace fvd
