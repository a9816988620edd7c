"""Stage scalarize (compiler/scalarize.py): elementwise array expressions as loops.

Each program is differentiated three ways: with the stage (compiled and not), and with
it off (SRCGRAD_SCALARIZE=0, the array rules); the gradients must agree with each other
and with finite differences, and the values with NumPy's. The generated source shows
the loops, and what the stage must leave alone (an aliased store) stays an array
operation.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad

from .support.oracles_np import check_scalarized

SOURCE = '''
import numpy as np


def heat(u0, kappa, steps):
    u = u0.copy()
    for t in range(steps):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u * u)


def broadcast(A, r, c, s):
    # (n, 1) with (n, m), a row against a matrix, a length-1 array, negative bounds
    B = np.tanh(A * c + r * s) - np.exp(-A) / (1.0 + s * s)
    C = B[1:, -2:] * r[1:] + B[:-1, :2] ** 2
    D = np.sqrt(C * C + 1.0) + c[0]
    return np.sum(D) + np.sum(np.sin(B[:, 0]) * r[:, 0])


def rows(P, V, k, steps):
    # rows of (n, 2) arrays, read-modify-write stores, a branch per element
    n = P.shape[0]
    for t in range(steps):
        F = np.zeros((n, 2))
        F[:, 1] -= 9.81
        for i in range(n - 1):
            d = P[i + 1] - P[i]
            length = np.sqrt(np.sum(d * d))
            f = k * (length - 0.5) * d / length
            F[i] += f
            F[i + 1] -= f
        for i in range(n):
            if P[i, 1] < 0.0:
                F[i, 1] += -100.0 * P[i, 1]
        V = V + 0.01 * F
        P = P + 0.01 * V
    return np.sum(P[:, 1]) + 0.5 * np.sum(V * V)


def aliased(x, w):
    y = x * w
    y[1:] = y[:-1] * 2.0 + w
    return np.sum(y * y)


def mismatch(a, b):
    return np.sum(a[1:] * b)


def relu(z):
    return np.maximum(z, 0.0)


def dense(x, W, b):
    return x @ W + b


def layer(x, W, b):
    # an inlined helper's result bound to a name between the bias and the relu
    h = relu(dense(x, W, b))
    return np.sum(h * h)
'''


@pytest.fixture(scope="module")
def user(make_module):
    return make_module(SOURCE)


def _args(name):
    rng = np.random.default_rng(7)
    if name == "heat":
        return (np.sin(np.linspace(0.0, 3.0, 24)), 0.2, 6), (0, 1)
    if name == "broadcast":
        return (rng.normal(size=(4, 3)), rng.normal(size=(4, 1)), np.array([0.7]), 0.3), \
            (0, 1, 2, 3)
    if name == "rows":
        P = np.stack([np.linspace(0.0, 2.0, 5), np.linspace(0.05, 0.6, 5)], axis=1)
        return (P, np.tile([0.1, -1.0], (5, 1)), 30.0, 8), (0, 1, 2)
    if name == "layer":
        return (rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)), \
            (1, 2)
    return (rng.normal(size=6), 0.4), (0, 1)


@pytest.mark.parametrize("name", ["heat", "broadcast", "rows", "aliased", "layer"])
@pytest.mark.parametrize("jit", [False, True])
def test_gradients_agree(user, name, jit):
    if jit and name in ("broadcast", "aliased", "layer"):
        pytest.skip("compiled: heat and rows (the uncompiled run covers the semantics)")
    fn = getattr(user, name)
    args, wrt = _args(name)
    check_scalarized(fn, args, wrt, name, jit)


def test_loops_in_the_source(user):
    """The stencil's update is one loop over the elements in both sweeps: no array
    temporaries, no array adjoint helpers inside the time loop, and the store into the
    fresh copy tapes nothing per element."""
    args, wrt = _args("heat")
    g = srcgrad.value_and_grad(user.heat, wrt=wrt, jit=False)
    source = g.source_for(*args)
    body = source.split("for t in range(steps):", 1)[1].split("return", 1)[0]
    assert "for _i1 in range(" in body
    assert "unbroadcast(" not in body.split("while")[0]
    assert "push(_tf" not in body, "the stencil's store tapes the elements it overwrites"
    inner = source.split("while _k2 >= 0:", 1)[1].split("_k2 -= 1", 1)[0]
    assert "ensure(" not in inner and "accum(" not in inner, inner


def test_an_inlined_result_does_not_split_a_group(user):
    """dense's result is bound to a name that relu reads: the bias and the relu are one
    loop (np.maximum of elements), not two whole-array operations."""
    args, wrt = _args("layer")
    source = srcgrad.value_and_grad(user.layer, wrt=wrt, jit=False).source_for(*args)
    assert "np.maximum(_v" in source and "np.maximum(_t" not in source, source


def test_aliased_store_stays_an_array_operation(user):
    """`y[1:] = y[:-1] * 2.0 + w` reads what it overwrites at other positions: NumPy
    evaluates the right side first, a loop would not, so the store stays whole (the
    right side still becomes a loop into a new array)."""
    args, wrt = _args("aliased")
    source = srcgrad.value_and_grad(user.aliased, wrt=wrt, jit=False).source_for(*args)
    assert "y[1:] = " in source


@pytest.mark.parametrize("jit", [False, True])
def test_broadcast_error_is_numpys(user, jit):
    """Lengths that do not broadcast raise NumPy's ValueError, compiled or not."""
    g = srcgrad.value_and_grad(user.mismatch, wrt=(0, 1), jit=jit)
    with pytest.raises(ValueError):
        g(np.ones(5), np.ones(3))
    value, grads = g(np.arange(5.0), np.ones(4))
    assert value == 10.0
    np.testing.assert_array_equal(grads[1], np.arange(1.0, 5.0))


def test_types_match_numbas(user, monkeypatch):
    """scalarize gives its new variables their types itself (no second type inference);
    SRCGRAD_CHECK_SCALARIZE=1 makes the pipeline compare them with Numba's."""
    monkeypatch.setenv("SRCGRAD_CHECK_SCALARIZE", "1")
    monkeypatch.setenv("SRCGRAD_DISK_CACHE", "0")
    for name in ("heat", "broadcast", "rows"):
        args, wrt = _args(name)
        srcgrad.value_and_grad(getattr(user, name), wrt=wrt, jit=False).source_for(*args)

