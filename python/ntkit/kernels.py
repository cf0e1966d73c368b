"""Kernels: empirical NTK/NNGP of a Network, infinite-width kernels, the
linear models' kernels and Gaussian constants (docs/theory.md §2–§4).

A kernel is K = c1·Θ1 + c2·Θ2, chosen by `layer`:
"both" (1,1), "first" (1,0), "second" (0,1) = NNGP, or a pair (c1, c2) such
as (lr1, lr2) for the rate-weighted kernel. With X2 None the result is the
symmetric K(X, X) (n1,n1); otherwise the cross block K(X, X2) (n1,n2).
Every kernel is computed by the library's one entry point, ntk_kernel, from
a kernel description (ntk_kernel_desc).
"""
import ctypes
from ctypes import byref, pointer


from . import _arrays
from ._args import c_int_arg, float_arg, size_arg
from ._lib import (KERNEL_EMPIRICAL, KERNEL_INFINITE, KERNEL_LIN, Constants, check, layer_coeffs,
                   lib, net_config, parse_act, struct_dict)

# the library names the point sets X1, X2; the caller passed them as X, X2
_NAMES = {"X1": "X"}


def _kernel(source, cfg, X, n1, X2, n2, c1, c2, **fields):
    """K = c1·Θ1 + c2·Θ2 of `source` for the network settings cfg on X (n1,d) and
    X2 (n2,d) or None, through ntk_kernel; `fields` set the description's other
    fields (W, v, mem_limit, quad_order, consts)."""
    k = lib.ntk_kernel_desc_default(source, byref(cfg))   # k.net points at cfg, alive here
    k.c1, k.c2 = c1, c2
    for name, value in fields.items():
        setattr(k, name, value)
    K = _arrays.empty((n1, n2 if n2 else n1), "the kernel matrix K")
    check(lib.ntk_kernel(byref(k), X, n1, X2, n2, K), names=_NAMES)
    return K


def _quad(quad_order):
    return c_int_arg(quad_order, "quad_order", 0)


def ntk(net, X, X2=None, layer="both", mem_limit=0):
    """Empirical NTK of `net` at its current weights, docs/theory.md §2.

    X (n1,d), X2 (n2,d) or None -> K (n1,n2) or (n1,n1).
    mem_limit: bytes of scratch for the tiles (0: library default).
    """
    X, n1, X2, n2, _ = _arrays.pair(X, X2, d=net.d)
    c1, c2 = layer_coeffs(layer)
    mem_limit = size_arg(mem_limit, "mem_limit")
    h = net.handle
    # W and v: the net's own (read-only) arrays, read during the call only
    K = _kernel(KERNEL_EMPIRICAL, net._cfg, X, n1, X2, n2, c1, c2, W=lib.ntk_net_W(h),
                v=lib.ntk_net_v(h), mem_limit=mem_limit)
    return _arrays.result(K, "empirical kernel K", X=X, X2=X2, W=lambda: net.W, v=lambda: net.v)


def nngp(net, X, X2=None, mem_limit=0):
    """Empirical NNGP kernel Θ2 = α²/m φ(Z1)φ(Z2)ᵀ of `net` (ntk with layer="second")."""
    return ntk(net, X, X2, layer="second", mem_limit=mem_limit)


def ntk_inf(X, X2=None, act="relu", act_param=None, input_scale="sqrt_d", alpha=1.0,
            layer="both", quad_order=0):
    """Infinite-width NTK for E[v²] = 1, docs/theory.md §3.

    Closed forms for relu, leaky_relu, erf, identity; Gauss–Hermite quadrature
    of order quad_order otherwise (0: the library's default,
    ntkit.DEFAULTS["quad_order"]). X (n1,d), X2 (n2,d) or None.
    """
    X, n1, X2, n2, d = _arrays.pair(X, X2)
    cfg = net_config(d, 1, act=act, act_param=act_param, input_scale=input_scale, alpha=alpha)
    c1, c2 = layer_coeffs(layer)
    K = _kernel(KERNEL_INFINITE, cfg, X, n1, X2, n2, c1, c2, quad_order=_quad(quad_order))
    return _arrays.result(K, "infinite-width kernel K", X=X, X2=X2)


def nngp_inf(X, X2=None, act="relu", act_param=None, input_scale="sqrt_d", alpha=1.0,
             quad_order=0):
    """Infinite-width NNGP kernel α²Σ (ntk_inf with layer="second")."""
    return ntk_inf(X, X2, act, act_param, input_scale, alpha, "second", quad_order)


def constants(act, act_param=None, trace_factor=1.0, quad_order=0):
    """Gaussian constants of docs/theory.md §4.1 as a dict: zeta, nu, theta0,
    theta1, theta2, e_phi2, e_dphi2, trace_factor. trace_factor = √(Tr Σ²/d)
    (1 for isotropic data) multiplies ν (§4.2). quad_order 0: the library's
    default."""
    c = Constants()
    check(lib.ntk_constants_compute(parse_act(act, act_param),
                                    float_arg(trace_factor, "trace_factor"), _quad(quad_order),
                                    byref(c)))
    return _arrays.result_dict(struct_dict(c), "constants")


def estimate_trace_factor(X):
    """√(Tr Σ̂²/d) of the sample covariance of X (n,d) rescaled to Tr Σ̂ = d."""
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


def lin_features(X, layer="first", act="relu", act_param=None, alpha=1.0, trace_factor=None,
                 quad_order=0):
    """Hu et al. (2020)'s feature maps (docs/theory.md §4.3), scaled by α.

    layer "first": ψ1 (n, d+1); "second": ψ2 (n, d+2). trace_factor None:
    estimated from X (as ntk_run does with 0), else the given √(Tr Σ²/d).
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


def lin_kernel(X, X2=None, act="relu", act_param=None, layer="both", alpha=1.0,
               trace_factor=None, quad_order=0):
    """Kernel of Hu et al. (2020)'s linear models, c1·ψ1ψ1ᵀ + c2·ψ2ψ2ᵀ (Θ_lin1,
    Θ_lin2, Θ_lin; docs/theory.md §4.3).

    X (n1,d), X2 (n2,d) or None, as the features expect them (s = √d).
    trace_factor None: estimated from X (as a run does), else the given
    √(Tr Σ²/d) (1 for isotropic data).
    """
    X, n1, X2, n2, d = _arrays.pair(X, X2)
    c1, c2 = layer_coeffs(layer)
    alpha = float_arg(alpha, "alpha")
    c = _lin_constants(X, act, act_param, trace_factor, quad_order)
    cfg = net_config(d, 1, act=act, act_param=act_param, alpha=alpha)
    K = _kernel(KERNEL_LIN, cfg, X, n1, X2, n2, c1, c2, consts=pointer(c))
    return _arrays.result(K, "linear-model kernel K", X=X, X2=X2)
