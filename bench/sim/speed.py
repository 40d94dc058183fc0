#!/usr/bin/python3
"""The simulator's own speed and size, each against the floor its bytes set (not a test).

Runs, --runs rounds (default 9), one process at a time; each round first measures this
machine's byte speeds (byte_floor_bench), then runs every workload once, so a round's figures
and its floor share the machine's mode (these machines switch between a fast and a slow one):

  random-rw.yaml       guest I/Os per wall second. Target: 1,000,000 (one core).
  boot.yaml,           wall time / the least time the run's bytes take (the byte floor).
  crash-storm.yaml,    Target: at most 3.
  prefetch-storm.yaml
  big-disk.yaml        a 1 TiB disk over a 1 TiB base: peak resident memory. Target: under 1 GiB.
  crash_proptest       crash states the property suite checks per CPU second (--proptest-runs,
                       default 3, a fixed RapidCheck seed): reported beside the last report's
                       figure, which it should not fall below.

The byte floor: every byte a simulated disk reads or a guest writes is written into a buffer,
every byte a disk writes or a guest reads (the oracle's check) is read, and nothing touches a
cache-resident buffer faster than memset and an OR over its words. Those volumes, from the
run's own JSON, at those speeds, are the least wall time any implementation over the seam's
byte buffers needs; the same volumes at the speeds of what the simulator does today (token
fill, tokenizing, the oracle's per-sector check, the copy-on-read copy) are what its byte work
costs now. Each figure is the median of the rounds with the min-max spread.

Writes results.json and README.md into --out (default reports/sim-speed/). Exit 1 when a
target is missed, 2 on a usage error or a failed run.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GiB = 1 << 30
RANDOM_RW_TARGET = 1_000_000  # guest I/Os per wall second
FLOOR_TARGET = 3.0            # wall time / byte floor
RSS_TARGET_GIB = 1.0
FLOOR_WORKLOADS = ("boot", "crash-storm", "prefetch-storm")


def measured_run(fvdsim, name):
    """Runs fvdsim once on workloads/NAME.yaml; its JSON plus its CPU seconds and peak RSS."""
    workload = os.path.join(ROOT, "workloads", name + ".yaml")
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([fvdsim, "run", workload, "--json"], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.exit(f"speed: fvdsim run {workload} failed (exit {code})")
        out.seek(0)
        result = json.load(out)
    if result["violations"]:
        sys.exit(f"speed: {workload} reported violations: {result['violations'][:3]}")
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports KiB
    return result


def guest_ios(result):
    return sum(vm["reads"] + vm["writes"] + vm["flushes"] for vm in result["vms"])


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def byte_speeds(bench):
    """Bytes per second of each byte_floor_bench figure (the faster buffer size)."""
    out = subprocess.run([bench, "--benchmark_format=json", "--benchmark_min_time=0.1"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"speed: {bench} failed: {out.stderr.strip()}")
    speeds = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        name = b["name"].split("/")[0].removeprefix("BM_")
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


def proptest_states_per_cpu_s(proptest):
    """Crash states crash_proptest's CrashConsistency suite checks per CPU second (fixed seed)."""
    env = dict(os.environ, RC_PARAMS="seed=1")
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([proptest, "--gtest_filter=AllConfigs/CrashConsistency.*"],
                                stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"speed: {proptest} failed")
        out.seek(0)
        text = out.read().decode()
    states = sum(int(n) for n in re.findall(r": (\d+) states checked in", text))
    if states == 0:
        sys.exit(f"speed: {proptest} printed no 'states checked' lines")
    return states / (usage.ru_utime + usage.ru_stime)


def measure(fvdsim, bench, proptest, rounds, proptest_runs):
    """Every figure's values over the rounds, and the rows of the byte-floor table."""
    vals = {"random-rw guest I/Os per wall second": [], "random-rw guest I/Os per CPU second": [],
            "random-rw speed / the best its bytes allow": [], "boot simulated / wall time": [],
            "big-disk (1 TiB) peak RSS, GiB": []}
    for name in FLOOR_WORKLOADS:
        vals[f"{name} wall time / byte floor"] = []
    floors = {}
    for i in range(rounds):
        print(f"speed: round {i + 1}/{rounds}", file=sys.stderr, flush=True)
        speeds = byte_speeds(bench)
        rr = measured_run(fvdsim, "random-rw")
        ios = guest_ios(rr)
        rr_floor, rr_today = byte_seconds(rr, speeds)
        vals["random-rw guest I/Os per wall second"].append(ios / rr["wall_time_s"])
        vals["random-rw guest I/Os per CPU second"].append(ios / rr["cpu_s"])
        vals["random-rw speed / the best its bytes allow"].append(rr_floor / rr["wall_time_s"])
        floors.setdefault("random-rw", []).append((rr, rr_floor, rr_today, speeds))
        for name in FLOOR_WORKLOADS:
            r = measured_run(fvdsim, name)
            floor, today = byte_seconds(r, speeds)
            vals[f"{name} wall time / byte floor"].append(r["wall_time_s"] / floor)
            if name == "boot":
                vals["boot simulated / wall time"].append(r["sim_time_s"] / r["wall_time_s"])
            floors.setdefault(name, []).append((r, floor, today, speeds))
        big = measured_run(fvdsim, "big-disk")
        vals["big-disk (1 TiB) peak RSS, GiB"].append(big["peak_rss_bytes"] / GiB)
    figures = {
        "random-rw guest I/Os per wall second": (RANDOM_RW_TARGET, "higher"),
        "random-rw guest I/Os per CPU second": (RANDOM_RW_TARGET, "higher"),
        "random-rw speed / the best its bytes allow": (None, "higher"),
        "boot simulated / wall time": (None, "higher"),
        "big-disk (1 TiB) peak RSS, GiB": (RSS_TARGET_GIB, "lower"),
    }
    for name in FLOOR_WORKLOADS:
        figures[f"{name} wall time / byte floor"] = (FLOOR_TARGET, "lower")
    out = {name: (spread(vals[name]), target, better) for name, (target, better) in figures.items()}
    if proptest_runs > 0:
        print("speed: crash_proptest", file=sys.stderr, flush=True)
        out["crash_proptest states per CPU second"] = (spread(
            [proptest_states_per_cpu_s(proptest) for _ in range(proptest_runs)]), None, "higher")
    return out, floor_rows(floors)


def floor_rows(floors):
    """Per workload: its floor, today's byte work, and wall time, as medians over the rounds."""
    rows = {}
    for name, runs in floors.items():
        med = lambda f: statistics.median(f(*x) for x in runs)
        r0 = runs[0][0]  # volumes are exact for a seed: every round moves the same bytes
        rows[name] = {
            "disk_read_mb": sum(d["bytes_read"] for d in r0["disks"]) / 1e6,
            "disk_written_mb": sum(d["bytes_written"] for d in r0["disks"]) / 1e6,
            "guest_read_mb": sum(vm["bytes_read"] for vm in r0["vms"]) / 1e6,
            "guest_written_mb": sum(vm["bytes_written"] for vm in r0["vms"]) / 1e6,
            "floor_ms": med(lambda r, f, t, s: f * 1e3),
            "floor_unchecked_ms": med(lambda r, f, t, s: byte_seconds(r, s, False)[0] * 1e3),
            "today_ms": med(lambda r, f, t, s: t * 1e3),
            "wall_ms": med(lambda r, f, t, s: r["wall_time_s"] * 1e3),
            "events": r0.get("events", 0),
        }
    return rows


def met(value, target, better):
    if target is None:
        return None
    return value >= target if better == "higher" else value <= target


def previous(out_dir, name):
    try:
        with open(os.path.join(out_dir, "results.json")) as f:
            return json.load(f)[name]["median"]
    except (OSError, KeyError, ValueError):
        return None


def report(figures, rows, rounds, out_dir):
    lines = ["# Simulator speed and size", "",
             f"`bench/sim/speed.py`: medians of {rounds} rounds (min-max). Each round measures "
             "this machine's byte speeds (`byte_floor_bench`), then runs each workload once, "
             "a separate `fvdsim` process from `build/default`, one at a time; a ratio to the "
             "byte floor uses its own round's speeds.", "",
             "| figure | median | min-max | target | met |", "|---|---|---|---|---|"]
    results, all_met = {}, True
    for name, (s, target, better) in figures.items():
        ok = met(s["median"], target, better)
        all_met = all_met and ok is not False
        bound = "-" if target is None else (">= " if better == "higher" else "<= ") + f"{target:,}"
        verdict = "-" if ok is None else ("yes" if ok else "no")
        if name.startswith("crash_proptest"):
            before = previous(out_dir, name)
            if before is not None:
                bound, verdict = f"not below {before:,.0f} (the last report)", (
                    "yes" if s["median"] >= before * 0.9 else "no")
        lines.append(f"| {name} | {s['median']:,.2f} | {s['min']:,.2f}-{s['max']:,.2f} | "
                     f"{bound} | {verdict} |")
        results[name] = {"target": target, "better": better, **s}
    lines += ["", "## The byte floor", "",
              "Per workload, its byte volumes (from the run's JSON; the same every round), the "
              "least time they take (every byte a disk reads or a guest writes written once at "
              "memset's speed, every byte a disk writes or a guest reads read once at the speed "
              "of an OR over its words), the same without checking what guests read, what they "
              "cost at the speeds of the simulator's own byte code today, and the run's wall "
              "time; medians over the rounds.", "",
              "| workload | disk read MB | disk written MB | guest read MB | guest written MB | "
              "floor ms | floor without read checks ms | byte work today ms | wall ms | "
              "wall / floor |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['disk_read_mb']:,.0f} | {r['disk_written_mb']:,.0f} | "
                     f"{r['guest_read_mb']:,.0f} | {r['guest_written_mb']:,.0f} | "
                     f"{r['floor_ms']:,.1f} | {r['floor_unchecked_ms']:,.1f} | "
                     f"{r['today_ms']:,.1f} | {r['wall_ms']:,.1f} | "
                     f"{r['wall_ms'] / r['floor_ms']:,.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({**results, "floors": rows}, f, indent=2)
    return all_met


def main(argv):
    p = argparse.ArgumentParser(prog="speed.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fvdsim", default=os.path.join(ROOT, "build", "default", "sim", "fvdsim"))
    p.add_argument("--runs", type=int, default=9, help="rounds (default 9)")
    p.add_argument("--proptest-runs", type=int, default=3,
                   help="runs of crash_proptest's CrashConsistency suite (default 3; 0: none)")
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "sim-speed"))
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if not os.access(args.fvdsim, os.X_OK):
        p.error(f"{args.fvdsim}: not built (cmake --build --preset default)")
    build = os.path.dirname(os.path.dirname(args.fvdsim))
    bench = os.path.join(build, "bench", "byte_floor_bench")
    proptest = os.path.join(build, "proptests", "crash_proptest")
    for path in (bench, proptest):
        if not os.access(path, os.X_OK):
            p.error(f"{path}: not built (cmake --build --preset default)")
    figures, rows = measure(args.fvdsim, bench, proptest, args.runs, args.proptest_runs)
    return 0 if report(figures, rows, args.runs, args.out) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
