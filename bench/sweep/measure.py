#!/usr/bin/python3
"""How fast fvdsweep runs tasks on this machine: tasks per second with 1 and with 2 local
workers (target: 2 workers at least 1.8x one), and the tool's overhead per task against the
same `fvdsim run` commands one after another (target: at most 10% on 1-second tasks).

Each round runs, alternating: the commands one after another, the sweep on 1 worker, the sweep
on 2 workers, and the commands two at a time as plain processes (the machine's own scaling, the
bound for 2 workers); the order rotates each round, so a slow spell touches each alike.
Rates count the tasks' phase (from the first submission to the last result); the cluster's
start and the build check are reported apart. Medians over the rounds, with min-max. Writes
reports/sweep-speed/README.md and results.json. A benchmark, not a test.

  bench/sweep/measure.py [--rounds 5] [--tasks 30] [--task-seconds 1.0]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FVDSWEEP = os.path.join(ROOT, "sim", "sweep", "fvdsweep")
WORKLOAD = os.path.join(ROOT, "workloads", "random-rw.yaml")


def say(msg):
    print(f"sweep-bench: {msg}", file=sys.stderr, flush=True)


def one_run(fvdsim, seed, max_time):
    subprocess.run([fvdsim, "run", WORKLOAD, "--seed", str(seed), "--json", "--max-time",
                    max_time], check=True, capture_output=True)


def calibrate(fvdsim, target_s):
    """A --max-time at which one run of the workload takes about `target_s` of wall time."""
    probe = "2s"
    one_run(fvdsim, 1, probe)  # the first run pays for cold caches: time the second
    start = time.monotonic()
    one_run(fvdsim, 1, probe)
    per_sim_s = (time.monotonic() - start) / 2.0
    sim_s = max(target_s / per_sim_s, 0.1)
    return f"{int(sim_s * 1000)}ms"


def sequential(fvdsim, tasks, max_time):
    start = time.monotonic()
    for seed in range(1, tasks + 1):
        one_run(fvdsim, seed, max_time)
    return time.monotonic() - start


def two_at_once(fvdsim, tasks, max_time):
    """The same commands two at a time, plain processes and no scheduler: what this machine
    gives two runs at once, the bound for 2 workers."""
    start = time.monotonic()
    seeds = list(range(1, tasks + 1))
    running = set()
    while seeds or running:
        while seeds and len(running) < 2:
            running.add(subprocess.Popen(
                [fvdsim, "run", WORKLOAD, "--seed", str(seeds.pop(0)), "--json", "--max-time",
                 max_time], stdout=subprocess.DEVNULL).pid)
        # Whichever ends first frees its core for the next command.
        pid, status = os.wait()
        if pid not in running:
            continue
        running.remove(pid)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"sweep-bench: fvdsim failed ({os.waitstatus_to_exitcode(status)})")
    return time.monotonic() - start


def swept(fvdsim, tasks, max_time, workers):
    out = tempfile.mkdtemp(prefix="sweep-bench-")
    try:
        r = subprocess.run([FVDSWEEP, "run", WORKLOAD, "--seeds", f"1-{tasks}", "--max-time",
                            max_time, "--workers", str(workers), "--fvdsim", fvdsim, "--out", out,
                            "--json"], capture_output=True, text=True, check=True)
        return json.loads(r.stdout)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def spread(values):
    return f"{statistics.median(values):.3g} ({min(values):.3g}-{max(values):.3g})"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fvdsim", default=os.path.join(ROOT, "build", "default", "sim", "fvdsim"))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tasks", type=int, default=30)
    p.add_argument("--task-seconds", type=float, default=1.0)
    p.add_argument("--report", default=os.path.join(ROOT, "reports", "sweep-speed"))
    args = p.parse_args()
    max_time = calibrate(args.fvdsim, args.task_seconds)
    say(f"{os.path.basename(WORKLOAD)} --max-time {max_time}: about {args.task_seconds} s a run")
    seq, one, two, pair = [], [], [], []
    for rnd in range(args.rounds):
        steps = [("seq", lambda: seq.append(sequential(args.fvdsim, args.tasks, max_time))),
                 ("1 worker", lambda: one.append(swept(args.fvdsim, args.tasks, max_time, 1))),
                 ("2 workers", lambda: two.append(swept(args.fvdsim, args.tasks, max_time, 2))),
                 ("two at once", lambda: pair.append(two_at_once(args.fvdsim, args.tasks,
                                                                 max_time)))]
        for name, step in steps[rnd % 4:] + steps[:rnd % 4]:
            say(f"round {rnd + 1}: {name}")
            step()
    n = args.tasks
    rate1 = [n / r["tasks_s"] for r in one]
    rate2 = [n / r["tasks_s"] for r in two]
    scale = [b / a for a, b in zip(rate1, rate2)]
    machine = [s / t for s, t in zip(seq, pair)]  # two plain processes against one
    rate_pair = [n / t for t in pair]
    of_bound = [r / b for r, b in zip(rate2, rate_pair)]
    per_task_seq = [s / n for s in seq]
    overhead = [(r["tasks_s"] / n - s) / s for r, s in zip(one, per_task_seq)]
    overhead_total = [((r["setup_s"] + r["tasks_s"]) / n - s) / s
                      for r, s in zip(one, per_task_seq)]
    results = {"workload": os.path.basename(WORKLOAD), "max_time": max_time, "tasks": n,
               "rounds": args.rounds, "sequential_s_per_task": per_task_seq,
               "tasks_per_s_1_worker": rate1, "tasks_per_s_2_workers": rate2,
               "scaling_2_over_1": scale, "overhead_per_task": overhead,
               "two_plain_processes_over_one": machine, "two_workers_over_two_plain": of_bound,
               "overhead_per_task_with_startup": overhead_total,
               "setup_s": [r["setup_s"] for r in one + two],
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count()}
    os.makedirs(args.report, exist_ok=True)
    with open(os.path.join(args.report, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    med_scale, med_over = statistics.median(scale), statistics.median(overhead)
    lines = ["# fvdsweep's speed", "",
             f"Made by `bench/sweep/measure.py`: {n} tasks of `{os.path.basename(WORKLOAD)} "
             f"--max-time {max_time}` (about {args.task_seconds} s each), {args.rounds} rounds "
             "alternating the four ways to run them; medians (min-max). Two plain processes at "
             "once (no scheduler) measure what the machine gives two runs: the bound for two "
             "workers.", "",
             "| | measured | target |", "|---|---|---|",
             f"| one after another, s per task | {spread(per_task_seq)} | |",
             f"| sweep, 1 local worker, tasks/s | {spread(rate1)} | |",
             f"| sweep, 2 local workers, tasks/s | {spread(rate2)} | |",
             f"| 2 workers / 1 worker | {spread(scale)} | at least 1.8 "
             f"({'met' if med_scale >= 1.8 else 'missed'}) |",
             f"| the machine: two plain processes at once / one after another | "
             f"{spread(machine)} | the bound for the line above |",
             f"| sweep, 2 workers / two plain processes at once | {spread(of_bound)} | |",
             f"| overhead per task, 1 worker, against one after another | "
             f"{spread([o * 100 for o in overhead])} % | at most 10 % "
             f"({'met' if med_over <= 0.10 else 'missed'}) |",
             f"| the same with the cluster's start and build check | "
             f"{spread([o * 100 for o in overhead_total])} % | |",
             f"| cluster start and build check, s | {spread(results['setup_s'])} | |", "",
             f"Measured {results['date']} on {os.cpu_count()} cores."]
    with open(os.path.join(args.report, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    say(f"report written to {args.report}/README.md")


if __name__ == "__main__":
    main()
