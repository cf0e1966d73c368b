"""Side-by-side runs (ntk_run_*): the network and its surrogates trained
from one θ0 on one dataset with one pair of rates (MATH.md §1, §4–§7).

Models: nn (the network), linearized (first-order Taylor model at θ0),
lin (Hu et al.'s linear model), ntk (kernel GD with Θ(θ0)), ntk_inf (with Θ∞).
"""
import _thread
import ctypes
import threading
from ctypes import byref

import numpy as np

from . import _arrays
from ._args import bool_arg, c_int_arg, float_arg, int_arg, size_arg
from ._handle import Owned
from ._lib import (NTK_ERR_DIVERGED, NTK_ERR_INTERRUPTED, GDConfig, RunTheory, as_array, check,
                   error, lib, net_config, parse_loss, parse_models, struct_dict)

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
        # The C run borrows the data for its whole life: keep private copies, so that a
        # caller changing its arrays in place cannot change the run's numbers silently.
        if d is not None:
            d = size_arg(d, "d", 1)
        X = _own(_arrays.matrix(X, "X", cols=d), X)
        n, d = X.shape
        y = _own(_arrays.vector(y, "y", n), y)
        if (X_test is None) != (y_test is None):
            raise ValueError("pass both X_test and y_test, or neither")
        nt = 0
        if X_test is not None:
            X_test = _own(_arrays.matrix(X_test, "X_test", cols=d), X_test)
            nt = X_test.shape[0]
            y_test = _own(_arrays.vector(y_test, "y_test", nt), y_test)
        ncfg = net_config(d, width, act, act_param, init, input_scale, alpha, centered, seed)
        gd = GDConfig(float_arg(lr1, "lr1"), float_arg(lr2, "lr2"), parse_loss(loss))
        cfg = lib.ntk_run_config_default(ncfg, gd)
        cfg.models = parse_models(models)
        cfg.flow = int(bool_arg(flow, "flow"))
        cfg.flow_rtol = float_arg(flow_rtol, "flow_rtol")
        cfg.kernel_every = size_arg(kernel_every, "kernel_every")
        cfg.kernel_subsample = size_arg(kernel_subsample, "kernel_subsample")
        cfg.quad_order = c_int_arg(quad_order, "quad_order", 0)
        cfg.mem_limit = size_arg(mem_limit, "mem_limit")
        cfg.trace_factor = 0.0 if trace_factor is None else float_arg(trace_factor, "trace_factor")
        t_max = float_arg(t_max, "t_max")
        if t_max < 0:
            raise ValueError("t_max must be >= 0 (0: unbounded), got %r" % t_max)
        cfg.t_max = t_max
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
        self._cancel = None
        if lib.ntk_run_set_cancel is not None:   # Ctrl-C can stop a long advance
            self._cancel = ctypes.c_int(0)       # (kept referenced for the run's life)
            lib.ntk_run_set_cancel(h, byref(self._cancel))
        self.columns = [lib.ntk_run_column(h, k).decode() for k in range(lib.ntk_run_ncolumns(h))]
        self.models = [MODELS[k] for k in range(len(MODELS)) if (cfg.models >> k) & 1]

    @property
    def time(self):
        """Current time (steps for GD, time for flow)."""
        return lib.ntk_run_time(self.handle)

    def advance(self, t):
        """Move every model to time t (not before the current time): a whole
        number of steps for GD, a time for flow. DivergedError if the network
        diverges (state before the failing step kept)."""
        check(*self._advance(_time_arg(t, self.flow, "t")))

    def _advance(self, t):
        """ntk_run_advance(t) that Ctrl-C can stop; returns (status, None, message).

        While the C call runs, Python only notes a Ctrl-C (its handler runs
        between bytecodes), so a long advance could not be interrupted. With a
        library that has ntk_run_set_cancel, the call runs in a worker thread
        (ctypes releases the GIL) while this thread waits; Ctrl-C sets the
        run's cancel flag, the library stops within one step (GD: at the step
        reached, flow: back where the call started), and KeyboardInterrupt is
        raised here once the worker has returned, so the run is never freed
        under it. A second Ctrl-C does not cut that wait short.
        """
        h = self.handle
        if self._cancel is None:
            status = lib.ntk_run_advance(h, t)
            return status, None, lib.ntk_errmsg() if status else None
        self._cancel.value = 0
        box, done, lock = [], threading.Event(), threading.Lock()
        state = {"running": False, "abandoned": False}

        def work():
            with lock:
                if state["abandoned"]:   # the caller gave up before this thread began
                    done.set()
                    return
                state["running"] = True
            try:
                st = lib.ntk_run_advance(h, t)
                box.append((st, None, lib.ntk_errmsg() if st else None))   # errmsg is per thread
            finally:
                done.set()

        # _thread.start_new_thread and Event.wait rather than Thread.start/join: a
        # KeyboardInterrupt inside Thread.join can leave a running thread marked as stopped
        # (CPython 3.11), and the run must never be freed while the library works on it.
        try:
            _thread.start_new_thread(work, ())
            while not done.wait(0.1):
                pass
        except BaseException:
            self._cancel.value = 1
            _uninterrupted(lock.acquire)
            running = state["running"]
            state["abandoned"] = not running
            lock.release()
            while running and not done.is_set():
                _uninterrupted(lambda: done.wait(0.1))
            raise
        status, _, msg = box[0]
        if status == NTK_ERR_INTERRUPTED:   # the flag was set by someone else
            raise KeyboardInterrupt(msg.decode("utf-8", "replace"))
        return status, None, msg

    def metrics(self, with_kernel=False):
        """Metrics now: dict {column: float} (NaN: not measured). with_kernel
        also measures the NTK drift and λ_min on the kernel subsample.
        NonFiniteError if a value is ±Inf (a model overflowed)."""
        row = np.empty(len(self.columns))
        self._metrics_into(row, bool_arg(with_kernel, "with_kernel"))
        return dict(zip(self.columns, row.tolist()))

    def _metrics_into(self, row, with_kernel):
        check(lib.ntk_run_metrics(self.handle, int(with_kernel), row))
        inf = np.isinf(row)
        if inf.any():
            c = self.columns[int(np.argmax(inf))]
            X, y, _, _ = self._data
            _arrays.result(row[int(np.argmax(inf))], "metric %s at t = %g" % (c, self.time),
                           hint="a model overflowed: lower the rates lr1, lr2 (the run's "
                                "theory()['lr_max_stable'] is the largest stable common rate) "
                                "or rescale X (|X| <= %.3g) and y (|y| <= %.3g)"
                                % (np.abs(X).max(), np.abs(y).max()))

    def predictions(self, model="nn"):
        """(f_train (n,), f_test (nt,) or None) of a model (name or index 0..4) now."""
        if isinstance(model, str):
            name = model.replace("-", "_")
            if name not in MODELS:
                raise ValueError("unknown model %r; choose one of %s" % (model, ", ".join(MODELS)))
            k = MODELS.index(name)
        else:
            k = int_arg(model, "model", 0, len(MODELS) - 1)
        f = np.empty(self.n)
        ft = np.empty(self.nt) if self.nt else None
        check(lib.ntk_run_predictions(self.handle, k, f, ft))
        what = "%s predictions at t = %g" % (MODELS[k], self.time)
        X, _, Xt, _ = self._data
        return (_arrays.result(f, what + " (train)", X=X),
                _arrays.result(ft, what + " (test)", X_test=Xt))

    def theory(self):
        """The theory quantities (ntk_run_theory) as a dict of floats; NaN or
        Inf where a quantity is undefined for these settings (e.g. beta_bound
        for a non-smooth activation, horizon_T with lr1 = 0), as the CLI's
        summary.json writes null."""
        th = RunTheory()
        check(lib.ntk_run_theory_get(self.handle, byref(th)))
        return struct_dict(th)

    def beta_estimate(self):
        """Empirical Lipschitz estimate of J for h = f/α now (NaN at θ0, where
        it is undefined)."""
        b = ctypes.c_double()
        check(lib.ntk_run_beta_estimate(self.handle, byref(b)))
        return b.value

    @property
    def weights(self):
        """Current network weights (W (m,d), v (m,)), copies."""
        net = lib.ntk_run_net(self.handle)
        m = self.cfg.net.m
        return as_array(lib.ntk_net_W(net), (m, self.d)), as_array(lib.ntk_net_v(net), (m,))


def _uninterrupted(fn):
    """fn() once it has returned without a KeyboardInterrupt (Ctrl-C pressed again)."""
    while True:
        try:
            return fn()
        except KeyboardInterrupt:
            pass


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
    (for flow, steps is the final time and log_every the time between logs)."""
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


def _times(times, flow):
    """Explicit log times: a non-empty 1-d sequence of finite, non-decreasing
    times >= 0, whole step counts for GD."""
    ts = np.asarray(times)
    if ts.ndim != 1 or ts.size == 0 or ts.dtype.kind not in "iuf":
        raise ValueError("times must be a non-empty 1-d sequence of numbers, got %r" % (times,))
    ts = np.array([_time_arg(t, flow, "times[%d]" % j) for j, t in enumerate(ts.tolist())])
    if np.any(np.diff(ts) < 0):
        j = int(np.argmax(np.diff(ts) < 0)) + 1
        raise ValueError("times must not decrease (times[%d] = %g after %g)"
                         % (j, ts[j], ts[j - 1]))
    return ts


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
    flow = bool_arg(flow, "flow")
    ts = schedule(steps, log_every, flow) if times is None else _times(times, flow)
    with Run(X, y, X_test, y_test, d=d, width=width, act=act, act_param=act_param, init=init,
             input_scale=input_scale, alpha=alpha, centered=centered, lr1=lr1, lr2=lr2,
             models=models, flow=flow, flow_rtol=flow_rtol, loss=loss,
             kernel_every=kernel_every, kernel_subsample=kernel_subsample,
             quad_order=quad_order, mem_limit=mem_limit, trace_factor=trace_factor, seed=seed,
             W0=W0, v0=v0, t_max=float(np.max(ts))) as r:
        theory = r.theory()
        log = _arrays.empty((ts.size, len(r.columns)), "the metrics log")
        for j, t in enumerate(ts):
            status, _, msg = r._advance(float(t))   # t checked by _times / schedule
            if status == NTK_ERR_DIVERGED:
                exc = error(status, "t = %g" % t, msg)
                exc.partial = _result(r, log[:j], theory)
                raise exc
            check(status, None, msg)
            ke = r.cfg.kernel_every
            r._metrics_into(log[j], ke > 0 and (j % ke == 0 or j == ts.size - 1))
        out = _result(r, log, theory)
        out["predictions"] = {m: r.predictions(m) for m in r.models}
        out["beta_estimate"] = r.beta_estimate()
    return out
