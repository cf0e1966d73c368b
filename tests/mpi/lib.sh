# Shared by tests/mpi/*.sh (sourced): the binaries and mpirun; tests/lib.sh
# gives NTKIT (the ordinary build, the reference), PY, T and the counters.
#   NTKIT_MPI   the distributed build's (default build-mpi/ntkit)
#   MPIRUN      the launcher (default: mpirun --oversubscribe, plus
#               --allow-run-as-root when run as root)
#   NTK_MPI_TIMEOUT  seconds any one mpirun may take (default 300): a run
#               that hangs is ended by timeout(1) and fails its check
NTKIT_MPI=${NTKIT_MPI:-build-mpi/ntkit}
TMO=${NTK_MPI_TIMEOUT:-300}
if [ -z "${MPIRUN:-}" ]; then
    MPIRUN="mpirun --oversubscribe"
    [ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
fi
# Open MPI inside containers: shared-memory transfers without the
# cross-memory-attach that ptrace restrictions forbid
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
. "$(dirname "$0")/../lib.sh"   # NTKIT, PY, T, the counters
# pycheck MESSAGE SCRIPT.py ARGS...: the script (argv[1] = the scratch
# directory) must exit 0; what it prints is shown (the measured agreement)
pycheck() {
    msg=$1 script=$2
    shift 2
    if "$PY" "$script" "$T" "$@" >"$T/log" 2>&1; then ok; cat "$T/log"; else bad "$msg: $(tail -3 "$T/log")"; fi
}
# mpirun -np P under the timeout: mpi P ARGS...
mpi() { np=$1; shift; timeout "$TMO" $MPIRUN -np "$np" "$@"; }
# expect NAME RC ERR DIR PATTERN [final]: a failure that is not a timeout
# (124), one error line on ERR matching PATTERN, and DIR without any file,
# or with `final` without the final files of a run (metrics.csv,
# summary.json, final weights)
expect() {
    name=$1 rc=$2 err=$3 dir=$4 pat=$5 what=${6:-}
    check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "$name: exit status $rc (0: no failure, 124: a hang)"
    check '[ "$(grep -c "^ntkit: error:" "$err")" -eq 1 ]' "$name: one error line, got: $(grep "ntkit: error" "$err")"
    check "grep '^ntkit: error:' '$err' | grep -q '$pat'" "$name: the error names '$pat': $(grep "ntkit: error" "$err")"
    if [ "$what" = final ]; then
        check '[ -z "$(ls "$dir" 2>/dev/null | grep -e "^metrics.csv$" -e summary.json -e _final.npy -e "^W.npy")" ]' \
            "$name: written: $(ls "$dir" 2>/dev/null)"
    else
        check '[ -z "$(ls -A "$dir" 2>/dev/null)" ]' "$name: no output file: $(ls "$dir" 2>/dev/null)"
    fi
}
