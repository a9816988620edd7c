"""Nested derivatives: a srcgrad.grad object called inside a differentiated function.

Each outer gradient is checked against central finite differences of the same
function written with the inner gradient in closed form, and against JAX's
grad-of-grad when JAX is installed. The compiled functions are built once per
module (Numba compiles are slow); most checks are in the slow tier, each nested
derivative being a tangent and an adjoint compile.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcgrad
from srcgrad.errors import UnsupportedSyntaxError

from .support.oracles_np import jax_available

SOURCE = '''
import math

import numpy as np

import srcgrad


def potential(x, w):
    """Two charges, one at (10, 10 - w); x a 2-vector."""
    r1 = math.sqrt((x[0] - 10.0) ** 2 + (x[1] - 10.0 + w) ** 2)
    r2 = math.sqrt((x[0] - 10.0) ** 2 + x[1] ** 2)
    return 1.0 / r1 + 1.0 / r2


dpotential = srcgrad.grad(potential, wrt=0)


def euler(w, steps):
    """An Euler trajectory pushed by the gradient of the potential (GradBench particle)."""
    x = np.array([0.0, 8.0])
    v = np.array([0.75, 0.0])
    dt = 0.1
    for i in range(steps):
        a = dpotential(x, w)
        x = x + dt * v
        v = v - dt * a
    return x[0] * x[0] + x[1]


def f(x, y):
    return x * x * y + math.sin(x * y) - 0.5 * y * y


dfy = srcgrad.grad(f, wrt=1)


def ascend(x):
    """Gradient ascent in y (a while loop with a data-dependent exit), then f there."""
    y = 0.3
    step = dfy(x, y)
    k = 0
    while abs(step) > 1e-9 and k < 200:
        y = y + 0.5 * step
        step = dfy(x, y)
        k += 1
    return f(x, y)


dfboth = srcgrad.grad(f, wrt=(0, 1))
vgf = srcgrad.value_and_grad(f, wrt=0)


def both(x, y):
    gx, gy = dfboth(x, y)
    v, g = vgf(x, y)
    return gx * gy + v * g


def with_helper(w, steps):
    x = np.array([1.0, 2.0])
    s = 0.0
    for i in range(steps):
        x = push(x, w)
        s += x[0] - x[1] * x[1]
    return s


def push(x, w):
    return x - 0.05 * dpotential(x, w)


def quad(A, b):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            s += A[i, j] * A[i, j] * b[j] + math.cos(A[i, j] * b[i])
    return s


dquad = srcgrad.grad(quad, wrt=0)


def matrix_outer(b):
    A = np.ones((2, 2)) + 0.1 * np.outer(b, b)
    G = dquad(A, b)
    return np.sum(G * G)


def keywords(w):
    x = np.array([0.5, 1.5])
    g = dpotential(w=w, x=x)
    return g[0] * g[1]


dfx_tuple = srcgrad.grad(f, wrt=(0,))


def one_tuple(w):
    g, = dfx_tuple(1.5, w)
    return g * w


dfx = srcgrad.grad(f, wrt=0)


def squared_slope(x, w):
    return dfx(x, w) ** 2


dslope = srcgrad.grad(squared_slope, wrt=1)


def twice_nested(w):
    return dslope(0.3, w) * w


def two_kinds(w):
    a = dfy(w, 1.0)
    b = dfy(2, w)
    return a + b
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE, "nested_user")


def _dpotential_exact(x, w):
    a = np.array([x[0] - 10.0, x[1] - 10.0 + w])
    b = np.array([x[0] - 10.0, x[1]])
    return -a / np.linalg.norm(a) ** 3 - b / np.linalg.norm(b) ** 3


def _euler_exact(w, steps):
    x = np.array([0.0, 8.0])
    v = np.array([0.75, 0.0])
    for _ in range(steps):
        a = _dpotential_exact(x, w)
        x = x + 0.1 * v
        v = v - 0.1 * a
    return x[0] * x[0] + x[1]


def _central(fn, x, h=1e-5):
    return (fn(x + h) - fn(x - h)) / (2 * h)


@pytest.mark.parametrize("jit", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_euler_trajectory_through_the_gradient_of_a_potential(mod, jit):
    g = srcgrad.value_and_grad(mod.euler, wrt=0, jit=jit)
    for w in (0.0, 0.7):
        value, grad = g(w, 25)
        assert value == pytest.approx(_euler_exact(w, 25), rel=1e-12)
        assert grad == pytest.approx(_central(lambda t: _euler_exact(t, 25), w), rel=1e-6)


@pytest.mark.slow
def test_zero_steps_give_a_zero_gradient(mod):
    assert srcgrad.grad(mod.euler)(0.3, 0) == 0.0


def test_inner_gradient_ascent_in_a_while_loop(mod):
    # at the maximum in y, d/dx f(x, y*(x)) = df/dx (envelope theorem): a check on the
    # derivative through 200 nested steps that needs no finite differences
    g = srcgrad.grad(mod.ascend)
    for x in (0.2, 0.4):
        y = 0.3
        for _ in range(200):
            step = x * x + x * math.cos(x * y) - y
            if abs(step) <= 1e-9:
                break
            y += 0.5 * step
        envelope = 2 * x * y + y * math.cos(x * y)
        assert g(x) == pytest.approx(envelope, rel=1e-7)
        assert g(x) == pytest.approx(_central(mod.ascend, x, 1e-6), rel=1e-5)


@pytest.mark.slow
def test_several_arguments_and_value_and_grad(mod):
    def exact(x, y):
        gx = 2 * x * y + y * math.cos(x * y)
        gy = x * x + x * math.cos(x * y) - y
        return gx * gy + mod.f(x, y) * gx
    g = srcgrad.grad(mod.both, wrt=(0, 1))
    x, y = 0.7, -0.4
    gx, gy = g(x, y)
    assert gx == pytest.approx(_central(lambda t: exact(t, y), x), rel=1e-6)
    assert gy == pytest.approx(_central(lambda t: exact(x, t), y), rel=1e-6)


@pytest.mark.slow
def test_derivative_called_in_a_helper(mod):
    def exact(w, steps):
        x = np.array([1.0, 2.0])
        s = 0.0
        for _ in range(steps):
            x = x - 0.05 * _dpotential_exact(x, w)
            s += x[0] - x[1] * x[1]
        return s
    g = srcgrad.grad(mod.with_helper)
    assert g(0.4, 6) == pytest.approx(_central(lambda t: exact(t, 6), 0.4), rel=1e-6)


@pytest.mark.slow
def test_gradient_with_respect_to_a_matrix(mod):
    def dquad(A, b):
        return 2 * A * b[None, :] - np.sin(A * b[:, None]) * b[:, None]

    def exact(b):
        A = np.ones((2, 2)) + 0.1 * np.outer(b, b)
        G = dquad(A, b)
        return np.sum(G * G)
    b = np.array([0.3, -1.2])
    got = srcgrad.grad(mod.matrix_outer)(b)
    want = [_central(lambda t: exact(b + t * e), 0.0) for e in np.eye(2)]
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.slow
def test_keyword_arguments(mod):
    def exact(w):
        g = _dpotential_exact(np.array([0.5, 1.5]), w)
        return g[0] * g[1]
    assert srcgrad.grad(mod.keywords)(0.2) == pytest.approx(_central(exact, 0.2), rel=1e-6)


@pytest.mark.slow
def test_forward_mode_and_hvp_over_a_nested_derivative(mod):
    value, tangent = srcgrad.jvp(mod.euler, (0.7, 10), (1.0, 0))
    assert tangent == pytest.approx(_central(lambda t: _euler_exact(t, 10), 0.7), rel=1e-6)
    second = srcgrad.hvp(mod.ascend)(0.3, 1.0)
    assert second == pytest.approx(_central(srcgrad.grad(mod.ascend), 0.3, 1e-5), rel=1e-5)


@pytest.mark.slow
def test_a_one_tuple_and_a_derivative_two_levels_down(mod):
    def dfx(x, y):
        return 2 * x * y + y * math.cos(x * y)

    def one_tuple(w):
        return dfx(1.5, w) * w

    def twice_nested(w):
        h = 1e-4
        dslope = (dfx(0.3, w + h) ** 2 - dfx(0.3, w - h) ** 2) / (2 * h)
        return dslope * w
    assert srcgrad.grad(mod.one_tuple)(0.7) == pytest.approx(_central(one_tuple, 0.7),
                                                             rel=1e-7)
    assert srcgrad.grad(mod.twice_nested)(0.7) == pytest.approx(
        _central(twice_nested, 0.7, 1e-4), rel=1e-6)


@pytest.mark.slow
def test_different_argument_types_are_an_error(mod):
    with pytest.raises(UnsupportedSyntaxError, match="different types") as info:
        srcgrad.grad(mod.two_kinds)(0.5)
    assert "nested_user.py" in str(info.value)


@pytest.mark.slow
@pytest.mark.skipif(not jax_available(), reason="JAX is not installed")
def test_against_jax_grad_of_grad(mod):
    import jax
    import jax.numpy as jnp

    def potential(x, w):
        r1 = jnp.sqrt((x[0] - 10.0) ** 2 + (x[1] - 10.0 + w) ** 2)
        r2 = jnp.sqrt((x[0] - 10.0) ** 2 + x[1] ** 2)
        return 1.0 / r1 + 1.0 / r2

    def euler(w):
        x = jnp.array([0.0, 8.0])
        v = jnp.array([0.75, 0.0])
        for _ in range(25):
            a = jax.grad(potential)(x, w)
            x = x + 0.1 * v
            v = v - 0.1 * a
        return x[0] * x[0] + x[1]
    want = float(jax.grad(euler)(0.7))
    assert srcgrad.grad(mod.euler)(0.7, 25) == pytest.approx(want, rel=1e-10)
