#!/bin/sh
# Faults in the distributed build: a bad input every process sees, one that
# only process 0 sees (its output directory), a failure on one process only
# (NTKIT_MPI_FAULT, src/mpi/mpi_util.c: while loading, inside a kernel
# product of CG, of the preconditioner's set-up), and a process that dies.
# Each ends the whole job within the timeout (timeout(1) returns 124 on a
# hang, which fails the check) with a nonzero exit, exactly one
# "ntkit: error:" line (from process 0) naming the failing process where
# only one failed, and no output file.
set -u
. "$(dirname "$0")/lib.sh"

$PY - "$T" <<'PYEOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(5)
X = r.standard_normal((120, 4)); Xt = r.standard_normal((20, 4))
np.save(t + "/X.npy", X); np.save(t + "/Xt.npy", Xt)
np.save(t + "/y.npy", np.sin(X[:, 0])); np.save(t + "/yt.npy", np.sin(Xt[:, 0]))
PYEOF
args="--kind ntk-inf --x $T/X.npy --y $T/y.npy --x-test $T/Xt.npy --y-test $T/yt.npy --ridge 1e-2,1 --cg-rtol 1e-10"


# every process sees it
mpi 2 $NTKIT_MPI krr $args --x "$T/missing.npy" --out "$T/o1" >"$T/out" 2>"$T/err"
expect "missing --x" $? "$T/err" "$T/o1" "missing.npy"
mpi 4 $NTKIT_MPI krr $args --ridge -1 --out "$T/o2" >"$T/out" 2>"$T/err"
expect "bad --ridge" $? "$T/err" "$T/o2" "ridge"
mpi 2 $NTKIT_MPI krr $args --solver cholesky --out "$T/o3" >"$T/out" 2>"$T/err"
expect "--solver cholesky" $? "$T/err" "$T/o3" "conjugate gradients only"
# only process 0 looks at the output directory
mkdir -p "$T/full" && echo keep >"$T/full/mine.txt"
mpi 2 $NTKIT_MPI krr $args --out "$T/full" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "non-empty --out: exit status $rc"
check '[ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ]' "non-empty --out: one error line: $(cat "$T/err")"
check '[ "$(ls "$T/full")" = mine.txt ] && [ "$(cat "$T/full/mine.txt")" = keep ]' "non-empty --out: left as it was"
# a command that does not run distributed
mpi 2 $NTKIT_MPI experiment --out "$T/o4" >"$T/out" 2>"$T/err"
expect "experiment under mpirun -np 2" $? "$T/err" "$T/o4" "does not run on several processes"

# one process alone fails: while loading, inside CG's products (process 1,
# and process 0), inside the preconditioner's column products (process 2)
for f in 1:load 1:apply:5 0:apply:3 2:apply:1; do
    np=2
    [ $f = 2:apply:1 ] && np=4
    rank=${f%%:*}
    NTKIT_MPI_FAULT=$f mpi $np -x NTKIT_MPI_FAULT $NTKIT_MPI krr $args --out "$T/f-$rank" >"$T/out" 2>"$T/err"
    expect "fault $f on -np $np" $? "$T/err" "$T/f-$rank" "process $rank of $np"
done
# the same faults in spectrum and kgd
NTKIT_MPI_FAULT=1:apply:4 mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI spectrum --kind ntk-inf --x "$T/X.npy" \
    --out "$T/spec.csv" >"$T/out" 2>"$T/err"
expect "spectrum, fault on process 1" $? "$T/err" "$T/nodir" "process 1 of 2"
check '[ ! -e "$T/spec.csv" ]' "spectrum, fault on process 1: no --out file"
NTKIT_MPI_FAULT=1:apply:4 mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI kgd --kind ntk --width 32 --x "$T/X.npy" \
    --y "$T/y.npy" --times 1,10 --out "$T/kgd" >"$T/out" 2>"$T/err"
expect "kgd, fault on process 1" $? "$T/err" "$T/kgd" "process 1 of 2"

# a process that dies (SIGKILL) in the middle of CG: mpirun ends the others
NTKIT_MPI_FAULT=1:die:5 mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI krr $args --out "$T/dead" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "a process killed: exit status $rc (124: a hang)"
check '[ -z "$(ls -A "$T/dead" 2>/dev/null)" ]' "a process killed: no output file: $(ls "$T/dead")"

# and after all that, the same run without a fault succeeds
mpi 2 $NTKIT_MPI krr $args --out "$T/good" >"$T/out" 2>"$T/err"
check '[ $? -eq 0 ] && [ -s "$T/good/results.json" ]' "the run without a fault: $(cat "$T/err")"
finish
