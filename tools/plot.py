#!/usr/bin/env python3
"""ntkit plot RUN_DIR: draw a run or sweep directory into RUN_DIR/plots/.

A run directory (metrics.csv from `ntkit run` or `ntkit train`) gives
  losses   train (solid) and test (dashed) loss of every model
  gaps     mean (f_nn - f_model)^2 on train and test, log axes
  distances  ||theta - theta0||, ||W - W0||_F, ||v - v0||, max_r ||w_r - w_r0||
  kernel   flip fraction, NTK drift and lambda_min(Theta(t)) (when measured)
A sweep directory (sweep.csv from `ntkit sweep`) gives the final and max of
the same quantities against the swept setting, plus the nn loss curve of
every member run. Each figure is written as PNG and SVG.

This module is also the drawing library of experiments.py (read_csv, save,
the colours of the models).
"""
import csv
import json
import math
import os
import sys

APT = "apt-get install -y python3-numpy python3-matplotlib"


def need_libs():
    """Import numpy and matplotlib (Agg) or exit with one error line."""
    try:
        import numpy  # noqa: F401
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError as e:
        sys.stderr.write("ntkit: error: python3 module missing (%s); run as root: apt-get update && %s\n"
                         % (e.name or e, APT))
        sys.exit(1)


need_libs()
import numpy as np  # noqa: E402
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams.update({
    "figure.dpi": 110, "savefig.dpi": 110, "font.size": 10, "axes.titlesize": 11,
    "axes.grid": True, "grid.alpha": 0.3, "legend.fontsize": 8.5, "legend.framealpha": 0.85,
    "svg.fonttype": "none", "axes.spines.top": False, "axes.spines.right": False,
})

MODELS = ["nn", "linearized", "lin", "ntk", "ntk_inf"]
LABEL = {"nn": "network", "linearized": "linearized (Taylor at θ0)", "lin": "lin (Hu et al.)",
         "ntk": "NTK GD, Θ(0)", "ntk_inf": "NTK GD, Θ∞"}
COLOR = {"nn": "#222222", "linearized": "#1f77b4", "lin": "#d62728", "ntk": "#2ca02c",
         "ntk_inf": "#9467bd"}


def read_csv(path):
    """CSV with a header -> dict column -> float array (empty cells are NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    head = rows[0]
    cols = {h: [] for h in head}
    for r in rows[1:]:
        for h, v in zip(head, r):
            try:
                cols[h].append(float(v) if v != "" else math.nan)
            except ValueError:
                cols[h].append(math.nan)
    return {h: np.asarray(v, dtype=float) for h, v in cols.items()}


def read_json(path):
    with open(path) as f:
        return json.load(f)


def save(fig, outdir, name):
    """Write outdir/name.png and outdir/name.svg; return the PNG path."""
    os.makedirs(outdir, exist_ok=True)
    fig.tight_layout()
    png = os.path.join(outdir, name + ".png")
    fig.savefig(png)
    fig.savefig(os.path.join(outdir, name + ".svg"))
    plt.close(fig)
    return png


def has(cols, key):
    return key in cols and np.any(np.isfinite(cols[key]))


def positive(y):
    """Copy with non-positive values as NaN (for log axes)."""
    y = np.array(y, dtype=float)
    y[~(y > 0)] = np.nan
    return y


def floor_y(ax, arrays, decades=8):
    """Keep a log y axis within `decades` of the largest value shown."""
    v = np.concatenate([np.asarray(a, float).ravel() for a in arrays]) if arrays else np.array([])
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        lo = max(v.min(), v.max() * 10.0 ** -decades)
        ax.set_ylim(lo / 2, v.max() * 2)


def xaxis(cols):
    return ("time", "time t (gradient flow)") if "time" in cols else ("step", "step k")


def loss_label(cfg):
    if cfg and cfg.get("loss") == "sum":
        return "loss ½Σ(f−y)²"
    return "loss (1/2n)Σ(f−y)²"


# ---------------------------------------------------------------------------
# run directory


def plot_run(rd, outdir=None, title=None):
    """Draw the figures of one run directory; return their PNG paths."""
    cols = read_csv(os.path.join(rd, "metrics.csv"))
    cfg = read_json(os.path.join(rd, "config.json")) if os.path.exists(os.path.join(rd, "config.json")) else {}
    outdir = outdir or os.path.join(rd, "plots")
    title = title or os.path.basename(os.path.normpath(rd))
    xk, xl = xaxis(cols)
    x = cols[xk]
    pos = x > 0
    logx = np.sum(pos) > 2 and np.nanmax(x) / np.nanmin(x[pos]) > 50
    T = None
    sp = os.path.join(rd, "summary.json")
    if os.path.exists(sp):
        T = (read_json(sp).get("theory") or {}).get("seed000_horizon_T")
    out = []

    # losses of every model (ntkit run) or the single network (ntkit train)
    fig, ax = plt.subplots(figsize=(7, 4.4))
    if "train_loss" in cols:
        ax.plot(x, cols["train_loss"], color=COLOR["nn"], label="network, train")
        if has(cols, "test_loss"):
            ax.plot(x, cols["test_loss"], color=COLOR["nn"], ls="--", label="network, test")
    for m in MODELS:
        if m + "_train_loss" in cols:
            ax.plot(x, cols[m + "_train_loss"], color=COLOR[m], label=LABEL[m] + ", train",
                    lw=2.2 if m == "nn" else 1.4)
            if has(cols, m + "_test_loss"):
                ax.plot(x, cols[m + "_test_loss"], color=COLOR[m], ls="--", lw=1.2,
                        label=LABEL[m] + ", test")
    env = cols.get("envelope")
    if env is not None and has(cols, "envelope") and np.nanmin(env) < 0.5 * np.nanmax(env):
        ax.plot(x, positive(cols["envelope"]), color="#ff7f0e", ls=":", lw=1.5,
                label="envelope L0(1−cηλmin)^k")
    if T and math.isfinite(T) and T <= np.nanmax(x):
        ax.axvline(T, color="0.4", ls="-.", lw=1, label="T = d log d/η1 = %.3g" % T)
    ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
        ax.set_xlim(np.nanmin(x[pos]) * 0.8, np.nanmax(x) * 1.25)
    ax.set_xlabel(xl)
    ax.set_ylabel(loss_label(cfg))
    ax.set_title("%s: losses (solid train, dashed test)" % title)
    ax.legend(ncol=2)
    out.append(save(fig, outdir, "losses"))

    # gaps to the network
    gk = [m for m in MODELS[1:] if has(cols, "gap_%s_train" % m)]
    if gk:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        for m in gk:
            ax.plot(x, positive(cols["gap_%s_train" % m]), color=COLOR[m], label=LABEL[m] + ", train")
            if has(cols, "gap_%s_test" % m):
                ax.plot(x, positive(cols["gap_%s_test" % m]), color=COLOR[m], ls="--",
                        label=LABEL[m] + ", test (capped at 1)")
        if T and math.isfinite(T) and T <= np.nanmax(x):
            ax.axvline(T, color="0.4", ls="-.", lw=1, label="T = d log d/η1 = %.3g" % T)
        ax.set_yscale("log")
        floor_y(ax, [cols["gap_%s_%s" % (m, sp)][pos] for m in gk for sp in ("train", "test")
                     if "gap_%s_%s" % (m, sp) in cols])
        ax.set_xscale("log")
        ax.set_xlim(np.nanmin(x[pos]) * 0.8, np.nanmax(x) * 1.25)
        ax.set_xlabel(xl + " (log)")
        ax.set_ylabel("mean (f_nn − f_model)²")
        ax.set_title("%s: gap between the network and each model" % title)
        ax.legend()
        out.append(save(fig, outdir, "gaps"))

    # distances from initialisation
    dk = [k for k in ("theta_dist", "w_dist_fro", "v_dist", "w_dist_max_row") if has(cols, k)]
    if dk:
        lab = {"theta_dist": "‖θ−θ0‖", "w_dist_fro": "‖W−W0‖_F", "v_dist": "‖v−v0‖",
               "w_dist_max_row": "max_r ‖w_r−w_r0‖"}
        fig, ax = plt.subplots(figsize=(7, 4.4))
        for k in dk:
            y = positive(cols[k])
            if np.any(np.isfinite(y)):
                ax.plot(x, y, label=lab[k])
        ax.set_yscale("log")
        if logx:
            ax.set_xscale("log")
        ax.set_xlim(np.nanmin(x[pos]) * 0.8, np.nanmax(x) * 1.25)
        ax.set_xlabel(xl)
        ax.set_ylabel("distance from initialisation (Euclidean norm)")
        ax.set_title("%s: weight movement" % title)
        ax.legend()
        out.append(save(fig, outdir, "distances"))

    # activation flips, NTK drift and lambda_min
    kk = [k for k in ("flip_frac", "ntk_drift", "ntk_lambda_min") if has(cols, k)]
    if kk:
        fig, axs = plt.subplots(1, len(kk), figsize=(4.2 * len(kk), 3.8), squeeze=False)
        lab = {"flip_frac": ("fraction of (i, r) with flipped sign", "activation-pattern flips"),
               "ntk_drift": ("‖Θ(t)−Θ(0)‖op / ‖Θ(0)‖op", "NTK drift (subsample)"),
               "ntk_lambda_min": ("λmin(Θ(t)) (subsample)", "smallest NTK eigenvalue")}
        for ax, k in zip(axs[0], kk):
            ok = np.isfinite(cols[k])
            ax.plot(x[ok], cols[k][ok], marker="o", ms=3)
            ax.set_xlabel(xl)
            ax.set_ylabel(lab[k][0])
            ax.set_title(lab[k][1])
        fig.suptitle(title)
        out.append(save(fig, outdir, "kernel"))
    return out


# ---------------------------------------------------------------------------
# sweep directory


def sweep_members(sd):
    """[(value, path)] of the member run directories, sorted by value."""
    out = []
    for name in os.listdir(sd):
        p = os.path.join(sd, name)
        if "=" in name and os.path.isdir(p) and os.path.exists(os.path.join(p, "metrics.csv")):
            try:
                out.append((float(name.split("=", 1)[1]), p))
            except ValueError:
                pass
    return sorted(out)


def plot_sweep(sd, outdir=None, title=None):
    cols = read_csv(os.path.join(sd, "sweep.csv"))
    outdir = outdir or os.path.join(sd, "plots")
    title = title or os.path.basename(os.path.normpath(sd))
    param = next(iter(cols))
    x = cols[param]
    logx = len(x) > 1 and np.all(x > 0) and np.nanmax(x) / np.nanmin(x) >= 8
    out = []

    def finish(ax, ylabel, name, logy=True):
        if logx:
            ax.set_xscale("log", base=2)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(param)
        ax.set_ylabel(ylabel)
        ax.legend()
        out.append(save(ax.figure, outdir, name))

    fig, ax = plt.subplots(figsize=(7, 4.4))
    for m in MODELS:
        for split, ls in (("train", "-"), ("test", "--")):
            k = "%s_%s_loss_final" % (m, split)
            if has(cols, k):
                ax.plot(x, positive(cols[k]), ls=ls, marker="o", ms=4, color=COLOR[m],
                        label="%s, %s" % (LABEL[m], split))
    ax.set_title("%s: final losses against %s" % (title, param))
    finish(ax, "final loss", "losses")

    gk = [m for m in MODELS[1:] if has(cols, "gap_%s_train_max" % m)]
    if gk:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        for m in gk:
            ax.plot(x, positive(cols["gap_%s_train_max" % m]), marker="o", ms=4, color=COLOR[m],
                    label=LABEL[m] + ", train (max over t)")
            if has(cols, "gap_%s_test_max" % m):
                ax.plot(x, positive(cols["gap_%s_test_max" % m]), marker="s", ms=3, ls="--",
                        color=COLOR[m], label=LABEL[m] + ", test (max over t)")
        ax.set_title("%s: largest gap to the network against %s" % (title, param))
        finish(ax, "max_t mean (f_nn − f_model)²", "gaps")

    lab = {"theta_dist": "‖θ−θ0‖", "w_dist_fro": "‖W−W0‖_F", "v_dist": "‖v−v0‖",
           "w_dist_max_row": "max_r ‖w_r−w_r0‖", "flip_frac": "flip fraction", "ntk_drift": "NTK drift"}
    dk = [k for k in lab if has(cols, k + "_max")]
    if dk:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        for k in dk:
            ax.plot(x, positive(cols[k + "_max"]), marker="o", ms=4, label=lab[k] + " (max over t)")
        ax.set_title("%s: movement, flips and drift against %s" % (title, param))
        finish(ax, "value (log scale)", "distances")

    members = sweep_members(sd)
    if members:
        fig, ax = plt.subplots(figsize=(7, 4.4))
        cmap = plt.get_cmap("viridis")
        for i, (v, p) in enumerate(members):
            mc = read_csv(os.path.join(p, "metrics.csv"))
            xk, xl = xaxis(mc)
            key = "nn_train_loss" if "nn_train_loss" in mc else "train_loss"
            if key in mc:
                ax.plot(mc[xk], positive(mc[key]), color=cmap(i / max(1, len(members) - 1)),
                        label="%s = %g" % (param, v))
        ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("network train loss")
        ax.set_title("%s: network training curves" % title)
        ax.legend(ncol=2)
        out.append(save(fig, outdir, "curves"))
    return out


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="ntkit plot", description=(
        "Draw a run directory (ntkit run/train) or a sweep directory (ntkit sweep) into "
        "DIR/plots/ as PNG and SVG: losses of every model, gaps on log axes, weight "
        "distances, flips and NTK drift."))
    ap.add_argument("dir", metavar="RUN_DIR", help="run or sweep directory")
    ap.add_argument("--out", metavar="DIR", help="where to write the figures (default RUN_DIR/plots)")
    ap.add_argument("--members", action="store_true", help="for a sweep, also plot every member run")
    a = ap.parse_args(argv)
    d = a.dir
    if os.path.exists(os.path.join(d, "sweep.csv")):
        files = plot_sweep(d, a.out)
        if a.members:
            for v, p in sweep_members(d):
                files += plot_run(p)
    elif os.path.exists(os.path.join(d, "metrics.csv")):
        files = plot_run(d, a.out)
    else:
        sys.stderr.write("ntkit: error: %s is neither a run directory (metrics.csv) nor a sweep "
                         "directory (sweep.csv)\n" % d)
        return 1
    for f in files:
        print(f)
        print(f[:-4] + ".svg")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
