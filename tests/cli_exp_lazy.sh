#!/bin/sh
# The lazy-training experiments (lazy-scale, lazy-flow, lazy-width,
# lazy-meanfield) at --smoke size: each writes report.md and results.json with
# a checks table (threshold, the value that would fail it, margin) and a
# negative control whose verdict must come out FAILED; the shared fits are
# checked against exact power laws.
set -u
. "$(dirname "$0")/lib.sh"

need_plotting
TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)

# --- the fits against exact power laws (no ntkit needed) -------------------
# y = 3 x^-0.7 exactly: slope −0.7 to rounding (a few ulps of log x), and a
# standard error at rounding level; two seeds with slopes −1 and −0.5: mean
# −0.75, sd √(0.125) = 0.35355
$PY - "$TOOLS" >"$T/fits" 2>&1 <<'EOF'
import math, sys
sys.path.insert(0, sys.argv[1])
from exp_lazy_scale import fit_se, seed_slopes, first_at_or_below
x = [2.0, 4, 8, 16, 32]
b, a, se = fit_se(x, [3 * v ** -0.7 for v in x])
assert abs(b + 0.7) < 1e-12 and abs(a - math.log(3)) < 1e-12 and se < 1e-12, (b, a, se)
bs, mean, sd, sem = seed_slopes(x, [[v ** -1.0 for v in x], [v ** -0.5 for v in x]])
assert abs(mean + 0.75) < 1e-12 and abs(sd - math.sqrt(0.125)) < 1e-12, (mean, sd)
assert math.isnan(fit_se([1, 2], [1, 2])[0])           # two points: no fit
assert first_at_or_below({"l": [3, 2, 1, 0.5]}, "l", 1) == 2
assert first_at_or_below({"l": [3, 2]}, "l", 1) is None
print("fits ok")
EOF
check "grep -q 'fits ok' '$T/fits'" "fits of exp_lazy_scale: $(tail -n 3 "$T/fits")"

$NTKIT experiment --list >"$T/list" 2>&1
for e in lazy-scale lazy-flow lazy-width lazy-meanfield; do
    check "grep -q '^$e ' '$T/list'" "--list names $e"
done

# --- every experiment at --smoke size --------------------------------------
for e in lazy-scale lazy-flow lazy-width lazy-meanfield; do
    start=$(date +%s)
    $NTKIT experiment "$e" --smoke --out "$T/$e" >"$T/$e.log" 2>&1
    rc=$?
    echo "  $e: $(( $(date +%s) - start ))s, $(grep -m1 -o 'Verdict: [A-Z]*' "$T/$e.log")"
    if [ $rc -ne 0 ]; then bad "$e --smoke exit $rc: $(tail -n 3 "$T/$e.log")"; continue; fi
    ok
    r="$T/$e/report.md"
    check "sed -n 3p '$r' | grep -Eq '^\*\*Verdict: (HELD|FAILED)\*\* — .+'" "$e: verdict line"
    check "grep -q '^## Checks' '$r' && grep -q '^| check | measured | threshold | would fail at | margin | result |' '$r'" \
        "$e: checks table with threshold, failing value and margin"
    check "grep -q '^## Negative control' '$r' && grep -q '^\*\*Control verdict: ' '$r'" "$e: negative control section"
    # results.json: every check complete, the verdict the checks give, the control FAILED
    $PY - "$T/$e/results.json" >"$T/$e.json.out" 2>&1 <<'EOF'
import json, math, sys
r = json.load(open(sys.argv[1]))
def complete(c):
    return all(k in c for k in ("name", "measured", "cmp", "threshold", "fails_at", "margin", "passed")) \
        and c["cmp"] in ("<=", ">=", "in")
checks, ctl = r["checks"], r.get("control")
assert checks and all(complete(c) for c in checks), "incomplete checks"
want = "HELD" if all(c["passed"] for c in checks) else "FAILED"
assert r["verdict"] == want, "verdict %s but the checks give %s" % (r["verdict"], want)
assert ctl and ctl["checks"] and all(complete(c) for c in ctl["checks"]), "no complete negative control"
print("control", ctl["verdict"])
EOF
    check "grep -q '^control ' '$T/$e.json.out'" "$e: results.json structure: $(tail -n 1 "$T/$e.json.out")"
    check "grep -q '^control FAILED$' '$T/$e.json.out' && grep -q '^\*\*Control verdict: FAILED\*\*' '$r'" \
        "$e: the negative control must come out FAILED, got: $(tail -n 1 "$T/$e.json.out")"
    check "! grep -Eiq 'seed ?00[0-9]|MATH[.]md' '$r'" "$e: no old seed or formula-sheet citations"
done

finish
