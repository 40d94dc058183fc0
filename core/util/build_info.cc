#include "core/util/build_info.h"

#include "fvd_build_commit.inc"  // FVD_COMMIT, written by cmake/BuildInfo.cmake

namespace fvd {
namespace {

std::string Compiler() {
#if defined(__clang__)
  return "Clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
         std::to_string(__GNUC_PATCHLEVEL__);
#else
  return "an unknown compiler";
#endif
}

}  // namespace

std::string BuildIdentity(const std::string& program) {
  return program + " " FVD_VERSION " (commit " FVD_COMMIT ", " FVD_BUILD_TYPE ", " + Compiler() +
         ")";
}

}  // namespace fvd
