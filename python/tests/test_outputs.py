"""Networks of k outputs (docs/depth.md §1.7) in the Python package: Network(outputs=k),
train, loss_grad, the mean per-output empirical kernel, linearize, run and make_dataset.

Oracle: the network written out in numpy from the formulas (docs/depth.md §1.1–§1.3,
§2.1) below, never the library: the forward pass h_1 = κ_1 W_1 x + β b_1, h_{l+1} =
κ_{l+1} W_{l+1} φ(h_l) + β b_{l+1}, f = α h_{L+1} ∈ R^k, and the Jacobian of each output
c by back-propagation from the seed α e_c, itself checked against central differences of
the numpy forward pass. Tolerances come from the standard rounding analysis of these sums
(Higham 2002, §3): a dot product of N terms is off by at most γ_N = N·u/(1 − N·u) times
the sum of the terms' magnitudes, so every bound below is γ times the same formula
evaluated on |W|, |b|, |x| (the "magnitude pass"), which bounds those sums layer by layer
(|φ(h)| <= |h| and |φ'| <= 1 for tanh and relu).
"""
import inspect
import os
import struct
import unittest
import warnings

import numpy as np

from helpers import PHI, TempDir, ntkit

U = np.finfo(float).eps / 2   # unit roundoff


def gamma(N):
    """γ_N = N·u / (1 − N·u), the relative error bound of a sum of N rounded terms."""
    return N * U / (1 - N * U)


class Ref:
    """The network of docs/depth.md in numpy: d inputs, hidden widths, k outputs."""

    def __init__(self, d, widths, k, act="tanh", alpha=1.0, sw=1.0, sb=0.0, param="ntk",
                 input_scale="sqrt_d"):
        self.dims = [d] + list(widths) + [k]
        self.L, self.k, self.alpha = len(widths), k, alpha
        self.phi, self.dphi = PHI[act]
        s = np.sqrt(d) if input_scale == "sqrt_d" else 1.0
        # the forward factors: κ_1 = σ_w/s, κ_l = σ_w/√m_{l−1}, β = σ_b (ntk); 1 (standard)
        if param == "ntk":
            self.kappa = [sw / s] + [sw / np.sqrt(m) for m in self.dims[1:-1]]
            self.beta = sb
            self.std = [1.0] * (self.L + 1)
            self.bstd = 1.0
        else:
            self.kappa = [1.0] * (self.L + 1)
            self.beta = 1.0
            self.std = [sw / s] + [sw / np.sqrt(m) for m in self.dims[1:-1]]
            self.bstd = sb
        self.biases = sb > 0
        # θ: W_l (m_l, m_{l−1}) row-major, then b_l (m_l) with biases, l = 1..L+1
        self.layout, off = [], 0
        for mi, mo in zip(self.dims[:-1], self.dims[1:]):
            nb = mo if self.biases else 0
            self.layout.append((off, mo, mi, nb))
            off += mo * mi + nb
        self.P = off
        self.M = max(self.dims)

    def draw(self, seed):
        """θ0 drawn in numpy: W_l ~ N(0, std_l²), b_l ~ N(0, bstd²)."""
        rng = np.random.default_rng(seed)
        theta = np.empty(self.P)
        for (off, mo, mi, nb), sd in zip(self.layout, self.std):
            theta[off:off + mo * mi] = sd * rng.standard_normal(mo * mi)
            theta[off + mo * mi:off + mo * mi + nb] = self.bstd * rng.standard_normal(nb)
        return theta

    def split(self, theta):
        return [(theta[off:off + mo * mi].reshape(mo, mi),
                 theta[off + mo * mi:off + mo * mi + nb] if nb else None)
                for off, mo, mi, nb in self.layout]

    def _tape(self, theta, X, mag):
        """Pre-activations h_1..h_{L+1} and activations a_0 = x, ..., a_L; with mag
        the magnitude pass (|W|, |b|, |x|, φ -> identity on h >= 0)."""
        a, hs, acts = (np.abs(X) if mag else X), [], []
        for l, (W, b) in enumerate(self.split(theta)):
            acts.append(a)
            W = np.abs(W) if mag else W
            h = abs(self.kappa[l]) * a @ W.T if mag else self.kappa[l] * a @ W.T
            if b is not None:
                h = h + abs(self.beta) * np.abs(b) if mag else h + self.beta * b
            hs.append(h)
            if l < self.L:
                a = h if mag else self.phi(h)
        return hs, acts

    def forward(self, theta, X, mag=False):
        """f (n, k); mag: the magnitude pass α·h̄_{L+1}, which bounds the sums behind f."""
        return abs(self.alpha) * self._tape(theta, X, mag)[0][-1] if mag else \
            self.alpha * self._tape(theta, X, False)[0][-1]

    def jacobian(self, theta, X, mag=False):
        """J (n, k, P): J[i, c] = ∂f_c(x_i)/∂θ by back-propagation from δ_{L+1} = α e_c
        (δ_l = φ'(h_l) ⊙ κ_{l+1} W_{l+1}ᵀ δ_{l+1}; ∂f/∂W_l = κ_l δ_l a_{l−1}ᵀ, ∂f/∂b_l =
        β δ_l); mag: the same on the magnitude pass with φ' replaced by 1."""
        hs, acts = self._tape(theta, X, mag)
        layers = self.split(theta)
        n, k = X.shape[0], self.k
        J = np.zeros((n, k, self.P))
        for c in range(k):
            delta = np.zeros((n, k))
            delta[:, c] = abs(self.alpha) if mag else self.alpha
            for l in range(self.L, -1, -1):
                off, mo, mi, nb = self.layout[l]
                kap = abs(self.kappa[l]) if mag else self.kappa[l]
                J[:, c, off:off + mo * mi] = (kap * delta[:, :, None]
                                              * acts[l][:, None, :]).reshape(n, -1)
                if nb:
                    J[:, c, off + mo * mi:off + mo * mi + nb] = \
                        (abs(self.beta) if mag else self.beta) * delta
                if l > 0:
                    W = np.abs(layers[l][0]) if mag else layers[l][0]
                    back = kap * delta @ W
                    delta = back if mag else back * self.dphi(hs[l - 1])
        return J

    # the rounding bounds: relative factors on the magnitude pass
    def u_f(self):
        """f: L+1 layers of sums of at most M+3 terms (products, bias, scaling) and one
        activation each (Higham's γ per layer, errors carried through |W|, |φ'| <= 1)."""
        return (self.L + 2) * gamma(self.M + 4)

    def u_J(self):
        """J: the forward sums up to layer l, the backward ones from L+1 down to l, one
        product: at most 2L+3 sums of M+3 terms."""
        return (2 * self.L + 4) * gamma(self.M + 4)

    def loss_grad(self, theta, X, Y, c):
        """(L, eL, g, eg, f): the loss c/2 Σ_i ‖f_i − y_i‖², ∇_θ L = c Σ_{i,c} r_ic J_ic and
        bounds on the rounding of each (on the magnitude pass)."""
        f, J = self.forward(theta, X), self.jacobian(theta, X)
        F, Jm = self.forward(theta, X, mag=True), self.jacobian(theta, X, mag=True)
        r = f - Y
        L = 0.5 * c * np.sum(r * r)
        nk = r.size
        er = self.u_f() * F + U * np.abs(r)          # |r − r̃|
        eL = c * np.sum(np.abs(r) * er) + gamma(nk + 2) * L
        g = c * np.einsum("ic,icp->p", r, J)
        eg = c * np.einsum("ic,icp->p", er + (self.u_J() + gamma(nk + 2)) * np.abs(r), Jm)
        return L, eL, g, eg, f


def one_hot(labels, k):
    return np.eye(k)[labels]


def inputs(n, d, seed):
    return np.random.default_rng(seed).standard_normal((n, d))


# (name, Ref/Network settings): a two-layer-shaped head (depth 1, no biases), a deep one with
# biases, σ_w != 1 and two widths, and the standard parameterisation
CASES = [
    ("depth 1", dict(widths=[9], act="tanh")),
    ("depth 2, biases", dict(widths=[7, 5], act="tanh", sw=1.3, sb=0.4, alpha=0.8)),
    ("standard", dict(widths=[6, 8], act="tanh", sw=1.1, sb=0.2, param="standard",
                      input_scale="one")),
]


def make(case, d=4, k=3, seed=11):
    """(Network, Ref) of one case, the network at θ0 drawn by the numpy Ref."""
    kw = dict(case)
    widths = kw.pop("widths")
    ref = Ref(d, widths, k, **kw)
    theta0 = ref.draw(seed)
    net = ntkit.Network(d, widths[0], act=kw.get("act", "tanh"), alpha=kw.get("alpha", 1.0),
                        depth=len(widths), widths=widths, weight_std=kw.get("sw", 1.0),
                        bias_std=kw.get("sb", 0.0), parameterization=kw.get("param", "ntk"),
                        input_scale=kw.get("input_scale", "sqrt_d"), theta0=theta0, outputs=k)
    return net, ref


class Case(unittest.TestCase):
    def assert_within(self, got, want, bound, what, rel=None):
        """|got − want| <= 2·bound elementwise (each side within bound of the exact value);
        with rel, the bound itself below rel times the quantity's size (not vacuous)."""
        got, want, bound = np.asarray(got), np.asarray(want), np.asarray(bound)
        self.assertEqual(got.shape, want.shape, what)
        if rel is not None:
            self.assertLess(np.max(bound), rel * np.max(np.abs(want)),
                            "%s: the bound is too loose to test" % what)
        err = np.abs(got - want)
        worst = np.unravel_index(np.argmax(err - 2 * bound), err.shape) if err.ndim else ()
        self.assertTrue(np.all(err <= 2 * bound), "%s: |difference| %.3g > 2 x bound %.3g at %s"
                        % (what, err[worst], 2 * np.broadcast_to(bound, err.shape)[worst],
                           worst))


class ReferenceSelfCheck(Case):
    def test_jacobian_against_central_differences(self):
        # the oracle's own Jacobian against central differences of its forward pass
        # (tanh: smooth). With step h the difference is off by h²/6·|f'''| (truncation,
        # |f'''| = O(1) here) plus 2u·|f|/h (rounding): h = 1e-5 gives about 1e-10, so
        # 1e-7 of the Jacobian's size separates a correct Jacobian from a wrong entry.
        X = inputs(5, 4, 1)
        for name, case in CASES:
            with self.subTest(case=name):
                _, ref = make(case)
                theta = ref.draw(3)
                J = ref.jacobian(theta, X)
                h = 1e-5
                fd = np.empty_like(J)
                for p in range(ref.P):
                    e = np.zeros(ref.P)
                    e[p] = h
                    fd[:, :, p] = (ref.forward(theta + e, X) - ref.forward(theta - e, X)) / (2 * h)
                self.assertLess(np.max(np.abs(fd - J)), 1e-7 * np.max(np.abs(J)))


class Forward(Case):
    def test_forward_and_params(self):
        X = inputs(13, 4, 2)
        for name, case in CASES:
            with self.subTest(case=name):
                net, ref = make(case)
                self.assertTrue(net.is_deep)          # k > 1: the deep code, even at depth 1
                self.assertEqual(net.outputs, 3)
                self.assertEqual(net.config["outputs"], 3)
                self.assertIn("outputs=3", repr(net))
                self.assertEqual(net.nparams, ref.P)
                shapes = [(W.shape, None if b is None else b.shape) for W, b in net.params]
                self.assertEqual(shapes, [((mo, mi), (mo,) if nb else None)
                                          for _, mo, mi, nb in ref.layout])
                self.assertEqual(net.params[-1][0].shape, (3, ref.dims[-2]))   # W_{L+1} (k, m_L)
                want = ref.forward(net.theta, X)
                got = net(X)
                self.assertEqual(got.shape, (13, 3))
                # rounding on both sides: u_f times the magnitude pass (module notes),
                # about 1e-14 of |f| here, and below 1e-12 of it (the ~1e-12 asked for)
                self.assert_within(got, want, ref.u_f() * ref.forward(net.theta, X, mag=True),
                                   "f (%s)" % name, rel=1e-12)

    def test_relu_forward(self):
        # relu as well (|relu(h)| <= |h|: the same magnitude pass bounds its sums)
        X = inputs(9, 4, 3)
        net, ref = make(dict(widths=[10, 6], act="relu", sb=0.3, sw=1.2))
        self.assert_within(net(X), ref.forward(net.theta, X),
                           ref.u_f() * ref.forward(net.theta, X, mag=True), "relu f", rel=1e-12)

    def test_centred(self):
        # the centred model f(x;θ) − f(x;θ0): 0 at θ0, the difference elsewhere
        net0, ref = make(CASES[1][1])
        theta0 = net0.theta
        net = ntkit.Network(4, 7, act="tanh", depth=2, widths=[7, 5], weight_std=1.3,
                            bias_std=0.4, alpha=0.8, theta0=theta0, outputs=3, centered=True)
        X = inputs(6, 4, 4)
        np.testing.assert_array_equal(net(X), np.zeros((6, 3)))
        theta1 = ref.draw(5)
        net.theta = theta1
        want = ref.forward(theta1, X) - ref.forward(theta0, X)
        bound = ref.u_f() * (ref.forward(theta1, X, mag=True) + ref.forward(theta0, X, mag=True))
        self.assert_within(net(X), want, bound, "centred f")


class LossGrad(Case):
    def test_loss_and_gradient_against_the_jacobian(self):
        X = inputs(12, 4, 6)
        Y = one_hot(np.arange(12) % 3, 3) + 0.1 * inputs(12, 3, 7)
        for name, case in CASES:
            for loss, c in (("mean", 1 / 12), ("sum", 1.0)):
                with self.subTest(case=name, loss=loss):
                    net, ref = make(case)
                    net.theta = ref.draw(8)   # away from θ0
                    L, eL, g, eg, f = ref.loss_grad(net.theta, X, Y, c)
                    out = net.loss_grad(X, Y, loss=loss)
                    self.assertEqual(out["f"].shape, (12, 3))
                    self.assert_within(out["loss"], L, eL, "loss", rel=1e-12)
                    self.assert_within(out["grad"], g, eg, "gradient")
                    self.assertLess(np.max(eg), 1e-11 * np.max(np.abs(g)))   # not vacuous
                    gW, gb = out["grads"][-1]
                    self.assertEqual(gW.shape, net.params[-1][0].shape)
                    # the gradient is the sum over outputs: output c alone gives its share
                    g1 = np.einsum("i,ip->p", c * (f[:, 1] - Y[:, 1]),
                                   ref.jacobian(net.theta, X)[:, 1])
                    self.assertGreater(np.max(np.abs(g - g1)), 1e3 * np.max(eg))

    def test_centred_gradient(self):
        net0, ref = make(CASES[1][1])
        theta0 = net0.theta
        net = ntkit.Network(4, 7, act="tanh", depth=2, widths=[7, 5], weight_std=1.3,
                            bias_std=0.4, alpha=0.8, theta0=theta0, outputs=3, centered=True)
        theta1 = ref.draw(9)
        net.theta = theta1
        X = inputs(8, 4, 10)
        Y = one_hot(np.arange(8) % 3, 3)
        f0 = ref.forward(theta0, X)
        # f − f0 against y is f against y + f0: the same Jacobian, residual f − f0 − y
        L, eL, g, eg, _ = ref.loss_grad(theta1, X, Y + f0, 1 / 8)
        eg = eg + (1 / 8) * np.einsum("ic,icp->p", ref.u_f() * ref.forward(theta0, X, mag=True),
                                      ref.jacobian(theta1, X, mag=True))
        out = net.loss_grad(X, Y)
        self.assert_within(out["grad"], g, eg, "centred gradient")


class EmpiricalKernel(Case):
    def check_kernel(self, ref, theta, X1, X2, K, weights):
        """K against (1/k) Σ_c J_c D J_cᵀ (D: the layer weights), rounding bounded by
        (2·u_J + γ of the kernel's sums) times the same expression on the magnitude pass,
        which is below 1e-10 of the kernel's size (the brief's 1e-10 is met with room)."""
        w = np.concatenate([np.full(mo * mi + nb, wl)
                            for (off, mo, mi, nb), wl in zip(ref.layout, weights)])
        J1, J2 = ref.jacobian(theta, X1), ref.jacobian(theta, X2)
        M1, M2 = ref.jacobian(theta, X1, mag=True), ref.jacobian(theta, X2, mag=True)
        want = np.einsum("icp,jcp->ij", J1 * w, J2) / ref.k
        mag = np.einsum("icp,jcp->ij", M1 * np.abs(w), M2) / ref.k
        # the library's sums: the signals' Gram over k·m_l, the activations' over m_{l−1},
        # the layers: at most P + k·M + 4 terms
        bound = (2 * ref.u_J() + gamma(ref.P + ref.k * ref.M + 4)) * mag
        self.assert_within(K, want, bound, "kernel", rel=1e-10)

    def test_mean_of_the_per_output_kernels(self):
        X, X2 = inputs(10, 4, 12), inputs(6, 4, 13)
        for name, case in CASES:
            with self.subTest(case=name):
                net, ref = make(case)
                net.theta = ref.draw(14)
                theta = net.theta
                L = ref.L
                ones = [1.0] * (L + 1)
                K = ntkit.ntk(net, X)
                self.assertEqual(K.shape, (10, 10))
                self.check_kernel(ref, theta, X, X, K, ones)
                self.check_kernel(ref, theta, X, X2, ntkit.ntk(net, X, X2), ones)
                # the diagonal alone
                d = ntkit.ntk(net, X, diagonal=True)
                self.check_kernel(ref, theta, X[:1], X[:1], d[:1, None], ones)
                self.assert_within(d, np.diag(K), 4 * ref.u_J() * np.abs(np.diag(K)), "diag")
                # per-layer weights (e.g. rates) and the output layer's share (the NNGP)
                rates = [0.3 + 0.2 * l for l in range(L + 1)]
                self.check_kernel(ref, theta, X, X2, ntkit.ntk(net, X, X2, layer=rates), rates)
                last = [0.0] * L + [1.0]
                self.check_kernel(ref, theta, X, X, ntkit.nngp(net, X), last)
                kf = ntkit.empirical_kernel_fn(net)(X, X2)
                np.testing.assert_array_equal(kf.ntk, ntkit.ntk(net, X, X2))

    def test_not_the_first_output_alone(self):
        # negative control: the mean differs from output 0's kernel far beyond rounding
        net, ref = make(CASES[1][1])
        X = inputs(8, 4, 15)
        J = ref.jacobian(net.theta, X)
        K0 = J[:, 0] @ J[:, 0].T
        self.assertGreater(np.max(np.abs(ntkit.ntk(net, X) - K0)), 1e-3 * np.max(np.abs(K0)))


def hessian(ref, theta, X, Y, c):
    """∇²L by central differences of the numpy gradient (step 1e-5: error about 1e-10
    relative, far inside the factor 2 the propagation bound below carries)."""
    h = 1e-5
    H = np.empty((ref.P, ref.P))
    for p in range(ref.P):
        e = np.zeros(ref.P)
        e[p] = h
        H[:, p] = (ref.loss_grad(theta + e, X, Y, c)[2] - ref.loss_grad(theta - e, X, Y, c)[2]) \
            / (2 * h)
    return 0.5 * (H + H.T)


class Training(Case):
    def test_twenty_steps_against_numpy_gd(self):
        # GD θ ← θ − η_l ∇_{θ_l} L in numpy from the same θ0. The two trajectories differ
        # by rounding only: step t adds at most e_t = ‖η ⊙ eg_t‖ + u‖θ_{t+1}‖ on each side
        # and carries the difference through the step's linearisation I − diag(η) ∇²L,
        # so ‖Δθ_{t+1}‖ <= Λ_t ‖Δθ_t‖ + 2 e_t with Λ_t = ‖I − diag(η) ∇²L(θ_t)‖₂ (the
        # Hessian by differences, hessian()), and a row's loss moves by ‖∇L‖‖Δθ‖ (twice
        # that, for the curvature of a difference this small) plus its own rounding.
        steps = 20
        n, nt = 10, 5
        X, Xt = inputs(n, 4, 20), inputs(nt, 4, 21)
        Y = one_hot(np.arange(n) % 3, 3)
        Yt = one_hot(np.arange(nt) % 3, 3)
        Xr = X[:3] + 0.5
        for name, case, rates in (("depth 1", CASES[0][1], [0.5, 0.4]),
                                  ("depth 2, biases", CASES[1][1], [0.4, 0.0, 0.3])):
            with self.subTest(case=name):
                net, ref = make(case)
                c = 1.0 / n
                eta = np.concatenate([np.full(mo * mi + nb, r)
                                      for (off, mo, mi, nb), r in zip(ref.layout, rates)])
                h = net.train(X, Y, lrs=rates, steps=steps, X_test=Xt, y_test=Yt, record=Xr)
                self.assertEqual(h["f"].shape, (steps + 1, 3, 3))
                theta = ref.draw(11)   # make()'s θ0
                B = 0.0   # the bound on ‖Δθ_t‖
                for t in range(steps + 1):
                    L, eL, g, eg, _ = ref.loss_grad(theta, X, Y, c)
                    dL = 2 * np.linalg.norm(g) * B
                    self.assert_within(h["train_loss"][t], L, eL + dL, "loss, step %d" % t)
                    Lt, eLt, gt, _, _ = ref.loss_grad(theta, Xt, Yt, 1.0 / nt)
                    self.assert_within(h["test_loss"][t], Lt,
                                       eLt + 2 * np.linalg.norm(gt) * B, "test loss %d" % t)
                    Jr = ref.jacobian(theta, Xr)
                    fr = ref.forward(theta, Xr)
                    self.assert_within(h["f"][t], fr, ref.u_f() * ref.forward(theta, Xr, mag=True)
                                       + 2 * np.linalg.norm(Jr, axis=2) * B, "recorded f %d" % t)
                    if t == steps:
                        break
                    Lam = np.linalg.norm(np.eye(ref.P) - eta[:, None] * hessian(ref, theta, X, Y,
                                                                                c), 2)
                    theta = theta - eta * g
                    B = Lam * B + 2 * (np.linalg.norm(eta * eg) + U * np.linalg.norm(theta))
                moved = np.linalg.norm(theta - ref.draw(11))
                self.assertLess(B, 1e-9 * moved)             # the bound is not vacuous
                self.assertLessEqual(np.linalg.norm(net.theta - theta), B)
                self.assertTrue(np.all(np.diff(h["train_loss"]) < 0))
                # a frozen layer (rate 0) does not move
                for (W, b), (W0, b0), r in zip(net.params, net.params0, rates):
                    if r == 0:
                        np.testing.assert_array_equal(W, W0)

    def test_train_and_loss_grad_refuse_mismatched_targets(self):
        net, _ = make(CASES[0][1])
        X = inputs(6, 4, 22)
        Y = one_hot(np.arange(6) % 3, 3)
        for bad, words in ((Y[:, 0], r"y is 1-d .* 3 outputs: pass y of shape \(n, 3\)"),
                           (Y[:, :2], r"y has 2 columns but the network has 3 outputs: pass y "
                                      r"of shape \(n, 3\), or make the network with outputs=2")):
            with self.assertRaisesRegex(ValueError, words):
                net.loss_grad(X, bad)
            with self.assertRaisesRegex(ValueError, words):
                net.train(X, bad, lr1=0.1, lr2=0.1, steps=1)
        with self.assertRaisesRegex(ValueError, "y_test has 2 columns"):
            net.train(X, Y, lr1=0.1, lr2=0.1, steps=1, X_test=X, y_test=Y[:, :2])
        scalar = ntkit.Network(4, 5)
        with self.assertRaisesRegex(ValueError, "y has 3 columns but the network has 1 output: "
                                                r"pass y of shape \(n,\), or make the network "
                                                "with outputs=3"):
            scalar.loss_grad(X, Y)
        for bad in (0, -1, 2.5, "3"):
            with self.assertRaisesRegex(ValueError, "outputs"):
                ntkit.Network(4, 5, outputs=bad)


class OneOutputUnchanged(Case):
    def test_outputs_one_is_the_default_network(self):
        X = inputs(7, 4, 30)
        y = np.sin(X[:, 0])
        a, b = ntkit.Network(4, 6, seed=3), ntkit.Network(4, 6, seed=3, outputs=1)
        self.assertFalse(b.is_deep)
        self.assertEqual(b.outputs, 1)
        self.assertNotIn("outputs", repr(b))
        np.testing.assert_array_equal(a.theta, b.theta)
        self.assertEqual(b(X).shape, (7,))
        np.testing.assert_array_equal(a(X), b(X))
        self.assertEqual(b.params[-1][0].shape, (1, 6))
        # an (n, 1) y is the column itself
        ga, gb = a.loss_grad(X, y), b.loss_grad(X, y[:, None])
        np.testing.assert_array_equal(ga["grad_W"], gb["grad_W"])
        ha = a.train(X, y, lr1=0.3, lr2=0.3, steps=3)
        hb = b.train(X, y[:, None], lr1=0.3, lr2=0.3, steps=3)
        np.testing.assert_array_equal(ha["train_loss"], hb["train_loss"])
        r = ntkit.run(X, y, width=6, steps=2, models="nn,ntk", kernel_every=0)
        self.assertFalse(any(col.endswith("_acc") for col in r["columns"]))
        self.assertEqual(r["predictions"]["nn"][0].shape, (7,))

    def test_help_shows_outputs(self):
        for fn in (ntkit.Network, ntkit.run, ntkit.Run):
            self.assertIn("outputs", inspect.signature(fn).parameters, fn)
        self.assertIn("outputs: k, the number of output units", ntkit.Network.__doc__)
        self.assertIn("mean of its k\n    per-output kernels", ntkit.ntk.__doc__)


class Runs(Case):
    @classmethod
    def setUpClass(cls):
        cls.n, cls.nt, cls.k = 24, 10, 3
        rng = np.random.default_rng(40)
        cls.X, cls.Xt = rng.standard_normal((cls.n, 5)), rng.standard_normal((cls.nt, 5))
        # labels from a linear teacher: learnable, so the accuracy moves
        T = rng.standard_normal((5, cls.k))
        cls.Y = one_hot(np.argmax(cls.X @ T, 1), cls.k)
        cls.Yt = one_hot(np.argmax(cls.Xt @ T, 1), cls.k)
        cls.kw = dict(width=16, depth=2, act="tanh", bias_std=0.2, seed=6, lrs=[0.5, 0.4, 0.6])
        with warnings.catch_warnings(record=True) as cls.caught:
            warnings.simplefilter("always")
            cls.res = ntkit.run(cls.X, cls.Y, cls.Xt, cls.Yt, steps=30, log_every=10,
                                kernel_every=0, record=cls.Xt[:4], **cls.kw)

    def test_models_predictions_and_accuracy(self):
        res, n, nt, k = self.res, self.n, self.nt, self.k
        self.assertEqual(res["models"], ["nn", "linearized", "ntk", "ntk_inf"])
        self.assertIn("one output (this one has 3)", str(self.caught[0].message))
        mt = res["metrics"]
        self.assertTrue(np.all(np.diff(mt["nn_train_loss"]) < 0), mt["nn_train_loss"])
        acc = ["%s_%s_acc" % (m, s) for m in res["models"] for s in ("train", "test")]
        self.assertEqual(res["columns"][-len(acc):], acc)   # appended after the others
        for m in res["models"]:
            f, ft = res["predictions"][m]
            self.assertEqual((f.shape, ft.shape), ((n, k), (nt, k)), m)
            self.assertEqual(res["recorded"][m].shape, (4, 4, k))
            for s, pred, Y in (("train", f, self.Y), ("test", ft, self.Yt)):
                col = mt["%s_%s_acc" % (m, s)]
                self.assertTrue(np.all((col >= 0) & (col <= 1)), col)
                # the final row against numpy's argmax of the returned predictions: a
                # count over n, the same number exactly
                self.assertEqual(col[-1], np.mean(np.argmax(pred, 1) == np.argmax(Y, 1)), m)
        self.assertGreater(mt["nn_train_acc"][-1], mt["nn_train_acc"][0])
        for (W, b), mo in zip(res["params"], [16, 16, k]):
            self.assertEqual(W.shape[0], mo)

    def test_nn_is_network_train(self):
        # the run's network is stepped by the trainer Network.train uses: equal numbers
        net = ntkit.Network(5, 16, depth=2, act="tanh", bias_std=0.2, seed=6, outputs=self.k)
        h = net.train(self.X, self.Y, lrs=self.kw["lrs"], steps=30, log_every=10,
                      X_test=self.Xt, y_test=self.Yt)
        np.testing.assert_array_equal(self.res["metrics"]["nn_train_loss"], h["train_loss"])
        np.testing.assert_array_equal(self.res["metrics"]["nn_test_loss"], h["test_loss"])
        np.testing.assert_array_equal(self.res["predictions"]["nn"][0], net(self.X))

    def test_ntk_model_is_kernel_gd_with_the_mean_kernel(self):
        # the ntk model: u_t − y = (I − cK)^t (f0 − y) on each output column, K the
        # rate-weighted mean per-output kernel at θ0, in numpy (eigendecomposition).
        # The run's K differs from numpy's by rounding δK (EmpiricalKernel's bound);
        # t steps of a map of norm <= 1 (c λmax(K) <= 2) carry it to at most
        # c·t·‖δK‖₂‖r0‖ per column, and each closed form adds its own backward error
        # (an eigensolver's p(n)u‖K‖, p(n) = 10n taken generously) the same way, plus the
        # rounding of y + (...) at the size of ‖y‖∞ + ‖r0‖.
        net = ntkit.Network(5, 16, depth=2, act="tanh", bias_std=0.2, seed=6, outputs=self.k)
        ref = Ref(5, [16, 16], self.k, act="tanh", sb=0.2)
        theta0 = net.theta0
        rates = self.kw["lrs"]
        w = np.concatenate([np.full(mo * mi + nb, r)
                            for (off, mo, mi, nb), r in zip(ref.layout, rates)])
        J, M = ref.jacobian(theta0, self.X), ref.jacobian(theta0, self.X, mag=True)
        K = np.einsum("icp,jcp->ij", J * w, J) / self.k
        dK = (2 * ref.u_J() + gamma(ref.P + ref.k * ref.M + 4)) * \
            np.einsum("icp,jcp->ij", M * w, M) / self.k
        f0 = ref.forward(theta0, self.X)
        c, t = 1.0 / self.n, 30
        lam, V = np.linalg.eigh(K)
        self.assertLessEqual(c * lam.max(), 2.0)
        r0 = f0 - self.Y
        u = self.Y + V @ (((1 - c * lam) ** t)[:, None] * (V.T @ r0))
        r0n = np.linalg.norm(r0, axis=0)
        bound = (c * t * (np.linalg.norm(dK, 2) + 10 * self.n * U * lam.max()) * r0n
                 + 10 * self.n * U * (1 + r0n))
        self.assert_within(self.res["predictions"]["ntk"][0], u,
                           np.broadcast_to(bound, u.shape), "ntk model")
        # negative control: the first output's kernel alone gives other predictions
        K0 = (J[:, 0] * w) @ J[:, 0].T
        l0, V0 = np.linalg.eigh(K0)
        u0 = self.Y + V0 @ (((1 - c * l0) ** t)[:, None] * (V0.T @ r0))
        self.assertGreater(np.max(np.abs(u0 - u)), 1e3 * np.max(bound))

    def test_no_test_data_and_outputs_checks(self):
        res = ntkit.run(self.X, self.Y, steps=2, models="nn,ntk", kernel_every=0, **self.kw)
        self.assertTrue(np.all(np.isnan(res["metrics"]["nn_test_acc"])))
        self.assertIsNone(res["predictions"]["ntk"][1])
        with self.assertRaisesRegex(ValueError, r"y has 3 columns but outputs=2: pass y of shape "
                                                r"\(n, 2\) .*or outputs=3"):
            ntkit.run(self.X, self.Y, steps=1, models="nn", outputs=2, **self.kw)
        with self.assertRaisesRegex(ValueError, r"y_test has 2 columns but y has 3 columns .*"
                                                r"pass y_test of shape \(nt, 3\)"):
            ntkit.run(self.X, self.Y, self.Xt, self.Yt[:, :2], steps=1, models="nn", **self.kw)
        with self.assertRaisesRegex(ValueError, r"y_test is 1-d"):
            ntkit.run(self.X, self.Y, self.Xt, self.Yt[:, 0], steps=1, models="nn", **self.kw)
        with self.assertRaisesRegex(ValueError, "'lin' .* 3 outputs"):
            ntkit.run(self.X, self.Y, steps=1, models="nn,lin", **self.kw)
        with ntkit.Run(self.X, self.Y, models="nn", outputs=3, kernel_every=0, **self.kw) as r:
            self.assertEqual(r.outputs, 3)
            self.assertEqual(r.config["outputs"], 3)
            self.assertEqual(r.predict(self.Xt).shape, (self.nt, 3))


class Linearized(Case):
    def test_taylor_model_and_its_training(self):
        # f_lin(θ) = f(θ*) + J(θ*)(θ − θ*) with the numpy Jacobian; training: GD on the
        # linear model, iterated in numpy with the whole Jacobian (nk × P, all output
        # blocks), against linearize()'s closed form on the nk × nk kernel J D Jᵀ.
        net, ref = make(CASES[1][1])
        theta_s = ref.draw(50)
        net.theta = theta_s
        n, nt = 8, 4
        X, Xt = inputs(n, 4, 51), inputs(nt, 4, 52)
        Y, Yt = one_hot(np.arange(n) % 3, 3), one_hot(np.arange(nt) % 3, 3)
        lin = ntkit.linearize(net)
        self.assertEqual(lin.outputs, 3)
        J, M = ref.jacobian(theta_s, X), ref.jacobian(theta_s, X, mag=True)
        f_s, F = ref.forward(theta_s, X), ref.forward(theta_s, X, mag=True)
        dth = 0.1 * ref.draw(53)
        got = lin(X, theta=theta_s + dth)
        self.assertEqual(got.shape, (n, 3))
        want = f_s + np.einsum("icp,p->ic", J, dth)
        bound = ref.u_f() * F + (ref.u_J() + gamma(ref.P + 2)) * np.einsum("icp,p->ic", M,
                                                                            np.abs(dth))
        self.assert_within(got, want, bound, "f_lin", rel=1e-12)
        # training: t steps of Δθ ← Δθ − c D Jᵀ (f_s + JΔθ − y) in numpy
        rates, t, c = [0.4, 0.3, 0.5], 15, 1.0 / n
        D = np.concatenate([np.full(mo * mi + nb, r)
                            for (off, mo, mi, nb), r in zip(ref.layout, rates)])
        Jf = J.reshape(n * 3, ref.P)
        d = np.zeros(ref.P)
        for _ in range(t):
            d = d - c * D * (Jf.T @ (f_s.ravel() + Jf @ d - Y.ravel()))
        h = lin.train(X, Y, lrs=rates, steps=t, X_test=Xt, y_test=Yt)
        self.assertTrue(np.all(np.diff(h["train_loss"]) < 0))
        # Both sides are GD on the quadratic in the predictions u = f_s + JΔθ, whose
        # kernel Kf = J D Jᵀ (nk × nk) has c·λmax <= 2 (checked): the iteration rounds
        # each of t steps at (nk + P)u of the sums' sizes, the closed form's eigensolver
        # adds p(nk)u‖Kf‖ (p = 10·nk) carried through at most c·t steps' worth of r0;
        # the size of everything is S = ‖y‖∞ + ‖r0‖₂(1 + c t ‖Kf‖₂).
        Kf = (Jf * D) @ Jf.T
        lmax = np.linalg.eigvalsh(Kf).max()
        self.assertLessEqual(c * lmax, 2.0)
        r0 = np.linalg.norm(f_s - Y)
        S = 1.0 + r0 * (1 + c * t * lmax)
        bound = (t * (n * 3 + ref.P) + 10 * n * 3 * (1 + c * t * lmax)) * 4 * U * S
        self.assert_within(lin(X), f_s + (Jf @ d).reshape(n, 3), bound, "trained f_lin")
        # θ − θ* = c D Jᵀ Σ_{s<t} (y − u_s) on both sides: u_s within `bound` per entry
        # moves it by at most η_max‖J‖₂·c·t·√(nk)·bound, and the sums of Jᵀ (nk terms)
        # round at γ_{nk} of c·t·η_max‖J‖₂·S
        Jn = np.linalg.norm(Jf, 2)
        self.assert_within(lin.theta, theta_s + d,
                           max(rates) * Jn * c * t * (np.sqrt(n * 3) * bound
                                                      + gamma(n * 3 + 2) * S), "trained theta")
        self.assertLess(bound, 1e-9 * np.max(np.abs(Jf @ d)))   # not vacuous
        # the run's linearized model (Jacobian products, step by step) at θ0 agrees
        net0, _ = make(CASES[1][1])
        lin0 = ntkit.linearize(net0)
        lin0.train(X, Y, lrs=rates, steps=t)
        res = ntkit.run(X, Y, width=7, depth=2, widths=[7, 5], act="tanh", weight_std=1.3,
                        bias_std=0.4, alpha=0.8, theta0=net0.theta0, lrs=rates, steps=t,
                        log_every=t, models="nn,linearized", kernel_every=0)
        self.assert_within(res["predictions"]["linearized"][0], lin0(X), bound,
                           "the run's linearized model")
        with self.assertRaisesRegex(ValueError, "y has 2 columns"):
            lin.train(X, Y[:, :2], lrs=rates, steps=1)


class Datasets(Case):
    def test_one_hot_mnist_and_k_column_npy(self):
        rng = np.random.default_rng(60)
        with TempDir() as tmp:
            n = 14
            labels = rng.integers(0, 10, n).astype(np.uint8)
            pixels = rng.integers(0, 256, (n, 3, 2)).astype(np.uint8)
            images, lab = os.path.join(tmp, "img"), os.path.join(tmp, "lab")
            with open(images, "wb") as fp:   # idx3-ubyte: magic 2051, n, rows, cols
                fp.write(struct.pack(">IIII", 2051, n, 3, 2) + pixels.tobytes())
            with open(lab, "wb") as fp:      # idx1-ubyte: magic 2049, n
                fp.write(struct.pack(">II", 2049, n) + labels.tobytes())
            ds = ntkit.make_dataset("mnist:%s:%s:all" % (images, lab), n_test=4)
            np.testing.assert_array_equal(ds["y_train"], np.eye(10)[labels[:10]])
            np.testing.assert_array_equal(ds["y_test"], np.eye(10)[labels[10:]])
            self.assertEqual(ds["X_train"].shape, (10, 6))
            # two classes stay ±1 and 1-d
            two = ntkit.make_dataset("mnist:%s:%s:%d,%d" % (images, lab, labels[0], labels[1]))
            self.assertEqual(two["y_train"].ndim, 1)
            # the one-hot targets run a network of 10 outputs as they are
            res = ntkit.run(ds["X_train"] / 255, ds["y_train"], ds["X_test"] / 255,
                            ds["y_test"], width=8, steps=2, models="nn", kernel_every=0)
            self.assertEqual(res["predictions"]["nn"][0].shape, (10, 10))
            Y = rng.standard_normal((9, 3))
            np.save(os.path.join(tmp, "X.npy"), rng.standard_normal((9, 4)))
            np.save(os.path.join(tmp, "Y.npy"), Y)
            ds = ntkit.make_dataset("npy:%s:%s" % (os.path.join(tmp, "X.npy"),
                                                   os.path.join(tmp, "Y.npy")), n_test=2)
            np.testing.assert_array_equal(ds["y_train"], Y[:7])
            np.testing.assert_array_equal(ds["y_test"], Y[7:])


if __name__ == "__main__":
    unittest.main()
