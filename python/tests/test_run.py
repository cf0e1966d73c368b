"""Side-by-side runs against the pieces they are built from."""
import unittest

import numpy as np

from helpers import data, jacobian, ntkit

N, D, M = 30, 5, 64


class SideBySide(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.X, cls.y, cls.Xt, cls.yt = data(N, D, seed=1, nt=12)
        cls.kw = dict(width=M, seed=4, lr1=0.8, lr2=0.5, kernel_every=2)
        cls.res = ntkit.run(cls.X, cls.y, cls.Xt, cls.yt, steps=9, log_every=2, **cls.kw)

    def test_columns_and_schedule(self):
        r = self.res
        self.assertEqual(r["models"], list(ntkit.MODELS))
        self.assertEqual(r["columns"][0], "step")
        np.testing.assert_array_equal(r["metrics"]["step"], [0, 2, 4, 6, 8, 9])
        for m in ntkit.MODELS:
            self.assertIn(m + "_train_loss", r["metrics"])
        drift = r["metrics"]["ntk_drift"]
        self.assertEqual(drift[0], 0.0)
        self.assertTrue(np.isnan(drift[1]) and np.isnan(drift[3]))
        self.assertTrue(np.all(np.isfinite(drift[[0, 2, 4, 5]])))

    def test_nn_matches_network_train(self):
        net = ntkit.Network(D, M, seed=4)
        h = net.train(self.X, self.y, 0.8, 0.5, steps=9, log_every=2, X_test=self.Xt, y_test=self.yt)
        mt = self.res["metrics"]
        np.testing.assert_allclose(mt["nn_train_loss"], h["train_loss"], rtol=1e-13)
        np.testing.assert_allclose(mt["nn_test_loss"], h["test_loss"], rtol=1e-13)
        np.testing.assert_allclose(mt["w_dist_fro"], h["w_dist_fro"], rtol=1e-13, atol=1e-15)
        f, ft = self.res["predictions"]["nn"]
        np.testing.assert_allclose(f, net(self.X), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ft, net(self.Xt), rtol=1e-13, atol=1e-15)

    def check_kernel_model(self, name, K, Kt, flow=False, t=9):
        net0 = ntkit.Network(D, M, seed=4)
        f0, f0t = net0(self.X), net0(self.Xt)
        u, ut = ntkit.gradient_descent_mse(K, self.y, lr=1.0, flow=flow)(t, f0, f0t, Kt)
        f, ft = self.res["predictions"][name] if not flow else self.flow_res["predictions"][name]
        np.testing.assert_allclose(f, u, rtol=1e-9, atol=1e-11, err_msg=name)
        np.testing.assert_allclose(ft, ut, rtol=1e-9, atol=1e-11, err_msg=name)

    def test_ntk_model_is_kernel_gd(self):
        net0 = ntkit.Network(D, M, seed=4)
        w = (0.8, 0.5)
        self.check_kernel_model("ntk", ntkit.ntk(net0, self.X, layer=w), ntkit.ntk(net0, self.Xt, self.X, layer=w))
        self.check_kernel_model("ntk_inf", ntkit.ntk_inf(self.X, layer=w), ntkit.ntk_inf(self.Xt, self.X, layer=w))
        u = self.res["predictions"]["ntk"][0]
        self.assertAlmostEqual(self.res["metrics"]["ntk_train_loss"][-1], np.mean((u - self.y) ** 2) / 2,
                               places=13)

    def test_kernel_operator_modes(self):
        # the kernel models through a matrix-free or float32 operator: Lanczos through
        # products stops at an estimated 1e-10 of ‖y − u0‖, float32 storage rounds K to 2^-24
        # relative; both well inside 1e-6 of the predictions' scale
        base = ntkit.run(self.X, self.y, self.Xt, self.yt, steps=9, log_every=9,
                         models="nn,ntk,ntk_inf", **self.kw)
        for mode in ("matrix-free", "dense-f32"):
            res = ntkit.run(self.X, self.y, self.Xt, self.yt, steps=9, log_every=9,
                            models="nn,ntk,ntk_inf", kernel_operator=mode, **self.kw)
            for m in ("ntk", "ntk_inf"):
                for a, b in zip(res["predictions"][m], base["predictions"][m]):
                    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * np.abs(b).max(),
                                               err_msg=mode + " " + m)
        with self.assertRaisesRegex(ValueError, "matrix-free"):
            ntkit.run(self.X, self.y, steps=1, kernel_operator="sparse", **self.kw)

    def test_lin_model_is_kernel_gd_on_features(self):
        w = (0.8, 0.5)
        K = ntkit.lin_kernel(self.X, layer=w)
        Kt = ntkit.lin_kernel(self.Xt, self.X, layer=w, trace_factor=ntkit.estimate_trace_factor(self.X))
        self.check_kernel_model("lin", K, Kt)

    def test_linearized_first_step_is_taylor_model(self):
        X, y = self.X, self.y
        net = ntkit.Network(D, M, seed=4)
        W0, v0, f0 = net.W0, net.v0, net(X)
        net.train(X, y, 0.8, 0.5, steps=1)
        res = ntkit.run(X, y, steps=1, log_every=1, models="nn,linearized", **self.kw)
        JW, Jv = jacobian(W0, v0, X)
        ref = f0 + JW @ (net.W - W0).ravel() + Jv @ (net.v - v0)   # one step from θ0: same Δθ
        np.testing.assert_allclose(res["predictions"]["linearized"][0], ref, rtol=1e-11, atol=1e-12)
        self.assertEqual(res["models"], ["nn", "linearized"])
        self.assertNotIn("ntk_train_loss", res["metrics"])
        self.assertIsNone(res["predictions"]["nn"][1])

    def test_theory(self):
        th = self.res["theory"]
        net0 = ntkit.Network(D, M, seed=4)
        lam = np.linalg.eigvalsh(ntkit.ntk(net0, self.X))
        self.assertAlmostEqual(th["ntk_lmin"], lam[0], delta=1e-9 * lam[-1])
        self.assertAlmostEqual(th["ntk_lmax"], lam[-1], delta=1e-9 * lam[-1])
        self.assertAlmostEqual(th["lr_max_stable"], 2 * N / lam[-1], delta=1e-9 * N / lam[-1])
        self.assertAlmostEqual(th["loss0"], self.res["metrics"]["nn_train_loss"][0], places=14)
        self.assertAlmostEqual(th["horizon_T"], D * np.log(D) / 0.8, places=12)
        self.assertTrue(np.isfinite(self.res["beta_estimate"]))

    def test_checks_follow_the_log(self):
        # the driver's checks against the logged rows they summarise (same doubles: exact)
        r, ck = self.res, self.res["checks"]
        mt = r["metrics"]
        self.assertEqual(ck["status"], "completed")
        self.assertEqual(ck["t"], 9.0)
        self.assertEqual(ck["rows"], 6)
        self.assertEqual(ck["R_max"], np.max(mt["w_dist_max_row"]))
        self.assertEqual(ck["theta_max"], np.max(mt["theta_dist"]))
        self.assertEqual(ck["flip_max"], np.nanmax(mt["flip_frac"]))
        ok = np.isfinite(mt["envelope"]) & (mt["envelope"] > 0)
        self.assertEqual(ck["envelope_max_ratio"], np.max(mt["nn_train_loss"][ok] / mt["envelope"][ok]))
        self.assertEqual(ck["loss0"], mt["nn_train_loss"][0])
        self.assertEqual(ck["loss_growth"], mt["nn_train_loss"][-1] / mt["nn_train_loss"][0])
        self.assertEqual(ck["beta_estimate"], r["beta_estimate"])
        self.assertTrue(np.isnan(ck["diverged_at"]))
        # horizon_T = d log d/η1 ≈ 10.06 is after the last step: no gap measured there
        self.assertTrue(np.isnan(ck["gap_lin_at_T"]) and np.isnan(ck["time_at_T"]))

    def test_alpha_condition_for_relu_uses_the_estimate(self):
        # Chizat et al.'s condition 6β√(8σ_max²L0)/σ_min³ (docs/theory.md §7.3) for h = f/α,
        # with L0 = ½‖y − u(0)‖² = loss0/c and, for relu, β the empirical estimate; the
        # same few flops in another order: agreement to a few ulps (1e-12 relative)
        ck, th = self.res["checks"], self.res["theory"]
        self.assertFalse(ck["beta_from_bound"])
        self.assertTrue(np.isnan(th["beta_bound"]))
        self.assertEqual(ck["beta_used"], ck["beta_estimate"])
        smin, smax, L0 = th["jac_smin"], th["jac_smax"], th["loss0"] * N
        ref = 6 * ck["beta_estimate"] * np.sqrt(8 * smax ** 2 * L0) / smin ** 3
        self.assertAlmostEqual(ck["alpha_condition"], ref, delta=1e-12 * ref)

    def test_alpha_condition_for_smooth_activations_uses_the_bound(self):
        res = ntkit.run(self.X, self.y, width=M, seed=4, act="tanh", lr1=0.8, lr2=0.5, steps=3,
                        models="nn")
        ck, th = res["checks"], res["theory"]
        self.assertTrue(ck["beta_from_bound"])
        self.assertEqual(ck["beta_used"], th["beta_bound"])
        self.assertEqual(ck["alpha_condition"], th["alpha_condition"])
        self.assertTrue(np.isfinite(ck["beta_estimate"]))

    def test_explicit_times_equal_the_schedule(self):
        # the same log times given explicitly: the same states, so the same numbers, and the
        # drift at the same (every kernel_every-th and last) rows
        res = ntkit.run(self.X, self.y, self.Xt, self.yt, times=[0, 2, 4, 6, 8, 9], **self.kw)
        ref = self.res
        for col in ref["columns"]:
            np.testing.assert_array_equal(res["metrics"][col], ref["metrics"][col], err_msg=col)
        for m in ntkit.MODELS:
            for a, b in zip(res["predictions"][m], ref["predictions"][m]):
                np.testing.assert_array_equal(a, b, err_msg=m)
        np.testing.assert_equal(res["theory"], ref["theory"])   # (NaN where undefined, in both)
        self.assertEqual(res["beta_estimate"], ref["beta_estimate"])
        for k in ("R_max", "theta_max", "flip_max", "envelope_max_ratio", "alpha_condition",
                  "rows", "t", "loss_growth"):
            self.assertEqual(res["checks"][k], ref["checks"][k], k)

    def test_explicit_times_repeated_and_late(self):
        res = ntkit.run(self.X, self.y, times=[2, 5, 5, 7], models="nn", **self.kw)
        mt = res["metrics"]
        np.testing.assert_array_equal(mt["step"], [2, 5, 5, 7])
        np.testing.assert_array_equal(mt["nn_train_loss"][1], mt["nn_train_loss"][2])
        ref = ntkit.run(self.X, self.y, steps=7, log_every=1, models="nn", **self.kw)
        np.testing.assert_array_equal(mt["nn_train_loss"], ref["metrics"]["nn_train_loss"][[2, 5, 5, 7]])

    def test_given_weights(self):
        net = ntkit.Network(D, M, seed=4)
        res = ntkit.run(self.X, self.y, steps=3, models="nn", W0=net.W0, v0=net.v0, width=M, seed=99,
                        lr1=0.8, lr2=0.5)
        ref = ntkit.run(self.X, self.y, steps=3, models="nn", width=M, seed=4, lr1=0.8, lr2=0.5)
        np.testing.assert_array_equal(res["metrics"]["nn_train_loss"], ref["metrics"]["nn_train_loss"])


class FlowAndErrors(unittest.TestCase):
    def test_schedules(self):
        from ntkit.run import schedule
        np.testing.assert_array_equal(schedule(9, 2), [0, 2, 4, 6, 8, 9])
        np.testing.assert_array_equal(schedule(0, 5), [0])
        np.testing.assert_array_equal(schedule(0.3, 0.1, flow=True), [0, 0.1, 0.2, 0.3])
        np.testing.assert_array_equal(schedule(2.5, 1, flow=True), [0, 1, 2, 2.5])
        X, y = data(N, D)
        res = ntkit.run(X, y, width=M, models="nn", times=[0, 1, 5])
        np.testing.assert_array_equal(res["metrics"]["step"], [0, 1, 5])
        with self.assertRaisesRegex(ValueError, "must not decrease"):
            ntkit.run(X, y, width=M, models="nn", times=[0, 5, 1])

    def test_flow(self):
        X, y, Xt, yt = data(N, D, seed=1, nt=12)
        res = ntkit.run(X, y, Xt, yt, width=M, seed=4, lr1=0.8, lr2=0.5, flow=True, steps=2.5,
                        log_every=1.0, models="nn,ntk,lin", flow_rtol=1e-6)   # relu: 1e-8 is slow
        np.testing.assert_allclose(res["metrics"]["time"], [0, 1, 2, 2.5])
        net0 = ntkit.Network(D, M, seed=4)
        K = ntkit.ntk(net0, X, layer=(0.8, 0.5))
        Kt = ntkit.ntk(net0, Xt, X, layer=(0.8, 0.5))
        u, ut = ntkit.gradient_descent_mse(K, y, flow=True)(2.5, net0(X), net0(Xt), Kt)
        np.testing.assert_allclose(res["predictions"]["ntk"][0], u, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(res["predictions"]["ntk"][1], ut, rtol=1e-9, atol=1e-11)
        # the flow sits between GD runs with rates εη at k = t/ε steps
        gd = ntkit.run(X, y, width=M, seed=4, lr1=0.008, lr2=0.005, steps=250, log_every=250,
                       models="nn")
        self.assertLess(abs(gd["metrics"]["nn_train_loss"][-1] - res["metrics"]["nn_train_loss"][-1]),
                        0.01 * res["metrics"]["nn_train_loss"][-1])

    def test_run_object(self):
        X, y = data(N, D)
        with ntkit.Run(X, y, width=M, models=["nn", "ntk"]) as r:
            self.assertEqual(r.models, ["nn", "ntk"])
            r.advance(3)
            self.assertEqual(r.time, 3.0)
            row = r.metrics(with_kernel=True)
            self.assertTrue(np.isfinite(row["ntk_drift"]))
            with self.assertRaisesRegex(ValueError, "must not decrease"):
                r.advance(1)
            with self.assertRaisesRegex(ValueError, "not part of this run"):
                r.predictions("lin")
            W, v = r.weights
            self.assertEqual(W.shape, (M, D))
        r.close()
        with self.assertRaises(ValueError):
            r.advance(5)

    def test_errors(self):
        X, y = data(N, D)
        with self.assertRaisesRegex(ValueError, "both rates (lr1 and lr2 )?are 0"):
            ntkit.run(X, y, lr1=0, lr2=0, width=M)
        with self.assertRaisesRegex(ValueError, "unknown model 'foo'"):
            ntkit.run(X, y, models="nn,foo", width=M)
        with self.assertRaisesRegex(ValueError, "X_test"):
            ntkit.run(X, y, X[:3], width=M)
        with self.assertRaisesRegex(ValueError, "X has 5 columns, expected 4"):
            ntkit.run(X, y, d=4, width=M)
        with self.assertRaises(ntkit.DivergedError) as cm:
            ntkit.run(X, 1e3 * y, width=M, lr1=1e5, lr2=1e5, steps=40, models="nn")
        part = cm.exception.partial
        self.assertGreaterEqual(len(part["metrics"]["step"]), 1)
        self.assertEqual(part["checks"]["status"], "diverged")
        # the step whose loss was not finite comes after the last row logged
        self.assertGreater(part["checks"]["diverged_at"], part["metrics"]["step"][-1])
        self.assertIn("t = %g" % part["checks"]["diverged_at"], str(cm.exception))


if __name__ == "__main__":
    unittest.main()
