#!/bin/sh
# Command-line tests of the k-output network head (docs/depth.md §1.6):
# (n, k) targets from an npy file and one-hot classes from an MNIST pair
# given POS,NEG = all; the run directory's shapes (targets, per-layer weights,
# --predict files), config.json's "outputs", the accuracy columns checked
# against numpy's argmax of the written predictions, a numpy forward pass of
# the written weights against the network's predictions, --outputs against
# the targets, and kernels of a k-output network.
set -u
. "$(dirname "$0")/lib.sh"

$PY - "$T" <<'PYEOF'
import sys, struct
import numpy as np
T = sys.argv[1]
r = np.random.default_rng(5)
X = r.standard_normal((90, 6))
c = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
np.save(T + "/X.npy", X)
np.save(T + "/Y.npy", np.eye(3)[c])
np.save(T + "/Xp.npy", r.standard_normal((7, 6)))
# an MNIST-format pair of 60 images of 5x5 pixels, labels 0..9 in turn
imgs = r.integers(0, 256, size=(60, 5, 5), dtype=np.uint8)
labs = (np.arange(60) % 10).astype(np.uint8)
with open(T + "/img.idx", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 60, 5, 5)); f.write(imgs.tobytes())
with open(T + "/lab.idx", "wb") as f:
    f.write(struct.pack(">II", 0x801, 60)); f.write(labs.tobytes())
# a CIFAR-10 batch of 25 records: label byte, 3072 pixel bytes; labels 9, 8, ...
rec = np.zeros((25, 3073), dtype=np.uint8)
rec[:, 0] = (9 - np.arange(25)) % 10
rec[:, 1:] = r.integers(0, 256, size=(25, 3072), dtype=np.uint8)
rec.tofile(T + "/c.bin")
PYEOF

# --- a run on (n, k) targets ------------------------------------------------
$NTKIT run --data "npy:$T/X.npy:$T/Y.npy" --n-test 30 --width 64 --steps 40 --log-every 20 \
    --models nn,linearized,ntk,ntk-inf --predict "$T/Xp.npy" --out "$T/r" >"$T/out" 2>"$T/err"
check '[ $? -eq 0 ]' "run on (n, 3) targets: $(cat "$T/err")"
check 'grep -q "^accuracy" "$T/out"' "run prints the accuracy table"
$PY - "$T" <<'PYEOF' >"$T/py" 2>&1
import sys, json, csv
import numpy as np
T = sys.argv[1]
r = T + "/r"
cfg = json.load(open(r + "/config.json"))
Y = np.load(r + "/y_train.npy"); Yt = np.load(r + "/y_test.npy")
W1, W2 = np.load(r + "/W1_final.npy"), np.load(r + "/W2_final.npy")
rows = list(csv.DictReader(open(r + "/metrics.csv")))
last = rows[-1]
Xt = np.load(r + "/X_test.npy"); Xp = np.load(T + "/Xp.npy")
out = []
out.append(("outputs", cfg["outputs"] == 3))
out.append(("targets", Y.shape == (60, 3) and Yt.shape == (30, 3)))
out.append(("W2 shape", W1.shape == (64, 6) and W2.shape == (3, 64)))
# the network as written: f = W2 relu(W1 x / sqrt(d)) / sqrt(m) (alpha 1)
f = lambda X: np.maximum(X @ W1.T / np.sqrt(6), 0) @ W2.T / np.sqrt(64)
P = {m: np.load(r + "/predict_%s.npy" % m) for m in ("nn", "linearized", "ntk", "ntk_inf")}
out.append(("predict shapes", all(p.shape == (7, 3) for p in P.values())))
# rounding: a dot product of 6 and one of 64 terms, each ~1 in size: 1e-12 is
# far above 100 eps and far below any modelling difference
out.append(("nn predictions = numpy forward", np.abs(P["nn"] - f(Xp)).max() < 1e-12))
# the test loss of the network from its own forward pass: c/2 sum ||f - y||^2
Lt = 0.5 * ((f(Xt) - Yt) ** 2).sum() / 30
out.append(("nn test loss", abs(Lt - float(last["nn_test_loss"])) <= 1e-12 * max(1, Lt)))
acc = (f(Xt).argmax(1) == Yt.argmax(1)).mean()
out.append(("nn test accuracy", abs(acc - float(last["nn_test_acc"])) < 1e-15))
for m in ("linearized", "ntk", "ntk_inf"):
    a = float(last[m + "_train_acc"])
    out.append((m + " accuracy in [0,1]", 0 <= a <= 1))
# the models stay close to the network early in training at this width
out.append(("gaps small", float(last["gap_linearized_train"]) < 0.05 * float(rows[0]["nn_train_loss"])))
for name, good in out:
    print(("ok " if good else "FAIL ") + name)
PYEOF
check '[ $? -eq 0 ] && ! grep -q FAIL "$T/py"' "run directory of a 3-output run: $(grep -v '^ok' "$T/py")"

# --- the kernel models behind a matrix-free operator agree with the stored ---
# kernels: Lanczos stops at an estimated error of 1e-10 of the predictions
# (src/kgd_krylov.c), so the losses agree far inside 1e-8 relative
$NTKIT run --data "npy:$T/X.npy:$T/Y.npy" --n-test 30 --width 64 --steps 40 --log-every 40 \
    --models nn,ntk,ntk-inf --operator matrix-free --out "$T/rf" >/dev/null 2>"$T/err"
check '[ $? -eq 0 ]' "matrix-free 3-output run: $(cat "$T/err")"
$PY - "$T" <<'PYEOF' >"$T/py" 2>&1
import sys, csv
T = sys.argv[1]
a = list(csv.DictReader(open(T + "/r/metrics.csv")))[-1]
b = list(csv.DictReader(open(T + "/rf/metrics.csv")))[-1]
for k in ("ntk_train_loss", "ntk_test_loss", "ntk_inf_train_loss", "ntk_inf_test_loss"):
    x, y = float(a[k]), float(b[k])
    print(("ok " if abs(x - y) <= 1e-8 * abs(x) else "FAIL ") + k, x, y)
PYEOF
check '! grep -q FAIL "$T/py"' "dense and matrix-free kernel models: $(grep -v '^ok' "$T/py")"

# --- one-hot classes from an MNIST pair (POS,NEG = all) ----------------------
$NTKIT run --data "mnist:$T/img.idx:$T/lab.idx:all" --n-test 20 --width 32 --steps 10 \
    --log-every 5 --models nn,ntk-inf --out "$T/m" >"$T/out" 2>"$T/err"
check '[ $? -eq 0 ]' "mnist all: $(cat "$T/err")"
$PY -c "
import numpy as np, json
Y = np.load('$T/m/y_train.npy'); Yt = np.load('$T/m/y_test.npy')
lab = np.arange(60) % 10
ok = Y.shape == (40, 10) and Yt.shape == (20, 10) and (Y.argmax(1) == lab[:40]).all() \
    and (Yt.argmax(1) == lab[40:]).all() and (Y.sum(1) == 1).all() and set(np.unique(Y)) == {0.0, 1.0}
ok = ok and json.load(open('$T/m/config.json'))['outputs'] == 10
raise SystemExit(0 if ok else 1)"
check '[ $? -eq 0 ]' "mnist all: one-hot (n, 10) targets of the file's labels, 10 outputs"

$NTKIT train --data "cifar10:$T/c.bin:all" --n-test 5 --width 16 --steps 3 --quiet \
    --out "$T/c" >/dev/null 2>"$T/err"
check '[ $? -eq 0 ]' "cifar10 all: $(cat "$T/err")"
$PY -c "
import numpy as np
Y = np.load('$T/c/y_train.npy'); lab = (9 - np.arange(25)) % 10
raise SystemExit(0 if Y.shape == (20, 10) and (Y.argmax(1) == lab[:20]).all() and (Y.sum(1) == 1).all() else 1)"
check '[ $? -eq 0 ]' "cifar10 all: one-hot targets of the records' labels"

# --- bad combinations ---------------------------------------------------------
expect_error "outputs vs targets" "--outputs 4 but the targets have 3 columns" \
    $NTKIT run --data "npy:$T/X.npy:$T/Y.npy" --outputs 4 --steps 2 --out "$T/x"
check '[ ! -e "$T/x" ]' "a refused run writes no directory"
expect_error "outputs 0" "outputs" $NTKIT kernel --kind ntk --x "$T/X.npy" --outputs 0 --out "$T/K.npy"
expect_error "classes" "or 'all'" $NTKIT run --data "mnist:$T/img.idx:$T/lab.idx:every" --steps 2 --out "$T/x"

# a separate test file whose labels have other columns: refused, unless a
# target spec labels every row anyway
$PY -c "import numpy as np; np.save('$T/yt1.npy', np.ones(9)); np.save('$T/Xt9.npy', np.ones((9, 6)))"
expect_error "test labels' columns" "3 columns but those of test data" \
    $NTKIT run --data "npy:$T/X.npy:$T/Y.npy" --test "npy:$T/Xt9.npy:$T/yt1.npy" --steps 2 --out "$T/x"
$NTKIT run --data "npy:$T/X.npy:$T/Y.npy" --test "npy:$T/Xt9.npy:$T/yt1.npy" --target linear \
    --width 16 --steps 2 --quiet --models nn --out "$T/tl" >/dev/null 2>"$T/err"
check '[ $? -eq 0 ] && grep -q "\"outputs\":[[:space:]]*1" "$T/tl/config.json"' \
    "a target spec replaces both files' labels (one output): $(cat "$T/err")"

# --- kernels: --outputs 1 is the scalar network; k outputs average ------------
$NTKIT kernel --kind ntk --x "$T/X.npy" --width 32 --out "$T/K1.npy" >/dev/null 2>&1 &&
    $NTKIT kernel --kind ntk --x "$T/X.npy" --width 32 --outputs 1 --out "$T/K1b.npy" >/dev/null 2>&1 &&
    $NTKIT kernel --kind ntk --x "$T/X.npy" --width 32 --outputs 4 --out "$T/K4.npy" >/dev/null 2>&1
check '[ $? -eq 0 ] && cmp -s "$T/K1.npy" "$T/K1b.npy"' "--outputs 1 gives the scalar network's kernel, byte for byte"
check '! cmp -s "$T/K1.npy" "$T/K4.npy"' "a 4-output network's kernel differs from the scalar one (other weights)"

finish
