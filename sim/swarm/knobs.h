// The knobs a swarm world is drawn from, and the features a seed switches on or off.
//
// A knob is one value of the world (a disk's read latency, an image's block size, a phase's
// queue depth) with a domain: a range `lo..hi` or a list of choices. Ranges of sizes, durations
// and bandwidths are drawn log-uniformly (every octave alike, so 10us..10ms spans three orders
// of magnitude evenly); ranges of counts, percentages and probabilities uniformly. A feature
// (compact images, crashes, I/O errors, ...) is either fully on or fully off for a seed, on
// with its own chance: swarm testing's point is that a feature always mixed in can keep the
// system out of the states where a bug lives.
//
// The defaults span everything the engine and the simulator support; a workload file's
// `swarm:` section narrows or widens them (workloads/REFERENCE.md, "swarm").
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fvd::sim::swarm {

// How a knob's values are written and drawn.
enum class Unit { kCount, kSize, kDuration, kBandwidth, kPercent, kProbability, kBool, kWord };

// A range (inclusive) or a set of choices. For words and booleans, values are indexes into the
// knob's words (false = 0, true = 1).
struct Domain {
  bool is_range = false;
  uint64_t lo = 0, hi = 0;
  std::vector<uint64_t> choices;

  static Domain Range(uint64_t lo, uint64_t hi) { return {true, lo, hi, {}}; }
  static Domain Choices(std::vector<uint64_t> values) { return {false, 0, 0, std::move(values)}; }
  bool operator==(const Domain&) const = default;
};

struct KnobDef {
  std::string_view name;  // "image.block_size"
  Unit unit;
  Domain defaults;
  std::string_view help;
  // What any value of the knob must be (checked when a swarm section names it).
  uint64_t min = 0;
  uint64_t multiple_of = 1;
  uint64_t max = std::numeric_limits<uint64_t>::max();
  std::vector<std::string_view> words = {};  // kWord: the allowed words; kBool: false, true
  bool log_scale = false;  // a range is drawn log-uniformly (else uniformly)
};

struct FeatureDef {
  std::string_view name;  // "crashes"
  uint32_t default_ppm;   // chance a seed turns it on, in parts per million
  std::string_view help;
};

// Every knob and feature, in the order worlds draw them.
std::span<const KnobDef> Knobs();
std::span<const FeatureDef> Features();

const KnobDef* FindKnob(std::string_view name);
const FeatureDef* FindFeature(std::string_view name);

}  // namespace fvd::sim::swarm
