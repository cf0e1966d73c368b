"""Depth in the Python package (docs/depth.md): ntkit.Network with L hidden layers,
biases, σ_w and both parameterisations; its outputs, gradient, training with one
rate per layer, empirical NTK, linearization and kernel operator; the
infinite-width kernels at depth.

The oracle is the deep network written out below in numpy (Ref), independently
of the library: the forward pass, the per-sample Jacobian J (n, P) by the chain
rule, the loss gradient Jᵀr and the NTK J Jᵀ, each with a first-order bound on
its own rounding error, propagated layer by layer. The library computes the
same quantities in another order, so its error has the same kind of bound:
the two agree within twice the bound (each side at most the bound from the
exact value). Each comparison also checks that its bound is below 1e-11 of the
quantity's scale, so that a tolerance never swallows a real difference, and
the Jacobian itself is checked against central differences. The
infinite-width kernels are checked against the arc-cosine closed forms (Cho
and Saul 2009) in the layer recursion, written out in numpy, and at depth 1
against the two-layer kernels of ntkit.ntk_inf.
"""
import os
import subprocess
import unittest

import numpy as np

from helpers import CLI, HAVE_CLI, PHI, TempDir, cli_run, ntkit, read_csv

U = 2.0 ** -53   # unit roundoff of float64
# The activations' own errors, in units of u: the library's φ within 7 ulp and φ'
# within 6 ulp (src/activation.c, "accuracy"; an ulp is at most 2u relative), libm's
# and numpy's within 2 ulp: 16u covers either side.
C_ACT = 16
# Lipschitz constants (sup|φ'|, sup|φ''|) that carry an error in h into φ(h) and
# φ'(h): relu 1 and 0 (its φ' is constant away from the kink; Ref.check_kinks makes
# sure no pre-activation is within rounding of it), tanh 1 and 4/(3√3),
# erf 2/√π and 2√2/(√π·e^{1/2}).
LIP = {"relu": (1.0, 0.0), "tanh": (1.0, 0.77), "erf": (2 / np.sqrt(np.pi), 0.97)}


class Ref:
    """The deep network of docs/depth.md in numpy, on the parameters `params` (the
    list of (W_l, b_l or None) that Network.params gives):

        h_1 = κ_1 W_1 x + β b_1,  h_{l+1} = κ_{l+1} W_{l+1} φ(h_l) + β b_{l+1},  f = α h_{L+1},

    κ_1 = σ_w/s, κ_l = σ_w/√m_{l−1}, β = σ_b in the ntk parameterisation, κ = β = 1
    in the standard one. Each result comes with e*, a first-order bound on the
    rounding error of this computation (the same form bounds the library's)."""

    def __init__(self, params, act, alpha=1.0, s=1.0, sw=1.0, sb=0.0, param="ntk"):
        self.params, self.act, self.alpha = params, act, alpha
        self.L = len(params) - 1
        if param == "ntk":
            self.kappa = [sw / s if l == 0 else sw / np.sqrt(W.shape[1])
                          for l, (W, _) in enumerate(params)]
            self.beta = sb
        else:
            self.kappa, self.beta = [1.0] * len(params), 1.0

    def forward(self, X):
        """f (n,) and its bound ef; keeps h_l, a_l and their bounds for jacobian()."""
        phi, _ = PHI[self.act]
        lip1 = LIP[self.act][0]
        a, ea = X, np.zeros_like(X)
        self.H, self.EH, self.A, self.EA = [], [], [X], [ea]
        for l, (W, b) in enumerate(self.params):
            k = self.kappa[l]
            h = k * (a @ W.T)
            mag = abs(k) * (np.abs(a) @ np.abs(W).T)
            if b is not None:
                h = h + self.beta * b
                mag = mag + abs(self.beta * b)
            # a dot product of fan-in terms, the factor κ and the bias: fan-in + 3 roundings
            eh = (W.shape[1] + 3) * U * mag + abs(k) * (ea @ np.abs(W).T)
            self.H.append(h)
            self.EH.append(eh)
            if l < self.L:
                a = phi(h)
                ea = C_ACT * U * np.abs(a) + lip1 * eh
                self.A.append(a)
                self.EA.append(ea)
        f = self.alpha * h[:, 0]
        return f, abs(self.alpha) * eh[:, 0] + U * np.abs(f)

    def check_kinks(self, test):
        """relu's φ' jumps at 0: every pre-activation must be farther from 0 than both
        sides' rounding bound, so that the two computations take the same branch."""
        if self.act == "relu":
            for h, eh in zip(self.H[:-1], self.EH[:-1]):
                test.assertTrue(np.all(np.abs(h) > 2 * eh), "a pre-activation at relu's kink")

    def jacobian(self, X):
        """J (n, P) = ∂f/∂θ per sample in the layout of Network.theta, and its bound."""
        f, ef = self.forward(X)
        _, dphi = PHI[self.act]
        lip2 = LIP[self.act][1]
        n = X.shape[0]
        delta, ed = np.full((n, 1), self.alpha), np.zeros((n, 1))
        blocks = [None] * (self.L + 1)
        for l in range(self.L, -1, -1):
            W, b = self.params[l]
            k, a, ea = self.kappa[l], self.A[l], self.EA[l]
            JW = (k * delta)[:, :, None] * a[:, None, :]
            eJW = (2 * U * np.abs(JW) + abs(k) * (ed[:, :, None] * np.abs(a)[:, None, :] +
                                                  np.abs(delta)[:, :, None] * ea[:, None, :]))
            J, eJ = [JW.reshape(n, -1)], [eJW.reshape(n, -1)]
            if b is not None:
                J.append(self.beta * delta)
                eJ.append(U * np.abs(self.beta * delta) + abs(self.beta) * ed)
            blocks[l] = (np.hstack(J), np.hstack(eJ))
            if l > 0:
                t = k * (delta @ W)
                et = ((W.shape[0] + 2) * U * abs(k) * (np.abs(delta) @ np.abs(W)) +
                      abs(k) * (ed @ np.abs(W)))
                dp = dphi(self.H[l - 1])
                delta = dp * t
                ed = (np.abs(dp) * et + (C_ACT * U * np.abs(dp) + lip2 * self.EH[l - 1]) * np.abs(t)
                      + U * np.abs(delta))
        self.blocks = blocks
        return np.hstack([j for j, _ in blocks]), np.hstack([e for _, e in blocks]), f, ef

    def loss_grad(self, X, y, loss="mean", f0=None, ef0=0.0):
        """Loss, ∇_θ L = c·Jᵀr (r = f − f0 − y) and their bounds."""
        J, eJ, f, ef = self.jacobian(X)
        n = X.shape[0]
        c = 1.0 / n if loss == "mean" else 1.0
        g_f = f if f0 is None else f - f0
        r = g_f - y
        er = ef + ef0 + 2 * U * np.abs(r)
        g = c * (J.T @ r)
        eg = c * (eJ.T @ np.abs(r) + np.abs(J).T @ er + (n + 2) * U * (np.abs(J).T @ np.abs(r)))
        Lo = 0.5 * c * np.sum(r * r)
        eLo = c * np.sum(np.abs(r) * er) + (n + 3) * U * Lo
        return Lo, eLo, g, eg, g_f

    def ntk(self, X1, X2=None, weights=None):
        """Σ_l w_l J_l(X1) J_l(X2)ᵀ (layer l's columns of J) and its bound."""
        self.jacobian(X1)
        B1 = self.blocks
        B2 = B1
        if X2 is not None:
            self.jacobian(X2)
            B2 = self.blocks
        w = [1.0] * (self.L + 1) if weights is None else weights
        K = 0.0
        eK = 0.0
        for wl, (J1, e1), (J2, e2) in zip(w, B1, B2):
            Kl = J1 @ J2.T
            mag = np.abs(J1) @ np.abs(J2).T
            K = K + wl * Kl
            eK = eK + abs(wl) * (e1 @ np.abs(J2).T + np.abs(J1) @ e2.T +
                                 (J1.shape[1] + 4) * U * mag)
        eK = eK + (self.L + 2) * U * np.abs(K)
        return K, eK


def ref_of(net, act="relu", alpha=1.0, s=1.0, sw=1.0, sb=0.0, param="ntk"):
    return Ref(net.params, act, alpha, s, sw, sb, param)


def inputs(n=6, d=5, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


# the configurations of the comparisons: activation, parameterisation, σ_w, σ_b,
# widths (different per layer), input scale and α
CASES = [
    ("relu", "ntk", 1.0, 0.0, [7], "sqrt_d", 1.0),
    ("relu", "ntk", 1.4, 0.3, [7, 5], "sqrt_d", 1.0),
    ("tanh", "standard", 1.2, 0.5, [6, 4, 5], "one", 0.7),
    ("erf", "ntk", 0.9, 0.2, [5, 8, 6], "sqrt_d", 1.5),
    ("erf", "standard", 1.0, 0.0, [6, 4], "sqrt_d", 1.0),
    ("tanh", "ntk", 1.3, 0.0, [4, 6], "one", 1.0),
    ("relu", "standard", 1.5, 0.4, [8, 6, 4], "sqrt_d", 2.0),
]


def make(case, d=5, seed=3, **kw):
    act, param, sw, sb, widths, scale_, alpha = case
    net = ntkit.Network(d, widths[0], act=act, depth=len(widths), widths=widths, weight_std=sw,
                        bias_std=sb, parameterization=param, input_scale=scale_, alpha=alpha,
                        seed=seed, **kw)
    s = np.sqrt(d) if scale_ == "sqrt_d" else 1.0
    return net, dict(act=act, alpha=alpha, s=s, sw=sw, sb=sb, param=param)


class Case(unittest.TestCase):
    def assert_within(self, got, want, bound, what, scale=None):
        """|got − want| <= 2·bound elementwise (both sides within bound of the exact
        value), and the bound below 1e-11 of the quantity's scale (not vacuous)."""
        got, want, bound = np.asarray(got), np.asarray(want), np.asarray(bound)
        scale = np.max(np.abs(want)) if scale is None else scale
        self.assertLess(np.max(bound), 1e-11 * scale, "%s: the bound is too loose to test" % what)
        err = np.abs(got - want)
        worst = np.unravel_index(np.argmax(err - 2 * bound), err.shape) if err.ndim else ()
        self.assertTrue(np.all(err <= 2 * bound),
                        "%s: |difference| %.3g exceeds 2 x bound %.3g at %s"
                        % (what, err[worst], 2 * bound[worst], worst))


class Network(Case):
    def test_params_layout_and_copies(self):
        net = ntkit.Network(4, 6, depth=3, widths=[6, 5, 2], bias_std=0.5, seed=1)
        self.assertTrue(net.is_deep)
        self.assertEqual((net.depth, net.widths), (3, [6, 5, 2]))
        shapes = [(W.shape, None if b is None else b.shape) for W, b in net.params]
        self.assertEqual(shapes, [((6, 4), (6,)), ((5, 6), (5,)), ((2, 5), (2,)), ((1, 2), (1,))])
        self.assertEqual(net.nparams, 6 * 4 + 6 + 5 * 6 + 5 + 2 * 5 + 2 + 2 + 1)
        theta = net.theta
        flat = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in net.params])
        np.testing.assert_array_equal(flat, theta)
        # copies: changing them leaves the network alone
        p = net.params
        p[0][0][:] = 0.0
        np.testing.assert_array_equal(net.theta, theta)
        np.testing.assert_array_equal(net.theta0, theta)
        # set_params and theta round-trip, reset goes back to θ0
        q = [(W * 2, b - 1) for W, b in net.params]
        net.set_params(q)
        for (W, b), (W2, b2) in zip(net.params, q):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(b, b2)
        np.testing.assert_array_equal(net.params0[2][1], ntkit.Network(
            4, 6, depth=3, widths=[6, 5, 2], bias_std=0.5, seed=1).params[2][1])
        net.reset()
        np.testing.assert_array_equal(net.theta, theta)
        # no biases: b_l is None
        self.assertTrue(all(b is None for _, b in ntkit.Network(3, 4, depth=2).params))

    def test_two_layer_is_unchanged(self):
        net = ntkit.Network(4, 6, seed=2)
        self.assertFalse(net.is_deep)
        (W, b1), (V, b2) = net.params
        np.testing.assert_array_equal(W, net.W)
        np.testing.assert_array_equal(V, net.v[None, :])
        self.assertIsNone(b1)
        np.testing.assert_array_equal(net.theta, np.concatenate([net.W.ravel(), net.v]))
        # widths=[m] at depth 1 is the same two-layer network
        same = ntkit.Network(4, 99, widths=[6], seed=2)
        self.assertFalse(same.is_deep)
        np.testing.assert_array_equal(same.theta, net.theta)
        # per-layer rates [a, b] are lr1 = a, lr2 = b, bit for bit
        X = inputs(8, 4)
        y = X[:, 0]
        h1 = ntkit.Network(4, 6, seed=2).train(X, y, lr1=0.3, lr2=0.2, steps=4)
        n2 = ntkit.Network(4, 6, seed=2)
        h2 = n2.train(X, y, lrs=[0.3, 0.2], steps=4)
        for k in h1:
            np.testing.assert_array_equal(h1[k], h2[k])
        # layer numbers are the two-layer kernel's "first" and "second"
        np.testing.assert_array_equal(ntkit.ntk(net, X, layer=1), ntkit.ntk(net, X, layer="first"))
        np.testing.assert_array_equal(ntkit.ntk(net, X, layer=[0.5, 2.0]),
                                      ntkit.ntk(net, X, layer=(0.5, 2.0)))

    def test_forward_against_reference(self):
        X = inputs(9, 5)
        for case in CASES:
            with self.subTest(case=case):
                net, kw = make(case)
                net.theta = net.theta * (1 + 0.1 * np.sin(np.arange(net.nparams)))   # not at θ0
                ref = ref_of(net, **kw)
                f, ef = ref.forward(X)
                self.assert_within(net(X), f, ef, "f", np.max(np.abs(f)))
                # the comparison sees a relative change of 1e-9 in the output (α)
                bad = dict(kw, alpha=kw["alpha"] * (1 + 1e-9))
                f_bad, _ = ref_of(net, **bad).forward(X)
                self.assertFalse(np.all(np.abs(net(X) - f_bad) <= 2 * ef))

    def test_standard_and_ntk_are_the_same_function_at_init(self):
        # the standard draw is the ntk draw scaled by σ_w c_l (weights) and σ_b (biases)
        X = inputs(7, 5)
        for act in ("relu", "tanh"):
            a = ntkit.Network(5, 6, act=act, depth=3, widths=[6, 4, 5], weight_std=1.3,
                              bias_std=0.2, seed=9)
            b = ntkit.Network(5, 6, act=act, depth=3, widths=[6, 4, 5], weight_std=1.3,
                              bias_std=0.2, seed=9, parameterization="standard")
            f, ef = ref_of(a, act, s=np.sqrt(5), sw=1.3, sb=0.2).forward(X)
            f2, ef2 = ref_of(b, act, s=np.sqrt(5), sw=1.3, sb=0.2, param="standard").forward(X)
            # the scaling adds one rounding per weight: 2u·|term|, within the bounds' slack
            self.assert_within(a(X), b(X), ef + ef2, "ntk vs standard at init", np.max(np.abs(f)))
            for (W, bb), (W2, bb2), k in zip(a.params, b.params, [1.3 / np.sqrt(5), 1.3 / np.sqrt(6),
                                                                  1.3 / 2, 1.3 / np.sqrt(5)]):
                np.testing.assert_allclose(W2, k * W, rtol=4 * U, atol=0)
                np.testing.assert_allclose(bb2, 0.2 * bb, rtol=4 * U, atol=0)

    def test_symmetric_and_centred(self):
        X = inputs(6, 5)
        net = ntkit.Network(5, 4, depth=2, widths=[5, 6], bias_std=0.3, init="symmetric", seed=4)
        (_, _), (W2, b2), (W3, b3) = net.params
        np.testing.assert_array_equal(W2[3:], W2[:3])
        np.testing.assert_array_equal(b2[3:], b2[:3])
        np.testing.assert_array_equal(W3[0, 3:], -W3[0, :3])
        f, ef = ref_of(net, sb=0.3, s=np.sqrt(5)).forward(X)
        # f(x; θ0) = β b_3 exactly in exact arithmetic; the pairs cancel to rounding
        self.assert_within(net(X), 0.3 * b3[0] * np.ones(6), ef, "symmetric init", 1.0)
        # the centred model is 0 at θ0 and f(θ) − f(θ0) after
        c = ntkit.Network(5, 4, depth=2, widths=[5, 6], bias_std=0.3, centered=True, seed=4)
        np.testing.assert_array_equal(c(X), np.zeros(6))
        sign = ntkit.Network(5, 4, depth=2, init="sign", seed=4)
        self.assertTrue(np.all(np.abs(sign.params[-1][0]) == 1.0))

    def test_jacobian_reference_against_central_differences(self):
        # the oracle's own check: J·v against (f(θ + εv) − f(θ − εv))/(2ε). Truncation of
        # the central difference is O(ε²); step doubling estimates it as (4/3)|D(ε) − D(ε/2)|
        # (3x for the estimate's own error), and rounding adds at most ef/ε per difference.
        X = inputs(5, 5)
        rng = np.random.default_rng(5)
        for case in CASES:
            with self.subTest(case=case):
                net, kw = make(case)
                ref = ref_of(net, **kw)
                J, _, f, ef = ref.jacobian(X)
                ref.check_kinks(self)
                v = rng.standard_normal(net.nparams)
                v /= np.linalg.norm(v)

                def fd(eps):
                    net.theta = net.theta0 + eps * v
                    fp, _ = Ref(net.params, **kw).forward(X)
                    net.theta = net.theta0 - eps * v
                    fm, _ = Ref(net.params, **kw).forward(X)
                    return (fp - fm) / (2 * eps)

                eps = 1e-4
                D1, D2 = fd(eps), fd(eps / 2)
                tol = 3 * np.abs(D1 - D2) + 4 * np.max(ef) / eps
                self.assertTrue(np.all(np.abs(J @ v - D1) <= tol), (J @ v - D1, tol))
                # and the check fails for a wrong Jacobian: one layer's block scaled by 1.01
                off = net.params[0][0].size
                Jbad = J.copy()
                Jbad[:, :off] *= 1.01
                self.assertFalse(np.all(np.abs(Jbad @ v - D1) <= tol))

    def test_gradient_against_reference(self):
        X = inputs(10, 5)
        y = np.cos(X[:, 0]) + X[:, 1]
        for case in CASES:
            for loss in ("mean", "sum"):
                with self.subTest(case=case, loss=loss):
                    net, kw = make(case)
                    net.theta = net.theta * (1 + 0.05 * np.cos(np.arange(net.nparams)))
                    ref = ref_of(net, **kw)
                    ref.forward(X)
                    ref.check_kinks(self)
                    Lo, eLo, g, eg, f = ref.loss_grad(X, y, loss)
                    out = net.loss_grad(X, y, loss)
                    if net.is_deep:
                        got = out["grad"]
                        flat = np.concatenate([np.concatenate([gW.ravel()] + ([] if gb is None else [gb]))
                                               for gW, gb in out["grads"]])
                        np.testing.assert_array_equal(flat, got)
                    else:
                        got = np.concatenate([out["grad_W"].ravel(), out["grad_v"]])
                    self.assert_within(out["loss"], Lo, eLo, "loss")
                    self.assert_within(got, g, eg, "gradient", np.max(np.abs(g)))

    def test_centred_gradient(self):
        X = inputs(8, 5)
        y = X[:, 2]
        net, kw = make(CASES[3], centered=True)
        f0, ef0 = ref_of(net, **kw).forward(X)
        net.theta = net.theta0 * 1.1
        Lo, eLo, g, eg, f = ref_of(net, **kw).loss_grad(X, y, "mean", f0, ef0)
        out = net.loss_grad(X, y)
        self.assert_within(out["loss"], Lo, eLo, "centred loss")
        self.assert_within(out["grad"], g, eg, "centred gradient", np.max(np.abs(g)))
        self.assert_within(out["f"], f, np.abs(f) * 0 + 4 * np.max(ef0), "centred f",
                           np.max(np.abs(f)))


class Training(Case):
    def setUp(self):
        self.X = inputs(12, 5, seed=1)
        self.y = np.sin(self.X[:, 0]) + 0.5 * self.X[:, 1]

    def test_one_step_against_reference(self):
        X, y = self.X, self.y
        for case in CASES[1:4] + CASES[6:]:
            with self.subTest(case=case):
                net, kw = make(case)
                L = net.depth
                # the standard parameterisation's gradients grow with the widths: smaller rates
                rates = [(0.3 + 0.1 * l) * (0.05 if case[1] == "standard" else 1.0)
                         for l in range(L + 1)]
                theta0 = net.theta
                ref = ref_of(net, **kw)
                Lo, eLo, g, eg, _ = ref.loss_grad(X, y)
                h = net.train(X, y, lrs=rates, steps=1)
                # θ1 = θ0 − η_l g_l per layer: the library's update adds one rounding
                eta = np.concatenate([np.full(W.size + (0 if b is None else b.size), r)
                                      for (W, b), r in zip(net.params, rates)])
                want = theta0 - eta * g
                self.assert_within(net.theta, want, eta * eg + U * np.abs(want), "θ after one step",
                                   np.max(np.abs(eta * g)))
                self.assert_within(h["train_loss"][0], Lo, eLo, "row 0 loss")
                # grad_norm: ‖g‖ over the trained layers (all here); its rounding is at most
                # ‖eg‖ + P·u·‖g‖
                self.assertLessEqual(abs(h["grad_norm"][0] - np.linalg.norm(g)),
                                     2 * (np.linalg.norm(eg) + net.nparams * U * np.linalg.norm(g)))
                Lo1, eLo1, _, _, _ = ref_of(net, **kw).loss_grad(X, y)
                self.assert_within(h["train_loss"][1], Lo1, eLo1, "row 1 loss")
                self.assertLess(h["train_loss"][1], h["train_loss"][0])
                np.testing.assert_array_equal(h["step"], [0, 1])

    def test_frozen_layer_unchanged_and_lr1_lr2(self):
        X, y = self.X, self.y
        net, kw = make(CASES[2])   # depth 3, biases
        before = net.params
        h = net.train(X, y, lrs=[0.2, 0.0, 0.3, 0.1], steps=5)
        after = net.params
        np.testing.assert_array_equal(after[1][0], before[1][0])
        np.testing.assert_array_equal(after[1][1], before[1][1])
        for l in (0, 2, 3):
            self.assertGreater(np.abs(after[l][0] - before[l][0]).max(), 0)
        self.assertTrue(np.all(np.diff(h["train_loss"]) < 0))
        # lr1 on the hidden layers, lr2 on the output layer: the same as lrs [lr1]*L + [lr2]
        a, _ = make(CASES[2])
        b, _ = make(CASES[2])
        ha = a.train(X, y, lr1=0.2, lr2=0.0, steps=3)
        hb = b.train(X, y, lrs=[0.2, 0.2, 0.2, 0.0], steps=3)
        np.testing.assert_array_equal(a.theta, b.theta)
        np.testing.assert_array_equal(ha["train_loss"], hb["train_loss"])
        np.testing.assert_array_equal(a.params[-1][0], a.params0[-1][0])

    def test_log_rows(self):
        X, y = self.X, self.y
        net, _ = make(CASES[1])
        Xt, yt = X[:4] + 0.1, y[:4]
        h = net.train(X, y, lrs=[0.1, 0.2, 0.3], steps=7, log_every=3, X_test=Xt, y_test=yt,
                      record=X[:2])
        np.testing.assert_array_equal(h["step"], [0, 3, 6, 7])
        self.assertEqual(h["f"].shape, (4, 2))
        np.testing.assert_array_equal(h["f"][-1], net(X[:2]))
        ft = net(Xt)
        # the same outputs; the loss sums n = 4 squares in either order: (n + 3)u relative
        np.testing.assert_allclose(h["test_loss"][-1], 0.5 * np.mean((ft - yt) ** 2),
                                   rtol=2 * (len(yt) + 3) * U, atol=0)
        wd = net.weight_dist()
        self.assertEqual((h["w_dist_fro"][-1], h["v_dist"][-1], h["w_dist_max_row"][-1]),
                         (wd["w_fro"], wd["v_norm"], wd["w_max_row"]))
        self.assertEqual(h["w_dist_fro"][0], 0.0)

    def test_divergence(self):
        net, _ = make(CASES[1])
        with self.assertRaises(ntkit.DivergedError) as cm:
            net.train(self.X, 1e3 * self.y, lrs=[1e6, 1e6, 1e6], steps=50)
        self.assertGreater(len(cm.exception.partial["step"]), 0)
        self.assertTrue(np.all(np.isfinite(net.theta)))


class EmpiricalKernel(Case):
    def test_against_explicit_jacobian(self):
        X, X2 = inputs(7, 5, seed=2), inputs(4, 5, seed=3)
        for case in CASES:
            net, kw = make(case)
            L = net.depth
            layers = ["both", "first", "second", (0.3, 2.0), list(np.linspace(0.5, 1.5, L + 1))]
            layers += list(range(1, L + 2))
            ref = ref_of(net, **kw)
            ref.forward(X)
            ref.check_kinks(self)
            for layer in layers:
                with self.subTest(case=case, layer=layer):
                    w = _weights(layer, L)
                    K, eK = ref.ntk(X, None, w)
                    scale = np.max(np.abs(ref.ntk(X)[0]))
                    got = ntkit.ntk(net, X, layer=layer)
                    self.assert_within(got, K, eK, "K", scale)
                    # and it would see one layer's weight off by 1e-9 (relative to the NTK)
                    j = int(np.argmax(np.abs(w)))
                    wb = list(w)
                    wb[j] += 1e-9 * abs(w[j])
                    self.assertFalse(np.all(np.abs(got - ref.ntk(X, None, wb)[0]) <= 2 * eK))
                    K12, eK12 = ref.ntk(X, X2, w)
                    self.assert_within(ntkit.ntk(net, X, X2, layer=layer), K12, eK12, "K12", scale)
                    self.assert_within(ntkit.ntk(net, X, layer=layer, diagonal=True), np.diag(K),
                                       np.diag(eK), "diag", scale)
        # the output layer's share is the NNGP kernel
        np.testing.assert_array_equal(ntkit.nngp(net, X), ntkit.ntk(net, X, layer=L + 1))

    def test_layer_shares_sum_to_the_ntk(self):
        net, _ = make(CASES[3])
        X = inputs(6, 5)
        K = ntkit.ntk(net, X)
        parts = [ntkit.ntk(net, X, layer=l) for l in range(1, net.depth + 2)]
        # L+2 sums of the same Gram products: (L + 2)u·Σ|K_l|
        bound = (net.depth + 2) * U * sum(np.abs(p) for p in parts)
        self.assertTrue(np.all(np.abs(sum(parts) - K) <= 2 * bound))

    def test_empirical_kernel_fn_and_operator(self):
        net, _ = make(CASES[2])
        X, Xt = inputs(30, 5, seed=4), inputs(5, 5, seed=5)
        K = ntkit.ntk(net, X)
        Kt = ntkit.ntk(net, Xt, X)
        U_ = np.random.default_rng(6).standard_normal((30, 2))
        theta = net.theta
        for mode in ("dense", "matrix-free"):
            op = ntkit.KernelOperator(X, "ntk", net=net, mode=mode)
            net.theta = 1.5 * theta       # the operator keeps the weights it was made with
            # K U summed over n = 30 terms: (n + 2)u·|K||U| besides K's own rounding, which
            # the structured product repeats in another order: (P + 4)u·|J||J|ᵀ, below
            # 1e-13·|K| here; 1e-12·‖|K||U|‖∞ covers both
            tol = 1e-12 * np.max(np.abs(K) @ np.abs(U_))
            self.assertLess(np.max(np.abs(op @ U_ - K @ U_)), tol)
            self.assertLess(np.max(np.abs(op.cross(Xt, U_) - Kt @ U_)), tol)
            net.theta = theta
        op = ntkit.KernelOperator(X, "nngp", net=net, mode="matrix-free")
        Kn = ntkit.nngp(net, X)
        self.assertLess(np.max(np.abs(op @ U_ - Kn @ U_)), 1e-12 * np.max(np.abs(Kn) @ np.abs(U_)))
        op = ntkit.KernelOperator(X, "ntk", net=net, layer=2, mode="matrix-free")
        K2 = ntkit.ntk(net, X, layer=2)
        self.assertLess(np.max(np.abs(op @ U_ - K2 @ U_)), 1e-12 * np.max(np.abs(K2) @ np.abs(U_)))
        kf = ntkit.empirical_kernel_fn(net)(X)
        np.testing.assert_array_equal(kf.ntk, K)
        np.testing.assert_array_equal(kf.nngp, ntkit.nngp(net, X))


class Linearized(Case):
    def test_linear_in_theta_and_training(self):
        X, Xt = inputs(15, 5, seed=7), inputs(4, 5, seed=8)
        y = np.tanh(X[:, 0])
        net, kw = make(CASES[3], centered=True)
        net.train(X, y, lrs=[0.2, 0.2, 0.2, 0.2], steps=3)
        fl = ntkit.linearize(net)
        ref = ref_of(net, **kw)
        J, eJ, _, _ = ref.jacobian(Xt)
        # at the expansion point: the network itself (the same two forward passes)
        np.testing.assert_array_equal(fl(Xt), net(Xt))
        # linear in θ: f_lin(θ* + Δ) − f_lin(θ*) = J(θ*)Δ, against the numpy Jacobian
        dt = 0.01 * np.random.default_rng(1).standard_normal(net.nparams)
        got = fl(Xt, theta=net.theta + dt) - fl(Xt)
        # the library's J·Δ and the reference's differ by |eJ||Δ| each, P sums, and the
        # subtraction of two outputs of size |f|: 2u·|f|
        bound = eJ @ np.abs(dt) + (net.nparams + 2) * U * (np.abs(J) @ np.abs(dt)) + \
            2 * U * np.abs(fl(Xt))
        self.assert_within(got, J @ dt, bound, "J Δθ", np.max(np.abs(J @ dt)))
        # training in closed form: the logged final loss is that of f_lin at the moved θ
        before = fl.theta
        h = fl.train(X, y, lrs=[0.5, 0.0, 0.5, 0.5], steps=20)
        f_end = fl(X)
        # both come from one eigendecomposition of K (n = 15): backward error about
        # n·u·‖K‖, amplified by at most T·c·‖K‖ ≤ 20 along the path; 1e-9 relative to the loss
        self.assertLess(abs(h["train_loss"][-1] - 0.5 * np.mean((f_end - y) ** 2)),
                        1e-9 * h["train_loss"][0])
        self.assertLess(h["train_loss"][-1], h["train_loss"][0])
        # the frozen layer 2 did not move
        off = net.params[0][0].size + net.params[0][1].size
        n2 = net.params[1][0].size + net.params[1][1].size
        np.testing.assert_array_equal(fl.theta[off:off + n2], before[off:off + n2])
        fl.reset()
        np.testing.assert_array_equal(fl.theta, before)
        with self.assertRaisesRegex(ValueError, "theta"):
            fl(Xt, W=np.zeros((5, 5)))


def _weights(layer, L):
    if isinstance(layer, str):
        c1, c2 = {"both": (1, 1), "first": (1, 0), "second": (0, 1)}[layer]
        return [c1] * L + [c2]
    if isinstance(layer, int):
        return [1.0 if j == layer else 0.0 for j in range(1, L + 2)]
    if len(layer) == 2:
        return [layer[0]] * L + [layer[1]]
    return list(layer)


# ---- infinite width ---------------------------------------------------------

def relu_maps(q1, q2, c, same):
    """E[φ(u)φ(v)], E[φ'(u)φ'(v)] for relu and (u, v) ~ N(0, [[q1, c], [c, q2]]) (Cho and
    Saul 2009, arc-cosine kernels of degree 1 and 0), and sin θ of the pairs. `same`:
    the diagonal is a point with itself (θ = 0 exactly)."""
    nn = np.sqrt(np.outer(q1, q2))
    th = np.arccos(np.clip(c / nn, -1.0, 1.0))
    if same:
        np.fill_diagonal(th, 0.0)
    S = nn / (2 * np.pi) * (np.sin(th) + (np.pi - th) * np.cos(th))
    D = (np.pi - th) / (2 * np.pi)
    return S, D, np.sin(th)


def relu_inf_deep(X1, X2, depth, sw=1.0, sb=0.0, alpha=1.0, s=1.0, param="ntk", widths=None,
                  weights=None):
    """The deep relu NTK by the layer recursion (docs/depth.md; Jacot et al. 2018, Arora
    et al. 2019) in numpy: Σ_1 = σ_w² x·x'/s² + σ_b², Σ_{l+1} = σ_w² E[φφ] + σ_b²,
    Σ̇_{l+1} = σ_w² E[φ'φ']; layer l's share α² P_l Π_{j>l} Σ̇_j with P_l = Σ_l (ntk) or
    P_1 = x·x' + [σ_b>0], P_{l+1} = m_l E[φφ]_l + [σ_b>0] (standard). Returns the
    weighted sum and the smallest sin θ met off the diagonal."""
    same = X2 is None
    X2 = X1 if same else X2
    G = X1 @ X2.T
    bias = 1.0 if sb > 0 else 0.0
    sig = sw ** 2 * G / s ** 2 + sb ** 2
    q1 = sw ** 2 * np.sum(X1 * X1, 1) / s ** 2 + sb ** 2
    q2 = sw ** 2 * np.sum(X2 * X2, 1) / s ** 2 + sb ** 2
    if same:
        q1 = q2 = np.diag(sig).copy()
    P = [sig if param == "ntk" else G + bias]
    Sd = []
    smin = 1.0
    for l in range(depth):
        S, D, sn = relu_maps(q1, q2, sig, same)
        if same:
            sn = sn + np.eye(len(q1))
        smin = min(smin, np.min(sn))
        sig = sw ** 2 * S + sb ** 2
        Sd.append(sw ** 2 * D)
        P.append(sig if param == "ntk" else widths[l] * S + bias)
        q1 = sw ** 2 * q1 / 2 + sb ** 2      # E[relu(u)²] = q/2
        q2 = sw ** 2 * q2 / 2 + sb ** 2
        if same:
            q1 = q2 = np.diag(sig).copy()
    w = [1.0] * (depth + 1) if weights is None else weights
    K = 0.0
    for l in range(depth + 1):
        share = P[l]
        for j in range(l, depth):
            share = share * Sd[j]
        K = K + w[l] * share
    return alpha ** 2 * K, smin


def inf_tolerance(d, depth, smin):
    """The relative error the recursion can leave on each side: the first layer's Gram
    has (d + 4)u; each layer's map takes the angle from ρ (an error δρ moves θ by
    δρ/sin θ) and adds its own 16u (src/kernel_inf.c: the maps within 8 ulp), the
    share's products one u per layer."""
    eps = (d + 4) * U
    for _ in range(depth):
        eps = eps * (2 + 1 / smin) + 16 * U
    return (depth + 2) * eps


class InfiniteWidth(Case):
    def setUp(self):
        self.X, self.X2 = inputs(7, 5, seed=11), inputs(3, 5, seed=12)

    def check(self, got, want, rel, scale, what):
        # |lib − ref| within both sides' relative error rel·scale (scale: max |K|)
        self.assertLess(rel, 1e-11, "%s: the tolerance is too loose to test" % what)
        err = np.max(np.abs(got - want))
        self.assertLessEqual(err, 2 * rel * scale, "%s: %.3g > %.3g" % (what, err, 2 * rel * scale))

    def test_depth_one_is_the_two_layer_kernel(self):
        X, X2 = self.X, self.X2
        d = X.shape[1]
        # a bias at depth 1 is the two-layer kernel on x̃ = (x, σ_b) (s = 1) plus the
        # output bias's α²σ_b² in the output layer's share, for any activation
        for act in ("relu", "erf", "tanh", "gelu"):
            sb, alpha = 0.6, 1.3
            Xa = np.hstack([X, np.full((len(X), 1), sb)])
            X2a = np.hstack([X2, np.full((len(X2), 1), sb)])
            for layer, extra in (("first", 0.0), ("second", alpha ** 2 * sb ** 2),
                                 ("both", alpha ** 2 * sb ** 2)):
                with self.subTest(act=act, layer=layer):
                    kw = dict(act=act, input_scale="one", alpha=alpha, layer=layer)
                    for A, B, Aa, Ba in ((X, None, Xa, None), (X, X2, Xa, X2a)):
                        got = ntkit.ntk_inf(A, B, bias_std=sb, **kw)
                        want = ntkit.ntk_inf(Aa, Ba, **kw) + extra
                        # the same maps on Grams that differ by the order of d + 1 terms:
                        # inf_tolerance with the angles of these points (sin θ ≥ 0.3, below)
                        self.check(got, want, inf_tolerance(d + 1, 1, 0.3), np.max(np.abs(want)),
                                   "bias at depth 1")
                    dg = ntkit.ntk_inf(X, bias_std=sb, diagonal=True, **kw)
                    self.check(dg, np.diag(ntkit.ntk_inf(Xa, **kw)) + extra,
                               inf_tolerance(d + 1, 1, 0.3), np.max(np.abs(dg)), "diagonal")
        # σ_w at depth 1: relu and leaky relu are homogeneous, so σ_w = 2 multiplies every
        # share by σ_w⁴ = 16
        for act in ("relu", "leaky_relu"):
            for layer in ("first", "second", "both"):
                want = 16 * ntkit.ntk_inf(X, X2, act=act, layer=layer)
                got = ntkit.ntk_inf(X, X2, act=act, layer=layer, weight_std=2.0)
                self.check(got, want, inf_tolerance(d, 1, 0.3), np.max(np.abs(want)), "σ_w")
        # the angles the tolerances assume
        _, smin = relu_inf_deep(X, None, 1)
        self.assertGreater(smin, 0.3)
        _, smin = relu_inf_deep(X, X2, 1)
        self.assertGreater(smin, 0.3)

    def test_relu_depth_two_and_three_closed_form(self):
        X, X2 = self.X, self.X2
        d = X.shape[1]
        for depth, sw, sb, param, widths in ((2, 1.0, 0.0, "ntk", None), (2, 1.5, 0.1, "ntk", None),
                                            (3, 1.2, 0.3, "ntk", None),
                                            (2, 1.5, 0.1, "standard", [64, 32]),
                                            (3, 1.0, 0.0, "standard", [16, 8, 20])):
            L = depth
            for layer in ["both", "second", "first", (0.4, 1.7)] + list(range(1, L + 2)):
                w = _weights(layer, L)
                kw = dict(depth=depth, weight_std=sw, bias_std=sb, parameterization=param,
                          widths=widths, layer=layer)
                with self.subTest(depth=depth, sw=sw, sb=sb, param=param, layer=layer):
                    for B in (None, X2):
                        want, smin = relu_inf_deep(X, B, depth, sw, sb, 1.0, np.sqrt(d), param,
                                                   widths, w)
                        full, _ = relu_inf_deep(X, B, depth, sw, sb, 1.0, np.sqrt(d), param,
                                                widths)
                        self.assertGreater(smin, 0.1)
                        got = ntkit.ntk_inf(X, B, **kw)
                        self.check(got, want, inf_tolerance(d, depth, smin), np.max(np.abs(full)),
                                   "relu depth %d" % depth)
                    # a point with itself: ρ = 1 exactly at every layer, no angle to amplify
                    dg = ntkit.ntk_inf(X, diagonal=True, **kw)
                    self.check(dg, np.diag(relu_inf_deep(X, None, depth, sw, sb, 1.0, np.sqrt(d),
                                                         param, widths, w)[0]),
                               inf_tolerance(d, depth, 1.0), np.max(np.abs(full)), "diagonal")
        # NNGP = the output layer's share; the recursion is not the one of another depth
        kw = dict(depth=2, weight_std=1.5, bias_std=0.1)
        np.testing.assert_array_equal(ntkit.nngp_inf(X, **kw), ntkit.ntk_inf(X, layer=3, **kw))
        want, _ = relu_inf_deep(X, None, 3, 1.5, 0.1, 1.0, np.sqrt(d))
        self.assertGreater(np.max(np.abs(ntkit.ntk_inf(X, **kw) - want)), 1e-3 * np.max(want))

    def test_kernel_fn_and_operator_at_depth(self):
        X = self.X
        kw = dict(depth=3, weight_std=1.5, bias_std=0.1)
        kf = ntkit.infinite_kernel_fn("erf", **kw)(X, self.X2)
        np.testing.assert_array_equal(kf.ntk, ntkit.ntk_inf(X, self.X2, act="erf", **kw))
        np.testing.assert_array_equal(kf.nngp, ntkit.nngp_inf(X, self.X2, act="erf", **kw))
        K = ntkit.ntk_inf(X, act="erf", **kw)
        op = ntkit.KernelOperator(X, "ntk-inf", act="erf", mode="matrix-free", **kw)
        V = np.random.default_rng(2).standard_normal((7, 3))
        # the tiles are the same kernel entries, summed over n = 7 terms: (n + 2)u
        self.assertLess(np.max(np.abs(op @ V - K @ V)), 9 * U * np.max(np.abs(K) @ np.abs(V)) * 2)

    def test_nngp_is_the_same_in_both_parameterisations(self):
        # The standard parameterisation draws the same function at initialisation
        # (docs/depth.md), so its NNGP is the NTK parameterisation's; only the NTK
        # differs. The last layer's standard share (m_L·E[φφ]) would be 32x too large.
        kw = dict(depth=2, bias_std=0.1, widths=[64, 32])
        a = ntkit.nngp_inf(self.X, act="relu", parameterization="standard", **kw)
        b = ntkit.nngp_inf(self.X, act="relu", **kw)
        np.testing.assert_array_equal(a, b)
        kf = ntkit.infinite_kernel_fn("relu", parameterization="standard", **kw)
        np.testing.assert_array_equal(kf(self.X, get="nngp"), b)
        self.assertFalse(np.allclose(kf(self.X, get="ntk"), ntkit.ntk_inf(self.X, act="relu", **kw)))


def cli_has_depth():
    if not HAVE_CLI:
        return False
    res = subprocess.run([CLI, "train", "--help"], capture_output=True, text=True)
    return "--depth" in res.stdout + res.stderr


@unittest.skipUnless(cli_has_depth(), "ntkit CLI with --depth not built at %s" % CLI)
class CliDepth(unittest.TestCase):
    def test_train_matches_the_cli(self):
        args = ["train", "--n", "30", "--d", "5", "--n-test", "10", "--act", "tanh", "--depth", "2",
                "--widths", "6,5", "--weight-std", "1.2", "--bias-std", "0.3", "--lrs", "0.2,0,0.3",
                "--seed", "7", "--steps", "6", "--log-every", "2"]
        with TempDir() as tmp:
            d = cli_run(args, tmp)

            def load(name):
                return np.load(os.path.join(d, name))

            net = ntkit.Network(5, 6, act="tanh", depth=2, widths=[6, 5], weight_std=1.2,
                                bias_std=0.3, seed=7)
            # the same draw from the same seed: equal
            for l, (W, b) in enumerate(net.params0, 1):
                np.testing.assert_array_equal(W, load("W%d_init.npy" % l))
                np.testing.assert_array_equal(b, load("b%d_init.npy" % l))
            h = net.train(load("X_train.npy"), load("y_train.npy"), lrs=[0.2, 0.0, 0.3], steps=6,
                          log_every=2, X_test=load("X_test.npy"), y_test=load("y_test.npy"))
            m = read_csv(os.path.join(d, "metrics.csv"))
            np.testing.assert_array_equal(h["step"], m["step"])
            # the same trainer on the same numbers; only the BLAS's summation order could
            # differ between the two processes (thread counts): (P + n)u ≈ 2e-14 relative per
            # evaluation, over 6 steps of a contracting iteration; metrics.csv keeps 17 digits
            for col in ("train_loss", "test_loss", "grad_norm", "w_dist_fro", "v_dist",
                        "w_dist_max_row"):
                np.testing.assert_allclose(h[col], m[col], rtol=1e-12, atol=1e-15, err_msg=col)
            for l, (W, b) in enumerate(net.params, 1):
                np.testing.assert_allclose(W, load("W%d_final.npy" % l), rtol=0, atol=1e-12)
                np.testing.assert_allclose(b, load("b%d_final.npy" % l), rtol=0, atol=1e-12)
            # layer 2 was frozen
            np.testing.assert_array_equal(load("W2_final.npy"), load("W2_init.npy"))


class Refusals(unittest.TestCase):
    def test_value_errors_name_the_argument(self):
        X = inputs(4, 3)
        net = ntkit.Network(3, 4, depth=2, widths=[4, 5], bias_std=0.1)
        cases = [
            ("depth", lambda: ntkit.Network(3, 4, depth=0)),
            ("depth", lambda: ntkit.Network(3, 4, depth=17)),
            ("depth", lambda: ntkit.Network(3, 4, depth=True)),
            ("depth", lambda: ntkit.Network(3, 4, depth=2.5)),
            ("widths", lambda: ntkit.Network(3, 4, depth=2, widths=[4])),
            ("widths", lambda: ntkit.Network(3, 4, depth=2, widths=4)),
            ("widths\\[1\\]", lambda: ntkit.Network(3, 4, depth=2, widths=[4, 0])),
            ("weight_std", lambda: ntkit.Network(3, 4, weight_std=0.0)),
            ("weight_std", lambda: ntkit.Network(3, 4, weight_std=float("nan"))),
            ("bias_std", lambda: ntkit.Network(3, 4, bias_std=-0.1)),
            ("parameterization", lambda: ntkit.Network(3, 4, parameterization="mup")),
            ("theta0", lambda: ntkit.Network(3, 4, depth=2, theta0=np.zeros(3))),
            ("theta0", lambda: ntkit.Network(3, 4, depth=2, W0=np.zeros((4, 3)))),
            ("even", lambda: ntkit.Network(3, 4, depth=2, widths=[4, 5], init="symmetric")),
            ("lrs", lambda: net.train(X, X[:, 0], lrs=[0.1, 0.1], steps=1)),
            ("lrs\\[1\\]", lambda: net.train(X, X[:, 0], lrs=[0.1, -1, 0.1], steps=1)),
            ("all 0", lambda: net.train(X, X[:, 0], lrs=[0, 0, 0], steps=1)),
            ("lrs", lambda: net.train(X, X[:, 0], lr1=0.1, lr2=0.1, lrs=[1, 1, 1], steps=1)),
            ("steps", lambda: net.train(X, X[:, 0], lrs=[1, 1, 1])),
            ("layer", lambda: ntkit.ntk(net, X, layer=4)),
            ("layer", lambda: ntkit.ntk(net, X, layer=0)),
            ("layer", lambda: ntkit.ntk(net, X, layer=[1, 2, 3, 4])),
            ("layer\\[2\\]", lambda: ntkit.ntk(net, X, layer=[1, 2, float("inf")])),
            ("layer", lambda: ntkit.ntk_inf(X, depth=2, layer=True)),
            ("width", lambda: ntkit.ntk_inf(X, parameterization="standard")),
            ("depth", lambda: ntkit.ntk_inf(X, depth=99)),
            ("params", lambda: net.set_params(net.params[:2])),
            ("b_1", lambda: net.set_params([(W, None) for W, _ in net.params])),
            ("W_2", lambda: net.set_params([(W.T if l == 1 else W, b)
                                            for l, (W, b) in enumerate(net.params)])),
            ("params", lambda: net.W),
            ("set_params", lambda: net.set_weights(np.zeros((4, 3)))),
            ("depth", lambda: ntkit.KernelOperator(X, "ntk", net=net, depth=2)),
            ("two-layer only", lambda: ntkit.KernelOperator(X, "lin", depth=2)),
            ("theta", lambda: setattr(net, "theta", np.zeros(3))),
        ]
        for name, call in cases:
            with self.subTest(name=name):
                with self.assertRaisesRegex(ValueError, name):
                    call()


if __name__ == "__main__":
    unittest.main()
