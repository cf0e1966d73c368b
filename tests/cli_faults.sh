#!/bin/sh
# Fault tests: signals at varied moments of train, run, run --flow and sweep,
# and writes that fail (a file-size limit, a full filesystem). After each,
# the run directory holds what one Ctrl-C leaves: metrics.csv and a valid
# summary.json marked interrupted, and no temporary file; a failed write is
# one error line and leaves no temporary file either.
set -u
. "$(dirname "$0")/lib.sh"
no_temps() { ! find "$1" \( -name '*.tmp.*' -o -name '*.partial' \) | grep -q .; }

# A run directory after an interruption (or a completion, rc 0): the CSV
# files parse with one width, summary.json parses with the right status.
check_dir() {
    $PY - "$1" "$2" <<'PYEOF'
import csv, json, os, sys
d, rc = sys.argv[1], int(sys.argv[2])
want = "completed" if rc == 0 else "interrupted"
def rows(path):
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    assert len(r) >= 2, (path, "no data row")
    assert all(len(x) == len(r[0]) for x in r), (path, "ragged")
    for x in r[1:]:
        for c in x:
            if c: float(c)
    return r
if os.path.exists(os.path.join(d, "sweep.csv")):
    rows(os.path.join(d, "sweep.csv"))
    runs = [os.path.join(d, e) for e in os.listdir(d) if "=" in e]
    assert runs, "no member run"
else:
    runs = [d]
for r in runs:
    if not os.path.exists(os.path.join(r, "summary.json")) and r != d:
        continue   # a member the signal stopped before it was set up
    rows(os.path.join(r, "metrics.csv"))
    s = json.load(open(os.path.join(r, "summary.json")))
    assert s["status"] in (want, "completed"), (r, s["status"])
PYEOF
}

# run_fault NAME SIGNALS DELAY CMD...: start CMD, wait DELAY seconds, send
# the signals (a space-separated list, 0.2 s apart), then wait at most 60 s.
run_fault() {
    name=$1 sigs=$2 delay=$3
    shift 3
    "$@" >"$T/out" 2>"$T/err" &
    pid=$!
    sleep "$delay"
    start=$(date +%s.%N)
    for s in $sigs; do
        kill -s "$s" $pid 2>/dev/null
        sleep 0.2
    done
    ( sleep 60; kill -KILL $pid 2>/dev/null ) &
    guard=$!
    wait $pid
    rc=$?
    kill $guard 2>/dev/null
    wait $guard 2>/dev/null
    took=$(echo "$(date +%s.%N) - $start" | bc)
    echo "  $name: signals [$sigs] after ${delay}s: rc $rc, stopped in ${took}s"
    # a run stops within a step (the issue asks for about a second): the
    # 0.2 s pauses after each signal (0.6 s for three), one step of these
    # small runs (milliseconds) and the final writes, measured 0.2-0.62 s
    # here; 3 s leaves a factor of about 5 for a loaded machine, and the
    # minute a log interval once took fails it
    check "[ \$(echo '$took < 3' | bc) -eq 1 ]" "$name: stopped in ${took}s"
}

# Seeded delays between 0.3 and 2.8 s: the signals land in set-up, in the
# first steps and later, at moments that differ between the cases.
delays=$(awk 'BEGIN { srand(7); for (i = 0; i < 40; i++) printf "%.2f ", 0.3 + 2.5 * rand() }')
next_delay() { set -- $delays; d=$1; shift; delays="$*"; }

LONG="--n 300 --n-test 50 --d 10 --width 64 --quiet"
k=0
for cmd in train run flow sweep; do
    for sigs in INT TERM HUP "INT INT"; do
        k=$((k + 1))
        dir="$T/f$k"
        next_delay
        case $cmd in
        train) run_fault "train" "$sigs" "$d" $NTKIT train $LONG --steps 10000000 --log-every 100 --out "$dir" ;;
        run) run_fault "run" "$sigs" "$d" $NTKIT run $LONG --steps 10000000 --log-every 5000 --out "$dir" ;;
        flow) run_fault "run --flow" "$sigs" "$d" $NTKIT run $LONG --act relu --flow --steps 1000000 --log-every 0.5 --out "$dir" ;;
        sweep) run_fault "sweep" "$sigs" "$d" $NTKIT sweep --param width --values 8,16,32 $LONG --steps 10000000 --log-every 5000 --out "$dir" ;;
        esac
        check "[ $rc -eq 130 ] || [ $rc -eq 0 ]" "$cmd [$sigs]: exit status $rc ($(tail -2 "$T/err"))"
        if [ -d "$dir" ]; then
            check "check_dir '$dir' $rc" "$cmd [$sigs]: files parse and say interrupted"
            check "no_temps '$dir'" "$cmd [$sigs]: no temporary file left"
        else
            # stopped before the directory was made: nothing to check but that
            check "[ $rc -eq 130 ]" "$cmd [$sigs]: no directory and exit $rc"
        fi
    done
done

# a third signal ends the process at once, and still leaves no temporary file
run_fault "run, three signals" "INT INT INT" 1.5 $NTKIT run $LONG --steps 10000000 --log-every 5000 --out "$T/three"
check "[ $rc -ne 0 ]" "three signals: stopped (rc $rc)"
check "no_temps '$T/three'" "three signals: no temporary file left"

# --- writes that fail ---------------------------------------------------------
# A file-size limit makes every write past it fail (EFBIG) on any machine.
# The run stops at the first failed write with one error line.
( trap '' XFSZ; ulimit -f 64; exec $NTKIT train --n 50 --d 4 --width 8 --steps 1000000 --log-every 1 --quiet --out "$T/fsz" ) >"$T/out" 2>"$T/err"
rc=$?
check "[ $rc -eq 1 ] && [ \$(grep -c '^ntkit: error:' '$T/err') -eq 1 ] && [ \$(wc -l < '$T/err') -eq 1 ]" "file-size limit: one error line (rc $rc: $(cat "$T/err"))"
check "grep -q 'metrics.csv' '$T/err'" "the error names the file"
check "no_temps '$T/fsz'" "file-size limit: no temporary file left"
check "[ ! -e '$T/fsz/metrics.csv' ] && [ ! -e '$T/fsz/summary.json' ]" "no metrics or summary claim a complete run"

# A full filesystem, where this machine lets us mount a small tmpfs.
if [ "$(id -u)" = 0 ] && mkdir -p "$T/mnt" && mount -t tmpfs -o size=256k tmpfs "$T/mnt" 2>/dev/null; then
    $NTKIT train --n 50 --d 4 --width 8 --steps 1000000 --log-every 1 --quiet --out "$T/mnt/full" >"$T/out" 2>"$T/err"
    rc=$?
    check "[ $rc -eq 1 ] && [ \$(wc -l < '$T/err') -eq 1 ] && grep -q 'No space' '$T/err'" "full filesystem: one error line (rc $rc: $(cat "$T/err"))"
    check "no_temps '$T/mnt'" "full filesystem: no temporary file left"
    # inputs larger than the filesystem fail before training
    $NTKIT run --n 20000 --d 20 --width 8 --models nn --kernel-every 0 --steps 1 --quiet --out "$T/mnt/big" >"$T/out" 2>"$T/err"
    rc=$?
    check "[ $rc -eq 1 ] && [ \$(wc -l < '$T/err') -eq 1 ]" "full filesystem on the inputs: one error line (rc $rc: $(cat "$T/err"))"
    check "no_temps '$T/mnt'" "full filesystem on the inputs: no temporary file left"
    umount "$T/mnt"
else
    echo "  skipped the full-filesystem case: mounting a tmpfs needs root and a mount namespace that allows it"
fi

finish
