#!/usr/bin/python3
"""Measures FVD's prefetching and copy-on-read in the simulator and writes a report.

Runs the shipped workloads (and variants of them with image keys changed) through
`fvdsim run --json` at several seeds, and reports each figure as a ratio against its bound or
its baseline from the same invocation, as the median over the seeds (with min and max). Each
prefetch figure is given for the default control and, next to it, for the ones it replaced:

  default   every prefetch key removed but prefetch_start_delay: the queueing-delay window
            (prefetch_control: window, 16 KiB reads, core/image/prefetch_window.h)
  fvd-v1    the previous default: FVD's throughput coin with the v1 header defaults
            (prefetch_control: fvd, 1 MiB reads, 5 MiB/s minimum, 30 s longest pause)
  fvd-tuned FVD's coin as prefetch-storm.yaml tuned it for the storm before the window
            (256 KiB reads, 16 MiB/s minimum, 2 s longest pause)
  pacer     the queue-delay pacer with 16 KiB reads and that coin (prefetch_control: fvd,
            prefetch_queue_target: 200us, prefetch_slot_size: 16KiB)

  speed     prefetch-idle.yaml: whole-image prefetch time against
            base_size / min(base server bandwidth, local disk bandwidth)     target <= 1.10
  noise     the same with 100-500 us of jitter on the server's reads, and on 5 ms and 20 ms
            paths with a tenth of that as jitter (no target)
  storm     prefetch-storm.yaml (16 VMs, one 1 Gbit/s server): guest read p99 against the
            same storm with prefetch off (target <= 1.20); the last image self-contained
            against the time the link needs for all the bytes the server sent (<= 1.30);
            Jain's index of the VMs' prefetch rates (>= 0.90)
  links     the storm at 100 Mbit/s and 10 Gbit/s, and boot-storm.yaml and cor-reboot.yaml
            with prefetch_start_delay: 1s: guest read p99, default against fvd-v1 (<= 1.00)
  reboot    cor-reboot.yaml: second boot against the first (time, base bytes)
  profile   profile-boot.yaml: how long the second VM's boot keeps reading the server,
            following the first VM's recorded prefetch profile against not

Usage: bench/prefetch/measure.py [--fvdsim PATH] [--seeds 1,2,3] [--out DIR]
Needs python3-yaml (scripts/setup.sh installs it) to write the variants.
"""
import argparse
import os
import shutil
import statistics
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from simvariants import fmt, run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


PREFETCH_KEYS = ("prefetch_slots", "prefetch_slot_size", "prefetch_min_read", "prefetch_min_write",
                 "prefetch_max_read", "prefetch_max_write", "prefetch_throttle",
                 "prefetch_measure_time", "prefetch_alpha", "prefetch_queue_target",
                 "prefetch_control", "prefetch_read_size", "prefetch_window_max")


def defaults(doc):
    """Removes every prefetch key but prefetch_start_delay from every VM's image."""
    for vm in doc["vms"]:
        for k in PREFETCH_KEYS:
            (vm.get("image") or {}).pop(k, None)


# FVD's coin as prefetch-storm.yaml used to tune it (before the window was the default).
TUNED_COIN = {"prefetch_control": "fvd", "prefetch_slot_size": "256KiB",
              "prefetch_min_read": "16MiB/s", "prefetch_min_write": "0MiB/s",
              "prefetch_throttle": "2s"}
# The controls compared: (image keys to set, whether to drop the file's prefetch tuning first).
CONTROLS = {
    "default": ({}, True),
    "fvd-v1": ({"prefetch_control": "fvd"}, True),
    "fvd-tuned": (TUNED_COIN, True),
    "pacer": (dict(TUNED_COIN, prefetch_queue_target="200us", prefetch_slot_size="16KiB"), True),
}
NOTES = {
    "default": "the queueing-delay window (16 KiB reads)",
    "fvd-v1": "FVD's coin, v1 defaults (1 MiB reads)",
    "fvd-tuned": "FVD's coin tuned for the storm (256 KiB reads, 16 MiB/s, 2 s)",
    "pacer": "queue-delay pacer, 16 KiB reads (200 us target, with the tuned coin)",
}


def run_control(fvdsim, workload, seed, control, extra_edit=None, report=None):
    changes, drop = CONTROLS[control]

    def edit(doc):
        if drop:
            defaults(doc)
        for vm in doc["vms"]:
            vm["image"] = dict(vm.get("image") or {}, **changes)
        if extra_edit:
            extra_edit(doc)
    return run(fvdsim, workload, seed, None, report, edit)


def off_run(fvdsim, workload, seed, extra_edit=None):
    """The same world with prefetch off: `extra_edit` first, so it cannot turn prefetch back on
    (with_prefetch sets a start delay)."""
    def edit(doc):
        if extra_edit:
            extra_edit(doc)
        for vm in doc["vms"]:
            vm["image"] = dict(vm.get("image") or {}, prefetch_start_delay="never")
    return run(fvdsim, workload, seed, None, None, edit)


def workload_path(name):
    return os.path.join(ROOT, "workloads", name)


def vm_disk(doc):
    return {vm["name"]: vm["disk"] for vm in doc["vms"]}


def bandwidths(j):
    # Reports name disks "name#index".
    return {d["name"].split("#")[0]: d["bandwidth_bytes_per_s"] for d in j["disks"]}


def speed(fvdsim, seeds, control, extra_edit=None, unfinished_ok=False):
    """Prefetch time over the bandwidth bound per VM and seed (None: it never finished, only
    with `unfinished_ok`)."""
    workload = workload_path("prefetch-idle.yaml")
    with open(workload) as f:
        disks_of = vm_disk(yaml.safe_load(f))
    ratios = []
    for seed in seeds:
        j = run_control(fvdsim, workload, seed, control, extra_edit)
        bw, base = bandwidths(j), j["bases"][0]
        for vm in j["vms"]:
            if vm["prefetch_finished_s"] is None:
                if unfinished_ok:
                    ratios.append(None)
                    continue
                sys.exit(f"prefetch-idle seed {seed} ({control}): {vm['name']} never finished")
            took = vm["prefetch_finished_s"] - vm["prefetch_started_s"]
            ratios.append(took / (base["size_bytes"] / min(bw[base["disk"]],
                                                             bw[disks_of[vm["name"]]])))
    return ratios


def server_key(key, value):
    """An edit that sets `key` of the disk named server (the base's) to `value`."""
    def edit(doc):
        for d in doc["disks"]:
            if d["name"] == "server":
                d[key] = value
    return edit


def jain(values):
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


def storm_figures(j, off):
    """Figures of one storm run `j` against the same seed's run with prefetch off."""
    vms = j["vms"]
    done = all(vm["prefetch_finished_s"] is not None for vm in vms)
    last = max((vm["prefetch_finished_s"] or 0) for vm in vms)
    server = j["bases"][0]["disk"]
    sent = sum(vm["base_bytes_read"] for vm in vms)
    link = sent / bandwidths(j)[server]
    rates = [vm["prefetch_bytes"] / (vm["prefetch_finished_s"] - vm["prefetch_started_s"])
             for vm in vms if vm["prefetch_finished_s"] is not None]
    return {"p99": j["read_p99_us"], "ratio": j["read_p99_us"] / off["read_p99_us"],
            "done": done, "last": last, "link": link, "last_over_link": last / link,
            "jain": jain(rates) if rates else 0.0, "mib": sent / 2**20,
            "gaps": sum(vm["prefetch_pauses"] + vm.get("prefetch_backoffs", 0) for vm in vms)}


def storm(fvdsim, seeds, out_dir):
    workload = workload_path("prefetch-storm.yaml")
    results = {c: [] for c in CONTROLS}
    offs = []
    for seed in seeds:
        off = off_run(fvdsim, workload, seed)
        offs.append(off["read_p99_us"])
        for control in CONTROLS:
            report = None
            if out_dir and seed == seeds[0] and control == "default":
                report = os.path.join(out_dir, "storm-report")
            results[control].append(storm_figures(
                run_control(fvdsim, workload, seed, control, report=report), off))
    return offs, results


def with_prefetch(doc):
    for vm in doc["vms"]:
        vm["image"] = dict(vm.get("image") or {}, prefetch_start_delay="1s")


def other_worlds(fvdsim, seeds):
    """Guest read p99 of default and fvd-v1 (and off) in the other worlds the issue names."""
    storm = "prefetch-storm.yaml"
    cases = [("prefetch-storm, 100 Mbit/s", storm, server_key("bandwidth", "100Mbit/s")),
             ("prefetch-storm, 10 Gbit/s", storm, server_key("bandwidth", "10Gbit/s")),
             ("boot-storm, prefetch after 1 s", "boot-storm.yaml", with_prefetch),
             ("cor-reboot, prefetch after 1 s", "cor-reboot.yaml", with_prefetch)]
    rows = []
    for name, file, edit in cases:
        print(f"links: {name}", file=sys.stderr)
        fig = {"off": [], "default": [], "fvd-v1": []}
        for seed in seeds:
            fig["off"].append(off_run(fvdsim, workload_path(file), seed, edit)["read_p99_us"])
            for control in ("default", "fvd-v1"):
                fig[control].append(
                    run_control(fvdsim, workload_path(file), seed, control, edit)["read_p99_us"])
        rows.append((name, fig))
    return rows


def reboot(fvdsim, seeds):
    workload = workload_path("cor-reboot.yaml")
    with_cor, without = [], []
    for seed in seeds:
        with_cor.append(run(fvdsim, workload, seed))
        without.append(run(fvdsim, workload, seed, {"copy_on_read": False}))
    return with_cor, without


def profile(fvdsim, seeds):
    """Seconds from the second VM's start to its last guest read that waited for the base."""
    workload = workload_path("profile-boot.yaml")
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


def med(values):
    return statistics.median(values)


def speed_section(fvdsim, seeds, verdicts):
    print("speed: prefetch-idle.yaml", file=sys.stderr)
    lines = ["## Prefetch alone (prefetch-idle.yaml)", "",
             "Time from the start of prefetch to the image self-contained, over the bandwidth "
             "bound (base size / the slower of the server's link and the local disk).", "",
             "| control | time / bound |", "|---|---|"]
    for control in CONTROLS:
        if control == "fvd-tuned":
            continue  # tuned for the storm
        ratios = speed(fvdsim, seeds, control)
        lines.append(f"| {control}: {NOTES[control]} | {fmt(ratios)} |")
        if control == "default":
            verdicts.append(("alone: prefetch time / bandwidth bound", fmt(ratios), "<= 1.10",
                             med(ratios) <= 1.10))
    return lines + [""]


def long_path(latency, jitter, bandwidth):
    """The server at `latency` and `jitter` per read and `bandwidth`; the idle phase long enough
    for 1 GiB at that bandwidth."""
    def edit(doc):
        for key, value in (("read_latency", latency), ("jitter", jitter),
                           ("bandwidth", bandwidth)):
            server_key(key, value)(doc)
        for vm in doc["vms"]:
            for phase in vm["phases"]:
                if phase["kind"] == "idle":
                    phase["duration"] = "300s"
        doc["max_time"] = "20min"
    return edit


def noise_section(fvdsim, seeds):
    print("noise: prefetch-idle.yaml with a noisy link", file=sys.stderr)
    lines = ["## Prefetch alone on a noisy or long path", "",
             "prefetch-idle.yaml with every base read taking a uniform [0, jitter) more (the "
             "network preset has 50 us on 500 us; fio's nbd engine through nbdkit measured "
             "200-240 us at p99 over its least on this machine, reports/fidelity/), and on "
             "longer paths with a tenth of their latency as jitter, as the network preset has. "
             "Time over the bandwidth bound; not a target of issue 27, shown because real paths "
             "are noisy and the window steers by delay.", "",
             "| server path | default | fvd-v1 |", "|---|---|---|"]
    cases = [(f"0.5 ms, 1 Gbit/s, {j} jitter", server_key("jitter", j))
             for j in ("100us", "200us", "300us", "500us")]
    cases += [("5 ms, 1 Gbit/s, 500us jitter", long_path("5ms", "500us", "1Gbit/s")),
              ("20 ms, 100 Mbit/s, 2ms jitter", long_path("20ms", "2ms", "100Mbit/s"))]
    for name, edit in cases:
        cells = []
        for control in ("default", "fvd-v1"):
            ratios = speed(fvdsim, seeds, control, edit, unfinished_ok=True)
            done = [r for r in ratios if r is not None]
            cells.append(fmt(done) if len(done) == len(ratios) else
                         f"{len(ratios) - len(done)} of {len(ratios)} never finished")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return lines + [""]


def storm_section(fvdsim, seeds, out_dir, verdicts):
    print("storm: prefetch-storm.yaml", file=sys.stderr)
    offs, res = storm(fvdsim, seeds, out_dir)
    lines = ["## A boot storm (prefetch-storm.yaml: 16 VMs, one 1 Gbit/s server)", "",
             f"Guest read p99 with prefetch off: {fmt(offs, 0)} us. Self-contained: the last "
             "image's time (from the start of the run) over the time the server's link needs "
             "for every byte it sent in that run (guest reads included). Jain: Jain's fairness "
             "index of the VMs' prefetch rates (bytes over their own prefetch time).", "",
             "| control | guest read p99 (us) | / off | all self-contained | last at (s) | "
             "/ link time | Jain | server MiB | gaps and pauses |",
             "|---|---|---|---|---|---|---|---|---|"]
    for control, figs in res.items():
        get = lambda k: [f[k] for f in figs]  # noqa: E731
        lines.append(f"| {control}: {NOTES[control]} | {fmt(get('p99'), 0)} | {fmt(get('ratio'))} | "
                     f"{'yes' if all(get('done')) else 'no'} | {fmt(get('last'), 1)} | "
                     f"{fmt(get('last_over_link'))} | {fmt(get('jain'), 3)} | "
                     f"{fmt(get('mib'), 0)} | {med(get('gaps')):.0f} |")
        if control == "default":
            verdicts += [
                ("storm: guest read p99 / off", fmt(get("ratio")), "<= 1.20",
                 med(get("ratio")) <= 1.20),
                ("storm: last self-contained / link time", fmt(get("last_over_link")), "<= 1.30",
                 all(get("done")) and med(get("last_over_link")) <= 1.30),
                ("storm: Jain's index of prefetch rates", fmt(get("jain"), 3), ">= 0.90",
                 med(get("jain")) >= 0.90)]
    lines += [""] + plots(out_dir, seeds[0])
    return lines


def plots(out_dir, seed):
    """Copies the default storm run's plots next to the report (the run folder is not kept)."""
    src = os.path.join(out_dir, "storm-report", f"prefetch-storm-{seed}")
    dst = os.path.join(out_dir, "plots")
    os.makedirs(dst, exist_ok=True)
    lines = [f"The default control in the storm (seed {seed}): prefetch progress of every VM and "
             "guest read latency over time.", ""]
    for name in ("prefetch.png", "latency.png"):
        if os.path.exists(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
            lines += [f"![{name[:-4]}](plots/{name})", ""]
    shutil.rmtree(os.path.join(out_dir, "storm-report"), ignore_errors=True)
    return lines


def worlds_section(fvdsim, seeds, verdicts):
    lines = ["## Other links and worlds", "",
             "Guest read p99 (us), and the default over fvd-v1, the previous default (target: "
             "no case worse), and over prefetch off. A prefetcher can also lower a guest's "
             "latency: what it copied before the guest asks is read from the local disk.", "",
             "| world | off | default | fvd-v1 | default / fvd-v1 | default / off |",
             "|---|---|---|---|---|---|"]
    for name, fig in other_worlds(fvdsim, seeds):
        ratio = [a / b for a, b in zip(fig["default"], fig["fvd-v1"])]
        to_off = [a / b for a, b in zip(fig["default"], fig["off"])]
        lines.append(f"| {name} | {fmt(fig['off'], 0)} | {fmt(fig['default'], 0)} | "
                     f"{fmt(fig['fvd-v1'], 0)} | {fmt(ratio)} | {fmt(to_off)} |")
        verdicts.append((f"{name}: p99 default / fvd-v1", fmt(ratio), "<= 1.00",
                         med(ratio) <= 1.00))
    return lines + [""]


def reboot_section(fvdsim, seeds):
    print("copy-on-read: cor-reboot.yaml (with and without)", file=sys.stderr)
    with_cor, without = reboot(fvdsim, seeds)
    t_ratio = [j["vms"][0]["phases"][2]["duration_s"] / j["vms"][0]["phases"][0]["duration_s"]
               for j in with_cor]
    b_ratio = [j["vms"][0]["phases"][2]["base_bytes_read"] /
               j["vms"][0]["phases"][0]["base_bytes_read"] for j in with_cor]
    saved = [(b["vms"][0]["base_bytes_read"] - a["vms"][0]["base_bytes_read"]) / 2**20
             for a, b in zip(with_cor, without)]
    return ["## Copy-on-read: a second boot (cor-reboot.yaml)", "",
            "| figure | median (min–max) |", "|---|---|",
            f"| second boot time / first boot time | {fmt(t_ratio)} |",
            f"| second boot base bytes / first boot base bytes | {fmt(b_ratio)} |",
            f"| base-server MiB saved by copy-on-read over both boots | {fmt(saved, 1)} |", ""]


def profile_section(fvdsim, seeds, verdicts):
    print("profile-directed prefetch: profile-boot.yaml (with and without)", file=sys.stderr)
    waits, boots = profile(fvdsim, seeds)
    ratio = [a / b for a, b in zip(waits["with profile"], waits["without"])]
    lines = ["## Profile-directed prefetch (profile-boot.yaml)", "",
             "The second VM follows the profile the first VM's boot recorded, from the moment "
             "its image opens.", "",
             "| second VM | last guest read from the server, s after start | boot time (s) |",
             "|---|---|---|"]
    for name in waits:
        lines.append(f"| {name} | {fmt(waits[name], 3)} | {fmt(boots[name], 3)} |")
    verdicts.append(("time reading the server, profile / none", fmt(ratio), "< 1.00",
                     med(ratio) < 1.0))
    return lines + ["", f"Ratio with / without: {fmt(ratio)}.", ""]


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
             "same figures.", "",
             "Controls: " + "; ".join(f"**{c}**: {NOTES[c]}" for c in CONTROLS) + ". The default "
             "is what an image does with no prefetch setting but its start delay.", ""]
    verdicts = []
    lines += speed_section(args.fvdsim, seeds, verdicts)
    lines += noise_section(args.fvdsim, seeds)
    lines += storm_section(args.fvdsim, seeds, args.out, verdicts)
    lines += worlds_section(args.fvdsim, seeds, verdicts)
    lines += reboot_section(args.fvdsim, seeds)
    lines += profile_section(args.fvdsim, seeds, verdicts)
    lines += ["## Verdicts", "", "| figure | median (min–max) | target | met |", "|---|---|---|---|"]
    lines += [f"| {n} | {v} | {t} | {'yes' if ok else 'NO'} |" for n, v, t, ok in verdicts]
    lines.append("")
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0 if all(ok for *_, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
