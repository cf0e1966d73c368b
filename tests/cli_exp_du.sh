#!/bin/sh
# The experiments on Du et al. 2019 (overparam-relu, du-stability, du-flow):
# their numerical helpers against independent oracles, then each at --smoke
# size: a checks table with thresholds, a negative control whose verdict is
# FAILED (a control that comes out HELD fails this test: its checks could not
# fail), and results.json agreeing with report.md.
set -u
. "$(dirname "$0")/lib.sh"

need_plotting

# --- the helpers, against oracles that do not share their code ---------------
# Each line printed is "ok NAME" or "FAIL NAME: detail".
MPLBACKEND=Agg $PY - "$(pwd)/tools" >"$T/unit" 2>&1 <<'EOF'
import math, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import exp_du_common as D

def report(name, ok, detail=""):
    print(("ok %s" % name) if ok else ("FAIL %s: %s" % (name, detail)))

# an exact power law y = 3 n^1.5 R^-0.7: the fit recovers it to rounding (the
# logs are O(10), least squares on 12 points: a few hundred eps), and its
# bootstrap errors are zero up to rounding
n = np.repeat([10.0, 20.0, 40.0], 4)
R = np.tile([0.1, 0.2, 0.4, 0.8], 3)
y = 3 * n ** 1.5 * R ** -0.7
coef, se = D.fit_loglog([n, R], y, reps=200)
err = np.max(np.abs(coef - [math.log(3), 1.5, -0.7]))
report("fit_loglog on an exact power law", err < 1e-12 and np.all(se < 1e-10), (coef, se))
# with noise of known size: log y + N(0, s²) over many points, the slope's
# standard error is s/sqrt(sum (log x - mean)^2); the bootstrap must agree
# within 25% (2000 points: its own sampling error is a few percent)
rng = np.random.default_rng(1)
x = np.exp(rng.uniform(0, 3, 2000))
s = 0.3
yy = 2 * x ** -0.5 * np.exp(rng.normal(0, s, x.size))
coef, se = D.fit_loglog([x], yy, reps=400)
want = s / math.sqrt(np.sum((np.log(x) - np.log(x).mean()) ** 2))
report("fit_loglog bootstrap SE against the normal theory", abs(se[1] / want - 1) < 0.25, (se[1], want))
# bootstrap over groups: a group resampled whole. Two groups with different
# slopes give a spread; one shared slope gives none
g = np.repeat([0, 1, 2], 5)
xg = np.tile([1.0, 2, 4, 8, 16], 3)
yg = xg ** -1.0
coef, se = D.fit_loglog([xg], yg, groups=g, reps=200)
report("fit_loglog grouped bootstrap, one law", abs(coef[1] + 1) < 1e-12 and se[1] < 1e-10, (coef, se))

# loss_rate: an exact exponential L = 5 e^(-0.3 t) has rate 0.3 in any window
t = np.arange(0, 200.0)
L = 5 * np.exp(-0.3 * t)
r, k = D.loss_rate(t, L, 1e-14, 1e-8)
report("loss_rate on an exact exponential", abs(r - 0.3) < 1e-9 and k >= 3, (r, k))
# two modes: the window far below the fast one sees only the slow one
L2 = 5 * np.exp(-0.3 * t) + 5 * np.exp(-3.0 * t)
r, k = D.loss_rate(t, L2, 1e-14, 1e-8)
report("loss_rate: the slow mode alone in a deep window", abs(r - 0.3) < 1e-6, r)
r, k = D.loss_rate(t[:20], L[:20], 1e-14, 1e-8)
report("loss_rate: no rate when the window is not reached", math.isnan(r) and k == 0, (r, k))

# gd_rate: the per-step decay of r^2 under r <- (1 - eta lam) r
report("gd_rate", abs(D.gd_rate(0.5, 0.4) + 2 * math.log(0.8)) < 1e-15 and math.isnan(D.gd_rate(1.0, 2.5)),
       D.gd_rate(0.5, 0.4))

# crossing: y = 4 x^-0.5 crosses 1/4 at x = 256, interpolated exactly in log-log
xs = [16.0, 64.0, 1024.0]
ys = [4 * v ** -0.5 for v in xs]
c = D.crossing(xs, ys, 0.25)
report("crossing inside the range", abs(c / 256 - 1) < 1e-12, c)
# extrapolated up to a factor 4 beyond the widest, not further
c = D.crossing([16.0, 64.0], [1.0, 0.5], 0.25)   # y = 4 x^-1/2 -> 0.25 at 256 = 4 x 64
report("crossing extrapolated by 4", abs(c / 256 - 1) < 1e-12, c)
c = D.crossing([16.0, 64.0], [1.0, 0.5], 0.1)
report("crossing refused beyond 4", math.isnan(c), c)
EOF
while read -r line; do
    case "$line" in
        ok\ *) ok ;;
        FAIL\ *) bad "$line" ;;
        *) bad "helper output: $line" ;;
    esac
done <"$T/unit"

# --- each experiment at --smoke size ----------------------------------------
for e in overparam-relu du-stability du-flow; do
    start=$(date +%s)
    $NTKIT experiment "$e" --smoke --out "$T/$e" >"$T/$e.log" 2>&1
    rc=$?
    echo "  $e: $(( $(date +%s) - start ))s, $(grep -m1 -o 'Verdict: [A-Z]*' "$T/$e.log")"
    if [ $rc -ne 0 ]; then bad "$e --smoke exit $rc: $(tail -n 3 "$T/$e.log")"; continue; fi
    ok
    r="$T/$e/report.md"
    check "[ -s '$r' ] && [ -s '$T/$e/results.json' ]" "$e: report.md and results.json"
    check "grep -q '^## Checks' '$r' && grep -q '^| check | measured | threshold | would fail at | margin | result |' '$r'" \
        "$e: checks table with thresholds, the value that would fail and the margin"
    check "grep -q '^## Negative control' '$r'" "$e: negative control section"
    check "grep -q '^\*\*Control verdict: FAILED\*\*' '$r'" "$e: the negative control's verdict is FAILED in report.md"
    check "grep -q 'the theorem.s conditions are not met\|the lemmas. conditions are not met' '$r'" \
        "$e: the report says how far the settings are from the theorem's conditions"
    $PY - "$T/$e" >"$T/$e.json.out" 2>&1 <<'EOF'
import json, re, sys
d = sys.argv[1]
res = json.load(open(d + "/results.json"))
rep = open(d + "/report.md", encoding="utf-8").read()
errs = []
if res.get("control", {}).get("verdict") != "FAILED":
    errs.append("results.json control verdict %r, must be FAILED" % res.get("control", {}).get("verdict"))
m = re.search(r"^\*\*Verdict: ([A-Z]+)\*\*", rep, re.M)
if not m or m.group(1) != res.get("verdict"):
    errs.append("verdict in report.md %r and results.json %r differ" % (m and m.group(1), res.get("verdict")))
checks = res.get("checks", [])
if len(checks) < 4:
    errs.append("only %d checks" % len(checks))
for c in checks + res.get("control", {}).get("checks", []):
    for k in ("name", "measured", "cmp", "threshold", "fails_at", "margin", "passed"):
        if k not in c:
            errs.append("check %r has no %s" % (c.get("name"), k))
# the verdict follows the checks: HELD iff every main check passed
want = "HELD" if checks and all(c["passed"] for c in checks) else "FAILED"
if res.get("verdict") != want:
    errs.append("verdict %s but the checks say %s" % (res.get("verdict"), want))
if not any(not c["passed"] for c in res.get("control", {}).get("checks", [])):
    errs.append("no control check failed")
print("\n".join(errs) if errs else "ok")
EOF
    check "[ \"\$(cat '$T/$e.json.out')\" = ok ]" "$e: results.json: $(cat "$T/$e.json.out")"
done

finish
