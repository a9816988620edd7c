"""Jacobians, Hessians, Hessian-vector products and derivatives of derivatives.

Checked against closed forms, finite differences of srcgrad's own gradient (which
the corpus tests check against finite differences and JAX), and JAX's jacfwd,
jacrev and hessian when JAX is installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcgrad

from .support.oracles_np import jax_available

SOURCE = '''
import math

import numpy as np


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def rosenbrock_np(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mixed(x, W):
    h = np.tanh(W @ x)
    return np.sum(h * h) + np.linalg.norm(x) + np.sum(np.sin(x) ** 3)


def with_prod(x):
    return np.prod(x) + np.sum(x)


def field(x):
    y = np.zeros(x.shape[0] + 1)
    for i in range(x.shape[0]):
        y[i] = x[i] * x[i] - math.sin(x[(i + 1) % x.shape[0]])
    y[x.shape[0]] = np.sum(np.exp(x))
    return y


def until_big(x, c):
    n = 0
    while x < c:
        x = x * 1.5 + math.sin(x)
        n += 1
    return x * x


def sin1(x):
    return math.sin(x)


def exp3(x):
    return math.exp(3.0 * x)


def power5(x):
    return x ** 5


def log1(x):
    return math.log(x)


def tanh1(x):
    return math.tanh(x)


def loop_poly(x, n):
    s = 0.0
    p = 1.0
    for k in range(n):
        p = p * x
        s = s + p / (k + 1)
    return s
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _fd_jacobian(f, x, h=1e-6):
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


def _rosenbrock_hessian(x):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] -= 400 * x[i]
        H[i + 1, i] -= 400 * x[i]
    return H


def test_jacobian_modes_agree_and_match_finite_differences(mod):
    x = np.random.default_rng(0).normal(size=4)
    fwd = srcgrad.jacobian(mod.field, mode="fwd")(x)
    rev = srcgrad.jacobian(mod.field, mode="rev")(x)
    auto = srcgrad.jacobian(mod.field)(x)
    assert fwd.shape == (5, 4)
    np.testing.assert_allclose(fwd, rev, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(auto, fwd, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fwd, _fd_jacobian(mod.field, x), rtol=1e-6, atol=1e-8)


def test_jacobian_of_a_scalar_function_is_its_gradient(mod):
    x = np.random.default_rng(1).normal(size=5)
    for mode in ("fwd", "rev"):
        np.testing.assert_allclose(srcgrad.jacobian(mod.rosenbrock, mode=mode)(x),
                                   srcgrad.grad(mod.rosenbrock)(x), rtol=1e-12)


@pytest.mark.parametrize("name", ["rosenbrock",
                                  pytest.param("rosenbrock_np", marks=pytest.mark.slow)])
def test_hessian_of_rosenbrock_is_the_closed_form(mod, name):
    x = np.random.default_rng(2).normal(size=6)
    H = srcgrad.hessian(getattr(mod, name))(x)
    np.testing.assert_allclose(H, _rosenbrock_hessian(x), rtol=1e-10, atol=1e-9)


def test_hvp_at_a_million_matches_the_closed_form(mod):
    rng = np.random.default_rng(3)
    x = rng.normal(size=1_000_000)
    v = rng.normal(size=x.size)
    got = srcgrad.hvp(mod.rosenbrock)(x, v)
    d = np.zeros(x.size)
    d[:-1] += (1200 * x[:-1] ** 2 - 400 * x[1:] + 2) * v[:-1] - 400 * x[:-1] * v[1:]
    d[1:] += 200 * v[1:] - 400 * x[:-1] * v[:-1]
    np.testing.assert_allclose(got, d, rtol=1e-10, atol=1e-8)


@pytest.mark.slow
def test_hessian_of_array_code_matches_differences_of_the_gradient(mod):
    rng = np.random.default_rng(4)
    x, W = rng.normal(size=3), rng.normal(size=(2, 3))
    H = srcgrad.hessian(mod.mixed)(x, W)
    g = srcgrad.grad(mod.mixed)
    fd = _fd_jacobian(lambda z: g(z, W), x)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, x, derivs", [
    ("sin1", 0.7, [math.cos(0.7), -math.sin(0.7), -math.cos(0.7), math.sin(0.7)]),
    ("exp3", 0.3, [3 * math.exp(0.9), 9 * math.exp(0.9), 27 * math.exp(0.9)]),
    ("power5", 1.3, [5 * 1.3 ** 4, 20 * 1.3 ** 3, 60 * 1.3 ** 2, 120 * 1.3]),
    ("log1", 0.8, [1 / 0.8, -1 / 0.8 ** 2, 2 / 0.8 ** 3]),
    ("tanh1", 0.4, [1 - math.tanh(0.4) ** 2, -2 * math.tanh(0.4) * (1 - math.tanh(0.4) ** 2),
                    (1 - math.tanh(0.4) ** 2) * (6 * math.tanh(0.4) ** 2 - 2)]),
])
def test_derivatives_of_derivatives_match_closed_forms(mod, name, x, derivs):
    d = getattr(mod, name)
    for want in derivs:
        d = srcgrad.grad(d)
        assert d(x) == pytest.approx(want, rel=1e-12)


def test_second_derivative_through_loops(mod):
    # sum_k x^(k+1) / (k + 1), whose second derivative is sum_k k x^(k-1)
    d2 = srcgrad.grad(srcgrad.grad(mod.loop_poly))
    assert d2(0.9, 6) == pytest.approx(sum(k * 0.9 ** (k - 1) for k in range(6)), rel=1e-12)
    d2w = srcgrad.grad(srcgrad.grad(mod.until_big))
    g = srcgrad.grad(mod.until_big)
    h = 1e-6
    fd = (g(0.5 + h, 40.0) - g(0.5 - h, 40.0)) / (2 * h)
    assert d2w(0.5, 40.0) == pytest.approx(fd, rel=1e-6)


def test_jvp_of_a_while_loop_with_a_data_dependent_trip_count(mod):
    value, tangent = srcgrad.jvp(mod.until_big, (0.5, 40.0), (1.0, 0.0))
    assert value == mod.until_big(0.5, 40.0)
    assert tangent == pytest.approx(srcgrad.grad(mod.until_big)(0.5, 40.0), rel=1e-12)


def test_tangent_source_is_readable(mod):
    tf = srcgrad.compiler.tangent.tangent_function(mod.until_big, True)
    src = tf.source_for(0.5, 40.0, wrt=0)
    assert "def until_big_jvp(x, c, d_x):" in src
    assert "while " in src and "d_x = " in src
    assert "# line" in src


@pytest.mark.slow
@pytest.mark.skipif(not jax_available(), reason="JAX not installed")
def test_against_jax(mod):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def mixed_jax(x, W):
        h = jnp.tanh(W @ x)
        return jnp.sum(h * h) + jnp.linalg.norm(x) + jnp.sum(jnp.sin(x) ** 3)

    rng = np.random.default_rng(5)
    x, W = rng.normal(size=3), rng.normal(size=(2, 3))
    np.testing.assert_allclose(srcgrad.hessian(mod.mixed)(x, W),
                               np.asarray(jax.hessian(mixed_jax)(x, W)), rtol=1e-10, atol=1e-12)

    def rosen_jax(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    x = rng.normal(size=5)
    np.testing.assert_allclose(srcgrad.hessian(mod.rosenbrock)(x),
                               np.asarray(jax.hessian(rosen_jax)(x)), rtol=1e-10)
    np.testing.assert_allclose(srcgrad.jacobian(mod.rosenbrock_np, mode="fwd")(x),
                               np.asarray(jax.jacfwd(rosen_jax)(x)), rtol=1e-10)

    def field_jax(x):
        y = x * x - jnp.sin(jnp.roll(x, -1))
        return jnp.concatenate([y, jnp.sum(jnp.exp(x))[None]])

    x = rng.normal(size=4)
    for mode, jac in (("fwd", jax.jacfwd), ("rev", jax.jacrev)):
        np.testing.assert_allclose(srcgrad.jacobian(mod.field, mode=mode)(x),
                                   np.asarray(jac(field_jax)(x)), rtol=1e-12, atol=1e-14)


def test_second_derivative_through_prod_is_a_clear_error(mod):
    x = np.array([0.5, -1.5, 2.0])
    assert srcgrad.jacobian(mod.with_prod, mode="fwd")(x) == pytest.approx(
        srcgrad.grad(mod.with_prod)(x), rel=1e-12)
    with pytest.raises(srcgrad.MissingRuleError, match="np.prod"):
        srcgrad.hessian(mod.with_prod)(x)


def test_show_prints_tangent_and_second_order_source(mod, capsys):
    srcgrad.show(mod.sin1, mode="fwd")
    out = capsys.readouterr().out
    assert "def sin1_jvp(x, d_x):" in out and "d_x * math.cos(x)" in out
    srcgrad.show(srcgrad.grad(srcgrad.grad(mod.sin1)))
    out = capsys.readouterr().out
    assert "def sin1_d1_adjoint(x, _seed):" in out and "math.sin(x)" in out


def test_usage_errors(mod):
    with pytest.raises(srcgrad.UsageError):
        srcgrad.jvp(mod.sin1, (1.0,), (1.0, 2.0))
    with pytest.raises(srcgrad.UsageError):
        srcgrad.jacobian(mod.sin1, mode="sideways")
    with pytest.raises(srcgrad.UsageError):
        srcgrad.hessian(mod.mixed, wrt=(0, 1))
    with pytest.raises(srcgrad.UsageError, match="hessian"):
        srcgrad.grad(srcgrad.grad(mod.rosenbrock))(np.ones(3))


def test_check_grad_in_both_modes_and_at_second_order(mod):
    x = np.random.default_rng(6).normal(size=5)
    rev, fwd = srcgrad.check_grad(mod.rosenbrock, x, modes=("rev", "fwd"))
    assert rev.ok and fwd.ok
    # the forward-mode directional derivatives are computed by jvp, not from the gradient
    np.testing.assert_allclose(fwd.directional_ad, rev.directional_ad, rtol=1e-10)
    for result in srcgrad.check_grad(mod.rosenbrock, x, order=2, modes=("rev", "fwd")):
        assert result.ok and result.max_rel_error < 1e-8
    assert srcgrad.check_grad(mod.loop_poly, 0.9, 6, order=2, modes="fwd").ok
    with pytest.raises(srcgrad.UsageError):
        srcgrad.check_grad(mod.rosenbrock, x, order=3)


HESSIAN_ROWS = '''
import math

def softplus_steps(A, c):
    # a while loop whose trip count depends on A (taped), over a 2-D argument
    s = 0.0
    k = 0
    while k < A.shape[0] and s < c:
        for j in range(A.shape[1]):
            s += math.log(1.0 + math.exp(A[k, j] * A[k, j - 1]))
        k += 1
    return s * s
'''


def test_hessian_rows_from_the_compiled_loop_match_python_calls(make_module):
    """hessian() fills rows 1.. in one compiled loop over basis vectors; it must agree
    with one Python-level hvp per row (jit=False) and with differences of the gradient,
    also with tapes (a while loop) and a 2-D argument."""
    m = make_module(HESSIAN_ROWS)
    rng = np.random.default_rng(11)
    A = rng.normal(size=(4, 3))
    for c in (2.0, 100.0):   # the loop stops early, or runs to the end
        H = srcgrad.hessian(m.softplus_steps)(A, c)
        assert H.shape == (4, 3, 4, 3)
        slow = srcgrad.hessian(m.softplus_steps, jit=False)(A, c)
        np.testing.assert_allclose(H, slow, rtol=1e-12, atol=1e-12)
        g = srcgrad.grad(m.softplus_steps)
        fd = _fd_jacobian(lambda z: g(z.reshape(4, 3), c).ravel(), A.ravel())
        np.testing.assert_allclose(H.reshape(12, 12), fd, rtol=1e-5, atol=1e-6)
