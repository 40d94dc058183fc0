"""Overlays over a base on a remote NBD server (nbdkit's file plugin on a Unix socket, with its
error filter for faults), through fvd-img and through our own NBD export:

  - an overlay reads its base byte for byte where untouched (fvd-img io patterns; qemu-io and
    nbdcopy through fvd-nbdkit);
  - copy-on-read and a completed prefetch leave an image that opens and reads correctly with
    the base server gone;
  - injected read errors and a killed server give EIO to the reads that need the base only;
    data in the image still reads and whole blocks still write; `fvd-img check` stays clean;
  - a kill -9 of the export serving the overlay recovers as with a file base.

Environment: FVD_IMG, FVD_NBDKIT_PLUGIN. Run with Debian's python3 (CTest: remote_base).
Expected bytes come from the base file the test writes: byte 0x10 + i fills MiB i.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

FVD_IMG = os.environ.get("FVD_IMG", "fvd-img")
PLUGIN = os.environ.get("FVD_NBDKIT_PLUGIN", "")
MIB = 1 << 20
BASE_MIB = 8
TIMEOUT = 300  # only a hang reaches it


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=TIMEOUT, **kw)


def accepts(sock):
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(sock)
            return True
        except OSError:
            return False


class Server:
    """nbdkit in the foreground on a Unix socket; ready when the socket accepts."""

    def __init__(self, sock, *args):
        self.sock = sock
        if os.path.exists(sock):  # left by a server killed with SIGKILL
            os.unlink(sock)
        self.proc = subprocess.Popen(["nbdkit", "-f", "-U", sock, *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not (os.path.exists(sock) and accepts(sock)):
            if self.proc.poll() is not None:
                raise RuntimeError(f"nbdkit exited: {self.proc.stderr.read()}")
            if time.monotonic() > deadline:
                raise RuntimeError("nbdkit did not start in 60 s")
            time.sleep(0.01)

    @property
    def uri(self):
        return f"nbd+unix:///?socket={self.sock}"

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        self.proc.stderr.close()


class RemoteBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fvd-remote-", dir=os.environ.get("TMPDIR", "/var/tmp"))
        self.base = self.path("base.raw")
        with open(self.base, "wb") as f:
            for i in range(BASE_MIB):
                f.write(bytes([0x10 + i]) * MIB)
        self.servers = []
        self.trigger = self.path("fail-now")

    def tearDown(self):
        for s in self.servers:
            s.stop(signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def serve_base(self, faults=False):
        args = (["--filter=error", "file", f"file={self.base}", "error=EIO",
                 "error-pread-rate=100%", f"error-pread-file={self.trigger}"] if faults
                else ["file", f"file={self.base}"])
        s = Server(self.path("base.sock"), *args)
        self.servers.append(s)
        return s

    def fvd_img(self, *args):
        return run(FVD_IMG, *args)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def overlay(self, uri, *opts):
        img = self.path("o.fvd")
        extra = ["-o", ",".join(opts)] if opts else []
        self.ok(self.fvd_img("create", "-q", "-b", uri, *extra, img))
        return img

    def read_base_patterns(self, img, *skip):
        cmds = []
        for i in range(BASE_MIB):
            if i not in skip:
                cmds += ["-c", f"read -P {0x10 + i:#x} {i}M 1M"]
        return self.fvd_img("io", "-r", img, *cmds)

    def extents_in_base(self, img):
        extents = json.loads(self.ok(self.fvd_img("map", "--output=json", img)).stdout)
        return [e for e in extents if e["depth"] > 0]

    def info(self, img):
        return json.loads(self.ok(self.fvd_img("info", "--output=json", img)).stdout)

    def test_the_header_names_the_uri_and_the_overlay_reads_the_base(self):
        srv = self.serve_base()
        img = self.overlay(srv.uri)
        data = self.info(img)["format-specific"]["data"]
        self.assertEqual(data["base_img"], srv.uri)
        self.assertEqual(data["base_img_fmt"], "nbd")
        self.assertEqual(data["base_img_size"], BASE_MIB * MIB)
        self.ok(self.fvd_img("io", img, "-c", "write -P 0xaa 2M 64k"))
        r = self.ok(self.fvd_img("io", "-r", img, "-c", "read -P 0xaa 2M 64k",
                                 "-c", f"read -P {0x12:#x} {2 * MIB + 65536} {MIB - 65536}"))
        self.assertNotIn("verification failed", r.stdout + r.stderr)
        self.ok(self.read_base_patterns(img, 2))
        self.ok(self.fvd_img("check", img))

    @unittest.skipUnless(PLUGIN, "no nbdkit plugin")
    def test_through_our_nbd_export(self):
        srv = self.serve_base()
        img = self.overlay(srv.uri)
        out = self.path("out.raw")
        checks = " ".join(f'-c "read -P {0x10 + i:#x} {i}M 1M"' for i in range(BASE_MIB) if i != 5)
        r = run("nbdkit", "-U", "-", PLUGIN, f"file={img}", "--run",
                f'qemu-io -f raw -c "write -P 0x5a 5M 1M" {checks} "$nbd" && nbdcopy "$uri" {out}')
        self.ok(r)
        self.assertNotIn("Pattern verification failed", r.stdout)
        want = bytearray()
        for i in range(BASE_MIB):
            want += bytes([0x5a if i == 5 else 0x10 + i]) * MIB
        with open(out, "rb") as f:
            self.assertTrue(f.read() == bytes(want), "nbdcopy of the overlay differs")

    def test_copy_on_read_leaves_an_image_that_reads_with_the_server_gone(self):
        srv = self.serve_base()
        img = self.overlay(srv.uri, "copy_on_read=on")
        reads = [a for i in range(BASE_MIB * 16) for a in ("-c", f"read {i * 64}k 64k")]
        # Copy-on-read is best effort (a copy that meets a lock, or is in flight when the
        # image closes, is left to a later read): passes until the map shows no extent at
        # depth 1, the base.
        for _ in range(10):
            self.ok(self.fvd_img("io", img, *reads))
            if not self.extents_in_base(img):
                break
        self.assertEqual(self.extents_in_base(img), [])
        srv.stop()
        self.ok(self.read_base_patterns(img))
        self.ok(self.fvd_img("check", img))

    @unittest.skipUnless(PLUGIN, "no nbdkit plugin")
    def test_a_completed_prefetch_leaves_an_image_that_opens_with_the_server_gone(self):
        srv = self.serve_base()
        img = self.overlay(srv.uri, "prefetch_start_delay=1")
        export = Server(self.path("o.sock"), PLUGIN, f"file={img}")
        self.servers.append(export)
        deadline = time.monotonic() + 120
        while not self.info(img)["format-specific"]["data"]["self_contained"]:
            self.assertLess(time.monotonic(), deadline, "prefetch did not finish in 120 s")
            time.sleep(0.1)
        export.stop()
        srv.stop()
        r = self.ok(self.read_base_patterns(img))
        self.assertNotIn("warning", r.stderr)  # the base is not even opened
        self.ok(self.fvd_img("check", img))

    def test_injected_errors_fail_only_the_reads_that_need_the_base(self):
        srv = self.serve_base(faults=True)
        img = self.overlay(srv.uri)
        self.ok(self.fvd_img("io", img, "-c", "write -P 0xaa 0 1M"))
        open(self.trigger, "w").close()
        r = self.fvd_img("io", "-r", img, "-c", "read 3M 4k")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(srv.uri, r.stderr)
        self.assertIn("Input/output error", r.stderr)
        self.ok(self.fvd_img("io", "-r", img, "-c", "read -P 0xaa 0 1M"))
        # A whole-block write needs nothing from the base (the overlay's blocks are 512 bytes
        # to 4 KiB here): it goes on.
        self.ok(self.fvd_img("io", img, "-c", "write -P 0xbb 4M 64k", "-c", "read -P 0xbb 4M 64k"))
        self.ok(self.fvd_img("check", img))
        os.unlink(self.trigger)
        self.ok(self.read_base_patterns(img, 0, 4))

    def test_a_killed_server_fails_only_the_reads_that_need_the_base(self):
        srv = self.serve_base()
        img = self.overlay(srv.uri)
        self.ok(self.fvd_img("io", img, "-c", "write -P 0xaa 0 1M"))
        srv.stop(signal.SIGKILL)
        r = self.fvd_img("io", img, "-c", "read -P 0xaa 0 1M", "-c", "write -P 0xcc 6M 64k",
                         "-c", "read -P 0xcc 6M 64k", "-c", "read 3M 4k")
        self.assertNotEqual(r.returncode, 0)  # the last read needs the base
        self.assertEqual(r.stdout.count("read "), 2, r.stdout)
        self.assertIn("wrote 65536/65536", r.stdout)
        self.assertIn(srv.uri, r.stderr)
        self.ok(self.fvd_img("check", img))
        srv = self.serve_base()  # back: everything reads again
        self.ok(self.fvd_img("io", "-r", img, "-c", "read -P 0xaa 0 1M", "-c", "read -P 0xcc 6M 64k",
                             "-c", f"read -P {0x13:#x} 3M 1M"))

    @unittest.skipUnless(PLUGIN, "no nbdkit plugin")
    def test_kill_9_of_the_writer_recovers_as_with_a_file_base(self):
        srv = self.serve_base()
        img = self.overlay(srv.uri)
        export = Server(self.path("o.sock"), PLUGIN, f"file={img}")
        self.servers.append(export)
        self.ok(run("qemu-io", "-f", "raw", "-c", "write -P 0x77 1M 1M", "-c", "flush",
                    "-c", "write -P 0x88 6M 512k", export.uri))
        export.stop(signal.SIGKILL)
        self.assertTrue(self.info(img)["dirty-flag"])  # killed: not closed cleanly
        self.assertIn(self.fvd_img("check", img).returncode, (0, 3))
        self.ok(self.fvd_img("io", img, "-c", "read -P 0x77 1M 1M",
                             "-c", f"read -P {0x12:#x} 2M 1M"))
        self.assertFalse(self.info(img)["dirty-flag"])


if __name__ == "__main__":
    unittest.main()
