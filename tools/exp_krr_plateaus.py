"""`ntkit experiment`: KrrPlateaus."""
import math
import os

from exp_common import g, table, Report, P, np, plt




# ---------------------------------------------------------------------------
# e. krr-plateaus (Ghorbani et al. 2021)


class KrrPlateaus:
    name = "krr-plateaus"
    cite = "Ghorbani et al. 2021"
    source = ("Ghorbani, Mei, Misiakiewicz and Montanari 2021, *Linearized Two-Layers Neural Networks in High "
              "Dimension*: the plateaus of kernel ridge regression (docs/theory.md §8.3)")
    claim = ("kernel ridge regression with a rotation-invariant kernel on x ~ Unif(√d·S^(d−1)), for "
             "d^(ℓ+δ) ≪ n ≪ d^(ℓ+1−δ) and small ridge, has test error ‖P_(>ℓ) f*‖² + o(1): it learns exactly "
             "the polynomials of degree ≤ ℓ, so the error against log n/log d is a staircase of plateaus.")
    coefs = {1: 1.0, 2: math.sqrt(0.5), 3: 0.5}
    noise = 0.1
    sizes = {
        "smoke": dict(d=8, exps=[1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5], n_test=500, ridges=[1e-4, 1e-2, 1]),
        "quick": dict(d=15, exps=[1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75], n_test=1000,
                      ridges=[1e-4, 1e-2, 1e-1, 1]),
        "full": dict(d=20, exps=[1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0], n_test=2000,
                     ridges=[1e-4, 1e-2, 1e-1, 1]),
    }
    KINDS = [("ntk-inf", "Θ∞ (NTK)", "#1f77b4"), ("nngp-inf", "NNGP / RF kernel", "#d62728")]
    BAND = 0.3

    @staticmethod
    def ndk(d, k):
        """N(d, k): dimension of the degree-k spherical harmonics on S^(d-1)."""
        if k == 0:
            return 1
        return (2 * k + d - 2) * math.comb(k + d - 3, k) // (d - 2)

    def plateau(self, l):
        return sum(c * c for k, c in self.coefs.items() if k > l) + self.noise ** 2

    def run(self, ctx):
        s = self.sizes[ctx.size]
        d = s["d"]
        ns = [int(round(d ** e)) for e in s["exps"]]
        rep = Report(ctx, self)
        spec = "gegenbauer:" + ",".join("%d=%.10g" % (k, c) for k, c in self.coefs.items()) + ",noise=%g" % self.noise
        dd = ctx.p("data")
        ctx.log("data: n = %d (largest), %d test points, d = %d, target %s" % (max(ns), s["n_test"], d, spec))
        ctx.ntkit("train", "--steps", 0, "--n", max(ns), "--n-test", s["n_test"], "--d", d, "--data", "sphere",
                  "--target", spec, "--width", 2, "--seed", 7, "--quiet", "--out", dd)
        X, y = P.load_npy(os.path.join(dd, "X_train.npy")), P.load_npy(os.path.join(dd, "y_train.npy"))
        ridges = ",".join("%g" % r for r in s["ridges"])
        res = {k: {"best": [], "smallest": [], "ridge": []} for k, *_ in self.KINDS}
        for n, e in zip(ns, s["exps"]):
            sub = ctx.p("data", "n%d" % n)
            P.make_dir(sub)
            P.save_npy(os.path.join(sub, "X.npy"), X[:n])
            P.save_npy(os.path.join(sub, "y.npy"), y[:n])
            for kind, *_ in self.KINDS:
                out = ctx.parse_json(ctx.ntkit("krr", "--kind", kind, "--act", "relu", "--x", os.path.join(sub, "X.npy"),
                                           "--y", os.path.join(sub, "y.npy"), "--x-test", os.path.join(dd, "X_test.npy"),
                                           "--y-test", os.path.join(dd, "y_test.npy"), "--ridge", ridges, "--json",
                                           record=(n in (ns[0], ns[-1]))))
                te = [o["test_mse"] for o in out]
                j = int(np.argmin(te))
                res[kind]["best"].append(te[j])
                res[kind]["ridge"].append(out[j]["ridge"])
                res[kind]["smallest"].append(out[0]["test_mse"])
            ctx.log("n = %5d (d^%.2f): test MSE %s" % (n, e, ", ".join(
                "%s %.4f" % (k, res[k]["best"][-1]) for k, *_ in self.KINDS)))
        preds = {l: self.plateau(l) for l in range(0, 4)}
        checks, rows = [], []
        for l in (1, 2):
            e_mid = l + 0.5
            if e_mid > max(s["exps"]) + 1e-9:
                continue
            j = int(np.argmin(np.abs(np.array(s["exps"]) - e_mid)))
            band = self.BAND * (preds[l - 1] - preds[l])
            for kind, *_ in self.KINDS:
                v = res[kind]["best"][j]
                checks.append((l, kind, ns[j], v, preds[l], abs(v - preds[l]) <= band, band))
        for i, (n, e) in enumerate(zip(ns, s["exps"])):
            lth = int(math.floor(e + 1e-9)) if abs(e - round(e)) > 1e-9 else None
            rows.append([str(n), "%.2f" % e, g(preds[lth]) if lth is not None else "(transition)"] +
                        [res[k]["best"][i] for k, *_ in self.KINDS] + [g(res[k]["ridge"][i]) for k, *_ in self.KINDS] +
                        [res[k]["smallest"][i] for k, *_ in self.KINDS])
        ok = all(c[5] for c in checks)
        rep.verdict = "HELD" if ok and checks else ("INCONCLUSIVE" if not checks else "FAILED")
        rep.reason = "; ".join("%s at n = %d ≈ d^%.1f: test MSE %.3f vs plateau %.3f (band ±%.3f) %s" % (
            kind, n, l + 0.5, v, p, band, "in" if inside else "OUT") for l, kind, n, v, p, inside, band in checks)
        rep.results = dict(d=d, n=ns, exps=s["exps"], plateaus=preds, krr=res,
                           checks=[dict(l=c[0], kind=c[1], n=c[2], measured=c[3], predicted=c[4], inside=c[5])
                                   for c in checks])
        rep.settings += [
            "data: x uniform on the sphere of radius √d, d = %d; y = Σ_k c_k Q_k(uᵀx/√d) + N(0, %g²) with "
            "Q_k the normalised Gegenbauer polynomials (E Q_k² = 1), c = %s (`--target %s`), generated once "
            "with `ntkit train --steps 0` at the largest n and subsampled (nested training sets, one test set of %d)"
            % (d, self.noise, {k: round(c, 4) for k, c in self.coefs.items()}, spec, s["n_test"]),
            "n = round(d^e) for e = %s" % ", ".join("%g" % e for e in s["exps"]),
            "kernels: ReLU Θ∞ (`ntk-inf`) and NNGP (`nngp-inf`), s = √d; KRR f = K(x, X)(λI + K)⁻¹y for λ in "
            "{%s}, reporting the best λ on the test set for each n (an oracle choice; the smallest λ is "
            "in the table too)" % ridges,
            "predicted plateaus (test MSE, noise included): ‖P_(>ℓ) f*‖² + σ² = %s for ℓ = 0, 1, 2, 3" %
            ", ".join("%.3f" % preds[l] for l in range(4)),
            "thresholds: at n ≈ d^(ℓ+1/2), the middle of plateau ℓ (ℓ = 1, 2), the measured error must lie "
            "within ±%g × (plateau(ℓ−1) − plateau(ℓ)) of plateau ℓ" % self.BAND,
        ]
        fig, ax = plt.subplots(figsize=(8.5, 5.2))
        e = np.array(s["exps"])
        for kind, label, col in self.KINDS:
            ax.plot(e, res[kind]["best"], "o-", color=col, lw=2, label="%s, best λ" % label)
            ax.plot(e, res[kind]["smallest"], "x:", color=col, lw=1, label="%s, λ = %g" % (label, s["ridges"][0]))
        first = True
        for l in range(0, int(math.ceil(e.max() - 1e-9))):
            lo, hi = max(l, e.min() - 0.15), min(l + 1, e.max() + 0.15)
            if lo < hi:
                ax.hlines(preds[l], lo, hi, colors="k", linestyles="--", lw=1.5,
                          label="predicted plateaus ‖P_(>ℓ) f*‖² + σ²" if first else None)
                first = False
                ax.text(hi, preds[l] * 1.03, "ℓ = %d: %.3f" % (l, preds[l]), fontsize=8, ha="right", va="bottom")
        dims = np.cumsum([1] + [self.ndk(d, k) for k in range(1, 4)])
        first = True
        for l in range(1, 4):
            x = math.log(dims[l]) / math.log(d)
            if e.min() <= x <= e.max():
                ax.axvline(x, color="#2ca02c", ls=":", lw=1.2,
                           label="n = dim of polynomials of degree ≤ ℓ" if first else None)
                first = False
        ax.set_xlim(e.min() - 0.15, e.max() + 0.15)
        ax.set_yscale("log")
        ax.set_xlabel("log n / log d   (d = %d; n from %d to %d)" % (d, min(ns), max(ns)))
        ax.set_ylabel("test mean squared error")
        ax.set_title("Kernel ridge regression: plateaus at ‖P_{>ℓ} f*‖²")
        ax.legend(fontsize=8, loc="lower left")
        rep.fig(fig, "plateaus", "Test MSE of KRR against log n/log d with the predicted plateaus (dashed) for "
                "d^ℓ < n < d^(ℓ+1).")
        rep.sections.append(("Test MSE per n", table(
            ["n", "log n/log d", "predicted plateau"] + ["%s best" % k for k, *_ in self.KINDS] +
            ["best λ %s" % k for k, *_ in self.KINDS] + ["%s λ=%g" % (k, s["ridges"][0]) for k, *_ in self.KINDS],
            rows)))
        rep.sections.append(("Checks at the middle of the plateaus", table(
            ["ℓ", "kernel", "n", "measured", "predicted", "band ±", "inside"],
            [[str(c[0]), c[1], str(c[2]), c[3], c[4], c[6], c[5]] for c in checks])))
        rep.notes.append("Ghorbani et al.'s result is asymptotic (d → ∞ with n = d^(ℓ+δ)); at d = %d the steps are smooth "
                         "and the transitions take up most of each interval, so the plateau values are read "
                         "at n ≈ d^(ℓ+1/2)." % d)
        rep.notes.append("The two-layer ReLU kernels have vanishing Gegenbauer coefficients at odd degrees ≥ 3 "
                         "(Bietti and Mairal 2019), so the degree-3 part (c3² = %.2f) is never learned by them; "
                         "the range of n here stops before ℓ = 3 anyway." % self.coefs[3] ** 2)
        return rep
