#!/bin/sh
# mpirun -np P ntkit train: the network trained data-parallel (cli/mpi_train.c)
# against the ordinary build's train on the same flags, for -np 1, 2, 4 with
# n = 51 rows (a multiple of neither 2 nor 4), the two-layer network under
# the mean loss and a depth-2 network with biases under the sum loss: the
# final weights, every metrics.csv column but the seconds (the training
# loss curve among them) and summary.json's losses. Then: more processes
# than rows, a bad input on one process only, a gradient sum failing on one,
# a process that dies, a signal that reaches one process only, weights that
# differ on one process at the end, and `run` under mpirun.
set -u
. "$(dirname "$0")/lib.sh"

# Tolerance: 1e-10 relative (max-norm of each array and column against its
# largest entry). The two builds take the same steps but for rounding: each
# step's loss and gradient sum the rows in another order (per process, then
# over the processes), which changes them by at most (n + m + d)·ε relative
# to the sum of the rows' magnitudes (tests/test_trainer_reduce.c derives
# this bound and checks it). Over T gradient steps at a stable rate (the
# loss falls at every step; the update map is non-expanding there) these
# differences add up to at most about T·(n + m + d)·ε = 40·120·2.2e-16 ≈
# 1e-12; 1e-10 leaves a hundredfold margin for the conditioning of the sums
# and for growth along directions of negative curvature in so few steps. The
# script prints the measured worst, which is near 1e-16 here. A negative
# control (a rate changed by one part in 10^8) must fail the comparison.
AGREE="$(dirname "$0")/rundir_agree.py"

two="--n 51 --n-test 20 --d 5 --width 64 --steps 40 --log-every 5 --threads 1 --quiet"
deep="--n 51 --n-test 20 --d 5 --depth 2 --width 32 --bias-std 0.5 --loss sum --lr1 0.02 --lr2 0.02 \
--steps 30 --log-every 4 --threads 1 --quiet"
for net in two deep; do
    eval "args=\$$net"
    $NTKIT train $args --out "$T/$net-ref" >"$T/out" 2>&1 || bad "ordinary build, $net: $(tail -2 "$T/out")"
    for np in 1 2 4; do
        d="$T/$net-np$np"
        mpi $np $NTKIT_MPI train $args --out "$d" >"$T/out" 2>"$T/err"
        rc=$?
        check '[ "$rc" -eq 0 ]' "$net -np $np: exit status $rc: $(grep ntkit "$T/err")"
        check '[ ! -s "$T/err" ] || ! grep -q "ntkit: " "$T/err"' "$net -np $np: stderr: $(cat "$T/err")"
        check '[ "$(tail -1 "$T/out")" = "run directory: $d" ]' "$net -np $np: stdout: $(cat "$T/out")"
        check '[ "$(cd "$T/$net-ref" && ls)" = "$(cd "$d" && ls)" ]' "$net -np $np: other files: $(ls "$d")"
        pycheck "$net -np $np against the ordinary build" "$AGREE" "$d" "$T/$net-ref" 1e-10
    done
    # the data and the initial weights are the ordinary build's, byte for byte
    for f in X_train.npy y_train.npy X_test.npy y_test.npy; do
        check 'cmp -s "$T/$net-ref/$f" "$T/$net-np4/$f"' "$net -np 4: $f differs"
    done
done
# negative control: the first rate changed by one part in 10^8 fails the comparison
$NTKIT train $two --lr1 1.00000001 --out "$T/two-lr" >/dev/null 2>&1
check '! $PY "$AGREE" "$T" "$T/two-lr" "$T/two-ref" 1e-10 >/dev/null 2>&1' \
    "negative control: a rate changed by 1e-8 passes the 1e-10 comparison"


# more processes than rows: refused before anything is written
mpi 4 $NTKIT_MPI train $two --n 3 --out "$T/few" >"$T/out" 2>"$T/err"
expect "-np 4 on 3 rows" $? "$T/err" "$T/few" "3 training rows cannot be split over 4 processes" final
check '[ ! -e "$T/few" ]' "-np 4 on 3 rows: --out was made"
# a bad input on process 1 alone (its data set): one message naming it, no directory
NTKIT_MPI_FAULT=1:load mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI train $two --out "$T/load" >"$T/out" 2>"$T/err"
expect "bad input on process 1" $? "$T/err" "$T/load" "process 1 of 2" final
check '[ ! -e "$T/load" ]' "bad input on process 1: --out was made"
# an input every process sees: as the ordinary build, one line
mpi 2 $NTKIT_MPI train $two --data npy:"$T/none.npy" --out "$T/none" >"$T/out" 2>"$T/err"
expect "a missing --data file" $? "$T/err" "$T/none" "none.npy" final
# a gradient sum failing on process 2 of 4 in the middle of training
NTKIT_MPI_FAULT=2:apply:7 mpi 4 -x NTKIT_MPI_FAULT $NTKIT_MPI train $two --out "$T/sum" >"$T/out" 2>"$T/err"
expect "a failed sum on process 2" $? "$T/err" "$T/sum" "process 2 of 4: the sum of the gradients failed" final
# a process killed in the middle: mpirun ends the others, nothing final is written
NTKIT_MPI_FAULT=1:die:7 mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI train $two --out "$T/dead" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "a process killed: exit status $rc (124: a hang)"
check '[ -z "$(ls "$T/dead" | grep -e "^metrics.csv$" -e summary.json -e "^W.npy")" ]' "a process killed: written: $(ls "$T/dead")"
# the final check that every process holds process 0's weights, made to
# see process 1's first weight one rounding away
NTKIT_MPI_FAULT=1:perturb mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI train $two --out "$T/moved" >"$T/out" 2>"$T/err"
expect "weights that differ on process 1" $? "$T/err" "$T/moved" "process 1 of 2: after training its weights differ" final

# a signal that reaches process 1 alone (at its 9th gradient sum): every
# process stops after the same step, process 0 writes the interrupted run,
# which is the ordinary build's run of that many steps
NTKIT_MPI_FAULT=1:stop:9 mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI train $two --out "$T/stop" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -eq 130 ]' "a signal on process 1: exit status $rc, not 130: $(cat "$T/err")"
check 'grep -q "^ntkit: interrupted at step" "$T/err"' "a signal on process 1: $(grep ntkit "$T/err")"
steps=$($PY -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["steps_run"] if s["status"] == "interrupted" else -1)' "$T/stop/summary.json" 2>/dev/null)
check '[ -n "$steps" ] && [ "$steps" -gt 0 ] && [ "$steps" -lt 40 ]' "a signal on process 1: steps run '$steps'"
if [ -n "$steps" ] && [ "$steps" -gt 0 ]; then
    $NTKIT train $two --steps "$steps" --out "$T/stop-ref" >/dev/null 2>&1
    # the ordinary run completed where the other was interrupted: same numbers
    $PY - "$T/stop/summary.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1])); s["status"] = "completed"; json.dump(s, open(sys.argv[1], "w"))
PYEOF
    pycheck "the interrupted run against the ordinary build's $steps steps" "$AGREE" "$T/stop" "$T/stop-ref" 1e-10
fi

# ntkit run's lin stays on one process (tests/mpi/mpi_run.sh and
# mpi_run_kernel.sh run nn, linearized, ntk and ntk-inf data-parallel), and
# the refusal says which models run on several
mpi 2 $NTKIT_MPI run --n 20 --steps 5 --models nn,lin --out "$T/run" >"$T/out" 2>"$T/err"
expect "run --models nn,lin under mpirun -np 2" $? "$T/err" "$T/run" "does not run on several processes" final
check 'grep -q "pass --models nn,linearized,ntk,ntk-inf" "$T/err"' \
    "run under mpirun: the message names the models that run: $(cat "$T/err")"
check '[ ! -e "$T/run" ]' "run under mpirun: --out was made"
finish
