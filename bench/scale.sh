#!/bin/sh
# Benchmarks of issue-sized problems (docs/scaling.md), each next to the dgemm
# rate of the same run. Not a test: sizes and times are printed, nothing is
# checked against a time. Usage: sh bench/scale.sh [quick] (quick: smaller n).
#   1. Θ∞ (relu) kernel ridge regression, MNIST-shaped: n = 60000, d = 784,
#      10 one-hot outputs, 10000 test points, ntkit krr --mem-limit 16G
#      (conjugate gradients; peak memory, time, iterations, residual);
#   2. empirical-NTK kernel GD through the matrix-free operator, n = 10^6,
#      d = 100, m = 1024 (bench_scale emp);
#   3. dense against matrix-free predictions at n = 5000 (bench_scale agree);
#   4. the GD step of erf and relu (bench_gd), and a Θ∞ tile's GEMM against
#      its elementwise maps (bench_scale tiles);
#   5. `ntkit kernel --kind ntk-inf` end to end (read X, compute, write K.npy)
#      against the kernel alone in process (bench_scale kernel), n = 4000,
#      d = 784.
set -eu
BUILD=${BUILD:-build}
NTKIT=${NTKIT:-$BUILD/ntkit}
PY=${PYTHON:-/usr/bin/python3}
quick=${1:-}
n1=60000 nt1=10000 n2=1000000 n3=5000 lim1=16G
if [ "$quick" = quick ]; then n1=6000 nt1=1000 n2=50000 n3=1500 lim1=512M; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

echo "== 1. Θ∞ (relu) kernel ridge regression, n = $n1, d = 784, 10 outputs, $nt1 test points, --mem-limit $lim1"
"$PY" - "$T" "$n1" "$nt1" <<'PYEOF'
# MNIST-shaped: 10 class templates in [0, 1]^784 (sparse strokes), each
# point a template with pixel noise, clipped to [0, 1]
import sys, numpy as np
t, n, nt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = np.random.default_rng(0)
templ = (r.random((10, 784)) < 0.18) * r.uniform(0.5, 1.0, (10, 784))
def draw(k):
    lab = r.integers(0, 10, k)
    X = np.clip(templ[lab] + 0.35 * r.standard_normal((k, 784)) * (r.random((k, 784)) < 0.3), 0, 1)
    return X, np.eye(10)[lab]
X, Y = draw(n); Xt, Yt = draw(nt)
for name, a in (("X", X), ("Y", Y), ("Xt", Xt), ("Yt", Yt)):
    np.save(f"{t}/{name}.npy", a)
PYEOF
"$BUILD/bench/bench_scale" dgemm
/usr/bin/time -f "   wall %e s, peak resident memory %M KiB" "$NTKIT" krr --kind ntk-inf \
    --x "$T/X.npy" --y "$T/Y.npy" --x-test "$T/Xt.npy" --y-test "$T/Yt.npy" --ridge 1e-2 \
    --mem-limit "$lim1" --solver cg --cg-rtol 1e-6
rm -f "$T"/*.npy

echo "== 2. empirical-NTK kernel GD, matrix-free, n = $n2"
/usr/bin/time -f "   wall %e s, peak resident memory %M KiB" "$BUILD/bench/bench_scale" emp "$n2" 1024

echo "== 3. dense against matrix-free, n = $n3"
"$BUILD/bench/bench_scale" agree "$n3"

echo "== 4. elementwise maps: the GD step, and a Θ∞ tile"
"$BUILD/bench/bench_gd"
"$BUILD/bench/bench_scale" tiles 4000 784
"$BUILD/bench/bench_scale" tiles 4000 100

echo "== 5. ntkit kernel end to end against the kernel alone, n = 4000, d = 784"
"$PY" -c "import sys, numpy as np; np.save(sys.argv[1], np.random.default_rng(1).standard_normal((4000, 784)))" "$T/X.npy"
/usr/bin/time -f "   ntkit kernel end to end: wall %e s, peak resident memory %M KiB" "$NTKIT" kernel \
    --kind ntk-inf --x "$T/X.npy" --out "$T/K.npy" >/dev/null
"$BUILD/bench/bench_scale" kernel 4000 784
rm -f "$T"/*.npy
