#!/bin/sh
# Predictions from the command line, checked against numpy: kernel ridge
# regression with several outputs (--out), every model's predictions on new
# inputs (run --predict), data files that use their rows, progress lines.
set -u
. "$(dirname "$0")/lib.sh"
pycheck() { if "$PY" - "$T" >"$T/log" 2>&1; then ok; else bad "$1: $(tail -3 "$T/log")"; fi; }

$PY - "$T" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(3)
X = r.standard_normal((60, 5)); Xt = r.standard_normal((25, 5))
W = r.standard_normal((5, 3))
lab, labt = np.argmax(X @ W, 1), np.argmax(Xt @ W, 1)
np.save(t + "/X.npy", X); np.save(t + "/Xt.npy", Xt)
np.save(t + "/Y.npy", np.eye(3)[lab]); np.save(t + "/Yt.npy", np.eye(3)[labt])
np.save(t + "/y.npy", X[:, 0] - X[:, 1]); np.save(t + "/yt.npy", Xt[:, 0] - Xt[:, 1])
EOF

# --- kernel ridge with three one-hot outputs -----------------------------
$NTKIT krr --kind ntk-inf --x "$T/X.npy" --y "$T/Y.npy" --x-test "$T/Xt.npy" --y-test "$T/Yt.npy" \
    --ridge 1e-3,1e-1 --out "$T/krr" >"$T/krr.out" 2>"$T/krr.err"
check '[ $? -eq 0 ]' "krr with (n, 3) targets: $(cat "$T/krr.err")"
check "grep -q 'test accuracy' '$T/krr.out'" "krr prints the accuracy for k >= 2 outputs"
$NTKIT kernel --kind ntk-inf --x "$T/X.npy" --out "$T/K.npy" >/dev/null 2>&1
$NTKIT kernel --kind ntk-inf --x "$T/Xt.npy" --x2 "$T/X.npy" --out "$T/Kt.npy" >/dev/null 2>&1
pycheck "krr --out: predictions and errors equal numpy's solve of (K + ridge I) A = Y" <<'EOF'
import json, sys, numpy as np
t = sys.argv[1]
K, Kt, Y, Yt = (np.load(t + f) for f in ("/K.npy", "/Kt.npy", "/Y.npy", "/Yt.npy"))
res = json.load(open(t + "/krr/results.json"))
for i, lam in enumerate((1e-3, 1e-1)):
    A = np.linalg.solve(K + lam * np.eye(len(K)), Y)
    f, ft = np.load(t + "/krr/pred_train_%d.npy" % i), np.load(t + "/krr/pred_test_%d.npy" % i)
    assert f.shape == Y.shape and ft.shape == Yt.shape
    # the Cholesky and LU solves differ by cond(K + λI)·n·ε relative
    tol = np.linalg.cond(K + lam * np.eye(len(K))) * len(K) * 2.3e-16 * 10
    assert np.abs(ft - Kt @ A).max() <= tol * np.abs(Kt @ A).max(), (i, np.abs(ft - Kt @ A).max(), tol)
    mse = ((ft - Yt) ** 2).sum(1).mean()
    assert abs(res[i]["test_mse"] - mse) <= 1e-9 * mse + tol, (res[i]["test_mse"], mse)
    acc = (ft.argmax(1) == Yt.argmax(1)).mean()
    assert res[i]["test_accuracy"] == acc, (res[i]["test_accuracy"], acc)
EOF
$NTKIT krr --kind ntk-inf --x "$T/X.npy" --y "$T/Y.npy" --x-test "$T/Xt.npy" --y-test "$T/yt.npy" >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q '(25, 3)' '$T/err'" "krr refuses test targets of another width"
$NTKIT krr --kind ntk-inf --x "$T/X.npy" --y "$T/y.npy" --x-test "$T/Xt.npy" --y-test "$T/yt.npy" --out "$T/krr" >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q -- '--force' '$T/err'" "krr --out refuses a non-empty directory"

# --- run --predict: every model on new inputs ----------------------------
$NTKIT run --data "npy:$T/X.npy:$T/y.npy" --test "npy:$T/Xt.npy:$T/yt.npy" --width 64 --act erf \
    --steps 15 --lr1 0.5 --lr2 0.5 --quiet --predict "$T/Xt.npy" --out "$T/run" >/dev/null 2>"$T/err"
check '[ $? -eq 0 ]' "run --predict: $(cat "$T/err")"
pycheck "run --predict: the network's predictions are its forward pass; each model's loss on them is its test loss" <<'EOF'
import json, math, sys, numpy as np
t = sys.argv[1]
c = json.load(open(t + "/run/config.json")); s = json.load(open(t + "/run/summary.json"))
assert c["n"] == 60 and c["n_test"] == 25, (c["n"], c["n_test"])   # the files' rows
W, v, Xt, yt = (np.load(t + "/run/" + f) for f in ("W.npy", "v.npy", "X_test.npy", "y_test.npy"))
assert np.array_equal(Xt, np.load(t + "/Xt.npy"))
f = 1 / math.sqrt(64) * np.array([math.erf(z) for z in (Xt @ W.T / math.sqrt(5)).ravel()]).reshape(25, 64) @ v
nn = np.load(t + "/run/predict_nn.npy")
assert np.abs(nn - f).max() <= 1e-12 * np.abs(f).max(), np.abs(nn - f).max()
for m in ("nn", "linearized", "lin", "ntk", "ntk_inf"):
    p = np.load(t + "/run/predict_%s.npy" % m)
    loss = 0.5 * np.mean((p - yt) ** 2)
    ref = s["final"]["%s_test_loss" % m]
    assert abs(loss - ref) <= 1e-10 * ref, (m, loss, ref)
EOF

# --- data files use their rows --------------------------------------------
$NTKIT train --data "npy:$T/X.npy:$T/y.npy" --width 8 --steps 2 --quiet --out "$T/tr" >/dev/null 2>&1
check "grep -q '\"n\":	60' '$T/tr/config.json' && grep -q '\"n_test\":	0' '$T/tr/config.json'" "a data file trains on all its rows by default"
$NTKIT train --data "npy:$T/X.npy:$T/y.npy" --test "npy:$T/Xt.npy" --width 8 --steps 2 --quiet --out "$T/tr2" >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q 'labels' '$T/err'" "a test file without labels next to labelled training data is refused"

# --- the diagonal alone ----------------------------------------------------
for kind in ntk nngp-inf lin; do
    $NTKIT kernel --kind $kind --act erf --x "$T/X.npy" --out "$T/Kd_$kind.npy" --diagonal >/dev/null 2>&1 &&
        $NTKIT kernel --kind $kind --act erf --x "$T/X.npy" --out "$T/Kf_$kind.npy" >/dev/null 2>&1
    check '[ $? -eq 0 ]' "kernel --diagonal --kind $kind"
done
pycheck "kernel --diagonal: an (n,) array equal to the full kernel's diagonal" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
for kind in ("ntk", "nngp-inf", "lin"):
    D, K = np.load(t + "/Kd_%s.npy" % kind), np.load(t + "/Kf_%s.npy" % kind)
    assert D.shape == (60,), D.shape
    # the same sums in another blocking: (m + d)·ε relative
    assert np.abs(D - np.diag(K)).max() <= 1e-12 * np.abs(np.diag(K)).max(), kind
EOF

# --- progress lines when stderr is a file ---------------------------------
$NTKIT train --n 50 --d 3 --width 8 --steps 40 --log-every 10 --progress plain --out "$T/pg" >/dev/null 2>"$T/pg.err"
check "grep -q '^  step 40/40' '$T/pg.err' && ! grep -q \"\$(printf '\\r')\" '$T/pg.err'" "--progress plain: lines without carriage returns"
$NTKIT train --n 50 --d 3 --width 8 --steps 40 --log-every 10 --progress none --out "$T/pg2" >/dev/null 2>"$T/pg2.err"
check "[ ! -s '$T/pg2.err' ]" "--progress none: nothing on stderr"

finish
