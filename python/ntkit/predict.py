"""Predictions of kernel regimes in neural-tangents' form: the same signatures,
conventions and return shapes as neural_tangents.predict, so that ported code
gives the same numbers, computed by the C library (an eigendecomposition for
gradient flow at finite t, a Cholesky solve for t = ∞).

Conventions (as neural-tangents):
  - training minimises ‖f − y‖² / (2·y_train.size) by gradient flow, so with
    N = y_train.size (n·k for y of shape (n, k)) and absolute time
    τ = learning_rate·t,
        f_train(t) = y + exp(−τ K / N) (f_train(0) − y),
        f_test(t)  = f_test(0) + K_test,train K⁻¹ (I − exp(−τ K / N)) (y − f_train(0));
    (Jacot et al. 2018; Lee et al. 2019, eq. 9–10); K acts on each output column;
  - t = None is t = ∞, computed by a Cholesky solve;
  - diag_reg adds diag_reg·mean(diag K)·I to K (diag_reg·I with
    diag_reg_absolute_scale=True), both in the solve and in the flow;
  - t may be a scalar or an array of any shape: its shape leads the results';
  - the infinite ensemble (gradient_descent_mse_ensemble, gp_inference) gives
    the mean and covariance of the outputs of infinitely many infinitely wide
    networks (Lee et al. 2019, eq. 13–16).

ntkit's own discrete-step kernel GD is ntkit.gradient_descent_mse.
"""
import collections
import ctypes
import re
from ctypes import byref
from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays, _predict_op
from ._args import bool_arg, float_arg, int_arg, size_arg
from ._handle import Owned
from ._lib import LinAlgError, check, lib
from .kernels import Kernel
from .operators import KernelOperator
from .spectrum import spectrum_summary

__all__ = ["gradient_descent_mse", "gp_inference", "gradient_descent_mse_ensemble",
           "max_learning_rate", "Kernel", "Gaussian"]

_LOSS_SUM = 1      # ntk_loss_kind NTK_LOSS_SUM: the rate below carries 1/N
_KGD_EIG = 1       # ntk_kgd_method NTK_KGD_EIG: exact, as neural-tangents' eigh

Times = Union[None, float, ArrayLike]
Get = Union[None, str, Sequence[str]]


class Gaussian(NamedTuple):
    """A (mean, covariance) pair: mean shaped like the outputs (leading time
    axes first), covariance (..., n, n) over the points (shared by the output
    columns)."""
    mean: np.ndarray
    covariance: np.ndarray


# ----------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------

def _nonneg(x, name):
    v = float_arg(x, name)
    if v < 0:
        raise ValueError("%s must be >= 0, got %r" % (name, v))
    return v


def _ridge(K, diag_reg, absolute):
    """The absolute ridge: diag_reg, or diag_reg·mean(diag K) (neural-tangents'
    default, relative to the kernel's scale)."""
    return diag_reg if absolute else diag_reg * float(np.trace(K)) / K.shape[0]


def _times(t):
    """t as a float64 array of finite times >= 0."""
    ts = np.asarray(t)
    if ts.dtype.kind not in "iuf":
        raise ValueError("t must be None (t = ∞) or a time or array of times, got %r" % (t,))
    ts = ts.astype(np.float64)
    bad = ~(np.isfinite(ts) & (ts >= 0))
    if bad.any():
        raise ValueError("t must be finite and >= 0 (t=None gives the converged solution, "
                         "t = ∞), got %r" % float(ts[bad].flat[0]))
    return ts


def _broadcast(v, name, shape):
    """v (a scalar or an array) broadcast to `shape` as a new finite float64 array."""
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        raise ValueError("%s must hold real numbers, got %r" % (name, v))
    try:
        b = np.broadcast_to(a.astype(np.float64), shape)
    except ValueError:
        raise ValueError("%s has shape %s, which does not broadcast to %s"
                         % (name, a.shape, tuple(shape))) from None
    return _arrays.finite(np.ascontiguousarray(b), name)


def _part(obj, g, name):
    """The `g` kernel ("nngp" or "ntk") of obj: its attribute (a Kernel or any
    object with nngp/ntk fields), its item (a mapping), or obj itself (an array,
    used for every g)."""
    if isinstance(obj, np.ndarray):
        return obj
    if hasattr(obj, g):
        v = getattr(obj, g)
    elif isinstance(obj, collections.abc.Mapping):
        v = obj.get(g)
    elif isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return obj
    else:
        raise ValueError("%s has no %r kernel: pass ntkit.Kernel(nngp=..., ntk=...) or an array"
                         % (name, g))
    if v is None:
        raise ValueError("%s.%s is None, but get asks for the %s kernel: compute it (e.g. "
                         "ntkit.Kernel(nngp=..., ntk=...))" % (name, g, g))
    return v


def _get_names(get, allowed):
    """get -> (names, single): None means every name in `allowed`[:2]."""
    if get is None:
        return ("nngp", "ntk"), False
    if isinstance(get, str):
        names, single = (get,), True
    else:
        names, single = tuple(get), False
    if not names or any(g not in allowed for g in names):
        raise ValueError("get must be one of %s, a tuple of them, or None (both 'nngp' and "
                         "'ntk'), got %r" % (", ".join(repr(a) for a in allowed), get))
    return names, single


_GAUSSIANS = {}


def _pack(out, names, single):
    """One result for a single name, else a namedtuple Gaussians with one field each."""
    if single:
        return out[names[0]]
    if names not in _GAUSSIANS:
        _GAUSSIANS[names] = collections.namedtuple("Gaussians", names)
    return _GAUSSIANS[names](**out)


# ----------------------------------------------------------------------
# The library's solvers
# ----------------------------------------------------------------------

def _solve(K, R, ridge, name):
    """(K + ridge·I)⁻¹ R for R (n, c), by one Cholesky factorisation (ntk_kernel_ridge);
    numpy.linalg.LinAlgError naming `name` when K + ridge·I is not positive definite."""
    R = np.ascontiguousarray(R)
    A = _arrays.empty(R.shape, "the solution of the kernel system")
    st = lib.ntk_kernel_ridge(K, K.shape[0], R, R.shape[1], ridge, A)
    if st != 0:
        msg = lib.ntk_errmsg().decode("utf-8", "replace")
        try:
            check(st, msg=msg, names={"K": name})
        except LinAlgError:
            minor = re.search(r"leading minor (\d+)", msg)
            where = ("at leading minor %s" % minor.group(1)) if minor else "(%s)" % msg
            exc = LinAlgError("%s + %g·I is not positive definite: its Cholesky factorisation "
                              "fails %s; pass diag_reg > 0, e.g. 1e-6 (relative to the mean "
                              "diagonal) or larger" % (name, ridge, where))
            exc.status = "NTK_ERR_LAPACK"
            raise exc from None
    return A


class _Flow(Owned):
    """Gradient flow of kernel regression in closed form (ntk_kgd, EIG, flow):
    K = QΛQᵀ once, then for targets Y (n, c) and starting values U0 (n, c)
        train(t) = Y − exp(−r t K) (Y − U0),
        test(t, Kt) = Kt h_t(K) (Y − U0),  h_t(λ) = (1 − e^{−r t λ})/λ,
    with r = `rate` (learning_rate / N); every column at once."""

    _free = "ntk_kgd_free"
    _what = "flow predictor"

    def __init__(self, K, Y, U0, rate, names):
        self._h = None
        self.n, self.c = Y.shape
        cfg = lib.ntk_kgd_config_default()
        cfg.lr, cfg.loss, cfg.method, cfg.flow, cfg.outputs = rate, _LOSS_SUM, _KGD_EIG, 1, self.c
        h = ctypes.c_void_p()
        check(lib.ntk_kgd_create(K, self.n, Y, U0, byref(cfg), byref(h)), names=names)
        self._h = h
        self.names = names
        self.K = K   # referenced by the caller too; read again by the ensemble

    def train(self, t):
        out = _arrays.empty((self.n, self.c), "the training predictions")
        check(lib.ntk_kgd_predict_train(self.handle, float(t), 1, out), names=self.names)
        return out

    def test(self, t, Kt, F0=None):
        nt = Kt.shape[0]
        out = _arrays.empty((nt, self.c), "the test predictions")
        check(lib.ntk_kgd_predict_test(self.handle, float(t), 1, Kt, nt, F0, out),
              names=self.names)
        return out


_X_TEST_NEEDS_OPERATOR = (
    "x_test needs k_train_train as an ntkit.KernelOperator (which computes the cross kernel); "
    "with kernel arrays pass k_test_train")


def _cg(rtol, max_iter, precond_rank):
    """The conjugate-gradient settings of the operator form, checked."""
    rtol = float_arg(rtol, "cg_rtol")
    if not 0 < rtol < 1:
        raise ValueError("cg_rtol must be in (0, 1), e.g. 1e-8; got %r" % rtol)
    max_iter = size_arg(max_iter, "cg_max_iter", 1)
    if isinstance(precond_rank, str):
        if precond_rank != "auto":
            raise ValueError("precond_rank must be 'auto' or an integer >= 0, got %r"
                             % (precond_rank,))
    else:
        precond_rank = size_arg(precond_rank, "precond_rank")
    return _predict_op.CG(rtol, max_iter, precond_rank)


def _regularised(K, ridge):
    if ridge == 0:
        return K
    Kr = K.copy()
    Kr[np.diag_indices_from(Kr)] += ridge
    return Kr


# ----------------------------------------------------------------------
# gradient_descent_mse
# ----------------------------------------------------------------------

def gradient_descent_mse(k_train_train: Union[ArrayLike, KernelOperator], y_train: ArrayLike,
                         learning_rate: float = 1.0, diag_reg: float = 0.0,
                         diag_reg_absolute_scale: bool = False, *, cg_rtol: float = 1e-8,
                         cg_max_iter: int = 1000, precond_rank: Union[str, int] = "auto"
                         ) -> Callable[..., Any]:
    """Gradient flow on the mean squared error in function space, in closed form
    (neural-tangents' predict.gradient_descent_mse).

    The loss is ‖f − y‖² / (2·y_train.size), so at absolute time τ = learning_rate·t
        f_train(t) = y + exp(−τ K / y_train.size) (f_train(0) − y)
    and test points follow through k_test_train. The first finite-t call
    eigendecomposes K (O(n³)); later calls with the same fx_train_0 reuse it.
    t = None solves (K + reg·I) A = y − f_train(0) by Cholesky instead.

    Operator form: k_train_train may be an ntkit.KernelOperator, for sizes
    where K cannot be stored (docs/theory.md §9). Then only products with K
    are used: t = None solves (K + reg·I) A = y − f_train(0) by
    preconditioned conjugate gradients (each output column to relative
    residual cg_rtol, so A is within cg_rtol·‖y − f_train(0)‖/(λ_min(K) + reg)
    of the exact solution); finite t applies the flow of K by Lanczos on the
    operator (the exact eigendecomposition for a stored kernel of at most
    ntkit.DEFAULTS["kgd_eig_max_n"] points; the Krylov error estimate, about
    1e-10·‖y − f_train(0)‖, is in predict_fn.info()), with diag_reg > 0
    adding one conjugate-gradient solve for all the t of a call. Test points
    are passed as x_test (the operator computes K(x_test, X)·A in row tiles,
    never storing it) or as k_test_train.

    Args:
      k_train_train: (n, n) symmetric kernel on the training points (an NTK
        for a network's gradient descent, an NNGP kernel for its last layer),
        or an ntkit.KernelOperator (the operator form above).
      y_train: (n,) or (n, k) targets; K acts on each of the k columns, and
        y_train.size = n·k normalises the loss.
      learning_rate: the rate η >= 0; time is counted in units of it
        (absolute time η·t).
      diag_reg: regularisation added to the diagonal of k_train_train, in the
        Cholesky solve and in the eigendecomposition.
      diag_reg_absolute_scale: False (default): the ridge is
        diag_reg·mean(diag k_train_train); True: diag_reg itself.
      cg_rtol: operator form: the relative residual the conjugate-gradient
        solves reach, in (0, 1).
      cg_max_iter: operator form: the operator products a solve may take
        (ntkit.ConvergenceError beyond).
      precond_rank: operator form: the rank of the Nyström preconditioner
        (0: none; "auto": as ntkit.KernelOperator.solve).

    Returns:
      predict_fn(t=None, fx_train_0=0., fx_test_0=None, k_test_train=None,
      x_test=None):
        t: None (t = ∞) or a time or array of times >= 0 of any shape.
        fx_train_0: outputs at t = 0 on the training points: a scalar or an
          array broadcasting to y_train's shape; None: do not predict the
          training points (and start from 0).
        fx_test_0: outputs at t = 0 on the test points, a scalar or an array
          broadcasting to (n_test,) + y_train.shape[1:]; None: no test
          predictions.
        k_test_train: (n_test, n) kernel between test and training points;
          needed with fx_test_0 (operator form: or x_test).
        x_test: operator form: the (n_test, d) test points, whose cross
          kernel the operator computes.
      It returns fx_train_t, or fx_test_t when fx_train_0 is None, or
      (fx_train_t, fx_test_t), each with t.shape leading. At t = None the
      training predictions are y_train itself.

    Raises:
      ValueError for bad shapes or values, numpy.linalg.LinAlgError when
      k_train_train + reg·I is not positive definite (t = None),
      ntkit.ConvergenceError when a conjugate-gradient solve stops at
      cg_max_iter (operator form).
    """
    if _predict_op.is_operator(k_train_train):
        return _predict_op.gradient_descent_mse(
            k_train_train, y_train, _nonneg(learning_rate, "learning_rate"),
            _nonneg(diag_reg, "diag_reg"),
            bool_arg(diag_reg_absolute_scale, "diag_reg_absolute_scale"),
            _cg(cg_rtol, cg_max_iter, precond_rank))
    _cg(cg_rtol, cg_max_iter, precond_rank)   # checked on every path
    K = _arrays.square(k_train_train, "k_train_train")
    n = K.shape[0]
    y = _arrays.targets(y_train, "y_train", n)
    rate = _nonneg(learning_rate, "learning_rate") / y.size
    ridge = _ridge(K, _nonneg(diag_reg, "diag_reg"),
                   bool_arg(diag_reg_absolute_scale, "diag_reg_absolute_scale"))
    y2 = y.reshape(n, -1)
    names = {"K": "k_train_train", "y": "y_train", "u0": "fx_train_0", "K_test": "k_test_train"}
    cache = {}

    def solved(r0):
        key = ("solve", r0.tobytes())
        if cache.get("solve_key") != key:
            cache["solve"] = _solve(K, r0, ridge, "k_train_train")
            cache["solve_key"] = key
        return cache["solve"]

    def flow(u0):
        key = u0.tobytes()
        if cache.get("flow_key") != key:
            cache.pop("flow", None)
            cache["flow"] = _Flow(_regularised(K, ridge), y2, u0, rate, names)
            cache["flow_key"] = key
        return cache["flow"]

    def predict_fn(t: Times = None, fx_train_0: Optional[ArrayLike] = 0.0,
                   fx_test_0: Optional[ArrayLike] = None,
                   k_test_train: Optional[ArrayLike] = None, x_test: Optional[ArrayLike] = None):
        """Predictions at time(s) t: fx_train_t, fx_test_t or both (see
        ntkit.predict.gradient_descent_mse for the arguments)."""
        if x_test is not None:
            raise ValueError(_X_TEST_NEEDS_OPERATOR)
        if fx_test_0 is not None and k_test_train is None:
            raise ValueError("fx_test_0 needs k_test_train, the (n_test, n) kernel between the "
                             "test and the training points")
        f0 = None if fx_train_0 is None else _broadcast(fx_train_0, "fx_train_0", y.shape)
        Kt = f0t = None
        if fx_test_0 is not None:
            Kt = _arrays.matrix(k_test_train, "k_test_train", cols=n)
            f0t = _broadcast(fx_test_0, "fx_test_0", (Kt.shape[0],) + y.shape[1:])
        if t is None:
            train = y.copy()
            if Kt is None:
                return train
            A = solved(y2 if f0 is None else (y - f0).reshape(n, -1))
            with np.errstate(over="ignore", invalid="ignore"):
                test = f0t + (Kt @ A).reshape(f0t.shape)
            test = _arrays.result(test, "fx_test_t", k_test_train=Kt, y_train=y)
            return test if f0 is None else (train, test)
        if f0 is None and Kt is None:
            raise ValueError("fx_train_0 and fx_test_0 are both None: nothing to predict")
        ts = _times(t)
        u0 = np.zeros_like(y2) if f0 is None else f0.reshape(n, -1)
        fl = flow(u0)
        flat = ts.ravel()
        train = test = None
        if f0 is not None:
            train = np.stack([fl.train(tj) for tj in flat]) if flat.size else \
                np.empty((0,) + y.shape)
            train = train.reshape(ts.shape + y.shape)
        if Kt is not None:
            F0 = f0t.reshape(Kt.shape[0], -1)
            test = np.stack([fl.test(tj, Kt, F0) for tj in flat]) if flat.size else \
                np.empty((0,) + f0t.shape)
            test = test.reshape(ts.shape + f0t.shape)
        if test is None:
            return train
        return test if train is None else (train, test)

    return predict_fn


# ----------------------------------------------------------------------
# gp_inference
# ----------------------------------------------------------------------

def gp_inference(k_train_train: Union[Kernel, ArrayLike, KernelOperator], y_train: ArrayLike,
                 diag_reg: float = 0.0, diag_reg_absolute_scale: bool = False, *,
                 cg_rtol: float = 1e-8, cg_max_iter: int = 1000,
                 precond_rank: Union[str, int] = "auto") -> Callable[..., Any]:
    """Posterior of the NNGP and of the infinite NTK ensemble at t = ∞
    (neural-tangents' predict.gp_inference; Lee et al. 2019, eq. 13–16).

    "nngp": the exact posterior of an infinitely wide Bayesian network,
        mean K_td (K + reg)⁻¹ y, covariance K_tt − K_td (K + reg)⁻¹ K_dt;
    "ntk": the outputs of infinitely many infinitely wide networks trained to
        convergence by gradient flow, with Θ the NTK and K the NNGP kernel:
        mean Θ_td (Θ + reg)⁻¹ y, covariance
        K_tt + Θ_td Θ⁻¹ K_dd Θ⁻¹ Θ_dt − (Θ_td Θ⁻¹ K_dt + its transpose);
    "ntkgp": the posterior of the GP whose covariance is the NTK.
    Each call factorises the kernels it needs once (Cholesky, O(n³)).

    Operator form: the train-train kernels may be ntkit.KernelOperators
    (ntkit.Kernel(nngp=KernelOperator(X, "nngp-inf"), ntk=KernelOperator(X,
    "ntk-inf")), or one operator serving as every kernel), for sizes where
    they cannot be stored (docs/theory.md §9). The means then come from
    preconditioned conjugate gradients, (K + reg)⁻¹ y solved once per kernel
    to relative residual cg_rtol (an error of at most
    cg_rtol·‖y‖/(λ_min(K) + reg)), and the test points' cross kernel
    applied in row tiles, never stored: any n_test. A covariance needs the
    cross block K(x_test, X) stored (n_test·n doubles) and n_test more
    right-hand sides in a solve: ask for it on a small test block, or for its
    diagonal alone (k_test_test="diagonal"), which costs the same solve but
    no (n_test, n_test) output.

    Args:
      k_train_train: the (n, n) train-train kernels, as ntkit.Kernel(nngp=...,
        ntk=...) (or any object with nngp and ntk fields); a single array
        serves as every kernel. Operator form: KernelOperators in their place.
      y_train: (n,) or (n, k) targets.
      diag_reg: ridge on the train-train kernel in the solves.
      diag_reg_absolute_scale: False: the ridge is diag_reg·mean(diag K);
        True: diag_reg itself.
      cg_rtol: operator form: the relative residual of the conjugate-gradient
        solves, in (0, 1).
      cg_max_iter: operator form: the operator products a solve may take
        (ntkit.ConvergenceError beyond).
      precond_rank: operator form: the rank of the Nyström preconditioner
        (0: none; "auto": as ntkit.KernelOperator.solve).

    Returns:
      predict_fn(get=None, k_test_train=None, k_test_test=None, x_test=None):
        get: "nngp", "ntk", "ntkgp", a tuple of them, or None (both nngp and ntk).
        k_test_train: the (n_test, n) test-train kernels (a Kernel), or None
          for the training points (mean y_train, covariance 0).
        k_test_test: the (n_test, n_test) test-test kernels for the
          covariance (the NNGP one for "nngp" and "ntk", the NTK for
          "ntkgp"), or None for the mean alone; with k_test_train None any
          non-None value asks for the (zero) training covariance. Operator
          form: also True (the whole (n_test, n_test) covariance, the
          test-test kernel computed from the operator on x_test),
          "diagonal" (the (n_test,) variances alone), or the test-test
          kernels' diagonals ((n_test,) arrays: variances alone).
        x_test: operator form: the (n_test, d) test points, in place of
          k_test_train (the operators compute the cross kernels).
      It returns, for one name, the mean ((n_test,) or (n_test, k)) or a
      Gaussian(mean, covariance (n_test, n_test), or (n_test,) for the
      diagonal); for several, a namedtuple Gaussians with one such field per
      name.

    Raises:
      ValueError for a missing kernel or bad shapes, numpy.linalg.LinAlgError
      when a train-train kernel plus its ridge is not positive definite,
      ntkit.ConvergenceError when a conjugate-gradient solve stops at
      cg_max_iter (operator form).
    """
    cg = _cg(cg_rtol, cg_max_iter, precond_rank)
    ops = _predict_op.operators_of(k_train_train)
    if ops is not None:
        return _predict_op.gp_inference(ops, y_train, _nonneg(diag_reg, "diag_reg"),
                                        bool_arg(diag_reg_absolute_scale,
                                                 "diag_reg_absolute_scale"), cg)
    reg = _nonneg(diag_reg, "diag_reg")
    absolute = bool_arg(diag_reg_absolute_scale, "diag_reg_absolute_scale")
    checked = {}

    def train_kernel(g):
        if g not in checked:
            K = _arrays.square(_part(k_train_train, g, "k_train_train"), "k_train_train." + g,
                               None if not checked else next(iter(checked.values())).shape[0])
            checked[g] = K
        return checked[g]

    # the kernels given and y_train are checked now, not at the first prediction
    given = [g for g in ("nngp", "ntk") if _has(k_train_train, g)]
    if not given:
        raise ValueError("k_train_train holds neither an nngp nor an ntk kernel: pass "
                         "ntkit.Kernel(nngp=..., ntk=...) or an (n, n) array")
    for g in given:
        train_kernel(g)
    y = _arrays.targets(y_train, "y_train", train_kernel(given[0]).shape[0])

    def predict_fn(get: Get = None, k_test_train: Union[None, Kernel, ArrayLike] = None,
                   k_test_test: Union[None, Kernel, ArrayLike, bool] = None,
                   x_test: Optional[ArrayLike] = None):
        """The posterior on the test points (see ntkit.predict.gp_inference)."""
        if x_test is not None:
            raise ValueError(_X_TEST_NEEDS_OPERATOR)
        names, single = _get_names(get, ("nngp", "ntk", "ntkgp"))
        out = {}
        for g in names:
            out[g] = _posterior(g, train_kernel, y, reg, absolute, k_train_train, k_test_train,
                                k_test_test)
        return _pack(out, names, single)

    return predict_fn


def _posterior(g, train_kernel, y, reg, absolute, k_train_train, k_test_train, k_test_test):
    """Mean (and covariance) of one kind g on the test points, by one Cholesky solve
    of the train-train kernel against [y | its test columns]."""
    k = "ntk" if g == "ntkgp" else g
    Kdd = train_kernel(k)
    n = Kdd.shape[0]
    if k_test_train is None:
        mean = y.copy()
        return mean if k_test_test is None else Gaussian(mean, np.zeros((n, n)))
    Ktd = _arrays.matrix(_part(k_test_train, k, "k_test_train"), "k_test_train." + k, cols=n)
    nt = Ktd.shape[0]
    y2 = y.reshape(n, -1)
    kk = y2.shape[1]
    cols = [y2]
    if k_test_test is not None:
        # the covariance at initialisation: NNGP for "nngp" and "ntk", the NTK for "ntkgp"
        g_init = "ntk" if g == "ntkgp" else "nngp"
        Ktt = _arrays.square(_part(k_test_test, g_init, "k_test_test"), "k_test_test." + g_init,
                             nt)
        if g == "ntk":
            if not (_has(k_test_train, "nngp") and _has(k_train_train, "nngp")):
                raise ValueError("the NTK posterior covariance needs the NNGP kernels too: pass "
                                 "k_train_train and k_test_train as ntkit.Kernel(nngp=..., "
                                 "ntk=...)")
            Kn_dd = train_kernel("nngp")
            Kn_td = _arrays.matrix(_part(k_test_train, "nngp", "k_test_train"),
                                   "k_test_train.nngp", rows=nt, cols=n)
            cols += [Kn_td.T, Ktd.T]      # Θ⁻¹K_dt and Θ⁻¹Θ_dt
        else:
            cols.append(Ktd.T)            # K⁻¹K_dt
    A = _solve(Kdd, np.hstack(cols), _ridge(Kdd, reg, absolute), "k_train_train." + k)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = (Ktd @ A[:, :kk]).reshape((nt,) + y.shape[1:])
    mean = _arrays.result(mean, "posterior mean (%s)" % g, k_test_train=Ktd, y_train=y)
    if k_test_test is None:
        return mean
    with np.errstate(over="ignore", invalid="ignore"):
        if g == "ntk":
            T1, T2 = A[:, kk + nt:], Ktd @ A[:, kk:kk + nt]
            cov = T1.T @ Kn_dd @ T1 - T2 - T2.T + Ktt
        else:
            cov = Ktt - Ktd @ A[:, kk:]
    cov = _arrays.result(cov, "posterior covariance (%s)" % g, k_test_train=Ktd)
    return Gaussian(mean, cov)


def _has(obj, g):
    """Whether obj provides a `g` kernel (an array provides every kind)."""
    if isinstance(obj, (np.ndarray, list)):
        return True
    if isinstance(obj, collections.abc.Mapping):
        return obj.get(g) is not None
    return getattr(obj, g, None) is not None



# ----------------------------------------------------------------------
# gradient_descent_mse_ensemble
# ----------------------------------------------------------------------

def gradient_descent_mse_ensemble(kernel_fn: Callable[..., Any], x_train: ArrayLike,
                                  y_train: ArrayLike, learning_rate: float = 1.0,
                                  diag_reg: float = 0.0, diag_reg_absolute_scale: bool = False,
                                  **kernel_fn_train_train_kwargs) -> Callable[..., Any]:
    """Mean and covariance of an infinite ensemble of infinitely wide networks
    trained by gradient flow on the mean squared error, at any time t
    (neural-tangents' predict.gradient_descent_mse_ensemble; Lee et al. 2019,
    eq. 13–16).

    With N = y_train.size, τ = learning_rate·t, Θ the kernel of get ("ntk":
    the NTK, all layers trained; "nngp": the NNGP kernel, the last layer
    alone), K the NNGP kernel, E_t = exp(−τΘ/N) and H_t = Θ⁻¹(I − E_t):
        mean_test(t) = Θ_td H_t y,
        cov_test(t)  = K_tt + Θ_td H_t K_dd H_t Θ_dt − (Θ_td H_t K_dt + transpose)
    ("nngp": K_tt − K_td K⁻¹(I − exp(−2τK/N)) K_dt), and on the training points
    mean (I − E_t) y, covariance E_t K_dd E_t (nngp: K E_{2t}). The ridge of
    diag_reg enters Θ (and K for "nngp") in E_t and H_t. Each kernel of
    the training points is computed and eigendecomposed once (O(n³)); every
    later t and x_test reuses it. t = None (t = ∞) is gp_inference's posterior.

    Args:
      kernel_fn: kernel_fn(x1, x2, get, **kwargs) returning the kernels of
        get as an array (get a name) or an object with nngp and ntk fields,
        e.g. ntkit.infinite_kernel_fn(act="relu") (or a neural-tangents
        kernel_fn).
      x_train: the training inputs, as kernel_fn takes them ((n, d) for ntkit's).
      y_train: (n,) or (n, k) targets.
      learning_rate: the rate η >= 0; time is counted in units of it.
      diag_reg: ridge on the train-train kernels.
      diag_reg_absolute_scale: False: the ridge is diag_reg·mean(diag K);
        True: diag_reg itself.
      **kernel_fn_train_train_kwargs: passed to every kernel_fn call.

    Returns:
      predict_fn(t=None, x_test=None, get=None, compute_cov=False,
      **kernel_fn_test_test_kwargs):
        t: None (t = ∞) or a time or array of times >= 0 of any shape.
        x_test: test inputs, or None for the training points.
        get: "nngp", "ntk", a tuple of them, or None (both).
        compute_cov: True for Gaussian(mean, covariance), False for the mean.
        **kernel_fn_test_test_kwargs: update the keyword arguments of the
          kernel_fn calls on x_test.
      For one name: the mean (t.shape + (n_test,) + y_train.shape[1:]) or a
      Gaussian with covariance t.shape + (n_test, n_test); for several, a
      namedtuple Gaussians with one field per name.
    """
    rate_lr = _nonneg(learning_rate, "learning_rate")
    reg = _nonneg(diag_reg, "diag_reg")
    absolute = bool_arg(diag_reg_absolute_scale, "diag_reg_absolute_scale")
    if not callable(kernel_fn):
        raise ValueError("kernel_fn must be a function kernel_fn(x1, x2, get), e.g. "
                         "ntkit.infinite_kernel_fn(); got %r" % (kernel_fn,))
    train_kwargs = dict(kernel_fn_train_train_kwargs)
    k_dd = {}      # kind -> the (n, n) train-train kernel
    flows = {}     # kind -> _Flow on K + ridge·I with Y = 0, U0 = I: the matrix functions
    state = {}

    def kernel(x1, x2, g, kwargs, name):
        return _part(kernel_fn(x1, x2, g, **kwargs), g, name)

    def train_kernel(g):
        if g not in k_dd:
            K = _arrays.square(kernel(x_train, None, g, train_kwargs, "kernel_fn(x_train)"),
                               "kernel_fn(x_train, None, %r)" % g)
            if "y" not in state:
                state["y"] = _arrays.targets(y_train, "y_train", K.shape[0])
            elif K.shape[0] != state["y"].shape[0]:
                raise ValueError("kernel_fn(x_train, None, %r) has shape %s, expected (%d, %d)"
                                 % (g, K.shape, state["y"].shape[0], state["y"].shape[0]))
            k_dd[g] = K
        return k_dd[g]

    def flow(g):
        """predict_train(t) = exp(−τΘ/N) = E_t; predict_test(t, M) = −M H_t."""
        if g not in flows:
            K = train_kernel(g)
            n, y = K.shape[0], state["y"]
            flows[g] = _Flow(_regularised(K, _ridge(K, reg, absolute)), np.zeros((n, n)),
                             np.eye(n), rate_lr / y.size, {"K": "kernel_fn(x_train)"})
        return flows[g]

    def predict_fn(t: Times = None, x_test: Optional[ArrayLike] = None, get: Get = None,
                   compute_cov: bool = False, **kernel_fn_test_test_kwargs):
        """Mean (and covariance) of the ensemble at time(s) t (see
        ntkit.predict.gradient_descent_mse_ensemble)."""
        names, single = _get_names(get, ("nngp", "ntk"))
        cov = bool_arg(compute_cov, "compute_cov")
        needed = tuple(g for g in ("nngp", "ntk")
                       if g in names or (g == "nngp" and cov and "ntk" in names))
        kd = Kernel(**{g: train_kernel(g) for g in needed})
        y = state["y"]
        test_kwargs = dict(train_kwargs, **kernel_fn_test_test_kwargs)
        kt = ktt = None
        if x_test is not None:
            kt = Kernel(**{g: kernel(x_test, x_train, g, test_kwargs, "kernel_fn(x_test, x_train)")
                           for g in needed})
            if cov:
                ktt = kernel(x_test, None, "nngp", test_kwargs, "kernel_fn(x_test)")
        if t is None:
            return gp_inference(kd, y, reg, absolute)(names if not single else names[0], kt,
                                                      (ktt if x_test is not None else True)
                                                      if cov else None)
        ts = _times(t)
        out = {g: _ensemble_at(g, ts, flow(g), kd, kt, ktt, y, cov) for g in names}
        return _pack(out, names, single)

    return predict_fn


def _ensemble_at(g, ts, fl, kd, kt, ktt, y, cov):
    """Mean (and covariance) of kind g at the times ts, from the flow fl of its kernel."""
    Kg = getattr(kd, g)
    n = Kg.shape[0]
    y2 = y.reshape(n, -1)
    Kn = kd.nngp
    if kt is not None:
        Ktd = _arrays.matrix(getattr(kt, g), "kernel_fn(x_test, x_train, %r)" % g, cols=n)
        nt = Ktd.shape[0]
        if cov:
            Ktt = _arrays.square(ktt, "kernel_fn(x_test, None, 'nngp')", nt)
            Kn_td = _arrays.matrix(kt.nngp, "kernel_fn(x_test, x_train, 'nngp')", rows=nt,
                                   cols=n)
    means, covs = [], []
    for tj in ts.ravel():
        if kt is None:
            # on the training points: (I − E_t) y = Θ H_t y (the test formula with M = Θ + reg)
            means.append((-fl.test(tj, fl.K) @ y2).reshape(y.shape))
            if cov:
                if g == "nngp":
                    covs.append(fl.train(2 * tj) @ fl.K)      # E_2t (K + reg)
                else:
                    E = fl.train(tj)
                    covs.append(E @ Kn @ E)
        else:
            P = -fl.test(tj, Ktd)                   # Θ_td H_t
            means.append((P @ y2).reshape((nt,) + y.shape[1:]))
            if cov:
                if g == "nngp":
                    covs.append(Ktt + fl.test(2 * tj, Ktd) @ Ktd.T)   # K_tt − K_td H_2t K_dt
                else:
                    T2 = P @ Kn_td.T
                    covs.append(P @ Kn @ P.T - T2 - T2.T + Ktt)
    shape = ts.shape
    mean = np.stack(means).reshape(shape + means[0].shape) if means else None
    mean = _arrays.result(mean, "ensemble mean (%s)" % g, y_train=y)
    if not cov:
        return mean
    c = np.stack(covs).reshape(shape + covs[0].shape)
    return Gaussian(mean, _arrays.result(c, "ensemble covariance (%s)" % g, y_train=y))


# ----------------------------------------------------------------------
# max_learning_rate
# ----------------------------------------------------------------------

def max_learning_rate(ntk_train_train: ArrayLike, y_train_size: Optional[int] = None,
                      momentum: float = 0.0, eps: float = 1e-12) -> float:
    """The largest stable learning rate of gradient descent on the mean squared
    error ‖f − y‖²/(2·y_train_size) in the linearised (infinite-width) regime:
    2·(1 + momentum)·y_train_size / (λ_max(NTK) + eps)
    (neural-tangents' predict.max_learning_rate).

    Args:
      ntk_train_train: (n, n) NTK on the training points.
      y_train_size: y_train.size, n·k for k outputs (None: n).
      momentum: the momentum of heavy-ball GD (0 for plain GD).
      eps: added to λ_max against a zero division.

    Returns:
      The rate as a float (λ_max from the library's eigendecomposition).
    """
    K = _arrays.square(ntk_train_train, "ntk_train_train")
    size = K.shape[0] if y_train_size is None else int_arg(y_train_size, "y_train_size", 1)
    momentum = _nonneg(momentum, "momentum")
    eps = float_arg(eps, "eps")
    lmax = spectrum_summary(K)["lmax"]
    return 2.0 * (1.0 + momentum) * size / (lmax + eps)
