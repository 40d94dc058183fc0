"""End-to-end tests of `fvd-img io` and `fvd-img map` on real files, crash included.

Run by CTest with FVD_IMG set to the binary. Expected bytes come from the test's own model
(the base file plus the patterns it wrote), never from the code under test.
"""
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import tempfile
import unittest

FVD_IMG = os.environ.get("FVD_IMG", "fvd-img")
KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30


def run(*args, timeout=120):
    return subprocess.run([FVD_IMG, *args], capture_output=True, text=True, timeout=timeout)


def io(disk, *commands, flags=()):
    args = ["io", *flags, disk]
    for c in commands:
        args += ["-c", c]
    return run(*args)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def parse_dump(stdout):
    """The bytes of qemu-io style `read -v` lines ("%08x:  xx xx ...  text")."""
    out = bytearray()
    for line in stdout.splitlines():
        m = re.match(r"^[0-9a-f]{8}:  ((?:[0-9a-f]{2} )+) ", line)
        if m:
            out += bytes.fromhex(m.group(1))
    return bytes(out)


def merge(intervals):
    """Sorted, merged [start, end) intervals."""
    out = []
    for start, end in sorted(intervals):
        if out and out[-1][1] >= start:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [tuple(i) for i in out]


def clip(intervals, lo, hi):
    return [(max(s, lo), min(e, hi)) for s, e in intervals if min(e, hi) > max(s, lo)]


class IoTestBase(unittest.TestCase):
    BASE_SIZE = 8 * MIB

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.base = self.path("base.raw")
        self.base_bytes = os.urandom(self.BASE_SIZE)
        with open(self.base, "wb") as f:
            f.write(self.base_bytes)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def create(self, name, size, *options):
        disk = self.path(name)
        args = ["create", "-q", "-b", "base.raw"]
        for o in options:
            args += ["-o", o]
        r = run(*args, disk, str(size))
        self.assertEqual(r.returncode, 0, r.stderr)
        return disk

    def assert_ok(self, r):
        self.assertEqual(r.returncode, 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        self.assertEqual(r.stderr, "")

    def assert_one_line_error(self, r, *needles):
        self.assertEqual(r.returncode, 1, r)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("fvd-img io: "), lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])

    def expected(self, writes, offset, length, disk_size):
        """What the guest should read at [offset, offset+length) after `writes`."""
        content = bytearray(self.base_bytes[offset:offset + length])
        content += bytes(length - len(content))  # past the base: zeros
        for pattern, w_off, w_len in writes:
            for i in range(max(w_off, offset), min(w_off + w_len, offset + length)):
                content[i - offset] = pattern
        self.assertLessEqual(offset + length, disk_size)
        return bytes(content)

    def map_json(self, disk):
        r = run("map", "--output=json", disk)
        self.assertEqual(r.returncode, 0, r.stderr)
        extents = json.loads(r.stdout)
        pos = 0
        for e in extents:  # a tiling of the disk, in order
            self.assertEqual(e["start"], pos, extents)
            self.assertGreater(e["length"], 0)
            pos += e["length"]
        return extents, pos


# Patterns at offsets that are 512-aligned but not 4k-aligned, partial blocks of a 4k-block
# image, a write straddling the end of the 8 MiB base, and writes past it.
WRITES = [
    (0x11, 0, 4 * KIB),
    (0x22, 4 * KIB + 512, 512),
    (0x33, 10 * KIB, 3 * KIB),
    (0x44, 64 * KIB + 1536, 7 * 512),
    (0x55, 1 * MIB, 64 * KIB),
    (0x66, 8 * MIB - 512, 1 * KIB),
    (0x77, 20 * MIB + 512, 4 * KIB),
]


def write_cmd(w):
    return f"write -P {w[0]:#x} {w[1]} {w[2]}"


def read_cmd(w):
    return f"read -P {w[0]} {w[1]} {w[2]}"


class DetectSparseHoleTest(IoTestBase):
    def test_zero_blocks_of_the_base_start_in_the_image(self):
        # A base with all-zero stretches: 1 MiB of data, 2 MiB of zeros, one 4 KiB block of
        # data, zeros to the end.
        data = bytearray(self.base_bytes[:MIB]) + bytes(2 * MIB)
        data += self.base_bytes[MIB:MIB + 4 * KIB] + bytes(self.BASE_SIZE - len(data) - 4 * KIB)
        with open(self.base, "wb") as f:
            f.write(data)
        disk = self.create("s.fvd", self.BASE_SIZE, "detect_sparse_hole=on,block_size=4k")
        extents, end = self.map_json(disk)
        self.assertEqual(end, self.BASE_SIZE)
        in_base = [(e["start"], e["start"] + e["length"]) for e in extents if e["depth"] == 1]
        self.assertEqual(in_base, [(0, MIB), (3 * MIB, 3 * MIB + 4 * KIB)])
        # The guest still reads the base's bytes everywhere.
        for offset, length in [(0, 8 * KIB), (MIB - 4 * KIB, 8 * KIB), (3 * MIB, 8 * KIB),
                               (self.BASE_SIZE - 8 * KIB, 8 * KIB)]:
            r = io(disk, f"read -v {offset} {length}", flags=["-r"])
            self.assert_ok(r)
            self.assertEqual(parse_dump(r.stdout), bytes(data[offset:offset + length]))

    def test_refused_with_compact_image(self):
        r = run("create", "-b", "base.raw", "-o", "detect_sparse_hole=on,compact_image=on",
                self.path("x.fvd"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("detect_sparse_hole cannot be used with compact_image", r.stderr)
        self.assertFalse(os.path.exists(self.path("x.fvd")))


def loop_device(backing):
    """A loop device over `backing`, or None when this machine cannot make one."""
    if os.geteuid() != 0:
        return None
    try:
        r = subprocess.run(["losetup", "-f", "--show", backing], capture_output=True, text=True,
                           timeout=30)
    except FileNotFoundError:
        return None
    return r.stdout.strip() if r.returncode == 0 else None


class BlockDeviceTest(IoTestBase):
    """A compact image on a block device grows through add_storage_cmd."""

    def setUp(self):
        super().setUp()
        self.backing = self.path("backing.img")
        with open(self.backing, "wb") as f:
            f.write(os.urandom(2 * MIB))  # old garbage the image must never show
        self.dev = loop_device(self.backing)
        if self.dev is None:
            self.skipTest("no loop device here (needs root and /dev/loop-control)")

    def tearDown(self):
        subprocess.run(["losetup", "-d", self.dev], timeout=30)
        super().tearDown()

    def make(self, command):
        options = "compact_image=on,chunk_size=64k,storage_grow_unit=1M,journal_size=64k"
        if command:
            options += ",add_storage_cmd=" + command.replace(",", ",,")
        r = run("create", "-q", "-o", options, self.dev, str(16 * MIB))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_grows_with_add_storage_cmd_and_never_shows_old_bytes(self):
        # The device grows with random bytes, as a reused volume would.
        self.make(f'have=$(stat -c %s {self.backing}) && '
                  f'head -c $((FVD_NEW_SIZE - have)) /dev/urandom >> {self.backing} && '
                  f'losetup -c "$FVD_DEVICE"')
        r = io(self.dev, "write -P 0xab 100k 5M", "flush", "read -P 0xab 100k 5M",
               "read -P 0 0 100k", f"read -P 0 {5 * MIB + 100 * KIB} 28k", "read -P 0 6M 1M",
               flags=["--allow-storage-cmd"])
        self.assert_ok(r)
        self.assertGreaterEqual(os.path.getsize(self.backing), 5 * MIB)
        self.assertEqual(run("check", self.dev).returncode, 0)

    def test_failing_command_is_a_clear_error(self):
        self.make("exit 7")
        r = io(self.dev, "write -P 0xab 0 4M", flags=["--allow-storage-cmd"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("add_storage_cmd 'exit 7'", r.stdout + r.stderr)
        self.assertIn("exit code 7", r.stdout + r.stderr)
        self.assertEqual(run("check", self.dev).returncode, 0)

    def test_no_command_is_a_clear_error(self):
        self.make("")
        r = io(self.dev, "write -P 0xab 0 4M")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no add_storage_cmd", r.stdout + r.stderr)


class IoRoundTripTest(IoTestBase):
    DISK_SIZE = 32 * MIB

    def round_trip(self, disk, flags=()):
        cmds = [write_cmd(w) for w in WRITES] + ["flush"] + [read_cmd(w) for w in WRITES]
        r = io(disk, *cmds, flags=flags)
        self.assert_ok(r)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[:len(WRITES)],
                         [f"wrote {n}/{n} bytes at offset {o}" for _, o, n in WRITES])
        self.assertEqual(lines[len(WRITES)], "flushed")
        self.assertEqual(lines[len(WRITES) + 1:],
                         [f"read {n}/{n} bytes at offset {o}" for _, o, n in WRITES])
        # A second run: the data survived the clean close and reopen.
        self.assert_ok(io(disk, *[read_cmd(w) for w in WRITES], flags=flags))
        self.assert_neighbours(disk)

    def assert_neighbours(self, disk):
        """Bytes around and between the writes: the base (or zeros past it), untouched."""
        for offset, length in [(0, 128 * KIB), (8 * MIB - 4 * KIB, 8 * KIB), (20 * MIB, 8 * KIB),
                               (3 * MIB, 4 * KIB)]:
            r = io(disk, f"read -v {offset} {length}", flags=["-r"])
            self.assert_ok(r)
            self.assertEqual(parse_dump(r.stdout),
                             self.expected(WRITES, offset, length, self.DISK_SIZE),
                             f"bytes at [{offset}, +{length})")

    def test_writeback_round_trip(self):
        self.round_trip(self.create("wb.fvd", self.DISK_SIZE))

    def test_writethrough_round_trip(self):
        self.round_trip(self.create("wt.fvd", self.DISK_SIZE), flags=["--cache=writethrough"])

    def test_partial_blocks_of_4k_block_image(self):
        self.round_trip(self.create("b4k.fvd", self.DISK_SIZE, "block_size=4k"))

    def test_compact_image_round_trip(self):
        disk = self.create("c.fvd", self.DISK_SIZE, "compact_image=on,chunk_size=64k")
        self.round_trip(disk)
        extents, end = self.map_json(disk)
        self.assertEqual(end, self.DISK_SIZE)
        data = [(e["start"], e["start"] + e["length"]) for e in extents
                if e["depth"] == 0 and e["data"]]
        for _, o, n in WRITES:  # every write is in the image
            self.assertTrue(any(s <= o and o + n <= e for s, e in data), (o, n, extents))
        # Past the base, only the chunks written hold storage; the rest reads zeros.
        last = extents[-1]
        self.assertEqual((last["zero"], last["present"], last["data"]), (True, False, False))
        self.assertNotIn("offset", last)
        self.assert_ok(io(disk, f"read -P 0 {self.DISK_SIZE - MIB} 1M", flags=["-r"]))

    def test_no_journal_round_trip(self):
        for flags in ([], ["--cache=writethrough"]):
            disk = self.create(f"nj{len(flags)}.fvd", self.DISK_SIZE,
                               "journal_size=0,compact_image=on,chunk_size=64k")
            self.round_trip(disk, flags=flags)
            r = run("info", disk)
            self.assertIn("journal: none", r.stdout)
            self.assertEqual(run("check", disk).returncode, 0)

    def test_separate_data_file_round_trip(self):
        for options in ["data_file=d.raw", "data_file=dc.raw,compact_image=on,chunk_size=64k"]:
            name = options.split(",")[0].split("=")[1]
            disk = self.create(name + ".fvd", self.DISK_SIZE, options)
            self.round_trip(disk)
            data = self.path(name)
            self.assertTrue(os.path.exists(data))
            # Guest bytes live in the data file: the pattern of a write is there.
            with open(data, "rb") as f:
                self.assertIn(bytes([0x55]) * (64 * KIB), f.read())
            self.assertEqual(run("check", disk).returncode, 0)
            os.rename(data, data + ".gone")
            self.assert_one_line_error(io(disk, "read 0 4k", flags=["-r"]), name)

    def test_zero_write(self):
        disk = self.create("z.fvd", self.DISK_SIZE)
        r = io(disk, "write -z 4608 1k", "read -P 0 4608 1k", "read -P 0 4608 1536")
        self.assertEqual(r.returncode, 1)
        byte = next(i for i in range(5632, 6144) if self.base_bytes[i] != 0)
        self.assertIn(f"Pattern verification failed at offset {byte}, 1536 bytes", r.stdout)

    def test_wrong_pattern_fails_names_first_bad_byte_and_goes_on(self):
        disk = self.create("p.fvd", self.DISK_SIZE)
        self.assert_ok(io(disk, *[write_cmd(w) for w in WRITES]))
        # [0, 4k) is 0x11; the first byte after it that is not 0x11 comes from the base.
        first_bad = next(i for i in range(4 * KIB, 8 * KIB) if self.base_bytes[i] != 0x11)
        r = io(disk, "read -P 0x11 0 8k", "read -P 0x12 1M 4k", read_cmd(WRITES[4]))
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stdout.splitlines(), [
            f"Pattern verification failed at offset {first_bad}, 8192 bytes",
            "read 8192/8192 bytes at offset 0",
            "Pattern verification failed at offset 1048576, 4096 bytes",
            "read 4096/4096 bytes at offset 1048576",
            "read 65536/65536 bytes at offset 1048576",  # the script went on
        ])
        # An untouched range of the base fails any single-byte pattern.
        r = io(disk, "read -P 0xcd 2M 4k", flags=["-r"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("Pattern verification failed at offset", r.stdout)

    def test_map_json_depth0_is_exactly_what_was_written(self):
        disk = self.create("m.fvd", self.DISK_SIZE)
        info = json.loads(run("info", "--output=json", disk).stdout)
        self.assertEqual(info["format-specific"]["data"]["block_size"], 512)
        self.assert_ok(io(disk, *[write_cmd(w) for w in WRITES]))
        extents, end = self.map_json(disk)
        self.assertEqual(end, self.DISK_SIZE)
        in_base = lambda depth: merge(clip(
            [(e["start"], e["start"] + e["length"]) for e in extents if e["depth"] == depth],
            0, self.BASE_SIZE))
        written = merge([(o, o + n) for _, o, n in WRITES])
        self.assertEqual(in_base(0), clip(written, 0, self.BASE_SIZE))
        unwritten = []
        pos = 0
        for s, e in clip(written, 0, self.BASE_SIZE):
            if s > pos:
                unwritten.append((pos, s))
            pos = e
        if pos < self.BASE_SIZE:
            unwritten.append((pos, self.BASE_SIZE))
        self.assertEqual(in_base(1), unwritten)
        for e in extents:
            self.assertEqual(e["present"], True)
            self.assertEqual(e["zero"], False)
            self.assertEqual("offset" in e, e["depth"] == 0, e)
        # Past the base, everything is in the image (a non-compact image has it all).
        self.assertTrue(all(e["depth"] == 0 for e in extents if e["start"] >= self.BASE_SIZE))
        human = run("map", disk)
        self.assertEqual(human.returncode, 0, human.stderr)
        lines = human.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["Offset", "Length", "Mapped", "to", "File"])
        self.assertEqual(len(lines) - 1, len(extents))
        self.assertTrue(lines[1].startswith("0 ") and lines[1].endswith("m.fvd"), lines[1])
        self.assertTrue(lines[2].startswith("0x1000 ") and lines[2].endswith("base.raw"), lines)

    def test_map_without_base_reports_zeros(self):
        disk = self.path("nobase.fvd")
        self.assertEqual(run("create", "-q", "-o", "compact_image=on", disk, "16M").returncode, 0)
        extents, end = self.map_json(disk)
        self.assertEqual(end, 16 * MIB)
        self.assertEqual(extents, [{"start": 0, "length": 16 * MIB, "depth": 0,
                                    "present": False, "zero": True, "data": False}])
        self.assertEqual(run("map", disk).stdout.splitlines()[1:], [])
        self.assertNotEqual(run("map", "--output=xml", disk).returncode, 0)
        self.assertNotEqual(run("map", self.path("missing.fvd")).returncode, 0)


class IoErrorTest(IoTestBase):
    def setUp(self):
        super().setUp()
        self.disk = self.create("e.fvd", 16 * MIB)
        self.hash = sha256(self.disk)

    def assert_untouched(self):
        self.assertEqual(sha256(self.disk), self.hash, "the image file changed")

    def test_read_only_refuses_writes(self):
        r = io(self.disk, "read 0 4k", "write -P 1 0 4k", flags=["-r"])
        self.assert_one_line_error(r, "command 2 'write -P 1 0 4k'", "read-only")
        self.assertEqual(r.stdout, "")
        self.assert_untouched()
        r = io(self.disk, "read 0 4k", "flush", flags=["-r"])
        self.assert_ok(r)
        self.assert_untouched()  # a read-only run writes nothing

    def test_bad_command_runs_nothing(self):
        r = io(self.disk, "write -P 1 0 4k", "wrtie 0 4k", "flush")
        self.assert_one_line_error(
            r, "fvd-img io: command 2 'wrtie 0 4k': unknown command 'wrtie' (read, write, flush)")
        self.assertEqual(r.stdout, "")
        self.assert_untouched()

    def test_bad_arguments_run_nothing(self):
        cases = [
            (["write 0 4k", "write 1000 512"], "command 2", "not a multiple of 512"),
            (["write 0 4k", "read 0 12Q"], "command 2", "12Q"),
            (["write -P 256 0 4k"], "command 1", "pattern '256'"),
            (["write -x 0 4k"], "command 1", "unknown option '-x'"),
            (["write 0 4k", "read 16M 512"], "command 2", "past the end of the disk"),
            (["flush now"], "command 1", "flush takes no arguments"),
            ([], "no commands"),
        ]
        for commands, *needles in cases:
            with self.subTest(commands=commands):
                r = io(self.disk, *commands)
                self.assert_one_line_error(r, *needles)
                self.assertEqual(r.stdout, "")
                self.assert_untouched()

    def test_bad_options(self):
        for flags in (["--frobnicate"], ["--cache=sometimes"]):
            with self.subTest(flags=flags):
                r = io(self.disk, "write 0 4k", flags=flags)
                self.assertEqual(r.returncode, 1, r)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assert_untouched()

    def test_missing_image(self):
        r = io(self.path("none.fvd"), "read 0 4k")
        self.assert_one_line_error(r, "none.fvd")


class IoCrashTest(IoTestBase):
    """Kill -9 in the middle of write+flush pairs; every write acknowledged by a later `flushed`
    line must read back after recovery."""

    BASE_SIZE = 64 * MIB
    DISK_SIZE = 1 * GIB
    PAIRS = 255  # one distinct nonzero pattern each

    def plan(self):
        rng = random.Random(20110615)
        writes = []
        for i in range(self.PAIRS):
            if i < 160:  # inside the base, 384 KiB slots
                slot, shift = i * 384 * KIB, rng.randrange(0, 256) * 512
            else:  # past the base, 8 MiB slots
                slot, shift = self.BASE_SIZE + (i - 160) * 8 * MIB, rng.randrange(0, 2048) * 512
            writes.append((i + 1, slot + shift, rng.randrange(1, 257) * 512))
        rng.shuffle(writes)
        return writes

    def test_kill_9_keeps_flushed_writes(self):
        disk = self.create("crash.fvd", self.DISK_SIZE)
        writes = self.plan()
        cmds = []
        for w in writes:
            cmds += [write_cmd(w), "flush"]
        # A trailing dump larger than any pipe buffer: the process cannot finish (and close the
        # image cleanly) before the test has read it, so the kill always finds it running.
        cmds.append("read -v 0 1M")
        args = [FVD_IMG, "io", disk, "--cache=writeback"]
        for c in cmds:
            args += ["-c", c]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        by_offset = {w[1]: w for w in writes}
        flushed, pending, flush_lines = [], [], 0
        try:
            while flush_lines < self.PAIRS // 2:
                line = proc.stdout.readline().decode()
                if not line:
                    self.fail(f"fvd-img io ended early: {proc.stderr.read()}")
                m = re.fullmatch(r"wrote (\d+)/\d+ bytes at offset (\d+)\n", line)
                if m:
                    pending.append(by_offset[int(m.group(2))])
                    self.assertEqual(pending[-1][2], int(m.group(1)))
                elif line == "flushed\n":
                    flushed += pending
                    pending = []
                    flush_lines += 1
                else:
                    self.fail(f"unexpected line {line!r}")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.stdout.close()
            proc.stderr.close()
            proc.wait()
        self.assertEqual(proc.returncode, -signal.SIGKILL, "the process ended before the kill")
        self.assertEqual(len(flushed), self.PAIRS // 2)

        self.check_image(disk, "after the crash")
        reads = [read_cmd(w) for w in flushed]
        r = io(disk, *reads)  # read-write: runs recovery
        self.assert_ok(r)
        self.assertEqual(r.stdout.count("read "), len(flushed))
        # Untouched base bytes between slots, and zeros past the base, are still there.
        r = io(disk, f"read -v {383 * KIB} 1k", "read -P 0 1000M 1M", flags=["-r"])
        self.assert_ok(r)
        self.assertEqual(parse_dump(r.stdout), self.base_bytes[383 * KIB:384 * KIB])
        self.check_image(disk, "after recovery")
        self.assert_ok(io(disk, *reads, flags=["-r"]))

    def check_image(self, disk, when):
        with self.subTest(f"fvd-img check {when}"):
            if run("check", "--help").returncode != 0:
                self.skipTest("fvd-img check is not available in this build")
            r = run("check", disk)
            self.assertIn(r.returncode, (0, 3), f"{when}:\n{r.stdout}\n{r.stderr}")


if __name__ == "__main__":
    unittest.main()
