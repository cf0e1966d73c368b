"""Kernels against explicit Jacobians, closed forms and known constants."""
import unittest

import numpy as np

from helpers import data, jacobian, ntkit, relu_inf


class EmpiricalNTK(unittest.TestCase):
    def check_jacobian(self, act, alpha=1.0, scale="sqrt_d", init="gaussian"):
        X, _ = data(13, 5, seed=4)
        X2, _ = data(7, 5, seed=5)
        net = ntkit.Network(5, 24, act=act, alpha=alpha, input_scale=scale, init=init, seed=7)
        net.W = net.W0 + 0.05 * np.arange(24 * 5).reshape(24, 5) / 120   # away from θ0
        JW, Jv = jacobian(net.W, net.v, X, act, alpha, scale)
        JW2, Jv2 = jacobian(net.W, net.v, X2, act, alpha, scale)
        cases = {"first": (JW @ JW.T, JW @ JW2.T), "second": (Jv @ Jv.T, Jv @ Jv2.T)}
        cases["both"] = tuple(a + b for a, b in zip(cases["first"], cases["second"]))
        for layer, (K, K12) in cases.items():
            msg = "%s %s" % (act, layer)
            np.testing.assert_allclose(ntkit.ntk(net, X, layer=layer), K, rtol=0, atol=1e-12, err_msg=msg)
            np.testing.assert_allclose(ntkit.ntk(net, X, X2, layer=layer), K12, rtol=0, atol=1e-12,
                                       err_msg=msg)
        K = ntkit.ntk(net, X, layer=(0.3, 2.0))
        np.testing.assert_allclose(K, 0.3 * cases["first"][0] + 2.0 * cases["second"][0], atol=1e-12)
        np.testing.assert_array_equal(ntkit.nngp(net, X, X2), ntkit.ntk(net, X, X2, layer="second"))
        # diagonal=True: K(x_i, x_i) = ‖J_i‖² per layer, against the explicit Jacobian's rows
        for layer, (K, _) in cases.items():
            np.testing.assert_allclose(ntkit.ntk(net, X, layer=layer, diagonal=True), np.diag(K),
                                       rtol=0, atol=1e-12, err_msg=act + " diagonal " + layer)

    def test_relu(self):
        self.check_jacobian("relu")

    def test_tanh_scaled(self):
        self.check_jacobian("tanh", alpha=2.0, scale="one")

    def test_erf_symmetric(self):
        self.check_jacobian("erf", init="symmetric")

    def test_memory_limit(self):
        X, _ = data(60, 5)
        with self.assertRaises(MemoryError) as cm:
            ntkit.ntk(ntkit.Network(5, 64), X, mem_limit=1024)
        self.assertIn("mem_limit", str(cm.exception))

    def test_small_mem_limit_gives_same_kernel(self):
        X, _ = data(300, 5)
        net = ntkit.Network(5, 64)
        np.testing.assert_allclose(ntkit.ntk(net, X, mem_limit=256 * 1024), ntkit.ntk(net, X),
                                   rtol=1e-13, atol=1e-14)


class Messages(unittest.TestCase):
    def test_library_messages_name_the_python_arguments(self):
        # the library calls the point sets X1, X2; the caller passed X and X2
        X, _ = data(4, 3)
        big = 1e160 * np.ones((2, 3))   # finite, but ‖x‖²/s² overflows
        net = ntkit.Network(3, 8)
        for call, name in ((lambda: ntkit.ntk(net, big), "X"), (lambda: ntkit.ntk(net, X, big), "X2"),
                           (lambda: ntkit.ntk_inf(big), "X"), (lambda: ntkit.ntk_inf(X, big), "X2")):
            with self.assertRaises(ntkit.NonFiniteError) as cm:
                call()
            self.assertRegex(str(cm.exception), "^%s: row 0 " % name)
            self.assertNotIn("X1", str(cm.exception))


class InfiniteWidth(unittest.TestCase):
    def test_relu_closed_form(self):
        X, _ = data(11, 6, seed=1)
        X2, _ = data(5, 6, seed=2)
        for alpha, scale, s in ((1.0, "sqrt_d", None), (1.7, "one", 1.0)):
            T1, T2 = relu_inf(X, X, alpha, s)
            C1, C2 = relu_inf(X, X2, alpha, s)
            kw = dict(alpha=alpha, input_scale=scale)
            np.testing.assert_allclose(ntkit.ntk_inf(X, **kw), T1 + T2, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ntkit.ntk_inf(X, layer="first", **kw), T1, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ntkit.nngp_inf(X, **kw), T2, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ntkit.ntk_inf(X, X2, **kw), C1 + C2, rtol=1e-12, atol=1e-12)

    def test_erf_nngp_closed_form(self):
        X, _ = data(6, 3, seed=3)
        q = np.sum(X * X, axis=1) / 3
        c = X @ X.T / 3
        ref = 2 / np.pi * np.arcsin(2 * c / np.sqrt(np.outer(1 + 2 * q, 1 + 2 * q)))
        np.testing.assert_allclose(ntkit.nngp_inf(X, act="erf"), ref, rtol=1e-12, atol=1e-13)

    def test_wide_network_approaches_infinite_width(self):
        X, _ = data(8, 4, seed=6)
        K = ntkit.ntk(ntkit.Network(4, 40000, seed=1), X)
        Kinf = ntkit.ntk_inf(X)
        self.assertLess(np.abs(K - Kinf).max() / np.abs(Kinf).max(), 0.05)
        self.assertLess(ntkit.normalized_distance(Kinf, K), 0.2)

    def test_quadrature_order_is_used(self):
        X, _ = data(5, 3)
        err = [np.abs(ntkit.ntk_inf(X, act="tanh", quad_order=q) - ntkit.ntk_inf(X, act="tanh",
                                                                                  quad_order=160)).max()
               for q in (8, 32, 96)]
        self.assertGreater(err[0], err[1])
        self.assertGreater(err[1], err[2])
        self.assertLess(err[2], 1e-3)


class LinearModels(unittest.TestCase):
    def test_relu_constants(self):
        c = ntkit.constants("relu")
        self.assertAlmostEqual(c["zeta"], 0.5, places=14)
        self.assertAlmostEqual(c["theta0"], 1 / np.sqrt(2 * np.pi), places=14)
        self.assertAlmostEqual(c["nu"], 1 / np.sqrt(2 * np.pi), places=14)
        self.assertAlmostEqual(c["theta2"], 0.0, places=14)
        self.assertAlmostEqual(ntkit.constants("relu", trace_factor=2.0)["nu"], 2 / np.sqrt(2 * np.pi),
                               places=14)
        e = ntkit.constants("erf")
        self.assertAlmostEqual(e["zeta"], 2 / np.sqrt(3 * np.pi), places=12)
        self.assertAlmostEqual(e["nu"], 0.0, places=12)
        self.assertAlmostEqual(ntkit.constants("leaky_relu", act_param=0.2)["zeta"], 0.6, places=12)

    def test_lin_kernel_first_layer(self):
        X, _ = data(9, 4)
        X2, _ = data(3, 4, seed=9)
        c = ntkit.constants("relu")
        ref = (c["zeta"] ** 2 * X @ X.T + c["nu"] ** 2) / 4
        np.testing.assert_allclose(ntkit.lin_kernel(X, layer="first", trace_factor=1.0), ref,
                                   rtol=1e-13, atol=1e-14)
        ref2 = (c["zeta"] ** 2 * X @ X2.T + c["nu"] ** 2) / 4
        np.testing.assert_allclose(ntkit.lin_kernel(X, X2, layer="first", trace_factor=1.0), ref2,
                                   rtol=1e-13, atol=1e-14)

    def test_lin_kernel_is_feature_gram(self):
        X, _ = data(9, 4)
        for act in ("relu", "tanh"):
            P1 = ntkit.lin_features(X, "first", act=act, alpha=1.3)
            P2 = ntkit.lin_features(X, "second", act=act, alpha=1.3)
            self.assertEqual(P1.shape, (9, 5))
            self.assertEqual(P2.shape, (9, 6))
            np.testing.assert_allclose(ntkit.lin_kernel(X, act=act, alpha=1.3), P1 @ P1.T + P2 @ P2.T,
                                       rtol=1e-12, atol=1e-13)
            tf = ntkit.estimate_trace_factor(X)
            np.testing.assert_allclose(ntkit.lin_kernel(X, act=act, trace_factor=tf),
                                       ntkit.lin_kernel(X, act=act), rtol=1e-14)


class Diagonals(unittest.TestCase):
    """diagonal=True against the diagonal of the full kernel (same entries by another
    path: equal to a few ulps of the largest entry)."""

    def test_every_source(self):
        X, _ = data(17, 6, seed=9)
        net = ntkit.Network(6, 40, act="gelu", seed=2)
        cases = {
            "ntk": (lambda **k: ntkit.ntk(net, X, **k)), "nngp": (lambda **k: ntkit.nngp(net, X, **k)),
            "ntk_inf": (lambda **k: ntkit.ntk_inf(X, act="tanh", layer=(0.5, 2.0), **k)),
            "nngp_inf": (lambda **k: ntkit.nngp_inf(X, act="relu", **k)),
            "lin_kernel": (lambda **k: ntkit.lin_kernel(X, trace_factor=1.0, **k)),
        }
        for name, fn in cases.items():
            full, diag = fn(), fn(diagonal=True)
            self.assertEqual(diag.shape, (17,), name)
            np.testing.assert_allclose(diag, np.diag(full), rtol=0, atol=1e-13 * np.abs(full).max(),
                                       err_msg=name)
        with self.assertRaisesRegex(ValueError, "diagonal=True .*X2=None"):
            ntkit.ntk(net, X, X, diagonal=True)
        with self.assertRaisesRegex(ValueError, "diagonal must be True or False"):
            ntkit.ntk_inf(X, diagonal="yes")


if __name__ == "__main__":
    unittest.main()
