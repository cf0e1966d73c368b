#!/bin/sh
# ntkit experiment and ntkit plot: every experiment at --smoke size writes a
# report that opens with the claim and a verdict, with every figure it links
# present as PNG and SVG; a rerun into the same directory; plot on a run and a
# sweep directory; --list; errors.
set -u
. "$(dirname "$0")/lib.sh"

if ! /usr/bin/python3 -c 'import numpy, matplotlib' >/dev/null 2>&1; then
    echo "FAIL: python3-numpy and python3-matplotlib are needed (apt-get install -y python3-numpy python3-matplotlib)"
    echo "0 passed, 1 failed"
    exit 1
fi

# figures linked from a report: ](name.png) and ](name.svg)
check_report() {
    dir=$1 name=$2
    r="$dir/report.md"
    if [ ! -s "$r" ]; then bad "$name: no report.md"; return; fi
    ok
    # the claim's source, cited by author and year: "Hu et al. 2020", "Montanari and Zhong 2022",
    # "Soltanolkotabi 2017"
    check "head -n 1 '$r' | grep -Eq '^# Claim \\([A-Z][A-Za-z]+( et al\\.| and [A-Z][A-Za-z]+)? (19|20)[0-9]{2}[);, ]'" \
        "$name: report opens with the claim and its source (author and year): $(head -n 1 "$r" | cut -c1-80)"
    check "sed -n 3p '$r' | grep -Eq '^\*\*Verdict: (HELD|FAILED|INCONCLUSIVE)\*\* — .+'" "$name: verdict line"
    check "grep -q '^## Measured numbers' '$r' && grep -q '^| ' '$r'" "$name: table of measured numbers"
    check "grep -q '^ntkit ' '$r'" "$name: commands listed"
    n=0
    for f in $(grep -o '](\([A-Za-z0-9_.-]*\)\.png)' "$r" | sed 's/^](//; s/\.png)$//'); do
        n=$((n + 1))
        check "[ -s '$dir/$f.png' ] && [ -s '$dir/$f.svg' ]" "$name: figure $f as PNG and SVG"
        check "grep -q '($f.svg)' '$r'" "$name: SVG of $f linked"
        check "head -c 8 '$dir/$f.png' | od -An -c | grep -q 'P   N   G'" "$name: $f.png is a PNG"
    done
    check "[ $n -ge 1 ]" "$name: at least one figure"
    check "[ -s '$dir/results.json' ]" "$name: results.json"
    # papers are cited by author and year, never by the old seed numbers or the
    # old formula sheet (the pattern is written so that it does not match itself)
    check "! grep -Eiq 'seed ?00[0-9]|MATH[.]md' '$r' '$dir/results.json'" "$name: no old seed or formula-sheet citations"
}

# --- the list and the errors ----------------------------------------------
$NTKIT experiment --list >"$T/list" 2>&1
check '[ $? -eq 0 ]' "--list exit status"
for e in early-linear overparam-relu lazy-scale kernel-concentration krr-plateaus single-neuron; do
    check "grep -q '^$e ' '$T/list'" "--list names $e"
done
$NTKIT experiment no-such-thing --smoke --out "$T/x" >"$T/out" 2>"$T/err"
rc=$?
check "[ $rc -ne 0 ] && [ \$(grep -c '^ntkit: error:' '$T/err') -eq 1 ] && grep -q 'no-such-thing' '$T/err'" \
    "unknown experiment: nonzero exit and one error line (rc=$rc: $(cat "$T/err"))"
check "[ ! -e '$T/x' ]" "unknown experiment writes nothing"
$NTKIT experiment >"$T/out" 2>"$T/err"
check "[ \$? -ne 0 ] && grep -q '^ntkit: error:' '$T/err'" "no experiment name: error"
NTKIT_TOOLS="$T/none" $NTKIT experiment --list >"$T/out" 2>"$T/err"
check "[ \$? -ne 0 ] && [ \$(wc -l <'$T/err') -eq 1 ] && grep -q 'NTKIT_TOOLS' '$T/err'" "missing tools dir: one error line"
NTKIT_PYTHON="$T/no-python" $NTKIT plot "$T" >"$T/out" 2>"$T/err"
check "[ \$? -ne 0 ] && [ \$(wc -l <'$T/err') -eq 1 ] && grep -q 'apt-get install -y python3-numpy python3-matplotlib' '$T/err'" \
    "missing python: one error line with the apt-get command"

# --- the experiments at --smoke size -----------------------------------------
# (kernel-concentration and krr-plateaus run in tests/cli_exp_kern.sh, with
# their negative controls and results.json; they are not run twice)
for e in early-linear overparam-relu lazy-scale single-neuron; do
    start=$(date +%s)
    $NTKIT experiment "$e" --smoke --out "$T/$e" >"$T/$e.log" 2>&1
    rc=$?
    echo "  $e: $(( $(date +%s) - start ))s, $(grep -m1 -o 'Verdict: [A-Z]*' "$T/$e.log")"
    if [ $rc -ne 0 ]; then bad "$e --smoke exit $rc: $(tail -n 3 "$T/$e.log")"; continue; fi
    ok
    check "grep -q '^report: ' '$T/$e.log' && grep -q 'Verdict' '$T/$e.log'" "$e: prints report path and verdict"
    check_report "$T/$e" "$e"
done

# --- a rerun into the same --out -------------------------------------------
# train, run and sweep refuse a non-empty --out without --force; the experiment
# replaces its own run directories (overparam-relu: run and sweep; single-neuron:
# train) and leaves a file it did not write
for e in overparam-relu single-neuron; do
    mkdir -p "$T/$e" && echo kept >"$T/$e/my-notes.txt"
    $NTKIT experiment "$e" --smoke --out "$T/$e" >"$T/$e.rerun.log" 2>&1
    rc=$?
    check "[ $rc -eq 0 ]" "$e: rerun into the same --out (exit $rc: $(tail -n 2 "$T/$e.rerun.log"))"
    check_report "$T/$e" "$e (rerun)"
    check "grep -qx kept '$T/$e/my-notes.txt'" "$e: a rerun keeps a file it did not write"
done

# --- ntkit plot on a run and on a sweep directory ---------------------------
$NTKIT run --n 80 --n-test 30 --d 5 --width 32 --steps 30 --log-every 5 --act relu --quiet --out "$T/run" >/dev/null 2>&1
$NTKIT plot "$T/run" >"$T/plot.out" 2>&1
check '[ $? -eq 0 ]' "plot run dir: exit status ($(tail -n 2 "$T/plot.out"))"
for f in losses gaps distances kernel; do
    check "[ -s '$T/run/plots/$f.png' ] && [ -s '$T/run/plots/$f.svg' ]" "plot run dir: $f.png and .svg"
done
$NTKIT sweep --param width --values 8,32 --n 60 --n-test 20 --d 4 --steps 20 --log-every 5 --quiet --out "$T/sw" >/dev/null 2>&1
$NTKIT plot "$T/sw" >"$T/plot.out" 2>&1
check '[ $? -eq 0 ]' "plot sweep dir: exit status ($(tail -n 2 "$T/plot.out"))"
for f in losses gaps distances curves; do
    check "[ -s '$T/sw/plots/$f.png' ] && [ -s '$T/sw/plots/$f.svg' ]" "plot sweep dir: $f.png and .svg"
done
$NTKIT train --n 50 --n-test 10 --d 4 --width 8 --steps 10 --log-every 2 --quiet --out "$T/tr" >/dev/null 2>&1
$NTKIT plot "$T/tr" >/dev/null 2>&1
check "[ \$? -eq 0 ] && [ -s '$T/tr/plots/losses.png' ]" "plot a train dir"
$NTKIT plot "$T/nothing-here" >"$T/out" 2>"$T/err"
check "[ \$? -ne 0 ] && [ \$(grep -c '^ntkit: error:' '$T/err') -eq 1 ]" "plot on a non-run dir: one error line"

finish
