#!/bin/sh
# Regression tests of the command line's defences: each case once crashed,
# lost or destroyed a file, or printed a wrong number with exit status 0.
# Every failure must be one 'ntkit: error:' line and a nonzero exit.
set -u
. "$(dirname "$0")/lib.sh"

# expect_ok NAME CMD...: exit 0 (a crash gives 128 + signal)
expect_ok() {
    name=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq 0 ]; then ok; else bad "$name: rc=$rc: $(tail -3 "$T/err")"; fi
}
no_temps() { ! find "$1" \( -name '*.tmp.*' -o -name '*.partial' \) | grep -q .; }
SMALL="--width 8 --steps 3 --quiet"

# --- crashes ----------------------------------------------------------------
# Hu et al.'s linear model on n small against d: a heap overflow (SIGSEGV,
# "malloc(): corrupted top size")
expect_ok "run n=100 d=100" $NTKIT run --n 100 --n-test 10 --d 100 --width 16 --steps 5 --quiet --out "$T/lin1"
expect_ok "run n=30 d=20" $NTKIT run --n 30 --n-test 5 --d 20 --steps 5 --quiet --out "$T/lin2"
# an input file with no columns: realloc(p, 0) and a double free
$PY -c "import numpy as np; np.save('$T/X0.npy', np.zeros((30, 0))); np.save('$T/y0.npy', np.zeros(30))"
expect_error "0-column input" "column" $NTKIT train --data "npy:$T/X0.npy:$T/y0.npy" --n 20 --n-test 5 --out "$T/x0"
# --log-every past 2^64: an undefined cast to 0 and SIGFPE
expect_ok "--log-every 1e20" $NTKIT train --n 20 --d 3 $SMALL --log-every 1e20 --out "$T/le"
check "[ \"\$(cut -d, -f1 '$T/le/metrics.csv' | tr '\n' ' ')\" = 'step 0 3 ' ]" "--log-every past the end logs the first and last rows"
expect_error "--log-every 1e-300 with flow" "rows" $NTKIT run --flow --steps 1 --log-every 1e-300 --out "$T/fl"
expect_error "--width past 2^64" "integer" $NTKIT train --width 18446744073709551617 --out "$T/w"
expect_error "--seed negative" "integer" $NTKIT train --seed ' -1' --out "$T/w"
# sweep values with a typo: garbage text, a use-after-free under ASan
expect_error "sweep 8,abc" "'abc'" $NTKIT sweep --param width --values 8,abc --out "$T/sw"
check "[ ! -e '$T/sw' ]" "a refused sweep makes no directory"

# --- lost or destroyed files ----------------------------------------------
$NTKIT train --n 40 --d 3 $SMALL --out "$T/run" >/dev/null 2>&1
X="$T/run/X_train.npy"
# a failing --spectrum path once deleted the K.npy that was there before
cp "$X" "$T/K.npy"
expect_error "--spectrum into a missing directory" "spec.csv" $NTKIT kernel --kind ntk-inf --x "$X" --out "$T/K.npy" --spectrum "$T/nodir/spec.csv"
check "cmp -s '$X' '$T/K.npy'" "the earlier K.npy is untouched"
check "no_temps '$T'" "no temporary files after the failure"
# --out through a symbolic link: the link stays, its target gets the kernel
ln -s K.npy "$T/Klink.npy"
expect_ok "--out a symlink" $NTKIT kernel --kind ntk-inf --x "$X" --out "$T/Klink.npy"
check "[ -L '$T/Klink.npy' ] && ! cmp -s '$X' '$T/K.npy'" "the link stays and its target is replaced"
# a character device is written through, not replaced by a regular file
expect_ok "--out /dev/null" $NTKIT kernel --kind ntk-inf --x "$X" --out /dev/null
check "[ -c /dev/null ]" "/dev/null is still a character device"
expect_error "--out a directory" "directory" $NTKIT kernel --kind ntk-inf --x "$X" --out "$T"
if [ -w /dev/full ]; then
    expect_error "--out /dev/full" "space" $NTKIT kernel --kind ntk-inf --x "$X" --out /dev/full
fi
# a run directory that is not empty: refused, or cleared with --force
expect_error "reusing --out" "--force" $NTKIT train --n 40 --d 3 $SMALL --out "$T/run"
mkdir -p "$T/run/plots" && touch "$T/run/plots/losses.png" "$T/run/notes.txt"
expect_ok "--force" $NTKIT train --n 40 --d 3 --width 12 --steps 3 --quiet --force --out "$T/run"
check "[ ! -e '$T/run/plots/losses.png' ] && [ -e '$T/run/notes.txt' ]" "--force removes ntkit's files only"
$PY - "$T/run" <<'PYEOF' && ok || bad "--force leaves no weights of the earlier width"
import sys, numpy as np
assert np.load(sys.argv[1] + "/W.npy").shape == (12, 3)
PYEOF
# the sweep directory too
$NTKIT sweep --param width --values 4,8 --n 20 --d 2 --steps 2 --kernel-every 0 --quiet --out "$T/swp" >/dev/null 2>&1
expect_error "reusing a sweep --out" "--force" $NTKIT sweep --param width --values 4 --n 20 --d 2 --steps 2 --out "$T/swp"
expect_ok "sweep --force" $NTKIT sweep --param width --values 6 --n 20 --d 2 --steps 2 --kernel-every 0 --quiet --force --out "$T/swp"
check "[ ! -e '$T/swp/width=4' ] && [ -e '$T/swp/width=6/summary.json' ]" "sweep --force clears the earlier members"

# a FIFO named config.json once hung ntkit kernel --weights for ever
mkdir -p "$T/fifodir" && mkfifo "$T/fifodir/config.json"
expect_error "config.json a FIFO" "FIFO" timeout 10 $NTKIT kernel --kind ntk --weights "$T/fifodir" --x "$X" --out "$T/Kf.npy"
# a mistyped command is named, with the nearest one
expect_error "mistyped command" "did you mean 'train'" $NTKIT trian
check "[ \"\$($NTKIT version)\" = \"\$($NTKIT --version)\" ]" "ntkit version and --version agree"

# --- silent wrong numbers ---------------------------------------------------
$PY -c "
import numpy as np
X = np.random.default_rng(1).standard_normal((5, 3)); X[2] *= 1e160
np.save('$T/big.npy', X)"
for k in ntk-inf ntk nngp-inf lin; do
    expect_error "kernel $k on inputs of norm 1e160" "rescale" $NTKIT kernel --kind $k --x "$T/big.npy" --out "$T/Kbig.npy"
done
check "[ ! -e '$T/Kbig.npy' ]" "no kernel file from non-finite numbers"
# a finite blow-up is not a success
$NTKIT train --lr1 300 --lr2 0 --steps 30 --n 200 --quiet --out "$T/blow" >"$T/out" 2>"$T/err"
check "grep -q '^ntkit: warning: the training loss grew' '$T/err'" "a finite blow-up warns"
check "grep -q '\"warnings\"' '$T/blow/summary.json'" "summary.json states the blow-up"
expect_error "krr --ridge ''" "ridge" $NTKIT krr --kind ntk-inf --x "$X" --y "$T/run/y_train.npy" --x-test "$T/run/X_test.npy" --y-test "$T/run/y_test.npy" --ridge ''
R=$($PY -c "print(','.join('%g' % (10 ** (-k / 20)) for k in range(100)))")
$NTKIT krr --kind ntk-inf --x "$X" --y "$T/run/y_train.npy" --x-test "$T/run/X_test.npy" --y-test "$T/run/y_test.npy" --ridge "$R" >"$T/out" 2>&1
check "[ \$(grep -c 'ridge' '$T/out') -eq 100 ]" "100 ridge values, none dropped ($(grep -c ridge "$T/out"))"
V=$($PY -c "print(','.join(str(k) for k in range(260)))")
$NTKIT sweep --param seed --values "$V" --n 4 --n-test 1 --d 1 --width 2 --steps 0 --models nn --kernel-every 0 --quiet --out "$T/many" >/dev/null 2>&1
check "[ \$(wc -l < '$T/many/sweep.csv') -eq 261 ]" "260 sweep values, none dropped"
expect_error "--alpha 1e308" "alpha" $NTKIT train --alpha 1e308 --n 20 --d 3 $SMALL --out "$T/al"
expect_error "constants with slope 1e308" "overflow" $NTKIT constants --act leaky_relu --act-param 1e308
expect_error "kernel-drift subsample in the memory estimate" "GiB" $NTKIT run --n 200000 --d 2 --width 4 --kernel-subsample 0 --models nn --out "$T/mem"

finish
