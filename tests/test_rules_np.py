"""Every array rule, one line each, against finite differences.

Uncompiled in the fast tier; compiled in the slow tier (the array corpus compiles
the same rules in the fast tier)."""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad

from .test_rules import ARRAY_RULES

SOURCE = '''
import numpy as np

W3 = np.linspace(0.3, 1.7, 3)
W4 = np.linspace(-0.5, 1.5, 4)
W23 = np.linspace(0.2, 1.4, 6).reshape(2, 3)
W32 = np.linspace(-0.7, 0.9, 6).reshape(3, 2)
W234 = np.linspace(-1.0, 1.0, 24).reshape(2, 3, 4)


def r_matmult_mv(A, v):
    return (W3[:2] * (A @ v)).sum()

def r_matmult_mm(A, B):
    return (W23[:, :2] @ (A @ B)).sum()

def r_dot_vv(x, y):
    return np.dot(x, y)

def r_matmul(A, B):
    return (np.matmul(A, B) * W23[:, :2].T[:2, :2]).sum()

def r_T(A):
    return (A.T * W32).sum()

def r_transpose(A):
    return (np.transpose(A) * W32).sum()

def r_reshape(A):
    return (np.reshape(A, (3, 2)) * W32).sum()

def r_shape(A):
    return A.sum() * A.shape[0] + A.size + A.ndim

def r_copy(x):
    y = np.copy(x)
    return (y * W3).sum()

def r_ascontiguous(A):
    return (np.ascontiguousarray(A.T) * W32).sum()

def r_sum(A):
    return np.sum(A * A)

def r_sum_axis0(A):
    return (A.sum(axis=0) * W3).sum()

def r_sum_keepdims(A):
    s = A.sum(axis=1, keepdims=True)
    return (A / s * W23).sum()

def r_mean(A):
    return np.mean(A * A) + (A.mean(axis=1) * W3[:2]).sum()

def r_prod(x):
    return np.prod(x) + (np.prod(W23 * x, axis=1) * W3[:2]).sum()

def r_max(x):
    return np.max(x * W3) + np.amax(x) + (np.max(W23 * x, axis=0) * W3).sum()

def r_min(x):
    return np.min(x * W3) + np.amin(x) + (np.min(W23 * x, axis=1) * W3[:2]).sum()

def r_cumsum(A):
    return (np.cumsum(A) * np.linspace(0.1, 0.6, 6)).sum() + (np.cumsum(A, axis=0) * W23).sum()

def r_norm(x, A):
    return np.linalg.norm(x) + np.linalg.norm(A) + np.linalg.norm(x, 1)

def r_outer(x, y):
    return (np.outer(x, y) * W32).sum()

def r_trace(A):
    return np.trace(A @ A.T)

def r_maximum(x, y):
    return (np.maximum(x, y) * W3).sum() + (np.minimum(x, y) * W3).sum()

def r_clip(x):
    return (np.clip(x, -0.5, 0.8) * W3).sum()

def r_where(x, y):
    return (np.where(x > y, x * x, y) * W3).sum()

def r_subscript(A):
    return A[1, 2] * A[0, 0] + (A[1] * W3).sum() + (A[:, 1] * W3[:2]).sum() + (A[0, ::-1] * W3).sum()

def r_create(x):
    u = np.empty(3)
    u[:] = 0.5
    v = np.empty_like(x)
    v[:] = x * 0.25
    z = np.zeros(3) + np.ones(3) * 2.0 + np.zeros_like(x) + np.ones_like(x) + u
    e = np.eye(3) @ x + np.identity(3) @ x + np.arange(3.0) + np.linspace(0.0, 1.0, 3)
    f = np.full(3, x[0]) + np.full_like(x, x[1]) + v
    return ((z + e + f) * x).sum()

def r_round(x):
    return (np.rint(x) * x).sum() + (np.round(x) * x).sum()

def r_tensor(T):
    return ((T + 1.5) * W234).sum() + (T.sum(axis=2) * W23).sum()
'''

RNG = np.random.default_rng(3)
A23 = RNG.normal(size=(2, 3))
X3 = np.array([0.7, -0.4, 1.3])
Y3 = np.array([0.2, 0.5, -0.9])
CASES = [
    ("r_matmult_mv", (A23, X3), (0, 1), {"MatMult"}),
    ("r_matmult_mm", (A23, RNG.normal(size=(3, 2))), (0, 1), {"MatMult"}),
    ("r_dot_vv", (X3, Y3), (0, 1), {"np.dot"}),
    ("r_matmul", (A23, RNG.normal(size=(3, 2))), (0, 1), {"np.matmul"}),
    ("r_T", (A23,), (0,), {"attr.T"}),
    ("r_transpose", (A23,), (0,), {"np.transpose"}),
    ("r_reshape", (A23,), (0,), {"np.reshape"}),
    ("r_shape", (A23,), (0,), {"attr.shape", "attr.size", "attr.ndim"}),
    ("r_copy", (X3,), (0,), {"np.copy"}),
    ("r_ascontiguous", (A23,), (0,), {"np.ascontiguousarray"}),
    ("r_sum", (A23,), (0,), {"np.sum"}),
    ("r_sum_axis0", (A23,), (0,), {"np_ops.sum_axis"}),
    ("r_sum_keepdims", (np.abs(A23) + 0.5,), (0,), {"np_ops.sum_axis"}),
    ("r_mean", (A23,), (0,), {"np.mean", "np_ops.mean_axis"}),
    ("r_prod", (X3,), (0,), {"np.prod", "np_ops.prod_axis"}),
    ("r_max", (X3,), (0,), {"np.max", "np.amax", "np_ops.max_axis"}),
    ("r_min", (X3,), (0,), {"np.min", "np.amin", "np_ops.min_axis"}),
    ("r_cumsum", (A23,), (0,), {"np.cumsum", "np_ops.cumsum_axis"}),
    ("r_norm", (X3, A23), (0, 1), {"np.linalg.norm"}),
    ("r_outer", (X3[:3], Y3[:2]), (0, 1), {"np.outer"}),
    ("r_trace", (A23,), (0,), {"np.trace"}),
    ("r_maximum", (X3, Y3), (0, 1), {"np.maximum", "np.minimum"}),
    ("r_clip", (np.array([-0.9, 0.1, 1.2]),), (0,), {"np.clip"}),
    ("r_where", (X3, Y3), (0, 1), {"np.where"}),
    ("r_subscript", (A23,), (0,), {"subscript"}),
    ("r_create", (X3,), (0,), {"np.zeros", "np.ones", "np.zeros_like", "np.ones_like",
                               "np.empty", "np.eye", "np.identity", "np.arange",
                               "np.linspace", "np.full", "np.full_like", "np.empty_like"}),
    ("r_round", (np.array([0.3, 1.6, -2.2]),), (0,), {"np.rint", "np.round"}),
    ("r_tensor", (RNG.normal(size=(2, 3, 4)),), (0,), set()),
]


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _fd(f, args, i, h=1e-6):
    x = args[i]
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        a = [np.array(v, copy=True) for v in args]
        a[i][idx] += h
        up = f(*a)
        a[i][idx] -= 2 * h
        g[idx] = (up - f(*a)) / (2 * h)
    return g


def test_every_array_rule_has_a_case():
    covered = set().union(*(c[3] for c in CASES))
    assert ARRAY_RULES <= covered, sorted(ARRAY_RULES - covered)


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.slow)])
@pytest.mark.parametrize("name, args, wrt, rules", CASES, ids=[c[0] for c in CASES])
def test_array_rule(mod, name, args, wrt, rules, jit):
    f = getattr(mod, name)
    value, grads = srcgrad.value_and_grad(f, wrt=wrt, jit=jit)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    for i, g in zip(wrt, grads):
        assert g.shape == args[i].shape and g.dtype == args[i].dtype
        np.testing.assert_allclose(g, _fd(f, args, i), rtol=1e-6, atol=1e-8)
