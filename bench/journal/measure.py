#!/usr/bin/env python3
"""The journal modes side by side, in the simulator, on the same workload and seeds.

Runs workloads/journal.yaml (allocating 4 KiB random writes over an overlay, a flush every
64 writes), and the same with no guest flushes at all (so only full buffers and the timer
write the buffered journal), in each mode:
  raw                 no base and not compact: no metadata to record (the baseline)
  unbuffered          every journal record written through before the write completes
  buffered B / J      records gathered in a B buffer (16, 64, 256 KiB), a J journal (1, 4,
                      16 MiB), written at a guest flush, when the buffer fills, or on a timer
and, for recovery, the same runs with the host crashing a few times. Reports per mode, as
medians over the seeds (min-max): guest write latency p50/p99, throughput against raw,
journal writes and sector writes per guest write, image flushes per guest write, guest flush
p99, journal recycles per GiB written and the time writers waited on them, and the longest
recovery after a crash.

Targets (issue 7): buffered within 10% of raw throughput (ratio >= 0.90); unbuffered at most
one journal write per allocating write.

Usage: bench/journal/measure.py [--fvdsim PATH] [--seeds 1,2,3] [--out DIR]
Exits 1 when a target is missed.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from simvariants import fmt, run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOAD = os.path.join(ROOT, "workloads", "journal.yaml")
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30


def modes():
    """(name, image keys, edit of the document) for every mode."""
    def no_base(doc):
        for vm in doc["vms"]:
            vm.pop("base", None)
            vm["image"]["size"] = "16GiB"
    out = [("raw", {"journal_size": 0}, no_base)]
    for journal in (1, 4, 16):
        out.append((f"unbuffered / {journal}MiB",
                    {"journal_mode": "unbuffered", "journal_size": f"{journal}MiB"}, None))
    for buf in (16, 64, 256):
        for journal in (1, 4, 16):
            out.append((f"buffered {buf}KiB / {journal}MiB",
                        {"journal_mode": "buffered", "journal_buffer": f"{buf}KiB",
                         "journal_size": f"{journal}MiB"}, None))
    return out


def with_crashes(edit):
    def crash(doc):
        if edit:
            edit(doc)
        doc["crashes"] = [{"vm": "vm", "random_per_hour": 36000, "max_crashes": 5}]
    return crash


def without_flushes(edit):
    def no_flush(doc):
        if edit:
            edit(doc)
        for vm in doc["vms"]:
            for phase in vm["phases"]:
                phase["flush_every_writes"] = 0
    return no_flush


# (title, edit of every mode's document): the first carries the targets.
STREAMS = [("A flush every 64 writes", lambda edit: edit),
           ("No guest flushes", without_flushes)]


def figures(j):
    vm = j["vms"][0]
    writes = max(vm["writes"], 1)
    gib = max(vm["bytes_written"], 1) / GIB
    return {
        "write_p50_us": vm["write_p50_us"],
        "write_p99_us": vm["write_p99_us"],
        "mib_s": vm["bytes_written"] / MIB / j["sim_time_s"],
        "journal_writes_per_write": vm["journal_writes"] / writes,
        "journal_sectors_per_write": vm["journal_sector_writes"] / writes,
        "journal_writes_per_allocating": vm["journal_writes"] / max(vm["allocating_writes"], 1),
        "allocating_share": vm["allocating_writes"] / writes,
        "device_flushes_per_write": (vm["data_flushes"] + vm["image_flushes"]) / writes,
        "flush_p99_us": vm["flush_p99_us"],
        "recycles_per_gib": vm["journal_recycles"] / gib,
        "recycle_wait_ms": vm["journal_recycle_wait_ms"],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fvdsim", default=os.path.join(ROOT, "build/default/sim/fvdsim"))
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "journal"))
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    tables = []
    for title, stream in STREAMS:
        tables.append((title, measure(args.fvdsim, seeds, title, stream)))
    os.makedirs(args.out, exist_ok=True)
    missed = write_report(tables, seeds, os.path.join(args.out, "README.md"))
    print(f"journal: report in {os.path.join(args.out, 'README.md')}", file=sys.stderr)
    return 1 if missed else 0


def measure(fvdsim, seeds, title, stream):
    """[(mode, {figure: [per seed]})] for every mode, with `stream` applied."""
    rows = []
    for name, changes, edit in modes():
        print(f"journal: {title.lower()}: {name}", file=sys.stderr, flush=True)
        edit = stream(edit)
        runs = [figures(run(fvdsim, WORKLOAD, s, changes, edit=edit)) for s in seeds]
        crashed = [run(fvdsim, WORKLOAD, s, changes, edit=with_crashes(edit)) for s in seeds]
        row = {k: [r[k] for r in runs] for k in runs[0]}
        row["recovery_max_ms"] = [c["vms"][0]["recovery_max_ms"] for c in crashed]
        row["crashes"] = [c["crashes"] for c in crashed]
        rows.append((name, row))
    raw = rows[0][1]
    for _, row in rows:
        row["throughput_vs_raw"] = [m / r for m, r in zip(row["mib_s"], raw["mib_s"])]
    return rows


def write_report(tables, seeds, path):
    L = ["# Journal modes side by side (bench/journal/measure.py)", "",
         "`workloads/journal.yaml`: 20,000 allocating 4 KiB random writes at queue depth 4 over "
         "an overlay of a 16 GiB base, on the simulated SSD; first with a flush every 64 writes "
         "(the workload as shipped), then with no guest flushes at all. "
         f"Medians over seeds {', '.join(map(str, seeds))} (min-max). `raw` is the same engine "
         "with nothing to record (no base, not compact, no journal)."]
    for title, rows in tables:
        L += ["", f"## {title}", "",
              "| mode | write p50 µs | write p99 µs | throughput vs raw | journal writes / write "
              "| journal sectors / write | device flushes / write | flush p99 µs "
              "| recycles / GiB | recycle wait ms | recovery ms (max) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in rows:
            L.append(f"| {name} | {fmt(r['write_p50_us'], 1)} | {fmt(r['write_p99_us'], 1)} | "
                     f"{fmt(r['throughput_vs_raw'])} | {fmt(r['journal_writes_per_write'], 4)} | "
                     f"{fmt(r['journal_sectors_per_write'], 3)} | "
                     f"{fmt(r['device_flushes_per_write'], 3)} | {fmt(r['flush_p99_us'], 1)} | "
                     f"{fmt(r['recycles_per_gib'], 1)} | {fmt(r['recycle_wait_ms'], 1)} | "
                     f"{fmt(r['recovery_max_ms'], 2)} |")
    L += ["", "Unbuffered mode writes data and journal records through (FUA), so a guest flush "
          "has nothing left to do (flush p99 0). Buffered mode writes its buffer at a guest "
          "flush, when the next record would overflow it (in the background: the writer does "
          "not wait, and while it is in flight up to 8 buffers' worth queue up behind it), or "
          "on a 5 s timer; each write-out flushes the data first (the durability "
          "order). A journal sector holds 30 one-block bitmap records, so with a flush every 64 "
          "writes even a 16 KiB buffer (960 records) never fills and the buffer size changes "
          "nothing; without flushes it sets how often the data is flushed. Recycles and their "
          "waits appear once a mode's journal traffic exceeds the journal: buffered mode writes "
          "about one sector per 30 allocating writes, too little to fill even 1 MiB in 20,000 "
          "writes. Recovery replays the whole journal area, so it grows with the journal size.",
          "", f"## Targets ({tables[0][0].lower()})", ""]
    rows = tables[0][1]
    missed = False
    for name, r in rows:
        if name.startswith("buffered"):
            x = statistics.median(r["throughput_vs_raw"])
            ok = x >= 0.90
            missed |= not ok
            L.append(f"- {name}: throughput {x:.3f}x raw (target >= 0.90): "
                     f"{'met' if ok else '**missed**'}")
        if name.startswith("unbuffered"):
            x = statistics.median(r["journal_writes_per_allocating"])
            ok = x <= 1.0
            missed |= not ok
            L.append(f"- {name}: {x:.3f} journal writes per allocating write (target <= 1): "
                     f"{'met' if ok else '**missed**'}; "
                     f"{statistics.median(r['allocating_share']) * 100:.1f}% of writes allocate")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")
    return missed


if __name__ == "__main__":
    sys.exit(main())
