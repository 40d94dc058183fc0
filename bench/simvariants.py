"""Running a workload and variants of it through `fvdsim run --json`, for the measurement
scripts in bench/ (prefetch/measure.py, journal/measure.py).

A variant is the workload file with image keys changed on every VM (`changes`) and/or any
other edit of the parsed document (`edit`, a function that changes it in place); it is
written to a temporary file next to nothing and removed after the run.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

import yaml


def run(fvdsim, workload, seed, changes=None, report_dir=None, edit=None):
    """Runs `workload` (a path) with `changes` and `edit` applied; returns fvdsim's JSON."""
    path = workload
    tmp = None
    if changes or edit:
        with open(workload) as f:
            doc = yaml.safe_load(f)
        for vm in doc["vms"]:
            vm["image"] = dict(vm.get("image") or {}, **(changes or {}))
        if edit:
            edit(doc)
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        yaml.safe_dump(doc, tmp)
        tmp.close()
        path = tmp.name
    cmd = [fvdsim, "run", path, "--seed", str(seed), "--json"]
    if report_dir:
        cmd += ["--report", report_dir]
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True)
    finally:
        if tmp:
            os.unlink(tmp.name)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}{out.stdout[-2000:]}")
    return json.loads(out.stdout)


def spread(values):
    return statistics.median(values), min(values), max(values)


def fmt(values, digits=2):
    med, lo, hi = spread(values)
    return f"{med:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"
