#!/usr/bin/env python3
"""FVD over a base on a remote NBD server with a bandwidth limit: what prefetch and
copy-on-read cost that server, measured for real.

The base is served by nbdkit's file plugin behind its `rate` filter (--rate bits per second,
the shared network storage of FVD's clouds) and its `stats` filter (bytes the server sent).

  prefetch   an overlay with prefetch_start_delay=1, opened by fvd-nbdkit.so (no client I/O):
             the time from the export's start to the header's self_contained flag, less the
             1 s delay, against the bandwidth bound (base bytes / rate); and the base bytes
  boot       a boot-like read pattern (scattered 64 KiB reads over a quarter of the disk, a
             tenth of them twice), run twice as two boots of one overlay by `fvd-img io`, with
             copy-on-read off and on: each boot's time and the base bytes of both boots

Each case runs --runs times (the cases alternate); the report has medians and min-max. The
rate filter is a token bucket that starts full (about 2 s of its rate measured here: 8 MiB at
8 Mbit/s took 6.0 s, not 8.4), so a base much larger than that is needed for the bound to mean
anything: the defaults give a 16.8 s bound.

Usage: bench/remote/measure.py [--base-mib 64] [--rate 32M] [--runs 3] [--out reports/remote]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1 << 20
UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


class Failure(Exception):
    pass


def run(cmd, timeout=900):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise Failure(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r.stdout


def rate_bits(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgG]?)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"--rate {text}: expected bits per second like 64M")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()]


class Server:
    """nbdkit in the foreground on a Unix socket; ready when the socket accepts."""

    def __init__(self, sock, args):
        self.sock = sock
        if os.path.exists(sock):
            os.unlink(sock)
        self.proc = subprocess.Popen(["nbdkit", "-f", "-U", sock, *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"nbdkit {' '.join(args)} exited: {self.proc.stderr.read()}")
            if os.path.exists(sock):
                with socket.socket(socket.AF_UNIX) as s:
                    try:
                        s.connect(sock)
                        break
                    except OSError:
                        pass
            if time.monotonic() > deadline:
                raise Failure(f"nbdkit {' '.join(args)}: no socket after 60 s")
            time.sleep(0.01)

    @property
    def uri(self):
        return f"nbd+unix:///?socket={self.sock}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the stats filter writes its file at exit
            self.proc.wait(timeout=120)
        self.proc.stderr.close()


class Bench:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.base = os.path.join(self.dir, "base.raw")
        self.stats = os.path.join(self.dir, "stats.txt")
        self.size = args.base_mib * MIB

    def prepare(self):
        os.makedirs(self.dir, exist_ok=True)
        rnd = random.Random(1)
        with open(self.base, "wb") as f:
            for _ in range(self.args.base_mib):
                f.write(rnd.randbytes(MIB))

    def serve_base(self):
        if os.path.exists(self.stats):
            os.unlink(self.stats)
        return Server(os.path.join(self.dir, "base.sock"),
                      ["--filter=stats", "--filter=rate", "file", f"file={self.base}",
                       f"rate={int(self.args.rate)}", f"statsfile={self.stats}"])

    def base_bytes(self):
        with open(self.stats) as f:
            for line in f:
                m = re.match(r"read: \d+ ops, [0-9.]+ s, ([0-9.]+) (\w+)", line)
                if m:
                    return float(m.group(1)) * UNITS[m.group(2)]
        return 0.0

    def overlay(self, base_uri, *opts):
        img = os.path.join(self.dir, "o.fvd")
        if os.path.exists(img):
            os.unlink(img)
        run([self.args.fvd_img, "create", "-q", "-b", base_uri] +
            (["-o", ",".join(opts)] if opts else []) + [img])
        return img

    def self_contained(self, img):
        info = json.loads(run([self.args.fvd_img, "info", "--output=json", img]))
        return info["format-specific"]["data"]["self_contained"]

    def prefetch(self):
        base = self.serve_base()
        try:
            img = self.overlay(base.uri, "prefetch_start_delay=1")
            start = time.monotonic()
            export = Server(os.path.join(self.dir, "o.sock"), [self.args.plugin, f"file={img}"])
            try:
                while not self.self_contained(img):
                    if time.monotonic() - start > 3600:
                        raise Failure("prefetch did not finish in an hour")
                    time.sleep(0.05)
                took = time.monotonic() - start - 1.0
            finally:
                export.stop()
        finally:
            base.stop()
        bound = self.size * 8 / self.args.rate
        return {"seconds": took, "bound_seconds": bound, "vs_bound": took / bound,
                "base_bytes": self.base_bytes(), "base_bytes_vs_size": self.base_bytes() / self.size}

    def boot_commands(self):
        rnd = random.Random(7)
        extents = self.size // 65536
        chosen = rnd.sample(range(extents), extents // 4)
        again = rnd.sample(chosen, len(chosen) // 10)
        order = chosen + again
        return [a for e in order for a in ("-c", f"read {e * 65536} 64k")]

    def boot(self, copy_on_read):
        base = self.serve_base()
        times = []
        try:
            img = self.overlay(base.uri, f"copy_on_read={'on' if copy_on_read else 'off'}")
            cmds = self.boot_commands()
            for _ in range(2):
                t0 = time.monotonic()
                run([self.args.fvd_img, "io", img] + cmds)
                times.append(time.monotonic() - t0)
        finally:
            base.stop()
        return {"first_boot_seconds": times[0], "second_boot_seconds": times[1],
                "base_bytes": self.base_bytes(), "base_bytes_vs_size": self.base_bytes() / self.size}


def median_spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fvd-img", default=os.path.join(ROOT, "build/default/tools/fvd-img/fvd-img"))
    p.add_argument("--plugin",
                   default=os.path.join(ROOT, "build/default/tools/nbdkit/fvd-nbdkit.so"))
    p.add_argument("--base-mib", type=int, default=64, help="base size in MiB (default 64)")
    p.add_argument("--rate", type=rate_bits, default=rate_bits("32M"),
                   help="the base server's bandwidth in bits per second (default 32M)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--dir", default=None, help="scratch directory (default: a new one in /var/tmp)")
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "remote"))
    args = p.parse_args()
    if args.base_mib <= 0 or args.runs <= 0:
        p.error("--base-mib and --runs must be positive")
    for tool in ("nbdkit", args.fvd_img, args.plugin):
        if not (shutil.which(tool) or os.path.exists(tool)):
            sys.exit(f"remote: {tool} not found (scripts/setup.sh, scripts/build.sh default)")
    args.dir = args.dir or tempfile.mkdtemp(prefix="fvd-remote-bench-", dir="/var/tmp")
    bench = Bench(args)
    runs = {"prefetch": [], "boot, copy-on-read off": [], "boot, copy-on-read on": []}
    try:
        bench.prepare()
        for i in range(args.runs):
            for name in runs:
                print(f"remote: run {i + 1}/{args.runs}: {name}", file=sys.stderr, flush=True)
                if name == "prefetch":
                    runs[name].append(bench.prefetch())
                else:
                    runs[name].append(bench.boot(copy_on_read=name.endswith("on")))
    except (Failure, subprocess.TimeoutExpired) as e:
        sys.exit(f"remote: {e}")
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)
    summary = {name: {k: median_spread([r[k] for r in rs]) for k in rs[0]}
               for name, rs in runs.items()}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"base_mib": args.base_mib, "rate_bits_per_s": args.rate, "runs": runs,
                   "summary": summary}, f, indent=1)
    write_report(args, summary)
    print(f"remote: report in {os.path.join(args.out, 'README.md')}")


def write_report(args, s):
    def m(d, fmt="{:.2f}"):
        return f"{fmt.format(d['median'])} ({fmt.format(d['min'])}-{fmt.format(d['max'])})"

    mib = lambda d: {k: v / MIB for k, v in d.items()}  # noqa: E731
    pf = s["prefetch"]
    lines = [
        "# FVD over a remote base (bench/remote/measure.py)", "",
        f"A {args.base_mib} MiB base served by nbdkit's file plugin behind its `rate` filter "
        f"({args.rate / 1e6:g} Mbit/s) and `stats` filter (bytes the server sent), on a Unix "
        f"socket; {args.runs} runs of each case, alternating; medians (min-max). "
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.uname().nodename}.", "",
        "## Whole-image prefetch", "",
        "| time to prefetch (s) | bandwidth bound (s) | time / bound | base MiB sent | / base size |",
        "|---:|---:|---:|---:|---:|",
        f"| {m(pf['seconds'])} | {pf['bound_seconds']['median']:.2f} | {m(pf['vs_bound'])} | "
        f"{m(mib(pf['base_bytes']), '{:.1f}')} | {m(pf['base_bytes_vs_size'])} |", "",
        "## Two boots of one overlay (a boot-like read pattern, run twice)", "",
        "| copy-on-read | first boot (s) | second boot (s) | base MiB sent, both boots | / base size |",
        "|---|---:|---:|---:|---:|"]
    for name, label in (("boot, copy-on-read off", "off"), ("boot, copy-on-read on", "on")):
        b = s[name]
        lines.append(f"| {label} | {m(b['first_boot_seconds'])} | {m(b['second_boot_seconds'])} | "
                     f"{m(mib(b['base_bytes']), '{:.1f}')} | {m(b['base_bytes_vs_size'])} |")
    lines += ["", "The bound is base bytes / rate; the rate filter's token bucket starts full "
              "(about 2 s of its rate), so a prefetch can come in under it by that much. "
              "The boot reads a quarter of the disk in scattered 64 KiB reads, a tenth of "
              "them twice. Without copy-on-read both boots fetch everything from the server; "
              "with it the second boot reads the image.", ""]
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
