"""The two-layer network f(x) = α/√m · Σ_r v_r φ(w_r·x / s) (docs/theory.md §1.1),
and the deep network of L hidden layers with biases (docs/depth.md), with one
output or k (docs/depth.md §1.7).

A Network owns one ntk_net handle; it is freed by close() or when the object
is garbage-collected (never twice).
"""
import ctypes
import math
from ctypes import byref
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays
from ._args import float_arg, int_arg
from ._handle import Owned
from ._lib import (NTK_ERR_DIVERGED, NTK_MODEL_NN, Batch, GDConfig, LossOut,
                   NetConfig, WeightDist, as_array, check, depth_config, error, is_deep,
                   layer_shapes, lib, net_config, parse_loss, ptr, struct_dict)
from .run import Run, _RowLog, _loss_value, _outputs_arg, _shape, _targets


class Network(Owned):
    """A wide network wrapping ntk_net: the two-layer f(x) = α/√m · Σ_r v_r φ(w_r·x / s)
    by default, or L hidden layers with biases (docs/depth.md):

        h_1 = κ_1 W_1 x + β b_1,  h_{l+1} = κ_{l+1} W_{l+1} φ(h_l) + β b_{l+1},  f = α h_{L+1},

    with, in the "ntk" parameterisation, every W_l, b_l drawn N(0, 1), κ_1 =
    σ_w/s, κ_l = σ_w/√m_{l−1}, β = σ_b (neural-tangents' Dense(W_std, b_std));
    in the "standard" one W_l ~ N(0, (σ_w c_l)²) (c_1 = 1/s, c_l = 1/√m_{l−1}),
    b_l ~ N(0, σ_b²) and κ_l = β = 1: the same function at initialisation for
    the same seed, other gradients. Biases are parameters only when σ_b > 0.
    With depth 1, σ_w = 1, σ_b = 0 and "ntk" this is the two-layer network
    (W_1 = W, W_2 = vᵀ), bit for bit.

    With outputs = k > 1 the output layer has k units, f(x) = α h_{L+1} ∈
    R^k (W_{L+1} of shape (k, m_L), b_{L+1} (k,) with biases), docs/depth.md
    §1.7: net(X) is then (n, k), targets are (n, k) (e.g. one-hot labels),
    the loss sums over the outputs, L = c/2 Σ_i ‖f(x_i) − y_i‖² (c = 1/n
    "mean", 1 "sum"), and the empirical NTK (ntkit.ntk) is the mean of the k
    per-output kernels. Such a network always runs the deep code (is_deep),
    also at depth 1: it has params and theta, not W, v.

    The two-layer network's weights W (m, d), v (m,) start at W0, v0 and move
    with train(). At any depth the parameters are `params`, a list of the L+1
    layers (W_l, b_l), and `theta`, the same numbers as one flat vector (W_1
    row-major, b_1, W_2, b_2, ...); they start at params0, theta0. The deep
    draw (seed) goes layer by layer, W_l then b_l; init="sign" makes the
    output layer's weights ±1, init="symmetric" pairs the last hidden layer's
    units (unit r + m_L/2 copies unit r, its output weight negated) so that
    f(x; θ0) = 0.

    Args:
      d: input dimension.
      width: hidden width m (of every hidden layer, unless widths is given).
      act: relu | leaky_relu | erf | tanh | sigmoid | softplus | gelu | identity.
      act_param: leaky_relu slope (None: the library's default,
        ntkit.DEFAULTS["leaky_slope"], as the CLI).
      init: gaussian | sign | symmetric (symmetric needs an even (last) width).
      input_scale: "sqrt_d" (s = √d) or "one" (s = 1).
      alpha: output scale α.
      centered: True: the model is f(x;θ) − f(x;θ0).
      seed: seed of the weight draw (the CLI's --seed draws the same W0, v0).
      W0: (m, d) initial first-layer weights instead of a draw (two-layer
        network only; at depth use theta0).
      v0: (m,) initial second-layer weights; with W0 alone, v0 is drawn from
        the seed as init prescribes (as the CLI).
      depth: L, the number of hidden layers, 1..16.
      widths: the L hidden widths [m_1, ..., m_L]; overrides width.
      weight_std: σ_w > 0.
      bias_std: σ_b >= 0 (0: no biases, the default).
      parameterization: "ntk" or "standard".
      theta0: the initial parameters as one flat vector (nparams values, the
        layout of `theta`) instead of a draw, at any depth.
      outputs: k, the number of output units (default 1, the scalar
        network: net(X) is (n,)); k > 1 gives net(X) of shape (n, k) and
        takes targets of shape (n, k).
    """

    _free = "ntk_net_free"
    _what = "network"

    def __init__(self, d: int, width: int, act: str = "relu", act_param: Optional[float] = None,
                 init: str = "gaussian", input_scale: str = "sqrt_d", alpha: float = 1.0,
                 centered: bool = False, seed: int = 0, W0: Optional[ArrayLike] = None,
                 v0: Optional[ArrayLike] = None, depth: int = 1,
                 widths: Optional[Sequence[int]] = None, weight_std: float = 1.0,
                 bias_std: float = 0.0, parameterization: str = "ntk",
                 theta0: Optional[ArrayLike] = None, outputs: int = 1):
        self._h = None
        self._cfg = net_config(d, width, act, act_param, init, input_scale, alpha, centered, seed,
                               depth, widths, weight_std, bias_std, parameterization)
        _outputs_arg(self._cfg, outputs)
        self._k = self._cfg.outputs
        self._deep = is_deep(self._cfg)
        self._layers = layer_shapes(self._cfg)
        self._P = lib.ntk_net_nparams(byref(self._cfg))
        m, d = self._cfg.m, self._cfg.d
        h = ctypes.c_void_p()
        if theta0 is not None:
            if W0 is not None or v0 is not None:
                raise ValueError("pass theta0 or W0 (and v0), not both")
            theta0 = _arrays.vector(theta0, "theta0", self._P)
            check(lib.ntk_net_create_from_theta(byref(self._cfg), theta0, byref(h)))
        elif W0 is None:
            if v0 is not None:
                raise ValueError("v0 needs W0 (pass both, or W0 alone)")
            check(lib.ntk_net_create(byref(self._cfg), byref(h)))
        elif self._deep:
            raise ValueError("W0 and v0 are the two-layer network's weights; this network has %s:"
                             " pass theta0 (the flat parameters, as Network.theta)"
                             % self._depth_words())
        else:
            W0 = _arrays.matrix(W0, "W0", cols=d, rows=m)
            if v0 is None:
                v0 = np.empty(m)
                check(lib.ntk_init_weights(byref(self._cfg), _arrays.empty((m, d), "W0"), v0))
            v0 = _arrays.vector(v0, "v0", m)
            check(lib.ntk_net_create_from(byref(self._cfg), W0, v0, byref(h)))
        self._h = h

    @classmethod
    def _from_theta(cls, cfg, theta0, centered=None):
        """A network of the settings cfg (copied; `centered` overrides its flag)
        starting at the flat parameters theta0 (copied)."""
        self = cls.__new__(cls)
        self._h = None
        self._cfg = NetConfig.from_buffer_copy(cfg)
        if centered is not None:
            self._cfg.centered = int(centered)
        self._k = max(1, self._cfg.outputs)
        self._deep = is_deep(self._cfg)
        self._layers = layer_shapes(self._cfg)
        self._P = lib.ntk_net_nparams(byref(self._cfg))
        theta0 = _arrays.vector(theta0, "theta0", self._P)
        h = ctypes.c_void_p()
        check(lib.ntk_net_create_from_theta(byref(self._cfg), theta0, byref(h)))
        self._h = h
        return self

    # -- configuration ----------------------------------------------------

    @property
    def d(self) -> int:
        """The input dimension d."""
        return self._cfg.d

    @property
    def width(self) -> int:
        """The hidden width m (m_1, the first hidden layer's, when the widths differ)."""
        return self._cfg.m

    @property
    def depth(self) -> int:
        """L, the number of hidden layers (1 for the two-layer network)."""
        return len(self._layers) - 1

    @property
    def widths(self) -> List[int]:
        """The hidden widths [m_1, ..., m_L]."""
        return [shape[0] for _, shape, _ in self._layers[:-1]]

    @property
    def outputs(self) -> int:
        """k, the number of output units (1: the scalar network, net(X) of
        shape (n,); k > 1: net(X) of shape (n, k))."""
        return self._k

    @property
    def nparams(self) -> int:
        """P, the number of parameters (the length of theta)."""
        return self._P

    @property
    def is_deep(self) -> bool:
        """False for the two-layer network (depth 1, σ_w = 1, σ_b = 0, "ntk"),
        which has the weights W, v; True otherwise (params and theta only)."""
        return self._deep

    @property
    def config(self) -> Dict[str, Any]:
        """Settings as a dict (names as in the constructor, outputs included, plus s)."""
        c = self._cfg
        out = {
            "d": c.d, "width": c.m,
            "act": lib.ntk_act_name(c.act.kind).decode(), "act_param": c.act.param,
            "init": lib.ntk_init_name(c.init).decode(),
            "input_scale": lib.ntk_input_scale_name(c.input_scale).decode(), "alpha": c.alpha,
            "centered": bool(c.centered), "seed": c.seed,
            "s": lib.ntk_net_config_s(byref(c)),
        }
        out.update(depth_config(c))
        out["outputs"] = self._k
        return out

    def __repr__(self):
        c = self.config
        deep = ""
        if self._deep:
            deep = ", depth=%d, widths=%r, weight_std=%g, bias_std=%g, parameterization=%r" % (
                c["depth"], c["widths"], c["weight_std"], c["bias_std"], c["parameterization"])
        if self._k > 1:
            deep += ", outputs=%d" % self._k
        return ("Network(d=%d, width=%d, act=%r, init=%r, input_scale=%r, alpha=%g, "
                "centered=%s, seed=%d%s)" % (c["d"], c["width"], c["act"], c["init"],
                                             c["input_scale"], c["alpha"], c["centered"],
                                             c["seed"], deep))

    def _depth_words(self):
        from .run import _depth_words
        return _depth_words(self._cfg)

    def _two_layer(self, what, use):
        """ValueError for a two-layer-only attribute of a deep network."""
        if self._deep:
            raise ValueError("%s is the two-layer network's; this network has %s: use %s"
                             % (what, self._depth_words(), use))

    # -- weights (copies) -------------------------------------------------

    @property
    def W(self) -> np.ndarray:
        """Current first-layer weights (m,d), a copy (two-layer network only)."""
        self._two_layer("W", "net.params[0][0] (W_1) or net.theta")
        return as_array(lib.ntk_net_W(self.handle), (self.width, self.d))

    @W.setter
    def W(self, W):
        self.set_weights(W, None)

    @property
    def v(self) -> np.ndarray:
        """Current second-layer weights (m,), a copy (two-layer network only)."""
        self._two_layer("v", "net.params[-1][0] (W_{L+1}) or net.theta")
        return as_array(lib.ntk_net_v(self.handle), (self.width,))

    @v.setter
    def v(self, v):
        self.set_weights(None, v)

    @property
    def W0(self) -> np.ndarray:
        """Initial first-layer weights (m,d), a copy (two-layer network only)."""
        self._two_layer("W0", "net.params0 or net.theta0")
        return as_array(lib.ntk_net_W0(self.handle), (self.width, self.d))

    @property
    def v0(self) -> np.ndarray:
        """Initial second-layer weights (m,), a copy (two-layer network only)."""
        self._two_layer("v0", "net.params0 or net.theta0")
        return as_array(lib.ntk_net_v0(self.handle), (self.width,))

    @property
    def theta(self) -> np.ndarray:
        """The current parameters as one flat vector (nparams,), a copy: for
        l = 1..L+1, W_l (m_l, m_{l−1}) row-major, then b_l (m_l,) when
        bias_std > 0 (two-layer: [W.ravel(), v]). Assigning sets them."""
        return as_array(lib.ntk_net_theta(self.handle), (self._P,))

    @theta.setter
    def theta(self, theta):
        theta = _arrays.vector(theta, "theta", self._P)
        check(lib.ntk_net_set_theta(self.handle, theta))

    @property
    def theta0(self) -> np.ndarray:
        """The initial parameters θ0, flat (nparams,), a copy."""
        return as_array(lib.ntk_net_theta0(self.handle), (self._P,))

    def _split(self, theta):
        """The list of (W_l, b_l or None) of a flat θ, as copies."""
        out = []
        for off, (mo, mi), nb in self._layers:
            W = theta[off:off + mo * mi].reshape(mo, mi).copy()
            b = theta[off + mo * mi:off + mo * mi + nb].copy() if nb else None
            out.append((W, b))
        return out

    @property
    def params(self) -> List[Tuple[np.ndarray, Optional[np.ndarray]]]:
        """The current parameters as a list of the L+1 layers (W_l, b_l): W_l
        of shape (m_l, m_{l−1}) (m_0 = d, m_{L+1} = k, the outputs: 1 for the
        scalar network), b_l of shape (m_l,), or
        None when bias_std = 0 (no biases). Copies: changing them does not
        change the network (set_params or theta does). Two-layer: [(W, None),
        (v[None, :], None)]."""
        return self._split(self.theta)

    @property
    def params0(self) -> List[Tuple[np.ndarray, Optional[np.ndarray]]]:
        """The initial parameters, as params (copies)."""
        return self._split(self.theta0)

    def _flatten(self, params, name):
        """The flat θ of a list of L+1 pairs (W_l, b_l), shapes checked."""
        if not isinstance(params, (list, tuple)) or len(params) != len(self._layers):
            raise ValueError("%s must be a list of %d pairs (W_l, b_l), one per layer, got %r"
                             % (name, len(self._layers), type(params).__name__
                                if not isinstance(params, (list, tuple)) else
                                "%d entries" % len(params)))
        theta = np.empty(self._P)
        for l, ((off, (mo, mi), nb), layer) in enumerate(zip(self._layers, params), 1):
            if not isinstance(layer, (list, tuple)) or len(layer) != 2:
                raise ValueError("%s[%d] must be a pair (W_%d, b_%d)" % (name, l - 1, l, l))
            W = _arrays.matrix(layer[0], "%s[%d][0] (W_%d)" % (name, l - 1, l), cols=mi, rows=mo)
            theta[off:off + mo * mi] = W.ravel()
            if nb:
                if layer[1] is None:
                    raise ValueError("%s[%d][1] (b_%d) is None, but the network has biases "
                                     "(bias_std > 0): pass a vector of %d" % (name, l - 1, l, nb))
                theta[off + mo * mi:off + mo * mi + nb] = _arrays.vector(
                    layer[1], "%s[%d][1] (b_%d)" % (name, l - 1, l), nb)
            elif layer[1] is not None:
                raise ValueError("%s[%d][1] (b_%d) must be None: the network has no biases "
                                 "(bias_std = 0)" % (name, l - 1, l))
        return theta

    def set_params(self, params: Sequence[Tuple[ArrayLike, Optional[ArrayLike]]]) -> None:
        """Set the current parameters, at any depth.

        Args:
          params: a list of the L+1 pairs (W_l, b_l) as `params` gives them
            (b_l None when the network has no biases).
        """
        theta = self._flatten(params, "params")
        check(lib.ntk_net_set_theta(self.handle, theta))

    def set_weights(self, W: Optional[ArrayLike] = None, v: Optional[ArrayLike] = None) -> None:
        """Set the current weights of the two-layer network (at depth: set_params).

        Args:
          W: (m, d) first-layer weights, or None to keep them.
          v: (m,) second-layer weights, or None to keep them.
        """
        self._two_layer("set_weights", "set_params or net.theta")
        h = self.handle
        # the net's own arrays are read-only views: the layer kept is passed as a copy
        W = self.W if W is None else _arrays.matrix(W, "W", self.d, self.width)
        v = self.v if v is None else _arrays.vector(v, "v", self.width)
        check(lib.ntk_net_set_weights(h, W, v))

    def reset(self) -> None:
        """Put the weights back to their initial values (W0, v0; θ0)."""
        h = self.handle
        if self._deep:
            check(lib.ntk_net_set_theta(h, lib.ntk_net_theta0(h)))
            return
        check(lib.ntk_net_set_weights(h, lib.ntk_net_W0(h), lib.ntk_net_v0(h)))

    def _weights(self):
        """The current weights by name, for the messages of non-finite results."""
        if self._deep:
            return {"theta": lambda: self.theta}
        return {"W": lambda: self.W, "v": lambda: self.v}

    def weight_dist(self) -> Dict[str, float]:
        """Distances from init: dict w_fro = ‖W − W0‖_F, v_norm = ‖v − v0‖,
        w_max_row = max_r ‖w_r − w_r0‖, theta = √(w_fro² + v_norm²).
        At depth: w_fro over the hidden layers' parameters (W_l, b_l, l <= L),
        v_norm over the output layer's (W_{L+1}, b_{L+1}), w_max_row the
        largest move of one hidden unit's incoming weights (a row of some
        W_l, l <= L), theta = ‖θ − θ0‖."""
        wd = WeightDist()
        lib.ntk_net_weight_dist(self.handle, byref(wd))
        return _arrays.result_dict(struct_dict(wd), "weight_dist", **self._weights())

    # -- evaluation -------------------------------------------------------

    def __call__(self, X: ArrayLike) -> np.ndarray:
        """The model's output at the current weights (centred when the net is).

        Args:
          X: (n, d) inputs.

        Returns:
          f of shape (n,), or (n, k) for a network of k > 1 outputs.
        """
        X = _arrays.matrix(X, "X", cols=self.d)   # checked finite: ntk_net_predict does not scan
        f = np.empty(_shape(X.shape[0], self._k))
        check(lib.ntk_net_predict(self.handle, X, X.shape[0], f))
        return _arrays.result(f, "network output f", X=X, **self._weights())

    predict = __call__

    def loss_grad(self, X: ArrayLike, y: ArrayLike, loss: str = "mean") -> Dict[str, Any]:
        """Loss and gradients at the current weights.

        Args:
          X: (n, d) inputs.
          y: (n,) targets; (n, k) for a network of k > 1 outputs.
          loss: "mean" (1/(2n) Σ r²) or "sum" (1/2 Σ r²); with k outputs
            1/(2n) Σ_i ‖f(x_i) − y_i‖² or 1/2 Σ_i ‖f(x_i) − y_i‖².

        Returns:
          dict(loss=float, grad_W (m, d), grad_v (m,), f (n,)), with f the
          model's output (centred when the net is). At depth (is_deep, and
          any network of k > 1 outputs): dict(loss, grad (nparams,) ∇_θ L in
          the layout of theta, grads (the list of (∂L/∂W_l, ∂L/∂b_l or None),
          as params), f (n,) or (n, k)).
        """
        X = _arrays.matrix(X, "X", cols=self.d)
        n = X.shape[0]
        y = _targets(y, "y", n, self._k)
        if self._deep:
            return self._loss_grad_theta(X, y, loss)
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

    def _loss_grad_theta(self, X, y, loss):
        """loss_grad at depth: ntk_loss_grad_theta at θ (f(X;θ0) subtracted when centred)."""
        n, h = X.shape[0], self.handle
        f0 = None
        if self._cfg.centered:
            f0 = np.empty(_shape(n, self._k))
            check(lib.ntk_forward_theta(byref(self._cfg), lib.ntk_net_theta0(h), X, n, f0))
        g, f = _arrays.empty((self._P,), "grad"), np.empty(_shape(n, self._k))
        batch = Batch(ptr(X), ptr(y), n, parse_loss(loss), ptr(f0))
        L = ctypes.c_double()
        check(lib.ntk_loss_grad_theta(byref(self._cfg), lib.ntk_net_theta(h), byref(batch),
                                      byref(L), g, f))
        inputs = dict(X=X, y=y, theta=lambda: self.theta)
        g = _arrays.result(g, "grad", **inputs)
        return {"loss": _arrays.result(L.value, "loss", **inputs), "grad": g,
                "grads": self._split(g), "f": _arrays.result(f, "network output f", **inputs)}

    # -- training ---------------------------------------------------------

    def train(self, X: ArrayLike, y: ArrayLike, lr1: Optional[float] = None,
              lr2: Optional[float] = None, steps: Optional[int] = None, loss: str = "mean",
              log_every: int = 1, X_test: Optional[ArrayLike] = None,
              y_test: Optional[ArrayLike] = None, record: Optional[ArrayLike] = None,
              lrs: Optional[Sequence[float]] = None) -> Dict[str, np.ndarray]:
        """Full-batch gradient descent in place, as `ntkit train`: a run of the
        network alone (no surrogate models, no kernel drift, no flips, no
        theory). The two-layer network goes through the library's driver
        (ntk_run_execute); a deep one steps the library's trainer
        (ntk_trainer_eval, ntk_trainer_apply: θ_l ← θ_l − η_l ∇_{θ_l} L for
        every layer l with η_l > 0).

        Training starts from the current weights and measures distances from
        W0, v0 (θ0; the centred model subtracts f(x;θ0)). A row is logged at
        every step k with k % log_every == 0 and at the last step; row k
        describes the state after k updates (row 0: the state the call starts
        from), like metrics.csv. Ctrl-C stops the training within one step:
        the network keeps the weights of the step reached and
        KeyboardInterrupt is raised.

        Args:
          X: (n, d) training inputs.
          y: (n,) targets; (n, k) for a network of k > 1 outputs.
          lr1: rate of the first layer W (0 freezes it); at depth, of every
            hidden layer 1..L.
          lr2: rate of the second layer v (0 freezes it; not both 0); at
            depth, of the output layer L+1.
          steps: the number of updates (at most 2**53); required.
          loss: "mean" (1/(2n) Σ r²) or "sum" (1/2 Σ r²); with k outputs
            the squares summed over the outputs, c/2 Σ_i ‖f(x_i) − y_i‖².
          log_every: steps between logged rows.
          X_test, y_test: (nt, d) and (nt,) (k outputs: (nt, k)) test data
            for test_loss, or None.
          record: (nr, d) inputs on which the network's outputs are recorded
            at every logged row (the "f" entry, (rows, nr) or (rows, nr, k)).
          lrs: one rate per layer, L+1 values η_1..η_{L+1} (W_l and b_l
            share η_l; 0 freezes layer l; not all 0), in place of lr1, lr2.
            For the two-layer network lrs=[a, b] is lr1=a, lr2=b.

        Returns:
          A dict of arrays, one entry per logged row: step, train_loss,
          grad_norm (‖∇_θ L‖ over the trained layers), w_dist_fro, v_dist,
          w_dist_max_row (at depth: the hidden layers', the output layer's,
          the largest hidden unit's move, as weight_dist), plus test_loss
          with test data and f (rows, nr), (rows, nr, k) for k outputs, with
          `record`.

        Raises:
          DivergedError (a RuntimeError, with .partial holding the rows so
          far) when the loss or the gradient becomes non-finite; the network
          then holds the weights of the state whose loss was not finite when
          they are finite, else its weights before the call.
        """
        X = _arrays.matrix(X, "X", cols=self.d)
        n = X.shape[0]
        y = _targets(y, "y", n, self._k)
        if steps is None:
            raise ValueError("steps (the number of updates) is required")
        steps = int_arg(steps, "steps", 0, 2 ** 53)
        log_every = int_arg(log_every, "log_every", 1, 2 ** 53)
        if (X_test is None) != (y_test is None):
            raise ValueError("pass both X_test and y_test, or neither")
        has_test = X_test is not None
        if has_test:
            X_test = _arrays.matrix(X_test, "X_test", cols=self.d)
            y_test = _targets(y_test, "y_test", X_test.shape[0], self._k)
        Xr = None if record is None else _arrays.matrix(record, "record", cols=self.d)
        loss_kind = parse_loss(loss)
        rates = _rates(lr1, lr2, lrs, self.depth, signs=self._deep or lrs is not None)
        names = list(_TRAIN_COLUMNS)[:7 if has_test else 6]
        rows = steps // log_every + 2
        _arrays.check_mem(rows * 8 * len(names), "the training log (%d x %d doubles)"
                          % (rows, len(names)))
        if self._deep:
            gd = GDConfig(0.0, 0.0, loss_kind, len(rates))
            gd.lrs[:len(rates)] = rates
            return self._train_deep(X, y, gd, steps, log_every, X_test, y_test, Xr, names)
        gd = GDConfig(rates[0], rates[1], loss_kind)

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

    def _train_deep(self, X, y, gd, steps, log_every, X_test, y_test, Xr, names):
        """train() at depth: the library's trainer on this network's own θ, one
        ntk_trainer_eval (loss and gradient at θ_k, logged) and one
        ntk_trainer_apply per step; Ctrl-C lands between two library calls."""
        h = self.handle
        n, loss_kind = X.shape[0], gd.loss
        start = self.theta
        tr = ctypes.c_void_p()
        check(lib.ntk_trainer_create(h, X, y, n, gd, byref(tr)))
        log = np.empty((steps // log_every + 2, len(names)))
        k_out = self._k
        recorded = None if Xr is None else _arrays.empty(
            (log.shape[0],) + _shape(Xr.shape[0], k_out), "the recorded outputs")
        ft = None if X_test is None else np.empty(_shape(X_test.shape[0], k_out))
        nrow = 0
        wd = WeightDist()
        try:
            for k in range(steps + 1):
                st = lib.ntk_trainer_eval(tr)
                if st == NTK_ERR_DIVERGED:
                    msg = lib.ntk_errmsg()
                    if lib.ntk_check_finite(lib.ntk_net_theta(h), self._P, b"theta") != 0:
                        check(lib.ntk_net_set_theta(h, start))   # the weights before the call
                    exc = error(st, "step %d" % k, msg)
                    exc.partial = _columns(names, log[:nrow],
                                           None if recorded is None else recorded[:nrow, None])
                    raise exc
                check(st)
                if k % log_every == 0 or k == steps:
                    lib.ntk_net_weight_dist(h, byref(wd))
                    row = [k, lib.ntk_trainer_loss(tr), lib.ntk_trainer_grad_norm(tr), wd.w_fro,
                           wd.v_norm, wd.w_max_row]
                    if ft is not None:
                        check(lib.ntk_net_predict(h, X_test, X_test.shape[0], ft))
                        lt = _loss_value(loss_kind, ft, y_test, X_test.shape[0])
                        row.append(_arrays.result(lt, "step %d: test loss" % k, X_test=X_test,
                                                  y_test=y_test, theta=lambda: self.theta))
                    log[nrow] = row
                    if recorded is not None:
                        check(lib.ntk_net_predict(h, Xr, Xr.shape[0], recorded[nrow]))
                        _arrays.result(recorded[nrow], "step %d: outputs on record" % k,
                                       record=Xr, theta=lambda: self.theta)
                    nrow += 1
                if k < steps:
                    check(lib.ntk_trainer_apply(tr))
        finally:
            lib.ntk_trainer_free(tr)
        return _columns(names, log[:nrow], None if recorded is None else recorded[:nrow, None])

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


def _rates(lr1, lr2, lrs, depth, signs=True):
    """The rate of each layer, [η_1, ..., η_{L+1}], from lr1, lr2 (η_l = lr1 on the
    hidden layers, lr2 on the output layer) or lrs (L+1 values); checked finite,
    and (signs) >= 0 and not all 0 (the two-layer driver checks lr1, lr2 itself)."""
    if lrs is None:
        if lr1 is None or lr2 is None:
            raise ValueError("pass the rates lr1 and lr2, or lrs (one rate per layer, %d values)"
                             % (depth + 1))
        r1, r2 = float_arg(lr1, "lr1"), float_arg(lr2, "lr2")
        rates, words = [r1] * depth + [r2], "lr1 and lr2"
        if not signs:
            return rates
        if r1 < 0 or r2 < 0:
            raise ValueError("lr1 and lr2 must be >= 0 (0 freezes a layer), got %r, %r" % (r1, r2))
    else:
        if lr1 is not None or lr2 is not None:
            raise ValueError("pass lrs (one rate per layer) or lr1 and lr2, not both")
        if isinstance(lrs, (str, bytes)) or not hasattr(lrs, "__len__") or np.ndim(lrs) != 1:
            raise ValueError("lrs must be a list of %d rates, one per layer, got %r"
                             % (depth + 1, lrs))
        if len(lrs) != depth + 1:
            raise ValueError("lrs has %d rates for a network of %d layers (depth %d); give one "
                             "rate per layer (%d)" % (len(lrs), depth + 1, depth, depth + 1))
        rates, words = [float_arg(r, "lrs[%d]" % j) for j, r in enumerate(lrs)], "lrs"
        for j, r in enumerate(rates):
            if r < 0:
                raise ValueError("lrs[%d] must be >= 0 (0 freezes layer %d), got %r"
                                 % (j, j + 1, r))
    if all(r == 0 for r in rates):
        raise ValueError("the rates %s are all 0: nothing would train; give some layer a rate "
                         "> 0" % words)
    return rates


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
