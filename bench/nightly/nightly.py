#!/usr/bin/python3
"""The nightly benchmark regression gate.

  nightly.py run [options]            measure the suites, write results.json and a report,
                                      compare with the baseline; exit 1 on a regression
  nightly.py compare RESULTS [opts]   the gate alone, on a results.json already measured
  nightly.py update-baseline RESULTS  make RESULTS the baseline (its figures replace the
                                      baseline's; figures it lacks are kept)

scripts/nightly.sh builds the default preset and calls `run`; `scripts/nightly.sh
--update-baseline` also makes the run the new baseline. Exit codes: 0 no regression, 1 at
least one (each is named), 2 a usage error or a suite that could not measure.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import subprocess
import sys

import gate
import report
import suites

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BASELINE = os.path.join(ROOT, "reports", "baselines", "nightly.json")
SCHEMA = "fvd-nightly/1"


def die(msg):
    """A usage error or a suite that could not measure: exit 2, not 1 (1 means regressions)."""
    print(f"nightly: {msg}", file=sys.stderr)
    sys.exit(2)


def git_revision():
    r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def load(path, what):
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        die(f"cannot read {what} {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        die(f"{what} {path}: not JSON: line {e.lineno} column {e.colno}: "
                         f"{e.msg}")
    if doc.get("schema") != SCHEMA or not isinstance(doc.get("figures"), dict):
        die(f"{what} {path}: not a nightly results file "
                         f"(schema {doc.get('schema')!r}, expected {SCHEMA!r})")
    return doc


def positive_int(text):
    v = int(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return v


def fraction(text):
    v = float(text)
    if not 0 <= v < 10:
        raise argparse.ArgumentTypeError(f"must be a fraction like 0.10, not {text}")
    return v


def add_gate_options(p):
    p.add_argument("--baseline", default=DEFAULT_BASELINE,
                   help="baseline results (default: reports/baselines/nightly.json)")
    p.add_argument("--wall-threshold", type=fraction, default=0.10,
                   help="a wall-clock median this much worse is a regression if the U test "
                        "agrees (default 0.10)")
    p.add_argument("--exact-tolerance", type=fraction, default=0.02,
                   help="a simulated figure this much worse is a regression (default 0.02)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="significance level of the U test (default 0.05)")
    p.add_argument("--out", help="report directory (default: reports/nightly/<time>)")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="nightly.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="measure, report and gate")
    r.add_argument("--build-dir", default=os.path.join(ROOT, "build", "default"))
    r.add_argument("--suites", default="micro,sim",
                   help="comma-separated: micro, sim (default both)")
    r.add_argument("--repetitions", type=positive_int, default=5,
                   help="repetitions of every figure (default 5)")
    r.add_argument("--filter", help="only the micro-benchmarks matching this regex")
    r.add_argument("--min-time", help="Google Benchmark's --benchmark_min_time (seconds)")
    r.add_argument("--workloads", help="comma-separated workload files (default: every "
                                       "workloads/*.yaml)")
    r.add_argument("--seeds", default="1", help="comma-separated seeds (default 1)")
    r.add_argument("--max-time", help="cap every simulation's virtual time (fvdsim --max-time)")
    r.add_argument("--no-confirm", dest="confirm", action="store_false",
                   help="gate on the first measurement alone (default: measure the wall "
                        "figures that regressed once more, and fail only those that regress "
                        "again)")
    r.add_argument("--update-baseline", action="store_true",
                   help="after the run, make its results the baseline")
    add_gate_options(r)
    c = sub.add_parser("compare", help="gate a results.json already measured")
    c.add_argument("results")
    add_gate_options(c)
    u = sub.add_parser("update-baseline", help="make a results.json the baseline")
    u.add_argument("results")
    u.add_argument("--baseline", default=DEFAULT_BASELINE)
    args = p.parse_args(argv)
    if args.command == "run":
        args.suites = args.suites.split(",")
        for s in args.suites:
            if s not in ("micro", "sim"):
                p.error(f"--suites: unknown suite {s!r} (micro, sim)")
        try:
            args.seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            p.error(f"--seeds: not a comma-separated list of integers: {args.seeds!r}")
        if args.workloads:
            args.workloads = args.workloads.split(",")
            for w in args.workloads:
                if not os.path.isfile(w):
                    p.error(f"--workloads: no such file: {w}")
        else:
            args.workloads = sorted(glob.glob(os.path.join(ROOT, "workloads", "*.yaml")))
    return args


def measure(args):
    figures = {}
    try:
        if "micro" in args.suites:
            figures.update(suites.micro(args.build_dir, args.repetitions, args.filter,
                                        args.min_time))
        if "sim" in args.suites:
            figures.update(suites.sim(args.build_dir, args.workloads, args.seeds,
                                      args.repetitions, args.max_time))
    except suites.SuiteError as e:
        die(f"{e}")
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": git_revision(),
        "host": platform.node(),
        "repetitions": args.repetitions,
        "figures": figures,
    }


def default_out_dir():
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return os.path.join(ROOT, "reports", "nightly", stamp)


def load_baseline(path):
    if os.path.exists(path):
        return load(path, "baseline")
    print(f"nightly: no baseline at {path}: every figure is new (make one with "
          f"update-baseline)", file=sys.stderr)
    return {"figures": {}}


def confirm(current, args):
    """Measures the micro figures that regressed once more, into current["confirmation"]."""
    verdicts = gate.compare(current, load_baseline(args.baseline), args.wall_threshold,
                            args.exact_tolerance, args.alpha)
    names = [n for n in gate.suspects(verdicts) if n.startswith("micro/")]
    if not names:
        return
    suites.progress(f"micro: {len(names)} figures regressed; measuring them again")
    try:
        figures = suites.micro_again(args.build_dir, args.repetitions, names, args.min_time)
    except suites.SuiteError as e:
        die(f"{e}")
    current["confirmation"] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "figures": figures,
    }


def gate_and_report(current, args, out_dir):
    baseline = load_baseline(args.baseline)
    verdicts = gate.compare(current, baseline, args.wall_threshold, args.exact_tolerance,
                            args.alpha)
    settings = {"wall_threshold": args.wall_threshold, "exact_tolerance": args.exact_tolerance,
                "alpha": args.alpha}
    path = report.write(out_dir, current, baseline, args.baseline, verdicts, settings)
    regs = gate.regressions(verdicts)
    improved = sum(v.status == "improvement" for v in verdicts)
    unconfirmed = [v for v in verdicts if v.status == "unconfirmed"]
    print(f"nightly: {len(verdicts)} figures, {len(regs)} regressions, {improved} improvements"
          + (f", {len(unconfirmed)} unconfirmed" if unconfirmed else "") + f"; report: {path}")
    for v in regs:
        print(f"nightly: REGRESSION {v.name}: {report.fmt(v.baseline)} -> "
              f"{report.fmt(v.current)} {v.unit} ({report.pct(v.worse_by)} worse"
              + (f", p = {v.p_value:.3g}" if v.p_value is not None else "")
              + (f"; {v.note}" if v.note else "") + ")")
    for v in unconfirmed:
        print(f"nightly: unconfirmed {v.name}: {report.fmt(v.baseline)} -> "
              f"{report.fmt(v.current)} {v.unit}, {v.note}")
    return 1 if regs else 0


def update_baseline(results, baseline_path):
    merged = dict(results)
    merged.pop("confirmation", None)  # the baseline is the first measurement
    if os.path.exists(baseline_path):
        old = load(baseline_path, "baseline")
        merged["figures"] = {**old["figures"], **results["figures"]}
    os.makedirs(os.path.dirname(os.path.abspath(baseline_path)), exist_ok=True)
    with open(baseline_path, "w") as f:
        json.dump(merged, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"nightly: baseline {baseline_path} now holds {len(merged['figures'])} figures "
          f"({len(results['figures'])} from {results.get('git', '?')})")


def main(argv):
    args = parse_args(argv)
    if args.command == "update-baseline":
        update_baseline(load(args.results, "results"), args.baseline)
        return 0
    if args.command == "compare":
        current = load(args.results, "results")
        out_dir = args.out or os.path.dirname(os.path.abspath(args.results))
        return gate_and_report(current, args, out_dir)
    current = measure(args)
    if args.confirm:
        confirm(current, args)
    out_dir = args.out or default_out_dir()
    os.makedirs(out_dir, exist_ok=True)
    results_path = os.path.join(out_dir, "results.json")
    with open(results_path, "w") as f:
        json.dump(current, f, indent=1, sort_keys=True)
    print(f"nightly: results: {results_path}")
    status = gate_and_report(current, args, out_dir)
    if args.update_baseline:
        update_baseline(current, args.baseline)
        status = 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
