"""`ntkit plot` and `ntkit experiment` on bad input: one line on stderr
("ntkit: error: <problem>; <fix>"), exit status 1, no traceback, no
half-written output and no file that existed before removed.

The commands run through the CLI when it is built (NTKIT or build/ntkit),
else as `python3 tools/plot.py`. Bad outputs of ntkit inside an experiment
come from a stand-in ntkit binary (a small script) that writes them, with
tools/experiments.py run directly so that it calls the stand-in.
"""
import os
import subprocess
import sys
import unittest

from helpers import CLI, HAVE_CLI, REPO, TempDir

TOOLS = os.path.join(REPO, "tools")
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def have_matplotlib():
    return subprocess.run([PYTHON, "-c", "import numpy, matplotlib"], capture_output=True).returncode == 0


GOOD_METRICS = ("step,train_loss,test_loss,grad_norm,w_dist_fro,v_dist,w_dist_max_row\n"
                "0,1.0,1.1,0.5,0,0,0\n"
                "5,0.5,0.7,0.3,0.1,0.05,0.02\n"
                "10,0.25,0.5,0.2,0.2,0.1,0.04\n")

BAD_CSV = {
    "empty": "",
    "no header": "0,1.0,1.1\n5,0.5,0.7\n",
    "header only": "step,train_loss\n",
    "ragged row": "step,train_loss\n0,1.0\n5,0.5,0.7\n",
    "short row": "step,train_loss,test_loss\n0,1.0,1.1\n5,0.5\n",
    "non-numeric cell": "step,train_loss\n0,1.0\n5,abc\n",
    "duplicate column": "step,step\n0,1\n",
    "no step column": "train_loss\n1.0\n0.5\n",
    "binary": "\x00\xff\xfe garbage",
}


@unittest.skipUnless(have_matplotlib(), "python3-numpy and python3-matplotlib are needed")
class ToolCase(unittest.TestCase):
    def tool(self, cmd, args, env=None):
        if HAVE_CLI:
            argv = [CLI, cmd] + list(args)
        else:
            argv = [PYTHON, os.path.join(TOOLS, {"plot": "plot.py", "experiment": "experiments.py"}[cmd])] \
                + list(args)
        e = dict(os.environ)
        e.pop("NTKIT_DEBUG", None)
        e.update(env or {})
        return subprocess.run(argv, capture_output=True, text=True, env=e, timeout=300)

    def assert_one_line_error(self, res, *words):
        err = res.stderr
        self.assertEqual(res.returncode, 1, "exit %d, stderr: %s" % (res.returncode, err))
        self.assertNotIn("Traceback", err)
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, "expected one line on stderr, got:\n" + err)
        self.assertRegex(lines[0], r"^ntkit: error: .+; .+")
        for w in words:
            self.assertIn(w, lines[0])
        return lines[0]

    @staticmethod
    def write(path, text, mode="w"):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as f:
            f.write(text)

    @staticmethod
    def tmp_files(d):
        return [f for _, _, fs in os.walk(d) for f in fs if f.endswith(".tmp")]


class PlotErrors(ToolCase):
    def test_good_run_directory_plots(self):
        # the control: a well-formed (hand-written) run directory gives figures and exit 0
        with TempDir() as t:
            self.write(os.path.join(t, "run", "metrics.csv"), GOOD_METRICS)
            res = self.tool("plot", [os.path.join(t, "run")])
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertEqual(res.stderr, "")
            for f in ("losses", "distances"):
                for ext in (".png", ".svg"):
                    self.assertGreater(os.path.getsize(os.path.join(t, "run", "plots", f + ext)), 0)
            self.assertEqual(self.tmp_files(t), [])

    def test_malformed_metrics(self):
        for case, text in BAD_CSV.items():
            with self.subTest(case), TempDir() as t:
                os.makedirs(os.path.join(t, "run"))
                with open(os.path.join(t, "run", "metrics.csv"), "wb") as f:
                    f.write(text.encode("latin-1"))
                res = self.tool("plot", [os.path.join(t, "run")])
                self.assert_one_line_error(res, "metrics.csv")
                self.assertFalse(os.path.exists(os.path.join(t, "run", "plots", "losses.png")))

    def test_missing_or_unreadable_inputs(self):
        with TempDir() as t:
            os.makedirs(os.path.join(t, "emptydir"))
            self.assert_one_line_error(self.tool("plot", [os.path.join(t, "emptydir")]),
                                       "neither a run directory")
            self.assert_one_line_error(self.tool("plot", [os.path.join(t, "nowhere")]), "does not exist")
            os.makedirs(os.path.join(t, "dirc", "metrics.csv"))
            self.assert_one_line_error(self.tool("plot", [os.path.join(t, "dirc")]), "cannot read")
            self.write(os.path.join(t, "js", "metrics.csv"), GOOD_METRICS)
            self.write(os.path.join(t, "js", "config.json"), "{not json")
            self.assert_one_line_error(self.tool("plot", [os.path.join(t, "js")]), "config.json",
                                       "not valid JSON")

    def test_malformed_sweep(self):
        with TempDir() as t:
            self.write(os.path.join(t, "sw", "sweep.csv"), "width,status,nn_train_loss_final\n8,0,x\n")
            self.assert_one_line_error(self.tool("plot", [os.path.join(t, "sw")]), "sweep.csv",
                                       "'x' is not a number")
            self.write(os.path.join(t, "sw2", "sweep.csv"), "width,status\n,0\n")
            self.assert_one_line_error(self.tool("plot", [os.path.join(t, "sw2")]), "swept setting")

    def test_unwritable_out(self):
        with TempDir() as t:
            run = os.path.join(t, "run")
            self.write(os.path.join(run, "metrics.csv"), GOOD_METRICS)
            self.write(os.path.join(t, "file"), "x")
            self.assert_one_line_error(self.tool("plot", [run, "--out", os.path.join(t, "file", "plots")]),
                                       "cannot create directory", "--out")
            self.assert_one_line_error(self.tool("plot", [run, "--out", os.path.join(t, "file")]),
                                       "is not a directory", "--out")
            with open(os.path.join(t, "file")) as f:
                self.assertEqual(f.read(), "x")
            # the default RUN_DIR/plots taken by a file
            self.write(os.path.join(run, "plots"), "not a dir")
            self.assert_one_line_error(self.tool("plot", [run]), "plots")
            if os.geteuid() != 0:   # root writes anywhere
                ro = os.path.join(t, "ro")
                os.makedirs(ro)
                os.chmod(ro, 0o555)
                try:
                    self.assert_one_line_error(self.tool("plot", [run, "--out", ro]), "not writable")
                finally:
                    os.chmod(ro, 0o755)

    def test_failure_keeps_earlier_files_and_leaves_no_temporaries(self):
        with TempDir() as t:
            run = os.path.join(t, "run")
            self.write(os.path.join(run, "metrics.csv"), GOOD_METRICS)
            out = os.path.join(t, "figs")
            self.write(os.path.join(out, "distances.svg"), "earlier figure")
            self.write(os.path.join(out, "notes.txt"), "mine")
            os.makedirs(os.path.join(out, "distances.png"))   # the second figure cannot be written
            res = self.tool("plot", [run, "--out", out])
            self.assert_one_line_error(res, "distances.png", "is a directory")
            with open(os.path.join(out, "distances.svg")) as f:   # PNG and SVG: both or neither
                self.assertEqual(f.read(), "earlier figure")
            with open(os.path.join(out, "notes.txt")) as f:
                self.assertEqual(f.read(), "mine")
            self.assertGreater(os.path.getsize(os.path.join(out, "losses.png")), 0)   # complete
            self.assertEqual(self.tmp_files(t), [])


@unittest.skipUnless(have_matplotlib(), "python3-numpy and python3-matplotlib are needed")
class GuardedMain(unittest.TestCase):
    """A bug in a tool is one line too, and NTKIT_DEBUG=1 shows its traceback."""

    CODE = ("import sys; sys.path.insert(0, %r); import plot\n"
            "def broken(argv): return {}['no such key']\n"
            "plot._main = broken\n"
            "sys.exit(plot.main([]))\n" % TOOLS)

    def run_code(self, debug):
        env = dict(os.environ)
        env.pop("NTKIT_DEBUG", None)
        if debug:
            env["NTKIT_DEBUG"] = "1"
        return subprocess.run([PYTHON, "-c", self.CODE], capture_output=True, text=True, env=env)

    def test_bug_is_one_line_unless_debugging(self):
        res = self.run_code(False)
        self.assertEqual(res.returncode, 1)
        self.assertEqual(len(res.stderr.splitlines()), 1, res.stderr)
        self.assertRegex(res.stderr, r"^ntkit: error: internal error in ntkit plot \(KeyError: .*NTKIT_DEBUG=1")
        res = self.run_code(True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("Traceback", res.stderr)
        self.assertIn("KeyError", res.stderr)


FAKE_NTKIT = r'''#!%s
"""Stand-in for the ntkit binary: `run ... --out DIR` writes a run directory
whose metrics.csv is chosen by $FAKE_CASE."""
import json, os, sys
import numpy as np
args = sys.argv[1:]
case = os.environ["FAKE_CASE"]
if case == "fails":
    sys.stderr.write("ntkit: error: --width must be positive; use --width 8\n")
    sys.exit(1)
out = args[args.index("--out") + 1]
os.makedirs(out, exist_ok=True)
np.save(os.path.join(out, "y_train.npy"), np.array([0.0, 1.0, 2.0]))
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump({"theory": {"lr_max_stable": 10.0}, "final": {}}, f)
if case != "missing":
    with open(os.path.join(out, "metrics.csv"), "w") as f:
        f.write(os.environ["FAKE_CSV"])
'''


@unittest.skipUnless(have_matplotlib(), "python3-numpy and python3-matplotlib are needed")
class ExperimentErrors(ToolCase):
    def experiment(self, t, case, csv="", out=None):
        fake = os.path.join(t, "fake-ntkit")
        with open(fake, "w") as f:
            f.write(FAKE_NTKIT % PYTHON)
        os.chmod(fake, 0o755)
        env = dict(os.environ, NTKIT=fake, FAKE_CASE=case, FAKE_CSV=csv)
        env.pop("NTKIT_DEBUG", None)
        argv = [PYTHON, os.path.join(TOOLS, "experiments.py"), "early-linear", "--smoke",
                "--out", out or os.path.join(t, "exp")]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)

    def test_malformed_metrics_from_ntkit(self):
        cases = dict(BAD_CSV)
        del cases["binary"]
        cases["missing column"] = "step,nn_train_loss\n0,1.0\n3,0.5\n"
        for case, text in cases.items():
            with self.subTest(case), TempDir() as t:
                res = self.experiment(t, "csv", text)
                self.assert_one_line_error(res, "early-linear", "metrics.csv")
        with TempDir() as t:
            self.assert_one_line_error(self.experiment(t, "missing"), "metrics.csv", "does not exist")

    def test_failing_ntkit_call(self):
        with TempDir() as t:
            line = self.assert_one_line_error(self.experiment(t, "fails"), "ntkit run failed (exit 1)",
                                              "--width must be positive", "log:")
            self.assertEqual(line.count("ntkit: error:"), 1)

    def test_failure_keeps_the_earlier_report(self):
        with TempDir() as t:
            out = os.path.join(t, "exp")
            for name, text in (("report.md", "# earlier report\n"), ("results.json", "{}"),
                               ("losses.png", "earlier figure")):
                self.write(os.path.join(out, name), text)
            self.assert_one_line_error(self.experiment(t, "csv", BAD_CSV["ragged row"]), "line 3")
            for name, text in (("report.md", "# earlier report\n"), ("results.json", "{}"),
                               ("losses.png", "earlier figure")):
                with open(os.path.join(out, name)) as f:
                    self.assertEqual(f.read(), text, name)
            self.assertEqual(self.tmp_files(t), [])

    def test_unwritable_out(self):
        with TempDir() as t:
            self.write(os.path.join(t, "file"), "x")
            for out, word in ((os.path.join(t, "file", "exp"), "cannot create directory"),
                              (os.path.join(t, "file"), "is not a directory")):
                with self.subTest(out):
                    # (fails before any ntkit call; without the CLI, NTKIT only has to be set)
                    res = self.tool("experiment", ["early-linear", "--smoke", "--out", out],
                                    env=None if HAVE_CLI else {"NTKIT": "/bin/false"})
                    self.assert_one_line_error(res, word, "--out")
            with open(os.path.join(t, "file")) as f:
                self.assertEqual(f.read(), "x")


if __name__ == "__main__":
    unittest.main()
