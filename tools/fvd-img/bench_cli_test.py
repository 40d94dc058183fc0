"""End-to-end tests of `fvd-img bench` on real files: qemu-img bench's output, where the
requests land (checked with `fvd-img io`, against the test's own model of the offsets), and
errors that touch nothing. Run by CTest with FVD_IMG set to the binary; QEMU_IMG (default
qemu-img) is used to show that both tools print the same lines for the same command line.
"""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import unittest

FVD_IMG = os.environ.get("FVD_IMG", "fvd-img")
QEMU_IMG = os.environ.get("QEMU_IMG", "qemu-img")
KIB, MIB = 1 << 10, 1 << 20
DONE = re.compile(r"^Run completed in \d+\.\d{3} seconds\.$")


def run(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class BenchTest(unittest.TestCase):
    def setUp(self):
        # /var/tmp: a disk filesystem, where O_DIRECT (-t none) works; /tmp may be tmpfs.
        self.dir = tempfile.mkdtemp(prefix="fvd-bench-", dir=os.environ.get("TMPDIR", "/var/tmp"))
        self.disk = os.path.join(self.dir, "disk.fvd")
        r = run(FVD_IMG, "create", "-q", self.disk, "4M")
        self.assertEqual(r.returncode, 0, r.stderr)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def bench(self, *args):
        return run(FVD_IMG, "bench", *args, self.disk)

    def read_pattern(self, offset, length, pattern):
        r = run(FVD_IMG, "io", "-r", self.disk, "-c", f"read -P {pattern} {offset} {length}")
        return r.returncode == 0

    def test_writes_land_where_qemu_img_bench_would_put_them(self):
        # 8 requests of 4 KiB stepping 3 MiB on a 4 MiB disk: 0, 3M, 2M, 1M, 0, 3M, 2M, 1M.
        r = self.bench("-w", "-c", "8", "-d", "4", "-s", "4K", "-S", "3M", "--pattern", "0xab")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "Sending 8 write requests, 4096 bytes each, 4 in parallel "
                                   "(starting at offset 0, step size 3145728)")
        self.assertRegex(lines[1], DONE)
        written = {0, 1 * MIB, 2 * MIB, 3 * MIB}
        for at in written:
            self.assertTrue(self.read_pattern(at, 4 * KIB, 0xAB), at)
            self.assertTrue(self.read_pattern(at + 4 * KIB, 1 * MIB - 4 * KIB, 0), at)
        self.assertEqual(run(FVD_IMG, "check", self.disk).returncode, 0)

    def test_reads_at_every_depth_and_cache_mode(self):
        r = self.bench("-w", "-c", "1024", "-d", "32", "--pattern", "7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.read_pattern(0, 4 * MIB, 7))
        for cache in ("writeback", "none", "writethrough", "directsync"):
            for depth in ("1", "32"):
                r = self.bench("-c", "2048", "-d", depth, "-s", "64K", "-t", cache)
                self.assertEqual(r.returncode, 0, f"{cache} {depth}: {r.stderr}")
                self.assertRegex(r.stdout.splitlines()[1], DONE)
        # Reads open the image read-only: the file is untouched.
        before = sha256(self.disk)
        self.assertEqual(self.bench("-c", "100", "-q").returncode, 0)
        self.assertEqual(sha256(self.disk), before)

    def test_writes_at_depth_one_in_every_cache_mode_and_backend(self):
        # Without -i, page-cache writes are done inline; -i sends every write to the backend.
        runs = [(cache, ()) for cache in ("writeback", "writethrough", "none", "directsync")]
        runs += [("writeback", ("-i", "io_uring")), ("writeback", ("-i", "threads"))]
        for n, (cache, extra) in enumerate(runs, start=1):
            with self.subTest(cache=cache, extra=extra):
                r = self.bench("-w", "-c", "1024", "-d", "1", "-t", cache, *extra,
                               "--pattern", str(n))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(self.read_pattern(0, 4 * MIB, n))
                self.assertEqual(run(FVD_IMG, "check", self.disk).returncode, 0)

    def test_allocating_writes_on_an_overlay_at_depth_one(self):
        # An overlay of a 4 MiB base: every write allocates. At depth 1 in buffered journal mode
        # they are done synchronously; writethrough's unbuffered journal sends them to the loop.
        base = os.path.join(self.dir, "base.raw")
        with open(base, "wb") as f:
            f.write(bytes([0x5A]) * (4 * MIB))
        runs = [("none", ()), ("writeback", ()), ("writethrough", ()), ("none", ("-i", "io_uring"))]
        for n, (cache, extra) in enumerate(runs, start=1):
            with self.subTest(cache=cache, extra=extra):
                os.unlink(self.disk)
                r = run(FVD_IMG, "create", "-q", "-b", "base.raw", "-F", "raw", self.disk)
                self.assertEqual(r.returncode, 0, r.stderr)
                # 512-byte writes every 8 KiB: half of each 8 KiB stays the base's.
                r = self.bench("-w", "-c", "512", "-d", "1", "-s", "512", "-S", "8K", "-t", cache,
                               *extra, "--pattern", str(n))
                self.assertEqual(r.returncode, 0, r.stderr)
                for at in (0, 8 * KIB, 4 * MIB - 8 * KIB):
                    self.assertTrue(self.read_pattern(at, 512, n), at)
                    self.assertTrue(self.read_pattern(at + 512, 8 * KIB - 512, 0x5A), at)
                self.assertEqual(run(FVD_IMG, "check", self.disk).returncode, 0)

    def test_quiet_prints_nothing(self):
        r = self.bench("-c", "16", "-q")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))

    def test_same_first_line_as_qemu_img_bench(self):
        if not shutil.which(QEMU_IMG):
            self.skipTest("qemu-img not installed")
        raw = os.path.join(self.dir, "disk.raw")
        with open(raw, "wb") as f:
            f.truncate(4 * MIB)
        args = ["-c", "64", "-d", "8", "-o", "512", "-s", "8K", "-S", "16K", "-w"]
        q = run(QEMU_IMG, "bench", "-f", "raw", *args, raw)
        self.assertEqual(q.returncode, 0, q.stderr)
        f = self.bench(*args)
        self.assertEqual(f.returncode, 0, f.stderr)
        self.assertEqual(f.stdout.splitlines()[0], q.stdout.splitlines()[0])

    def test_bad_options_are_named_and_touch_nothing(self):
        before = sha256(self.disk)
        cases = [
            (["-w", "-f", "qcow2"], "-f qcow2: fvd-img benches FVD images only"),
            (["-w", "-s", "1000"], "-s (buffer size) 1000 is not a multiple of 512"),
            (["-w", "-c", "0"], "-c (count) must be at least 1"),
            (["-w", "-o", "4M"], "-o (offset) 4194304 is not inside the disk"),
            (["-w", "-o", "3M", "-s", "2M", "-c", "1"], "request 1 at offset 3145728 would cross"),
            (["-w", "--pattern", "256"], "--pattern 256 is not a byte"),
            (["-w", "-c", "lots"], "-c (count)"),
        ]
        for args, message in cases:
            r = self.bench(*args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(message, r.stderr, args)
            self.assertEqual(r.stdout, "", args)
        r = self.bench("-w", "-t", "unsafe")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--cache: unsafe not in", r.stderr)
        r = run(FVD_IMG, "bench", os.path.join(self.dir, "missing.fvd"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.fvd", r.stderr)
        self.assertEqual(sha256(self.disk), before)


if __name__ == "__main__":
    unittest.main()
