// The fio plugin's engine options (shown by `fio --enghelp`), as plain C++: what the glue
// copies out of fio's option struct, checked before any I/O.
#pragma once

#include <cstdint>
#include <string>

#include "core/format/layout.h"
#include "core/image/image.h"
#include "core/util/status.h"
#include "tools/host/trust.h"

namespace fvd::fio {

enum class CacheOption {
  kWriteback,  // through the page cache
  kNone,       // O_DIRECT
};

struct EngineOptions {
  // Creation, used only when the image file does not exist.
  bool create = true;         // fvd_create: create a missing image (else a missing file fails)
  std::string base;           // fvd_base: base image path ("" = none)
  uint64_t size = 0;          // fvd_size: virtual size (0 = the base's size, else fio's size=)
  bool compact = false;       // fvd_compact
  uint64_t chunk_size = 0;    // fvd_chunk_size (0 = default)
  uint64_t block_size = 0;    // fvd_block_size (0 = automatic)
  int64_t journal_size = -1;  // fvd_journal_size (-1 = default, 0 = no journal)
  bool copy_on_read = false;  // fvd_copy_on_read
  int prefetch_delay = -1;    // fvd_prefetch_delay seconds (<= 0: no prefetch)
  // Opening.
  JournalMode journal = JournalMode::kBuffered;  // fvd_journal
  CacheOption cache = CacheOption::kWriteback;   // fvd_cache
  // What the image may make the host do (tools/host/trust.h): fvd_untrusted,
  // fvd_allow_storage_cmd, fvd_storage_cmd; and fvd_max_metadata_memory.
  host::TrustPolicy policy;
  uint64_t max_metadata_memory = uint64_t{1} << 30;
  unsigned base_timeout_s = 30;  // fvd_base_timeout: a remote (NBD) base's longest answer
};

// Checks what can be checked without touching a file (sizes, combinations). Errors name the
// option as the user typed it.
Status ValidateOptions(const EngineOptions& o);

// The create options for a new image of `size` bytes (0: the base's size).
format::CreateOptions ToCreateOptions(const EngineOptions& o, uint64_t size);

}  // namespace fvd::fio
