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
