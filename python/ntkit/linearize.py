"""The network's first-order Taylor model (docs/theory.md §5; Lee et al. 2019):

    f_lin(x; W, v) = f(x; W*, v*) + ⟨∇_W f(x; W*, v*), W − W*⟩ + ⟨∇_v f(x; W*, v*), v − v*⟩

around the weights (W*, v*) the network had when linearize() was called. For
f(x) = α/√m Σ_r v_r φ(w_r·x/s), with Z = X W*ᵀ/s,

    f_lin(X) = f*(X) + α/√m [ (φ'(Z) ⊙ (X ΔWᵀ/s)) v* + φ(Z) Δv ].

The matrix products are numpy's (BLAS), φ and φ' the library's
(ntk_act_apply), in row blocks. Training is gradient descent (or flow) in
parameter space, which for a model linear in its parameters is kernel GD in
closed form with the rate-weighted empirical NTK K = J D Jᵀ at (W*, v*),
D = diag(lr1 I, lr2 I): after t steps f_lin = y + (I − cK)^t (f_start − y) on
the training points and the parameters have moved by D Jᵀ h_t(K)(y − f_start),
h_t(λ) = (1 − (1 − cλ)^t)/λ (docs/theory.md §6), computed by the library.

At depth (a Network with is_deep) the model is f_lin(X; θ) = f(X; θ*) +
J(X; θ*)(θ − θ*) on the flat parameters θ, with J·Δθ by the library's
forward-mode pass (ntk_net_jvp) and Jᵀ·r by its backward pass (ntk_net_vjp),
never the Jacobian; training is the same closed form with D = diag(η_l) per
layer and K the per-layer-weighted empirical NTK.

A network of k > 1 outputs (Network(..., outputs=k), always deep) gives
f_lin(X) of shape (n, k), J·Δθ by the same forward-mode pass. Its training
needs the whole nk × nk kernel J D Jᵀ, cross-output blocks included (the
mean per-output kernel of ntkit.ntk drops them, and they do not vanish at
finite width, docs/depth.md §1.7): it is built one column at a time, a
backward pass on one point and output (D J_{(j,c)}ᵀ) followed by a forward
pass over the inputs, in O(n·k·(n + nt)·P) time and (n·k)² + nt·k·n·k doubles.
"""
from ctypes import byref
from typing import TYPE_CHECKING, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays
from ._args import bool_arg, float_arg, int_arg
from ._lib import NetConfig, check, layer_shapes, lib, parse_loss
from .dynamics import KernelGD
from .kernels import ntk
from .run import _loss_value, _shape, _targets

if TYPE_CHECKING:
    from .network import Network

# rows per block of the (rows, m) activations: at most this many doubles per array
_BLOCK_DOUBLES = 1 << 22


class LinearizedNetwork:
    """The first-order Taylor model of a Network at its weights when made
    (ntkit.linearize(net)): f_lin(X, W=None, v=None) on any inputs, at any
    weights; train(...) moves its own weights W, v (the Network is not
    touched).

    Args:
      net: the ntkit.Network to expand (at its current weights).

    Attributes:
      W_lin, v_lin: the expansion point (W*, v*), (m, d) and (m,).
      W, v: the current weights (start at W_lin, v_lin; moved by train).
      theta_lin, theta: at depth (and for the two-layer network too) the
        expansion point θ* and the current parameters θ, flat as
        Network.theta; at depth they replace W_lin, v_lin, W, v.
      outputs: k, the network's output units (f_lin is (n, k) when k > 1).
    """

    def __init__(self, net: "Network"):
        from .network import Network
        if not isinstance(net, Network):
            raise TypeError("linearize takes an ntkit.Network, got %r" % (net,))
        self._cfg = NetConfig.from_buffer_copy(net._cfg)
        self.d, self.width = net.d, net.width
        self.outputs = net.outputs
        self._deep = net.is_deep
        if self._deep:
            self.depth = net.depth
            self.theta_lin = net.theta
            self._theta = self.theta_lin.copy()
            # the expansion point as an uncentred network of its own (its kernel), and θ0
            self._at = Network._from_theta(self._cfg, self.theta_lin, centered=False)
            self._theta0 = net.theta0 if self._cfg.centered else None
            self._layers = layer_shapes(self._cfg)
            return
        self.depth = 1
        self.W_lin, self.v_lin = net.W, net.v
        self.W, self.v = self.W_lin.copy(), self.v_lin.copy()
        c = net.config
        # the expansion point as an uncentred network of its own: f*(X) and the kernel at it
        self._at = Network(self.d, self.width, act=c["act"], act_param=c["act_param"],
                           input_scale=c["input_scale"], alpha=c["alpha"], W0=self.W_lin,
                           v0=self.v_lin)
        self._s = c["s"]
        # a centred model is f(x;θ) − f(x;θ0): its Taylor model subtracts f(x;θ0) too
        self._offset = (net.W0, net.v0) if c["centered"] else None

    def __repr__(self):
        return "LinearizedNetwork(%r)" % (self._at,)

    # -- evaluation -------------------------------------------------------

    # -- the flat parameters (any depth; two-layer: [W.ravel(), v]) -------

    @property
    def theta(self) -> np.ndarray:
        """The current parameters, flat (a copy); assigning sets them."""
        if self._deep:
            return self._theta.copy()
        return np.concatenate([self.W.ravel(), self.v])

    @theta.setter
    def theta(self, theta):
        n = self._at.nparams
        theta = _arrays.vector(theta, "theta", n)
        if self._deep:
            self._theta = theta.copy()
        else:
            md = self.width * self.d
            self.W, self.v = theta[:md].reshape(self.width, self.d).copy(), theta[md:].copy()

    def _no_W(self, what):
        if self._deep:
            raise ValueError("%s: the network has depth %d (or biases, weight_std, the standard "
                             "parameterization): pass theta (flat, as Network.theta) instead of "
                             "W, v" % (what, self.depth))

    def _base(self, X):
        """f*(X): the model at the expansion point (centred when the network is)."""
        f = self._at(X)
        if self._deep:
            if self._theta0 is not None:
                f0 = np.empty(_shape(X.shape[0], self.outputs))
                check(lib.ntk_forward_theta(byref(self._cfg), self._theta0, X, X.shape[0], f0))
                f = f - f0
            return f
        if self._offset is not None:
            f0 = np.empty(X.shape[0])
            W0, v0 = self._offset
            check(lib.ntk_forward(byref(self._at._cfg), W0, v0, X, X.shape[0], f0))
            f = f - f0
        return f

    def _blocks(self, n):
        b = max(1, _BLOCK_DOUBLES // self.width)
        return [(i, min(n, i + b)) for i in range(0, n, b)]

    def _features(self, Xb):
        """φ(Z), φ'(Z) for Z = Xb W*ᵀ/s, by the library's activation."""
        Z = np.ascontiguousarray(Xb @ self.W_lin.T) / self._s
        A, D = np.empty_like(Z), np.empty_like(Z)
        lib.ntk_act_apply(self._cfg.act, Z.size, Z, A, D)
        return A, D

    def __call__(self, X: ArrayLike, W: Optional[ArrayLike] = None,
                 v: Optional[ArrayLike] = None, theta: Optional[ArrayLike] = None) -> np.ndarray:
        """f_lin on X at weights (W, v), or at the flat parameters theta.

        Args:
          X: (n, d) inputs.
          W: (m, d) first-layer weights (None: the current self.W; two-layer).
          v: (m,) second-layer weights (None: the current self.v; two-layer).
          theta: the flat parameters (as Network.theta) in place of W, v (None:
            the current ones); at depth the only form.

        Returns:
          f_lin of shape (n,), or (n, k) for a network of k > 1 outputs.
        """
        X = _arrays.matrix(X, "X", cols=self.d)
        if theta is not None or self._deep:
            if W is not None or v is not None:
                self._no_W("f_lin(X, W, v)")
                raise ValueError("pass theta or W, v, not both")
            return self._call_theta(X, theta)
        W = self.W if W is None else _arrays.matrix(W, "W", cols=self.d, rows=self.width)
        v = self.v if v is None else _arrays.vector(v, "v", self.width)
        dW, dv = W - self.W_lin, v - self.v_lin
        f = self._base(X)
        a = self._cfg.alpha / np.sqrt(self.width)
        with np.errstate(over="ignore", invalid="ignore"):
            for i, j in self._blocks(X.shape[0]):
                A, D = self._features(X[i:j])
                f[i:j] += a * ((D * (X[i:j] @ dW.T) / self._s) @ self.v_lin + A @ dv)
        return _arrays.result(f, "linearized outputs f_lin", X=X, W=W, v=v)

    predict = __call__

    def _call_theta(self, X, theta):
        """f_lin(X; θ) = f*(X) + J(X; θ*)(θ − θ*), J·Δθ by ntk_net_jvp."""
        theta = self.theta if theta is None else _arrays.vector(theta, "theta", self._at.nparams)
        dtheta = theta - self._at.theta
        f = self._base(X)
        Jd = np.empty(_shape(X.shape[0], self.outputs))
        check(lib.ntk_net_jvp(byref(self._at._cfg), self._at.theta, X, X.shape[0], dtheta, Jd))
        return _arrays.result(f + Jd, "linearized outputs f_lin", X=X, theta=theta)

    def _vjp(self, X, r):
        """(J_Wᵀ r (m, d), J_vᵀ r (m,)) at the expansion point, for r (n,)."""
        gW = np.zeros((self.width, self.d))
        gv = np.zeros(self.width)
        a = self._cfg.alpha / np.sqrt(self.width)
        for i, j in self._blocks(X.shape[0]):
            A, D = self._features(X[i:j])
            gW += ((D * r[i:j, None]) * self.v_lin).T @ X[i:j]
            gv += A.T @ r[i:j]
        return a / self._s * gW, a * gv

    # -- training ---------------------------------------------------------

    def train(self, X: ArrayLike, y: ArrayLike, lr1: Optional[float] = None,
              lr2: Optional[float] = None, steps: Optional[float] = None, loss: str = "mean",
              flow: bool = False, log_every: Optional[float] = None,
              X_test: Optional[ArrayLike] = None, y_test: Optional[ArrayLike] = None,
              allow_unstable: bool = False, lrs: Optional[Sequence[float]] = None
              ) -> Dict[str, np.ndarray]:
        """Gradient descent (or flow) of the linearized model from its current
        weights, in closed form; the weights W, v move to where `steps` ends.

        Args:
          X: (n, d) training inputs.
          y: (n,) targets; (n, k) for a network of k > 1 outputs (trained
            with the whole nk × nk kernel, see the module's notes).
          lr1: rate of W (0 freezes it); at depth of the hidden layers 1..L.
          lr2: rate of v (0 freezes it); at depth of the output layer L+1.
          steps: GD steps (a whole number), or the final time with flow=True;
            required.
          loss: "mean" (1/(2n) Σ r²) or "sum" (1/2 Σ r²); with k outputs
            the squares summed over the outputs, c/2 Σ_i ‖f_i − y_i‖².
          flow: True for gradient flow.
          log_every: the interval of the returned log (None: only 0 and steps).
          X_test, y_test: (nt, d) and (nt,) (k outputs: (nt, k)) test data
            for test_loss, or None.
          allow_unstable: accept a GD rate above the stability limit
            c·λ_max(K) > 2 (refused with a ValueError otherwise).
          lrs: one rate per layer (L+1 values, 0 freezes a layer) in place of
            lr1, lr2, as Network.train.

        Returns:
          dict(step (GD) or time (flow), train_loss, and test_loss with test
          data), one entry per logged time.
        """
        X = _arrays.matrix(X, "X", cols=self.d)
        n = X.shape[0]
        y = _targets(y, "y", n, self.outputs)
        flow = bool_arg(flow, "flow")
        if self._deep or lrs is not None:
            from .network import _rates
            rates = _rates(lr1, lr2, lrs, self.depth)
        else:
            if lr1 is None or lr2 is None:
                raise ValueError("pass the rates lr1 and lr2, or lrs (one rate per layer)")
            lr1, lr2 = float_arg(lr1, "lr1"), float_arg(lr2, "lr2")
            if lr1 < 0 or lr2 < 0 or lr1 == lr2 == 0:
                raise ValueError("lr1 and lr2 must be >= 0 and not both 0, got %r, %r"
                                 % (lr1, lr2))
            rates = [lr1, lr2]
        if steps is None:
            raise ValueError("steps (GD steps, or the final time of the flow) is required")
        ts = _log_times(steps, log_every, flow)
        if (X_test is None) != (y_test is None):
            raise ValueError("pass both X_test and y_test, or neither")
        loss_kind = parse_loss(loss)
        if self.outputs > 1:
            return self._train_outputs(X, y, rates, ts, loss_kind, flow, X_test, y_test,
                                       allow_unstable)
        K = ntk(self._at, X, layer=rates)                 # J D Jᵀ at the expansion point
        f_start = self(X)
        kgd = KernelGD(K, y, 1.0, loss, flow, "eig", 0.0, allow_unstable)
        Kt = f0t = None
        if X_test is not None:
            X_test = _arrays.matrix(X_test, "X_test", cols=self.d)
            y_test = _arrays.vector(y_test, "y_test", X_test.shape[0])
            Kt, f0t = ntk(self._at, X_test, X, layer=rates), self(X_test)
            u, ut = kgd(ts, f_start, f0t, Kt)
        else:
            u = kgd(ts, f_start)
        out = {"time" if flow else "step": ts if flow else ts.astype(np.int64),
               "train_loss": np.array([lib.ntk_loss_value(loss_kind, uj, y, n) for uj in u])}
        if X_test is not None:
            out["test_loss"] = np.array([lib.ntk_loss_value(loss_kind, uj, y_test, len(y_test))
                                         for uj in ut])
        # the parameters: Δθ = D Jᵀ h_T(K)(y − f_start), h_T(K)(y − f_start) as the test
        # prediction of the identity kernel block
        beta = kgd(ts[-1], f_start, np.zeros(n), np.eye(n))[1]
        if self._deep:
            g = np.empty(self._at.nparams)
            check(lib.ntk_net_vjp(byref(self._at._cfg), self._at.theta, X, n, beta, g))
            for rate, (off, (mo, mi), nb) in zip(rates, self._layers):
                g[off:off + mo * mi + nb] *= rate            # D Jᵀ β, layer by layer
            self._theta = self._theta + g
            _arrays.result(self._theta, "linearized parameters theta", hint="lower the rates")
            return {k: _arrays.result(v, "linearized model: " + k) for k, v in out.items()}
        lr1, lr2 = rates
        gW, gv = self._vjp(X, beta)
        self.W, self.v = self.W + lr1 * gW, self.v + lr2 * gv
        _arrays.result(self.W, "linearized weights W", hint="lower the rates lr1, lr2")
        _arrays.result(self.v, "linearized weights v", hint="lower the rates lr1, lr2")
        return {k: _arrays.result(v, "linearized model: " + k) for k, v in out.items()}

    def _full_kernel(self, X, Xt, rates):
        """The whole kernel J D Jᵀ of a k-output network at the expansion point:
        K (nk, nk) on X and K_test (nt·k, nk) of Xt (or None) against X, rows
        and columns in the order of the (n, k) arrays raveled (point-major).
        Column (j, c) is J (D J_{(j,c)}ᵀ): one backward pass (ntk_net_vjp) on
        x_j with the seed e_c, the per-layer rates, then one forward-mode pass
        (ntk_net_jvp) over X (and Xt)."""
        k, n, P = self.outputs, X.shape[0], self._at.nparams
        cfg, theta = byref(self._at._cfg), self._at.theta
        nk = n * k
        KT = _arrays.empty((nk, nk), "the nk x nk kernel of the k-output linearized model")
        KtT = None
        if Xt is not None:
            KtT = _arrays.empty((nk, Xt.shape[0] * k), "its test block (nt·k x nk)")
        seed, g = np.zeros((1, k)), np.empty(P)
        col, colt = np.empty((n, k)), None if Xt is None else np.empty((Xt.shape[0], k))
        for j in range(n):
            for c in range(k):
                seed[0, :] = 0.0
                seed[0, c] = 1.0
                check(lib.ntk_net_vjp(cfg, theta, X[j:j + 1], 1, seed, g))   # J_{(j,c)}ᵀ
                for rate, (off, (mo, mi), nb) in zip(rates, self._layers):
                    g[off:off + mo * mi + nb] *= rate
                check(lib.ntk_net_jvp(cfg, theta, X, n, g, col))
                KT[j * k + c] = col.ravel()
                if Xt is not None:
                    check(lib.ntk_net_jvp(cfg, theta, Xt, Xt.shape[0], g, colt))
                    KtT[j * k + c] = colt.ravel()
        # the same number by two roundings on either side of the diagonal: its symmetric part
        K = 0.5 * (KT + KT.T)
        return K, None if KtT is None else np.ascontiguousarray(KtT.T)

    def _train_outputs(self, X, y, rates, ts, loss_kind, flow, X_test, y_test,
                       allow_unstable):
        """train() of a k-output network: kernel GD on the nk outputs with the whole
        kernel J D Jᵀ (the loss c/2 ‖u − y‖² of the raveled outputs, c = 1/n or 1:
        the "sum" form with the rate c), then Δθ = D Jᵀ h_T(K)(y − f_start)."""
        n, k = X.shape[0], self.outputs
        c = 1.0 if lib.ntk_loss_name(loss_kind) == b"sum" else 1.0 / n
        if X_test is not None:
            X_test = _arrays.matrix(X_test, "X_test", cols=self.d)
            y_test = _targets(y_test, "y_test", X_test.shape[0], k)
        K, Kt = self._full_kernel(X, X_test, rates)
        f_start = self(X)
        kgd = KernelGD(K, y.ravel(), c, "sum", flow, "eig", 0.0, allow_unstable)
        if X_test is not None:
            u, ut = kgd(ts, f_start.ravel(), self(X_test).ravel(), Kt)
        else:
            u = kgd(ts, f_start.ravel())
        out = {"time" if flow else "step": ts if flow else ts.astype(np.int64),
               "train_loss": np.array([_loss_value(loss_kind, uj, y, n) for uj in u])}
        if X_test is not None:
            nt = X_test.shape[0]
            out["test_loss"] = np.array([_loss_value(loss_kind, uj, y_test, nt) for uj in ut])
        # Σ_s c·(y − u_s) over the steps: the identity kernel's test prediction
        beta = kgd(ts[-1], f_start.ravel(), np.zeros(n * k), np.eye(n * k))[1]
        g = np.empty(self._at.nparams)
        check(lib.ntk_net_vjp(byref(self._at._cfg), self._at.theta, X, n,
                              np.ascontiguousarray(beta.reshape(n, k)), g))
        for rate, (off, (mo, mi), nb) in zip(rates, self._layers):
            g[off:off + mo * mi + nb] *= rate            # D Jᵀ β, layer by layer
        self._theta = self._theta + g
        _arrays.result(self._theta, "linearized parameters theta", hint="lower the rates")
        return {name: _arrays.result(v, "linearized model: " + name) for name, v in out.items()}

    def reset(self):
        """Put the weights back to the expansion point."""
        if self._deep:
            self._theta = self.theta_lin.copy()
            return
        self.W, self.v = self.W_lin.copy(), self.v_lin.copy()

    @property
    def weights(self) -> Union[Tuple[np.ndarray, np.ndarray], np.ndarray]:
        """(W, v), the current weights (copies); at depth θ, flat (a copy)."""
        if self._deep:
            return self._theta.copy()
        return self.W.copy(), self.v.copy()


def _log_times(steps, log_every, flow):
    if flow:
        T = float_arg(steps, "steps")
        if T < 0:
            raise ValueError("steps (the final time of the flow) must be >= 0, got %r" % T)
        if log_every is None:
            return np.array([0.0, T]) if T > 0 else np.array([0.0])
        dt = float_arg(log_every, "log_every")
        if not dt > 0:
            raise ValueError("log_every must be > 0, got %r" % dt)
        ts = np.arange(0.0, T, dt)
        return np.append(ts, T)
    T = int_arg(steps, "steps (a whole number of GD steps)", 0, 2 ** 53)
    every = max(T, 1) if log_every is None else int_arg(log_every, "log_every", 1, 2 ** 53)
    _arrays.check_mem(8 * (T // every + 2), "the log (raise log_every)")
    ts = np.arange(0, T + 1, every, dtype=float)
    return ts if ts[-1] == T else np.append(ts, float(T))


def linearize(net: "Network") -> LinearizedNetwork:
    """The first-order Taylor model of `net` at its current weights (W*, v*):
    f_lin(X, W, v) = f(X; W*, v*) + J(X; W*, v*)·(θ − θ*) (Lee et al. 2019), as
    neural-tangents' nt.linearize.

    Args:
      net: an ntkit.Network (not modified; later changes to it do not move
        the expansion point).

    Returns:
      A LinearizedNetwork: call it as f_lin(X, W=None, v=None); train(...)
      trains it in parameter space in closed form.
    """
    return LinearizedNetwork(net)
