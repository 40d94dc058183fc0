"""A study's tasks: every workload file, at every point of the parameter grid, at every seed.

A parameter is `KEY=V1,V2,...` with KEY a workload key as `fvdsim run --set` takes it
(`journal_size`, `image.journal_size`, `phase.queue_depth`, ...; workloads/REFERENCE.md) and
values written as in a workload file (commas inside {...} or [...] do not split). A task's id
is a hash of what it runs (the file's text, its name, the seed, --swarm, the point, max_time),
so a resumed sweep knows what it has already recorded.
"""
import hashlib
import itertools
import json
import os
import subprocess


class PlanError(Exception):
    """The study cannot run: a bad seed range, parameter or workload (the message says which)."""


def split_values(text):
    """'64KiB,1MiB' -> ['64KiB', '1MiB']; commas inside {} or [] stay."""
    values, depth, current = [], 0, ""
    for ch in text:
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        if ch == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += ch
    values.append(current.strip())
    if any(v == "" for v in values):
        raise PlanError(f"--param: an empty value in {text!r}")
    return values


def parse_param(text):
    key, eq, values = text.partition("=")
    if not eq or not key:
        raise PlanError(f"--param {text}: expected KEY=V1,V2,...")
    return key.strip(), split_values(values)


def parse_seeds(text):
    first, dash, last = text.partition("-")
    try:
        a = int(first)
        b = int(last) if dash else a
    except ValueError:
        raise PlanError(f"--seeds {text}: expected A-B (e.g. 1-100)") from None
    if a > b or a < 0:
        raise PlanError(f"--seeds {text}: expected A-B with A <= B")
    return a, b


def grid(params):
    """Every combination of the parameters' values, in the order given: [{key: value}, ...]."""
    keys = [k for k, _ in params]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(v for _, v in params))]


def point_label(point):
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "as written"


def task_id(name, text, seed, swarm, point, max_time):
    blob = json.dumps([name, text, seed, swarm, sorted(point.items()), max_time or ""])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def validate(fvdsim, path, point, swarm, seed, max_time):
    """Asks fvdsim to build the world of `point` (without running it): a key that does not
    exist or a value that does not parse fails here, before anything runs."""
    cmd = [fvdsim, "run", path, "--seed", str(seed), "--print-world", "-"]
    if swarm:
        cmd.append("--swarm")
    if max_time:
        cmd += ["--max-time", max_time]
    for key, value in point.items():
        cmd += ["--set", f"{key}={value}"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise PlanError(f"cannot run {fvdsim}: not found (give --fvdsim PATH)") from None
    if r.returncode != 0:
        raise PlanError((r.stderr.strip() or f"{' '.join(cmd)} exited {r.returncode}")
                        .removeprefix("fvdsim: "))


def make_tasks(files, seeds, swarm, params, max_time, fvdsim, timeout_s):
    """The tasks of the study, each checked to be buildable first. Raises PlanError."""
    first, last = seeds
    points = grid(params)
    tasks = []
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError as e:
            raise PlanError(f"{path}: {e.strerror}") from None
        for point in points:
            validate(fvdsim, path, point, swarm, first, max_time)
            for seed in range(first, last + 1):
                tasks.append({"id": task_id(os.path.basename(path), text, seed, swarm, point,
                                            max_time),
                              "file": path, "text": text, "seed": seed, "swarm": swarm,
                              "params": point, "max_time": max_time, "fvdsim": fvdsim,
                              "timeout_s": timeout_s})
    return tasks
