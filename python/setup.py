"""Builds libntkit for the Python package and puts it inside it.

`pip install --no-build-isolation ./python` runs this: the package metadata
is in pyproject.toml; here build_py also runs `make` on the repository's C
sources (in a build directory of its own, under setuptools' build_temp) and
copies the shared library into the package as ntkit/libntkit.so, which
ntkit._lib loads first after $NTKIT_LIBRARY. With $NTKIT_LIBRARY set while
installing, that library is bundled instead and nothing is compiled.

The wheel holds a compiled library, so it is marked platform-specific.
"""
import glob
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _library(build_temp):
    """The path of the libntkit.so to bundle: $NTKIT_LIBRARY, or one built now."""
    given = os.environ.get("NTKIT_LIBRARY")
    if given:
        if not os.path.isfile(given):
            raise SystemExit("ntkit: NTKIT_LIBRARY=%s is not a file; unset it to build the "
                             "library from the sources, or point it at a built libntkit.so"
                             % given)
        return os.path.realpath(given)
    if not (os.path.isfile(os.path.join(ROOT, "Makefile"))
            and os.path.isdir(os.path.join(ROOT, "src"))):
        raise SystemExit("ntkit: the C sources are not next to this package (looked for %s/"
                         "Makefile and src/); install from a checkout of the repository, or "
                         "set NTKIT_LIBRARY to a built libntkit.so" % ROOT)
    build = os.path.join(os.path.abspath(build_temp), "libntkit")
    jobs = "-j%d" % max(1, min(os.cpu_count() or 1, 8))
    cmd = ["make", "-C", ROOT, "--no-print-directory", jobs, "BUILD=" + build, "all"]
    print("ntkit: building libntkit: " + " ".join(cmd))
    res = subprocess.run(cmd)
    if res.returncode != 0:
        raise SystemExit("ntkit: `%s` failed (exit status %d); its output is above. Install "
                         "the build dependencies (`make deps` as root prints or runs the "
                         "apt-get line) and try again" % (" ".join(cmd), res.returncode))
    found = sorted(glob.glob(os.path.join(build, "libntkit.so.*.*.*")))
    if not found:
        raise SystemExit("ntkit: make succeeded but left no libntkit.so.X.Y.Z in %s" % build)
    return found[-1]


class BuildWithLibrary(build_py):
    """build_py, then the shared library next to the package's modules."""

    def run(self):
        super().run()
        build_temp = self.get_finalized_command("build").build_temp
        lib = _library(build_temp)
        dest = os.path.join(self.build_lib, "ntkit", "libntkit.so")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(lib, dest)
        os.chmod(dest, 0o755)
        print("ntkit: bundled %s as %s" % (lib, dest))


class PlatformDistribution(Distribution):
    """A distribution with a compiled library: platform wheels, platlib."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=PlatformDistribution)
