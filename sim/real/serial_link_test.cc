// The link schedule of real mode's base server, against times worked out by hand from the
// simulator's network model (sim_disk.h): fixed latency, then the serialized transfer.
#include "sim/real/serial_link.h"

#include <gtest/gtest.h>

namespace fvd::sim::real {
namespace {

constexpr uint64_t kMs = 1'000'000;

TEST(SerialLink, ALoneReadPaysTheLatencyAndItsTransfer) {
  SerialLink link({.latency_ns = 2 * kMs, .bytes_per_s = 1'000'000, .jitter_ns = 0}, 1);
  EXPECT_EQ(link.Complete(100 * kMs, 1000), 103 * kMs);  // 2 ms + 1000 B at 1 MB/s
}

TEST(SerialLink, ConcurrentReadsCrossTheLinkOneAfterAnother) {
  SerialLink link({.latency_ns = 2 * kMs, .bytes_per_s = 1'000'000, .jitter_ns = 0}, 1);
  EXPECT_EQ(link.Complete(0, 1000), 3 * kMs);
  EXPECT_EQ(link.Complete(0, 1000), 4 * kMs);        // behind the first
  EXPECT_EQ(link.Complete(kMs / 2, 500), 4500'000);  // arrives at 2.5 ms, waits until 4
  // One that arrives after the link went idle waits for nobody.
  EXPECT_EQ(link.Complete(10 * kMs, 2000), 14 * kMs);
}

TEST(SerialLink, NoBandwidthMeansNoTransferTime) {
  SerialLink link({.latency_ns = 5 * kMs, .bytes_per_s = 0, .jitter_ns = 0}, 1);
  EXPECT_EQ(link.Complete(0, 1 << 20), 5 * kMs);
  EXPECT_EQ(link.Complete(0, 1 << 20), 5 * kMs);
}

TEST(SerialLink, JitterIsBelowItsBoundDoesNotHoldTheLinkAndFollowsTheSeed) {
  const LinkModel m{.latency_ns = kMs, .bytes_per_s = 1'000'000, .jitter_ns = kMs};
  SerialLink a(m, 7), b(m, 7), c(m, 8);
  bool differs = false;
  for (uint64_t i = 0; i < 100; ++i) {
    const uint64_t now = i * 10 * kMs;  // idle link each time: 1 ms + 1 ms + jitter
    const uint64_t t = a.Complete(now, 1000);
    EXPECT_GE(t, now + 2 * kMs);
    EXPECT_LT(t, now + 3 * kMs);
    EXPECT_EQ(b.Complete(now, 1000), t);
    differs |= c.Complete(now, 1000) != t;
  }
  EXPECT_TRUE(differs);
  // The jitter delays a read's completion, not the link: the next read starts its transfer
  // when the previous transfer ended.
  SerialLink d(m, 7);
  d.Complete(0, 1000);                     // transfer 1-2 ms
  const uint64_t t = d.Complete(0, 1000);  // transfer 2-3 ms, plus its own jitter
  EXPECT_GE(t, 3 * kMs);
  EXPECT_LT(t, 4 * kMs);
}

}  // namespace
}  // namespace fvd::sim::real
