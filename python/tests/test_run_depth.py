"""ntkit.run and ntkit.Run at depth (docs/depth.md): the deep network, its
Jacobian-free linearization and the ntk and ntk_inf models weighing layer l
by its rate η_l, side by side from one θ0.

Oracles: `ntkit run --depth` on the same seed and data (the same library
behind another front end: equal to the bit when both use the same OpenBLAS
thread count, so that any setting the binding passes differently shows);
Network.train at depth (the trainer alone); Network + linearize (the Taylor
model trained in closed form, by an eigendecomposition of Σ_l η_l Θ_l, not
by the run's step-by-step Jacobian products); ntkit.ntk / ntk_inf with
layer = the rates and gradient_descent_mse (kernel GD in closed form). The
two-layer run is checked unchanged by the same seeds given in both ways.
"""
import json
import os
import subprocess
import unittest
import warnings

import numpy as np

from helpers import CLI, HAVE_CLI, TempDir, cli_run, data, ntkit, read_csv

EPS = np.finfo(float).eps
# Roundings one term of the sums below sees (a product, a scaling, an addition)
C_ROUND = 4.0
# The eigensolvers' relative threshold below which an eigenvalue counts as 0
# (src/kgd.c, ZERO_RTOL)
ZERO_RTOL = 1e-12

N, NT, D = 30, 12, 5


def rounding_bound(K, Kt, y, f0, f0t, c, t, t_it, P):
    """A bound on |Δf| between two computations of kernel GD on K (n, n) with
    the test block Kt (nt, n), from f0, f0t, after time t (steps) with the
    loss scale c (1/n for the mean loss), when one side iterates t_it steps of
    sums of n + P terms and the other evaluates the closed form g_t(K) by an
    eigendecomposition:

      |Δf| <= C_ROUND (n + P) ε (t_it + κ_t) S,

    κ_t = 1 + λ_max·min(c t, 1/λ⁺_min) (stable rates) the conditioning of g_t
    on K's spectrum, S = max(1, ‖y‖∞, ‖f0‖∞) + ‖r0‖₂ (1 + h_t ‖K_t‖_{2,∞}) the
    size of the predictions and of the sums behind them, h_t <= min(c t,
    1/λ⁺_min) (the same bound as tests/test_run_deep.c's)."""
    n = K.shape[0]
    lam = np.abs(np.linalg.eigvalsh(K))
    lmax = lam.max()
    pos = lam[lam > ZERO_RTOL * lmax]
    singular = pos.size < n
    ht = c * t if singular else min(c * t, 1.0 / pos.min())
    if c * lmax <= 1.0:
        kappa = 1.0 + lmax * min(c * t, 1.0 / pos.min())
    else:
        kappa = 1.0 + c * t * lmax
    r0 = np.linalg.norm(y - f0)
    kt = np.max(np.linalg.norm(Kt, axis=1)) if Kt is not None and Kt.size else 0.0
    S = max(1.0, np.abs(y).max(), np.abs(f0).max(), 0.0 if f0t is None else np.abs(f0t).max())
    S += r0 * (1.0 + ht * kt)
    return C_ROUND * (n + P) * EPS * (t_it + kappa) * S


def json_number(x):
    """x as summary.json holds it: cJSON prints 15 significant digits when
    they read back within DBL_EPSILON relative of x (its own test), else 17,
    so the file's number is x itself or that 15-digit neighbour."""
    x = float(x)
    short = float("%1.15g" % x)
    return short if abs(short - x) <= max(abs(short), abs(x)) * EPS else x


def cli_has_deep_run():
    if not HAVE_CLI:
        return False
    res = subprocess.run([CLI, "run", "--help"], capture_output=True, text=True)
    return "--depth" in res.stdout + res.stderr


@unittest.skipUnless(cli_has_deep_run(), "ntkit CLI with run --depth not built at %s" % CLI)
class AgainstTheCli(unittest.TestCase):
    """`ntkit run --depth ...` and ntkit.run(depth=...) on the same seed: the same
    library on the same numbers with the same OpenBLAS thread count (--threads)
    performs the same operations in the same order, so every metric, the theory,
    the checks and every layer's weights agree to the bit (metrics.csv and
    summary.json keep 17 significant digits: a double read back exactly)."""

    THEORY = {"ntk_lmin": "ntk_lambda_min", "ntk_lmax": "ntk_lambda_max",
              "inf_lmin": "ntk_inf_lambda_min", "inf_lmax": "ntk_inf_lambda_max",
              "jac_smin": "jacobian_sigma_min", "jac_smax": "jacobian_sigma_max",
              "lr_max_stable": "lr_max_stable", "stability": "stability_c_eta_lambda_max",
              "envelope_rate": "envelope_rate", "loss0": "initial_loss",
              "weight_bound": "chizat_weight_bound"}
    TWO_LAYER = {"D_bound": "du_D_bound", "flip_bound_D": "du_flip_bound_D",
                 "beta_bound": "chizat_beta_bound", "alpha_condition": "chizat_alpha_condition",
                 "horizon_T": "hu_horizon_T"}
    CHECKS = {"envelope_max_ratio": "envelope_max_ratio", "R_max": "du_R_measured",
              "flip_max": "du_flip_measured_max", "beta_estimate": "chizat_beta_estimate",
              "beta_used": "chizat_beta_used", "alpha_condition": "chizat_alpha_condition",
              "theta_max": "chizat_weight_measured_max"}

    def compare(self, cli_args, expect, **kw):
        threads = ntkit.get_threads()
        with TempDir() as tmp:
            d = cli_run(["run", "--n", str(N), "--n-test", str(NT), "--d", str(D),
                         "--threads", str(threads)] + cli_args, tmp)

            def load(name):
                return np.load(os.path.join(d, name))

            m = read_csv(os.path.join(d, "metrics.csv"))
            with open(os.path.join(d, "summary.json")) as fp:
                summary = json.load(fp)
            with open(os.path.join(d, "config.json")) as fp:
                config = json.load(fp)
            X, y, Xt, yt = (load(name + ".npy") for name in ("X_train", "y_train", "X_test",
                                                              "y_test"))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = ntkit.run(X, y, Xt, yt, **kw)
            L = config["depth"]
            files = [(load("W%d_init.npy" % l), load("b%d_init.npy" % l) if kw.get("bias_std")
                      else None, load("W%d_final.npy" % l), load("b%d_final.npy" % l)
                      if kw.get("bias_std") else None) for l in range(1, L + 2)]
        self.assertEqual(res["models"], expect)
        self.assertEqual(",".join(res["models"]), config["models"])
        if "models" not in kw:   # the default leaves lin out with the CLI's note
            self.assertEqual(len(caught), 1)
            self.assertIn("two-layer network only", str(caught[0].message))
        self.assertEqual(sorted(res["columns"]), sorted(c for c in m if c != "seconds"))
        for col, a in res["metrics"].items():
            np.testing.assert_array_equal(a, m[col], err_msg=col)
        pairs = [(res["metrics"][col][-1], ref, col) for col, ref in summary["final"].items()]
        pairs += [(res["theory"][key], summary["theory"][name], key)
                  for key, name in self.THEORY.items()]
        pairs += [(res["checks"][key], summary["checks"][name], key)
                  for key, name in self.CHECKS.items()]
        pairs.append((res["checks"]["loss_growth"], summary["loss_growth"], "loss_growth"))
        for got, ref, key in pairs:   # null: not finite
            if ref is None:
                self.assertFalse(np.isfinite(got), key)
            else:
                self.assertEqual(json_number(got), ref, key)
        for key, name in self.TWO_LAYER.items():   # summary.json: under two_layer_only
            self.assertIn(name, summary["theory"]["two_layer_only"])
            self.assertTrue(np.isnan(res["theory"][key]), key)
        self.assertTrue(np.isnan(res["checks"]["gap_lin_at_T"]))
        self.assertEqual(res["checks"]["status"], summary["status"])
        # every layer's weights: the run directory's W{l}_init/final.npy, b{l}_...
        self.assertEqual(len(res["params"]), L + 1)
        for l, ((W0, b0, W1, b1), (P0, B0), (P1, B1)) in enumerate(
                zip(files, res["params0"], res["params"]), 1):
            np.testing.assert_array_equal(P0, W0, err_msg="W%d_init" % l)
            np.testing.assert_array_equal(P1, W1, err_msg="W%d_final" % l)
            if b0 is None:
                self.assertIsNone(B0)
                self.assertIsNone(B1)
            else:
                np.testing.assert_array_equal(B0, b0, err_msg="b%d_init" % l)
                np.testing.assert_array_equal(B1, b1, err_msg="b%d_final" % l)
        return res, config

    def test_depth_2_with_biases_all_models(self):
        res, config = self.compare(
            ["--depth", "2", "--widths", "12,10", "--bias-std", "0.3", "--weight-std", "1.2",
             "--act", "tanh", "--seed", "5", "--steps", "8", "--log-every", "3", "--lrs",
             "0.5,0.8,0.6", "--kernel-every", "2"],
            ["nn", "linearized", "ntk", "ntk_inf"], depth=2, widths=[12, 10], bias_std=0.3,
            weight_std=1.2, act="tanh", seed=5, steps=8, log_every=3, lrs=[0.5, 0.8, 0.6],
            kernel_every=2)
        self.assertEqual(config["lrs"], [0.5, 0.8, 0.6])
        self.assertTrue(np.all(np.isfinite(res["metrics"]["ntk_drift"][[0, 2, 3]])))

    def test_depth_3_standard_frozen_layer(self):
        res, config = self.compare(
            ["--depth", "3", "--width", "9", "--bias-std", "0.2", "--parameterization",
             "standard", "--seed", "8", "--steps", "5", "--log-every", "1", "--lrs",
             "0.1,0,0.2,0.1", "--loss", "sum", "--models", "nn,linearized,ntk-inf"],
            ["nn", "linearized", "ntk_inf"], depth=3, width=9, bias_std=0.2,
            parameterization="standard", seed=8, steps=5, log_every=1, lrs=[0.1, 0, 0.2, 0.1],
            loss="sum", models="nn,linearized,ntk-inf")
        W2, b2 = res["params"][1]
        np.testing.assert_array_equal(W2, res["params0"][1][0])   # layer 2 frozen
        np.testing.assert_array_equal(b2, res["params0"][1][1])

    def test_lr1_lr2_at_depth(self):
        # without --lrs: lr1 on the hidden layers, lr2 on the output layer
        res, config = self.compare(
            ["--depth", "2", "--width", "8", "--bias-std", "0.1", "--seed", "3", "--steps", "4",
             "--log-every", "2", "--lr1", "0.3", "--lr2", "0.9"],
            ["nn", "linearized", "ntk", "ntk_inf"], depth=2, width=8, bias_std=0.1, seed=3,
            steps=4, log_every=2, lr1=0.3, lr2=0.9)
        self.assertEqual(config["lrs"], [0.3, 0.3, 0.9])

    def test_lin_refused_by_both(self):
        with TempDir() as tmp:
            out = os.path.join(tmp, "run")
            cli = subprocess.run([CLI, "run", "--depth", "2", "--models", "nn,lin", "--n", "10",
                                  "--d", "3", "--out", out, "--quiet"], capture_output=True,
                                 text=True)
            self.assertNotEqual(cli.returncode, 0)
            self.assertIn("'lin'", cli.stderr)
        X, y = data(10, 3)
        with self.assertRaisesRegex(ValueError, "^models: .*'lin'.*nn,linearized,ntk,ntk_inf"):
            ntkit.run(X, y, depth=2, width=4, models="nn,lin", steps=1)


class DeepRun(unittest.TestCase):
    """The models of a deep run against Network, linearize and closed-form kernel GD."""

    KW = dict(depth=2, widths=[16, 12], bias_std=0.3, weight_std=1.1, act="tanh", seed=4)
    RATES = [0.6, 0.3, 0.9]

    @classmethod
    def setUpClass(cls):
        cls.X, cls.y, cls.Xt, cls.yt = data(N, D, seed=2, nt=NT)
        cls.net0 = ntkit.Network(D, 16, **cls.KW)

    def run_models(self, steps, models="nn,linearized,ntk,ntk_inf", **kw):
        args = dict(self.KW, lrs=self.RATES, models=models, kernel_every=0)
        args.update(kw)
        return ntkit.run(self.X, self.y, self.Xt, self.yt, steps=steps, log_every=1, **args)

    def test_nn_is_network_train(self):
        res = self.run_models(6, models="nn")
        net = ntkit.Network(D, 16, **self.KW)
        h = net.train(self.X, self.y, lrs=self.RATES, steps=6, X_test=self.Xt, y_test=self.yt)
        mt = res["metrics"]
        # the run's network is stepped by the same trainer (ntk_trainer_eval/apply) on the
        # same numbers in the same process: equal
        for col, name in (("nn_train_loss", "train_loss"), ("nn_test_loss", "test_loss"),
                          ("grad_norm", "grad_norm"), ("w_dist_fro", "w_dist_fro"),
                          ("v_dist", "v_dist"), ("w_dist_max_row", "w_dist_max_row")):
            np.testing.assert_array_equal(mt[col], h[name], err_msg=col)
        for (W, b), (Wn, bn) in zip(res["params"], net.params):
            np.testing.assert_array_equal(W, Wn)
            np.testing.assert_array_equal(b, bn)
        for (W, b), (Wn, bn) in zip(res["params0"], self.net0.params0):
            np.testing.assert_array_equal(W, Wn)
            np.testing.assert_array_equal(b, bn)
        np.testing.assert_array_equal(res["predictions"]["nn"][0], net(self.X))
        np.testing.assert_array_equal(res["predictions"]["nn"][1], net(self.Xt))

    def check_against(self, got, ref, bound, what):
        err = np.max(np.abs(got - ref))
        self.assertLessEqual(err, bound, "%s: |difference| %.3g > bound %.3g" % (what, err, bound))

    def test_linearized_is_network_linearized(self):
        # GD on the Taylor model at θ0 with layer l at rate η_l: the run's linearized model
        # steps it by Jacobian products (ntk_net_jvp/vjp) each step; ntkit.linearize(net0)
        # trains it in closed form (the eigendecomposition of K = Σ_l η_l Θ_l) and moves
        # θ by D Jᵀ h_t(K) r0. Both describe the same predictions; they differ by rounding
        # only, bounded by rounding_bound (t_it = t iterated steps on the run's side).
        X, y, Xt = self.X, self.y, self.Xt
        K = ntkit.ntk(self.net0, X, layer=self.RATES)
        Kt = ntkit.ntk(self.net0, Xt, X, layer=self.RATES)
        f0, f0t = self.net0(X), self.net0(Xt)
        Xo = data(7, D, seed=9)[0]   # other inputs: Run.predict
        P = self.net0.nparams
        with ntkit.Run(X, y, Xt, self.yt, models="nn,linearized", kernel_every=0, lrs=self.RATES,
                       **self.KW) as r:
            self.assertEqual(r.models, ["nn", "linearized"])
            for t in (1, 2, 5):
                r.advance(t)
                lin = ntkit.linearize(self.net0)
                lin.train(X, y, lrs=self.RATES, steps=t)
                f, ft = r.predictions("linearized")
                bound = rounding_bound(K, Kt, y, f0, f0t, 1.0 / N, t, t, P)
                # the bound is a tolerance, not a blanket: well below the model's own change
                self.assertLess(bound, 1e-8 * np.max(np.abs(lin(X) - f0)))
                self.check_against(f, lin(X), bound, "train, t = %d" % t)
                self.check_against(ft, lin(Xt), bound, "test, t = %d" % t)
                self.check_against(r.predict(Xo, "linearized"), lin(Xo),
                                   rounding_bound(K, ntkit.ntk(self.net0, Xo, X, layer=self.RATES),
                                                  y, f0, self.net0(Xo), 1.0 / N, t, t, P),
                                   "other inputs, t = %d" % t)
            # negative control: a Taylor model trained with other rates is far outside
            other = ntkit.linearize(self.net0)
            other.train(X, y, lrs=[0.6, 0.9, 0.3], steps=5)
            self.assertGreater(np.max(np.abs(other(X) - f)), 1e3 * bound)

    def test_kernel_models_weigh_layers_by_rates(self):
        # ntk: kernel GD with K = Σ_l η_l Θ_l(θ0) (ntkit.ntk, layer = the rates); ntk_inf:
        # the same with the infinite-width shares (ntkit.ntk_inf at the same depth). Both
        # sides are closed forms of the same kernel: rounding_bound with t_it = 0.
        t = 7
        res = self.run_models(t)
        X, y, Xt = self.X, self.y, self.Xt
        f0, f0t = self.net0(X), self.net0(Xt)
        P = self.net0.nparams
        deep = dict(depth=2, widths=[16, 12], bias_std=0.3, weight_std=1.1, act="tanh")
        for name, K, Kt in (
                ("ntk", ntkit.ntk(self.net0, X, layer=self.RATES),
                 ntkit.ntk(self.net0, Xt, X, layer=self.RATES)),
                ("ntk_inf", ntkit.ntk_inf(X, layer=self.RATES, **deep),
                 ntkit.ntk_inf(Xt, X, layer=self.RATES, **deep))):
            u, ut = ntkit.gradient_descent_mse(K, y, lr=1.0)(t, f0, f0t, Kt)
            bound = rounding_bound(K, Kt, y, f0, f0t, 1.0 / N, t, 0, P)
            f, ft = res["predictions"][name]
            self.check_against(f, u, bound, name + " train")
            self.check_against(ft, ut, bound, name + " test")
            # negative control: the unweighted kernel (every η_l = 1) gives other predictions
            K1 = ntkit.ntk(self.net0, X) if name == "ntk" else ntkit.ntk_inf(X, **deep)
            u1 = ntkit.gradient_descent_mse(K1, y, lr=1.0)(t, f0)
            self.assertGreater(np.max(np.abs(u1 - f)), 1e3 * bound, name)

    def test_theta0_given_equals_drawn(self):
        ref = self.run_models(3)
        res = self.run_models(3, theta0=self.net0.theta0, seed=99)
        for col in ref["columns"]:
            np.testing.assert_array_equal(res["metrics"][col], ref["metrics"][col], err_msg=col)
        for (W, b), (Wr, br) in zip(res["params"], ref["params"]):
            np.testing.assert_array_equal(W, Wr)
            np.testing.assert_array_equal(b, br)

    def test_run_object_at_depth(self):
        with ntkit.Run(self.X, self.y, models="nn,ntk", lrs=self.RATES, **self.KW) as r:
            self.assertTrue(r.is_deep)
            self.assertEqual(r.depth, 2)
            cfg = r.config
            self.assertEqual(cfg.pop("lrs"), self.RATES)
            self.assertEqual(cfg, self.net0.config)   # the network's settings, by the same names
            np.testing.assert_array_equal(r.theta0, self.net0.theta0)
            np.testing.assert_array_equal(r.theta, r.theta0)
            r.advance(2)
            self.assertGreater(np.max(np.abs(r.theta - r.theta0)), 0)
            shapes = [(W.shape, b.shape) for W, b in r.params]
            self.assertEqual(shapes, [((16, D), (16,)), ((12, 16), (12,)), ((1, 12), (1,))])
            with self.assertRaisesRegex(ValueError, "params"):
                r.weights
            with self.assertRaisesRegex(ValueError, "not part of this run"):
                r.predictions("lin")
        with ntkit.Run(self.X, self.y, models="nn", lr1=0.2, lr2=0.4, depth=3, width=6,
                       bias_std=0.1) as r:
            self.assertEqual(r.config["lrs"], [0.2, 0.2, 0.2, 0.4])


class TwoLayerUnchanged(unittest.TestCase):
    """The two-layer run given in the new ways runs the two-layer code as before."""

    @classmethod
    def setUpClass(cls):
        cls.X, cls.y, cls.Xt, cls.yt = data(N, D, seed=1, nt=NT)
        cls.kw = dict(width=32, seed=4, steps=6, log_every=2, kernel_every=2)
        cls.ref = ntkit.run(cls.X, cls.y, cls.Xt, cls.yt, lr1=0.8, lr2=0.5, **cls.kw)

    def same(self, res):
        ref = self.ref
        self.assertEqual(res["models"], ref["models"])
        self.assertEqual(res["columns"], ref["columns"])
        for col in ref["columns"]:
            np.testing.assert_array_equal(res["metrics"][col], ref["metrics"][col], err_msg=col)
        for m in ref["models"]:
            for a, b in zip(res["predictions"][m], ref["predictions"][m]):
                np.testing.assert_array_equal(a, b, err_msg=m)
        np.testing.assert_equal(res["theory"], ref["theory"])

    def test_lrs_depth_1_and_theta0(self):
        self.assertEqual(self.ref["models"], list(ntkit.MODELS))   # lin runs at depth 1
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no note for the two-layer network
            self.same(ntkit.run(self.X, self.y, self.Xt, self.yt, lrs=[0.8, 0.5], depth=1,
                                weight_std=1.0, bias_std=0.0, parameterization="ntk", **self.kw))
        net = ntkit.Network(D, 32, seed=4)
        kw = dict(self.kw, seed=77)
        self.same(ntkit.run(self.X, self.y, self.Xt, self.yt, lr1=0.8, lr2=0.5,
                            theta0=net.theta0, **kw))
        self.same(ntkit.run(self.X, self.y, self.Xt, self.yt, lr1=0.8, lr2=0.5, W0=net.W0,
                            v0=net.v0, **kw))

    def test_params_are_the_weights(self):
        with ntkit.Run(self.X, self.y, models="nn", width=32, seed=4) as r:
            r.advance(2)
            W, v = r.weights
            (W1, b1), (W2, b2) = r.params
            np.testing.assert_array_equal(W1, W)
            np.testing.assert_array_equal(W2, v[None, :])
            self.assertIsNone(b1)
            self.assertIsNone(b2)
            self.assertFalse(r.is_deep)
            self.assertEqual(r.config["lrs"], [1.0, 1.0])
        p = self.ref["params"]
        self.assertEqual([W.shape for W, _ in p], [(32, D), (1, 32)])


class Refusals(unittest.TestCase):
    def test_lin_at_depth(self):
        X, y = data(10, 3)
        kw = dict(depth=2, width=4, steps=1)
        for models in ("nn,lin", ["nn", "lin"], "lin", "nn,all,lin"):
            with self.assertRaisesRegex(ValueError, "^models: Hu et al.'s linear model 'lin'"):
                ntkit.run(X, y, models=models, **kw)
        with self.assertRaisesRegex(ValueError, "^models: .*bias_std 0.1"):
            ntkit.Run(X, y, models="lin", width=4, bias_std=0.1)   # depth 1 with biases: deep
        for models in ("all", "nn,all", ["all"]):
            with self.assertWarnsRegex(UserWarning, "two-layer network only") as cm:
                res = ntkit.run(X, y, models=models, **kw)
            self.assertEqual(cm.filename, __file__)   # the warning names the caller's line
            self.assertEqual(res["models"], ["nn", "linearized", "ntk", "ntk_inf"])
        with self.assertWarnsRegex(UserWarning, "two-layer network only") as cm:
            with ntkit.Run(X, y, width=4, weight_std=1.5, models="all") as r:
                self.assertNotIn("lin", r.models)
        self.assertEqual(cm.filename, __file__)

    def test_arguments_named(self):
        X, y = data(10, 3)
        P = ntkit.Network(3, 4, depth=2, bias_std=0.1).nparams
        kw = dict(depth=2, width=4, bias_std=0.1, steps=1, models="nn")
        cases = [
            ("lrs", dict(lrs=[0.1, 0.1])),
            ("lrs\\[1\\]", dict(lrs=[0.1, -1, 0.1])),
            ("lrs\\[2\\]", dict(lrs=[0.1, 0.1, float("nan")])),
            ("all 0", dict(lrs=[0, 0, 0])),
            ("lrs", dict(lrs=[1, 1, 1], lr1=0.5)),
            ("lr1", dict(lr1=-1.0)),
            ("theta0", dict(theta0=np.zeros(P - 1))),
            ("theta0", dict(W0=np.zeros((4, 3)))),
            ("theta0", dict(theta0=np.zeros(P), W0=np.zeros((4, 3)))),
            ("widths", dict(widths=[4])),
            ("depth", dict(depth=0)),
            ("weight_std", dict(weight_std=0.0)),
            ("bias_std", dict(bias_std=-1.0)),
            ("parameterization", dict(parameterization="mup")),
        ]
        for pattern, bad in cases:
            with self.assertRaisesRegex(ValueError, pattern, msg=str(bad)):
                ntkit.run(X, y, **dict(kw, **bad))
        # the two-layer network with lrs: two rates
        with self.assertRaisesRegex(ValueError, "lrs"):
            ntkit.run(X, y, width=4, lrs=[1, 1, 1], steps=1, models="nn")


class OperatorMemoryAtDepth(unittest.TestCase):
    def test_mem_bytes_is_what_the_operator_checks(self):
        # KernelOperator.mem_bytes is the library's figure for this network and mode
        # (ntk_op_mem_bytes), the one ntk_op_create compares with mem_limit: an operator
        # fits in exactly that many bytes and not in one fewer
        X = data(40, 4, seed=3)[0]
        deep = dict(depth=3, widths=[20, 30, 10], weight_std=1.3, bias_std=0.2)
        net = ntkit.Network(4, 20, **deep)
        for kind, mode, kw in (("ntk", "matrix-free", dict(net=net)),
                               ("ntk", "dense", dict(net=net)),
                               ("ntk-inf", "matrix-free", deep),
                               ("nngp-inf", "dense-f32", deep)):
            b = ntkit.KernelOperator.mem_bytes(40, 4, kind, mode, width=20, **deep)
            ntkit.KernelOperator(X, kind, mode=mode, mem_limit=b, **kw).close()
            with self.assertRaises(MemoryError, msg="%s %s" % (kind, mode)):
                ntkit.KernelOperator(X, kind, mode=mode, mem_limit=b - 1, **kw)
        # the deep empirical operator's scratch depends on the network's parameters: P
        # doubles for Jᵀu twice at least; the two-layer figure would be far smaller
        b = ntkit.KernelOperator.mem_bytes(40, 4, "ntk", "matrix-free", width=20, **deep)
        self.assertGreaterEqual(b, 2 * 8 * net.nparams)
        self.assertLess(ntkit.KernelOperator.mem_bytes(40, 4, "ntk", "matrix-free", width=20), b)
        # defaults: the two-layer network, as before
        self.assertEqual(ntkit.KernelOperator.mem_bytes(40, 4, "ntk", "dense"), 8 * 40 * 40)
        with self.assertRaisesRegex(ValueError, "lin.*two-layer"):
            ntkit.KernelOperator.mem_bytes(40, 4, "lin", "matrix-free", depth=2)
        with self.assertRaisesRegex(ValueError, "widths"):
            ntkit.KernelOperator.mem_bytes(40, 4, "ntk", "matrix-free", depth=2, widths=[3])


if __name__ == "__main__":
    unittest.main()
