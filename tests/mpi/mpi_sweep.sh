#!/bin/sh
# mpirun -np P ntkit sweep: member k on process k mod P gives the ordinary
# build's sweep: sweep.csv byte-identical (it holds no times), every member's
# run directory the same files with byte-identical arrays, and metrics.csv
# the same but for its seconds column. Both builds run each member with one
# OpenBLAS thread and the same code, so nothing but the clock may differ.
# A member that fails its set-up on another process gives process 0's one
# error line naming that process, the ordinary build's exit status and table.
set -u
. "$(dirname "$0")/lib.sh"

args="--param width --values 8,16,32,64 --n 40 --d 3 --steps 20 --threads 1"
$NTKIT sweep $args --out "$T/ref" >"$T/out" 2>&1 || bad "ordinary build: sweep: $(tail -2 "$T/out")"
for np in 1 2 3; do
    d="$T/np$np"
    mpi $np $NTKIT_MPI sweep $args --out "$d" >"$T/out" 2>"$T/err"
    rc=$?
    check '[ "$rc" -eq 0 ]' "-np $np sweep: exit status $rc: $(grep ntkit "$T/err")"
    check 'cmp -s "$T/ref/sweep.csv" "$d/sweep.csv"' "-np $np: sweep.csv differs"
    check '[ "$(cd "$T/ref" && find . | sort)" = "$(cd "$d" && find . | sort)" ]' "-np $np: other files"
    for f in $(cd "$T/ref" && find . -name '*.npy'); do
        check 'cmp -s "$T/ref/$f" "$d/$f"' "-np $np: $f differs"
    done
    for m in "$T"/ref/width=*/metrics.csv; do
        w=$(basename "$(dirname "$m")")
        check '[ "$(sed "s/,[^,]*\$//" "$m")" = "$(sed "s/,[^,]*\$//" "$d/$w/metrics.csv")" ]' \
            "-np $np: $w/metrics.csv differs besides its last (seconds) column"
    done
done
check '[ "$(head -1 "$T/ref/width=8/metrics.csv" | sed "s/.*,//")" = seconds ]' \
    "metrics.csv's last column is not the seconds the comparison leaves out"
# negative control: another seed's sweep does not pass the comparison
$NTKIT sweep $args --seed 9 --out "$T/other" >/dev/null 2>&1
check '! cmp -s "$T/ref/sweep.csv" "$T/other/sweep.csv"' "negative control: another seed gives the same table"

# a member's set-up fails on process 1 (width 0): as the ordinary build
$NTKIT sweep $args --values 8,0,32 --out "$T/f-ref" >"$T/out" 2>"$T/err-ref"
rc_ref=$?
mpi 2 $NTKIT_MPI sweep $args --values 8,0,32 --out "$T/f2" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -eq "$rc_ref" ] && [ "$rc" -ne 0 ]' "failing member: exit status $rc, the ordinary build's $rc_ref"
check '[ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ] && grep -q "process 1 of 2: --width" "$T/err"' \
    "failing member: not one error line naming process 1: $(grep ntkit "$T/err")"
check 'cmp -s "$T/f-ref/sweep.csv" "$T/f2/sweep.csv"' "failing member: sweep.csv differs from the ordinary build's"
finish
