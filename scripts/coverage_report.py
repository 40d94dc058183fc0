#!/usr/bin/python3
"""Merges the profiles scripts/coverage.sh collected (llvm-profdata) and reports the coverage of
core/ per kind of test and together (llvm-cov export): reports/coverage/README.md and
summary.json. Targets (issue 23): together at least 95% of the lines of core/image/ and
core/format/; the simulator's crash workloads alone reach every function of the journal,
recovery, write path and storage files."""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
KINDS = ["unit", "tools", "property", "simulator", "fuzz"]
GROUPS = ["core/image", "core/format", "core/check", "core/seam", "core/posix", "core/util"]
SIM_MUST_REACH = ["core/image/journal.cc", "core/image/recovery.cc", "core/image/write_path.cc",
                  "core/image/storage.cc"]
LLVM = {"profdata": "llvm-profdata", "cov": "llvm-cov"}


def objects(build):
    """Every ELF executable and shared object of the build (llvm-cov wants each that holds code)."""
    out = []
    for dirpath, _, files in os.walk(build):
        if "/CMakeFiles" in dirpath or "/profiles" in dirpath:
            continue
        for f in files:
            path = os.path.join(dirpath, f)
            if not (f.endswith(".so") or os.access(path, os.X_OK)) or os.path.islink(path):
                continue
            with open(path, "rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    out.append(path)
    return sorted(out)


def merge(profiles, out):
    raws = [p for pattern in profiles for p in glob.glob(pattern)]
    if not raws:
        return None
    subprocess.run([LLVM["profdata"], "merge", "-sparse", "-o", out, *raws], check=True)
    return out


def export(profdata, objs):
    """llvm-cov's JSON export restricted to core/."""
    cmd = [LLVM["cov"], "export", "-instr-profile", profdata, objs[0]]
    for o in objs[1:]:
        cmd += ["-object", o]
    cmd += [os.path.join(ROOT, "core")]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["data"][0]


def rel(path):
    return os.path.relpath(path, ROOT)


def group_summary(data):
    """{group: {lines: (covered, count), branches: ..., functions: ...}} over core/'s files
    that are not tests."""
    out = {g: {"lines": [0, 0], "branches": [0, 0], "functions": [0, 0]} for g in GROUPS + ["core"]}
    for f in data["files"]:
        name = rel(f["filename"])
        if name.endswith("_test.cc") or "/testing/" in name:
            continue
        s = f["summary"]
        for g in out:
            if name.startswith(g + "/"):
                for k in ("lines", "branches", "functions"):
                    out[g][k][0] += s[k]["covered"]
                    out[g][k][1] += s[k]["count"]
    return out


def unreached_functions(data, files):
    """{file: [function names never run]} for `files`."""
    out = {f: [] for f in files}
    for fn in data["functions"]:
        name = rel(fn["filenames"][0])
        if name in out and fn["count"] == 0:
            out[name].append(fn["name"])
    return out


def demangle(names):
    if not names:
        return []
    r = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True)
    return r.stdout.splitlines() if r.returncode == 0 else names


def pct(pair):
    covered, count = pair
    return 100.0 * covered / count if count else 100.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build", "coverage"))
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "coverage"))
    p.add_argument("--swarm-seeds", type=int, default=0)
    args = p.parse_args()
    objs = objects(args.build)
    prof_dir = os.path.join(args.build, "profiles")
    results, unreached = {}, {}
    for kind in KINDS + ["together"]:
        pattern = [os.path.join(prof_dir, k, "*.profraw") for k in (KINDS if kind == "together"
                                                                    else [kind])]
        profdata = merge(pattern, os.path.join(prof_dir, f"{kind}.profdata"))
        if profdata is None:
            print(f"coverage: no profiles for {kind}", file=sys.stderr)
            continue
        data = export(profdata, objs)
        results[kind] = group_summary(data)
        if kind == "simulator":
            unreached = {f: demangle(n) for f, n in unreached_functions(data, SIM_MUST_REACH).items()}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"kinds": results, "simulator_unreached": unreached}, f, indent=2)
    lines = ["# Coverage of core/ by kind of test", "",
             "Made by `scripts/coverage.sh` (Clang 14 source-based coverage, the `coverage` "
             "preset; `llvm-profdata` and `llvm-cov` from Debian's llvm). Each kind runs on its "
             "own, with fresh profiles; `together` merges them. Lines / branches, % of core/'s "
             "non-test sources.", "",
             "| kind | core/image lines | core/image branches | core/format lines | "
             "core/format branches | core lines | core branches | core functions |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, g in results.items():
        lines.append(f"| {kind} | {pct(g['core/image']['lines']):.1f} | "
                     f"{pct(g['core/image']['branches']):.1f} | {pct(g['core/format']['lines']):.1f} | "
                     f"{pct(g['core/format']['branches']):.1f} | {pct(g['core']['lines']):.1f} | "
                     f"{pct(g['core']['branches']):.1f} | {pct(g['core']['functions']):.1f} |")
    together = results.get("together", {})
    if together:
        lines += ["", "Together, by folder:", "", "| folder | lines | branches | functions |",
                  "|---|---:|---:|---:|"]
        for grp in GROUPS:
            s = together[grp]
            lines.append(f"| {grp} | {pct(s['lines']):.1f} ({s['lines'][0]}/{s['lines'][1]}) | "
                         f"{pct(s['branches']):.1f} | {pct(s['functions']):.1f} |")
        ok = all(pct(together[g]["lines"]) >= 95 for g in ("core/image", "core/format"))
        lines += ["", f"Target, together at least 95% of the lines of core/image/ and "
                      f"core/format/: **{'met' if ok else 'missed'}**."]
    missing = {f: n for f, n in unreached.items() if n}
    lines += ["", f"## What the simulator's crash workloads alone leave unrun", "",
              f"workloads/crash-*.yaml, and {args.swarm_seeds} swarm worlds with crashes always on. "
              "Target: every function of " + ", ".join(f"`{f}`" for f in SIM_MUST_REACH) +
              f" runs: **{'met' if not missing else 'missed'}**.", ""]
    for f, names in missing.items():
        lines.append(f"- `{f}`: " + ", ".join(f"`{n}`" for n in names))
    lines += ["", f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."]
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"coverage: report written to {os.path.join(args.out, 'README.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
