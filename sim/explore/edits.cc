#include "sim/explore/edits.h"

#include <algorithm>

namespace fvd::sim::explore {
namespace {

constexpr uint64_t kSector = 512;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kJournalFloor = 4096;  // the smallest journal swarm draws

bool NamesGroup(const std::string& pattern, const std::string& group) {
  return pattern == group || pattern.rfind(group + "-", 0) == 0;
}

// Drops VM group `g` and whatever names it (crashes of it, profiles it records for others).
bool DropGroup(WorkloadConfig& w, size_t g) {
  const std::string name = w.vms[g].name;
  w.vms.erase(w.vms.begin() + static_cast<ptrdiff_t>(g));
  std::erase_if(w.crashes, [&](const CrashConfig& c) { return NamesGroup(c.vm, name); });
  for (VmConfig& v : w.vms) {
    if (NamesGroup(v.image.prefetch_profile_from, name)) {
      v.image.prefetch_profile_from.clear();
      v.image.profile_prefetch_delay_s = -1;
    }
  }
  return true;
}

// A VM without base `name`: its image keeps the base's size and drops what needs a base.
bool DropBase(WorkloadConfig& w, size_t b) {
  const BaseImageConfig base = w.bases[b];
  w.bases.erase(w.bases.begin() + static_cast<ptrdiff_t>(b));
  for (VmConfig& v : w.vms) {
    if (v.base != base.name) continue;
    v.base.clear();
    if (v.image.size_bytes == 0)
      v.image.size_bytes = (base.size_bytes + kSector - 1) / kSector * kSector;
    v.image.copy_on_read = false;
    v.image.prefetch_start_delay_s = -1;
    v.image.record_prefetch_profile = false;
    v.image.prefetch_profile_from.clear();
    v.image.profile_prefetch_delay_s = -1;
  }
  return true;
}

template <typename T>
bool Set(T& field, T value) {
  if (field == value) return false;
  field = value;
  return true;
}

// Halves `v` down to `floor`, keeping it a multiple of `multiple`.
bool Halve(uint64_t& v, uint64_t floor, uint64_t multiple = 1) {
  const uint64_t half = std::max(v / 2 / multiple * multiple, floor);
  return half < v ? Set(v, half) : false;
}

// Takes a quarter off `v` (at least one), for when halving goes too far; down to `floor`, a
// multiple of `multiple`.
bool Shave(uint64_t& v, uint64_t floor, uint64_t multiple = 1) {
  if (v == 0) return false;
  const uint64_t less = std::max((v - std::max<uint64_t>(v / 4, 1)) / multiple * multiple, floor);
  return less < v ? Set(v, less) : false;
}

bool DiskUsed(const WorkloadConfig& w, const std::string& name) {
  const auto vm =
      std::any_of(w.vms.begin(), w.vms.end(), [&](const VmConfig& v) { return v.disk == name; });
  const auto base = std::any_of(w.bases.begin(), w.bases.end(),
                                [&](const BaseImageConfig& b) { return b.disk == name; });
  return vm || base;
}

void AddStructureEdits(const WorkloadConfig& w, std::vector<Edit>& out) {
  for (size_t g = 0; w.vms.size() > 1 && g < w.vms.size(); ++g)
    out.push_back(
        {"drop VM group " + w.vms[g].name, [g](WorkloadConfig& c) { return DropGroup(c, g); }});
  for (size_t g = 0; g < w.vms.size(); ++g) {
    if (w.vms[g].count > 1)
      out.push_back({"one VM in group " + w.vms[g].name, [g](WorkloadConfig& c) {
                       // Crashes naming a member past the first lose their target.
                       std::erase_if(c.crashes, [&](const CrashConfig& cr) {
                         return cr.vm.rfind(c.vms[g].name + "-", 0) == 0;
                       });
                       return Set(c.vms[g].count, 1u);
                     }});
  }
  for (size_t g = 0; g < w.vms.size(); ++g) {
    for (size_t p = 0; w.vms[g].phases.size() > 1 && p < w.vms[g].phases.size(); ++p) {
      out.push_back({"drop phase " + std::to_string(p) + " (" + w.vms[g].phases[p].kind + ") of " +
                         w.vms[g].name,
                     [g, p](WorkloadConfig& c) {
                       c.vms[g].phases.erase(c.vms[g].phases.begin() + static_cast<ptrdiff_t>(p));
                       return true;
                     }});
    }
  }
  for (size_t i = 0; i < w.crashes.size(); ++i)
    out.push_back({"drop crash entry " + std::to_string(i), [i](WorkloadConfig& c) {
                     c.crashes.erase(c.crashes.begin() + static_cast<ptrdiff_t>(i));
                     return true;
                   }});
  for (size_t i = 0; i < w.errors.size(); ++i)
    out.push_back({"drop I/O error entry " + std::to_string(i), [i](WorkloadConfig& c) {
                     c.errors.erase(c.errors.begin() + static_cast<ptrdiff_t>(i));
                     return true;
                   }});
  for (size_t i = 0; i < w.latency_spikes.size(); ++i)
    out.push_back({"drop latency spike " + std::to_string(i), [i](WorkloadConfig& c) {
                     c.latency_spikes.erase(c.latency_spikes.begin() + static_cast<ptrdiff_t>(i));
                     return true;
                   }});
  for (size_t b = 0; b < w.bases.size(); ++b)
    out.push_back(
        {"drop base " + w.bases[b].name, [b](WorkloadConfig& c) { return DropBase(c, b); }});
}

void AddCrashEdits(const WorkloadConfig& w, std::vector<Edit>& out) {
  for (size_t i = 0; i < w.crashes.size(); ++i) {
    const CrashConfig& cr = w.crashes[i];
    for (size_t t = 0; cr.at_ns.size() > 1 && t < cr.at_ns.size(); ++t)
      out.push_back({"drop crash time " + std::to_string(t) + " of entry " + std::to_string(i),
                     [i, t](WorkloadConfig& c) {
                       auto& at = c.crashes[i].at_ns;
                       at.erase(at.begin() + static_cast<ptrdiff_t>(t));
                       return true;
                     }});
    out.push_back({"halve max_crashes of crash entry " + std::to_string(i), [i](WorkloadConfig& c) {
                     uint64_t m = c.crashes[i].max_crashes;
                     if (!Halve(m, 1)) return false;
                     c.crashes[i].max_crashes = static_cast<uint32_t>(m);
                     return true;
                   }});
    out.push_back({"equal fates in crash entry " + std::to_string(i),
                   [i](WorkloadConfig& c) { return Set(c.crashes[i].fates, CrashFates{}); }});
    out.push_back({"halve after_ops of crash entry " + std::to_string(i), [i](WorkloadConfig& c) {
                     return c.crashes[i].after_ops > 1 && Halve(c.crashes[i].after_ops, 1);
                   }});
    out.push_back(
        {"a quarter off after_ops of crash entry " + std::to_string(i), [i](WorkloadConfig& c) {
           return c.crashes[i].after_ops > 1 && Shave(c.crashes[i].after_ops, 1);
         }});
  }
}

void AddErrorEdits(const WorkloadConfig& w, std::vector<Edit>& out) {
  for (size_t i = 0; i < w.errors.size(); ++i) {
    const std::string at = " of I/O error entry " + std::to_string(i);
    out.push_back({"halve after_ops" + at,
                   [i](WorkloadConfig& c) { return Halve(c.errors[i].after_ops, 0); }});
    out.push_back({"a quarter off after_ops" + at,
                   [i](WorkloadConfig& c) { return Shave(c.errors[i].after_ops, 0); }});
    out.push_back({"probability 100%" + at, [i](WorkloadConfig& c) {
                     return Set(c.errors[i].probability_ppm, uint32_t{1'000'000});
                   }});
    out.push_back({"halve the count" + at, [i](WorkloadConfig& c) {
                     return c.errors[i].count > 1 && Halve(c.errors[i].count, 1);
                   }});
  }
}

void AddPhaseEdits(const WorkloadConfig& w, std::vector<Edit>& out) {
  for (size_t g = 0; g < w.vms.size(); ++g) {
    for (size_t p = 0; p < w.vms[g].phases.size(); ++p) {
      const std::string at = "phase " + std::to_string(p) + " of " + w.vms[g].name;
      const auto edit = [&](std::string what, std::function<bool(PhaseConfig&)> fn) {
        out.push_back(
            {what + " in " + at, [g, p, fn](WorkloadConfig& c) { return fn(c.vms[g].phases[p]); }});
      };
      edit("halve the duration", [](PhaseConfig& ph) { return Halve(ph.duration_ns, 1'000'000); });
      edit("halve the ops", [](PhaseConfig& ph) { return ph.ops > 1 && Halve(ph.ops, 1); });
      edit("a quarter off the ops", [](PhaseConfig& ph) { return ph.ops > 1 && Shave(ph.ops, 1); });
      edit("queue depth 1", [](PhaseConfig& ph) { return Set(ph.queue_depth, 1u); });
      edit("halve the queue depth", [](PhaseConfig& ph) {
        uint64_t q = ph.queue_depth;
        return Halve(q, 1) && Set(ph.queue_depth, static_cast<uint32_t>(q));
      });
      edit("uniform hot set",
           [](PhaseConfig& ph) { return Set(ph.hot_set, std::string("uniform")); });
      edit("no reads",
           [](PhaseConfig& ph) { return ph.kind != "boot" && Set(ph.read_percent, 0u); });
      edit("halve the reads", [](PhaseConfig& ph) {
        uint64_t r = ph.read_percent;
        return ph.kind != "boot" && Halve(r, 0) && Set(ph.read_percent, static_cast<uint32_t>(r));
      });
      edit("halve the range", [](PhaseConfig& ph) {
        const uint64_t largest = ph.sizes.empty() ? kSector : ph.sizes.rbegin()->first;
        return ph.range_bytes != 0 &&
               Halve(ph.range_bytes, std::max<uint64_t>(largest, 4096), 4096);
      });
      edit("aligned requests", [](PhaseConfig& ph) { return Set(ph.align_bytes, uint64_t{0}); });
      edit("no flushes", [](PhaseConfig& ph) { return Set(ph.flush_every_writes, 0u); });
      edit("no synchronous writes", [](PhaseConfig& ph) { return Set(ph.sync_write_percent, 0u); });
      for (const auto& [size, weight] : w.vms[g].phases[p].sizes) {
        if (w.vms[g].phases[p].sizes.size() < 2) break;
        edit("drop request size " + std::to_string(size),
             [s = size](PhaseConfig& ph) { return ph.sizes.erase(s) > 0; });
      }
      edit("halve the largest request size", [](PhaseConfig& ph) {
        auto [size, weight] = *ph.sizes.rbegin();
        uint64_t half = size;
        if (!Halve(half, kSector, kSector)) return false;
        ph.sizes.erase(size);
        ph.sizes[half] += weight;
        return true;
      });
    }
  }
}

void AddImageEdits(const WorkloadConfig& w, std::vector<Edit>& out) {
  for (size_t g = 0; g < w.vms.size(); ++g) {
    const auto edit = [&](std::string what, std::function<bool(ImageConfig&)> fn) {
      out.push_back({what + " in " + w.vms[g].name,
                     [g, fn](WorkloadConfig& c) { return fn(c.vms[g].image); }});
    };
    edit("not compact", [](ImageConfig& i) { return Set(i.compact, false); });
    edit("no copy-on-read", [](ImageConfig& i) { return Set(i.copy_on_read, false); });
    edit("no data file", [](ImageConfig& i) { return Set(i.data_file, false); });
    edit("no prefetch", [](ImageConfig& i) { return Set(i.prefetch_start_delay_s, -1); });
    edit("no profile", [](ImageConfig& i) {
      const bool a = Set(i.record_prefetch_profile, false);
      const bool b = Set(i.prefetch_profile_from, std::string());
      const bool c = Set(i.profile_prefetch_delay_s, -1);
      return a || b || c;
    });
    edit("halve the journal", [](ImageConfig& i) {
      return i.journal_size_bytes > kJournalFloor &&
             Halve(i.journal_size_bytes, kJournalFloor, kSector);
    });
    edit("no journal", [](ImageConfig& i) { return Set(i.journal_size_bytes, uint64_t{0}); });
    if (w.vms[g].base.empty())
      edit("halve the image size",
           [](ImageConfig& i) { return Halve(i.size_bytes, kMiB, kSector); });
  }
  for (size_t b = 0; b < w.bases.size(); ++b) {
    out.push_back({"halve base " + w.bases[b].name, [b](WorkloadConfig& c) {
                     BaseImageConfig& base = c.bases[b];
                     if (!Halve(base.size_bytes, kMiB, kSector)) return false;
                     base.nonzero_bytes = std::min(base.nonzero_bytes, base.size_bytes);
                     for (VmConfig& v : c.vms) {
                       if (v.base == base.name && v.image.size_bytes != 0)
                         v.image.size_bytes =
                             std::max(v.image.size_bytes / 2 / kSector * kSector, base.size_bytes);
                     }
                     return true;
                   }});
  }
}

void AddDiskEdits(const WorkloadConfig& w, std::vector<Edit>& out) {
  for (size_t d = 0; d < w.disks.size(); ++d) {
    const std::string name = w.disks[d].name;
    if (!DiskUsed(w, name)) {
      out.push_back({"drop unused disk " + name, [d](WorkloadConfig& c) {
                       const std::string n = c.disks[d].name;
                       c.disks.erase(c.disks.begin() + static_cast<ptrdiff_t>(d));
                       std::erase_if(c.errors, [&](const ErrorConfig& e) { return e.disk == n; });
                       std::erase_if(c.latency_spikes,
                                     [&](const LatencySpikeConfig& s) { return s.disk == n; });
                       return true;
                     }});
      continue;
    }
    out.push_back({"no jitter on " + name,
                   [d](WorkloadConfig& c) { return Set(c.disks[d].jitter_ns, uint64_t{0}); }});
    out.push_back({"no seeks on " + name, [d](WorkloadConfig& c) {
                     const bool a = Set(c.disks[d].seek_ns_per_gib, uint64_t{0});
                     return Set(c.disks[d].max_seek_ns, uint64_t{0}) || a;
                   }});
    out.push_back({"no volatile cache on " + name,
                   [d](WorkloadConfig& c) { return Set(c.disks[d].volatile_cache, false); }});
  }
}

}  // namespace

std::vector<Edit> Edits(const WorkloadConfig& w) {
  std::vector<Edit> out;
  AddStructureEdits(w, out);
  AddCrashEdits(w, out);
  AddErrorEdits(w, out);
  AddPhaseEdits(w, out);
  AddImageEdits(w, out);
  AddDiskEdits(w, out);
  return out;
}

}  // namespace fvd::sim::explore
