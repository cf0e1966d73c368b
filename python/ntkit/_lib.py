"""Loading libntkit.so, the C structs, the function prototypes and errors.

Everything the other modules call goes through `lib` (the library's
functions, each with its prototype set; nothing else is reachable through
it) and `check` (status -> exception).
"""
import ctypes
import errno
import numbers
import os
import re
import types
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_double, c_int, c_size_t,
                    c_uint, c_uint64, c_void_p)

import numpy as np

from ._args import (INT_MAX, INT_MIN, SIZE_MAX, UINT64_MAX, bool_arg, c_int_arg, float_arg,
                    int_arg, seed_arg, size_arg)

_HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------
# Library discovery: $NTKIT_LIBRARY, next to the package, the build tree.
# ----------------------------------------------------------------------

def _candidates():
    env = os.environ.get("NTKIT_LIBRARY")
    if env:
        return [("NTKIT_LIBRARY", env)]
    out = []
    for name in sorted(os.listdir(_HERE)):
        if name.startswith("libntkit.so"):
            out.append(("package", os.path.join(_HERE, name)))
    build = os.path.normpath(os.path.join(_HERE, "..", "..", "build", "libntkit.so"))
    out.append(("build tree", build))
    return out


def _load():
    tried = []
    for where, path in _candidates():
        if not os.path.exists(path):
            tried.append("%s (%s: not found)" % (path, where))
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s: %s)" % (path, where, e))
    raise ImportError(
        "ntkit: cannot load libntkit.so; tried " + "; ".join(tried) + ".\n"
        "The library is looked for in (1) $NTKIT_LIBRARY (a path to the .so; when set, "
        "nothing else is tried), (2) next to the package: %s/libntkit.so*, (3) the build "
        "tree: %s. Build it with `make` in the repository root."
        % (_HERE, os.path.normpath(os.path.join(_HERE, "..", "..", "build", "libntkit.so"))))


_cdll, library_path = _load()


# ----------------------------------------------------------------------
# Array arguments: float64 C-contiguous ndarrays, None (NULL) or a ctypes
# double pointer (weights owned by a C object).
# ----------------------------------------------------------------------

_f64_base = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")


class F64(_f64_base):
    """ndpointer(float64, C_CONTIGUOUS) that also accepts None and double*."""

    @classmethod
    def from_param(cls, obj):
        if obj is None or isinstance(obj, ctypes._Pointer):
            return obj
        return super().from_param(obj)


DP = POINTER(c_double)


def as_array(ptr, shape):
    """Copy `shape` doubles from a C pointer into a new ndarray."""
    if not ptr:
        return None
    return np.ctypeslib.as_array(ptr, shape=shape).copy()


# ----------------------------------------------------------------------
# Structs (layouts of include/ntkit.h, field names as there: the tests compile a
# probe that checks the size and every field's offset of each against the header)
# ----------------------------------------------------------------------

class Act(Structure):
    _fields_ = [("kind", c_int), ("param", c_double)]


MAX_DEPTH = 16   # NTK_MAX_DEPTH


class NetConfig(Structure):
    _fields_ = [("d", c_size_t), ("m", c_size_t), ("act", Act), ("init", c_int),
                ("input_scale", c_int), ("alpha", c_double), ("centered", c_int),
                ("seed", c_uint64), ("depth", c_size_t), ("widths", c_size_t * MAX_DEPTH),
                ("weight_std", c_double), ("bias_std", c_double), ("parameterization", c_int),
                ("outputs", c_size_t)]


class GDConfig(Structure):
    _fields_ = [("lr1", c_double), ("lr2", c_double), ("loss", c_int), ("nlr", c_size_t),
                ("lrs", c_double * (MAX_DEPTH + 1))]


class RunConfig(Structure):
    _fields_ = [("net", NetConfig), ("gd", GDConfig), ("models", c_uint), ("flow", c_int),
                ("flow_rtol", c_double), ("kernel_every", c_size_t),
                ("kernel_subsample", c_size_t), ("flips", c_int), ("quad_order", c_int),
                ("mem_limit", c_size_t), ("trace_factor", c_double), ("t_max", c_double),
                ("kernel_operator", c_int)]


def _doubles(*names):
    return [(n, c_double) for n in names]


class WeightDist(Structure):
    _fields_ = _doubles("w_fro", "v_norm", "w_max_row", "theta")


class Constants(Structure):
    _fields_ = _doubles("zeta", "nu", "theta0", "theta1", "theta2", "e_phi2", "e_dphi2",
                        "trace_factor")


class KernelDist(Structure):
    _fields_ = _doubles("op", "fro", "rel_op", "rel_fro")


class SpectrumSummary(Structure):
    _fields_ = _doubles("lmin", "lmax", "cond")


class RunTheory(Structure):
    _fields_ = _doubles("ntk_lmin", "ntk_lmax", "inf_lmin", "inf_lmax", "jac_smin", "jac_smax",
                        "lr_max_stable", "stability", "envelope_rate", "loss0", "D_bound",
                        "flip_bound_D", "beta_bound", "alpha_condition", "weight_bound",
                        "horizon_T", "spectra_exact")


class Dataset(Structure):
    _fields_ = [("X_train", DP), ("y_train", DP), ("X_test", DP), ("y_test", DP),
                ("n", c_size_t), ("n_test", c_size_t), ("d", c_size_t), ("k", c_size_t)]


class DatasetSpec(Structure):
    _fields_ = [("data", c_char_p), ("target", c_char_p), ("n", c_size_t), ("n_test", c_size_t),
                ("d", c_size_t), ("seed", c_uint64), ("standardize", c_int), ("test", c_char_p)]


class Defaults(Structure):
    _fields_ = [("kgd_eig_max_n", c_size_t), ("kgd_krylov_kmax", c_size_t),
                ("theory_max_points", c_size_t), ("kernel_subsample", c_size_t),
                ("leaky_slope", c_double), ("quad_order", c_int)]


# ntk_kernel_source
KERNEL_EMPIRICAL, KERNEL_INFINITE, KERNEL_LIN = 0, 1, 2


class KernelDesc(Structure):
    _fields_ = [("source", c_int), ("net", POINTER(NetConfig)), ("c1", c_double),
                ("c2", c_double), ("W", DP), ("v", DP), ("mem_limit", c_size_t),
                ("quad_order", c_int), ("quadrature", c_int), ("consts", POINTER(Constants)),
                ("trace_factor", c_double), ("threads", c_int), ("diagonal", c_int),
                ("theta", DP), ("layer_weights", DP)]


class KGDConfig(Structure):
    _fields_ = [("lr", c_double), ("loss", c_int), ("method", c_int), ("t_max", c_double),
                ("outputs", c_size_t), ("flow", c_int), ("allow_unstable", c_int),
                ("krylov_kmax", c_size_t)]


class CGConfig(Structure):
    # ntk_cg_config: cancel is const volatile int *, precond a const ntk_nystrom *
    _fields_ = [("rtol", c_double), ("max_iter", c_size_t), ("precond_rank", c_size_t),
                ("seed", c_uint64), ("cancel", POINTER(c_int)), ("precond", c_void_p)]


class CGInfo(Structure):
    _fields_ = [("iterations", c_size_t), ("residual", c_double), ("precond_rank", c_size_t),
                ("precond_trace_err", c_double), ("restarts", c_int)]


# ntk_op_mode
OP_AUTO, OP_DENSE, OP_DENSE_F32, OP_MATRIX_FREE = 0, 1, 2, 3

# size_t arrays (ntk_op_columns' indices)
SIZES = np.ctypeslib.ndpointer(dtype=np.uintp, ndim=1, flags="C_CONTIGUOUS")


class Batch(Structure):
    _fields_ = [("X", DP), ("y", DP), ("n", c_size_t), ("loss", c_int), ("f0", DP)]


class LossOut(Structure):
    _fields_ = [("loss", c_double), ("gW", DP), ("gv", DP), ("f", DP)]


class RunData(Structure):
    _fields_ = [("X", DP), ("y", DP), ("n", c_size_t), ("X_test", DP), ("y_test", DP),
                ("n_test", c_size_t)]


# ntk_row_fn: int (*)(void *ctx, const ntk_run *run, const double *row)
ROW_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(c_double))


class Schedule(Structure):
    _fields_ = [("t_final", c_double), ("t_every", c_double), ("theory", c_int),
                ("cancel", POINTER(c_int)), ("hurry", POINTER(c_int)), ("on_row", ROW_FN),
                ("ctx", c_void_p), ("times", DP), ("ntimes", c_size_t)]


# ntk_run_status
RUN_COMPLETED, RUN_DIVERGED, RUN_INTERRUPTED, RUN_FAILED = 0, 1, 2, 3


class RunReport(Structure):
    _fields_ = ([("status", c_int)] + _doubles("t", "diverged_at") + [("rows", c_size_t)] +
                _doubles("seconds", "loss0", "loss_growth") + [("theory", RunTheory)] +
                _doubles("envelope_max_ratio", "R_max", "flip_max", "theta_max", "gap_lin_at_T",
                         "time_at_T", "beta_estimate", "beta_used") +
                [("beta_from_bound", c_int), ("alpha_condition", c_double),
                 ("final_row", DP), ("max_row", DP)])


def ptr(a):
    """A float64 C-contiguous ndarray (or None) as a double* for a struct field;
    the caller keeps `a` referenced while the pointer is in use."""
    return None if a is None else a.ctypes.data_as(DP)


def struct_dict(s):
    """A ctypes struct of doubles as a dict {field: float}."""
    return {name: float(getattr(s, name)) for name, _ in s._fields_}


# ----------------------------------------------------------------------
# Prototypes
# ----------------------------------------------------------------------

def _range_checked(ctype, lo, hi):
    """`ctype` for argtypes that refuses integers outside [lo, hi] instead of
    wrapping them. The public functions check their integers first with a
    message naming the argument (_args); this is the backstop."""

    class Checked(ctype):
        @classmethod
        def from_param(cls, obj):
            if isinstance(obj, (bool, np.bool_)) or not isinstance(obj, (int, np.integer)) \
                    or not lo <= obj <= hi:
                raise ValueError("integer argument %r does not fit in %s" % (obj, ctype.__name__))
            return ctype(int(obj))

    Checked.__name__ = "checked_" + ctype.__name__
    return Checked


st = c_int        # ntk_status
H = c_void_p      # opaque handle
S = _range_checked(c_size_t, 0, SIZE_MAX)
I = _range_checked(c_int, INT_MIN, INT_MAX)
U64 = _range_checked(c_uint64, 0, UINT64_MAX)

_PROTOTYPES = {
    # status, threads, shared settings
    "ntk_errmsg": (c_char_p, []),
    "ntk_status_name": (c_char_p, [I]),
    "ntk_clear_error": (None, []),
    "ntk_check_finite": (st, [F64, S, c_char_p]),
    "ntk_mem_check": (st, [S, S, c_char_p]),
    "ntk_set_threads": (None, [I]),
    "ntk_get_threads": (c_int, []),
    "ntk_defaults": (Defaults, []),
    # parsing
    "ntk_act_parse": (st, [c_char_p, c_double, POINTER(Act)]),
    "ntk_init_parse": (st, [c_char_p, POINTER(c_int)]),
    "ntk_loss_parse": (st, [c_char_p, POINTER(c_int)]),
    "ntk_input_scale_parse": (st, [c_char_p, POINTER(c_int)]),
    "ntk_models_parse": (st, [c_char_p, POINTER(c_uint)]),
    "ntk_model_name": (c_char_p, [I]),
    "ntk_act_name": (c_char_p, [I]),
    "ntk_act_apply": (None, [Act, S, F64, F64, F64]),
    "ntk_init_name": (c_char_p, [I]),
    "ntk_loss_name": (c_char_p, [I]),
    "ntk_input_scale_name": (c_char_p, [I]),
    # network (ntk_net_W/v/W0/v0 are read-only views owned by the net: copy them)
    "ntk_net_config_default": (NetConfig, [S, S]),
    "ntk_net_config_check": (st, [POINTER(NetConfig)]),
    "ntk_net_config_s": (c_double, [POINTER(NetConfig)]),
    "ntk_init_weights": (st, [POINTER(NetConfig), F64, F64]),
    "ntk_net_create": (st, [POINTER(NetConfig), POINTER(H)]),
    "ntk_net_create_from": (st, [POINTER(NetConfig), F64, F64, POINTER(H)]),
    "ntk_net_free": (None, [H]),
    "ntk_net_W": (DP, [H]),
    "ntk_net_v": (DP, [H]),
    "ntk_net_W0": (DP, [H]),
    "ntk_net_v0": (DP, [H]),
    "ntk_net_set_weights": (st, [H, F64, F64]),
    "ntk_forward": (st, [POINTER(NetConfig), F64, F64, F64, S, F64]),
    "ntk_net_predict": (st, [H, F64, S, F64]),
    "ntk_loss_value": (c_double, [I, F64, F64, S]),
    "ntk_loss_grad": (st, [POINTER(NetConfig), F64, F64, POINTER(Batch), POINTER(LossOut)]),
    "ntk_net_weight_dist": (None, [H, POINTER(WeightDist)]),
    # depth: the flat parameters θ (ntk_net_theta/theta0 are views owned by the net)
    "ntk_param_parse": (st, [c_char_p, POINTER(c_int)]),
    "ntk_param_name": (c_char_p, [I]),
    "ntk_net_is_deep": (c_int, [POINTER(NetConfig)]),
    "ntk_net_depth": (c_size_t, [POINTER(NetConfig)]),
    "ntk_net_width": (c_size_t, [POINTER(NetConfig), S]),
    "ntk_net_nparams": (c_size_t, [POINTER(NetConfig)]),
    "ntk_net_layer_offset": (c_size_t, [POINTER(NetConfig), S, POINTER(c_size_t),
                                        POINTER(c_size_t)]),
    "ntk_net_theta": (DP, [H]),
    "ntk_net_theta0": (DP, [H]),
    "ntk_net_set_theta": (st, [H, F64]),
    "ntk_net_create_from_theta": (st, [POINTER(NetConfig), F64, POINTER(H)]),
    "ntk_init_theta": (st, [POINTER(NetConfig), F64]),
    "ntk_forward_theta": (st, [POINTER(NetConfig), F64, F64, S, F64]),
    "ntk_net_jvp": (st, [POINTER(NetConfig), F64, F64, S, F64, F64]),
    "ntk_net_vjp": (st, [POINTER(NetConfig), F64, F64, S, F64, F64]),
    "ntk_loss_grad_theta": (st, [POINTER(NetConfig), F64, POINTER(Batch), POINTER(c_double), F64,
                                 F64]),
    # gradient descent on a network in place (Network.train at depth)
    "ntk_trainer_create": (st, [H, F64, F64, S, GDConfig, POINTER(H)]),
    "ntk_trainer_free": (None, [H]),
    "ntk_trainer_eval": (st, [H]),
    "ntk_trainer_apply": (st, [H]),
    "ntk_trainer_loss": (c_double, [H]),
    "ntk_trainer_grad_norm": (c_double, [H]),
    # data
    "ntk_dataset_make": (st, [POINTER(DatasetSpec), POINTER(Dataset)]),
    "ntk_dataset_free": (None, [POINTER(Dataset)]),
    # kernels: one entry point
    "ntk_kernel_desc_default": (KernelDesc, [I, POINTER(NetConfig)]),
    "ntk_kernel": (st, [POINTER(KernelDesc), F64, S, F64, S, F64]),
    "ntk_constants_compute": (st, [Act, c_double, I, POINTER(Constants)]),
    "ntk_trace_factor": (st, [F64, S, S, POINTER(c_double)]),
    "ntk_lin_features": (st, [POINTER(Constants), c_double, I, F64, S, S, F64]),
    # spectra
    "ntk_eigh": (st, [F64, S, F64, F64]),
    "ntk_spectrum_summary_of": (st, [F64, S, POINTER(SpectrumSummary)]),
    "ntk_kernel_distance": (st, [F64, F64, S, POINTER(KernelDist)]),
    "ntk_normalized_distance": (st, [F64, F64, S, POINTER(c_double)]),
    # kernel GD, ridge
    "ntk_kgd_config_default": (KGDConfig, []),
    "ntk_kgd_create": (st, [F64, S, F64, F64, POINTER(KGDConfig), POINTER(H)]),
    "ntk_kgd_extremes": (st, [H, POINTER(c_double), POINTER(c_double), POINTER(c_int)]),
    "ntk_kgd_info": (st, [H, POINTER(c_int), POINTER(c_size_t), POINTER(c_double)]),
    "ntk_kgd_free": (None, [H]),
    "ntk_kgd_evals": (DP, [H]),
    "ntk_kgd_predict_train": (st, [H, c_double, I, F64]),
    "ntk_kgd_predict_test": (st, [H, c_double, I, F64, S, F64, F64]),
    "ntk_kernel_ridge": (st, [F64, S, F64, S, c_double, F64]),
    # kernel operators, conjugate gradients, the Nyström preconditioner; kernel GD on an
    # operator (an operator borrows X and the weights of its description: keep them alive)
    "ntk_op_mode_name": (c_char_p, [I]),
    "ntk_op_create": (st, [POINTER(KernelDesc), F64, S, I, S, POINTER(H)]),
    "ntk_op_from_matrix": (st, [F64, S, POINTER(H)]),
    "ntk_op_free": (None, [H]),
    "ntk_op_size": (c_size_t, [H]),
    "ntk_op_get_mode": (c_int, [H]),
    "ntk_op_apply": (st, [H, F64, S, F64]),
    "ntk_op_diag": (st, [H, F64]),
    "ntk_op_cross_apply": (st, [H, F64, S, F64, S, F64]),
    "ntk_op_columns": (st, [H, SIZES, S, F64]),
    "ntk_op_mem_bytes": (c_size_t, [POINTER(KernelDesc), S, I, S]),
    "ntk_cg_config_default": (CGConfig, []),
    "ntk_nystrom_create": (st, [H, S, U64, POINTER(H)]),
    "ntk_nystrom_free": (None, [H]),
    "ntk_nystrom_rank": (c_size_t, [H]),
    "ntk_kernel_ridge_op": (st, [H, F64, S, c_double, POINTER(CGConfig), F64, POINTER(CGInfo)]),
    "ntk_kgd_create_op": (st, [H, F64, F64, POINTER(KGDConfig), POINTER(H)]),
    "ntk_kgd_predict_cross": (st, [H, c_double, I, H, F64, S, F64, F64]),
    # side-by-side runs and their driver
    "ntk_run_config_default": (RunConfig, [NetConfig, GDConfig]),
    "ntk_run_create": (st, [POINTER(RunConfig), POINTER(RunData), F64, F64, POINTER(H)]),
    "ntk_run_free": (None, [H]),
    "ntk_run_set_cancel": (None, [H, POINTER(c_int)]),
    "ntk_run_advance": (st, [H, c_double]),
    "ntk_run_time": (c_double, [H]),
    "ntk_run_ncolumns": (c_size_t, [H]),
    "ntk_run_column": (c_char_p, [H, S]),
    "ntk_run_metrics": (st, [H, I, F64]),
    "ntk_run_predictions": (st, [H, I, F64, F64]),
    "ntk_run_predict_at": (st, [H, I, F64, S, F64]),
    "ntk_op_mode_parse": (st, [c_char_p, POINTER(c_int)]),
    "ntk_run_net": (H, [H]),
    "ntk_run_theory_get": (st, [H, POINTER(RunTheory)]),
    "ntk_run_beta_estimate": (st, [H, POINTER(c_double)]),
    "ntk_schedule_default": (Schedule, [c_double, c_double]),
    "ntk_run_execute": (st, [H, POINTER(Schedule), POINTER(RunReport)]),
    "ntk_run_status_name": (c_char_p, [I]),
}


class _Lib:
    """The prototyped functions only: a call to one without a prototype
    (whose pointer result ctypes would truncate to int) is an AttributeError."""


_missing = [name for name in _PROTOTYPES if getattr(_cdll, name, None) is None]
if _missing:
    raise ImportError(
        "ntkit: %s lacks %s, which this package needs: the library is older than the package. "
        "Rebuild it with `make` in the repository root (or point $NTKIT_LIBRARY at a current "
        "build)." % (library_path, ", ".join(_missing)))

lib = _Lib()
for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(_cdll, _name)
    _fn.restype = _res
    _fn.argtypes = _args
    setattr(lib, _name, _fn)


def _read_defaults():
    d = lib.ntk_defaults()
    return types.MappingProxyType({name: getattr(d, name) for name, _ in d._fields_})


# The settings the library, the command line and this package share (ntk_defaults),
# read once: kgd_eig_max_n (kernel GD: eigendecomposition up to this n, Krylov above),
# kgd_krylov_kmax (most Lanczos vectors), theory_max_points (a run's theory spectra on at
# most this many points), kernel_subsample (default points of the kernel-drift
# subsample), leaky_slope (default slope of leaky_relu), quad_order (default
# Gauss-Hermite order).
DEFAULTS = _read_defaults()


# ----------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------

NTK_MODEL_NN = 1          # NTK_MODEL_* bit of the network

NTK_OK, NTK_ERR_ARG, NTK_ERR_NOMEM, NTK_ERR_IO, NTK_ERR_FORMAT = 0, 1, 2, 3, 4
NTK_ERR_NONFINITE, NTK_ERR_DIVERGED, NTK_ERR_LAPACK, NTK_ERR_INTERRUPTED = 5, 6, 7, 8
NTK_ERR_NOCONV = 9


class NonFiniteError(ValueError, FloatingPointError):
    """NaN or Inf where finite numbers are required (NTK_ERR_NONFINITE): in
    the input data, or in a result that overflowed. A ValueError (as every
    bad input) and a FloatingPointError (as numpy's overflow errors)."""


class DivergedError(RuntimeError):
    """Training produced a non-finite loss or weight (NTK_ERR_DIVERGED).

    `.partial` holds what was recorded before the failing step (the same
    dict the call would have returned), where the call keeps one.
    """
    partial = None


class LinAlgError(np.linalg.LinAlgError, RuntimeError):
    """A LAPACK factorisation failed (NTK_ERR_LAPACK), e.g. a kernel plus its
    ridge that is not positive definite: a numpy.linalg.LinAlgError (as numpy
    and scipy raise for the same failure) and a RuntimeError."""


class ConvergenceError(RuntimeError):
    """An iterative solver stopped at its iteration limit before reaching its
    tolerance (NTK_ERR_NOCONV), e.g. conjugate gradients on a kernel operator.

    `.partial` holds the last iterate and `.info` the solver's report (the
    residual reached), where the call keeps them.
    """
    partial = None
    info = None


# strerror texts the library's file messages carry -> the OSError subclass Python uses
_OS_ERRORS = [(errno.ENOENT, FileNotFoundError), (errno.EACCES, PermissionError),
              (errno.EISDIR, IsADirectoryError), (errno.ENOTDIR, NotADirectoryError)]


def _os_error(msg):
    """The OSError for a file message of the library (NTK_ERR_IO): FileNotFoundError,
    PermissionError, IsADirectoryError or NotADirectoryError when the message
    carries that reason (errno set accordingly), else OSError."""
    for code, cls in _OS_ERRORS:
        if os.strerror(code) in msg or (code == errno.EISDIR and "is a directory" in msg):
            exc = cls(msg)
            exc.errno = code
            return exc
    return OSError(msg)


def translate(msg, names):
    """msg with each C name in `names` ({C name or phrase: Python wording}) replaced
    where it stands as a whole word, e.g. {"X1": "X"}: the library names its own
    arguments, the package's messages name the caller's."""
    for c_name, py_name in (names or {}).items():
        msg = re.sub(r"(?<!\w)%s(?!\w)" % re.escape(c_name), lambda _m: py_name, msg)
    return msg


def error(status, context=None, msg=None, names=None):
    """The exception for a nonzero ntk_status, carrying ntk_errmsg() (of this
    thread; `msg` instead when the call ran in another thread), with the C
    names in `names` translated (see translate)."""
    if msg is None:
        msg = lib.ntk_errmsg()
    msg = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    msg = translate(msg, names)
    if context:
        msg = "%s: %s" % (context, msg)
    if status == NTK_ERR_NONFINITE:
        exc = NonFiniteError(msg)
    elif status in (NTK_ERR_ARG, NTK_ERR_FORMAT):
        exc = ValueError(msg)
    elif status == NTK_ERR_NOMEM:
        exc = MemoryError(msg)
    elif status == NTK_ERR_DIVERGED:
        exc = DivergedError(msg)
    elif status == NTK_ERR_IO:
        exc = _os_error(msg)
    elif status == NTK_ERR_LAPACK:
        exc = LinAlgError(msg)
    elif status == NTK_ERR_NOCONV:
        exc = ConvergenceError(msg)
    else:
        exc = RuntimeError(msg)
    name = lib.ntk_status_name(status)
    exc.status = name.decode() if name else "status %d" % status
    return exc


def check(status, context=None, msg=None, names=None):
    """Raise error(status, ...) unless status is NTK_OK."""
    if status != NTK_OK:
        raise error(status, context, msg, names)


# ----------------------------------------------------------------------
# Names -> enums (the library parses, so its messages list the choices)
# ----------------------------------------------------------------------

def _enc(name, what):
    if not isinstance(name, str):
        raise TypeError("%s must be a string, got %r" % (what, name))
    return name.encode()


def parse_act(name, param=None):
    """Activation by name; act_param None gives the library's default leaky_relu
    slope (DEFAULTS["leaky_slope"], as the CLI)."""
    a = Act()
    param = DEFAULTS["leaky_slope"] if param is None else float_arg(param, "act_param")
    check(lib.ntk_act_parse(_enc(name, "act"), param, byref(a)))
    return a


def _parse_enum(fn, name, what):
    out = c_int()
    check(fn(_enc(name, what), byref(out)))
    return out.value


def parse_init(name):
    return _parse_enum(lib.ntk_init_parse, name, "init")


def parse_loss(name):
    return _parse_enum(lib.ntk_loss_parse, name, "loss")


def parse_input_scale(name):
    return _parse_enum(lib.ntk_input_scale_parse, name, "input_scale")


def parse_operator(name):
    """"auto" | "dense" | "dense-f32" | "matrix-free" -> ntk_op_mode."""
    return _parse_enum(lib.ntk_op_mode_parse, name, "kernel_operator")


def parse_models(spec):
    """"all", "nn,ntk", or a list of model names -> NTK_MODEL_* mask."""
    if not isinstance(spec, str):
        spec = ",".join(spec)
    out = c_uint()
    check(lib.ntk_models_parse(_enc(spec, "models"), byref(out)))
    return out.value


_LAYERS = {"both": (1.0, 1.0), "first": (1.0, 0.0), "second": (0.0, 1.0)}

_LAYER_HELP = ("layer must be 'both', 'first', 'second', a pair (c1, c2), a layer number l in "
               "1..L+1 or one weight per layer (L+1 values)")


def layer_coeffs(layer):
    """"both" | "first" | "second" | (c1, c2) -> (c1, c2) of K = c1·Θ1 + c2·Θ2.

    A pair gives the rate-weighted kernel, e.g. (lr1, lr2) for η1Θ1 + η2Θ2.
    """
    if isinstance(layer, str):
        if layer in _LAYERS:
            return _LAYERS[layer]
    elif isinstance(layer, (tuple, list, np.ndarray)) and len(layer) == 2:
        return float_arg(layer[0], "layer[0]"), float_arg(layer[1], "layer[1]")
    raise ValueError("layer must be 'both', 'first', 'second' or a pair (c1, c2), got %r"
                     % (layer,))


def layer_weights(layer, depth):
    """The weight w_l of each layer's share in K = Σ_l w_l Θ_l (l = 1..L+1, L =
    depth), as a list of L+1 floats:
      "both" (all 1: the NTK), "first" (1 on the hidden layers 1..L, 0 on the
      output layer), "second" (the output layer alone: the NNGP kernel);
      a pair (c1, c2): c1 on layers 1..L, c2 on layer L+1 (the two-layer
      convention, e.g. (lr1, lr2));
      an integer l in 1..L+1: layer l's share alone;
      L+1 numbers (L >= 2): one weight per layer, e.g. the per-layer rates.
    At L = 1 a pair and the per-layer weights are the same thing."""
    L = depth
    if isinstance(layer, str):
        if layer in _LAYERS:
            c1, c2 = _LAYERS[layer]
            return [c1] * L + [c2]
        raise ValueError("%s, got %r" % (_LAYER_HELP, layer))
    if isinstance(layer, (numbers.Integral, np.integer)) and not isinstance(layer, (bool, np.bool_)):
        ll = int_arg(layer, "layer (a layer number)", 1, L + 1)
        return [1.0 if j == ll else 0.0 for j in range(1, L + 2)]
    if isinstance(layer, (tuple, list, np.ndarray)) and np.ndim(layer) == 1:
        if len(layer) == 2:
            c1, c2 = float_arg(layer[0], "layer[0]"), float_arg(layer[1], "layer[1]")
            return [c1] * L + [c2]
        if len(layer) == L + 1:
            return [float_arg(w, "layer[%d]" % j) for j, w in enumerate(layer)]
        raise ValueError("layer has %d weights for a network of %d layers (depth %d); give a "
                         "pair (c1, c2) or one weight per layer (%d)" % (len(layer), L + 1, L, L + 1))
    raise ValueError("%s, got %r" % (_LAYER_HELP, layer))


def parse_param(name):
    """"ntk" | "standard" -> ntk_param_kind."""
    return _parse_enum(lib.ntk_param_parse, name, "parameterization")


def depth_args(depth, widths, weight_std, bias_std, parameterization, width_name="widths"):
    """The depth settings checked with messages naming the Python arguments:
    (L, [m_1..m_L] or None, σ_w, σ_b, ntk_param_kind)."""
    L = int_arg(depth, "depth", 1, MAX_DEPTH)
    ws = None
    if widths is not None:
        if isinstance(widths, (str, bytes)) or not hasattr(widths, "__len__") or np.ndim(widths) != 1:
            raise ValueError("%s must be a list of the %d hidden widths (one per layer), got %r"
                             % (width_name, L, widths))
        if len(widths) != L:
            raise ValueError("%s has %d entries for depth %d; give one width per hidden layer (%d)"
                             % (width_name, len(widths), L, L))
        ws = [size_arg(w, "%s[%d]" % (width_name, j), 1) for j, w in enumerate(widths)]
    sw = float_arg(weight_std, "weight_std")
    if not sw > 0:
        raise ValueError("weight_std must be > 0 (the two-layer network has 1), got %r" % sw)
    sb = float_arg(bias_std, "bias_std")
    if not sb >= 0:
        raise ValueError("bias_std must be >= 0 (0: no biases), got %r" % sb)
    return L, ws, sw, sb, parse_param(parameterization)


# the library's words for the depth settings -> the Python arguments
DEPTH_NAMES = {"sigma_w": "weight_std", "sigma_b": "bias_std", "--depth": "depth"}


def net_config(d, width, act="relu", act_param=None, init="gaussian", input_scale="sqrt_d",
               alpha=1.0, centered=False, seed=0, depth=1, widths=None, weight_std=1.0,
               bias_std=0.0, parameterization="ntk"):
    """An ntk_net_config from keyword values, checked by the library. `widths`
    (one per hidden layer) overrides `width`; m is then widths[0]."""
    width = size_arg(width, "width", 1)
    L, ws, sw, sb, param = depth_args(depth, widths, weight_std, bias_std, parameterization)
    cfg = lib.ntk_net_config_default(size_arg(d, "d", 1), ws[0] if ws else width)
    cfg.act = parse_act(act, act_param)
    cfg.init = parse_init(init)
    cfg.input_scale = parse_input_scale(input_scale)
    cfg.alpha = float_arg(alpha, "alpha")
    cfg.centered = int(bool_arg(centered, "centered"))
    cfg.seed = seed_arg(seed)
    cfg.depth = L
    if ws and ws != [ws[0]] * L:   # equal widths stay implicit (entries 0 take m), as the CLI
        for j, w in enumerate(ws):
            cfg.widths[j] = w
    cfg.weight_std, cfg.bias_std, cfg.parameterization = sw, sb, param
    check(lib.ntk_net_config_check(byref(cfg)), names=DEPTH_NAMES)
    return cfg


def is_deep(cfg):
    """True unless cfg is the two-layer network (L = 1, σ_w = 1, σ_b = 0, ntk
    parameterisation), which keeps the two-layer weights W, v and code."""
    return bool(lib.ntk_net_is_deep(byref(cfg)))


def depth_config(cfg):
    """The depth settings of cfg as a dict (names as Network's arguments)."""
    L = lib.ntk_net_depth(byref(cfg))
    return {"depth": L, "widths": [lib.ntk_net_width(byref(cfg), j) for j in range(1, L + 1)],
            "weight_std": cfg.weight_std, "bias_std": cfg.bias_std,
            "parameterization": lib.ntk_param_name(cfg.parameterization).decode()}


def layer_shapes(cfg):
    """[(offset, (m_l, m_{l−1}), nb)] for l = 1..L+1: where W_l starts in θ, its
    shape, and the count of b_l (0 without biases; b_l follows W_l)."""
    out = []
    for l in range(1, lib.ntk_net_depth(byref(cfg)) + 2):
        nW, nb = c_size_t(), c_size_t()
        off = lib.ntk_net_layer_offset(byref(cfg), l, byref(nW), byref(nb))
        out.append((off, (lib.ntk_net_width(byref(cfg), l), lib.ntk_net_width(byref(cfg), l - 1)),
                    nb.value))
    return out


def set_threads(n: int) -> None:
    """Set the OpenBLAS thread count of the library.

    Args:
      n: threads (n <= 0: one per core).
    """
    lib.ntk_set_threads(c_int_arg(n, "n"))


def get_threads() -> int:
    """The current OpenBLAS thread count."""
    return lib.ntk_get_threads()
