#!/bin/sh
# Command-line tests of ntkit train, run and sweep: outputs, flags, and every
# kind of bad input (one error line, nonzero exit, no partial output).
set -u
. "$(dirname "$0")/lib.sh"

# --- train writes a complete run directory --------------------------------
$NTKIT train --n 120 --n-test 30 --d 6 --width 16 --steps 25 --log-every 10 --seed 4 \
    --act tanh --quiet --out "$T/r1" >/dev/null 2>&1
check '[ $? -eq 0 ]' "train exit status"
for f in config.json X_train.npy y_train.npy X_test.npy y_test.npy W0.npy v0.npy W.npy v.npy metrics.csv summary.json; do
    check "[ -s '$T/r1/$f' ]" "train wrote $f"
done
check "head -1 '$T/r1/metrics.csv' | grep -q '^step,train_loss,test_loss,w_dist_fro,v_dist,w_dist_max_row,grad_norm,seconds$'" "metrics header"
check "[ \"\$(cut -d, -f1 '$T/r1/metrics.csv' | tr '\n' ' ')\" = 'step 0 10 20 25 ' ]" "logged steps 0,10,20 and the last step"
check "! ls '$T/r1' | grep -q -e partial -e tmp" "no temporary files left"

# identical seeds give identical runs; shapes and config are right
$NTKIT train --n 120 --n-test 30 --d 6 --width 16 --steps 25 --log-every 10 --seed 4 --act tanh --quiet --out "$T/r2" >/dev/null 2>&1
check "cmp -s '$T/r1/W.npy' '$T/r2/W.npy'" "same seed, same final weights"
$PY - "$T/r1" <<'PYEOF' && ok || bad "shapes/config/loss recomputed in numpy"
import json, sys, numpy as np, math
d = sys.argv[1]
c = json.load(open(d + "/config.json"))
W0, v0, X, y = (np.load(d + f) for f in ("/W0.npy", "/v0.npy", "/X_train.npy", "/y_train.npy"))
assert W0.shape == (16, 6) and v0.shape == (16,) and X.shape == (120, 6) and y.shape == (120,)
for k in ("n", "n_test", "d", "width", "act", "init", "input_scale", "alpha", "centered", "loss", "lr1", "lr2", "steps", "log_every", "seed", "data", "target"):
    assert k in c, k
# independent forward pass at init: f = alpha/sqrt(m) v.tanh(W x / sqrt(d))
f = c["alpha"] / math.sqrt(16) * np.tanh(X @ W0.T / math.sqrt(6)) @ v0
loss0 = 0.5 * np.mean((f - y) ** 2)
m = np.genfromtxt(d + "/metrics.csv", delimiter=",", names=True)
assert abs(m["train_loss"][0] - loss0) <= 1e-9 * loss0, (m["train_loss"][0], loss0)
PYEOF

# weights from .npy (as another tool would bring them) reproduce the run
$NTKIT train --n 120 --n-test 30 --d 6 --steps 25 --log-every 10 --seed 4 --act tanh --quiet \
    --W0 "$T/r1/W0.npy" --v0 "$T/r1/v0.npy" --out "$T/r3" >/dev/null 2>&1
check "cmp -s '$T/r1/W.npy' '$T/r3/W.npy'" "--W0/--v0 reproduce the run"

# data from files: npy and csv
$NTKIT train --data "npy:$T/r1/X_train.npy:$T/r1/y_train.npy" --n 100 --n-test 20 --width 8 --steps 3 --quiet --out "$T/r4" >/dev/null 2>&1
check '[ $? -eq 0 ] && [ -s "$T/r4/metrics.csv" ]' "train on npy data"
printf 'a,b,c,y\n1,2,3,0.5\n2,1,0,-1\n0,0,1,2\n1,1,1,0\n3,0,1,1\n' >"$T/d.csv"
$NTKIT train --data "csv:$T/d.csv" --n 4 --n-test 1 --width 4 --steps 2 --quiet --out "$T/r5" >/dev/null 2>&1
check '[ $? -eq 0 ] && [ -s "$T/r5/metrics.csv" ]' "train on csv data"

# --- bad input ---------------------------------------------------------------
expect_error "unknown flag" "unknown option" $NTKIT train --bogus 1 --out "$T/x"
expect_error "missing --out" "--out" $NTKIT train --n 10
expect_error "odd symmetric width" "even width" $NTKIT train --init symmetric --width 7 --out "$T/x"
expect_error "zero width" "width" $NTKIT train --width 0 --out "$T/x"
expect_error "negative rate" "non-negative" $NTKIT train --lr1 -1 --out "$T/x"
expect_error "bad number" "finite number" $NTKIT train --alpha abc --out "$T/x"
expect_error "unknown activation" "unknown activation" $NTKIT train --act swish --out "$T/x"
expect_error "unknown loss" "loss" $NTKIT train --loss l1 --out "$T/x"
expect_error "huge sizes" "GiB" $NTKIT train --n 100000000 --d 100000 --out "$T/x"
expect_error "huge width" "BLAS can index" $NTKIT train --n 10 --d 10 --width 100000000000 --out "$T/x"
check "[ ! -e '$T/x' ]" "failed runs leave no output directory"
printf 'not a numpy file' >"$T/bad.npy"
expect_error "malformed npy" "npy" $NTKIT train --data "npy:$T/bad.npy" --out "$T/x"
$PY -c "import numpy as np; a=np.ones((20,3)); a[5,1]=np.nan; np.save('$T/nan.npy', a); np.save('$T/y.npy', np.ones(20)); np.save('$T/y7.npy', np.ones(7)); np.save('$T/w.npy', np.ones((4,5)))"
expect_error "NaN in data" "NaN" $NTKIT train --data "npy:$T/nan.npy:$T/y.npy" --n 10 --n-test 5 --out "$T/x"
expect_error "shape mismatch X/y" "" $NTKIT train --data "npy:$T/y.npy:$T/y7.npy" --n 3 --n-test 2 --out "$T/x"
expect_error "W0 shape mismatch" "W0" $NTKIT train --d 3 --W0 "$T/w.npy" --out "$T/x"
printf '1,2,3\n4,5\n' >"$T/ragged.csv"
expect_error "ragged csv" "" $NTKIT train --data "csv:$T/ragged.csv" --out "$T/x"
expect_error "unknown data spec" "" $NTKIT train --data "mystery" --out "$T/x"

# divergence: stops, names the step, suggests a smaller rate, keeps the metrics
expect_error "divergence" "diverged at step" $NTKIT train --n 50 --d 4 --width 8 --lr1 1e6 --lr2 1e6 --loss sum --steps 200 --log-every 1 --quiet --out "$T/div"
check "[ -s '$T/div/metrics.csv' ] && [ \$(wc -l <'$T/div/metrics.csv') -ge 2 ]" "divergence keeps metrics"
check "grep -q diverged '$T/div/summary.json'" "summary marks divergence"

# --- run and sweep -------------------------------------------------------------
$NTKIT run --n 80 --n-test 20 --d 5 --width 32 --steps 30 --log-every 10 --act erf --kernel-subsample 40 --quiet --out "$T/run" >"$T/run.out" 2>&1
check '[ $? -eq 0 ]' "run exit status: $(tail -2 "$T/run.out")"
check "grep -q 'Hu et al. 2020: horizon T' '$T/run.out'" "run prints the theory table"
$PY - "$T/run" <<'PYEOF' && ok || bad "run metrics and summary"
import json, sys, numpy as np
d = sys.argv[1]
m = np.genfromtxt(d + "/metrics.csv", delimiter=",", names=True)
cols = m.dtype.names
for model in ("nn", "linearized", "lin", "ntk", "ntk_inf"):
    assert model + "_train_loss" in cols and model + "_test_loss" in cols, model
    if model != "nn":
        assert "gap_%s_train" % model in cols and "gap_%s_test" % model in cols
for c in ("theta_dist", "w_dist_fro", "w_dist_max_row", "ntk_drift", "ntk_lambda_min", "envelope", "seconds"):
    assert c in cols, c
assert list(m["step"]) == [0, 10, 20, 30]
# linearized and closed-form ntk are the same dynamics
assert np.allclose(m["linearized_train_loss"], m["ntk_train_loss"], rtol=1e-9, atol=1e-12)
s = json.load(open(d + "/summary.json"))
assert s["status"] == "completed"
for k in ("theory", "checks", "final", "max"):
    assert k in s, k
t = s["theory"]
assert t["ntk_lambda_min"] > 0 and t["jacobian_sigma_max"] ** 2 - t["ntk_lambda_max"] < 1e-9 * t["ntk_lambda_max"]
PYEOF
$NTKIT run --n 60 --d 4 --width 16 --steps 2 --log-every 1 --flow --models nn,ntk --quiet --out "$T/flow" >/dev/null 2>&1
check "head -1 '$T/flow/metrics.csv' | grep -q '^time,nn_train_loss,nn_test_loss,ntk_train_loss'" "flow run uses a time column and only the chosen models"
expect_error "unknown model" "unknown model" $NTKIT run --models nn,rbf --out "$T/x"
expect_error "both rates zero" "both rates" $NTKIT run --lr1 0 --lr2 0 --n 20 --d 3 --width 4 --out "$T/x"
expect_error "fractional steps without flow" "integers" $NTKIT run --steps 2.5 --out "$T/x"
$NTKIT run --n 40 --d 3 --width 8 --lr1 100 --lr2 100 --steps 2 --quiet --models nn,ntk --out "$T/warn" >/dev/null 2>"$T/warn.err"
check "grep -q 'stability limit' '$T/warn.err'" "rate above the stability limit warns with the limit"

$NTKIT sweep --param width --values 8,16 --n 40 --d 3 --steps 10 --log-every 5 --models nn,linearized --quiet --out "$T/sw" >/dev/null 2>&1
check "[ -d '$T/sw/width=8' ] && [ -d '$T/sw/width=16' ] && [ \$(wc -l <'$T/sw/sweep.csv') -eq 3 ]" "sweep writes one run per value and a table"
expect_error "sweep bad param" "--param" $NTKIT sweep --param nosuch --values 1 --out "$T/x"
expect_error "sweep bad value" "not a number" $NTKIT sweep --param width --values 8,x --out "$T/x"

# Ctrl-C: the run stops, flushes metrics and writes a summary marked interrupted
$NTKIT run --n 3000 --d 20 --width 256 --steps 100000 --log-every 5 --models nn,linearized --quiet --out "$T/int" >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -s "$T/int/metrics.csv.partial" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill -INT $pid
# a run that ignores the signal must not hang the suite
( sleep 60; kill -KILL $pid 2>/dev/null ) &
guard=$!
wait $pid
rc=$?
kill $guard 2>/dev/null
check "[ $rc -eq 130 ] && grep -q interrupted '$T/int/summary.json' && [ -s '$T/int/metrics.csv' ]" "Ctrl-C writes metrics and an interrupted summary (rc $rc)"

finish
