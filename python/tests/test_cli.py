"""The binding against the CLI on the same seeds: weights, data, training."""
import json
import os
import subprocess
import unittest

import numpy as np

from helpers import CLI, HAVE_CLI, TempDir, cli_run, ntkit, read_csv


@unittest.skipUnless(HAVE_CLI, "ntkit CLI not built at %s (run make, or set NTKIT)" % CLI)
class CliCrossCheck(unittest.TestCase):
    ARGS = ["train", "--n", "50", "--d", "5", "--width", "16", "--seed", "3", "--steps", "20",
            "--log-every", "5"]

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.dir = cli_run(cls.ARGS, cls.tmp.__enter__())
        cls.metrics = read_csv(os.path.join(cls.dir, "metrics.csv"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.__exit__(None, None, None)

    def load(self, name):
        return np.load(os.path.join(self.dir, name))

    def test_initial_weights_identical(self):
        net = ntkit.Network(5, 16, seed=3)
        np.testing.assert_array_equal(net.W0, self.load("W0.npy"))
        np.testing.assert_array_equal(net.v0, self.load("v0.npy"))
        np.testing.assert_array_equal(net.W, net.W0)

    def test_dataset_identical(self):
        ds = ntkit.make_dataset("gaussian", "linear", n=50, n_test=200, d=5, seed=3)
        for name in ("X_train", "y_train", "X_test", "y_test"):
            np.testing.assert_array_equal(ds[name], self.load(name + ".npy"), err_msg=name)

    def test_training_matches_metrics_csv(self):
        X, y = self.load("X_train.npy"), self.load("y_train.npy")
        Xt, yt = self.load("X_test.npy"), self.load("y_test.npy")
        net = ntkit.Network(5, 16, seed=3)
        h = net.train(X, y, lr1=1.0, lr2=1.0, steps=20, log_every=5, X_test=Xt, y_test=yt)
        m = self.metrics
        np.testing.assert_array_equal(h["step"], m["step"])
        # metrics.csv holds 10 significant digits
        for col in ("train_loss", "test_loss"):
            np.testing.assert_allclose(h[col], m[col], rtol=0, atol=1e-10, err_msg=col)
        for col in ("grad_norm", "w_dist_fro", "v_dist", "w_dist_max_row"):
            np.testing.assert_allclose(h[col], m[col], rtol=1e-9, atol=1e-12, err_msg=col)
        np.testing.assert_allclose(net.W, self.load("W.npy"), rtol=0, atol=1e-12)
        np.testing.assert_allclose(net.v, self.load("v.npy"), rtol=0, atol=1e-12)

    def test_config_round_trip(self):
        with open(os.path.join(self.dir, "config.json")) as fp:
            cfg = json.load(fp)
        net = ntkit.Network(cfg["d"], cfg["width"], act=cfg["act"], init=cfg["init"],
                            input_scale=cfg["input_scale"], alpha=cfg["alpha"],
                            centered=cfg["centered"], seed=cfg["seed"])
        c = net.config
        for k in ("act", "init", "input_scale", "alpha", "centered", "seed", "s"):
            self.assertEqual(c[k], cfg[k], k)

    def test_other_settings_match(self):
        args = ["train", "--n", "30", "--d", "4", "--width", "10", "--seed", "11", "--steps", "7",
                "--log-every", "1", "--act", "tanh", "--init", "symmetric", "--loss", "sum",
                "--lr1", "0.05", "--lr2", "0", "--alpha", "2", "--input-scale", "one", "--n-test", "0"]
        with TempDir() as tmp:
            d = cli_run(args, tmp)
            X, y = np.load(os.path.join(d, "X_train.npy")), np.load(os.path.join(d, "y_train.npy"))
            m = read_csv(os.path.join(d, "metrics.csv"))
            net = ntkit.Network(4, 10, act="tanh", init="symmetric", alpha=2, input_scale="one", seed=11)
            np.testing.assert_array_equal(net.W0, np.load(os.path.join(d, "W0.npy")))
            h = net.train(X, y, lr1=0.05, lr2=0.0, steps=7, loss="sum")
            np.testing.assert_allclose(h["train_loss"], m["train_loss"], rtol=1e-9, atol=1e-10)
            np.testing.assert_array_equal(h["v_dist"], 0.0)
            np.testing.assert_allclose(net.W, np.load(os.path.join(d, "W.npy")), atol=1e-12)

    def test_given_W0_alone_draws_v0_like_cli(self):
        with TempDir() as tmp:
            W0 = np.random.default_rng(1).standard_normal((16, 5))
            path = os.path.join(tmp, "W0_in.npy")
            np.save(path, W0)
            d = cli_run(["train", "--n", "20", "--d", "5", "--seed", "4", "--steps", "3",
                         "--init", "sign", "--W0", path], tmp)
            net = ntkit.Network(5, 16, init="sign", seed=4, W0=W0)
            np.testing.assert_array_equal(net.W0, W0)
            np.testing.assert_array_equal(net.v0, np.load(os.path.join(d, "v0.npy")))


def cli_has_run():
    if not HAVE_CLI:
        return False
    return subprocess.run([CLI, "run", "--help"], capture_output=True).returncode == 0


@unittest.skipUnless(cli_has_run(), "ntkit CLI with a run command not built at %s" % CLI)
class CliRunCrossCheck(unittest.TestCase):
    """`ntkit run` and ntkit.run on the same seed: metrics, final values, theory."""

    THEORY = {"ntk_lmin": "ntk_lambda_min", "ntk_lmax": "ntk_lambda_max",
              "inf_lmin": "ntk_inf_lambda_min", "inf_lmax": "ntk_inf_lambda_max",
              "jac_smin": "jacobian_sigma_min", "jac_smax": "jacobian_sigma_max",
              "lr_max_stable": "lr_max_stable", "stability": "stability_c_eta_lambda_max",
              "envelope_rate": "envelope_rate", "loss0": "initial_loss", "D_bound": "du_D_bound",
              "flip_bound_D": "du_flip_bound_D", "beta_bound": "chizat_beta_bound",
              "alpha_condition": "chizat_alpha_condition",
              "weight_bound": "chizat_weight_bound", "horizon_T": "hu_horizon_T"}

    # the report's checks (ntkit.run's "checks") under their summary.json names
    CHECKS = {"envelope_max_ratio": "envelope_max_ratio", "R_max": "du_R_measured",
              "flip_max": "du_flip_measured_max", "beta_estimate": "chizat_beta_estimate",
              "beta_used": "chizat_beta_used", "alpha_condition": "chizat_alpha_condition",
              "theta_max": "chizat_weight_measured_max", "gap_lin_at_T": "hu_gap_lin_at_T",
              "time_at_T": "hu_logged_time_at_T"}

    def compare(self, cli_args, **kw):
        with TempDir() as tmp:
            d = cli_run(["run", "--n", "40", "--n-test", "10", "--d", "5", "--width", "32",
                         "--seed", "2"] + cli_args, tmp)
            m = read_csv(os.path.join(d, "metrics.csv"))
            with open(os.path.join(d, "summary.json")) as fp:
                summary = json.load(fp)
            X, y, Xt, yt = (np.load(os.path.join(d, name + ".npy"))
                            for name in ("X_train", "y_train", "X_test", "y_test"))
            res = ntkit.run(X, y, Xt, yt, width=32, seed=2, **kw)
        for col, a in res["metrics"].items():
            np.testing.assert_array_equal(np.isnan(a), np.isnan(m[col]), err_msg=col)
            np.testing.assert_allclose(a, m[col], rtol=1e-9, atol=1e-12, err_msg=col)  # 10 digits
            final = summary["final"].get(col)
            if final is not None and np.isfinite(a[-1]):   # summary.json: full precision
                self.assertAlmostEqual(a[-1], final, delta=1e-11 * max(1.0, abs(final)), msg=col)
        pairs = [(res["theory"][key], summary["theory"][name], key) for key, name in self.THEORY.items()]
        pairs += [(res["checks"][key], summary["checks"][name], key) for key, name in self.CHECKS.items()]
        pairs.append((res["checks"]["loss_growth"], summary["loss_growth"], "loss_growth"))
        for got, ref, key in pairs:   # summary.json: full precision, null where undefined
            if ref is None:
                self.assertFalse(np.isfinite(got), key)
            else:
                self.assertAlmostEqual(got, ref, delta=1e-11 * max(1.0, abs(ref)), msg=key)
        self.assertEqual(res["checks"]["status"], summary["status"])

    def test_gd_all_models(self):
        self.compare(["--steps", "10", "--log-every", "3", "--lr1", "0.5", "--lr2", "0.7",
                      "--kernel-every", "2"], steps=10, log_every=3, lr1=0.5, lr2=0.7, kernel_every=2)

    def test_gd_one_layer_tanh_sum(self):
        self.compare(["--steps", "6", "--log-every", "2", "--lr1", "0.02", "--lr2", "0", "--act", "tanh",
                      "--loss", "sum", "--models", "nn,lin,ntk-inf", "--alpha", "2"],
                     steps=6, log_every=2, lr1=0.02, lr2=0.0, act="tanh", loss="sum",
                     models="nn,lin,ntk-inf", alpha=2.0)


if __name__ == "__main__":
    unittest.main()
