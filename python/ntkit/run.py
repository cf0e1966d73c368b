"""Side-by-side runs (ntk_run_*): the network and its surrogates trained
from one θ0 on one dataset with one pair of rates (MATH.md §1, §4–§7).

Models: nn (the network), linearized (first-order Taylor model at θ0),
lin (Hu et al.'s linear model), ntk (kernel GD with Θ(θ0)), ntk_inf (with Θ∞).
"""
import ctypes
from ctypes import byref

import numpy as np

from . import _arrays
from ._handle import Owned
from ._lib import (NTK_ERR_DIVERGED, GDConfig, RunTheory, as_array, check, error, lib, net_config,
                   parse_loss, parse_models, size_arg, struct_dict)

MODELS = ("nn", "linearized", "lin", "ntk", "ntk_inf")


class Run(Owned):
    """One ntk_run handle: Run(X, y, X_test=None, y_test=None, **settings).

    X (n,d), y (n,), X_test (nt,d), y_test (nt,) are borrowed by the C run
    and kept referenced here. Settings are those of run() except the
    schedule (steps, log_every, times). Use advance(t), metrics(),
    predictions(model), theory(), beta_estimate(); close() frees.
    """

    _free = "ntk_run_free"
    _what = "run"

    def __init__(self, X, y, X_test=None, y_test=None, d=None, width=256, act="relu",
                 act_param=None, init="gaussian", input_scale="sqrt_d", alpha=1.0,
                 centered=False, lr1=1.0, lr2=1.0, models="all", flow=False, flow_rtol=1e-6,
                 loss="mean", kernel_every=10, kernel_subsample=500, quad_order=0, mem_limit=0,
                 trace_factor=None, seed=0, W0=None, v0=None, t_max=0.0):
        self._h = None
        X = _arrays.matrix(X, "X", cols=d)
        n, d = X.shape
        y = _arrays.vector(y, "y", n)
        if (X_test is None) != (y_test is None):
            raise ValueError("pass both X_test and y_test, or neither")
        nt = 0
        if X_test is not None:
            X_test = _arrays.matrix(X_test, "X_test", cols=d)
            nt = X_test.shape[0]
            y_test = _arrays.vector(y_test, "y_test", nt)
        ncfg = net_config(d, width, act, act_param, init, input_scale, alpha, centered, seed)
        gd = GDConfig(float(lr1), float(lr2), parse_loss(loss))
        cfg = lib.ntk_run_config_default(ncfg, gd)
        cfg.models = parse_models(models)
        cfg.flow = 1 if flow else 0
        cfg.flow_rtol = float(flow_rtol)
        cfg.kernel_every = size_arg(kernel_every, "kernel_every")
        cfg.kernel_subsample = size_arg(kernel_subsample, "kernel_subsample")
        cfg.quad_order = int(quad_order)
        cfg.mem_limit = size_arg(mem_limit, "mem_limit")
        cfg.trace_factor = 0.0 if trace_factor is None else float(trace_factor)
        cfg.t_max = float(t_max)
        m = ncfg.m
        if W0 is not None:
            W0 = _arrays.matrix(W0, "W0", cols=d, rows=m)
            if v0 is None:   # as the CLI: v0 drawn from the seed as init prescribes
                v0 = np.empty(m)
                check(lib.ntk_init_weights(byref(ncfg), np.empty((m, d)), v0))
            v0 = _arrays.vector(v0, "v0", m)
        elif v0 is not None:
            raise ValueError("v0 needs W0 (pass both, or W0 alone)")
        self.cfg = cfg
        self.flow = bool(flow)
        self.n, self.nt, self.d = n, nt, d
        self._data = (X, y, X_test, y_test)   # borrowed by the C run
        h = ctypes.c_void_p()
        check(lib.ntk_run_create(byref(cfg), X, y, n, X_test, y_test, nt, W0, v0, byref(h)))
        self._h = h
        self.columns = [lib.ntk_run_column(h, k).decode() for k in range(lib.ntk_run_ncolumns(h))]
        self.models = [MODELS[k] for k in range(len(MODELS)) if (cfg.models >> k) & 1]

    @property
    def time(self):
        """Current time (steps for GD, time for flow)."""
        return lib.ntk_run_time(self.handle)

    def advance(self, t):
        """Move every model to time t (not before the current time).
        DivergedError if the network diverges (state before the failing step kept)."""
        check(lib.ntk_run_advance(self.handle, float(t)))

    def metrics(self, with_kernel=False):
        """Metrics now: dict {column: float} (NaN: not measured). with_kernel
        also measures the NTK drift and λ_min on the kernel subsample."""
        row = np.empty(len(self.columns))
        check(lib.ntk_run_metrics(self.handle, 1 if with_kernel else 0, row))
        return dict(zip(self.columns, row.tolist()))

    def predictions(self, model="nn"):
        """(f_train (n,), f_test (nt,) or None) of a model (name or index 0..4) now."""
        k = MODELS.index(model.replace("-", "_")) if isinstance(model, str) else int(model)
        f = np.empty(self.n)
        ft = np.empty(self.nt) if self.nt else None
        check(lib.ntk_run_predictions(self.handle, k, f, ft))
        return f, ft

    def theory(self):
        """The theory quantities (ntk_run_theory) as a dict of floats."""
        th = RunTheory()
        check(lib.ntk_run_theory_get(self.handle, byref(th)))
        return struct_dict(th)

    def beta_estimate(self):
        """Empirical Lipschitz estimate of J for h = f/α now (NaN at θ0)."""
        b = ctypes.c_double()
        check(lib.ntk_run_beta_estimate(self.handle, byref(b)))
        return b.value

    @property
    def weights(self):
        """Current network weights (W (m,d), v (m,)), copies."""
        net = lib.ntk_run_net(self.handle)
        m = self.cfg.net.m
        return as_array(lib.ntk_net_W(net), (m, self.d)), as_array(lib.ntk_net_v(net), (m,))


def schedule(steps, log_every, flow=False):
    """Log times: 0, log_every, 2·log_every, ... and always `steps` itself
    (for flow, steps is the final time and log_every the time between logs)."""
    if flow:
        T, dt = float(steps), float(log_every)
        if not (T >= 0 and dt > 0):
            raise ValueError("flow needs steps (final time) >= 0 and log_every (interval) > 0")
        k = int(np.floor(T / dt * (1 + 1e-12)))
        ts = [j * dt for j in range(k + 1)]
        if T - ts[-1] > 1e-9 * dt:
            ts.append(T)
        ts[-1] = T          # the final time exactly, not k·dt rounded
        return np.array(ts)
    steps, log_every = int(steps), int(log_every)
    if steps < 0 or log_every < 1:
        raise ValueError("steps must be >= 0 and log_every >= 1")
    ts = list(range(0, steps + 1, log_every))
    if ts[-1] != steps:
        ts.append(steps)
    return np.array(ts, dtype=float)


def _result(r, rows, theory):
    metrics = {c: np.array([row[c] for row in rows]) for c in r.columns}
    return {"metrics": metrics, "theory": theory, "columns": list(r.columns),
            "models": list(r.models)}


def run(X, y, X_test=None, y_test=None, d=None, width=256, act="relu", act_param=None,
        init="gaussian", input_scale="sqrt_d", alpha=1.0, centered=False, lr1=1.0, lr2=1.0,
        steps=1000, log_every=10, models="all", flow=False, flow_rtol=1e-6, loss="mean",
        kernel_every=10, kernel_subsample=500, quad_order=0, mem_limit=0, trace_factor=None,
        seed=0, W0=None, v0=None, times=None):
    """Train the network and its surrogates side by side; the `ntkit run` experiment.

    X (n,d), y (n,), X_test (nt,d), y_test (nt,) (test optional). Network
    settings as Network (W0/v0 optional initial weights); rates lr1, lr2;
    models "all" or a list such as "nn,linearized,ntk" (nn always runs).
    GD: metrics at steps 0, log_every, ... and `steps`. flow=True: gradient
    flow, `steps` is the final time and `log_every` the time between logs.
    times: explicit non-decreasing log times instead. The NTK drift is
    measured at every kernel_every-th log point and at the last (0: never),
    on the first kernel_subsample training points. trace_factor None:
    estimated from X.

    Returns dict(metrics={column: array over log points}, theory={...} at
    t = 0, columns=[...], models=[...], predictions={model: (f_train,
    f_test)} and beta_estimate at the final time). Raises DivergedError
    with .partial (the same dict up to the last good log point) if the
    network diverges.
    """
    ts = schedule(steps, log_every, flow) if times is None else np.asarray(times, dtype=float)
    if ts.ndim != 1 or ts.size == 0:
        raise ValueError("times must be a non-empty 1-d sequence")
    with Run(X, y, X_test, y_test, d=d, width=width, act=act, act_param=act_param, init=init,
             input_scale=input_scale, alpha=alpha, centered=centered, lr1=lr1, lr2=lr2,
             models=models, flow=flow, flow_rtol=flow_rtol, loss=loss,
             kernel_every=kernel_every, kernel_subsample=kernel_subsample,
             quad_order=quad_order, mem_limit=mem_limit, trace_factor=trace_factor, seed=seed,
             W0=W0, v0=v0, t_max=float(np.max(ts))) as r:
        theory = r.theory()
        rows = []
        for j, t in enumerate(ts):
            status = lib.ntk_run_advance(r.handle, float(t))
            if status == NTK_ERR_DIVERGED:
                exc = error(status, "t = %g" % t)
                exc.partial = _result(r, rows, theory)
                raise exc
            check(status)
            kernel = kernel_every > 0 and (j % kernel_every == 0 or j == ts.size - 1)
            rows.append(r.metrics(with_kernel=kernel))
        out = _result(r, rows, theory)
        out["predictions"] = {m: r.predictions(m) for m in r.models}
        out["beta_estimate"] = r.beta_estimate()
    return out
