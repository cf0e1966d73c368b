"""The examples run against this package and say what they claim."""
import importlib.util
import os
import re
import subprocess
import sys
import unittest

from helpers import REPO, TempDir, ntkit

EXAMPLES = os.path.join(REPO, "examples")


def run_example(name, *args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(ntkit.__path__[0]))
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + list(args),
                          cwd=cwd, env=env, capture_output=True, text=True)


class Examples(unittest.TestCase):
    def test_quickstart(self):
        with TempDir() as tmp:
            res = run_example("quickstart.py", cwd=tmp)
        self.assertEqual(res.returncode, 0, res.stderr)
        gap = float(re.search(r"max \|f_net - f_kernel\| after 200 steps: (\S+)", res.stdout)[1])
        self.assertLess(gap, 0.05)    # width 4096: the network tracks kernel GD

    @unittest.skipUnless(importlib.util.find_spec("matplotlib"), "needs matplotlib "
                         "(apt-get install python3-matplotlib)")
    def test_infinite_networks_figure(self):
        with TempDir() as tmp:
            png = os.path.join(tmp, "fig.png")
            res = run_example("infinite_networks.py", png, "--quick", cwd=tmp)
            self.assertEqual(res.returncode, 0, res.stderr)
            with open(png, "rb") as fp:
                self.assertEqual(fp.read(8), b"\x89PNG\r\n\x1a\n")
        m = re.search(r"max \|mean of (\d+) networks - infinite ensemble mean\| = (\S+) "
                      r"\(infinite-ensemble std up to ([0-9.e+-]+)", res.stdout)
        self.assertIsNotNone(m, res.stdout)
        # the finite ensemble's mean lies within the infinite ensemble's spread
        self.assertLess(float(m[2]), 2 * float(m[3]))


if __name__ == "__main__":
    unittest.main()
