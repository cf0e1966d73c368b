"""`ntkit experiment du-flow`: Du et al. 2019's gradient-flow theorem (their
Section 3) and gradient descent against gradient flow on the same problem:
the flow's loss under e^(−λt)·L(0) at the rate its Gram matrix sets, the Gram
matrix above λ/2 and the neurons inside Du et al.'s radius along the flow, and
GD with rate η reaching the flow's weights at time kη with an error O(η).
The flow of a ReLU network is integrated by src/flow.c with a Runge–Kutta pair
suited to its jumps (tests/test_flow.c). Negative controls: GD at rates above
the stability limit, and the flow of a network too narrow for its data."""
import math
import os

from exp_common import Check, g, table, Report, metrics, P, np, plt
from exp_du_common import du_args, probe, gram_series, loss_rate, fit_loglog, read_W


def times(m):
    return np.asarray(m["time"] if "time" in m else m["step"], float)


class DuFlow:
    name = "du-flow"
    cite = "Du et al. 2019"
    source = ("Du, Zhai, Póczos and Singh 2019, *Gradient Descent Provably Optimizes Over-parameterized Neural "
              "Networks*, Theorem 3.2 and Lemmas 3.3–3.4 (gradient flow), and gradient descent as the explicit "
              "Euler method for that flow (docs/theory.md §1.8, §7.1, §7.7)")
    claim = ("under gradient flow on the first layer of a wide ReLU network (v_r = ±1, ‖x_i‖ = 1, sum loss, "
             "λ = λ_min(H∞)), the loss stays under e^(−λt)·L(0) and decays at late times at 2λ_min(H(t)) (inside "
             "the band [λ, 3λ] of Du et al.'s stability lemmas, and inside the band Weyl's inequality gives from "
             "the measured ‖H(t) − H(0)‖); λ_min(H(t)) ≥ λ/2 and every neuron stays within 2√n‖y − u(0)‖/(√m λ) "
             "of its start; gradient descent with rate η reaches the flow's weights at time t = kη with an error "
             "of order η.")
    sizes = {
        "smoke": dict(n=12, d=6, m=128, seeds=[1, 2], m_narrow=2, boot=300),
        "quick": dict(n=40, d=20, m=512, seeds=[1, 2], m_narrow=4, boot=1000),
        "full": dict(n=60, d=20, m=1024, seeds=[1, 2, 3], m_narrow=4, boot=2000),
    }
    TOL = 1e-5            # flow tolerance (--flow-tol); the reference is checked at TOL/10
    T_LONG = 9.0          # long flow to T_LONG/λ: L ≈ e^(−18)·(weight of the slowest mode)
    T_CMP = 2.0           # GD against flow at T_CMP/λ
    RATES = [0.5, 0.25, 0.125, 0.0625]     # GD rates × 1/λ_max(H∞) (largest first)
    BIG_RATES = [2.4, 1.2, 0.6, 0.3]       # control: the largest above 2/λ_max
    RATE_WINDOW = (1e-9, 1e-5)
    PHASE = 0.2           # order band ± (PHASE + 3 SE): see settings

    def flow(self, ctx, out, n, d, sd, m, T, tol, every, kernel_every, record, models="nn"):
        ctx.ntkit("run", *du_args(n, d, sd), "--models", models, "--width", m, "--lr1", 1, "--flow", "--steps",
                  "%.10g" % T, "--flow-tol", tol, "--log-every", "%.10g" % every, "--kernel-every", kernel_every,
                  "--out", out, record=record)

    def flow_analysis(self, rd, lam, n, m):
        mt = metrics(rd)
        t, L = times(mt), np.asarray(mt["nn_train_loss"], float)
        env = L[0] * np.exp(-lam * t)
        env_max = float(np.max((L / env)[t > 0]))
        rate, npts = loss_rate(t, L, *self.RATE_WINDOW)
        # the kernel flow with H∞ from the same u(0) (ntk-inf model), through the same window
        rate_inf = loss_rate(t, np.asarray(mt["ntk_inf_train_loss"], float), *self.RATE_WINDOW)[0] \
            if "ntk_inf_train_loss" in mt else math.nan
        gs = gram_series(rd)
        lam0 = float(gs["theory"]["ntk_lambda_min"])
        dH = float(np.max(gs["dH"]))
        R = float(np.nanmax(np.asarray(mt["w_dist_max_row"], float)))
        Rdu = 2 * math.sqrt(n) * math.sqrt(2 * L[0]) / (math.sqrt(m) * lam)
        # Weyl: λ_min(H(t)) ∈ [λ0 − Δ, λ0 + Δ], so rate/rate_inf ∈ [(λ0 − Δ)/λ, (λ0 + Δ)/λ]
        weyl = abs(rate / rate_inf - lam0 / lam) / (dH / lam) if dH > 0 else math.inf
        return dict(t=t, L=L, env_max=env_max, rate=rate, rate_points=npts, rate_inf=rate_inf, lam0=lam0, dH=dH,
                    lmin=float(np.min(gs["lmin"])), R=R, R_du=Rdu, gram=gs, weyl=weyl)

    def gd_vs_flow(self, ctx, s, sd, pr, rates, tag, record, tight=False):
        """Flow to T = T_CMP/λ and GD at each rate for K = T/η steps (K a multiple of 4, η = T/K
        exactly), both logged at T/4, T/2, 3T/4 and T. The difference at a rate is the largest
        relative gap of the training losses at those times, max_j |L_GD − L_flow|/L_flow: the loss
        is a smooth function of all the predictions, where a maximum over the weights would be set
        by the few neurons sliding along a surface where ∇L jumps. Also ‖W_GD − W_flow‖_F at T;
        with tight, the same gap between the flow at TOL and at TOL/10."""
        n, d, m = s["n"], s["d"], s["m"]
        T = self.T_CMP / pr["lam"]
        base = ctx.p(tag, "s%d" % sd)
        fd = os.path.join(base, "flow")
        self.flow(ctx, fd, n, d, sd, m, T, self.TOL, T / 4, 0, record)
        Lf = np.asarray(metrics(fd)["nn_train_loss"], float)[1:5]
        Wf = read_W(fd)
        out = dict(T=T, rates=[], steps=[], diff=[], wdiff=[])
        if tight:
            ft = os.path.join(base, "flow-tight")
            self.flow(ctx, ft, n, d, sd, m, T, self.TOL / 10, T / 4, 0, record)
            Lt = np.asarray(metrics(ft)["nn_train_loss"], float)[1:5]
            out["flow_change"] = float(np.max(np.abs(Lt - Lf) / Lt))
        for i, r in enumerate(rates):
            K = 4 * int(math.ceil(T * pr["lmax"] / (4 * r)))
            eta = T / K
            gd = os.path.join(base, "gd-%d" % i)
            ctx.ntkit("run", *du_args(n, d, sd), "--models", "nn", "--width", m, "--lr1", "%.12g" % eta, "--steps",
                      K, "--log-every", K // 4, "--kernel-every", 0, "--out", gd, record=record and i == 0)
            Lg = np.asarray(metrics(gd)["nn_train_loss"], float)[1:5]
            W = read_W(gd)
            out["rates"].append(eta)
            out["steps"].append(K)
            out["diff"].append(float(np.max(np.abs(Lg - Lf) / Lf)) if np.all(np.isfinite(Lg)) else math.inf)
            out["wdiff"].append(float(np.linalg.norm(W - Wf)) if np.all(np.isfinite(W)) else math.inf)
        return out

    def order_check(self, label, cmp_, boot):
        eta = np.concatenate([c["rates"] for c in cmp_])
        dif = np.concatenate([c["diff"] for c in cmp_])
        grp = np.concatenate([[i] * len(c["rates"]) for i, c in enumerate(cmp_)])
        coef, se = fit_loglog([eta], dif, groups=grp if len(cmp_) > 2 else None, reps=boot)
        tol = self.PHASE + 3 * se[1] if math.isfinite(se[1]) else math.nan
        # the constant C(η) = gap/η of each seed over its rates: bounded, moved only by the phases
        spread = max(max(np.asarray(c["diff"]) / np.asarray(c["rates"])) /
                     min(np.asarray(c["diff"]) / np.asarray(c["rates"])) for c in cmp_)
        span = max(max(c["rates"]) / min(c["rates"]) for c in cmp_)
        spread_check = Check("%s: gap ÷ η, largest over smallest across the rates (worst seed), against %s^%g" % (
            label, g(span), self.PHASE), spread, "<=", span ** self.PHASE, part="GD → flow, O(η)")
        return coef, se, spread_check, Check("%s: order in η of max_t |L_GD − L_flow|/L_flow at t = kη (1 ± (%g + 3 SE %s))" % (
            label, self.PHASE, g(3 * se[1])), coef[1], "in", (1 - tol, 1 + tol), part="GD → flow, O(η)")

    def flow_checks(self, label, fl, lam):
        rates = [a["rate"] / (2 * lam) for a in fl]
        fin = all(math.isfinite(x) for x in rates)
        return [
            Check("%s: loss ÷ e^(−λt)L(0), max over t > 0" % label, max(a["env_max"] for a in fl), "<=", 1.0,
                  part="flow envelope"),
            Check("%s: late rate ÷ 2λ, smallest" % label, min(rates) if fin else math.nan, ">=", 0.5,
                  part="flow rate"),
            Check("%s: late rate ÷ 2λ, largest" % label, max(rates) if fin else math.nan, "<=", 1.5,
                  part="flow rate"),
            Check("%s: |rate ÷ kernel flow's − λ_min(H(0))/λ| ÷ (max_t ‖H(t) − H(0)‖op/λ) (Weyl), largest" % label,
                  max(a["weyl"] for a in fl) if fin else math.nan, "<=", 1.0, part="flow rate"),
            Check("%s: min_t λ_min(H(t)) ÷ λ" % label, min(a["lmin"] for a in fl) / lam, ">=", 0.5,
                  part="λ_min(H(t)) ≥ λ/2"),
            Check("%s: max_r ‖w_r(t) − w_r(0)‖ ÷ 2√n‖y − u(0)‖/(√m λ)" % label, max(a["R"] / a["R_du"] for a in fl),
                  "<=", 1.0, part="radius"),
        ]

    def run(self, ctx):
        s = self.sizes[ctx.size]
        rep = Report(ctx, self)
        n, d, m = s["n"], s["d"], s["m"]
        fl, cmp_, probes = [], [], {}
        for sd in s["seeds"]:
            first = sd == s["seeds"][0]
            pr = probe(ctx, ctx.p("probe-s%d" % sd), n, d, sd, record=first)
            probes[sd] = pr
            T = self.T_LONG / pr["lam"]
            rd = ctx.p("flow-long-s%d" % sd)
            self.flow(ctx, rd, n, d, sd, m, T, self.TOL, T / 150, 10, first, models="nn,ntk-inf")
            fl.append(self.flow_analysis(rd, pr["lam"], n, m))
            cmp_.append(self.gd_vs_flow(ctx, s, sd, pr, self.RATES, "gd", first, tight=first))
            ctx.log("seed %d: λ = %.4g, flow rate ÷ 2λ = %.3g, GD−flow differences %s at η = %s" % (
                sd, pr["lam"], fl[-1]["rate"] / (2 * pr["lam"]), ", ".join("%.3g" % x for x in cmp_[-1]["diff"]),
                ", ".join("%.3g" % x for x in cmp_[-1]["rates"])))
        # each seed has its own λ: the checks use each run's own (max/min over seeds of the ratios)
        lam1 = probes[s["seeds"][0]]["lam"]
        for sd, a in zip(s["seeds"], fl):
            lam = probes[sd]["lam"]
            a["rate_rel"], a["lmin_rel"] = a["rate"] / (2 * lam), a["lmin"] / lam
        checks = self.flow_checks_seeds("main", fl, [probes[sd]["lam"] for sd in s["seeds"]])
        coef, se, scheck, ocheck = self.order_check("main", cmp_, s["boot"])
        change = cmp_[0]["flow_change"]
        smallest = min(min(c["diff"]) for c in cmp_)
        rep.checks += checks
        rep.check("flow's own error: the same gap between the flow at tolerance %g and %g, ÷ the smallest "
                  "GD−flow gap" % (
            self.TOL, self.TOL / 10), change / smallest, "<=", 0.1, part="flow accuracy")
        rep.checks += [ocheck, scheck]
        rep.untested = ["the probability 1 − δ over the initialisation (%d draws)" % len(s["seeds"]),
                        "the theorem at its own width m = Ω(n⁶/(λ⁴δ³)) (out of reach: Settings)"]
        # -- negative controls --------------------------------------------------
        sd = s["seeds"][0]
        pr = probes[sd]
        big = self.gd_vs_flow(ctx, s, sd, pr, self.BIG_RATES, "control-rates", False)
        cb, sb, scheck_b, ocheck_b = self.order_check("η = %s/λ_max" % "…".join(map(g, (self.BIG_RATES[0],
                                                                                self.BIG_RATES[-1]))),
                                            [big], s["boot"])
        rdn = ctx.p("control-narrow")
        T = self.T_LONG / pr["lam"]
        self.flow(ctx, rdn, n, d, sd, s["m_narrow"], T, self.TOL, T / 150, 10, False, models="nn,ntk-inf")
        fn = self.flow_analysis(rdn, pr["lam"], n, s["m_narrow"])
        cchecks = [ocheck_b, scheck_b] + self.flow_checks("narrow m = %d" % s["m_narrow"], [fn], pr["lam"])
        v_rates = "FAILED" if not (ocheck_b.passed and scheck_b.passed) else "HELD"
        v_narrow = "FAILED" if any(not c.passed for c in cchecks[2:]) else "HELD"
        rep.negative_control(
            "Two settings where the claim should fail, with the same code and checks: GD at rates %s × 1/λ_max(H∞) "
            "(the largest above 2/λ_max, the stability limit of kernel GD) against the same flow (seed %d) → %s; "
            "the flow of a network of width m = %d, too narrow for n = %d points → %s." % (
                ", ".join(map(g, self.BIG_RATES)), sd, v_rates, s["m_narrow"], n, v_narrow), cchecks)
        rep.decide()
        rep.results = dict(
            n=n, d=d, m=m, seeds=s["seeds"], tol=self.TOL,
            flows=[dict(seed=sd_, lam=probes[sd_]["lam"], lmax=probes[sd_]["lmax"], envelope_max_ratio=a["env_max"],
                        late_rate=a["rate"], rate_over_2lam=a["rate_rel"], lambda0=a["lam0"], max_dH=a["dH"],
                        min_lambda=a["lmin"], R=a["R"], R_du=a["R_du"]) for sd_, a in zip(s["seeds"], fl)],
            gd_vs_flow=[dict(seed=sd_, T=c["T"], rates=c["rates"], steps=c["steps"], loss_gap=c["diff"],
                             W_fro_diff=c["wdiff"])
                        for sd_, c in zip(s["seeds"], cmp_)],
            order=dict(coef=coef.tolist(), se=se.tolist()), flow_change_tight=change,
            control=dict(rates=dict(rates=big["rates"], diff=big["diff"], order=cb.tolist(), verdict=v_rates),
                         narrow=dict(width=s["m_narrow"], envelope_max_ratio=fn["env_max"], late_rate=fn["rate"],
                                     min_lambda=fn["lmin"], lambda0=fn["lam0"], verdict=v_narrow)))
        self.write_text(rep, s, probes, fl, cmp_, coef, se, change, big, cb, fn)
        self.figures(rep, s, probes, fl, cmp_, coef, big, fn)
        return rep

    def flow_checks_seeds(self, label, fl, lams):
        """flow_checks with each seed's own λ."""
        out = []
        per = [self.flow_checks(label, [a], lam) for a, lam in zip(fl, lams)]
        for j, c0 in enumerate(per[0]):
            vals = [p[j].measured for p in per]
            worst = max(vals) if c0.cmp == "<=" else min(vals)
            if any(not math.isfinite(v) for v in vals):
                worst = math.nan
            out.append(Check(c0.name + (" over %d seeds" % len(fl) if len(fl) > 1 else ""), worst, c0.cmp,
                             c0.threshold, part=c0.part))
        return out

    def write_text(self, rep, s, probes, fl, cmp_, coef, se, change, big, cb, fn):
        n, d, m = s["n"], s["d"], s["m"]
        lam = probes[s["seeds"][0]]["lam"]
        rep.settings += [
            "network and data as in `overparam-relu`: ReLU, v_r = ±1 fixed (`--init sign --lr2 0`), s = 1, n = %d "
            "points uniform on the unit sphere in d = %d, labels N(0, 1), sum loss; width m = %d; seeds %s (data "
            "and weights)" % (n, d, m, s["seeds"]),
            "gradient flow dW/dt = −∇_W L (`ntkit run --flow --lr1 1`), integrated with tolerance %g (src/flow.c: "
            "Runge–Kutta–Fehlberg 4(5), whose error at the jumps of ∇L falls with the tolerance; tests/test_flow.c), "
            "to t = %g/λ, logged 150 times, the Gram matrix every 10th" % (self.TOL, self.T_LONG),
            "late rate: minus the least-squares slope of log L(t) over the logged t with L/L(0) in [%g, %g]; "
            "predicted 2λ_min(H(t)) (d‖r‖²/dt = −2rᵀH(t)r): Du et al.'s stability (λ_min(H(t)) ∈ [λ/2, 3λ/2]) "
            "gives [λ, 3λ]; against the kernel flow with H∞ from the same u(0) (the run's ntk-inf model, fitted "
            "over the same window so that both see the same mixture of slow modes), Weyl's inequality with the "
            "measured λ0 = λ_min(H(0)) and Δ = max_t ‖H(t) − H(0)‖op puts the ratio within (λ0 ± Δ)/λ" %
            self.RATE_WINDOW,
            "Du et al.'s flow theorem: ‖y − u(t)‖² ≤ e^(−λt)‖y − u(0)‖² while λ_min(H(s)) ≥ λ/2, and then "
            "‖w_r(t) − w_r(0)‖ ≤ ∫ ‖dw_r/ds‖ ds ≤ ∫ √n‖r(s)‖/√m ds ≤ 2√n‖y − u(0)‖/(√m λ) (their Lemma 3.3)",
            "GD against flow: for each seed, the flow to T = %g/λ and GD with η = T/K for K = ⌈Tλ_max/c⌉ steps, "
            "c = %s (η ≈ c/λ_max), K a multiple of 4; the gap is max_j |L_GD − L_flow|/L_flow at t = jT/4, "
            "j = 1…4 (the loss sums over all predictions; a maximum over the weights would be set by the few "
            "neurons that slide along a surface where ∇L jumps, and is reported as ‖W_GD − W_flow‖_F). GD is the "
            "explicit Euler method for the flow: the gap is C(η)·η, C bounded but moved by where the Euler steps "
            "cross the surfaces where ∇L jumps (tests/test_flow.c); the order fitted over the factor 8 of rates "
            "(least squares on logs, bootstrap over %s) must be within 1 ± (%g + 3 SE): %g lets C change by "
            "8^%g ≈ %.1f across the rates; and, for each seed, C = gap/η itself may change by at most that "
            "factor across its rates (a check of first order that one outlying rate cannot hide in a wide SE)" % (
                self.T_CMP, ", ".join(map(g, self.RATES)), "seeds" if len(s["seeds"]) > 2 else "points",
                self.PHASE, self.PHASE, self.PHASE, 8 ** self.PHASE),
            "the flow is the reference only if its own error is small: the change of W when the tolerance goes "
            "from %g to %g must be at most 1/10 of the smallest GD−flow difference (seed %d)" % (
                self.TOL, self.TOL / 10, s["seeds"][0]),
            "**the theorem's conditions are not met**: Du et al.'s flow width m = Ω(n⁶/(λ⁴δ³)) is about %.3g at "
            "n = %d (δ = 1) against m = %d here; tested instead: its conclusions at this width" % (
                n ** 6 / lam ** 4, n, m),
        ]
        rows = [[str(sd), probes[sd]["lam"], a["env_max"], a["rate_rel"], a["lam0"] / probes[sd]["lam"],
                 a["lmin"] / probes[sd]["lam"], a["dH"] / probes[sd]["lam"], a["rate"] / a["rate_inf"], a["weyl"],
                 a["R"], a["R_du"]]
                for sd, a in zip(s["seeds"], fl)]
        rep.sections.append(("Gradient flow (to t = %g/λ)" % self.T_LONG, table(
            ["seed", "λ", "max L/e^(−λt)L(0)", "rate ÷ 2λ", "λ_min(H(0))/λ", "min_t λ_min(H(t))/λ",
             "max_t ‖ΔH‖/λ", "rate ÷ kernel flow's", "Weyl ratio (≤ 1)", "max R", "Du radius"], rows)))
        rows = []
        for sd, c in zip(s["seeds"], cmp_):
            for eta, K, dif, wd in zip(c["rates"], c["steps"], c["diff"], c["wdiff"]):
                rows.append([str(sd), eta, str(K), dif, dif / eta, wd])
        rep.sections.append(("GD against the flow up to T = %g/λ" % self.T_CMP, table(
            ["seed", "η", "steps", "max_t |L_GD − L_flow|/L_flow", "÷ η", "‖W_GD − W_flow‖_F at T"], rows) +
            "\n\nFitted: difference ∝ η^(%s ± %s); the flow's own error (change at tolerance /10): %s." % (
                g(coef[1]), g(se[1]), g(change))))
        rows = [[eta, str(K), dif, wd] for eta, K, dif, wd in zip(big["rates"], big["steps"], big["diff"],
                                                                  big["wdiff"])]
        rep.sections.append(("Negative controls", table(["η (control)", "steps", "max_t |L_GD − L_flow|/L_flow",
                                                         "‖W_GD − W_flow‖_F at T"], rows) +
                             "\n\nOrder over the control rates: %s. Narrow flow (m = %d): max L/e^(−λt)L(0) = %s, "
                             "rate ÷ 2λ = %s, λ_min(H(0))/λ = %s, min_t λ_min(H(t))/λ = %s." % (
                                 g(cb[1]), s["m_narrow"], g(fn["env_max"]), g(fn["rate"] / (2 * lam)),
                                 g(fn["lam0"] / lam), g(fn["lmin"] / lam))))
        rep.notes.append("Under the flow the loss decays at about 2λ, twice the e^(−λt) of Du et al.'s theorem: "
                         "the theorem's λ/2 margin in λ_min(H(t)) is where the factor 2 goes (docs/theory.md §7.7).")

    def figures(self, rep, s, probes, fl, cmp_, coef, big, fn):
        fig, axs = plt.subplots(1, 2, figsize=(13, 4.8))
        ax = axs[0]
        cmap = plt.get_cmap("viridis")
        for i, (sd, a) in enumerate(zip(s["seeds"], fl)):
            lam = probes[sd]["lam"]
            c = cmap(i / max(1, len(fl) - 1))
            ax.plot(a["t"] * lam, a["L"] / a["L"][0], color=c, label="flow, seed %d" % sd)
        lam = probes[s["seeds"][0]]["lam"]
        ax.plot(fn["t"] * lam, fn["L"] / fn["L"][0], color="0.4", ls=":", label="control: m = %d" % s["m_narrow"])
        tt = np.linspace(0, self.T_LONG, 100)
        ax.plot(tt, np.exp(-tt), "--", color="#d62728", lw=2, label="Du et al.: e^(−λt)")
        ax.plot(tt, np.exp(-2 * tt), "-.", color="#ff7f0e", label="e^(−2λt)")
        ax.axhspan(*self.RATE_WINDOW, color="0.9", zorder=0)
        ax.set_yscale("log")
        ax.set_xlabel("λ t")
        ax.set_ylabel("L(t) / L(0)")
        ax.set_title("Gradient flow against Du et al.'s envelope")
        ax.legend(fontsize=8)
        ax = axs[1]
        for i, (sd, c) in enumerate(zip(s["seeds"], cmp_)):
            ax.plot(c["rates"], c["diff"], "o", color=cmap(i / max(1, len(cmp_) - 1)), label="seed %d" % sd)
        ee = np.array(sorted(np.concatenate([c["rates"] for c in cmp_])))
        ax.plot(ee, np.exp(coef[0]) * ee ** coef[1], "-", color="#1f77b4", label="fit η^%.2f" % coef[1])
        ax.plot(big["rates"], big["diff"], "x", color="#d62728", ms=8, label="control rates")
        ax.axhline(cmp_[0]["flow_change"], color="0.5", ls=":", label="flow's own error (tol/10 change)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("GD rate η")
        ax.set_ylabel("max_t |L_GD − L_flow| / L_flow, t = kη ≤ T")
        ax.set_title("Gradient descent against gradient flow")
        ax.legend(fontsize=8)
        rep.fig(fig, "flow", "Left: loss under gradient flow (t in units of 1/λ) with Du et al.'s envelope; right: "
                "the difference between GD and the flow at the same time against the rate, with the control rates.")
