#include "sim/swarm/spec.h"

#include <gtest/gtest.h>

#include <string>

namespace fvd::sim::swarm {
namespace {

SwarmSpec Parse(const std::string& section) {
  auto r = LoadSwarmSpecText("name: x\nswarm:\n" + section, "w.yaml");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r.ok() && r->has_value());
  return r.ok() && r->has_value() ? **r : SwarmSpec{};
}

std::string Error(const std::string& section) {
  auto r = LoadSwarmSpecText("name: x\nswarm:\n" + section, "w.yaml");
  EXPECT_FALSE(r.ok()) << section;
  return r.ok() ? "" : r.status().message();
}

TEST(SwarmSpec, AFileWithoutASectionHasNone) {
  auto r = LoadSwarmSpecText("name: x\nvms: []\n", "w.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  auto empty = LoadSwarmSpecText("swarm:\n", "w.yaml");
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE(empty->has_value());
  EXPECT_EQ(**empty, SwarmSpec{});
}

TEST(SwarmSpec, RangesChoicesAndSingleValuesInTheKnobsUnits) {
  const SwarmSpec s = Parse(R"(  disk.read_latency: 50us..2ms
  image.block_size: [4KiB, 64KiB]
  phase.kind: database
  disk.volatile_cache: [on, false]
  error.probability: 0.5%
  features: {crashes: 100%, io_errors: 0%}
)");
  EXPECT_EQ(s.knobs.at("disk.read_latency"), Domain::Range(50'000, 2'000'000));
  EXPECT_EQ(s.knobs.at("image.block_size"), Domain::Choices({4096, 65536}));
  EXPECT_EQ(s.knobs.at("phase.kind"), Domain::Choices({1}));  // its index among the words
  EXPECT_EQ(s.knobs.at("disk.volatile_cache"), Domain::Choices({1, 0}));
  EXPECT_EQ(s.knobs.at("error.probability"), Domain::Choices({5000}));
  EXPECT_EQ(s.feature_ppm.at("crashes"), 1'000'000u);
  EXPECT_EQ(s.feature_ppm.at("io_errors"), 0u);
  // What the section leaves alone keeps its default.
  EXPECT_EQ(s.DomainOf(*FindKnob("disk.bandwidth")), FindKnob("disk.bandwidth")->defaults);
  EXPECT_EQ(s.ChanceOf(*FindFeature("compact")), 500'000u);
}

TEST(SwarmSpec, ErrorsNameFileLineColumnAndKey) {
  EXPECT_EQ(Error("  disk.read_latncy: 1ms\n").rfind("w.yaml:3:3: swarm.disk.read_latncy: unknown knob", 0),
            0u);
  EXPECT_EQ(Error("  disk.read_latency: 2ms..50us\n"),
            "w.yaml:3:22: swarm.disk.read_latency: min 2ms is above max 50us");
  EXPECT_EQ(Error("  disk.read_latency: 2 parsecs\n").rfind("w.yaml:3:22: swarm.disk.read_latency: ", 0),
            0u);
  EXPECT_NE(Error("  disk.read_latency: 2 parsecs\n").find("2 parsecs"), std::string::npos);
  EXPECT_EQ(Error("  image.block_size: [4KiB, 1000]\n"),
            "w.yaml:3:28: swarm.image.block_size[1]: 1000 is not a multiple of 512");
  EXPECT_EQ(Error("  disk.queue_depth: 0..8\n"),
            "w.yaml:3:21: swarm.disk.queue_depth: min: 0 is too small (at least 1)");
  EXPECT_EQ(Error("  phase.kind: random..idle\n"),
            "w.yaml:3:15: swarm.phase.kind: takes a list of choices, not a range");
  EXPECT_EQ(Error("  phase.kind: [random, sleeping]\n").rfind(
                "w.yaml:3:24: swarm.phase.kind[1]: sleeping is not one of random, database", 0),
            0u);
  EXPECT_EQ(Error("  image.block_size: []\n"),
            "w.yaml:3:21: swarm.image.block_size: needs at least one choice");
  EXPECT_EQ(Error("  features: {crashes: 100%, floods: 5%}\n").rfind(
                "w.yaml:3:29: swarm.features.floods: unknown feature", 0),
            0u);
  EXPECT_EQ(Error("  features: {crashes: 150%}\n").rfind("w.yaml:3:23: swarm.features.crashes: ", 0),
            0u);
  EXPECT_EQ(Error("  phase.count: {a: 1}\n"),
            "w.yaml:3:16: swarm.phase.count: expects lo..hi, a list [a, b] or one value");
}

TEST(SwarmSpec, FormatsValuesAsAFileWouldSpellThem) {
  EXPECT_EQ(FormatKnobValue(*FindKnob("image.block_size"), 65536), "64KiB");
  EXPECT_EQ(FormatKnobValue(*FindKnob("disk.read_latency"), 1'500'000), "1500us");
  EXPECT_EQ(FormatKnobValue(*FindKnob("phase.kind"), 3), "boot");
  EXPECT_EQ(FormatKnobValue(*FindKnob("disk.volatile_cache"), 1), "true");
}

}  // namespace
}  // namespace fvd::sim::swarm
