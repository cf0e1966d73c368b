"""`ntkit experiment lazy-meanfield`: the same width-m network trained at the
NTK scaling (α = 1) and at the mean-field scaling (α = 1/√m, rates × m). The
first is lazy: its weights, kernel and features barely move; the second moves
its weights O(1), changes its kernel and aligns its neurons with the
teacher's direction, and on a single-ReLU teacher it generalises better at
equal training loss. Negative control: a linear teacher, which the lazy
network (a kernel method) learns as well."""
import math
import os

from exp_common import Check, ExpError, g, table, Report, P, np, plt
from exp_lazy_scale import first_at_or_below


def teacher_direction(rd, target):
    """Unit direction u of the teacher, recovered from the noise-free training
    labels: relu-neuron y = √2 relu(uᵀx) gives uᵀx_i = y_i/√2 on the points with
    y_i > 0; linear y = βᵀx/√d gives β up to scale. Least squares, then a check
    that the labels are reproduced to rounding."""
    X = P.load_npy(os.path.join(rd, "X_train.npy"))
    y = P.load_npy(os.path.join(rd, "y_train.npy"))
    if target == "relu-neuron":
        pos = y > 0
        A, b = X[pos], y[pos] / math.sqrt(2.0)
    else:
        A, b = X, y
    if A.shape[0] < A.shape[1]:
        raise ExpError("%s: %d usable points for a %d-dimensional teacher; use more points"
                       % (rd, A.shape[0], A.shape[1]))
    u = np.linalg.lstsq(A, b, rcond=None)[0]
    res = float(np.linalg.norm(A @ u - b) / np.linalg.norm(b))
    if not res <= 1e-8:
        raise ExpError("%s: the labels are not a noise-free %s teacher (relative residual %.2g)" % (rd, target, res))
    return u / np.linalg.norm(u)


def alignment(W, u):
    """d · mean_r (w_r·u)²/‖w_r‖²: 1 in expectation for random directions, d
    when every neuron points along u."""
    c2 = (W @ u) ** 2 / np.sum(W ** 2, axis=1)
    return float(W.shape[1] * np.mean(c2))


class LazyMeanfield:
    name = "lazy-meanfield"
    cite = "Chizat et al. 2019"
    source = ("Chizat, Oyallon and Bach 2019 (training is lazy for large α and not for small α; the mean-field "
              "scaling is α = 1/√m in ntkit's parameterisation, docs/theory.md §1.3, §8.4), against the mean-field "
              "limit in which the neurons move O(1) and features are learned (Mei, Montanari and Nguyen 2018)")
    claim = ("for one width m, the NTK scaling (α = 1) is lazy: the first layer moves a small fraction of its "
             "size (≤ 0.1), the tangent kernel drifts by ≤ 10% and the neurons stay as aligned with the "
             "teacher as random ones (≤ 1.5× random); the mean-field scaling (α = 1/√m, rates × m) moves the "
             "first layer O(1) (≥ 0.3 of its size), changes the kernel (drift ≥ 0.5) and learns features "
             "(alignment ≥ 2× random); on a single-ReLU teacher it reaches, at equal training loss, at most "
             "half the NTK network's test error.")
    sizes = {
        "smoke": dict(d=10, n=60, n_test=300, width=256, steps=200, lr=2),
        "quick": dict(d=16, n=160, n_test=500, width=512, steps=400, lr=2),
        "full": dict(d=20, n=200, n_test=1000, width=1024, steps=600, lr=2),
    }
    LAZY_MOVE, MF_MOVE = 0.1, 0.3
    LAZY_DRIFT, MF_DRIFT = 0.1, 0.5
    LAZY_ALIGN, MF_ALIGN = 1.5, 2.0
    GEN_RATIO = 0.5

    def train(self, ctx, s, alpha, target, out):
        ctx.ntkit("run", "--act", "gelu", "--width", s["width"], "--alpha", "%.10g" % alpha, "--centered",
                  "--lr-scale", "alpha2", "--lr1", s["lr"], "--lr2", s["lr"], "--d", s["d"], "--n", s["n"],
                  "--n-test", s["n_test"], "--target", target, "--steps", s["steps"], "--log-every",
                  max(1, s["steps"] // 100), "--models", "nn,linearized", "--kernel-every", 10,
                  "--kernel-subsample", 0, "--quad-order", 8, "--seed", 5, "--quiet", "--out", out)
        mt = P.read_csv(os.path.join(out, "metrics.csv"))
        W0 = P.load_npy(os.path.join(out, "W0.npy"))
        W = P.load_npy(os.path.join(out, "W.npy"))
        u = teacher_direction(out, target)
        dW = W - W0
        return dict(alpha=alpha, mt=mt, rel_move=float(np.max(mt["w_dist_fro"])) / math.sqrt(float(np.sum(W0 ** 2))),
                    drift=float(np.nanmax(mt["ntk_drift"])), align0=alignment(W0, u), align=alignment(W, u),
                    move_along_u=float(np.sum((dW @ u) ** 2) / np.sum(dW ** 2)),
                    train_mse=2 * float(mt["nn_train_loss"][-1]), test_mse=2 * float(mt["nn_test_loss"][-1]),
                    lin_test_mse=2 * float(mt["linearized_test_loss"][-1]))

    def pair(self, ctx, s, target, tag):
        m = s["width"]
        ctx.log("%s teacher: α = 1 (NTK) and α = 1/√m (mean-field), m = %d" % (target, m))
        lz = self.train(ctx, s, 1.0, target, ctx.p("%s-ntk" % tag))
        mf = self.train(ctx, s, 1 / math.sqrt(m), target, ctx.p("%s-meanfield" % tag))
        # equal training loss: the NTK network's final training MSE; the mean-field
        # network is read at its first logged step at or below it (none: n/a)
        target_mse = lz["train_mse"]
        i = first_at_or_below(mf["mt"], "nn_train_loss", target_mse / 2)
        mf["eq_step"] = None if i is None else int(mf["mt"]["step"][i])
        mf["eq_test"] = math.nan if i is None else 2 * float(mf["mt"]["nn_test_loss"][i])
        lz["eq_step"], lz["eq_test"] = int(lz["mt"]["step"][-1]), lz["test_mse"]
        return dict(lazy=lz, mf=mf, target=target_mse)

    def checks(self, p, label):
        lz, mf = p["lazy"], p["mf"]
        return [
            Check("%s α = 1: ‖W − W0‖_F/‖W0‖_F" % label, lz["rel_move"], "<=", self.LAZY_MOVE,
                  part="lazy: small movement"),
            Check("%s α = 1/√m: ‖W − W0‖_F/‖W0‖_F" % label, mf["rel_move"], ">=", self.MF_MOVE,
                  part="mean-field: O(1) movement"),
            Check("%s α = 1: kernel drift" % label, lz["drift"], "<=", self.LAZY_DRIFT, part="lazy: kernel fixed"),
            Check("%s α = 1/√m: kernel drift" % label, mf["drift"], ">=", self.MF_DRIFT,
                  part="mean-field: kernel moves"),
            Check("%s α = 1: alignment with the teacher ÷ random" % label, lz["align"], "<=", self.LAZY_ALIGN,
                  part="lazy: no feature learning"),
            Check("%s α = 1/√m: alignment with the teacher ÷ random" % label, mf["align"], ">=", self.MF_ALIGN,
                  part="mean-field: feature learning"),
            Check("%s test MSE α = 1/√m ÷ α = 1 at train MSE %s" % (label, g(p["target"])),
                  mf["eq_test"] / lz["eq_test"], "<=", self.GEN_RATIO, part="mean-field generalises better"),
        ]

    def run(self, ctx):
        s = self.sizes[ctx.size]
        rep = Report(ctx, self)
        main = self.pair(ctx, s, "relu-neuron", "relu")
        ctrl = self.pair(ctx, s, "linear", "linear")
        for c in self.checks(main, "ReLU teacher:"):
            rep.checks.append(c)
        rep.decide()
        rep.negative_control(
            "The same pair of runs on a linear teacher y = βᵀx/√d (`--target linear`): a kernel method learns "
            "it from n = %d·d samples, so feature learning buys nothing there and the mean-field network "
            "should not generalise twice as well." % (s["n"] // s["d"]), self.checks(ctrl, "linear teacher:"))
        keep = ("alpha", "rel_move", "drift", "align0", "align", "move_along_u", "train_mse", "test_mse",
                "lin_test_mse", "eq_step", "eq_test")
        rep.results = {t: dict(target_train_mse=p["target"], ntk={k: p["lazy"][k] for k in keep},
                               meanfield={k: p["mf"][k] for k in keep})
                       for t, p in (("relu_neuron", main), ("linear_control", ctrl))}
        m = s["width"]
        rep.settings += [
            "network: GELU, width m = %d, Gaussian initialisation, centred model, both layers trained by "
            "gradient descent with η1 = η2 = %g/α² (`--lr-scale alpha2`), %d steps, mean loss; NTK scaling "
            "α = 1, mean-field scaling α = 1/√m = %s (f = (1/m)Σ v_r φ(w_r·x/√d), rates %g·m)" % (
                m, s["lr"], s["steps"], g(1 / math.sqrt(m)), s["lr"]),
            "data: x ~ N(0, I_d), d = %d, n = %d, %d test points, seed 5; single-ReLU teacher y = √2 relu(uᵀx) "
            "and, for the control, the linear teacher" % (s["d"], s["n"], s["n_test"]),
            "movement = max over t of ‖W − W0‖_F ÷ ‖W0‖_F; drift = max over t of ‖Θ_t − Θ_0‖op/‖Θ_0‖op on all "
            "n points (every 10th log); alignment = d · mean_r (w_r·u)²/‖w_r‖² at the end (1 for random "
            "directions), with u recovered from the noise-free training labels by least squares",
            "equal training loss: the NTK network's final training MSE is the target; the mean-field network "
            "is read at its first logged step at or below it",
        ]
        hdr = ["teacher", "scaling", "movement", "kernel drift", "alignment (init → end)", "share of ΔW along u",
               "final train MSE", "final test MSE", "linearized test MSE", "step at target", "test MSE at target"]
        rows = []
        for t, p in (("single ReLU", main), ("linear (control)", ctrl)):
            for sc, r in (("α = 1 (NTK)", p["lazy"]), ("α = 1/√m (mean-field)", p["mf"])):
                rows.append([t, sc, r["rel_move"], r["drift"], "%s → %s" % (g(r["align0"]), g(r["align"])),
                             r["move_along_u"], r["train_mse"], r["test_mse"], r["lin_test_mse"],
                             "—" if r["eq_step"] is None else str(r["eq_step"]), r["eq_test"]])
        rep.sections.append(("Both scalings, both teachers (target train MSE: %s for the ReLU teacher, %s for "
                             "the linear one)" % (g(main["target"]), g(ctrl["target"])), table(hdr, rows)))
        rep.notes.append(
            "Thresholds: the lazy side at most 0.1 movement, 10%% drift and 1.5× random alignment; the mean-field "
            "side at least 0.3, 0.5 and 2×. At the NTK scaling the relative movement is of order m^(−1/2) = %s "
            "(`ntkit experiment lazy-width` fits that exponent), at the mean-field scaling of order 1; the "
            "thresholds sit between the two orders at this width." % g(1 / math.sqrt(m)))
        self.figures(rep, main, ctrl)
        return rep

    def figures(self, rep, main, ctrl):
        fig, axs = plt.subplots(1, 2, figsize=(13, 4.6))
        for ax, p, title in ((axs[0], main, "single-ReLU teacher"), (axs[1], ctrl, "linear teacher (control)")):
            for r, c, lab in ((p["lazy"], "#1f77b4", "α = 1 (NTK)"), (p["mf"], "#d62728", "α = 1/√m (mean-field)")):
                mt = r["mt"]
                ax.plot(2 * np.asarray(mt["nn_train_loss"]), 2 * np.asarray(mt["nn_test_loss"]), "-", color=c,
                        label=lab + ", network")
                ax.plot(2 * np.asarray(mt["linearized_train_loss"]), 2 * np.asarray(mt["linearized_test_loss"]),
                        ":", color=c, label=lab + ", linearized")
            ax.axvline(p["target"], color="0.4", ls="--", label="equal-loss target")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.invert_xaxis()
            ax.set_xlabel("training MSE (decreasing along training)")
            ax.set_ylabel("test MSE")
            ax.set_title(title)
            ax.legend(fontsize=7.5)
        rep.fig(fig, "lazy_vs_meanfield", "Test against training MSE along training at the two scalings, network "
                "(solid) and its linearization (dotted); the dashed line is the training MSE at which the test "
                "errors are compared.")
