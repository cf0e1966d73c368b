"""Kernels: empirical NTK/NNGP of a Network, infinite-width kernels, the
linear models' kernels and Gaussian constants (docs/theory.md §2–§4; at
depth docs/depth.md).

A kernel is K = c1·Θ1 + c2·Θ2, chosen by `layer`:
"both" (1,1), "first" (1,0), "second" (0,1) = NNGP, or a pair (c1, c2) such
as (lr1, lr2) for the rate-weighted kernel. A network of L hidden layers has
one share per layer, K = Σ_{l=1}^{L+1} w_l Θ_l: "first" is then the hidden
layers' part (layers 1..L), "second" the output layer's (still the NNGP
kernel), a pair puts c1 on layers 1..L and c2 on layer L+1, an integer l
selects layer l's share alone and L+1 numbers give every layer its weight
(e.g. the per-layer rates). With X2 None the result is the symmetric
K(X, X) (n1,n1); otherwise the cross block K(X, X2) (n1,n2). Every kernel is
computed by the library's one entry point, ntk_kernel, from a kernel
description (ntk_kernel_desc).

The empirical kernel of a network of k > 1 outputs (Network(...,
outputs=k)) is the mean of its k per-output kernels, K = (1/k) Σ_c
∂_θf_c(X)·∂_θf_c(X2)ᵀ (neural-tangents' default, the trace over the output
axis; docs/depth.md §1.7), still (n1, n2); the infinite-width kernels do
not depend on k (the k-output NTK tends to Θ∞ ⊗ I_k).
"""
import ctypes
from ctypes import byref, pointer
from typing import TYPE_CHECKING, Callable, Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays
from ._args import bool_arg, c_int_arg, float_arg, size_arg
from ._lib import (DEPTH_NAMES, KERNEL_EMPIRICAL, KERNEL_INFINITE, KERNEL_LIN, Constants, check,
                   is_deep, layer_coeffs, layer_weights, lib, net_config, parse_act, ptr,
                   struct_dict)

if TYPE_CHECKING:
    from .network import Network

# which kernel: "both", "first", "second", a pair of coefficients (c1, c2), a layer
# number l, or one weight per layer
Layer = Union[str, Tuple[float, float], int, Sequence[float]]

# the library names the point sets X1, X2; the caller passed them as X, X2
_NAMES = dict(DEPTH_NAMES, X1="X")


class Kernel(NamedTuple):
    """The two kernels of a network, as neural-tangents' Kernel carries them:
    nngp (the output covariance at initialisation, Θ2) and ntk (the neural
    tangent kernel Θ1 + Θ2). Either may be None where not computed.
    ntkit.predict.gp_inference and gradient_descent_mse_ensemble read them."""
    nngp: Optional[np.ndarray] = None
    ntk: Optional[np.ndarray] = None


def _kernel(source, cfg, X, n1, X2, n2, c1, c2, diagonal=False, weights=None, **fields):
    """K = c1·Θ1 + c2·Θ2 of `source` for the network settings cfg on X (n1,d) and
    X2 (n2,d) or None, through ntk_kernel; only its diagonal K_ii (n1,) when
    `diagonal`; `weights` (L+1 floats, or None) the layer weights of a deep
    cfg; `fields` set the description's other fields (W, v, theta, mem_limit,
    quad_order, consts)."""
    k = lib.ntk_kernel_desc_default(source, byref(cfg))   # k.net points at cfg, alive here
    k.c1, k.c2 = c1, c2
    w = None
    if weights is not None:
        w = np.ascontiguousarray(weights, dtype=np.float64)   # referenced until the call returns
        k.layer_weights = ptr(w)
    for name, value in fields.items():
        setattr(k, name, value)
    if diagonal:
        if X2 is not None:
            raise ValueError("diagonal=True gives K(x_i, x_i) on X alone; pass X2=None")
        k.diagonal = 1
        K = _arrays.empty((n1,), "the kernel diagonal")
    else:
        K = _arrays.empty((n1, n2 if n2 else n1), "the kernel matrix K")
    check(lib.ntk_kernel(byref(k), X, n1, X2, n2, K), names=_NAMES)
    return K


def _layer_args(layer, cfg):
    """(c1, c2, weights) for `layer` on the network settings cfg: the two-layer
    network takes (c1, c2), a deep one the L+1 weights (docs above)."""
    w = layer_weights(layer, lib.ntk_net_depth(byref(cfg)))
    if is_deep(cfg):
        return 1.0, 1.0, w
    return w[0], w[1], None


def _quad(quad_order):
    return c_int_arg(quad_order, "quad_order", 0)


_LAYER_DOC = """layer: which kernel K = c1·Θ1 + c2·Θ2: "both" (the NTK, (1, 1)),
        "first" (Θ1, the first layer's part, (1, 0)), "second" (Θ2, the
        NNGP kernel, (0, 1)), or a pair (c1, c2) such as (lr1, lr2) for the
        rate-weighted kernel η1Θ1 + η2Θ2 of GD with two rates. At depth L
        the kernel is Σ_l w_l Θ_l over the layers l = 1..L+1: "first" is
        layers 1..L, "second" layer L+1 (the NNGP kernel), a pair (c1, c2)
        weighs layers 1..L by c1 and layer L+1 by c2, an integer l in
        1..L+1 selects layer l's share alone, and L+1 numbers give each
        layer its weight (e.g. the per-layer rates lrs)."""


def ntk(net: "Network", X: ArrayLike, X2: Optional[ArrayLike] = None, layer: Layer = "both",
        mem_limit: int = 0, diagonal: bool = False) -> np.ndarray:
    """Empirical NTK of `net` at its current weights, docs/theory.md §2 (at
    depth docs/depth.md: per layer (G_l G_lᵀ) ⊙ (κ_l² A_{l−1}A_{l−1}ᵀ + β²),
    the back-propagated signals' Gram times the previous activations' Gram,
    never the Jacobian).

    A network of k > 1 outputs (net.outputs) gives the mean of its k
    per-output kernels, K = (1/k) Σ_c J_c(X) D J_c(X2)ᵀ with J_c the
    Jacobian of output c and D the layer weights of `layer` (neural-tangents'
    default trace over the output axis, docs/depth.md §1.7): an (n1, n2)
    matrix, the block that the run's ntk model applies to each output
    column (Θ ⊗ I_k); the cross-output blocks are not formed.

    Args:
      net: the ntkit.Network whose weights (W, v; at depth, and with k
        outputs, θ) define the kernel.
      X: (n1, d) points.
      X2: (n2, d) points for the cross block K(X, X2), or None for the
        symmetric K(X, X).
      %s
      mem_limit: bytes of scratch for the tiles (0: the library's default).
      diagonal: True for K(x_i, x_i) only, an (n1,) array in O(n1·m·d)
        (O(n1·P) at depth) (X2 must be None).

    Returns:
      K of shape (n1, n2), (n1, n1), or (n1,) with diagonal=True.
    """
    X, n1, X2, n2, _ = _arrays.pair(X, X2, d=net.d)
    c1, c2, w = _layer_args(layer, net._cfg)
    mem_limit = size_arg(mem_limit, "mem_limit")
    diagonal = bool_arg(diagonal, "diagonal")
    h = net.handle
    # the weights: the net's own (read-only) arrays, read during the call only. A
    # k-output network is deep (is_deep), so it passes θ, and net._cfg carries k
    # (outputs): the library then averages the k per-output kernels.
    if w is None:
        fields = dict(W=lib.ntk_net_W(h), v=lib.ntk_net_v(h))
    else:
        fields = dict(theta=lib.ntk_net_theta(h))
    K = _kernel(KERNEL_EMPIRICAL, net._cfg, X, n1, X2, n2, c1, c2, diagonal, w,
                mem_limit=mem_limit, **fields)
    return _arrays.result(K, "empirical kernel K", X=X, X2=X2, **net._weights())


if ntk.__doc__:   # None under python -OO
    ntk.__doc__ = ntk.__doc__ % _LAYER_DOC


def nngp(net: "Network", X: ArrayLike, X2: Optional[ArrayLike] = None, mem_limit: int = 0,
         diagonal: bool = False) -> np.ndarray:
    """Empirical NNGP kernel Θ2 = α²/m φ(Z1)φ(Z2)ᵀ of `net` (at depth the output
    layer's share α²(A_L A_Lᵀ/m_L·σ_w² + σ_b²) in the ntk parameterisation):
    ntk(..., layer="second"). With k outputs each output's share is this
    same matrix, so their mean is too.

    Args:
      net: the ntkit.Network.
      X: (n1, d) points.
      X2: (n2, d) points, or None for K(X, X).
      mem_limit: bytes of scratch for the tiles (0: the library's default).
      diagonal: True for K(x_i, x_i) only, shape (n1,).
    """
    return ntk(net, X, X2, layer="second", mem_limit=mem_limit, diagonal=diagonal)


def _inf_config(d, act, act_param, input_scale, alpha, depth, width, widths, weight_std,
                bias_std, parameterization):
    """The network settings of an infinite-width kernel: the width matters only
    to the standard parameterisation (its limit grows with the widths)."""
    if parameterization == "standard" and width is None and widths is None:
        raise ValueError("parameterization='standard': its infinite-width NTK grows with the "
                         "widths (neural-tangents' convention); pass width= or widths=")
    return net_config(d, 1 if width is None else width, act=act, act_param=act_param,
                      input_scale=input_scale, alpha=alpha, depth=depth, widths=widths,
                      weight_std=weight_std, bias_std=bias_std,
                      parameterization=parameterization)


def ntk_inf(X: ArrayLike, X2: Optional[ArrayLike] = None, act: str = "relu",
            act_param: Optional[float] = None, input_scale: str = "sqrt_d", alpha: float = 1.0,
            layer: Layer = "both", quad_order: int = 0, diagonal: bool = False, depth: int = 1,
            weight_std: float = 1.0, bias_std: float = 0.0, parameterization: str = "ntk",
            width: Optional[int] = None, widths: Optional[Sequence[int]] = None) -> np.ndarray:
    """Infinite-width NTK of the two-layer network with E[v²] = 1, docs/theory.md §3,
    or of L hidden layers (docs/depth.md) by the layer recursion (Jacot et
    al. 2018; Lee et al. 2019; Arora et al. 2019):
    Σ_1 = Θ_1 = σ_w² x·x'/s² + σ_b²; Σ_{l+1} = σ_w² E[φ(u)φ(v)] + σ_b²,
    Σ̇_{l+1} = σ_w² E[φ'(u)φ'(v)], Θ_{l+1} = Θ_l Σ̇_{l+1} + Σ_{l+1}, with
    (u, v) ~ N(0, Σ_l on {x, x'}); NTK = α²Θ_{L+1}, NNGP = α²Σ_{L+1}; layer
    l's share is α²Σ_l Π_{j>l} Σ̇_j. The standard parameterisation has its own
    limit at the given widths (neural-tangents' convention): the same Σ_l,
    Σ̇_l, each layer's share divided by its forward factor squared (κ_l² for
    the weights, σ_b² for the biases), so it grows with the widths.

    Closed forms for relu, leaky_relu, erf and identity; Gauss–Hermite
    quadrature otherwise.

    Args:
      X: (n1, d) points.
      X2: (n2, d) points for the cross block, or None for K(X, X).
      act: relu | leaky_relu | erf | tanh | sigmoid | softplus | gelu | identity.
      act_param: leaky_relu slope (None: ntkit.DEFAULTS["leaky_slope"]).
      input_scale: "sqrt_d" (the network sees x/√d) or "one".
      alpha: output scale α (K scales as α²).
      %s
      quad_order: Gauss–Hermite order (0: ntkit.DEFAULTS["quad_order"]).
      diagonal: True for K(x_i, x_i) only, shape (n1,) (X2 must be None).
      depth: L, the number of hidden layers, 1..16.
      weight_std: σ_w > 0.
      bias_std: σ_b >= 0.
      parameterization: "ntk" or "standard" (needs width or widths).
      width: the hidden width of every layer (the standard parameterisation
        only; the ntk one's limit does not depend on it).
      widths: the L hidden widths (overrides width; standard only, as width).

    Returns:
      K of shape (n1, n2), (n1, n1), or (n1,) with diagonal=True.
    """
    X, n1, X2, n2, d = _arrays.pair(X, X2)
    cfg = _inf_config(d, act, act_param, input_scale, alpha, depth, width, widths, weight_std,
                      bias_std, parameterization)
    c1, c2, w = _layer_args(layer, cfg)
    K = _kernel(KERNEL_INFINITE, cfg, X, n1, X2, n2, c1, c2, bool_arg(diagonal, "diagonal"), w,
                quad_order=_quad(quad_order))
    return _arrays.result(K, "infinite-width kernel K", X=X, X2=X2)


if ntk_inf.__doc__:
    ntk_inf.__doc__ = ntk_inf.__doc__ % _LAYER_DOC


def nngp_inf(X: ArrayLike, X2: Optional[ArrayLike] = None, act: str = "relu",
             act_param: Optional[float] = None, input_scale: str = "sqrt_d", alpha: float = 1.0,
             quad_order: int = 0, diagonal: bool = False, depth: int = 1,
             weight_std: float = 1.0, bias_std: float = 0.0, parameterization: str = "ntk",
             width: Optional[int] = None, widths: Optional[Sequence[int]] = None) -> np.ndarray:
    """Infinite-width NNGP kernel α²Σ (α²Σ_{L+1} at depth): the covariance of
    f(x) at initialisation, which is the same in both parameterisations (they
    draw the same function); in the NTK parameterisation it is
    ntk_inf(..., layer="second").

    Args:
      X, X2, act, act_param, input_scale, alpha, quad_order, diagonal, depth,
      weight_std, bias_std, width, widths: as ntk_inf.
      parameterization: "ntk" or "standard" (checked; the kernel is the same).
    """
    ntk_inf(np.ones((1, 1)), depth=depth, weight_std=weight_std, bias_std=bias_std,
            parameterization=parameterization, width=width, widths=widths)   # checks the settings
    return ntk_inf(X, X2, act, act_param, input_scale, alpha, "second", quad_order, diagonal,
                   depth=depth, weight_std=weight_std, bias_std=bias_std,
                   parameterization="ntk", width=width, widths=widths)


def infinite_kernel_fn(act: str = "relu", act_param: Optional[float] = None,
                       input_scale: str = "sqrt_d", alpha: float = 1.0, quad_order: int = 0,
                       depth: int = 1, weight_std: float = 1.0, bias_std: float = 0.0,
                       parameterization: str = "ntk", width: Optional[int] = None,
                       widths: Optional[Sequence[int]] = None
                       ) -> Callable[..., Union[np.ndarray, Kernel]]:
    """The infinite-width kernels of the network as a neural-tangents
    kernel_fn, e.g. for ntkit.predict.gradient_descent_mse_ensemble.

    Args:
      act, act_param, input_scale, alpha, quad_order, depth, weight_std,
      bias_std, parameterization, width, widths: the network, as ntk_inf.

    Returns:
      kernel_fn(x1, x2=None, get=None): for get None or a tuple of names, a
      Kernel(nngp=Θ2∞, ntk=Θ1∞ + Θ2∞) (the names not asked for are None);
      for get "nngp" or "ntk", that array alone. x2 None: K(x1, x1).
    """
    settings = dict(act=act, act_param=act_param, input_scale=input_scale, alpha=alpha,
                    quad_order=quad_order, depth=depth, weight_std=weight_std, bias_std=bias_std,
                    parameterization=parameterization, width=width, widths=widths)
    ntk_inf(np.ones((1, 1)), **settings)   # the settings are checked now, not at the first use

    def kernel_fn(x1: ArrayLike, x2: Optional[ArrayLike] = None,
                  get: Union[None, str, Sequence[str]] = None):
        """Kernel(nngp, ntk) of the infinite-width network on x1 (n1, d) and x2
        (n2, d) or None, or one array for get = "nngp" or "ntk"."""
        names, single = _get_names(get)
        # the NNGP is the covariance at initialisation, the same in both parameterisations
        parts = {g: ntk_inf(x1, x2, layer="both", **settings) if g == "ntk"
                 else ntk_inf(x1, x2, layer="second", **dict(settings, parameterization="ntk"))
                 for g in names}
        return parts[names[0]] if single else Kernel(**parts)

    return kernel_fn


def empirical_kernel_fn(net: "Network", mem_limit: int = 0
                        ) -> Callable[..., Union[np.ndarray, Kernel]]:
    """The empirical kernels of a network as a neural-tangents kernel_fn
    (with k outputs: the mean per-output kernels, as ntk()).

    Args:
      net: the ntkit.Network (its weights when kernel_fn is called).
      mem_limit: bytes of scratch for the tiles (0: the library's default).

    Returns:
      kernel_fn(x1, x2=None, get=None): Kernel(nngp, ntk), or one array for
      get = "nngp" or "ntk" (as infinite_kernel_fn).
    """
    mem_limit = size_arg(mem_limit, "mem_limit")

    def kernel_fn(x1: ArrayLike, x2: Optional[ArrayLike] = None,
                  get: Union[None, str, Sequence[str]] = None):
        """Kernel(nngp, ntk) of the network on x1 and x2 (or None), or one array."""
        names, single = _get_names(get)
        parts = {g: ntk(net, x1, x2, layer="both" if g == "ntk" else "second",
                        mem_limit=mem_limit) for g in names}
        return parts[names[0]] if single else Kernel(**parts)

    return kernel_fn


def _get_names(get):
    """get (None, "nngp", "ntk" or a sequence of them) -> (names, single)."""
    if get is None:
        return ("nngp", "ntk"), False
    if isinstance(get, str):
        names, single = (get,), True
    else:
        names, single = tuple(get), False
    for g in names:
        if g not in ("nngp", "ntk"):
            raise ValueError("get must be 'nngp', 'ntk', a tuple of them or None, got %r" % (get,))
    return names, single


def constants(act: str, act_param: Optional[float] = None, trace_factor: float = 1.0,
              quad_order: int = 0) -> Dict[str, float]:
    """Gaussian constants of an activation, docs/theory.md §4.1 (g ~ N(0, 1)).

    Args:
      act: the activation (as Network).
      act_param: leaky_relu slope (None: ntkit.DEFAULTS["leaky_slope"]).
      trace_factor: √(Tr Σ²/d) of the input covariance (1 for isotropic
        data); it multiplies ν (§4.2).
      quad_order: Gauss–Hermite order (0: ntkit.DEFAULTS["quad_order"]).

    Returns:
      dict(zeta = E[φ'(g)], nu = E[g φ'(g)]·trace_factor, theta0 = E[φ(g)],
      theta1 = E[g φ'(g)], theta2 = E[(g³/2 − g) φ'(g)], e_phi2 = E[φ(g)²],
      e_dphi2 = E[φ'(g)²], trace_factor).
    """
    c = Constants()
    check(lib.ntk_constants_compute(parse_act(act, act_param),
                                    float_arg(trace_factor, "trace_factor"), _quad(quad_order),
                                    byref(c)))
    return _arrays.result_dict(struct_dict(c), "constants")


def estimate_trace_factor(X: ArrayLike) -> float:
    """√(Tr Σ̂²/d) of the sample covariance Σ̂ of X (n, d), rescaled to Tr Σ̂ = d
    (about 1 plus a d/n bias for isotropic data).

    Args:
      X: (n, d) inputs.
    """
    X = _arrays.matrix(X, "X")
    out = ctypes.c_double()
    check(lib.ntk_trace_factor(X, X.shape[0], X.shape[1], byref(out)))
    return _arrays.result(out.value, "trace factor", X=X)


def _lin_constants(X, act, act_param, tf, quad_order):
    tf = estimate_trace_factor(X) if tf is None else float_arg(tf, "trace_factor")
    c = Constants()
    check(lib.ntk_constants_compute(parse_act(act, act_param), tf, _quad(quad_order), byref(c)))
    _arrays.result_dict(struct_dict(c), "constants")
    return c


def lin_features(X: ArrayLike, layer: str = "first", act: str = "relu",
                 act_param: Optional[float] = None, alpha: float = 1.0,
                 trace_factor: Optional[float] = None, quad_order: int = 0) -> np.ndarray:
    """Hu et al. (2020)'s feature maps, docs/theory.md §4.3, scaled by α.

    Args:
      X: (n, d) inputs, as the features expect them (s = √d).
      layer: "first" for ψ1 (n, d + 1), "second" for ψ2 (n, d + 2).
      act, act_param: the activation (as Network).
      alpha: output scale α.
      trace_factor: √(Tr Σ²/d); None estimates it from X (as a run does).
      quad_order: Gauss–Hermite order of the constants (0: the default).

    Returns:
      Psi of shape (n, d + 1) or (n, d + 2).
    """
    X = _arrays.matrix(X, "X")
    n, d = X.shape
    if layer not in ("first", "second"):
        raise ValueError("layer must be 'first' or 'second', got %r" % (layer,))
    lay = 1 if layer == "first" else 2
    alpha = float_arg(alpha, "alpha")
    c = _lin_constants(X, act, act_param, trace_factor, quad_order)
    Psi = _arrays.empty((n, d + lay), "the features Psi")
    check(lib.ntk_lin_features(byref(c), alpha, lay, X, n, d, Psi))
    return _arrays.result(Psi, "features Psi", X=X)


def lin_kernel(X: ArrayLike, X2: Optional[ArrayLike] = None, act: str = "relu",
               act_param: Optional[float] = None, layer: Layer = "both", alpha: float = 1.0,
               trace_factor: Optional[float] = None, quad_order: int = 0,
               diagonal: bool = False) -> np.ndarray:
    """Kernel of Hu et al. (2020)'s linear models, c1·ψ1ψ1ᵀ + c2·ψ2ψ2ᵀ (Θ_lin1,
    Θ_lin2, Θ_lin; docs/theory.md §4.3).

    Args:
      X: (n1, d) inputs, as the features expect them (s = √d).
      X2: (n2, d) inputs for the cross block, or None for K(X, X).
      act, act_param: the activation (as Network).
      layer: which kernel K = c1·ψ1ψ1ᵀ + c2·ψ2ψ2ᵀ: "both" (1, 1), "first"
        (1, 0), "second" (0, 1), or a pair (c1, c2) such as (lr1, lr2).
      alpha: output scale α.
      trace_factor: √(Tr Σ²/d); None estimates it from X (as a run does),
        1 for isotropic data.
      quad_order: Gauss–Hermite order of the constants (0: the default).
      diagonal: True for K(x_i, x_i) only, shape (n1,) (X2 must be None).

    Returns:
      K of shape (n1, n2), (n1, n1), or (n1,) with diagonal=True.
    """
    X, n1, X2, n2, d = _arrays.pair(X, X2)
    c1, c2 = layer_coeffs(layer)
    alpha = float_arg(alpha, "alpha")
    c = _lin_constants(X, act, act_param, trace_factor, quad_order)
    cfg = net_config(d, 1, act=act, act_param=act_param, alpha=alpha)
    K = _kernel(KERNEL_LIN, cfg, X, n1, X2, n2, c1, c2, bool_arg(diagonal, "diagonal"),
                consts=pointer(c))
    return _arrays.result(K, "linear-model kernel K", X=X, X2=X2)
