"""Spectra of kernel matrices and distances between kernels (src/spectrum.c)."""
import ctypes
from ctypes import byref
from typing import Dict, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _arrays
from ._args import bool_arg
from ._lib import KernelDist, SpectrumSummary, check, lib, struct_dict


def eigh(K: ArrayLike, vectors: bool = True
         ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
    """Eigendecomposition of a symmetric matrix (LAPACK dsyevd), as numpy.linalg.eigh.

    Args:
      K: (n, n) symmetric matrix; the library checks symmetry to a relative
        1e-8 first (ValueError otherwise).
      vectors: False for the eigenvalues alone.

    Returns:
      (evals (n,) ascending, evecs (n, n) with eigenvector k in column k), or
      evals alone.
    """
    K = _arrays.square(K, "K")
    n = K.shape[0]
    evals = np.empty(n)
    evecs = _arrays.empty((n, n), "the eigenvectors") if bool_arg(vectors, "vectors") else None
    check(lib.ntk_eigh(K, n, evals, evecs))
    _arrays.result(evals, "eigenvalues", K=K)
    if evecs is None:
        return evals
    return evals, _arrays.result(evecs, "eigenvectors", K=K)


def spectrum_summary(K: ArrayLike) -> Dict[str, float]:
    """The extreme eigenvalues of a symmetric matrix.

    Args:
      K: (n, n) symmetric matrix.

    Returns:
      dict(lmin, lmax, cond = lmax/lmin); cond is Inf when lmin <= 0.
    """
    K = _arrays.square(K, "K")
    out = SpectrumSummary()
    check(lib.ntk_spectrum_summary_of(K, K.shape[0], byref(out)))
    return _arrays.result_dict(struct_dict(out), "spectrum_summary", allow=("cond",), K=K)


def kernel_distance(A: ArrayLike, B: ArrayLike) -> Dict[str, float]:
    """Distances between two symmetric matrices.

    Args:
      A: (n, n) symmetric matrix.
      B: (n, n) symmetric reference.

    Returns:
      dict(op = ‖A − B‖_op, fro = ‖A − B‖_F, rel_op, rel_fro (divided by B's
      norms; Inf when B = 0 and A ≠ 0)).
    """
    A = _arrays.square(A, "A")
    B = _arrays.square(B, "B", A.shape[0])
    out = KernelDist()
    check(lib.ntk_kernel_distance(A, B, A.shape[0], byref(out)))
    return _arrays.result_dict(struct_dict(out), "kernel_distance", allow=("rel_op", "rel_fro"),
                               A=A, B=B)


def normalized_distance(K: ArrayLike, KN: ArrayLike) -> float:
    """‖K^{-1/2} K_N K^{-1/2} − I‖_op (Montanari and Zhong 2022; docs/theory.md §8.1).

    Args:
      K: (n, n) positive definite reference kernel.
      KN: (n, n) symmetric kernel compared with it.
    """
    K = _arrays.square(K, "K")
    KN = _arrays.square(KN, "KN", K.shape[0])
    out = ctypes.c_double()
    check(lib.ntk_normalized_distance(K, KN, K.shape[0], byref(out)))
    return _arrays.result(out.value, "normalized_distance", K=K, KN=KN)
