"""The installable package: `pip install ./python` bundles libntkit and the
package imports from any directory, with no path set up by hand."""
import importlib.util
import os
import shutil
import subprocess
import sys
import unittest

from helpers import REPO, TempDir, ntkit

PYTHON_DIR = os.path.join(REPO, "python")
HAVE_PIP = all(importlib.util.find_spec(m) for m in ("pip", "setuptools", "wheel"))


@unittest.skipUnless(HAVE_PIP, "needs pip, setuptools and wheel (python3-pip, python3-setuptools, "
                               "python3-wheel)")
class Install(unittest.TestCase):
    def test_pip_install_bundles_the_library(self):
        with TempDir() as tmp:
            target = os.path.join(tmp, "site")
            # a copy of the package's sources (pip builds in the tree it is given: not in the
            # checkout, which other test runs may share)
            src = os.path.join(tmp, "src")
            shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns(
                "build", "dist", "*.egg-info", "__pycache__", "tests", "libntkit.so*"))
            # offline, with the installed setuptools, bundling the library under test
            # (NTKIT_LIBRARY) instead of compiling it again
            env = dict(os.environ, NTKIT_LIBRARY=os.path.realpath(ntkit.library_path))
            res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                                  "--no-build-isolation", "--no-deps", "--no-index",
                                  "--root-user-action=ignore", "--target", target, src],
                                 env=env, capture_output=True, text=True)
            self.assertEqual(res.returncode, 0, res.stderr[-3000:])
            bundled = os.path.join(target, "ntkit", "libntkit.so")
            self.assertTrue(os.path.isfile(bundled))
            # import from another directory: the bundled library, no NTKIT_LIBRARY, no source tree
            env = {k: v for k, v in os.environ.items() if k != "NTKIT_LIBRARY"}
            env["PYTHONPATH"] = target
            code = ("import numpy as np, ntkit; print(ntkit.__file__); print(ntkit.library_path); "
                    "K = ntkit.ntk_inf(np.eye(3)); "
                    "print(ntkit.predict.gradient_descent_mse(K, np.ones(3))(None).sum())")
            res = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env,
                                 capture_output=True, text=True)
            self.assertEqual(res.returncode, 0, res.stderr[-3000:])
            init, lib, total = res.stdout.split()
            self.assertEqual(init, os.path.join(target, "ntkit", "__init__.py"))
            self.assertEqual(lib, bundled)
            self.assertEqual(float(total), 3.0)

    @unittest.skipUnless(importlib.util.find_spec("ensurepip"),
                         "needs the venv module with ensurepip (python3-venv)")
    def test_fresh_venv_runs_the_quickstart(self):
        # what the README promises: a new virtual environment that sees the system's numpy,
        # `pip install ./python` in it, and examples/quickstart.py run from another directory
        with TempDir() as tmp:
            venv = os.path.join(tmp, "venv")
            res = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                                 capture_output=True, text=True)
            self.assertEqual(res.returncode, 0, res.stderr[-3000:])
            py = os.path.join(venv, "bin", "python")
            src = os.path.join(tmp, "src")
            shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns(
                "build", "dist", "*.egg-info", "__pycache__", "tests", "libntkit.so*"))
            env = dict(os.environ, NTKIT_LIBRARY=os.path.realpath(ntkit.library_path))
            res = subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-build-isolation",
                                  "--no-deps", "--no-index", "--root-user-action=ignore", src],
                                 env=env, capture_output=True, text=True)
            self.assertEqual(res.returncode, 0, res.stderr[-3000:])
            run_dir = os.path.join(tmp, "elsewhere")
            os.mkdir(run_dir)
            shutil.copy(os.path.join(REPO, "examples", "quickstart.py"), run_dir)
            env = {k: v for k, v in os.environ.items() if k not in ("NTKIT_LIBRARY", "PYTHONPATH")}
            env["MPLBACKEND"] = "Agg"
            res = subprocess.run([py, "quickstart.py"], cwd=run_dir, env=env, capture_output=True,
                                 text=True, timeout=600)
            self.assertEqual(res.returncode, 0, res.stdout[-2000:] + res.stderr[-3000:])
            res = subprocess.run([py, "-c", "import ntkit; print(ntkit.__file__)"], cwd=run_dir,
                                 env=env, capture_output=True, text=True)
            self.assertTrue(res.stdout.strip().startswith(venv), res.stdout + res.stderr)

    def test_versions_agree(self):
        # pyproject.toml, the package and the library's header carry one version
        with open(os.path.join(PYTHON_DIR, "pyproject.toml")) as fp:
            line = next(ln for ln in fp if ln.startswith("version"))
        self.assertEqual(line.split("=")[1].strip().strip('"'), ntkit.__version__)
        with open(os.path.join(REPO, "include", "ntkit.h")) as fp:
            macro = next(ln for ln in fp if ln.startswith("#define NTK_VERSION"))
        self.assertEqual(macro.split()[2].strip('"'), ntkit.__version__)


class NoPathHacks(unittest.TestCase):
    def test_no_sys_path_edits_in_the_package_or_examples(self):
        for top in (os.path.join(PYTHON_DIR, "ntkit"), os.path.join(REPO, "examples")):
            for name in sorted(os.listdir(top)):
                if name.endswith(".py"):
                    with open(os.path.join(top, name)) as fp:
                        self.assertNotIn("sys.path", fp.read(), os.path.join(top, name))


if __name__ == "__main__":
    unittest.main()
