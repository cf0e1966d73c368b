"""Network: forward pass, weights, gradients and training against numpy."""
import unittest

import numpy as np

from helpers import data, forward, jacobian, ntkit


class NetworkForward(unittest.TestCase):
    def test_forward_matches_numpy(self):
        X, _ = data(12, 6)
        for act in ("relu", "tanh", "erf", "identity"):
            for alpha, scale in ((1.0, "sqrt_d"), (3.0, "one")):
                net = ntkit.Network(6, 40, act=act, alpha=alpha, input_scale=scale, seed=2)
                ref = forward(net.W, net.v, X, act, alpha, scale)
                np.testing.assert_allclose(net(X), ref, rtol=1e-12, atol=1e-13, err_msg=act)

    def test_centered_and_symmetric_start_at_zero(self):
        X, _ = data(10, 4)
        self.assertEqual(np.abs(ntkit.Network(4, 30, centered=True)(X)).max(), 0.0)
        np.testing.assert_allclose(ntkit.Network(4, 30, init="symmetric")(X), 0, atol=1e-14)

    def test_seed_determines_weights(self):
        a, b, c = ntkit.Network(3, 8, seed=5), ntkit.Network(3, 8, seed=5), ntkit.Network(3, 8, seed=6)
        np.testing.assert_array_equal(a.W0, b.W0)
        self.assertFalse(np.array_equal(a.W0, c.W0))
        np.testing.assert_array_equal(np.abs(ntkit.Network(3, 8, init="sign").v0), 1.0)

    def test_given_weights_and_setters(self):
        rng = np.random.default_rng(0)
        W0, v0 = rng.standard_normal((8, 3)), rng.standard_normal(8)
        net = ntkit.Network(3, 8, W0=W0, v0=v0)
        np.testing.assert_array_equal(net.W0, W0)
        np.testing.assert_array_equal(net.v, v0)
        net.W = 2 * W0
        net.v = np.asfortranarray(3 * v0)          # converted, not rejected
        np.testing.assert_array_equal(net.W, 2 * W0)
        np.testing.assert_array_equal(net.v, 3 * v0)
        np.testing.assert_array_equal(net.W0, W0)
        self.assertGreater(net.weight_dist()["w_fro"], 0)
        net.reset()
        np.testing.assert_array_equal(net.W, W0)
        self.assertEqual(net.weight_dist()["theta"], 0.0)

    def test_properties_are_copies(self):
        net = ntkit.Network(3, 4)
        W = net.W
        W[:] = 0
        self.assertTrue(np.any(net.W != 0))

    def test_close_is_idempotent(self):
        net = ntkit.Network(3, 4)
        net.close()
        net.close()
        with self.assertRaises(ValueError):
            net(np.zeros((1, 3)))
        with ntkit.Network(3, 4) as n2:
            self.assertEqual(n2(np.zeros((2, 3))).shape, (2,))
        self.assertIsNone(n2._h)


class NetworkGradients(unittest.TestCase):
    def test_loss_grad_matches_jacobian(self):
        X, y = data(15, 4, seed=1)
        for loss, c in (("mean", 1 / 15), ("sum", 1.0)):
            for centered in (False, True):
                net = ntkit.Network(4, 12, act="tanh", alpha=1.5, centered=centered, seed=3)
                net.W = net.W0 + 0.1          # move off θ0 so the centred output is non-zero
                g = net.loss_grad(X, y, loss)
                f = forward(net.W, net.v, X, "tanh", 1.5)
                if centered:
                    f = f - forward(net.W0, net.v0, X, "tanh", 1.5)
                np.testing.assert_allclose(g["f"], f, rtol=1e-12, atol=1e-13)
                r = f - y
                self.assertAlmostEqual(g["loss"], 0.5 * c * r @ r, places=13)
                JW, Jv = jacobian(net.W, net.v, X, "tanh", 1.5)
                np.testing.assert_allclose(g["grad_W"].ravel(), c * JW.T @ r, rtol=1e-11, atol=1e-13)
                np.testing.assert_allclose(g["grad_v"], c * Jv.T @ r, rtol=1e-11, atol=1e-13)

    def test_train_is_gradient_descent(self):
        X, y = data(20, 5, seed=2)
        net = ntkit.Network(5, 16, seed=1)
        ref = ntkit.Network(5, 16, seed=1)
        lr1, lr2 = 0.7, 0.3
        losses = []
        for _ in range(4):
            g = ref.loss_grad(X, y)
            losses.append(g["loss"])
            ref.set_weights(ref.W - lr1 * g["grad_W"], ref.v - lr2 * g["grad_v"])
        losses.append(ref.loss_grad(X, y)["loss"])
        h = net.train(X, y, lr1, lr2, steps=4)
        np.testing.assert_array_equal(h["step"], np.arange(5))
        np.testing.assert_allclose(h["train_loss"], losses, rtol=1e-13)
        np.testing.assert_allclose(net.W, ref.W, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(net.v, ref.v, rtol=1e-13, atol=1e-14)

    def test_train_logging_and_frozen_layer(self):
        X, y = data(20, 5)
        net = ntkit.Network(5, 16)
        h = net.train(X, y, 0.0, 0.5, steps=7, log_every=3)
        np.testing.assert_array_equal(h["step"], [0, 3, 6, 7])
        np.testing.assert_array_equal(h["w_dist_fro"], 0.0)
        np.testing.assert_array_equal(net.W, net.W0)
        self.assertLess(h["train_loss"][-1], h["train_loss"][0])
        h0 = ntkit.Network(5, 16).train(X, y, 1, 1, steps=0)
        self.assertEqual(list(h0["step"]), [0])

    def test_train_continues_from_the_current_weights(self):
        # two calls of 3 and 4 steps are one call of 7: the same states, so the same numbers
        # (distances from the network's θ0 in both), with the steps counted from each call
        X, y, Xt, yt = data(20, 5, seed=3, nt=6)
        one, two = ntkit.Network(5, 16, seed=2), ntkit.Network(5, 16, seed=2)
        h = one.train(X, y, 0.6, 0.4, steps=7, X_test=Xt, y_test=yt)
        two.train(X, y, 0.6, 0.4, steps=3, X_test=Xt, y_test=yt)
        h2 = two.train(X, y, 0.6, 0.4, steps=4, X_test=Xt, y_test=yt)
        np.testing.assert_array_equal(h2["step"], np.arange(5))
        for col in ("train_loss", "test_loss", "grad_norm", "w_dist_fro", "v_dist", "w_dist_max_row"):
            np.testing.assert_array_equal(h2[col], h[col][3:], err_msg=col)
        np.testing.assert_array_equal(two.W, one.W)
        np.testing.assert_array_equal(two.v, one.v)
        np.testing.assert_array_equal(two.W0, one.W0)

    def test_centered_training_continues_as_gradient_descent(self):
        # from moved weights the centred model trains as the plain one on y + f(X;θ0); the
        # oracle is gradient descent with loss_grad of the centred net. The residuals differ
        # by rounding, 2·eps·(|f| + |f0| + |y|) <= 1e-15 here (|f|, |y| about 1), which 4
        # stable steps grow by at most 2^4: below 1e-13 relative, checked at 1e-11.
        X, y = data(20, 5, seed=4)
        net = ntkit.Network(5, 16, act="tanh", centered=True, seed=5)
        ref = ntkit.Network(5, 16, act="tanh", centered=True, seed=5)
        net.W = ref.W = net.W0 + 0.1
        losses = []
        for _ in range(4):
            g = ref.loss_grad(X, y)
            losses.append(g["loss"])
            ref.set_weights(ref.W - 0.5 * g["grad_W"], ref.v - 0.3 * g["grad_v"])
        losses.append(ref.loss_grad(X, y)["loss"])
        h = net.train(X, y, 0.5, 0.3, steps=4)
        np.testing.assert_allclose(h["train_loss"], losses, rtol=1e-11)
        np.testing.assert_allclose(net.W, ref.W, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(net.v, ref.v, rtol=1e-11, atol=1e-13)
        # distances from θ0, not from where this call started: ‖(W0 + 0.1) − W0‖_F, each of the
        # 80 differences exact to an ulp of W0 (|W0| < 8): within 80·8·eps of the value
        self.assertAlmostEqual(h["w_dist_fro"][0], 0.1 * np.sqrt(80), delta=80 * 8 * 2.3e-16)
        np.testing.assert_allclose(net(X), ref(X), rtol=1e-11, atol=1e-13)
        self.assertTrue(net.config["centered"])

    def test_train_refuses_both_rates_zero(self):
        X, y = data(10, 3)
        with self.assertRaisesRegex(ValueError, "both rates"):
            ntkit.Network(3, 8).train(X, y, 0.0, 0.0, steps=3)

    def test_divergence_keeps_rows(self):
        X, y = data(10, 3)
        net = ntkit.Network(3, 8)
        with self.assertRaises(ntkit.DivergedError) as cm:
            net.train(X, 1e3 * y, 1e6, 1e6, steps=50)
        e = cm.exception
        self.assertIsInstance(e, RuntimeError)
        self.assertEqual(e.status, "NTK_ERR_DIVERGED")
        self.assertIn("diverged", str(e))
        self.assertGreaterEqual(len(e.partial["step"]), 1)
        self.assertTrue(np.all(np.isfinite(e.partial["train_loss"])))
        # the network keeps finite weights (the last it reached, or θ0)
        self.assertTrue(np.all(np.isfinite(net.W)) and np.all(np.isfinite(net.v)))


if __name__ == "__main__":
    unittest.main()
