"""Two run directories of `ntkit train` or `ntkit run` against each other:
usage rundir_agree.py SCRATCH MINE REF TOL. The final weights, the --predict
files, every metrics.csv column but the seconds (the logged steps exactly)
and every number of summary.json but the timings, each as an array's
max-norm difference relative to the reference's largest entry, must be at
most TOL; NaN must sit in the same places. Prints the worst difference.
(tests/mpi/mpi_train.sh and mpi_run.sh give the tolerance's derivation.)"""
import sys, os, glob, json, numpy as np
t, mine, ref, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
worst, what = 0.0, ""
def cmp(a, b, name):
    global worst, what
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape: sys.exit(f"{name}: shape {a.shape} against {b.shape}")
    if not np.array_equal(np.isnan(a), np.isnan(b)): sys.exit(f"{name}: NaN in other places")
    a, b = np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
    scale = np.max(np.abs(b)) if b.size else 0.0
    e = np.max(np.abs(a - b)) / scale if scale > 0 else (0.0 if np.all(a == 0) else np.inf)
    if not e <= worst: worst, what = e, name
files = sorted(os.path.basename(f) for f in glob.glob(f"{ref}/*.npy")
               if f.endswith("_final.npy") or os.path.basename(f) in ("W.npy", "v.npy")
               or os.path.basename(f).startswith("predict_"))
if not any(f.endswith("_final.npy") or f == "W.npy" for f in files): sys.exit("no final weights in " + ref)
for f in files: cmp(np.load(f"{mine}/{f}"), np.load(f"{ref}/{f}"), f)
A = np.genfromtxt(f"{mine}/metrics.csv", delimiter=",", names=True)
B = np.genfromtxt(f"{ref}/metrics.csv", delimiter=",", names=True)
if A.dtype.names != B.dtype.names or len(A) != len(B): sys.exit("metrics.csv: other columns or rows")
if not np.array_equal(A[B.dtype.names[0]], B[B.dtype.names[0]]): sys.exit("metrics.csv: other steps")
for c in B.dtype.names:
    if c != "seconds": cmp(A[c], B[c], "metrics.csv " + c)
timing = {"setup_seconds", "loop_seconds", "seconds", "steps_per_second"}
def walk(a, b, path):
    if isinstance(b, dict):
        if set(a) != set(b): sys.exit(f"summary.json{path}: keys {sorted(set(a) ^ set(b))}")
        for k in b:
            if k not in timing: walk(a[k], b[k], f"{path}.{k}")
    elif isinstance(b, (int, float)) and not isinstance(b, bool):
        if not isinstance(a, (int, float)) or isinstance(a, bool): sys.exit(f"summary.json{path}: {a!r} against {b!r}")
        cmp(a, b, "summary.json" + path)
    elif a != b:
        sys.exit(f"summary.json{path}: {a!r} against {b!r}")
walk(json.load(open(f"{mine}/summary.json")), json.load(open(f"{ref}/summary.json")), "")
print(f"  {mine}: worst relative difference {worst:.3g} ({what})")
sys.exit(0 if worst <= tol else f"{worst:.3g} > {tol:g} in {what}")
