#include "sim/real/base_server.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/remote/unix_socket.h"

extern char** environ;

namespace fvd::sim::real {
namespace {

namespace fs = std::filesystem;

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.size() > 600 ? "..." + s.substr(s.size() - 600) : s;
}

std::string Ms(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g ms", static_cast<double>(ns) / 1e6);
  return buf;
}

// The link filter nbdkit loads (base_server.h's contract).
std::string LinkFilter() {
  if (const char* env = std::getenv("FVD_LINK_FILTER"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
#ifdef FVD_LINK_FILTER_INSTALLED
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {  // PREFIX/bin/fvdsim -> PREFIX/<filterdir>/nbdkit-fvdlink-filter.so
    const fs::path installed = exe.parent_path().parent_path() / FVD_LINK_FILTER_INSTALLED;
    if (fs::exists(installed, ec)) return installed.string();
  }
#endif
#ifdef FVD_LINK_FILTER_BUILT
  if (fs::exists(FVD_LINK_FILTER_BUILT, ec)) return FVD_LINK_FILTER_BUILT;
#endif
  return "fvdlink";
}

}  // namespace

BaseServer::Args BaseServer::FilterArgs(const std::string& filter, const DiskConfig& m,
                                        uint64_t seed) {
  return {{"--filter=" + filter, "-t", std::to_string(std::max(m.queue_depth, 1u))},
          {"link-latency=" + std::to_string(m.read_latency_ns),
           "link-rate=" + std::to_string(m.bandwidth_bytes_per_s),
           "link-jitter=" + std::to_string(m.jitter_ns), "link-seed=" + std::to_string(seed)}};
}

Result<std::unique_ptr<BaseServer>> BaseServer::Start(const std::string& base_file,
                                                      const std::string& base_name,
                                                      const DiskConfig& model, uint64_t seed) {
  const std::string what = "base " + base_name + " (on network disk " + model.name + ")";
  std::string tmpl = (fs::temp_directory_path() / "fvd-real-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IoError(what + ": cannot make a folder for its server's socket (" +
                           std::strerror(errno) + ")");
  }
  std::unique_ptr<BaseServer> s(new BaseServer());
  s->folder_ = tmpl;
  s->socket_ = tmpl + "/base.sock";
  const std::string log = tmpl + "/nbdkit.log";
  std::vector<std::string> args = {"nbdkit", "-f", "-r", "--exit-with-parent", "-U", s->socket_};
  const Args filters = FilterArgs(LinkFilter(), model, seed);
  args.insert(args.end(), filters.options.begin(), filters.options.end());
  args.push_back("file");
  args.push_back("file=" + base_file);
  args.insert(args.end(), filters.params.begin(), filters.params.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  const int err = ::posix_spawnp(&s->pid_, "nbdkit", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    s->pid_ = -1;
    return Status::Unsupported(
        what + ": real mode serves it with nbdkit, which could not be run (" + std::strerror(err) +
        "); install nbdkit, or give --local-bases to read it as a file");
  }
  // Ready when the socket accepts: a condition, polled every 10 ms for at most 30 s.
  for (int i = 0; i < 3000; ++i) {
    if (remote::UnixSocketAccepts(s->socket_)) {
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.4g MB/s",
                    static_cast<double>(model.bandwidth_bytes_per_s) / 1e6);
      s->note_ = what + ": served by nbdkit on the disk's link model (" +
                 Ms(model.read_latency_ns) + ", " + rate + " serialized, jitter up to " +
                 Ms(model.jitter_ns) + ")";
      return s;
    }
    int status = 0;
    if (::waitpid(s->pid_, &status, WNOHANG) == s->pid_) {
      s->pid_ = -1;
      return Status::IoError(what + ": nbdkit exited before serving it: " + Tail(log));
    }
    const timespec tick{0, 10'000'000};
    ::nanosleep(&tick, nullptr);
  }
  return Status::IoError(what + ": nbdkit did not accept connections on " + s->socket_ +
                         " within 30 s: " + Tail(log));
}

BaseServer::~BaseServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  if (!folder_.empty()) fs::remove_all(folder_, ec);
}

}  // namespace fvd::sim::real
