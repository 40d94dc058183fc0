// What a binary was built from, for `--version` and for tools that must not mix builds (the
// sweep tool refuses Dask workers whose fvdsim differs).
#pragma once

#include <string>

namespace fvd {

// "fvdsim 0.1.0 (commit 5ddcc17a1b2c, RelWithDebInfo, GCC 12.2.0)": the program's name, the
// project's version, the git commit (with "-dirty" when the tree had changes), the build type
// and the compiler.
std::string BuildIdentity(const std::string& program);

}  // namespace fvd
