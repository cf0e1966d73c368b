#!/bin/sh
# The depth experiments (kernel-depth, early-linear-depth2): the exponent
# helpers against closed forms, then each at --smoke size: a checks table
# with thresholds, a negative control whose verdict is FAILED (a control that
# comes out HELD fails this test: its checks could not fail), and
# results.json agreeing with report.md.
set -u
. "$(dirname "$0")/lib.sh"

need_plotting

# --- the helpers, against closed forms that do not share their code ----------
MPLBACKEND=Agg $PY - "$(pwd)/tools" >"$T/unit" 2>&1 <<'EOF'
import math, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import exp_kernel_depth as K

def report(name, ok, detail=""):
    print(("ok %s" % name) if ok else ("FAIL %s: %s" % (name, detail)))

ms = [64, 128, 256, 512, 1024]
# exact power laws, one exponent per seed: the mean, sd and SE of the exponents
# (a fit of exact logs recovers each to rounding, ~1e-15 of log m)
ex = [-0.4, -0.5, -0.6]
D = np.array([[3.0 * (i + 1) * m ** e for m in ms] for i, e in enumerate(ex)])
f = K.seed_fit(ms, D)
report("seed_fit recovers the exponents", np.allclose(f["per_seed"], ex, atol=1e-12), f["per_seed"])
report("seed_fit mean and SE", abs(f["mean"] + 0.5) < 1e-12 and abs(f["se"] - 0.1 / math.sqrt(3)) < 1e-12, f)
# one seed: no spread to estimate, the SE is nan (a check built on it cannot pass by accident)
f1 = K.seed_fit(ms, D[:1])
report("seed_fit with one seed has no SE", math.isnan(f1["se"]), f1)
# correction_slope: zero without a correction; on two widths the exact secant slope
report("correction_slope(c = 0) = 0", K.correction_slope(ms, 0.0) == 0.0)
for c in (1.0, 10.0):
    m1, m2 = 64.0, 2048.0
    want = 0.5 * (math.log1p(c / m2) - math.log1p(c / m1)) / (math.log(m2) - math.log(m1))
    got = K.correction_slope([m1, m2], c)
    report("correction_slope on two widths, c = %g" % c, abs(got - want) < 1e-14, (got, want))
# the first-order size of the correction's slope, (c/2)·d(1/m)/d log m averaged: it is
# negative (steeper than −1/2) and below c/(2 m_min) in size
s = K.correction_slope(ms, 10.0)
report("correction_slope bounded by c/(2 m_min)", -10.0 / (2 * ms[0]) <= s < 0, s)
# the allowance grows with depth, the cap bounds every band
kd = K.KernelDepth()
sz = kd.sizes["full"]
al = [kd.allowance(sz, L) for L in (1, 2, 3, 4)]
report("allowance grows with depth and stays below the cap", all(a < b for a, b in zip(al, al[1:])) and al[-1] < kd.CAP, al)
EOF
rc=$?
while read -r line; do
    case "$line" in
        ok\ *) ok ;;
        FAIL\ *) bad "helper: ${line#FAIL }" ;;
        *) ;;
    esac
done <"$T/unit"
check "[ $rc -eq 0 ] && [ \$(grep -c '^ok ' '$T/unit') -ge 8 ]" \
    "helper tests ran (rc=$rc): $(grep -v '^ok ' "$T/unit" | tail -n 5)"

# --- each experiment at --smoke size --------------------------------------------
# --depth picks the depth-2 early-linear experiment (the second run goes through it)
$NTKIT experiment kernel-depth --depth 2 --smoke --out "$T/x" >"$T/x.log" 2>&1
check "[ $? -eq 2 ] && [ \$(wc -l < '$T/x.log') -eq 1 ] && grep -q 'early-linear only' '$T/x.log'" \
    "--depth on another experiment: one error line: $(head -c 200 "$T/x.log")"
$NTKIT experiment early-linear --depth 3 --smoke --out "$T/x" >"$T/x.log" 2>&1
check "[ $? -eq 2 ] && [ ! -e '$T/x' ]" "early-linear --depth 3 refused, nothing written"
for e in kernel-depth early-linear-depth2; do
    start=$(date +%s)
    if [ "$e" = early-linear-depth2 ]; then
        $NTKIT experiment early-linear --depth 2 --smoke --out "$T/$e" >"$T/$e.log" 2>&1
    else
        $NTKIT experiment "$e" --smoke --out "$T/$e" >"$T/$e.log" 2>&1
    fi
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
    check "grep -q '^## Figures' '$r' && ls '$T/$e'/*.png >/dev/null 2>&1" "$e: figures"
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
if not res.get("checks"):
    errs.append("no checks in results.json")
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
    check "[ \"\$(cat '$T/$e.json.out')\" = ok ]" "$e: results.json: $(head -n 5 "$T/$e.json.out")"
done

# kernel-depth: every part of the claim has its checks at every depth, and every one of
# the control's checks fails (each control breaks the claim in its own way)
$PY - "$T/kernel-depth/results.json" >"$T/kd.out" 2>&1 <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))
errs = []
names = [c["name"] for c in res["checks"]]
for L in res["results"]["sizes"]["depths"]:
    if not any(n.startswith("depth %d: exponent of ‖Θ_m − Θ∞‖" % L) for n in names):
        errs.append("no initialisation check at depth %d" % L)
    if not any(n.startswith("depth %d: exponent of ‖Θ(T) − Θ(0)‖" % L) for n in names):
        errs.append("no drift check at depth %d" % L)
ctl = res["control"]["checks"]
for key in ("bottleneck", "standard parameterisation", "α = 1/√m, depth 1"):
    c = [x for x in ctl if x["name"].startswith(key)]
    if not c:
        errs.append("control check %r missing" % key)
    elif c[0]["passed"]:
        errs.append("control check %r passed (measured %s): it could not fail" % (key, c[0]["measured"]))
# the standard parameterisation's kernel grows with m: a positive exponent
st = [x for x in ctl if x["name"].startswith("standard")]
if st and not st[0]["measured"] > 0:
    errs.append("standard-parameterisation control exponent %s, expected > 0" % st[0]["measured"])
print("\n".join(errs) if errs else "ok")
EOF
check "[ \"\$(cat '$T/kd.out')\" = ok ]" "kernel-depth: $(head -n 5 "$T/kd.out")"

# early-linear-depth2: the control fails on the train gap to the linearization, and the
# report names the linear model in x as not tested
check "$PY -c \"import json,sys; c=json.load(open('$T/early-linear-depth2/results.json'))['control']['checks']; sys.exit(0 if any('linearization at θ0, train: largest gap' in x['name'] and not x['passed'] for x in c) else 1)\"" \
    "early-linear-depth2: the m = 4 control fails the train gap to the linearization"
check "grep -q 'Not tested: .*linear model in x' '$T/early-linear-depth2/report.md'" \
    "early-linear-depth2: the linear model in x is named as not tested"

finish
