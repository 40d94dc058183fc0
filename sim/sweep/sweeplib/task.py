"""One task of a sweep, run on a Dask worker: `fvdsim run FILE --seed S [--swarm] --json
[--set K=V ...]` in a scratch folder of its own, the workload file written from the text the
task carries (so workers need fvdsim, not the driver's files). Whatever happens, the task
returns a record: a violation, a crash of fvdsim or a timeout is a result, not an exception.

This module is shipped to the workers by value (cloudpickle), so it imports only the standard
library.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

def _cache():
    """A dict that lives as long as this worker process: on the Dask worker object (this
    module's own globals are rebuilt with every task, as it travels by value)."""
    try:
        from distributed import get_worker
        worker = get_worker()
    except (ImportError, ValueError):
        return {}
    if not hasattr(worker, "_fvdsweep_identity"):
        worker._fvdsweep_identity = {}
    return worker._fvdsweep_identity


def identity(fvdsim):
    """`fvdsim --version` on this machine, or "error: ..." (the build check compares these)."""
    cache = _cache()
    if fvdsim not in cache:
        try:
            r = subprocess.run([fvdsim, "--version"], capture_output=True, text=True, timeout=60)
            cache[fvdsim] = (r.stdout.strip() if r.returncode == 0 else
                             f"error: {fvdsim} --version exited {r.returncode}")
        except FileNotFoundError:
            cache[fvdsim] = f"error: cannot run {fvdsim}: not found on {socket.gethostname()}"
        except (OSError, subprocess.SubprocessError) as e:
            cache[fvdsim] = f"error: cannot run {fvdsim}: {e}"
    return cache[fvdsim]


def reproduce(spec):
    cmd = f"fvdsim run {spec['file']} --seed {spec['seed']}"
    if spec["swarm"]:
        cmd += " --swarm"
    if spec.get("max_time"):
        cmd += f" --max-time {spec['max_time']}"
    for key, value in spec["params"].items():
        cmd += f" --set '{key}={value}'"
    return cmd


def command(spec, path):
    cmd = [spec["fvdsim"], "run", path, "--seed", str(spec["seed"]), "--json"]
    if spec["swarm"]:
        cmd.append("--swarm")
    if spec.get("max_time"):
        cmd += ["--max-time", spec["max_time"]]
    for key, value in spec["params"].items():
        cmd += ["--set", f"{key}={value}"]
    return cmd


def classify(proc, out, err, timed_out):
    """(status, signature, message, fvdsim's JSON or None)."""
    if timed_out:
        return "timeout", "timeout@wall-clock", "still running after the per-task timeout", None
    if proc.returncode in (0, 1):
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "digest" in doc:
            if proc.returncode == 0 and not doc["violations"]:
                return "pass", None, "", doc
            return ("fail", doc.get("signature") or "unknown",
                    (doc["violations"] or ["exit 1 without a violation"])[0], doc)
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if proc.returncode == 2:
        return "refused", "world-refused@build", last, None
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return "crash", f"process-crash@{name}", last or f"killed by {name}", None
    return "crash", f"process-crash@exit {proc.returncode}", last, None


def run_task(spec):
    """Runs one task; returns its record (never raises for what fvdsim does)."""
    start = time.monotonic()
    record = {"id": spec["id"], "file": spec["file"], "seed": spec["seed"],
              "swarm": spec["swarm"], "params": spec["params"],
              "worker": f"{socket.gethostname()}:{os.getpid()}",
              "identity": identity(spec["fvdsim"]), "reproduce": reproduce(spec)}
    if record["identity"].startswith("error:"):
        record.update(status="refused", signature="worker@no-fvdsim",
                      message=record["identity"][7:], result=None,
                      wall_s=time.monotonic() - start)
        return record
    with tempfile.TemporaryDirectory(prefix="fvdsweep-") as scratch:
        path = os.path.join(scratch, os.path.basename(spec["file"]))
        with open(path, "w") as f:
            f.write(spec["text"])
        proc = subprocess.Popen(command(spec, path), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=scratch)
        timed_out = False
        try:
            out, err = proc.communicate(timeout=spec["timeout_s"])
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            timed_out = True
    status, signature, message, doc = classify(proc, out, err, timed_out)
    record.update(status=status, signature=signature, message=message.replace(path, spec["file"]),
                  result=doc, wall_s=time.monotonic() - start)
    return record
