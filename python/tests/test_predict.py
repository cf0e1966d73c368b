"""ntkit.predict against numpy implementations of the published formulas.

The references below are written from the formulas (Jacot et al. 2018 for the
flow; Lee et al. 2019, eq. 9–16, for the ensemble and the posteriors), with
numpy's eigh and solve, independently of the library's eigendecomposition and
Cholesky solves.

Tolerance: both sides are backward-stable computations with the same kernels,
so they differ by about n·eps·cond(K) relative to the result's scale. The
fixtures keep cond(K + reg·I) below 1e4 (asserted), which with n <= 24 bounds
that by 24 · 2.2e-16 · 1e4 ≈ 5e-11 < REL = 1e-10.
"""
import unittest

import numpy as np

from helpers import ntkit

P = ntkit.predict
REL = 1e-10
EPS = 2.2e-16


def close(test, a, b, rel=REL, what=""):
    """max |a − b| <= rel · max |b| (relative to the result's scale: entries near 0
    have no relative accuracy of their own)."""
    a, b = np.asarray(a), np.asarray(b)
    test.assertEqual(a.shape, b.shape, what)
    scale = np.abs(b).max()
    err = np.abs(a - b).max()
    test.assertLessEqual(err, rel * scale, "%s: max error %.3g, scale %.3g" % (what, err, scale))


# ---- references --------------------------------------------------------

def ridge(K, diag_reg, absolute):
    return diag_reg if absolute else diag_reg * np.mean(np.diag(K))


def ref_flow(K, y, f0, f0t, Kt, t, lr=1.0, diag_reg=0.0, absolute=False):
    """f_train(t) = y + exp(−ηtK_r/N)(f0 − y), f_test = f0t + Kt K_r⁻¹(I − exp(−ηtK_r/N))(y − f0),
    N = y.size, K_r = K + reg·I."""
    N = y.size
    lam, Q = np.linalg.eigh(K + ridge(K, diag_reg, absolute) * np.eye(len(K)))
    e = np.exp(-lr * t * lam / N)
    E = (Q * e) @ Q.T
    H = (Q * ((1 - e) / lam)) @ Q.T
    y2 = y.reshape(len(K), -1)
    f02 = np.broadcast_to(f0, y.shape).reshape(y2.shape)
    ftr = (y2 + E @ (f02 - y2)).reshape(y.shape)
    fte = None
    if Kt is not None:
        fte = np.broadcast_to(f0t, (len(Kt),) + y.shape[1:]) + \
            (Kt @ H @ (y2 - f02)).reshape((len(Kt),) + y.shape[1:])
    return ftr, fte


def ref_inf(K, y, f0, f0t, Kt, diag_reg=0.0, absolute=False):
    Kr = K + ridge(K, diag_reg, absolute) * np.eye(len(K))
    y2 = y.reshape(len(K), -1)
    f02 = np.broadcast_to(f0, y.shape).reshape(y2.shape)
    return f0t + (Kt @ np.linalg.solve(Kr, y2 - f02)).reshape((len(Kt),) + y.shape[1:])


def ref_posterior(kd, kt, ktt, y, g, diag_reg=0.0):
    """Lee et al. 2019, eq. 13–16 at t = ∞."""
    T = kd.ntk if g != "nngp" else kd.nngp
    Tr = T + ridge(T, diag_reg, False) * np.eye(len(T))
    Ttd = kt.ntk if g != "nngp" else kt.nngp
    mean = Ttd @ np.linalg.solve(Tr, y)
    if g == "nngp":
        cov = ktt.nngp - kt.nngp @ np.linalg.solve(Tr, kt.nngp.T)
    elif g == "ntkgp":
        cov = ktt.ntk - kt.ntk @ np.linalg.solve(Tr, kt.ntk.T)
    else:
        A = np.linalg.solve(Tr, kt.ntk.T)                  # Θ⁻¹ Θ_dt
        B = kt.ntk @ np.linalg.solve(Tr, kt.nngp.T)        # Θ_td Θ⁻¹ K_dt
        cov = ktt.nngp + A.T @ kd.nngp @ A - B - B.T
    return mean, cov


def ref_ensemble(kd, kt, ktt, y, g, t, lr=1.0, diag_reg=0.0):
    """Lee et al. 2019, eq. 13–16 at time t: E_t = exp(−ηtΘ/N), H_t = Θ⁻¹(I − E_t)."""
    N = y.size
    T = getattr(kd, g)
    lam, Q = np.linalg.eigh(T + ridge(T, diag_reg, False) * np.eye(len(T)))

    def E(s):
        return (Q * np.exp(-lr * s * lam / N)) @ Q.T

    def H(s):
        return (Q * (-np.expm1(-lr * s * lam / N) / lam)) @ Q.T

    if kt is None:
        mean = (np.eye(len(T)) - E(t)) @ y
        Tr = (Q * lam) @ Q.T
        cov = E(2 * t) @ Tr if g == "nngp" else E(t) @ kd.nngp @ E(t)
        return mean, cov
    Ttd = getattr(kt, g)
    mean = Ttd @ H(t) @ y
    if ktt is None:
        return mean, None
    if g == "nngp":
        cov = ktt.nngp - kt.nngp @ H(2 * t) @ kt.nngp.T
    else:
        A = Ttd @ H(t)
        B = A @ kt.nngp.T
        cov = ktt.nngp + A @ kd.nngp @ A.T - B - B.T
    return mean, cov


class Fixture:
    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(11)
        cls.X = rng.standard_normal((24, 8))   # d = 8: cond(K) of a few hundred (d = 3: 1e5)
        cls.Xt = rng.standard_normal((7, 8))
        cls.y = rng.standard_normal((24, 2))
        cls.kf = staticmethod(ntkit.infinite_kernel_fn("erf"))
        cls.kd, cls.kt, cls.ktt = cls.kf(cls.X), cls.kf(cls.Xt, cls.X), cls.kf(cls.Xt)
        cls.f0 = rng.standard_normal((24, 2)) / 3
        cls.f0t = rng.standard_normal((7, 2)) / 3

    def test_fixture_conditioning(self):
        # the tolerance's premise: cond(K) < 1e4 for every kernel factorised here
        for K in (self.kd.ntk, self.kd.nngp):
            self.assertLess(np.linalg.cond(K), 1e4)


class GradientDescentMSE(Fixture, unittest.TestCase):
    def test_flow_at_finite_times(self):
        K, Kt = self.kd.ntk, self.kt.ntk
        for lr, reg, absolute in ((1.0, 0.0, False), (3.0, 0.1, False), (0.5, 0.2, True)):
            pf = P.gradient_descent_mse(K, self.y, learning_rate=lr, diag_reg=reg,
                                        diag_reg_absolute_scale=absolute)
            for t in (0.0, 0.7, 25.0, 4000.0):
                ftr, fte = pf(t, self.f0, self.f0t, Kt)
                rtr, rte = ref_flow(K, self.y, self.f0, self.f0t, Kt, t, lr, reg, absolute)
                close(self, ftr, rtr, what="train t=%g lr=%g reg=%g" % (t, lr, reg))
                close(self, fte, rte, what="test t=%g lr=%g reg=%g" % (t, lr, reg))

    def test_normalisation_is_y_size(self):
        # the loss is ‖f − y‖²/(2·n·k): with k = 2 outputs the flow is half as fast as with the
        # per-row mean; the reference with N = n differs far beyond the tolerance
        K = self.kd.ntk
        pf = P.gradient_descent_mse(K, self.y)
        ftr = pf(10.0, self.f0)
        close(self, ftr, ref_flow(K, self.y, self.f0, None, None, 10.0)[0])
        wrong = ref_flow(K, self.y, self.f0, None, None, 20.0)[0]   # N = n: time doubled
        self.assertGreater(np.abs(ftr - wrong).max(), 1e-3)
        # ntkit's own kernel GD with the sum loss and the rate η/N is the same flow
        own = ntkit.gradient_descent_mse(K, self.y, lr=1.0 / self.y.size, loss="sum", flow=True)
        close(self, own(10.0, self.f0), ftr)

    def test_columns_are_independent_problems(self):
        K, Kt = self.kd.ntk, self.kt.ntk
        both = P.gradient_descent_mse(K, self.y)(5.0, self.f0, self.f0t, Kt)
        for j in range(2):
            # one column alone: the same flow once its normalisation n·k is kept (rate 1/2)
            col = P.gradient_descent_mse(K, self.y[:, j], learning_rate=0.5)(
                5.0, self.f0[:, j], self.f0t[:, j], Kt)
            close(self, both[0][:, j], col[0])
            close(self, both[1][:, j], col[1])

    def test_converged_solution(self):
        K, Kt = self.kd.ntk, self.kt.ntk
        for reg, absolute in ((0.0, False), (0.05, False), (0.3, True)):
            pf = P.gradient_descent_mse(K, self.y, diag_reg=reg, diag_reg_absolute_scale=absolute)
            ftr, fte = pf(None, self.f0, self.f0t, Kt)
            np.testing.assert_array_equal(ftr, self.y)    # neural-tangents: y_train itself
            close(self, fte, ref_inf(K, self.y, self.f0, self.f0t, Kt, reg, absolute),
                  what="t=None reg=%g" % reg)
            if reg == 0:
                # a long flow reaches the same test predictions: at t = 1e7 the slowest mode
                # has decayed by exp(−λ_min t/N) with λ_min > 0.01, N = 48: below e^{-2000}
                self.assertGreater(np.linalg.eigvalsh(K)[0], 0.01)
                close(self, pf(1e7, self.f0, self.f0t, Kt)[1], fte)

    def test_shapes_and_defaults(self):
        K, Kt = self.kd.ntk, self.kt.ntk
        pf = P.gradient_descent_mse(K, self.y)
        ts = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
        ftr = pf(ts)                                  # fx_train_0 = 0.: train predictions only
        self.assertEqual(ftr.shape, (2, 3, 24, 2))
        close(self, ftr[1, 2], ref_flow(K, self.y, 0.0, None, None, 5.0)[0])
        fte = pf(ts, None, 0.0, Kt)                   # fx_train_0 None: test predictions only
        self.assertEqual(fte.shape, (2, 3, 7, 2))
        close(self, fte[0, 1], ref_flow(K, self.y, 0.0, 0.0, Kt, 1.0)[1])
        scalar = pf(2.0, 0.25, -0.5, Kt)              # scalar starting values broadcast
        ref = ref_flow(K, self.y, 0.25, -0.5, Kt, 2.0)
        close(self, scalar[0], ref[0])
        close(self, scalar[1], ref[1])
        np.testing.assert_array_equal(pf(), self.y)   # t=None with the defaults: y_train
        np.testing.assert_array_equal(pf(None, None), self.y)   # as neural-tangents
        with self.assertRaisesRegex(ValueError, "both None"):
            pf(1.0, None)
        one = P.gradient_descent_mse(K, self.y[:, 0])(np.array([1.0, 2.0]), 0.0, 0.0, Kt)
        self.assertEqual(one[0].shape, (2, 24))
        self.assertEqual(one[1].shape, (2, 7))

    def test_errors(self):
        K, Kt = self.kd.ntk, self.kt.ntk
        pf = P.gradient_descent_mse(K, self.y)
        with self.assertRaisesRegex(ValueError, "fx_test_0 needs k_test_train"):
            pf(1.0, 0.0, 0.0)
        with self.assertRaisesRegex(ValueError, "t must be finite and >= 0"):
            pf(-1.0)
        with self.assertRaisesRegex(ValueError, "t=None"):
            pf(np.inf)
        with self.assertRaisesRegex(ValueError, "fx_train_0 has shape"):
            pf(1.0, np.zeros(5))
        with self.assertRaisesRegex(ValueError, "k_test_train has 3 columns"):
            pf(1.0, 0.0, 0.0, Kt[:, :3])
        with self.assertRaisesRegex(ValueError, "y_train has 23 rows"):
            P.gradient_descent_mse(K, self.y[:23])
        with self.assertRaisesRegex(ValueError, "learning_rate must be >= 0"):
            P.gradient_descent_mse(K, self.y, learning_rate=-1.0)
        bad = K.copy()
        bad[0, 1] += 1e-3
        with self.assertRaisesRegex(ValueError, "k_train_train is not symmetric"):
            P.gradient_descent_mse(bad, self.y)(1.0)
        indefinite = np.diag([1.0, -1.0, 2.0])
        with self.assertRaises(np.linalg.LinAlgError) as cm:
            P.gradient_descent_mse(indefinite, np.ones(3))(None, 0.0, 0.0, np.ones((1, 3)))
        self.assertIn("k_train_train", str(cm.exception))
        self.assertIn("diag_reg", str(cm.exception))

    def test_max_learning_rate(self):
        K = self.kd.ntk
        lmax = np.linalg.eigvalsh(K)[-1]
        # λ_max from two symmetric eigensolvers: agreement to n·eps relative
        self.assertAlmostEqual(P.max_learning_rate(K), 2 * 24 / (lmax + 1e-12),
                               delta=24 * EPS * 2 * 24 / lmax * 10)
        self.assertAlmostEqual(P.max_learning_rate(K, y_train_size=48, momentum=0.9),
                               2 * 1.9 * 48 / (lmax + 1e-12), delta=1e-12 * 48 * 4 / lmax)


class GPInference(Fixture, unittest.TestCase):
    def test_posteriors(self):
        for reg in (0.0, 0.01):
            pf = P.gp_inference(self.kd, self.y, diag_reg=reg)
            for g in ("nngp", "ntk", "ntkgp"):
                got = pf(g, self.kt, self.ktt)
                mean, cov = ref_posterior(self.kd, self.kt, self.ktt, self.y, g, reg)
                self.assertIsInstance(got, P.Gaussian)
                close(self, got.mean, mean, what="%s mean reg=%g" % (g, reg))
                close(self, got.covariance, cov, what="%s cov reg=%g" % (g, reg))
                close(self, pf(g, self.kt), mean, what="%s mean alone" % g)

    def test_get_forms(self):
        pf = P.gp_inference(self.kd, self.y)
        both = pf(None, self.kt, self.ktt)
        self.assertEqual(type(both).__name__, "Gaussians")
        self.assertEqual(both._fields, ("nngp", "ntk"))
        close(self, both.ntk.covariance, pf("ntk", self.kt, self.ktt).covariance, rel=0)
        train = pf("nngp", None, True)                   # training points: N(y, 0)
        np.testing.assert_array_equal(train.mean, self.y)
        np.testing.assert_array_equal(train.covariance, np.zeros((24, 24)))
        # a plain array serves as every kernel
        mean = P.gp_inference(self.kd.nngp, self.y)("nngp", self.kt.nngp)
        close(self, mean, ref_posterior(self.kd, self.kt, self.ktt, self.y, "nngp")[0])
        # the posterior covariance is PSD and below the prior (conditioning removes variance)
        cov = pf("nngp", self.kt, self.ktt).covariance
        self.assertGreaterEqual(np.linalg.eigvalsh(cov).min(), -1e-10 * np.abs(cov).max())
        self.assertTrue(np.all(np.diag(cov) <= np.diag(self.ktt.nngp) + 1e-12))

    def test_missing_kernels(self):
        pf = P.gp_inference(ntkit.Kernel(ntk=self.kd.ntk), self.y)
        close(self, pf("ntk", self.kt), ref_posterior(self.kd, self.kt, self.ktt, self.y, "ntk")[0])
        with self.assertRaisesRegex(ValueError, "needs the NNGP kernels too"):
            pf("ntk", ntkit.Kernel(ntk=self.kt.ntk), self.ktt)
        with self.assertRaisesRegex(ValueError, "k_train_train.nngp is None"):
            pf("nngp", self.kt)
        with self.assertRaisesRegex(ValueError, "get must be one of"):
            pf("gp", self.kt)
        with self.assertRaises(np.linalg.LinAlgError):
            P.gp_inference(-self.kd.ntk, self.y)("ntk", self.kt)


class Ensemble(Fixture, unittest.TestCase):
    def test_mean_and_covariance_at_finite_times(self):
        ens = P.gradient_descent_mse_ensemble(self.kf, self.X, self.y, learning_rate=2.0,
                                              diag_reg=0.01)
        ts = np.array([0.5, 30.0, 900.0])
        got = ens(ts, self.Xt, compute_cov=True)
        for g in ("nngp", "ntk"):
            self.assertEqual(getattr(got, g).mean.shape, (3, 7, 2))
            self.assertEqual(getattr(got, g).covariance.shape, (3, 7, 7))
            for j, t in enumerate(ts):
                mean, cov = ref_ensemble(self.kd, self.kt, self.ktt, self.y, g, t, 2.0, 0.01)
                close(self, getattr(got, g).mean[j], mean, what="%s mean t=%g" % (g, t))
                close(self, getattr(got, g).covariance[j], cov, what="%s cov t=%g" % (g, t))

    def test_training_points(self):
        ens = P.gradient_descent_mse_ensemble(self.kf, self.X, self.y)
        for g in ("nngp", "ntk"):
            got = ens(7.0, None, g, compute_cov=True)
            mean, cov = ref_ensemble(self.kd, None, None, self.y, g, 7.0)
            close(self, got.mean, mean, what=g + " train mean")
            close(self, got.covariance, cov, what=g + " train cov")

    def test_limits(self):
        ens = P.gradient_descent_mse_ensemble(self.kf, self.X, self.y)
        # t = 0: the prior, mean 0 and the NNGP covariance, for both kinds (exact up to rounding)
        at0 = ens(0.0, self.Xt, compute_cov=True)
        for g in ("nngp", "ntk"):
            self.assertLessEqual(np.abs(getattr(at0, g).mean).max(), 0.0)
            close(self, getattr(at0, g).covariance, self.ktt.nngp, rel=1e-14)
        # t = None is gp_inference's posterior; a long time approaches it
        inf = ens(None, self.Xt, compute_cov=True)
        gp = P.gp_inference(self.kd, self.y)(None, self.kt, self.ktt)
        for g in ("nngp", "ntk"):
            close(self, getattr(inf, g).mean, getattr(gp, g).mean, rel=0)
            late = ens(1e8, self.Xt, g, compute_cov=True)
            close(self, late.mean, getattr(gp, g).mean, rel=1e-8)
            close(self, late.covariance, getattr(gp, g).covariance, rel=1e-8)
        train = ens(None, None, "ntk", compute_cov=True)
        np.testing.assert_array_equal(train.mean, self.y)

    def test_kernel_fn_forms(self):
        # a kernel_fn returning arrays for a single get (as neural-tangents' stax) works too
        calls = []

        def kernel_fn(x1, x2, get, scale=1.0):
            calls.append(get)
            return scale * ntkit.ntk_inf(x1, x2, act="erf",
                                         layer="both" if get == "ntk" else "second")

        ens = P.gradient_descent_mse_ensemble(kernel_fn, self.X, self.y, scale=2.0)
        got = ens(3.0, self.Xt, "ntk")
        half = ntkit.Kernel(nngp=2 * self.kd.nngp, ntk=2 * self.kd.ntk)
        halft = ntkit.Kernel(nngp=2 * self.kt.nngp, ntk=2 * self.kt.ntk)
        close(self, got, ref_ensemble(half, halft, None, self.y, "ntk", 3.0)[0])
        ens(4.0, self.Xt, "ntk")
        self.assertEqual(calls.count("ntk"), 3)   # x_train once, x_test twice: cached
        with self.assertRaisesRegex(ValueError, "get must be one of 'nngp', 'ntk'"):
            ens(1.0, self.Xt, "ntkgp")


class KernelFunctions(Fixture, unittest.TestCase):
    def test_infinite_kernel_fn(self):
        np.testing.assert_array_equal(self.kd.ntk, ntkit.ntk_inf(self.X, act="erf"))
        np.testing.assert_array_equal(self.kd.nngp, ntkit.nngp_inf(self.X, act="erf"))
        np.testing.assert_array_equal(self.kf(self.Xt, self.X, "nngp"), self.kt.nngp)
        self.assertIsNone(self.kf(self.X, None, ("ntk",)).nngp)
        with self.assertRaisesRegex(ValueError, "unknown activation|act"):
            ntkit.infinite_kernel_fn("swish")

    def test_empirical_kernel_fn(self):
        net = ntkit.Network(8, 50, seed=1)
        kf = ntkit.empirical_kernel_fn(net)
        k = kf(self.Xt, self.X)
        np.testing.assert_array_equal(k.ntk, ntkit.ntk(net, self.Xt, self.X))
        np.testing.assert_array_equal(k.nngp, ntkit.nngp(net, self.Xt, self.X))


if __name__ == "__main__":
    unittest.main()
