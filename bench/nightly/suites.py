"""The suites the nightly runner measures, each returning figures (see gate.py):

  micro  Google Benchmark: micro_bench (bitmap, table, extents, journal encoding) and
         engine_bench (read and write paths against a passthrough, recovery), repetitions
         interleaved. Gated: each benchmark's CPU time per iteration divided by the median of
         BM_Calibrate in the same run (wall figures; those the benchmark declares tiny, with
         the label "tiny", get a 25% threshold).
         Reported: the CPU times themselves (info figures).
  sim    every workload in workloads/ through `fvdsim run --json` at fixed seeds: simulated
         figures (exact for a seed) from the first repetition; the simulator's wall time and
         events per wall second from every repetition (info figures: reported, not gated). Every repetition must give the same
         digest and no violations, or the suite fails.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


class SuiteError(Exception):
    """A suite could not measure (a binary failed, a run was not deterministic)."""


def micro_again(build_dir, repetitions, names, min_time=None):
    """The micro figures `names` ("micro/<binary>/<benchmark>") measured once more, in a fresh
    process per binary, with BM_Calibrate beside them."""
    by_binary = {}
    for name in names:
        _, binary, bench = name.split("/", 2)
        by_binary.setdefault(binary, []).append(bench)
    figures = {}
    for binary, benches in by_binary.items():
        exact = "^(" + "|".join(re.escape(b) for b in benches) + ")$"
        figures.update(micro(build_dir, repetitions, exact, min_time, binaries=(binary,)))
    return figures


def progress(msg):
    print(f"nightly: {msg}", file=sys.stderr, flush=True)


def figure(kind, unit, better, values, threshold=None):
    f = {"kind": kind, "unit": unit, "better": better, "values": list(values)}
    if threshold is not None:
        f["threshold"] = threshold
    return f


class Run:
    """One benchmark's repetitions: its time unit, CPU time per iteration of each repetition,
    and whether the benchmark declared itself tiny (bench/calibrate.h, DeclareTiny)."""

    def __init__(self, unit, values=None, tiny=False):
        self.unit, self.values, self.tiny = unit, list(values or []), tiny


def parse_google_benchmark(doc):
    """{run_name: Run} from Google Benchmark's JSON output."""
    runs = {}
    for b in doc.get("benchmarks", []):
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        run = runs.setdefault(b["run_name"], Run(b["time_unit"]))
        run.values.append(b["cpu_time"])
        run.tiny = run.tiny or b.get("label") == TINY_LABEL
    return runs


def run_google_benchmark(binary, repetitions, bench_filter, min_time):
    """Runs one Google Benchmark binary; returns {run_name: Run}."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        # Interleaved: the repetitions of every benchmark spread over the whole run, so a
        # slow spell of the machine touches all of them alike (and BM_Calibrate with them).
        cmd = [binary, f"--benchmark_repetitions={repetitions}",
               "--benchmark_enable_random_interleaving=true",
               f"--benchmark_out={out.name}", "--benchmark_out_format=json",
               "--benchmark_format=console"]
        if bench_filter:
            cmd.append(f"--benchmark_filter={bench_filter}")
        if min_time:
            cmd.append(f"--benchmark_min_time={min_time}")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SuiteError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
        text = open(out.name).read()
    if not text.strip():
        return {}  # the filter matched none of this binary's benchmarks
    return parse_google_benchmark(json.loads(text))


# A benchmark that declares itself tiny (bench/calibrate.h says why) gets this threshold. The
# benchmark declares it: a rule on the measured time ("under 20 ns") flipped with the machine's
# speed from one run to the next (BM_Bitmap_AllSet4K ran at 20.0-24.2 ns on one machine).
TINY_LABEL = "tiny"
TINY_THRESHOLD = 0.25
NS_PER = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


CALIBRATE = "BM_Calibrate"


BINARIES = ("micro_bench", "engine_bench")


def micro(build_dir, repetitions, bench_filter=None, min_time=None, binaries=BINARIES):
    """Every benchmark as a multiple of BM_Calibrate (gated), and its CPU time (reported)."""
    figures = {}
    if bench_filter:
        bench_filter = f"{CALIBRATE}|{bench_filter}"
    for binary in binaries:
        path = os.path.join(build_dir, "bench", binary)
        if not os.access(path, os.X_OK):
            raise SuiteError(f"{path} not found: build the default preset first")
        progress(f"micro: {binary} ({repetitions} repetitions, interleaved)")
        runs = run_google_benchmark(path, repetitions, bench_filter, min_time)
        if CALIBRATE not in runs:
            raise SuiteError(f"{path}: no {CALIBRATE} result to divide by")
        figures.update(micro_figures(binary, runs))
    return figures


def micro_figures(binary, runs):
    """The figures of one binary's {run_name: Run}, which must include BM_Calibrate: each
    benchmark's CPU times divided by the calibration's median (gated; the tiny threshold when
    the benchmark declared itself tiny, whatever its speed today), and the CPU times (info)."""
    runs = dict(runs)
    cal = runs.pop(CALIBRATE)
    cal_ns = statistics.median(cal.values) * NS_PER.get(cal.unit, 1)
    figures = {f"micro/{binary}/{CALIBRATE}": figure("info", cal.unit, "lower", cal.values)}
    for name, run in runs.items():
        ns = [v * NS_PER.get(run.unit, 1) for v in run.values]
        figures[f"micro/{binary}/{name}"] = figure(
            "wall", "x calibration", "lower", [v / cal_ns for v in ns],
            TINY_THRESHOLD if run.tiny else None)
        figures[f"micro/{binary}/{name}/cpu_time"] = figure("info", run.unit, "lower", run.values)
    return figures


def sum_vms(doc, key):
    return sum(vm.get(key) or 0 for vm in doc["vms"])


def simulated_figures(doc):
    """The exact figures of one fvdsim --json run: {suffix: figure}."""
    out = {}

    def exact(name, unit, better, value):
        if value is not None:
            out[name] = figure("exact", unit, better, [value])

    sim_time = doc["sim_time_s"]
    exact("sim_time_s", "s", "lower", sim_time)
    exact("read_p99_us", "us", "lower", doc["read_p99_us"])
    exact("write_p99_us", "us", "lower", doc["write_p99_us"])
    exact("read_p50_us_worst_vm", "us", "lower", max(vm["read_p50_us"] for vm in doc["vms"]))
    exact("write_p50_us_worst_vm", "us", "lower", max(vm["write_p50_us"] for vm in doc["vms"]))
    if sum_vms(doc, "flushes"):
        exact("flush_p99_us_worst_vm", "us", "lower", max(vm["flush_p99_us"] for vm in doc["vms"]))
    moved = sum_vms(doc, "bytes_read") + sum_vms(doc, "bytes_written")
    exact("throughput_mib_s", "MiB/s", "higher", moved / (1 << 20) / sim_time if sim_time else 0)
    allocating = sum_vms(doc, "allocating_writes")
    if allocating:
        exact("journal_writes_per_allocating_write", "", "lower",
              sum_vms(doc, "journal_sector_writes") / allocating)
    exact("journal_recycles", "", "lower", sum_vms(doc, "journal_recycles"))
    exact("base_bytes_read", "B", "lower", sum_vms(doc, "base_bytes_read"))
    finished = [vm.get("prefetch_finished_s") for vm in doc["vms"]]
    if any(vm.get("prefetch_started_s") is not None for vm in doc["vms"]):
        # A prefetch that never finished counts as the whole run.
        exact("prefetch_finished_s_last_vm", "s", "lower",
              max(f if f is not None else sim_time for f in finished))
    return out


def run_fvdsim(fvdsim, workload, seed, max_time):
    cmd = [fvdsim, "run", workload, "--seed", str(seed), "--json", "-q"]
    if max_time:
        cmd += ["--max-time", max_time]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SuiteError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}"
                         f"{r.stdout[-2000:]}")
    return json.loads(r.stdout)


def sim(build_dir, workloads, seeds, repetitions, max_time=None):
    fvdsim = os.path.join(build_dir, "sim", "fvdsim")
    if not os.access(fvdsim, os.X_OK):
        raise SuiteError(f"{fvdsim} not found: build the default preset first")
    figures = {}
    for workload in workloads:
        stem = os.path.splitext(os.path.basename(workload))[0]
        for seed in seeds:
            prefix = f"sim/{stem}/seed{seed}"
            walls, rates, digest = [], [], None
            for rep in range(repetitions):
                progress(f"sim: {stem} seed {seed} (repetition {rep + 1}/{repetitions})")
                doc = run_fvdsim(fvdsim, workload, seed, max_time)
                if doc["violations"]:
                    raise SuiteError(f"{prefix}: {len(doc['violations'])} violations: "
                                     f"{doc['violations'][0]}")
                if digest is None:
                    digest = doc["digest"]
                    for suffix, f in simulated_figures(doc).items():
                        figures[f"{prefix}/{suffix}"] = f
                elif doc["digest"] != digest:
                    raise SuiteError(f"{prefix}: not deterministic: digest {doc['digest']} "
                                     f"after {digest}")
                walls.append(doc["wall_time_s"])
                rates.append(doc["events"] / doc["wall_time_s"] if doc["wall_time_s"] else 0)
            # The simulator's own speed: reported beside the exact figures, not gated (whole
            # processes on a shared machine; the micro suite gates the engine's CPU cost).
            figures[f"{prefix}/wall_time_s"] = figure("info", "s", "lower", walls)
            figures[f"{prefix}/events_per_wall_s"] = figure("info", "1/s", "higher", rates)
    return figures
