"""ntkit.KernelOperator and the operator form of ntkit.predict.

The operator is checked against the stored kernels (ntkit.ntk_inf, ntk,
lin_kernel, themselves tested against numpy elsewhere); the predictors'
operator form against numpy implementations of the published formulas on
the dense kernel (test_predict's references), on small n and at one size
where the dense kernel exceeds the operator's memory limit, so that it runs
matrix-free.

Tolerances.
  Products: an operator sums the same terms as K·U in another order and
  blocking, so |V − K U| <= C·(n + m + d)·ε·(|K| |U|) entrywise (C = 4, as
  tests/test_operator.c derives); float32 storage adds the 2^-24 relative
  rounding of each entry, 2^-24·(|K| |U|).
  Solves: a conjugate-gradient column stops at relative residual
  ‖r_j‖ <= rtol·‖b_j‖, so its error is at most rtol·‖b_j‖/λ_min(K + μI);
  the dense reference (numpy's LU solve, backward stable) is off by about
  n·ε·cond(K + μI)·‖a_j‖. A test prediction k_iᵀa_j then errs by at most
  ‖k_i‖·(either); SOLVE_C = 4 covers the constants of both bounds.
  Flow at finite t (Lanczos): the library's a-posteriori estimate err_est
  of the error relative to ‖r0‖ (test predictions: for test points with
  k(x, x) <= max K_ii, scaled by √(k(x,x)/max K_ii) otherwise); it is an
  estimate of the previous, smaller basis's error (so pessimistic for the
  kept one), and the reference eigendecomposition adds n·ε·‖r0‖.
"""
import unittest

import numpy as np

from helpers import data, ntkit, relu_inf
from test_predict import ref_flow, ref_inf, ref_posterior

P = ntkit.predict
EPS = np.finfo(float).eps
C_ROUND = 4.0
SOLVE_C = 4.0


def scaled_err(A, B, S):
    """max |A − B| / S entrywise (S: the bound's scale, > 0)."""
    return float(np.max(np.abs(A - B) / np.maximum(S, np.finfo(float).tiny)))


class OperatorProducts(unittest.TestCase):
    """Every kind and mode against the stored kernel of the same kind."""

    @classmethod
    def setUpClass(cls):
        cls.n, cls.nt, cls.d, cls.m = 41, 9, 6, 33
        rng = np.random.default_rng(5)
        cls.X = rng.standard_normal((cls.n, cls.d))
        cls.Xt = rng.standard_normal((cls.nt, cls.d))
        cls.U = rng.standard_normal((cls.n, 3))
        cls.net = ntkit.Network(cls.d, cls.m, act="tanh", seed=2)
        tf = ntkit.estimate_trace_factor(cls.X)
        cls.dense = {
            "ntk-inf": lambda X1, X2=None: ntkit.ntk_inf(X1, X2, act="erf"),
            "nngp-inf": lambda X1, X2=None: ntkit.nngp_inf(X1, X2, act="erf"),
            "ntk": lambda X1, X2=None: ntkit.ntk(cls.net, X1, X2),
            "nngp": lambda X1, X2=None: ntkit.nngp(cls.net, X1, X2),
            "lin": lambda X1, X2=None: ntkit.lin_kernel(X1, X2, act="erf", trace_factor=tf),
        }

    def make(self, kind, mode):
        if kind in ("ntk", "nngp"):
            return ntkit.KernelOperator(self.X, kind, net=self.net, mode=mode)
        return ntkit.KernelOperator(self.X, kind, mode=mode, act="erf")

    def test_products_diagonal_cross_columns(self):
        length = self.n + self.m + self.d
        for kind, dense in self.dense.items():
            K, Kt = dense(self.X), dense(self.Xt, self.X)
            for mode in ("dense", "dense-f32", "matrix-free"):
                what = "%s %s" % (kind, mode)
                with self.make(kind, mode) as op:
                    self.assertEqual(op.mode, mode, what)
                    self.assertEqual(op.shape, (self.n, self.n))
                    tol = C_ROUND * length * EPS + (2.0 ** -24 if mode == "dense-f32" else 0)
                    S = np.abs(K) @ np.abs(self.U)
                    self.assertLessEqual(scaled_err(op @ self.U, K @ self.U, S), tol, what)
                    # a vector keeps its shape
                    v = op.apply(self.U[:, 0])
                    self.assertEqual(v.shape, (self.n,))
                    St = np.abs(Kt) @ np.abs(self.U)
                    self.assertLessEqual(scaled_err(op.cross(self.Xt, self.U), Kt @ self.U, St),
                                         C_ROUND * length * EPS, what + " cross")
                    D = np.abs(np.diag(K)).max()
                    self.assertLessEqual(np.abs(op.diag() - np.diag(K)).max(),
                                         C_ROUND * length * EPS * D, what + " diag")
                    idx = [0, 7, self.n - 1]
                    self.assertLessEqual(np.abs(op.columns(idx) - K[:, idx]).max(),
                                         (tol + C_ROUND * length * EPS) * np.abs(K[:, idx]).max(),
                                         what + " columns")
                    # the same kernel stored on other points
                    self.assertLessEqual(np.abs(op.block(self.Xt, self.X) - Kt).max(),
                                         C_ROUND * length * EPS * np.abs(Kt).max(), what)
                    np.testing.assert_allclose(op.block(self.Xt, diagonal=True),
                                               np.diag(dense(self.Xt)),
                                               rtol=C_ROUND * length * EPS)

    def test_layer_pair_weighs_the_layers(self):
        c1, c2 = 0.3, 2.0
        K = c1 * ntkit.ntk_inf(self.X, layer="first") + c2 * ntkit.ntk_inf(self.X, layer="second")
        op = ntkit.KernelOperator(self.X, "ntk-inf", layer=(c1, c2), mode="matrix-free")
        S = np.abs(K) @ np.abs(self.U)
        self.assertLessEqual(scaled_err(op @ self.U, K @ self.U, S),
                             C_ROUND * (self.n + self.d + 1) * EPS)

    def test_weights_are_copied(self):
        net = ntkit.Network(self.d, self.m, seed=4)
        K0 = ntkit.ntk(net, self.X)
        op = ntkit.KernelOperator(self.X, "ntk", net=net, mode="matrix-free")
        X, y = data(30, self.d, seed=1)
        net.train(X, y, 1.0, 1.0, 20)
        self.assertGreater(np.abs(ntkit.ntk(net, self.X) - K0).max(), 1e-6)  # training moved it
        S = np.abs(K0) @ np.abs(self.U)
        self.assertLessEqual(scaled_err(op @ self.U, K0 @ self.U, S),
                             C_ROUND * (self.n + self.m + self.d) * EPS)

    def test_auto_mode_follows_the_memory_limit(self):
        n = 300                                  # the stored kernel: 8·n² = 720 000 bytes
        X = np.random.default_rng(0).standard_normal((n, 4))
        self.assertEqual(ntkit.KernelOperator(X, mem_limit=2 << 20).mode, "dense")
        self.assertEqual(ntkit.KernelOperator(X, mem_limit=500_000).mode, "matrix-free")
        with self.assertRaisesRegex(MemoryError, r"dense kernel operator on n = 300 .*GiB"):
            ntkit.KernelOperator(X, mode="dense", mem_limit=500_000)
        self.assertEqual(ntkit.KernelOperator.mem_bytes(n, 4, mode="dense"), 8 * n * n)
        self.assertLess(ntkit.KernelOperator.mem_bytes(n, 4, mode="matrix-free"), 8 * n * n)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "kernel must be one of"):
            ntkit.KernelOperator(self.X, "rbf")
        with self.assertRaisesRegex(ValueError, "mode must be one of"):
            ntkit.KernelOperator(self.X, mode="sparse")
        with self.assertRaisesRegex(ValueError, "pass net="):
            ntkit.KernelOperator(self.X, "ntk")
        with self.assertRaisesRegex(ValueError, "does not use it"):
            ntkit.KernelOperator(self.X, "ntk-inf", net=self.net)
        with self.assertRaisesRegex(ValueError, "act: the empirical kernel takes these from net"):
            ntkit.KernelOperator(self.X, "ntk", net=self.net, act="relu")
        with self.assertRaisesRegex(ValueError, "X has 5 columns, expected 6"):
            ntkit.KernelOperator(self.X[:, :5], "ntk", net=self.net)
        op = ntkit.KernelOperator(self.X)
        with self.assertRaisesRegex(ValueError, "X_test has 5 columns"):
            op.cross(self.Xt[:, :5], self.U)
        with self.assertRaisesRegex(ValueError, "U has 40 rows, expected 41"):
            op.apply(self.U[:40])
        with self.assertRaisesRegex(ValueError, r"idx must lie in \[0, n = 41\), got 41"):
            op.columns([0, 41])
        bad = self.X.copy()
        bad[3, 2] = np.nan
        with self.assertRaises(ntkit.NonFiniteError):
            ntkit.KernelOperator(bad)
        op.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            op.diag()


class OperatorSolve(unittest.TestCase):
    """KernelOperator.solve against numpy's dense solve."""

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(8)
        cls.X = rng.standard_normal((150, 5))
        cls.Y = rng.standard_normal((150, 2))
        cls.K = relu_inf(cls.X, cls.X)[0] + relu_inf(cls.X, cls.X)[1]   # the relu NTK, numpy

    def check_solution(self, A, ridge, rtol):
        Kr = self.K + ridge * np.eye(len(self.K))
        lam = np.linalg.eigvalsh(Kr)
        ref = np.linalg.solve(Kr, self.Y)
        for j in range(self.Y.shape[1]):
            bound = SOLVE_C * (rtol * np.linalg.norm(self.Y[:, j]) / lam[0] +
                               len(Kr) * EPS * lam[-1] / lam[0] * np.linalg.norm(ref[:, j]))
            self.assertLessEqual(np.linalg.norm(A[:, j] - ref[:, j]), bound)

    def test_against_dense_solve(self):
        for mode in ("dense", "matrix-free"):
            op = ntkit.KernelOperator(self.X, mode=mode)
            for ridge, rank in ((1e-2, 0), (1e-3, 20), (0.0, "auto")):
                A = op.solve(self.Y, ridge, rtol=1e-10, precond_rank=rank)
                self.assertLessEqual(op.info["residual"], 1e-10)
                self.check_solution(A, ridge, 1e-10)
            # a vector right-hand side keeps its shape
            self.assertEqual(op.solve(self.Y[:, 0], 0.1).shape, (150,))

    def test_preconditioner_cuts_iterations(self):
        op = ntkit.KernelOperator(self.X, mode="matrix-free")
        op.solve(self.Y, 1e-3, rtol=1e-8, precond_rank=0)
        plain = op.info["iterations"]
        op.solve(self.Y, 1e-3, rtol=1e-8, precond_rank=60)
        self.assertEqual(op.info["precond_rank"], 60)
        self.assertLess(op.info["iterations"], plain)

    def test_iteration_limit(self):
        op = ntkit.KernelOperator(self.X, mode="matrix-free")
        with self.assertRaises(ntkit.ConvergenceError) as cm:
            op.solve(self.Y, 1e-4, rtol=1e-12, max_iter=3, precond_rank=0)
        e = cm.exception
        self.assertIn("max_iter", str(e))
        self.assertEqual(e.status, "NTK_ERR_NOCONV")
        self.assertEqual(e.partial.shape, self.Y.shape)
        self.assertGreater(e.info["residual"], 1e-12)
        self.assertLessEqual(e.info["iterations"], 3)

    def test_indefinite_kernel(self):
        # Θ1 − 5·Θ2 of a network is indefinite: conjugate gradients meet negative curvature
        net = ntkit.Network(5, 16, seed=1)
        op = ntkit.KernelOperator(self.X, "ntk", net=net, layer=(1.0, -5.0))
        with self.assertRaisesRegex(np.linalg.LinAlgError, "not positive definite"):
            op.solve(self.Y, 0.0, precond_rank=0)

    def test_bad_arguments(self):
        op = ntkit.KernelOperator(self.X)
        with self.assertRaisesRegex(ValueError, "rtol"):
            op.solve(self.Y, 0.1, rtol=2.0)
        with self.assertRaisesRegex(ValueError, "ridge"):
            op.solve(self.Y, -1.0)
        with self.assertRaisesRegex(ValueError, "precond_rank"):
            op.solve(self.Y, 0.1, precond_rank=151)
        with self.assertRaisesRegex(ValueError, "precond_rank must be 'auto'"):
            op.solve(self.Y, 0.1, precond_rank="full")


class PredictOperatorForm(unittest.TestCase):
    """gradient_descent_mse and gp_inference with KernelOperators against the
    numpy references on the dense kernels."""

    @classmethod
    def setUpClass(cls):
        rng = np.random.default_rng(21)
        n, d, nt = 120, 7, 11
        cls.X, cls.Xt = rng.standard_normal((n, d)), rng.standard_normal((nt, d))
        cls.y = rng.standard_normal((n, 2))
        cls.f0, cls.f0t = rng.standard_normal((n, 2)) / 3, rng.standard_normal((nt, 2)) / 3
        kf = ntkit.infinite_kernel_fn("erf")
        cls.kd, cls.kt, cls.ktt = kf(cls.X), kf(cls.Xt, cls.X), kf(cls.Xt)
        cls.ops = {mode: ntkit.Kernel(
            nngp=ntkit.KernelOperator(cls.X, "nngp-inf", act="erf", mode=mode),
            ntk=ntkit.KernelOperator(cls.X, "ntk-inf", act="erf", mode=mode))
            for mode in ("dense", "matrix-free")}

    def solve_bound(self, K, reg, B, Kt, rtol):
        """Per test point and column: ‖k_i‖·SOLVE_C·(rtol‖b_j‖/λ_min + n·ε·cond·‖a_j‖)."""
        Kr = K + reg * np.mean(np.diag(K)) * np.eye(len(K))
        lam = np.linalg.eigvalsh(Kr)
        B = B.reshape(len(K), -1)
        a = np.linalg.solve(Kr, B)
        col = SOLVE_C * (rtol * np.linalg.norm(B, axis=0) / lam[0] +
                         len(K) * EPS * lam[-1] / lam[0] * np.linalg.norm(a, axis=0))
        return np.outer(np.linalg.norm(Kt, axis=1), col)

    def test_gradient_descent_mse_at_infinity(self):
        K, Kt = self.kd.ntk, self.kt.ntk
        for mode, ops in self.ops.items():
            for reg in (0.0, 1e-2):
                pf = P.gradient_descent_mse(ops.ntk, self.y, diag_reg=reg, cg_rtol=1e-10,
                                            precond_rank=10)
                ftr, fte = pf(None, self.f0, self.f0t, x_test=self.Xt)
                np.testing.assert_array_equal(ftr, self.y)
                ref = ref_inf(K, self.y, self.f0, self.f0t, Kt, reg)
                bound = self.solve_bound(K, reg, self.y - self.f0, Kt, 1e-10)
                self.assertTrue(np.all(np.abs(fte - ref) <= bound), "%s reg %g" % (mode, reg))
                # a given cross kernel in place of x_test: the same numbers
                np.testing.assert_allclose(pf(None, self.f0, self.f0t, k_test_train=Kt)[1], fte,
                                           rtol=0, atol=np.max(bound))
                self.assertLessEqual(pf.info()["cg"]["residual"], 1e-10)

    def test_gradient_descent_mse_at_finite_times(self):
        K, Kt = self.kd.ntk, self.kt.ntk
        ts = np.array([[0.0, 3.0], [40.0, 900.0]])
        r0 = np.linalg.norm(self.y - self.f0)
        kscale = np.sqrt(max(1.0, np.max(np.diag(self.ktt.ntk)) / np.max(np.diag(K))))
        for mode, ops in self.ops.items():
            for lr, reg in ((1.0, 0.0), (2.0, 1e-2)):
                pf = P.gradient_descent_mse(ops.ntk, self.y, learning_rate=lr, diag_reg=reg,
                                            cg_rtol=1e-10, precond_rank=10)
                ftr, fte = pf(ts, self.f0, self.f0t, x_test=self.Xt)
                self.assertEqual(ftr.shape, ts.shape + self.y.shape)
                self.assertEqual(fte.shape, ts.shape + self.f0t.shape)
                info = pf.info()
                self.assertEqual(info["flow"]["method"], "eig" if mode == "dense" else "krylov")
                flow_err = (info["flow"]["err_est"] + len(K) * EPS) * r0
                knorm = np.linalg.norm(Kt, axis=1)[:, None]
                for idx in np.ndindex(ts.shape):
                    t = ts[idx]
                    rtr, rte = ref_flow(K, self.y, self.f0, self.f0t, Kt, t, lr, reg)
                    what = "%s lr %g reg %g t %g" % (mode, lr, reg, t)
                    self.assertLessEqual(np.abs(ftr[idx] - rtr).max(), SOLVE_C * flow_err, what)
                    # test points: the estimate (in the kernel norm, for k(x, x) <= max K_ii),
                    # and the rounding of h_t(K) r0, ‖h_t‖ <= r·t (r = lr/N), through k_i
                    rate_t = lr * t / self.y.size
                    tol = SOLVE_C * (info["flow"]["err_est"] * r0 * kscale +
                                     knorm * len(K) * EPS * rate_t * r0)
                    if reg:
                        # one CG solve on r0 − e^{−rtμ}e^{−rtK}r0, whose inputs carry the
                        # flow's error through (K + μI)⁻¹ too
                        lam0 = np.linalg.eigvalsh(K)[0] + reg * np.mean(np.diag(K))
                        B = (self.y - self.f0) - (self.y - rtr)
                        tol = self.solve_bound(K, reg, B, Kt, 1e-10) + \
                            knorm * SOLVE_C * flow_err / lam0
                    self.assertTrue(np.all(np.abs(fte[idx] - rte) <= tol), what)

    def test_gradient_descent_mse_test_only_and_shapes(self):
        ops = self.ops["matrix-free"]
        pf = P.gradient_descent_mse(ops.ntk, self.y[:, 0])
        fte = pf(5.0, None, 0.0, x_test=self.Xt)
        self.assertEqual(fte.shape, (11,))
        both = pf(np.zeros(3), 0.5, 0.0, x_test=self.Xt)   # t = 0: the starting values
        np.testing.assert_array_equal(both[0], np.full((3, 120), 0.5))
        np.testing.assert_array_equal(both[1], np.zeros((3, 11)))
        with self.assertRaisesRegex(ValueError, "fx_test_0 needs x_test"):
            pf(1.0, 0.0, 0.0)
        with self.assertRaisesRegex(ValueError, "x_test is given but fx_test_0 is None"):
            pf(1.0, 0.0, x_test=self.Xt)
        with self.assertRaisesRegex(ValueError, "not both"):
            pf(1.0, 0.0, 0.0, k_test_train=self.kt.ntk, x_test=self.Xt)
        with self.assertRaisesRegex(ValueError, "x_test needs k_train_train as an ntkit"):
            P.gradient_descent_mse(self.kd.ntk, self.y)(1.0, 0.0, 0.0, x_test=self.Xt)
        with self.assertRaisesRegex(ValueError, "cg_rtol"):
            P.gradient_descent_mse(ops.ntk, self.y, cg_rtol=0.0)

    def test_gp_inference_means_and_covariances(self):
        names = ("nngp", "ntk", "ntkgp")
        reg, rtol = 1e-2, 1e-12
        for mode, ops in self.ops.items():
            pf = P.gp_inference(ops, self.y, diag_reg=reg, cg_rtol=rtol, precond_rank=10)
            full = pf(names, k_test_test=True, x_test=self.Xt)
            diag = pf(names, k_test_test="diagonal", x_test=self.Xt)
            mean_only = pf("ntk", x_test=self.Xt)
            for g in names:
                what = "%s %s" % (mode, g)
                mref, cref = ref_posterior(self.kd, self.kt, self.ktt, self.y, g, reg)
                T = self.kd.nngp if g == "nngp" else self.kd.ntk
                Tt = self.kt.nngp if g == "nngp" else self.kt.ntk
                bound = self.solve_bound(T, reg, self.y, Tt, rtol)
                self.assertTrue(np.all(np.abs(getattr(full, g).mean - mref) <= bound), what)
                # covariance: each solved column carries its relative error
                # (rtol + n·ε)·cond into terms of size |cross|·|solution|
                Tr = T + reg * np.mean(np.diag(T)) * np.eye(len(T))
                cond = np.linalg.cond(Tr)
                self.assertLess(cond, 1e6)
                rel = SOLVE_C * (rtol + len(T) * EPS) * cond
                Kn_t = self.kt.nngp
                scale = np.abs(Tt) @ np.abs(np.linalg.solve(Tr, (Kn_t if g != "ntkgp" else
                                                                 Tt).T))
                if g == "ntk":
                    A = np.linalg.solve(Tr, Tt.T)
                    scale = 2 * scale + np.abs(A.T) @ np.abs(self.kd.nngp) @ np.abs(A)
                err = np.abs(getattr(full, g).covariance - cref)
                self.assertTrue(np.all(err <= rel * scale + C_ROUND * len(T) * EPS *
                                       np.abs(cref).max()), what)
                np.testing.assert_allclose(getattr(diag, g).covariance,
                                           np.diag(getattr(full, g).covariance), rtol=0,
                                           atol=float(np.max(np.diag(rel * scale))) +
                                           C_ROUND * len(T) * EPS * np.abs(cref).max())
            np.testing.assert_array_equal(mean_only, full.ntk.mean)

    def test_gp_inference_given_test_kernels_and_training_points(self):
        ops = self.ops["dense"]
        pf = P.gp_inference(ops, self.y, diag_reg=1e-2, cg_rtol=1e-12)
        by_x = pf("nngp", k_test_test=True, x_test=self.Xt)
        by_k = pf("nngp", self.kt, self.ktt)
        np.testing.assert_allclose(by_k.mean, by_x.mean, rtol=0, atol=1e-9)
        np.testing.assert_allclose(by_k.covariance, by_x.covariance, rtol=0, atol=1e-9)
        # the diagonal given as 1-d test-test kernels: variances alone
        d = pf("nngp", self.kt, ntkit.Kernel(nngp=np.diag(self.ktt.nngp)))
        np.testing.assert_allclose(d.covariance, np.diag(by_k.covariance), rtol=0, atol=1e-9)
        train = pf("ntk", k_test_test="diagonal")
        np.testing.assert_array_equal(train.mean, self.y)
        np.testing.assert_array_equal(train.covariance, np.zeros(120))
        with self.assertRaisesRegex(ValueError, "pass x_test"):
            pf("nngp", self.kt, True)
        with self.assertRaisesRegex(ValueError, "mixes a KernelOperator and an array"):
            P.gp_inference(ntkit.Kernel(nngp=self.kd.nngp, ntk=ops.ntk), self.y)
        with self.assertRaisesRegex(ValueError, "k_train_train.nngp is None"):
            P.gp_inference(ntkit.Kernel(ntk=ops.ntk), self.y)("nngp", x_test=self.Xt)


class BeyondTheMemoryLimit(unittest.TestCase):
    """A size where the stored kernel (8·n² = 8 MB) exceeds the operator's
    memory limit (2 MiB): "auto" goes matrix-free, "dense" is refused, and the
    predictions still match numpy's on the dense relu NTK."""

    def test_predictions_matrix_free(self):
        n, d, nt = 1000, 8, 40
        rng = np.random.default_rng(3)
        X, Xt = rng.standard_normal((n, d)), rng.standard_normal((nt, d))
        y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(n)
        limit = 2 << 20
        with self.assertRaisesRegex(MemoryError, "n = 1000"):
            ntkit.KernelOperator(X, "ntk-inf", mode="dense", mem_limit=limit)
        op = ntkit.KernelOperator(X, "ntk-inf", mem_limit=limit)
        self.assertEqual(op.mode, "matrix-free")
        K = sum(relu_inf(X, X))
        Kt = sum(relu_inf(Xt, X))
        reg, rtol = 1e-2, 1e-10
        pf = P.gradient_descent_mse(op, y, diag_reg=reg, cg_rtol=rtol, precond_rank=50)
        fte = pf(None, None, 0.0, x_test=Xt)
        ref = ref_inf(K, y, 0.0, 0.0, Kt, reg)
        Kr = K + reg * np.mean(np.diag(K)) * np.eye(n)
        lam = np.linalg.eigvalsh(Kr)
        a = np.linalg.solve(Kr, y)
        bound = np.linalg.norm(Kt, axis=1) * SOLVE_C * (
            rtol * np.linalg.norm(y) / lam[0] + n * EPS * lam[-1] / lam[0] * np.linalg.norm(a))
        self.assertTrue(np.all(np.abs(fte - ref) <= bound))
        # finite t without a ridge: Lanczos on the matrix-free operator
        pf0 = P.gradient_descent_mse(op, y)
        ftr, fte = pf0(50.0, 0.0, 0.0, x_test=Xt)
        rtr, rte = ref_flow(K, y, 0.0, 0.0, Kt, 50.0)
        info = pf0.info()["flow"]
        self.assertEqual(info["method"], "krylov")
        r0 = np.linalg.norm(y)
        # the relu NTK's k(x, x) grows as ‖x‖²
        kscale = np.sqrt(max(1.0, np.max(np.sum(Xt ** 2, 1)) / np.max(np.sum(X ** 2, 1))))
        self.assertLessEqual(np.abs(ftr - rtr).max(), SOLVE_C * (info["err_est"] + n * EPS) * r0)
        tol = SOLVE_C * (info["err_est"] * r0 * kscale +
                         np.linalg.norm(Kt, axis=1) * n * EPS * 50.0 / n * r0)
        self.assertTrue(np.all(np.abs(fte - rte) <= tol))


if __name__ == "__main__":
    unittest.main()
