"""Small arrays as floats (compiler/smallarrays.py, part of stage scalarize).

A one-dimensional array whose length is a small constant, used only element by element,
becomes one float per element. Each program is differentiated with the stage and with
it off (SRCGRAD_SCALARIZE=0): the values must equal the function's, the gradients each
other's and the finite differences'. The generated source shows which arrays became
floats and which stayed arrays (aliases stored into, dynamic indexes, whole-array calls).
"""

from __future__ import annotations

import pytest

import srcgrad

from .support.oracles_np import assert_allclose_grads, check_scalarized, scalarize_off, \
    unscalarized_value_and_grad

SOURCE = '''
import math
import numpy as np

X0 = 0.0
V0 = 0.75


def orbit(w, dt):
    # loop-carried 2-vectors: the length of x needs x's own (x = x + dt * v)
    x = np.array([1.0, w])
    v = np.array([V0, 0.25])
    for k in range(12):
        r = math.sqrt(x[0] * x[0] + x[1] * x[1])
        v = v - dt * x / r**3
        x = x + dt * v
    return x[0] * x[1] + np.sum(v * v)


def filled(w):
    # a force built by a loop over the length, stores into fresh arrays, a while loop
    x = np.zeros(2)
    x[0] = X0
    x[1] = 8.0 * w
    vel = np.zeros(2)
    vel[0] = V0
    n = 0
    while x[1] > 0.0 and n < 40:
        g = np.zeros_like(x)
        for i in range(x.shape[0]):
            e = np.zeros_like(x)
            e[i] = 1.0
            g[i] = e[0] * (x[0] - 10.0) + e[1] * x[1] * w
        vel = vel - 0.05 * g
        x = x + 0.05 * vel
        n += 1
    return x[0] * x[0] + np.sqrt(x[1] * x[1] + 1.0) + x[-1]


def aliased(w):
    # b names a's memory when a[1] is written (b is dead by then): both stay arrays
    a = np.zeros(2)
    a[0] = w * w
    b = a
    t = b[0] * 2.0
    a[1] = t
    c = np.ones(2) * w
    d = c
    return a[0] * a[1] * d[1] + np.sum(c)


def shared(w):
    # b reads the write through a: refused with the stage as without it
    a = np.zeros(2)
    b = a
    a[0] = w * w
    return b[0]


def outer_store(w):
    # a store inside a while loop into an array made before it: stays an array
    a = np.array([w, 2.0 * w])
    k = 0
    while k < 3:
        a[0] = a[0] * w + a[1]
        k += 1
    return a[0] * a[1]


def dynamic(w, j):
    # an index known only at run time, and a whole-array call: arrays
    a = np.array([w, w * w, 3.0])
    b = np.array([w, 1.0, 2.0])
    return a[j] + np.dot(b, b)


def three(w, s):
    # a 3-vector through elementwise NumPy calls and a loop that breaks: the loop stays
    p = np.array([w, s, w * s])
    q = np.sin(p) * 2.0 - p / (1.0 + s * s)
    total = 0.0
    for i in range(3):
        if q[i] > 5.0:
            break
        total = total + q[i] * q[i]
    return total + np.sum(np.exp(-q))
'''

CASES = {
    "orbit": ((0.3, 0.1), (0, 1)),
    "filled": ((0.9,), (0,)),
    "aliased": ((0.7,), (0,)),
    "outer_store": ((0.6,), (0,)),
    "dynamic": ((0.4, 1), (0,)),
    "three": ((0.4, 0.8), (0, 1)),
}


@pytest.fixture(scope="module")
def user(make_module):
    return make_module(SOURCE)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_agree(user, name):
    fn = getattr(user, name)
    args, wrt = CASES[name]
    check_scalarized(fn, args, wrt, name)


def test_forward_mode(user):
    """The tangent sweep sees the same floats: a Hessian (forward over reverse) equals
    the one with the stage off and the finite differences of the gradient."""
    args = CASES["orbit"][0]
    h = srcgrad.hessian(user.orbit, wrt=0, jit=False)(*args)
    with scalarize_off():
        plain = srcgrad.hessian(user.orbit, wrt=0, jit=False)(*args)
    g = srcgrad.grad(user.orbit, wrt=0, jit=False)
    eps = 1e-5
    fd = (g(args[0] + eps, args[1]) - g(args[0] - eps, args[1])) / (2 * eps)
    assert h == pytest.approx(plain, rel=1e-12)
    assert h == pytest.approx(fd, rel=1e-6)


def test_compiled(user):
    """Compiled, repeated calls give the same gradient (no uninitialised floats)."""
    args, wrt = CASES["filled"]
    g = srcgrad.value_and_grad(user.filled, wrt=wrt)
    first = g(*args)
    assert g(*args) == first
    _, plain = unscalarized_value_and_grad(user.filled, wrt, args)
    assert_allclose_grads(first[1], plain, rtol=1e-10, atol=1e-12, what="filled compiled")


def test_a_store_seen_through_an_alias_is_refused(user):
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="may share memory with b"):
        srcgrad.grad(user.shared, jit=False)(0.5)


def _source(user, name):
    args, wrt = CASES[name]
    return srcgrad.value_and_grad(getattr(user, name), wrt=wrt, jit=False).source_for(*args)


@pytest.mark.parametrize("name", ["orbit", "filled"])
def test_no_arrays_left(user, name):
    """Every array of these functions became floats: no array is made, taped or
    added into in either sweep."""
    source = _source(user, name)
    body = "\n".join(line for line in source.split("def ", 1)[1].splitlines()
                     if not line.strip().startswith("#"))
    for word in ("np.zeros", "np.empty", "np_ops.array", "ensure(", "accum(", "tape_ref"):
        assert word not in body, word
    assert "x_0" in body and "x_1" in body


def test_what_stays_an_array(user):
    aliased = _source(user, "aliased")
    assert "a[1] = " in aliased and "c_0" in aliased   # a and b shared; c and d did not
    assert "a[0] = " in _source(user, "outer_store")
    dynamic = _source(user, "dynamic")
    assert "a[j]" in dynamic and "np.dot(b, b)" in dynamic
    three = _source(user, "three")
    assert "p_2" in three and "for i in range(3)" in three   # the loop with a break stays


def test_types_match_numbas(user, monkeypatch):
    """The new floats' types are the ones Numba infers for the rewritten function."""
    monkeypatch.setenv("SRCGRAD_CHECK_SCALARIZE", "1")
    monkeypatch.setenv("SRCGRAD_DISK_CACHE", "0")
    for name in ("orbit", "filled", "three"):
        _source(user, name)
