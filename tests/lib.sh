# Shared by the command-line tests tests/cli_*.sh (sourced after `set -u`):
#   NTKIT  the binary under test (default build/ntkit)
#   PY     the Python with numpy and matplotlib (default /usr/bin/python3)
#   T      a scratch directory, removed on exit
# and the counters: `ok`; `bad MESSAGE`; `check 'SHELL TEST' MESSAGE`;
# `finish`, last: prints "N passed, N failed" and is the script's status.
NTKIT=${NTKIT:-build/ntkit}
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
# need_plotting: the experiment tests need numpy and matplotlib; without them
# one failing line that says what to install, and exit
need_plotting() {
    if ! $PY -c 'import numpy, matplotlib' >/dev/null 2>&1; then
        echo "FAIL: python3-numpy and python3-matplotlib are needed (apt-get install -y python3-numpy python3-matplotlib)"
        echo "0 passed, 1 failed"
        exit 1
    fi
}
# expect_error NAME PATTERN CMD...: a nonzero exit that is not a signal,
# exactly one 'ntkit: error:' line, matching PATTERN, and nothing else on
# stderr but warnings
expect_error() {
    name=$1 pat=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    n=$(grep -c '^ntkit: error:' "$T/err")
    other=$(grep -vc -e '^ntkit: error:' -e '^ntkit: warning:' -e '^ntkit: note:' "$T/err")
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$n" -eq 1 ] && [ "$other" -eq 0 ] &&
        grep -qi -- "$pat" "$T/err"; then ok; else
        bad "$name: rc=$rc, $n error lines: $(cat "$T/err")"; fi
}
