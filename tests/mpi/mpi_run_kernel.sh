#!/bin/sh
# mpirun -np P ntkit run --models nn,linearized,ntk,ntk-inf: the kernel
# models by gradient descent on the distributed kernel operator, one
# product a step (cli/mpi_train.c, ntk_run_set_kernel_ops, docs/scaling.md
# §6.4), next to the data-parallel network and its linearization, against
# the ordinary build's run on the same flags (whose kernel models are the
# closed form of an eigendecomposition), for -np 1, 2, 4 with n = 51
# training rows (a multiple of neither 2 nor 4), a test set and --predict
# inputs: the two-layer network under the mean loss, and a depth-2 network
# with biases and k = 3 outputs (one-hot targets: the accuracy columns);
# the kernel drift every other row and the theory at t = 0. The comparison
# covers every metrics.csv column but the seconds, every number of
# summary.json but the timings, the final weights and the --predict
# outputs (predict_ntk.npy, predict_ntk_inf.npy among them). Then: a
# negative control, the kernel models under --flow refused, lin refused.
set -u
. "$(dirname "$0")/lib.sh"

# Tolerance: 1e-10 relative (max-norm of each array, column or number
# against its largest entry). nn and linearized differ from one process's
# run by the order of the sums only, as in tests/mpi/mpi_run.sh (about
# T·(n + m + d)·ε ≈ 1e-12 after T = 40 steps). The kernel models are
# computed two ways: on one process u(t) = Y − V(I − cΛ)^t Vᵀ(Y − f0) from
# the eigendecomposition K = VΛVᵀ, on P processes t steps of
# u += cK(Y − u) through the distributed product. Each step's product
# differs from K's exact one by about n·ε·‖K‖ (another summation order,
# the EMPIRICAL kind's J(C ⊙ JᵀU) instead of the stored K), and the
# iteration's map I − cK has norm at most 1 at these stable rates
# (c·λ_max(K) < 2), so the T steps add up to at most T·n·ε·c‖K‖ ≤
# 2·T·n·ε ≈ 40·51·2·2.2e-16 ≈ 1e-12 relative to the targets' scale; the
# eigendecomposition's own error is n·ε·‖K‖ in each eigenpair, and the
# closed form weighs the eigenvalues' errors by t·c(1 − cλ)^(t−1) ≤ T: the
# same bound (no 1/λ_min: the condition of K does not enter, since neither
# form solves with K). The test predictions f0 + K(X_test, X)·G, G = the
# sum of the steps' cR, follow with ‖K(X_test, X)‖ ≤ n·max K ≈ λ_max: the
# same order. The theory's spectra (process 0 alone, from the whole set)
# are of the same kernel by the symmetric eigensolver on one side and the
# kernel model's eigendecomposition on the other: λ_min differs by
# ε·λ_max, relative to λ_min at most ε·cond ≈ 2.2e-16·1e3 ≈ 2e-13 here.
# 1e-10 leaves a margin above 100. A rate changed by one part in 10^8 must
# fail the comparison (negative control).
AGREE="$(dirname "$0")/rundir_agree.py"
$PY - "$T" <<'PYEOF'
import sys, numpy as np
r = np.random.default_rng(7)
for name, n in (("tr", 51), ("te", 20)):
    X = r.standard_normal((n, 5))
    c = np.argmax(X[:, :3] + 0.3 * r.standard_normal((n, 3)), axis=1)
    np.save(f"{sys.argv[1]}/X{name}.npy", X); np.save(f"{sys.argv[1]}/y{name}.npy", np.eye(3)[c])
np.save(f"{sys.argv[1]}/Xp.npy", r.standard_normal((7, 5)))
PYEOF

common="--threads 1 --quiet --kernel-every 2 --kernel-subsample 30 --models nn,linearized,ntk,ntk-inf \
--predict $T/Xp.npy"
two="--n 51 --n-test 20 --d 5 --width 64 --steps 40 --log-every 5 $common"
deep="--data npy:$T/Xtr.npy:$T/ytr.npy --test npy:$T/Xte.npy:$T/yte.npy --depth 2 --width 32 \
--bias-std 0.3 --lrs 0.5,0.5,0.5 --steps 30 --log-every 3 $common"
for net in two deep; do
    eval "args=\$$net"
    $NTKIT run $args --out "$T/$net-ref" >"$T/out" 2>&1 || bad "ordinary build, $net: $(tail -2 "$T/out")"
    for np in 1 2 4; do
        d="$T/$net-np$np"
        mpi $np $NTKIT_MPI run $args --out "$d" >"$T/out" 2>"$T/err"
        rc=$?
        check '[ "$rc" -eq 0 ]' "$net -np $np: exit status $rc: $(grep ntkit "$T/err")"
        check '! grep -q "ntkit: " "$T/err"' "$net -np $np: stderr: $(cat "$T/err")"
        check '[ "$(cd "$T/$net-ref" && ls)" = "$(cd "$d" && ls)" ]' "$net -np $np: other files: $(ls "$d")"
        pycheck "$net -np $np against the ordinary build" "$AGREE" "$d" "$T/$net-ref" 1e-10
    done
done
# the kernel models are there and move: their columns and --predict files
# exist, and their training loss falls
for net in two deep; do
    check '[ -f "$T/$net-np4/predict_ntk.npy" ] && [ -f "$T/$net-np4/predict_ntk_inf.npy" ]' \
        "$net: no --predict files of the kernel models: $(ls "$T/$net-np4")"
    $PY - "$T/$net-np4/metrics.csv" >"$T/log" 2>&1 <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for m in ("ntk", "ntk_inf"):
    a, b = float(rows[0][m + "_train_loss"]), float(rows[-1][m + "_train_loss"])
    assert b < 0.9 * a, f"{m}: training loss {a} -> {b}"
    assert rows[-1][m + "_test_loss"] not in ("", "nan"), f"{m}: no test loss"
PYEOF
    rc=$?
    check '[ "$rc" -eq 0 ]' "$net: the kernel models do not train: $(cat "$T/log")"
done
check 'head -1 "$T/deep-np4/metrics.csv" | grep -q "ntk_train_acc,ntk_test_acc,ntk_inf_train_acc"' \
    "deep: no kernel models' accuracy columns: $(head -1 "$T/deep-np4/metrics.csv")"
# negative control: the first rate changed by one part in 10^8 fails the comparison
$NTKIT run $two --lr1 1.00000001 --out "$T/two-lr" >/dev/null 2>&1
check '! $PY "$AGREE" "$T" "$T/two-lr" "$T/two-ref" 1e-10 >/dev/null 2>&1' \
    "negative control: a rate changed by 1e-8 passes the 1e-10 comparison"
# and the comparison reads the kernel models' outputs: their --predict
# file or their test-loss column moved by one part in 10^8 fails it
for what in predict metrics; do
    cp -r "$T/two-np2" "$T/two-$what"
    $PY - "$T/two-$what" $what <<'PYEOF'
import sys, numpy as np
d, what = sys.argv[1], sys.argv[2]
if what == "predict":
    f = np.load(f"{d}/predict_ntk_inf.npy"); np.save(f"{d}/predict_ntk_inf.npy", f * (1 + 1e-8))
else:
    lines = open(f"{d}/metrics.csv").read().splitlines()
    head = lines[0].split(","); j = head.index("ntk_test_loss")
    row = lines[-1].split(","); row[j] = repr(float(row[j]) * (1 + 1e-8)); lines[-1] = ",".join(row)
    open(f"{d}/metrics.csv", "w").write("\n".join(lines) + "\n")
PYEOF
    check '! $PY "$AGREE" "$T" "$T/two-$what" "$T/two-ref" 1e-10 >/dev/null 2>&1' \
        "negative control: the kernel models' $what moved by 1e-8 passes the 1e-10 comparison"
done

# the kernel models under --flow: refused before anything is made
mpi 2 $NTKIT_MPI run --n 20 --steps 2 --flow --models nn,ntk --out "$T/flow" >"$T/out" 2>"$T/err"
expect "--flow with the kernel models" $? "$T/err" "$T/flow" "gradient descent only, not --flow" final
check '[ ! -e "$T/flow" ]' "--flow with the kernel models: --out was made"
# lin asked for: refused; the default (--models all) runs the other models
# with a note (nn and linearized alone under --flow), as the same flags do
# on one process with lin among them
mpi 2 $NTKIT_MPI run --n 20 --steps 5 --models nn,lin --out "$T/lin" >"$T/out" 2>"$T/err"
expect "--models nn,lin" $? "$T/err" "$T/lin" "with Hu et al.* model lin" final
for fl in "" "--flow"; do
    rm -rf "$T/all"
    mpi 2 $NTKIT_MPI run --n 20 --n-test 5 --steps 5 $fl --out "$T/all" >"$T/out" 2>"$T/err"
    rc=$?
    want=ntk_inf_train_loss
    [ -n "$fl" ] && want=linearized_train_loss
    check '[ $rc -eq 0 ] && [ "$(grep -c "^ntkit: note: on several processes --models all" "$T/err")" -eq 1 ] &&
        head -1 "$T/all/metrics.csv" | grep -q "$want" && ! head -1 "$T/all/metrics.csv" | grep -q "lin_train_loss"' \
        "the default --models all $fl: rc=$rc $(cat "$T/err") $(head -1 "$T/all/metrics.csv" 2>/dev/null)"
done
check '! head -1 "$T/all/metrics.csv" | grep -q "ntk_train_loss"' "--flow: no kernel model column"
finish
