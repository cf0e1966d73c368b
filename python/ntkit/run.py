"""Side-by-side runs (ntk_run_*): the network and its surrogates trained
from one θ0 on one dataset with one pair of rates (docs/theory.md §1, §4–§7).

Models: nn (the network), linearized (first-order Taylor model at θ0),
lin (Hu et al.'s linear model), ntk (kernel GD with Θ(θ0)), ntk_inf (with Θ∞).

At depth (docs/depth.md: depth L > 1, biases, weight_std != 1 or the
standard parameterisation) nn trains with one rate per layer (lrs), the
linearized model is Jacobian-free, ntk and ntk_inf weigh layer l's share of
the kernel by its rate η_l, and lin (two-layer only) is left out.

Targets y of shape (n, k), k > 1 (e.g. one-hot labels), give the network k
outputs (docs/depth.md §1.7): every model's predictions are (n, k), the
losses sum over the outputs (c/2 Σ_i ‖f_i − y_i‖²), the ntk and ntk_inf
models act with their kernel on each output's column (Θ ⊗ I_k; for ntk Θ is
the mean of the per-output kernels at θ0), the metrics gain each model's
argmax accuracy (<model>_train_acc, <model>_test_acc) after the other
columns, and lin is left out (a k-output network runs the deep code).

The package has no training loop of its own: run() and Network.train hand
the whole schedule to the library's driver (ntk_run_execute), which
advances every model, stops on divergence or on request, computes the
theory at t = 0 and checks it against the run, and passes each logged row
to a callback that copies it into a preallocated array.
"""
import ctypes
import sys
import warnings
from ctypes import byref
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays
from ._args import bool_arg, c_int_arg, float_arg, int_arg, size_arg
from ._handle import Owned
from ._interrupt import stoppable
from ._lib import (DEFAULTS, DEPTH_NAMES, NTK_ERR_DIVERGED, NTK_ERR_INTERRUPTED, ROW_FN, GDConfig,
                   RunData, RunReport, RunTheory, as_array, check, depth_config, error, is_deep,
                   layer_shapes, lib, net_config, parse_loss, parse_models, parse_operator, ptr,
                   struct_dict)

MODELS = ("nn", "linearized", "lin", "ntk", "ntk_inf")

# the report's checks of the theory against the run, as run() returns them
_CHECKS = ("t", "diverged_at", "rows", "seconds", "loss0", "loss_growth", "envelope_max_ratio",
           "R_max", "flip_max", "theta_max", "gap_lin_at_T", "time_at_T", "beta_estimate",
           "beta_used", "alpha_condition")


class Run(Owned):
    """One side-by-side run (ntk_run), stepped by hand: the network and its
    surrogates from one θ0 on one dataset.

    The data are borrowed by the C run from private copies. Use advance(t),
    metrics(), predictions(model), predict(X, model), theory(),
    beta_estimate(); the network's parameters now and at θ0 are params,
    params0 (one (W_l, b_l) per layer, as Network.params), theta, theta0
    (flat) at any depth, weights (W, v) for the two-layer network; is_deep,
    depth and config describe the network and its rates. close() (or a with
    block) frees it.

    Args:
      X: (n, d) training inputs.
      y: (n,) training targets, or (n, k): k outputs (one-hot labels, say).
      X_test, y_test: (nt, d) and (nt,) (or (nt, k), as y) test data, or
        None (both).
      d: the input dimension, checked against X when given.
      width, act, act_param, init, input_scale, alpha, centered, seed: the
        network, as Network.
      depth, widths, weight_std, bias_std, parameterization: the deep
        network, as Network (defaults: the two-layer network).
      outputs: k, the network's output units: None (default) takes it from
        y's columns (1 for a 1-d y); when given, checked against them.
      W0, v0: initial weights (m, d) and (m,) instead of the seed's draw
        (two-layer network only; W0 alone: v0 from the seed).
      theta0: the initial parameters as one flat vector (the layout of
        Network.theta) instead of the seed's draw, at any depth.
      lr1, lr2: rates of the first and second layers (default 1 each); at
        depth, of the hidden layers 1..L and of the output layer L+1.
      lrs: one rate per layer, L+1 values η_1..η_{L+1} (0 freezes a layer),
        in place of lr1, lr2.
      models: "all" or names among nn, linearized, lin, ntk, ntk_inf. At
        depth "all" leaves lin out (a UserWarning says so, as the CLI's
        note) and naming lin is a ValueError.
      flow: True for gradient flow (t is a time), False for GD (t counts steps).
      flow_rtol: the flow's ODE tolerance.
      loss: "mean" or "sum".
      kernel_every: measure the NTK drift at every kernel_every-th logged row
        of a schedule (0: never).
      kernel_subsample: training points of the drift (0: all).
      quad_order: Gauss–Hermite order (0: the default).
      mem_limit: bytes for kernel tiles (0: the library's default).
      trace_factor: √(Tr Σ²/d) for Hu et al.'s model; None estimates it from X.
      t_max: the last time the run will reach (sizes the Krylov kernel models
        for large n); 0: unbounded.
      flips: track the fraction of activation signs that changed.
      kernel_operator: how the ntk and ntk_inf models hold their kernels:
        "auto" (stored when it fits mem_limit, else matrix-free), "dense",
        "dense-f32" or "matrix-free".
    """

    _free = "ntk_run_free"
    _what = "run"

    def __init__(self, X: ArrayLike, y: ArrayLike, X_test: Optional[ArrayLike] = None,
                 y_test: Optional[ArrayLike] = None, d: Optional[int] = None, width: int = 256,
                 act: str = "relu", act_param: Optional[float] = None, init: str = "gaussian",
                 input_scale: str = "sqrt_d", alpha: float = 1.0, centered: bool = False,
                 lr1: Optional[float] = None, lr2: Optional[float] = None,
                 models: Union[str, Sequence[str]] = "all",
                 flow: bool = False, flow_rtol: float = 1e-6, loss: str = "mean",
                 kernel_every: int = 10, kernel_subsample: int = DEFAULTS["kernel_subsample"],
                 quad_order: int = 0, mem_limit: int = 0, trace_factor: Optional[float] = None,
                 seed: int = 0, W0: Optional[ArrayLike] = None, v0: Optional[ArrayLike] = None,
                 t_max: float = 0.0, flips: bool = True, kernel_operator: str = "auto",
                 depth: int = 1, widths: Optional[Sequence[int]] = None,
                 weight_std: float = 1.0, bias_std: float = 0.0, parameterization: str = "ntk",
                 lrs: Optional[Sequence[float]] = None, theta0: Optional[ArrayLike] = None,
                 outputs: Optional[int] = None):
        self._h = None
        # The C run borrows the data for its whole life: keep private copies, so that a
        # caller changing its arrays in place cannot change the run's numbers silently.
        if d is not None:
            d = size_arg(d, "d", 1)
        X = _own(_arrays.matrix(X, "X", cols=d), X)
        n, d = X.shape
        k = _run_outputs(y, outputs)
        y = _own(_targets(y, "y", n, k), y)
        if (X_test is None) != (y_test is None):
            raise ValueError("pass both X_test and y_test, or neither")
        if X_test is not None:
            X_test = _own(_arrays.matrix(X_test, "X_test", cols=d), X_test)
            y_test = _own(_targets(y_test, "y_test", X_test.shape[0], k, run=True), y_test)
        ncfg = net_config(d, width, act, act_param, init, input_scale, alpha, centered, seed,
                          depth, widths, weight_std, bias_std, parameterization)
        _outputs_arg(ncfg, k)
        deep = is_deep(ncfg)
        gd = _gd_config(ncfg, deep, lr1, lr2, lrs, loss)
        cfg = lib.ntk_run_config_default(ncfg, gd)
        cfg.models = _models_for(models, ncfg, deep)
        cfg.flow = int(bool_arg(flow, "flow"))
        cfg.flow_rtol = float_arg(flow_rtol, "flow_rtol")
        cfg.kernel_every = size_arg(kernel_every, "kernel_every")
        cfg.kernel_subsample = size_arg(kernel_subsample, "kernel_subsample")
        cfg.flips = int(bool_arg(flips, "flips"))
        cfg.quad_order = c_int_arg(quad_order, "quad_order", 0)
        cfg.mem_limit = size_arg(mem_limit, "mem_limit")
        cfg.trace_factor = 0.0 if trace_factor is None else float_arg(trace_factor, "trace_factor")
        t_max = float_arg(t_max, "t_max")
        if t_max < 0:
            raise ValueError("t_max must be >= 0 (0: unbounded), got %r" % t_max)
        cfg.t_max = t_max
        cfg.kernel_operator = parse_operator(kernel_operator)
        m = ncfg.m
        if theta0 is not None:
            if W0 is not None or v0 is not None:
                raise ValueError("pass theta0 or W0 (and v0), not both")
            # the library reads θ0 from W0 when v0 is NULL (ntk_run_create)
            W0 = _arrays.vector(theta0, "theta0", lib.ntk_net_nparams(byref(ncfg)))
        elif deep and (W0 is not None or v0 is not None):
            raise ValueError("W0 and v0 are the two-layer network's weights; this network has %s:"
                             " pass theta0 (the flat parameters, as Network.theta)"
                             % _depth_words(ncfg))
        elif W0 is not None:
            W0 = _arrays.matrix(W0, "W0", cols=d, rows=m)
            if v0 is None:   # as the CLI: v0 drawn from the seed as init prescribes
                v0 = np.empty(m)
                check(lib.ntk_init_weights(byref(ncfg), np.empty((m, d)), v0))
            v0 = _arrays.vector(v0, "v0", m)
        elif v0 is not None:
            raise ValueError("v0 needs W0 (pass both, or W0 alone)")
        self._open(cfg, (X, y, X_test, y_test), W0, v0)

    @classmethod
    def _create(cls, cfg, data, W0, v0):
        """A Run from a complete ntk_run_config and checked arrays (X, y, X_test or
        None, y_test or None), borrowed as they are (Network.train)."""
        self = cls.__new__(cls)
        self._h = None
        self._open(cfg, data, W0, v0)
        return self

    def _open(self, cfg, data, W0, v0):
        X, y, X_test, y_test = data
        nt = 0 if X_test is None else X_test.shape[0]
        self.cfg = cfg
        self.flow = bool(cfg.flow)
        self.n, self.d = X.shape
        self.nt = nt
        self.outputs = max(1, cfg.net.outputs)
        self._data = (X, y, X_test, y_test)   # borrowed by the C run: referenced while it lives
        rd = RunData(ptr(X), ptr(y), X.shape[0], ptr(X_test), ptr(y_test), nt)
        h = ctypes.c_void_p()
        check(lib.ntk_run_create(byref(cfg), byref(rd), W0, v0, byref(h)))
        self._h = h
        # Flags the run reads (kept referenced for its life): Ctrl-C sets _cancel, which
        # stops ntk_run_advance and ntk_run_execute within one step; a second Ctrl-C sets
        # _hurry, which makes the driver skip its final computations.
        self._cancel, self._hurry = ctypes.c_int(0), ctypes.c_int(0)
        lib.ntk_run_set_cancel(h, byref(self._cancel))
        self.columns = [lib.ntk_run_column(h, k).decode() for k in range(lib.ntk_run_ncolumns(h))]
        self.is_deep = is_deep(cfg.net)
        self._layers = layer_shapes(cfg.net)
        self._P = lib.ntk_net_nparams(byref(cfg.net))
        self._overflow_hint = ("lower the rates %s (the run's theory()['lr_max_stable'] "
                               "is the largest stable common rate)"
                               % ("lrs" if cfg.gd.nlr else "lr1, lr2"))
        self.models = [MODELS[k] for k in range(len(MODELS)) if (cfg.models >> k) & 1]

    @property
    def time(self) -> float:
        """Current time (steps for GD, time for flow)."""
        return lib.ntk_run_time(self.handle)

    def advance(self, t: float) -> None:
        """Move every model to time t.

        One library call (ntk_run_advance) that Ctrl-C can stop: GD stops at
        the step reached, flow goes back to where the call started.

        Args:
          t: the time to reach, not before the current one: a whole number of
            steps for GD, a time for flow.

        Raises:
          DivergedError if the network diverges (the state before the failing
          step is kept).
        """
        t = _time_arg(t, self.flow, "t")
        h = self.handle

        def call():
            st = lib.ntk_run_advance(h, t)
            return st, lib.ntk_errmsg() if st else None   # errmsg is per thread

        status, msg = self._stoppable(call)
        check(status, None, msg)

    def _stoppable(self, call):
        """call() -> (status, message), a library call on this run, run so that
        Ctrl-C can stop it (ntkit._interrupt.stoppable: the library stops
        within one step, KeyboardInterrupt is raised here once it has
        returned, so the run is never freed while the library uses it; a
        second Ctrl-C sets the hurry flag, and the driver then skips its final
        computations)."""
        self.handle   # ValueError after close(), before any thread starts
        self._cancel.value = 0
        self._hurry.value = 0
        status, msg = stoppable(call, self._cancel, self._hurry)
        if status == NTK_ERR_INTERRUPTED:   # the flag was set by someone else
            raise KeyboardInterrupt(msg.decode("utf-8", "replace"))
        return status, msg

    def _execute(self, t_final, t_every, theory, log, times=None):
        """One ntk_run_execute from the current time to t_final, logging every
        t_every (and t_final) into `log` (a _RowLog), or at the explicit
        `times` (a float64 array) when given, with the theory at t = 0 and its
        checks when `theory`. Returns (status, message, report); raises
        KeyboardInterrupt (after the driver has stopped) on Ctrl-C and the
        callback's own exception (a non-finite metric, no memory for the log)."""
        h = self.handle
        sch = lib.ntk_schedule_default(t_final, t_every)
        sch.theory = int(theory)
        if times is not None:   # referenced by the caller until the driver has returned
            sch.times, sch.ntimes = ptr(times), times.size
        sch.cancel = ctypes.pointer(self._cancel)
        sch.hurry = ctypes.pointer(self._hurry)
        sch.on_row = ROW_FN(log.callback)   # referenced by sch until the driver has returned
        rep = RunReport()

        def call():
            st = lib.ntk_run_execute(h, byref(sch), byref(rep))
            return st, lib.ntk_errmsg() if st else None

        status, msg = self._stoppable(call)
        if log.failure is not None:   # the callback stopped the run: its reason, not the driver's
            raise log.failure
        return status, msg, rep

    def metrics(self, with_kernel: bool = False) -> Dict[str, float]:
        """Metrics now: dict {column: float} (NaN: not measured).

        Args:
          with_kernel: also measure the NTK drift and λ_min on the kernel
            subsample.

        Raises:
          NonFiniteError if a value is ±Inf (a model overflowed).
        """
        row = np.empty(len(self.columns))
        check(lib.ntk_run_metrics(self.handle, int(bool_arg(with_kernel, "with_kernel")), row))
        self._check_row(row, self.time)
        return dict(zip(self.columns, row.tolist()))

    def _check_row(self, row, t):
        """NonFiniteError naming the first ±Inf value of a metrics row (logged at t)."""
        inf = np.isinf(row)
        if inf.any():
            k = int(np.argmax(inf))
            X, y, _, _ = self._data
            _arrays.result(row[k], "metric %s at t = %g" % (self.columns[k], t),
                           hint="a model overflowed: %s or rescale X (|X| <= %.3g) and y "
                                "(|y| <= %.3g)" % (self._overflow_hint, np.abs(X).max(),
                                                   np.abs(y).max()))

    def predictions(self, model: Union[str, int] = "nn"
                    ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """(f_train (n,), f_test (nt,) or None) of a model now; (n, k) and
        (nt, k) with k outputs.

        Args:
          model: a name of MODELS ("nn", "linearized", "lin", "ntk", "ntk_inf")
            or its index 0..4.
        """
        k = _model_index(model)
        f = np.empty(_shape(self.n, self.outputs))
        ft = np.empty(_shape(self.nt, self.outputs)) if self.nt else None
        check(lib.ntk_run_predictions(self.handle, k, f, ft))
        what = "%s predictions at t = %g" % (MODELS[k], self.time)
        X, _, Xt, _ = self._data
        return (_arrays.result(f, what + " (train)", X=X),
                _arrays.result(ft, what + " (test)", X_test=Xt))

    def predict(self, X: ArrayLike, model: Union[str, int] = "nn") -> np.ndarray:
        """A model's outputs now on any inputs (ntk_run_predict_at): the network,
        its linearisation and Hu et al.'s model evaluated at X, the kernel models
        through the cross kernel K(X, X_train).

        Args:
          X: (n, d) inputs.
          model: a name of MODELS or its index; it must be part of the run.

        Returns:
          f of shape (n,), or (n, k) with k outputs.
        """
        k = _model_index(model)
        X = _arrays.matrix(X, "X", cols=self.d)
        f = np.empty(_shape(X.shape[0], self.outputs))
        check(lib.ntk_run_predict_at(self.handle, k, X, X.shape[0], f))
        return _arrays.result(f, "%s predictions at t = %g" % (MODELS[k], self.time), X=X)

    def theory(self) -> Dict[str, float]:
        """The theory quantities (ntk_run_theory) as a dict of floats; NaN or
        Inf where a quantity is undefined for these settings (e.g. beta_bound
        for a non-smooth activation, horizon_T with lr1 = 0), as the CLI's
        summary.json writes null."""
        th = RunTheory()
        check(lib.ntk_run_theory_get(self.handle, byref(th)))
        return struct_dict(th)

    def beta_estimate(self) -> float:
        """Empirical Lipschitz estimate of J for h = f/α now (NaN at θ0, where
        it is undefined)."""
        b = ctypes.c_double()
        check(lib.ntk_run_beta_estimate(self.handle, byref(b)))
        return b.value

    @property
    def weights(self) -> Tuple[np.ndarray, np.ndarray]:
        """Current network weights (W (m,d), v (m,)), copies (two-layer network
        only; at depth: params or theta)."""
        if self.is_deep:
            raise ValueError("weights are the two-layer network's (W, v); this run's network has "
                             "%s: use params (one (W_l, b_l) per layer) or theta"
                             % _depth_words(self.cfg.net))
        net = lib.ntk_run_net(self.handle)
        m = self.cfg.net.m
        return as_array(lib.ntk_net_W(net), (m, self.d)), as_array(lib.ntk_net_v(net), (m,))

    @property
    def depth(self) -> int:
        """L, the number of hidden layers (1 for the two-layer network)."""
        return len(self._layers) - 1

    @property
    def config(self) -> Dict[str, Any]:
        """The network's settings as Network.config gives them (d, width, act,
        act_param, init, input_scale, alpha, centered, seed, s, depth, widths,
        weight_std, bias_std, parameterization, outputs) and every layer's
        rate, lrs (η_1..η_{L+1})."""
        c = self.cfg.net
        out = {"d": c.d, "width": c.m, "act": lib.ntk_act_name(c.act.kind).decode(),
               "act_param": c.act.param, "init": lib.ntk_init_name(c.init).decode(),
               "input_scale": lib.ntk_input_scale_name(c.input_scale).decode(),
               "alpha": c.alpha, "centered": bool(c.centered), "seed": c.seed,
               "s": lib.ntk_net_config_s(byref(c))}
        out.update(depth_config(c))
        out["outputs"] = self.outputs
        gd, L = self.cfg.gd, self.depth
        # ntk_gd_config's rule: nlr = 0 gives layers 1..L lr1 and layer L+1 lr2
        out["lrs"] = list(gd.lrs[:L + 1]) if gd.nlr else [gd.lr1] * L + [gd.lr2]
        return out

    @property
    def theta(self) -> np.ndarray:
        """The network's current parameters, flat (nparams,), a copy, in the
        layout of Network.theta (two-layer: [W.ravel(), v])."""
        return as_array(lib.ntk_net_theta(lib.ntk_run_net(self.handle)), (self._P,))

    @property
    def theta0(self) -> np.ndarray:
        """The network's initial parameters θ0, flat (nparams,), a copy."""
        return as_array(lib.ntk_net_theta0(lib.ntk_run_net(self.handle)), (self._P,))

    def _split(self, theta):
        out = []
        for off, (mo, mi), nb in self._layers:
            W = theta[off:off + mo * mi].reshape(mo, mi).copy()
            b = theta[off + mo * mi:off + mo * mi + nb].copy() if nb else None
            out.append((W, b))
        return out

    @property
    def params(self) -> List[Tuple[np.ndarray, Optional[np.ndarray]]]:
        """The network's current parameters as a list of the L+1 layers (W_l,
        b_l), as Network.params: W_l (m_l, m_{l−1}), b_l (m_l,) or None
        without biases; copies. Two-layer: [(W, None), (v[None, :], None)]."""
        return self._split(self.theta)

    @property
    def params0(self) -> List[Tuple[np.ndarray, Optional[np.ndarray]]]:
        """The network's initial parameters, as params (copies)."""
        return self._split(self.theta0)


def _depth_words(ncfg):
    c = depth_config(ncfg)
    words = ("depth %d, widths %s, weight_std %g, bias_std %g, %s parameterization"
             % (c["depth"], c["widths"], c["weight_std"], c["bias_std"], c["parameterization"]))
    if ncfg.outputs > 1:
        words += ", %d outputs" % ncfg.outputs
    return words


_LOSS_SUM = parse_loss("sum")


def _shape(n, k):
    """The shape of n points' outputs or targets: (n,) for one output, (n, k) for k."""
    return (n,) if k == 1 else (n, k)


def _outputs_arg(ncfg, outputs):
    """Set ncfg.outputs from the Python argument `outputs` (a whole number >= 1),
    and check the network settings with it (the output layer's size)."""
    ncfg.outputs = size_arg(outputs, "outputs (the number of output units)", 1)
    check(lib.ntk_net_config_check(byref(ncfg)), names=DEPTH_NAMES)


def _columns_of(y):
    """The columns of targets y: 1 for a 1-d y, y.shape[1] for a 2-d one (None
    for another shape, which _targets refuses with its message)."""
    nd = np.ndim(y)
    return 1 if nd == 1 else np.shape(y)[1] if nd == 2 else None


def _run_outputs(y, outputs):
    """k of a run: `outputs` when given (checked against y's columns), else y's columns."""
    cols = _columns_of(y)
    if outputs is None:
        return 1 if cols is None or cols == 0 else cols
    k = size_arg(outputs, "outputs (the number of output units)", 1)
    if cols is not None and cols != k:
        raise ValueError("y has %d column%s but outputs=%d: pass y of shape (n, %d) (one column "
                         "per output), or outputs=%d (or None, to take it from y)"
                         % (cols, "" if cols == 1 else "s", k, k, cols))
    return k


def _targets(y, name, n, k, run=False):
    """Targets for a network of k outputs, checked: (n,) when k = 1 (an (n, 1)
    array is taken as its column), (n, k) when k > 1; finite. A wrong number
    of columns is a ValueError naming `name` that says how to fix it (`run`:
    the test targets of a run, whose y has set k)."""
    a = _arrays.as_f64(y, name)
    cols = 1 if a.ndim == 1 else a.shape[1] if a.ndim == 2 else None
    if cols == k or cols is None:   # (another ndim: _arrays' message)
        if k == 1 and a.ndim == 2:
            a = np.ascontiguousarray(a[:, 0])
        return _arrays.vector(a, name, n) if k == 1 else _arrays.targets(a, name, n)
    have = "is 1-d (shape %s)" % (a.shape,) if a.ndim == 1 else "has %d columns" % cols
    want = "(n,)" if k == 1 else "(n, %d)" % k
    if run:
        raise ValueError("%s %s but y has %d column%s (the network's outputs): pass %s of "
                         "shape %s, as y" % (name, have, k, "" if k == 1 else "s", name,
                                             want.replace("n", "nt", 1)))
    if a.ndim == 1:
        raise ValueError("%s %s but the network has %d outputs: pass %s of shape %s, one "
                         "column per output (one-hot labels: np.eye(%d)[labels]), or make the "
                         "network with outputs=1" % (name, have, k, name, want, k))
    raise ValueError("%s %s but the network has %d output%s: pass %s of shape %s, or make "
                     "the network with outputs=%d" % (name, have, k, "" if k == 1 else "s",
                                                      name, want, cols))


def _loss_value(loss_kind, f, y, n):
    """c/2 Σ_i ‖f_i − y_i‖² over n points (f, y of n·k values; c = 1/n "mean",
    1 "sum"), the number the run's metrics give: the library's ntk_loss_value
    for one output; for k outputs its "sum" form over the n·k values (0.5·s,
    s the squares summed in order) scaled as the run does, (0.5·c)·s."""
    if f.size == n:
        return lib.ntk_loss_value(loss_kind, f, y, n)
    s = 2.0 * lib.ntk_loss_value(_LOSS_SUM, np.ravel(f), np.ravel(y), f.size)   # exact: 2·(0.5·s)
    c = 1.0 if loss_kind == _LOSS_SUM else 1.0 / n
    return 0.5 * c * s


def _gd_config(ncfg, deep, lr1, lr2, lrs, loss):
    """The ntk_gd_config of a run, as the CLI fills it (cli/setup.c): lr1, lr2
    (default 1 each; at depth the hidden layers' and the output layer's rate),
    or lrs, one rate per layer: lr1 = η_1 and lr2 = η_{L+1}, and at L > 1 the
    whole list (nlr = L+1). The rates are checked with messages naming the
    argument; the two-layer lr1, lr2 are checked by the library, as always."""
    from .network import _rates   # (network.py imports this module)
    L = lib.ntk_net_depth(byref(ncfg))
    if lrs is None:
        lr1 = 1.0 if lr1 is None else lr1
        lr2 = 1.0 if lr2 is None else lr2
    rates = _rates(lr1, lr2, lrs, L, signs=deep or lrs is not None)
    gd = GDConfig(rates[0], rates[-1], parse_loss(loss))
    if lrs is not None and L > 1:
        gd.nlr = L + 1
        gd.lrs[:L + 1] = rates
    return gd


def _names_lin(models):
    """True when the model list names lin itself (not through "all")."""
    names = models.split(",") if isinstance(models, str) else list(models)
    return any(isinstance(m, str) and m.replace("-", "_") == "lin" for m in names)


def _models_for(models, ncfg, deep):
    """The NTK_MODEL_* mask of `models` for this network. Hu et al.'s linear
    model is the two-layer network's: at depth, named, it is a ValueError;
    through "all" it is left out with a UserWarning (the CLI's note)."""
    mask = parse_models(models)
    lin = 1 << MODELS.index("lin")
    if not deep or not mask & lin:
        return mask
    if _names_lin(models):
        raise ValueError("models: Hu et al.'s linear model 'lin' is the two-layer network's "
                         "(depth 1, weight_std 1, bias_std 0, parameterization 'ntk', one "
                         "output), and this network has %s; use "
                         "models='nn,linearized,ntk,ntk_inf'" % _depth_words(ncfg))
    one = "" if ncfg.outputs <= 1 else " of one output (this one has %d)" % ncfg.outputs
    warnings.warn("model lin (Hu et al.'s linear model) is for the two-layer network only%s; "
                  "running nn,linearized,ntk,ntk_inf" % one, UserWarning, stacklevel=_outside())
    return mask & ~lin


def _outside():
    """The stacklevel of warnings.warn, called by the caller of this function,
    that names the first frame outside the ntkit package (the user's call)."""
    f, level = sys._getframe(2), 2
    while f is not None and f.f_globals.get("__name__", "").split(".")[0] == "ntkit":
        f, level = f.f_back, level + 1
    return level


def _model_index(model):
    """A model's index 0..4 from its name (MODELS; '-' for '_' accepted) or index."""
    if isinstance(model, str):
        name = model.replace("-", "_")
        if name not in MODELS:
            raise ValueError("unknown model %r; choose one of %s" % (model, ", ".join(MODELS)))
        return MODELS.index(name)
    return int_arg(model, "model", 0, len(MODELS) - 1)


class _RowLog:
    """The rows the driver logs, copied into a preallocated array.

    `callback` is the ntk_row_fn: it copies the row (its columns `select`, or
    all) into the next row of the array, and stops the run (returns 1, with the
    reason kept in `failure`) on a ±Inf metric or when an exception occurs.
    `on_row(run_handle, array_row)` may adjust a copied row. `record` = (X
    (nr, d), model indices): each row also records those models' outputs on X,
    into `recorded` (rows, models, nr), or (rows, models, nr, k) with k outputs."""

    def __init__(self, run, rows, select=None, on_row=None, what="the metrics log",
                 record=None):
        self.run = run
        self.record = record
        self.rec = None
        if record is not None:
            Xr, models = record
            self.rec = _arrays.empty((max(int(rows), 1), len(models))
                                     + _shape(Xr.shape[0], run.outputs),
                                     "the recorded predictions")
        self.select = None if select is None else np.asarray(select)
        self.width = len(run.columns) if select is None else len(select)
        self.what = what
        self.buf = _arrays.empty((max(int(rows), 1), self.width), what)
        self.count = 0
        self.on_row = on_row
        self.failure = None

    def callback(self, ctx, run, row):
        try:
            full = np.ctypeslib.as_array(row, (len(self.run.columns),))
            if self.count == self.buf.shape[0]:
                grown = _arrays.empty((2 * self.count, self.width), self.what)
                grown[:self.count] = self.buf
                self.buf = grown
                if self.rec is not None:
                    more = _arrays.empty((2 * self.count,) + self.rec.shape[1:],
                                         "the recorded predictions")
                    more[:self.count] = self.rec
                    self.rec = more
            dest = self.buf[self.count]
            dest[:] = full if self.select is None else full[self.select]
            if self.on_row is not None:
                self.on_row(run, dest)
            if self.record is not None:
                Xr, models = self.record
                for j, k in enumerate(models):
                    check(lib.ntk_run_predict_at(run, k, Xr, Xr.shape[0], self.rec[self.count, j]))
            self.count += 1
            self.run._check_row(full, full[0])
            return 0
        except BaseException as e:   # the driver must hear of it: stop the run
            self.failure = e
            return 1

    @property
    def rows(self):
        return self.buf[:self.count]

    @property
    def recorded(self):
        """(rows, models, nr) (k outputs: (rows, models, nr, k)) predictions on the
        record inputs, or None."""
        return None if self.rec is None else self.rec[:self.count]


def _own(checked, given):
    """checked (from _arrays) as an array no caller holds: a copy when it is `given` itself."""
    return checked.copy() if checked is given else checked


def _time_arg(t, flow, name):
    """A time for ntk_run_advance: finite and >= 0; a whole number of steps for GD
    (the library rounds, and Inf would never end)."""
    if flow:
        t = float_arg(t, name)
        if t < 0:
            raise ValueError("%s must be >= 0, got %r" % (name, t))
        return t
    return float(int_arg(t, name + " (a whole number of GD steps)", 0, 2 ** 53))


def schedule(steps, log_every, flow=False):
    """Log times: 0, log_every, 2·log_every, ... and always `steps` itself
    (for flow, steps is the final time and log_every the time between logs).
    The library's driver logs at these times; this gives their number ahead."""
    if flow:
        T, dt = float_arg(steps, "steps"), float_arg(log_every, "log_every")
        if not (T >= 0 and dt > 0):
            raise ValueError("flow needs steps (final time) >= 0 and log_every (interval) > 0")
        k = T / dt * (1 + 1e-12)
        _check_log_points(k + 2, steps, log_every)
        ts = np.arange(int(k) + 1) * dt
        if T - ts[-1] > 1e-9 * dt:
            ts = np.append(ts, T)
        ts[-1] = T          # the final time exactly, not k·dt rounded
        return ts
    steps = int_arg(steps, "steps", 0, 2 ** 53)
    log_every = int_arg(log_every, "log_every", 1, 2 ** 53)
    _check_log_points(steps // log_every + 2, steps, log_every)
    ts = np.arange(0, steps + 1, log_every, dtype=float)
    if ts[-1] != steps:
        ts = np.append(ts, float(steps))
    return ts


# bytes per log point: its time and a row of metrics (the runs have at most 64 columns)
_LOG_ROW_BYTES = 8 * (1 + 64)


def _check_log_points(count, steps, log_every):
    """MemoryError, before anything runs, when the log of `count` points would not fit."""
    if not count < 2 ** 53:
        raise MemoryError("steps = %r with log_every = %r asks for more than 2**53 log points; "
                          "raise log_every" % (steps, log_every))
    _arrays.check_mem(count * _LOG_ROW_BYTES, "the log of %d points (steps %r / log_every %r; "
                      "raise log_every)" % (count, steps, log_every))


def _result(r, rows, theory):
    metrics = {c: rows[:, k].copy() for k, c in enumerate(r.columns)}
    return {"metrics": metrics, "theory": theory, "columns": list(r.columns),
            "models": list(r.models)}


def _checks(rep):
    """The report's checks of the theory against the run, as a dict."""
    out = {"status": lib.ntk_run_status_name(rep.status).decode()}
    for name in _CHECKS:
        out[name] = float(getattr(rep, name))
    out["rows"] = int(rep.rows)
    out["beta_from_bound"] = bool(rep.beta_from_bound)
    return out


def _times(times, flow):
    """Explicit log times: a non-empty 1-d sequence of finite, non-decreasing
    times >= 0, whole step counts for GD, as a float64 array."""
    ts = np.asarray(times)
    if ts.ndim != 1 or ts.size == 0 or ts.dtype.kind not in "iuf":
        raise ValueError("times must be a non-empty 1-d sequence of numbers, got %r" % (times,))
    ts = np.array([_time_arg(t, flow, "times[%d]" % j) for j, t in enumerate(ts.tolist())])
    if np.any(np.diff(ts) < 0):
        j = int(np.argmax(np.diff(ts) < 0)) + 1
        raise ValueError("times must not decrease (times[%d] = %g after %g)"
                         % (j, ts[j], ts[j - 1]))
    return ts


def run(X: ArrayLike, y: ArrayLike, X_test: Optional[ArrayLike] = None,
        y_test: Optional[ArrayLike] = None, d: Optional[int] = None, width: int = 256,
        act: str = "relu", act_param: Optional[float] = None, init: str = "gaussian",
        input_scale: str = "sqrt_d", alpha: float = 1.0, centered: bool = False,
        lr1: Optional[float] = None, lr2: Optional[float] = None, steps: float = 1000,
        log_every: float = 10,
        models: Union[str, Sequence[str]] = "all", flow: bool = False, flow_rtol: float = 1e-6,
        loss: str = "mean", kernel_every: int = 10,
        kernel_subsample: int = DEFAULTS["kernel_subsample"], quad_order: int = 0,
        mem_limit: int = 0, trace_factor: Optional[float] = None, seed: int = 0,
        W0: Optional[ArrayLike] = None, v0: Optional[ArrayLike] = None,
        times: Optional[ArrayLike] = None, flips: bool = True,
        record: Optional[ArrayLike] = None, kernel_operator: str = "auto", depth: int = 1,
        widths: Optional[Sequence[int]] = None, weight_std: float = 1.0, bias_std: float = 0.0,
        parameterization: str = "ntk", lrs: Optional[Sequence[float]] = None,
        theta0: Optional[ArrayLike] = None, outputs: Optional[int] = None) -> Dict[str, Any]:
    """Train the network and its surrogates side by side: the `ntkit run` experiment.

    The library's driver (ntk_run_execute) runs the whole schedule; Ctrl-C
    stops it within one step and raises KeyboardInterrupt.

    Args:
      X: (n, d) training inputs.
      y: (n,) training targets, or (n, k) for a network of k outputs (e.g.
        one-hot labels, as make_dataset gives for "mnist:...:all"): every
        model's predictions are then (n, k), the losses c/2 Σ_i ‖f_i − y_i‖²
        (summed over the outputs), and the metrics gain the argmax accuracy
        columns <model>_train_acc and <model>_test_acc (the fraction of
        points whose largest output sits at the target's largest entry; NaN
        without test data), after the other columns.
      X_test, y_test: (nt, d) and (nt,) (or (nt, k), as y) test data, or
        None (both).
      d: the input dimension, checked against X when given.
      width, act, act_param, init, input_scale, alpha, centered, seed: the
        network, as Network.
      depth, widths, weight_std, bias_std, parameterization: the deep
        network (docs/depth.md), as Network and `ntkit run --depth`
        (defaults: the two-layer network, whose run is unchanged).
      outputs: k, the network's output units: None (default) takes it from
        y's columns (1 for a 1-d y); when given, checked against them (as
        `ntkit run --outputs`). A k-output network runs the deep code at
        any depth, so lin is left out of "all" (with a UserWarning).
      W0, v0: initial weights (m, d) and (m,) instead of the seed's draw (W0
        alone: v0 from the seed); two-layer network only.
      theta0: the initial parameters as one flat vector (the layout of
        Network.theta) instead of the seed's draw, at any depth.
      lr1, lr2: rates of the first (W) and second (v) layers, default 1
        each; 0 freezes one. At depth: lr1 for every hidden layer 1..L, lr2
        for the output layer L+1.
      lrs: one rate per layer, L+1 values η_1..η_{L+1} (W_l and b_l share
        η_l; 0 freezes layer l; not all 0), in place of lr1, lr2 (as
        `--lrs`). The ntk and ntk_inf models' kernels weigh layer l by η_l:
        K = Σ_l η_l Θ_l.
      steps: GD steps (flow=True: the final time).
      log_every: steps between logged rows (flow: the time between them);
        0 and `steps` are always logged.
      models: "all" or names among nn, linearized, lin, ntk, ntk_inf (a list
        or a comma-separated string; nn always runs). Hu et al.'s lin is the
        two-layer network's: at depth "all" leaves it out with a
        UserWarning (the CLI's note), and naming it is a ValueError.
      flow: True for gradient flow (t is a time), False for GD (t counts steps).
      flow_rtol: the flow's ODE tolerance (relative and absolute).
      loss: "mean" (1/(2n) Σ r²) or "sum" (1/2 Σ r²).
      kernel_every: measure the NTK drift at every kernel_every-th logged row
        and at the last (0: never).
      kernel_subsample: training points of the drift (default
        ntkit.DEFAULTS["kernel_subsample"]; 0: all).
      quad_order: Gauss–Hermite order of Θ∞ and the constants (0: default).
      mem_limit: bytes for kernel tiles (0: the library's default).
      trace_factor: √(Tr Σ²/d) of the inputs for Hu et al.'s model; None
        estimates it from X.
      times: explicit non-decreasing log times instead of steps/log_every.
      flips: track the fraction of activation signs that changed
        (piecewise-linear activations).
      record: (nr, d) inputs on which every model's outputs are recorded at
        each logged row (e.g. f at t = 100 without training again).
      kernel_operator: how the ntk and ntk_inf models hold their kernels:
        "auto" (stored when it fits mem_limit, else matrix-free), "dense",
        "dense-f32" or "matrix-free" (as `ntkit run --operator`).

    Returns:
      dict(metrics={column: array over logged rows}, theory={...} at t = 0,
      columns=[...], models=[...], predictions={model: (f_train, f_test)}
      ((n,), (nt,); with k outputs (n, k), (nt, k)) and
      beta_estimate at the final time, params and params0 (the network's
      final and initial parameters, one (W_l, b_l) per layer as
      Network.params; the files W{l}_final.npy, b{l}_final.npy of a deep run
      directory), recorded={model: (rows, nr) outputs on `record`, (rows,
      nr, k) with k outputs} when asked, and checks={...}: the theory
      against the run (docs/theory.md §7), from the driver's report: status, t (time
      reached), rows, seconds, loss0 and loss_growth (final/initial training
      loss of the network), envelope_max_ratio (max of loss / envelope;
      <= 1: the envelope held), R_max (max row movement, against theory
      D_bound, Du et al. 2019), flip_max, theta_max (max ‖θ − θ0‖, against
      theory weight_bound, Chizat et al. 2019), gap_lin_at_T and time_at_T
      (the gap to Hu et al. 2020's linear model at the first logged time >=
      horizon_T), beta_estimate, beta_used (the bound for smooth
      activations, the estimate otherwise: beta_from_bound says which) and
      alpha_condition (Chizat et al.'s condition on α with beta_used).
      At depth the two-layer network's statements are NaN: theory D_bound,
      flip_bound_D, beta_bound, alpha_condition and horizon_T, checks
      gap_lin_at_T and time_at_T (summary.json lists them under
      two_layer_only); checks alpha_condition then uses the Lipschitz
      estimate.

    Raises:
      DivergedError (a RuntimeError) with .partial (the same dict up to the
      last good row, without predictions) if the network diverges;
      ValueError for bad arguments.
    """
    flow = bool_arg(flow, "flow")
    ts = schedule(steps, log_every, flow) if times is None else _times(times, flow)
    with Run(X, y, X_test, y_test, d=d, width=width, act=act, act_param=act_param, init=init,
             input_scale=input_scale, alpha=alpha, centered=centered, lr1=lr1, lr2=lr2,
             models=models, flow=flow, flow_rtol=flow_rtol, loss=loss,
             kernel_every=kernel_every, kernel_subsample=kernel_subsample, flips=flips,
             quad_order=quad_order, mem_limit=mem_limit, trace_factor=trace_factor, seed=seed,
             W0=W0, v0=v0, t_max=float(np.max(ts)), kernel_operator=kernel_operator,
             depth=depth, widths=widths, weight_std=weight_std, bias_std=bias_std,
             parameterization=parameterization, lrs=lrs, theta0=theta0,
             outputs=outputs) as r:
        rec = None
        if record is not None:
            rec = (_arrays.matrix(record, "record", cols=r.d),
                   [MODELS.index(m) for m in r.models])
        log = _RowLog(r, ts.size + 1, record=rec)
        # (steps and log_every were checked by schedule, explicit times by _times)
        status, msg, rep = r._execute(float(ts[-1]), 1.0 if times is not None else
                                      float(log_every), True, log,
                                      None if times is None else ts)
        checks = _checks(rep)
        theory = struct_dict(rep.theory)
        recorded = None
        if rec is not None:
            recorded = {m: log.recorded[:, j].copy() for j, m in enumerate(r.models)}
        if status == NTK_ERR_DIVERGED:
            exc = error(status, "t = %g" % rep.diverged_at, msg)
            exc.partial = _result(r, log.rows, theory)
            exc.partial["checks"] = checks
            if recorded is not None:
                exc.partial["recorded"] = recorded
            raise exc
        check(status, None, msg)
        out = _result(r, log.rows, theory)
        if recorded is not None:
            out["recorded"] = recorded
        out["predictions"] = {m: r.predictions(m) for m in r.models}
        out["beta_estimate"] = checks["beta_estimate"]
        out["params"], out["params0"] = r.params, r.params0
        out["checks"] = checks
    return out
