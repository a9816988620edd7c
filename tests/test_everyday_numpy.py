"""Everyday NumPy code that used to be refused, to crash with "a bug in srcgrad", or to give
a silently wrong gradient: arrays built from values, gathers and scatters with repeated
indices, np.linalg.matrix_power, names rebound to another type, double buffering and
buffer swaps, keyword-only parameters, 0-d arrays. Each is checked against finite
differences in reverse and forward mode (srcgrad.check_grad), second order where it
applies, compiled and as plain Python.

(The corpus tests, tests/test_corpus_arrays.py, run more programs of these kinds against
finite differences and JAX: array_of_scalars ... gather_in_loop.)
"""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad

SOURCE = '''
import math
import numpy as np


def literal(a, b):
    v = np.array([a, b, a * b])
    return np.sum(v ** 2)


def literal_indexed(a):
    v = np.array([a, 2.0 * a])
    return v[0] + v[1]


def literal_second(x):
    v = np.array([x[0] * x[1], x[1], np.sin(x[2])])
    M = np.array([[x[0], x[1]], [x[2], x[0] * x[2]]])
    return np.sum(v ** 3) + np.sum(M @ M)


def gather(x, w):
    idx = np.array([2, 0, 0])
    return np.sum(x[idx] * w)


def gather_scatter_second(x):
    g = x[np.array([2, 0, 0, 1])]
    y = np.zeros(3)
    y[np.array([0, 0, 2])] = g[:3] * g[1:]
    return np.sum(np.tanh(g) * g) + np.sum(y * y * x)


def stacks_second(x):
    h = np.hstack([x, x * x])
    v = np.vstack((x, np.sin(x)))
    return np.sum(h ** 3) + np.sum(v @ v.T)


def power_sum(A):
    return np.sum(np.linalg.matrix_power(A, 3))


def power(A, k):
    return np.sum(np.linalg.matrix_power(A, k) * A)


def inverse(A):
    return np.sum(np.linalg.inv(A) @ A.T)


def rebind_sum(x):
    x = np.sum(x)
    return x * x


def rebind_loop(x, n):
    y = x * 2.0
    for i in range(n):
        y = y * x
    y = np.sum(y)
    s = y
    y = np.ones(3) * y
    return np.sum(y * x) + s


def rebind_reshape(A):
    A = A.reshape(6)
    A = A * A
    return np.sum(A)


def double_buffer(u, steps):
    n = u.shape[0]
    for s in range(steps):
        v = np.zeros(n)
        for i in range(1, n - 1):
            v[i] = u[i] + 0.1 * (u[i - 1] - 2 * u[i] + u[i + 1])
        u = v
    return np.sum(u * u)


def swap(u0, steps):
    u = u0.copy()
    v = np.zeros(u.shape[0])
    for s in range(steps):
        w = u[1:]
        v[1:] = w * 0.5 + u[:-1]
        u, v = v, u
    return np.sum(u * u)


def view_read_before_write(x, n):
    y = x * 1.5
    for i in range(n):
        z = y.T
        y[i] = x[i] * z[i - 1] + z[i]
    return np.sum(y * y)


def keyword_only(x, *, scale=2.0, n=3):
    s = 0.0
    for i in range(n):
        s = s + scale * x * x
    return s


def zero_d(x, w):
    y = x * w
    return np.sum(y) + x[()] * 2.0


def max_and_relu(x, W):
    z = W @ x
    m = np.max(z)
    e = np.exp(z - m)
    h = np.maximum(z, 0.0) + np.minimum(z, -0.2) * 0.5
    return np.log(np.sum(e)) + m - z[0] + np.sum(h * h * np.abs(x[:3]))


def clip_and_where(x):
    return np.sum(np.clip(x, -0.5, 0.9) * x ** 2) + np.sum(np.where(x > 0.0, x ** 3, np.sin(x)))


def aliased_write(x):
    x = x.copy()
    y = x
    y[0] = 2.0
    return np.sum(x)


def mismatch(x, y):
    z = x * 2.0
    return np.dot(z, y)
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


X3 = np.array([0.3, -0.7, 1.1])
A2 = np.array([[1.0, 0.5], [0.2, 0.9]])
U6 = np.array([0.0, 0.2, 0.5, 0.9, 0.4, 0.1])

FIRST_ORDER = [
    ("literal", (1.5, -0.5), (0, 1)),
    ("literal_indexed", (1.5,), 0),
    ("gather", (np.array([0.5, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])), (0, 1)),
    ("power", (A2, 3), 0), ("power", (A2, -2), 0), ("power", (A2, 0), 0),
    ("inverse", (A2,), 0),
    ("rebind_sum", (np.array([1.0, 2.0]),), 0),
    ("rebind_loop", (X3 + 1.0, 3), 0),
    ("rebind_reshape", (np.arange(6.0).reshape(2, 3) * 0.3,), 0),
    ("double_buffer", (U6, 3), 0),
    ("swap", (U6, 3), 0),
    ("view_read_before_write", (np.array([0.5, -0.3, 0.8, 1.1]), 3), 0),
    ("zero_d", (np.array(0.7), np.ones(3)), 0),
]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name,args,wrt", FIRST_ORDER, ids=[f"{c[0]}-{i}" for i, c in
                                                            enumerate(FIRST_ORDER)])
def test_first_order(mod, name, args, wrt, jit):
    srcgrad.check_grad(getattr(mod, name), *args, wrt=wrt, modes=("rev", "fwd"), jit=jit)


def test_the_silently_wrong_gradients_of_the_report(mod):
    # the three gradients srcgrad once gave silently wrong, at the report's points
    assert srcgrad.grad(mod.literal, wrt=(0, 1))(1.5, -0.5) == pytest.approx((3.75, -3.25))
    assert srcgrad.jvp(mod.literal, (1.5, -0.5), (1.0, 0.0))[1] == pytest.approx(3.75)
    assert srcgrad.grad(mod.literal_indexed)(1.5) == pytest.approx(3.0)
    g = srcgrad.grad(mod.gather)(np.array([0.5, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(g, [5.0, 0.0, 1.0])      # x[0] gets w[1] + w[2]
    np.testing.assert_allclose(srcgrad.grad(mod.power_sum)(A2),
                               [[5.33, 4.09], [6.01, 4.69]], rtol=1e-12)


SECOND_ORDER = [("literal_second", X3), ("gather_scatter_second", X3), ("stacks_second", X3)]


@pytest.mark.parametrize("name,x", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_order(mod, name, x):
    srcgrad.check_grad(getattr(mod, name), x, order=2, modes=("rev", "fwd"), jit=False)


def test_second_order_through_piecewise_linear_functions(mod):
    # softmax with its max shift, ReLU, clip, abs, where: Hessians, no kink at the points
    x = np.array([0.3, -0.7, 1.1, 0.45])
    W = np.array([[0.2, -0.5, 0.7, 0.1], [0.6, 0.3, -0.4, 0.8], [-0.3, 0.9, 0.2, -0.6]])
    srcgrad.check_grad(mod.max_and_relu, x, W, order=2, modes=("rev", "fwd"), jit=False)
    srcgrad.check_grad(mod.clip_and_where, x, order=2, modes=("rev", "fwd"), jit=False)
    H = srcgrad.hessian(mod.max_and_relu, jit=False)(x, W)
    assert H.shape == (4, 4) and np.allclose(H, H.T, atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("name,x", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_order_compiled(mod, name, x):
    srcgrad.check_grad(getattr(mod, name), x, order=2, modes=("rev", "fwd"), jit=True)


def test_power_second_order(mod):
    srcgrad.check_grad(mod.power, A2, 3, order=2, modes=("rev", "fwd"), jit=False)
    srcgrad.check_grad(mod.inverse, A2, order=2, modes=("rev",), jit=False)


def test_keyword_only_parameters(mod):
    f = mod.keyword_only
    assert srcgrad.grad(f)(1.5) == pytest.approx(18.0)
    assert srcgrad.grad(f, wrt=("x", "scale"))(1.5, scale=3.0) == pytest.approx((27.0, 6.75))
    assert srcgrad.jvp(f, (1.5,), (1.0,))[1] == pytest.approx(18.0)
    assert srcgrad.hessian(f)(1.5, scale=3.0) == pytest.approx(18.0)
    assert srcgrad.grad(srcgrad.grad(f))(1.5, n=2) == pytest.approx(8.0)


def test_zero_d_array_gradient_is_zero_d(mod):
    g = srcgrad.grad(mod.zero_d)(np.array(0.7), np.ones(3))
    assert isinstance(g, np.ndarray) and g.shape == () and float(g) == pytest.approx(5.0)


def test_a_write_through_an_alias_is_refused_at_its_line(mod):
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="may share memory with x") as info:
        srcgrad.grad(mod.aliased_write)(np.ones(3))
    assert info.value.lineno == SOURCE.splitlines().index("    y[0] = 2.0") + 1


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "py"])
def test_runtime_error_names_the_users_line(mod, jit):
    line = SOURCE.splitlines().index("    return np.dot(z, y)") + 1
    for call in (lambda: srcgrad.grad(mod.mismatch, jit=jit)(np.ones(3), np.ones(4)),
                 lambda: srcgrad.jvp(mod.mismatch, (np.ones(3), np.ones(4)),
                                     (np.ones(3), np.ones(4)), jit=jit),
                 lambda: srcgrad.vjp(mod.mismatch, np.ones(3), np.ones(4), jit=jit)):
        with pytest.raises(ValueError) as info:
            call()
        notes = " ".join(getattr(info.value, "__notes__", []))
        assert f"{mod.__file__}:{line}: return np.dot(z, y)" in notes, notes
