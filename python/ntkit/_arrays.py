"""Arrays in and out of the library: one place for the checks.

Inputs: float64 C-contiguous arrays are passed to the library as they are
(no copy); anything else real-valued is converted once with
np.ascontiguousarray(dtype=float64). Before any C call each input is
checked here: real dtype (not a masked array, whose mask the library could
not see), ndim and shape, at least one row and one column, and every entry
finite (NaN/Inf raise NonFiniteError, a ValueError, with the library's
message naming the argument and the first bad index).

Outputs: `empty` checks the size against the memory the machine has before
allocating; `result` / `result_dict` make sure no public function returns
a non-finite number silently (NonFiniteError naming the result, how many
entries are bad and the inputs' magnitudes, the usual cause).
"""
import math

import numpy as np

from ._args import SIZE_MAX
from ._lib import NonFiniteError, check, lib


def as_f64(a, name):
    """a as a float64 C-contiguous ndarray, copied only when needed."""
    if isinstance(a, np.ma.MaskedArray):
        raise ValueError("%s is a masked array; the library cannot see its mask: pass "
                         "%s.filled(value) or drop the masked rows" % (name, name))
    if isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous:
        return a
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError("%s must hold real numbers, got dtype %s" % (name, arr.dtype))
    return np.ascontiguousarray(arr, dtype=np.float64)


def finite(a, name):
    """NonFiniteError (the library's message naming `name`) unless a is finite."""
    if a.size:
        check(lib.ntk_check_finite(a, a.size, name.encode()))
    return a


def matrix(a, name, cols=None, rows=None, allow_empty=False):
    """A finite 2-d float64 array (rows, cols); cols/rows checked when given."""
    a = as_f64(a, name)
    if a.ndim != 2:
        raise ValueError("%s must be 2-d (n, d), got shape %s" % (name, a.shape))
    if cols is not None and a.shape[1] != cols:
        raise ValueError("%s has %d columns, expected %d" % (name, a.shape[1], cols))
    if rows is not None and a.shape[0] != rows:
        raise ValueError("%s has %d rows, expected %d" % (name, a.shape[0], rows))
    if not allow_empty:
        if a.shape[0] == 0:
            raise ValueError("%s has 0 rows (shape %s); pass at least one point" % (name, a.shape))
        if a.shape[1] == 0:
            raise ValueError("%s has 0 columns (shape %s); pass at least one feature"
                             % (name, a.shape))
    return finite(a, name)


def vector(a, name, n=None):
    """A finite 1-d float64 array of length n (when given)."""
    a = as_f64(a, name)
    if a.ndim != 1:
        raise ValueError("%s must be 1-d, got shape %s" % (name, a.shape))
    if n is not None and a.shape[0] != n:
        raise ValueError("%s has length %d, expected %d" % (name, a.shape[0], n))
    if a.shape[0] == 0:
        raise ValueError("%s is empty; pass at least one value" % name)
    return finite(a, name)


def targets(a, name, n=None):
    """Targets or outputs: a finite float64 array of shape (n,) (one output) or
    (n, k) (k outputs); n checked when given."""
    a = as_f64(a, name)
    if a.ndim not in (1, 2):
        raise ValueError("%s must be 1-d (n,) or 2-d (n, k), got shape %s" % (name, a.shape))
    if n is not None and a.shape[0] != n:
        raise ValueError("%s has %d rows, expected %d" % (name, a.shape[0], n))
    if a.size == 0:
        raise ValueError("%s is empty (shape %s); pass at least one value" % (name, a.shape))
    return finite(a, name)


def like(a, name, shape):
    """A finite float64 array of exactly `shape` (ValueError naming `name` otherwise)."""
    a = as_f64(a, name)
    if a.shape != tuple(shape):
        raise ValueError("%s has shape %s, expected %s" % (name, a.shape, tuple(shape)))
    return finite(a, name)


def square(a, name, n=None):
    """A finite square 2-d float64 array (n, n)."""
    a = matrix(a, name)
    if a.shape[0] != a.shape[1]:
        raise ValueError("%s must be square, got shape %s" % (name, a.shape))
    if n is not None and a.shape[0] != n:
        raise ValueError("%s has shape %s, expected (%d, %d)" % (name, a.shape, n, n))
    return a


def pair(X, X2, name="X", d=None):
    """X (n1,d) and X2 (n2,d) or None; returns (X, n1, X2, n2, d)."""
    X = matrix(X, name, cols=d)
    d = X.shape[1]
    if X2 is None:
        return X, X.shape[0], None, 0, d
    X2 = matrix(X2, name + "2", cols=d)
    return X, X.shape[0], X2, X2.shape[0], d


def check_mem(nbytes, what):
    """MemoryError naming `what` unless nbytes fit in the memory the library
    may use (90% of what the system reports available)."""
    check(lib.ntk_mem_check(min(int(nbytes), SIZE_MAX), 0, what.encode()))


def empty(shape, what):
    """np.empty(shape) after checking that it fits in the memory the library
    may use (MemoryError naming `what` and the size otherwise), so that a huge
    request fails here rather than in the kernel's out-of-memory killer."""
    count = 1
    for s in shape:
        count *= int(s)
    nbytes = min(count * 8, SIZE_MAX)
    desc = "%s (%s doubles)" % (what, " x ".join(str(int(s)) for s in shape))
    check_mem(nbytes, desc)
    try:
        return np.empty(shape)
    except MemoryError:
        raise MemoryError("%s: could not allocate %.2f GiB; reduce the problem size"
                          % (desc, nbytes / 2.0 ** 30)) from None


def _magnitudes(inputs):
    out = []
    for name, v in inputs.items():
        if callable(v):   # computed only now, when a result has failed (e.g. a weight copy)
            v = v()
        if v is None:
            continue
        a = np.asarray(v, dtype=float)
        if a.size:
            out.append("|%s| <= %.3g" % (name, float(np.max(np.abs(a)))))
    return out


def _fail(what, detail, inputs, hint=None):
    mags = _magnitudes(inputs)
    msg = "%s: %s" % (what, detail)
    if hint:
        msg += "; " + hint
    elif mags:
        msg += "; the inputs are finite (%s), so the computation overflowed double " \
               "precision: rescale the inputs (e.g. rows of X with norm about sqrt(d)) or " \
               "the weights" % ", ".join(mags)
    else:
        msg += "; the computation overflowed double precision: rescale the inputs"
    exc = NonFiniteError(msg)
    exc.status = "NTK_ERR_NONFINITE"
    return exc


def result(a, what, hint=None, **inputs):
    """a, after making sure every entry is finite (NonFiniteError naming
    `what` and the magnitudes of `inputs`, or `hint` when given, otherwise).
    a: a float64 array or a float; inputs: arrays, or functions returning one
    (called only on failure)."""
    if a is None:
        return a
    if isinstance(a, np.ndarray):
        if a.size == 0:
            return a
        c = a if a.dtype == np.float64 and a.flags.c_contiguous else as_f64(a, what)
        if lib.ntk_check_finite(c, c.size, b"result") == 0:   # one pass, no temporary
            return a
        bad = ~np.isfinite(c)
        idx = np.unravel_index(int(np.argmax(bad)), c.shape)
        where = tuple(int(i) for i in idx) if c.ndim > 1 else int(idx[0])
        raise _fail(what, "%d of %d result entries are not finite (the first, at %s, is %r)"
                    % (int(bad.sum()), c.size, where, float(c[idx])), inputs, hint)
    if not math.isfinite(a):
        raise _fail(what, "the result is %r" % float(a), inputs, hint)
    return a


def result_dict(d, what, allow=(), **inputs):
    """The dict d of floats after checking that each is finite, except the
    keys in `allow` (documented to be NaN or Inf in some cases)."""
    for k, v in d.items():
        if k not in allow and not math.isfinite(v):
            raise _fail(what, "%s is %r" % (k, float(v)), inputs)
    return d
