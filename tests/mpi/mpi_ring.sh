#!/bin/sh
# The tiles operator on local rows (src/mpi/mpi_op.c, ntk_dop_create_local):
# each process reads and holds only its own rows of X plus at most two
# visiting blocks, the blocks travel round a ring, and with the tiles kept
# they travel during the first product only. n = 203 is divisible by none
# of P = 2, 3, 4; P = 3 is odd (no shared step), P = 2 and 4 have the
# shared step s = P/2.
set -u
. "$(dirname "$0")/lib.sh"

$PY - "$T" <<'PYEOF'
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(23)
X = r.standard_normal((203, 7)); Xt = r.standard_normal((31, 7))
np.save(t + "/X.npy", X); np.save(t + "/Xt.npy", Xt)
np.save(t + "/y.npy", np.tanh(X[:, 0] - X[:, 1])); np.save(t + "/yt.npy", np.tanh(Xt[:, 0] - Xt[:, 1]))
PYEOF

$NTKIT kernel --kind ntk-inf --x "$T/X.npy" --out "$T/K.npy" --spectrum "$T/ref.csv" >/dev/null 2>&1
check '[ $? -eq 0 ]' "ordinary kernel --spectrum"

# The eigenvalues against dsyevd's, as tests/mpi/mpi_spectrum.sh derives the
# tolerance: ρ|λ| (SLEPc's relative residual) + ε_op‖|K|‖ (the products'
# rounding, ε_op = 4(n + 64 + d)ε) + nε‖K‖ (dsyevd's). And the memory
# report: process q holds its nloc_q rows and min(P − 1, 2) buffers of the
# largest block, all rows of d doubles; with the tiles kept it receives one
# product's blocks, the rows of processes q + 1, ..., q + ⌊P/2⌋, and
# otherwise that many times the products.
cat >"$T/ring.py" <<'PYEOF'
import sys, json, numpy as np
t, P, want_kept, got = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "kept", sys.argv[4]
K = np.load(f"{t}/K.npy")
ref = np.loadtxt(f"{t}/ref.csv", delimiter=",", skiprows=1)[:, 1]
r = json.load(open(got))
n, d, eps = len(K), 7, 2.0 ** -52
eps_op = 4 * (n + 64 + d) * eps
nabs = np.linalg.norm(np.abs(K), 2)
for i, (lam, rho) in enumerate(zip(r["largest"], r["largest_residual"])):
    want = ref[n - 1 - i]
    tol = rho * abs(lam) + eps_op * nabs + n * eps * nabs
    assert abs(lam - want) <= tol, (i, lam, want, tol)
    assert tol <= 1e-10 * abs(want), ("derived tolerance above 1e-10 relative", tol / abs(want))
nloc = [n // P + (q < n % P) for q in range(P)]
nvis = min(P - 1, 2)
held = [(nloc[q] + nvis * max(nloc)) * d * 8 for q in range(P)]
assert r["x_bytes"] == held, (r["x_bytes"], held)
assert all(h <= (nloc[q] + 2 * max(nloc)) * d * 8 for q, h in enumerate(r["x_bytes"]))
assert (all(r["tiles_kept"]) if want_kept else not all(r["tiles_kept"])), r["tiles_kept"]
ring = [sum(nloc[(q + s) % P] for s in range(1, P // 2 + 1)) * d * 8 for q in range(P)]
times = 1 if want_kept else r["products"]
assert r["x_received_bytes"] == [times * b for b in ring], (r["x_received_bytes"], ring, r["products"])
print(f"P = {P} ({'kept' if want_kept else 'not kept'}): X held {r['x_bytes']} of {n * d * 8} bytes, "
      f"received {r['x_received_bytes']} over {r['products']} products")
PYEOF

# --mem-limit 1G keeps the tiles; 100K leaves them out (checked in the report)
for np in 2 3 4; do
    for run in kept:1G ring:100K; do
        name=${run%%:*} lim=${run#*:}
        mpi $np $NTKIT_MPI spectrum --kind ntk-inf --x "$T/X.npy" --which largest --nev 2 --tol 1e-12 \
            --mem-limit $lim --threads 1 --json >"$T/s-$np-$name.json" 2>"$T/err"
        check '[ $? -eq 0 ]' "spectrum -np $np, $name: $(cat "$T/err")"
        pycheck "spectrum -np $np, $name: eigenvalues and memory" "$T/ring.py" $np $name "$T/s-$np-$name.json"
    done
done

# krr at P = 3 with and without the kept tiles: the same tiles (side 64,
# the least, at both limits: 2 tiles of 34 rows on a process of 68) and the
# same sums in the same order, so the predictions agree bit for bit. At
# 130K a process's 3·34² + 68² = 8092 tile entries (64.7 KB) fit in half of
# the limit; at 100K they do not (checked in the report).
for run in kept:130K ring:100K; do
    name=${run%%:*} lim=${run#*:}
    mpi 3 $NTKIT_MPI krr --kind ntk-inf --x "$T/X.npy" --y "$T/y.npy" --x-test "$T/Xt.npy" \
        --y-test "$T/yt.npy" --ridge 1e-2 --cg-rtol 1e-12 --precond-rank 20 --threads 1 \
        --mem-limit $lim --out "$T/krr-$name" >/dev/null 2>"$T/err"
    check '[ $? -eq 0 ]' "krr -np 3, $name: $(cat "$T/err")"
done
cat >"$T/same.py" <<'PYEOF'
import sys, json, numpy as np
t, other = sys.argv[1], sys.argv[2]
a, b = json.load(open(f"{t}/krr-kept/results.json")), json.load(open(f"{t}/{other}/results.json"))
assert all(a[0]["memory"]["tiles_kept"]) and not any(b[0]["memory"]["tiles_kept"]), (a[0]["memory"], b[0]["memory"])
for f in ("pred_train_0.npy", "pred_test_0.npy"):
    x, y = np.load(f"{t}/krr-kept/{f}"), np.load(f"{t}/{other}/{f}")
    assert np.array_equal(x, y), (f, np.abs(x - y).max())
print("krr -np 3: kept tiles and the ring agree bit for bit;",
      "received", a[0]["memory"]["x_received_bytes"], "and", b[0]["memory"]["x_received_bytes"])
PYEOF
pycheck "krr -np 3: kept tiles and ring agree" "$T/same.py" krr-ring
# negative control: a prediction moved by one unit in the last place fails
cp -r "$T/krr-ring" "$T/krr-moved"
$PY -c "import numpy as np, sys; f = sys.argv[1]; a = np.load(f); a[5] = np.nextafter(a[5], 1e9); np.save(f, a)" \
    "$T/krr-moved/pred_test_0.npy"
check '! $PY "$T/same.py" "$T" krr-moved >/dev/null 2>&1' "the bit-for-bit check rejects one changed ulp"

# too small a --mem-limit for the rows, the visiting blocks and a tile:
# refused before the products, one error line, no hang
mpi 3 $NTKIT_MPI spectrum --kind ntk-inf --x "$T/X.npy" --mem-limit 20K >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "--mem-limit 20K: exit status $rc"
check '[ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ] && grep "^ntkit: error:" "$T/err" | grep -q "visiting block.*--mem-limit"' \
    "--mem-limit 20K: one error line naming the need: $(cat "$T/err")"
# a NaN in the rows of process 1 alone: only it reads them now; one error
# line names it and the file, every process stops
$PY -c "import numpy as np, sys; X = np.load(sys.argv[2]); X[100, 3] = np.nan; np.save(sys.argv[1], X)" \
    "$T/Xnan.npy" "$T/X.npy"
mpi 3 $NTKIT_MPI spectrum --kind ntk-inf --x "$T/Xnan.npy" >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "NaN in process 1's rows: exit status $rc"
check '[ "$(grep -c "^ntkit: error:" "$T/err")" -eq 1 ] && grep "^ntkit: error:" "$T/err" | grep -q "process 1 of 3.*Xnan.npy"' \
    "NaN in process 1's rows: one error line naming process 1 and the file: $(grep ntkit "$T/err")"
# faults while the ring turns at every product: a failed product on one
# process, a process killed; each ends the job, no hang
NTKIT_MPI_FAULT=2:apply:4 mpi 3 -x NTKIT_MPI_FAULT $NTKIT_MPI spectrum --kind ntk-inf --x "$T/X.npy" \
    --mem-limit 100K >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep "^ntkit: error:" "$T/err" | grep -q "process 2 of 3"' \
    "ring, fault on process 2: exit status $rc, $(grep ntkit "$T/err")"
NTKIT_MPI_FAULT=1:die:4 mpi 3 -x NTKIT_MPI_FAULT $NTKIT_MPI spectrum --kind ntk-inf --x "$T/X.npy" \
    --mem-limit 100K >"$T/out" 2>"$T/err"
rc=$?
check '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]' "ring, process 1 killed: exit status $rc (124: a hang)"
# a process with no rows (P > n): its buffers are empty, the ring still turns
$PY -c "import numpy as np, sys; np.save(sys.argv[1], np.load(sys.argv[2])[:3])" "$T/X3.npy" "$T/X.npy"
mpi 4 $NTKIT_MPI spectrum --kind ntk-inf --x "$T/X3.npy" --which largest --mem-limit 1G >"$T/out" 2>"$T/err"
check '[ $? -eq 0 ] && grep -q lambda_max "$T/out"' "3 points on 4 processes: $(cat "$T/err")"
finish
