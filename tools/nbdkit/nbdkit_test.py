"""Real NBD clients against fvd-nbdkit.so over a Unix socket (issue 9's "done when").

Run by CTest with FVD_NBDKIT_PLUGIN (the plugin) and FVD_IMG (fvd-img) set. The data tests
(patterns, convert, nbdcopy, overlays, kill -9, fio's nbd engine verifying at QD1 and QD32) run
in both cache modes: the default (page cache) and cache=none (O_DIRECT, whose aligned-buffer
demand nbdkit's buffers do not meet). Each test runs a captive nbdkit (`nbdkit -U - ... --run CMD`): nbdkit starts the client once the server is
ready and shuts down (cleanly) when the client exits, so nothing waits on a guess. Expected
bytes come from the files the test wrote itself.
"""
import os
import random
import re
import signal
import subprocess
import tempfile
import time
import unittest

PLUGIN = os.environ.get("FVD_NBDKIT_PLUGIN", "")
FVD_IMG = os.environ.get("FVD_IMG", "fvd-img")
PRELOAD = os.environ.get("FVD_ASAN_PRELOAD", "")  # ASan runtime, under the asan preset
MIB = 1 << 20


def env():
    e = dict(os.environ)
    if PRELOAD:
        e["LD_PRELOAD"] = PRELOAD
        e["ASAN_OPTIONS"] = "detect_leaks=0"
    return e


def nbdkit(params, run, timeout=300, readonly=False):
    # The ASan runtime is for nbdkit only: clients (qemu-io deadlocks with it) run without.
    run = "unset LD_PRELOAD ASAN_OPTIONS; " + run
    args = ["nbdkit", "-U", "-"] + (["-r"] if readonly else []) + [PLUGIN, *params, "--run", run]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env())


class Server(unittest.TestCase):
    CACHE = []  # extra plugin parameters of every data test: the cache mode

    def setUp(self):
        self.assertTrue(os.path.isabs(PLUGIN), "FVD_NBDKIT_PLUGIN must be an absolute path")
        self.tmp = tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp"))
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def random_file(self, name, size, seed):
        data = random.Random(seed).randbytes(size)
        with open(self.path(name), "wb") as f:
            f.write(data)
        return data

    def fvd_img(self, *args):
        return subprocess.run([FVD_IMG, *args], capture_output=True, text=True, timeout=120)

    def create(self, name, size, *extra):
        r = self.fvd_img("create", "-q", *extra, self.path(name), str(size))
        self.assertEqual(r.returncode, 0, r.stderr)
        return self.path(name)

    def assert_ok(self, r):
        self.assertEqual(r.returncode, 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")

    def assert_clean(self, disk):
        self.assertEqual(self.fvd_img("check", disk).returncode, 0)
        self.assertIn("clean shutdown: true", self.fvd_img("info", disk).stdout)

    def serve(self, params, run, **kw):
        return nbdkit(params + self.CACHE, run, **kw)


class DataTests:
    """The export's data paths, run once per cache mode (the subclasses below)."""

    def test_qemu_io_patterns_at_many_offsets_and_sizes(self):
        disk = self.create("d.fvd", 64 * MIB, "-o", "compact_image=on,chunk_size=256k")
        rnd = random.Random(1)
        writes, pos = [], 0
        while len(writes) < 40:  # disjoint, sector-aligned, 512 B to 1 MiB
            size = 512 * rnd.choice([1, 3, 8, 17, 128, 255, 2048])
            pos += 512 * rnd.randrange(0, 4096)
            if pos + size > 64 * MIB:
                break
            writes.append((pos, size, rnd.randrange(1, 256)))
            pos += size
        cmds = " ".join(f'-c "write -P {p} {o} {n}"' for o, n, p in writes)
        self.assert_ok(self.serve([f"file={disk}"], f'qemu-io -f raw {cmds} -c flush "$nbd"'))
        self.assert_clean(disk)
        # A second server, read-only: every pattern is there, and a gap between two writes
        # still reads zeros.
        checks = " ".join(f'-c "read -P {p} {o} {n}"' for o, n, p in writes)
        gap = next(w1[0] + w1[1] for w1, w2 in zip(writes, writes[1:]) if w2[0] > w1[0] + w1[1])
        r = self.serve([f"file={disk}", "readonly=true"],
                   f'qemu-io -r -f raw {checks} -c "read -P 0 {gap} 512" "$nbd"', readonly=True)
        self.assert_ok(r)
        self.assertNotIn("Pattern verification failed", r.stdout)
        self.assertEqual(r.stdout.count("read "), len(writes) + 1)

    def round_trip(self, copy_in, copy_out, overlay):
        src = self.random_file("src.raw", 24 * MIB + 4096, 5)
        extra = []
        if overlay:
            self.random_file("base.raw", 16 * MIB, 6)
            extra = ["-b", "base.raw"]
        disk = self.create("d.fvd", len(src), *extra)
        self.assert_ok(self.serve([f"file={disk}"], copy_in))
        self.assert_clean(disk)
        self.assert_ok(self.serve([f"file={disk}"], copy_out, readonly=True))
        with open(self.path("out.raw"), "rb") as f:
            self.assertTrue(f.read() == src, "the copy out differs from what was copied in")

    def test_qemu_img_convert_into_an_overlay_and_back(self):
        src, out = self.path("src.raw"), self.path("out.raw")
        self.round_trip(f'qemu-img convert -n -f raw -O raw {src} "$nbd"',
                        f'qemu-img convert -f raw -O raw "$nbd" {out} && '
                        f'qemu-img compare -f raw -F raw {src} "$nbd"',
                        overlay=True)

    def test_nbdcopy_in_and_out(self):
        src, out = self.path("src.raw"), self.path("out.raw")
        self.round_trip(f'nbdcopy {src} "$uri"', f'nbdcopy "$uri" {out}', overlay=False)

    def test_overlay_serves_the_base_where_untouched(self):
        base = self.random_file("base.raw", 8 * MIB, 9)
        disk = self.create("d.fvd", 12 * MIB, "-b", "base.raw")
        out = self.path("out.raw")
        self.assert_ok(self.serve([f"file={disk}"],
                              f'qemu-io -f raw -c "write -P 0x5a 1M 64k" "$nbd" && '
                              f'nbdcopy "$uri" {out}'))
        with open(out, "rb") as f:
            got = f.read()
        want = bytearray(base + bytes(4 * MIB))
        want[MIB:MIB + 65536] = b"\x5a" * 65536
        self.assertTrue(got == bytes(want), "overlay content differs from base + write")

    def test_kill_9_leaves_an_image_that_recovers(self):
        self.random_file("base.raw", 8 * MIB, 10)
        # compact: allocations go through the loop; a plain overlay: its whole-block
        # allocating writes go direct, and the loop records them after the reply
        for name, extra in (("c.fvd", ["-o", "compact_image=on"]), ("o.fvd", ["-b", "base.raw"])):
            with self.subTest(image=name):
                self.kill_9_and_recover(self.create(name, 32 * MIB, *extra))

    def kill_9_and_recover(self, disk):
        sock = self.path("s.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        server = subprocess.Popen(["nbdkit", "-f", "-U", sock, PLUGIN, f"file={disk}", *self.CACHE],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(sock):  # waiting on a condition, not on a guess
                self.assertIsNone(server.poll(), "nbdkit exited")
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.01)
            uri = f"nbd+unix:///?socket={sock}"
            # 0x77 allocates, 0x66 overwrites it in place (the direct path)
            r = subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x77 0 1M",
                                "-c", "write -P 0x66 0 512k", "-c", "flush",
                                "-c", "write -P 0x88 4M 1M", uri], capture_output=True,
                               text=True, timeout=120)
            self.assert_ok(r)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=60)
        self.assertIn("clean shutdown: false", self.fvd_img("info", disk).stdout)
        self.assertIn(self.fvd_img("check", disk).returncode, (0, 3))
        r = self.fvd_img("io", disk, "-c", "read -P 0x66 0 512k",  # flushed before the kill
                         "-c", "read -P 0x77 512k 512k")
        self.assert_ok(r)
        self.assertNotIn("Pattern verification failed", r.stdout)
        self.assertTrue(self.fvd_img("info", disk).stdout.count("clean shutdown: true"))

    def test_fio_nbd_engine_verifies_through_the_export(self):
        self.random_file("base.raw", 32 * MIB, 11)
        # compact: allocation through the loop; a plain overlay: whole blocks allocated on
        # nbdkit's threads, many at once
        for depth, extra in ((1, ["-o", "compact_image=on"]), (32, ["-o", "compact_image=on"]),
                             (32, ["-b", "base.raw"])):
            disk = self.create(f"v{depth}{extra[0]}.fvd", 32 * MIB, *extra)
            job = (f"fio --name=v --ioengine=nbd --uri=\"$uri\" --rw=randwrite --bs=4k "
                   f"--iodepth={depth} --size=16m --verify=crc32c --verify_fatal=1 --verify_state_save=0 "
                   f"--do_verify=1 --randrepeat=0 --output-format=terse")
            r = self.serve([f"file={disk}"], job)
            self.assert_ok(r)
            self.assertNotIn("verify:", r.stderr)
            # terse v3: field 6 is the bytes read (the verification pass), 26 those written
            fields = r.stdout.strip().splitlines()[-1].split(";")
            self.assertEqual(int(fields[5]), 16 * 1024, r.stdout)  # KiB read back and verified
            self.assertEqual(int(fields[46]), 16 * 1024, r.stdout)  # KiB written
            self.assert_clean(disk)


class DefaultCacheTest(DataTests, Server):
    CACHE = []


class CacheNoneTest(DataTests, Server):
    CACHE = ["cache=none"]


class SmallJournalBufferTest(DataTests, Server):
    # A buffer of one sector: the buffered journal writes out (data flush first) all the time.
    CACHE = ["journal_buffer=512"]


class NbdkitTest(Server):
    def test_bad_parameters_and_files(self):
        r = nbdkit([f"file={self.path('missing.fvd')}"], "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("does not exist", r.stderr)
        r = nbdkit([f"file={self.path('x.fvd')}", "cache=sometimes"], "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cache=sometimes", r.stderr)
        r = nbdkit([f"file={self.path('x.fvd')}", "colour=blue"], "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown parameter 'colour'", r.stderr)
        r = nbdkit([f"file={self.path('x.fvd')}", "size=1M", "journal_buffer=1000"], "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("journal_buffer=1000: must be a positive multiple of 512", r.stderr)
        with open(self.path("foreign"), "wb") as f:
            f.write(b"\x00" * 8192)
        r = nbdkit([f"file={self.path('foreign')}"], "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("foreign", r.stderr)
        with open(self.path("foreign"), "rb") as f:
            self.assertEqual(f.read(), b"\x00" * 8192)

    def test_help_lists_the_parameters(self):
        r = subprocess.run(["nbdkit", PLUGIN, "--help"], capture_output=True, text=True,
                           timeout=60, env=env())
        for name in ["file=", "readonly=", "cache=", "journal=", "journal_buffer=", "size=", "base=",
                     "compact="]:
            self.assertIn(name, r.stdout)

    def test_created_on_demand_and_read_only_export(self):
        disk = self.path("new.fvd")
        self.assert_ok(nbdkit([f"file={disk}", "size=16M", "compact=true"],
                              'qemu-io -f raw -c "write -P 0x42 0 4k" "$nbd"'))
        self.assertIn("compact image", self.fvd_img("info", disk).stdout)
        r = nbdkit([f"file={disk}", "readonly=true"],
                   'qemu-io -r -f raw -c "read -P 0x42 0 4k" "$nbd"')
        self.assert_ok(r)
        self.assertIn("read 4096/4096", r.stdout)
        # A client that wants to write is turned away by the read-only export.
        r = nbdkit([f"file={disk}", "readonly=true"], 'qemu-io -f raw -c "write 0 4k" "$nbd"')
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("wrote", r.stdout)


if __name__ == "__main__":
    unittest.main()
