"""`ntkit experiment hu-inputs`: the concentration facts about the inputs that
Hu et al. 2020's proofs start from, measured across d and n."""
import math
import os

from exp_common import Check, g, table, Report, P, np, plt
from exp_hu_util import power_fit, ci

DELTA = 0.01   # each high-probability bound is taken at failure probability 1%


def norm_bound(n, d):
    """max_i |‖x_i‖²/d − 1| for x_i ~ N(0, I_d): Laurent and Massart's chi-square tail
    P(|‖x‖² − d| ≥ 2√(d t) + 2t) ≤ 2e^(−t), with a union bound over n points at t = log(2n/δ)."""
    t = math.log(2 * n / DELTA)
    return (2 * math.sqrt(d * t) + 2 * t) / d


def ip_bound(n, d, max_norm):
    """max_{i≠j} |⟨x_i, x_j⟩|/d: given x_j, ⟨x_i, x_j⟩ ~ N(0, ‖x_j‖²), so with a union bound
    over the n(n − 1)/2 pairs it is ≤ max_j ‖x_j‖ · √(2 log(n(n − 1)/δ)) / d."""
    return max_norm * math.sqrt(2 * math.log(n * (n - 1) / DELTA)) / d


def xx_band(n, d):
    """‖XXᵀ‖/n = σ_max(X)²/n for an n×d Gaussian matrix (n ≥ d): Davidson and Szarek's
    √n − √d − t ≤ σ_min ≤ σ_max ≤ √n + √d + t, each side with probability ≥ 1 − e^(−t²/2)."""
    t = math.sqrt(2 * math.log(1 / DELTA))
    lo = max(0.0, 1 - math.sqrt(d / n) - t / math.sqrt(n)) ** 2
    hi = (1 + math.sqrt(d / n) + t / math.sqrt(n)) ** 2
    return lo, hi


def stats(X):
    """The three measured quantities of one data set (blocked Gram: O(block·n) memory)."""
    n, d = X.shape
    sq = np.einsum("ij,ij->i", X, X)
    ipmax, B = 0.0, 512
    for a in range(0, n, B):
        G = X[a:a + B] @ X.T
        for k in range(G.shape[0]):
            G[k, a + k] = 0.0   # the diagonal is ‖x_i‖², not an inner product of two points
        ipmax = max(ipmax, float(np.abs(G).max()))
    s = np.linalg.norm(X, 2)
    return dict(n=n, d=d, norm_dev=float(np.abs(sq / d - 1).max()), ip=ipmax / d, xx=float(s * s / n),
                max_norm=float(math.sqrt(sq.max())))


class HuInputs:
    name = "hu-inputs"
    cite = "Hu et al. 2020"
    source = ("Hu, Xiao, Adlam and Pennington 2020, the claim on the data that their proofs start from "
              "(docs/theory.md §4.3, §7.5), for Gaussian inputs x ~ N(0, I_d) (mean 0, Tr Σ = d, ‖Σ‖ = 1)")
    claim = ("for n ≫ d inputs with mean 0, Tr Σ = d and ‖Σ‖ = O(1), with high probability ‖x_i‖²/d = 1 ± "
             "O(√(log n/d)) for all i, |⟨x_i, x_j⟩|/d = O(√(log n/d)) for all i ≠ j, and ‖XXᵀ‖ = Θ(n); the first "
             "two shrink like d^(−1/2) in d and grow like (log n)^(1/2) in n.")
    sizes = {
        "smoke": dict(n_fixed=500, ds=[32, 64, 128], d_fixed=32, ns=[128, 512, 2048], seeds=[1, 2]),
        "quick": dict(n_fixed=2000, ds=[40, 80, 160, 320], d_fixed=50, ns=[200, 800, 3200], seeds=[1, 2, 3]),
        "full": dict(n_fixed=4000, ds=[50, 100, 200, 400, 800], d_fixed=100, ns=[250, 1000, 4000, 16000],
                     seeds=[1, 2, 3]),
    }
    D_BAND = (-0.75, -0.25)   # exponent in d: −1/2 ± 1/4
    N_BAND = (0.0, 1.0)       # exponent in log n: 1/2 ± 1/2 (grows, but no faster than log n)
    CONTROL = "gaussian:decay=2"

    def run(self, ctx):
        s = self.sizes[ctx.size]
        rep = Report(ctx, self)
        main = self.grid(ctx, s, "gaussian")
        ctrl = self.grid(ctx, s, self.CONTROL)
        rep.checks += self.make_checks(main, s)
        rep.negative_control(
            "The same grid with inputs N(0, Σ), Σ = diag(c·k^(−2)), Tr Σ = d (`--data %s`): Tr Σ = d still holds "
            "but ‖Σ‖ ≈ 0.6·d is not O(1), so the norms and inner products do not concentrate and ‖XXᵀ‖ grows like "
            "n·d." % self.CONTROL, self.make_checks(ctrl, s))
        self.describe(rep, s, main, ctrl)
        self.figure(rep, s, main, ctrl)
        rep.decide()
        return rep

    def grid(self, ctx, s, data):
        """Statistics of the inputs ntkit draws, over the d sweep (n fixed) and the n sweep (d fixed)."""
        pairs = [(d, s["n_fixed"]) for d in s["ds"]] + [(s["d_fixed"], n) for n in s["ns"]]
        out = {}
        for d, n in pairs:
            if (d, n) in out:
                continue
            ctx.log("%s: d = %d, n = %d, seeds %s" % (data, d, n, s["seeds"]))
            rows = []
            for sd in s["seeds"]:
                rd = ctx.p("data", "%s-d%d-n%d-s%d" % (data.replace(":", "-").replace("=", ""), d, n, sd))
                ctx.ntkit("train", "--data", data, "--d", d, "--n", n, "--n-test", 0, "--width", 2, "--steps", 0,
                          "--target", "linear", "--seed", sd, "--quiet", "--out", rd)
                r = stats(P.load_npy(os.path.join(rd, "X_train.npy")))
                r["norm_bound"] = norm_bound(n, d)
                r["ip_bound"] = ip_bound(n, d, r["max_norm"])
                r["xx_lo"], r["xx_hi"] = xx_band(n, d)
                rows.append(r)
            out[(d, n)] = rows
        return out

    def make_checks(self, res, s):
        allr = [r for rows in res.values() for r in rows]
        nf, df = s["n_fixed"], s["d_fixed"]
        kd1 = power_fit(s["ds"], [[r["norm_dev"] for r in res[(d, nf)]] for d in s["ds"]])
        kd2 = power_fit(s["ds"], [[r["ip"] for r in res[(d, nf)]] for d in s["ds"]])
        kn = power_fit([math.log(n) for n in s["ns"]], [[r["ip"] for r in res[(df, n)]] for n in s["ns"]])
        return [
            Check("max_i |‖x_i‖²/d − 1| ÷ its 99% bound (2√(dt) + 2t)/d, t = log(2n/δ); largest over the grid",
                  max(r["norm_dev"] / r["norm_bound"] for r in allr), "<=", 1.0, part="norms"),
            Check("max_(i≠j) |⟨x_i, x_j⟩|/d ÷ its 99% bound max‖x‖·√(2 log(n²/δ))/d; largest over the grid",
                  max(r["ip"] / r["ip_bound"] for r in allr), "<=", 1.0, part="inner products"),
            Check("‖XXᵀ‖/n ÷ its 99% upper bound (1 + √(d/n) + t/√n)²; largest over the grid",
                  max(r["xx"] / r["xx_hi"] for r in allr), "<=", 1.0, part="‖XXᵀ‖ = Θ(n)"),
            Check("‖XXᵀ‖/n ÷ its 99% lower bound (1 − √(d/n) − t/√n)²; smallest over the grid",
                  min(r["xx"] / r["xx_lo"] for r in allr if r["xx_lo"] > 0), ">=", 1.0, part="‖XXᵀ‖ = Θ(n)"),
            Check("norm deviation ∝ d^κ at n = %d: κ = %s" % (nf, ci(*kd1[:3])), kd1[0], "in", self.D_BAND,
                  part="rate in d"),
            Check("inner products ∝ d^κ at n = %d: κ = %s" % (nf, ci(*kd2[:3])), kd2[0], "in", self.D_BAND,
                  part="rate in d"),
            Check("inner products ∝ (log n)^κ at d = %d: κ = %s" % (df, ci(*kn[:3])), kn[0], "in", self.N_BAND,
                  part="rate in n"),
        ]

    def describe(self, rep, s, main, ctrl):
        rep.settings += [
            "inputs drawn by ntkit (`ntkit train --steps 0 --data gaussian`, X_train.npy), statistics computed with "
            "numpy; d sweep: d = %s at n = %d; n sweep: n = %s at d = %d; seeds %s"
            % (s["ds"], s["n_fixed"], s["ns"], s["d_fixed"], s["seeds"]),
            "the bounds are the sharp Gaussian forms of the claim, each at failure probability δ = %g per data "
            "set: they have exactly the rates √(log n/d) and Θ(n) that the theorem uses, with explicit constants"
            % DELTA,
            "thresholds: each measured value ≤ its bound (≥ for the lower one); exponents in d in [%g, %g] "
            "(−1/2 ± 1/4: √(log n/d) is the exact order for Gaussian inputs once d ≫ log n; the chi-square's "
            "large-deviation term, of order log n/d, steepens the local exponent where d is only a few times log n, "
            "so the d grid starts at about 4 log n); exponent in log n in [%g, %g] (1/2 ± 1/2: growing, but no "
            "faster than log n)" % (
                self.D_BAND[0], self.D_BAND[1], self.N_BAND[0], self.N_BAND[1]),
        ]
        for title, res in (("Gaussian inputs", main), ("control: %s" % self.CONTROL, ctrl)):
            rows = []
            for (d, n), rr in sorted(res.items()):
                mean = lambda k: float(np.mean([r[k] for r in rr]))   # noqa: E731
                rows.append([str(d), str(n), mean("norm_dev"), mean("norm_bound"), math.sqrt(math.log(n) / d),
                             mean("ip"), mean("ip_bound"), mean("xx"), "[%s, %s]" % (g(rr[0]["xx_lo"]),
                                                                                  g(rr[0]["xx_hi"]))])
            rep.sections.append(("%s (means over seeds)" % title, table(
                ["d", "n", "max |‖x‖²/d − 1|", "bound", "√(log n/d)", "max |⟨x_i,x_j⟩|/d", "bound", "‖XXᵀ‖/n",
                 "99% band"], rows)))
        rep.results = {"gaussian": {"%d,%d" % k: v for k, v in main.items()},
                       "control": {"%d,%d" % k: v for k, v in ctrl.items()}}

    def figure(self, rep, s, main, ctrl):
        fig, axs = plt.subplots(1, 2, figsize=(13, 4.6))
        nf, df = s["n_fixed"], s["d_fixed"]
        ds = np.array(s["ds"], float)
        for res, mk, lab in ((main, "o-", "N(0, I)"), (ctrl, "s:", self.CONTROL)):
            for key, col in (("norm_dev", "#d62728"), ("ip", "#1f77b4")):
                y = [np.mean([r[key] for r in res[(d, nf)]]) for d in s["ds"]]
                axs[0].plot(ds, y, mk, color=col, label="%s, %s" % ("max |‖x‖²/d − 1|" if key == "norm_dev" else
                                                                     "max |⟨x_i,x_j⟩|/d", lab))
        axs[0].plot(ds, [norm_bound(nf, d) for d in s["ds"]], "--", color="#d62728", lw=1, label="99% bound (norms)")
        axs[0].plot(ds, np.sqrt(math.log(nf) / ds), "k:", lw=1, label="√(log n/d)")
        axs[0].set_xscale("log")
        axs[0].set_yscale("log")
        axs[0].set_xlabel("d (n = %d)" % nf)
        axs[0].set_title("Concentration against d")
        axs[0].legend(fontsize=7)
        ns = np.array(s["ns"], float)
        for res, mk, lab in ((main, "o-", "N(0, I)"), (ctrl, "s:", self.CONTROL)):
            axs[1].plot(ns, [np.mean([r["xx"] for r in res[(df, n)]]) for n in s["ns"]], mk, label="‖XXᵀ‖/n, " + lab)
            axs[1].plot(ns, [np.mean([r["ip"] for r in res[(df, n)]]) for n in s["ns"]], mk, alpha=0.6,
                        label="max |⟨x_i,x_j⟩|/d, " + lab)
        axs[1].plot(ns, [xx_band(n, df)[1] for n in s["ns"]], "k--", lw=1, label="99% upper bound of ‖XXᵀ‖/n")
        axs[1].set_xscale("log")
        axs[1].set_yscale("log")
        axs[1].set_xlabel("n (d = %d)" % df)
        axs[1].set_title("Against n")
        axs[1].legend(fontsize=7)
        rep.fig(fig, "inputs", "Largest norm deviation and inner product against d, and ‖XXᵀ‖/n and the largest inner "
                "product against n, for Gaussian inputs and the control with a decaying spectrum.")
