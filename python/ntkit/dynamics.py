"""Closed-form kernel gradient descent and kernel ridge regression
(docs/theory.md §6, src/kgd.c).

    u(t) − y = (I − c·η K)^t (u(0) − y)      GD, t steps
    u(t) − y = exp(−c·η t K) (u(0) − y)      gradient flow, time t
    c = 1/n (loss "mean") or 1 (loss "sum")

GD is stable when c·η·λ_max(K) <= 2 (docs/theory.md §6.3); above it the
modes with λ > 2/(c·η) grow as |1 − c·η·λ|^t, so the library refuses such a
rate unless allow_unstable=True is passed (gradient flow is always stable).
"""
import ctypes
import zlib
from ctypes import byref

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays
from ._args import bool_arg, float_arg, size_arg
from ._lib import as_array, check, lib, parse_loss

# the library's names of ntk_kgd_create's and the predictions' arguments -> the caller's
_NAMES = {"ntk_kgd_create": "gradient_descent_mse", "ntk_kgd_predict_train": "predict",
          "ntk_kgd_predict_test": "predict", "u0": "f0_train", "K": "K_train", "y": "y_train",
          "K_test": "K_test_train",
          "allow the unstable dynamics explicitly":
              "allow the unstable dynamics explicitly with allow_unstable=True"}


METHODS = {"auto": 0, "eig": 1, "krylov": 2}


class KernelGD:
    """Predictions of kernel GD on K_train (n,n), y_train (n,) or (n, k) (K
    acts on each of the k output columns); made by gradient_descent_mse.
    Call it as predict(t, f0_train, f0_test=None, K_test_train=None).

    Args (as gradient_descent_mse, which documents them):
      K_train: (n, n) symmetric kernel.
      y_train: (n,) or (n, k) targets.
      lr: the rate multiplying K.
      loss: "mean" (c = 1/n) or "sum" (c = 1).
      flow: True for gradient flow.
      method: "auto", "eig" or "krylov".
      t_max: the Krylov horizon (0: none).
      allow_unstable: GD with c·lr·λ_max(K_train) > 2 is refused (ValueError
        at the first use) unless it is True; then the predictions follow the
        growing modes, until they overflow (DivergedError).
      krylov_kmax: the most Lanczos vectors per output (0: the default).

    The C object (ntk_kgd: an eigendecomposition of K, or a Lanczos basis
    built from r0 = y − f0_train) is built on first use and rebuilt only
    when a call passes different f0_train values (the last one is cached by
    content). K_train and y_train are referenced, not copied (K can be
    large), and read at each build; a checksum taken when the predictor is
    made is compared at each build, so changing them in place afterwards
    raises ValueError instead of mixing two kernels silently.
    """

    def __init__(self, K_train: ArrayLike, y_train: ArrayLike, lr: float = 1.0,
                 loss: str = "mean", flow: bool = False, method: str = "auto",
                 t_max: float = 0.0, allow_unstable: bool = False, krylov_kmax: int = 0):
        self._K = _arrays.square(K_train, "K_train")
        self.n = self._K.shape[0]
        self._y = _arrays.targets(y_train, "y_train", self.n)
        self.k = 1 if self._y.ndim == 1 else self._y.shape[1]
        self._sum = self._checksum()
        self.lr = float_arg(lr, "lr")
        self.loss = loss
        self._loss = parse_loss(loss)
        self.flow = bool_arg(flow, "flow")
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError("method must be 'auto', 'eig' or 'krylov', got %r" % (method,))
        self.method = method
        t_max = float_arg(t_max, "t_max")
        if not t_max >= 0:
            raise ValueError("t_max must be >= 0 (0: no horizon), got %r" % (t_max,))
        self.t_max = t_max
        self.allow_unstable = bool_arg(allow_unstable, "allow_unstable")
        self.krylov_kmax = size_arg(krylov_kmax, "krylov_kmax")
        self._h = None
        self._key = None

    def close(self):
        """Free the C object (idempotent; a later call rebuilds it)."""
        h, self._h = self._h, None
        self._key = None
        if h is not None and lib is not None:
            lib.ntk_kgd_free(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _checksum(self):
        # CRC-32 of the bytes: about 1 GB/s, small next to the O(n³) or Krylov build
        return zlib.crc32(memoryview(self._y).cast("B"), zlib.crc32(memoryview(self._K).cast("B")))

    def _handle(self, f0):
        key = f0.tobytes()
        if self._h is None or key != self._key:
            if self._checksum() != self._sum:
                raise ValueError("K_train or y_train was changed in place after the predictor was "
                                 "made; make a new one with gradient_descent_mse (or pass a copy)")
            self.close()
            cfg = lib.ntk_kgd_config_default()
            cfg.lr, cfg.loss, cfg.method = self.lr, self._loss, METHODS[self.method]
            cfg.t_max, cfg.flow = self.t_max, int(self.flow)
            cfg.allow_unstable = int(self.allow_unstable)
            cfg.outputs = self.k
            cfg.krylov_kmax = self.krylov_kmax
            h = ctypes.c_void_p()
            check(lib.ntk_kgd_create(self._K, self.n, self._y, f0, byref(cfg), byref(h)),
                  names=_NAMES)
            self._h, self._key = h, key
        return self._h

    def _current(self, f0_train):
        if f0_train is not None:
            return self._handle(_arrays.like(f0_train, "f0_train", self._y.shape))
        return self._h if self._h is not None else self._handle(np.zeros(self._y.shape))

    def evals(self, f0_train: Optional[ArrayLike] = None) -> Optional[np.ndarray]:
        """Eigenvalues of K_train (n,), ascending (method "eig"; None for a
        Krylov basis, see extremes()).

        Args:
          f0_train: the starting predictions the C object is built for (None:
            the last ones, or 0).
        """
        ev = as_array(lib.ntk_kgd_evals(self._current(f0_train)), (self.n,))
        return _arrays.result(ev, "eigenvalues of K_train", K_train=self._K)

    def extremes(self, f0_train: Optional[ArrayLike] = None) -> Dict[str, Any]:
        """dict(lmin, lmax, exact): λ_min, λ_max of K_train; for a Krylov
        basis (exact False) the extreme Ritz values (lmin only an upper bound).

        Args:
          f0_train: the starting predictions the C object is built for (None:
            the last ones, or 0).
        """
        lo, hi, ex = ctypes.c_double(), ctypes.c_double(), ctypes.c_int()
        check(lib.ntk_kgd_extremes(self._current(f0_train), byref(lo), byref(hi), byref(ex)))
        out = _arrays.result_dict({"lmin": lo.value, "lmax": hi.value}, "extremes",
                                  K_train=self._K)
        out["exact"] = bool(ex.value)
        return out

    def info(self, f0_train: Optional[ArrayLike] = None) -> Dict[str, Any]:
        """dict(method "eig"|"krylov", k = basis size (n for eig), err_est =
        estimated relative error of the predictions; +Inf when krylov_kmax
        stopped the basis before an estimate).

        Args:
          f0_train: the starting predictions the C object is built for (None:
            the last ones, or 0).
        """
        meth, k, err = ctypes.c_int(), ctypes.c_size_t(), ctypes.c_double()
        check(lib.ntk_kgd_info(self._current(f0_train), byref(meth), byref(k), byref(err)))
        name = {v: n for n, v in METHODS.items()}[meth.value]
        # +Inf: the basis reached krylov_kmax before a second estimate (no bound known)
        est = err.value if err.value == np.inf else _arrays.result(err.value, "err_est",
                                                                     K_train=self._K)
        return {"method": name, "k": k.value, "err_est": est}

    def __call__(self, t: ArrayLike, f0_train: Optional[ArrayLike] = None,
                 f0_test: Optional[ArrayLike] = None, K_test_train: Optional[ArrayLike] = None
                 ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Predictions at time(s) t (steps for GD, time for flow).

        t            a scalar or an array of shape (T,) (any shape works)
        f0_train     predictions at t = 0 on the training set, shaped like
                     y_train: (n,) or (n, k) (None: 0)
        f0_test      predictions at t = 0 on the test set (nt,) or (nt, k) (None: 0)
        K_test_train test×train kernel (nt,n), scaled like K_train

        Returns f_train of shape t.shape + y_train.shape, or (f_train, f_test)
        with f_test of shape t.shape + (nt,) or t.shape + (nt, k) when
        K_test_train is given.
        """
        n, ys = self.n, self._y.shape
        f0 = np.zeros(ys) if f0_train is None else _arrays.like(f0_train, "f0_train", ys)
        Kt = None
        if K_test_train is not None:
            Kt = _arrays.matrix(K_test_train, "K_test_train", cols=n)
            nt = Kt.shape[0]
            ts_shape = (nt,) + ys[1:]
            f0t = (np.zeros(ts_shape) if f0_test is None
                   else _arrays.like(f0_test, "f0_test", ts_shape))
        elif f0_test is not None:
            raise ValueError("f0_test needs K_test_train")
        ts = _times(t)
        h = self._handle(f0)
        flat = ts.ravel()
        out = _arrays.empty((flat.size,) + ys, "the training predictions")
        out_t = (_arrays.empty((flat.size,) + ts_shape, "the test predictions")
                 if Kt is not None else None)
        for j, tj in enumerate(flat):
            check(lib.ntk_kgd_predict_train(h, float(tj), int(self.flow), out[j]), names=_NAMES)
            if Kt is not None:
                check(lib.ntk_kgd_predict_test(h, float(tj), int(self.flow), Kt, nt, f0t,
                                               out_t[j]), names=_NAMES)
        inputs = dict(K_train=self._K, y_train=self._y, f0_train=f0, t=flat, lr=self.lr)
        f_train = _arrays.result(out, "kernel GD training predictions", **inputs)
        f_train = f_train.reshape(ts.shape + ys)
        if Kt is None:
            return f_train
        out_t = _arrays.result(out_t, "kernel GD test predictions", K_test_train=Kt, f0_test=f0t,
                               **inputs)
        return f_train, out_t.reshape(ts.shape + ts_shape)


def _times(t):
    """t as a float64 array of finite times >= 0 (ValueError naming t otherwise)."""
    ts = np.asarray(t)
    if ts.dtype.kind not in "iuf":
        raise ValueError("t must be a time or an array of times (real numbers >= 0), got %r"
                         % (t,))
    ts = ts.astype(np.float64)
    bad = ~(np.isfinite(ts) & (ts >= 0))
    if bad.any():
        raise ValueError("t must be finite and >= 0, got %r" % float(ts[bad].flat[0]))
    return ts


def gradient_descent_mse(K_train: ArrayLike, y_train: ArrayLike, lr: float = 1.0,
                         loss: str = "mean", flow: bool = False, method: str = "auto",
                         t_max: float = 0.0, allow_unstable: bool = False,
                         krylov_kmax: int = 0) -> KernelGD:
    """Closed-form kernel GD (or gradient flow) on the squared loss: ntkit's own form.

    The discrete steps u ← u − c·lr·K (u − y) by default, as the network's
    full-batch GD; for neural-tangents' signature and conventions (gradient
    flow on ‖f − y‖²/(2·y_train.size), t = None for the converged solution,
    diag_reg) use ntkit.predict.gradient_descent_mse.

    Args:
      K_train: (n, n) symmetric kernel on the training points.
      y_train: (n,) targets, or (n, k) for k outputs (K acts on each column).
      lr: the rate; it multiplies K (pass 1 when K_train already holds
        η1Θ1 + η2Θ2).
      loss: "mean" (c = 1/n, n the number of rows) or "sum" (c = 1).
      flow: True for gradient flow, where t is a time rather than a step count.
      method: "eig" (exact eigendecomposition, O(n³)), "krylov" (Lanczos from
        y − f0_train, at most ntkit.DEFAULTS["kgd_krylov_kmax"] vectors per
        output) or "auto" (eig for n <= ntkit.DEFAULTS["kgd_eig_max_n"],
        krylov above).
      t_max: for krylov, the largest t that will be asked for (0: any t; a
        horizon makes the basis smaller and later t are refused).
      allow_unstable: GD (flow=False) with c·lr·λ_max(K_train) > 2 diverges
        (docs/theory.md §6.3) and is refused with a ValueError when the
        predictor is first used, unless allow_unstable=True.
      krylov_kmax: for krylov, the most Lanczos vectors kept per output (n
        doubles each; 0: ntkit.DEFAULTS["kgd_krylov_kmax"]); a smaller cap
        bounds the memory, and info()["err_est"] reports the error reached.

    Returns:
      predict(t, f0_train=None, f0_test=None, K_test_train=None), a KernelGD.
    """
    return KernelGD(K_train, y_train, lr, loss, flow, method, t_max, allow_unstable, krylov_kmax)


def kernel_ridge(K_train: ArrayLike, y_train: ArrayLike, ridge: float) -> np.ndarray:
    """Kernel ridge coefficients (ridge·I + K)^{-1} y by one Cholesky factorisation.

    Args:
      K_train: (n, n) symmetric kernel.
      y_train: (n,) targets, or (n, k) for k outputs (one factorisation for all).
      ridge: the ridge λ >= 0 added to the diagonal.

    Returns:
      The coefficients, shaped like y_train; predictions are K_test_train @ coef
      (kernel_ridge_predict).

    Raises:
      numpy.linalg.LinAlgError when ridge·I + K is not positive definite.
    """
    K = _arrays.square(K_train, "K_train")
    n = K.shape[0]
    y = _arrays.targets(y_train, "y_train", n)
    k = 1 if y.ndim == 1 else y.shape[1]
    coef = np.empty(y.shape)
    check(lib.ntk_kernel_ridge(K, n, y, k, float_arg(ridge, "ridge"), coef),
          names={"ntk_kernel_ridge": "kernel_ridge", "K": "K_train", "y": "y_train"})
    return _arrays.result(coef, "kernel ridge coefficients", K_train=K, y_train=y)


def kernel_ridge_predict(K_test_train: ArrayLike, coef: ArrayLike) -> np.ndarray:
    """Predictions K_test_train (nt, n) @ coef ((n,) or (n, k)) -> (nt,) or (nt, k)."""
    K = _arrays.matrix(K_test_train, "K_test_train")
    coef = _arrays.targets(coef, "coef", K.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        f = K @ coef
    return _arrays.result(f, "kernel ridge predictions", K_test_train=K, coef=coef)
