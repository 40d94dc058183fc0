"""Installing and packaging, as a user would: `cmake --install` into a scratch prefix and the
installed tools at work (fvd-img, fvdsim, fvdsweep, the nbdkit plugin, the fio engine, the man
pages); a small project embedding the engine through find_package(fvd) and through pkg-config;
the Debian package cpack makes, its files and declared dependencies, and lintian's verdict.

Environment: BUILD_DIR (a built default preset), SOURCE_DIR. Run with Debian's python3.
"""
import gzip
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD_DIR = os.environ.get("BUILD_DIR", "build/default")
SOURCE_DIR = os.environ.get("SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
TIMEOUT = 600  # generous: only a hang reaches it


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, **kw)


def ok(test, r):
    test.assertEqual(r.returncode, 0, f"{' '.join(map(str, r.args))}:\n{r.stdout}\n{r.stderr}")
    return r


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fvd-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        r = run("cmake", "--install", BUILD_DIR, "--prefix", cls.prefix)
        if r.returncode != 0:
            raise AssertionError(f"cmake --install failed:\n{r.stdout}\n{r.stderr}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def find(self, name):
        for dirpath, _, files in os.walk(self.prefix):
            if name in files:
                return os.path.join(dirpath, name)
        self.fail(f"{name} is not installed under {self.prefix}")

    def test_the_installed_tools_work(self):
        img = os.path.join(self.tmp, "disk.fvd")
        fvd_img = self.path("bin", "fvd-img")
        self.assertRegex(ok(self, run(fvd_img, "--version")).stdout,
                         r"^fvd-img \d+\.\d+\.\d+ \(commit \S+, \w+, ")
        ok(self, run(fvd_img, "create", "-q", img, "16M"))
        r = ok(self, run(fvd_img, "io", img, "-c", "write -P 0x5a 0 64k", "-c", "read -P 0x5a 0 64k"))
        self.assertIn("read 65536/65536 bytes", r.stdout)
        ok(self, run(fvd_img, "check", img))
        fvdsim = self.path("bin", "fvdsim")
        self.assertIn("fvdsim 0.1.0", ok(self, run(fvdsim, "--version")).stdout)
        ok(self, run(fvdsim, "run", self.path("share", "fvd", "workloads", "boot.yaml"), "-q",
                     "--max-time", "1s"))
        self.assertIn("fvdsweep 0.1.0", ok(self, run(self.path("bin", "fvdsweep"),
                                                      "--version")).stdout)

    @unittest.skipUnless(shutil.which("nbdkit"), "no nbdkit")
    def test_the_nbdkit_plugin_under_its_name(self):
        plugin = self.find("nbdkit-fvd-plugin.so")
        self.assertTrue(plugin.endswith(os.path.join("nbdkit", "plugins", "nbdkit-fvd-plugin.so")))
        r = ok(self, run("nbdkit", plugin, "--help"))
        self.assertIn("file=", r.stdout)

    @unittest.skipUnless(shutil.which("fio"), "no fio")
    def test_the_fio_engine_at_its_documented_path(self):
        engine = self.path("lib", "fvd", "libfvd_fio.so")
        self.assertTrue(os.path.exists(engine), engine)
        self.assertIn("fvd_size", ok(self, run("fio", f"--enghelp={engine}")).stdout)

    def test_man_pages_come_from_help(self):
        for page in ("fvd-img", "fvdsim", "fvdsweep"):
            with gzip.open(self.path("share", "man", "man1", f"{page}.1.gz"), "rt") as f:
                text = f.read()
            self.assertIn(f".TH {page.upper()}", text)
        with gzip.open(self.path("share", "man", "man1", "fvd-img.1.gz"), "rt") as f:
            self.assertIn("create", f.read())  # a subcommand from --help

    def test_a_project_embeds_the_engine_with_find_package(self):
        build = os.path.join(self.tmp, "consumer")
        ok(self, run("cmake", "-S", os.path.join(SOURCE_DIR, "packaging", "consumer"), "-B", build,
                     "-G", "Ninja", f"-DCMAKE_PREFIX_PATH={self.prefix}"))
        ok(self, run("cmake", "--build", build))
        self.assertEqual(ok(self, run(os.path.join(build, "fvd_consumer"))).stdout, "ok\n")

    def test_a_project_embeds_the_engine_with_pkg_config(self):
        env = dict(os.environ, PKG_CONFIG_PATH=self.path("lib", "pkgconfig"))
        flags = ok(self, run("pkg-config", "--cflags", "--libs", "fvd", env=env)).stdout.split()
        exe = os.path.join(self.tmp, "consumer-pc")
        ok(self, run("g++", "-o", exe, os.path.join(SOURCE_DIR, "packaging", "consumer", "main.cc"),
                     *flags))
        self.assertEqual(ok(self, run(exe)).stdout, "ok\n")


@unittest.skipUnless(shutil.which("dpkg-deb"), "no dpkg-deb")
class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fvd-deb-")
        r = run("cpack", "-G", "DEB", "-B", cls.tmp, "--config",
                os.path.join(BUILD_DIR, "CPackConfig.cmake"), cwd=BUILD_DIR)
        if r.returncode != 0:
            raise AssertionError(f"cpack failed:\n{r.stdout}\n{r.stderr}")
        debs = [f for f in os.listdir(cls.tmp) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(cls.tmp, debs[0])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name):
        return ok(self, run("dpkg-deb", "-f", self.deb, name)).stdout.strip()

    def test_its_files(self):
        listing = ok(self, run("dpkg-deb", "-c", self.deb)).stdout
        for path in ("./usr/bin/fvd-img", "./usr/bin/fvdsim", "./usr/bin/fvdsweep",
                     "./usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-fvd-plugin.so",
                     "./usr/lib/x86_64-linux-gnu/nbdkit/filters/nbdkit-fvdlink-filter.so",
                     "./usr/lib/fvd/libfvd_fio.so", "./usr/lib/cmake/fvd/fvdConfig.cmake",
                     "./usr/lib/pkgconfig/fvd.pc", "./usr/include/fvd/core/image/image.h",
                     "./usr/share/fvd/workloads/swarm.yaml", "./usr/share/man/man1/fvdsim.1.gz",
                     "./usr/share/doc/fvd/copyright", "./usr/share/fvd/python/sweeplib/task.py"):
            self.assertIn(path, listing)
        self.assertNotIn("_test", listing)
        self.assertNotIn("testbugs", listing)

    def test_its_declared_dependencies(self):
        self.assertEqual(self.field("Package"), "fvd")
        depends = self.field("Depends")
        for lib in ("libisal2", "liburing2", "libyaml-cpp0.7", "libstdc++6", "nbdkit", "python3"):
            self.assertIn(lib, depends)
        self.assertIn("python3-distributed", self.field("Recommends"))

    @unittest.skipUnless(shutil.which("lintian"), "no lintian")
    def test_lintian_finds_no_error(self):
        r = run("lintian", self.deb)
        errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [], r.stdout)


if __name__ == "__main__":
    unittest.main()
