"""scipy.special functions in compiled code: what generated code calls for them.

Numba cannot call SciPy's functions. For each scipy.special function listed in
``SCIPY_NAMES`` this module has a plain Python version (SciPy itself, what runs
with ``jit=False``) and a ``numba.extending.overload`` used inside compiled code,
for floats and float arrays. The normalizer rewrites ``scipy.special.expit(x)``
(however it was imported) to ``special.expit(x)``; the derivative rules are in
``rules.py`` under the same names.
"""

from __future__ import annotations

# scipy.special name -> the canonical name generated code calls
SCIPY_NAMES: dict[str, str] = {}

__all__ = ["SCIPY_NAMES"]
