"""`ntkit experiment`: OverparamRelu."""
import math
import os

from exp_common import fit_slope, table, Report, summary, metrics, P, np, plt




# ---------------------------------------------------------------------------
# b. overparam-relu (Du et al. 2019; Song and Yang 2019)


class OverparamRelu:
    name = "overparam-relu"
    cite = "Du et al. 2019; Song and Yang 2019"
    source = ("Du, Zhai, Póczos and Singh 2019, *Gradient Descent Provably Optimizes Over-parameterized Neural "
              "Networks* (Lemma 3.1, Corollary 4.1), in the refinement of Song and Yang 2019 (width, step and "
              "the envelope (1 − ηλ/2)^k) (docs/theory.md §7.1, §7.2, §7.7)")
    claim = ("training the first layer of a wide ReLU network (v_r = ±1, ‖x‖ = 1, sum loss) by GD with a "
             "small enough step η drives ‖y − u(k)‖² ≤ (1 − ηλ/2)^k ‖y − u(0)‖² with λ = λ_min(H∞); the weights "
             "stay within O(1/√m) of init (max_r ‖w_r(k) − w_r(0)‖ ∝ m^(−1/2)), so does the fraction of "
             "flipped activation patterns, and λ_min(H(0)) → λ_min(H∞).")
    sizes = {
        "smoke": dict(n=20, d=10, widths=[64, 256, 1024], kmax=1500),
        "quick": dict(n=50, d=20, widths=[256, 512, 1024, 2048, 4096, 8192], kmax=4000),
        "full": dict(n=100, d=50, widths=[256, 512, 1024, 2048, 4096, 8192, 16384, 32768], kmax=8000),
    }
    SLOPE_TOL = 0.15

    def run(self, ctx):
        s = self.sizes[ctx.size]
        rep = Report(ctx, self)
        common = ["--act", "relu", "--init", "sign", "--input-scale", "one", "--data", "unit-sphere",
                  "--target", "noise", "--lr2", 0, "--loss", "sum", "--n", s["n"], "--n-test", 0, "--d", s["d"],
                  "--seed", 2, "--models", "nn,ntk,ntk-inf", "--quiet"]
        ctx.log("probe run: λ(H∞) for n = %d, d = %d" % (s["n"], s["d"]))
        probe = ctx.p("probe")
        ctx.ntkit("run", *common, "--width", s["widths"][0], "--lr1", 1e-3, "--steps", 0, "--out", probe)
        th = summary(probe)["theory"]
        lam, lmax = th["ntk_inf_lambda_min"], th["ntk_inf_lambda_max"]
        eta = 1.0 / lmax
        rate = eta * lam / 2
        K = int(min(s["kmax"], math.ceil(math.log(1e4) / -math.log1p(-rate))))
        log_every = max(1, K // 150)
        ctx.log("λ_min(H∞) = %.4g, λ_max = %.4g: η = 1/λ_max = %.4g, %d steps; sweeping widths %s" %
                (lam, lmax, eta, K, s["widths"]))
        sd = ctx.p("sweep")
        ctx.ntkit("sweep", "--param", "width", "--values", ",".join(map(str, s["widths"])), *common,
                  "--lr1", "%.10g" % eta, "--steps", K, "--log-every", log_every, "--kernel-every", 10,
                  "--out", sd)
        sw = P.read_csv(os.path.join(sd, "sweep.csv"))
        widths = sw["width"]
        R = sw["w_dist_max_row_max"]
        F = sw["flip_frac_max"]
        rows, env_ok, curves = [], [], []
        l0s, Ds = [], []
        for w in s["widths"]:
            rd = os.path.join(sd, "width=%d" % w)
            m, sm = metrics(rd), summary(rd)
            k = m["step"]
            L = m["nn_train_loss"]
            env = L[0] * (1 - rate) ** k
            ratio = float(np.nanmax((L / env)[k >= 1]))
            env_ok.append(ratio <= 1 + 1e-9)
            curves.append((w, k, L / L[0]))
            l0 = sm["theory"]["ntk_lambda_min"]
            l0s.append(l0)
            Ds.append(sm["checks"].get("du_D_bound"))
            i = list(widths).index(w)
            rows.append([str(w), L[-1] / L[0], ratio, env_ok[-1], R[i], Ds[-1], F[i], l0, l0 / lam])
        bR, aR = fit_slope(widths, R)
        bF, aF = fit_slope(widths, F)
        dl = np.abs(np.array(l0s) - lam) / lam
        bL, aL = fit_slope(widths, dl)
        rep.results = dict(lambda_inf=lam, lambda_max_inf=lmax, eta=eta, steps=K, widths=list(map(int, widths)),
                           R=list(R), flips=list(F), lambda0=l0s, envelope_held=env_ok, slope_R=bR, slope_flip=bF,
                           slope_lambda_dev=bL, D_bound=Ds)
        okR = abs(bR + 0.5) <= self.SLOPE_TOL
        okF = abs(bF + 0.5) <= self.SLOPE_TOL
        rep.verdict = "HELD" if all(env_ok) and okR and okF else "FAILED"
        rep.reason = ("loss below (1 − ηλ/2)^k·L0 at every logged step for %d/%d widths; fitted slopes against m: "
                      "max-row movement %.3f, flip fraction %.3f (expected −0.5 ± %.2f); λ_min(H(0))/λ_min(H∞) "
                      "= %.3g at m = %d, %.3g at m = %d" % (
                          sum(env_ok), len(env_ok), bR, bF, self.SLOPE_TOL, l0s[0] / lam, s["widths"][0],
                          l0s[-1] / lam, s["widths"][-1]))
        rep.settings += [
            "network: ReLU, v_r uniform on {±1} (`--init sign`), s = 1 (`--input-scale one`), α = 1; only W "
            "trained (`--lr2 0`), sum loss ½‖y − u‖²",
            "data: n = %d points uniform on the unit sphere in d = %d, labels N(0, 1) noise (`--target noise`)"
            % (s["n"], s["d"]),
            "λ = λ_min(H∞) = %.4g, λ_max(H∞) = %.4g (H∞ = Θ1∞ of `ntkit run`, theory ntk_inf_lambda_min); "
            "η = 1/λ_max(H∞) = %.4g; %d steps, chosen so that the envelope falls by 10⁴ (capped at %d)"
            % (lam, lmax, eta, K, s["kmax"]),
            "widths m = %s (one `ntkit sweep --param width`)" % ", ".join(map(str, s["widths"])),
            "thresholds: the envelope holds when max_k L(k)/(L(0)(1 − ηλ/2)^k) ≤ 1; slopes are least-squares fits "
            "of log(value) on log m and must be within ±%.2f of −1/2" % self.SLOPE_TOL,
        ]
        # figures
        fig, ax = plt.subplots(figsize=(8, 5))
        cmap = plt.get_cmap("viridis")
        for i, (w, k, Ln) in enumerate(curves):
            ax.plot(k, Ln, color=cmap(i / max(1, len(curves) - 1)), label="m = %d" % w)
        kk = np.linspace(0, K, 200)
        ax.plot(kk, (1 - rate) ** kk, color="#d62728", ls="--", lw=2, label="(1 − ηλ/2)^k, λ = λ_min(H∞)")
        ax.set_yscale("log")
        ax.set_xlabel("gradient step k")
        ax.set_ylabel("‖y − u(k)‖² / ‖y − u(0)‖²")
        ax.set_title("Training loss against the linear-convergence envelope (n = %d, d = %d)" % (s["n"], s["d"]))
        ax.legend(ncol=2)
        rep.fig(fig, "envelope", "Normalised training loss of every width with the envelope (1 − ηλ/2)^k.")

        fig, axs = plt.subplots(1, 2, figsize=(13, 4.6))
        for ax, y, b, a, lab, name in ((axs[0], R, bR, aR, "max_r ‖w_r(K) − w_r(0)‖ (max over k)", "weight movement"),
                                       (axs[1], F, bF, aF, "fraction of (i, r) with a flipped pattern", "activation flips")):
            ax.plot(widths, y, "o", ms=7, color="#1f77b4", label="measured")
            ax.plot(widths, np.exp(a) * widths ** b, "-", color="#1f77b4", label="fit: slope %.3f" % b)
            ref = y[0] * (widths / widths[0]) ** -0.5
            ax.plot(widths, ref, "--", color="#d62728", label="slope −1/2 (theory)")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("width m")
            ax.set_ylabel(lab)
            ax.set_title("%s against width" % name.capitalize())
            ax.legend()
        rep.fig(fig, "movement_flips", "Largest per-neuron movement and flip fraction against m on log–log "
                "axes, with least-squares fits and the m^(−1/2) reference.")

        fig, ax = plt.subplots(figsize=(7.5, 4.6))
        ax.plot(widths, l0s, "o-", label="λ_min(H(0)), empirical at init")
        ax.axhline(lam, color="#d62728", ls="--", label="λ_min(H∞) = %.4g" % lam)
        ax.axhline(lam / 2, color="0.5", ls=":", label="λ_min(H∞)/2")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("width m")
        ax.set_ylabel("smallest eigenvalue of H (n×n Gram matrix)")
        ax.set_title("λ_min(H(0)) against λ_min(H∞)")
        ax.legend()
        rep.fig(fig, "lambda", "Smallest eigenvalue of the empirical H(0) per width and of H∞; |λ0 − λ∞|/λ∞ "
                "fits slope %.2f against m." % bL)
        rep.sections.append(("Per width", table(
            ["m", "L(K)/L(0)", "max L/envelope", "envelope held", "max_r ‖Δw_r‖", "D bound", "flip frac",
             "λ_min(H(0))", "÷ λ_min(H∞)"], rows)))
        rep.sections.append(("Fits (log–log against m)", table(
            ["quantity", "slope", "expected"],
            [["max_r ‖w_r − w_r(0)‖", bR, "−0.5"], ["flip fraction", bF, "−0.5"],
             ["abs(λ_min(H(0)) − λ_min(H∞)) ÷ λ_min(H∞)", bL, "negative (concentration)"]])))
        rep.notes.append("The D bound is Du et al.'s 4√n‖y − u(0)‖/(√m λ): it also falls like m^(−1/2) and sits "
                         "%.0f–%.0f× above the measured movement." % (
                             min(D / r for D, r in zip(Ds, R) if D), max(D / r for D, r in zip(Ds, R) if D)))
        rep.notes.append("\"max L/envelope\" is the largest ratio of the loss to the envelope over steps k ≥ 1 "
                         "(at k = 0 both equal L(0)).")
        return rep
