"""Datasets as the CLI makes them (ntk_dataset_make): the same specs and
seeds give the same arrays as `ntkit train --data ... --target ... --seed S`.
Targets are (n,), or (n, k) for k target columns (an (n, k) y.npy, and the
one-hot labels of "cifar10:FILE:all" and "mnist:IMAGES:LABELS:all")."""
from ctypes import byref
from typing import Dict, Optional

import numpy as np

from . import _arrays
from ._args import bool_arg, seed_arg, size_arg
from ._lib import Dataset, DatasetSpec, _enc, as_array, check, lib

_FILE_PREFIXES = ("npy:", "csv:", "cifar10:", "mnist:")

# defaults of synthetic data (a file uses its own rows and columns)
_SYNTHETIC_N, _SYNTHETIC_N_TEST, _SYNTHETIC_D = 1000, 200, 20


def _is_file(spec: str) -> bool:
    return spec.startswith(_FILE_PREFIXES)


def _carries_labels(spec: str) -> bool:
    """Whether a file spec brings its own labels: npy:X.npy:y.npy, csv (a target
    column), cifar10 and mnist (the class labels); npy:X.npy alone does not."""
    if spec.startswith("npy:"):
        return ":" in spec[len("npy:"):]
    return _is_file(spec)


def make_dataset(data: str = "gaussian", target: Optional[str] = None, n: Optional[int] = None,
                 n_test: Optional[int] = None, d: Optional[int] = None, seed: int = 0,
                 standardize: bool = False, test: Optional[str] = None
                 ) -> Dict[str, Optional[np.ndarray]]:
    """Inputs and labels as the CLI makes them.

    Args:
      data: the inputs: gaussian | gaussian:decay=P | sphere | unit-sphere
        (synthetic), or a file: npy:X.npy[:y.npy] | csv:FILE[:target=COL,header=yes|no|auto]
        | cifar10:FILE:POS,NEG | mnist:IMAGES:LABELS:POS,NEG. POS,NEG keeps
        two classes with labels +1, -1; "all" in its place keeps every class
        with one-hot targets (n, 10): 1 at the class's column, 0 elsewhere.
        A 2-d y.npy of k columns gives targets (n, k).
      target: the labels: a teacher (linear | relu-neuron | two-layer:k=K |
        hermite:1=c1,... | poly:1=c1,... | gegenbauer:1=c1,... | noise, plus
        ",noise=SIGMA"), or npy:y.npy. None (default): the file's own labels
        for data that carry them, "linear" for synthetic inputs and for
        npy:X.npy alone. A file's labels are never replaced: a target with
        data that carry labels is a ValueError.
      n: training rows. None: 1000 for synthetic data; for a file all its rows
        but the n_test test rows.
      n_test: test rows. None: 200 for synthetic data; 0 for a file (all its
        rows train), or all the rows of `test`.
      d: dimension of synthetic inputs (None: 20); for a file None or its
        column count (checked).
      seed: seed of synthetic inputs; the teacher uses seed + 1 (as the CLI).
      standardize: centre the columns and rescale to Tr Σ = d with the
        training rows' statistics (applied to the test rows too).
      test: a second file spec whose rows are the test set (data must be a
        file too).

    Returns:
      dict(X_train (n, d), y_train (n,), X_test (n_test, d) or None,
      y_test (n_test,) or None); with k > 1 target columns y_train (n, k)
      and y_test (n_test, k), ready for ntkit.run (which then trains a
      network of k outputs) or Network(..., outputs=k).

    Raises:
      FileNotFoundError / OSError for a file that cannot be read, ValueError
      for a malformed file or bad arguments.
    """
    if not isinstance(data, str):
        raise TypeError("data must be a string such as 'gaussian' or 'npy:X.npy:y.npy', got %r"
                        % (data,))
    is_file = _is_file(data)
    if target is not None:
        if not isinstance(target, str):
            raise TypeError("target must be a string such as 'linear' or None, got %r" % (target,))
        if _carries_labels(data):
            raise ValueError("data %r carry their own labels, which a target would replace; "
                             "pass target=None to use them (or give the inputs alone, e.g. "
                             "npy:X.npy, to label them with a teacher)" % data)
    elif not _carries_labels(data):
        target = "linear"
    if test is not None:
        if not isinstance(test, str) or not _is_file(test):
            raise ValueError("test must be a file spec (npy:X.npy[:y.npy], csv:..., cifar10:..., "
                             "mnist:...), got %r" % (test,))
        if target is not None and _carries_labels(test):
            raise ValueError("test data %r carry their own labels, which target %r would "
                             "replace; pass target=None" % (test, target))
    n = (0 if is_file else _SYNTHETIC_N) if n is None else size_arg(n, "n")
    n_test = ((0 if is_file else _SYNTHETIC_N_TEST) if n_test is None
              else size_arg(n_test, "n_test"))
    d = (0 if is_file else _SYNTHETIC_D) if d is None else size_arg(d, "d")
    ds = Dataset()
    spec = DatasetSpec(_enc(data, "data"), None if target is None else _enc(target, "target"),
                       n, n_test, d, seed_arg(seed), int(bool_arg(standardize, "standardize")),
                       None if test is None else _enc(test, "test"))
    check(lib.ntk_dataset_make(byref(spec), byref(ds)))
    try:
        n, nt, d, k = ds.n, ds.n_test, ds.d, max(1, ds.k)
        ys = (lambda rows: (rows,)) if k == 1 else (lambda rows: (rows, k))
        out = {"X_train": as_array(ds.X_train, (n, d)), "y_train": as_array(ds.y_train, ys(n)),
               "X_test": as_array(ds.X_test, (nt, d)) if nt else None,
               "y_test": as_array(ds.y_test, ys(nt)) if nt else None}
    finally:
        lib.ntk_dataset_free(byref(ds))
    for k, v in out.items():
        _arrays.result(v, "make_dataset: %s" % k,
                       hint="clean the data file, or choose a target whose values stay finite")
    return out
