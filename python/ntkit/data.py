"""Datasets as the CLI makes them (ntk_dataset_make): the same specs and
seeds give the same arrays as `ntkit train --data ... --target ... --seed S`."""
from ctypes import byref

from . import _arrays
from ._args import bool_arg, seed_arg, size_arg
from ._lib import Dataset, DatasetSpec, _enc, as_array, check, lib


def make_dataset(data="gaussian", target="linear", n=1000, n_test=200, d=20, seed=0,
                 standardize=False):
    """dict(X_train (n,d), y_train (n,), X_test (n_test,d), y_test (n_test,)).

    data: gaussian | gaussian:decay=P | sphere | unit-sphere | npy:X.npy[:y.npy]
          | csv:FILE[:target=COL] | cifar10:FILE:POS,NEG | mnist:IMAGES:LABELS:POS,NEG
    target: linear | relu-neuron | two-layer:k=K | hermite:... | poly:... |
          gegenbauer:... | noise | npy:y.npy (plus ",noise=SIGMA"), or None
          when the data file carries labels.
    Synthetic inputs use `seed`, the teacher seed + 1 (as the CLI).
    """
    ds = Dataset()
    tgt = None if target is None else _enc(target, "target")
    spec = DatasetSpec(_enc(data, "data"), tgt, size_arg(n, "n"), size_arg(n_test, "n_test"),
                       size_arg(d, "d"), seed_arg(seed), int(bool_arg(standardize, "standardize")),
                       None)
    check(lib.ntk_dataset_make(byref(spec), byref(ds)))
    try:
        n, nt, d = ds.n, ds.n_test, ds.d
        out = {"X_train": as_array(ds.X_train, (n, d)), "y_train": as_array(ds.y_train, (n,)),
               "X_test": as_array(ds.X_test, (nt, d)) if nt else None,
               "y_test": as_array(ds.y_test, (nt,)) if nt else None}
    finally:
        lib.ntk_dataset_free(byref(ds))
    for k, v in out.items():
        _arrays.result(v, "make_dataset: %s" % k,
                       hint="clean the data file, or choose a target whose values stay finite")
    return out
