#!/bin/sh
# The Hu et al. experiments (early-linear, hu-inputs, hu-kernel) and
# single-neuron: their numerical helpers against independent oracles, then
# each at --smoke size: a checks table with thresholds, a negative control
# whose verdict is FAILED (a control that comes out HELD fails this test: its
# checks could not fail), and results.json agreeing with report.md.
set -u
. "$(dirname "$0")/lib.sh"

need_plotting

# --- the helpers, against oracles that do not share their code ---------------
# Each line printed is "ok NAME" or "FAIL NAME: detail".
MPLBACKEND=Agg $PY - "$(pwd)/tools" "$T" >"$T/unit" 2>&1 <<'EOF'
import math, os, sys
sys.path.insert(0, sys.argv[1])
tmp = sys.argv[2]
import numpy as np
import exp_hu_util as U
import exp_hu_inputs as I
import exp_single_neuron as S

def report(name, ok, detail=""):
    print(("ok %s" % name) if ok else ("FAIL %s: %s" % (name, detail)))

# power_fit on an exact power law: every resample is the same law, so the slope
# and both ends of the interval equal the exponent up to the rounding of
# log/polyfit on 4 points (a few eps times log-magnitudes of order 10)
xs = [25, 50, 100, 200]
for k in (-0.7, 0.0, 1.3):
    groups = [[3.0 * x ** k] * 3 for x in xs]
    f = U.power_fit(xs, groups)
    report("power_fit exact law k=%g" % k, max(abs(f[0] - k), abs(f[1] - k), abs(f[2] - k)) < 1e-10, f)
# with noise: log-normal scatter σ = 0.1 around x^-0.5, 5 seeds per x; the 95%
# interval must contain the exponent in most of 40 independent repetitions
# (binomial: expected misses 2, P(> 8 misses) < 1e-3 for a valid 95% interval;
# the percentile bootstrap on 5 points per group undercovers somewhat, hence 8)
rng = np.random.default_rng(7)
miss = 0
for rep in range(40):
    groups = [list(x ** -0.5 * np.exp(0.1 * rng.standard_normal(5))) for x in xs]
    k, lo, hi, _ = U.power_fit(xs, groups)
    miss += not (lo <= -0.5 <= hi)
report("power_fit interval covers the exponent (misses %d of 40)" % miss, miss <= 8, miss)
# point_fit agrees with an ordinary least-squares slope on all pairs
x = np.repeat([10.0, 20.0, 40.0], 4)
y = 2 * x * np.exp(0.05 * rng.standard_normal(len(x)))
k, lo, hi = U.point_fit(x, y)
ref = np.polyfit(np.log(x), np.log(y), 1)[0]
report("point_fit slope = least squares", abs(k - ref) < 1e-12 and lo <= k <= hi, (k, ref, lo, hi))

# the symmetric ±1 initialisation: mirrored rows, v = ±1, and f(x; θ0) = 0 for
# a direct erf forward pass in numpy (exact cancellation: the two halves are
# the same floating-point numbers with opposite signs)
w, v = U.sym_sign_init(os.path.join(tmp, "W0.npy"), os.path.join(tmp, "v0.npy"), 10, 7, 3)
W, V = np.load(w), np.load(v)
Xs = rng.standard_normal((20, 7))
from math import erf
f = np.array([sum(V[r] * erf(W[r] @ xx / math.sqrt(7)) for r in range(10)) for xx in Xs]) / math.sqrt(10)
report("sym_sign_init mirrored, |v| = 1, f(θ0) = 0",
       np.array_equal(W[:5], W[5:]) and np.array_equal(V[:5], -V[5:]) and np.all(np.abs(V) == 1)
       and np.max(np.abs(f)) < 1e-15, np.max(np.abs(f)))

# hu-inputs: stats() against a dense, unblocked computation (same numbers up to
# the rounding of one Gram entry, d·eps relative)
Xd = rng.standard_normal((1100, 9))
st = I.stats(Xd)
G = Xd @ Xd.T
np.fill_diagonal(G, 0)
ref = dict(norm_dev=np.abs((Xd ** 2).sum(1) / 9 - 1).max(), ip=np.abs(G).max() / 9,
           xx=np.linalg.svd(Xd, compute_uv=False)[0] ** 2 / 1100)
report("inputs stats = dense computation", all(abs(st[k] - ref[k]) <= 1e-12 * max(1, abs(ref[k])) for k in ref),
       (st, ref))
# the 99% bounds hold in at least 99% of draws, checked by Monte Carlo over
# 400 data sets (binomial: expected failures ≤ 4 each; P(> 12) < 1e-3)
fails = dict(norm=0, ip=0, xx=0)
for rep in range(400):
    n, d = 60, 15
    Xm = rng.standard_normal((n, d))
    s_ = I.stats(Xm)
    fails["norm"] += s_["norm_dev"] > I.norm_bound(n, d)
    fails["ip"] += s_["ip"] > I.ip_bound(n, d, s_["max_norm"])
    lo, hi = I.xx_band(n, d)
    fails["xx"] += not (lo <= s_["xx"] <= hi)
report("99%% input bounds hold in Monte Carlo (%s of 400)" % fails, max(fails.values()) <= 12, fails)

# single-neuron constants: ‖P_>1 f*‖² and ‖P_2 f*‖² of √2 relu(z) by Monte Carlo
# (10^6 draws: standard error about 5e-4, so 3e-3 is six standard errors)
z = rng.standard_normal(1000000)
fz = math.sqrt(2) * np.maximum(z, 0)
p_gt1 = fz.var() - np.mean(z * fz) ** 2
p2 = np.mean((z * z - 1) / math.sqrt(2) * fz) ** 2
report("‖P_>1 f*‖² = 1/2 − 1/π (MC %.4f)" % p_gt1, abs(p_gt1 - S.PGT1) < 3e-3, p_gt1)
report("‖P_2 f*‖² = 1/(2π) (MC %.4f)" % p2, abs(p2 - S.P2) < 3e-3, p2)
# the degree-2 bound's eigenvalues of the covariance of uuᵀ over u uniform on
# the sphere: 1/d along I/√d and 2/(d(d+2)) on traceless matrices (MC, d = 6)
d = 6
U_ = rng.standard_normal((200000, d))
U_ /= np.linalg.norm(U_, axis=1, keepdims=True)
B = np.diag([1.0, -1.0, 0, 0, 0, 0]) / math.sqrt(2)
along_I = np.mean(np.sum(U_ * U_, 1) / math.sqrt(d)) ** 2
tr0 = np.mean(np.einsum("ni,ij,nj->n", U_, B, U_) ** 2)
report("degree-2 covariance: 1/d and 2/(d(d+2))", abs(along_I - 1 / d) < 1e-9 and abs(tr0 - 2 / (d * (d + 2))) < 2e-3,
       (along_I, tr0, 2 / (d * (d + 2))))
EOF
rc=$?
check "[ $rc -eq 0 ]" "helper tests ran (exit $rc: $(tail -n 3 "$T/unit"))"
while IFS= read -r line; do
    case "$line" in
        ok\ *) ok ;;
        FAIL*) bad "$line" ;;
    esac
done <"$T/unit"

# --- every experiment at --smoke size ---------------------------------------
for e in early-linear hu-inputs hu-kernel single-neuron; do
    start=$(date +%s)
    $NTKIT experiment "$e" --smoke --out "$T/$e" >"$T/$e.log" 2>&1
    rc=$?
    echo "  $e: $(( $(date +%s) - start ))s, $(grep -m1 -o 'Verdict: [A-Z]*' "$T/$e.log")"
    if [ $rc -ne 0 ]; then bad "$e --smoke exit $rc: $(tail -n 3 "$T/$e.log")"; continue; fi
    ok
    r="$T/$e/report.md"
    check "grep -q '^## Checks' '$r' && grep -q '^| check | measured | threshold | would fail at | margin | result |' '$r'" \
        "$e: checks table with threshold, failing value and margin"
    check "grep -q '^## Negative control' '$r' && grep -q '^\*\*Control verdict: FAILED\*\*' '$r'" \
        "$e: negative control section with a FAILED verdict"
    # results.json: the control's verdict is FAILED (HELD means its checks could not
    # fail), the main verdict is the one in report.md, and every check has a
    # threshold, the value that would fail it and a margin
    $PY - "$T/$e/results.json" "$r" >"$T/$e.json.out" 2>&1 <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))
rep = open(sys.argv[2], encoding="utf-8").read().splitlines()
assert res["control"]["verdict"] == "FAILED", "control verdict %s" % res["control"]["verdict"]
assert rep[2].startswith("**Verdict: %s**" % res["verdict"]), "verdict differs: %s / %s" % (res["verdict"], rep[2][:40])
for c in res["checks"] + res["control"]["checks"]:
    for k in ("name", "measured", "threshold", "fails_at", "margin", "passed"):
        assert k in c, "check without %s: %s" % (k, c.get("name"))
assert res["checks"] and res["control"]["checks"], "no checks"
print("ok")
EOF
    check "[ \$? -eq 0 ]" "$e: results.json control FAILED and agrees with report.md ($(tail -n 1 "$T/$e.json.out"))"
done

finish
