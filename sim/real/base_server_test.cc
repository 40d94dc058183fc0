// What nbdkit is asked to do for a network disk's model. That it does it (the link holds the
// base's reads back) is tested through fvdsim in sim/cli/fvdsim_cli_test.py.
#include "sim/real/base_server.h"

#include <gtest/gtest.h>

namespace fvd::sim::real {
namespace {

TEST(BaseServer, TheFilterCarriesTheDisksModelItsQueueDepthAndTheSeed) {
  DiskConfig m;
  m.read_latency_ns = 500'000;
  m.jitter_ns = 50'000;
  m.bandwidth_bytes_per_s = 125'000'000;
  m.queue_depth = 64;
  const BaseServer::Args a = BaseServer::FilterArgs("/x/f.so", m, 9);
  EXPECT_EQ(a.options, (std::vector<std::string>{"--filter=/x/f.so", "-t", "64"}));
  EXPECT_EQ(a.params, (std::vector<std::string>{"link-latency=500000", "link-rate=125000000",
                                                "link-jitter=50000", "link-seed=9"}));
}

}  // namespace
}  // namespace fvd::sim::real
