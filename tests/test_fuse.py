"""Loops summing independent iterations: each iteration's adjoint runs inside the
forward sweep (srcgrad/fuse.py). Which loops qualify, and that gradients are right
either way."""

from __future__ import annotations

import re

import numpy as np
import pytest

import srcgrad

SOURCE = '''
import math

import numpy as np


def sum_of_losses(w, b, X, y):
    n = X.shape[0]
    total = 0.0
    for i in range(n):
        z = b
        for j in range(X.shape[1]):
            z = z + w[j] * X[i, j]
        if z > 0.0:
            loss = math.log1p(math.exp(-z)) + (1.0 - y[i]) * z
        else:
            loss = math.log1p(math.exp(z)) - y[i] * z
        total = total + loss
    return total / n


def streaming_lse(x, c):
    total = 0.0
    for i in range(x.shape[0]):
        m = x[i, 0] * c
        s = 0.0
        k = 0
        while k < x.shape[1]:
            t = x[i, k] * c
            if t > m:
                s = s * math.exp(m - t) + 1.0
                m = t
            else:
                s = s + math.exp(t - m)
            k += 1
        total = total - (math.log(s) + m)
    return total * total


def int_carried(x):
    total = 0.0
    j = 0
    for i in range(x.shape[0]):
        total = total + x[j] * x[i]
        j = (j + 3) % x.shape[0]
    return total


def carried(x, n):
    total = 0.0
    s = 1.0
    for i in range(n):
        s = math.sin(s * x)
        total = total + s
    return total


def two_accumulators(x):
    a = 0.0
    b = 0.0
    for i in range(x.shape[0]):
        a = a + x[i] * x[i]
        b = b + math.cos(x[i])
    return a * b


def local_read_after(x):
    total = 0.0
    v = 0.0
    for i in range(x.shape[0]):
        v = math.exp(x[i])
        total = total + v
    return total + v * v


def acc_read_in_body(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = total + x[i] * math.tanh(total)
    return total


def store_in_body(x):
    y = np.zeros(x.shape[0])
    total = 0.0
    for i in range(x.shape[0]):
        y[i] = x[i] * x[i]
        total = total + y[i]
    return total + y.sum()


def subtracted_from(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = math.sin(x[i]) - total
    return total


def min_per_row(x):
    # the iteration's adjoint (outlined: it has a loop) changes only the bool tape
    total = 0.0
    for i in range(3):
        best = math.inf
        for j in range(x.shape[0]):
            if x[j] * (i + 1) < best:
                best = x[j] * (i + 1)
        total += best
    return total


def work_arrays(w, X):
    # ADBench GMM's shape: work arrays allocated once, filled anew for each point
    # (e at the body's top, h inside an inner loop), then read
    n = X.shape[0]
    d = X.shape[1]
    k = w.shape[0]
    e = np.zeros(d)
    h = np.zeros(d)
    scores = np.zeros(k)
    total = 0.0
    for i in range(n):
        for j in range(d):
            e[j] = X[i, j] * X[i, j]
        for c in range(k):
            for j in range(d):
                h[j] = math.tanh(w[c] * e[j] + X[i, j])
            s = 0.0
            for j in range(d):
                s += h[j] * h[j] * e[j]
            scores[c] = s
        m = 0.0
        for c in range(k):
            m += math.exp(-scores[c])
        total = total + math.log(m)
    return total


def work_read_after(w, X):
    # the work array is read after the loop: its last point's values flow out
    d = X.shape[1]
    e = np.zeros(d)
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(d):
            e[j] = math.sin(w[j] * X[i, j])
        total = total + e[0] * e[d - 1]
    return total + e[1] * e[1]


def work_partly_filled(w, X):
    # one element is never written in the loop: it carries the previous point's value
    d = X.shape[1]
    e = np.zeros(d)
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(d - 1):
            e[j + 1] = math.sin(w[j] * X[i, j]) + e[j]
        total = total + e[d - 1] * e[1]
    return total


def work_read_first(w, X):
    # read before it is filled: the previous point's values
    d = X.shape[1]
    e = np.zeros(d)
    total = 0.0
    for i in range(X.shape[0]):
        a = e[0] * w[0]
        for j in range(d):
            e[j] = math.sin(w[j] * X[i, j])
        total = total + a * e[d - 1]
    return total


def break_in_body(x):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] > 1.5:
            break
        total = total + x[i] * x[i]
    return total
'''

FUSED = {"sum_of_losses", "streaming_lse", "min_per_row", "work_arrays"}
# int_carried: the reverse sweep of an iteration restores j, which the next one reads
NOT_FUSED = ["int_carried", "carried", "two_accumulators", "local_read_after", "acc_read_in_body",
             "store_in_body", "subtracted_from", "break_in_body", "work_read_after",
             "work_partly_filled", "work_read_first"]


def _args(name):
    rng = np.random.default_rng(7)
    if name == "sum_of_losses":
        X = rng.normal(size=(9, 3))
        return (rng.normal(size=3), 0.3, X, (rng.random(9) > 0.5).astype(np.float64))
    if name == "streaming_lse":
        return (rng.normal(size=(6, 5)), 0.8)
    if name == "carried":
        return (0.7, 5)
    if name.startswith("work"):
        return (rng.normal(size=4) if name == "work_arrays" else rng.normal(size=3),
                rng.normal(size=(5, 3)))
    return (rng.uniform(0.1, 1.0, size=7),)


def _fd(f, args, k, h=1e-6):
    x = args[k]
    if np.ndim(x) == 0:
        a = list(args)
        a[k] = x + h
        up = f(*a)
        a[k] = x - h
        return (up - f(*a)) / (2 * h)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        a = list(args)
        xp = x.copy()
        xp[idx] += h
        a[k] = xp
        up = f(*a)
        xm = x.copy()
        xm[idx] -= h
        a[k] = xm
        out[idx] = (up - f(*a)) / (2 * h)
    return out


def _is_fused(g, args) -> bool:
    return re.search(r"\bu_\w+ = 1\.0", g.source_for(*args)) is not None


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


@pytest.mark.parametrize("name", sorted(FUSED) + NOT_FUSED)
def test_gradient_matches_finite_differences(mod, name):
    f = getattr(mod, name)
    args = _args(name)
    g = srcgrad.grad(f, wrt=0, jit=False)
    assert _is_fused(g, args) == (name in FUSED)
    got = g(*args)
    np.testing.assert_allclose(got, _fd(f, args, 0), rtol=1e-6, atol=1e-7)


def test_a_scalar_read_by_the_fused_loop_gets_its_scaled_adjoint(mod):
    args = _args("streaming_lse")
    g = srcgrad.grad(mod.streaming_lse, wrt=1, jit=False)
    np.testing.assert_allclose(g(*args), _fd(mod.streaming_lse, args, 1), rtol=1e-6)
    # the reverse sweep scales the unit adjoint by the adjoint of total (2 * total)
    assert re.search(r"b_c \+= b_total \* u_c\d*", g.source_for(*args))


def test_fused_loop_compiled_tape_holds_one_iteration(mod):
    g = srcgrad.grad(mod.sum_of_losses, wrt=(0, 1))
    rng = np.random.default_rng(3)
    w = rng.normal(size=4)
    sizes = {}
    for n in (10, 2000):
        X = rng.normal(size=(n, 4))
        y = (rng.random(n) > 0.5).astype(np.float64)
        args = (w, -0.2, X, y)
        gw, gb = g(*args)
        np.testing.assert_allclose(gw, _fd(mod.sum_of_losses, args, 0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(gb, _fd(mod.sum_of_losses, args, 1), rtol=1e-6, atol=1e-9)
        sizes[n] = g.tape_bytes(*args)
    assert sizes[10] == sizes[2000] > 0


@pytest.mark.slow   # the fast tier is held under 10 minutes on two cores
def test_fused_loop_retries_when_one_iteration_overflows_the_tape(mod):
    # a while loop of 300,000 steps in one iteration: more than a fresh tape holds
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 300_000))
    g = srcgrad.grad(mod.streaming_lse, wrt=1)
    got = g(x, 0.9)
    want = srcgrad.grad(mod.streaming_lse, wrt=1, jit=False)(x, 0.9)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    np.testing.assert_allclose(got, _fd(mod.streaming_lse, (x, 0.9), 1, h=1e-5), rtol=1e-5)


@pytest.mark.parametrize("name", ["min_per_row", "streaming_lse"])
def test_iteration_adjoint_with_loops_is_outlined_and_compiles(mod, name):
    """A fused iteration's adjoint with a loop in it is a function of its own; compiled,
    its results (tape tops, unit adjoints; one of them or several) flow back."""
    f = getattr(mod, name)
    args = _args(name)
    g = srcgrad.grad(f, wrt=0)
    source = g.source_for(*args)
    assert re.search(rf"^def {name}_adjoint_iteration\d*\(", source, re.M), source
    np.testing.assert_allclose(g(*args), _fd(f, args, 0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(g(*args), srcgrad.grad(f, wrt=0, jit=False)(*args), rtol=1e-12)


def test_work_arrays_compiled_tape_holds_one_point(mod):
    """Work arrays filled anew for each point do not stop the loop fusing: compiled, the
    gradient matches the uncompiled one and finite differences, and the tape holds one
    point whatever the number of points."""
    g = srcgrad.grad(mod.work_arrays, wrt=(0, 1))
    rng = np.random.default_rng(11)
    w = rng.normal(size=4)
    sizes = {}
    for n in (3, 300):
        args = (w, rng.normal(size=(n, 3)))
        gw, gx = g(*args)
        plain = srcgrad.grad(mod.work_arrays, wrt=(0, 1), jit=False)(*args)
        np.testing.assert_allclose(gw, plain[0], rtol=1e-12)
        np.testing.assert_allclose(gx, plain[1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gw, _fd(mod.work_arrays, args, 0), rtol=1e-6, atol=1e-8)
        sizes[n] = g.tape_bytes(*args)
    assert sizes[3] == sizes[300] > 0
