"""Helpers for ``tests/support/corpus_calls.py`` that live in another module.

The programs in ``corpus_calls`` call these as ``lib.name(...)`` or after
``from .corpus_calls_lib import name``. Some deliberately clash with names in
``corpus_calls``:

* ``SCALE`` and ``OFFSETS`` are module constants here *and* there, with different
  values: a helper from this module must read this module's constants, the caller
  its own (``SCALE`` is 0.5 here, 3.0 there; ``OFFSETS`` has the same shape in both,
  so reading the wrong one gives a wrong number, not a shape error);
* ``shift``'s default value is this module's ``SCALE``, bound when ``def`` ran;
* ``inner_h`` is also the name of a different function in ``corpus_calls``:
  ``middle_h`` here calls *this* one;
* ``accumulate(out, x, w=0.5)`` has parameters named like the variables of the
  callers that pass it other things (``lib.accumulate(y, w)``).
"""

import math

import numba
import numpy as np

SCALE = 0.5
OFFSETS = np.array([0.25, -0.5, 0.75])


# ============================================================ scalars

def scaled_sq(x):
    return SCALE * x * x


def shift(x, by=SCALE):
    return x + by


def poly(x, c0=1.0, c1=0.5, c2=-0.25):
    return c0 + x * (c1 + x * c2)


def polar(x, y):
    r = math.hypot(x, y)
    th = math.atan2(y, x)
    return r, th


def newton_sqrt(a, tol=1e-13):
    """sqrt(a) by Newton's method, a while loop with a data-dependent trip count."""
    y = a if a > 1.0 else 1.0
    while abs(y * y - a) > tol * a:
        y = 0.5 * (y + a / y)
    return y


def inner_h(x):
    # corpus_calls.inner_h is a different function: middle_h must call this one
    return math.sin(x) + SCALE * x


def middle_h(x):
    s = 0.0
    for k in range(3):
        s = s + inner_h(x * (k + 1.0)) / (k + 1.0)
    return s


@numba.njit
def soft_sat(x):
    return 2.0 * math.tanh(0.5 * x)


# ============================================================ arrays

def affine3(x):
    return SCALE * x + OFFSETS


def softmax_weights(x, temperature=1.0):
    z = (x - np.max(x)) / temperature
    e = np.exp(z)
    return e / np.sum(e)


def min_max(x):
    return np.min(x), np.max(x)


def fill_squares(out, x):
    for i in range(len(x)):
        out[i] = x[i] * x[i]


def accumulate(out, x, w=0.5):
    for i in range(len(x)):
        out[i] += w * x[i]


def activation(z):
    return np.tanh(z) + 0.1 * SCALE * z


def layer(W, h, b):
    z = W @ h + b
    return activation(z)


@numba.njit
def rbf(x, c):
    d = x - c
    return np.exp(-np.sum(d * d))
