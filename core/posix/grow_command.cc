#include "core/posix/grow_command.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace fvd {
namespace {

constexpr char kBuiltinLvextend[] = "builtin:lvextend";

// The environment of the child: ours plus the two FVD_ variables (replacing any inherited).
std::vector<std::string> ChildEnvironment(const std::string& device, uint64_t new_size) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "FVD_DEVICE=", 11) != 0 && std::strncmp(*e, "FVD_NEW_SIZE=", 13) != 0) {
      env.emplace_back(*e);
    }
  }
  env.push_back("FVD_DEVICE=" + device);
  env.push_back("FVD_NEW_SIZE=" + std::to_string(new_size));
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Status RunGrowCommand(const std::string& command, const std::string& device, uint64_t new_size) {
  if (command.empty()) {
    return Status::Unsupported("cannot grow block device '" + device +
                               "': the image has no add_storage_cmd");
  }
  const std::string script = command == kBuiltinLvextend
                                 ? "exec lvextend -L \"${FVD_NEW_SIZE}b\" \"$FVD_DEVICE\""
                                 : command;
  std::vector<std::string> args = {"/bin/sh", "-c", script};
  std::vector<std::string> env = ChildEnvironment(device, new_size);
  std::vector<char*> argv = Pointers(args), envp = Pointers(env);
  pid_t pid = 0;
  const int err = ::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv.data(), envp.data());
  const std::string what = "add_storage_cmd '" + command + "' growing '" + device + "' to " +
                           std::to_string(new_size) + " bytes";
  if (err != 0) return Status::IoError(what + ": cannot start /bin/sh: " + std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::IoError(what + ": waitpid: " + std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  if (WIFEXITED(status)) {
    return Status::NoSpace(what + " failed with exit code " + std::to_string(WEXITSTATUS(status)));
  }
  return Status::NoSpace(what + " was killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace fvd
