"""End-to-end tests of the fvd-img command line on real files.

Run by CTest with FVD_IMG set to the binary. The expected header offsets come from the v1 table
of FVD-FORMAT.md (typed in here), not from the code under test.
"""
import hashlib
import json
import os
import struct
import subprocess
import tempfile
import unittest

FVD_IMG = os.environ.get("FVD_IMG", "fvd-img")


def run(*args):
    return subprocess.run([FVD_IMG, *args], capture_output=True, text=True, timeout=60)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.base = os.path.join(self.dir, "base.raw")
        with open(self.base, "wb") as f:
            f.write(os.urandom(1 << 20))
            f.truncate(100 << 20)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def assert_one_line_error(self, result, *needles):
        self.assertNotEqual(result.returncode, 0, result)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])

    def test_a_boot_recorded_in_one_image_is_the_profile_of_the_next(self):
        first = self.path("first.fvd")
        r = run("create", "-q", "-b", "base.raw", "-o", "generate_prefetch_profile=on", first)
        self.assertEqual(r.returncode, 0, r.stderr)
        # A "boot": reads that go to the base, in this order; the close stores the profile.
        r = run("io", first, "-c", "read 64k 8k", "-c", "read 0 4k", "-c", "read 1M 4k")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(run("info", "--output=json", first).stdout)
        self.assertEqual(info["format-specific"]["prefetch-profile"],
                         {"capacity": 16384, "entries": 3})
        # The profile's layout (FORMAT.md): magic, count, entries of u64 offset and u32 units.
        d = info["format-specific"]["data"]
        with open(first, "rb") as f:
            f.seek(d["prefetch_profile_offset"])
            region = f.read(512 + 3 * 12)
        self.assertEqual(region[0:4], b"FVDP")
        self.assertEqual(struct.unpack_from("<Q", region, 8)[0], 3)
        entries = [struct.unpack_from("<QI", region, 512 + 12 * i) for i in range(3)]
        self.assertEqual(entries, [(64 << 10, 2), (0, 1), (1 << 20, 1)])

        second = self.path("second.fvd")
        r = run("create", "-b", "base.raw", "-o", "prefetch_profile_from=" + first, second)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("prefetch_profile_entries=3", r.stdout)
        info = json.loads(run("info", "--output=json", second).stdout)
        self.assertEqual(info["format-specific"]["prefetch-profile"],
                         {"capacity": 3, "entries": 3})
        self.assertEqual(info["format-specific"]["data"]["profile_directed_prefetch_start_delay"], 0)
        self.assertIn("prefetch profile: 3 of 3 entries", run("info", second).stdout)
        self.assertEqual(run("check", second).returncode, 0)
        self.assertNotIn("WARNING", run("check", second).stdout)

        # A damaged region is named by check, which still exits 0: the image ignores it.
        with open(second, "r+b") as f:
            f.seek(info["format-specific"]["data"]["prefetch_profile_offset"] + 512)
            f.write(b"\xff" * 12)
        r = run("check", second)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("WARNING prefetch profile region at byte", r.stdout)
        j = json.loads(run("check", "--output=json", second).stdout)
        self.assertEqual(len(j["warnings"]), 1, j)

    def test_prefetch_profile_from_an_image_without_one_fails_and_creates_nothing(self):
        plain = self.path("plain.fvd")
        self.assertEqual(run("create", "-q", "-b", "base.raw", plain).returncode, 0)
        target = self.path("target.fvd")
        r = run("create", "-b", "base.raw", "-o", "prefetch_profile_from=" + plain, target)
        self.assert_one_line_error(r, "prefetch_profile_from", "holds no prefetch profile")
        self.assertFalse(os.path.exists(target))
        r = run("create", "-o", "generate_prefetch_profile=on", target, "1G")
        self.assert_one_line_error(r, "need a base image")
        self.assertFalse(os.path.exists(target))

    def test_create_with_base_header_bytes_match_info_json(self):
        disk = self.path("disk.fvd")
        r = run("create", "-b", "base.raw", disk, "1G")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Formatting", r.stdout)
        info = run("info", "--output=json", disk)
        self.assertEqual(info.returncode, 0, info.stderr)
        j = json.loads(info.stdout)
        d = j["format-specific"]["data"]
        with open(disk, "rb") as f:
            raw = f.read(8192)
        u32 = lambda off: struct.unpack_from("<I", raw, off)[0]
        u64 = lambda off: struct.unpack_from("<Q", raw, off)[0]
        cstr = lambda off, n: raw[off:off + n].split(b"\0")[0].decode()
        self.assertEqual(raw[0:4], bytes([0xA9, 0xF5, 0x43, 0x51]))
        self.assertEqual(u32(0), d["magic"])
        self.assertEqual(u32(4), 2)
        self.assertEqual(u64(12), j["virtual-size"])
        self.assertEqual(u64(12), 1 << 30)
        self.assertEqual(u64(20), d["metadata_size"])
        self.assertEqual(cstr(28, 1024), "base.raw")
        self.assertEqual(cstr(28, 1024), j["backing-filename"])
        self.assertEqual(u64(1068), 100 << 20)
        self.assertEqual(u64(1068), d["base_img_size"])
        self.assertEqual(u64(1076), d["bitmap_offset"])
        self.assertEqual(u64(1084), d["bitmap_size"])
        self.assertEqual(u32(1092), d["block_size"])
        self.assertEqual(u64(4284), d["journal_offset"])
        self.assertEqual(u64(4292), d["journal_size"])
        self.assertEqual(u32(4300), 1)  # clean_shutdown
        self.assertEqual(os.path.getsize(disk), d["metadata_size"] + (1 << 30))

    def test_create_compact_and_human_info(self):
        disk = self.path("c.fvd")
        r = run("create", "-q", "-o", "compact_image=on,chunk_size=64k", disk, "10G")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        info = run("info", disk)
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertIn("virtual size: 10 GiB (10737418240 bytes)", info.stdout)
        self.assertIn("cluster_size: 65536", info.stdout)
        with open(disk, "rb") as f:
            f.seek(struct.unpack_from("<Q", open(disk, "rb").read(8192), 2212)[0])
            self.assertEqual(f.read(8), b"\xff" * 8)  # table starts "not allocated"

    def test_size_defaults_to_base(self):
        disk = self.path("d.fvd")
        self.assertEqual(run("create", "-b", self.base, disk).returncode, 0)
        j = json.loads(run("info", "--output=json", disk).stdout)
        self.assertEqual(j["virtual-size"], 100 << 20)

    def test_unknown_option_one_line_nothing_written(self):
        disk = self.path("e.fvd")
        self.assert_one_line_error(run("create", "--frobnicate", disk, "1G"), "frobnicate")
        self.assert_one_line_error(run("create", "-o", "colour=blue", disk, "1G"), "colour")
        self.assertFalse(os.path.exists(disk))

    def test_bad_size_one_line_nothing_written(self):
        disk = self.path("f.fvd")
        self.assert_one_line_error(run("create", disk, "12Q"), "12Q")
        self.assert_one_line_error(run("create", disk, "1000"), "1000", "512")
        self.assert_one_line_error(run("create", disk), "size")
        self.assertFalse(os.path.exists(disk))

    def test_missing_base_one_line_nothing_written(self):
        disk = self.path("g.fvd")
        self.assert_one_line_error(run("create", "-b", "nope.raw", disk, "1G"), "nope.raw")
        self.assertFalse(os.path.exists(disk))

    def test_existing_file_untouched_on_bad_options(self):
        disk = self.path("keep.fvd")
        with open(disk, "wb") as f:
            f.write(b"precious")
        self.assert_one_line_error(run("create", "-o", "block_size=700", "-b", self.base, disk),
                                   "block_size=700")
        with open(disk, "rb") as f:
            self.assertEqual(f.read(), b"precious")

    def test_info_missing_file(self):
        self.assert_one_line_error(run("info", self.path("none.fvd")), "none.fvd", "not found")

    def test_info_not_fvd(self):
        self.assert_one_line_error(run("info", self.base), "magic", "not an FVD image")

    def test_info_truncated(self):
        disk = self.path("t.fvd")
        self.assertEqual(run("create", "-b", self.base, disk).returncode, 0)
        with open(disk, "r+b") as f:
            f.truncate(5000)
        self.assert_one_line_error(run("info", disk), "truncated")

    def test_info_corrupt_checksum(self):
        disk = self.path("x.fvd")
        self.assertEqual(run("create", disk, "64M").returncode, 0)
        with open(disk, "r+b") as f:
            f.seek(100)
            f.write(b"\x01")
        self.assert_one_line_error(run("info", disk), "checksum mismatch")

    def test_info_bad_output_format(self):
        disk = self.path("y.fvd")
        self.assertEqual(run("create", disk, "64M").returncode, 0)
        self.assert_one_line_error(run("info", "--output=xml", disk), "xml")

    def test_check_clean_and_corrupt(self):
        disk = self.path("ck.fvd")
        self.assertEqual(run("create", "-q", "-b", self.base, "-o", "compact_image=on", disk).returncode, 0)
        r = run("check", disk)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("No errors were found", r.stdout)
        j = json.loads(run("check", "--output=json", disk).stdout)
        self.assertEqual(j["corruptions"], 0)
        self.assertTrue(j["clean-shutdown"])
        table_offset = struct.unpack_from("<Q", open(disk, "rb").read(8192), 2212)[0]
        with open(disk, "r+b") as f:  # entry 0 with the in-memory DIRTY bit: never valid on disk
            f.seek(table_offset)
            f.write(struct.pack("<I", 0x80000005))
        r = run("check", disk)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("entry 0", r.stderr)

    def test_journal_corrupt_beyond_replay_opens_read_only_until_check_r_all(self):
        # A crashed compact overlay whose journal also holds a well-formed record mapping a chunk
        # past the table (made by fuzz/make_corpus.cc, committed in the fuzz corpus).
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz",
                           "corpus", "open_image", "overlay-compact-unreplayable")
        disk = self.path("ur.fvd")
        with open(src, "rb") as f, open(disk, "wb") as out:
            out.write(f.read())
        with open(self.path("base.raw"), "wb") as f:  # the name the image's header gives
            f.write(bytes(192 << 10))

        def digest():
            with open(disk, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        before = digest()
        r = run("check", disk)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("journal cannot be replayed", r.stdout)
        self.assertIn("corrupt beyond replay", r.stdout)
        self.assertIn("lies past the table", r.stdout)
        self.assertTrue(json.loads(run("check", "--output=json", disk).stdout)
                        ["journal-unreplayable"])
        # A read-write open reads, with a warning, and refuses writes; nothing is written.
        r = run("io", disk, "-c", "read 0 4k")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: the journal is corrupt beyond replay", r.stderr)
        r = run("io", disk, "-c", "write 0 4k")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("read-only", r.stderr)
        r = run("check", "-r", "leaks", disk)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("-r all discards it", r.stderr)
        self.assertEqual(digest(), before)
        # -r all discards the journal, says so, and leaves a clean image that takes writes.
        r = run("check", "-r", "all", disk)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("discarded the journal", r.stdout)
        self.assertEqual(run("check", disk).returncode, 0)
        r = run("io", disk, "-c", "write 0 4k")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_check_bad_repair_mode(self):
        disk = self.path("ck2.fvd")
        self.assertEqual(run("create", "-q", disk, "1M").returncode, 0)
        self.assert_one_line_error(run("check", "-r", "everything", disk), "everything")

    def test_update_changes_attributes_and_rejects_bad_ones(self):
        disk = self.path("u.fvd")
        self.assertEqual(run("create", "-q", "-b", self.base, disk, "64M").returncode, 0)
        r = run("update", disk, "copy_on_read=on", "prefetch_start_delay=7", "size=128M",
                "prefetch_max_read_throughput=2048", "profile_directed_prefetch_start_delay=0")
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(run("info", "--output=json", disk).stdout)
        self.assertTrue(d["format-specific"]["data"]["copy_on_read"])
        self.assertEqual(d["format-specific"]["data"]["prefetch_max_read_throughput"], 2048)
        self.assertEqual(d["format-specific"]["data"]["profile_directed_prefetch_start_delay"], 0)
        self.assertEqual(d["format-specific"]["data"]["prefetch_start_delay"], 7)
        self.assertEqual(d["virtual-size"], 128 << 20)
        before = open(disk, "rb").read(8192)
        self.assert_one_line_error(run("update", disk, "colour=red"), "colour")
        self.assert_one_line_error(run("update", disk, "size=1M"), "shrinking")
        self.assert_one_line_error(run("update", disk, "prefetch_perf_calc_alpha=150"), "150")
        self.assertEqual(open(disk, "rb").read(8192), before)

    def test_help(self):
        r = run("create", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("compact_image", r.stdout)
        self.assertNotEqual(run().returncode, 0)


if __name__ == "__main__":
    unittest.main()
