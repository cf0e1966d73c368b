#!/usr/bin/env python3
"""Infinitely wide networks on a toy problem, with ntkit: the walkthrough of the
Neural Tangents cookbook (Novak et al. 2020) for ntkit's two-layer network.

  1. prior: functions drawn by finite networks at initialisation, next to the
     NNGP prior's ±2σ band (Neal 1996; Lee et al. 2018);
  2. posterior: the exact Bayesian (NNGP) posterior and the distribution of an
     infinite ensemble of infinitely wide networks trained to convergence by
     gradient descent (NTK; Lee et al. 2019), mean ± 2σ;
  3. the training and test losses of the infinite ensemble over time, with
     those of finite networks trained by gradient descent;
  4. an ensemble of finite networks after training, next to the infinite
     ensemble at the same time.

The data: y = sin(x) + noise at a few points of [−π, π]. The network sees
x_in = (x, 1) (d = 2: the constant plays the bias of the cookbook's layers),
f(x) = 1/√m Σ_r v_r erf(w_r·x_in/√2), trained by full-batch GD on
½·mean (f − y)² with rate η in both layers; in the infinite-width limit its
outputs follow ntkit.predict.gradient_descent_mse_ensemble with the same η
(time in steps; the flow is GD's limit of small steps).

Usage:  python3 examples/infinite_networks.py OUT.png [--quick]
(install the package first: pip install --no-build-isolation ./python, or
make install; --quick: fewer and narrower networks, for the tests).
"""
import argparse
import sys

import numpy as np

import ntkit
from ntkit import predict


def inputs(x):
    """x (n,) -> (n, 2): the point and the constant that acts as a bias."""
    return np.stack([x, np.ones_like(x)], axis=1)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("png", help="where to write the figure (PNG)")
    ap.add_argument("--quick", action="store_true", help="fewer, narrower networks")
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # -- the data ------------------------------------------------------------
    rng = np.random.default_rng(10)
    n_train, noise = 5, 0.1
    x_train = rng.uniform(-np.pi, np.pi, n_train)
    y_train = (np.sin(x_train) + noise * rng.standard_normal(n_train))[:, None]    # (n, 1)
    x_test = np.linspace(-np.pi, np.pi, 60)
    y_test = np.sin(x_test)[:, None]
    X, Xt = inputs(x_train), inputs(x_test)

    act, width = "erf", (256 if args.quick else 1024)
    members = 8 if args.quick else 32
    lr, steps, log_every = 1.0, (2000 if args.quick else 10000), 100
    kernel_fn = ntkit.infinite_kernel_fn(act)

    # -- 1. the prior --------------------------------------------------------
    prior_std = np.sqrt(ntkit.nngp_inf(Xt, act=act, diagonal=True))   # K(x, x) only
    draws = np.array([ntkit.Network(2, width, act=act, seed=s)(Xt) for s in range(members)])

    # -- 2. the posteriors (t = ∞) -------------------------------------------
    ens = predict.gradient_descent_mse_ensemble(kernel_fn, X, y_train, learning_rate=lr,
                                                diag_reg=1e-4)
    post = ens(None, Xt, compute_cov=True)           # Gaussians(nngp=..., ntk=...)

    # -- 3. losses over time: the infinite ensemble and finite networks -------
    ts = np.arange(0, steps + 1, log_every, dtype=float)
    at_t = ens(ts, Xt, "ntk", compute_cov=True)       # mean (T, 60, 1), cov (T, 60, 60)
    at_t_train = ens(ts, None, "ntk", compute_cov=True)

    def expected_loss(mean, cov, y):
        # E ½·mean (f − y)² over the Gaussian outputs: the mean's error plus the variance
        return 0.5 * (np.mean((mean[..., 0] - y[:, 0]) ** 2, axis=-1)
                      + np.trace(cov, axis1=-2, axis2=-1) / len(y))

    inf_train = expected_loss(at_t_train.mean, at_t_train.covariance, y_train)
    inf_test = expected_loss(at_t.mean, at_t.covariance, y_test)

    # finite networks trained by GD, their test outputs recorded at the logged steps
    finite_test, finite_train, trained = [], [], []
    for s in range(members):
        net = ntkit.Network(2, width, act=act, seed=s)
        hist = net.train(X, y_train[:, 0], lr1=lr, lr2=lr, steps=steps, log_every=log_every,
                         record=Xt)
        finite_train.append(hist["train_loss"])
        finite_test.append(0.5 * np.mean((hist["f"] - y_test[:, 0]) ** 2, axis=1))
        trained.append(hist["f"][-1])
    finite_train, finite_test, trained = map(np.array, (finite_train, finite_test, trained))

    # -- 4. the ensemble after training, against the infinite ensemble at t = steps
    fin_mean, fin_std = trained.mean(axis=0), trained.std(axis=0, ddof=1)
    inf_mean = at_t.mean[-1, :, 0]
    inf_std = np.sqrt(np.maximum(np.diag(at_t.covariance[-1]), 0))

    fig, ax = plt.subplots(2, 2, figsize=(11, 8.5))
    a = ax[0, 0]
    a.fill_between(x_test, -2 * prior_std, 2 * prior_std, color="C0", alpha=0.15,
                   label="NNGP prior ±2σ")
    for f in draws:
        a.plot(x_test, f, color="C0", lw=0.8, alpha=0.7)
    a.plot(x_test, y_test, "k--", lw=1, label="sin x")
    a.plot(x_train, y_train, "ko", label="training points")
    a.set_title("1. prior: %d networks of width %d at initialisation" % (members, width))
    a.legend(loc="lower right", fontsize=8)

    a = ax[0, 1]
    for g, c in (("nngp", "C1"), ("ntk", "C2")):
        gs = getattr(post, g)
        m, sd = gs.mean[:, 0], np.sqrt(np.maximum(np.diag(gs.covariance), 0))
        a.plot(x_test, m, color=c, label="%s posterior mean" % g.upper())
        a.fill_between(x_test, m - 2 * sd, m + 2 * sd, color=c, alpha=0.2,
                       label="%s ±2σ" % g.upper())
    a.plot(x_test, y_test, "k--", lw=1)
    a.plot(x_train, y_train, "ko")
    a.set_title("2. infinite width, t = ∞: NNGP and NTK posteriors")
    a.legend(loc="lower right", fontsize=8)

    a = ax[1, 0]
    steps_axis = np.maximum(ts, 1)
    a.loglog(steps_axis, inf_train, "C3", label="infinite ensemble, train")
    a.loglog(steps_axis, inf_test, "C4", label="infinite ensemble, test")
    a.loglog(steps_axis, finite_train.mean(axis=0), "C3:", label="finite networks, train (mean)")
    a.loglog(steps_axis, finite_test.mean(axis=0), "C4:", label="finite networks, test (mean)")
    a.set_xlabel("GD step (rate %g)" % lr)
    a.set_ylabel("loss ½·mean (f − y)²")
    a.set_title("3. losses over training")
    a.legend(fontsize=8)

    a = ax[1, 1]
    a.plot(x_test, inf_mean, "C2", label="infinite ensemble (NTK), t = %d" % steps)
    a.fill_between(x_test, inf_mean - 2 * inf_std, inf_mean + 2 * inf_std, color="C2", alpha=0.2)
    a.plot(x_test, fin_mean, "C0--", label="%d finite networks: mean" % members)
    a.plot(x_test, fin_mean - 2 * fin_std, "C0:", lw=1, label="±2 std")
    a.plot(x_test, fin_mean + 2 * fin_std, "C0:", lw=1)
    a.plot(x_train, y_train, "ko")
    a.set_title("4. after training: width %d against infinite width" % width)
    a.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)

    gap = np.abs(fin_mean - inf_mean).max()
    print("figure: %s" % args.png)
    print("prior: finite draws' std %.3f against the NNGP's %.3f (mean over x)"
          % (draws.std(axis=0, ddof=1).mean(), prior_std.mean()))
    print("after %d steps: max |mean of %d networks - infinite ensemble mean| = %.3f "
          "(infinite-ensemble std up to %.3f, std of the finite mean about %.3f)"
          % (steps, members, gap, inf_std.max(), inf_std.max() / np.sqrt(members)))
    print("final test loss: infinite ensemble %.4f, finite networks %.4f (mean)"
          % (inf_test[-1], finite_test[:, -1].mean()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
