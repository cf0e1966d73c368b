#!/bin/sh
# The kernel experiments (kernel-concentration, krr-plateaus): their numerical
# helpers against independent oracles, then each at --smoke size: a checks
# table with thresholds, a negative control whose verdict is FAILED (a control
# that comes out HELD fails this test: its checks could not fail), and
# results.json agreeing with report.md.
set -u
. "$(dirname "$0")/lib.sh"

need_plotting

# --- the helpers, against oracles that do not share their code ---------------
# Each line printed is "ok NAME" or "FAIL NAME: detail".
MPLBACKEND=Agg $PY - "$(pwd)/tools" >"$T/unit" 2>&1 <<'EOF'
import math, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import exp_krr_plateaus as K
import exp_kernel_concentration as C

def report(name, ok, detail=""):
    print(("ok %s" % name) if ok else ("FAIL %s: %s" % (name, detail)))

# Gegenbauer polynomials: orthogonality under the weight (1 - t^2)^((d-3)/2),
# E P_k^2 = 1/N(d,k) (the addition theorem), by Gauss-Legendre quadrature in t,
# exact for these polynomial integrands once the weight is a polynomial (odd d)
for d in (5, 7, 11):
    t, w = np.polynomial.legendre.leggauss(60)
    wt = w * (1 - t * t) ** ((d - 3) // 2)
    wt /= wt.sum()
    P = K.gegenbauer(d, 6, t)
    G = np.array([[np.sum(wt * P[i] * P[j]) for j in range(7)] for i in range(7)])
    want = np.diag([1.0 / K.ndk(d, k) for k in range(7)])
    # 60-point rule: exact to rounding, about 60 * eps per entry
    report("gegenbauer orthonormality d=%d" % d, np.max(np.abs(G - want)) < 1e-13, np.max(np.abs(G - want)))
# N(d,k): the number of harmonic monomials, C(k+d-1, d-1) - C(k+d-3, d-1)
for d in (3, 6, 20):
    for k in range(1, 7):
        n2 = math.comb(k + d - 1, d - 1) - (math.comb(k + d - 3, d - 1) if k >= 2 else 0)
        if K.ndk(d, k) != n2:
            report("N(%d,%d)" % (d, k), False, "%d != %d" % (K.ndk(d, k), n2))
            break
    else:
        report("N(d,k) against the count of harmonic polynomials, d=%d" % d, True)

# projection: a polynomial dot-product function is reconstructed exactly from
# its coefficients (Funk-Hecke), and an odd one has zero even coefficients
for d in (6, 9, 24):
    th = np.linspace(0, math.pi, 4097)
    t = np.cos(th)
    h = 0.3 + 1.5 * t + 0.7 * t ** 2 - 0.4 * t ** 3 + 0.2 * t ** 5
    eta = K.project(h, th, d, 6)
    Nk = np.array([K.ndk(d, k) for k in range(7)], float)
    rec = sum(Nk[k] * eta[k] * K.gegenbauer(d, 6, t)[k] for k in range(7))
    # trapezoid rule on a weight vanishing to order d-2 at both ends: far below 1e-9
    report("projection reconstructs a degree-5 polynomial, d=%d" % d, np.max(np.abs(rec - h)) < 1e-9,
           np.max(np.abs(rec - h)))
    eo = K.project(t - 2 * t ** 3, th, d, 6)
    report("odd function: even coefficients vanish, d=%d" % d, np.max(np.abs(eo[0::2])) < 1e-14,
           eo[0::2])

# deterministic equivalent, two limits with closed forms:
# (a) a huge ridge learns nothing: MSE -> sum c_k^2 + sigma^2
d = 10
eta = np.array([1.0, 0.5 / d, 0.2 / K.ndk(d, 2)])
c2 = np.array([0.0, 1.0, 0.5, 0.25])
m = K.predicted_mse(eta, d, float(sum(K.ndk(d, k) * eta[k] for k in range(3))), c2, 0.01, 1e12, 100)
report("prediction: huge ridge learns nothing", abs(m - 1.76) < 1e-6, m)
# (b) a kernel of rank p = 1 + d (degrees 0 and 1 only), ridge -> 0, n > p:
# least squares in p features, MSE = E0 (sigma^2 + c_2^2 + c_3^2) with E0 = n/(n - p)
eta = np.array([0.3, 0.05, 0.0])
for n in (20, 50, 400):
    p = 1 + d
    m = K.predicted_mse(eta, d, 0.3 + d * 0.05, c2, 0.01, 1e-12, n)
    want = n / (n - p) * (0.01 + 0.5 + 0.25)
    report("prediction: rank-%d kernel is least squares, n=%d" % (p, n), abs(m / want - 1) < 1e-6, (m, want))
# (c) against Monte Carlo ridge regression with isotropic Gaussian features (rank p,
# equal eigenvalues), where the equivalent is exact up to O(1/n): least squares
# has E test MSE = sigma^2 (1 + p/(n - p - 1)) (the mean of an inverse Wishart)
p, n, sig2 = 20, 120, 0.25
exact = sig2 * (1 + p / (n - p - 1))
# one "degree" with multiplicity p: use d such that N(d,1) = p, i.e. d = p
mm = K.predicted_mse(np.array([0.0, 1.0 / p]), p, 1.0, np.array([0.0, 0.0]), sig2, 1e-12, n)
# relative gap between n/(n-p) and 1 + p/(n-p-1) is p/((n-p)(n-p-1)) ~ 0.2%
report("prediction: isotropic least squares, against the inverse-Wishart mean",
       abs(mm / exact - 1) < 2 * p / ((n - p) * (n - p - 1)), (mm, exact))

# first crossing: a linear ramp crosses at the exact place
e = [0.5, 1.0, 1.5, 2.0]
report("first crossing", abs(K.first_crossing(e, [0.0, 0.2, 0.6, 1.0], 0.5) - 1.375) < 1e-12)
report("no crossing is nan", math.isnan(K.first_crossing(e, [0, 0.1, 0.2, 0.3], 0.5)))
# step reading: s(F_l) = l
kp = K.KrrPlateaus()
F = kp.floors()
report("step reading at the plateaus", np.allclose(kp.steps(F), [0, 1, 2, 3]), kp.steps(F))

# kernel concentration's fit: recovers the exponents of an exact power law, and
# the rate's local exponents are those of sqrt((n+d)/(N d)) (n >> d: 1/2, -1/2)
rows = [(N, n, d) for N in (1e3, 1e4, 1e5) for n in (50, 200, 800) for d in (10, 20, 40)]
A = C.design(rows)
y = np.array([math.log(3.0 * N ** -0.5 * n ** 0.4 * d ** -0.3) for N, n, d in rows])
cf = C.lstsq(A, y)
report("fit recovers exponents", np.allclose(cf, [math.log(3), -0.5, 0.4, -0.3], atol=1e-10), cf)
rows2 = [(N, n, d) for N in (1e3, 1e4) for n in (1e6, 2e6, 4e6) for d in (10, 20, 40)]
y2 = np.log([math.sqrt((n + d) / (N * d)) for N, n, d in rows2])
cf2 = C.lstsq(C.design(rows2), y2)
report("rate's local exponents for n >> d", np.allclose(cf2[1:], [-0.5, 0.5, -0.5], atol=1e-4), cf2)
se, _ = C.bootstrap(A, y + 0.0, 50)
report("bootstrap of an exact fit has zero spread", np.max(se) < 1e-9, se)
EOF
rc=$?
while read -r line; do
    case "$line" in
        ok\ *) ok ;;
        FAIL\ *) bad "helper: ${line#FAIL }" ;;
        *) ;;
    esac
done <"$T/unit"
check "[ $rc -eq 0 ] && [ \$(grep -c '^ok ' '$T/unit') -ge 20 ]" \
    "helper tests ran (rc=$rc): $(grep -v '^ok ' "$T/unit" | tail -n 5)"

# --- each experiment at --smoke size --------------------------------------------
for e in kernel-concentration krr-plateaus; do
    start=$(date +%s)
    $NTKIT experiment "$e" --smoke --out "$T/$e" >"$T/$e.log" 2>&1
    rc=$?
    echo "  $e: $(( $(date +%s) - start ))s, $(grep -m1 -o 'Verdict: [A-Z]*' "$T/$e.log")"
    if [ $rc -ne 0 ]; then bad "$e --smoke exit $rc: $(tail -n 3 "$T/$e.log")"; continue; fi
    ok
    r="$T/$e/report.md"
    check "sed -n 3p '$r' | grep -Eq '^\*\*Verdict: (HELD|FAILED)\*\* — .+'" "$e: verdict line"
    check "grep -q '^## Checks' '$r' && grep -q '^| check | measured | threshold | would fail at | margin | result |' '$r'" \
        "$e: checks table with thresholds, failing values and margins"
    check "grep -q '^## Negative control' '$r'" "$e: negative control section"
    check "grep -q '^\*\*Control verdict: FAILED\*\*' '$r'" \
        "$e: the negative control must come out FAILED: $(grep -m1 'Control verdict' "$r" | cut -c1-200)"
    # no table cell may be split by a stray '|': every row of a table has as many cells as its header
    check "awk -F'|' '/^\\|/ { if (prev && NF != nf) bad = 1; if (!prev) nf = NF; prev = 1; next } { prev = 0 } END { exit bad }' '$r'" \
        "$e: a table row with the wrong number of cells"
    $PY - "$T/$e/results.json" "$r" >"$T/$e.json.out" 2>&1 <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))
rep = open(sys.argv[2]).read()
errs = []
if res.get("control", {}).get("verdict") != "FAILED":
    errs.append("results.json control verdict is %r, must be FAILED" % res.get("control", {}).get("verdict"))
for part in ("checks",):
    if not res.get(part):
        errs.append("no %s in results.json" % part)
for c in res.get("checks", []) + res.get("control", {}).get("checks", []):
    for k in ("name", "measured", "threshold", "fails_at", "margin", "passed"):
        if k not in c:
            errs.append("check %r lacks %s" % (c.get("name"), k))
    if c.get("name") and c["name"] not in rep:
        errs.append("check %r not in report.md" % c["name"])
want = "FAILED" if any(not c["passed"] for c in res.get("checks", [])) else "HELD"
if res.get("verdict") != want:
    errs.append("verdict %s but the checks say %s" % (res.get("verdict"), want))
if "**Verdict: %s**" % res.get("verdict") not in rep:
    errs.append("report.md and results.json disagree on the verdict")
if not any(not c["passed"] for c in res.get("control", {}).get("checks", [])):
    errs.append("no control check failed")
print("\n".join(errs) if errs else "ok")
EOF
    check "[ \"\$(cat '$T/$e.json.out')\" = ok ]" "$e: results.json: $(cat "$T/$e.json.out" | head -n 5)"
done

# kernel-concentration: the control fails on the exponent of d (the RF kernel has no 1/d)
check "$PY -c \"import json,sys; c=json.load(open('$T/kernel-concentration/results.json'))['control']['checks']; sys.exit(0 if any('exponent of d' in x['name'] and not x['passed'] for x in c) else 1)\"" \
    "kernel-concentration: the RF control fails on the exponent of d"
# krr-plateaus: the control fails the hypothesis and the degree-2 window
check "$PY -c \"import json,sys; c=json.load(open('$T/krr-plateaus/results.json'))['control']['checks']; sys.exit(0 if any('hypothesis' in x['name'] and not x['passed'] for x in c) and any('learned degree 2' in x['name'] and not x['passed'] for x in c) else 1)\"" \
    "krr-plateaus: the erf control fails the hypothesis and the degree-2 window"

# the two-dimensional evaluation of the kernel (used for d up to 10^5) reproduces the
# coefficients of the d-dimensional one: the same closed form at the same (q, c),
# projected on M and 2M-1 angles; both trapezoid sums converge to rounding level
# (the weight vanishes to order d-2 at the ends), so 1e-12 of h(1) is far from both
check "$PY -c \"import json,sys; a=json.load(open('$T/krr-plateaus/results.json'))['results']['prediction_large_d']['agree']; sys.exit(0 if a < 1e-12 else 1)\"" \
    "krr-plateaus: two-dimensional kernel evaluation agrees with the d-dimensional one"

finish
