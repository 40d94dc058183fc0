#include "sim/swarm/spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "sim/config/units.h"

namespace fvd::sim::swarm {
namespace {

Status ErrorAt(const std::string& file, const YAML::Mark& mark, const std::string& path,
               const std::string& message) {
  const int line = mark.is_null() ? 1 : mark.line + 1;
  const int column = mark.is_null() ? 1 : mark.column + 1;
  return Status::InvalidArgument(file + ":" + std::to_string(line) + ":" + std::to_string(column) +
                                 ": " + path + ": " + message);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Words(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

// One value of `knob` as written, checked against the knob's limits.
Result<uint64_t> ParseOne(const KnobDef& knob, std::string text) {
  uint64_t v = 0;
  switch (knob.unit) {
    case Unit::kCount: {
      FVD_ASSIGN_OR_RETURN(v, ParseCount(text));
      break;
    }
    case Unit::kSize: {
      FVD_ASSIGN_OR_RETURN(v, ParseSize(text));
      break;
    }
    case Unit::kDuration: {
      FVD_ASSIGN_OR_RETURN(v, ParseDuration(text));
      break;
    }
    case Unit::kBandwidth: {
      FVD_ASSIGN_OR_RETURN(v, ParseBandwidth(text));
      break;
    }
    case Unit::kPercent: {
      FVD_ASSIGN_OR_RETURN(v, ParsePercent(text));
      break;
    }
    case Unit::kProbability: {
      FVD_ASSIGN_OR_RETURN(v, ParseProbability(text));
      break;
    }
    case Unit::kBool:
    case Unit::kWord: {
      std::string word = knob.unit == Unit::kBool ? Lower(text) : text;
      if (knob.unit == Unit::kBool) {
        if (word == "yes" || word == "on") word = "true";
        if (word == "no" || word == "off") word = "false";
      }
      auto it = std::find(knob.words.begin(), knob.words.end(), word);
      if (it == knob.words.end())
        return Status::InvalidArgument(text + " is not one of " + Words(knob.words));
      return static_cast<uint64_t>(it - knob.words.begin());
    }
  }
  if (v < knob.min) {
    return Status::InvalidArgument(text + " is too small (at least " +
                                   FormatKnobValue(knob, knob.min) + ")");
  }
  if (v > knob.max) {
    return Status::InvalidArgument(text + " is too large (at most " +
                                   FormatKnobValue(knob, knob.max) + ")");
  }
  if (v % knob.multiple_of != 0) {
    return Status::InvalidArgument(text + " is not a multiple of " +
                                   FormatKnobValue(knob, knob.multiple_of));
  }
  return v;
}

// `lo..hi`, a list of values, or one value.
Result<Domain> ParseDomain(const std::string& file, const KnobDef& knob, const YAML::Node& node,
                           const std::string& path) {
  if (node.IsSequence()) {
    std::vector<uint64_t> values;
    size_t i = 0;
    for (const YAML::Node& item : node) {
      const std::string at = path + "[" + std::to_string(i++) + "]";
      if (!item.IsScalar()) return ErrorAt(file, item.Mark(), at, "expects a value");
      auto v = ParseOne(knob, item.Scalar());
      if (!v.ok()) return ErrorAt(file, item.Mark(), at, v.status().message());
      values.push_back(*v);
    }
    if (values.empty()) return ErrorAt(file, node.Mark(), path, "needs at least one choice");
    return Domain::Choices(std::move(values));
  }
  if (!node.IsScalar()) {
    return ErrorAt(file, node.Mark(), path, "expects lo..hi, a list [a, b] or one value");
  }
  const std::string text = node.Scalar();
  const size_t dots = text.find("..");
  if (dots == std::string::npos) {
    auto v = ParseOne(knob, text);
    if (!v.ok()) return ErrorAt(file, node.Mark(), path, v.status().message());
    return Domain::Choices({*v});
  }
  if (knob.unit == Unit::kBool || knob.unit == Unit::kWord) {
    return ErrorAt(file, node.Mark(), path, "takes a list of choices, not a range");
  }
  auto lo = ParseOne(knob, text.substr(0, dots));
  if (!lo.ok()) return ErrorAt(file, node.Mark(), path, "min: " + lo.status().message());
  auto hi = ParseOne(knob, text.substr(dots + 2));
  if (!hi.ok()) return ErrorAt(file, node.Mark(), path, "max: " + hi.status().message());
  if (*lo > *hi) {
    return ErrorAt(file, node.Mark(), path,
                   "min " + FormatKnobValue(knob, *lo) + " is above max " +
                       FormatKnobValue(knob, *hi));
  }
  return Domain::Range(*lo, *hi);
}

std::string KnownKnobs() {
  std::string out;
  for (const KnobDef& k : Knobs()) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

std::string KnownFeatures() {
  std::string out;
  for (const FeatureDef& f : Features()) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

Status ParseFeatures(const std::string& file, const YAML::Node& node, SwarmSpec& spec) {
  if (!node.IsMap()) {
    return ErrorAt(file, node.Mark(), "swarm.features",
                   "expects a map of feature: chance ({crashes: 100%})");
  }
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    const std::string path = "swarm.features." + name;
    if (FindFeature(name) == nullptr) {
      return ErrorAt(file, entry.first.Mark(), path,
                     "unknown feature (known: " + KnownFeatures() + ")");
    }
    if (!entry.second.IsScalar()) return ErrorAt(file, entry.second.Mark(), path, "expects 50%");
    auto ppm = ParseProbability(entry.second.Scalar());
    if (!ppm.ok()) return ErrorAt(file, entry.second.Mark(), path, ppm.status().message());
    if (!spec.feature_ppm.emplace(name, *ppm).second)
      return ErrorAt(file, entry.first.Mark(), path, "appears twice");
  }
  return Status::Ok();
}

Result<SwarmSpec> ParseSection(const std::string& file, const YAML::Node& node) {
  SwarmSpec spec;
  if (node.IsNull()) return spec;  // `swarm:` alone: every default
  if (!node.IsMap()) {
    return ErrorAt(file, node.Mark(), "swarm", "expects a map of knob: domain");
  }
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) return ErrorAt(file, entry.first.Mark(), "swarm", "bad key");
    const std::string name = entry.first.Scalar();
    const std::string path = "swarm." + name;
    if (name == "features") {
      FVD_RETURN_IF_ERROR(ParseFeatures(file, entry.second, spec));
      continue;
    }
    const KnobDef* knob = FindKnob(name);
    if (knob == nullptr) {
      return ErrorAt(file, entry.first.Mark(), path,
                     "unknown knob (known: features, " + KnownKnobs() + ")");
    }
    FVD_ASSIGN_OR_RETURN(Domain d, ParseDomain(file, *knob, entry.second, path));
    if (!spec.knobs.emplace(name, std::move(d)).second)
      return ErrorAt(file, entry.first.Mark(), path, "appears twice");
  }
  return spec;
}

}  // namespace

const Domain& SwarmSpec::DomainOf(const KnobDef& knob) const {
  auto it = knobs.find(knob.name);
  return it == knobs.end() ? knob.defaults : it->second;
}

uint32_t SwarmSpec::ChanceOf(const FeatureDef& feature) const {
  auto it = feature_ppm.find(feature.name);
  return it == feature_ppm.end() ? feature.default_ppm : it->second;
}

Result<std::optional<SwarmSpec>> LoadSwarmSpecText(const std::string& text,
                                                   const std::string& name_for_errors) {
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap() || !root["swarm"]) return std::optional<SwarmSpec>();
    FVD_ASSIGN_OR_RETURN(SwarmSpec spec, ParseSection(name_for_errors, root["swarm"]));
    return std::optional<SwarmSpec>(std::move(spec));
  } catch (const YAML::Exception& e) {
    return ErrorAt(name_for_errors, e.mark, "swarm", "invalid YAML: " + e.msg);
  }
}

Result<std::optional<SwarmSpec>> LoadSwarmSpec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the workload file");
  std::ostringstream text;
  text << in.rdbuf();
  return LoadSwarmSpecText(text.str(), path);
}

std::string FormatKnobValue(const KnobDef& knob, uint64_t value) {
  switch (knob.unit) {
    case Unit::kSize:
      return FormatSize(value);
    case Unit::kDuration:
      return FormatDuration(value);
    case Unit::kBandwidth:
      return FormatBandwidth(value);
    case Unit::kPercent:
      return std::to_string(value) + "%";
    case Unit::kProbability:
      return FormatProbability(static_cast<uint32_t>(value));
    case Unit::kBool:
    case Unit::kWord:
      return value < knob.words.size() ? std::string(knob.words[value]) : "?";
    case Unit::kCount:
      break;
  }
  return std::to_string(value);
}

std::string FormatDomain(const KnobDef& knob, const Domain& d) {
  if (d.is_range) return FormatKnobValue(knob, d.lo) + ".." + FormatKnobValue(knob, d.hi);
  std::string out = "[";
  for (size_t i = 0; i < d.choices.size(); ++i)
    out += (i ? ", " : "") + FormatKnobValue(knob, d.choices[i]);
  return out + "]";
}

std::string KnobsMarkdown() {
  std::ostringstream out;
  out << "| feature | default chance | what it turns on |\n|---|---|---|\n";
  for (const FeatureDef& f : Features()) {
    out << "| `" << f.name << "` | " << FormatProbability(f.default_ppm) << " | " << f.help
        << " |\n";
  }
  out << "\n| knob | default | drawn | meaning |\n|---|---|---|---|\n";
  for (const KnobDef& k : Knobs()) {
    const char* drawn = !k.defaults.is_range ? "one of the list"
                        : k.log_scale        ? "log-uniform"
                                             : "uniform";
    out << "| `" << k.name << "` | `" << FormatDomain(k, k.defaults) << "` | " << drawn << " | "
        << k.help << " |\n";
  }
  return out.str();
}

}  // namespace fvd::sim::swarm
