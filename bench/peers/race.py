#!/usr/bin/env python3
"""FVD, qcow2 and raw behind NBD servers, driven by one client: a race between formats.

Every image is served on a Unix socket and every measurement is the same client command on its
NBD URI, so the client and its I/O path are the same for every format:

  server        format          served by
  raw/qemu-nbd  raw             qemu-nbd -f raw
  qcow2         qcow2, fresh    qemu-nbd -f qcow2
  qcow2-ovl     qcow2 overlay   qemu-nbd -f qcow2 (its backing file is base.raw)
  raw/nbdkit    raw             nbdkit's own file plugin
  fvd           FVD, fresh      nbdkit with fvd-nbdkit.so
  fvd-ovl       FVD overlay     nbdkit with fvd-nbdkit.so (its base is base.raw)

cache writeback: qemu-nbd --cache=writeback --aio=threads, nbdkit file cache=default, FVD
cache=writeback; cache none: qemu-nbd --cache=none --aio=native (O_DIRECT), FVD cache=none
(O_DIRECT), and nbdkit's file plugin cache=none (it has no O_DIRECT: it drops the page cache
after writes with fadvise and still reads through it; so under cache none FVD's ratio is
against raw by qemu-nbd, the one O_DIRECT raw server).

The client is fio's nbd engine (libnbd), one connection, 4 KiB random (rand4k) or 64 KiB
sequential (seq64k) requests at queue depth 1 and 32, in four states:
  allocating-write  writes to a new image (created again for every run)
  allocated-write   writes over data the image holds (filled once, through its server)
  allocated-read    reads of that data
  base-read         reads of a new image: overlays read their base, fresh images read holes,
                    raw reads the base file itself
Every run starts after a sync, so no write-back of an earlier run's data lands in it (the
allocating-write runs leave 256 MiB dirty each). Runs alternate the servers in a rotating order
within each repetition; each figure is the median IOPS of --runs repetitions, and each ratio the
median of the per-repetition ratios with their min-max. Ratios: each format against raw on the
same server (qcow2 against raw/qemu-nbd, FVD against raw/nbdkit; under cache none raw/qemu-nbd),
and FVD against qcow2 with the server difference divided out: (fvd / its raw) / (qcow2 /
raw-qemu-nbd). --qemu-img-bench adds a second opinion for the rand4k cells: `qemu-img bench` on
the same NBD URIs.

Targets (issue 24): fvd-ovl allocating rand4k writes >= 0.85 of raw on the same server, fvd on
allocated data >= 0.90 (reads and writes), QD1 and QD32, both cache modes.

Usage: bench/peers/race.py [--size 256M] [--runs 5] [--out reports/peers] [--quick]
       bench/peers/race.py --smoke DIR     (a tiny run: every server and state once, for tests)
"""
import argparse
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVERS = ["raw/qemu-nbd", "qcow2", "qcow2-ovl", "raw/nbdkit", "fvd", "fvd-ovl"]
SAME_SERVER_RAW = {"raw/qemu-nbd": "raw/qemu-nbd", "qcow2": "raw/qemu-nbd",
                   "qcow2-ovl": "raw/qemu-nbd", "raw/nbdkit": "raw/nbdkit",
                   "fvd": "raw/nbdkit", "fvd-ovl": "raw/nbdkit"}


def baseline(server, cache):
    """Raw on the same server, for `server`'s ratio. Under cache none nbdkit's file plugin has
    no O_DIRECT (it keeps reading the page cache), so FVD's O_DIRECT is measured against the
    only O_DIRECT raw server, qemu-nbd's."""
    if cache == "none" and server in ("fvd", "fvd-ovl"):
        return "raw/qemu-nbd"
    return SAME_SERVER_RAW[server]
STATES = ["allocating-write", "allocated-write", "allocated-read", "base-read"]
PATTERNS = {"rand4k": 4096, "seq64k": 65536}
DEPTHS = [1, 32]
CACHES = ["writeback", "none"]
MIB = 1 << 20


class Failure(Exception):
    pass


def run(cmd, timeout=600, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise Failure(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r.stdout


def parse_size(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower()
    return int(t[:-1]) * units[t[-1]] if t[-1] in units else int(t)


class Server:
    """One server process on a Unix socket, up until stop(). Readiness is the socket accepting
    a connection (a condition, polled), never a fixed wait."""

    def __init__(self, cmd, sock):
        self.sock = sock
        if os.path.exists(sock):
            os.unlink(sock)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"{' '.join(cmd)} exited ({self.proc.returncode}): "
                              f"{self.proc.stderr.read().strip()}")
            if os.path.exists(sock) and self._accepts():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise Failure(f"{' '.join(cmd)}: no socket {sock} after 30 s")
            time.sleep(0.005)

    def _accepts(self):
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(self.sock)
                return True
            except OSError:
                return False

    @property
    def uri(self):
        return f"nbd+unix:///?socket={self.sock}"

    def stop(self):
        self.proc.terminate()  # both servers close cleanly on SIGTERM
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure(f"server on {self.sock} did not stop on SIGTERM")
        if self.proc.returncode not in (0, -15):
            raise Failure(f"server on {self.sock} exited {self.proc.returncode}: "
                          f"{self.proc.stderr.read().strip()}")


class Race:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.size = parse_size(args.size)
        self.base = os.path.join(self.dir, "base.raw")
        self.sock = os.path.join(self.dir, "s.sock")
        self.io_bytes = {"rand4k": parse_size(args.io_4k), "seq64k": parse_size(args.io_64k)}

    # --- images -------------------------------------------------------------------------------
    def path(self, server, tag):
        ext = {"raw/qemu-nbd": "raw", "raw/nbdkit": "raw", "qcow2": "qcow2", "qcow2-ovl": "qcow2",
               "fvd": "fvd", "fvd-ovl": "fvd"}[server]
        return os.path.join(self.dir, f"{server.replace('/', '-')}-{tag}.{ext}")

    def create(self, server, path):
        if os.path.exists(path):
            os.unlink(path)
        if server.startswith("raw"):
            with open(path, "wb") as f:
                f.truncate(self.size)
        elif server == "qcow2":
            run(["qemu-img", "create", "-q", "-f", "qcow2", path, str(self.size)])
        elif server == "qcow2-ovl":
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", self.base, "-F", "raw", path])
        elif server == "fvd":
            run([self.args.fvd_img, "create", "-q", path, str(self.size)])
        else:
            run([self.args.fvd_img, "create", "-q", "-b", self.base, "-F", "raw", path])

    def serve(self, server, path, cache):
        if server in ("raw/qemu-nbd", "qcow2", "qcow2-ovl"):
            fmt = "raw" if server.startswith("raw") else "qcow2"
            aio = "threads" if cache == "writeback" else "native"
            return Server(["qemu-nbd", "-k", self.sock, "-f", fmt, "--persistent", "-e", "8",
                           f"--cache={cache}", f"--aio={aio}", path], self.sock)
        if server == "raw/nbdkit":
            return Server(["nbdkit", "-f", "-U", self.sock, "file", f"file={path}",
                           f"cache={'default' if cache == 'writeback' else 'none'}"], self.sock)
        return Server(["nbdkit", "-f", "-U", self.sock, self.args.plugin, f"file={path}",
                       f"cache={cache}"], self.sock)

    def prepare(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.base, "wb") as f:
            for i in range(self.size // MIB):
                f.write(bytes([(i * 7 + 1) % 251 + 1]) * MIB)
        self.filled = {}
        for server in SERVERS:
            path = self.path(server, "filled")
            self.create(server, path)
            srv = self.serve(server, path, "writeback")
            try:
                self.fio(srv.uri, "write", 1 << 20, 4, self.size)
            finally:
                srv.stop()
            self.filled[server] = path

    # --- clients ------------------------------------------------------------------------------
    def fio(self, uri, rw, bs, depth, io_bytes):
        os.sync()  # no write-back of earlier runs' data lands in this one
        out = run(["fio", "--name=race", "--ioengine=nbd", f"--uri={uri}", f"--rw={rw}",
                   f"--bs={bs}", f"--iodepth={depth}", f"--size={self.size}",
                   f"--io_size={io_bytes}", "--randrepeat=1", "--output-format=json"])
        job = json.loads(out[out.index("{"):])["jobs"][0]
        kind = "write" if "write" in rw else "read"
        if job["error"] != 0 or job[kind]["io_bytes"] != io_bytes:
            raise Failure(f"fio {rw} on {uri}: error {job['error']}, "
                          f"{job[kind]['io_bytes']} of {io_bytes} bytes")
        return job[kind]["iops"]

    def qemu_img_bench(self, uri, write, depth, io_bytes):
        os.sync()
        count = io_bytes // 4096
        step = 4096 * 7919  # a prime number of blocks: distinct blocks, scattered
        cmd = ["qemu-img", "bench", "-f", "raw", "-c", str(count), "-d", str(depth), "-s", "4k",
               "-S", str(step)] + (["-w"] if write else []) + [uri]
        out = run(cmd)
        secs = float(out.rsplit("Run completed in", 1)[1].split()[0])
        return count / secs

    def measure(self, state, server, pattern, depth, cache, tool):
        write = state.endswith("write")
        if state == "allocating-write" or state == "base-read":
            path = self.path(server, "fresh")
            self.create(server, path)
            if state == "base-read" and server.startswith("raw"):
                path = self.base
        else:
            path = self.filled[server]
        bs = PATTERNS[pattern]
        rw = ("rand" if pattern == "rand4k" else "") + ("write" if write else "read")
        srv = self.serve(server, path, cache)
        try:
            if tool == "qemu-img-bench":
                return self.qemu_img_bench(srv.uri, write, depth, self.io_bytes[pattern])
            return self.fio(srv.uri, rw, bs, depth, self.io_bytes[pattern])
        finally:
            srv.stop()


def cells(args):
    return list(itertools.product(args.states, args.patterns, args.depths, args.caches))


def collect(race, args):
    samples = {}  # (tool, state, pattern, depth, cache, server) -> [iops per repetition]
    tools = ["fio"] + (["qemu-img-bench"] if args.qemu_img_bench else [])
    todo = [(t, c) for c in cells(args) for t in tools if t == "fio" or c[1] == "rand4k"]
    total = len(todo) * len(SERVERS) * args.runs
    done, start = 0, time.monotonic()
    for rep in range(args.runs):
        order = SERVERS[rep % len(SERVERS):] + SERVERS[:rep % len(SERVERS)]
        for tool, (state, pattern, depth, cache) in todo:
            for server in order:
                iops = race.measure(state, server, pattern, depth, cache, tool)
                samples.setdefault((tool, state, pattern, depth, cache, server), []).append(iops)
                done += 1
            elapsed = time.monotonic() - start
            print(f"race: {done}/{total} runs, {elapsed:.0f} s, about "
                  f"{elapsed / done * (total - done):.0f} s left", file=sys.stderr, flush=True)
    return samples


def ratio_stats(num, den):
    rs = [a / b for a, b in zip(num, den) if b > 0]
    return {"median": statistics.median(rs), "min": min(rs), "max": max(rs)} if rs else None


def summarize(samples):
    rows = []
    keys = sorted({k[:5] for k in samples}, key=lambda k: (
        ["fio", "qemu-img-bench"].index(k[0]), STATES.index(k[1]), list(PATTERNS).index(k[2]),
        k[3], CACHES.index(k[4])))
    for key in keys:
        row = {"tool": key[0], "state": key[1], "pattern": key[2], "depth": key[3],
               "cache": key[4], "servers": {}}
        for server in SERVERS:
            s = samples[key + (server,)]
            row["servers"][server] = {
                "iops": statistics.median(s), "samples": s,
                "baseline": baseline(server, key[4]),
                "vs_raw_same_server": ratio_stats(s, samples[key + (baseline(server, key[4]),)])}
        raw_q, raw_k = samples[key + ("raw/qemu-nbd",)], samples[key + ("raw/nbdkit",)]
        row["servers_raw_nbdkit_vs_qemu_nbd"] = ratio_stats(raw_k, raw_q)
        for fvd, qcow in (("fvd", "qcow2"), ("fvd-ovl", "qcow2-ovl")):
            f, q = samples[key + (fvd,)], samples[key + (qcow,)]
            raw_f = samples[key + (baseline(fvd, key[4]),)]
            normalized = [(a / rf) / (b / rq) for a, rf, b, rq in zip(f, raw_f, q, raw_q)]
            row[f"{fvd}_vs_{qcow}_server_divided_out"] = {
                "median": statistics.median(normalized), "min": min(normalized),
                "max": max(normalized)}
        rows.append(row)
    return rows


def targets(rows):
    out = []
    for r in rows:
        if r["tool"] != "fio":
            continue
        if r["state"] == "allocating-write" and r["pattern"] == "rand4k":
            out.append(("fvd-ovl", r, 0.85))
        if r["state"] in ("allocated-write", "allocated-read"):
            out.append(("fvd", r, 0.90))
    return [{"server": s, "state": r["state"], "pattern": r["pattern"], "depth": r["depth"],
             "cache": r["cache"], "target": t,
             "ratio": r["servers"][s]["vs_raw_same_server"]["median"],
             "met": r["servers"][s]["vs_raw_same_server"]["median"] >= t}
            for s, r, t in out]


def fmt_ratio(r):
    return f"{r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f})"


def write_report(result, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    a = result["args"]
    lines = [
        "# Formats behind NBD, one client (bench/peers/race.py)", "",
        f"{a['size']} disks on {a['dir']}, {a['runs']} repetitions (servers alternating), "
        f"{parse_size(a['io_4k']) // 4096} rand4k / {parse_size(a['io_64k']) // 65536} seq64k "
        "requests per run, through fio's nbd engine on a Unix socket. "
        f"Run {result['when']} on {result['host']}, {result['cpus']} CPUs.", "",
        "Each cell: median IOPS, then the ratio against raw on the same server (qcow2 against "
        "raw by qemu-nbd, FVD against raw by nbdkit's file plugin; under cache none, where "
        "nbdkit's file plugin has no O_DIRECT and still reads the page cache, FVD against raw by "
        "qemu-nbd): median and min-max of the per-repetition ratios. `fvd/qcow2` divides the "
        "server difference out: (fvd / its raw) / (qcow2 / raw by qemu-nbd). "
        "`nbdkit/qemu-nbd` is raw on the two servers.", ""]
    for tool in ("fio", "qemu-img-bench"):
        rows = [r for r in result["rows"] if r["tool"] == tool]
        if not rows:
            continue
        lines += [f"## {'fio nbd engine' if tool == 'fio' else 'qemu-img bench (second opinion)'}",
                  "", "| state | pattern | QD | cache | " + " | ".join(SERVERS) +
                  " | fvd/qcow2 | fvd-ovl/qcow2-ovl | nbdkit/qemu-nbd |",
                  "|---|---|---:|---|" + "---:|" * (len(SERVERS) + 3)]
        for r in rows:
            cells_ = []
            for s in SERVERS:
                v = r["servers"][s]
                c = f"{v['iops']:,.0f}"
                if s not in ("raw/qemu-nbd", "raw/nbdkit"):
                    c += "<br>" + fmt_ratio(v["vs_raw_same_server"])
                cells_.append(c)
            lines.append(f"| {r['state']} | {r['pattern']} | {r['depth']} | {r['cache']} | " +
                         " | ".join(cells_) + " | " +
                         fmt_ratio(r["fvd_vs_qcow2_server_divided_out"]) + " | " +
                         fmt_ratio(r["fvd-ovl_vs_qcow2-ovl_server_divided_out"]) + " | " +
                         fmt_ratio(r["servers_raw_nbdkit_vs_qemu_nbd"]) + " |")
        lines.append("")
    lines += ["## Targets (fio, ratio against raw on the same server; cache none: raw by "
              "qemu-nbd)", ""]
    for t in result["targets"]:
        lines.append(f"- {t['server']} {t['state']} {t['pattern']} QD{t['depth']} {t['cache']}: "
                     f"**{t['ratio']:.2f}x** (target >= {t['target']}) "
                     f"{'met' if t['met'] else 'MISSED'}")
    lines.append("")
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(lines))
        if result.get("notes"):
            f.write("\n" + result["notes"])


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fvd-img", default=os.path.join(ROOT, "build/default/tools/fvd-img/fvd-img"))
    p.add_argument("--plugin",
                   default=os.path.join(ROOT, "build/default/tools/nbdkit/fvd-nbdkit.so"))
    p.add_argument("--dir", default="/var/tmp/fvd-race",
                   help="scratch directory on the filesystem under test (emptied first)")
    p.add_argument("--size", default="256M", help="disk size (default 256M)")
    p.add_argument("--io-4k", default="32M", help="bytes per rand4k run (default 32M)")
    p.add_argument("--io-64k", default="128M", help="bytes per seq64k run (default 128M)")
    p.add_argument("--runs", type=int, default=5, help="repetitions (default 5)")
    p.add_argument("--states", default=",".join(STATES))
    p.add_argument("--patterns", default=",".join(PATTERNS))
    p.add_argument("--depths", default="1,32")
    p.add_argument("--caches", default=",".join(CACHES))
    p.add_argument("--qemu-img-bench", action="store_true",
                   help="also measure rand4k cells with qemu-img bench on the same URIs")
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "peers"))
    p.add_argument("--notes", help="a Markdown file appended to the report")
    p.add_argument("--quick", action="store_true", help="3 repetitions, rand4k only")
    p.add_argument("--smoke", metavar="DIR",
                   help="a tiny run for tests: 8 MiB disks, one repetition, report in DIR")
    args = p.parse_args()
    if args.quick:
        args.runs, args.patterns = 3, "rand4k"
    if args.smoke:
        args.size, args.io_4k, args.io_64k, args.runs = "8M", "256k", "1M", 1
        args.out, args.dir = args.smoke, os.path.join(args.smoke, "scratch")
    try:
        args.states = [s for s in args.states.split(",") if s]
        args.patterns = [s for s in args.patterns.split(",") if s]
        args.depths = [int(d) for d in args.depths.split(",") if d]
        args.caches = [s for s in args.caches.split(",") if s]
        bad = ([s for s in args.states if s not in STATES] +
               [s for s in args.patterns if s not in PATTERNS] +
               [c for c in args.caches if c not in CACHES])
        if bad or not all(d > 0 for d in args.depths):
            p.error(f"unknown value(s): {', '.join(bad) or args.depths}")
    except ValueError as e:
        p.error(str(e))
    for tool in ("fio", "qemu-nbd", "nbdkit", "qemu-img", args.fvd_img, args.plugin):
        if not (shutil.which(tool) or os.path.exists(tool)):
            sys.exit(f"race: {tool} not found (scripts/setup.sh, scripts/build.sh default)")
    shutil.rmtree(args.dir, ignore_errors=True)
    race = Race(args)
    try:
        race.prepare()
        samples = collect(race, args)
    except (Failure, subprocess.TimeoutExpired) as e:
        sys.exit(f"race: {e}")
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)
    rows = summarize(samples)
    notes = open(args.notes).read() if args.notes else ""
    result = {"args": {k: v for k, v in vars(args).items() if k != "notes"},
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "host": os.uname().nodename, "cpus": os.cpu_count(),
              "rows": rows, "targets": targets(rows), "notes": notes,
              "samples": [{"key": list(k), "iops": v} for k, v in samples.items()]}
    write_report(result, args.out)
    print(f"race: report in {os.path.join(args.out, 'README.md')}")


if __name__ == "__main__":
    main()
