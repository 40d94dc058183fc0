// What nbdkit is asked to do for a network disk's model. That it does it (the rate holds the
// base's reads back) is tested through fvdsim in sim/cli/fvdsim_cli_test.py.
#include "sim/real/base_server.h"

#include <gtest/gtest.h>

namespace fvd::sim::real {
namespace {

TEST(BaseServer, DelayIsTheLatencyPlusHalfTheJitterInWholeMilliseconds) {
  DiskConfig m;
  m.read_latency_ns = 2'000'000;
  m.jitter_ns = 0;
  EXPECT_EQ(BaseServer::DelayMs(m), 2u);
  m.read_latency_ns = 500'000;  // the network preset: 0.5 ms + up to 0.05 ms
  m.jitter_ns = 50'000;
  EXPECT_EQ(BaseServer::DelayMs(m), 1u);
  m.read_latency_ns = 1'400'000;
  m.jitter_ns = 0;
  EXPECT_EQ(BaseServer::DelayMs(m), 1u);
  m.read_latency_ns = 100'000;
  EXPECT_EQ(BaseServer::DelayMs(m), 0u);
}

TEST(BaseServer, FiltersCarryTheModelsBandwidthInBitsAndItsQueueDepth) {
  DiskConfig m;
  m.read_latency_ns = 3'000'000;
  m.jitter_ns = 0;
  m.bandwidth_bytes_per_s = 125'000'000;
  m.queue_depth = 64;
  const BaseServer::Args a = BaseServer::FilterArgs(m);
  EXPECT_EQ(a.options,
            (std::vector<std::string>{"--filter=delay", "--filter=rate", "-t", "64"}));
  EXPECT_EQ(a.params,
            (std::vector<std::string>{"rdelay=3ms", "rate=1000000000", "burstiness=0.1"}));
}

}  // namespace
}  // namespace fvd::sim::real
