#include "tools/fvd-img/io_script.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include "core/util/units.h"

namespace fvd::img {
namespace {

constexpr uint64_t kSector = 512;

std::vector<std::string_view> SplitWords(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

// A byte as qemu-io takes -P: decimal, or hex with 0x.
Result<uint8_t> ParsePattern(std::string_view text) {
  std::string_view digits = text;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value > 255) {
    return Status::InvalidArgument("pattern '" + std::string(text) +
                                   "' is not a byte (0-255, decimal or 0x hex)");
  }
  return static_cast<uint8_t>(value);
}

// OFFSET or LENGTH: a size with an optional suffix, a multiple of the engine's 512-byte sector.
Result<uint64_t> ParseSectorMultiple(std::string_view what, std::string_view text) {
  auto v = ParseByteSize(text);
  if (!v.ok()) return v.status().WithContext(what);
  if (*v % kSector != 0) {
    return Status::InvalidArgument(std::string(what) + " " + std::to_string(*v) +
                                   " is not a multiple of 512");
  }
  return *v;
}

// The options one command kind takes, for the unknown-option message.
std::string_view OptionsHelp(IoCommand::Kind kind) {
  switch (kind) {
    case IoCommand::Kind::kWrite:
      return "write takes -P pattern, -z";
    case IoCommand::Kind::kRead:
      return "read takes -P pattern, -v";
    case IoCommand::Kind::kFlush:
      break;
  }
  return "flush takes none";
}

// Applies one option word (with `next` as its value when it needs one and it is not attached).
// Returns how many words it used.
Result<size_t> ApplyOption(std::string_view word, const std::string_view* next, IoCommand& c,
                           bool& pattern_given) {
  const char letter = word.size() >= 2 ? word[1] : '\0';
  if (letter == 'P' && c.kind != IoCommand::Kind::kFlush) {
    std::string_view value = word.substr(2);
    size_t used = 1;
    if (value.empty()) {
      if (next == nullptr) return Status::InvalidArgument("option -P needs a pattern");
      value = *next;
      used = 2;
    }
    FVD_ASSIGN_OR_RETURN(c.pattern, ParsePattern(value));
    pattern_given = true;
    c.verify = c.kind == IoCommand::Kind::kRead;
    return used;
  }
  if (word == "-z" && c.kind == IoCommand::Kind::kWrite) {
    c.zero = true;
    return size_t{1};
  }
  if (word == "-v" && c.kind == IoCommand::Kind::kRead) {
    c.dump = true;
    return size_t{1};
  }
  return Status::InvalidArgument("unknown option '" + std::string(word) + "' (" +
                                 std::string(OptionsHelp(c.kind)) + ")");
}

Result<IoCommand::Kind> ParseKind(std::string_view name) {
  if (name == "read") return IoCommand::Kind::kRead;
  if (name == "write") return IoCommand::Kind::kWrite;
  if (name == "flush") return IoCommand::Kind::kFlush;
  return Status::InvalidArgument("unknown command '" + std::string(name) +
                                 "' (read, write, flush)");
}

Status ParseRange(const std::vector<std::string_view>& args, IoCommand& c) {
  if (c.kind == IoCommand::Kind::kFlush) {
    if (!args.empty()) return Status::InvalidArgument("flush takes no arguments");
    return Status::Ok();
  }
  if (args.size() != 2) {
    return Status::InvalidArgument("expected OFFSET LENGTH, got " + std::to_string(args.size()) +
                                   " argument" + (args.size() == 1 ? "" : "s"));
  }
  FVD_ASSIGN_OR_RETURN(c.offset, ParseSectorMultiple("offset", args[0]));
  FVD_ASSIGN_OR_RETURN(c.length, ParseSectorMultiple("length", args[1]));
  if (c.length == 0) return Status::InvalidArgument("length must not be zero");
  if (c.length > kMaxIoCommandLength) {
    return Status::InvalidArgument("length " + std::to_string(c.length) + " is over the " +
                                   FormatByteSize(kMaxIoCommandLength) + " a command may move");
  }
  return Status::Ok();
}

Status Context(const Status& s, size_t index, std::string_view text) {
  return s.WithContext("command " + std::to_string(index + 1) + " '" + std::string(text) + "'");
}

}  // namespace

Result<IoCommand> ParseIoCommand(std::string_view text) {
  const std::vector<std::string_view> words = SplitWords(text);
  if (words.empty()) return Status::InvalidArgument("empty command");
  IoCommand c;
  c.text = std::string(text);
  FVD_ASSIGN_OR_RETURN(c.kind, ParseKind(words[0]));
  std::vector<std::string_view> args;
  bool pattern_given = false;
  for (size_t i = 1; i < words.size();) {
    if (words[i].size() < 2 || words[i][0] != '-') {
      args.push_back(words[i++]);
      continue;
    }
    const std::string_view* next = i + 1 < words.size() ? &words[i + 1] : nullptr;
    FVD_ASSIGN_OR_RETURN(const size_t used, ApplyOption(words[i], next, c, pattern_given));
    i += used;
  }
  if (c.zero && pattern_given) {
    // As in qemu-io: the two ask for different contents.
    return Status::InvalidArgument("-z and -P cannot be used together");
  }
  FVD_RETURN_IF_ERROR(ParseRange(args, c));
  if (c.zero) c.pattern = 0;
  return c;
}

Result<std::vector<IoCommand>> ParseIoScript(const std::vector<std::string>& commands,
                                             bool read_only) {
  if (commands.empty()) return Status::InvalidArgument("no commands: give at least one -c");
  std::vector<IoCommand> script;
  for (size_t i = 0; i < commands.size(); ++i) {
    auto c = ParseIoCommand(commands[i]);
    if (!c.ok()) return Context(c.status(), i, commands[i]);
    if (read_only && c->kind == IoCommand::Kind::kWrite) {
      return Context(Status::ReadOnly("write refused: the image is opened read-only (-r)"), i,
                     commands[i]);
    }
    script.push_back(std::move(*c));
  }
  return script;
}

Status CheckIoScriptRanges(std::span<const IoCommand> script, uint64_t disk_size) {
  for (size_t i = 0; i < script.size(); ++i) {
    const IoCommand& c = script[i];
    if (c.kind == IoCommand::Kind::kFlush) continue;
    // Lengths are at most kMaxIoCommandLength, so only the offset can push the sum past 2^64.
    if (c.offset > disk_size || c.length > disk_size - c.offset) {
      return Context(Status::InvalidArgument("range ends past the end of the disk (" +
                                             std::to_string(disk_size) + " bytes)"),
                     i, c.text);
    }
  }
  return Status::Ok();
}

int64_t FindPatternMismatch(std::span<const std::byte> data, uint8_t pattern) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != std::byte{pattern}) return static_cast<int64_t>(i);
  }
  return -1;
}

std::string HexDump(std::span<const std::byte> data, uint64_t offset) {
  std::string out;
  char buf[32];
  for (size_t line = 0; line < data.size(); line += 16) {
    const size_t n = std::min<size_t>(16, data.size() - line);
    std::snprintf(buf, sizeof buf, "%08llx:  ", static_cast<unsigned long long>(offset + line));
    out += buf;
    for (size_t j = 0; j < n; ++j) {
      std::snprintf(buf, sizeof buf, "%02x ", static_cast<unsigned>(data[line + j]));
      out += buf;
    }
    out += ' ';
    for (size_t j = 0; j < n; ++j) {
      const auto ch = static_cast<unsigned char>(data[line + j]);
      out += std::isalnum(ch) ? static_cast<char>(ch) : '.';
    }
    out += '\n';
  }
  return out;
}

}  // namespace fvd::img
