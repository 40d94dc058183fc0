// Whether an NBD server started elsewhere (nbdkit -U PATH) is ready: its Unix socket accepts a
// connection now. For the code that starts one and polls until it is (at most a deadline of
// its own).
#pragma once

#include <string>

namespace fvd::remote {

// True if a connection to the Unix socket at `path` succeeds now (it is closed at once).
bool UnixSocketAccepts(const std::string& path);

}  // namespace fvd::remote
