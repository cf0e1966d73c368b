#!/bin/sh
# Kernel ridge regression without the stored kernel: ntkit krr --solver cg on
# every operator mode against the Cholesky solve of the stored kernel, the
# automatic choice under --mem-limit, and the refusals with their estimates.
set -u
. "$(dirname "$0")/lib.sh"
pycheck() { msg=$1; shift; if "$PY" - "$T" "$@" >"$T/log" 2>&1; then ok; else bad "$msg: $(tail -3 "$T/log")"; fi; }

$PY - "$T" <<'PYEOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(8)
X = r.standard_normal((400, 6)); Xt = r.standard_normal((50, 6))
W = r.standard_normal((6, 3))
np.save(t + "/X.npy", X); np.save(t + "/Xt.npy", Xt)
np.save(t + "/Y.npy", np.eye(3)[np.argmax(X @ W, 1)]); np.save(t + "/Yt.npy", np.eye(3)[np.argmax(Xt @ W, 1)])
PYEOF
common="--x $T/X.npy --y $T/Y.npy --x-test $T/Xt.npy --y-test $T/Yt.npy --ridge 1e-2,1"

# the lin kinds' trace factor is given, so that the kernels made here are
# those krr makes (it estimates the factor from its training inputs)
for kind in ntk-inf ntk lin; do
    extra=""
    [ $kind = lin ] && extra="--trace-factor 1.1"
    $NTKIT kernel --kind $kind --width 64 $extra --x "$T/X.npy" --out "$T/K-$kind.npy" >/dev/null 2>&1
    $NTKIT kernel --kind $kind --width 64 $extra --x "$T/Xt.npy" --x2 "$T/X.npy" --out "$T/Kt-$kind.npy" >/dev/null 2>&1
    $NTKIT krr --kind $kind --width 64 $extra $common --solver cholesky --out "$T/chol-$kind" >/dev/null 2>"$T/err"
    check '[ $? -eq 0 ]' "krr $kind cholesky: $(cat "$T/err")"
    for op in dense dense-f32 matrix-free; do
        $NTKIT krr --kind $kind --width 64 $extra $common --solver cg --operator $op --cg-rtol 1e-10 \
            --precond-rank 50 --out "$T/cg-$kind-$op" --json >"$T/json" 2>"$T/err"
        check '[ $? -eq 0 ]' "krr $kind cg $op: $(cat "$T/err")"
        check "grep -q '\"operator\":\"$op\"' '$T/json'" "krr $kind cg $op: JSON names the operator"
        pycheck "krr $kind cg $op: predictions equal the Cholesky solve's" "$kind" "$op" <<'PYEOF'
# Bound. CG stops at ‖Y − (K̃ + λI)A‖_F ≤ rtol‖Y‖_F (checked per column; the
# Frobenius form follows) for its operator K̃ = K + E, where ‖E‖₂ ≤ δ‖|K|‖₂:
# δ = 2^-24 for float32 storage, C·len·ε for products computed another way
# (len = n + m + d, C = 4: tests/test_operator.c). Then
#   ‖A − A*‖_F ≤ (rtol‖Y‖_F + ‖E‖‖A‖_F)/λmin(K + λI),
# and predictions K̃A − KA* = EA + K(A − A*) (test: the cross block, whose
# operator error is bounded the same way). Cholesky's own A* carries
# n·ε·κ·‖A*‖ (backward stable); ‖A‖ ≤ 2‖A*‖ covers the difference.
import sys, numpy as np
t, kind, op = sys.argv[1:4]
K, Kt, Y = np.load(f"{t}/K-{kind}.npy"), np.load(f"{t}/Kt-{kind}.npy"), np.load(f"{t}/Y.npy")
n, eps, rtol = len(K), 2.0 ** -52, 1e-10
delta = 2.0 ** -24 if op == "dense-f32" else 4 * (n + 64 + 6) * eps
absK, absKt = np.linalg.norm(np.abs(K), 2), np.linalg.norm(np.abs(Kt), 2)
for i, lam in enumerate((1e-2, 1.0)):
    w = np.linalg.eigvalsh(K)
    lmin, kappa = w[0] + lam, (w[-1] + lam) / (w[0] + lam)
    A = np.linalg.solve(K + lam * np.eye(n), Y)
    An = 2 * np.linalg.norm(A)
    dA = (rtol * np.linalg.norm(Y) + delta * absK * An) / lmin + 4 * n * eps * kappa * An
    for name, M, absM in (("train", K, absK), ("test", Kt, absKt)):
        f_chol = np.load(f"{t}/chol-{kind}/pred_{name}_{i}.npy")
        f_cg = np.load(f"{t}/cg-{kind}-{op}/pred_{name}_{i}.npy")
        bound = delta * absM * An + np.linalg.norm(M, 2) * dA + 4 * n * eps * absM * An
        err = np.abs(f_chol - f_cg).max()
        assert err <= bound, (name, lam, err, bound)
PYEOF
    done
done

# --- the automatic choice under --mem-limit ----------------------------
$NTKIT krr --kind ntk-inf $common --mem-limit 100M >"$T/out" 2>"$T/err"
check "[ \$? -eq 0 ] && ! grep -q 'cg:' '$T/out'" "krr auto with room: cholesky"
$NTKIT krr --kind ntk-inf $common --mem-limit 1300K >"$T/out" 2>"$T/err"
check "[ \$? -eq 0 ] && grep -q 'cg:' '$T/out' && grep -q 'dense-f32' '$T/err'" \
    "krr auto without room for a float64 kernel: cg on float32 storage ($(cat "$T/err"))"
$NTKIT krr --kind ntk-inf $common --mem-limit 1M >"$T/out" 2>"$T/err"
check "[ \$? -eq 0 ] && grep -q 'matrix-free' '$T/err'" "krr auto with little room: matrix-free ($(cat "$T/err"))"

# --- refusals ---------------------------------------------------------
$NTKIT krr --kind ntk-inf $common --solver cholesky --mem-limit 100K >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q 'KiB' '$T/err' && grep -q -- '--solver cg' '$T/err' && [ \$(wc -l <'$T/err') -eq 1 ]" \
    "cholesky over the budget: one line with the estimate and the fix ($(cat "$T/err"))"
$NTKIT krr --kind ntk-inf $common --solver cg --operator dense --mem-limit 1M >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q 'matrix-free' '$T/err'" "a dense operator over the budget names the fix ($(cat "$T/err"))"
$NTKIT krr --kind ntk-inf $common --solver cg --cg-max-iter 2 --ridge 1e-6 --precond-rank 0 >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q 'cg-max-iter' '$T/err'" "CG short of its tolerance fails naming the fix ($(cat "$T/err"))"
$NTKIT krr --kind ntk-inf $common --solver qr >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q 'cholesky, cg' '$T/err'" "an unknown solver is named"
$NTKIT krr --kind ntk-inf $common --solver cg --cg-rtol 2 >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q 'cg-rtol' '$T/err'" "--cg-rtol out of range"
$NTKIT krr --kind ntk-inf $common --solver cg --precond-rank 401 >/dev/null 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q 'precond-rank' '$T/err'" "--precond-rank above n"

finish
