"""Programs that once gave wrong gradients (found by random program testing)."""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad

from .support.oracles import fd_partial
from .support.oracles_np import assert_allclose_grads, fd_grad_array

SOURCE = '''
import math

def reassigned_once_more(x, y, n):
    b = y
    b = ((max(-1.88, y) + math.cos(1.96))) ** 2
    return b

def reassigned_from_other(x, y, n):
    b = y
    b = math.tanh(min(abs(1.47), (x + 1.21)))
    s, b = b, (((1.11 / (1.5 + n * n)) * n)) ** 2
    return min(((s) ** 2 * min(-1.0, 0.62)), 0.5)

def return_inside_while_for(x, y, n):
    a = x
    b = y
    c = 0.5
    a = math.exp(math.sin((-0.96) ** 2))
    for i0 in range(n, 0, -1):
        a *= math.tanh(y)
    w0 = 0
    while w0 < 6 and (max(a, n) - max(b, n)) < 1.23:
        for i1 in range(n, 0, -1):
            if math.cos(math.exp(math.sin(-1.86))) > 0.01:
                return ((math.cos(c) - c) * min(math.exp(math.sin(w0)), (i1 * a)))
    return 1.0

def pushes_after_inner_while(x, y, n):
    c = 0.5
    for i1 in range(n, 0, -1):
        c += i1 + c
        w2 = 0
        while w2 < 6 and y < 0.98:
            w2 += 1
            c = c * x + w2
        c = math.sin(c) + y
    return c

def decision_inside_branch(x, n):
    t = 0.0
    for i in range(n):
        for j in range(3):
            if x * i > 4.0:
                return t
            if j == 1:
                continue
            t = t + x * j
    return t * x

def value_read_in_inner_while(x, y, n):
    a = x
    b = y
    s = 0.0
    for i0 in range(1, 5, 1):
        if (math.cos(-1.12) + (n + b)) > 0.05:
            for i2 in range(0, n, 1):
                a -= (((-1.74 * a) + (b * a)) * (math.tanh(s) / (1.5 + abs(n) * abs(n))))
            b -= math.cos(math.tanh(math.tanh(1.54)))
        if (n * (-1.16) ** 2) > 0.45:
            w2 = 0
            while w2 < 6 and max(1.57, (a * y)) < 2.46:
                w2 += 1
                b *= math.tanh(min((math.cos(-1.03) / (1.5 + (1.26) ** 2 * (1.26) ** 2)), a))
    return (math.tanh(y) - ((-1.15 * 1.05) - (1.2 - b)))
'''

CASES = [
    ("reassigned_once_more", (0.37, -0.61, 4), (0, 1)),
    ("reassigned_from_other", (0.37, -0.61, 4), (0, 1)),
    ("return_inside_while_for", (0.37, -0.61, 4), (0, 1)),
    ("pushes_after_inner_while", (0.37, -0.61, 4), (0, 1)),
    ("decision_inside_branch", (0.7, 5), (0,)),
    ("value_read_in_inner_while", (0.37, -0.61, 4), (0, 1)),
    ("decision_inside_branch", (0.3, 5), (0,)),
]


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("name, args, wrt", CASES)
def test_regression(mod, name, args, wrt, jit):
    f = getattr(mod, name)
    value, grads = srcgrad.value_and_grad(f, wrt=wrt, jit=jit)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    expected = [fd_partial(f, args, i) for i in wrt]
    assert list(grads) == pytest.approx(expected, rel=1e-6, abs=1e-8)


# ---- calls of the NumPy surface (found by tests/support/progfuzz.py's families) ----

SURFACE_SOURCE = '''
import numpy as np

def trace_offsets(A, x):
    B = A * x
    return (np.trace(B, offset=1) ** 2 + np.trace(B, -1) * np.trace(A, 2)
            + np.trace(B[:, :2], offset=-1) + np.trace(B) * x)

def transpose_axes(A, x):
    W = np.arange(9.0).reshape(3, 3)
    T = np.transpose(np.atleast_3d(A * x), (2, 0, 1))
    return (np.sum(np.transpose(A, (0, 1)) * W) + np.sum(np.transpose(A, axes=(1, 0)) * W) * x
            + np.sum(np.transpose(T, (-1, 1, 0)) * W.reshape(3, 3, 1)))

def cross_2d(A, x):
    a, b = A[0, :2] * x, A[1, 1:]
    return np.sum(np.cross(a, b) ** 2) + np.sum(np.cross(A[:, :2], A[:, 1:] * x))

def clip_keywords(A, x):
    B = A * x
    return np.sum(np.clip(B, a_min=-0.5, a_max=0.5) ** 2) + np.sum(np.clip(B, -0.1, a_max=0.2))
'''

_A = np.array([[0.3, -0.7, 1.1], [0.45, 0.2, -0.5], [0.9, -1.3, 0.6]])


SURFACE_CASES = [
    ("trace_offsets", "np.trace(x, offset) differentiated as np.trace(x): the rule had no "
     "offset parameter, so the offset was dropped and the adjoint put g on the main diagonal"),
    ("transpose_axes", "np.transpose(x, axes) differentiated as np.transpose(x): the axes were "
     "dropped, so the adjoint of np.transpose(A, (0, 1)) (A itself) was g.T"),
    ("cross_2d", "np.cross of 2-vectors (a scalar per pair: the z component; deprecated by "
     "NumPy 2): ValueError in the adjoint, which crossed with a scalar g"),
    ("clip_keywords", "np.clip(x, a_min=lo, a_max=hi): the rule's parameters are lo and hi, so "
     "the keyword bounds were dropped and the adjoint was g everywhere (unclipped)"),
]


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.slow)])
@pytest.mark.parametrize("name, what", SURFACE_CASES)
def test_surface_call_arguments(make_module, name, what, jit):
    """Arguments of a call that its rule did not name were dropped (srcgrad's
    analyze.bound_arguments binds by the rule's parameters): a silently wrong gradient and
    tangent, jit=False and True. Found by the fuzzer's shapes family and probes."""
    f = getattr(make_module(SURFACE_SOURCE), name)
    if jit and name == "cross_2d":
        pytest.skip("Numba's np.cross needs a 3-vector")
    args = (_A.copy(), 0.8)
    value, grads = srcgrad.value_and_grad(f, wrt=(0, 1), jit=jit)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    assert_allclose_grads(grads, fd_grad_array(f, args, (0, 1)), rtol=1e-6, atol=1e-8,
                          what=what)
    dA = np.array([[0.1, 0.5, -0.2], [0.3, -0.4, 0.7], [-0.6, 0.2, 0.05]])
    _, tangent = srcgrad.jvp(f, args, (dA, 0.3), jit=jit)
    expected = sum(float(np.sum(g * t)) for g, t in zip(grads, (dA, 0.3)))
    assert tangent == pytest.approx(expected, rel=1e-9, abs=1e-12)
