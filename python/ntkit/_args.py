"""Scalar arguments: every Python number is checked here before it reaches
ctypes, which would otherwise wrap integers silently (2**64 + 8 becomes 8 in
a size_t, 2**32 + 3 becomes 3 in an int) and pass NaN through.

int_arg and float_arg raise ValueError naming the Python argument, e.g.
"width must be an integer in [1, 2**64 - 1], got 18446744073709551624".
"""
import math
import numbers
import operator

import numpy as np

SIZE_MAX = 2 ** 64 - 1      # size_t on the 64-bit platforms the library builds for
INT_MIN, INT_MAX = -2 ** 31, 2 ** 31 - 1
UINT64_MAX = 2 ** 64 - 1

_NAMED = {SIZE_MAX: "2**64 - 1", INT_MAX: "2**31 - 1", INT_MIN: "-2**31", 2 ** 53: "2**53",
          2 ** 63 - 1: "2**63 - 1"}


def _bound(v):
    return _NAMED.get(v, str(v))


def _is_bool(x):
    return isinstance(x, (bool, np.bool_))


def int_arg(x, name, lo=0, hi=SIZE_MAX):
    """x as a Python int in [lo, hi]; ValueError naming `name` otherwise.

    Accepts Python and numpy integers, and floats with an integral value
    (1e3 for 1000); refuses bools (True is not a width), non-integral or
    non-finite floats, strings and anything out of range.
    """
    def bad(why=""):
        return ValueError("%s must be an integer in [%s, %s], got %r%s"
                          % (name, _bound(lo), _bound(hi), x, why))

    if _is_bool(x):
        raise bad(" (a bool)")
    if isinstance(x, (numbers.Integral, np.integer)):
        v = operator.index(x)
    elif isinstance(x, (numbers.Real, np.floating)) and not isinstance(x, np.timedelta64):
        f = float(x)
        if not math.isfinite(f) or f != math.floor(f):
            raise bad()
        v = int(f)
    else:
        try:
            v = operator.index(x)        # other integer-like types (e.g. a 0-d integer array)
        except TypeError:
            raise bad() from None
    if not lo <= v <= hi:
        raise bad()
    return v


def size_arg(x, name, lo=0):
    """A size_t argument: an integer in [lo, 2**64 - 1]."""
    return int_arg(x, name, lo, SIZE_MAX)


def c_int_arg(x, name, lo=INT_MIN, hi=INT_MAX):
    """A C int argument: an integer in [lo, hi] within [-2**31, 2**31 - 1]."""
    return int_arg(x, name, max(lo, INT_MIN), min(hi, INT_MAX))


def seed_arg(seed, name="seed"):
    """A uint64_t seed: an integer in [0, 2**64 - 1]."""
    return int_arg(seed, name, 0, UINT64_MAX)


def float_arg(x, name, finite=True):
    """x as a Python float; ValueError naming `name` for a bool, a non-real
    value or (finite=True) NaN/Inf."""
    if isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf":
        x = x.item()
    if _is_bool(x) or not isinstance(x, (numbers.Real, np.integer, np.floating)):
        raise ValueError("%s must be a real number, got %r" % (name, x))
    f = float(x)
    if finite and not math.isfinite(f):
        raise ValueError("%s must be a finite number, got %r" % (name, f))
    return f


def bool_arg(x, name):
    """A flag: True/False (numpy bools and the integers 0 and 1 too); ValueError
    naming `name` for anything else (a string such as "no" is not False)."""
    if _is_bool(x):
        return bool(x)
    if isinstance(x, (numbers.Integral, np.integer)) and x in (0, 1):
        return bool(x)
    raise ValueError("%s must be True or False, got %r" % (name, x))
