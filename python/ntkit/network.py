"""The two-layer network f(x) = α/√m · Σ_r v_r φ(w_r·x / s) (docs/theory.md §1.1).

A Network owns one ntk_net handle; it is freed by close() or when the object
is garbage-collected (never twice).
"""
import ctypes
import math
from ctypes import byref
from typing import Any, Dict, Optional

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays
from ._args import float_arg, int_arg
from ._handle import Owned
from ._lib import (NTK_ERR_DIVERGED, NTK_MODEL_NN, Batch, GDConfig, LossOut, NetConfig,
                   WeightDist, as_array, check, error, lib, net_config, parse_loss, ptr,
                   struct_dict)
from .run import Run, _RowLog


class Network(Owned):
    """A wide two-layer network f(x) = α/√m · Σ_r v_r φ(w_r·x / s), wrapping ntk_net.

    The current weights W (m, d), v (m,) start at W0, v0 and move with train().

    Args:
      d: input dimension.
      width: hidden width m.
      act: relu | leaky_relu | erf | tanh | sigmoid | softplus | gelu | identity.
      act_param: leaky_relu slope (None: the library's default,
        ntkit.DEFAULTS["leaky_slope"], as the CLI).
      init: gaussian | sign | symmetric (symmetric needs an even width).
      input_scale: "sqrt_d" (s = √d) or "one" (s = 1).
      alpha: output scale α.
      centered: True: the model is f(x;θ) − f(x;θ0).
      seed: seed of the weight draw (the CLI's --seed draws the same W0, v0).
      W0: (m, d) initial first-layer weights instead of a draw.
      v0: (m,) initial second-layer weights; with W0 alone, v0 is drawn from
        the seed as init prescribes (as the CLI).
    """

    _free = "ntk_net_free"
    _what = "network"

    def __init__(self, d: int, width: int, act: str = "relu", act_param: Optional[float] = None,
                 init: str = "gaussian", input_scale: str = "sqrt_d", alpha: float = 1.0,
                 centered: bool = False, seed: int = 0, W0: Optional[ArrayLike] = None,
                 v0: Optional[ArrayLike] = None):
        self._h = None
        self._cfg = net_config(d, width, act, act_param, init, input_scale, alpha, centered, seed)
        m, d = self._cfg.m, self._cfg.d
        h = ctypes.c_void_p()
        if W0 is None:
            if v0 is not None:
                raise ValueError("v0 needs W0 (pass both, or W0 alone)")
            check(lib.ntk_net_create(byref(self._cfg), byref(h)))
        else:
            W0 = _arrays.matrix(W0, "W0", cols=d, rows=m)
            if v0 is None:
                v0 = np.empty(m)
                check(lib.ntk_init_weights(byref(self._cfg), _arrays.empty((m, d), "W0"), v0))
            v0 = _arrays.vector(v0, "v0", m)
            check(lib.ntk_net_create_from(byref(self._cfg), W0, v0, byref(h)))
        self._h = h

    # -- configuration ----------------------------------------------------

    @property
    def d(self) -> int:
        """The input dimension d."""
        return self._cfg.d

    @property
    def width(self) -> int:
        """The hidden width m."""
        return self._cfg.m

    @property
    def config(self) -> Dict[str, Any]:
        """Settings as a dict (names as in the constructor, plus s)."""
        c = self._cfg
        return {
            "d": c.d, "width": c.m,
            "act": lib.ntk_act_name(c.act.kind).decode(), "act_param": c.act.param,
            "init": lib.ntk_init_name(c.init).decode(),
            "input_scale": lib.ntk_input_scale_name(c.input_scale).decode(), "alpha": c.alpha,
            "centered": bool(c.centered), "seed": c.seed,
            "s": lib.ntk_net_config_s(byref(c)),
        }

    def __repr__(self):
        c = self.config
        return ("Network(d=%d, width=%d, act=%r, init=%r, input_scale=%r, alpha=%g, "
                "centered=%s, seed=%d)" % (c["d"], c["width"], c["act"], c["init"],
                                           c["input_scale"], c["alpha"], c["centered"], c["seed"]))

    # -- weights (copies) -------------------------------------------------

    @property
    def W(self) -> np.ndarray:
        """Current first-layer weights (m,d), a copy."""
        return as_array(lib.ntk_net_W(self.handle), (self.width, self.d))

    @W.setter
    def W(self, W):
        self.set_weights(W, None)

    @property
    def v(self) -> np.ndarray:
        """Current second-layer weights (m,), a copy."""
        return as_array(lib.ntk_net_v(self.handle), (self.width,))

    @v.setter
    def v(self, v):
        self.set_weights(None, v)

    @property
    def W0(self) -> np.ndarray:
        """Initial first-layer weights (m,d), a copy."""
        return as_array(lib.ntk_net_W0(self.handle), (self.width, self.d))

    @property
    def v0(self) -> np.ndarray:
        """Initial second-layer weights (m,), a copy."""
        return as_array(lib.ntk_net_v0(self.handle), (self.width,))

    def set_weights(self, W: Optional[ArrayLike] = None, v: Optional[ArrayLike] = None) -> None:
        """Set the current weights.

        Args:
          W: (m, d) first-layer weights, or None to keep them.
          v: (m,) second-layer weights, or None to keep them.
        """
        h = self.handle
        # the net's own arrays are read-only views: the layer kept is passed as a copy
        W = self.W if W is None else _arrays.matrix(W, "W", self.d, self.width)
        v = self.v if v is None else _arrays.vector(v, "v", self.width)
        check(lib.ntk_net_set_weights(h, W, v))

    def reset(self) -> None:
        """Put the weights back to W0, v0."""
        h = self.handle
        check(lib.ntk_net_set_weights(h, lib.ntk_net_W0(h), lib.ntk_net_v0(h)))

    def weight_dist(self) -> Dict[str, float]:
        """Distances from init: dict w_fro = ‖W − W0‖_F, v_norm = ‖v − v0‖,
        w_max_row = max_r ‖w_r − w_r0‖, theta = √(w_fro² + v_norm²)."""
        wd = WeightDist()
        lib.ntk_net_weight_dist(self.handle, byref(wd))
        return _arrays.result_dict(struct_dict(wd), "weight_dist", W=lambda: self.W, v=lambda: self.v)

    # -- evaluation -------------------------------------------------------

    def __call__(self, X: ArrayLike) -> np.ndarray:
        """The model's output at the current weights (centred when the net is).

        Args:
          X: (n, d) inputs.

        Returns:
          f of shape (n,).
        """
        X = _arrays.matrix(X, "X", cols=self.d)   # checked finite: ntk_net_predict does not scan
        f = np.empty(X.shape[0])
        check(lib.ntk_net_predict(self.handle, X, X.shape[0], f))
        return _arrays.result(f, "network output f", X=X, W=lambda: self.W, v=lambda: self.v)

    predict = __call__

    def loss_grad(self, X: ArrayLike, y: ArrayLike, loss: str = "mean") -> Dict[str, Any]:
        """Loss and gradients at the current weights.

        Args:
          X: (n, d) inputs.
          y: (n,) targets.
          loss: "mean" (1/(2n) Σ r²) or "sum" (1/2 Σ r²).

        Returns:
          dict(loss=float, grad_W (m, d), grad_v (m,), f (n,)), with f the
          model's output (centred when the net is).
        """
        X = _arrays.matrix(X, "X", cols=self.d)
        n = X.shape[0]
        y = _arrays.vector(y, "y", n)
        h, m, d = self.handle, self.width, self.d
        f0 = None
        if self._cfg.centered:
            f0 = np.empty(n)
            check(lib.ntk_forward(byref(self._cfg), lib.ntk_net_W0(h), lib.ntk_net_v0(h), X, n, f0))
        gW, gv, f = _arrays.empty((m, d), "grad_W"), np.empty(m), np.empty(n)
        batch = Batch(ptr(X), ptr(y), n, parse_loss(loss), ptr(f0))
        out = LossOut(0.0, ptr(gW), ptr(gv), ptr(f))
        check(lib.ntk_loss_grad(byref(self._cfg), lib.ntk_net_W(h), lib.ntk_net_v(h), byref(batch),
                                byref(out)))
        inputs = dict(X=X, y=y, W=lambda: self.W, v=lambda: self.v)
        return {"loss": _arrays.result(out.loss, "loss", **inputs),
                "grad_W": _arrays.result(gW, "grad_W", **inputs),
                "grad_v": _arrays.result(gv, "grad_v", **inputs),
                "f": _arrays.result(f, "network output f", **inputs)}

    # -- training ---------------------------------------------------------

    def train(self, X: ArrayLike, y: ArrayLike, lr1: float, lr2: float, steps: int,
              loss: str = "mean", log_every: int = 1, X_test: Optional[ArrayLike] = None,
              y_test: Optional[ArrayLike] = None, record: Optional[ArrayLike] = None
              ) -> Dict[str, np.ndarray]:
        """Full-batch gradient descent in place, as `ntkit train`: a run of the
        network alone (no surrogate models, no kernel drift, no flips, no
        theory) through the library's driver (ntk_run_execute).

        Training starts from the current weights and measures distances from
        W0, v0 (the centred model subtracts f(x;θ0)). A row is logged at every
        step k with k % log_every == 0 and at the last step; row k describes
        the state after k updates (row 0: the state the call starts from),
        like metrics.csv. Ctrl-C stops the training within one step: the
        network keeps the weights of the step reached and KeyboardInterrupt
        is raised.

        Args:
          X: (n, d) training inputs.
          y: (n,) targets.
          lr1: rate of the first layer W (0 freezes it).
          lr2: rate of the second layer v (0 freezes it; not both 0).
          steps: the number of updates (at most 2**53).
          loss: "mean" (1/(2n) Σ r²) or "sum" (1/2 Σ r²).
          log_every: steps between logged rows.
          X_test, y_test: (nt, d) and (nt,) test data for test_loss, or None.
          record: (nr, d) inputs on which the network's outputs are recorded
            at every logged row (the "f" entry).

        Returns:
          A dict of arrays, one entry per logged row: step, train_loss,
          grad_norm, w_dist_fro, v_dist, w_dist_max_row, plus test_loss with
          test data and f (rows, nr) with `record`.

        Raises:
          DivergedError (a RuntimeError, with .partial holding the rows so
          far) when the loss or the gradient becomes non-finite; the network
          then holds the weights of the state whose loss was not finite when
          they are finite, else its weights before the call.
        """
        X = _arrays.matrix(X, "X", cols=self.d)
        n = X.shape[0]
        y = _arrays.vector(y, "y", n)
        steps = int_arg(steps, "steps", 0, 2 ** 53)
        log_every = int_arg(log_every, "log_every", 1, 2 ** 53)
        if (X_test is None) != (y_test is None):
            raise ValueError("pass both X_test and y_test, or neither")
        has_test = X_test is not None
        if has_test:
            X_test = _arrays.matrix(X_test, "X_test", cols=self.d)
            y_test = _arrays.vector(y_test, "y_test", X_test.shape[0])
        Xr = None if record is None else _arrays.matrix(record, "record", cols=self.d)
        loss_kind = parse_loss(loss)
        gd = GDConfig(float_arg(lr1, "lr1"), float_arg(lr2, "lr2"), loss_kind)
        names = list(_TRAIN_COLUMNS)[:7 if has_test else 6]
        rows = steps // log_every + 2
        _arrays.check_mem(rows * 8 * len(names), "the training log (%d x %d doubles)"
                          % (rows, len(names)))

        # the network alone, as `ntkit train` (cli/cmd_train.c)
        h = self.handle
        ncfg = NetConfig.from_buffer_copy(self._cfg)
        W0, v0 = lib.ntk_net_W0(h), lib.ntk_net_v0(h)
        W, v = self.W, self.v
        ref = None
        shift = None   # f(record; θ0) when the centred model trains as the plain one
        if not (np.array_equal(W, self.W0) and np.array_equal(v, self.v0)):
            # A run starts at its θ0. From weights that moved, the run starts at them, and
            # the distances of each row are measured from this network's θ0 on a copy of it
            # (ref); a centred model f(x;θ) − f(x;θ0) trains as the plain model with the
            # targets y + f(x;θ0).
            W0, v0 = W, v
            if ncfg.centered:
                y = self._shifted(X, y)
                if has_test:
                    y_test = self._shifted(X_test, y_test)
                if Xr is not None:
                    shift = self._shifted(Xr, np.zeros(Xr.shape[0]))
                ncfg.centered = 0
            ref = ctypes.c_void_p()
            check(lib.ntk_net_create_from(byref(self._cfg), lib.ntk_net_W0(h), lib.ntk_net_v0(h),
                                          byref(ref)))
        cfg = lib.ntk_run_config_default(ncfg, gd)
        cfg.models = NTK_MODEL_NN
        cfg.kernel_every = 0
        cfg.flips = 0
        try:
            with Run._create(cfg, (X, y, X_test, y_test), W0, v0) as r:
                r._overflow_hint = "lower the rates lr1, lr2"
                cols = [r.columns.index(c) for c in _TRAIN_COLUMNS.values()][:len(names)]
                on_row = None if ref is None else lambda run, row: _distances_from(ref, run, row)
                log = _RowLog(r, rows, select=cols, on_row=on_row, what="the training log",
                              record=None if Xr is None else (Xr, [0]))
                try:
                    status, msg, rep = r._execute(float(steps), float(log_every), False, log)
                finally:   # also on Ctrl-C: the weights of the step reached
                    self._take_weights(r)
                if status == NTK_ERR_DIVERGED:
                    k = int(rep.diverged_at) if math.isfinite(rep.diverged_at) else int(r.time)
                    self._test_overflow(r, k, loss_kind)
                    exc = error(status, "step %d" % k, msg)
                    exc.partial = _columns(names, log.rows, log.recorded, shift)
                    raise exc
                check(status, None, msg)
                return _columns(names, log.rows, log.recorded, shift)
        finally:
            if ref is not None:
                lib.ntk_net_free(ref)

    def _shifted(self, X, y):
        """y + f(X; θ0), the targets of the plain model that trains like the centred one."""
        f0 = np.empty(X.shape[0])
        h = self.handle
        check(lib.ntk_forward(byref(self._cfg), lib.ntk_net_W0(h), lib.ntk_net_v0(h), X,
                              X.shape[0], f0))
        return y + f0

    def _take_weights(self, r):
        """The run's current weights into this network, when they are finite."""
        net = lib.ntk_run_net(r.handle)
        W, v = lib.ntk_net_W(net), lib.ntk_net_v(net)
        m, d = self.width, self.d
        if lib.ntk_check_finite(W, m * d, b"W") == 0 and lib.ntk_check_finite(v, m, b"v") == 0:
            check(lib.ntk_net_set_weights(self.handle, W, v))

    def _test_overflow(self, r, k, loss_kind):
        """After a divergence: NonFiniteError when the training loss is finite and only
        the test loss is not (the test inputs overflow, training did not diverge)."""
        X, y, Xt, yt = r._data
        if Xt is None:
            return
        f, ft = np.empty(r.n), np.empty(r.nt)
        if lib.ntk_run_predictions(r.handle, 0, f, ft) != 0:
            return
        if not math.isfinite(lib.ntk_loss_value(loss_kind, f, y, r.n)):
            return
        lt = lib.ntk_loss_value(loss_kind, ft, yt, r.nt)
        _arrays.result(lt, "step %d: test loss" % k, X_test=Xt, y_test=yt, W=lambda: self.W,
                       v=lambda: self.v)


# Network.train's log: its names, and the run's columns they are copied from (in this order)
_TRAIN_COLUMNS = {"step": "step", "train_loss": "nn_train_loss", "grad_norm": "grad_norm",
                  "w_dist_fro": "w_dist_fro", "v_dist": "v_dist", "w_dist_max_row": "w_dist_max_row",
                  "test_loss": "nn_test_loss"}


def _distances_from(ref, run, row):
    """Row callback of a training that did not start at θ0: the run's current weights
    into ref (a network holding the trained network's θ0), and the row's distances
    (w_dist_fro, v_dist, w_dist_max_row) from that θ0."""
    net = lib.ntk_run_net(run)
    check(lib.ntk_net_set_weights(ref, lib.ntk_net_W(net), lib.ntk_net_v(net)))
    wd = WeightDist()
    lib.ntk_net_weight_dist(ref, byref(wd))
    row[3:6] = (wd.w_fro, wd.v_norm, wd.w_max_row)   # the positions of _TRAIN_COLUMNS


def _columns(names, a, recorded=None, shift=None):
    out = {name: a[:, j].copy() for j, name in enumerate(names)}
    out["step"] = out["step"].astype(np.int64)
    if recorded is not None:
        out["f"] = recorded[:, 0].copy() if shift is None else recorded[:, 0] - shift
    return out
