"""`ntkit experiment du-stability`: the two Gram-matrix lemmas behind Du et
al. 2019's convergence proof, measured along gradient descent with the radius
R = max_r ‖w_r − w_r(0)‖ that training actually reaches: Lemma 3.1 (H(0) is
within λ/4 of H∞ once m is large, at the rate m^(−1/2)) and Lemma 3.2 (inside
the ball of radius R, ‖H − H(0)‖ ≤ C n² R, so λ_min(H) stays above λ/2 when R
is small). Negative control: widths too narrow for the lemmas."""
import math
import os
import re

from exp_common import Check, g, table, Report, P, np, plt
from exp_du_common import du_args, probe, gram_series, fit_loglog


class DuStability:
    name = "du-stability"
    cite = "Du et al. 2019"
    source = ("Du, Zhai, Póczos and Singh 2019, *Gradient Descent Provably Optimizes Over-parameterized Neural "
              "Networks*, Lemma 3.1 (H(0) against H∞) and Lemma 3.2 (H(W) against H(0) for ‖w_r − w_r(0)‖ ≤ R) "
              "(docs/theory.md §2.2, §2.4, §7.1, §7.2)")
    claim = ("for a ReLU network with v_r = ±1 on unit-norm inputs, the Gram matrix at initialisation concentrates "
             "on H∞ at the rate ‖H(0) − H∞‖op ∝ m^(−1/2), with an n-dependence no worse than Lemma 3.1's bound "
             "n·√(log(2n²/δ)/(2m)), and λ_min(H(0)) ≥ 3λ/4 at the widths used; along gradient descent, with R the "
             "largest movement of a neuron reached so far, ‖H(k) − H(0)‖op vanishes at least linearly in R with an "
             "n-dependence no worse than Lemma 3.2's n²R, and λ_min(H(k)) stays above λ/2.")
    sizes = {
        "smoke": dict(d=8, ns=[8, 16], ms=[512, 4096], seeds=[1], ms_ctl=[2, 4], boot=300),
        "quick": dict(d=20, ns=[20, 40, 80], ms=[256, 1024, 4096], seeds=[1], ms_ctl=[4, 8, 16], boot=1000),
        "full": dict(d=20, ns=[25, 50, 100], ms=[256, 1024, 4096, 16384], seeds=[1, 2], ms_ctl=[4, 8, 16],
                     boot=2000),
    }
    DELTA = 0.1   # failure probability in Lemma 3.1's bound (reported)

    # -- measurement ---------------------------------------------------------

    def cell(self, ctx, s, n, sd, widths, tag, first):
        """One (n, seed): λ from the probe, a width sweep of GD (k = 3/(ηλ) steps, the Gram matrix
        at every logged step) and, per width, ‖H(0) − H∞‖op from `ntkit kernel` at the run's own
        initial weights against the infinite-width kernel on the same points."""
        base = ctx.p(tag, "n%d-s%d" % (n, sd))
        pr = probe(ctx, os.path.join(base, "probe"), n, s["d"], sd, record=first)
        lam = pr["lam"]
        eta = 1.0 / pr["lmax"]
        K = int(math.ceil(3.0 / (eta * lam)))
        sw = os.path.join(base, "sweep")
        ctx.ntkit("sweep", "--param", "width", "--values", ",".join(map(str, widths)), *du_args(n, s["d"], sd),
                  "--models", "nn", "--lr1", "%.10g" % eta, "--steps", K, "--log-every", max(1, K // 40),
                  "--kernel-every", 1, "--out", sw, record=first)
        X = os.path.join(base, "probe", "X_train.npy")
        kinf = os.path.join(base, "Hinf.npy")
        ctx.ntkit("kernel", "--kind", "ntk1-inf", "--act", "relu", "--input-scale", "one", "--x", X, "--out", kinf,
                  record=first)
        out = []
        for m in widths:
            rd = os.path.join(sw, "width=%d" % m)
            k0 = os.path.join(base, "H0-m%d.npy" % m)
            ctx.ntkit("kernel", "--kind", "ntk1", "--weights", rd, "--at", "init", "--x", X, "--out", k0,
                      record=first and m == widths[0])
            cmp_ = ctx.parse_json(ctx.ntkit("compare-kernels", k0, kinf, "--json", record=first and m == widths[0]))
            os.remove(k0)
            gs = gram_series(rd)
            out.append(dict(n=n, seed=sd, m=m, lam=lam, eta=eta, steps=K, d0=float(cmp_["op"]),
                            lam0=float(gs["theory"]["ntk_lambda_min"]), k=gs["k"], R=gs["R"], dH=gs["dH"],
                            lmin=gs["lmin"]))
        os.remove(kinf)
        ctx.log("%s n = %d seed %d (λ = %.4g, %d steps): ‖H(0) − H∞‖/λ = %s, max ‖ΔH‖/λ = %s at m = %s" % (
            tag, n, sd, lam, K, ", ".join("%.3g" % (c["d0"] / lam) for c in out),
            ", ".join("%.3g" % (np.max(c["dH"]) / lam) for c in out), widths))
        return out

    def measure(self, ctx, s, widths, seeds, tag):
        cells, first = [], True
        for n in s["ns"]:
            for sd in seeds:
                cells += self.cell(ctx, s, n, sd, widths, tag, first)
                first = False
        return cells

    # -- fits and checks -----------------------------------------------------

    def lemma31_bound(self, n, m):
        """Lemma 3.1's proof: Hoeffding per entry (m terms in [−1, 1]... in [0, 1] here) and a union
        bound over n² entries, then ‖·‖op ≤ ‖·‖F: ‖H(0) − H∞‖op ≤ n √(log(2n²/δ)/(2m))."""
        return n * math.sqrt(math.log(2 * n * n / self.DELTA) / (2 * m))

    def analyse(self, cells, boot, label):
        ns = np.array([c["n"] for c in cells], float)
        ms = np.array([c["m"] for c in cells], float)
        d0 = np.array([c["d0"] for c in cells], float)
        coefA, seA = fit_loglog([ns, ms], d0, reps=boot)
        bnd = np.array([self.lemma31_bound(c["n"], c["m"]) for c in cells])
        a_bnd = float(np.linalg.lstsq(np.column_stack([np.ones(len(ns)), np.log(ns), np.log(ms)]), np.log(bnd),
                                      rcond=None)[0][1])
        # Lemma 3.2 along training: every measured point after the first step
        pn, pR, pd, pg, pl = [], [], [], [], []
        for i, c in enumerate(cells):
            sel = c["k"] > 0
            pn += [c["n"]] * int(sel.sum())
            pR += list(c["R"][sel])
            pd += list(c["dH"][sel])
            pl += list(c["lmin"][sel] / c["lam"])
            pg += [i] * int(sel.sum())
        coefB, seB = fit_loglog([pn, pR], pd, groups=pg, reps=boot)
        lmin = min(min(pl), min(c["lam0"] / c["lam"] for c in cells)) if pl else math.nan
        lam0 = min(c["lam0"] / c["lam"] for c in cells)
        checks = [
            Check("%s: exponent of ‖H(0) − H∞‖op in m (−1/2 ± 3 SE %s)" % (label, g(3 * seA[2])), coefA[2], "in",
                  (-0.5 - 3 * seA[2], -0.5 + 3 * seA[2]), part="Lemma 3.1: rate in m"),
            Check("%s: exponent of ‖H(0) − H∞‖op in n, − 3 SE (fit %s ± %s), against Lemma 3.1's bound's" % (
                label, g(coefA[1]), g(seA[1])), coefA[1] - 3 * seA[1], "<=", a_bnd, part="Lemma 3.1: n"),
            Check("%s: min over cells of λ_min(H(0)) ÷ λ" % label, lam0, ">=", 0.75,
                  part="Lemma 3.1: λ_min(H(0)) ≥ 3λ/4"),
            Check("%s: exponent of ‖H(k) − H(0)‖op in R, + 3 SE (fit %s ± %s)" % (label, g(coefB[2]), g(seB[2])),
                  coefB[2] + 3 * seB[2], ">=", 1.0, part="Lemma 3.2: linear in R"),
            Check("%s: exponent of ‖H(k) − H(0)‖op in n at fixed R, − 3 SE (fit %s ± %s)" % (
                label, g(coefB[1]), g(seB[1])), coefB[1] - 3 * seB[1], "<=", 2.0, part="Lemma 3.2: n²"),
            Check("%s: min over cells and steps of λ_min(H(k)) ÷ λ" % label, lmin, ">=", 0.5,
                  part="Lemma 3.2: λ_min(H(k)) ≥ λ/2"),
        ]
        res = dict(lemma31=dict(coef=coefA.tolist(), se=seA.tolist(), bound_exponent_n=a_bnd,
                                max_over_bound=float(np.max(d0 / bnd)),
                                cells_above_quarter=int(np.sum(d0 / np.array([c["lam"] for c in cells]) > 0.25))),
                   lemma32=dict(coef=coefB.tolist(), se=seB.tolist(), points=len(pd),
                                max_over_bound=float(np.max(np.array(pd) / (4 * np.array(pn) ** 2 * np.array(pR)
                                                                              / math.sqrt(2 * math.pi))))
                                if pd else math.nan),
                   min_lambda0=lam0, min_lambda=lmin)
        return res, checks

    # -- the experiment ------------------------------------------------------

    def run(self, ctx):
        s = self.sizes[ctx.size]
        rep = Report(ctx, self)
        ctx.log("cells n = %s × seeds %s, widths %s; control widths %s" % (s["ns"], s["seeds"], s["ms"], s["ms_ctl"]))
        cells = self.measure(ctx, s, s["ms"], s["seeds"], "main")
        ctl = self.measure(ctx, s, s["ms_ctl"], s["seeds"][:1], "control")
        res, checks = self.analyse(cells, s["boot"], "main")
        res_c, checks_c = self.analyse(ctl, s["boot"], "narrow")
        rep.checks += checks
        rep.untested = ["the probability 1 − δ over the initialisation (one or two draws per cell)",
                        "the lemmas at their own radius and width (far out of reach: Settings and the radius table)"]
        rep.negative_control(
            "The same cells, code and checks at widths m = %s, too narrow for n = %s points: H(0) is then far from "
            "H∞ and training moves it; the lemmas' conclusions must fail there." % (s["ms_ctl"], s["ns"]), checks_c)
        rep.decide()
        rep.results = dict(main=res, control=res_c, cells=[self.cell_json(c) for c in cells],
                           control_cells=[self.cell_json(c) for c in ctl])
        self.write_text(rep, s, cells, res, res_c, ctl)
        self.figures(rep, cells, ctl, res)
        return rep

    def cell_json(self, c):
        return dict(n=c["n"], seed=c["seed"], m=c["m"], lam=c["lam"], eta=c["eta"], steps=c["steps"],
                    H0_minus_Hinf_op=c["d0"], lambda0=c["lam0"], R_max=float(np.max(c["R"])),
                    max_dH=float(np.max(c["dH"])), min_lambda=float(np.min(c["lmin"])))

    def radius_rows(self, cells, res):
        """Per n: the lemma's radius R_L = √(2π) λ/(16 n²) (4n²R/√(2π) = λ/4 at δ = 1) against the
        radius at which the fitted ‖ΔH‖ = c n^a R^b reaches λ/4, and the largest R measured; Lemma
        3.1's width 8n² log(2n²/δ)/λ² against the width at which the fitted ‖H(0) − H∞‖op = c n^a m^b
        reaches λ/4."""
        c, a, b = res["lemma32"]["coef"]
        c1, a1, b1 = res["lemma31"]["coef"]
        rows = []
        for n in sorted({x["n"] for x in cells}):
            lam = float(np.mean([x["lam"] for x in cells if x["n"] == n]))
            RL = math.sqrt(2 * math.pi) * lam / (16 * n * n)
            Rn = math.exp((math.log(lam / 4) - c - a * math.log(n)) / b) if all(map(math.isfinite, (a, b, c))) \
                else math.nan
            Rmax = max(float(np.max(x["R"])) for x in cells if x["n"] == n)
            mL = 8 * n * n * math.log(2 * n * n / self.DELTA) / lam ** 2
            mn = math.exp((math.log(lam / 4) - c1 - a1 * math.log(n)) / b1) if all(map(math.isfinite, (a1, b1, c1))) \
                else math.nan
            rows.append([str(n), lam, RL, Rn, Rn / RL, Rmax, mL, mn, mL / mn])
        return rows

    def write_text(self, rep, s, cells, res, res_c, ctl):
        l31, l32 = res["lemma31"], res["lemma32"]
        rep.settings += [
            "network and data as in `overparam-relu`: ReLU, v_r = ±1 fixed (`--init sign --lr2 0`), s = 1, n points "
            "uniform on the unit sphere in d = %d, labels N(0, 1), sum loss; cells n = %s × seeds %s (data and "
            "weights), widths m = %s" % (s["d"], s["ns"], s["seeds"], s["ms"]),
            "gradient descent with η = 1/λ_max(H∞) for k = 3/(ηλ) steps (the slowest mode of kernel GD down by "
            "e^(−3)); the Gram matrix at every logged step (`--kernel-every 1`): λ_min(H(k)) and ‖H(k) − H(0)‖op "
            "(ntk_drift × λ_max(H(0))); R(k) = max_r ‖w_r(k) − w_r(0)‖ (w_dist_max_row)",
            "‖H(0) − H∞‖op: `ntkit kernel --kind ntk1 --weights RUN --at init` against `--kind ntk1-inf` on the same "
            "points, `ntkit compare-kernels --json` (op)",
            "fits: least squares of log ‖H(0) − H∞‖op on [1, log n, log m] over the cells (bootstrap over cells), "
            "and of log ‖H(k) − H(0)‖op on [1, log n, log R] over every measured step k ≥ 1 (bootstrap over runs: "
            "the steps of one run are not independent); %d resamples" % s["boot"],
            "thresholds: the m-exponent −1/2 (an average of m independent rank-one terms) ± 3 SE; the n-exponents "
            "must not exceed the lemmas' (Lemma 3.1's bound n√(log(2n²/δ)/(2m)), local exponent %s here; Lemma "
            "3.2's n²) by 3 SE; the R-exponent must not fall below 1 by 3 SE (a bound C·R needs ‖ΔH‖/R bounded "
            "as R → 0); λ_min(H(0)) ≥ 3λ/4 and λ_min(H(k)) ≥ λ/2 are the lemmas' conclusions" % g(
                l31["bound_exponent_n"]),
            "**the lemmas' conditions are not met**: Lemma 3.1's width m ≥ 8n² log(2n²/δ)/λ² (δ = %g, the "
            "Hoeffding and union bound of its proof) is %s at n = %d, against m ≤ %d here; Lemma 3.2's radius "
            "R_L = √(2π)λ/(16n²) is %s to %s times below the radius at which ‖H(k) − H(0)‖ actually reaches λ/4 "
            "(table below). Tested instead: the lemmas' rates and conclusions at the widths and radii that "
            "training reaches" % (
                self.DELTA, g(8 * s["ns"][-1] ** 2 * math.log(2 * s["ns"][-1] ** 2 / self.DELTA) /
                              np.mean([c["lam"] for c in cells if c["n"] == s["ns"][-1]]) ** 2),
                s["ns"][-1], s["ms"][-1], g(min(r[4] for r in self.radius_rows(cells, res))),
                g(max(r[4] for r in self.radius_rows(cells, res)))),
        ]
        rows = []
        for c in cells:
            rows.append([str(c["n"]), str(c["seed"]), str(c["m"]), c["lam"], c["d0"] / c["lam"],
                         c["d0"] / self.lemma31_bound(c["n"], c["m"]), c["lam0"] / c["lam"], float(np.max(c["R"])),
                         float(np.max(c["dH"])) / c["lam"], float(np.min(c["lmin"])) / c["lam"]])
        hdr = ["n", "seed", "m", "λ", "‖H(0) − H∞‖/λ", "÷ Lemma 3.1 bound", "λ_min(H(0))/λ", "max R",
               "max_k ‖ΔH‖/λ", "min_k λ_min(H(k))/λ"]
        rep.sections.append(("Per cell", table(hdr, rows)))
        rep.sections.append(("Fits", table(
            ["quantity", "constant", "exponent of n", "exponent of m or R", "SE (n, m/R)"],
            [["‖H(0) − H∞‖op = c n^a m^b", math.exp(l31["coef"][0]), l31["coef"][1], l31["coef"][2],
              "%s, %s" % (g(l31["se"][1]), g(l31["se"][2]))],
             ["‖H(k) − H(0)‖op = c n^a R^b", math.exp(l32["coef"][0]), l32["coef"][1], l32["coef"][2],
              "%s, %s" % (g(l32["se"][1]), g(l32["se"][2]))]])))
        rr = self.radius_rows(cells, res)
        rep.sections.append(("Radius and width: the lemmas' against the ones measured", table(
            ["n", "λ", "R_L = √(2π)λ/(16n²)", "R where the fit reaches λ/4", "÷ R_L", "largest R reached",
             "Lemma 3.1 width 8n²log(2n²/δ)/λ²", "m where the fit of ‖H(0) − H∞‖ reaches λ/4", "ratio"], rr) + "\n\nLemma 3.2's bound 4n²R/√(2π) at the measured R is above the "
            "measured ‖ΔH‖op by a factor %s at least (reported, not a check: it is an expectation bound and "
            "cannot bind at these n)." % g(1 / l32["max_over_bound"])))
        crow = [[str(c["n"]), str(c["m"]), c["d0"] / c["lam"], c["lam0"] / c["lam"], float(np.max(c["R"])),
                 float(np.max(c["dH"])) / c["lam"], float(np.min(c["lmin"])) / c["lam"]] for c in ctl]
        rep.sections.append(("Negative control (narrow widths)", table(
            ["n", "m", "‖H(0) − H∞‖/λ", "λ_min(H(0))/λ", "max R", "max_k ‖ΔH‖/λ", "min_k λ_min(H(k))/λ"], crow)))
        rep.notes.append("‖H(0) − H∞‖op exceeds λ/4 in %d of %d cells (Lemma 3.1's op-norm conclusion needs a wider "
                         "network than these), yet λ_min(H(0)) ≥ %s·λ in every cell: the smallest eigenvalue moves "
                         "far less than the operator norm of the difference." % (
                             l31["cells_above_quarter"], len(cells), g(res["min_lambda0"])))
        b, a = l32["coef"][2], l32["coef"][1]
        rep.notes.append("Along training ‖H(k) − H(0)‖op grows like R^%s (±%s; the lemma's bound is linear in R) and "
                         "like n^%s (±%s) at fixed R, against the lemma's n²: the union and Markov bounds of the "
                         "proof, with the conditions they impose on m and R, are far from what training needs." % (
                             g(b), g(l32["se"][2]), g(a), g(l32["se"][1])))

    def figures(self, rep, cells, ctl, res):
        fig, axs = plt.subplots(1, 3, figsize=(17, 4.8))
        ns = sorted({c["n"] for c in cells})
        cmap = plt.get_cmap("viridis")
        col = {n: cmap(i / max(1, len(ns) - 1)) for i, n in enumerate(ns)}
        ax = axs[0]
        for c in cells:
            ax.plot(c["m"], c["d0"] / c["lam"], "o", color=col[c["n"]])
        for c in ctl:
            ax.plot(c["m"], c["d0"] / c["lam"], "x", color=col[c["n"]])
        c0, a, b = res["lemma31"]["coef"]
        for n in ns:
            lam = np.mean([c["lam"] for c in cells if c["n"] == n])
            mm = np.array(sorted({c["m"] for c in cells}), float)
            ax.plot(mm, np.exp(c0) * n ** a * mm ** b / lam, "-", color=col[n], label="n = %d" % n)
        ax.axhline(0.25, color="#d62728", ls="--", label="λ/4")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("width m (×: control)")
        ax.set_ylabel("‖H(0) − H∞‖op / λ")
        ax.set_title("Lemma 3.1: fit m^(%.2f)" % b)
        ax.legend(fontsize=8)
        ax = axs[1]
        for c in cells:
            sel = c["k"] > 0
            ax.plot(c["R"][sel], c["dH"][sel] / c["lam"], ".", ms=3, color=col[c["n"]])
        for c in ctl:
            sel = c["k"] > 0
            ax.plot(c["R"][sel], c["dH"][sel] / c["lam"], "x", ms=3, color=col[c["n"]])
        c0, a, b = res["lemma32"]["coef"]
        for n in ns:
            lam = np.mean([c["lam"] for c in cells if c["n"] == n])
            Rs = np.concatenate([c["R"][c["k"] > 0] for c in cells if c["n"] == n])
            Rg = np.geomspace(Rs.min(), Rs.max(), 50)
            ax.plot(Rg, np.exp(c0) * n ** a * Rg ** b / lam, "-", color=col[n], label="n = %d: fit R^%.2f" % (n, b))
        ax.axhline(0.25, color="#d62728", ls="--", label="λ/4")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("R = max_r ‖w_r(k) − w_r(0)‖ (×: control)")
        ax.set_ylabel("‖H(k) − H(0)‖op / λ")
        ax.set_title("Lemma 3.2 along training")
        ax.legend(fontsize=8)
        ax = axs[2]
        for c in cells:
            ax.plot(c["R"], c["lmin"] / c["lam"], ".", ms=3, color=col[c["n"]])
        for c in ctl:
            ax.plot(c["R"], c["lmin"] / c["lam"], "x", ms=3, color=col[c["n"]])
        ax.axhline(0.5, color="#d62728", ls="--", label="λ/2")
        ax.set_xscale("log")
        ax.set_xlabel("R (×: control)")
        ax.set_ylabel("λ_min(H(k)) / λ")
        ax.set_title("Smallest eigenvalue along training")
        ax.legend(fontsize=8)
        rep.fig(fig, "lemmas", "Lemma 3.1 (H(0) against H∞ over widths) and Lemma 3.2 (H(k) against H(0) "
                "over the radius reached), colours by n; crosses are the narrow-width control.")
