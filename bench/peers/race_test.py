"""race.py end to end on tiny disks: every server starts, serves and stops; every cell of the
asked states has a figure for every server; the ratios in the report are the ones the samples
give (computed here from the raw samples, not by race.py's code); a bad option is refused.
Speeds are not judged: this checks the harness, not the machine.

Environment: FVD_IMG, FVD_NBDKIT_PLUGIN. Run with Debian's python3 (CTest: peers_race).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ["raw/qemu-nbd", "qcow2", "qcow2-ovl", "raw/nbdkit", "fvd", "fvd-ovl"]


def race(*args):
    return subprocess.run([sys.executable, os.path.join(HERE, "race.py"),
                           "--fvd-img", os.environ["FVD_IMG"],
                           "--plugin", os.environ["FVD_NBDKIT_PLUGIN"], *args],
                          capture_output=True, text=True, timeout=600)


class RaceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp"))
        cls.out = os.path.join(cls.tmp.name, "report")
        cls.r = race("--smoke", cls.out, "--states", "allocating-write,base-read",
                     "--patterns", "rand4k", "--depths", "1,4", "--qemu-img-bench")
        with open(os.path.join(cls.out, "results.json")) as f:
            cls.result = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_it_ran_and_left_no_scratch(self):
        self.assertEqual(self.r.returncode, 0, self.r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out, "scratch")))

    def test_every_cell_has_every_server(self):
        rows = self.result["rows"]
        # 2 states x 2 depths x 2 caches, by fio and by qemu-img bench
        self.assertEqual(len(rows), 16)
        self.assertEqual({r["tool"] for r in rows}, {"fio", "qemu-img-bench"})
        for r in rows:
            self.assertEqual(sorted(r["servers"]), sorted(SERVERS))
            for v in r["servers"].values():
                self.assertEqual(len(v["samples"]), 1)
                self.assertGreater(v["iops"], 0)

    def test_ratios_are_what_the_samples_give(self):
        for r in self.result["rows"]:
            s = {k: v["samples"][0] for k, v in r["servers"].items()}
            raw_for_fvd = s["raw/nbdkit"] if r["cache"] == "writeback" else s["raw/qemu-nbd"]
            self.assertAlmostEqual(r["servers"]["qcow2-ovl"]["vs_raw_same_server"]["median"],
                                   s["qcow2-ovl"] / s["raw/qemu-nbd"])
            self.assertAlmostEqual(r["servers"]["fvd-ovl"]["vs_raw_same_server"]["median"],
                                   s["fvd-ovl"] / raw_for_fvd)
            self.assertAlmostEqual(
                r["fvd-ovl_vs_qcow2-ovl_server_divided_out"]["median"],
                (s["fvd-ovl"] / raw_for_fvd) / (s["qcow2-ovl"] / s["raw/qemu-nbd"]))

    def test_the_report_has_every_row_and_target(self):
        with open(os.path.join(self.out, "README.md")) as f:
            text = f.read()
        for tool in ("## fio nbd engine", "## qemu-img bench (second opinion)"):
            self.assertIn(tool, text)
        self.assertEqual(text.count("| allocating-write | rand4k |"), 8)
        # targets: fvd-ovl allocating rand4k in 4 cells (depths x caches)
        self.assertEqual(text.count("- fvd-ovl allocating-write rand4k"), 4)

    def test_a_bad_option_is_refused_and_nothing_runs(self):
        r = race("--smoke", os.path.join(self.tmp.name, "bad"), "--states", "sideways")
        self.assertEqual(r.returncode, 2)
        self.assertIn("sideways", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "bad")))


if __name__ == "__main__":
    unittest.main()
