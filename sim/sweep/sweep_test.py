"""fvdsweep on a real Dask cluster on 127.0.0.1 (a dask-scheduler and dask-worker processes):
results equal fvdsim's own, digest for digest; a worker or the driver killed with SIGKILL
loses and doubles nothing (--resume finishes the study); an unreachable scheduler, a bad
parameter and a worker without fvdsim or with another build are one clear message each.

Environment: FVDSIM (the fvdsim build), WORKLOADS (the workloads folder). Run with Debian's
python3, which has python3-distributed.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FVDSWEEP = os.path.join(HERE, "fvdsweep")
FVDSIM = os.path.abspath(os.environ.get("FVDSIM", os.path.join(
    HERE, "..", "..", "build", "default", "sim", "fvdsim")))
WORKLOADS = os.environ.get("WORKLOADS", os.path.join(HERE, "..", "..", "workloads"))
SWARM = os.path.join(WORKLOADS, "swarm.yaml")
DASK_BIN = os.path.dirname(sys.executable)
HANG_GUARD_S = 300  # generous: only a hang may reach it


def wait_for(condition, what, timeout=HANG_GUARD_S):
    """Polls `condition` (a state of the world, not a guess of how long something takes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Cluster:
    """A dask-scheduler on 127.0.0.1 and workers, each its own process."""

    def __init__(self, tmp):
        self.file = os.path.join(tmp, "scheduler.json")
        self.procs, self.workers = [], []
        self.procs.append(subprocess.Popen(
            ["dask-scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", self.file],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_for(lambda: os.path.exists(self.file) and os.path.getsize(self.file) > 0,
                 "the scheduler file")
        with open(self.file) as f:
            self.address = json.load(f)["address"]

    def add_worker(self, env=None):
        p = subprocess.Popen(["dask-worker", "--scheduler-file", self.file, "--nthreads", "1",
                              "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env, start_new_session=True)
        self.procs.append(p)
        self.workers.append(p)
        return p

    def wait_workers(self, n):
        from distributed import Client
        with Client(scheduler_file=self.file, timeout=60) as c:
            c.wait_for_workers(n, timeout=HANG_GUARD_S)

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def sweep(*args, **kw):
    return subprocess.run([FVDSWEEP, *args], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, **kw)


def records(out_dir):
    with open(os.path.join(out_dir, "results.jsonl")) as f:
        return [json.loads(line) for line in f]


def direct_digest(seed):
    r = subprocess.run([FVDSIM, "run", SWARM, "--swarm", "--seed", str(seed), "--json"],
                       capture_output=True, text=True, timeout=HANG_GUARD_S)
    return json.loads(r.stdout)["digest"]


class SweepOnACluster(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fvdsweep-test-")
        self.cluster = Cluster(self.tmp.name)

    def tearDown(self):
        self.cluster.close()
        self.tmp.cleanup()

    def out(self, name):
        return os.path.join(self.tmp.name, name)

    def start_two_workers(self):
        self.cluster.add_worker()
        self.cluster.add_worker()
        self.cluster.wait_workers(2)

    def test_results_match_fvdsim_run_digest_for_digest(self):
        self.start_two_workers()
        out = self.out("twenty")
        r = sweep("run", SWARM, "--swarm", "--seeds", "1-20", "--scheduler-file",
                  self.cluster.file, "--fvdsim", FVDSIM, "--out", out, "--json")
        self.assertIn(r.returncode, (0, 1), r.stderr)
        recs = records(out)
        self.assertEqual(sorted(rec["seed"] for rec in recs), list(range(1, 21)))
        self.assertEqual(len({rec["worker"] for rec in recs}) >= 1, True)
        for rec in recs:
            self.assertEqual(rec["result"]["digest"], direct_digest(rec["seed"]), rec["seed"])
        summary = json.loads(r.stdout)
        self.assertEqual((summary["tasks"], summary["recorded"]), (20, 20))
        with open(os.path.join(out, "README.md")) as f:
            report = f.read()
        self.assertIn("## write_p99_us", report)
        self.assertTrue(os.path.exists(os.path.join(out, "write_p99_us.png")))

    def long_sweep(self, out, *extra):
        """A sweep of 16 runs long enough (crash-storm, 4 s of virtual time each) to be killed in
        the middle of."""
        return subprocess.Popen(
            [FVDSWEEP, "run", os.path.join(WORKLOADS, "crash-storm.yaml"), "--seeds", "1-16",
             "--max-time", "4s", "--fvdsim", FVDSIM, "--out", out, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def recorded(self, out):
        path = os.path.join(out, "results.jsonl")
        if not os.path.exists(path):
            return 0
        with open(path) as f:
            return sum(1 for line in f if line.endswith("\n"))

    def test_a_worker_killed_mid_sweep_loses_and_doubles_nothing(self):
        self.start_two_workers()
        out = self.out("worker-killed")
        driver = self.long_sweep(out, "--scheduler-file", self.cluster.file)
        wait_for(lambda: self.recorded(out) >= 3, "three results")
        self.assertLess(self.recorded(out), 16, "the sweep ended before the kill")
        os.killpg(self.cluster.workers[0].pid, signal.SIGKILL)
        stdout, stderr = driver.communicate(timeout=HANG_GUARD_S)
        self.assertEqual(driver.returncode, 0, stderr)
        recs = records(out)
        self.assertEqual(sorted(r["seed"] for r in recs), list(range(1, 17)))
        self.assertEqual(len({r["id"] for r in recs}), 16)
        self.assertTrue(all(r["status"] == "pass" for r in recs))

    def test_the_driver_killed_then_resumed_finishes_the_study(self):
        self.start_two_workers()
        out = self.out("driver-killed")
        driver = self.long_sweep(out, "--scheduler-file", self.cluster.file)
        wait_for(lambda: self.recorded(out) >= 3, "three results")
        os.killpg(driver.pid, signal.SIGKILL)
        driver.communicate()
        before = self.recorded(out)
        self.assertLess(before, 16, "the sweep ended before the kill")
        again = self.long_sweep(out, "--scheduler-file", self.cluster.file, "--resume")
        _, stderr = again.communicate(timeout=HANG_GUARD_S)
        self.assertEqual(again.returncode, 0, stderr)
        self.assertIn(f"{before} of 16 tasks recorded", stderr)
        recs = records(out)
        self.assertEqual(sorted(r["seed"] for r in recs), list(range(1, 17)))
        # Without --resume, recorded results are not overwritten.
        r = sweep("run", os.path.join(WORKLOADS, "crash-storm.yaml"), "--seeds", "1-16",
                  "--max-time", "4s", "--fvdsim", FVDSIM, "--out", out)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--resume", r.stderr)
        self.assertEqual(len(records(out)), 16)

    def test_workers_without_fvdsim_or_with_another_build_are_refused(self):
        bin_dir = os.path.join(self.tmp.name, "bin")
        os.makedirs(bin_dir)
        os.symlink(FVDSIM, os.path.join(bin_dir, "fvdsim"))
        other_dir = os.path.join(self.tmp.name, "other")
        os.makedirs(other_dir)
        with open(os.path.join(other_dir, "fvdsim"), "w") as f:
            f.write("#!/bin/sh\necho 'fvdsim 0.0.9 (commit 0000, Debug, GCC 1.0)'\n")
        os.chmod(os.path.join(other_dir, "fvdsim"), 0o755)
        base_path = f"{DASK_BIN}:/usr/bin:/bin"
        self.cluster.add_worker(env=dict(os.environ, PATH=f"{bin_dir}:{base_path}"))
        self.cluster.add_worker(env=dict(os.environ, PATH=base_path))  # no fvdsim
        self.cluster.add_worker(env=dict(os.environ, PATH=f"{other_dir}:{base_path}"))
        self.cluster.wait_workers(3)
        out = self.out("refused")
        start = time.monotonic()
        r = sweep("run", SWARM, "--seeds", "1-4", "--scheduler-file", self.cluster.file,
                  "--fvdsim", "fvdsim", "--out", out,
                  env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("workers must run the same fvdsim build", r.stderr)
        self.assertIn("cannot run fvdsim: not found", r.stderr)
        self.assertIn("fvdsim 0.0.9 (commit 0000", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "results.jsonl")))
        self.assertLess(time.monotonic() - start, 120)


class SweepErrors(unittest.TestCase):
    def test_an_unreachable_scheduler_is_one_message(self):
        start = time.monotonic()
        r = sweep("run", SWARM, "--seeds", "1-2", "--scheduler", "tcp://127.0.0.1:9",
                  "--fvdsim", FVDSIM, "--out", tempfile.mkdtemp(prefix="fvdsweep-test-"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot reach tcp://127.0.0.1:9", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertLess(time.monotonic() - start, 120)

    def test_bad_parameters_fail_before_anything_runs(self):
        out = tempfile.mkdtemp(prefix="fvdsweep-test-")
        for param, message in (("journal_sise=1MiB", "no workload key journal_sise"),
                               ("size=1MiB", "ambiguous, say disk.size or base.size"),
                               ("journal_size=1MiB,1 furlong", "1 furlong is not a size"),
                               ("journal_size", "expected KEY=V1,V2")):
            r = sweep("run", SWARM, "--seeds", "1-3", "--param", param, "--fvdsim", FVDSIM,
                      "--out", out)
            self.assertEqual(r.returncode, 2, param)
            self.assertIn(message, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(out, "results.jsonl")))
        r = sweep("run", SWARM, "--seeds", "9-3", "--fvdsim", FVDSIM, "--out", out)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--seeds 9-3", r.stderr)

    def test_a_local_sweep_with_a_grid(self):
        out = tempfile.mkdtemp(prefix="fvdsweep-test-")
        r = sweep("run", os.path.join(WORKLOADS, "database.yaml"), "--seeds", "1-2",
                  "--param", "journal_size=64KiB,1MiB", "--param", "copy_on_read=true,false",
                  "--workers", "2", "--fvdsim", FVDSIM, "--out", out, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = records(out)
        points = {tuple(sorted(rec["params"].items())) for rec in recs}
        self.assertEqual(len(recs), 8)
        self.assertEqual(len(points), 4)
        for rec in recs:
            self.assertIn("--set 'journal_size=", rec["reproduce"])


if __name__ == "__main__":
    unittest.main()
