"""Input arrays: dtype, contiguity and shape checks before any C call.

float64 C-contiguous arrays are passed to the library as they are (no
copy); anything else real-valued is converted once with
np.ascontiguousarray(dtype=float64). Wrong ndim or mismatched shapes raise
ValueError here, before the library is called.
"""
import numpy as np


def as_f64(a, name):
    """a as a float64 C-contiguous ndarray, copied only when needed."""
    if isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous:
        return a
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError("%s must hold real numbers, got dtype %s" % (name, arr.dtype))
    return np.ascontiguousarray(arr, dtype=np.float64)


def matrix(a, name, cols=None, rows=None):
    """A 2-d float64 array (rows, cols); cols/rows checked when given."""
    a = as_f64(a, name)
    if a.ndim != 2:
        raise ValueError("%s must be 2-d (n, d), got shape %s" % (name, a.shape))
    if cols is not None and a.shape[1] != cols:
        raise ValueError("%s has %d columns, expected %d" % (name, a.shape[1], cols))
    if rows is not None and a.shape[0] != rows:
        raise ValueError("%s has %d rows, expected %d" % (name, a.shape[0], rows))
    return a


def vector(a, name, n=None):
    """A 1-d float64 array of length n (when given)."""
    a = as_f64(a, name)
    if a.ndim != 1:
        raise ValueError("%s must be 1-d, got shape %s" % (name, a.shape))
    if n is not None and a.shape[0] != n:
        raise ValueError("%s has length %d, expected %d" % (name, a.shape[0], n))
    return a


def square(a, name, n=None):
    """A square 2-d float64 array (n, n)."""
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
