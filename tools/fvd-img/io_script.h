// The -c command strings of `fvd-img io`, qemu-io style: "write [-P pattern] [-z] OFFSET LENGTH",
// "read [-P pattern] [-v] OFFSET LENGTH", "flush". Parsing is separate from running so that a
// whole script is checked before the image is opened: a typo in command 5 must not leave
// commands 1-4 done.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace fvd::img {

struct IoCommand {
  enum class Kind { kRead, kWrite, kFlush };
  Kind kind = Kind::kFlush;
  uint64_t offset = 0;
  uint64_t length = 0;
  // write: the fill byte (qemu-io's default 0xcd); read: the byte to verify when `verify`.
  uint8_t pattern = 0xcd;
  bool verify = false;  // read -P
  bool zero = false;    // write -z: fill with zeros
  bool dump = false;    // read -v: hex dump of what was read
  std::string text;     // the command as typed, for messages
};

// The largest LENGTH one command may ask for: the tool holds the whole buffer in memory.
inline constexpr uint64_t kMaxIoCommandLength = 1ull << 30;

// Parses one command. Errors say what is wrong with it (not where it is in the script).
Result<IoCommand> ParseIoCommand(std::string_view text);

// Parses every command; the first error is returned as "command N 'TEXT': what is wrong"
// (N counts from 1). Also refuses writes when `read_only`, and an empty script.
Result<std::vector<IoCommand>> ParseIoScript(const std::vector<std::string>& commands,
                                             bool read_only);

// Checks that every command's range lies inside a disk of `disk_size` bytes, with the same
// "command N 'TEXT': ..." errors.
Status CheckIoScriptRanges(std::span<const IoCommand> script, uint64_t disk_size);

// Offset of the first byte of `data` that is not `pattern`, or -1 when all are.
int64_t FindPatternMismatch(std::span<const std::byte> data, uint8_t pattern);

// qemu-io's hex dump: lines of "%08x:  " + up to 16 "xx " + " " + the bytes as text (alnum or
// '.'), addresses starting at `offset`.
std::string HexDump(std::span<const std::byte> data, uint64_t offset);

}  // namespace fvd::img
