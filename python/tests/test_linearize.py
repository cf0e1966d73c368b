"""The linearized network against an explicit Jacobian and explicit parameter-space
GD; predictions of a run on any inputs; predictions recorded during training."""
import unittest

import numpy as np

from helpers import data, forward, jacobian, ntkit

D, M = 5, 48


def taylor(W_lin, v_lin, X, W, v, act, **kw):
    """f(x; θ*) + J(θ*)(θ − θ*) with the explicit Jacobian of helpers."""
    JW, Jv = jacobian(W_lin, v_lin, X, act, **kw)
    return forward(W_lin, v_lin, X, act, **kw) + JW @ (W - W_lin).ravel() + Jv @ (v - v_lin)


class Linearize(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.X, cls.y, cls.Xt, cls.yt = data(26, D, seed=6, nt=9)

    def test_matches_explicit_jacobian(self):
        rng = np.random.default_rng(2)
        for act, kw in (("relu", {}), ("tanh", {"alpha": 2.0, "input_scale": "one"}),
                        ("erf", {})):
            net = ntkit.Network(D, M, act=act, seed=4, **kw)
            net.W = net.W0 + 0.1 * rng.standard_normal((M, D))   # expand away from θ0
            lin = ntkit.linearize(net)
            W = net.W + 0.2 * rng.standard_normal((M, D))
            v = net.v + 0.2 * rng.standard_normal(M)
            ref = taylor(net.W, net.v, self.Xt, W, v, act, **kw)
            # the same sums of products in another order: rounding of a few ulps of the terms
            np.testing.assert_allclose(lin(self.Xt, W, v), ref, rtol=0, atol=1e-13, err_msg=act)
            np.testing.assert_allclose(lin(self.Xt), net(self.Xt), rtol=0, atol=1e-14)
            # a first-order model: its error against the network is second order in Δθ
            net2 = ntkit.Network(D, M, act=act, seed=4, W0=W, v0=v, **kw)
            gap = np.abs(lin(self.Xt, W, v) - net2(self.Xt)).max()
            self.assertGreater(gap, 1e-6)      # not the network itself
            self.assertLess(gap, 0.5)

    def test_centred_network(self):
        net = ntkit.Network(D, M, seed=1, centered=True)
        lin = ntkit.linearize(net)
        np.testing.assert_allclose(lin(self.Xt), np.zeros(9), atol=1e-15)   # f(θ0) − f(θ0)
        W = net.W0 + 0.05
        ref = taylor(net.W0, net.v0, self.Xt, W, net.v0, "relu") - forward(net.W0, net.v0, self.Xt)
        np.testing.assert_allclose(lin(self.Xt, W), ref, rtol=0, atol=1e-13)

    def explicit_gd(self, net, lr1, lr2, steps, c):
        """Parameter-space GD of the Taylor model, θ ← θ − c·D·Jᵀ(f_lin − y), in numpy."""
        JW, Jv = jacobian(net.W, net.v, self.X)
        f0 = forward(net.W, net.v, self.X)
        dW, dv = np.zeros(M * D), np.zeros(M)
        for _ in range(steps):
            r = f0 + JW @ dW + Jv @ dv - self.y
            dW, dv = dW - c * lr1 * JW.T @ r, dv - c * lr2 * Jv.T @ r
        return net.W + dW.reshape(M, D), net.v + dv

    def test_training_is_parameter_space_gd(self):
        net = ntkit.Network(D, M, seed=3)
        lin = ntkit.linearize(net)
        h = lin.train(self.X, self.y, 0.9, 0.6, steps=30, log_every=10, X_test=self.Xt,
                      y_test=self.yt)
        W, v = self.explicit_gd(net, 0.9, 0.6, 30, 1 / 26)
        # closed form vs 30 explicit steps with ‖cK‖ < 1: both within ~1e-14 of the scale
        np.testing.assert_allclose(lin.W, W, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lin.v, v, rtol=0, atol=1e-12)
        ref = taylor(net.W, net.v, self.X, W, v, "relu")
        self.assertAlmostEqual(h["train_loss"][-1], np.mean((ref - self.y) ** 2) / 2, delta=1e-13)
        np.testing.assert_array_equal(h["step"], [0, 10, 20, 30])
        self.assertEqual(h["test_loss"].shape, (4,))
        # continued training starts from the weights reached (the dynamics compose)
        lin.train(self.X, self.y, 0.9, 0.6, steps=15)
        W2, v2 = self.explicit_gd(net, 0.9, 0.6, 45, 1 / 26)
        np.testing.assert_allclose(lin.W, W2, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lin.v, v2, rtol=0, atol=1e-12)
        self.assertIsNone(np.testing.assert_array_equal(net.W, net.W0))   # the net is untouched

    def test_gradient_flow(self):
        # parameter-space flow dθ/dt = −c D Jᵀ(f_lin − y), solved through the symmetric
        # S = c D^½ JᵀJ D^½ (p × p, independent of the n × n kernel the library uses)
        net = ntkit.Network(D, M, seed=5)
        lin = ntkit.linearize(net)
        lr1, lr2, T, c = 0.5, 2.0, 7.5, 1 / 26
        lin.train(self.X, self.y, lr1, lr2, steps=T, flow=True)
        JW, Jv = jacobian(net.W, net.v, self.X)
        J = np.hstack([JW, Jv])
        d = np.concatenate([np.full(M * D, lr1), np.full(M, lr2)])
        S = c * np.sqrt(d)[:, None] * (J.T @ J) * np.sqrt(d)[None, :]
        lam, Q = np.linalg.eigh(S)
        lam = np.maximum(lam, 0)
        phi = np.where(lam > 1e-12 * lam[-1], -np.expm1(-lam * T) / np.where(lam > 0, lam, 1), T)
        r0 = self.y - forward(net.W, net.v, self.X)
        dtheta = np.sqrt(d) * (Q @ (phi * (Q.T @ (np.sqrt(d) * (c * J.T @ r0)))))
        # cond of the kept modes ~1e3: agreement to ~1e-12 of the scale
        np.testing.assert_allclose(lin.W, net.W + dtheta[:M * D].reshape(M, D), rtol=0, atol=1e-11)
        np.testing.assert_allclose(lin.v, net.v + dtheta[M * D:], rtol=0, atol=1e-11)

    def test_run_model_agrees(self):
        # the run's linearized model (trained step by step in C) on new inputs
        lin = ntkit.linearize(ntkit.Network(D, M, act="tanh", seed=8))
        lin.train(self.X, self.y, 0.7, 0.4, steps=12)
        with ntkit.Run(self.X, self.y, width=M, act="tanh", seed=8, lr1=0.7, lr2=0.4,
                       models="nn,linearized") as r:
            r.advance(12)
            np.testing.assert_allclose(r.predict(self.Xt, "linearized"), lin(self.Xt), rtol=0,
                                       atol=1e-12)
            with self.assertRaisesRegex(ValueError, "model 3 is not part of this run"):
                r.predict(self.Xt, "ntk")
            with self.assertRaisesRegex(ValueError, "X has 4 columns, expected 5"):
                r.predict(self.Xt[:, :4])

    def test_errors(self):
        lin = ntkit.linearize(ntkit.Network(D, M))
        with self.assertRaisesRegex(ValueError, "W has 4 columns"):
            lin(self.Xt, np.zeros((M, 4)))
        with self.assertRaisesRegex(ValueError, "not both 0"):
            lin.train(self.X, self.y, 0, 0, 3)
        with self.assertRaisesRegex(ValueError, "whole number"):
            lin.train(self.X, self.y, 1, 1, 2.5)
        with self.assertRaisesRegex(ValueError, "unstable.*allow_unstable=True"):
            lin.train(self.X, self.y, 500.0, 500.0, 3)
        with self.assertRaises(TypeError):
            ntkit.linearize("net")


class PredictionsAnywhere(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.X, cls.y, cls.Xt, cls.yt = data(24, D, seed=2, nt=7)
        cls.Xr = data(5, D, seed=9)[0]

    def test_network_records_at_logged_steps(self):
        net = ntkit.Network(D, M, seed=1)
        h = net.train(self.X, self.y, 0.8, 0.8, steps=10, log_every=4, record=self.Xr)
        self.assertEqual(h["f"].shape, (4, 5))
        for row, k in enumerate(h["step"]):
            # the same steps again on a fresh network: the same doubles
            fresh = ntkit.Network(D, M, seed=1)
            fresh.train(self.X, self.y, 0.8, 0.8, steps=int(k))
            np.testing.assert_array_equal(h["f"][row], fresh(self.Xr))

    def test_centred_network_records_its_own_outputs(self):
        net = ntkit.Network(D, M, seed=1, centered=True)
        net.train(self.X, self.y, 0.8, 0.8, steps=3)            # moved: the shifted path
        h = net.train(self.X, self.y, 0.8, 0.8, steps=2, record=self.Xr)
        np.testing.assert_allclose(h["f"][-1], net(self.Xr), rtol=0, atol=1e-15)

    def test_run_records_every_model(self):
        res = ntkit.run(self.X, self.y, self.Xt, self.yt, width=M, seed=3, steps=8, log_every=4,
                        record=self.Xt)
        for m in res["models"]:
            rec = res["recorded"][m]
            self.assertEqual(rec.shape, (3, 7), m)
            # predict_at on X_test vs the run's own test predictions: another path (the
            # linearized model's f0 + JΔθ summed in another order), equal to a few ulps
            np.testing.assert_allclose(rec[-1], res["predictions"][m][1], rtol=0, atol=1e-14,
                                       err_msg=m)
        short = ntkit.run(self.X, self.y, self.Xt, self.yt, width=M, seed=3, steps=4,
                          log_every=4)
        for m in res["models"]:
            np.testing.assert_allclose(res["recorded"][m][1], short["predictions"][m][1],
                                       rtol=0, atol=1e-14, err_msg=m)


if __name__ == "__main__":
    unittest.main()
