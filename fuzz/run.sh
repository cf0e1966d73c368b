#!/bin/sh
# Runs libFuzzer targets one after another (called by `make fuzz`).
#   fuzz/run.sh [TARGET...]     default: every fuzz/fuzz_*.c
#   FUZZ_BUILD     build folder holding fuzz/fuzz_<target> (default build-fuzz)
#   FUZZ_SECONDS   seconds per target (default 30)
#   FUZZ_MAX_LEN   largest input in bytes (default 65536)
#   FUZZ_RESUME=1  continue from the scratch corpus of the previous run
# Each target starts from a scratch copy of fuzz/corpus/<target> (the
# committed corpus is never changed). An input that crashes, leaks, hangs
# (over 20 s) or breaks one of the targets' checks is kept in
# $FUZZ_BUILD/crashes/<target>/ and its path printed; the exit status is
# then nonzero. The last line is "fuzz: N targets, E runs, C crashes".
set -u
B=${FUZZ_BUILD:-build-fuzz}
S=${FUZZ_SECONDS:-30}
MAXLEN=${FUZZ_MAX_LEN:-65536}
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
targets=$*
[ -n "$targets" ] || targets=$(for f in fuzz/fuzz_*.c; do basename "$f" .c | sed 's/^fuzz_//'; done)

total=0
crashed=0
ntargets=0
for t in $targets; do
    bin=$B/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing; run make fuzz" >&2
        exit 2
    fi
    work=$B/work/$t
    out=$B/crashes/$t
    [ "${FUZZ_RESUME:-0}" = 1 ] || rm -rf "$work"
    mkdir -p "$work/corpus" "$out"
    [ -d "fuzz/corpus/$t" ] && cp fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null
    dict=
    [ -f "fuzz/$t.dict" ] && dict=-dict=fuzz/$t.dict
    before=$(ls "$out" | wc -l)
    "$bin" "$work/corpus" $dict -max_total_time="$S" -max_len="$MAXLEN" -rss_limit_mb=2048 \
        -timeout=20 -print_final_stats=1 -artifact_prefix="$out/" >"$work/log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    [ -n "$runs" ] || runs=$(sed -n 's/.*#\([0-9][0-9]*\).*/\1/p' "$work/log" | tail -n 1)
    [ -n "$runs" ] || runs=0
    total=$((total + runs))
    ntargets=$((ntargets + 1))
    new=$(ls -t "$out" | head -n $(( $(ls "$out" | wc -l) - before )))
    if [ $rc -ne 0 ]; then
        crashed=$((crashed + 1))
        echo "FAIL $t: $runs runs, exit status $rc; log: $work/log"
        grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz invariant|.*runtime error)" "$work/log" | head -n 5
        for f in $new; do echo "     kept $out/$f  (reproduce: $bin $out/$f)"; done
    else
        echo "ok   $t: $runs runs in ${S}s, corpus $(ls "$work/corpus" | wc -l) inputs"
    fi
done
echo "fuzz: $ntargets targets, $total runs, $crashed crashes"
[ "$crashed" -eq 0 ]
