#!/usr/bin/python3
"""Does exploration find bugs? For each deliberate engine bug of core/image/test_bugs.h, with
the test-only fvdsim_testbugs:

  swarm  the CPU time `fvdsim explore workloads/swarm.yaml --swarm --seeds 1-...` spends until
         a seed first fails with the bug and passes without it (the generic file: every knob at
         its default, nothing aimed at any bug), within a CPU budget (default 10 CPU-minutes);
         seeds that fail on the correct engine too are listed, not counted;
  hand   the same without --swarm on workloads/crash-storm.yaml, the shipped crash workload;
  min    `fvdsim minimize` of the first failing swarm seed: events before and after, and
         whether the written file fails the same way on its own (minimize checks it).

And, for a bug no run found, how often its code ran without effect: replay_stale_epoch replays
journal sectors of the previous epoch; the script counts the sectors recovery applied with and
without the bug over the first swarm seeds (JSON `journal_replayed_sectors`).

Writes reports/swarm/README.md, results.json and the minimized workload files. A benchmark,
not a test: it exits 0 after measuring, and says in the report which target was missed.

  bench/swarm/measure.py [--budget-cpu 600] [--jobs 2] [--bugs a,b] [--report reports/swarm]
                         [--reuse-exploration]

--reuse-exploration keeps the swarm and hand columns of the report's results.json (the same
seeds fail on an unchanged engine; exploring takes most of the hour) and runs minimize again,
for when only minimize changed. The report gives both dates.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUGS = ["skip_data_flush_before_journal", "stale_before_journal", "replay_stale_epoch",
        "cor_ignores_write_lock", "cor_skips_recheck"]
SWARM_FILE = "workloads/swarm.yaml"
HAND_FILE = "workloads/crash-storm.yaml"
TARGET_CPU_S = 600
TARGET_EVENTS = 1000


def say(msg):
    print(f"swarm-bench: {msg}", file=sys.stderr, flush=True)


def fails_without_bug(binary, workload, seed, swarm):
    """The signature the seed fails with on the correct engine (no --bug), or None if it passes:
    such a failure is not the bug's."""
    cmd = [binary, "run", workload, "--seed", str(seed), "--json"] + (["--swarm"] if swarm else [])
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode == 0:
        return None
    try:
        return json.loads(r.stdout).get("signature") or f"exit {r.returncode}"
    except ValueError:
        return f"exit {r.returncode}"


def explore(binary, bug, workload, swarm, budget_cpu_s, jobs, batch=400):
    """CPU seconds (children's user + system) until the first seed that fails with the bug and
    passes without it, within a CPU budget: seeds from 1 in batches, each `fvdsim explore
    --first-failure`, until one fails or the budget is spent (a wall-clock --time would count
    the machine's other work too). A seed that also fails on the correct engine is listed in
    `fails_without_bug`, and the search goes on after it."""
    out = {"seeds_run": 0, "cpu_s": 0.0, "found": False, "fails_without_bug": []}
    start, first = time.monotonic(), 1
    while out["cpu_s"] < budget_cpu_s:
        cmd = [binary, "explore", workload, "--seeds", f"{first}-{first + batch - 1}",
               "--first-failure", "--json", "-j", str(jobs), "--bug", bug]
        if swarm:
            cmd.append("--swarm")
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if r.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
        j = json.loads(r.stdout)
        next_first = first + batch
        if j["groups"]:
            g = min(j["groups"], key=lambda g: g["cpu_s_to_first"])
            seed = min(g["seeds"])
            clean = fails_without_bug(binary, workload, seed, swarm)
            if clean is None:
                out.update(found=True, seed=seed, signature=g["signature"],
                           cpu_s_to_first=out["cpu_s"] + g["cpu_s_to_first"],
                           reproduce=g["reproduce"])
            else:
                say(f"{bug}: seed {seed} fails without the bug too ({clean}); going on")
                out["fails_without_bug"].append({"seed": seed, "signature": clean})
                next_first = seed + 1
        out["seeds_run"] += j["seeds_run"]
        out["cpu_s"] += j["cpu_s"]
        if out["found"]:
            break
        first = next_first
    out["wall_s"] = time.monotonic() - start
    return out


def minimize(binary, bug, seed, report_dir, jobs):
    out_file = os.path.join(report_dir, f"{bug}-min.yaml")
    cmd = [binary, "minimize", SWARM_FILE, "--swarm", "--seed", str(seed), "--bug", bug,
           "-o", out_file, "--json", "-j", str(jobs)]
    start = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        return {"error": r.stderr.strip()[-500:]}
    j = json.loads(r.stdout)
    j["wall_s"] = time.monotonic() - start
    j["file"] = os.path.relpath(out_file, ROOT)
    return j


def replayed_sectors(binary, bug, seeds):
    """Journal sectors recovery applied over `seeds` swarm seeds, with and without `bug`."""
    totals, differ, failed = {"clean": 0, "bug": 0}, 0, 0
    for seed in range(1, seeds + 1):
        per = {}
        for mode in ("clean", "bug"):
            cmd = [binary, "run", SWARM_FILE, "--swarm", "--seed", str(seed), "--json"]
            if mode == "bug":
                cmd += ["--bug", bug]
            j = json.loads(subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout)
            per[mode] = sum(vm["journal_replayed_sectors"] for vm in j["vms"])
            totals[mode] += per[mode]
            failed += 1 if (mode == "bug" and j["violations"]) else 0
        differ += per["bug"] != per["clean"]
    return {"seeds": seeds, "clean": totals["clean"], "bug": totals["bug"],
            "seeds_where_it_applied_more": differ, "failures_with_bug": failed}


def cell(m):
    if not m["found"]:
        text = f"not found ({m['seeds_run']} seeds, {m['cpu_s']:.0f} CPU s)"
    else:
        text = f"{m['cpu_s_to_first']:.1f} CPU s (seed {m['seed']})"
    false = m.get("fails_without_bug", [])
    if false:
        text += "; also failing without the bug: " + ", ".join(
            f"seed {f['seed']} ({f['signature']})" for f in false)
    return text


def write_report(results, args, report_dir):
    lines = ["# Does exploration find bugs?", "",
             "Made by `bench/swarm/measure.py` (`fvdsim_testbugs`, the test build whose "
             "`--bug NAME` turns on one deliberate bug of `core/image/test_bugs.h`). For each "
             "bug: the CPU time `fvdsim explore` spends until a seed first fails, with "
             f"`--swarm` on the generic `{SWARM_FILE}` (every knob at its default) and without "
             f"it on `{HAND_FILE}`, each within {args.budget_cpu} CPU s on {args.jobs} "
             "processes; then `fvdsim minimize` of the first failing swarm seed. Targets: swarm "
             f"finds every bug within {TARGET_CPU_S} CPU s from seed 1, and each minimized "
             f"reproducer runs under {TARGET_EVENTS} events.", "",
             "| bug | swarm: CPU until the first failure | crash-storm.yaml, no swarm | "
             "signature | minimized: events before -> after | target |",
             "|---|---|---|---|---|---|"]
    for bug, r in results["bugs"].items():
        sw, hand, mn = r["swarm"], r["hand"], r.get("minimize", {})
        events = (f"{mn['events_before']} -> {mn['events_after']} ({len(mn['removed'])} "
                  f"changes, {mn['runs']} runs)" if "events_after" in mn else
                  mn.get("error", "-"))
        ok = (sw["found"] and sw["cpu_s_to_first"] <= TARGET_CPU_S and
              mn.get("events_after", TARGET_EVENTS) < TARGET_EVENTS)
        lines.append(f"| `{bug}` | {cell(sw)} | {cell(hand)} | "
                     f"{sw.get('signature', '-')} | {events} | {'met' if ok else 'missed'} |")
    rep = results.get("replay_stale_epoch")
    if rep:
        lines += ["", "## replay_stale_epoch: its code runs, and changes nothing", "",
                  f"Over swarm seeds 1-{rep['seeds']}, recovery applied {rep['clean']} journal "
                  f"sectors with the correct engine and {rep['bug']} with the bug, which also "
                  "replays sectors of the previous epoch: the buggy path ran in "
                  f"{rep['seeds_where_it_applied_more']} seeds, and {rep['failures_with_bug']} "
                  "of them failed a check. Every sector a recycle or a recovery left from the "
                  "previous epoch holds records that were true then and still are: within the "
                  "format, bitmap bits are only ever set and table entries only ever map empty "
                  "chunks (FORMAT.md, Journal), and a recycle or a recovery makes everything "
                  "replayed durable in the regions before the epoch changes. Replaying them "
                  "again is idempotent. Only a journal holding well-formed sectors of the "
                  "previous epoch with records that were never true exposes the bug, and no "
                  "crash, lost write, torn write or I/O error of the simulator's fault model "
                  "writes such a sector: the property suite catches it by planting them "
                  "(`proptests/`, DamageJournal)."]
    lines += ["", "Minimized reproducers: " + ", ".join(
        f"[`{os.path.basename(r['minimize']['file'])}`]({os.path.basename(r['minimize']['file'])})"
        for r in results["bugs"].values() if "file" in r.get("minimize", {})) + ".", "",
        f"Measured {results['date']} on {os.cpu_count()} cores" +
        (f"; minimized again {results['minimize_date']} (`--reuse-exploration`)."
         if results.get("minimize_date", results["date"]) != results["date"] else ".")]
    with open(os.path.join(report_dir, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "default"))
    p.add_argument("--budget-cpu", type=float, default=TARGET_CPU_S,
                   help="CPU seconds each exploration may spend (default 600)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--bugs", default=",".join(BUGS))
    p.add_argument("--replay-seeds", type=int, default=300)
    p.add_argument("--report", default=os.path.join(ROOT, "reports", "swarm"))
    p.add_argument("--reuse-exploration", action="store_true",
                   help="keep the explorations of REPORT/results.json; minimize again")
    args = p.parse_args()
    binary = os.path.join(args.build_dir, "sim", "fvdsim_testbugs")
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"{binary} not found: build the default preset first")
    os.makedirs(args.report, exist_ok=True)
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = {"date": now, "minimize_date": now, "bugs": {}}
    old = None
    if args.reuse_exploration:
        with open(os.path.join(args.report, "results.json")) as f:
            old = json.load(f)
        results["date"] = old["date"]
        if "replay_stale_epoch" in old:
            results["replay_stale_epoch"] = old["replay_stale_epoch"]
    for bug in args.bugs.split(","):
        if old is not None:
            if bug not in old["bugs"]:
                raise SystemExit(f"{args.report}/results.json has no exploration of {bug}")
            r = {k: old["bugs"][bug][k] for k in ("swarm", "hand")}
        else:
            say(f"{bug}: exploring with --swarm")
            r = {"swarm": explore(binary, bug, SWARM_FILE, True, args.budget_cpu, args.jobs)}
            say(f"{bug}: exploring {HAND_FILE}")
            r["hand"] = explore(binary, bug, HAND_FILE, False, args.budget_cpu, args.jobs)
        if r["swarm"]["found"]:
            say(f"{bug}: minimizing seed {r['swarm']['seed']}")
            r["minimize"] = minimize(binary, bug, r["swarm"]["seed"], args.report, args.jobs)
        results["bugs"][bug] = r
        say(f"{bug}: {json.dumps(r)}")
    if "replay_stale_epoch" in args.bugs.split(",") and old is None:
        say("replay_stale_epoch: counting replayed sectors")
        results["replay_stale_epoch"] = replayed_sectors(binary, "replay_stale_epoch",
                                                         args.replay_seeds)
    with open(os.path.join(args.report, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    write_report(results, args, args.report)
    say(f"report written to {os.path.join(args.report, 'README.md')}")


if __name__ == "__main__":
    main()
