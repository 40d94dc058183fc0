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

Beside them, the ceiling the bytes alone set (byte_floor_bench, built beside fvdsim): every
byte a simulated disk reads or a guest writes is written into a buffer, every byte a disk
writes or a guest reads (the oracle's check) is read, and nothing touches a cache-resident
buffer faster than memset and an OR over its words. Those volumes, from the run's own JSON, at
those speeds, are the least wall time any implementation over the seam's byte buffers needs;
the same volumes at the speeds of what the simulator does today (token fill, tokenizing,
CRC-64, the copy-on-read copy) are what its byte work costs now.
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
    return figures, rr, boot


def byte_speeds(bench):
    """Bytes per second of each byte_floor_bench figure (median of 5, the faster buffer size)."""
    out = subprocess.run([bench, "--benchmark_format=json", "--benchmark_repetitions=5",
                          "--benchmark_report_aggregates_only=true"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"speed: {bench} failed: {out.stderr.strip()}", file=sys.stderr)
        sys.exit(2)
    speeds = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].split("/")[0].removeprefix("BM_")
        speeds[name] = max(speeds.get(name, 0.0), b["bytes_per_second"])
    return speeds


def byte_seconds(result, speeds, check_reads=True):
    """(floor, today's) seconds of byte work in one run, from its volumes."""
    disk_read = sum(d["bytes_read"] for d in result["disks"])
    disk_written = sum(d["bytes_written"] for d in result["disks"])
    guest_read = sum(vm["bytes_read"] for vm in result["vms"]) if check_reads else 0
    guest_written = sum(vm["bytes_written"] for vm in result["vms"])
    copied = sum(vm["copy_on_read_bytes"] for vm in result["vms"])
    floor = ((disk_read + guest_written) / speeds["WritePass"] +
             (disk_written + guest_read) / speeds["ReadPass"])
    today = (disk_read / speeds["Fill"] + disk_written / speeds["Tokenize"] +
             guest_read / speeds["Hash"] + guest_written * (1 / speeds["Fill"] + 1 / speeds["Hash"]) +
             copied / speeds["Copy"])
    return floor, today


def ceilings(speeds, rr, boot):
    """What the bytes alone allow each speed target, as figures of the same unit."""
    rows = {}
    for label, runs, unit, target in (
            ("random-rw guest I/Os per second", rr, guest_ios, 1_000_000),
            ("boot simulated / wall time", boot, lambda r: r["sim_time_s"], 1000)):
        r = runs[0]  # volumes are exact for a seed: every run moves the same bytes
        floor, today = byte_seconds(r, speeds)
        floor_unchecked, _ = byte_seconds(r, speeds, check_reads=False)
        rows[label] = {"target": target, "floor_s": floor, "floor_unchecked_s": floor_unchecked,
                       "today_s": today, "ceiling": unit(r) / floor,
                       "ceiling_unchecked": unit(r) / floor_unchecked,
                       "ceiling_today": unit(r) / today}
    return rows


def met(value, target, better):
    return value >= target if better == "higher" else value <= target


def report(figures, runs, out_dir, bytes_rows=None, speeds=None):
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
    if bytes_rows:
        lines += ["", "## What the bytes alone allow", "",
                  "The least wall time the run's byte volumes take (every byte a disk reads or a "
                  "guest writes written once at memset's speed, every byte a disk writes or a "
                  "guest reads read once at the speed of an OR over its words: no implementation "
                  "over the seam's byte buffers can go below it), the same without checking what "
                  "guests read, and what those volumes cost at the speeds of what the simulator "
                  "does today; each as the best figure it allows. Speeds (byte_floor_bench, "
                  "GB/s, the faster of 4 KiB and 64 KiB buffers): " +
                  ", ".join(f"{k} {v / 1e9:.1f}" for k, v in sorted(speeds.items())) + ".", "",
                  "| figure | target | floor ms | best possible | without read checks | "
                  "byte work today ms | best with today's byte work |",
                  "|---|---|---|---|---|---|---|"]
        for name, row in bytes_rows.items():
            lines.append(f"| {name} | {row['target']:,} | {row['floor_s'] * 1e3:,.1f} | "
                         f"{row['ceiling']:,.0f} | {row['ceiling_unchecked']:,.0f} | "
                         f"{row['today_s'] * 1e3:,.1f} | {row['ceiling_today']:,.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        results = {name: {"target": t, "better": b, **s} for name, (s, t, b) in figures.items()}
        if bytes_rows:
            results["bytes"] = {"speeds_bytes_per_s": speeds, "ceilings": bytes_rows}
        json.dump(results, f, indent=2)
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
    bench = os.path.join(os.path.dirname(os.path.dirname(args.fvdsim)), "bench",
                         "byte_floor_bench")
    if not os.access(bench, os.X_OK):
        p.error(f"{bench}: not built (cmake --build --preset default)")
    figures, rr, boot = measure(args.fvdsim, args.runs)
    speeds = byte_speeds(bench)
    rows = ceilings(speeds, rr, boot)
    return 0 if report(figures, args.runs, args.out, rows, speeds) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
