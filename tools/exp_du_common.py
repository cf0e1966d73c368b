"""What the experiments on Du et al. 2019 share (overparam-relu, du-stability,
du-flow): the paper's setting as ntkit arguments, the probe for λ = λ_min(H∞),
the Gram-matrix series a run logs, the late-time loss rate, least-squares fits
with bootstrap errors, and the width or radius at which a fitted power law
crosses a level.

Units (docs/theory.md §2.2, §7.1): with relu, `--init sign` (v_r = ±1),
`--input-scale one` (s = 1), unit-norm inputs and α = 1, the first-layer kernel
Θ1 of ntkit is exactly Du et al.'s Gram matrix H(W), and Θ1∞ is H∞; with
`--lr2 0` a run's ntk_lambda_min is λ_min(H(k)) and ntk_drift is
‖H(k) − H(0)‖op / ‖H(0)‖op on the kernel subsample (all points when n ≤ 500).
"""
import math
import os

from exp_common import summary, metrics, P, np


def du_args(n, d, seed):
    """ntkit run/sweep arguments of Du et al.'s setting: ReLU, v_r = ±1 fixed (only W trained),
    s = 1, n points uniform on the unit sphere in d, labels N(0, 1), sum loss ½‖y − u‖²."""
    return ["--act", "relu", "--init", "sign", "--input-scale", "one", "--data", "unit-sphere",
            "--target", "noise", "--lr2", 0, "--loss", "sum", "--n", n, "--n-test", 0, "--d", d,
            "--seed", seed, "--quiet"]


def probe(ctx, out, n, d, seed, record=True):
    """λ = λ_min(H∞), λ_max(H∞) and L(0) of the data and weights of (n, d, seed), from `ntkit run
    --steps 0` with the ntk-inf model (exact eigenvalues, docs/theory.md §7.8)."""
    ctx.ntkit("run", *du_args(n, d, seed), "--models", "nn,ntk-inf", "--width", 16, "--lr1", 1e-3,
              "--steps", 0, "--kernel-every", 0, "--out", out, record=record)
    th = summary(out)["theory"]
    return dict(lam=float(th["ntk_inf_lambda_min"]), lmax=float(th["ntk_inf_lambda_max"]),
                L0=float(th["initial_loss"]))


def gram_series(rd):
    """The Gram matrix along a run, at the logged rows where the kernel was measured:
    step (or flow time) k, R(k) = max_r ‖w_r(k) − w_r(0)‖, λ_min(H(k)), ‖H(k) − H(0)‖op (ntk_drift times
    ‖H(0)‖op = λ_max(H(0)), H(0) being positive semi-definite), and the run's theory block."""
    m, sm = metrics(rd), summary(rd)
    th = sm["theory"]
    h0 = float(th["ntk_lambda_max"])
    lm = np.asarray(m["ntk_lambda_min"], float)
    ok = np.isfinite(lm)
    t = m["time"] if "time" in m else m["step"]   # flow runs log times, GD runs steps
    return dict(k=np.asarray(t, float)[ok], R=np.asarray(m["w_dist_max_row"], float)[ok],
                lmin=lm[ok], dH=np.asarray(m["ntk_drift"], float)[ok] * h0, theory=th, summary=sm,
                metrics=m)


def loss_rate(t, L, lo=1e-14, hi=1e-8):
    """Late-time decay rate of the loss: minus the least-squares slope of log L against t over
    the logged points with L/L(0) in [lo, hi], where the slowest mode dominates (a run whose
    loss never gets there has no rate: NaN). Returns (rate, number of points)."""
    t, L = np.asarray(t, float), np.asarray(L, float)
    Ln = L / L[0]
    sel = np.isfinite(Ln) & (Ln >= lo) & (Ln <= hi)
    if sel.sum() < 3:
        return math.nan, int(sel.sum())
    b = np.polyfit(t[sel], np.log(L[sel]), 1)[0]
    return float(-b), int(sel.sum())


def gd_rate(eta, lam):
    """Per-step decay rate of ‖r‖² for the mode of eigenvalue lam of kernel GD with step eta:
    r ← (1 − ηλ) r, so −2 log|1 − ηλ| (NaN when ηλ ≥ 2 or λ ≤ 0)."""
    x = eta * lam
    return -2 * math.log(abs(1 - x)) if 0 < x < 2 else math.nan


def lstsq(A, y):
    return np.linalg.lstsq(A, y, rcond=None)[0]


def fit_loglog(cols, y, groups=None, reps=2000, seed=0):
    """Least squares of log y on [1, log c for c in cols]; standard errors by a bootstrap over
    groups (each group resampled whole, e.g. a seed or a run: points of one run are not
    independent), or over points when groups is None. Returns (coef, se); non-finite or
    non-positive points are dropped; NaNs when the design is rank deficient."""
    X = np.column_stack([np.asarray(c, float) for c in cols])
    y = np.asarray(y, float)
    ok = np.all(np.isfinite(X) & (X > 0), axis=1) & np.isfinite(y) & (y > 0)
    X, y = X[ok], y[ok]
    A = np.column_stack([np.ones(len(y)), np.log(X)])
    k = A.shape[1]
    if len(y) < k + 1 or np.linalg.matrix_rank(A) < k:
        return np.full(k, math.nan), np.full(k, math.nan)
    coef = lstsq(A, np.log(y))
    g = np.arange(len(y)) if groups is None else np.asarray(groups)[ok]
    labels = np.unique(g)
    idx = [np.flatnonzero(g == u) for u in labels]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        pick = rng.integers(0, len(labels), len(labels))
        rows = np.concatenate([idx[i] for i in pick])
        Ai = A[rows]
        if np.linalg.matrix_rank(Ai) < k:
            continue
        out.append(lstsq(Ai, np.log(y[rows])))
    se = np.asarray(out).std(axis=0, ddof=1) if len(out) > 10 else np.full(k, math.nan)
    return coef, se


def crossing(x, y, level):
    """x at which y(x) crosses level, y decreasing in x: linear interpolation of log y against
    log x between the two measured points that bracket level, or extrapolation from the nearest
    two by at most a factor 4 in x; NaN otherwise (a sweep that does not reach the level)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[ok], y[ok]
    if len(x) < 2:
        return math.nan
    o = np.argsort(x)
    lx, ly, ll = np.log(x[o]), np.log(y[o]), math.log(level)
    for i in range(len(lx) - 1):
        if (ly[i] - ll) * (ly[i + 1] - ll) <= 0 and ly[i] != ly[i + 1]:
            return float(math.exp(lx[i] + (ll - ly[i]) * (lx[i + 1] - lx[i]) / (ly[i + 1] - ly[i])))
    i = 0 if ly[0] < ll else len(lx) - 2   # all below: extrapolate down; all above: up
    if ly[i + 1] == ly[i]:
        return math.nan
    xs = lx[i] + (ll - ly[i]) * (lx[i + 1] - lx[i]) / (ly[i + 1] - ly[i])
    if not (lx[0] - math.log(4) <= xs <= lx[-1] + math.log(4)):
        return math.nan
    return float(math.exp(xs))


def read_W(rd, which="W"):
    return P.load_npy(os.path.join(rd, which + ".npy"))
