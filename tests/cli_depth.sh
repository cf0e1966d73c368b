#!/bin/sh
# Command-line tests of networks with depth: the flags --depth, --widths,
# --weight-std, --bias-std, --parameterization and --lrs (parsing and every
# kind of bad value), the per-layer weight files of a run directory checked
# against a numpy forward pass, frozen layers, sweep --param depth, kernel
# --weights on a deep run, and the two-layer run directory unchanged.
set -u
. "$(dirname "$0")/lib.sh"

# expect_fail NAME PATTERN CMD...: nonzero exit (not a signal), exactly one
# 'ntkit: error:' line matching PATTERN, no output directory left behind
expect_fail() {
    name=$1 pat=$2
    shift 2
    rm -rf "$T/x"
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    n=$(grep -c '^ntkit: error:' "$T/err")
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$n" -eq 1 ] && grep -qi -- "$pat" "$T/err" &&
        [ ! -e "$T/x" ]; then ok; else
        bad "$name: rc=$rc, $n error lines: $(cat "$T/err")"; fi
}

# expect_fail_kept NAME PATTERN CMD...: the same for commands that make
# their output directory before the failing step (sweep: before its runs)
expect_fail_kept() {
    name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    n=$(grep -c '^ntkit: error:' "$T/err")
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$n" -eq 1 ] && grep -qi -- "$pat" "$T/err"; then ok; else
        bad "$name: rc=$rc, $n error lines: $(cat "$T/err")"; fi
}

SMALL="--n 30 --n-test 10 --d 4 --steps 3 --log-every 1 --quiet"

# --- bad values: one line naming the flag and the fix ------------------------
expect_fail "depth 0" "--depth 1..16" $NTKIT train $SMALL --depth 0 --out "$T/x"
expect_fail "depth 17" "at most 16" $NTKIT train $SMALL --depth 17 --out "$T/x"
expect_fail "depth abc" "--depth expects" $NTKIT train $SMALL --depth abc --out "$T/x"
expect_fail "depth -1" "--depth expects" $NTKIT train $SMALL --depth -1 --out "$T/x"
expect_fail "depth 2.5" "--depth expects" $NTKIT train $SMALL --depth 2.5 --out "$T/x"
expect_fail "widths count" "one width per hidden layer" $NTKIT train $SMALL --depth 2 --widths 8,8,8 --out "$T/x"
expect_fail "widths without depth" "(the default)" $NTKIT train $SMALL --widths 8,8 --out "$T/x"
expect_fail "widths item" "item 2" $NTKIT train $SMALL --depth 2 --widths 8,x --out "$T/x"
expect_fail "widths zero" "positive integer" $NTKIT train $SMALL --depth 2 --widths 8,0 --out "$T/x"
expect_fail "widths empty item" "item 2" $NTKIT train $SMALL --depth 3 --widths 8,,8 --out "$T/x"
expect_fail "width and widths" "both given" $NTKIT train $SMALL --depth 2 --width 8 --widths 8,8 --out "$T/x"
expect_fail "bias-std -1" "--bias-std must be at least 0" $NTKIT train $SMALL --bias-std -1 --out "$T/x"
expect_fail "bias-std nan" "finite number" $NTKIT train $SMALL --bias-std nan --out "$T/x"
expect_fail "weight-std 0" "--weight-std must be positive" $NTKIT train $SMALL --weight-std 0 --out "$T/x"
expect_fail "weight-std inf" "finite number" $NTKIT train $SMALL --weight-std inf --out "$T/x"
expect_fail "parameterization foo" "choose ntk|standard" $NTKIT train $SMALL --parameterization foo --out "$T/x"
expect_fail "lrs count" "needs 3" $NTKIT train $SMALL --depth 2 --lrs 1,1 --out "$T/x"
expect_fail "lrs negative" "non-negative" $NTKIT train $SMALL --depth 2 --lrs 1,-1,1 --out "$T/x"
expect_fail "lrs all zero" "nothing would train" $NTKIT train $SMALL --depth 2 --lrs 0,0,0 --out "$T/x"
expect_fail "lrs bad item" "item 2" $NTKIT train $SMALL --depth 2 --lrs 1,abc,1 --out "$T/x"
expect_fail "lrs with lr1" "both given" $NTKIT train $SMALL --depth 2 --lrs 1,1,1 --lr1 2 --out "$T/x"
expect_fail "W0 at depth" "--W0/--v0" $NTKIT train $SMALL --depth 2 --W0 "$T/none.npy" --out "$T/x"
expect_fail "odd last width symmetric" "even last hidden width" $NTKIT train $SMALL --depth 2 --widths 8,7 --init symmetric --out "$T/x"
$NTKIT train $SMALL --depth 2 --widths 8,6 --init symmetric --out "$T/sym" >/dev/null 2>"$T/sym.err"
check "grep -q 'note: --init symmetric at --depth 2' '$T/sym.err'" "symmetric at depth notes that the lower layers' gradients vanish at t = 0"
expect_fail "lin named at depth" "models nn,linearized,ntk,ntk-inf" $NTKIT run $SMALL --depth 2 --width 8 --models nn,lin --out "$T/x"
expect_fail "lin with biases" "two-layer" $NTKIT run $SMALL --bias-std 0.1 --width 8 --models lin --out "$T/x"
expect_fail "sweep widths with width" "--widths" $NTKIT sweep --param width --values 8 --depth 2 --widths 8,8 $SMALL --out "$T/x"
expect_fail "sweep lr1 with lrs" "--lrs" $NTKIT sweep --param lr1 --values 1 --depth 2 --lrs 1,1,1 $SMALL --out "$T/x"

# --- a depth-2 train: per-layer files, a numpy forward pass, a frozen layer ---
$NTKIT train --n 40 --n-test 12 --d 5 --depth 2 --widths 16,12 --bias-std 0.3 --weight-std 1.4 \
    --act tanh --alpha 1.5 --lrs 0.8,0,0.5 --steps 12 --log-every 4 --seed 7 --quiet \
    --out "$T/t2" >"$T/t2.out" 2>&1
check '[ $? -eq 0 ]' "depth-2 train exit status: $(tail -2 "$T/t2.out")"
for f in config.json X_train.npy y_train.npy X_test.npy y_test.npy metrics.csv summary.json \
    W1_init.npy b1_init.npy W2_init.npy b2_init.npy W3_init.npy b3_init.npy \
    W1_final.npy b1_final.npy W2_final.npy b2_final.npy W3_final.npy b3_final.npy; do
    check "[ -s '$T/t2/$f' ]" "depth-2 train wrote $f"
done
check "[ ! -e '$T/t2/W0.npy' ] && [ ! -e '$T/t2/W.npy' ] && [ ! -e '$T/t2/v0.npy' ]" "no two-layer weight files at depth"
$PY - "$T/t2" <<'PYEOF' && ok || bad "depth-2 files against a numpy forward pass"
import json, sys, numpy as np
d = sys.argv[1]
c = json.load(open(d + "/config.json"))
assert c["depth"] == 2 and c["widths"] == [16, 12], c
assert c["weight_std"] == 1.4 and c["bias_std"] == 0.3 and c["parameterization"] == "ntk", c
assert c["lrs"] == [0.8, 0, 0.5], c["lrs"]
X, y = np.load(d + "/X_train.npy"), np.load(d + "/y_train.npy")
def layers(when):
    return [(np.load(d + "/W%d_%s.npy" % (l, when)), np.load(d + "/b%d_%s.npy" % (l, when))) for l in (1, 2, 3)]
init, final = layers("init"), layers("final")
shapes = [(16, 5), (12, 16), (1, 12)]
for (W, b), s in zip(init, shapes):
    assert W.shape == s and b.shape == (s[0],), (W.shape, b.shape, s)
# the NTK parameterisation, written out: h1 = sw W1 x / sqrt(d) + sb b1,
# h_{l+1} = sw / sqrt(m_l) W_{l+1} tanh(h_l) + sb b_{l+1}, f = alpha h3
def f(P, X):
    a, fan = X, np.sqrt(X.shape[1])
    for l, (W, b) in enumerate(P):
        h = 1.4 / fan * a @ W.T + 0.3 * b
        if l < 2:
            a, fan = np.tanh(h), np.sqrt(W.shape[0])
    return 1.5 * h[:, 0]
m = np.genfromtxt(d + "/metrics.csv", delimiter=",", names=True)
loss0 = 0.5 * np.mean((f(init, X) - y) ** 2)
lossT = 0.5 * np.mean((f(final, X) - y) ** 2)
# each loss is a mean of squares of sums over at most 16 terms: agreement
# to 1e-12 relative is rounding with a wide margin, and a layer or a factor
# left out would change the loss at the first digits
assert abs(m["train_loss"][0] - loss0) <= 1e-12 * loss0, (m["train_loss"][0], loss0)
assert abs(m["train_loss"][-1] - lossT) <= 1e-12 * lossT, (m["train_loss"][-1], lossT)
assert m["train_loss"][-1] < m["train_loss"][0]
# layer 2 frozen (rate 0): its weights and biases unchanged bit for bit, the others moved
assert np.array_equal(init[1][0], final[1][0]) and np.array_equal(init[1][1], final[1][1])
assert not np.array_equal(init[0][0], final[0][0]) and not np.array_equal(init[2][0], final[2][0])
s = json.load(open(d + "/summary.json"))
assert s["status"] == "completed" and "w_dist_fro" in s and "v_dist" in s
PYEOF

# the standard parameterisation draws the same function at init (W_l scaled)
$NTKIT train --n 40 --n-test 12 --d 5 --depth 2 --widths 16,12 --bias-std 0.3 --weight-std 1.4 \
    --act tanh --alpha 1.5 --lrs 0.8,0,0.5 --steps 1 --seed 7 --parameterization standard --quiet \
    --out "$T/t2s" >/dev/null 2>&1
check '[ $? -eq 0 ]' "standard parameterisation train"
$PY - "$T/t2" "$T/t2s" <<'PYEOF' && ok || bad "standard parameterisation: the NTK draw scaled by sigma_w/sqrt(fan-in), sigma_b"
import sys, numpy as np
a, b = sys.argv[1], sys.argv[2]
fans = [np.sqrt(5), np.sqrt(16), np.sqrt(12)]
for l in (1, 2, 3):
    Wn, Ws = np.load(a + "/W%d_init.npy" % l), np.load(b + "/W%d_init.npy" % l)
    bn, bs = np.load(a + "/b%d_init.npy" % l), np.load(b + "/b%d_init.npy" % l)
    # one multiplication each: within one rounding
    assert np.allclose(Ws, 1.4 / fans[l - 1] * Wn, rtol=4e-16, atol=0), l
    assert np.allclose(bs, 0.3 * bn, rtol=4e-16, atol=0), l
ma = np.genfromtxt(a + "/metrics.csv", delimiter=",", names=True)
mb = np.genfromtxt(b + "/metrics.csv", delimiter=",", names=True)
assert abs(ma["train_loss"][0] - mb["train_loss"][0]) <= 1e-12 * ma["train_loss"][0]
PYEOF

# --- a depth-3 run: every model but lin, the theory, the layer files --------
$NTKIT run --n 40 --n-test 10 --d 4 --depth 3 --width 24 --bias-std 0.2 --act erf --steps 10 \
    --log-every 5 --kernel-subsample 20 --seed 2 --quiet --out "$T/r3" >"$T/r3.out" 2>"$T/r3.err"
check '[ $? -eq 0 ]' "depth-3 run exit status: $(tail -2 "$T/r3.err")"
check "grep -q '^ntkit: note: model lin' '$T/r3.err'" "the default at depth leaves lin out with a note"
check "[ \$(grep -c 'n/a  (two-layer only' '$T/r3.out') -eq 3 ]" "theory table marks the three two-layer bounds n/a"
check "[ -s '$T/r3/W4_final.npy' ] && [ -s '$T/r3/b4_init.npy' ] && [ ! -e '$T/r3/W5_init.npy' ]" "depth-3 run writes layers 1..4"
$PY - "$T/r3" <<'PYEOF' && ok || bad "depth-3 run metrics and summary"
import json, sys, numpy as np
d = sys.argv[1]
m = np.genfromtxt(d + "/metrics.csv", delimiter=",", names=True)
cols = m.dtype.names
for model in ("nn", "linearized", "ntk", "ntk_inf"):
    assert model + "_train_loss" in cols, model
assert "lin_train_loss" not in cols
# linearized and the closed-form ntk model are the same dynamics
assert np.allclose(m["linearized_train_loss"], m["ntk_train_loss"], rtol=1e-9, atol=1e-12)
assert m["ntk_drift"][0] == 0 and m["ntk_drift"][-1] > 0
s = json.load(open(d + "/summary.json"))
t, c = s["theory"], s["checks"]
assert t["ntk_lambda_min"] > 0 and t["ntk_inf_lambda_min"] > 0 and t["lr_max_stable"] > 0
for k in ("du_D_bound", "hu_horizon_T", "chizat_beta_bound", "chizat_alpha_condition"):
    assert k not in t and k in t["two_layer_only"], k
for k in ("du_D_bound", "hu_gap_lin_at_T"):
    assert k not in c and k in c["two_layer_only"], k
assert c["chizat_beta_estimate"] > 0
cfg = json.load(open(d + "/config.json"))
assert cfg["models"] == "nn,linearized,ntk,ntk_inf" and cfg["depth"] == 3 and cfg["widths"] == [24, 24, 24]
PYEOF

# --predict at depth: one file per model
$PY -c "import numpy as np; np.save('$T/P.npy', np.random.default_rng(1).normal(size=(6, 4)))"
$NTKIT run --n 30 --d 4 --depth 2 --width 16 --bias-std 0.1 --steps 4 --log-every 2 --quiet \
    --models nn,linearized,ntk --predict "$T/P.npy" --out "$T/pr" >/dev/null 2>&1
check "[ -s '$T/pr/predict_nn.npy' ] && [ -s '$T/pr/predict_linearized.npy' ] && [ -s '$T/pr/predict_ntk.npy' ]" "--predict at depth"

# --force clears the layer files of an earlier run
$NTKIT train $SMALL --width 8 --force --out "$T/r3" >/dev/null 2>&1
check "[ ! -e '$T/r3/W4_final.npy' ] && [ ! -e '$T/r3/b1_init.npy' ] && [ -s '$T/r3/W.npy' ]" "--force replaces a deep run's layer files"

# --- kernel --weights on a deep run ---------------------------------------------
$NTKIT kernel --kind ntk --weights "$T/t2" --at init --x "$T/t2/X_train.npy" --out "$T/K0.npy" >/dev/null 2>&1
check '[ $? -eq 0 ]' "kernel --weights DIR --at init at depth"
$NTKIT kernel --kind ntk --depth 2 --widths 16,12 --bias-std 0.3 --weight-std 1.4 --act tanh --alpha 1.5 \
    --seed 7 --x "$T/t2/X_train.npy" --out "$T/Kf.npy" >/dev/null 2>&1
check '[ $? -eq 0 ]' "kernel from the depth flags"
$NTKIT kernel --kind ntk --weights "$T/t2" --x "$T/t2/X_train.npy" --out "$T/K1.npy" >/dev/null 2>&1
$PY - "$T" <<'PYEOF' && ok || bad "kernel at init from the run's files = from the flags; final differs"
import sys, numpy as np
T = sys.argv[1]
K0, Kf, K1 = np.load(T + "/K0.npy"), np.load(T + "/Kf.npy"), np.load(T + "/K1.npy")
assert K0.shape == (40, 40) and np.array_equal(K0, Kf)
assert np.abs(K1 - K0).max() > 1e-6 * np.abs(K0).max()
PYEOF
expect_fail "kernel lin at depth" "two-layer" $NTKIT kernel --kind lin --weights "$T/t2" --x "$T/t2/X_train.npy" --out "$T/x/K.npy"
expect_fail "kernel --depth with --weights" "conflicts with --weights" $NTKIT kernel --kind ntk --weights "$T/t2" --depth 2 --x "$T/t2/X_train.npy" --out "$T/x/K.npy"
cp -r "$T/t2" "$T/t2bad"
$PY -c "import numpy as np; np.save('$T/t2bad/W2_init.npy', np.ones((12, 15)))"
expect_fail "kernel --weights wrong layer shape" "W2_init.npy has shape (12, 15) but config.json implies (12, 16)" $NTKIT kernel --kind ntk --weights "$T/t2bad" --at init --x "$T/t2/X_train.npy" --out "$T/x/K.npy"
$PY -c "
import json; p='$T/t2bad/config.json'; c=json.load(open(p)); c['widths']=[16]; json.dump(c, open(p,'w'))"
expect_fail "config.json widths count" "widths" $NTKIT kernel --kind ntk --weights "$T/t2bad" --x "$T/t2/X_train.npy" --out "$T/x/K.npy"

# --- sweep --param depth ----------------------------------------------------------
$NTKIT sweep --param depth --values 1,2,3 --n 30 --n-test 10 --d 4 --width 16 --steps 6 --log-every 3 \
    --quiet --out "$T/sw" >"$T/sw.out" 2>&1
check '[ $? -eq 0 ]' "sweep --param depth exit status: $(tail -2 "$T/sw.out")"
check "[ -s '$T/sw/depth=1/W.npy' ] && [ -s '$T/sw/depth=2/W3_final.npy' ] && [ -s '$T/sw/depth=3/W4_final.npy' ]" "sweep members at depths 1, 2, 3"
$PY - "$T/sw" <<'PYEOF' && ok || bad "sweep.csv over depth"
import sys, numpy as np
s = np.genfromtxt(sys.argv[1] + "/sweep.csv", delimiter=",", names=True)
assert list(s["depth"]) == [1, 2, 3] and list(s["status"]) == [0, 0, 0]
assert "lin_train_loss_final" not in s.dtype.names
assert np.all(np.isfinite(s["ntk_inf_train_loss_final"]))
PYEOF
expect_fail_kept "sweep depth 0" "--depth" $NTKIT sweep --param depth --values 0 $SMALL --out "$T/x"

# --- the two-layer run directory: the same files as always -------------------------
$NTKIT run --n 30 --n-test 10 --d 4 --width 8 --steps 3 --log-every 1 --quiet --out "$T/two" >/dev/null 2>&1
check "[ \"\$(ls '$T/two' | tr '\n' ' ')\" = 'W.npy W0.npy X_test.npy X_train.npy config.json metrics.csv summary.json v.npy v0.npy y_test.npy y_train.npy ' ]" "two-layer run directory file names: $(ls "$T/two" | tr '\n' ' ')"
# --depth 1 and --lrs η1,η2 are the two-layer network and its rates: the same run
$NTKIT run --n 30 --n-test 10 --d 4 --steps 3 --log-every 1 --quiet --depth 1 --widths 8 \
    --weight-std 1 --bias-std 0 --parameterization ntk --lrs 1,1 --out "$T/two1" >/dev/null 2>&1
check "cmp -s '$T/two/W.npy' '$T/two1/W.npy' && cmp -s '$T/two/v.npy' '$T/two1/v.npy' && [ \"\$(ls '$T/two1' | tr '\n' ' ')\" = \"\$(ls '$T/two' | tr '\n' ' ')\" ]" "explicit two-layer depth flags give the same run"
$PY - "$T/two" <<'PYEOF' && ok || bad "two-layer config.json has the depth keys; lin is run"
import json, sys, numpy as np
c = json.load(open(sys.argv[1] + "/config.json"))
assert c["depth"] == 1 and c["widths"] == [8] and c["bias_std"] == 0 and c["lrs"] == [1, 1]
assert "lin_train_loss" in np.genfromtxt(sys.argv[1] + "/metrics.csv", delimiter=",", names=True).dtype.names
PYEOF
# an old config.json without the depth keys reads as the two-layer network
$PY -c "
import json; p='$T/two/config.json'; c=json.load(open(p))
for k in ('depth', 'widths', 'weight_std', 'bias_std', 'parameterization', 'lrs'): del c[k]
json.dump(c, open(p, 'w'))"
$NTKIT kernel --kind ntk --weights "$T/two" --x "$T/two/X_train.npy" --out "$T/Kold.npy" >/dev/null 2>&1
check '[ $? -eq 0 ] && [ -s "$T/Kold.npy" ]' "old config.json without depth keys"

finish
