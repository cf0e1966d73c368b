#!/bin/sh
# mpirun -np P ntkit kernel: the row blocks of every process written into
# one .npy with MPI-IO give the ordinary build's file, to a rounding bound
# (the ordinary build mirrors the upper triangle, the row blocks compute
# K(x_i, x_j) below it; GEMMs of other shapes may round otherwise); the
# files that come out byte-identical are named as such.
# Faults (one process failing while loading or in a row block, a process
# killed, an output directory that does not exist) leave no file, not even
# the temporary one, and an earlier file at --out untouched.
set -u
. "$(dirname "$0")/lib.sh"

$PY - "$T" <<'PYEOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(11)
np.save(t + "/X.npy", r.standard_normal((203, 7)))
np.save(t + "/Z.npy", r.standard_normal((57, 7)))
PYEOF

# same FILE_A FILE_B: byte for byte
same() { cmp -s "$1" "$2"; }
# close REF FILE X Z|- M: every entry within tol·max|K|. Each entry is a
# smooth function of dot products of length d (x_i·x_j, |x_i|², |x_j|²; the
# infinite-width and lin kinds) or a sum over the m hidden units (the
# empirical kinds, M = m; 0 otherwise), which two orders of evaluation (the
# ordinary build's triangles against these row blocks, GEMMs of other
# shapes) round differently by at most γ_{d+m} ≈ (d + m)·ε relative to the
# sum of the terms' sizes; the arc-cosine maps multiply that by at most
# 1/sqrt(1 − ρ²) for the largest off-diagonal cosine ρ of these points
# (computed here), and the kernel's few further operations by a small
# constant (8 is taken). The diagonal is the library's symmetric block in
# both. A float32 file rounds each entry once more: values that differ by
# that bound may round to neighbouring floats, one float32 step (2^-23
# relative) apart. The shape and dtype must match exactly.
cat >"$T/close.py" <<'PYEOF'
import sys, numpy as np
ref, got, xp, x2p, m = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
a, b = np.load(ref), np.load(got)
assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
X = np.load(xp); Z = np.load(x2p) if x2p != "-" else X
C = (X / np.linalg.norm(X, axis=1)[:, None]) @ (Z / np.linalg.norm(Z, axis=1)[:, None]).T
if x2p == "-": np.fill_diagonal(C, 0)
rho = np.abs(C).max()
tol = 8 * (X.shape[1] + m + 2) * np.finfo(float).eps / np.sqrt(1 - rho ** 2)
assert tol <= 1e-10, tol
if a.dtype == np.float32: tol += 2.0 ** -23
rel = np.abs(a.astype(float) - b.astype(float)).max() / np.abs(a).max()
print("kernel %s: max relative difference %.2e (bound %.2e)" % (got.split("/")[-1], rel, tol))
sys.exit(0 if rel <= tol else 1)
PYEOF

for kind in ntk ntk2 ntk-inf lin; do
    $NTKIT kernel --kind $kind --x "$T/X.npy" --width 64 --out "$T/ref-$kind.npy" --threads 1 >/dev/null 2>&1 ||
        bad "ordinary build: kernel --kind $kind"
    for np in 1 2 4; do
        out="$T/k-$kind-$np.npy"
        mpi $np $NTKIT_MPI kernel --kind $kind --x "$T/X.npy" --width 64 --out "$out" --threads 1 \
            >"$T/out" 2>"$T/err" || bad "-np $np kernel --kind $kind: $(grep ntkit "$T/err")"
        case $kind in ntk | ntk2) m=64 ;; *) m=0 ;; esac
        pycheck "-np $np --kind $kind" "$T/close.py" "$T/ref-$kind.npy" "$out" "$T/X.npy" - $m
        same "$T/ref-$kind.npy" "$out" && echo "  (byte-identical to the ordinary build's file)"

    done
done

# several row blocks per process (--mem-limit of a few rows), a cross block, float32
$NTKIT kernel --kind ntk --x "$T/X.npy" --x2 "$T/Z.npy" --width 64 --out "$T/ref-cross.npy" --threads 1 >/dev/null 2>&1
mpi 3 $NTKIT_MPI kernel --kind ntk --x "$T/X.npy" --x2 "$T/Z.npy" --width 64 --out "$T/k-cross.npy" \
    --threads 1 --mem-limit 4K >"$T/out" 2>"$T/err" || bad "cross block: $(grep ntkit "$T/err")"
pycheck "-np 3 ntk cross block, 4K row blocks" "$T/close.py" "$T/ref-cross.npy" "$T/k-cross.npy" "$T/X.npy" "$T/Z.npy" 64
$NTKIT kernel --kind ntk-inf --x "$T/X.npy" --out "$T/ref-blocks.npy" --threads 1 >/dev/null 2>&1
mpi 2 $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" --out "$T/k-blocks.npy" --threads 1 --mem-limit 40K \
    >"$T/out" 2>"$T/err" || bad "row blocks: $(grep ntkit "$T/err")"
pycheck "-np 2 ntk-inf, 40K row blocks" "$T/close.py" "$T/ref-blocks.npy" "$T/k-blocks.npy" "$T/X.npy" - 0
$NTKIT kernel --kind ntk-inf --x "$T/X.npy" --out "$T/ref-f32.npy" --dtype float32 --threads 1 >/dev/null 2>&1
mpi 4 $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" --out "$T/k-f32.npy" --dtype float32 --threads 1 \
    >"$T/out" 2>"$T/err" || bad "float32: $(grep ntkit "$T/err")"
pycheck "-np 4 ntk-inf float32" "$T/close.py" "$T/ref-f32.npy" "$T/k-f32.npy" "$T/X.npy" - 0
# negative control: the comparison rejects a kernel one entry of which moved by 1e-9
$PY -c "import numpy as np; K = np.load('$T/ref-ntk-inf.npy'); K[3, 5] *= 1 + 1e-9; np.save('$T/moved.npy', K)"
check '! $PY "$T/close.py" "$T" "$T/ref-ntk-inf.npy" "$T/moved.npy" "$T/X.npy" - 0 >/dev/null 2>&1' \
    "negative control: a moved entry passes the comparison"
check '! same "$T/ref-ntk.npy" "$T/ref-ntk2.npy"' "negative control: ntk and ntk2 files are the same"
# --spectrum and --stats: every eigenvalue (one process: the ordinary
# command, LAPACK's dsyevd; several: ScaLAPACK's pdsyev on the kernel in a
# 2-D block-cyclic layout) against the ordinary build's --spectrum, n = 203
# not divisible by 2, 3 or 4 (grids 1 x 2, 1 x 3, 2 x 2 in blocks of 64).
# Bound: both eigensolvers are backward stable, each returning the exact
# eigenvalues of K + E with ||E||_2 <= c n eps ||K||_2, so by Weyl's
# inequality each eigenvalue moves by at most that; c = 30 is the ratio
# LAPACK's own eigenvalue tests accept for |error| / (n eps ||K||), and
# the two solvers' errors add (2 x 30). The two kernels themselves differ
# by rounding entry by entry (close.py's bound tol * max|K|, the
# distributed eigenvalues come from the kernel evaluated in its
# block-cyclic pieces), which moves each eigenvalue by at most
# ||dK||_2 <= ||dK||_F <= n tol max|K|. The file must be the ordinary
# build's format: "index,eigenvalue", indices 0..n-1, ascending.
cat >"$T/spec.py" <<'PYEOF'
import sys, numpy as np
ref, got, kref, xp, m = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
def read(path):
    lines = open(path).read().splitlines()
    assert lines[0] == "index,eigenvalue", lines[0]
    rows = [l.split(",") for l in lines[1:]]
    assert [int(r[0]) for r in rows] == list(range(len(rows))), "indices"
    return np.array([float(r[1]) for r in rows])
a, b = read(ref), read(got)
K, X = np.load(kref), np.load(xp)
n, eps = K.shape[0], np.finfo(float).eps
assert a.shape == b.shape == (n,), (a.shape, b.shape)
assert np.all(np.diff(b) >= 0), "not ascending"
U = X / np.linalg.norm(X, axis=1)[:, None]
C = U @ U.T
np.fill_diagonal(C, 0)
tol = 8 * (X.shape[1] + m + 2) * eps / np.sqrt(1 - np.abs(C).max() ** 2)
norm2 = np.linalg.norm(K, 2)
bound = n * tol * np.abs(K).max() + 2 * 30 * n * eps * norm2
err = np.abs(a - b).max()
print("spectrum %s: max |d lambda| %.2e = %.3f n eps ||K||_2 (bound %.2e)" % (got.split("/")[-1], err, err / (n * eps * norm2), bound))
sys.exit(0 if err <= bound else 1)
PYEOF
for kind in ntk ntk-inf; do
    case $kind in ntk) m=64 ;; *) m=0 ;; esac
    $NTKIT kernel --kind $kind --x "$T/X.npy" --width 64 --out "$T/ref-$kind.npy" --spectrum "$T/ref-$kind.csv" \
        --threads 1 >/dev/null 2>&1 || bad "ordinary build: kernel --kind $kind --spectrum"
    for np in 1 2 4; do
        mpi $np $NTKIT_MPI kernel --kind $kind --x "$T/X.npy" --width 64 --out "$T/ks-$kind-$np.npy" \
            --spectrum "$T/s-$kind-$np.csv" --stats --threads 1 >"$T/out" 2>"$T/err" ||
            bad "-np $np kernel --kind $kind --spectrum: $(grep ntkit "$T/err")"
        pycheck "-np $np --kind $kind --spectrum" "$T/spec.py" "$T/ref-$kind.csv" "$T/s-$kind-$np.csv" \
            "$T/ref-$kind.npy" "$T/X.npy" $m
        pycheck "-np $np --kind $kind kernel file next to --spectrum" "$T/close.py" "$T/ref-$kind.npy" \
            "$T/ks-$kind-$np.npy" "$T/X.npy" - $m
        # --stats prints the extremes of the same eigenvalues (%.6g of the file's first and last)
        st=$($PY -c "import numpy as np; e = np.loadtxt('$T/s-$kind-$np.csv', delimiter=',', skiprows=1)[:, 1]; print('lambda_min %.6g, lambda_max %.6g, condition number %.6g' % (e[0], e[-1], e[-1] / e[0]))")
        check 'grep -q "$st" "$T/out"' "-np $np --kind $kind --stats: '$st' not in $(head -1 "$T/out")"
    done
done
# float32 file: the eigenvalues are the float64 kernel's, as in the ordinary build
mpi 3 $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" --out "$T/ks-f32.npy" --dtype float32 \
    --spectrum "$T/s-f32.csv" --threads 1 >"$T/out" 2>"$T/err" || bad "-np 3 float32 --spectrum: $(grep ntkit "$T/err")"
pycheck "-np 3 float32 --spectrum" "$T/spec.py" "$T/ref-ntk-inf.csv" "$T/s-f32.csv" "$T/ref-ntk-inf.npy" "$T/X.npy" 0
# negative controls: the comparison rejects the largest eigenvalue moved by
# 1e-9 of itself, and a spectrum of another kernel
$PY -c "
lines = open('$T/ref-ntk-inf.csv').read().splitlines()
i, v = lines[-1].split(',')
lines[-1] = '%s,%.17g' % (i, float(v) * (1 + 1e-9))
open('$T/moved.csv', 'w').write('\n'.join(lines) + '\n')"
check '! $PY "$T/spec.py" "$T" "$T/ref-ntk-inf.csv" "$T/moved.csv" "$T/ref-ntk-inf.npy" "$T/X.npy" 0 >/dev/null 2>&1' \
    "negative control: a moved eigenvalue passes the comparison"
check '! $PY "$T/spec.py" "$T" "$T/ref-ntk-inf.csv" "$T/s-ntk-2.csv" "$T/ref-ntk-inf.npy" "$T/X.npy" 64 >/dev/null 2>&1' \
    "negative control: the ntk spectrum passes for ntk-inf's"
# --stats alone (no --spectrum file), and its refusal with a cross block
mpi 2 $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" --out "$T/k-stats2.npy" --stats --threads 1 >"$T/out" 2>"$T/err"
check 'grep -q "lambda_min .*condition number" "$T/out" && [ -e "$T/k-stats2.npy" ]' "-np 2 --stats: $(cat "$T/out" "$T/err")"
mpi 2 $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" --x2 "$T/Z.npy" --out "$T/k-stats3.npy" --stats >"$T/out" 2>"$T/err"
check '[ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ] && grep -q "cross block" "$T/err" && [ ! -e "$T/k-stats3.npy" ]' \
    "-np 2 --stats --x2: not one refusal: $(grep ntkit "$T/err")"
mpi 2 $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" --out "$T/k-diag.npy" --diagonal >"$T/out" 2>"$T/err"
check '[ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ] && grep -q "one process" "$T/err" && [ ! -e "$T/k-diag.npy" ]' \
    "-np 2 --diagonal: not one refusal: $(grep ntkit "$T/err")"

# the eigenproblem's share over --mem-limit: one line naming the need and the
# limit (and how many processes would do), before any file is created
rm -rf "$T/g" && mkdir "$T/g"
mpi 2 $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" --out "$T/g/K.npy" --spectrum "$T/g/s.csv" \
    --mem-limit 200K >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ]' \
    "memory refusal: rc $rc, $(grep ntkit "$T/err")"
check 'grep "^ntkit: error:" "$T/err" | grep -q "block-cyclic share.*--mem-limit is 200 KiB.*processes or more"' \
    "memory refusal does not name the share, the limit and the processes: $(grep ntkit "$T/err")"
check '[ -z "$(ls -A "$T/g")" ]' "memory refusal left $(ls -A "$T/g")"

# faults: nonzero, one error line, no file in the directory but what was there
fault() {
    name=$1 where=$2 np=$3 pat=$4
    rm -rf "$T/f" && mkdir "$T/f" && echo old >"$T/f/K.npy"
    NTKIT_MPI_FAULT=$where mpi $np -x NTKIT_MPI_FAULT $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" \
        --out "$T/f/K.npy" --mem-limit 20K >"$T/out" 2>"$T/err"
    rc=$?
    check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "$name: exit status $rc (0: no failure, 124: a hang)"
    if [ -n "$pat" ]; then
        check '[ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ]' "$name: not one error line: $(grep ntkit "$T/err")"
        check "grep '^ntkit: error:' '$T/err' | grep -q '$pat'" "$name: the error does not name '$pat'"
    fi
    check '[ "$(ls -A "$T/f")" = K.npy ] && [ "$(cat "$T/f/K.npy")" = old ]' "$name: left $(ls -A "$T/f")"
}
fault "process 1 fails loading" 1:load 3 "process 1 of 3"
fault "process 2 fails in a row block" 2:apply 3 "process 2 of 3"
fault "process 0 fails in its second row block" 0:apply:2 2 "row block failed"
fault "process 1 killed in a row block" 1:die 3 ""
# with --spectrum: a failure in the eigenproblem (after every row is in the
# temporary file) or bad input leaves neither file, the earlier ones as they
# were. With the default row budget each process has one row block, so its
# second 'apply' is the first block of its block-cyclic share.
sfault() {
    name=$1 where=$2 np=$3 pat=$4 x=$5
    rm -rf "$T/f" && mkdir "$T/f" && echo old >"$T/f/K.npy" && echo old >"$T/f/s.csv"
    NTKIT_MPI_FAULT=$where mpi $np -x NTKIT_MPI_FAULT $NTKIT_MPI kernel --kind ntk-inf --x "$x" \
        --out "$T/f/K.npy" --spectrum "$T/f/s.csv" >"$T/out" 2>"$T/err"
    rc=$?
    check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "$name: exit status $rc (0: no failure, 124: a hang)"
    if [ -n "$pat" ]; then
        check '[ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ]' "$name: not one error line: $(grep ntkit "$T/err")"
        check "grep '^ntkit: error:' '$T/err' | grep -q '$pat'" "$name: the error does not name '$pat'"
    fi
    check '[ "$(ls -A "$T/f" | tr "\\n" " ")" = "K.npy s.csv " ] && [ "$(cat "$T/f/K.npy" "$T/f/s.csv")" = "old
old" ]' "$name: left $(ls -A "$T/f")"
}
sfault "--spectrum: process 1 fails in its share" 1:apply:2 3 "process 1 of 3.*block of the kernel failed" "$T/X.npy"
sfault "--spectrum: process 2 killed in its share" 2:die:2 3 "" "$T/X.npy"
$PY -c "import numpy as np; X = np.load('$T/X.npy'); X[5, 2] = np.nan; np.save('$T/Xnan.npy', X)"
sfault "--spectrum: NaN in --x" "" 2 "contains NaN" "$T/Xnan.npy"
mpi 2 $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" --out "$T/nodir/K.npy" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ]' \
    "missing output directory: rc $rc, $(grep ntkit "$T/err")"
# a process that fails to read its inputs before the eigenproblem's memory
# check (collective when --mem-limit is not given): one message, no hang
rm -rf "$T/h"; mkdir "$T/h"
NTKIT_MPI_FAULT=1:load mpi 2 -x NTKIT_MPI_FAULT $NTKIT_MPI kernel --kind ntk-inf --x "$T/X.npy" \
    --out "$T/h/K.npy" --spectrum "$T/h/s.csv" >"$T/out" 2>"$T/err"
rc=$?
check '[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ] && [ -z "$(ls "$T/h")" ]' \
    "a load failure on one process with --spectrum and no --mem-limit: rc=$rc $(cat "$T/err")"

finish
