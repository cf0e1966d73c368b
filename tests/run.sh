#!/bin/sh
# Runs every test program and prints the combined "N passed, N failed".
#   BUILD     build directory holding tests/ and ntkit (default build)
#   NTK_TEST_C_ONLY=1   run only the C test programs
#   NTK_TEST_NO_PYTHON=1  skip the Python package's tests (make asan: the
#                       sanitizer runtime is not loaded into the interpreter)
#   NTK_TEST_THREADS    OpenBLAS thread counts the C test programs run at,
#                       each a separate run in the totals (default "1 2":
#                       CI may use either, and the rounding differs)
#   NTK_TEST_MARGINS=1  the C programs also list each check's worst
#                       error/tolerance ratio (tests/harness.h)
#   MPI_BUILD           the distributed build (default build-mpi): its tests
#                       (tests/mpi/*.sh) run when MPI_BUILD/ntkit and mpirun
#                       exist, unless NTK_TEST_NO_MPI=1
# The CLI and Python tests run once, at OPENBLAS_NUM_THREADS (default 1).
set -u
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
C_THREADS=${NTK_TEST_THREADS:-1 2}
export NTKIT=${NTKIT:-$(pwd)/$BUILD/ntkit}
export NTKIT_LIBRARY=${NTKIT_LIBRARY:-$(pwd)/$BUILD/libntkit.so}
total_pass=0
total_fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_one() {
    name=$1
    shift
    start=$(date +%s)
    "$@" >"$tmp/out" 2>&1
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    [ -z "$p" ] && p=0
    [ -z "$f" ] && f=0
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    el=$(( $(date +%s) - start ))
    if [ "$f" -ne 0 ]; then
        echo "FAIL $name ($p passed, $f failed, ${el}s)"
        tail -n 40 "$tmp/out"
    else
        echo "ok   $name ($p passed, ${el}s)"
    fi
}

for th in $C_THREADS; do
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "$(basename "$t") [OPENBLAS_NUM_THREADS=$th]" env OPENBLAS_NUM_THREADS="$th" "$t"
    done
done

if [ "${NTK_TEST_C_ONLY:-0}" != 1 ]; then
    for t in tests/cli_*.sh; do
        [ -f "$t" ] || continue
        run_one "$(basename "$t")" sh "$t"
    done
    # the distributed build's tests (tests/mpi/), when make mpi has built it
    MPI_BUILD=${MPI_BUILD:-build-mpi}
    if [ -x "$MPI_BUILD/ntkit" ] && command -v mpirun >/dev/null 2>&1 && [ "${NTK_TEST_NO_MPI:-0}" != 1 ]; then
        for t in tests/mpi/mpi_*.sh; do
            [ -f "$t" ] || continue
            run_one "mpi/$(basename "$t")" env NTKIT_MPI="$(pwd)/$MPI_BUILD/ntkit" sh "$t"
        done
    fi
    if [ -d python/tests ] && [ "${NTK_TEST_NO_PYTHON:-0}" != 1 ]; then
        run_one python-tests sh -c "cd python && $PYTHON run_tests.py"
    fi
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
