#include "sim/config/yaml_writer.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <sstream>

#include "sim/config/units.h"

namespace fvd::sim {
namespace {

// Writes `key: value` when the value differs from the default's, for each field in the order
// of the loader's tables.
template <typename T>
class MapWriter {
 public:
  MapWriter(YAML::Emitter& out, const T& value, T defaults)
      : out_(out), v_(value), d_(std::move(defaults)) {}

  template <typename M, typename F>
  MapWriter& Field(const char* key, M T::*member, F format) {
    if (v_.*member != d_.*member) out_ << YAML::Key << key << YAML::Value << format(v_.*member);
    return *this;
  }
  template <typename M>
  MapWriter& Plain(const char* key, M T::*member) {
    return Field(key, member, [](const M& m) { return m; });
  }
  MapWriter& Bool(const char* key, bool T::*member) {
    return Field(key, member, [](bool b) { return b ? "true" : "false"; });
  }
  MapWriter& Size(const char* key, auto T::*member) {
    return Field(key, member, [](uint64_t b) { return FormatSize(b); });
  }
  MapWriter& Duration(const char* key, auto T::*member) {
    return Field(key, member, [](uint64_t ns) { return FormatDuration(ns); });
  }
  MapWriter& Bandwidth(const char* key, auto T::*member) {
    return Field(key, member, [](uint64_t b) { return FormatBandwidth(b); });
  }
  MapWriter& Percent(const char* key, uint32_t T::*member) {
    return Field(key, member, [](uint32_t p) { return std::to_string(p) + "%"; });
  }
  MapWriter& Probability(const char* key, uint32_t T::*member) {
    return Field(key, member, [](uint32_t ppm) { return FormatProbability(ppm); });
  }
  // "never" for -1, else whole seconds.
  MapWriter& DelaySeconds(const char* key, int32_t T::*member) {
    return Field(key, member,
                 [](int32_t s) { return s < 0 ? std::string("never") : std::to_string(s) + "s"; });
  }

 private:
  YAML::Emitter& out_;
  const T& v_;
  T d_;  // a copy: callers pass temporaries
};

// The shortest decimal that reads back as the same double, in fixed notation (the loader takes
// digits and a point only).
std::string FormatTheta(double theta) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), theta, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

void WriteDisk(YAML::Emitter& out, const DiskConfig& d) {
  using D = DiskConfig;
  DiskConfig defaults;
  ApplyPreset(d.preset, defaults);  // keys written beside a preset override its figures
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << d.name;
  if (!d.preset.empty()) out << YAML::Key << "preset" << YAML::Value << d.preset;
  MapWriter<D>(out, d, defaults)
      .Duration("read_latency", &D::read_latency_ns)
      .Duration("write_latency", &D::write_latency_ns)
      .Duration("flush_latency", &D::flush_latency_ns)
      .Duration("fresh_write_latency", &D::fresh_write_latency_ns)
      .Duration("fresh_flush_latency", &D::fresh_flush_latency_ns)
      .Duration("fua_write_latency", &D::fua_write_latency_ns)
      .Duration("write_service", &D::write_service_ns)
      .Duration("fresh_write_service", &D::fresh_write_service_ns)
      .Duration("fua_write_service", &D::fua_write_service_ns)
      .Duration("fresh_fua_write_service", &D::fresh_fua_write_service_ns)
      .Duration("host_cost", &D::host_cost_ns)
      .Duration("fresh_write_host_cost", &D::fresh_write_host_cost_ns)
      .Bandwidth("bandwidth", &D::bandwidth_bytes_per_s)
      .Duration("jitter", &D::jitter_ns)
      .Plain("queue_depth", &D::queue_depth)
      .Bool("volatile_cache", &D::volatile_cache)
      .Duration("seek_per_gib", &D::seek_ns_per_gib)
      .Duration("max_seek", &D::max_seek_ns)
      .Bool("shared_bandwidth", &D::shared_bandwidth)
      .Size("size", &D::size_bytes);
  out << YAML::EndMap;
}

void WriteBase(YAML::Emitter& out, const BaseImageConfig& b) {
  using B = BaseImageConfig;
  out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << b.name << YAML::Key
      << "disk" << YAML::Value << b.disk;
  MapWriter<B>(out, b, B{}).Size("size", &B::size_bytes).Size("nonzero", &B::nonzero_bytes);
  out << YAML::EndMap;
}

void WriteImage(YAML::Emitter& out, const ImageConfig& i) {
  using I = ImageConfig;
  out << YAML::BeginMap;
  MapWriter<I>(out, i, I{})
      .Size("size", &I::size_bytes)
      .Bool("compact", &I::compact)
      .Size("block_size", &I::block_size_bytes)
      .Size("chunk_size", &I::chunk_size_bytes)
      .Size("journal_size", &I::journal_size_bytes)
      .Bool("copy_on_read", &I::copy_on_read)
      .Bool("data_file", &I::data_file)
      .DelaySeconds("prefetch_start_delay", &I::prefetch_start_delay_s)
      .Plain("prefetch_slots", &I::prefetch_slots)
      .Size("prefetch_slot_size", &I::prefetch_slot_bytes)
      .Bandwidth("prefetch_min_read", &I::prefetch_min_read_bytes_per_s)
      .Bandwidth("prefetch_min_write", &I::prefetch_min_write_bytes_per_s)
      .Bandwidth("prefetch_max_read", &I::prefetch_max_read_bytes_per_s)
      .Bandwidth("prefetch_max_write", &I::prefetch_max_write_bytes_per_s)
      .Duration("prefetch_throttle", &I::prefetch_throttle_ns)
      .Duration("prefetch_measure_time", &I::prefetch_measure_ns)
      .Percent("prefetch_alpha", &I::prefetch_alpha_percent)
      .Duration("prefetch_queue_target", &I::prefetch_queue_target_ns)
      .Plain("prefetch_control", &I::prefetch_control)
      .Size("prefetch_read_size", &I::prefetch_read_bytes)
      .Plain("prefetch_window_max", &I::prefetch_window_max)
      .Bool("record_prefetch_profile", &I::record_prefetch_profile)
      .Plain("prefetch_profile_from", &I::prefetch_profile_from)
      .DelaySeconds("profile_prefetch_delay", &I::profile_prefetch_delay_s)
      .Plain("journal_mode", &I::journal_mode)
      .Size("journal_buffer", &I::journal_buffer_bytes)
      .Duration("journal_flush_period", &I::journal_flush_period_ns);
  out << YAML::EndMap;
}

void WriteSizes(YAML::Emitter& out, const std::map<uint64_t, uint32_t>& sizes) {
  if (sizes.size() == 1 && sizes.begin()->second == 1) {
    out << FormatSize(sizes.begin()->first);
    return;
  }
  out << YAML::Flow << YAML::BeginMap;
  for (const auto& [size, weight] : sizes)
    out << YAML::Key << FormatSize(size) << YAML::Value << weight;
  out << YAML::EndMap;
}

void WritePhase(YAML::Emitter& out, const PhaseConfig& p) {
  using P = PhaseConfig;
  const P defaults;
  out << YAML::Flow << YAML::BeginMap << YAML::Key << "kind" << YAML::Value << p.kind;
  MapWriter<P> w(out, p, defaults);
  w.Duration("duration", &P::duration_ns)
      .Plain("ops", &P::ops)
      .Plain("queue_depth", &P::queue_depth)
      .Percent("read_percent", &P::read_percent);
  if (p.sizes != defaults.sizes) {
    out << YAML::Key << "sizes" << YAML::Value;
    WriteSizes(out, p.sizes);
  }
  w.Size("range_offset", &P::range_offset_bytes)
      .Size("range", &P::range_bytes)
      .Plain("hot_set", &P::hot_set)
      .Field("zipf_theta", &P::zipf_theta, FormatTheta)
      .Plain("flush_every_writes", &P::flush_every_writes)
      .Duration("think_time", &P::think_time_ns)
      .Size("working_set", &P::working_set_bytes)
      .Plain("path_seed", &P::path_seed)
      .Size("align", &P::align_bytes)
      .Percent("sync_writes", &P::sync_write_percent);
  out << YAML::EndMap;
}

void WriteVm(YAML::Emitter& out, const VmConfig& v) {
  using V = VmConfig;
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << v.name;
  MapWriter<V>(out, v, V{}).Plain("count", &V::count).Plain("base", &V::base);
  out << YAML::Key << "disk" << YAML::Value << v.disk;
  if (v.image != ImageConfig{}) {
    out << YAML::Key << "image" << YAML::Value;
    WriteImage(out, v.image);
  }
  out << YAML::Key << "phases" << YAML::Value << YAML::BeginSeq;
  for (const PhaseConfig& p : v.phases) WritePhase(out, p);
  out << YAML::EndSeq;
  MapWriter<V>(out, v, V{}).Duration("start", &V::start_ns);
  out << YAML::EndMap;
}

void WriteSpike(YAML::Emitter& out, const LatencySpikeConfig& s) {
  using S = LatencySpikeConfig;
  out << YAML::Flow << YAML::BeginMap << YAML::Key << "disk" << YAML::Value << s.disk;
  MapWriter<S>(out, s, S{})
      .Probability("probability", &S::probability_ppm)
      .Duration("extra", &S::extra_ns);
  out << YAML::EndMap;
}

void WriteError(YAML::Emitter& out, const ErrorConfig& e) {
  using E = ErrorConfig;
  out << YAML::Flow << YAML::BeginMap << YAML::Key << "disk" << YAML::Value << e.disk;
  MapWriter<E>(out, e, E{})
      .Plain("op", &E::op)
      .Size("offset", &E::offset_bytes)
      .Size("length", &E::length_bytes)
      .Probability("probability", &E::probability_ppm)
      .Plain("after_ops", &E::after_ops)
      .Plain("count", &E::count);
  out << YAML::EndMap;
}

void WriteCrash(YAML::Emitter& out, const CrashConfig& c) {
  using C = CrashConfig;
  out << YAML::Flow << YAML::BeginMap;
  MapWriter<C> w(out, c, C{});
  w.Plain("vm", &C::vm);
  if (!c.at_ns.empty()) {
    out << YAML::Key << "at" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (uint64_t t : c.at_ns) out << FormatDuration(t);
    out << YAML::EndSeq;
  }
  w.Plain("after_ops", &C::after_ops)
      .Plain("op", &C::op)
      .Plain("on", &C::on)
      .Plain("random_per_hour", &C::random_per_hour)
      .Plain("max_crashes", &C::max_crashes);
  if (c.fates != CrashFates{}) {
    using F = CrashFates;
    out << YAML::Key << "fates" << YAML::Value << YAML::Flow << YAML::BeginMap;
    MapWriter<F>(out, c.fates, F{})
        .Plain("survive", &F::survive)
        .Plain("lose", &F::lose)
        .Plain("tear", &F::tear);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

template <typename T, typename F>
void WriteList(YAML::Emitter& out, const char* key, const std::vector<T>& items, F write) {
  if (items.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const T& item : items) write(out, item);
  out << YAML::EndSeq;
}

}  // namespace

std::string WriteWorkloadYaml(const WorkloadConfig& c, const std::string& header) {
  using W = WorkloadConfig;
  YAML::Emitter out;
  out << YAML::BeginMap;
  MapWriter<W>(out, c, W{}).Plain("name", &W::name);
  // The seed is always written: the file stands for one run.
  out << YAML::Key << "seed" << YAML::Value << c.seed;
  MapWriter<W>(out, c, W{}).Duration("max_time", &W::max_time_ns);
  WriteList(out, "disks", c.disks, WriteDisk);
  WriteList(out, "bases", c.bases, WriteBase);
  WriteList(out, "vms", c.vms, WriteVm);
  WriteList(out, "latency_spikes", c.latency_spikes, WriteSpike);
  WriteList(out, "errors", c.errors, WriteError);
  WriteList(out, "crashes", c.crashes, WriteCrash);
  out << YAML::EndMap;
  std::ostringstream text;
  std::istringstream lines(header);
  for (std::string line; std::getline(lines, line);)
    text << (line.empty() ? "#" : "# " + line) << "\n";
  text << out.c_str() << "\n";
  return text.str();
}

}  // namespace fvd::sim
