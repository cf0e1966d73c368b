"""Non-finite results: no public function returns NaN/Inf silently.

Inputs of norm 1e160 are finite, but squared norms (1e320) overflow double
precision, so every kernel of them overflows. The library answers with
NTK_ERR_NONFINITE and its message, and the package checks each result as
well; either way the caller gets a NonFiniteError (a ValueError and a
FloatingPointError), never an array holding Inf or NaN.
"""
import unittest

import numpy as np

from helpers import data, ntkit
from ntkit import _arrays, _lib

BIG = 1e160


def assert_raises_nonfinite(test, call, what):
    with test.assertRaises(ValueError) as cm:
        out = call()
        test.fail("%s returned %r" % (what, out))   # not reached when it raises
    exc = cm.exception
    test.assertIsInstance(exc, ntkit.NonFiniteError, "%s: %r" % (what, exc))
    test.assertIsInstance(exc, FloatingPointError)
    test.assertEqual(exc.status, "NTK_ERR_NONFINITE", what)
    test.assertTrue(str(exc).strip(), what)
    return exc


class HugeInputs(unittest.TestCase):
    def setUp(self):
        self.X = BIG * np.ones((4, 3))
        self.net = ntkit.Network(3, 16, seed=1)

    def test_kernels_of_huge_inputs_raise(self):
        X, net = self.X, self.net
        for what, call in (
                ("ntk", lambda: ntkit.ntk(net, X)),
                ("ntk cross", lambda: ntkit.ntk(net, X, X[:2])),
                ("nngp", lambda: ntkit.nngp(net, X)),
                ("ntk_inf", lambda: ntkit.ntk_inf(X)),
                ("ntk_inf tanh", lambda: ntkit.ntk_inf(X, act="tanh")),
                ("nngp_inf", lambda: ntkit.nngp_inf(X)),
                ("nngp_inf erf", lambda: ntkit.nngp_inf(X, act="erf")),
                ("lin_kernel", lambda: ntkit.lin_kernel(X, trace_factor=1.0)),
                ("lin_kernel X2", lambda: ntkit.lin_kernel(X[:2], X, trace_factor=1.0))):
            with self.subTest(what):
                assert_raises_nonfinite(self, call, what)

    def test_losses_and_gradients_of_huge_inputs_raise(self):
        X, net = self.X, self.net
        y = np.ones(4)
        assert_raises_nonfinite(self, lambda: net.loss_grad(X, y), "loss_grad")
        Xs, ys = data(10, 3)
        # training on normal data, testing on huge data: the test loss overflows
        assert_raises_nonfinite(self, lambda: net.train(Xs, ys, 0.1, 0.1, 3, X_test=X, y_test=y),
                                "train test_loss")

    def test_message_names_the_cause(self):
        # the package's own check names the result, the count and the inputs' size
        with self.assertRaises(ntkit.NonFiniteError) as cm:
            _arrays.result(np.array([[1.0, np.inf], [np.nan, 2.0]]), "kernel K", X=self.X)
        msg = str(cm.exception)
        for part in ("kernel K", "2 of 4", "(0, 1)", "inf", "1e+160", "overflow", "rescale"):
            self.assertIn(part, msg)
        self.assertEqual(cm.exception.status, "NTK_ERR_NONFINITE")
        with self.assertRaisesRegex(ntkit.NonFiniteError, "trace: the result is nan"):
            _arrays.result(float("nan"), "trace")
        with self.assertRaisesRegex(ntkit.NonFiniteError, "constants: nu is inf"):
            _arrays.result_dict({"zeta": 1.0, "nu": float("inf")}, "constants")
        self.assertEqual(_arrays.result_dict({"cond": float("inf")}, "s", allow=("cond",)),
                         {"cond": float("inf")})

    def test_library_status_carries_its_message(self):
        # what the library reports with NTK_ERR_NONFINITE reaches the caller word for word
        _lib._cdll.ntk_set_error(_lib.NTK_ERR_NONFINITE, b"%s", b"kernel overflowed; rescale X")
        exc = _lib.error(_lib.NTK_ERR_NONFINITE)
        self.assertIsInstance(exc, ntkit.NonFiniteError)
        self.assertEqual(str(exc), "kernel overflowed; rescale X")
        self.assertEqual(exc.status, "NTK_ERR_NONFINITE")

    def test_ridge_predictions_overflow(self):
        K = np.full((2, 3), 1e200)
        assert_raises_nonfinite(self, lambda: ntkit.kernel_ridge_predict(K, np.full(3, 1e200)),
                                "kernel_ridge_predict")

    def test_moderate_inputs_still_pass(self):
        X, _ = data(6, 3)
        for scale in (1e-100, 1.0, 1e100):   # squared norms stay within double range
            K = ntkit.ntk_inf(scale * X)
            self.assertTrue(np.all(np.isfinite(K)))
            self.assertTrue(np.all(np.isfinite(ntkit.ntk(self.net, scale * X))))


class NonFiniteInputs(unittest.TestCase):
    """NaN/Inf in any input array is refused before the library runs, naming it."""

    def test_every_array_argument(self):
        net = ntkit.Network(3, 4)
        X, y = data(5, 3)
        K = np.eye(5)

        def bad(a, val=np.nan):
            a = np.array(a, dtype=float)
            a.flat[a.size // 2] = val
            return a

        cases = [
            ("X", lambda: net(bad(X))),
            ("X", lambda: ntkit.ntk(net, bad(X))),
            ("X2", lambda: ntkit.ntk(net, X, bad(X, np.inf))),
            ("X", lambda: ntkit.ntk_inf(bad(X))),
            ("X", lambda: ntkit.lin_features(bad(X))),
            ("X", lambda: ntkit.estimate_trace_factor(bad(X, -np.inf))),
            ("y", lambda: net.loss_grad(X, bad(y))),
            ("X_test", lambda: net.train(X, y, 1, 1, 1, X_test=bad(X), y_test=y)),
            ("K", lambda: ntkit.eigh(bad(K))),
            ("K", lambda: ntkit.spectrum_summary(bad(K))),
            ("B", lambda: ntkit.kernel_distance(K, bad(K))),
            ("KN", lambda: ntkit.normalized_distance(K, bad(K))),
            ("K_train", lambda: ntkit.gradient_descent_mse(bad(K), y)(1)),
            ("f0_train", lambda: ntkit.gradient_descent_mse(K, y)(1, bad(y))),
            ("K_test_train", lambda: ntkit.gradient_descent_mse(K, y)(1, y, None, bad(K))),
            ("y_train", lambda: ntkit.kernel_ridge(K, bad(y), 1.0)),
            ("coef", lambda: ntkit.kernel_ridge_predict(K, bad(y))),
            ("W0", lambda: ntkit.Network(3, 4, W0=bad(np.ones((4, 3))))),
            ("v", lambda: setattr(net, "v", bad(np.ones(4)))),
            ("y", lambda: ntkit.run(X, bad(y), width=8, steps=1, models="nn")),
        ]
        for name, call in cases:
            with self.subTest(name):
                with self.assertRaises(ntkit.NonFiniteError) as cm:
                    call()
                self.assertRegex(str(cm.exception), r"^%s contains (NaN|Inf) at flat index" % name)


if __name__ == "__main__":
    unittest.main()
