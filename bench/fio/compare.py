#!/usr/bin/env python3
"""IOPS of FVD through libfvd_fio.so against a raw file through fio's own engines, in one run.

Each case runs the same fio job twice: on an FVD image through the plugin, and on a raw file
of the same size through psync (iodepth 1) or io_uring (iodepth 32). Every pair runs --runs
times, alternating, and the table shows medians and the ratio FVD/raw. "allocated" cases run
on data already in the image; "allocating" writes go to a fresh image, so each one allocates
(bitmap or chunk-table update through the journal).

  bench/fio/compare.py --plugin build/default/bench/fio/libfvd_fio.so [--dir DIR] [--json OUT]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CASES = [
    # name, rw, iodepth, allocated
    ("4k randread qd1", "randread", 1, True),
    ("4k randread qd32", "randread", 32, True),
    ("4k randwrite qd1", "randwrite", 1, True),
    ("4k randwrite qd32", "randwrite", 32, True),
    ("4k randwrite qd32 allocating", "randwrite", 32, False),
]


def run_fio(args):
    r = subprocess.run(["fio", "--output-format=json", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"fio failed: {' '.join(args)}\n{r.stdout}\n{r.stderr}")
    # A sync engine prints a note before the JSON.
    out = r.stdout[r.stdout.index("{"):]
    job = json.loads(out)["jobs"][0]
    return job["read"]["iops"] + job["write"]["iops"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plugin", required=True, help="path to libfvd_fio.so")
    p.add_argument("--dir", default=None, help="where the files go (default: a temp dir)")
    p.add_argument("--size", default="256m", help="file and image size (default 256m)")
    p.add_argument("--runtime", type=int, default=3, help="seconds per run (default 3)")
    p.add_argument("--runs", type=int, default=3, help="runs per case, median (default 3)")
    p.add_argument("--direct", action="store_true",
                   help="O_DIRECT for both (fvd_cache=none, direct=1)")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    plugin = os.path.abspath(a.plugin)
    tmp = tempfile.TemporaryDirectory(dir=a.dir)
    raw, fvd = os.path.join(tmp.name, "raw.img"), os.path.join(tmp.name, "disk.fvd")
    # invalidate=0: fio cannot drop an FVD image's cache, so it keeps the raw file's too.
    common = [f"--size={a.size}", "--bs=4k", "--randrepeat=0", "--norandommap", "--invalidate=0",
              f"--direct={int(a.direct)}"]
    fvd_opts = [f"--ioengine=external:{plugin}", f"--fvd_size={a.size}"]
    if a.direct:
        fvd_opts.append("--fvd_cache=none")
    timed = ["--time_based", f"--runtime={a.runtime}"]

    def fill(target, engine):  # every block written once: "allocated"
        run_fio(["--name=fill", f"--filename={target}", *engine, "--rw=write", "--bs=1m",
                 f"--size={a.size}", "--end_fsync=1"])

    fill(raw, ["--ioengine=psync"])
    fill(fvd, fvd_opts)
    results = []
    print(f"{'case':32} {'raw IOPS':>12} {'FVD IOPS':>12} {'FVD/raw':>8}")
    for name, rw, depth, allocated in CASES:
        raw_engine = ["--ioengine=psync"] if depth == 1 else ["--ioengine=io_uring"]
        raw_iops, fvd_iops = [], []
        for _ in range(a.runs):
            raw_iops.append(run_fio(["--name=raw", f"--filename={raw}", *raw_engine, *common,
                                     f"--rw={rw}", f"--iodepth={depth}", *timed]))
            target = fvd
            if not allocated:
                target = os.path.join(tmp.name, "fresh.fvd")
                if os.path.exists(target):
                    os.remove(target)
            fvd_iops.append(run_fio(["--name=fvd", f"--filename={target}", *fvd_opts, *common,
                                     f"--rw={rw}", f"--iodepth={depth}", *timed]))
        r, f = statistics.median(raw_iops), statistics.median(fvd_iops)
        results.append({"case": name, "raw_iops": r, "fvd_iops": f, "ratio": f / r,
                         "raw_runs": raw_iops, "fvd_runs": fvd_iops})
        print(f"{name:32} {r:12.0f} {f:12.0f} {f / r:8.2f}", flush=True)
    print("\nTarget: FVD/raw >= 0.90 on allocated data. Allocating writes update metadata "
          "through the journal; see the README for what limits them.")
    if a.json:
        with open(a.json, "w") as out:
            json.dump({"size": a.size, "runtime_s": a.runtime, "runs": a.runs,
                       "direct": a.direct, "results": results}, out, indent=2)


if __name__ == "__main__":
    main()
