"""Kernel GD in closed form against explicit iteration; ridge; spectra."""
import unittest

import numpy as np

from helpers import data, ntkit


def spd(n, seed=0):
    A = np.random.default_rng(seed).standard_normal((n, n + 3))
    return A @ A.T / n


class KernelGradientDescent(unittest.TestCase):
    def setUp(self):
        X, y, Xt, yt = data(25, 4, seed=3, nt=9)
        self.net = ntkit.Network(4, 64, seed=2)
        self.K = ntkit.ntk(self.net, X)
        self.Kt = ntkit.ntk(self.net, Xt, X)
        self.y, self.f0, self.f0t = y, self.net(X), self.net(Xt)

    def iterate(self, lr, c, steps):
        u, ft = self.f0.copy(), self.f0t.copy()
        out = [(u.copy(), ft.copy())]
        for _ in range(steps):
            r = u - self.y
            u, ft = u - c * lr * self.K @ r, ft - c * lr * self.Kt @ r
            out.append((u.copy(), ft.copy()))
        return out

    def test_matches_explicit_iteration(self):
        for loss, c, lr in (("mean", 1 / 25, 0.8), ("sum", 1.0, 0.01)):
            ref = self.iterate(lr, c, 30)
            predict = ntkit.gradient_descent_mse(self.K, self.y, lr=lr, loss=loss)
            for t in (0, 1, 7, 30):
                u, ut = predict(t, self.f0, self.f0t, self.Kt)
                np.testing.assert_allclose(u, ref[t][0], rtol=1e-10, atol=1e-12, err_msg="%s t=%d" % (loss, t))
                np.testing.assert_allclose(ut, ref[t][1], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(predict(30, self.f0), ref[30][0], rtol=1e-10, atol=1e-12)

    def test_time_arrays(self):
        predict = ntkit.gradient_descent_mse(self.K, self.y, lr=0.5)
        ts = np.array([0, 2, 5])
        U, Ut = predict(ts, self.f0, self.f0t, self.Kt)
        self.assertEqual(U.shape, (3, 25))
        self.assertEqual(Ut.shape, (3, 9))
        for j, t in enumerate(ts):
            np.testing.assert_array_equal(U[j], predict(t, self.f0))
        self.assertEqual(predict(3.0, self.f0).shape, (25,))

    def test_flow_matches_eigen_solution(self):
        lr, t = 2.0, 3.5
        lam, Q = np.linalg.eigh(self.K)
        e0 = self.f0 - self.y
        ref = self.y + Q @ (np.exp(-lr / 25 * lam * t) * (Q.T @ e0))
        predict = ntkit.gradient_descent_mse(self.K, self.y, lr=lr, flow=True)
        np.testing.assert_allclose(predict(t, self.f0), ref, rtol=1e-10, atol=1e-12)
        # small steps of GD approach the flow
        gd = ntkit.gradient_descent_mse(self.K, self.y, lr=lr / 1000)
        np.testing.assert_allclose(gd(1000 * t, self.f0), ref, rtol=0, atol=1e-3)

    def test_f0_cache_and_defaults(self):
        predict = ntkit.gradient_descent_mse(self.K, self.y)
        a = predict(4, self.f0)
        h = predict._h
        predict(4, self.f0.copy())
        self.assertIs(predict._h, h)            # same values: no new eigendecomposition
        z = predict(4, None)
        self.assertIsNot(predict._h, h)
        np.testing.assert_array_equal(z, ntkit.gradient_descent_mse(self.K, self.y)(4, np.zeros(25)))
        np.testing.assert_array_equal(predict(4, self.f0), a)
        np.testing.assert_allclose(predict.evals(), np.linalg.eigvalsh(self.K), rtol=1e-10, atol=1e-12)
        predict.close()
        predict.close()

    def test_krylov_matches_eig(self):
        eig = ntkit.gradient_descent_mse(self.K, self.y, lr=0.9, method="eig")
        kry = ntkit.gradient_descent_mse(self.K, self.y, lr=0.9, method="krylov")
        ts = [0, 3, 40]
        a, at = eig(ts, self.f0, self.f0t, self.Kt)
        b, bt = kry(ts, self.f0, self.f0t, self.Kt)
        scale = np.abs(self.y - self.f0).max()
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(bt, at, rtol=0, atol=1e-9 * scale)
        self.assertEqual(eig.info()["method"], "eig")
        info = kry.info()
        self.assertEqual(info["method"], "krylov")
        self.assertLessEqual(info["k"], 25)
        self.assertIsNone(kry.evals())
        lam = np.linalg.eigvalsh(self.K)
        ex = eig.extremes()
        self.assertTrue(ex["exact"])
        self.assertAlmostEqual(ex["lmax"], lam[-1], delta=1e-10 * lam[-1])
        kx = kry.extremes()
        self.assertAlmostEqual(kx["lmax"], lam[-1], delta=1e-7 * lam[-1])
        self.assertGreaterEqual(kx["lmin"], lam[0] - 1e-10 * lam[-1])
        with self.assertRaisesRegex(ValueError, "method must be"):
            ntkit.gradient_descent_mse(self.K, self.y, method="lu")
        # a capped basis: at most krylov_kmax vectors, and an error estimate that says so
        capped = ntkit.gradient_descent_mse(self.K, self.y, lr=0.9, method="krylov", krylov_kmax=3)
        b3 = capped(40, self.f0)
        info = capped.info()
        self.assertLessEqual(info["k"], 3)
        self.assertGreater(info["err_est"], 1e-10)
        self.assertGreater(np.abs(b3 - a[2]).max(), 1e-9 * scale)   # the cap is felt

    def test_unstable_rate_refused_unless_allowed(self):
        # c·lr·λ_max = 2.5 > 2: GD diverges (docs/theory.md §6.3), so it is refused by default
        lam_max = np.linalg.eigvalsh(self.K)[-1]
        lr = 2.5 * 25 / lam_max
        with self.assertRaises(ValueError) as cm:
            ntkit.gradient_descent_mse(self.K, self.y, lr=lr)(3, self.f0)
        msg = str(cm.exception)
        self.assertIn("unstable", msg)
        self.assertIn("allow_unstable=True", msg)
        self.assertNotIn("ntk_kgd", msg)
        # allowed: the growing iteration itself. Both it and the closed form carry errors
        # of order t·n·eps·max_k|1 − cηλ_k|^t·‖r0‖ = 10·25·2.2e-16·1.5^10·‖r0‖ ≈ 3e-11‖r0‖
        ref = self.iterate(lr, 1 / 25, 10)
        predict = ntkit.gradient_descent_mse(self.K, self.y, lr=lr, allow_unstable=True)
        u, ut = predict(10, self.f0, self.f0t, self.Kt)
        tol = 100 * 10 * 25 * 2.2e-16 * 1.5 ** 10 * np.linalg.norm(self.f0 - self.y)
        np.testing.assert_allclose(u, ref[10][0], rtol=0, atol=tol)
        self.assertGreater(np.abs(u - self.y).max(), np.abs(self.f0 - self.y).max())   # it grew
        # gradient flow at the same rate is stable: no flag needed
        self.assertTrue(np.all(np.isfinite(
            ntkit.gradient_descent_mse(self.K, self.y, lr=lr, flow=True)(3, self.f0))))
        with self.assertRaisesRegex(ValueError, "^allow_unstable must be True or False"):
            ntkit.gradient_descent_mse(self.K, self.y, allow_unstable="yes")

    def test_kernel_gd_tracks_a_wide_network(self):
        X, y = data(20, 4, seed=8)
        net = ntkit.Network(4, 20000, seed=1)
        f0 = net(X)
        predict = ntkit.gradient_descent_mse(ntkit.ntk(net, X), y, lr=1.0)
        net.train(X, y, 1.0, 1.0, steps=50)
        u = predict(50, f0)
        self.assertLess(np.abs(net(X) - u).max(), 0.02 * np.abs(y).max())


class MultiOutput(unittest.TestCase):
    """y of shape (n, k): K acts on every column, so each column is the single-output
    problem; against explicit iteration of the k-column recursion in numpy."""

    def setUp(self):
        rng = np.random.default_rng(8)
        self.K, self.Kt = spd(15, 3), rng.standard_normal((4, 15)) / 4
        self.Y = rng.standard_normal((15, 3))
        self.F0, self.F0t = rng.standard_normal((15, 3)) / 3, rng.standard_normal((4, 3)) / 3

    def test_gd_on_columns(self):
        lr, c = 0.7, 1 / 15
        U, Ut = self.F0.copy(), self.F0t.copy()
        for _ in range(12):
            R = U - self.Y
            U, Ut = U - c * lr * self.K @ R, Ut - c * lr * self.Kt @ R
        for method in ("eig", "krylov"):
            predict = ntkit.gradient_descent_mse(self.K, self.Y, lr=lr, method=method)
            u, ut = predict([0, 12], self.F0, self.F0t, self.Kt)
            self.assertEqual(u.shape, (2, 15, 3))
            self.assertEqual(ut.shape, (2, 4, 3))
            # 12 products with ‖cηK‖ < 1 and cond(K) ~ 10: rounding ~ 1e-14 relative;
            # the Krylov basis stops at an estimated 1e-10 of ‖y − u0‖
            np.testing.assert_allclose(u[1], U, rtol=0, atol=1e-9)
            np.testing.assert_allclose(ut[1], Ut, rtol=0, atol=1e-9)
            # t = 0: y − Q(Qᵀ(y − u0)), a few roundings of numbers below max|Y| + max|U0|
            scale = np.abs(self.Y).max() + np.abs(self.F0).max()
            np.testing.assert_allclose(u[0], self.F0, rtol=0, atol=8 * 2.2e-16 * scale)
        with self.assertRaisesRegex(ValueError, "f0_train has shape"):
            ntkit.gradient_descent_mse(self.K, self.Y)(1, self.F0[:, 0])

    def test_ridge_on_columns(self):
        A = ntkit.kernel_ridge(self.K, self.Y, 0.1)
        ref = np.linalg.solve(self.K + 0.1 * np.eye(15), self.Y)
        np.testing.assert_allclose(A, ref, rtol=1e-10, atol=1e-12)   # cond(K + 0.1 I) ~ 10
        np.testing.assert_allclose(ntkit.kernel_ridge_predict(self.Kt, A), self.Kt @ ref,
                                   rtol=1e-10, atol=1e-12)
        with self.assertRaises(np.linalg.LinAlgError):
            ntkit.kernel_ridge(-self.K, self.Y, 0.0)


class RidgeAndSpectra(unittest.TestCase):
    def test_kernel_ridge(self):
        K, y = spd(12), np.arange(12.0)
        coef = ntkit.kernel_ridge(K, y, 0.1)
        np.testing.assert_allclose(coef, np.linalg.solve(K + 0.1 * np.eye(12), y), rtol=1e-10)
        Kt = np.random.default_rng(1).standard_normal((4, 12))
        np.testing.assert_allclose(ntkit.kernel_ridge_predict(Kt, coef), Kt @ coef)

    def test_eigh(self):
        K = spd(10)
        w, V = ntkit.eigh(K)
        w2, _ = np.linalg.eigh(K)
        np.testing.assert_allclose(w, w2, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(V @ np.diag(w) @ V.T, K, atol=1e-12)
        np.testing.assert_allclose(V.T @ V, np.eye(10), atol=1e-12)
        np.testing.assert_allclose(ntkit.eigh(K, vectors=False), w, rtol=1e-13, atol=1e-14)
        s = ntkit.spectrum_summary(K)
        self.assertAlmostEqual(s["lmin"], w2[0], places=12)
        self.assertAlmostEqual(s["cond"], w2[-1] / w2[0], delta=1e-9 * s["cond"])

    def test_distances(self):
        A, B = spd(8, 1), spd(8, 2)
        d = ntkit.kernel_distance(A, B)
        self.assertAlmostEqual(d["op"], np.linalg.norm(A - B, 2), places=12)
        self.assertAlmostEqual(d["fro"], np.linalg.norm(A - B), places=12)
        self.assertAlmostEqual(d["rel_op"], d["op"] / np.linalg.norm(B, 2), places=12)
        self.assertAlmostEqual(d["rel_fro"], d["fro"] / np.linalg.norm(B), places=12)
        lam, Q = np.linalg.eigh(A)
        R = Q @ np.diag(lam ** -0.5) @ Q.T
        ref = np.linalg.norm(R @ B @ R - np.eye(8), 2)
        self.assertAlmostEqual(ntkit.normalized_distance(A, B), ref, delta=1e-9 * ref)


if __name__ == "__main__":
    unittest.main()
