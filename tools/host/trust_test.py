"""Images from elsewhere cannot act on the host (hand-made hostile images, through fvd-img,
nbdkit and fio):

  - the header's add_storage_cmd runs only when the opener allows it, a command the host gives
    wins over it, and an untrusted image never runs one (a marker file tells);
  - an untrusted image may name only regular files in its own directory: absolute paths, "..",
    symlinks leading out, fifos, sockets, devices and URIs are refused, naming the field and
    value, with nothing written to any file; a clean image opens as usual;
  - a header claiming a 64 GiB bitmap fails to open with a clear error in check, io, map and
    nbdkit, under a 4 GiB address-space limit, and `info` says what opening would cost.

Environment: FVD_IMG, and optionally FVD_NBDKIT_PLUGIN and FVD_FIO_PLUGIN. Run with Debian's python3.
"""
import hashlib
import os
import resource
import shutil
import socket
import struct
import subprocess
import tempfile
import unittest

FVD_IMG = os.environ.get("FVD_IMG", "fvd-img")
NBDKIT_PLUGIN = os.environ.get("FVD_NBDKIT_PLUGIN", "")
FIO_PLUGIN = os.environ.get("FVD_FIO_PLUGIN", "")
MIB, GIB = 1 << 20, 1 << 30
TIMEOUT = 300  # generous: only a hang reaches it


def run(*args, limit_as=None, **kw):
    def limit():
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))
    return subprocess.run(list(args), capture_output=True, text=True, timeout=TIMEOUT,
                          preexec_fn=limit, **kw)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fvd-untrusted-")
        self.dir = os.path.join(self.tmp, "images")
        os.makedirs(self.dir)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def fvd_img(self, *args, **kw):
        return run(FVD_IMG, *args, **kw)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def raw(self, path, size, byte=0x42):
        with open(path, "wb") as f:
            f.write(bytes([byte]) * size)


class UntrustedPaths(Base):
    """Each kind of name an untrusted image may not give, and a clean image that opens."""

    def overlay(self, name, base_name, **extra):
        img = self.path(name)
        self.ok(self.fvd_img("create", "-q", "-b", base_name, "-F", "raw", img, "8M", **extra))
        return img

    def assert_refused(self, img, field, value, victims=()):
        before = {p: sha256(p) for p in (img, *victims)}
        for cmd in (["io", "-c", "write -P 0x41 0 4k"], ["check"], ["map"]):
            r = self.fvd_img("--untrusted", cmd[0], img, *cmd[1:])
            self.assertNotEqual(r.returncode, 0, cmd)
            self.assertIn(f"the image's {field} '{value}'", r.stderr, cmd)
        for p, digest in before.items():
            self.assertEqual(sha256(p), digest, f"{p} changed")

    def test_a_clean_image_opens_as_usual(self):
        self.raw(self.path("base.raw"), 8 * MIB)
        img = self.overlay("clean.fvd", "base.raw")
        r = self.ok(self.fvd_img("--untrusted", "io", img, "-c", "write -P 0x41 0 4k",
                                 "-c", "read -P 0x42 4k 4k"))
        self.assertIn("read 4096/4096", r.stdout)

    def test_an_absolute_base_and_data_file(self):
        victim = os.path.join(self.tmp, "victim")
        self.raw(victim, 8 * MIB, 0x55)
        img = self.overlay("abs.fvd", victim)
        self.assert_refused(img, "base_img", victim, [victim])
        # The data file of the issue: without --untrusted it is what data_file means.
        data_img = self.path("data.fvd")
        self.ok(self.fvd_img("create", "-q", "-o", f"data_file={victim}", data_img, "8M"))
        self.assert_refused(data_img, "data_file", victim, [victim])

    def test_dot_dot_and_a_symlink_out(self):
        outside = os.path.join(self.tmp, "outside.raw")
        self.raw(outside, 8 * MIB)
        sub = self.path("sub")
        os.makedirs(sub)
        img = self.ok(self.fvd_img("create", "-q", "-b", "../../outside.raw", "-F", "raw",
                                   os.path.join(sub, "dots.fvd"))) and os.path.join(sub, "dots.fvd")
        self.assert_refused(img, "base_img", "../../outside.raw", [outside])
        os.symlink(outside, self.path("link.raw"))
        img = self.overlay("link.fvd", "link.raw")
        self.assert_refused(img, "base_img", "link.raw", [outside])

    def test_a_fifo_a_socket_and_a_device(self):
        self.raw(self.path("base.raw"), 8 * MIB)
        def unix_socket(p):
            with socket.socket(socket.AF_UNIX) as s:
                s.bind(p)  # the socket file stays
        for name, make in (("fifo", os.mkfifo), ("sock", unix_socket)):
            img = self.overlay(f"{name}.fvd", "base.raw")
            make(self.path(name))
            self.ok(self.fvd_img("update", img, f"base_img={name}"))
            self.assert_refused(img, "base_img", name)
        img = self.overlay("dev.fvd", "base.raw")
        os.symlink("/dev/zero", self.path("zero"))
        self.ok(self.fvd_img("update", img, "base_img=zero"))
        self.assert_refused(img, "base_img", "zero")

    def test_a_remote_uri(self):
        self.raw(self.path("base.raw"), 8 * MIB)
        img = self.overlay("uri.fvd", "base.raw")
        self.ok(self.fvd_img("update", img, "base_img=nbd://evil.example/export"))
        self.assert_refused(img, "base_img", "nbd://evil.example/export")

    @unittest.skipUnless(NBDKIT_PLUGIN and shutil.which("nbdkit"), "no nbdkit plugin")
    def test_nbdkit_refuses_at_startup(self):
        victim = os.path.join(self.tmp, "victim")
        self.raw(victim, 8 * MIB, 0x55)
        img = self.overlay("abs.fvd", victim)
        r = run("nbdkit", "-U", "-", NBDKIT_PLUGIN, f"file={img}", "untrusted=true", "--run",
                "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"the image's base_img '{victim}'", r.stderr)

    @unittest.skipUnless(FIO_PLUGIN and shutil.which("fio"), "no fio plugin")
    def test_fio_refuses(self):
        victim = os.path.join(self.tmp, "victim")
        self.raw(victim, 8 * MIB, 0x55)
        img = self.overlay("abs.fvd", victim)
        r = run("fio", f"--ioengine=external:{FIO_PLUGIN}", "--name=j", f"--filename={img}",
                "--fvd_untrusted=1", "--rw=read", "--size=1m", "--bs=4k")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"the image's base_img '{victim}'", r.stdout + r.stderr)
        self.assertEqual(sha256(victim), hashlib.sha256(bytes([0x55]) * 8 * MIB).hexdigest())


def loop_device(backing):
    """A loop device over `backing`, or None when this machine cannot make one."""
    if os.geteuid() != 0 or not shutil.which("losetup"):
        return None
    r = subprocess.run(["losetup", "-f", "--show", backing], capture_output=True, text=True,
                       timeout=30)
    return r.stdout.strip() if r.returncode == 0 else None


class StorageCommand(Base):
    """A compact image on a block device that must grow, its header naming a command."""

    def setUp(self):
        super().setUp()
        self.backing = os.path.join(self.tmp, "backing.img")
        self.raw(self.backing, 2 * MIB)
        self.dev = loop_device(self.backing)
        if self.dev is None:
            self.skipTest("no loop device here (needs root and /dev/loop-control)")
        self.marker = os.path.join(self.tmp, "header-ran")
        self.host_marker = os.path.join(self.tmp, "host-ran")
        self.ok(self.fvd_img(
            "create", "-q", "-o", "compact_image=on,chunk_size=64k,storage_grow_unit=1M,"
            f"journal_size=64k,add_storage_cmd=touch {self.marker}", self.dev, str(16 * MIB)))

    def tearDown(self):
        subprocess.run(["losetup", "-d", self.dev], timeout=30)
        super().tearDown()

    def grow(self, *flags):
        return self.fvd_img(*flags, "io", self.dev, "-c", "write -P 0xab 0 4M")

    def test_info_shows_the_command(self):
        self.assertIn(f"add_storage_cmd: 'touch {self.marker}'", self.fvd_img("info", self.dev).stdout)

    def test_refused_unless_allowed(self):
        r = self.grow()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"names add_storage_cmd 'touch {self.marker}'", r.stdout + r.stderr)
        self.assertIn("--allow-storage-cmd", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(self.marker))
        self.grow("--allow-storage-cmd")  # the command runs (and does not grow the device)
        self.assertTrue(os.path.exists(self.marker))

    def test_the_hosts_command_wins(self):
        self.grow("--allow-storage-cmd", "--storage-cmd", f"touch {self.host_marker}")
        self.assertTrue(os.path.exists(self.host_marker))
        self.assertFalse(os.path.exists(self.marker))

    def test_an_untrusted_image_runs_no_command(self):
        r = self.grow("--untrusted", "--allow-storage-cmd")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("an untrusted image never runs a command", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(self.marker))


class HugeBitmap(Base):
    """A v1 header claiming a 64 GiB bitmap, in a sparse file of that size (as in the issue)."""

    def setUp(self):
        super().setUp()
        self.raw(self.path("base.raw"), 1 * MIB)
        self.img = self.path("huge.fvd")
        self.ok(self.fvd_img("create", "-q", "-b", "base.raw", "-F", "raw", "-o",
                             "journal_size=0", self.img, "1G"))
        bitmap = 64 * GIB
        with open(self.img, "r+b") as f:
            f.seek(4)
            f.write(struct.pack("<I", 1))  # a v1 header: no checksum to keep right
            f.seek(1076)
            bitmap_offset = struct.unpack("<Q", f.read(8))[0]
            f.seek(1084)
            f.write(struct.pack("<Q", bitmap))
            f.seek(20)
            f.write(struct.pack("<Q", bitmap_offset + bitmap))  # metadata_size covers it
            f.truncate(bitmap_offset + bitmap + GIB)  # sparse

    def test_info_says_what_opening_would_cost(self):
        r = self.ok(self.fvd_img("info", self.img))
        self.assertIn("memory to open: 64 GiB", r.stdout)

    def test_every_command_fails_clearly_with_bounded_memory(self):
        for cmd in (["io", "-r", self.img, "-c", "read 0 4k"], ["io", self.img, "-c", "read 0 4k"],
                    ["check", self.img], ["map", self.img]):
            r = self.fvd_img(*cmd, limit_as=4 * GIB)
            self.assertIn(r.returncode, (1, 2), cmd)  # an error, never a signal
            self.assertIn("opening the image needs 64 GiB of memory for its metadata",
                          r.stderr, cmd)
            self.assertIn("more than the limit of 1 GiB", r.stderr)
        r = self.fvd_img("--max-metadata-memory", "2G", "check", self.img, limit_as=4 * GIB)
        self.assertIn("the limit of 2 GiB", r.stderr)

    @unittest.skipUnless(NBDKIT_PLUGIN and shutil.which("nbdkit"), "no nbdkit plugin")
    def test_nbdkit_refuses_at_startup(self):
        r = run("nbdkit", "-U", "-", NBDKIT_PLUGIN, f"file={self.img}", "--run", "true",
                limit_as=4 * GIB)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("opening the image needs 64 GiB", r.stderr)


if __name__ == "__main__":
    unittest.main()
