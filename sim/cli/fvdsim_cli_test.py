"""fvdsim end to end: every shipped workload runs clean with the JSON the issue asks for, the
same seed repeats its digest and another seed changes it, and bad input is a clear error;
swarm worlds repeat and round-trip through --print-world; explore groups the failures of a
deliberately broken engine and survives runs that crash or hang; minimize shrinks a failure.

Run by CTest with FVDSIM set to the binary, FVDSIM_TESTBUGS to the test build with deliberate
bugs (--bug) and WORKLOADS to the workloads folder."""
import glob
import json
import math
import os
import stat
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

FVDSIM = os.environ.get("FVDSIM", "fvdsim")
FVDSIM_TESTBUGS = os.environ.get("FVDSIM_TESTBUGS", "")
WORKLOADS = os.environ.get("WORKLOADS", "workloads")


def ns(x):
    """A figure in ns as the fit rounds it (std::llround: halves away from zero); Python's
    round() takes halves to even."""
    return int(math.floor(x + 0.5))


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
            with open(os.path.join(out, "plots.gp")) as f:
                self.assertTrue(f.read().startswith("time_label = 'virtual time (s)'\n"))

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

    def test_an_image_that_does_not_reopen_is_a_violation_not_a_crash(self):
        # No journal: after a crash the image is refused read-write (FORMAT.md), so the reopen
        # fails. That used to kill fvdsim with SIGSEGV (Recover ran again on a null image).
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "reopen.yaml")
            with open(path, "w") as f:
                f.write("name: reopen\ndisks: [{name: d, preset: ssd}]\nvms:\n"
                        "  - name: vm\n    disk: d\n"
                        "    image: {size: 16MiB, compact: true, journal_size: 0}\n"
                        "    phases: [{kind: random, duration: 2s, queue_depth: 4}]\n"
                        "crashes: [{vm: vm, at: 500ms}]\n")
            r = run("run", path)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("the image does not open", r.stderr)
            self.assertIn(f"reproduce: fvdsim run {path} --seed 1", r.stderr)
            j = json.loads(run("run", path, "--json").stdout)
            self.assertEqual(j["signature"], "open-failed@reopen-after-crash")

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



def testbugs(*args, timeout=600):
    return subprocess.run([FVDSIM_TESTBUGS, *args], capture_output=True, text=True,
                          timeout=timeout)


CRASH_STORM = os.path.join(WORKLOADS, "crash-storm.yaml")
BUG = "skip_data_flush_before_journal"


class SwarmTest(unittest.TestCase):
    def run_json(self, *args):
        r = run("run", *args, "--json")
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return json.loads(r.stdout)

    def test_the_seed_chooses_the_same_world_every_time_and_others_for_others(self):
        a = self.run_json(CRASH_STORM, "--swarm", "--seed", "3")
        b = self.run_json(CRASH_STORM, "--swarm", "--seed", "3")
        c = self.run_json(CRASH_STORM, "--swarm", "--seed", "4")
        self.assertEqual(a["digest"], b["digest"])
        self.assertEqual(a["world"]["yaml"], b["world"]["yaml"])
        self.assertTrue(a["world"]["swarm"])
        self.assertNotEqual(a["world"]["yaml"], c["world"]["yaml"])
        self.assertNotEqual(a["digest"], c["digest"])
        plain = self.run_json(CRASH_STORM, "--seed", "3")
        self.assertFalse(plain["world"]["swarm"])
        self.assertIn("crashes", plain["world"]["features"])

    def test_print_world_round_trips_to_the_same_digest(self):
        with tempfile.TemporaryDirectory() as d:
            for seed in ("5", "11", "23"):
                world = os.path.join(d, f"world-{seed}.yaml")
                swarm = self.run_json(CRASH_STORM, "--swarm", "--seed", seed,
                                      "--print-world", world)
                self.assertEqual(swarm["world"]["file"], world)
                plain = self.run_json(world)  # no --swarm, no --seed: the file has both
                self.assertEqual(plain["digest"], swarm["digest"], seed)
                self.assertEqual(plain["seed"], int(seed))
            r = run("run", CRASH_STORM, "--swarm", "--seed", "5", "--print-world", "-")
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(d, "world-5.yaml")) as f:
                self.assertEqual(r.stdout, f.read())
            self.assertNotIn("digest", r.stdout)  # printed, not run

    def test_the_reference_lists_every_knob_as_fvdsim_knobs_prints_it(self):
        r = run("knobs")
        self.assertEqual(r.returncode, 0)
        with open(os.path.join(WORKLOADS, "REFERENCE.md")) as f:
            ref = f.read()
        begin, end = "<!-- fvdsim knobs: begin -->\n", "<!-- fvdsim knobs: end -->"
        self.assertIn(begin, ref)
        listed = ref[ref.index(begin) + len(begin):ref.index(end)]
        self.assertEqual(listed, r.stdout, "workloads/REFERENCE.md is out of date: paste "
                                           "`fvdsim knobs` between its markers")
        self.assertIn("| `crashes` | 50% |", r.stdout)

    def test_bad_swarm_sections_are_named_and_nothing_runs(self):
        cases = {
            "swarm:\n  disk.read_latency: 2ms..50us\n": "w.yaml:3:22: swarm.disk.read_latency: "
                                                         "min 2ms is above max 50us",
            "swarm:\n  disk.speed: 1ms\n": "w.yaml:3:3: swarm.disk.speed: unknown knob",
            "swarm:\n  image.block_size: 4 furlongs\n": "w.yaml:3:21: swarm.image.block_size: ",
        }
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "w.yaml")
            for text, message in cases.items():
                with open(path, "w") as f:
                    f.write("name: w\n" + text)
                for cmd in (["run", path, "--swarm"], ["explore", path, "--swarm", "--seeds", "1-3"]):
                    r = run(*cmd)
                    self.assertEqual(r.returncode, 2, cmd)
                    self.assertIn(message.replace("w.yaml", path), r.stderr)
                    self.assertEqual(r.stdout, "")
            # A swarm-only file needs --swarm.
            with open(path, "w") as f:
                f.write("name: w\nswarm:\n  phase.kind: random\n")
            r = run("run", path)
            self.assertEqual(r.returncode, 2)
            self.assertIn("run it with --swarm", r.stderr)
            self.assertEqual(self.run_json(path, "--swarm", "--seed", "2")["violations"], [])


@unittest.skipUnless(FVDSIM_TESTBUGS, "FVDSIM_TESTBUGS names no test build")
class ExploreTest(unittest.TestCase):
    def test_explore_finds_a_deliberate_bug_and_groups_it(self):
        r = testbugs("explore", CRASH_STORM, "--swarm", "--seeds", "1-12", "-j", "2",
                     "--bug", BUG, "--json")
        self.assertEqual(r.returncode, 1, r.stderr + r.stdout[-2000:])
        j = json.loads(r.stdout)
        self.assertEqual(j["seeds_run"], 12)
        self.assertGreater(j["failed"], 0)
        self.assertEqual(sum(g["count"] for g in j["groups"]), j["failed"])
        g = j["groups"][0]
        self.assertRegex(g["signature"], r"^[a-z-]+@[a-z-]+$")
        self.assertIn("crashes", g["features_in_all"])
        # The reproduce command fails the same way on its own.
        cmd = g["reproduce"].split()
        self.assertEqual(cmd[0], "fvdsim_testbugs")
        again = testbugs(*cmd[1:], "--json")
        self.assertEqual(again.returncode, 1)
        self.assertEqual(json.loads(again.stdout)["signature"], g["signature"])
        self.assertIn("reproduce: fvdsim_testbugs run", testbugs(*cmd[1:]).stderr)

    def test_the_engine_without_bugs_passes_the_same_seeds(self):
        r = run("explore", CRASH_STORM, "--swarm", "--seeds", "1-12", "-j", "2", "--json")
        self.assertEqual(r.returncode, 0, r.stdout[-3000:])
        j = json.loads(r.stdout)
        self.assertEqual((j["seeds_run"], j["failed"], j["groups"]), (12, 0, []))
        text = run("explore", CRASH_STORM, "--seeds", "1-2")
        self.assertEqual(text.returncode, 0)
        self.assertIn("explore: 2 seeds (1-2)", text.stdout)
        self.assertIn("no seed failed", text.stdout)

    def test_a_run_that_crashes_or_hangs_is_a_finding_and_the_rest_go_on(self):
        with tempfile.TemporaryDirectory() as d:
            wrapper = os.path.join(d, "fvdsim-wrapper")
            with open(wrapper, "w") as f:
                f.write(textwrap.dedent(f"""\
                    #!{sys.executable}
                    import os, signal, sys, time
                    seed = sys.argv[sys.argv.index("--seed") + 1]
                    if seed == "3":
                        os.kill(os.getpid(), signal.SIGSEGV)
                    if seed == "4":
                        time.sleep(600)
                    os.execv({FVDSIM!r}, [{FVDSIM!r}] + sys.argv[1:])
                    """))
            os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
            start = time.monotonic()
            # Runs of 200 ms of virtual time take a few hundredths of a CPU second; the 20 s
            # timeout leaves them hundreds of times that on a busy or slow machine (with a 3 s
            # timeout and whole runs, a normal seed timed out under load).
            r = run("explore", os.path.join(WORKLOADS, "database.yaml"), "--seeds", "1-6",
                    "-j", "2", "--timeout", "20s", "--max-time", "200ms", "--fvdsim", wrapper,
                    "--json")
            self.assertLess(time.monotonic() - start, 300)  # a generous bound, not a speed test
            self.assertEqual(r.returncode, 1, r.stderr)
            j = json.loads(r.stdout)
            self.assertEqual(j["seeds_run"], 6)
            groups = {g["signature"]: g["seeds"] for g in j["groups"]}
            self.assertEqual(groups, {"process-crash@SIGSEGV": [3], "timeout@wall-clock": [4]})

    def test_minimize_shrinks_a_failure_into_a_file_that_fails_alone(self):
        found = json.loads(testbugs("explore", CRASH_STORM, "--swarm", "--seeds", "1-20",
                                    "--bug", BUG, "--first-failure", "--json").stdout)
        self.assertGreater(found["failed"], 0)
        seed = str(found["groups"][0]["seeds"][0])
        signature = found["groups"][0]["signature"]
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "min.yaml")
            r = testbugs("minimize", CRASH_STORM, "--seed", seed, "--swarm", "--bug", BUG,
                         "-o", out, "--max-runs", "40", "-j", "2", "--json")
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            m = json.loads(r.stdout)
            self.assertEqual(m["signature"], signature)
            self.assertLess(m["events_after"], m["events_before"])
            self.assertGreater(len(m["removed"]), 0)
            # Progress on stderr: a line per change kept, naming it, with the runs so far.
            kept = [l for l in r.stderr.splitlines() if "] kept: " in l]
            self.assertEqual(len(kept), len(m["removed"]), r.stderr)
            self.assertIn(m["removed"][0], kept[0])
            self.assertRegex(kept[0], r"^minimize: \[\d+/40 runs\] kept: ")
            alone = testbugs("run", out, "--bug", BUG, "--json")
            self.assertEqual(alone.returncode, 1)
            self.assertEqual(json.loads(alone.stdout)["signature"], signature)
            self.assertEqual(json.loads(alone.stdout)["events"], m["events_after"])
            # A seed that passes has nothing to minimize.
            r = run("minimize", CRASH_STORM, "--seed", seed, "--swarm", "-o", out)
            self.assertEqual(r.returncode, 2)
            self.assertIn("nothing to minimize", r.stderr)

    # A world no single edit keeps failing at its own seed (the stale_before_journal reproducer
    # an earlier minimize left at 1,705 events): every edit changes the random choices the
    # failure needs. Trying each edit at other seeds still shrinks it.
    STUCK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                         "stuck-at-its-seed.yaml")
    STUCK_BUG = "stale_before_journal"

    def test_minimize_tries_edits_at_other_seeds_when_none_keeps_the_failure(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "min.yaml")
            args = ("minimize", self.STUCK, "--seed", "3809", "--bug", self.STUCK_BUG, "-o", out,
                    "-j", "2", "--json")
            plain = json.loads(testbugs(*args, "--reseeds", "0").stdout)
            self.assertEqual(plain["removed"], [])
            self.assertEqual(plain["events_after"], plain["events_before"])
            r = testbugs(*args, "--max-runs", "400")
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            m = json.loads(r.stdout)
            self.assertEqual(m["signature"], "lost-flushed-data@check-after-crash")
            self.assertLess(m["events_after"], m["events_before"])
            self.assertTrue(any("(at seed " in what for what in m["removed"]), m["removed"])
            self.assertIn("no edit keeps it at seed 3809: trying each at the 32 seeds after it",
                          r.stderr)
            self.assertNotEqual(m["file_seed"], 3809)
            alone = testbugs("run", out, "--bug", self.STUCK_BUG, "--json")
            self.assertEqual(alone.returncode, 1)
            j = json.loads(alone.stdout)
            self.assertEqual(j["seed"], m["file_seed"])
            self.assertEqual(j["signature"], m["signature"])
            self.assertEqual(j["events"], m["events_after"])

    def test_bad_explore_options(self):
        for args, message in ((["--seeds", "5-1"], "--seeds 5-1"),
                              ([], "give --seeds A-B or --time T"),
                              (["--time", "soon"], "--time soon"),
                              (["--seeds", "1-2", "--fvdsim", "/nonexistent/fvdsim"],
                               "cannot run /nonexistent/fvdsim")):
            r = run("explore", CRASH_STORM, *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(message, r.stderr)


class CalibrateTest(unittest.TestCase):
    """fvdsim calibrate: a disk model measured with fio; refusals before anything is written."""

    def test_a_model_measured_in_a_folder_runs_a_workload(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            model = os.path.join(d, "model.yaml")
            r = run("calibrate", d, "--size", "16MiB", "--runtime", "0.1", "-o", model,
                    "--cache", "page", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            j = json.loads(r.stdout)
            self.assertGreater(j["measured"]["read_4k_ns"], 0)
            self.assertGreater(j["model"]["bandwidth_bytes_per_s"], 0)
            probe = j["probes"]["4 KiB random reads, QD1"]
            self.assertEqual(probe["direction"], "read")
            self.assertGreaterEqual(probe["p99_ns"], probe["p50_ns"])
            self.assertGreater(probe["p50_ns"], 0)
            self.assertEqual(j["probes"]["4 KiB random writes, QD1"]["direction"], "write")
            self.assertIn("calibrate: [7/15] 4 KiB random writes, each with an fsync", r.stderr)
            self.assertIn("calibrate: [10/15] 4 KiB random writes with O_DSYNC, QD4", r.stderr)
            self.assertIn("calibrate: [12/15] 4 KiB random writes into a sparse file, each with an "
                          "fsync", r.stderr)
            self.assertIn("calibrate: [13/15] 4 KiB random writes into a sparse file, QD32",
                          r.stderr)
            self.assertIn("calibrate: [14/15] 4 KiB random writes with O_DSYNC into a sparse file, "
                          "QD4", r.stderr)
            self.assertIn("calibrate: [15/15] the host's CPU per request (real mode, four runs)",
                          r.stderr)
            # The host's share: real mode's CPU per request, from the difference of two runs,
            # over written data and into a new image.
            host = j["host_probe"]
            self.assertGreater(host["requests"], 4000)  # 4000 operations, the fill, the journal
            self.assertGreater(host["cpu_ns_per_request"], 0)
            self.assertGreater(host["fresh_write_cpu_ns"], 0)
            self.assertEqual(j["measured"]["host_cpu_per_request_ns"], host["cpu_ns_per_request"])
            self.assertEqual(j["model"]["host_cost_ns"], ns(host["cpu_ns_per_request"]))
            self.assertEqual(j["model"]["fresh_write_host_cost_ns"],
                             ns(host["fresh_write_cpu_ns"]))
            self.assertGreater(j["measured"]["fua_write_4k_ns"], 0)
            self.assertGreater(j["measured"]["fresh_write_4k_ns"], 0)
            self.assertGreater(j["measured"]["fresh_flush_ns"], 0)
            self.assertEqual(j["model"]["fresh_flush_latency_ns"],
                             ns(j["measured"]["fresh_flush_ns"]))
            # Writes at depth: one per service time, the time per write fio measured at QD32.
            for probe, key in (("write_4k_qd32_iops", "write_service_ns"),
                               ("fresh_write_4k_qd32_iops", "fresh_write_service_ns"),
                               ("fua_write_4k_qd4_iops", "fua_write_service_ns"),
                               ("fresh_fua_write_4k_qd4_iops", "fresh_fua_write_service_ns")):
                iops = j["measured"][probe]
                self.assertGreater(iops, 0, probe)
                self.assertEqual(j["model"][key], ns(1e9 / iops), key)
            # The scratch files are gone; the model is all that was left.
            self.assertEqual(sorted(os.listdir(d)), ["model.yaml"])
            with open(model) as f:
                text = f.read()
            self.assertIn("# Disk model measured by fvdsim calibrate", text)
            self.assertIn("read_latency: ", text)
            self.assertIn("fresh_write_latency: ", text)
            self.assertIn("host_cost: ", text)
            workload = os.path.join(d, "w.yaml")
            with open(workload, "w") as f:
                f.write(textwrap.dedent("""\
                    disks: [{name: mine, model: model.yaml}]
                    vms:
                      - {name: vm, disk: mine, image: {size: 8MiB},
                         phases: [{kind: random, ops: 200, queue_depth: 4}]}
                """))
            r = run("run", workload, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["vms"][0]["writes"] +
                             json.loads(r.stdout)["vms"][0]["reads"], 200)

    def test_refusals_name_what_and_write_nothing(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            existing = os.path.join(d, "data.img")
            with open(existing, "wb") as f:
                f.write(b"keep" * 1024)
            cases = [
                ([existing], existing + " exists: give a folder"),
                ([os.path.join(d, "no", "such", "x")], "the folder " + os.path.join(d, "no", "such")
                 + " does not exist"),
                ([d, "--size", "1MiB"], "--size 1048576: at least 16MiB"),
                ([d, "--size", "big"], "--size big"),
                ([d, "--fio", "/nonexistent/fio"], "/nonexistent/fio is not an executable"),
                ([d, "--cache", "sometimes"], "--cache"),
            ]
            for args, message in cases:
                r = run("calibrate", *args)
                self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
                self.assertIn(message, r.stderr, args)
            with open(existing, "rb") as f:
                self.assertEqual(f.read(), b"keep" * 1024)
            self.assertEqual(os.listdir(d), ["data.img"])
        # A block device is written over only with --device; tmpfs has no O_DIRECT.
        devices = [os.path.join("/dev", n) for n in sorted(os.listdir("/dev"))
                   if stat.S_ISBLK(os.stat(os.path.join("/dev", n)).st_mode)]
        if devices:
            r = run("calibrate", devices[0])
            self.assertEqual(r.returncode, 2)
            self.assertIn(devices[0] + " is a block device: calibration would write over its "
                          "data; give --device", r.stderr)
        if subprocess.run(["stat", "-f", "-c", "%T", "/dev/shm"], capture_output=True,
                          text=True).stdout.strip() == "tmpfs":
            r = run("calibrate", "/dev/shm", "--size", "16MiB")
            self.assertEqual(r.returncode, 2)
            self.assertIn("/dev/shm is on tmpfs, which has no O_DIRECT: give --cache page",
                          r.stderr)


class RealModeTest(unittest.TestCase):
    """fvdsim run --real DIR: the same VMs and oracle on real FVD images."""

    WORKLOAD = textwrap.dedent("""\
        name: real
        seed: 3
        max_time: 60s
        disks: [{name: d, preset: ssd}]
        bases: [{name: base.raw, disk: d, size: 16MiB, nonzero: 8MiB}]
        vms:
          - name: vm
            disk: d
            base: base.raw
            image: {copy_on_read: true}
            phases:
              - {kind: random, ops: 1500, queue_depth: 4, read_percent: 60%,
                 sizes: {4KiB: 3, 64KiB: 1}}
          - name: fresh
            disk: d
            image: {size: 8MiB, compact: true, chunk_size: 64KiB}
            phases:
              - {kind: random, ops: 800, queue_depth: 8, read_percent: 50%,
                 flush_every_writes: 50}
    """)

    def write(self, d, text):
        path = os.path.join(d, "w.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_workload_runs_clean_on_real_files_and_leaves_nothing(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            workload = self.write(d, self.WORKLOAD)
            real = os.path.join(d, "real")
            for extra in ([], ["--direct"]):
                r = run("run", workload, "--real", real, "--json", *extra)
                self.assertEqual(r.returncode, 0, r.stderr)
                j = json.loads(r.stdout)
                self.assertEqual(j["violations"], [])
                ops = {v["name"]: v["reads"] + v["writes"] + v["flushes"] for v in j["vms"]}
                self.assertEqual(ops, {"vm": 1500, "fresh": 800})
                vm = [v for v in j["vms"] if v["name"] == "vm"][0]
                self.assertGreater(vm["copy_on_read_bytes"], 0)  # the base file was read
                self.assertEqual(os.listdir(real), [], extra)
            r = run("run", workload, "--real", real, "--keep", "-q")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(os.listdir(real)), ["base.raw", "fresh.fvd", "vm.fvd"])

    NETWORK = textwrap.dedent("""\
        name: net
        seed: 2
        max_time: 60s
        disks:
          - {name: server, preset: network, bandwidth: 4MB/s, read_latency: 2ms, jitter: 0}
          - {name: d, preset: ssd}
        bases: [{name: base.raw, disk: server, size: 4MiB}]
        vms:
          - name: vm
            disk: d
            base: base.raw
            image: {copy_on_read: true, prefetch_start_delay: 1s}
            phases:
              - {kind: boot, working_set: 1MiB, sizes: 64KiB, ops: 16, queue_depth: 1}
              - {kind: idle, duration: 3s}
    """)

    def test_a_base_on_a_network_disk_is_served_at_the_disks_bandwidth(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            workload = self.write(d, self.NETWORK)
            real = os.path.join(d, "real")
            r = run("run", workload, "--real", real, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            j = json.loads(r.stdout)
            self.assertEqual(j["violations"], [])
            self.assertEqual(j["notes"], [
                "base base.raw (on network disk server): served by nbdkit on the disk's link "
                "model (2 ms, 4 MB/s serialized, jitter up to 0 ms)"])
            vm = j["vms"][0]
            self.assertGreater(vm["prefetch_bytes"], 2 << 20)
            self.assertIsNotNone(vm["prefetch_finished_s"])
            # Times count from the run's start, as simulated ones do.
            self.assertGreaterEqual(vm["prefetch_started_s"], 1.0)
            self.assertLess(vm["prefetch_finished_s"], j["sim_time_s"])
            # The link holds the copy back: every byte crosses it at 4 MB/s, one read after
            # another, so no machine copies these bytes sooner (a slower one takes longer).
            took = vm["prefetch_finished_s"] - vm["prefetch_started_s"]
            self.assertGreaterEqual(took, vm["prefetch_bytes"] / 4e6 * 0.99, vm)
            self.assertEqual(os.listdir(real), [])

            report = os.path.join(d, "report")
            r = run("run", workload, "--real", real, "--json", "--local-bases", "--report", report)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["notes"], [
                "base base.raw (on network disk server): read as a local file (--local-bases)"])
            # The report of a real run: its series count real seconds from the run's start.
            with open(os.path.join(report, "net-2", "report.md")) as f:
                self.assertIn("# fvdsim report: net, seed 2, on real storage", f.read())
            with open(os.path.join(report, "net-2", "latency.dat")) as f:
                times = [float(line.split()[0]) for line in f if not line.startswith("#")]
            self.assertEqual(len(times), 16)  # the boot phase's reads
            self.assertTrue(all(0 <= t < json.loads(r.stdout)["sim_time_s"] for t in times))
            self.assertTrue(os.path.exists(os.path.join(report, "net-2", "prefetch.dat")))
            with open(os.path.join(report, "net-2", "plots.gp")) as f:
                self.assertTrue(f.read().startswith("time_label = 'time (s)'\n"))

    def test_no_nbdkit_is_a_clear_error_and_leaves_nothing(self):
        fvdsim = shutil.which(FVDSIM) or FVDSIM
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            workload = self.write(d, self.NETWORK)
            real = os.path.join(d, "real")
            r = subprocess.run([fvdsim, "run", workload, "--real", real], capture_output=True,
                               text=True, timeout=60, env=dict(os.environ, PATH="/nonexistent"))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("base base.raw (on network disk server): real mode serves it with "
                          "nbdkit, which could not be run", r.stderr)
            self.assertIn("--local-bases", r.stderr)
            self.assertEqual(os.listdir(real), [])

    def test_a_server_that_cannot_start_is_a_clear_error(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            workload = self.write(d, self.NETWORK)
            real = os.path.join(d, "real")
            r = subprocess.run([FVDSIM, "run", workload, "--real", real], capture_output=True,
                               text=True, timeout=60,
                               env=dict(os.environ, FVD_LINK_FILTER=os.path.join(d, "no.so")))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("base base.raw (on network disk server): nbdkit exited before serving "
                          "it: ", r.stderr)
            self.assertIn("no.so", r.stderr)  # nbdkit's own words name the missing filter
            self.assertEqual(os.listdir(real), [])

    def test_real_mode_options_need_real(self):
        r = run("run", os.path.join(WORKLOADS, "random-rw.yaml"), "--local-bases")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--local-bases requires --real", r.stderr)

    def test_kills_recover_and_check_and_the_vms_go_on(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            # Phases of a fixed length, so that every crash time falls inside them however fast
            # the machine is.
            workload = self.write(d, self.WORKLOAD.replace("ops: 1500", "duration: 1500ms").replace(
                "ops: 800", "duration: 1500ms") + textwrap.dedent("""\
                crashes:
                  - {at: [0.3s, 0.6s]}
                  - {vm: fresh, at: [0.9s]}
                """))
            real = os.path.join(d, "real")
            report = os.path.join(d, "report")
            r = run("run", workload, "--real", real, "--json", "--report", report)
            self.assertEqual(r.returncode, 0, r.stderr)
            j = json.loads(r.stdout)
            self.assertEqual(j["violations"], [])
            vms = {v["name"]: v for v in j["vms"]}
            # The report's series has every completed operation of every life, in real
            # seconds from the run's start.
            with open(os.path.join(report, "real-3", "latency.dat")) as f:
                times = [float(line.split()[0]) for line in f if not line.startswith("#")]
            self.assertEqual(len(times), sum(v["reads"] + v["writes"] + v["flushes"]
                                             for v in vms.values()))
            self.assertTrue(all(0 <= t <= j["sim_time_s"] for t in times))
            self.assertEqual(vms["vm"]["crashes_survived"], 2, vms["vm"])
            self.assertEqual(vms["fresh"]["crashes_survived"], 3, vms["fresh"])
            self.assertEqual(j["crashes"], 5)
            for v in vms.values():
                self.assertGreater(v["reads"] + v["writes"], 0, v)
                self.assertGreater(v["recovery_max_ms"], 0, v)
                # Each life took the phase up where the last one was killed, and it ran its
                # whole length over them.
                self.assertEqual(len(v["phases"]), 1, v)
                self.assertGreaterEqual(v["phases"][0]["duration_s"], 1.5, v)
            self.assertGreater(sum(v["journal_replayed_sectors"] for v in vms.values()), 0)
            self.assertIn("crashes are process kills", " ".join(j["notes"]))
            self.assertFalse(j["timed_out"])
            self.assertEqual(os.listdir(real), [])
            # max_time stops the lives' workload, and the run says so.
            r = run("run", workload, "--real", real, "--json", "--max-time", "1200ms")
            self.assertEqual(r.returncode, 0, r.stderr)
            j = json.loads(r.stdout)
            self.assertEqual(j["violations"], [])
            self.assertTrue(j["timed_out"])
            self.assertEqual(j["crashes"], 5)  # all of them: the last, at 0.9 s, is before 1.2 s

    def test_refusals_name_the_key_and_touch_nothing(self):
        with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
            real = os.path.join(d, "real")
            workload = self.write(d, self.WORKLOAD + "crashes: [{at: 1s}, {after_ops: 100}]\n")
            r = run("run", workload, "--real", real)
            self.assertEqual(r.returncode, 2)
            lines = len(self.WORKLOAD.splitlines())
            self.assertEqual(r.stderr, f"fvdsim: {workload}:{lines + 1}:22: crashes[1].after_ops: "
                             "not in real mode (fvdsim run --real): a run cannot count the "
                             "engine's device operations from outside its process; give at or "
                             "random_per_hour\n")
            self.assertFalse(os.path.exists(real))
            r = run("run", self.write(d, self.WORKLOAD + "errors: [{disk: d, op: read}]\n"),
                    "--real", real)
            self.assertEqual(r.returncode, 2)
            self.assertIn(f":{lines + 1}:1: errors: not in real mode (fvdsim run --real): a real "
                          "device cannot be told to fail an operation", r.stderr)
            os.makedirs(real)
            with open(os.path.join(real, "vm.fvd"), "wb") as f:
                f.write(b"mine")
            r = run("run", self.write(d, self.WORKLOAD), "--real", real)
            self.assertEqual(r.returncode, 2)
            self.assertIn("vm.fvd is there already; a run would overwrite it", r.stderr)
            self.assertEqual(os.listdir(real), ["vm.fvd"])
            with open(os.path.join(real, "vm.fvd"), "rb") as f:
                self.assertEqual(f.read(), b"mine")
        if subprocess.run(["stat", "-f", "-c", "%T", "/dev/shm"], capture_output=True,
                          text=True).stdout.strip() == "tmpfs":
            with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
                r = run("run", self.write(d, self.WORKLOAD), "--real", "/dev/shm", "--direct")
                self.assertEqual(r.returncode, 2)
                self.assertIn("is on tmpfs, which has no O_DIRECT", r.stderr)


if __name__ == "__main__":
    unittest.main()
