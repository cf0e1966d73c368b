#!/bin/sh
# mpirun -np P ntkit run --models nn,linearized: the network and its
# linearization trained data-parallel (cli/mpi_train.c, docs/scaling.md
# §6.4) against the ordinary build's run on the same flags, for -np 1, 2, 4
# with n = 51 training rows (a multiple of neither 2 nor 4) and a test set:
# the two-layer network under the mean loss, a depth-2 network with biases
# and k = 3 outputs (one-hot targets from .npy files: the accuracy columns)
# under gradient descent, and the two-layer network under gradient flow;
# each with the kernel drift every other row and the theory at t = 0. The
# comparison covers every metrics.csv column but the seconds, every number
# of summary.json but the timings, the final weights and the --predict
# outputs. Then: a negative control, more processes than rows, a bad input
# on one process, a sum failing on one, a process killed, a signal on one
# process. The kernel models under mpirun (and what stays refused: lin,
# the kernel models under --flow): tests/mpi/mpi_run_kernel.sh.
set -u
. "$(dirname "$0")/lib.sh"

# Tolerance: 1e-10 relative (max-norm of each array, column or number
# against its largest entry). The two builds take the same steps but for
# rounding: each sum over the training rows (the network's loss and
# gradient, the linearized model's, a row's squared residuals, gaps and
# hits) is taken per process and then over the processes, another order
# than one process's, which changes it by at most (n + m + d)·ε relative to
# the sum of the rows' magnitudes (tests/test_trainer_reduce.c derives and
# checks this bound). Over T steps at a stable rate these differences add
# up to about T·(n + m + d)·ε = 40·120·2.2e-16 ≈ 1e-12 in the weights and in
# every measured quantity that is a smooth function of them; a flow adds
# its integrator's steps, whose sizes follow from error norms of the same
# states (a relative change of 1e-12 in a step size moves the solution by
# as much). The drift subsample, the theory and the Lipschitz estimate are
# computed by process 0 alone from the whole data set, as on one process,
# at weights that agree as above; their eigenvalues' condition (λ_max/λ_min
# about 1e3 here) brings the largest measured differences, about 3e-14
# (ntk_lambda_min; 3e-13 under a tanh flow); 1e-10 leaves a margin of
# more than 300. A rate
# changed by one part in 10^8 must fail the comparison (negative control).
AGREE="$(dirname "$0")/rundir_agree.py"
# k = 3 classes: one-hot targets of the largest of three noisy inputs
$PY - "$T" <<'PYEOF'
import sys, numpy as np
r = np.random.default_rng(5)
for name, n in (("tr", 51), ("te", 20)):
    X = r.standard_normal((n, 5))
    c = np.argmax(X[:, :3] + 0.3 * r.standard_normal((n, 3)), axis=1)
    np.save(f"{sys.argv[1]}/X{name}.npy", X); np.save(f"{sys.argv[1]}/y{name}.npy", np.eye(3)[c])
np.save(f"{sys.argv[1]}/Xp.npy", r.standard_normal((7, 5)))
PYEOF

common="--threads 1 --quiet --kernel-every 2 --kernel-subsample 30 --models nn,linearized"
two="--n 51 --n-test 20 --d 5 --width 64 --steps 40 --log-every 5 --predict $T/Xp.npy $common"
deep="--data npy:$T/Xtr.npy:$T/ytr.npy --test npy:$T/Xte.npy:$T/yte.npy --depth 2 --width 32 \
--bias-std 0.3 --lrs 0.5,0.5,0.5 --steps 30 --log-every 3 $common"
flow="--n 51 --n-test 20 --d 5 --width 64 --steps 2 --log-every 0.25 --flow $common"
for net in two deep flow; do
    eval "args=\$$net"
    $NTKIT run $args --out "$T/$net-ref" >"$T/out" 2>&1 || bad "ordinary build, $net: $(tail -2 "$T/out")"
    for np in 1 2 4; do
        [ $net = flow ] && [ $np = 1 ] && continue
        d="$T/$net-np$np"
        mpi $np $NTKIT_MPI run $args --out "$d" >"$T/out" 2>"$T/err"
        rc=$?
        check '[ "$rc" -eq 0 ]' "$net -np $np: exit status $rc: $(grep ntkit "$T/err")"
        check '! grep -q "ntkit: " "$T/err"' "$net -np $np: stderr: $(cat "$T/err")"
        check '[ "$(tail -1 "$T/out" | sed "s/.*run directory //")" = "$d" ]' "$net -np $np: stdout: $(tail -2 "$T/out")"
        check '[ "$(cd "$T/$net-ref" && ls)" = "$(cd "$d" && ls)" ]' "$net -np $np: other files: $(ls "$d")"
        pycheck "$net -np $np against the ordinary build" "$AGREE" "$d" "$T/$net-ref" 1e-10
    done
done
check 'head -1 "$T/deep-np4/metrics.csv" | grep -q "nn_train_acc,nn_test_acc,linearized_train_acc"' \
    "deep: no accuracy columns: $(head -1 "$T/deep-np4/metrics.csv")"
# negative control: the first rate changed by one part in 10^8 fails the comparison
$NTKIT run $two --lr1 1.00000001 --out "$T/two-lr" >/dev/null 2>&1
check '! $PY "$AGREE" "$T" "$T/two-lr" "$T/two-ref" 1e-10 >/dev/null 2>&1' \
    "negative control: a rate changed by 1e-8 passes the 1e-10 comparison"

# more processes than rows
mpi 4 $NTKIT_MPI run $two --n 3 --out "$T/few" >"$T/out" 2>"$T/err"
expect "-np 4 on 3 rows" $? "$T/err" "$T/few" "3 training rows cannot be split over 4 processes" final
check '[ ! -e "$T/few" ]' "-np 4 on 3 rows: --out was made"
# a bad input on process 1 alone: one message naming it, no directory
NTKIT_MPI_FAULT=1:load mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI run $two --out "$T/load" >"$T/out" 2>"$T/err"
expect "bad input on process 1" $? "$T/err" "$T/load" "process 1 of 2" final
check '[ ! -e "$T/load" ]' "bad input on process 1: --out was made"
# a sum failing on process 2 of 4 in the middle of the run
NTKIT_MPI_FAULT=2:apply:9 mpi 4 -x NTKIT_MPI_FAULT $NTKIT_MPI run $two --out "$T/sum" >"$T/out" 2>"$T/err"
expect "a failed sum on process 2" $? "$T/err" "$T/sum" "process 2 of 4: the sum of the gradients failed" final
# a process killed in the middle: mpirun ends the others, nothing final is written
NTKIT_MPI_FAULT=1:die:9 mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI run $two --out "$T/dead" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "a process killed: exit status $rc (124: a hang)"
check '[ -z "$(ls "$T/dead" | grep -e "^metrics.csv$" -e summary.json -e "^W.npy")" ]' "a process killed: written: $(ls "$T/dead")"
# a signal that reaches process 1 alone (at its 30th sum): every process
# stops after the same step; process 0 writes the interrupted run, which is
# the ordinary build's run of that many steps (without the kernel drift,
# which the row of a stop does not measure and the last row of a completed
# run does)
two="$two --kernel-every 0"
NTKIT_MPI_FAULT=1:stop:30 mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI run $two --out "$T/stop" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -eq 130 ]' "a signal on process 1: exit status $rc, not 130: $(cat "$T/err")"
steps=$($PY -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["steps_run"] if s["status"] == "interrupted" else -1)' "$T/stop/summary.json" 2>/dev/null)
check '[ -n "$steps" ] && [ "$steps" -gt 0 ] && [ "$steps" -lt 40 ]' "a signal on process 1: steps run '$steps'"
if [ -n "$steps" ] && [ "$steps" -gt 0 ]; then
    $NTKIT run $two --steps "$steps" --out "$T/stop-ref" >/dev/null 2>&1
    $PY - "$T/stop/summary.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1])); s["status"] = "completed"; json.dump(s, open(sys.argv[1], "w"))
PYEOF
    pycheck "the interrupted run against the ordinary build's $steps steps" "$AGREE" "$T/stop" "$T/stop-ref" 1e-10
fi
finish
