#!/bin/sh
# The spectrum's extremes (build-mpi/ntkit spectrum, SLEPc Krylov–Schur) and
# kernel gradient flow (build-mpi/ntkit kgd, SLEPc MFN) under mpirun -np 1,
# 2, 4, against the ordinary build's full eigendecomposition of the stored
# kernel (ntkit kernel --spectrum, LAPACK dsyevd) and against the flow
# computed from that kernel's eigendecomposition in numpy.
set -u
. "$(dirname "$0")/lib.sh"

$PY - "$T" <<'PYEOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(7)
X = r.standard_normal((150, 50)); Xt = r.standard_normal((30, 50))
np.save(t + "/X.npy", X); np.save(t + "/Xt.npy", Xt)
np.save(t + "/y.npy", np.tanh(X[:, :3].sum(1) / 1.7)); np.save(t + "/yt.npy", np.tanh(Xt[:, :3].sum(1) / 1.7))
PYEOF

# Eigenvalues. For a symmetric K̃ and a unit x, some eigenvalue lies within
# ‖K̃x − λx‖₂ = ρ|λ| of λ (ρ: SLEPc's relative residual, in the --out file);
# the distributed products K̃ = K + E differ from the kernel by rounding,
# ‖E‖₂ ≤ ε_op‖|K|‖₂, ε_op = 4·(n + m + d)·ε (tests/cli_scale.sh), which
# moves each eigenvalue by at most ‖E‖ (Weyl); dsyevd's own error is within
# n·ε·‖K‖. The eigenvalues here are separated by far more than these
# bounds, so the nearest eigenvalue is the one compared. The test requires
# the derived tolerance to be at most 1e-10 of the eigenvalue (κ(K) ≈ 130
# and 220 for these kernels at d = 50).
cat >"$T/eig.py" <<'PYEOF'
import sys, csv, numpy as np
t, kind, got = sys.argv[1:4]
K = np.load(f"{t}/K-{kind}.npy")
ref = np.loadtxt(f"{t}/ref-{kind}.csv", delimiter=",", skiprows=1)[:, 1]
n, eps = len(K), 2.0 ** -52
eps_op = 4 * (n + 64 + 50) * eps
nabs = np.linalg.norm(np.abs(K), 2)
worst, rows = 0.0, list(csv.DictReader(open(got)))
assert len(rows) == 4, rows
for row in rows:
    lam, rho, pos = float(row["eigenvalue"]), float(row["relative_residual"]), int(row["position"])
    want = ref[pos] if row["end"] == "smallest" else ref[n - 1 - pos]
    tol = rho * abs(lam) + eps_op * nabs + n * eps * nabs
    assert abs(lam - want) <= tol, (row, want, tol)
    assert tol <= 1e-10 * abs(want), ("derived tolerance above 1e-10 relative", row, tol / abs(want))
    worst = max(worst, abs(lam - want) / abs(want))
print(f"spectrum {kind} {got.rsplit('/', 1)[1]}: max relative difference {worst:.2e}")
PYEOF

for kind in ntk-inf ntk; do
    $NTKIT kernel --kind $kind --width 64 --x "$T/X.npy" --out "$T/K-$kind.npy" --spectrum "$T/ref-$kind.csv" >/dev/null 2>&1
    check '[ $? -eq 0 ]' "ordinary kernel --spectrum $kind"
    for np in 1 2 4; do
        mpi $np $NTKIT_MPI spectrum --kind $kind --width 64 --x "$T/X.npy" --nev 2 --tol 1e-12 \
            --out "$T/spec-$kind-np$np.csv" >"$T/out" 2>"$T/err"
        check '[ $? -eq 0 ]' "spectrum $kind -np $np: $(cat "$T/err")"
        check "grep -q 'lambda_min .* lambda_max ' '$T/out'" "spectrum $kind -np $np prints both ends: $(cat "$T/out")"
        pycheck "spectrum $kind -np $np agrees with dsyevd" "$T/eig.py" $kind "$T/spec-$kind-np$np.csv"
    done
done
# negative control: an eigenvalue moved by 1e-9 relative fails the same check
$PY -c "
import sys
rows = open(sys.argv[1]).read().splitlines()
e, p, v, r = rows[1].split(',')
rows[1] = ','.join((e, p, repr(float(v) * (1 + 1e-9)), r))
open(sys.argv[2], 'w').write('\\n'.join(rows) + '\\n')" "$T/spec-ntk-np2.csv" "$T/moved.csv"
check '! cmp -s "$T/moved.csv" "$T/spec-ntk-np2.csv" && ! $PY "$T/eig.py" "$T" ntk "$T/moved.csv" >/dev/null 2>&1' \
    "the eigenvalue check rejects lambda_min moved by 1e-9 relative"

# Kernel gradient flow from 0 with the mean loss: u(t) = K g = (I − e^{−τK})y,
# g = h(K)y, h(λ) = (1 − e^{−τλ})/λ, τ = t/n, f_test = K_t g. The reference
# g* comes from numpy's eigendecomposition of the stored kernel. MFN stops
# when its error estimate for g falls below tol·‖g‖ (tol = 1e-14; SLEPc's
# Krylov estimate, not a bound: 100× is allowed, δ_mfn = 100·tol·‖g*‖). The
# products' rounding E (as above) changes 1 − e^{−τλ} by at most τ‖E‖ and
# h by at most sup|h'|·‖E‖ = (τ²/2)‖E‖ (perturbation of a function of a
# symmetric matrix by its Lipschitz constant on the spectrum). So
#   ‖u − u*‖ ≤ τ‖E‖‖y‖ + ‖K‖δ_mfn,
#   ‖f_t − f_t*‖ ≤ ‖E_t‖‖g*‖ + ‖K_t‖((τ²/2)‖E‖‖y‖ + δ_mfn),
# each also required to be at most 1e-10 of ‖u*‖ (‖f_t*‖): at t = 1, 10, 100
# (τ ≤ 0.67, where τλ_max ≈ 17: the top of the spectrum has converged).
cat >"$T/flow.py" <<'PYEOF'
import sys, json, numpy as np
t, kind, d = sys.argv[1:4]
K, Kt, y = np.load(f"{t}/K-{kind}.npy"), np.load(f"{t}/Kt-{kind}.npy"), np.load(f"{t}/y.npy")
n, eps, tol = len(K), 2.0 ** -52, 1e-14
eps_op = 4 * (n + 64 + 50) * eps
nK, nKt = np.linalg.norm(K, 2), np.linalg.norm(Kt, 2)
E, Et = eps_op * np.linalg.norm(np.abs(K), 2), eps_op * np.linalg.norm(np.abs(Kt), 2)
w, Q = np.linalg.eigh(K)
res = json.load(open(f"{d}/results.json"))
worst = 0.0
for i, tt in enumerate((1.0, 10.0, 100.0)):
    assert res[i]["t"] == tt
    tau = tt / n
    g = Q @ (-np.expm1(-tau * w) / w * (Q.T @ y))
    dmfn, ny = 100 * tol * np.linalg.norm(g), np.linalg.norm(y)
    bounds = {"train": tau * E * ny + nK * dmfn,
              "test": Et * np.linalg.norm(g) + nKt * (tau * tau / 2 * E * ny + dmfn)}
    for part, M in (("train", K), ("test", Kt)):
        want, got = M @ g, np.load(f"{d}/pred_{part}_{i}.npy")
        bound, err = bounds[part], np.linalg.norm(got - want)
        assert err <= bound, (part, tt, err, bound)
        assert bound <= 1e-10 * np.linalg.norm(want), ("derived tolerance above 1e-10 relative", part, tt, bound / np.linalg.norm(want))
        worst = max(worst, err / np.linalg.norm(want))
print(f"kgd {kind} {d.rsplit('/', 1)[1]}: max relative difference {worst:.2e}")
PYEOF

for kind in ntk-inf ntk; do
    $NTKIT kernel --kind $kind --width 64 --x "$T/Xt.npy" --x2 "$T/X.npy" --out "$T/Kt-$kind.npy" >/dev/null 2>&1
    for np in 1 2 4; do
        mpi $np $NTKIT_MPI kgd --kind $kind --width 64 --x "$T/X.npy" --y "$T/y.npy" --x-test "$T/Xt.npy" \
            --y-test "$T/yt.npy" --times 1,10,100 --mfn-tol 1e-14 --out "$T/kgd-$kind-np$np" >"$T/out" 2>"$T/err"
        check '[ $? -eq 0 ]' "kgd $kind -np $np: $(cat "$T/err")"
        check '[ "$(grep -c "^t " "$T/out")" -eq 3 ]' "kgd $kind -np $np prints three times once: $(cat "$T/out")"
        pycheck "kgd $kind -np $np agrees with the eigendecomposition" "$T/flow.py" $kind "$T/kgd-$kind-np$np"
    done
done
cp -r "$T/kgd-ntk-np2" "$T/kgd-moved"
$PY -c "import numpy as np, sys; f = sys.argv[1]; np.save(f, np.load(f) * (1 + 1e-9))" "$T/kgd-moved/pred_test_2.npy"
check '! $PY "$T/flow.py" "$T" ntk "$T/kgd-moved" >/dev/null 2>&1' "the flow check rejects predictions moved by 1e-9 relative"
finish
