#!/usr/bin/env python3
"""A comparison of TOOLS, not formats: `qemu-img bench` on raw and qcow2 files against
`fvd-img bench` on FVD files (fresh, and overlays on a raw base), in one run on one filesystem.
The two tools have different I/O paths (fvd-img bench is the leaner loop: it shows FVD "faster
than raw"), so its ratios carry the tool difference. For formats compared through one client,
see race.py (reports/peers/). This report goes to reports/peers/tools/.

Every measurement is one `qemu-img bench` (raw, qcow2) or `fvd-img bench` (FVD) command line,
the same flags for both tools:
  rand4k  4 KiB requests scattered over the disk: the step is 7919 blocks (a prime, so the
          requests visit distinct blocks in a scattered order before any repeats)
  seq64k  64 KiB sequential requests
at queue depth 1 and 32, cache writeback and none (O_DIRECT), in four states:
  allocating-write  writes to a new image (created again before every repetition)
  allocated-write   writes over data the image already holds (written once before)
  allocated-read    reads of that data
  base-read         reads of a new image: overlays read their base, fresh images read holes;
                    raw reads the base file itself
Each figure is IOPS, the median of --repetitions runs (repetitions interleave the formats, so
drift in the machine hits all alike), reported as a ratio against raw in the same state with
the spread (min-max of the per-repetition ratios).

Counting: one allocating rand4k run per format under strace (thread-pool I/O: -i threads)
counts, per guest write, the data writes, metadata writes (a write outside the data clusters
the image's map reports afterwards), flushes and base-file reads.

Targets (issue 7): fvd-overlay >= 3x qcow2-overlay on allocating rand4k writes; fvd on
allocated data >= 0.95x raw, reads and writes.

Usage: bench/peers/compare.py [--fvd-img PATH] [--dir DIR] [--size 1G] [--repetitions 5]
                              [--out reports/peers] [--quick]
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORMATS = ["raw", "qcow2", "qcow2-overlay", "fvd", "fvd-overlay"]
STATES = ["allocating-write", "allocated-write", "allocated-read", "base-read"]
PATTERNS = {"rand4k": (4096, 4096 * 7919), "seq64k": (65536, 65536)}
DONE = re.compile(r"Run completed in ([0-9.]+) seconds")


def sh(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"peers: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


class Bench:
    def __init__(self, args):
        self.fvd_img = args.fvd_img
        self.dir = args.dir
        self.size = args.size
        self.base = os.path.join(self.dir, "base.raw")
        self.counts = {"rand4k": args.count_4k, "seq64k": args.count_64k}

    def path(self, fmt, tag):
        ext = "fvd" if fmt.startswith("fvd") else ("qcow2" if fmt.startswith("qcow2") else "raw")
        return os.path.join(self.dir, f"{fmt}-{tag}.{ext}")

    def create(self, fmt, path):
        if os.path.exists(path):
            os.unlink(path)
        size = str(self.size)
        if fmt == "raw":
            with open(path, "wb") as f:
                f.truncate(self.size)
        elif fmt == "qcow2":
            sh("qemu-img", "create", "-q", "-f", "qcow2", path, size)
        elif fmt == "qcow2-overlay":
            sh("qemu-img", "create", "-q", "-f", "qcow2", "-b", self.base, "-F", "raw", path)
        elif fmt == "fvd":
            sh(self.fvd_img, "create", "-q", path, size)
        elif fmt == "fvd-overlay":
            sh(self.fvd_img, "create", "-q", "-b", self.base, "-F", "raw", path)
        return path

    def command(self, fmt, path, write, pattern, depth, cache, count=None, extra=()):
        bs, step = PATTERNS[pattern]
        tool = [self.fvd_img, "bench"] if fmt.startswith("fvd") else \
            ["qemu-img", "bench", "-f", "raw" if fmt == "raw" else "qcow2"]
        cmd = tool + ["-c", str(count or self.counts[pattern]), "-d", str(depth), "-s", str(bs),
                      "-S", str(step), "-t", cache, *extra]
        if write:
            cmd += ["-w", "--pattern", "171"]
        return cmd + [path]

    def iops(self, fmt, path, write, pattern, depth, cache):
        cmd = self.command(fmt, path, write, pattern, depth, cache)
        m = DONE.search(sh(*cmd))
        if not m:
            sys.exit(f"peers: no 'Run completed' line from {' '.join(cmd)}")
        return self.counts[pattern] / max(float(m.group(1)), 1e-6)

    def prepare(self):
        os.makedirs(self.dir, exist_ok=True)
        # The base: every byte written (not a sparse file), so base reads do real I/O.
        with open(self.base, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(self.size >> 20):
                f.write(chunk)
        # Allocated images: every block written once, sequentially, in 1 MiB requests.
        self.allocated, self.fresh = {}, {}
        for fmt in FORMATS:
            p = self.create(fmt, self.path(fmt, "allocated"))
            bench = [self.fvd_img, "bench"] if fmt.startswith("fvd") else \
                ["qemu-img", "bench", "-f", "raw" if fmt == "raw" else "qcow2"]
            sh(*bench, "-w", "-q", "-c", str(self.size >> 20), "-d", "4", "-s", "1M",
               "--pattern", "85", p)
            self.allocated[fmt] = p
            self.fresh[fmt] = self.base if fmt == "raw" else self.create(fmt, self.path(fmt, "fresh"))

    def measure(self, state, fmt, pattern, depth, cache):
        if state == "allocating-write":
            p = self.create(fmt, self.path(fmt, "new"))
            return self.iops(fmt, p, True, pattern, depth, cache)
        if state == "base-read":
            return self.iops(fmt, self.fresh[fmt], False, pattern, depth, cache)
        return self.iops(fmt, self.allocated[fmt], state == "allocated-write", pattern, depth,
                         cache)


def data_ranges(b, fmt, path):
    """Host byte ranges of the data clusters the image holds (from its map), or None (raw)."""
    if fmt == "raw":
        return None
    tool = [b.fvd_img, "map", "--output=json"] if fmt.startswith("fvd") else \
        ["qemu-img", "map", "--output=json", "-f", "qcow2"]
    return [(e["offset"], e["offset"] + e["length"]) for e in json.loads(sh(*tool, path))
            if e.get("depth") == 0 and e.get("data") and "offset" in e]


# fdatasync(fd) has no arguments after the descriptor.
SYSCALL = re.compile(r"^(\w+)\((\d+)<([^>]*)>(?:, (.*))?\) += (-?\d+)")


def count_io(b, fmt, writes=8192):
    """Per allocating 4 KiB write: data writes, metadata writes, flushes, base reads, bytes."""
    if not shutil.which("strace"):
        return None
    p = b.create(fmt, b.path(fmt, "counted"))
    prefix = os.path.join(b.dir, "strace")
    for old in glob.glob(prefix + ".*"):
        os.unlink(old)
    cmd = b.command(fmt, p, True, "rand4k", 1, "writeback", count=writes,
                    extra=["-i", "threads"])
    sh("strace", "-ff", "-y", "-qq", "-o", prefix, "-e",
       "trace=pwrite64,pwritev,pwritev2,pread64,preadv,preadv2,fdatasync,fsync", *cmd)
    ranges = data_ranges(b, fmt, p)
    image, base = os.path.realpath(p), os.path.realpath(b.base)
    c = {"data_writes": 0, "metadata_writes": 0, "flushes": 0, "base_reads": 0,
         "bytes_written": 0}
    for trace in glob.glob(prefix + ".*"):
        for line in open(trace, errors="replace"):
            m = SYSCALL.match(line)
            if not m or int(m.group(5)) < 0:
                continue
            call, path, args, ret = m.group(1), m.group(3), m.group(4), int(m.group(5))
            if call in ("fdatasync", "fsync"):
                c["flushes"] += path == image
                continue
            tail = args.rsplit(", ", 2)
            offset = int(tail[-2] if call.endswith("2") else tail[-1])
            if call.startswith("pread"):
                c["base_reads"] += path == base
            elif path == image:
                c["bytes_written"] += ret
                inside = ranges is None or any(lo <= offset < hi for lo, hi in ranges)
                c["data_writes" if inside else "metadata_writes"] += 1
        os.unlink(trace)
    return {k: v / writes for k, v in c.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fvd-img", default=os.path.join(ROOT, "build/default/tools/fvd-img/fvd-img"))
    p.add_argument("--dir", default="/var/tmp/fvd-peers",
                   help="scratch directory on the filesystem to measure (default /var/tmp)")
    p.add_argument("--size", default="1G", help="disk size (default 1G)")
    p.add_argument("--repetitions", type=int, default=5)
    p.add_argument("--count-4k", type=int, default=8192)
    p.add_argument("--count-64k", type=int, default=2048)
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "peers", "tools"))
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 64 MiB disk, 3 repetitions, few requests")
    p.add_argument("--from-results", metavar="JSON",
                   help="write the report from a results.json measured before; measure nothing")
    args = p.parse_args()
    if args.from_results:
        with open(args.from_results) as f:
            results = json.load(f)
        os.makedirs(args.out, exist_ok=True)
        write_report(results, os.path.join(args.out, "README.md"))
        return
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    m = re.fullmatch(r"(\d+)([KMG]?)", args.size)
    if not m:
        p.error(f"--size {args.size!r}: a number with K, M or G")
    args.size = int(m.group(1)) * units.get(m.group(2), 1)
    if args.quick:
        args.size, args.repetitions, args.count_4k, args.count_64k = 64 << 20, 3, 512, 256
    if args.size < 1 << 20 or args.repetitions < 1:
        p.error("--size must be at least 1M and --repetitions at least 1")
    for tool in (args.fvd_img, shutil.which("qemu-img")):
        if not tool or not os.access(tool, os.X_OK):
            p.error(f"not found: {tool or 'qemu-img'} (build the default preset; setup.sh "
                    f"installs qemu-utils)")
    b = Bench(args)
    print(f"peers: preparing {args.size >> 20} MiB images in {args.dir}", file=sys.stderr)
    b.prepare()
    cases = [(s, pat, d, c) for s in STATES for pat in PATTERNS for d in (1, 32)
             for c in ("writeback", "none")]
    runs = {}
    for rep in range(args.repetitions):
        print(f"peers: repetition {rep + 1}/{args.repetitions}", file=sys.stderr, flush=True)
        for case in cases:
            for fmt in FORMATS:
                runs.setdefault((case, fmt), []).append(b.measure(*case[:1], fmt, *case[1:]))
    counts = {fmt: count_io(b, fmt) for fmt in FORMATS}
    shutil.rmtree(args.dir, ignore_errors=True)
    results = summarize(cases, runs, counts, args)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_report(results, os.path.join(args.out, "README.md"))
    print(f"peers: report in {os.path.join(args.out, 'README.md')}", file=sys.stderr)


def summarize(cases, runs, counts, args):
    rows = []
    for case in cases:
        raw = runs[(case, "raw")]
        row = {"state": case[0], "pattern": case[1], "depth": case[2], "cache": case[3],
               "formats": {}}
        for fmt in FORMATS:
            v = runs[(case, fmt)]
            ratios = [x / r for x, r in zip(v, raw)]
            row["formats"][fmt] = {"iops_median": statistics.median(v), "iops": v,
                                   "ratio_median": statistics.median(v) / statistics.median(raw),
                                   "ratio_min": min(ratios), "ratio_max": max(ratios)}
        rows.append(row)
    return {"size": args.size, "repetitions": args.repetitions,
            "counts": {"rand4k": args.count_4k, "seq64k": args.count_64k},
            "rows": rows, "per_allocating_write": counts}


def write_report(results, path):
    L = ["# A comparison of tools: qemu-img bench (raw, qcow2) against fvd-img bench (FVD) "
         "(bench/peers/compare.py)", "",
         "Not a comparison of formats: each format runs through a different tool, and "
         "`fvd-img bench` is the leaner loop, so every ratio below carries the tool difference "
         "(FVD shows as faster than raw). Formats through one client: `../README.md` "
         "(bench/peers/race.py).", "",
         f"{results['size'] >> 20} MiB disks, medians of {results['repetitions']} repetitions "
         f"({results['counts']['rand4k']} rand4k / {results['counts']['seq64k']} seq64k "
         "requests each). Each cell: IOPS, then the ratio against raw in the same run "
         "(median, and min-max of the per-repetition ratios).", ""]
    L += ["| state | pattern | QD | cache | " + " | ".join(FORMATS) + " |",
          "|---|---|---:|---|" + "---:|" * len(FORMATS)]
    for r in results["rows"]:
        cells = []
        for fmt in FORMATS:
            f = r["formats"][fmt]
            cells.append(f"{f['iops_median']:,.0f}" if fmt == "raw" else
                         f"{f['iops_median']:,.0f}<br>{f['ratio_median']:.2f}x "
                         f"({f['ratio_min']:.2f}-{f['ratio_max']:.2f})")
        L.append(f"| {r['state']} | {r['pattern']} | {r['depth']} | {r['cache']} | "
                 + " | ".join(cells) + " |")
    L += ["", "## Targets", ""]
    for r in results["rows"]:
        f = r["formats"]
        if r["state"] == "allocating-write" and r["pattern"] == "rand4k":
            x = f["fvd-overlay"]["iops_median"] / f["qcow2-overlay"]["iops_median"]
            per_rep = [a / b for a, b in zip(f["fvd-overlay"]["iops"], f["qcow2-overlay"]["iops"])]
            L.append(f"- fvd-overlay / qcow2-overlay, allocating rand4k writes, QD{r['depth']} "
                     f"{r['cache']}: **{x:.2f}x** ({min(per_rep):.2f}-{max(per_rep):.2f} per "
                     "repetition) (target >= 3)")
    for r in results["rows"]:
        if r["state"] in ("allocated-read", "allocated-write"):
            x = r["formats"]["fvd"]["ratio_median"]
            L.append(f"- fvd / raw, {r['state']} {r['pattern']} QD{r['depth']} {r['cache']}: "
                     f"**{x:.2f}x** (target >= 0.95)")
    L += ["", "## Reading the figures", "",
          "- raw and qcow2 run through `qemu-img bench` (QEMU's block layer, its thread-pool "
          "AIO), FVD through `fvd-img bench` (io_uring; page-cache reads first tried inline "
          "with RWF_NOWAIT, page-cache writes done inline: ext4 cannot do them without "
          "blocking, and buffered writes to one file take its inode lock, so worker threads "
          "would not run them in parallel anyway). At QD1 `fvd-img bench` does every request "
          "the image can do right away synchronously, one `pread` or `pwrite` as psync would "
          "(in-place writes, and allocating writes the buffered journal records in memory), "
          "where `qemu-img bench` hands each request to a worker thread and waits for it: "
          "part of FVD's lead over raw at QD1 is that. Where the page cache serves the request, "
          "most of the difference is the tool's I/O path, not the format: the ratios on "
          "allocated data compare the stacks as much as the formats. For an engine-only "
          "comparison see `bench/engine_bench` (CPU cost against a passthrough) and the fio "
          "plugin's `bench/fio/compare.py` (FVD through fio against fio's own engines on a raw "
          "file).",
          "- base-read on a fresh (baseless) image reads holes: qcow2 and FVD answer zeros "
          "without I/O, raw reads the base file.",
          "- Allocating writes on an overlay: qcow2 copies the rest of its 64 KiB cluster from "
          "the base (one base read and about 66 KB written per 4 KiB, counted below); FVD "
          "writes only the 4 KiB and a 16-byte bitmap record. Its buffered journal holds 30 "
          "records per 512-byte sector, 3,840 in the default 64 KiB buffer. A full buffer is "
          "written out in the background: an fdatasync of the data (the durability order), "
          "then the records. With cache=writeback that fdatasync writes back every dirty page "
          "so far and can outlast the filling of the next buffer, so up to 8 buffers' worth "
          "of records queue up behind it rather than make the guest wait. That is 2 write-outs "
          "in 8,192 writes here.",
          "- At QD1 with cache=none every write waits for the device. FVD's overlay writes "
          "once, one `pwrite` of 4 KiB, as a raw file would; qcow2's overlay reads the rest of "
          "the cluster from the base and writes 64 KiB. Nothing can make a write faster than "
          "the device's own O_DIRECT `pwrite`, so this ratio is about the device's cost of one "
          "4 KiB write against qcow2's read and 64 KiB write, and moves with the machine. "
          "FVD's own code is a few percent of that run's CPU samples (perf); what it adds to a "
          "bare `pwrite` loop is mostly the journal's write-outs: their fdatasync commits "
          "ext4's journal, and the next allocating `pwrite` waits for that commit (strace, "
          "when this was written: two stalls of about 30 ms in 8,192 writes, a tenth of the "
          "run).",
          "", "## What one allocating 4 KiB write costs (strace, 8,192 writes at QD1, writeback, "
          "-i threads)",
          "", "| format | data writes | metadata writes | flushes | base reads | bytes written |",
          "|---|---:|---:|---:|---:|---:|"]
    for fmt, c in results["per_allocating_write"].items():
        if c:
            L.append(f"| {fmt} | {c['data_writes']:.2f} | {c['metadata_writes']:.2f} | "
                     f"{c['flushes']:.4f} | {c['base_reads']:.2f} | {c['bytes_written']:,.0f} |")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
