"""Kernel operators: a kernel on n points that is multiplied, not necessarily
stored (docs/theory.md §9, src/operator*.c).

A KernelOperator holds the kernel K on its points X (n, d) behind the
library's ntk_op: products K·U, the diagonal, the cross block K(X_test, X)·U,
columns, and kernel ridge regression by preconditioned conjugate gradients.
What is stored follows the mode:
  "dense"        K (n, n) in float64, computed once (8·n² bytes);
  "dense-f32"    K in float32 (4·n² bytes; entries rounded to 2^-24
                 relative), products accumulated in float64;
  "matrix-free"  K never stored: the empirical NTK as Θ·U = J(JᵀU) in row
                 tiles, the infinite-width kernels as tiles computed,
                 multiplied and discarded, Hu et al.'s kernels as Ψ(ΨᵀU);
  "auto"         dense when 8·n² bytes fit in mem_limit, else matrix-free.
ntkit.predict.gradient_descent_mse and gp_inference take an operator in place
of k_train_train, so that their means run at sizes where K cannot be stored.
"""
import ctypes
from ctypes import byref, pointer
from typing import TYPE_CHECKING, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays
from ._args import c_int_arg, float_arg, int_arg, seed_arg, size_arg
from ._handle import Owned
from ._interrupt import stoppable
from ._lib import (KERNEL_EMPIRICAL, KERNEL_INFINITE, KERNEL_LIN, NTK_ERR_INTERRUPTED,
                   NTK_ERR_NOCONV, CGInfo, LinAlgError, check, error, is_deep, lib,
                   net_config, parse_operator)

if TYPE_CHECKING:
    from .network import Network

# kernel kind -> (source, (c1, c2)): the names of `ntkit kernel --kind` and `ntkit krr`
KINDS = {
    "ntk": (KERNEL_EMPIRICAL, (1.0, 1.0)), "ntk1": (KERNEL_EMPIRICAL, (1.0, 0.0)),
    "ntk2": (KERNEL_EMPIRICAL, (0.0, 1.0)), "nngp": (KERNEL_EMPIRICAL, (0.0, 1.0)),
    "ntk-inf": (KERNEL_INFINITE, (1.0, 1.0)), "ntk1-inf": (KERNEL_INFINITE, (1.0, 0.0)),
    "ntk2-inf": (KERNEL_INFINITE, (0.0, 1.0)), "nngp-inf": (KERNEL_INFINITE, (0.0, 1.0)),
    "lin": (KERNEL_LIN, (1.0, 1.0)), "lin1": (KERNEL_LIN, (1.0, 0.0)),
    "lin2": (KERNEL_LIN, (0.0, 1.0)),
}
MODES = ("auto", "dense", "dense-f32", "matrix-free")

# the preconditioner's largest default rank (as ntkit krr)
_PRECOND_MAX = 1000

# the library's names -> the caller's
_NAMES = {"Xt": "X_test", "the iteration limit": "the iteration limit (max_iter)",
          "the preconditioner's rank": "the preconditioner's rank (precond_rank)",
          "the ridge": "the ridge (ridge)"}


class KernelOperator(Owned):
    """A symmetric positive semi-definite kernel K on the points X (n, d) as an
    operator: K @ U, its diagonal, K(X_test, X) @ U and ridge solves, with K
    stored or not according to `mode` (docs/theory.md §9).

    Accepted by ntkit.predict.gradient_descent_mse and gp_inference as
    k_train_train (with x_test= for the test points); see solve() for kernel
    ridge regression on its own.

    Args:
      X: (n, d) training points. Used in place when float64 and C-contiguous
        (the operator reads it at every product: do not change it), else
        copied once.
      kernel: which kernel, by the names of `ntkit kernel --kind`:
        "ntk-inf", "nngp-inf", "ntk1-inf", "ntk2-inf" (infinite width, as
        ntkit.ntk_inf); "ntk", "nngp", "ntk1", "ntk2" (the empirical kernels
        of `net`, as ntkit.ntk); "lin", "lin1", "lin2" (Hu et al. 2020's
        linear models, as ntkit.lin_kernel).
      net: the ntkit.Network of the empirical kinds (its weights W, v, at
        depth θ, are copied now: later training does not change this
        operator); None for the others.
      mode: "auto", "dense", "dense-f32" or "matrix-free" (see the module).
      mem_limit: bytes the operator may keep and use as scratch (0: half of
        the available memory); "auto" stores K only when 8·n² bytes fit.
        MemoryError, with the estimate, when even the mode's smallest
        footprint does not fit. The default preconditioner of solve() is
        sized to a quarter of the same figure.
      layer: None for the kind's own coefficients, or a pair (c1, c2) for
        K = c1·Θ1 + c2·Θ2 (e.g. (lr1, lr2), the rate-weighted kernel); at
        depth also a layer number or one weight per layer, as ntkit.ntk
        ("ntk1" is then layers 1..L, "ntk2"/"nngp" layer L+1).
      act, act_param, input_scale, alpha: the network of the infinite-width
        and lin kinds (as ntkit.ntk_inf; None: relu, the default slope,
        "sqrt_d", 1). The empirical kinds take them from `net`.
      depth, weight_std, bias_std, parameterization, width, widths: the deep
        network of the infinite-width kinds, as ntkit.ntk_inf (None: its
        defaults, the two-layer network). The empirical kinds take them
        from `net`; the lin kinds are two-layer only.
      quad_order: Gauss–Hermite order (0: ntkit.DEFAULTS["quad_order"]).
      trace_factor: lin kinds: √(Tr Σ²/d) (None: estimated from X).

    Attributes:
      n, d: the points; shape (n, n); kernel; mode (the mode in use, "auto"
      resolved); info: the report of the last solve() (iterations, residual,
      precond_rank, precond_trace_err, restarts), or None.
    """

    _free = "ntk_op_free"
    _what = "kernel operator"

    def __init__(self, X: ArrayLike, kernel: str = "ntk-inf", net: Optional["Network"] = None,
                 mode: str = "auto", mem_limit: int = 0,
                 layer: Optional[Tuple[float, float]] = None, act: Optional[str] = None,
                 act_param: Optional[float] = None, input_scale: Optional[str] = None,
                 alpha: Optional[float] = None, quad_order: int = 0,
                 trace_factor: Optional[float] = None, depth: Optional[int] = None,
                 weight_std: Optional[float] = None, bias_std: Optional[float] = None,
                 parameterization: Optional[str] = None, width: Optional[int] = None,
                 widths: Optional[Sequence[int]] = None):
        self._h = None
        self._precond = {}
        if not isinstance(kernel, str) or kernel not in KINDS:
            raise ValueError("kernel must be one of %s, got %r"
                             % (", ".join(repr(k) for k in KINDS), kernel))
        source, coeffs = KINDS[kernel]
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError("mode must be one of %s, got %r"
                             % (", ".join(repr(m) for m in MODES), mode))
        self.kernel = kernel
        self.mem_limit = size_arg(mem_limit, "mem_limit")
        net_settings = dict(act=act, act_param=act_param, input_scale=input_scale, alpha=alpha,
                            depth=depth, weight_std=weight_std, bias_std=bias_std,
                            parameterization=parameterization, width=width, widths=widths)
        deep_settings = {k: v for k, v in list(net_settings.items())[4:] if v is not None}
        if source == KERNEL_EMPIRICAL:
            if net is None:
                raise ValueError("kernel %r is the empirical kernel of a network: pass net=" %
                                 kernel)
            given = [k for k, v in net_settings.items() if v is not None]
            if given:
                raise ValueError("%s: the empirical kernel takes these from net; leave them None"
                                 % ", ".join(given))
            X = _arrays.matrix(X, "X", cols=net.d)
            self._cfg = type(net._cfg).from_buffer_copy(net._cfg)
            self._W = self._v = self._theta = None
            if net.is_deep:
                self._theta = net.theta           # a copy: the kernel at the weights of now
            else:
                self._W, self._v = net.W, net.v   # copies: the kernel at the weights of now
        else:
            if net is not None:
                raise ValueError("net is for the empirical kinds (ntk, nngp, ntk1, ntk2); kernel "
                                 "%r does not use it" % kernel)
            X = _arrays.matrix(X, "X")
            if source == KERNEL_LIN and deep_settings:
                raise ValueError("%s: Hu et al.'s linear models are two-layer only; kernel %r "
                                 "does not take them" % (", ".join(deep_settings), kernel))
            from .kernels import _inf_config
            dflt = dict(depth=1, weight_std=1.0, bias_std=0.0, parameterization="ntk", width=None,
                        widths=None)
            dflt.update(deep_settings)
            self._cfg = _inf_config(X.shape[1], act or "relu", act_param,
                                    input_scale or "sqrt_d", 1.0 if alpha is None else alpha,
                                    **dflt)
            self._W = self._v = self._theta = None
        self._X = X
        self.n, self.d = X.shape
        from .kernels import _layer_args
        c1, c2, w = _layer_args(coeffs if layer is None else layer, self._cfg)
        k = lib.ntk_kernel_desc_default(source, byref(self._cfg))   # k.net -> self._cfg
        k.c1, k.c2 = c1, c2
        self._weights = None if w is None else np.array(w)   # the operator copies them
        if w is not None:
            k.layer_weights = self._weights.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        k.quad_order = c_int_arg(quad_order, "quad_order", 0)
        self._consts = None
        if source == KERNEL_EMPIRICAL and self._theta is not None:
            # the operator borrows θ: self._theta lives as long as the operator
            k.theta = self._theta.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        elif source == KERNEL_EMPIRICAL:
            k.W = self._W.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
            k.v = self._v.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        elif source == KERNEL_LIN:
            from .kernels import _lin_constants
            self._consts = _lin_constants(X, act or "relu", act_param, trace_factor, quad_order)
            k.consts = pointer(self._consts)
        elif trace_factor is not None:
            raise ValueError("trace_factor is for the lin kinds; kernel %r does not use it"
                             % kernel)
        self._desc = k
        h = ctypes.c_void_p()
        check(lib.ntk_op_create(byref(k), X, self.n, parse_operator(mode), self.mem_limit,
                                byref(h)), names={"X1": "X"})
        self._h = h
        self.mode = lib.ntk_op_mode_name(lib.ntk_op_get_mode(h)).decode()
        self.info = None

    # -- shape and cleanup ----------------------------------------------

    @property
    def X(self) -> np.ndarray:
        """The operator's points (n, d), as it reads them (do not change them)."""
        return self._X

    @property
    def shape(self) -> Tuple[int, int]:
        """(n, n)."""
        return (self.n, self.n)

    def close(self):
        """Free the operator and its preconditioners now (idempotent)."""
        pre, self._precond = getattr(self, "_precond", {}), {}
        for h in pre.values():
            if lib is not None:
                lib.ntk_nystrom_free(h)
        super().close()

    def __repr__(self):
        return "KernelOperator(kernel=%r, n=%d, d=%d, mode=%r)" % (self.kernel, self.n, self.d,
                                                                  self.mode)

    # -- products -------------------------------------------------------

    def _block(self, U, name, rows):
        """U (rows,) or (rows, k) as a finite C-contiguous (rows, k) block, and
        the shape to give the result back in."""
        U = _arrays.targets(U, name, rows)
        return U.reshape(rows, -1), U.shape

    def apply(self, U: ArrayLike) -> np.ndarray:
        """K @ U.

        Args:
          U: (n,) or (n, k).

        Returns:
          K U, shaped like U.
        """
        U2, shape = self._block(U, "U", self.n)
        V = _arrays.empty(U2.shape, "the product K U")
        check(lib.ntk_op_apply(self.handle, U2, U2.shape[1], V))
        return V.reshape(shape)

    def __matmul__(self, U):
        return self.apply(U)

    def diag(self) -> np.ndarray:
        """The diagonal K_ii, shape (n,), in O(n) kernel evaluations."""
        D = _arrays.empty((self.n,), "the kernel diagonal")
        check(lib.ntk_op_diag(self.handle, D))
        return _arrays.result(D, "kernel diagonal", X=self._X)

    def cross(self, X_test: ArrayLike, U: ArrayLike) -> np.ndarray:
        """K(X_test, X) @ U without storing the cross block (row tiles).

        Args:
          X_test: (nt, d) points.
          U: (n,) or (n, k).

        Returns:
          (nt,) or (nt, k).
        """
        Xt = _arrays.matrix(X_test, "X_test", cols=self.d)
        U2, shape = self._block(U, "U", self.n)
        nt = Xt.shape[0]
        F = _arrays.empty((nt, U2.shape[1]), "the cross product K(X_test, X) U")
        check(lib.ntk_op_cross_apply(self.handle, Xt, nt, U2, U2.shape[1], F), names=_NAMES)
        return F.reshape((nt,) + shape[1:])

    def columns(self, idx: Union[Sequence[int], ArrayLike]) -> np.ndarray:
        """Columns of K: K(X, X[idx]), shape (n, len(idx)).

        Args:
          idx: indices in [0, n).
        """
        ids = np.asarray(idx)
        if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu":
            raise ValueError("idx must be a non-empty 1-d sequence of integers, got %r" % (idx,))
        if ids.min() < 0 or ids.max() >= self.n:
            raise ValueError("idx must lie in [0, n = %d), got %d" %
                             (self.n, int(ids.min() if ids.min() < 0 else ids.max())))
        ids = np.ascontiguousarray(ids, dtype=np.uintp)
        C = _arrays.empty((self.n, ids.size), "the kernel columns")
        check(lib.ntk_op_columns(self.handle, ids, ids.size, C))
        return C

    def block(self, X1: ArrayLike, X2: Optional[ArrayLike] = None,
              diagonal: bool = False) -> np.ndarray:
        """The operator's kernel evaluated and stored on other points: K(X1, X2)
        (n1, n2), K(X1, X1) with X2 None, or its diagonal (n1,) — the cross and
        test blocks of a posterior covariance (8·n1·n2 bytes).

        Args:
          X1: (n1, d) points.
          X2: (n2, d) points, or None for the symmetric block.
          diagonal: True for K(x_i, x_i) alone, shape (n1,) (X2 must be None).
        """
        from .kernels import _kernel
        X1, n1, X2, n2, _ = _arrays.pair(X1, X2, "X1", d=self.d)
        k = self._desc
        fields = dict(W=k.W, v=k.v, theta=k.theta, quad_order=k.quad_order, consts=k.consts)
        return _kernel(k.source, self._cfg, X1, n1, X2, n2, k.c1, k.c2, bool(diagonal),
                       self._weights, **fields)

    # -- ridge regression -----------------------------------------------

    def _default_rank(self):
        """min(n, 1000), halved (down to 16) while the preconditioner's memory
        (about 8·n·(3r + 66) bytes: the factor, its SVD and the pivoting)
        exceeds a quarter of the memory limit (as ntkit krr)."""
        r = min(self.n, _PRECOND_MAX)

        def fits(r):
            need = 8 * self.n * (3 * r + 66) * 4
            if self.mem_limit:
                return need <= self.mem_limit
            return lib.ntk_mem_check(need, 0, b"preconditioner") == 0

        while r > 16 and not fits(r):
            r //= 2
        return r

    def preconditioner(self, rank: int, seed: int = 1) -> ctypes.c_void_p:
        """The Nyström preconditioner of rank `rank` (built once per rank and
        seed from a randomly pivoted Cholesky factor, O(n·rank) memory, rank
        columns of K; freed with the operator).

        Args:
          rank: the factor's rank, 1..n.
          seed: the pivots' random draws.
        """
        rank = int_arg(rank, "precond_rank", 1, self.n)
        key = (rank, seed_arg(seed))
        if key not in self._precond:
            h = ctypes.c_void_p()
            check(lib.ntk_nystrom_create(self.handle, rank, key[1], byref(h)))
            self._precond[key] = h
        return self._precond[key]

    def solve(self, Y: ArrayLike, ridge: float = 0.0, rtol: float = 1e-8, max_iter: int = 1000,
              precond_rank: Union[str, int] = "auto", seed: int = 1) -> np.ndarray:
        """Kernel ridge coefficients A = (K + ridge·I)⁻¹ Y by preconditioned
        conjugate gradients (ntk_kernel_ridge_op), every column at once.

        Each column stops when its true relative residual
        ‖y_j − (K + ridge·I) a_j‖/‖y_j‖ is at most rtol; its error is then at
        most rtol·‖y_j‖/(λ_min(K) + ridge). The report is left in self.info.

        Args:
          Y: (n,) or (n, k) right-hand sides.
          ridge: λ >= 0 added to the diagonal (0 needs K positive definite).
          rtol: relative residual to reach, in (0, 1).
          max_iter: operator products allowed.
          precond_rank: rank of the Nyström preconditioner (0: none); "auto":
            min(n, 1000), halved while it needs more than a quarter of
            mem_limit (or of the available memory).
          seed: the preconditioner's random pivots.

        Returns:
          A, shaped like Y.

        Ctrl-C stops the iteration at its next step (KeyboardInterrupt).

        Raises:
          ntkit.ConvergenceError (a RuntimeError) when max_iter products leave
          a column above rtol (.partial: the last iterate, .info: the report);
          numpy.linalg.LinAlgError when K + ridge·I is found not positive
          definite.
        """
        Y2, shape = self._block(Y, "Y", self.n)
        ridge = float_arg(ridge, "ridge")
        cfg = lib.ntk_cg_config_default()
        cfg.rtol = float_arg(rtol, "rtol")
        cfg.max_iter = size_arg(max_iter, "max_iter", 1)
        if isinstance(precond_rank, str):
            if precond_rank != "auto":
                raise ValueError("precond_rank must be 'auto' or an integer >= 0, got %r"
                                 % (precond_rank,))
            rank = self._default_rank()
        else:
            rank = int_arg(precond_rank, "precond_rank", 0, self.n)
        cfg.seed = seed_arg(seed)
        if rank:
            cfg.precond = self.preconditioner(rank, cfg.seed).value
        A = _arrays.empty(Y2.shape, "the ridge coefficients")
        info = CGInfo()
        h = self.handle
        cancel = ctypes.c_int(0)    # Ctrl-C sets it; referenced until the call returns
        cfg.cancel = pointer(cancel)

        def call():
            st = lib.ntk_kernel_ridge_op(h, Y2, Y2.shape[1], ridge, byref(cfg), A, byref(info))
            return st, lib.ntk_errmsg()

        st, msg = stoppable(call, cancel)
        self.info = {"iterations": info.iterations, "residual": info.residual,
                     "precond_rank": info.precond_rank,
                     "precond_trace_err": info.precond_trace_err, "restarts": info.restarts,
                     "rtol": cfg.rtol}
        if st == NTK_ERR_INTERRUPTED:
            raise KeyboardInterrupt(msg.decode("utf-8", "replace"))
        if st == NTK_ERR_NOCONV:
            exc = error(st, msg=msg, names=_NAMES)
            exc.partial, exc.info = A.reshape(shape), dict(self.info)
            raise exc
        if st != 0:
            msg = msg.decode("utf-8", "replace")
            if "not positive definite" in msg:
                exc = LinAlgError("K + %g·I is not positive definite: conjugate gradients met a "
                                  "direction of non-positive curvature; pass a ridge > 0"
                                  % ridge)
                exc.status = "NTK_ERR_ARG"
                raise exc
            check(st, msg=msg, names=_NAMES)
        return _arrays.result(A.reshape(shape), "ridge coefficients", X=self._X, Y=Y2)

    @staticmethod
    def mem_bytes(n: int, d: int, kernel: str = "ntk-inf", mode: str = "dense",
                  width: int = 1, depth: int = 1, widths: Optional[Sequence[int]] = None,
                  weight_std: float = 1.0, bias_std: float = 0.0,
                  parameterization: str = "ntk") -> int:
        """Bytes an operator of this kind and mode holds for n points: 8·n² for
        "dense", 4·n² + scratch for "dense-f32", one tile's scratch for
        "matrix-free" (the library's estimate, ntk_op_mem_bytes: the figure
        the operator is checked against mem_limit with). At depth the
        empirical kinds' matrix-free scratch holds a tile's tape and two
        vectors of the network's parameters.

        Args:
          n: points.
          d: input dimension.
          kernel: a kind as in KernelOperator.
          mode: "dense", "dense-f32" or "matrix-free" ("auto" counts as
            matrix-free).
          width: the network's width m (empirical kinds), of every hidden
            layer unless widths is given.
          depth, widths, weight_std, bias_std, parameterization: the deep
            network, as ntkit.Network (defaults: the two-layer network); the
            lin kinds are two-layer only.
        """
        if not isinstance(kernel, str) or kernel not in KINDS:
            raise ValueError("kernel must be one of %s, got %r"
                             % (", ".join(repr(k) for k in KINDS), kernel))
        cfg = net_config(size_arg(d, "d", 1), size_arg(width, "width", 1), depth=depth,
                         widths=widths, weight_std=weight_std, bias_std=bias_std,
                         parameterization=parameterization)
        if KINDS[kernel][0] == KERNEL_LIN and is_deep(cfg):
            raise ValueError("kernel %r: Hu et al.'s linear models are two-layer only (depth 1, "
                             "weight_std 1, bias_std 0, parameterization 'ntk')" % kernel)
        k = lib.ntk_kernel_desc_default(KINDS[kernel][0], byref(cfg))
        return int(lib.ntk_op_mem_bytes(byref(k), size_arg(n, "n", 1), parse_operator(mode), 0))
