#!/usr/bin/python3
"""Does the simulator predict real storage? (issue 29's validation; a benchmark, not a test)

Calibrates a scratch file on the storage under --dir (`fvdsim calibrate`), then runs each
workload --runs times in the simulator, with that model as every disk (`--set
disk.model=...`), and for real (`fvdsim run --real`, the same engine, generators and oracle on
FVD images in --dir), alternating the two, at the same seeds. Reports predicted against
measured, medians of the runs: throughput (guest bytes per second), read and write p50 and p99
(the median over a run's VMs), and journal writes per guest write. Targets: throughput and p50
within 15%, p99 within 30%.

Each workload is shortened to --ops operations per phase, and bases hold seeded data in their
first --base-data bytes only (real mode writes that much of every base file).

The prefetch workload (PREFETCH below, written into --dir) boots a VM from a 64 MiB base on a
network disk of 200 Mbit/s and 2 ms, then idles while the prefetcher copies the rest: real mode
serves that base with nbdkit through fvd's link filter set from the same model (so this part
checks the engine and its prefetcher on the real clock, not the network model), and the image
sits on the calibrated disk in both worlds. Its extra figure: the prefetcher's start to the
image being self-contained (target within 15%). It runs twice in the simulator: with the
network model as written (2 ms, no jitter), and with the model given what a probe measures of
the path a base read takes for real (nbdkit, the link filter, the socket, the client): fio's
nbd engine reads 16 KiB at depth 1 for 3 s, its least time less the model's adds to the
latency, and twice its median less its least becomes the jitter (a uniform jitter with the
path's median; the path's p99 less its least, used before, made a uniform noise far wider than
the path's, whose reads mostly sit near the least).

  bench/fidelity/compare.py [--runs 3] [--dir /var/tmp/fvd-fidelity] [--cache direct|page]
                            [--ops 20000] [--out reports/fidelity]
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKLOADS = ["random-rw", "database", "journal"]
TARGETS = {"throughput MiB/s": 0.15, "read p50 us": 0.15, "write p50 us": 0.15,
           "read p99 us": 0.30, "write p99 us": 0.30, "journal writes per write": None,
           "prefetch completion s": 0.15}
PREFETCH = """\
name: prefetch-fidelity
max_time: 60s
disks:
  - {{name: server, preset: network, bandwidth: 200Mbit/s, read_latency: {latency},
     jitter: {jitter}}}
  - {{name: host, model: {model}}}
bases: [{{name: base.raw, disk: server, size: 64MiB}}]
vms:
  - name: vm
    disk: host
    base: base.raw
    image: {{copy_on_read: true, prefetch_start_delay: 1s}}
    phases:
      - {{kind: boot, working_set: 16MiB, sizes: 64KiB, ops: 256, queue_depth: 2,
         think_time: 100us}}
      - {{kind: idle, duration: 20s}}
      - {{kind: random, ops: 2000, queue_depth: 4, read_percent: 100%}}
"""


def say(msg):
    print(f"fidelity: {msg}", file=sys.stderr, flush=True)


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"fidelity: {' '.join(cmd)} failed (exit {r.returncode}): "
                         f"{r.stderr.strip()[-800:]}")
    return json.loads(r.stdout)


def figures(j):
    vms = j["vms"]
    moved = sum(v["bytes_read"] + v["bytes_written"] for v in vms)
    writes = sum(v["writes"] for v in vms)
    med = lambda key: statistics.median(v[key] for v in vms)
    prefetch = [v["prefetch_finished_s"] - v["prefetch_started_s"] for v in vms
                if v["prefetch_finished_s"] is not None and v["prefetch_started_s"] is not None]
    return {"throughput MiB/s": moved / 2**20 / j["sim_time_s"],
            "read p50 us": med("read_p50_us"), "read p99 us": med("read_p99_us"),
            "write p50 us": med("write_p50_us"), "write p99 us": med("write_p99_us"),
            "journal writes per write": sum(v["journal_writes"] for v in vms) / max(writes, 1),
            # None: the prefetcher did not finish within the run (counted as longest)
            "prefetch completion s": statistics.median(prefetch) if prefetch else None}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fvdsim", default=os.path.join(ROOT, "build", "default", "sim", "fvdsim"))
    p.add_argument("--dir", default="/var/tmp/fvd-fidelity")
    p.add_argument("--cache", choices=["direct", "page"], default="direct")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--ops", type=int, default=20000)
    p.add_argument("--base-data", default="256MiB")
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "fidelity"))
    args = p.parse_args()
    if not os.access(args.fvdsim, os.X_OK):
        raise SystemExit(f"fidelity: {args.fvdsim} not found: build the default preset first")
    if os.path.exists(args.dir) and os.listdir(args.dir):
        raise SystemExit(f"fidelity: --dir {args.dir} is not empty: give a new or empty folder "
                         "(everything made there is removed at the end)")
    made = not os.path.exists(args.dir)
    os.makedirs(args.dir, exist_ok=True)
    try:
        run_all(args)
    finally:  # only what this script made: the folder if new, else what it put in it
        for name in ([] if made else os.listdir(args.dir)):
            shutil.rmtree(os.path.join(args.dir, name), ignore_errors=True)
            if os.path.exists(os.path.join(args.dir, name)):
                os.unlink(os.path.join(args.dir, name))
        if made:
            shutil.rmtree(args.dir, ignore_errors=True)


LINK = {"latency_us": 2000, "bytes_per_s": 25_000_000}  # PREFETCH's server, as written


def probe_link(args):
    """What a 16 KiB base read at depth 1 takes through nbdkit and the link filter, in us."""
    link_filter = os.path.join(os.path.dirname(args.fvdsim), "real", "nbdkit-fvdlink-filter.so")
    base, sock = os.path.join(args.dir, "probe.raw"), os.path.join(args.dir, "probe.sock")
    with open(base, "wb") as f:
        f.write(os.urandom(16 << 20))
    server = subprocess.Popen(
        ["nbdkit", "-f", "-r", "-U", sock, f"--filter={link_filter}", "file", base,
         f"link-latency={LINK['latency_us'] * 1000}", f"link-rate={LINK['bytes_per_s']}",
         "link-jitter=0"], stderr=subprocess.PIPE)
    try:
        for _ in range(3000):  # ready when the socket is there (at most 30 s)
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        r = subprocess.run(["fio", "--name=link", "--ioengine=nbd",
                            f"--uri=nbd+unix:///?socket={sock}", "--readonly", "--rw=randread",
                            "--bs=16k", "--iodepth=1", "--runtime=3", "--time_based",
                            "--output-format=json"], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"fidelity: the link probe failed: {r.stderr.strip()[-400:]}")
        clat = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]["read"]["clat_ns"]
    finally:
        server.kill()
        server.wait()
        os.unlink(base)
    ideal = LINK["latency_us"] + (16 << 10) / LINK["bytes_per_s"] * 1e6
    pct = clat["percentile"]
    return {"ideal_us": ideal, "min_us": clat["min"] / 1e3, "p50_us": pct["50.000000"] / 1e3,
            "p99_us": pct["99.000000"] / 1e3}


def run_all(args):
    model = os.path.join(args.dir, "model.yaml")
    say(f"calibrating {args.dir} ({args.cache})")
    cal = run_json([args.fvdsim, "calibrate", args.dir, "-o", model, "--cache", args.cache,
                    "--json"])
    common = ["--set", f"phase.ops={args.ops}", "--set", f"base.nonzero={args.base_data}",
              "--json"]
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cache": args.cache,
               "calibration": cal, "workloads": {}}
    say("probing the base server's path")
    link = probe_link(args)
    results["link_probe"] = link
    prefetch = os.path.join(args.dir, "prefetch.yaml")
    with open(prefetch, "w") as f:
        f.write(PREFETCH.format(model=model, latency=f"{LINK['latency_us']}us", jitter=0))
    probed = os.path.join(args.dir, "prefetch-probed.yaml")
    with open(probed, "w") as f:
        extra = max(link["min_us"] - link["ideal_us"], 0)
        f.write(PREFETCH.format(model=model, latency=f"{LINK['latency_us'] + extra:.0f}us",
                                jitter=f"{max(2 * (link['p50_us'] - link['min_us']), 0):.0f}us"))
    # (name, file, arguments of both runs, of the simulated run only: every disk the model)
    plan = [(w, os.path.join("workloads", w + ".yaml"), common,
             ["--set", f"disk.model={model}"]) for w in WORKLOADS]
    plan.append(("prefetch", prefetch, ["--json"], []))  # its file names the model
    for w, file, both, sim_only in plan:
        runs = {"predicted": [], "measured": []}
        for seed in range(1, args.runs + 1):
            say(f"{w}: seed {seed}")
            sim = [args.fvdsim, "run", file, "--seed", str(seed)] + sim_only + both
            real = [args.fvdsim, "run", file, "--seed", str(seed), "--real",
                    os.path.join(args.dir, "run")] + both
            if args.cache == "direct":
                real.append("--direct")
            order = [("predicted", sim), ("measured", real)]
            for kind, cmd in (order if seed % 2 else order[::-1]):
                runs[kind].append(figures(run_json(cmd)))
        results["workloads"][w] = runs
    # The same measured runs, predicted again with the probed path in the network model.
    results["workloads"]["prefetch, path probed"] = {
        "predicted": [figures(run_json([args.fvdsim, "run", probed, "--seed", str(seed),
                                        "--json"])) for seed in range(1, args.runs + 1)],
        "measured": results["workloads"]["prefetch"]["measured"]}
    write_report(results, args)


def median_of(values):
    """The median, a run whose prefetcher never finished counting as the longest."""
    return statistics.median(math.inf if v is None else v for v in values)


def show(v):
    return "did not finish" if math.isinf(v) else f"{v:,.2f}"


def write_report(results, args):
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    m = results["calibration"]["model"]
    lines = ["# Predicted against measured (bench/fidelity/compare.py)", "",
             f"The simulator with a disk model `fvdsim calibrate` measured on {args.dir} "
             f"({args.cache}), against the same workload run for real there (`fvdsim run "
             f"--real`), at seeds 1-{args.runs}, alternating; medians. Phases shortened to "
             f"{args.ops} operations, bases seeded in their first {args.base_data}. "
             f"Run {results['date']} on {os.cpu_count()} cores.", "",
             f"Model: read {m['read_latency_ns'] / 1e3:.1f} us, write "
             f"{m['write_latency_ns'] / 1e3:.1f} us, flush {m['flush_latency_ns'] / 1e3:.1f} us, "
             f"{m['bandwidth_bytes_per_s'] / 1e6:.0f} MB/s, jitter {m['jitter_ns'] / 1e3:.1f} us, "
             f"queue depth {m['queue_depth']}, volatile cache {m['volatile_cache']}, "
             f"write service {m.get('write_service_ns', 0) / 1e3:.1f} us "
             f"(fresh {m.get('fresh_write_service_ns', 0) / 1e3:.1f} us), FUA write service "
             f"{m.get('fua_write_service_ns', 0) / 1e3:.1f} us "
             f"(fresh {m.get('fresh_fua_write_service_ns', 0) / 1e3:.1f} us), "
             f"host {m.get('host_cost_ns', 0) / 1e3:.1f} us per request "
             f"({m.get('fresh_write_host_cost_ns', 0) / 1e3:.1f} us for a write into fresh "
             f"space).", "",
             f"Base server path (prefetch), a 16 KiB read at depth 1: the model says "
             f"{results['link_probe']['ideal_us']:.0f} us; measured least "
             f"{results['link_probe']['min_us']:.0f} us, p50 {results['link_probe']['p50_us']:.0f} "
             f"us, p99 {results['link_probe']['p99_us']:.0f} us.", "",
             "| workload | figure | predicted | measured | measured min-max | predicted / measured "
             "| target | met |",
             "|---|---|---:|---:|---|---:|---|---|"]
    for w, runs in results["workloads"].items():
        for fig, tol in TARGETS.items():
            pred, meas = (median_of([r[fig] for r in runs[k]]) for k in ("predicted", "measured"))
            each = [math.inf if r[fig] is None else r[fig] for r in runs["measured"]]
            spread = f"{show(min(each))} - {show(max(each))}"
            if fig == "prefetch completion s" and not w.startswith("prefetch"):
                continue
            if meas == 0 and pred == 0:
                continue  # the workload has none (no reads, no journal)
            if math.isinf(pred) or math.isinf(meas):
                lines.append(f"| {w} | {fig} | {show(pred)} | {show(meas)} | {spread} | - | "
                             f"within {tol:.0%} | no |")
                continue
            ratio = pred / meas if meas else float("inf")
            target = "-" if tol is None else f"within {tol:.0%}"
            ok = "-" if tol is None else ("yes" if abs(ratio - 1) <= tol else "no")
            lines.append(f"| {w} | {fig} | {pred:,.2f} | {meas:,.2f} | {spread} | {ratio:.2f} | "
                         f"{target} | {ok} |")
    notes = os.path.join(args.out, "notes.md")  # what the figures say, kept across reruns
    if os.path.exists(notes):
        with open(notes) as f:
            lines += ["", f.read().rstrip()]
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    say(f"report written to {os.path.join(args.out, 'README.md')}")


if __name__ == "__main__":
    main()
