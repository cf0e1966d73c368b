"""ntkit: wide two-layer and deep networks, their neural tangent kernels and
lazy training — a ctypes binding of libntkit (every number from the C library).

    import ntkit
    net = ntkit.Network(d=10, width=1024, seed=0)
    K = ntkit.ntk(net, X)                              # (n, n) empirical NTK
    predict = ntkit.gradient_descent_mse(K, y, lr=1.0)
    f_t = predict(100, net(X))                         # kernel GD after 100 steps
    hist = net.train(X, y, lr1=1.0, lr2=1.0, steps=100, record=X_new)
    res = ntkit.run(X, y, width=1024, steps=100)      # the net and its surrogates side by side
    f_lin = ntkit.linearize(net)                       # f_lin(X, W, v), f_lin.train(...)
    deep = ntkit.Network(d=10, width=512, depth=3, bias_std=0.1)   # deep.params: [(W_l, b_l)]
    deep.train(X, y, lrs=[1.0, 0.0, 1.0, 1.0], steps=100)         # one rate per layer
    K3 = ntkit.ntk_inf(X, depth=3, weight_std=1.5, bias_std=0.1)

ntkit.predict has neural-tangents' predictors (gradient_descent_mse,
gp_inference, gradient_descent_mse_ensemble, max_learning_rate) with their
signatures and conventions; ntkit.infinite_kernel_fn(act) is a kernel_fn
for them. ntkit.KernelOperator(X, "ntk-inf", mem_limit=...) is a kernel that
is multiplied rather than stored (matrix-free when K does not fit):
gradient_descent_mse and gp_inference take it in place of k_train_train.

Arrays: float64 C-contiguous inputs are passed to the library without a
copy; other real arrays are converted once. Shapes are checked before any
C call (ValueError). Every integer is range-checked before it reaches ctypes
(which would wrap it) and every float argument must be finite; the
ValueError names the argument. Inputs must be finite (NonFiniteError) and
no function returns a non-finite result silently: an overflow raises
NonFiniteError (a ValueError and a FloatingPointError) naming the result.
Library errors raise ValueError (bad argument, format), NonFiniteError,
FileNotFoundError / OSError (files), numpy.linalg.LinAlgError (a failed
factorisation; ntkit.LinAlgError, also a RuntimeError), MemoryError,
DivergedError (a RuntimeError), ConvergenceError (an iterative solver at
its iteration limit; a RuntimeError) or RuntimeError, with the library's message
(argument names translated to the Python ones).

Training (Network.train, run) goes through the library's driver, the same
one the command line uses; Ctrl-C stops it within one step. DEFAULTS holds
the settings shared with the library and the CLI, read from it at import
(ntk_defaults): kgd_eig_max_n, kgd_krylov_kmax, theory_max_points,
kernel_subsample, leaky_slope, quad_order.

Installed with `pip install --no-build-isolation ./python` (or make install),
the package carries its own libntkit.so. The library is found through
$NTKIT_LIBRARY, then libntkit.so* next to this file, then
../../build/libntkit.so (a checkout's build tree).
"""
from ._lib import (DEFAULTS, ConvergenceError, DivergedError, LinAlgError, NonFiniteError,
                   get_threads, library_path, set_threads)
from .data import make_dataset
from .dynamics import KernelGD, gradient_descent_mse, kernel_ridge, kernel_ridge_predict
from .kernels import (Kernel, constants, empirical_kernel_fn, estimate_trace_factor,
                      infinite_kernel_fn, lin_features, lin_kernel, nngp, nngp_inf, ntk, ntk_inf)
from .linearize import LinearizedNetwork, linearize
from .network import Network
from .operators import KernelOperator
from .run import MODELS, Run, run
from .spectrum import eigh, kernel_distance, normalized_distance, spectrum_summary
from . import predict  # noqa: E402  (ntkit.predict: neural-tangents' predictors)

__version__ = "0.1.0"

__all__ = [
    "Network", "ntk", "nngp", "ntk_inf", "nngp_inf", "lin_kernel", "lin_features", "constants",
    "estimate_trace_factor", "eigh", "spectrum_summary", "kernel_distance",
    "normalized_distance", "gradient_descent_mse", "KernelGD", "kernel_ridge",
    "kernel_ridge_predict", "run", "Run", "MODELS", "make_dataset", "set_threads",
    "get_threads", "DivergedError", "NonFiniteError", "LinAlgError", "library_path", "DEFAULTS",
    "__version__", "predict", "Kernel", "infinite_kernel_fn", "empirical_kernel_fn", "linearize",
    "LinearizedNetwork", "KernelOperator", "ConvergenceError",
]
