"""Helpers shared by the Hu et al. experiments (early-linear, hu-inputs,
hu-kernel) and single-neuron: the symmetric ±1 initialisation written as
--W0/--v0 files, and power-law fits with a bootstrap interval."""
import math
import os

from exp_common import P, np

BOOT = 2000          # bootstrap resamples behind every interval
BOOT_SEED = 12345    # fixed, so that a report is the same on every rerun


def sym_sign_init(path_w, path_v, m, d, seed):
    """Hu et al. 2020's symmetric initialisation with |v_r| = 1: rows 1..m/2 of
    W0 ~ N(0, I_d) and v_r uniform on {−1, +1}, then w_{r+m/2} = w_r and
    v_{r+m/2} = −v_r, so that f(x; θ0) = 0 and v_r² = 1 (their Θ1 has no v²
    factor). ntkit's --init symmetric draws the first half of v from N(0, 1)
    and --init sign does not pair the neurons, so the weights are written
    here and passed as --W0/--v0. Returns (path_w, path_v)."""
    if m % 2:
        raise ValueError("the symmetric initialisation needs an even width, got %d" % m)
    for path in (path_w, path_v):
        P.make_dir(os.path.dirname(path) or ".")
    rng = np.random.default_rng(seed)
    h = m // 2
    W = rng.standard_normal((h, d))
    v = rng.choice(np.array([-1.0, 1.0]), h)
    P.save_npy(path_w, np.vstack([W, W]))
    P.save_npy(path_v, np.concatenate([v, -v]))
    return path_w, path_v


def even(x):
    """The nearest even integer ≥ 2 (widths of the symmetric initialisation)."""
    return max(2, 2 * int(round(x / 2.0)))


def power_fit(xs, groups, stat=np.mean):
    """Exponent κ of stat(group) ∝ x^κ (least squares on logs) and a 95%
    bootstrap interval: each group (the values at one x, one per seed) is
    resampled with replacement, the statistic and the slope recomputed.
    Returns (κ, lo, hi, prefactor)."""
    xs = np.asarray(xs, float)
    groups = [np.asarray(g_, float) for g_ in groups]
    lx = np.log(xs)

    def slope(gs):
        ys = np.array([stat(g_) for g_ in gs], float)
        if np.any(~np.isfinite(ys)) or np.any(ys <= 0):
            return math.nan, math.nan
        b, a = np.polyfit(lx, np.log(ys), 1)
        return float(b), float(a)

    k, a = slope(groups)
    rng = np.random.default_rng(BOOT_SEED)
    boots = []
    for _ in range(BOOT):
        b, _a = slope([g_[rng.integers(0, len(g_), len(g_))] for g_ in groups])
        if math.isfinite(b):
            boots.append(b)
    if len(boots) < BOOT // 2:
        return k, math.nan, math.nan, math.exp(a) if math.isfinite(a) else math.nan
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return k, float(lo), float(hi), math.exp(a)


def point_fit(xs, ys):
    """Exponent of y ∝ x^κ over every (x, y) pair (one per seed) and a 95%
    bootstrap interval over the pairs, resampled within each x."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    ux = np.unique(xs)
    groups = [ys[xs == u] for u in ux]

    def slope(gs):
        x = np.concatenate([np.full(len(g_), u) for u, g_ in zip(ux, gs)])
        y = np.concatenate(gs)
        if np.any(y <= 0) or not np.all(np.isfinite(y)):
            return math.nan
        return float(np.polyfit(np.log(x), np.log(y), 1)[0])

    k = slope(groups)
    rng = np.random.default_rng(BOOT_SEED)
    boots = [slope([g_[rng.integers(0, len(g_), len(g_))] for g_ in groups]) for _ in range(BOOT)]
    boots = [b for b in boots if math.isfinite(b)]
    if len(boots) < BOOT // 2:
        return k, math.nan, math.nan
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return k, float(lo), float(hi)


def ci(k, lo, hi):
    return "%.3g [%.3g, %.3g]" % (k, lo, hi)
