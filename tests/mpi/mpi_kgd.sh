#!/bin/sh
# Kernel gradient descent (build-mpi/ntkit kgd --steps: one distributed
# product a step) under mpirun -np 1, 2, 4, against the descent computed in
# numpy from the eigendecomposition of the ordinary build's stored kernel,
# with (n, k) targets; and its refusals.
set -u
. "$(dirname "$0")/lib.sh"

$PY - "$T" <<'PYEOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(11)
X = r.standard_normal((61, 12)); Xt = r.standard_normal((17, 12))
Y = np.stack([np.tanh(X[:, :3].sum(1)), np.sin(X[:, 3])], 1)
Yt = np.stack([np.tanh(Xt[:, :3].sum(1)), np.sin(Xt[:, 3])], 1)
np.save(t + "/X.npy", X); np.save(t + "/Xt.npy", Xt); np.save(t + "/Y.npy", Y); np.save(t + "/Yt.npy", Yt)
PYEOF

# Gradient descent from u(0) = 0 with the mean loss and rate η:
#   u(t) = (I − (I − cηK)^t) Y = K G(t),  G(t) = h_t(K) Y,  h_t(λ) = (1 − (1 − cηλ)^t)/λ,
# c = 1/n, f_test = K_t G. With cηλ_max < 2 (checked) every step contracts
# the error: each distributed product K·r differs from the exact one by the
# products' rounding E (‖E‖₂ ≤ ε_op‖|K|‖₂, ε_op = 4(n + m + d)ε as in
# mpi_spectrum.sh) times ‖r_s‖ ≤ ‖Y‖, and the vector updates add 4ε(‖u‖ +
# ‖Y‖) a step, so after t steps
#   ‖u − u*‖ ≤ t·(cη‖E‖‖Y‖ + 4ε(‖u*‖ + ‖Y‖)) =: e_t,
#   ‖G − G*‖ ≤ cη Σ_{s<t} e_s ≤ cη t e_t,   ‖f_t − f_t*‖ ≤ ‖E_t‖‖G*‖ + ‖K_t‖ cη t e_t,
# each also required to be at most 1e-10 of ‖u*‖ (‖f_t*‖).
cat >"$T/gd.py" <<'PYEOF'
import sys, json, numpy as np
t, kind, d, lr = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
K, Kt, Y = np.load(f"{t}/K-{kind}.npy"), np.load(f"{t}/Kt-{kind}.npy"), np.load(f"{t}/Y.npy")
n, eps = len(K), 2.0 ** -52
ce = lr / n
eps_op = 4 * (n + 64 + 12) * eps
E, Et = eps_op * np.linalg.norm(np.abs(K), 2), eps_op * np.linalg.norm(np.abs(Kt), 2)
w, Q = np.linalg.eigh(K)
assert ce * w.max() < 2, "the rate must be stable for the bound"
res = json.load(open(f"{d}/results.json"))
worst = 0.0
for i, steps in enumerate((1, 10, 40)):
    assert res[i]["step"] == steps
    h = np.where(np.abs(w) > 1e-300, (1 - (1 - ce * w) ** steps) / np.where(w == 0, 1, w), ce * steps)
    G = Q @ (h[:, None] * (Q.T @ Y))
    want = {"train": K @ G, "test": Kt @ G}
    e_t = steps * (ce * E * np.linalg.norm(Y) + 4 * eps * (np.linalg.norm(want["train"]) + np.linalg.norm(Y)))
    bounds = {"train": e_t, "test": Et * np.linalg.norm(G) + np.linalg.norm(Kt, 2) * ce * steps * e_t}
    for part in ("train", "test"):
        got = np.load(f"{d}/pred_{part}_{i}.npy")
        assert got.shape == want[part].shape, (got.shape, want[part].shape)
        err, nw = np.linalg.norm(got - want[part]), np.linalg.norm(want[part])
        assert err <= bounds[part], (part, steps, err, bounds[part])
        assert bounds[part] <= 1e-10 * nw, ("derived tolerance above 1e-10 relative", part, steps, bounds[part] / nw)
        worst = max(worst, err / nw)
print(f"kgd --steps {kind} {d.rsplit('/', 1)[1]}: max relative difference {worst:.2e}")
PYEOF

for kind in ntk-inf ntk; do
    $NTKIT kernel --kind $kind --width 64 --x "$T/X.npy" --out "$T/K-$kind.npy" >/dev/null 2>&1 &&
        $NTKIT kernel --kind $kind --width 64 --x "$T/Xt.npy" --x2 "$T/X.npy" --out "$T/Kt-$kind.npy" >/dev/null 2>&1
    check '[ $? -eq 0 ]' "reference kernels $kind"
    for np in 1 2 4; do
        mpi $np $NTKIT_MPI kgd --kind $kind --width 64 --x "$T/X.npy" --y "$T/Y.npy" --x-test "$T/Xt.npy" \
            --y-test "$T/Yt.npy" --steps 1,10,40 --lr 3 --out "$T/gd-$kind-np$np" >"$T/out" 2>"$T/err"
        check '[ $? -eq 0 ]' "kgd --steps $kind -np $np: $(cat "$T/err")"
        check '[ "$(grep -c "^step " "$T/out")" -eq 3 ]' "kgd --steps $kind -np $np prints three steps once: $(cat "$T/out")"
        pycheck "kgd --steps $kind -np $np agrees with the eigendecomposition" "$T/gd.py" $kind "$T/gd-$kind-np$np" 3
    done
done
# the check is not blind: predictions moved by 1e-9 relative are rejected
cp -r "$T/gd-ntk-np2" "$T/gd-moved"
$PY -c "import numpy as np, sys; f = sys.argv[1]; np.save(f, np.load(f) * (1 + 1e-9))" "$T/gd-moved/pred_train_2.npy"
check '! $PY "$T/gd.py" "$T" ntk "$T/gd-moved" 3 >/dev/null 2>&1' "the descent check rejects predictions moved by 1e-9 relative"

# refusals: one line from rank 0, nothing written
for bad in "--steps 1,2.5" "--steps 10,3" "--steps 5 --times 1"; do
    rm -rf "$T/x"
    mpi 2 $NTKIT_MPI kgd --kind ntk-inf --x "$T/X.npy" --y "$T/Y.npy" $bad --out "$T/x" >"$T/out" 2>"$T/err"
    rc=$?
    check '[ $rc -ne 0 ] && [ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ] && [ ! -e "$T/x" ]' \
        "kgd $bad is refused once: rc=$rc $(cat "$T/err")"
done
# an unstable rate: the predictions overflow and the run says so
mpi 2 $NTKIT_MPI kgd --kind ntk-inf --x "$T/X.npy" --y "$T/Y.npy" --steps 5000 --lr 1e4 --out "$T/x" >"$T/out" 2>"$T/err"
check '[ $? -ne 0 ] && grep -q "diverged" "$T/err" && [ ! -e "$T/x/results.json" ]' \
    "an unstable rate is reported as divergence: $(cat "$T/err")"

finish
