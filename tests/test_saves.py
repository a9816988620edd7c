"""Saves the adjoint drops (compiler/saves.py): a reference taped again while its
variable still names the same array, and the old elements of stores into an array
whose elements the reverse sweep never reads.

Each program is differentiated uncompiled, and the gradient is compared with finite
differences; the programs are built so that a dropped save that was needed gives a
wrong gradient: the array is rebound between the saves, or read nonlinearly after
the stores. (An array written through another name is refused by analysis.) The generated source shows what went.
"""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad

from .support.oracles_np import assert_allclose_grads, fd_grad_array

SOURCE = '''
import numpy as np


def repeated(P, k, steps):
    # d is read by four statements of the loop body, each taping it
    n = P.shape[0]
    total = 0.0
    for t in range(steps):
        for i in range(n - 1):
            d = P[i + 1] - P[i]
            length = np.sqrt(np.sum(d * d))
            f = k * (length - 0.5) * d / length
            total = total + np.sum(f * d) + np.sum(np.sin(d))
        P = P + 0.01 * np.cos(P)
    return total


def rebound(x, w):
    # d is rebound between the reads: each value taped once, both needed
    d = np.sin(x * w)
    s = np.sum(d * d)
    d = np.cos(x) * s
    s = s + np.sum(d * d * w)
    return s


def linear_work(x, w, steps):
    # f is overwritten in place every step; only linear statements read it
    n = x.shape[0]
    y = x.copy()
    f = np.zeros(n)
    for t in range(steps):
        for i in range(n):
            f[i] = np.sin(y[i]) * w
        for i in range(n):
            y[i] = y[i] + 0.1 * f[i]
    return np.sum(y * y)


def nonlinear_work(x, w, steps):
    # the same, but f is read by a product: its old elements must come back
    n = x.shape[0]
    y = x.copy()
    f = np.zeros(n)
    for t in range(steps):
        for i in range(n):
            f[i] = np.sin(y[i]) * w
        for i in range(n):
            y[i] = y[i] + 0.1 * f[i] * f[i]
    return np.sum(y * y)


def read_later(x, w, steps):
    # linear reads in the update, and a square of it summed each step
    n = x.shape[0]
    y = x.copy()
    f = np.zeros(n)
    total = 0.0
    for t in range(steps):
        for i in range(n):
            f[i] = np.sin(y[i]) * w
        for i in range(n):
            y[i] = y[i] + 0.1 * f[i]
        total = total + np.sum(f * f)
    return np.sum(y * y) + total
'''


@pytest.fixture(scope="module")
def user(make_module):
    return make_module(SOURCE)


def _args(name):
    rng = np.random.default_rng(3)
    if name == "repeated":
        P = np.stack([np.linspace(0.0, 2.0, 5), np.linspace(0.05, 0.6, 5)], axis=1)
        return (P, 3.0, 3), (0, 1)
    if name == "rebound":
        return (rng.normal(size=5), 0.7), (0, 1)
    return (rng.normal(size=6), 0.8, 4), (0, 1)


NAMES = ["repeated", "rebound", "linear_work", "nonlinear_work", "read_later"]


@pytest.fixture(scope="module")
def results(user):
    out = {}
    for name in NAMES:
        fn = getattr(user, name)
        args, wrt = _args(name)
        g = srcgrad.value_and_grad(fn, wrt=wrt, jit=False)
        out[name] = (fn, args, wrt, g(*args), g.source_for(*args))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_gradients(results, name):
    fn, args, wrt, (value, grads), _ = results[name]
    assert value == pytest.approx(fn(*args), rel=1e-12)
    assert_allclose_grads(grads, fd_grad_array(fn, args, wrt), rtol=1e-6, atol=1e-8,
                          what=f"{name}: vs finite differences")


def _ref_pushes(source: str, name: str) -> int:
    return source.split("return (_out")[0].count(f".append({name})")


def test_one_reference_per_value(results):
    """`d` is taped once per spring, where four saves of it were written; `f` once."""
    source = results["repeated"][4]
    assert _ref_pushes(source, "d") == 1, source
    assert _ref_pushes(source, "f") == 1, source


def test_rebound_values_both_taped(results):
    source = results["rebound"][4]
    assert _ref_pushes(source, "d") >= 1


def test_old_elements_dropped_only_when_unread(results):
    """The work array read only linearly tapes none of its old elements; read by a
    product, in the update or in a sum after it, it tapes them all."""
    assert "push(_tf, _nf, f[" not in results["linear_work"][4]
    assert "push(_tf, _nf, f[" in results["nonlinear_work"][4]
    assert "push(_tf, _nf, f[" in results["read_later"][4]
