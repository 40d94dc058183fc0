"""fvdsim end to end: every shipped workload runs clean with the JSON the issue asks for, the
same seed repeats its digest and another seed changes it, and bad input is a clear error.

Run by CTest with FVDSIM set to the binary and WORKLOADS to the workloads folder."""
import glob
import json
import os
import subprocess
import tempfile
import unittest

FVDSIM = os.environ.get("FVDSIM", "fvdsim")
WORKLOADS = os.environ.get("WORKLOADS", "workloads")


def run(*args, timeout=600):
    return subprocess.run([FVDSIM, *args], capture_output=True, text=True, timeout=timeout)


class FvdsimTest(unittest.TestCase):
    def run_json(self, path, *extra):
        r = run("run", path, "--json", *extra)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        return json.loads(r.stdout)

    # Workloads whose whole run costs tens of seconds run their first seconds here (every
    # check still runs at the end); bench/prefetch/measure.py runs them whole.
    SHORTENED = {"prefetch-storm.yaml": "4s", "prefetch-idle.yaml": "4s",
                 "big-disk.yaml": "5s"}

    def test_every_shipped_workload_runs_clean(self):
        files = sorted(glob.glob(os.path.join(WORKLOADS, "*.yaml")))
        self.assertGreaterEqual(len(files), 6)
        for path in files:
            with self.subTest(workload=os.path.basename(path)):
                limit = self.SHORTENED.get(os.path.basename(path))
                j = self.run_json(path, *(("--max-time", limit) if limit else ()))
                for key in ("seed", "digest", "sim_time_s", "wall_time_s", "events", "crashes",
                            "violations"):
                    self.assertIn(key, j)
                self.assertEqual(j["violations"], [])
                self.assertGreater(j["events"], 0)
                self.assertGreater(len(j["vms"]), 0)
                for vm in j["vms"]:
                    for key in ("reads", "writes", "flushes", "read_p99_us", "write_p99_us"):
                        self.assertIn(key, vm)
                if "crash" in path:
                    self.assertGreater(j["crashes"], 0)

    def test_same_seed_same_digest_other_seed_other_digest(self):
        path = os.path.join(WORKLOADS, "database.yaml")
        a = self.run_json(path, "--seed", "11")
        b = self.run_json(path, "--seed", "11")
        c = self.run_json(path, "--seed", "12")
        self.assertEqual(a["digest"], b["digest"])
        self.assertEqual(a["events"], b["events"])
        self.assertEqual(a["seed"], 11)
        self.assertNotEqual(a["digest"], c["digest"])

    def test_digest_does_not_depend_on_the_allocator(self):
        # fvdsim re-executes itself asking glibc's malloc for huge pages unless GLIBC_TUNABLES
        # is set; memory layout must never reach the simulated path.
        path = os.path.join(WORKLOADS, "database.yaml")
        digests = set()
        for tunables in (None, "", "glibc.malloc.hugetlb=1", "glibc.malloc.mmap_threshold=4096"):
            env = dict(os.environ)
            env.pop("GLIBC_TUNABLES", None)
            if tunables is not None:
                env["GLIBC_TUNABLES"] = tunables
            r = subprocess.run([FVDSIM, "run", path, "--json", "--seed", "5"], env=env,
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            digests.add(json.loads(r.stdout)["digest"])
        self.assertEqual(len(digests), 1, digests)

    def test_report_has_markdown_plots_and_leaves_the_digest_alone(self):
        path = os.path.join(WORKLOADS, "boot.yaml")
        plain = self.run_json(path)
        with tempfile.TemporaryDirectory() as d:
            with_report = self.run_json(path, "--report", d)
            self.assertEqual(plain["digest"], with_report["digest"])
            out = os.path.join(d, "boot-1")
            with open(os.path.join(out, "report.md")) as f:
                md = f.read()
            self.assertIn("Throughput per phase", md)
            self.assertIn("| vm | 0 |", md)
            for png in ("latency.png", "phases.png", "base_load.png"):
                with open(os.path.join(out, png), "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", png)
            with open(os.path.join(out, "result.json")) as f:
                self.assertEqual(json.load(f)["digest"], plain["digest"])

    def test_max_time_stops_the_run_and_bad_values_are_errors(self):
        path = os.path.join(WORKLOADS, "prefetch-idle.yaml")
        j = self.run_json(path, "--max-time", "2s")
        self.assertTrue(j["timed_out"])
        self.assertLessEqual(j["sim_time_s"], 2.5)
        self.assertEqual(j["violations"], [])
        for bad in ("soon", "0s", "5"):
            r = run("run", path, "--max-time", bad)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("--max-time", r.stderr)

    def test_malformed_yaml_names_file_line_column(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.yaml")
            with open(path, "w") as f:
                f.write("name: bad\ndisks:\n  - {name: ssd, preset: ssd}\nvms:\n"
                        "  - name: vm\n    disk: ssd\n    image: {size: 64MiB}\n"
                        "    phases:\n      - {kind: random, ops: 10, read_percent: 150}\n")
            r = run("run", path)
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(r.stdout, "")
            self.assertIn("bad.yaml:9:", r.stderr)
            self.assertIn("read_percent", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_unknown_key_and_options(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "typo.yaml")
            with open(path, "w") as f:
                f.write("name: typo\nseeed: 3\n")
            r = run("run", path)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("typo.yaml:2:1", r.stderr)
            self.assertIn("seeed", r.stderr)
        self.assertNotEqual(run("run", "/nonexistent.yaml").returncode, 0)
        self.assertNotEqual(run("run", os.path.join(WORKLOADS, "boot.yaml"), "--frob").returncode, 0)
        self.assertEqual(run("run", "--help").returncode, 0)


if __name__ == "__main__":
    unittest.main()
