"""The two-layer network f(x) = α/√m · Σ_r v_r φ(w_r·x / s) (MATH.md §1).

A Network owns one ntk_net handle; it is freed by close() or when the object
is garbage-collected (never twice).
"""
import ctypes
from ctypes import byref, c_double

import numpy as np

from . import _arrays
from ._args import float_arg, int_arg
from ._handle import Owned
from ._lib import (GDConfig, WeightDist, as_array, check, error, lib, net_config, parse_loss,
                   struct_dict)


class Network(Owned):
    """A wide two-layer network, wrapping ntk_net.

    Network(d, width, act="relu", act_param=None, init="gaussian",
            input_scale="sqrt_d", alpha=1.0, centered=False, seed=0,
            W0=None, v0=None)

    d, width      input dimension d and hidden width m
    act           relu | leaky_relu | erf | tanh | sigmoid | softplus | gelu | identity
    act_param     leaky_relu slope (None: 0.1, as the CLI)
    init          gaussian | sign | symmetric (symmetric needs an even width)
    input_scale   "sqrt_d" (s = √d) or "one" (s = 1)
    alpha         output scale α
    centered      True: the model is f(x;θ) − f(x;θ0)
    seed          seed of the weight draw (the CLI's --seed draws the same W0, v0)
    W0, v0        initial weights (m,d) and (m,) instead of a draw; with W0
                  alone, v0 is drawn from the seed as init prescribes (as the CLI)

    The current weights W (m,d), v (m,) start at W0, v0 and move with train().
    """

    _free = "ntk_net_free"
    _what = "network"

    def __init__(self, d, width, act="relu", act_param=None, init="gaussian",
                 input_scale="sqrt_d", alpha=1.0, centered=False, seed=0, W0=None, v0=None):
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
    def d(self):
        return self._cfg.d

    @property
    def width(self):
        return self._cfg.m

    @property
    def config(self):
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
    def W(self):
        """Current first-layer weights (m,d), a copy."""
        return as_array(lib.ntk_net_W(self.handle), (self.width, self.d))

    @W.setter
    def W(self, W):
        self.set_weights(W, None)

    @property
    def v(self):
        """Current second-layer weights (m,), a copy."""
        return as_array(lib.ntk_net_v(self.handle), (self.width,))

    @v.setter
    def v(self, v):
        self.set_weights(None, v)

    @property
    def W0(self):
        """Initial first-layer weights (m,d), a copy."""
        return as_array(lib.ntk_net_W0(self.handle), (self.width, self.d))

    @property
    def v0(self):
        """Initial second-layer weights (m,), a copy."""
        return as_array(lib.ntk_net_v0(self.handle), (self.width,))

    def set_weights(self, W=None, v=None):
        """Set the current weights W (m,d) and/or v (m,) (None keeps that layer)."""
        h = self.handle
        W = lib.ntk_net_W(h) if W is None else _arrays.matrix(W, "W", self.d, self.width)
        v = lib.ntk_net_v(h) if v is None else _arrays.vector(v, "v", self.width)
        check(lib.ntk_net_set_weights(h, W, v))

    def reset(self):
        """Put the weights back to W0, v0."""
        h = self.handle
        check(lib.ntk_net_set_weights(h, lib.ntk_net_W0(h), lib.ntk_net_v0(h)))

    def weight_dist(self):
        """Distances from init: dict w_fro = ‖W − W0‖_F, v_norm = ‖v − v0‖,
        w_max_row = max_r ‖w_r − w_r0‖, theta = √(w_fro² + v_norm²)."""
        wd = WeightDist()
        lib.ntk_net_weight_dist(self.handle, byref(wd))
        return _arrays.result_dict(struct_dict(wd), "weight_dist", W=lambda: self.W, v=lambda: self.v)

    # -- evaluation -------------------------------------------------------

    def __call__(self, X):
        """The model's output f (n,) on X (n,d) (centred when the net is)."""
        X = _arrays.matrix(X, "X", cols=self.d)   # checked finite: ntk_net_predict does not scan
        f = np.empty(X.shape[0])
        check(lib.ntk_net_predict(self.handle, X, X.shape[0], f))
        return _arrays.result(f, "network output f", X=X, W=lambda: self.W, v=lambda: self.v)

    predict = __call__

    def loss_grad(self, X, y, loss="mean"):
        """Loss and gradients at the current weights on X (n,d), y (n,).

        Returns dict(loss=float, grad_W (m,d), grad_v (m,), f (n,)), with f
        the model's output (centred when the net is).
        """
        X = _arrays.matrix(X, "X", cols=self.d)
        n = X.shape[0]
        y = _arrays.vector(y, "y", n)
        h, m, d = self.handle, self.width, self.d
        f0 = None
        if self._cfg.centered:
            f0 = np.empty(n)
            check(lib.ntk_forward(byref(self._cfg), lib.ntk_net_W0(h), lib.ntk_net_v0(h), X, n, f0))
        L = c_double()
        gW, gv, f = _arrays.empty((m, d), "grad_W"), np.empty(m), np.empty(n)
        check(lib.ntk_loss_grad(byref(self._cfg), lib.ntk_net_W(h), lib.ntk_net_v(h), X, y, n,
                                parse_loss(loss), f0, byref(L), gW, gv, f))
        inputs = dict(X=X, y=y, W=lambda: self.W, v=lambda: self.v)
        return {"loss": _arrays.result(L.value, "loss", **inputs),
                "grad_W": _arrays.result(gW, "grad_W", **inputs),
                "grad_v": _arrays.result(gv, "grad_v", **inputs),
                "f": _arrays.result(f, "network output f", **inputs)}

    # -- training ---------------------------------------------------------

    def train(self, X, y, lr1, lr2, steps, loss="mean", log_every=1, X_test=None, y_test=None):
        """Full-batch gradient descent in place (ntk_trainer), as `ntkit train`.

        X (n,d), y (n,); rates lr1 (W; 0 freezes it) and lr2 (v); `steps`
        updates; loss "mean" or "sum". A row is logged at every step k with
        k % log_every == 0 and at the last step; row k describes the state
        after k updates (row 0: the initial state), like metrics.csv.

        Returns a dict of arrays, one entry per logged row: step, train_loss,
        grad_norm, w_dist_fro, v_dist, w_dist_max_row, plus test_loss when
        X_test (nt,d) and y_test (nt,) are given. Raises DivergedError (a
        RuntimeError, with .partial holding the rows so far) when the loss
        or the gradient becomes non-finite.
        """
        X = _arrays.matrix(X, "X", cols=self.d)
        n = X.shape[0]
        y = _arrays.vector(y, "y", n)
        steps = int_arg(steps, "steps", 0, 2 ** 63 - 1)
        log_every = int_arg(log_every, "log_every", 1, 2 ** 63 - 1)
        if (X_test is None) != (y_test is None):
            raise ValueError("pass both X_test and y_test, or neither")
        has_test = X_test is not None
        if has_test:
            X_test = _arrays.matrix(X_test, "X_test", cols=self.d)
            y_test = _arrays.vector(y_test, "y_test", X_test.shape[0])
            ftest = np.empty(X_test.shape[0])
        # (the arrays were checked finite above: the trainer does not scan its data, and NaN
        # there would read as divergence)
        loss_kind = parse_loss(loss)
        gd = GDConfig(float_arg(lr1, "lr1"), float_arg(lr2, "lr2"), loss_kind)
        names = ["step", "train_loss", "grad_norm", "w_dist_fro", "v_dist", "w_dist_max_row"]
        if has_test:
            names.append("test_loss")
        log = _arrays.empty((steps // log_every + 2, len(names)), "the training log")
        rows = 0
        tr = ctypes.c_void_p()
        check(lib.ntk_trainer_create(self.handle, X, y, n, gd, byref(tr)))
        try:   # the trainer borrows X and y: they stay referenced until it is freed
            for k in range(steps + 1):
                status = lib.ntk_trainer_eval(tr)
                if status not in (0, 6):   # NTK_OK, NTK_ERR_DIVERGED
                    check(status)
                last = k == steps
                if status == 0 and (k % log_every == 0 or last):
                    wd = self.weight_dist()
                    row = [k, lib.ntk_trainer_loss(tr), lib.ntk_trainer_grad_norm(tr),
                           wd["w_fro"], wd["v_norm"], wd["w_max_row"]]
                    if has_test:
                        check(lib.ntk_net_predict(self.handle, X_test, X_test.shape[0], ftest))
                        lt = lib.ntk_loss_value(loss_kind, ftest, y_test, X_test.shape[0])
                        row.append(_arrays.result(lt, "step %d: test loss" % k, X_test=X_test,
                                                  y_test=y_test, W=lambda: self.W, v=lambda: self.v))
                    log[rows] = row
                    rows += 1
                if status != 0:
                    exc = error(status, "step %d" % k)
                    exc.partial = _columns(names, log[:rows])
                    raise exc
                if last:
                    break
                check(lib.ntk_trainer_apply(tr))
        finally:
            lib.ntk_trainer_free(tr)
        return _columns(names, log[:rows])


def _columns(names, a):
    out = {name: a[:, j].copy() for j, name in enumerate(names)}
    out["step"] = out["step"].astype(np.int64)
    return out

