#!/usr/bin/env python3
"""Measures FVD's prefetching and copy-on-read in the simulator and writes a report.

Runs the shipped workloads (and variants of them with one image key changed) through
`fvdsim run --json` at several seeds, and reports each figure as a ratio against its bound or
its baseline from the same invocation, as the median over the seeds (with min and max):

  speed       prefetch-idle.yaml: whole-image prefetch time against
              base_size / min(base server bandwidth, local disk bandwidth)   target <= 1.10
  politeness  prefetch-storm.yaml: guest read p99 with prefetch (throttled by FVD's coin,
              unthrottled, paced by queueing delay with 64 KiB and 16 KiB reads, and
              throttled but started after the storm) against prefetch off; prefetch must
              still finish                                                   target <= 1.20
  reboot      cor-reboot.yaml: second boot against the first (time, base bytes)
  profile     profile-boot.yaml: how long the second VM's boot keeps reading the server,
              following the first VM's recorded prefetch profile against not
  traffic     base-server bytes per VM and in total: cor-reboot with and without
              copy-on-read, prefetch-storm with and without prefetch

Usage: bench/prefetch/measure.py [--fvdsim PATH] [--seeds 1,2,3] [--out DIR]
Needs python3-yaml (scripts/setup.sh installs it) to write the variants.
"""
import argparse
import os
import statistics
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from simvariants import fmt, run, spread  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def vm_disk(workload):
    with open(workload) as f:
        doc = yaml.safe_load(f)
    return {vm["name"]: vm["disk"] for vm in doc["vms"]}


# The delay-based pacing that keeps a boot storm's guests fast: a 200 us queueing target and
# reads small enough (16 KiB, about 130 us on the server's 1 Gbit/s link) that a guest read
# queued behind one waits little.
PACED = {"prefetch_queue_target": "200us", "prefetch_slot_size": "16KiB"}


def speed(fvdsim, seeds, changes=None):
    workload = os.path.join(ROOT, "workloads", "prefetch-idle.yaml")
    disks_of = vm_disk(workload)
    ratios, rows = [], []
    for seed in seeds:
        j = run(fvdsim, workload, seed, changes)
        # Reports name disks "name#index".
        bw = {d["name"].split("#")[0]: d["bandwidth_bytes_per_s"] for d in j["disks"]}
        base = j["bases"][0]
        for vm in j["vms"]:
            if vm["prefetch_finished_s"] is None:
                sys.exit(f"prefetch-idle seed {seed}: {vm['name']} never finished prefetching")
            took = vm["prefetch_finished_s"] - vm["prefetch_started_s"]
            bound = base["size_bytes"] / min(bw[base["disk"]], bw[disks_of[vm["name"]]])
            ratios.append(took / bound)
            rows.append((seed, vm["name"], took, bound))
    return ratios, rows


def storm(fvdsim, seeds, out_dir):
    workload = os.path.join(ROOT, "workloads", "prefetch-storm.yaml")
    variants = {
        "off": {"prefetch_start_delay": "never"},
        "throttled": {},
        "unthrottled": {"prefetch_throttle": "0ms"},
        "paced, 64 KiB reads": dict(PACED, prefetch_slot_size="64KiB"),
        "paced, 16 KiB reads": PACED,
        "delayed to 5s": {"prefetch_start_delay": "5s"},
    }
    results = {name: [] for name in variants}
    for seed in seeds:
        for name, changes in variants.items():
            report = None
            if name == "paced, 16 KiB reads" and seed == seeds[0] and out_dir:
                report = os.path.join(out_dir, "prefetch-storm-report")
            results[name].append(run(fvdsim, workload, seed, changes, report))
    return results


def reboot(fvdsim, seeds):
    workload = os.path.join(ROOT, "workloads", "cor-reboot.yaml")
    with_cor, without = [], []
    for seed in seeds:
        with_cor.append(run(fvdsim, workload, seed))
        without.append(run(fvdsim, workload, seed, {"copy_on_read": False}))
    return with_cor, without


def profile(fvdsim, seeds):
    """Seconds from the second VM's start to its last guest read that waited for the base."""
    workload = os.path.join(ROOT, "workloads", "profile-boot.yaml")
    out = {"with profile": [], "without": []}
    boot = {"with profile": [], "without": []}
    for seed in seeds:
        for name, changes in (("with profile", None),
                              ("without", {"profile_prefetch_delay": "never"})):
            j = run(fvdsim, workload, seed, changes)
            vm = j["vms"][1]
            start = vm["phases"][0]["start_s"]
            out[name].append((vm["last_guest_base_read_s"] or start) - start)
            boot[name].append(vm["phases"][0]["duration_s"])
    return out, boot


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fvdsim", default=os.path.join(ROOT, "build", "default", "sim", "fvdsim"))
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    ap.add_argument("--out", default=os.path.join(ROOT, "reports", "prefetch"),
                    help="report directory (default reports/prefetch)")
    args = ap.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s]
    except ValueError:
        ap.error(f"--seeds {args.seeds!r}: expected comma-separated whole numbers")
    if not seeds:
        ap.error("--seeds: at least one seed")
    if not os.access(args.fvdsim, os.X_OK):
        ap.error(f"--fvdsim {args.fvdsim}: not an executable (build first: scripts/build.sh)")
    os.makedirs(args.out, exist_ok=True)

    lines = ["# Prefetch and copy-on-read in the simulator", "",
             f"Generated by `bench/prefetch/measure.py --seeds {args.seeds}`. Figures are medians "
             f"over {len(seeds)} seeds (min–max in parentheses); every ratio compares runs of "
             "the same invocation. The simulator is deterministic: the same seeds give the "
             "same figures.", ""]
    verdicts = []

    print("speed: prefetch-idle.yaml", file=sys.stderr)
    ratios, rows = speed(args.fvdsim, seeds)
    ok = statistics.median(ratios) <= 1.10
    verdicts.append(("prefetch time / bandwidth bound", fmt(ratios), "<= 1.10", ok))
    lines += ["## Prefetch speed (prefetch-idle.yaml)", "",
              "| seed | VM | prefetch took (s) | bound (s) | ratio |", "|---|---|---|---|---|"]
    lines += [f"| {s} | {n} | {t:.3f} | {b:.3f} | {t / b:.3f} |" for s, n, t, b in rows]
    paced, _ = speed(args.fvdsim, seeds, PACED)
    lines += ["", "The pacing that is polite in the boot storm below (16 KiB reads, one in "
              f"flight) costs a VM prefetching alone: its prefetch takes {fmt(paced)} times the "
              "bound. Each read then pays the server's whole round trip for little data; the "
              "storm's 16 VMs together still fill the link.", ""]

    print("politeness: prefetch-storm.yaml (off, throttled, unthrottled)", file=sys.stderr)
    res = storm(args.fvdsim, seeds, args.out)
    p99 = {k: [j["read_p99_us"] for j in v] for k, v in res.items()}
    lines += ["## Politeness in a boot storm (prefetch-storm.yaml, 16 VMs, one server)", "",
              "| prefetch | guest read p99 (us) | ratio to off | every VM self-contained | "
              "last one at (s) | base-server MiB | pauses (coin and pacing gaps) / coin resets |",
              "|---|---|---|---|---|---|---|"]
    for name, runs in res.items():
        ratio = [a / b for a, b in zip(p99[name], p99["off"])]
        done = [all(vm["prefetch_finished_s"] is not None for vm in j["vms"]) for j in runs]
        last = [max((vm["prefetch_finished_s"] or 0) for vm in j["vms"]) for j in runs]
        mib = [sum(vm["base_bytes_read"] for vm in j["vms"]) / 2**20 for j in runs]
        pauses = [sum(vm["prefetch_pauses"] + vm.get("prefetch_backoffs", 0) for vm in j["vms"])
                  for j in runs]
        resets = [sum(vm["prefetch_resets"] for vm in j["vms"]) for j in runs]
        lines.append(f"| {name} | {fmt(p99[name], 0)} | {fmt(ratio)} | "
                     f"{'yes' if all(done) else 'no' if name != 'off' else '-'} | "
                     f"{fmt(last, 1) if name != 'off' else '-'} | {fmt(mib, 0)} | "
                     f"{statistics.median(pauses):.0f} / {statistics.median(resets):.0f} |")
        if name != "off":
            verdicts.append((f"read p99, {name} / off", fmt(ratio), "<= 1.20",
                             statistics.median(ratio) <= 1.20 and all(done)))
    lines += ["", "Throttled: FVD's coin (below `prefetch_min_read`, pause half the time). Paced: "
              "`prefetch_queue_target: 200us` (the delay-based pacing, QueueDelayPacer), with "
              "the slot (read) size shown and the coin still on. A guest read that arrives "
              "behind a prefetch read waits for its transfer: 64 KiB takes 0.5 ms on the "
              "server's link, 16 KiB 0.13 ms.", "",
              "Plots of the paced run with 16 KiB reads (first seed): "
              "[report](prefetch-storm-report/prefetch-storm-%d/report.md), "
              "prefetch progress and latency over time:" % seeds[0], "",
              "![prefetch](prefetch-storm-report/prefetch-storm-%d/prefetch.png)" % seeds[0], "",
              "![latency](prefetch-storm-report/prefetch-storm-%d/latency.png)" % seeds[0], ""]

    print("copy-on-read: cor-reboot.yaml (with and without)", file=sys.stderr)
    with_cor, without = reboot(args.fvdsim, seeds)
    t_ratio = [j["vms"][0]["phases"][2]["duration_s"] / j["vms"][0]["phases"][0]["duration_s"]
               for j in with_cor]
    b_ratio = [j["vms"][0]["phases"][2]["base_bytes_read"] /
               j["vms"][0]["phases"][0]["base_bytes_read"] for j in with_cor]
    saved = [(b["vms"][0]["base_bytes_read"] - a["vms"][0]["base_bytes_read"]) / 2**20
             for a, b in zip(with_cor, without)]
    lines += ["## Copy-on-read: a second boot (cor-reboot.yaml)", "",
              "| figure | median (min–max) |", "|---|---|",
              f"| second boot time / first boot time | {fmt(t_ratio)} |",
              f"| second boot base bytes / first boot base bytes | {fmt(b_ratio)} |",
              f"| base-server MiB saved by copy-on-read over both boots | {fmt(saved, 1)} |", ""]

    print("profile-directed prefetch: profile-boot.yaml (with and without)", file=sys.stderr)
    waits, boots = profile(args.fvdsim, seeds)
    ratio = [a / b for a, b in zip(waits["with profile"], waits["without"])]
    lines += ["## Profile-directed prefetch (profile-boot.yaml)", "",
              "The second VM follows the profile the first VM's boot recorded, from the moment "
              "its image opens.", "",
              "| second VM | last guest read from the server, s after start | boot time (s) |",
              "|---|---|---|"]
    for name in waits:
        lines.append(f"| {name} | {fmt(waits[name], 3)} | {fmt(boots[name], 3)} |")
    lines += ["", f"Ratio with / without: {fmt(ratio)}.", ""]
    verdicts.append(("time reading the server, profile / none", fmt(ratio), "< 1.00",
                     statistics.median(ratio) < 1.0))

    lines += ["## Verdicts", "", "| figure | median (min–max) | target | met |", "|---|---|---|---|"]
    lines += [f"| {n} | {v} | {t} | {'yes' if ok else 'NO'} |" for n, v, t, ok in verdicts]
    lines.append("")
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0 if all(ok for *_, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
