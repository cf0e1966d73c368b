"""Shared pieces of the Python tests: the package on sys.path, the CLI
binary, numpy reference formulas (written out here, independently of the
library) and a few fixtures."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # python/, for `import ntkit`
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

import ntkit  # noqa: E402

__all__ = ["ntkit", "CLI", "HAVE_CLI", "REPO", "cli_run", "read_csv", "TempDir", "PHI", "forward",
           "jacobian", "relu_inf", "data", "scale"]

CLI = os.environ.get("NTKIT") or os.path.join(REPO, "build", "ntkit")
HAVE_CLI = os.access(CLI, os.X_OK)


def cli_run(args, tmpdir):
    """Run `ntkit ARGS --out tmpdir/run --quiet`; returns the run directory."""
    out = os.path.join(tmpdir, "run")
    res = subprocess.run([CLI] + list(args) + ["--out", out, "--quiet"], capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise AssertionError("ntkit %s failed: %s" % (" ".join(args), res.stderr))
    return out


def read_csv(path):
    """metrics.csv as {column: float array} (empty cells: NaN)."""
    with open(path) as fp:
        names = fp.readline().strip().split(",")
        rows = [[float(v) if v else np.nan for v in line.strip().split(",")] for line in fp if line.strip()]
    a = np.array(rows)
    return {name: a[:, j] for j, name in enumerate(names)}


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ntkit-py-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


# ---- numpy references ---------------------------------------------------

def _erf(x):
    from math import erf
    return np.vectorize(erf)(x)


PHI = {
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "erf": (_erf, lambda z: 2 / np.sqrt(np.pi) * np.exp(-z * z)),
}


def scale(d, input_scale):
    return np.sqrt(d) if input_scale == "sqrt_d" else 1.0


def forward(W, v, X, act="relu", alpha=1.0, input_scale="sqrt_d"):
    """f(x) = α/√m Σ_r v_r φ(w_r·x/s), X (n,d) -> (n,)."""
    m, d = W.shape
    Z = X @ W.T / scale(d, input_scale)
    return alpha / np.sqrt(m) * PHI[act][0](Z) @ v


def jacobian(W, v, X, act="relu", alpha=1.0, input_scale="sqrt_d"):
    """Explicit Jacobian (n, m·d + m) of f w.r.t. [vec W ; v] (row-major W)."""
    m, d = W.shape
    s = scale(d, input_scale)
    phi, dphi = PHI[act]
    Z = X @ W.T / s
    n = X.shape[0]
    JW = (alpha / np.sqrt(m) * (dphi(Z) * v)[:, :, None] * X[:, None, :] / s).reshape(n, m * d)
    Jv = alpha / np.sqrt(m) * phi(Z)
    return JW, Jv


def relu_inf(X1, X2, alpha=1.0, s=None):
    """Θ1∞, Θ2∞ for relu from the arc-cosine closed form (docs/theory.md §3.3)."""
    d = X1.shape[1]
    s = np.sqrt(d) if s is None else s
    n1 = np.linalg.norm(X1, axis=1) / s
    n2 = np.linalg.norm(X2, axis=1) / s
    c = X1 @ X2.T / s ** 2
    nn = np.outer(n1, n2)
    rho = np.clip(c / nn, -1, 1)
    th = np.arccos(rho)
    if X1 is X2:
        np.fill_diagonal(th, 0.0)   # exact; arccos(1 − ε) would add √ε
    Sig = nn / (2 * np.pi) * (np.sin(th) + (np.pi - th) * np.cos(th))
    dSig = (np.pi - th) / (2 * np.pi)
    return alpha ** 2 * c * dSig, alpha ** 2 * Sig


def data(n=20, d=5, seed=0, nt=0):
    """Gaussian inputs and a linear teacher, as (X, y) or (X, y, Xt, yt)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + nt, d))
    beta = rng.standard_normal(d)
    y = X @ beta / np.sqrt(d)
    if nt:
        return X[:n], y[:n], X[n:], y[n:]
    return X, y
