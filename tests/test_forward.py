"""Forward mode (srcgrad.jvp) on every program of the scalar, array and call corpora.

For every (case, point), with a random tangent for each differentiated argument:
* the value jvp returns equals calling the function,
* the tangent equals the reverse-mode gradient dotted with the tangents
  (``sum_i <grad_i, v_i>``; reverse mode is checked against finite differences
  and JAX in the corpus tests),
* the tangent equals a 4th-order central finite difference along the tangents.
Vector-valued programs (``VJP_CASES``) pass the dot-product test
``<u, J v> == <J^T u, v>`` between forward and reverse mode.

Every program runs uncompiled (``jit=False``: the same generated source as plain
Python), the first point of each in the fast tier; all of them compiled in the slow tier
(compiled forward mode also runs in the fast tier through test_higher.py).
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest

import srcgrad
from srcgrad.check import central_difference

from .support import corpus_arrays, corpus_calls, corpus_scalar
from .support.oracles import wrt_indices

BY_NAME = {f"{mod.__name__.rpartition('_')[2]}:{c.name}": c
           for mod in (corpus_scalar, corpus_arrays, corpus_calls) for c in mod.CASES
           if c.name not in corpus_arrays.NOT_FD}
# forward mode has no rule for a custom_vjp function (its rule is a reverse rule)
CUSTOM = {f"calls:{c.name}" for c in corpus_calls.CASES
          if "custom-rule" in c.features and "non-differentiable" not in c.features}
FLOAT32 = {f"arrays:{n}" for n in corpus_arrays.FLOAT32_CASES}


def _tangents(args, wrt, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i, a in enumerate(args):
        if i not in wrt:
            out.append(0.0)
        elif isinstance(a, np.ndarray):
            out.append(rng.normal(size=a.shape).astype(a.dtype))
        else:
            out.append(float(rng.normal()))
    return tuple(out)


def _directional_fd(fn, args, tangents, wrt):
    """4th-order central difference of fn along the tangents (float64)."""
    scale = max([1.0] + [float(np.max(np.abs(args[i]))) for i in wrt])
    h = 1e-4 * scale

    def at(s):
        moved = [a.astype(np.float64) + s * np.asarray(t, dtype=np.float64)
                 if i in wrt and isinstance(a, np.ndarray)
                 else a + s * t if i in wrt else (a.copy() if isinstance(a, np.ndarray) else a)
                 for i, (a, t) in enumerate(zip(args, tangents))]
        return np.asarray(fn(*moved), dtype=np.float64)

    return central_difference(at, h)


@functools.cache
def _reverse(name: str, k: int):
    case = BY_NAME[name]
    args = tuple(case.points[k])
    wrt = wrt_indices(case.fn, case.wrt)
    grads = srcgrad.grad(case.fn, wrt=tuple(wrt), jit=False)(*_copies(args))
    return wrt, grads


def _copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _check(key: str, k: int, jit: bool):
    case = BY_NAME[key]
    args = tuple(case.points[k])
    wrt, grads = _reverse(key, k)
    tangents = _tangents(args, wrt, seed=k)
    before = _copies(args)
    value, tangent = srcgrad.jvp(case.fn, _copies(args), tangents, wrt=tuple(wrt), jit=jit)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    f32 = key in FLOAT32
    np.testing.assert_allclose(np.asarray(value, dtype=np.float64),
                               np.asarray(case.fn(*_copies(args)), dtype=np.float64),
                               rtol=1e-5 if f32 else 1e-10, atol=1e-12)
    want = sum(float(np.sum(np.asarray(g, dtype=np.float64) * np.asarray(tangents[i])))
               for i, g in zip(wrt, grads))
    scale = max(1.0, abs(want))
    rtol = 1e-4 if f32 else 1e-9
    assert abs(float(tangent) - want) <= rtol * scale, (tangent, want)
    if "stop_gradient" in inspect.getsource(case.fn):
        return  # finite differences see through stop_gradient; reverse mode does not
    fd = float(_directional_fd(case.fn, args, tangents, wrt))
    assert abs(float(tangent) - fd) <= (1e-3 if f32 else 1e-6) * max(1.0, abs(fd)), \
        (tangent, fd)


# first point of each program in the fast tier, the others in the slow tier
PARAMS = [pytest.param(key, k, marks=() if k == 0 else pytest.mark.slow)
          for key, c in BY_NAME.items() for k in range(len(c.points))]


@pytest.mark.parametrize("name,k", PARAMS)
def test_jvp_uncompiled(name, k):
    if name in CUSTOM:
        with pytest.raises(srcgrad.MissingRuleError, match="forward-mode"):
            _check(name, k, jit=False)
        return
    _check(name, k, jit=False)


@pytest.mark.parametrize("name,k", [
    pytest.param(n, k, marks=pytest.mark.slow)
    for n in BY_NAME if n not in CUSTOM for k in (0,)])
def test_jvp_compiled(name, k):
    _check(name, k, jit=True)


@pytest.mark.parametrize("case,cotangents", corpus_arrays.VJP_CASES,
                         ids=[c.name for c, _ in corpus_arrays.VJP_CASES])
def test_forward_and_reverse_pass_the_dot_product_test(case, cotangents):
    wrt = wrt_indices(case.fn, case.wrt)
    for point, ct in zip(case.points, cotangents):
        args = tuple(point)
        tangents = _tangents(args, wrt, seed=1)
        value, jv = srcgrad.jvp(case.fn, _copies(args), tangents, wrt=tuple(wrt), jit=False)
        fd = _directional_fd(case.fn, args, tangents, wrt)
        np.testing.assert_allclose(np.asarray(jv, dtype=np.float64), fd, rtol=1e-6, atol=1e-8)
        _, pullback = srcgrad.vjp(case.fn, *_copies(args), wrt=tuple(wrt), jit=False)
        grads = pullback(ct)
        lhs = float(np.sum(np.asarray(ct) * np.asarray(jv)))
        rhs = sum(float(np.sum(np.asarray(g) * np.asarray(tangents[i])))
                  for i, g in zip(wrt, grads))
        assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs)), (lhs, rhs)
