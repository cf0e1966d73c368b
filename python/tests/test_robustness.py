"""Ways a user could get a crash, a hang or a silently wrong number: each is
a clear exception naming the argument instead. Calls that could crash the
interpreter run in a subprocess, so a crash fails one test, not the suite."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

import numpy as np

from helpers import HERE, data, ntkit
from ntkit import _arrays

PYDIR = os.path.dirname(HERE)


def run_python(code, timeout=120):
    """Run `code` (after `import ntkit, numpy as np`) in a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=PYDIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", "import ntkit, numpy as np\n" + code],
                          capture_output=True, text=True, timeout=timeout, env=env)


def describe(res):
    if res.returncode < 0:
        return "killed by signal %d; stderr tail: %s" % (-res.returncode, res.stderr[-400:])
    return "exit %d; stderr tail: %s" % (res.returncode, res.stderr[-400:])


class RunDoesNotCrash(unittest.TestCase):
    """ntkit.run crashed the interpreter (heap corruption, SIGSEGV/SIGABRT) on
    these sizes: the run's scratch was sized too small in the C library."""

    CASES = [
        "ds = ntkit.make_dataset(n=30, n_test=5, d=20, seed=0)\n"
        "r = ntkit.run(ds['X_train'], ds['y_train'], ds['X_test'], ds['y_test'], steps=20)\n",
        "ds = ntkit.make_dataset(n=100, n_test=10, d=100, seed=0)\n"
        "r = ntkit.run(ds['X_train'], ds['y_train'], ds['X_test'], ds['y_test'], width=16, steps=5)\n",
        "rng = np.random.default_rng(0)\n"
        "r = ntkit.run(rng.standard_normal((5, 3)), np.ones(5), width=8, steps=3)\n",
    ]

    def test_reported_sizes_run_to_the_end(self):
        check = ("assert all(np.all(np.isfinite(v)) for v in r['predictions']['nn'] if v is not None)\n"
                 "assert np.isfinite(r['metrics']['nn_train_loss'][-1])\n"
                 "print('ok', len(r['metrics']['step']))\n")
        for code in self.CASES:
            with self.subTest(code.splitlines()[-1]):
                res = run_python(code + check)
                self.assertEqual(res.returncode, 0, describe(res))
                self.assertTrue(res.stdout.startswith("ok"), res.stdout)


class Shapes(unittest.TestCase):
    def test_empty_arrays_name_the_argument(self):
        net = ntkit.Network(3, 4)
        X, y = data(5, 3)
        cases = [
            ("X has 0 rows", lambda: net(np.zeros((0, 3)))),
            ("X has 0 rows", lambda: ntkit.ntk_inf(np.zeros((0, 3)))),   # was an empty result
            ("X has 0 columns", lambda: ntkit.ntk_inf(np.zeros((4, 0)))),
            ("X2 has 0 rows", lambda: ntkit.ntk(net, X, np.zeros((0, 3)))),
            ("X has 0 columns", lambda: ntkit.lin_kernel(np.zeros((4, 0)))),
            ("K has 0 rows", lambda: ntkit.eigh(np.zeros((0, 0)))),
            ("K_train has 0 rows", lambda: ntkit.gradient_descent_mse(np.zeros((0, 0)), [])),
            ("K_test_train has 0 rows",
             lambda: ntkit.gradient_descent_mse(np.eye(5), y)(1, None, None, np.zeros((0, 5)))),
            ("X has 0 rows", lambda: ntkit.run(np.zeros((0, 3)), np.zeros(0), width=8)),
            ("X_test has 0 rows", lambda: net.train(X, y, 1, 1, 1, X_test=X[:0], y_test=y[:0])),
            ("K_test_train has 0 columns", lambda: ntkit.kernel_ridge_predict(np.ones((2, 0)), [])),
            ("coef is empty", lambda: _arrays.vector([], "coef")),
        ]
        for msg, call in cases:
            with self.subTest(msg):
                with self.assertRaisesRegex(ValueError, "^" + msg):
                    call()

    def test_masked_arrays_refused(self):
        X = np.ma.masked_array(np.ones((3, 4)), mask=np.eye(3, 4, dtype=bool))
        with self.assertRaisesRegex(ValueError, "X is a masked array.*filled"):
            ntkit.ntk_inf(X)

    def test_conversions_give_the_same_numbers(self):
        X, _ = data(6, 4)
        ref = ntkit.ntk_inf(X)
        for other in (np.asfortranarray(X),
                      np.repeat(X, 2, axis=1)[:, ::2], X.astype(">f8"), X.tolist()):
            np.testing.assert_array_equal(ntkit.ntk_inf(other), ref)
        Xr = X.copy()
        Xr.flags.writeable = False
        np.testing.assert_array_equal(ntkit.ntk_inf(Xr), ref)

    def test_one_sided_test_data(self):
        X, y = data(5, 3)
        with self.assertRaisesRegex(ValueError, "pass both X_test and y_test"):
            ntkit.Network(3, 4).train(X, y, 1, 1, 1, X_test=X)


class RunSafety(unittest.TestCase):
    def setUp(self):
        self.X, self.y = data(30, 5, seed=3)

    def test_infinite_time_refused_not_a_hang(self):
        with ntkit.Run(self.X, self.y, width=16, models="nn") as r:
            for bad in (np.inf, np.nan, -1, 2.5):
                with self.subTest(t=bad):
                    with self.assertRaisesRegex(ValueError, r"^t \(a whole number of GD steps\)"):
                        r.advance(bad)
            r.advance(np.int64(2))
            self.assertEqual(r.time, 2.0)
        with ntkit.Run(self.X, self.y, width=16, models="nn", flow=True) as r:
            for bad in (np.inf, np.nan):
                with self.assertRaisesRegex(ValueError, "^t must be a finite number"):
                    r.advance(bad)
            with self.assertRaisesRegex(ValueError, "^t must be >= 0"):
                r.advance(-0.5)
            r.advance(0.25)
            self.assertEqual(r.time, 0.25)
        with self.assertRaisesRegex(ValueError, r"^times must not decrease \(times\[2\] = 1 after 5\)"):
            ntkit.run(self.X, self.y, width=16, models="nn", times=[0, 5, 1])
        with self.assertRaisesRegex(ValueError, "^times must be a non-empty 1-d sequence"):
            ntkit.run(self.X, self.y, width=16, models="nn", times=[])

    def test_run_keeps_its_own_copy_of_the_data(self):
        X, y = self.X.copy(), self.y.copy()
        ref = ntkit.run(self.X, self.y, width=16, steps=3, models="nn,ntk")
        with ntkit.Run(X, y, width=16, models="nn,ntk") as r:
            X[:] = 0.0   # the caller reuses its buffers while the run is alive
            y[:] = 5.0
            r.advance(3)
            f_nn, f_ntk = r.predictions("nn")[0], r.predictions("ntk")[0]
        np.testing.assert_array_equal(f_nn, ref["predictions"]["nn"][0])
        np.testing.assert_array_equal(f_ntk, ref["predictions"]["ntk"][0])

    def test_kernel_gd_times(self):
        p = ntkit.gradient_descent_mse(np.eye(3), np.ones(3))
        for bad in (np.nan, np.inf, -1, [1, np.nan]):
            with self.subTest(t=bad):
                with self.assertRaisesRegex(ValueError, "^t must be finite and >= 0"):
                    p(bad)
        with self.assertRaisesRegex(ValueError, "^t must be a time"):
            p("1")
        self.assertEqual(p(np.zeros((2, 0))).shape, (2, 0, 3))


CTRL_C_CHILD = r"""
import json, sys
rng = np.random.default_rng(0)
X = rng.standard_normal((30, 5))
flow = sys.argv[1] == "flow"
r = ntkit.Run(X, X[:, 0], width=32, flow=flow, models="nn")
r.advance(0.5 if flow else 3)
before = (r.time, r.metrics()["nn_train_loss"])
print("ready", flush=True)
try:
    r.advance(1e300 if flow else 2 ** 53)   # hours: only Ctrl-C ends it
except KeyboardInterrupt:
    after = (r.time, r.metrics()["nn_train_loss"])
    r.close()
    print(json.dumps([before, after]), flush=True)
    sys.exit(3)
"""

# Network.train and ntkit.run hand the whole schedule to the library's driver: Ctrl-C
# stops it within one step; the network keeps the weights of the step reached.
CTRL_C_DRIVER_CHILD = r"""
import json, signal, sys
rng = np.random.default_rng(0)
X = rng.standard_normal((30, 5))
huge = dict(steps=2 ** 53, log_every=2 ** 50)   # hours: only Ctrl-C ends it
if sys.argv[1] == "train":
    net = ntkit.Network(5, 32)
    print("ready", flush=True)
    try:
        net.train(X, X[:, 0], 0.1, 0.1, **huge)
    except KeyboardInterrupt:
        W = net.W
        moved, finite = bool(np.any(W != net.W0)), bool(np.all(np.isfinite(W)))
        h = net.train(X, X[:, 0], 0.1, 0.1, steps=2)   # still usable
        print(json.dumps([moved, finite, len(h["step"])]), flush=True)
        sys.exit(3)
else:
    # 1500 points: the theory's spectra at t = 0 take a while, so that both Ctrl-Cs of
    # the second case come while the library is at work
    X = rng.standard_normal((1500, 5))
    print("ready", flush=True)
    try:
        ntkit.run(X, X[:, 0], width=32, models="nn", **huge)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a late second Ctrl-C: not this test's
        print(json.dumps([True, True, 0]), flush=True)
        sys.exit(3)
"""


# Conjugate gradients on a matrix-free kernel operator: a solve that would take hours
# (rtol below the rounding floor, a huge iteration limit) stops at Ctrl-C, and the
# operator stays usable.
CTRL_C_CG_CHILD = r"""
import json, sys
rng = np.random.default_rng(0)
X = rng.standard_normal((3000, 5))
op = ntkit.KernelOperator(X, "ntk-inf", mode="matrix-free")
print("ready", flush=True)
try:
    op.solve(X[:, 0], 0.0, rtol=1e-15, max_iter=10 ** 9, precond_rank=0)
except KeyboardInterrupt:
    a = op.solve(X[:, 1], 1.0, rtol=1e-6, precond_rank=0)   # still usable
    print(json.dumps([bool(np.all(np.isfinite(a))), op.info["residual"] <= 1e-6, 0]), flush=True)
    sys.exit(3)
"""


class CtrlC(unittest.TestCase):
    """Ctrl-C stops a long Run.advance (the C call used to ignore it until it returned)
    and leaves the run usable: flow goes back to where the call started, GD stops at
    the step reached. The same holds for Network.train and ntkit.run, whose schedule
    the library's driver runs; a second Ctrl-C only makes it skip its final
    computations, and the call still returns only after the library has stopped."""

    def interrupt(self, mode, child=CTRL_C_CHILD, signals=1):
        env = dict(os.environ, PYTHONPATH=PYDIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.Popen([sys.executable, "-c", "import ntkit, numpy as np\n" + child, mode],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            self.assertEqual(p.stdout.readline().strip(), "ready")
            time.sleep(0.5)
            for _ in range(signals):
                p.send_signal(signal.SIGINT)
                time.sleep(0.01)
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 3, "exit %d: %s" % (p.returncode, err[-600:]))
        return json.loads(out.strip().splitlines()[-1])

    def test_flow_goes_back(self):
        for _ in range(2):
            before, after = self.interrupt("flow")
            self.assertEqual(before, after)

    def test_gd_stops_at_a_step(self):
        before, after = self.interrupt("gd")
        self.assertGreater(after[0], before[0])
        self.assertEqual(after[0], int(after[0]))
        self.assertTrue(np.isfinite(after[1]))

    def test_train_stops_and_keeps_the_weights_reached(self):
        moved, finite, rows = self.interrupt("train", CTRL_C_DRIVER_CHILD)
        self.assertTrue(moved)
        self.assertTrue(finite)
        self.assertEqual(rows, 3)

    def test_conjugate_gradients_stop(self):
        finite, converged, _ = self.interrupt("cg", CTRL_C_CG_CHILD)
        self.assertTrue(finite)
        self.assertTrue(converged)

    def test_run_stops(self):
        for signals in (1, 2):
            with self.subTest(signals=signals):
                self.interrupt("run", CTRL_C_DRIVER_CHILD, signals)


class KernelGDInputs(unittest.TestCase):
    def test_changed_kernel_is_refused_not_mixed(self):
        rng = np.random.default_rng(0)
        A = rng.standard_normal((6, 6))
        K, y = A @ A.T + np.eye(6), rng.standard_normal(6)
        p = ntkit.gradient_descent_mse(K, y, lr=0.1)
        u = p(3)
        K *= 2.0   # in place, after the predictor was made
        np.testing.assert_array_equal(p(3), u)   # the object built from the original K
        with self.assertRaisesRegex(ValueError, "K_train or y_train was changed in place"):
            p(3, np.ones(6))   # a rebuild would read the changed K
        q = ntkit.gradient_descent_mse(K, y, lr=0.1)
        y[0] += 1.0
        with self.assertRaisesRegex(ValueError, "changed in place"):
            q(1)


class Memory(unittest.TestCase):
    def test_huge_results_refused_before_allocation(self):
        with self.assertRaisesRegex(MemoryError, r"the kernel matrix K \(1099511627776 x 1099511627776 "
                                                 r"doubles\) needs about"):
            _arrays.empty((2 ** 40, 2 ** 40), "the kernel matrix K")
        with self.assertRaisesRegex(MemoryError, "needs about inf GiB"):   # the count overflows
            _arrays.empty((2 ** 62, 2 ** 62), "the kernel matrix K")
        self.assertEqual(_arrays.empty((3, 2), "K").shape, (3, 2))

    def test_huge_logs_refused_before_running(self):
        X, y = data(10, 3)
        with self.assertRaisesRegex(MemoryError, "the log of 100000000000002 points .*raise log_every"):
            ntkit.run(X, y, width=8, steps=10 ** 15, models="nn")
        with self.assertRaisesRegex(MemoryError, "raise log_every"):
            ntkit.run(X, y, width=8, steps=1e300, log_every=1e-300, flow=True, models="nn")
        with self.assertRaisesRegex(MemoryError, r"the training log \(500000000000002 x 6 doubles\)"):
            ntkit.Network(3, 4).train(X, y, 0.1, 0.1, steps=10 ** 15, log_every=2)
        with self.assertRaisesRegex(ValueError, "^d must be an integer"):
            ntkit.run(X, y, d="3", width=8, steps=1)

    def test_huge_networks_refused(self):
        # m·d overflows size_t / 8 TiB of weights: refused by the library before allocating
        # (MemoryError, or ValueError where the count exceeds what the BLAS can index)
        for d, m in ((2 ** 33, 2 ** 33), (2 ** 20, 2 ** 20)):
            with self.assertRaises((MemoryError, ValueError)) as cm:
                ntkit.Network(d, m)
            self.assertTrue(str(cm.exception))


if __name__ == "__main__":
    unittest.main()
