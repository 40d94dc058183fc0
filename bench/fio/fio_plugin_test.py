"""fio driving FVD images through libfvd_fio.so, end to end (issue 8's "done when").

Run by CTest with FVD_FIO_PLUGIN (the plugin), FVD_IMG (fvd-img) and FIO set. fio checks the
data itself (--verify=crc32c writes a checksummed header into every block and verifies it on
read-back); fvd-img checks the image's metadata afterwards.
"""
import json
import os
import random
import re
import signal
import subprocess
import tempfile
import time
import unittest

PLUGIN = os.environ.get("FVD_FIO_PLUGIN", "")
FVD_IMG = os.environ.get("FVD_IMG", "fvd-img")
FIO = os.environ.get("FIO", "fio")
MIB = 1 << 20
MIXED_SIZES = "512/10:4k/40:16k/25:64k/20:128k/5"


PRELOAD = os.environ.get("FVD_ASAN_PRELOAD", "")  # ASan runtime, under the asan preset


def fio_env():
    """fio's environment: under ASan, the runtime goes first so the plugin can load."""
    e = dict(os.environ)
    if PRELOAD:
        e["LD_PRELOAD"] = PRELOAD
        e["ASAN_OPTIONS"] = "detect_leaks=0"
    return e


def processes_naming(path):
    """PIDs of the processes whose command line names path."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if path.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass  # the process ended while we looked
    return found


def fio(*args, timeout=300):
    # verify_state_save=0: fio would otherwise leave *-verify.state files in the working dir.
    return subprocess.run([FIO, f"--ioengine=external:{PLUGIN}", "--verify_state_save=0", *args],
                          capture_output=True,
                          text=True, timeout=timeout, env=fio_env())


class FioPluginTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(os.path.isabs(PLUGIN), "FVD_FIO_PLUGIN must be an absolute path")
        self.tmp = tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp"))
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def make_base(self, size):
        rnd = random.Random(size)
        self.base_bytes = rnd.randbytes(size)
        with open(self.path("base.raw"), "wb") as f:
            f.write(self.base_bytes)

    def run_json(self, *args):
        out = self.path("fio.json")
        r = fio(*args, "--output-format=json", f"--output={out}")
        self.assertEqual(r.returncode, 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        with open(out) as f:
            return json.load(f)["jobs"][0]

    def check_image(self, disk, allowed=(0,)):
        r = subprocess.run([FVD_IMG, "check", disk], capture_output=True, text=True, timeout=60)
        self.assertIn(r.returncode, allowed, r.stdout + r.stderr)

    def write_verify(self, overlay, iodepth, engine_options):
        disk = self.path("disk.fvd")
        options = list(engine_options)
        if overlay:
            self.make_base(48 * MIB)
            options.append("--fvd_base=base.raw")
        options.append("--fvd_size=64m")
        job = self.run_json(
            "--name=wv", f"--filename={disk}", *options, "--rw=randwrite",
            f"--bssplit={MIXED_SIZES}", "--size=32m", "--io_size=24m", f"--iodepth={iodepth}",
            "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--randseed=7")
        self.assertEqual(job["error"], 0)
        written = job["write"]["io_bytes"]
        self.assertGreaterEqual(written, 24 * MIB)
        # fio's random map writes each block at most once in a pass, and verification reads
        # back every block written.
        self.assertEqual(job["read"]["io_bytes"], written)
        self.check_image(disk)
        if overlay:  # untouched ranges still read the base
            offset = 40 * MIB
            r = subprocess.run([FVD_IMG, "io", "-r", disk, "-c", f"read -v {offset} 4k"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = bytearray()
            for line in r.stdout.splitlines():  # qemu-io style "%08x:  xx xx ...  text"
                m = re.match(r"^[0-9a-f]{8}:  ((?:[0-9a-f]{2} )+) ", line)
                if m:
                    got += bytes.fromhex(m.group(1))
            self.assertEqual(bytes(got), self.base_bytes[offset:offset + 4096])

    def test_fresh_qd1_unbuffered_direct(self):
        self.write_verify(False, 1, ["--fvd_journal=unbuffered", "--fvd_cache=none"])

    def test_fresh_qd32_compact_buffered(self):
        self.write_verify(False, 32, ["--fvd_compact=1", "--fvd_chunk_size=256k"])

    def test_overlay_qd1_buffered(self):
        self.write_verify(True, 1, [])

    def test_overlay_qd32_compact_unbuffered_direct(self):
        self.write_verify(True, 32, ["--fvd_compact=1", "--fvd_journal=unbuffered",
                                     "--fvd_cache=none", "--fvd_block_size=4k"])

    def test_rewrites_of_allocated_data_at_qd1_verify(self):
        # A sync job writes data already in the image with one pwrite inside queue
        # (Image::TryWriteNow): rewrite a filled image at iodepth 1, in both cache modes.
        for cache in ("writeback", "none"):
            with self.subTest(cache=cache):
                disk = self.path(f"rewrite-{cache}.fvd")
                options = ["--fvd_size=16m", f"--fvd_cache={cache}"]
                self.run_json("--name=fill", f"--filename={disk}", *options, "--rw=write",
                              "--bs=1m", "--size=16m")
                job = self.run_json(
                    "--name=rewrite", f"--filename={disk}", *options, "--rw=randwrite",
                    f"--bssplit={MIXED_SIZES}", "--size=16m", "--iodepth=1", "--verify=crc32c",
                    "--do_verify=1", "--verify_fatal=1", "--randseed=13")
                self.assertEqual(job["error"], 0)
                self.assertGreaterEqual(job["write"]["io_bytes"], 16 * MIB)
                self.assertEqual(job["read"]["io_bytes"], job["write"]["io_bytes"])
                self.check_image(disk)

    def test_kill_9_mid_run_recovers_and_flushed_data_verifies(self):
        disk = self.path("disk.fvd")
        common = [f"--filename={disk}", "--fvd_size=64m", "--fvd_compact=1",
                  "--fvd_chunk_size=64k"]
        region_a = ["--name=a", "--rw=write", "--bs=16k", "--offset=0", "--size=8m",
                    "--verify=crc32c", "--randseed=11"]
        # Phase A: written and flushed (end_fsync), fio exits normally.
        self.run_json(*common, *region_a, "--do_verify=0", "--end_fsync=1")
        # Phase B: random writes elsewhere, killed once 8 MiB more of the image file holds data.
        def allocated():
            return os.stat(disk).st_blocks * 512

        size_before = allocated()
        proc = subprocess.Popen(
            # --thread: the job runs in fio's own process, so the kill reaches it (a forked
            # job runs on, detached, after its parent is killed).
            [FIO, "--thread", f"--ioengine=external:{PLUGIN}", "--verify_state_save=0", *common,
             "--name=b",
             "--rw=randwrite",
             "--bs=4k", "--offset=16m", "--size=32m", "--iodepth=16", "--fsync=64",
             "--time_based", "--runtime=120", "--output=/dev/null"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env=fio_env())
        deadline = time.monotonic() + 60
        while allocated() < size_before + 8 * MIB:
            self.assertIsNone(proc.poll(), "fio ended before it was killed")
            self.assertLess(time.monotonic(), deadline, "the image never filled")
            time.sleep(0.01)  # polling a condition, not papering over a race
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        self.assertEqual(processes_naming(disk), [], "a fio process outlived the kill")
        # The image recovers: clean or leaks only.
        r = subprocess.run([FVD_IMG, "info", disk], capture_output=True, text=True)
        self.assertIn("clean shutdown: false", r.stdout)
        self.check_image(disk, allowed=(0, 3))
        # Phase A's flushed data verifies.
        job = self.run_json(*common, *region_a, "--do_verify=1", "--verify_only=1",
                            "--verify_fatal=1")
        self.assertEqual(job["error"], 0)
        self.assertEqual(job["read"]["io_bytes"], 8 * MIB)
        self.check_image(disk)

    def test_bad_options_fail_before_any_io(self):
        disk = self.path("disk.fvd")
        r = fio("--name=x", f"--filename={disk}", "--fvd_journal=sometimes", "--rw=write",
                "--size=1m")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("fvd_journal", r.stdout + r.stderr)
        r = fio("--name=x", f"--filename={disk}", "--fvd_chunk_size=64k", "--rw=write",
                "--size=1m")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("fvd_chunk_size: needs fvd_compact=1", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(disk))
        # A file that is not an FVD image: named in the error, and left untouched.
        with open(disk, "wb") as f:
            f.write(b"not an image" * 1000)
        r = fio("--name=x", f"--filename={disk}", "--rw=write", "--size=1m")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(disk, r.stdout + r.stderr)
        with open(disk, "rb") as f:
            self.assertEqual(f.read(), b"not an image" * 1000)

    def test_trim_is_a_clear_error(self):
        disk = self.path("disk.fvd")
        r = fio("--name=t", f"--filename={disk}", "--fvd_size=8m", "--rw=trim", "--size=1m")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not supported", r.stdout + r.stderr)

    def test_enghelp_lists_the_options(self):
        r = subprocess.run([FIO, f"--enghelp={PLUGIN}"], capture_output=True, text=True,
                           timeout=60, env=fio_env())
        for name in ["fvd_create", "fvd_base", "fvd_size", "fvd_compact", "fvd_chunk_size",
                     "fvd_block_size", "fvd_journal_size", "fvd_copy_on_read",
                     "fvd_prefetch_delay", "fvd_journal", "fvd_cache"]:
            self.assertIn(name, r.stdout)


if __name__ == "__main__":
    unittest.main()
