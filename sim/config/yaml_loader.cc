#include "sim/config/yaml_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "sim/config/units.h"

namespace fvd::sim {
namespace {

// What the parse knows beyond the node at hand: the file name for messages, and the names
// defined so far. Sections are parsed in a fixed order (disks, bases, vms, then faults), so a
// reference is checked where it is written, with its own line and column.
struct Context {
  std::string file;
  std::set<std::string> disks;
  std::set<std::string> bases;
  std::set<std::string> vms;  // group names and, for count > 1, the expanded "name-i"
  // The map entry being parsed. yaml-cpp marks an empty value (`name:` and nothing) at the
  // next token, often on the next line, so errors about such a value point at its key instead.
  // Optionals because YAML::Node's operator= writes through to the node it refers to; emplace
  // rebinds.
  std::optional<YAML::Node> key;
  std::optional<YAML::Node> value;
  // Values set from the command line (--set): errors about them name the --set, not a place in
  // the file.
  std::vector<std::pair<YAML::Node, std::string>> set_values;
};

using NameSet = std::set<std::string> Context::*;

// "file:line:column: path: message" with 1-based line and column (yaml-cpp counts from 0).
Status ErrorAt(const Context& ctx, const YAML::Mark& mark, const std::string& path,
               const std::string& message) {
  const int line = mark.is_null() ? 1 : mark.line + 1;
  const int column = mark.is_null() ? 1 : mark.column + 1;
  std::string text = ctx.file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!path.empty()) text += path + ": ";
  return Status::InvalidArgument(text + message);
}

Status ErrorAt(const Context& ctx, const YAML::Node& node, const std::string& path,
               const std::string& message) {
  for (const auto& [set, text] : ctx.set_values) {
    if (node.is(set)) {
      return Status::InvalidArgument(ctx.file + ": --set " + text + ": " + path + ": " + message);
    }
  }
  const bool empty_value = node.IsNull() && ctx.value && node.is(*ctx.value);
  return ErrorAt(ctx, empty_value ? ctx.key->Mark() : node.Mark(), path, message);
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string JoinWords(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += ", ";
    out += w.empty() ? std::string("\"\"") : std::string(w);
  }
  return out;
}

// The text of a scalar; `expected` says what belongs there when something else is found.
Result<std::string> ScalarText(const Context& ctx, const YAML::Node& node, const std::string& path,
                               std::string_view expected) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsNull()) return ErrorAt(ctx, node, path, "needs a value: " + std::string(expected));
  const char* found = node.IsMap() ? "a map" : "a list";
  return ErrorAt(ctx, node, path, "expects " + std::string(expected) + ", not " + found);
}

// ---------------------------------------------------------------------------------------------
// Numbers with units, and the limits the engine puts on them.

struct Kind {
  Result<uint64_t> (*parse)(std::string_view);
  std::string_view expected;
};

Result<uint64_t> Percent(std::string_view t) {
  FVD_ASSIGN_OR_RETURN(const uint32_t v, ParsePercent(t));
  return uint64_t{v};
}
Result<uint64_t> Probability(std::string_view t) {
  FVD_ASSIGN_OR_RETURN(const uint32_t v, ParseProbability(t));
  return uint64_t{v};
}

constexpr Kind kSize = {ParseSize, "a size like 4KiB"};
constexpr Kind kDuration = {ParseDuration, "a duration like 100us"};
constexpr Kind kBandwidth = {ParseBandwidth, "a bandwidth like 1Gbit/s"};
constexpr Kind kPercent = {Percent, "a percentage like 70%"};
constexpr Kind kProbability = {Probability, "a probability like 0.1%"};
constexpr Kind kCount = {ParseCount, "a whole number"};

struct Limits {
  uint64_t min = 0;
  uint64_t multiple_of = 1;
  uint64_t max = std::numeric_limits<uint64_t>::max();
};

constexpr uint64_t kSector = 512;  // the engine reads and writes whole sectors
constexpr Limits kAny = {};
constexpr Limits kPositive = {.min = 1};
constexpr Limits kSectors = {.multiple_of = kSector};
constexpr Limits kPositiveSectors = {.min = kSector, .multiple_of = kSector};
// The image header keeps prefetch rates in KiB/s and prefetch times in ms, as int32.
constexpr Limits kKiBps = {.max = uint64_t{INT32_MAX} * 1024};
constexpr Limits kMillis = {.multiple_of = 1'000'000, .max = uint64_t{INT32_MAX} * 1'000'000};

Result<uint64_t> ParseValue(const Context& ctx, const YAML::Node& node, const std::string& path,
                            const Kind& kind, const Limits& limits) {
  FVD_ASSIGN_OR_RETURN(const std::string text, ScalarText(ctx, node, path, kind.expected));
  const Result<uint64_t> value = kind.parse(text);
  if (!value.ok()) return ErrorAt(ctx, node, path, value.status().message());
  if (*value < limits.min) {
    return ErrorAt(ctx, node, path,
                   text + " is too small (at least " + std::to_string(limits.min) + ")");
  }
  if (*value > limits.max) {
    return ErrorAt(ctx, node, path,
                   text + " is too large (at most " + std::to_string(limits.max) + ")");
  }
  if (*value % limits.multiple_of != 0) {
    return ErrorAt(ctx, node, path,
                   text + " is not a multiple of " + std::to_string(limits.multiple_of));
  }
  return *value;
}

// ---------------------------------------------------------------------------------------------
// Tables of keys. A struct's keys are a table of handlers; ParseMap checks the keys of a YAML
// map against it and then runs the handlers in table order, whatever the order in the file, so
// a handler may rely on the fields of earlier entries (a base's `nonzero` sees its `size`).

template <typename T>
using Handler =
    std::function<Status(Context& ctx, const YAML::Node& node, const std::string& path, T& out)>;

template <typename T>
struct Field {
  std::string_view key;
  Handler<T> parse;
};

template <typename T>
using Fields = std::vector<Field<T>>;

template <typename T>
std::string KeyList(const Fields<T>& fields) {
  std::vector<std::string_view> keys;
  for (const Field<T>& f : fields) keys.push_back(f.key);
  return JoinWords(keys);
}

using KeyValue = std::pair<YAML::Node, YAML::Node>;

// Which table entry each key of `node` sets; errors on unknown and repeated keys.
template <typename T>
Result<std::vector<std::optional<KeyValue>>> MatchKeys(const Context& ctx, const YAML::Node& node,
                                                       const std::string& path,
                                                       const Fields<T>& fields) {
  std::vector<std::optional<KeyValue>> found(fields.size());
  for (const auto& entry : node) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) return ErrorAt(ctx, key, path, "keys must be plain words");
    const std::string& name = key.Scalar();
    const auto it = std::find_if(fields.begin(), fields.end(),
                                 [&](const Field<T>& f) { return f.key == name; });
    if (it == fields.end()) {
      return ErrorAt(ctx, key, Join(path, name), "unknown key (known: " + KeyList(fields) + ")");
    }
    std::optional<KeyValue>& slot = found[static_cast<size_t>(it - fields.begin())];
    if (slot) return ErrorAt(ctx, key, Join(path, name), "key appears twice");
    slot.emplace(key, entry.second);
  }
  return found;
}

// Fills `out` from a map (a null node, as in `image:` with nothing after it, sets nothing).
template <typename T>
Status ParseMap(Context& ctx, const YAML::Node& node, const std::string& path,
                const Fields<T>& fields, T& out) {
  if (node.IsNull()) return Status::Ok();
  if (!node.IsMap()) {
    return ErrorAt(ctx, node, path, "expects a map with the keys " + KeyList(fields));
  }
  FVD_ASSIGN_OR_RETURN(const auto found, MatchKeys(ctx, node, path, fields));
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!found[i]) continue;
    ctx.key.emplace(found[i]->first);
    ctx.value.emplace(found[i]->second);
    FVD_RETURN_IF_ERROR(fields[i].parse(ctx, found[i]->second, Join(path, fields[i].key), out));
  }
  return Status::Ok();
}

template <typename T>
using ItemParser = Status (*)(Context& ctx, const YAML::Node& node, const std::string& path,
                              T& out);

template <typename T>
Status ParseList(Context& ctx, const YAML::Node& node, const std::string& path,
                 ItemParser<T> parse_item, std::vector<T>& out) {
  if (node.IsNull()) return Status::Ok();
  if (!node.IsSequence()) return ErrorAt(ctx, node, path, "expects a list of entries (- ...)");
  size_t i = 0;
  for (const YAML::Node& item : node) {
    T value;
    FVD_RETURN_IF_ERROR(parse_item(ctx, item, Index(path, i++), value));
    out.push_back(std::move(value));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Handlers by kind of field.

template <typename T, typename M>
Field<T> Number(std::string_view key, M T::*member, const Kind& kind, Limits limits = kAny) {
  limits.max = std::min<uint64_t>(limits.max, std::numeric_limits<M>::max());
  return {key,
          [member, &kind, limits](Context& ctx, const YAML::Node& node, const std::string& path,
                                  T& out) -> Status {
            FVD_ASSIGN_OR_RETURN(const uint64_t v, ParseValue(ctx, node, path, kind, limits));
            out.*member = static_cast<M>(v);
            return Status::Ok();
          }};
}

template <typename T>
Field<T> Bool(std::string_view key, bool T::*member) {
  return {
      key,
      [member](Context& ctx, const YAML::Node& node, const std::string& path, T& out) -> Status {
        FVD_ASSIGN_OR_RETURN(std::string text, ScalarText(ctx, node, path, "true or false"));
        std::transform(text.begin(), text.end(), text.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (text == "true" || text == "yes" || text == "on") {
          out.*member = true;
        } else if (text == "false" || text == "no" || text == "off") {
          out.*member = false;
        } else {
          return ErrorAt(ctx, node, path, node.Scalar() + " is not true or false");
        }
        return Status::Ok();
      }};
}

template <typename T>
Field<T> String(std::string_view key, std::string T::*member) {
  return {
      key,
      [member](Context& ctx, const YAML::Node& node, const std::string& path, T& out) -> Status {
        FVD_ASSIGN_OR_RETURN(out.*member, ScalarText(ctx, node, path, "a string"));
        return Status::Ok();
      }};
}

// One of a fixed set of words, e.g. a phase kind.
template <typename T>
Field<T> Choice(std::string_view key, std::string T::*member, std::string_view noun,
                std::vector<std::string_view> allowed) {
  return {key,
          [member, noun, allowed](Context& ctx, const YAML::Node& node, const std::string& path,
                                  T& out) -> Status {
            const std::string expected = JoinWords(allowed);
            FVD_ASSIGN_OR_RETURN(std::string text, ScalarText(ctx, node, path, expected));
            if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
              return ErrorAt(ctx, node, path,
                             text + " is not a valid " + std::string(noun) + " (" + expected + ")");
            }
            out.*member = std::move(text);
            return Status::Ok();
          }};
}

// The name of a new disk, base or VM: not empty and not used before in its section.
template <typename T>
Field<T> Name(std::string_view key, std::string T::*member, NameSet names) {
  return {key,
          [member, names](Context& ctx, const YAML::Node& node, const std::string& path,
                          T& out) -> Status {
            FVD_ASSIGN_OR_RETURN(std::string text, ScalarText(ctx, node, path, "a name"));
            if (text.empty()) return ErrorAt(ctx, node, path, "a name may not be empty");
            if ((ctx.*names).contains(text)) {
              return ErrorAt(ctx, node, path, "duplicate name " + text);
            }
            out.*member = std::move(text);
            return Status::Ok();
          }};
}

// Whether a reference may be "" (a VM without a base, a crash of every VM).
enum class Empty { kAllowed, kRejected };

// A reference to a disk, base or VM of a section parsed before (see ParseWorkload).
template <typename T>
Field<T> Ref(std::string_view key, std::string T::*member, NameSet names, std::string_view section,
             Empty empty) {
  return {key,
          [member, names, section, empty](Context& ctx, const YAML::Node& node,
                                          const std::string& path, T& out) -> Status {
            FVD_ASSIGN_OR_RETURN(std::string text, ScalarText(ctx, node, path, "a name"));
            if (!(text.empty() && empty == Empty::kAllowed) && !(ctx.*names).contains(text)) {
              return ErrorAt(ctx, node, path,
                             (text.empty() ? std::string("\"\"") : text) +
                                 " is not defined under " + std::string(section));
            }
            out.*member = std::move(text);
            return Status::Ok();
          }};
}

template <typename T, typename Item>
Field<T> List(std::string_view key, std::vector<Item> T::*member, ItemParser<Item> parse_item) {
  return {key,
          [member, parse_item](Context& ctx, const YAML::Node& node, const std::string& path,
                               T& out) -> Status {
            return ParseList(ctx, node, path, parse_item, out.*member);
          }};
}

// ---------------------------------------------------------------------------------------------
// Fields that need more than one value or a special spelling.

// `sizes: 4KiB` or `sizes: {4KiB: 80, 64KiB: 20}` (size: weight).
Status ParseSizes(Context& ctx, const YAML::Node& node, const std::string& path, PhaseConfig& p) {
  p.sizes.clear();
  if (node.IsScalar()) {
    FVD_ASSIGN_OR_RETURN(const uint64_t size, ParseValue(ctx, node, path, kSize, kPositiveSectors));
    p.sizes[size] = 1;
    return Status::Ok();
  }
  if (!node.IsMap()) {
    return ErrorAt(ctx, node, path, "expects a size (4KiB) or a map of size: weight ({4KiB: 80})");
  }
  uint64_t total_weight = 0;
  for (const auto& entry : node) {
    const std::string at = Join(path, entry.first.IsScalar() ? entry.first.Scalar() : "?");
    FVD_ASSIGN_OR_RETURN(const uint64_t size,
                         ParseValue(ctx, entry.first, at, kSize, kPositiveSectors));
    const Limits weight_limits = {.min = 1, .max = std::numeric_limits<uint32_t>::max()};
    FVD_ASSIGN_OR_RETURN(const uint64_t weight,
                         ParseValue(ctx, entry.second, at, kCount, weight_limits));
    if (!p.sizes.emplace(size, static_cast<uint32_t>(weight)).second) {
      return ErrorAt(ctx, entry.first, at, "the same size appears twice");
    }
    total_weight += weight;
  }
  if (p.sizes.empty()) return ErrorAt(ctx, node, path, "needs at least one size");
  // The generator draws from the sum of the weights in 32 bits.
  if (total_weight > std::numeric_limits<uint32_t>::max()) {
    return ErrorAt(ctx, node, path, "the weights add up to more than 4294967295");
  }
  return Status::Ok();
}

// A plain positive decimal ("0.99"); parsed with from_chars, which is locale-free and correctly
// rounded, so the double is the same everywhere.
Status ParseTheta(Context& ctx, const YAML::Node& node, const std::string& path, PhaseConfig& p) {
  FVD_ASSIGN_OR_RETURN(const std::string text, ScalarText(ctx, node, path, "a number like 0.99"));
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.';
  });
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!plain || error != std::errc() || end != text.data() + text.size() || !(value > 0) ||
      !std::isfinite(value)) {
    return ErrorAt(ctx, node, path, text + " is not a positive number like 0.99");
  }
  p.zipf_theta = value;
  return Status::Ok();
}

// "never", "off" or -1, else a whole number of seconds ("1s", "2min").
Field<ImageConfig> DelaySeconds(std::string_view key, int32_t ImageConfig::*member) {
  return {key,
          [member](Context& ctx, const YAML::Node& node, const std::string& path,
                   ImageConfig& image) -> Status {
            FVD_ASSIGN_OR_RETURN(
                const std::string text,
                ScalarText(ctx, node, path, "a duration in whole seconds, or never"));
            if (text == "never" || text == "off" || text == "-1") {
              image.*member = -1;
              return Status::Ok();
            }
            constexpr uint64_t kSecond = 1'000'000'000;
            const Limits limits = {.multiple_of = kSecond,
                                   .max = std::numeric_limits<int32_t>::max() * kSecond};
            FVD_ASSIGN_OR_RETURN(const uint64_t ns, ParseValue(ctx, node, path, kDuration, limits));
            image.*member = static_cast<int32_t>(ns / kSecond);
            return Status::Ok();
          }};
}

// `at: 1s` or `at: [1s, 2.5s]`.
Status ParseCrashTimes(Context& ctx, const YAML::Node& node, const std::string& path,
                       CrashConfig& crash) {
  crash.at_ns.clear();
  if (node.IsScalar()) {
    FVD_ASSIGN_OR_RETURN(const uint64_t t, ParseValue(ctx, node, path, kDuration, kAny));
    crash.at_ns.push_back(t);
    return Status::Ok();
  }
  if (!node.IsSequence()) return ErrorAt(ctx, node, path, "expects a duration or a list of them");
  size_t i = 0;
  for (const YAML::Node& item : node) {
    FVD_ASSIGN_OR_RETURN(const uint64_t t,
                         ParseValue(ctx, item, Index(path, i++), kDuration, kAny));
    crash.at_ns.push_back(t);
  }
  return Status::Ok();
}

// A base's seeded prefix cannot be longer than the base (its `size` is parsed first).
Status ParseNonzero(Context& ctx, const YAML::Node& node, const std::string& path,
                    BaseImageConfig& base) {
  FVD_ASSIGN_OR_RETURN(base.nonzero_bytes, ParseValue(ctx, node, path, kSize, kAny));
  if (base.nonzero_bytes > base.size_bytes) {
    return ErrorAt(
        ctx, node, path,
        node.Scalar() + " is larger than the base's size " + std::to_string(base.size_bytes));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The sections.

Status ParseDiskModel(Context& ctx, const YAML::Node& node, const std::string& path, DiskConfig& d);

const Fields<DiskConfig>& DiskFields() {
  using D = DiskConfig;
  static const Fields<D> kFields = {
      Name("name", &D::name, &Context::disks),
      Choice("preset", &D::preset, "disk preset", {"ssd", "hdd", "network", ""}),
      // After the preset, before the figures: keys beside a model override it.
      {"model", ParseDiskModel},
      Number("read_latency", &D::read_latency_ns, kDuration),
      Number("write_latency", &D::write_latency_ns, kDuration),
      Number("flush_latency", &D::flush_latency_ns, kDuration),
      Number("fresh_write_latency", &D::fresh_write_latency_ns, kDuration),
      Number("fresh_flush_latency", &D::fresh_flush_latency_ns, kDuration),
      Number("fua_write_latency", &D::fua_write_latency_ns, kDuration),
      Number("write_service", &D::write_service_ns, kDuration),
      Number("fresh_write_service", &D::fresh_write_service_ns, kDuration),
      Number("fua_write_service", &D::fua_write_service_ns, kDuration),
      Number("fresh_fua_write_service", &D::fresh_fua_write_service_ns, kDuration),
      Number("host_cost", &D::host_cost_ns, kDuration),
      Number("fresh_write_host_cost", &D::fresh_write_host_cost_ns, kDuration),
      Number("bandwidth", &D::bandwidth_bytes_per_s, kBandwidth, kPositive),
      Number("jitter", &D::jitter_ns, kDuration),
      Number("queue_depth", &D::queue_depth, kCount, kPositive),
      Bool("volatile_cache", &D::volatile_cache),
      Number("seek_per_gib", &D::seek_ns_per_gib, kDuration),
      Number("max_seek", &D::max_seek_ns, kDuration),
      Bool("shared_bandwidth", &D::shared_bandwidth),
      Number("size", &D::size_bytes, kSize, kSectors),
  };
  return kFields;
}

// The figures a disk model file holds (what `fvdsim calibrate` writes): a disk's keys without
// its name, preset, model and size.
const Fields<DiskConfig>& DiskModelFields() {
  static const Fields<DiskConfig> kFields = [] {
    Fields<DiskConfig> f;
    for (const Field<DiskConfig>& field : DiskFields()) {
      if (field.key != "name" && field.key != "preset" && field.key != "model" &&
          field.key != "size") {
        f.push_back(field);
      }
    }
    return f;
  }();
  return kFields;
}

// `model: FILE`: the figures of a disk model file, relative to the workload file's folder.
// Errors in the model name the model file, line and column.
Status ParseDiskModel(Context& ctx, const YAML::Node& node, const std::string& path,
                      DiskConfig& d) {
  FVD_ASSIGN_OR_RETURN(const std::string name, ScalarText(ctx, node, path, "a model file"));
  if (name.empty()) return ErrorAt(ctx, node, path, "a model needs a file name");
  std::string file = name;
  const size_t slash = ctx.file.rfind('/');
  if (name.front() != '/' && slash != std::string::npos)
    file = ctx.file.substr(0, slash + 1) + name;
  Context model;
  model.file = file;
  try {
    const YAML::Node root = YAML::LoadFile(file);
    if (!root.IsMap()) {
      return ErrorAt(model, root, "",
                     "a disk model is a map with the keys " + KeyList(DiskModelFields()));
    }
    return ParseMap(model, root, "", DiskModelFields(), d);
  } catch (const YAML::BadFile&) {
    return ErrorAt(ctx, node, path, "cannot open the disk model " + file);
  } catch (const YAML::Exception& e) {
    return ErrorAt(model, e.mark, "", "invalid YAML: " + e.msg);
  }
}

Status ParseDisk(Context& ctx, const YAML::Node& node, const std::string& path, DiskConfig& d) {
  const auto& kFields = DiskFields();
  // A preset fills the model first; keys written beside it then override its figures.
  if (node.IsMap() && node["preset"] && node["preset"].IsScalar()) {
    ApplyPreset(node["preset"].Scalar(), d);  // an unknown name is reported by the field below
  }
  FVD_RETURN_IF_ERROR(ParseMap(ctx, node, path, kFields, d));
  if (d.name.empty()) return ErrorAt(ctx, node, path, "a disk needs a name");
  ctx.disks.insert(d.name);
  return Status::Ok();
}

const Fields<BaseImageConfig>& BaseFields() {
  using B = BaseImageConfig;
  static const Fields<B> kFields = {
      Name("name", &B::name, &Context::bases),
      Ref("disk", &B::disk, &Context::disks, "disks", Empty::kRejected),
      Number("size", &B::size_bytes, kSize, kPositiveSectors),
      {"nonzero", ParseNonzero},
  };
  return kFields;
}

Status ParseBase(Context& ctx, const YAML::Node& node, const std::string& path,
                 BaseImageConfig& b) {
  const auto& kFields = BaseFields();
  FVD_RETURN_IF_ERROR(ParseMap(ctx, node, path, kFields, b));
  if (b.name.empty()) return ErrorAt(ctx, node, path, "a base needs a name");
  if (b.disk.empty()) return ErrorAt(ctx, node, path, "a base needs a disk that serves it");
  ctx.bases.insert(b.name);
  return Status::Ok();
}

const Fields<ImageConfig>& ImageFields() {
  using I = ImageConfig;
  static const Fields<I> kFields = {
      Number("size", &I::size_bytes, kSize, kSectors),
      Bool("compact", &I::compact),
      Number("block_size", &I::block_size_bytes, kSize, kSectors),
      Number("chunk_size", &I::chunk_size_bytes, kSize, kPositiveSectors),
      Number("journal_size", &I::journal_size_bytes, kSize, kSectors),
      Bool("copy_on_read", &I::copy_on_read),
      Bool("data_file", &I::data_file),
      DelaySeconds("prefetch_start_delay", &I::prefetch_start_delay_s),
      Number("prefetch_slots", &I::prefetch_slots, kCount, {.min = 1, .max = 1024}),
      Number("prefetch_slot_size", &I::prefetch_slot_bytes, kSize,
             {.min = kSector, .multiple_of = kSector, .max = 1u << 30}),
      Number("prefetch_min_read", &I::prefetch_min_read_bytes_per_s, kBandwidth, kKiBps),
      Number("prefetch_min_write", &I::prefetch_min_write_bytes_per_s, kBandwidth, kKiBps),
      Number("prefetch_max_read", &I::prefetch_max_read_bytes_per_s, kBandwidth, kKiBps),
      Number("prefetch_max_write", &I::prefetch_max_write_bytes_per_s, kBandwidth, kKiBps),
      Number("prefetch_throttle", &I::prefetch_throttle_ns, kDuration, kMillis),
      Number("prefetch_measure_time", &I::prefetch_measure_ns, kDuration, kMillis),
      Number("prefetch_alpha", &I::prefetch_alpha_percent, kPercent),
      Number("prefetch_queue_target", &I::prefetch_queue_target_ns, kDuration,
             {.max = 3'600'000'000'000}),  // an hour
      Choice("prefetch_control", &I::prefetch_control, "prefetch control", {"fvd", "window"}),
      Number("prefetch_read_size", &I::prefetch_read_bytes, kSize,
             {.min = kSector, .multiple_of = kSector, .max = 1u << 30}),
      Number("prefetch_window_max", &I::prefetch_window_max, kCount, {.min = 1, .max = 1024}),
      Bool("record_prefetch_profile", &I::record_prefetch_profile),
      Ref("prefetch_profile_from", &I::prefetch_profile_from, &Context::vms, "vms",
          Empty::kAllowed),
      DelaySeconds("profile_prefetch_delay", &I::profile_prefetch_delay_s),
      Choice("journal_mode", &I::journal_mode, "journal mode", {"buffered", "unbuffered"}),
      Number("journal_buffer", &I::journal_buffer_bytes, kSize, kSectors),
      Number("journal_flush_period", &I::journal_flush_period_ns, kDuration, kPositive),
  };
  return kFields;
}

const Fields<PhaseConfig>& PhaseFields() {
  using P = PhaseConfig;
  static const Fields<P> kFields = {
      Choice("kind", &P::kind, "phase kind", {"boot", "random", "sequential", "database", "idle"}),
      Number("duration", &P::duration_ns, kDuration),
      Number("ops", &P::ops, kCount),
      Number("queue_depth", &P::queue_depth, kCount, kPositive),
      Number("read_percent", &P::read_percent, kPercent),
      {"sizes", ParseSizes},
      Number("range_offset", &P::range_offset_bytes, kSize, kSectors),
      Number("range", &P::range_bytes, kSize, kSectors),
      Choice("hot_set", &P::hot_set, "hot set", {"uniform", "zipf"}),
      {"zipf_theta", ParseTheta},
      Number("flush_every_writes", &P::flush_every_writes, kCount),
      Number("think_time", &P::think_time_ns, kDuration),
      Number("working_set", &P::working_set_bytes, kSize, kSectors),
      Number("path_seed", &P::path_seed, kCount),
      Number("align", &P::align_bytes, kSize, kSectors),
      Number("sync_writes", &P::sync_write_percent, kPercent),
  };
  return kFields;
}

Status ParsePhase(Context& ctx, const YAML::Node& node, const std::string& path, PhaseConfig& p) {
  const auto& kFields = PhaseFields();
  FVD_RETURN_IF_ERROR(ParseMap(ctx, node, path, kFields, p));
  if (p.kind.empty()) {
    return ErrorAt(ctx, node, path,
                   "a phase needs a kind (boot, random, sequential, database, idle)");
  }
  if (p.kind == "idle" && p.duration_ns == 0) {
    return ErrorAt(ctx, node, path, "an idle phase needs a duration");
  }
  // A boot ends on its own once its working set is read.
  const bool bounded =
      p.duration_ns != 0 || p.ops != 0 || (p.kind == "boot" && p.working_set_bytes != 0);
  if (!bounded) {
    return ErrorAt(ctx, node, path,
                   "a " + p.kind + " phase needs a duration or ops" +
                       (p.kind == "boot" ? " (or a working_set)" : ""));
  }
  return Status::Ok();
}

// Registers a VM's names: the group name, and name-0, name-1, ... when count > 1 (crashes may
// name either). An expanded name may collide with a VM defined before.
Status RegisterVm(Context& ctx, const YAML::Node& node, const std::string& path,
                  const VmConfig& vm) {
  std::vector<std::string> names = {vm.name};
  for (uint32_t i = 0; vm.count > 1 && i < vm.count; ++i) {
    names.push_back(vm.name + "-" + std::to_string(i));
  }
  for (const std::string& name : names) {
    if (!ctx.vms.insert(name).second) {
      return ErrorAt(ctx, node, path, "VM name " + name + " is already taken");
    }
  }
  return Status::Ok();
}

const Fields<VmConfig>& VmFields() {
  using V = VmConfig;
  static const Fields<V> kFields = {
      Name("name", &V::name, &Context::vms),
      Number("count", &V::count, kCount, kPositive),
      Ref("base", &V::base, &Context::bases, "bases", Empty::kAllowed),
      Ref("disk", &V::disk, &Context::disks, "disks", Empty::kRejected),
      {"image", [](Context& c, const YAML::Node& n, const std::string& p,
                   V& out) { return ParseMap(c, n, p, ImageFields(), out.image); }},
      List("phases", &V::phases, ParsePhase),
      Number("start", &V::start_ns, kDuration),
  };
  return kFields;
}

Status ParseVm(Context& ctx, const YAML::Node& node, const std::string& path, VmConfig& vm) {
  const auto& kFields = VmFields();
  FVD_RETURN_IF_ERROR(ParseMap(ctx, node, path, kFields, vm));
  if (vm.name.empty()) return ErrorAt(ctx, node, path, "a VM needs a name");
  if (vm.disk.empty()) return ErrorAt(ctx, node, path, "a VM needs a disk for its image");
  if (vm.phases.empty()) return ErrorAt(ctx, node, path, "a VM needs at least one phase");
  return RegisterVm(ctx, node, path, vm);
}

const Fields<LatencySpikeConfig>& SpikeFields() {
  using S = LatencySpikeConfig;
  static const Fields<S> kFields = {
      Ref("disk", &S::disk, &Context::disks, "disks", Empty::kRejected),
      Number("probability", &S::probability_ppm, kProbability),
      Number("extra", &S::extra_ns, kDuration),
  };
  return kFields;
}

Status ParseSpike(Context& ctx, const YAML::Node& node, const std::string& path,
                  LatencySpikeConfig& s) {
  const auto& kFields = SpikeFields();
  FVD_RETURN_IF_ERROR(ParseMap(ctx, node, path, kFields, s));
  if (s.disk.empty()) return ErrorAt(ctx, node, path, "a latency spike needs a disk");
  return Status::Ok();
}

constexpr std::string_view kOpNoun = "operation";

const Fields<ErrorConfig>& ErrorFields() {
  using E = ErrorConfig;
  static const Fields<E> kFields = {
      Ref("disk", &E::disk, &Context::disks, "disks", Empty::kRejected),
      Choice("op", &E::op, kOpNoun, {"read", "write", "flush", "any"}),
      Number("offset", &E::offset_bytes, kSize),
      Number("length", &E::length_bytes, kSize),
      Number("probability", &E::probability_ppm, kProbability),
      Number("after_ops", &E::after_ops, kCount),
      Number("count", &E::count, kCount),
  };
  return kFields;
}

Status ParseError(Context& ctx, const YAML::Node& node, const std::string& path, ErrorConfig& e) {
  const auto& kFields = ErrorFields();
  FVD_RETURN_IF_ERROR(ParseMap(ctx, node, path, kFields, e));
  if (e.disk.empty()) return ErrorAt(ctx, node, path, "an error needs a disk");
  return Status::Ok();
}

// `fates: {survive: 1, lose: 2, tear: 1}`: weights, at least one of them positive.
Status ParseFates(Context& ctx, const YAML::Node& node, const std::string& path, CrashConfig& c) {
  using F = CrashFates;
  static const Fields<F> kFields = {
      Number("survive", &F::survive, kCount),
      Number("lose", &F::lose, kCount),
      Number("tear", &F::tear, kCount),
  };
  FVD_RETURN_IF_ERROR(ParseMap(ctx, node, path, kFields, c.fates));
  if (c.fates.survive == 0 && c.fates.lose == 0 && c.fates.tear == 0) {
    return ErrorAt(ctx, node, path, "at least one fate needs a positive weight");
  }
  return Status::Ok();
}

const Fields<CrashConfig>& CrashFields() {
  using C = CrashConfig;
  static const Fields<C> kFields = {
      Ref("vm", &C::vm, &Context::vms, "vms", Empty::kAllowed),
      {"at", ParseCrashTimes},
      Number("after_ops", &C::after_ops, kCount),
      Choice("op", &C::op, kOpNoun, {"read", "write", "flush", "any"}),
      Choice("on", &C::on, "counting point", {"submit", "complete"}),
      Number("random_per_hour", &C::random_per_hour, kCount),
      Number("max_crashes", &C::max_crashes, kCount, kPositive),
      {"fates", ParseFates},
  };
  return kFields;
}

Status ParseCrash(Context& ctx, const YAML::Node& node, const std::string& path, CrashConfig& c) {
  const auto& kFields = CrashFields();
  FVD_RETURN_IF_ERROR(ParseMap(ctx, node, path, kFields, c));
  if (c.at_ns.empty() && c.after_ops == 0 && c.random_per_hour == 0) {
    return ErrorAt(ctx, node, path, "a crash needs at, after_ops or random_per_hour");
  }
  return Status::Ok();
}

// Table order is parse order: what is referred to comes before what refers to it.
const Fields<WorkloadConfig>& WorkloadFields() {
  using W = WorkloadConfig;
  static const Fields<W> kFields = {
      String("name", &W::name),
      Number("seed", &W::seed, kCount),
      Number("max_time", &W::max_time_ns, kDuration, kPositive),
      List("disks", &W::disks, ParseDisk),
      List("bases", &W::bases, ParseBase),
      List("vms", &W::vms, ParseVm),
      List("latency_spikes", &W::latency_spikes, ParseSpike),
      List("errors", &W::errors, ParseError),
      List("crashes", &W::crashes, ParseCrash),
      // The swarm's domains: read and checked by sim/swarm/spec.h, which owns them.
      {"swarm", [](Context&, const YAML::Node&, const std::string&, W&) { return Status::Ok(); }},
  };
  return kFields;
}

Status ParseWorkload(Context& ctx, const YAML::Node& root, WorkloadConfig& w) {
  FVD_RETURN_IF_ERROR(ParseMap(ctx, root, "", WorkloadFields(), w));
  // A file with a swarm section may leave the world to --swarm.
  const bool swarm = root.IsMap() && root["swarm"];
  if (w.vms.empty() && !swarm) {
    return ErrorAt(ctx, root, "", "a workload needs at least one VM under vms");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Keys set from the command line (--set SECTION.KEY=VALUE), applied to the YAML before parsing,
// so their values meet every check a value in the file meets.

struct Section {
  std::string_view name;
  std::string keys;  // KeyList of its table
  bool (*has)(std::string_view key);
};

template <typename T>
bool HasKey(const Fields<T>& fields, std::string_view key) {
  return std::any_of(fields.begin(), fields.end(), [&](const Field<T>& f) { return f.key == key; });
}

const std::vector<Section>& Sections() {
  static const std::vector<Section> kSections = {
      {"workload", KeyList(WorkloadFields()),
       [](std::string_view k) {
         return HasKey(WorkloadFields(), k) && k != "disks" && k != "bases" && k != "vms" &&
                k != "latency_spikes" && k != "errors" && k != "crashes" && k != "swarm";
       }},
      {"disk", KeyList(DiskFields()),
       [](std::string_view k) { return HasKey(DiskFields(), k) && k != "name"; }},
      {"base", KeyList(BaseFields()),
       [](std::string_view k) { return HasKey(BaseFields(), k) && k != "name"; }},
      {"vm", KeyList(VmFields()),
       [](std::string_view k) {
         return HasKey(VmFields(), k) && k != "name" && k != "image" && k != "phases";
       }},
      {"image", KeyList(ImageFields()),
       [](std::string_view k) { return HasKey(ImageFields(), k); }},
      {"phase", KeyList(PhaseFields()),
       [](std::string_view k) { return HasKey(PhaseFields(), k); }},
      {"crash", KeyList(CrashFields()),
       [](std::string_view k) { return HasKey(CrashFields(), k); }},
      {"error", KeyList(ErrorFields()),
       [](std::string_view k) { return HasKey(ErrorFields(), k); }},
      {"spike", KeyList(SpikeFields()),
       [](std::string_view k) { return HasKey(SpikeFields(), k); }},
  };
  return kSections;
}

// The maps of `root` a key of `section` goes into (every disk, every VM's image, ...).
std::vector<YAML::Node> Targets(YAML::Node& root, std::string_view section) {
  std::vector<YAML::Node> out;
  const auto each = [&](const char* list) {
    if (root[list] && root[list].IsSequence())
      for (YAML::Node entry : root[list]) out.push_back(entry);
  };
  if (section == "workload") out.push_back(root);
  if (section == "disk") each("disks");
  if (section == "base") each("bases");
  if (section == "crash") each("crashes");
  if (section == "error") each("errors");
  if (section == "spike") each("latency_spikes");
  if (section == "vm" || section == "image" || section == "phase") {
    std::vector<YAML::Node> vms;
    if (root["vms"] && root["vms"].IsSequence())
      for (YAML::Node vm : root["vms"]) vms.push_back(vm);
    for (YAML::Node& vm : vms) {
      if (!vm.IsMap()) continue;
      if (section == "vm") out.push_back(vm);
      if (section == "image") {
        if (!vm["image"] || vm["image"].IsNull()) vm["image"] = YAML::Node(YAML::NodeType::Map);
        out.push_back(vm["image"]);
      }
      if (section == "phase" && vm["phases"] && vm["phases"].IsSequence())
        for (YAML::Node ph : vm["phases"]) out.push_back(ph);
    }
  }
  return out;
}

Status ApplyOverrides(Context& ctx, YAML::Node& root, const std::vector<Override>& overrides) {
  if (!overrides.empty() && !root.IsMap()) return Status::Ok();  // the parse reports it
  for (const Override& o : overrides) {
    FVD_ASSIGN_OR_RETURN(const ResolvedKey k, ResolveOverrideKey(o.key));
    const YAML::Node value = YAML::Load(o.value);
    for (YAML::Node target : Targets(root, k.section)) {
      if (!target.IsMap()) continue;
      target[k.key] = value;
    }
    ctx.set_values.emplace_back(value, o.key + "=" + o.value);
  }
  return Status::Ok();
}

}  // namespace

Result<ResolvedKey> ResolveOverrideKey(const std::string& key) {
  const size_t dot = key.find('.');
  if (dot != std::string::npos) {
    const std::string section = key.substr(0, dot), name = key.substr(dot + 1);
    for (const Section& s : Sections()) {
      if (s.name != section) continue;
      if (!s.has(name))
        return Status::InvalidArgument("--set " + key + ": " + section + " has no key " + name +
                                       " (known: " + s.keys + ")");
      return ResolvedKey{std::string(s.name), name};
    }
    return Status::InvalidArgument(
        "--set " + key + ": no section " + section +
        " (sections: workload, disk, base, vm, image, phase, crash, error, spike)");
  }
  std::vector<std::string> in;
  for (const Section& s : Sections())
    if (s.has(key)) in.push_back(std::string(s.name));
  if (in.size() == 1) return ResolvedKey{in.front(), key};
  if (in.empty()) return Status::InvalidArgument("--set " + key + ": no workload key " + key);
  std::string options;
  for (const std::string& s : in) options += (options.empty() ? "" : " or ") + s + "." + key;
  return Status::InvalidArgument("--set " + key + ": ambiguous, say " + options);
}

Result<Override> ParseOverride(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return Status::InvalidArgument("--set " + text + ": expected KEY=VALUE");
  Override o{text.substr(0, eq), text.substr(eq + 1)};
  FVD_RETURN_IF_ERROR(ResolveOverrideKey(o.key).status());
  return o;
}

Result<WorkloadConfig> LoadWorkloadText(const std::string& text, const std::string& name_for_errors,
                                        const std::vector<Override>& overrides) {
  Context ctx;
  ctx.file = name_for_errors;
  // yaml-cpp reports syntax errors (and misuse) by throwing; none may leave the loader.
  try {
    YAML::Node root = YAML::Load(text);
    FVD_RETURN_IF_ERROR(ApplyOverrides(ctx, root, overrides));
    WorkloadConfig config;
    FVD_RETURN_IF_ERROR(ParseWorkload(ctx, root, config));
    return config;
  } catch (const YAML::Exception& e) {
    return ErrorAt(ctx, e.mark, "", "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Status::Internal(name_for_errors + ": loading failed: " + e.what());
  }
}

Result<WorkloadConfig> LoadWorkloadFile(const std::string& path,
                                        const std::vector<Override>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the workload file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IoError(path + ": cannot read the workload file");
  return LoadWorkloadText(text.str(), path, overrides);
}

std::string LocateKey(const std::string& path, const std::vector<std::string>& steps) {
  try {
    YAML::Node node = YAML::LoadFile(path);
    YAML::Mark mark;
    for (const std::string& step : steps) {
      if (node.IsSequence()) {
        const size_t i = std::stoul(step);
        if (i >= node.size()) return "";
        node = node[i];
        mark = node.Mark();
        continue;
      }
      if (!node.IsMap()) return "";
      bool found = false;
      for (const auto& entry : node) {
        if (entry.first.Scalar() != step) continue;
        mark = entry.first.Mark();
        node = entry.second;
        found = true;
        break;
      }
      if (!found) return "";
    }
    if (mark.is_null()) return "";
    return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  } catch (const std::exception&) {  // yaml-cpp's errors, a step that is not a number
    return "";
  }
}

}  // namespace fvd::sim
