"""`ntkit experiment kernel-concentration`: Montanari and Zhong 2022's rate
√((n + d)/(N d)) for the concentration of the empirical NT kernel, tested in
all three of its variables, with the random-features kernel (whose N neurons
carry N parameters, not N·d) as the negative control."""
import math
import os

from exp_common import Check, fit_slope, g, table, Report, P, np, plt


# ---------------------------------------------------------------------------
# fits shared by the main run and the control


def design(rows):
    """Least-squares design [1, log N, log n, log d] of the cells (N, n, d, ...)."""
    a = np.asarray([r[:3] for r in rows], float)
    return np.column_stack([np.ones(len(a)), np.log(a)])


def lstsq(A, y):
    return np.linalg.lstsq(A, y, rcond=None)[0]


def bootstrap(A, y, reps, seed=0):
    """Standard errors of the least-squares coefficients, pairs bootstrap over
    the cells (each cell one row of A); resamples with a singular design are
    skipped."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        i = rng.integers(0, len(y), len(y))
        Ai = A[i]
        if np.linalg.matrix_rank(Ai) < A.shape[1]:
            continue
        out.append(lstsq(Ai, y[i]))
    out = np.asarray(out)
    return out.std(axis=0, ddof=1), out


class KernelConcentration:
    name = "kernel-concentration"
    cite = "Montanari and Zhong 2022"
    source = ("Montanari and Zhong 2022, *The Interpolation Phase Transition in Neural Networks: Memorization "
              "and Generalization under Lazy Training*: concentration of the neural-tangent kernel "
              "(docs/theory.md §8.1, §8.2)")
    claim = ("the empirical first-layer neural-tangent kernel K_N of a width-N ReLU network on n points in "
             "dimension d concentrates around its infinite-width limit K at the rate "
             "‖K^(−1/2) K_N K^(−1/2) − I‖op ≲ √((n + d)/(N d)), up to a constant and logarithms: the "
             "distance falls like N^(−1/2), and its dependence on n and d is that of (n + d)/d.")
    # N grids: the NT kernel's distance is about 2√((n+d)/(Nd)), below D_MAX once
    # N·d > 16 (n + d); the RF kernel's is about 2.4√(n/N) (N parameters, not N·d),
    # below D_MAX once N > 23 n, hence its larger widths
    sizes = {
        "smoke": dict(ds=[8, 16, 32], ns=[25, 100, 400], Ns=[2 ** k for k in range(10, 13)],
                      Ns_ctl=[2 ** k for k in range(13, 16)], seeds=[1], boot=400),
        "quick": dict(ds=[8, 16, 32], ns=[40, 160, 640], Ns=[2 ** k for k in range(10, 14)],
                      Ns_ctl=[2 ** k for k in range(13, 17)], seeds=[1], boot=1000),
        "full": dict(ds=[10, 20, 40], ns=[50, 200, 800], Ns=[2 ** k for k in range(10, 15)],
                     Ns_ctl=[2 ** k for k in range(12, 17)], seeds=[1, 2], boot=2000),
    }
    D_MAX = 0.5       # fitting window: mean distance below this (see the settings text)
    MIN_CELLS = 8     # fewer cells than this in the window: no fit (the checks fail)
    KIND, KIND_CTL = ("ntk1", "ntk1-inf"), ("nngp", "nngp-inf")

    # -- measurement ---------------------------------------------------------

    def measure(self, ctx, s, kinds, Ns, tag):
        """Normalised distance for every (N, n, d, seed): rows (N, n, d, mean, min, max)."""
        kind, kinf = kinds
        rows, first = [], True
        for d in s["ds"]:
            X = P.load_npy(os.path.join(self.data[d], "X_train.npy"))
            for n in s["ns"]:
                wd = ctx.p("kernels", "%s-d%d-n%d" % (tag, d, n))
                P.make_dir(wd)
                xs = os.path.join(wd, "X.npy")
                P.save_npy(xs, X[:n])
                Kinf = os.path.join(wd, kinf + ".npy")
                ctx.ntkit("kernel", "--kind", kinf, "--act", "relu", "--x", xs, "--out", Kinf, record=first)
                for N in Ns:
                    vals = []
                    for sd in s["seeds"]:
                        KN = os.path.join(wd, "%s-N%d-s%d.npy" % (kind, N, sd))
                        ctx.ntkit("kernel", "--kind", kind, "--act", "relu", "--init", "sign", "--width", N,
                                  "--seed", sd, "--x", xs, "--out", KN, record=first)
                        out = ctx.parse_json(ctx.ntkit("compare-kernels", KN, Kinf, "--json", record=first))
                        vals.append(float(out["normalized"]))
                        os.remove(KN)
                        first = False
                    rows.append((N, n, d, float(np.mean(vals)), min(vals), max(vals)))
                os.remove(Kinf)
                ctx.log("%s d = %3d n = %4d: distance %s at N = %s" % (
                    tag, d, n, ", ".join("%.3g" % r[3] for r in rows[-len(Ns):]), ", ".join(map(str, Ns))))
        return rows

    # -- the fit and its checks ------------------------------------------------

    def analyse(self, rows, boot, label):
        """Fit log distance = log C + a log N + b log n + c log d over the cells in the
        window; the same fit of the rate on the same cells gives the exponents the claim
        predicts there; Checks for a, b, c and the collapse of distance/rate."""
        inw = [r for r in rows if r[3] < self.D_MAX]
        res = dict(cells=len(rows), fitted=len(inw))
        names = ["N", "n", "d"]
        if len(inw) < self.MIN_CELLS or len({r[1] for r in inw}) < 3 or len({r[2] for r in inw}) < 3:
            res["error"] = ("only %d cells (%d values of n, %d of d) have a distance below %g; need %d with "
                            "3 values of each" % (len(inw), len({r[1] for r in inw}), len({r[2] for r in inw}),
                                                   self.D_MAX, self.MIN_CELLS))
            checks = [Check("%s: exponent of %s" % (label, v), math.nan, "in", (math.nan, math.nan), part=v)
                      for v in names]
            return res, checks
        A = design(inw)
        N_, n_, d_ = (np.array([r[i] for r in inw], float) for i in range(3))
        y = np.log([r[3] for r in inw])
        rate = np.sqrt((n_ + d_) / (N_ * d_))
        coef = lstsq(A, y)
        star = lstsq(A, np.log(rate))
        se, samples = bootstrap(A, y, boot)
        # logarithms the Õ may hide (matrix Bernstein: the dimension n; a union bound
        # over the N·d parameters): the exponent each would add on these cells
        lg = [lstsq(A, 0.5 * np.log(np.log(n_))), lstsq(A, 0.5 * np.log(np.log(N_ * d_)))]
        # and the second-order term of 2√r + r, which raises the local exponent in r from
        # ½ to at most ½(1 + √r)/(1 + √r/2) inside the window
        allow = np.max(np.abs(lg), axis=0) + self.edge_bend() * np.abs(star)
        ratio = np.exp(y) / rate
        checks = []
        for i, v in enumerate(names, start=1):
            tol = float(allow[i] + 3 * se[i])
            checks.append(Check("%s: exponent of %s (rate's %s on these cells; ± logs and edge %s + 3 SE %s)" % (
                label, v, g(star[i]), g(allow[i]), g(3 * se[i])), coef[i], "in",
                (float(star[i] - tol), float(star[i] + tol)), part="dependence on %s" % v))
        res.update(exponents=dict(zip(names, coef[1:].tolist())), se=dict(zip(names, se[1:].tolist())),
                   rate_exponents=dict(zip(names, star[1:].tolist())),
                   log_allowance=dict(zip(names, allow[1:].tolist())), constant=float(math.exp(coef[0])),
                   ratio=dict(min=float(ratio.min()), median=float(np.median(ratio)), max=float(ratio.max())),
                   spread=float(ratio.max() / ratio.min()), bootstrap_reps=int(len(samples)))
        return res, checks

    def edge_bend(self):
        """Relative increase of the local exponent of 2√r + r in r at the top of the window
        (distance D_MAX): (1 + √r)/(1 + √r/2) − 1 with 2√r + r = D_MAX."""
        sr = math.sqrt(1 + self.D_MAX) - 1
        return (1 + sr) / (1 + sr / 2) - 1

    # -- the experiment ------------------------------------------------------

    def run(self, ctx):
        s = self.sizes[ctx.size]
        rep = Report(ctx, self)
        P.make_dir(ctx.p("kernels"))
        self.data = {}
        for d in s["ds"]:
            dd = ctx.p("data", "d%d" % d)
            ctx.ntkit("train", "--steps", 0, "--n", max(s["ns"]), "--n-test", 0, "--d", d, "--data", "sphere",
                      "--width", 2, "--seed", 5, "--quiet", "--out", dd, record=(d == s["ds"][0]))
            self.data[d] = dd
        ctx.log("NT kernel (ntk1 against ntk1-inf): d = %s, n = %s, N = %s, seeds %s" % (
            s["ds"], s["ns"], s["Ns"], s["seeds"]))
        rows = self.measure(ctx, s, self.KIND, s["Ns"], "NT")
        ctx.log("control, RF kernel (nngp against nngp-inf): N = %s" % s["Ns_ctl"])
        rows_c = self.measure(ctx, s, self.KIND_CTL, s["Ns_ctl"], "RF")
        res, checks = self.analyse(rows, s["boot"], "NT")
        res_c, checks_c = self.analyse(rows_c, s["boot"], "RF")
        for c in checks:
            rep.checks.append(c)
        rep.negative_control(
            "The random-features kernel Θ2 (`nngp` against `nngp-inf`, same points, same code and thresholds): "
            "each of its N neurons adds a rank-one term, so N·d is not its parameter count and its distance "
            "should go like √(n/N), with no 1/d. The exponent of d must then miss the rate's.", checks_c)
        rep.decide()
        rep.results = dict(grid=dict(d=s["ds"], n=s["ns"], N=s["Ns"], N_control=s["Ns_ctl"], seeds=s["seeds"]),
                           nt=res, rf_control=res_c,
                           cells=[dict(N=r[0], n=r[1], d=r[2], distance=r[3], lo=r[4], hi=r[5]) for r in rows],
                           cells_control=[dict(N=r[0], n=r[1], d=r[2], distance=r[3]) for r in rows_c])
        self.write_text(rep, s, res, res_c, rows, rows_c)
        self.figures(rep, rows, rows_c)
        return rep

    # -- report --------------------------------------------------------------

    def write_text(self, rep, s, res, res_c, rows, rows_c):
        rep.settings += [
            "data: for each d in %s, n = %s points uniform on the sphere of radius √d (`ntkit train --steps 0 "
            "--data sphere`, seed 5; the smaller n are the first rows)" % (s["ds"], s["ns"]),
            "kernels (ReLU, s = √d, α = 1, `--init sign` so v_r² = 1): NT = Θ1 = (1/N)Σ_r φ'(w_rᵀx/√d)"
            "φ'(w_rᵀx'/√d)·xᵀx'/d (`ntk1`) against `ntk1-inf`, widths N = %s, weight seeds %s (the distance "
            "is the mean over seeds)" % (", ".join(map(str, s["Ns"])), s["seeds"]),
            "distance: `ntkit compare-kernels K_N K --json` → normalized = ‖K^(−1/2) K_N K^(−1/2) − I‖op "
            "(docs/theory.md §8.1)",
            "fit: least squares of log distance on [1, log N, log n, log d] over the cells whose distance is "
            "below %g: there the average of N independent terms deviates by about 2√r + r "
            "(r ∝ (n+d)/(Nd), the edge of a Marchenko–Pastur law), so the second-order term r is at most "
            "%d%% of the distance and raises a local exponent by at most %d%% of itself; above it (rank of "
            "K_N below n, distance ≥ 1) the rate does not apply. Standard errors: pairs bootstrap over the "
            "cells (%d resamples)" % (self.D_MAX, round(100 * (math.sqrt(1 + self.D_MAX) - 1) ** 2 / self.D_MAX),
                                     round(100 * self.edge_bend()), s["boot"]),
            "expected exponents: the same least-squares fit applied to log √((n+d)/(Nd)) on the same cells — "
            "(n+d)/d is not a power law, so its local exponents in n and d depend on n/d (−1/2 and +1/2 for "
            "n ≫ d, 0 for n ≪ d)",
            "thresholds: each fitted exponent within the rate's, ± (the largest exponent a hidden factor "
            "√log n or √log(Nd) would add on these cells + the second-order term's %d%% of the rate's exponent "
            "+ 3 bootstrap standard errors); what would fail each check is the nearer end of its band"
            % round(100 * self.edge_bend()),
        ]
        for lab, r in (("NT kernel", res), ("RF kernel (control)", res_c)):
            if "error" in r:
                rep.sections.append(("Fit, %s" % lab, "No fit: %s." % r["error"]))
                continue
            e, se, st = r["exponents"], r["se"], r["rate_exponents"]
            rep.sections.append(("Fitted form, %s" % lab, (
                "distance ≈ %s · N^(%s ± %s) · n^(%s ± %s) · d^(%s ± %s) over %d of %d cells; "
                "√((n+d)/(Nd)) has local exponents N^(%s) n^(%s) d^(%s) on the same cells. "
                "distance ÷ √((n+d)/(Nd)): median %s, range %s to %s (max/min %s; reported, not a check)." % (
                    g(r["constant"]), g(e["N"]), g(se["N"]), g(e["n"]), g(se["n"]), g(e["d"]), g(se["d"]),
                    r["fitted"], r["cells"], g(st["N"]), g(st["n"]), g(st["d"]), g(r["ratio"]["median"]),
                    g(r["ratio"]["min"]), g(r["ratio"]["max"]), g(r["spread"])))))
        hdr = ["d", "n"] + ["N = %d" % N for N in s["Ns"]]
        rep.sections.append(("NT distance (mean over seeds; ÷ √((n+d)/(Nd)) in brackets)", table(hdr, [
            [str(d), str(n)] + ["%s (%s)" % (g(r[3]), g(r[3] / math.sqrt((n + d) / (r[0] * d))))
                                for r in rows if r[1] == n and r[2] == d]
            for d in s["ds"] for n in s["ns"]])))
        hdr = ["d", "n"] + ["N = %d" % N for N in s["Ns_ctl"]]
        rep.sections.append(("RF distance, control (÷ √((n+d)/(Nd)) in brackets)", table(hdr, [
            [str(d), str(n)] + ["%s (%s)" % (g(r[3]), g(r[3] / math.sqrt((n + d) / (r[0] * d))))
                                for r in rows_c if r[1] == n and r[2] == d]
            for d in s["ds"] for n in s["ns"]])))
        rep.notes.append("The theorem's Õ hides a constant and logarithms; the median of distance ÷ rate estimates "
                         "the constant on this grid (about 2 would match the edge 2√r of a Marchenko–Pastur law).")
        rep.notes.append("Only the direction of the bound is Montanari and Zhong's; a distance that matched the rate "
                         "in N alone (any average of N independent terms does) would fail the n or d exponent, "
                         "as the control shows for the RF kernel.")

    def figures(self, rep, rows, rows_c):
        cols = {}
        pal = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
        marks = ["o", "s", "^", "D", "v"]
        fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.8), sharey=True)
        for ax, rr, title in ((axes[0], rows, "NT kernel Θ1 (the claim)"),
                              (axes[1], rows_c, "RF kernel Θ2 (negative control)")):
            ds = sorted({r[2] for r in rr})
            ns = sorted({r[1] for r in rr})
            for r in rr:
                N, n, d, m = r[:4]
                rate = math.sqrt((n + d) / (N * d))
                c = pal[ds.index(d) % len(pal)]
                cols[d] = c
                ax.plot(rate, m, marks[ns.index(n) % len(marks)], color=c, ms=5,
                        mfc=c if m < self.D_MAX else "none")
            x = np.array([min(math.sqrt((r[1] + r[2]) / (r[0] * r[2])) for r in rr),
                          max(math.sqrt((r[1] + r[2]) / (r[0] * r[2])) for r in rr)])
            ax.plot(x, 2 * x, "k--", lw=1, label="2·√((n+d)/(Nd))")
            ax.axhline(self.D_MAX, color="0.6", lw=0.8, ls=":")
            for d in ds:
                ax.plot([], [], "o", color=cols[d], label="d = %d" % d)
            for n in ns:
                ax.plot([], [], marks[ns.index(n) % len(marks)], color="0.3", mfc="none", label="n = %d" % n)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("√((n + d)/(N d))")
            ax.set_title(title, fontsize=10)
            ax.legend(fontsize=7, ncol=2)
        axes[0].set_ylabel("‖K^(−1/2) K_N K^(−1/2) − I‖op")
        rep.fig(fig, "collapse", "Normalised distance against Montanari and Zhong's rate for every (N, n, d): "
                "the NT kernel's points fall on one line; the RF control's fan out by d. Filled markers are "
                "the cells fitted (distance below %g, dotted)." % self.D_MAX)
        fig, ax = plt.subplots(figsize=(8, 4.8))
        ds = sorted({r[2] for r in rows})
        ns = sorted({r[1] for r in rows})
        for d in ds:
            for n in ns:
                rr = [r for r in rows if r[1] == n and r[2] == d]
                Ns = np.array([r[0] for r in rr], float)
                m = np.array([r[3] for r in rr])
                c = pal[ds.index(d) % len(pal)]
                ax.errorbar(Ns, m, yerr=[m - [r[4] for r in rr], [r[5] for r in rr] - m], fmt="none",
                            color=c, capsize=2)
                ax.plot(Ns, m, marks[ns.index(n) % len(marks)] + "-", color=c, ms=4, lw=0.8,
                        label="d = %d, n = %d (slope %.2f)" % (d, n, fit_slope(Ns, m)[0]))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("width N")
        ax.set_ylabel("‖K^(−1/2) K_N K^(−1/2) − I‖op")
        ax.set_title("NT kernel: distance against N (range over seeds)", fontsize=10)
        ax.legend(fontsize=6, ncol=3)
        rep.fig(fig, "concentration", "NT kernel: normalised distance against the width for every n and d, "
                "with the slope in N of each line.")
