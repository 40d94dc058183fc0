#include "bench/fio/engine_options.h"

namespace fvd::fio {
namespace {

Status Bad(const std::string& option, const std::string& why) {
  return Status::InvalidArgument("fvd engine option " + option + ": " + why);
}

}  // namespace

Status ValidateOptions(const EngineOptions& o) {
  if (o.size % 512 != 0) return Bad("fvd_size", "must be a multiple of 512 bytes");
  if (o.block_size % 512 != 0) return Bad("fvd_block_size", "must be a multiple of 512 bytes");
  if (o.chunk_size % 512 != 0) return Bad("fvd_chunk_size", "must be a multiple of 512 bytes");
  if (o.chunk_size != 0 && !o.compact) return Bad("fvd_chunk_size", "needs fvd_compact=1");
  if (o.copy_on_read && o.base.empty()) return Bad("fvd_copy_on_read", "needs fvd_base");
  if (o.journal_size < -1) return Bad("fvd_journal_size", "must be 0 or more");
  return Status::Ok();
}

format::CreateOptions ToCreateOptions(const EngineOptions& o, uint64_t size) {
  format::CreateOptions c;
  c.virtual_size = size;
  c.base_img = o.base;
  c.compact_image = o.compact;
  c.block_size = static_cast<uint32_t>(o.block_size);
  if (o.chunk_size != 0) c.chunk_size = o.chunk_size;
  if (o.journal_size >= 0) c.journal_size = static_cast<uint64_t>(o.journal_size);
  c.copy_on_read = o.copy_on_read;
  c.prefetch_start_delay = o.prefetch_delay;
  return c;
}

}  // namespace fvd::fio
