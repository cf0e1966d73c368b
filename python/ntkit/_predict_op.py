"""The operator form of ntkit.predict: gradient_descent_mse and gp_inference
with k_train_train given as ntkit.KernelOperator(s), for sizes where the
(n, n) kernel cannot be stored (docs/theory.md §9).

Only products with K, its diagonal and its cross block K(x_test, X)·U are
used for the means:
  - t = ∞: (K + μI) A = y − f_train(0) by preconditioned conjugate gradients
    (KernelOperator.solve), then f_test = f_test(0) + K(x_test, X) A;
  - finite t, μ = 0: the flow's functions of K applied to r0 = y − f_train(0)
    by Lanczos on the operator (ntk_kgd_create_op; the exact
    eigendecomposition when a stored kernel has at most
    ntkit.DEFAULTS["kgd_eig_max_n"] points), test points through
    ntk_kgd_predict_cross;
  - finite t, μ > 0: the flow of K + μI is e^{−rtμ} times that of K, so
        f_train(t) = y − e^{−rtμ} e^{−rtK} r0,
        f_test(t)  = f_test(0) + K_td (K + μI)⁻¹ (r0 − e^{−rtμ} e^{−rtK} r0),
    with e^{−rtK} r0 from Lanczos and one block CG solve for every t at once.
Covariances need K(x_test, X) stored (n_test·n doubles) and n_test more
right-hand sides in the solve: they are for a small test block, or its
diagonal.
"""
import ctypes
from ctypes import byref
from typing import NamedTuple

import numpy as np

from . import _arrays
from ._handle import Owned
from ._lib import ConvergenceError, check, lib
from .operators import KernelOperator

_LOSS_SUM = 1      # ntk_loss_kind NTK_LOSS_SUM: the rate below carries 1/N
_KGD_AUTO = 0
_METHODS = {0: "auto", 1: "eig", 2: "krylov"}


class CG(NamedTuple):
    """Settings of the conjugate-gradient solves."""
    rtol: float
    max_iter: int
    precond_rank: object


def _helpers():
    """ntkit.predict (its argument checks and result types), imported when first
    needed: it imports this module."""
    from . import predict
    return predict


def is_operator(obj):
    return isinstance(obj, KernelOperator)


def solve(op, R, ridge, cg, name):
    """(K + ridge·I)⁻¹ R through the operator; a ConvergenceError names the
    predictor's own arguments."""
    try:
        return op.solve(R, ridge, cg.rtol, cg.max_iter, cg.precond_rank)
    except ConvergenceError as e:
        info = e.info or {}
        exc = ConvergenceError(
            "%s: conjugate gradients stopped at relative residual %.3g > cg_rtol %.3g after %d "
            "products; raise cg_max_iter, precond_rank or diag_reg"
            % (name, info.get("residual", float("nan")), cg.rtol, info.get("iterations", 0)))
        exc.status, exc.partial, exc.info = e.status, e.partial, e.info
        raise exc from None


def ridge_of(op, diag_reg, absolute):
    """diag_reg, or diag_reg·mean(diag K) (the diagonal in O(n) kernel values)."""
    if absolute or diag_reg == 0:
        return diag_reg
    return diag_reg * float(np.mean(op.diag()))


class OpFlow(Owned):
    """Gradient flow of kernel regression on an operator (ntk_kgd on its
    products), for targets Y (n, c) from U0 (n, c) up to time t_max:
        train(t) = Y − exp(−r t K) (Y − U0),
        test(t) = F0 + K(X_test, X) h_t(K) (Y − U0), h_t(λ) = (1 − e^{−r t λ})/λ."""

    _free = "ntk_kgd_free"
    _what = "flow predictor"

    def __init__(self, op, Y, U0, rate, t_max, names):
        self._h = None
        self.n, self.c = Y.shape
        cfg = lib.ntk_kgd_config_default()
        cfg.lr, cfg.loss, cfg.method, cfg.flow, cfg.outputs = rate, _LOSS_SUM, _KGD_AUTO, 1, self.c
        cfg.t_max = t_max
        h = ctypes.c_void_p()
        check(lib.ntk_kgd_create_op(op.handle, Y, U0, byref(cfg), byref(h)), names=names)
        self._h = h
        self.op, self.t_max, self.names = op, t_max, names

    def train(self, t):
        out = _arrays.empty((self.n, self.c), "the training predictions")
        check(lib.ntk_kgd_predict_train(self.handle, float(t), 1, out), names=self.names)
        return out

    def test(self, t, Kt, Xt, F0):
        """Through a given cross kernel Kt (nt, n), or the operator's on Xt."""
        nt = (Kt if Kt is not None else Xt).shape[0]
        out = _arrays.empty((nt, self.c), "the test predictions")
        if Kt is not None:
            st = lib.ntk_kgd_predict_test(self.handle, float(t), 1, Kt, nt, F0, out)
        else:
            st = lib.ntk_kgd_predict_cross(self.handle, float(t), 1, self.op.handle, Xt, nt, F0,
                                           out)
        check(st, names=self.names)
        return out

    def info(self):
        meth, k, err = ctypes.c_int(), ctypes.c_size_t(), ctypes.c_double()
        check(lib.ntk_kgd_info(self.handle, byref(meth), byref(k), byref(err)))
        return {"method": _METHODS.get(meth.value, str(meth.value)), "k": k.value,
                "err_est": err.value, "t_max": self.t_max}


def _test_inputs(op, k_test_train, x_test, name="k_test_train"):
    """(Kt, Xt): a given cross kernel (nt, n) or the test points (nt, d)."""
    if k_test_train is not None and x_test is not None:
        raise ValueError("pass x_test (the operator computes the cross kernel) or "
                         "k_test_train, not both")
    if k_test_train is not None:
        return _arrays.matrix(k_test_train, name, cols=op.n), None
    if x_test is not None:
        return None, _arrays.matrix(x_test, "x_test", cols=op.d)
    return None, None


def _cross(op, Kt, Xt, A):
    """K(x_test, X) A (nt, c): a given cross kernel, or the operator's cross block."""
    if Kt is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            return Kt @ A
    return op.cross(Xt, A)


# ----------------------------------------------------------------------
# gradient_descent_mse
# ----------------------------------------------------------------------

def gradient_descent_mse(op, y_train, learning_rate, diag_reg, absolute, cg):
    """predict_fn of ntkit.predict.gradient_descent_mse on a KernelOperator."""
    helpers = _helpers()
    n = op.n
    y = _arrays.targets(y_train, "y_train", n)
    rate = learning_rate / y.size
    mu = ridge_of(op, diag_reg, absolute)
    y2 = y.reshape(n, -1)
    names = {"y": "y_train", "u0": "fx_train_0", "K_test": "k_test_train", "Xt": "x_test"}
    cache = {}
    last = {}

    def solved(R):
        key = R.tobytes()
        if cache.get("solve_key") != key:
            cache.pop("solve", None)
            cache["solve"] = solve(op, R, mu, cg, "k_train_train")
            cache["solve_key"] = key
            last["cg"] = dict(op.info)
        return cache["solve"]

    def flow(u0, t_max):
        key = u0.tobytes()
        fl = cache.get("flow")
        if fl is None or cache.get("flow_key") != key or t_max > fl.t_max:
            cache.pop("flow", None)
            # a horizon keeps the Lanczos basis small; later, larger t rebuild it
            fl = cache["flow"] = OpFlow(op, y2, u0, rate, t_max, names)
            cache["flow_key"] = key
            last["flow"] = fl.info()
        return fl

    def predict_fn(t=None, fx_train_0=0.0, fx_test_0=None, k_test_train=None, x_test=None):
        """Predictions at time(s) t (see ntkit.predict.gradient_descent_mse)."""
        Kt, Xt = _test_inputs(op, k_test_train, x_test)
        if fx_test_0 is not None and Kt is None and Xt is None:
            raise ValueError("fx_test_0 needs x_test, the (n_test, d) test points (the operator "
                             "computes the cross kernel), or k_test_train")
        if Xt is not None and fx_test_0 is None:
            raise ValueError("x_test is given but fx_test_0 is None: pass fx_test_0 (e.g. 0.) "
                             "for test predictions")
        f0 = None if fx_train_0 is None else helpers._broadcast(fx_train_0, "fx_train_0", y.shape)
        nt = None if fx_test_0 is None else (Kt if Kt is not None else Xt).shape[0]
        f0t = None if nt is None else helpers._broadcast(fx_test_0, "fx_test_0",
                                                         (nt,) + y.shape[1:])
        u0 = np.zeros_like(y2) if f0 is None else np.ascontiguousarray(f0.reshape(n, -1))
        r0 = y2 - u0
        if t is None:
            train = y.copy()
            if f0t is None:
                return train
            A = solved(r0)
            test = f0t + _cross(op, Kt, Xt, A).reshape(f0t.shape)
            test = _arrays.result(test, "fx_test_t", y_train=y)
            return test if f0 is None else (train, test)
        if f0 is None and f0t is None:
            raise ValueError("fx_train_0 and fx_test_0 are both None: nothing to predict")
        ts = helpers._times(t)
        flat = ts.ravel()
        c = y2.shape[1]
        F0 = None if f0t is None else f0t.reshape(nt, c)
        if flat.size == 0 or rate == 0 or float(flat.max()) == 0:
            # nothing moves: every prediction is its starting value
            train = [u0] * flat.size if f0 is not None else None
            test = [F0] * flat.size if F0 is not None else None
            train = None if train is None else np.array(train).reshape(ts.shape + y.shape)
            test = None if test is None else np.array(test).reshape(ts.shape + f0t.shape)
        else:
            fl = flow(u0, float(flat.max()))
            if mu == 0:
                train = [fl.train(tj) for tj in flat] if f0 is not None else None
                test = [fl.test(tj, Kt, Xt, F0) for tj in flat] if F0 is not None else None
            else:
                # e^{−rt(K+μ)} r0 = e^{−rtμ} e^{−rtK} r0, and e^{−rtK} r0 = y − train_K(t)
                decay = [np.exp(-rate * tj * mu) * (y2 - fl.train(tj)) for tj in flat]
                train = [y2 - e for e in decay] if f0 is not None else None
                test = None
                if F0 is not None:
                    B = np.hstack([r0 - e for e in decay])        # (n, T·c)
                    A = solved(np.ascontiguousarray(B))
                    FT = _cross(op, Kt, Xt, A)
                    test = [F0 + FT[:, j * c:(j + 1) * c] for j in range(flat.size)]
            if train is not None:
                train = np.stack(train).reshape(ts.shape + y.shape)
            if test is not None:
                test = np.stack(test).reshape(ts.shape + f0t.shape)
        if train is not None:
            train = _arrays.result(train, "fx_train_t", y_train=y)
        if test is None:
            return train
        test = _arrays.result(test, "fx_test_t", y_train=y)
        return test if train is None else (train, test)

    predict_fn.info = lambda: dict(last)
    return predict_fn


# ----------------------------------------------------------------------
# gp_inference
# ----------------------------------------------------------------------

def operators_of(k_train_train):
    """{"nngp": op or None, "ntk": op or None} when k_train_train is an operator
    (serving as every kernel) or holds operators; None when it holds none.
    Arrays and operators mixed: ValueError."""
    if is_operator(k_train_train):
        return {"nngp": k_train_train, "ntk": k_train_train}
    if isinstance(k_train_train, np.ndarray):
        return None
    parts = {}
    for g in ("nngp", "ntk"):
        v = getattr(k_train_train, g, None)
        if v is None and isinstance(k_train_train, dict):
            v = k_train_train.get(g)
        parts[g] = v
    ops = [v for v in parts.values() if is_operator(v)]
    if not ops:
        return None
    if any(v is not None and not is_operator(v) for v in parts.values()):
        raise ValueError("k_train_train mixes a KernelOperator and an array: pass both kernels "
                         "as operators (or both as arrays)")
    n = {(v.n, v.d) for v in ops}
    if len(n) > 1:
        raise ValueError("k_train_train's operators are on different points: shapes %s"
                         % sorted(n))
    return parts


def gp_inference(ops, y_train, reg, absolute, cg):
    """predict_fn of ntkit.predict.gp_inference on KernelOperators."""
    helpers = _helpers()
    first = next(v for v in ops.values() if v is not None)
    n = first.n
    y = _arrays.targets(y_train, "y_train", n)
    y2 = y.reshape(n, -1)
    ridges, means = {}, {}

    def op_of(k):
        op = ops.get(k)
        if op is None:
            raise ValueError("k_train_train.%s is None, but get asks for the %s kernel: pass "
                             "ntkit.Kernel(nngp=KernelOperator(..., 'nngp-inf'), "
                             "ntk=KernelOperator(..., 'ntk-inf'))" % (k, k))
        return op

    def ridge(k):
        if k not in ridges:
            ridges[k] = ridge_of(op_of(k), reg, absolute)
        return ridges[k]

    def coef(k):
        """(K_k + reg)⁻¹ y, solved once per kind."""
        if k not in means:
            means[k] = solve(op_of(k), y2, ridge(k), cg, "k_train_train." + k)
        return means[k]

    def predict_fn(get=None, k_test_train=None, k_test_test=None, x_test=None):
        """The posterior on the test points (see ntkit.predict.gp_inference)."""
        names, single = helpers._get_names(get, ("nngp", "ntk", "ntkgp"))
        out = {g: _posterior(g, op_of, ridge, coef, y, k_test_train, k_test_test, x_test, cg,
                             helpers)
               for g in names}
        return helpers._pack(out, names, single)

    return predict_fn


def _covariance_request(k_test_test, g_init, nt, helpers):
    """k_test_test -> (diagonal_only, Ktt given or None)."""
    if k_test_test is True:
        return False, None
    if isinstance(k_test_test, str):
        if k_test_test != "diagonal":
            raise ValueError("k_test_test must be None, True, 'diagonal' or the test-test "
                             "kernels, got %r" % (k_test_test,))
        return True, None
    K = _arrays.as_f64(helpers._part(k_test_test, g_init, "k_test_test"), "k_test_test")
    if K.ndim == 1:
        return True, _arrays.vector(K, "k_test_test." + g_init, nt)
    return False, _arrays.square(K, "k_test_test." + g_init, nt)


def _posterior(g, op_of, ridge, coef, y, k_test_train, k_test_test, x_test, cg, helpers):
    k = "ntk" if g == "ntkgp" else g
    op = op_of(k)
    n = op.n
    if k_test_train is None and x_test is None:
        mean = y.copy()
        if k_test_test is None:
            return mean
        diag_only = (isinstance(k_test_test, str) and k_test_test == "diagonal") or (
            isinstance(k_test_test, np.ndarray) and k_test_test.ndim == 1)
        return helpers.Gaussian(mean, np.zeros(n) if diag_only else
                                _zeros((n, n), "the training covariance"))
    Kt, Xt = _test_inputs(op, None if k_test_train is None else
                          helpers._part(k_test_train, k, "k_test_train"), x_test,
                          "k_test_train." + k)
    nt = (Kt if Kt is not None else Xt).shape[0]
    A = coef(k)
    mean = _cross(op, Kt, Xt, A).reshape((nt,) + y.shape[1:])
    mean = _arrays.result(mean, "posterior mean (%s)" % g, y_train=y)
    if k_test_test is None:
        return mean
    g_init = "ntk" if g == "ntkgp" else "nngp"
    diag_only, Ktt = _covariance_request(k_test_test, g_init, nt, helpers)
    if Ktt is None:
        if Xt is None:
            raise ValueError("k_test_test=%r computes the test-test kernel from the operator: "
                             "pass x_test (or give k_test_test as an array)" % (k_test_test,))
        Ktt = op_of(g_init).block(Xt, diagonal=diag_only)
    # the cross block stored: (nt, n)
    Ktd = Kt if Kt is not None else op.block(Xt, op.X)
    if g == "ntk":
        kn = op_of("nngp")
        if k_test_train is not None:
            if not helpers._has(k_test_train, "nngp"):
                raise ValueError("the NTK posterior covariance needs the NNGP kernels too: pass "
                                 "k_test_train as ntkit.Kernel(nngp=..., ntk=...)")
            Kn_td = _arrays.matrix(helpers._part(k_test_train, "nngp", "k_test_train"),
                                   "k_test_train.nngp", rows=nt, cols=n)
        else:
            Kn_td = kn.block(Xt, kn.X)
        S = solve(op, np.ascontiguousarray(np.hstack([Kn_td.T, Ktd.T])), ridge(k), cg,
                  "k_train_train.ntk")
        A1, T1 = S[:, :nt], S[:, nt:]             # Θ⁻¹K_dt, Θ⁻¹Θ_dt
        KT1 = kn.apply(np.ascontiguousarray(T1))  # K_dd Θ⁻¹Θ_dt
        with np.errstate(over="ignore", invalid="ignore"):
            if diag_only:
                cov = np.sum(T1 * KT1, axis=0) - 2 * np.sum(Ktd * A1.T, axis=1) + Ktt
            else:
                T2 = Ktd @ A1
                cov = T1.T @ KT1 - T2 - T2.T + Ktt
    else:
        A1 = solve(op, np.ascontiguousarray(Ktd.T), ridge(k), cg, "k_train_train." + k)
        with np.errstate(over="ignore", invalid="ignore"):
            cov = Ktt - (np.sum(Ktd * A1.T, axis=1) if diag_only else Ktd @ A1)
    cov = _arrays.result(cov, "posterior covariance (%s)" % g, k_test_train=Ktd)
    return helpers.Gaussian(mean, cov)


def _zeros(shape, what):
    out = _arrays.empty(shape, what)
    out.fill(0.0)
    return out
