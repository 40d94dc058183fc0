// fvd-img io [-r] [--cache=writeback|writethrough] FILE -c CMD [-c CMD ...]: qemu-io for FVD.
// Runs read/write/flush commands in order through the engine; exit 1 if any failed (the rest
// still run, as in qemu-io), with nothing run at all when a command is malformed.
#include <cstdio>
#include <iostream>

#include "tools/fvd-img/commands.h"
#include "tools/fvd-img/io_script.h"
#include "tools/host/open_image.h"

namespace fvd::img {

using host::OpenImage;
using host::PosixFiles;
using host::RunTask;
namespace {

struct IoArgs {
  bool read_only = false;
  std::string cache = "writeback";
  std::string filename;
  std::vector<std::string> commands;
};

int IoFail(const std::string& message) {
  std::cout.flush();  // keep stdout's lines before the error when both go to one terminal
  std::cerr << "fvd-img io: " << message << "\n";
  return 1;
}

ImageOptions OptionsFor(const IoArgs& a) {
  ImageOptions o;
  o.access = a.read_only ? AccessMode::kReadOnly : AccessMode::kReadWrite;
  o.journal_mode = a.cache == "writethrough" ? JournalMode::kUnbuffered : JournalMode::kBuffered;
  return o;
}

// Reports a command that failed; the script goes on, as in qemu-io.
bool CommandFailed(const std::string& message) {
  IoFail(message);
  return false;
}

bool RunWrite(PosixFiles& files, Image& image, const IoCommand& c) {
  const std::vector<std::byte> buf(c.length, std::byte{c.pattern});
  const Status s = RunTask(files, image.Write(c.offset, buf));
  if (!s.ok()) {
    return CommandFailed("write at offset " + std::to_string(c.offset) + ": " + s.ToString());
  }
  std::cout << "wrote " << c.length << "/" << c.length << " bytes at offset " << c.offset << "\n";
  return true;
}

bool RunRead(PosixFiles& files, Image& image, const IoCommand& c) {
  std::vector<std::byte> buf(c.length);
  const Status s = RunTask(files, image.Read(c.offset, buf));
  if (!s.ok()) {
    return CommandFailed("read at offset " + std::to_string(c.offset) + ": " + s.ToString());
  }
  bool ok = true;
  if (c.verify) {
    const int64_t bad = FindPatternMismatch(buf, c.pattern);
    if (bad >= 0) {
      std::cout << "Pattern verification failed at offset " << c.offset + bad << ", " << c.length
                << " bytes\n";
      ok = false;
    }
  }
  if (c.dump) std::cout << HexDump(buf, c.offset);
  std::cout << "read " << c.length << "/" << c.length << " bytes at offset " << c.offset << "\n";
  return ok;
}

bool RunFlush(PosixFiles& files, Image& image) {
  const Status s = RunTask(files, image.Flush());
  if (!s.ok()) return CommandFailed("flush: " + s.ToString());
  // At once: a test that kills this process reads these lines to know what is durable.
  std::cout << "flushed" << std::endl;
  return true;
}

bool RunCommand(PosixFiles& files, Image& image, const IoCommand& c) {
  switch (c.kind) {
    case IoCommand::Kind::kWrite:
      return RunWrite(files, image, c);
    case IoCommand::Kind::kRead:
      return RunRead(files, image, c);
    case IoCommand::Kind::kFlush:
      break;
  }
  return RunFlush(files, image);
}

int RunIo(const IoArgs& a, const OpeningArgs& opening) {
  // Every command is parsed before the image is opened: a typo runs nothing.
  auto script = ParseIoScript(a.commands, a.read_only);
  if (!script.ok()) return IoFail(script.status().message());
  auto files = PosixFiles::Create();
  if (!files.ok()) return IoFail(files.status().ToString());
  // From the header before Image::Open, because a read-write open already writes (a new
  // journal epoch): a command past the end of the disk must leave the file untouched.
  const auto disk_size = host::ReadDiskSize(*files, a.filename);
  if (!disk_size.ok()) return IoFail(a.filename + ": " + disk_size.status().ToString());
  const Status ranges = CheckIoScriptRanges(*script, *disk_size);
  if (!ranges.ok()) return IoFail(ranges.message());
  ImageOptions options = OptionsFor(a);
  if (Status s = opening.ApplyTo(options, *files); !s.ok()) return IoFail(s.message());
  auto opened = OpenImage(*files, a.filename, options, opening.policy());
  if (!opened.ok()) return IoFail(a.filename + ": " + opened.status().ToString());
  bool ok = true;
  for (const IoCommand& c : *script) ok = RunCommand(*files, *opened->image, c) && ok;
  if (!a.read_only) {
    const Status closed = RunTask(*files, opened->image->Close());
    if (!closed.ok()) ok = CommandFailed(a.filename + ": close: " + closed.ToString());
  }
  std::cout.flush();
  return ok ? 0 : 1;
}

}  // namespace

void AddIoCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening) {
  auto args = std::make_shared<IoArgs>();
  CLI::App* cmd = app.add_subcommand("io", "Run qemu-io style read/write/flush commands");
  cmd->footer(
      "Commands (-c, run in order; OFFSET and LENGTH take suffixes and are multiples of 512):\n"
      "  write [-P pattern] [-z] OFFSET LENGTH  write bytes `pattern` (default 0xcd) or zeros\n"
      "  read [-P pattern] [-v] OFFSET LENGTH   read; -P verifies every byte, -v dumps hex\n"
      "  flush                                  flush (prints 'flushed' once durable)");
  cmd->add_flag("-r,--read-only", args->read_only, "Open the image read-only");
  cmd->add_option("-t,--cache", args->cache,
                  "writeback (journal buffered until flush) or writethrough (unbuffered)")
      ->check(CLI::IsMember({"writeback", "writethrough"}));
  cmd->add_option("-c", args->commands, "A command to run; may repeat")->allow_extra_args(false);
  cmd->add_option("filename", args->filename, "Image file")->required();
  cmd->callback([args, &exit_code, &opening] { exit_code = RunIo(*args, opening); });
}

}  // namespace fvd::img
