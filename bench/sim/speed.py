#!/usr/bin/python3
"""The simulator's own speed and size (issue 4's benchmark; not a test).

Runs fvdsim (build/default) on three workloads, several times each, one process at a time:

  random-rw.yaml   guest I/Os per wall-clock second and per CPU second (fvdsim is one thread,
                   so a CPU second is a second of one core). Target: 1,000,000.
  boot.yaml        simulated time / wall time. Target: 1000x.
  big-disk.yaml    a 1 TiB disk over a 1 TiB base: peak resident memory. Target: under 1 GiB.

Each figure is the median of --runs runs with the min-max spread, printed as a ratio against its
target. Writes results.json and README.md into --out (default reports/sim-speed/). Exit 1 when a
target is missed, 2 on a usage error or a failed run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GiB = 1 << 30


def measured_run(fvdsim, workload):
    """Runs fvdsim once; its JSON plus its own CPU seconds and peak RSS (from wait4)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([fvdsim, "run", workload, "--json"], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            print(f"speed: fvdsim run {workload} failed (exit {proc.returncode})",
                  file=sys.stderr)
            sys.exit(2)
        out.seek(0)
        result = json.load(out)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports KiB
    return result


def guest_ios(result):
    return sum(vm["reads"] + vm["writes"] + vm["flushes"] for vm in result["vms"])


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def measure(fvdsim, runs):
    workloads = os.path.join(ROOT, "workloads")
    figures = {}
    rr = [measured_run(fvdsim, os.path.join(workloads, "random-rw.yaml")) for _ in range(runs)]
    figures["random-rw guest I/Os per wall second"] = (
        spread([guest_ios(r) / r["wall_time_s"] for r in rr]), 1_000_000, "higher")
    figures["random-rw guest I/Os per CPU second"] = (
        spread([guest_ios(r) / r["cpu_s"] for r in rr]), 1_000_000, "higher")
    boot = [measured_run(fvdsim, os.path.join(workloads, "boot.yaml")) for _ in range(runs)]
    figures["boot simulated / wall time"] = (
        spread([r["sim_time_s"] / r["wall_time_s"] for r in boot]), 1000, "higher")
    big = [measured_run(fvdsim, os.path.join(workloads, "big-disk.yaml")) for _ in range(runs)]
    figures["big-disk (1 TiB) peak RSS, GiB"] = (
        spread([r["peak_rss_bytes"] / GiB for r in big]), 1.0, "lower")
    for r in rr + boot + big:
        if r["violations"]:
            print(f"speed: {r['workload']} reported violations: {r['violations'][:3]}",
                  file=sys.stderr)
            sys.exit(2)
    return figures


def met(value, target, better):
    return value >= target if better == "higher" else value <= target


def report(figures, runs, out_dir):
    rows = []
    for name, (s, target, better) in figures.items():
        ratio = s["median"] / target
        rows.append((name, s, target, better, ratio, met(s["median"], target, better)))
    lines = ["# Simulator speed and size", "",
             f"`bench/sim/speed.py`: medians of {runs} runs (min-max), each a separate fvdsim "
             "process from `build/default`, one at a time.", "",
             "| figure | median | min-max | target | median / target | met |",
             "|---|---|---|---|---|---|"]
    for name, s, target, better, ratio, ok in rows:
        bound = ">=" if better == "higher" else "<="
        lines.append(f"| {name} | {s['median']:,.2f} | {s['min']:,.2f}-{s['max']:,.2f} | "
                     f"{bound} {target:,} | {ratio:.3f} | {'yes' if ok else 'no'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({name: {"target": t, "better": b, **s} for name, (s, t, b) in figures.items()},
                  f, indent=2)
    return all(ok for *_, ok in rows)


def main(argv):
    p = argparse.ArgumentParser(prog="speed.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fvdsim", default=os.path.join(ROOT, "build", "default", "sim", "fvdsim"))
    p.add_argument("--runs", type=int, default=5, help="runs per workload (default 5)")
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "sim-speed"))
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if not os.access(args.fvdsim, os.X_OK):
        p.error(f"{args.fvdsim}: not built (cmake --build --preset default)")
    figures = measure(args.fvdsim, args.runs)
    return 0 if report(figures, args.runs, args.out) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
