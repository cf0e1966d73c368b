#!/bin/sh
# CLI tests of ntkit kernel, ntkit constants and ntkit compare-kernels against
# numpy oracles. Needs $NTKIT (default build/ntkit) and /usr/bin/python3 with
# numpy. Prints "N passed, N failed"; exits nonzero on any failure.
set -u
NTKIT=${NTKIT:-build/ntkit}
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$tmp/log" ] && sed 's/^/     /' "$tmp/log"; }

# run NAME CMD...: the command must succeed
run() {
    name=$1
    shift
    if "$@" >"$tmp/log" 2>&1; then ok "$name"; else bad "$name"; fi
}

# runto NAME FILE CMD...: the command must succeed; its stdout goes to FILE
runto() {
    name=$1
    file=$2
    shift 2
    if "$@" >"$file" 2>"$tmp/log"; then ok "$name"; else bad "$name"; fi
}

# pycheck NAME < script: a numpy check run with argv[1] = $tmp; exit 0 = pass
pycheck() {
    if "$PY" - "$tmp" >"$tmp/log" 2>&1; then ok "$1"; else bad "$1"; fi
}

# fails NAME CMD...: nonzero exit, exactly one stderr line "ntkit: error: ...",
# and nothing written to $tmp/o (the directory every such command writes into)
fails() {
    name=$1
    shift
    rm -rf "$tmp/o"
    mkdir "$tmp/o"
    "$@" >"$tmp/stdout" 2>"$tmp/log"
    rc=$?
    lines=$(wc -l <"$tmp/log")
    left=$(ls -A "$tmp/o" | wc -l)
    if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -q '^ntkit: error: ' "$tmp/log" && [ "$left" -eq 0 ]; then
        ok "$name"
    else
        echo "     rc=$rc stderr lines=$lines files left=$left"
        bad "$name"
    fi
}

# ---------------------------------------------------------------- data
"$PY" - "$tmp" <<'EOF' || { echo "0 passed, 1 failed"; exit 1; }
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(7)
np.save(t + "/X.npy", r.standard_normal((24, 6)))
np.save(t + "/Z.npy", r.standard_normal((9, 6)))
np.save(t + "/Xd7.npy", r.standard_normal((9, 7)))
U = r.standard_normal((20, 6)); U /= np.linalg.norm(U, axis=1, keepdims=True)
np.save(t + "/U.npy", U)
np.save(t + "/X10.npy", r.standard_normal((10, 5)))
Xn = r.standard_normal((5, 6)); Xn[2, 3] = np.nan
np.save(t + "/Xnan.npy", Xn)
np.save(t + "/vec.npy", r.standard_normal(6))
open(t + "/junk.npy", "w").write("this is not an npy file\n")
G = r.standard_normal((12, 12)); B = G @ G.T / 12 + 0.5 * np.eye(12)
E = 0.05 * r.standard_normal((12, 12)); A = B + (E + E.T) / 2
np.save(t + "/A.npy", A); np.save(t + "/B.npy", B)
np.save(t + "/Bsing.npy", np.outer(G[0], G[0]))     # rank one: not PD
np.save(t + "/rect.npy", r.standard_normal((12, 5)))
np.save(t + "/nonsym.npy", r.standard_normal((12, 12)))
np.save(t + "/B5.npy", np.eye(5))
EOF

# ------------------------------------------------- kernel at init of a train run
run "train a run (width 64, seed 3)" "$NTKIT" train --n 40 --n-test 5 --d 6 --width 64 --seed 3 \
    --steps 20 --lr1 2 --lr2 2 --out "$tmp/run" --quiet
run "kernel --weights --at init" "$NTKIT" kernel --kind ntk --weights "$tmp/run" --at init \
    --x "$tmp/run/X_train.npy" --out "$tmp/K_init.npy"
run "kernel --width 64 --seed 3" "$NTKIT" kernel --kind ntk --width 64 --seed 3 \
    --x "$tmp/run/X_train.npy" --out "$tmp/K_seed.npy"
run "kernel --weights (final)" "$NTKIT" kernel --kind ntk --weights "$tmp/run" \
    --x "$tmp/run/X_train.npy" --out "$tmp/K_final.npy"
run "kernel --weights --at final" "$NTKIT" kernel --kind ntk --weights "$tmp/run" --at final \
    --x "$tmp/run/X_train.npy" --out "$tmp/K_final2.npy"
pycheck "init kernel of the run == --width/--seed kernel (1e-12)" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
A, B = np.load(t + "/K_init.npy"), np.load(t + "/K_seed.npy")
assert A.shape == (40, 40), A.shape
err = np.abs(A - B).max()
assert err <= 1e-12 * max(1.0, np.abs(B).max()), err
EOF
pycheck "final kernel: default == --at final, differs from init" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
F, F2, I = (np.load(t + f) for f in ("/K_final.npy", "/K_final2.npy", "/K_init.npy"))
assert np.array_equal(F, F2)
assert np.abs(F - I).max() > 1e-6, np.abs(F - I).max()
EOF
pycheck "final kernel == numpy Theta1 + Theta2 from W.npy, v.npy (docs/theory.md §2.2)" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
X, W, v = (np.load(t + "/run/" + f) for f in ("X_train.npy", "W.npy", "v.npy"))
m, d = W.shape
s = np.sqrt(d)
Z = X @ W.T / s
P, D = np.maximum(Z, 0), (Z > 0).astype(float)
T1 = ((D * v**2) @ D.T) * (X @ X.T / s**2) / m
T2 = P @ P.T / m
K = np.load(t + "/K_final.npy")
err = np.abs(K - T1 - T2).max()
assert err <= 1e-12 * np.abs(K).max(), err
EOF

# ------------------------------------------------- identities and cross blocks
for k in ntk ntk1 ntk2 nngp ntk-inf ntk1-inf ntk2-inf; do
    run "kernel --kind $k (tanh)" "$NTKIT" kernel --kind $k --width 50 --seed 1 --act tanh \
        --x "$tmp/X.npy" --out "$tmp/I_$k.npy"
done
pycheck "ntk = ntk1 + ntk2, nngp = ntk2, ntk-inf = ntk1-inf + ntk2-inf" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
L = lambda k: np.load(t + "/I_" + k + ".npy")
K, K1, K2 = L("ntk"), L("ntk1"), L("ntk2")
assert np.abs(K - K1 - K2).max() <= 1e-12 * np.abs(K).max()
assert np.array_equal(L("nngp"), K2)
Ki = L("ntk-inf")
assert np.abs(Ki - L("ntk1-inf") - L("ntk2-inf")).max() <= 1e-12 * np.abs(Ki).max()
EOF

"$PY" -c "import numpy as np, sys; t=sys.argv[1]; np.save(t+'/XZ.npy', np.vstack([np.load(t+'/X.npy'), np.load(t+'/Z.npy')]))" "$tmp"
for k in ntk ntk1-inf lin; do
    run "kernel --kind $k --x2 (erf)" "$NTKIT" kernel --kind $k --width 40 --seed 5 --act erf \
        --trace-factor 1.3 --x "$tmp/X.npy" --x2 "$tmp/Z.npy" --out "$tmp/C_$k.npy"
    run "kernel --kind $k on stacked inputs" "$NTKIT" kernel --kind $k --width 40 --seed 5 \
        --act erf --trace-factor 1.3 --x "$tmp/XZ.npy" --out "$tmp/S_$k.npy"
    pycheck "cross block $k: shape (24, 9) and == block of the stacked kernel" <<EOF
import sys, numpy as np
t = sys.argv[1]
C, S = np.load(t + "/C_$k.npy"), np.load(t + "/S_$k.npy")
assert C.shape == (24, 9), C.shape
err = np.abs(C - S[:24, 24:]).max()
assert err <= 1e-12 * np.abs(S).max(), err
EOF
done

# ------------------------------------------------- infinite width vs docs/theory.md §3 in numpy
run "kernel ntk-inf relu (alpha 1.5)" "$NTKIT" kernel --kind ntk-inf --alpha 1.5 --x "$tmp/X.npy" \
    --out "$tmp/inf_relu.npy" --spectrum "$tmp/inf_relu.csv"
run "kernel ntk-inf erf (input-scale one)" "$NTKIT" kernel --kind ntk-inf --act erf \
    --input-scale one --x "$tmp/U.npy" --out "$tmp/inf_erf.npy"
pycheck "ntk-inf relu == numpy closed form of docs/theory.md §3.3 (1e-12)" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
X = np.load(t + "/X.npy"); n, d = X.shape
s2, a2 = d, 1.5**2
C = X @ X.T / s2
q = np.diag(C)
k = np.sqrt(np.outer(q, q))
# angle from unit vectors, theta = 2 arcsin(|xh - yh|/2): exact where arccos(rho) loses digits
Xh = X / np.linalg.norm(X, axis=1, keepdims=True)
dist = np.linalg.norm(Xh[:, None, :] - Xh[None, :, :], axis=2)
th = 2 * np.arcsin(np.minimum(dist / 2, 1.0))
Sig = k / (2 * np.pi) * (np.sin(th) + (np.pi - th) * np.cos(th))
dSig = (np.pi - th) / (2 * np.pi)
ref = a2 * (C * dSig + Sig)
K = np.load(t + "/inf_relu.npy")
err = np.abs(K - ref).max()
assert err <= 1e-12 * np.abs(ref).max(), err
EOF
pycheck "ntk-inf erf, s = 1 == numpy closed form (1e-12)" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
X = np.load(t + "/U.npy")
C = X @ X.T
q = np.diag(C)
den = np.outer(1 + 2 * q, 1 + 2 * q)
Sig = 2 / np.pi * np.arcsin(np.clip(2 * C / np.sqrt(den), -1, 1))
dSig = 4 / np.pi / np.sqrt(den - 4 * C**2)
ref = C * dSig + Sig
K = np.load(t + "/inf_erf.npy")
err = np.abs(K - ref).max()
assert err <= 1e-12 * np.abs(ref).max(), err
EOF
# eigenvalues only when asked for: --stats prints lambda_min/lambda_max, the plain command none
runto "kernel ntk-inf, no eigenvalues asked" "$tmp/plain.out" "$NTKIT" kernel --kind ntk-inf --alpha 1.5 \
    --x "$tmp/X.npy" --out "$tmp/inf_plain.npy"
runto "kernel ntk-inf --stats" "$tmp/stats.out" "$NTKIT" kernel --kind ntk-inf --alpha 1.5 \
    --x "$tmp/X.npy" --out "$tmp/inf_stats.npy" --stats
pycheck "--stats prints numpy's extreme eigenvalues; the plain command prints none" <<'EOF'
import re, sys, numpy as np
t = sys.argv[1]
plain, stats = open(t + "/plain.out").read(), open(t + "/stats.out").read()
assert "lambda" not in plain and "||K||_F" in plain, plain
m = re.search(r"lambda_min ([^,]+), lambda_max ([^,]+),", stats)
ev = np.linalg.eigvalsh(np.load(t + "/inf_stats.npy"))
# printed with %.6g: 6 significant digits
assert abs(float(m.group(1)) - ev[0]) <= 1e-5 * abs(ev).max(), (m.group(1), ev[0])
assert abs(float(m.group(2)) - ev[-1]) <= 1e-5 * ev[-1], (m.group(2), ev[-1])
assert np.array_equal(np.load(t + "/inf_plain.npy"), np.load(t + "/inf_stats.npy"))
EOF
pycheck "--spectrum: header, ascending, == numpy eigvalsh" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
lines = open(t + "/inf_relu.csv").read().splitlines()
assert lines[0] == "index,eigenvalue", lines[0]
rows = [l.split(",") for l in lines[1:]]
assert [int(r[0]) for r in rows] == list(range(24))
ev = np.array([float(r[1]) for r in rows])
assert np.all(np.diff(ev) >= 0)
ref = np.linalg.eigvalsh(np.load(t + "/inf_relu.npy"))
assert np.abs(ev - ref).max() <= 1e-10 * ref.max()
EOF

# ------------------------------------------------- linear models, docs/theory.md §4
run "kernel lin1 relu --trace-factor 1" "$NTKIT" kernel --kind lin1 --trace-factor 1 \
    --x "$tmp/X.npy" --out "$tmp/lin1_tf1.npy"
run "kernel lin1 relu (estimated trace factor)" "$NTKIT" kernel --kind lin1 --x "$tmp/X.npy" \
    --out "$tmp/lin1_est.npy"
run "kernel lin1 relu --input-scale one" "$NTKIT" kernel --kind lin1 --trace-factor 1 \
    --input-scale one --x "$tmp/U.npy" --out "$tmp/lin1_one.npy"
pycheck "lin1 == (zeta^2 X X^T + nu^2)/d in numpy (given, estimated trace factor; s = 1)" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
X = np.load(t + "/X.npy"); n, d = X.shape
zeta, e = 0.5, 1 / np.sqrt(2 * np.pi)         # relu: zeta, E[g phi'(g)]
ref = lambda nu, Y: (zeta**2 * Y @ Y.T + nu**2) / d
K = np.load(t + "/lin1_tf1.npy")
assert np.abs(K - ref(e, X)).max() <= 1e-13, np.abs(K - ref(e, X)).max()
Xc = X - X.mean(0)
S = Xc.T @ Xc
tf = np.sqrt(d) * np.linalg.norm(S) / np.trace(S)   # sqrt(Tr S^2/d) with Tr S = d
K = np.load(t + "/lin1_est.npy")
assert np.abs(K - ref(e * tf, X)).max() <= 1e-13, np.abs(K - ref(e * tf, X)).max()
U = np.load(t + "/U.npy")                          # s = 1: the features see sqrt(d) x
K = np.load(t + "/lin1_one.npy")
assert np.abs(K - ref(e, np.sqrt(d) * U)).max() <= 1e-13
EOF

# ------------------------------------------------- constants
runto "constants relu" "$tmp/c_relu.json" "$NTKIT" constants --act relu --trace-factor 2
runto "constants erf" "$tmp/c_erf.json" "$NTKIT" constants --act erf
runto "constants leaky_relu" "$tmp/c_leaky.json" "$NTKIT" constants --act leaky_relu --act-param 0.2
pycheck "constants JSON: relu zeta 1/2, theta0 1/sqrt(2pi), nu; erf zeta 2/sqrt(3pi); leaky" <<'EOF'
import sys, json, math
t = sys.argv[1]
r = json.load(open(t + "/c_relu.json"))
e = json.load(open(t + "/c_erf.json"))
l = json.load(open(t + "/c_leaky.json"))
keys = {"zeta", "nu", "theta0", "theta1", "theta2", "e_phi2", "e_dphi2", "trace_factor", "act", "act_param"}
assert set(r) == keys, set(r) ^ keys
assert r["act"] == "relu" and e["act"] == "erf"
c = 1 / math.sqrt(2 * math.pi)
assert abs(r["zeta"] - 0.5) < 1e-15 and abs(r["theta0"] - c) < 1e-15
assert abs(r["nu"] - 2 * c) < 1e-15 and r["trace_factor"] == 2 and r["theta2"] == 0
assert abs(r["e_dphi2"] - 0.5) < 1e-15
assert abs(e["zeta"] - 2 / math.sqrt(3 * math.pi)) < 1e-12, e["zeta"]
assert abs(e["nu"]) < 1e-12 and abs(e["theta0"]) < 1e-12 and abs(e["theta2"]) < 1e-12
assert l["act_param"] == 0.2 and abs(l["zeta"] - 0.6) < 1e-15
EOF

# ------------------------------------------------- compare-kernels
runto "compare-kernels --json" "$tmp/cmp.json" "$NTKIT" compare-kernels "$tmp/A.npy" "$tmp/B.npy" --json
runto "compare-kernels --json, B not PD (not an error)" "$tmp/cmp_sing.json" "$NTKIT" \
    compare-kernels "$tmp/A.npy" "$tmp/Bsing.npy" --json
run "compare-kernels table output" "$NTKIT" compare-kernels "$tmp/A.npy" "$tmp/B.npy"
pycheck "compare-kernels == numpy norms; normalised distance; not-PD B reported" <<'EOF'
import sys, json, numpy as np
t = sys.argv[1]
A, B = np.load(t + "/A.npy"), np.load(t + "/B.npy")
j = json.load(open(t + "/cmp.json"))
D = A - B
op, fro = np.linalg.norm(D, 2), np.linalg.norm(D)
w, Q = np.linalg.eigh(B)
Bih = Q @ np.diag(w**-0.5) @ Q.T
nd = np.linalg.norm(Bih @ A @ Bih - np.eye(len(B)), 2)
for key, ref in (("op", op), ("fro", fro), ("rel_op", op / np.linalg.norm(B, 2)),
                 ("rel_fro", fro / np.linalg.norm(B)), ("normalized", nd)):
    assert abs(j[key] - ref) <= 1e-10 * ref, (key, j[key], ref)
s = json.load(open(t + "/cmp_sing.json"))
assert s["normalized"] is None and "positive definite" in s["normalized_unavailable"], s
Bs = np.load(t + "/Bsing.npy")
assert abs(s["fro"] - np.linalg.norm(A - Bs)) <= 1e-10 * s["fro"]
EOF

# ------------------------------------------------- bad inputs
o=$tmp/o
fails "unknown kind" "$NTKIT" kernel --kind ntk3 --x "$tmp/X.npy" --out "$o/K.npy"
fails "unknown flag" "$NTKIT" kernel --kind ntk --bogus 1 --x "$tmp/X.npy" --out "$o/K.npy"
fails "missing --x" "$NTKIT" kernel --kind ntk --out "$o/K.npy"
fails "missing --kind" "$NTKIT" kernel --x "$tmp/X.npy" --out "$o/K.npy"
fails "bad npy file" "$NTKIT" kernel --kind ntk --x "$tmp/junk.npy" --out "$o/K.npy"
fails "missing npy file" "$NTKIT" kernel --kind ntk --x "$tmp/nope.npy" --out "$o/K.npy"
fails "1-d inputs" "$NTKIT" kernel --kind ntk --x "$tmp/vec.npy" --out "$o/K.npy"
fails "NaN in X" "$NTKIT" kernel --kind ntk-inf --x "$tmp/Xnan.npy" --out "$o/K.npy"
fails "mismatched d: X vs X2" "$NTKIT" kernel --kind ntk --x "$tmp/X.npy" --x2 "$tmp/Xd7.npy" \
    --out "$o/K.npy"
fails "mismatched d: X vs --weights" "$NTKIT" kernel --kind ntk --weights "$tmp/run" \
    --x "$tmp/Xd7.npy" --out "$o/K.npy"
fails "net flag with --weights" "$NTKIT" kernel --kind ntk --weights "$tmp/run" --width 8 \
    --x "$tmp/run/X_train.npy" --out "$o/K.npy"
fails "--weights not a run directory" "$NTKIT" kernel --kind ntk --weights "$tmp" \
    --x "$tmp/X.npy" --out "$o/K.npy"
fails "--at without --weights" "$NTKIT" kernel --kind ntk --at init --x "$tmp/X.npy" \
    --out "$o/K.npy"
fails "--spectrum with --x2" "$NTKIT" kernel --kind ntk --x "$tmp/X.npy" --x2 "$tmp/Z.npy" \
    --out "$o/K.npy" --spectrum "$o/s.csv"
fails "--mem-limit too small for one tile (library NOMEM)" "$NTKIT" kernel --kind ntk \
    --width 4096 --x "$tmp/X10.npy" --out "$o/K.npy" --mem-limit 8K
grep -q 'smallest tile' "$tmp/log" && ok "tile error comes from the library" || bad "tile error comes from the library"
fails "--mem-limit too small for one row of the kernel" "$NTKIT" kernel --kind lin --x "$tmp/X.npy" \
    --out "$o/K.npy" --mem-limit 100
grep -q 'one row' "$tmp/log" && ok "the message names one row" || bad "the message names one row"
fails "--mem-limit malformed" "$NTKIT" kernel --kind lin --x "$tmp/X.npy" --out "$o/K.npy" \
    --mem-limit 12Q
fails "bad --act" "$NTKIT" kernel --kind ntk-inf --act swish --x "$tmp/X.npy" --out "$o/K.npy"
fails "constants without --act" "$NTKIT" constants
fails "constants unknown activation" "$NTKIT" constants --act nope
fails "compare-kernels non-square" "$NTKIT" compare-kernels "$tmp/rect.npy" "$tmp/B.npy"
fails "compare-kernels mismatched sizes" "$NTKIT" compare-kernels "$tmp/A.npy" "$tmp/B5.npy"
fails "compare-kernels non-symmetric" "$NTKIT" compare-kernels "$tmp/nonsym.npy" "$tmp/B.npy"
fails "compare-kernels one file" "$NTKIT" compare-kernels "$tmp/A.npy"
fails "compare-kernels bad file" "$NTKIT" compare-kernels "$tmp/junk.npy" "$tmp/B.npy"

# ---------------------------------------------------------------- out of core
# A kernel larger than --mem-limit is written row block by row block into the
# one file (ntk_kernel_write_npy): the same entries as the kernel in memory to
# the rounding bound derived in tests/test_kernel_file.c, C·(m + d + 2)·eps
# relative to the largest K_ii with C = 64.
"$PY" - "$tmp" <<'EOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(11)
np.save(t + "/oX.npy", r.standard_normal((300, 8)))
np.save(t + "/oZ.npy", r.standard_normal((70, 8)))
np.save(t + "/oX2k.npy", r.standard_normal((2048, 10)))
np.save(t + "/oX600.npy", r.standard_normal((600, 10)))
np.save(t + "/one.npy", np.ones((1, 10)))
EOF
# 300 x 300 float64 is 703 KiB: --mem-limit 200K is less than a third of it
# (the 300 x 70 cross block's 164 KiB: 100K; the diagonal's 300 values: 1K)
for spec in "inf|ntk-inf||--act relu|200K" "emp|ntk|--width 32 --seed 2|--act erf|200K" \
    "lin|lin||--act relu|200K" "cross|nngp-inf|--x2 $tmp/oZ.npy|--act erf|100K" \
    "diag|ntk-inf|--diagonal|--act relu|1K"; do
    IFS='|' read -r tag kind extra act lim <<SPEC
$spec
SPEC
    runto "kernel $kind $extra in memory" "$tmp/m_$tag.out" "$NTKIT" kernel --kind $kind \
        $extra $act --x "$tmp/oX.npy" --out "$tmp/m_$tag.npy"
    runto "kernel $kind $extra out of core (--mem-limit $lim)" "$tmp/c_$tag.out" "$NTKIT" \
        kernel --kind $kind $extra $act --x "$tmp/oX.npy" --out "$tmp/c_$tag.npy" --mem-limit $lim
    pycheck "out of core == in memory: $kind $extra" <<PYEOF
import sys, numpy as np
t = sys.argv[1]
A, B = np.load(t + "/m_$tag.npy"), np.load(t + "/c_$tag.npy")
assert A.shape == B.shape and B.dtype == np.float64, (A.shape, B.shape, B.dtype)
m = 32 if "$tag" == "emp" else 0
# the scale: the largest K_ii (for the cross block, of the kernel on X)
D = A if "$tag" == "diag" else np.load(t + "/m_inf.npy").diagonal() if "$tag" == "cross" else A.diagonal()
tol = 64 * (m + 8 + 2) * np.finfo(float).eps * np.abs(D).max()
assert np.abs(A - B).max() <= tol, (np.abs(A - B).max(), tol)
assert "out of core" in open(t + "/c_$tag.out").read()
assert "out of core" not in open(t + "/m_$tag.out").read()
PYEOF
done

# --dtype float32, in memory and out of core: '<f4', each entry the float64
# entry rounded to nearest (2^-24 relative), plus the blocks' rounding
run "kernel --dtype float32 (in memory)" "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" \
    --out "$tmp/f32m.npy" --dtype float32
run "kernel --dtype float32 out of core" "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" \
    --out "$tmp/f32c.npy" --dtype float32 --mem-limit 100K
run "kernel --dtype float64 (the default, named)" "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" \
    --out "$tmp/f64.npy" --dtype float64
pycheck "--dtype float32: within 2^-24 relative of the float64 kernel, half the file" <<'EOF'
import os, sys, numpy as np
t = sys.argv[1]
K = np.load(t + "/f64.npy")
assert np.array_equal(K, np.load(t + "/m_inf.npy"))
tol = 64 * (8 + 2) * np.finfo(float).eps * np.abs(np.diag(K)).max()
for name, extra in (("f32m", 0.0), ("f32c", tol)):
    F = np.load(t + "/" + name + ".npy")
    assert F.dtype == np.float32 and F.shape == K.shape, (F.dtype, F.shape)
    err = np.abs(F.astype(float) - K)
    assert np.all(err <= 2.0**-24 * (np.abs(K) + extra) + extra), (name, (err / np.abs(K)).max())
assert np.array_equal(np.load(t + "/f32m.npy"), K.astype(np.float32))
assert os.path.getsize(t + "/f32m.npy") - 128 == (os.path.getsize(t + "/f64.npy") - 128) // 2
EOF

fails "--stats on a kernel over --mem-limit" "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" \
    --out "$o/K.npy" --stats --mem-limit 200K
grep -q 'drop them' "$tmp/log" && ok "--stats refusal suggests dropping it" || bad "--stats refusal suggests dropping it"
fails "--spectrum on a kernel over --mem-limit" "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" \
    --out "$o/K.npy" --spectrum "$o/s.csv" --mem-limit 200K
fails "--dtype float16" "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" --out "$o/K.npy" --dtype float16

# Peak memory: a 2048 x 2048 kernel (32 MiB) under --mem-limit 8M stays far
# below the kernel's size above the process's own baseline (a 1 x 1 kernel)
NTKIT_PATH=$NTKIT pycheck "peak RSS out of core (32 MiB kernel, --mem-limit 8M) < baseline + 16 MiB" <<'EOF'
import os, subprocess, sys
t = sys.argv[1]
def peak(args):
    # ru_maxrss (KiB) of a fresh process running the command
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    return int(subprocess.run([sys.executable, "-c", code] + args, check=True,
                              capture_output=True, text=True).stdout)
n = os.environ["NTKIT_PATH"]
base = peak([n, "kernel", "--kind", "ntk-inf", "--x", t + "/one.npy", "--out", t + "/one_K.npy"])
ooc = peak([n, "kernel", "--kind", "ntk-inf", "--x", t + "/oX2k.npy", "--out", t + "/K2k.npy",
            "--mem-limit", "8M"])
print("baseline", base, "KiB; out of core", ooc, "KiB")
assert ooc < base + 16 * 1024, (base, ooc)
EOF
rm -f "$tmp/K2k.npy"

# Ctrl-C while the blocks are written: the process ends at once, the
# temporary file goes, the earlier K.npy stays as it was.
mkdir -p "$tmp/sig"
cp "$tmp/f64.npy" "$tmp/sig/K.npy"
"$NTKIT" kernel --kind ntk-inf --act gelu --threads 1 --x "$tmp/oX600.npy" --out "$tmp/sig/K.npy" \
    --mem-limit 64K >"$tmp/sig.out" 2>"$tmp/log" &
pid=$!
k=0
while [ $k -lt 400 ] && ! ls "$tmp/sig" | grep -q '\.tmp\.'; do sleep 0.05; k=$((k + 1)); done
ls "$tmp/sig" | grep -q '\.tmp\.' && ok "the blocks go to a temporary file next to K.npy" ||
    bad "no temporary file seen while writing"
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] && ok "Ctrl-C: exit status 130" || bad "Ctrl-C: exit status $rc"
[ "$(ls "$tmp/sig")" = "K.npy" ] && ok "Ctrl-C: no temporary file left" || bad "Ctrl-C: left $(ls "$tmp/sig")"
cmp -s "$tmp/f64.npy" "$tmp/sig/K.npy" && ok "Ctrl-C: the earlier K.npy is intact" || bad "Ctrl-C: K.npy changed"

# Writes that cannot succeed fail before the first block, with one error line.
# check_start NAME DIR WORDS: the last command (status $rc) printed one error
# line containing WORDS, DIR holds no temporary file, and DIR/K.npy, if there,
# is the earlier one
check_start() {
    lines=$(wc -l <"$tmp/log")
    if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -q "^ntkit: error: .*$3" "$tmp/log" &&
        ! ls "$2" | grep -q '\.tmp\.' && { [ ! -e "$2/K.npy" ] || cmp -s "$tmp/f64.npy" "$2/K.npy"; }; then
        ok "$1"
    else
        echo "     rc=$rc lines=$lines: $(cat "$tmp/log")"
        bad "$1"
    fi
}
# a file-size limit (ulimit -f counts 512-byte blocks in sh) below the 703 KiB file
( trap '' XFSZ; ulimit -f 1000; exec "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" \
    --out "$tmp/sig/K.npy" --mem-limit 200K ) >"$tmp/out" 2>"$tmp/log"
rc=$?
check_start "file-size limit: refused before the first block" "$tmp/sig" "file-size limit"
# a full file system and a read-only one, where this machine lets us mount a tmpfs
mkdir -p "$tmp/full" "$tmp/ro"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=256k tmpfs "$tmp/full" 2>/dev/null; then
    "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" --out "$tmp/full/K.npy" --mem-limit 200K \
        >"$tmp/out" 2>"$tmp/log"
    rc=$?
    check_start "full file system: refused before the first block" "$tmp/full" "free"
    umount "$tmp/full"
    if mount -t tmpfs -o ro,size=64k tmpfs "$tmp/ro" 2>/dev/null; then
        "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" --out "$tmp/ro/K.npy" --mem-limit 200K \
            >"$tmp/out" 2>"$tmp/log"
        rc=$?
        check_start "read-only file system: one error line" "$tmp/ro" "Read-only"
        umount "$tmp/ro"
    fi
else
    # not root: a directory without write permission (root would ignore it)
    chmod 555 "$tmp/ro"
    "$NTKIT" kernel --kind ntk-inf --x "$tmp/oX.npy" --out "$tmp/ro/K.npy" --mem-limit 200K \
        >"$tmp/out" 2>"$tmp/log"
    rc=$?
    check_start "read-only directory: one error line" "$tmp/ro" "Permission denied"
    chmod 755 "$tmp/ro"
    echo "  skipped the full-filesystem case: mounting a tmpfs needs root"
fi

# ---------------------------------------------------------------- krr
# kernel ridge regression against numpy's solve on the kernels ntkit writes
"$PY" -c "import numpy as np; r=np.random.default_rng(3); np.save('$tmp/kx.npy', r.standard_normal((60,4))); np.save('$tmp/ky.npy', r.standard_normal(60)); np.save('$tmp/kxt.npy', r.standard_normal((25,4))); np.save('$tmp/kyt.npy', r.standard_normal(25)); np.save('$tmp/ky7.npy', np.ones(7))"
run "kernel ntk-inf for krr" "$NTKIT" kernel --kind ntk-inf --act erf --x "$tmp/kx.npy" --out "$tmp/kK.npy"
run "cross kernel for krr" "$NTKIT" kernel --kind ntk-inf --act erf --x "$tmp/kxt.npy" --x2 "$tmp/kx.npy" --out "$tmp/kKt.npy"
runto "krr json" "$tmp/krr.json" "$NTKIT" krr --kind ntk-inf --act erf --x "$tmp/kx.npy" --y "$tmp/ky.npy" --x-test "$tmp/kxt.npy" --y-test "$tmp/kyt.npy" --ridge 0.01,1 --json
pycheck "krr matches numpy's solve" <<'PYEOF'
import sys, json, numpy as np
t = sys.argv[1]
K, Kt = np.load(t + "/kK.npy"), np.load(t + "/kKt.npy")
y, yt = np.load(t + "/ky.npy"), np.load(t + "/kyt.npy")
out = json.load(open(t + "/krr.json"))
assert [o["ridge"] for o in out] == [0.01, 1]
for o in out:
    a = np.linalg.solve(K + o["ridge"] * np.eye(len(y)), y)
    tr, te = np.mean((K @ a - y) ** 2), np.mean((Kt @ a - yt) ** 2)
    assert abs(o["train_mse"] - tr) <= 1e-8 * max(tr, 1e-12) + 1e-14, (o, tr)
    assert abs(o["test_mse"] - te) <= 1e-8 * te, (o, te)
PYEOF
fails "krr y of the wrong length" "$NTKIT" krr --kind ntk-inf --x "$tmp/kx.npy" --y "$tmp/ky7.npy" --x-test "$tmp/kxt.npy" --y-test "$tmp/kyt.npy"
fails "krr missing --y-test" "$NTKIT" krr --kind ntk-inf --x "$tmp/kx.npy" --y "$tmp/ky.npy" --x-test "$tmp/kxt.npy"
fails "krr negative ridge" "$NTKIT" krr --kind ntk-inf --x "$tmp/kx.npy" --y "$tmp/ky.npy" --x-test "$tmp/kxt.npy" --y-test "$tmp/kyt.npy" --ridge -1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
