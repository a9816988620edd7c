"""np.linalg in compiled code: the parts of functions that return tuples, and helpers.

``np.linalg.slogdet(A)`` returns (sign, log|det A|); srcgrad differentiates each part
on its own, so the normalizer writes a call to it as the tuple of its parts
(``compiler.normalize.TUPLE_PARTS``). Each function is plain NumPy (what runs with
``jit=False``) with a Numba implementation for compiled code.
"""

from __future__ import annotations

import numpy as np
from numba.extending import overload

__all__ = ["slogdet_sign", "slogdet_logabsdet"]


def slogdet_sign(a):
    """The sign of det(a) (np.linalg.slogdet(a)[0])."""
    return np.linalg.slogdet(a)[0]


def slogdet_logabsdet(a):
    """log|det(a)| (np.linalg.slogdet(a)[1])."""
    return np.linalg.slogdet(a)[1]


@overload(slogdet_sign)
def _ov_slogdet_sign(a):
    return lambda a: np.linalg.slogdet(a)[0]


@overload(slogdet_logabsdet)
def _ov_slogdet_logabsdet(a):
    return lambda a: np.linalg.slogdet(a)[1]
