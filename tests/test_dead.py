"""Assignments whose value never reaches the output get no adjoint statement.

Their adjoint would be zero times the local derivative, which is NaN where that
derivative is infinite (sqrt at 0, hypot at the origin): the fuzzer's
dead_singular_partial bug. The analysis (analyze.dead_assignments) must never call a
used value unused, so half of these programs are near misses whose value *is* used,
through a later loop iteration, a branch or a break.
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest

import srcgrad
from srcgrad.compiler.analyze import dead_assignments
from tests.support.oracles import central_fd_grad

SOURCE = '''
import math
import numpy as np

def overwritten(x):
    t = math.sqrt(x)
    t = 3.0 * x
    return t

def overwritten_in_loop(x, n):
    s = 0.0
    for i in range(n):
        t = math.sqrt(x * i)
        t = x * i
        s = s + t
    return s

def used_next_iteration(x, n):
    s = 0.0
    t = x
    for i in range(n):
        s = s + t
        t = math.sqrt(x * x + i)
    return s

def used_after_break(x, n):
    t = x
    for i in range(n):
        t = math.sqrt(x + i)
        if i >= 2:
            break
        t = 1.0
    return t

def used_in_one_branch(x, c):
    t = math.hypot(x, 1.0)
    if c > 0.0:
        t = x * x
    return t

def array_overwritten(a):
    b = np.sqrt(a)
    b = a * 2.0
    return b.sum()

def element_store_of_dead_array(a):
    w = np.zeros(3)
    w[0] = math.sqrt(a[0])
    w = a * a
    return w.sum()

def element_store_used(a):
    w = np.zeros(3)
    w[0] = math.sqrt(a[0] + 1.0)
    v = w * a
    return v.sum()
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _dead_lines(mod, name):
    """Source lines (as text) of the normalized statements found dead."""
    from srcgrad.compiler.capture import capture
    from srcgrad.compiler.normalize import normalize
    norm = normalize(capture(getattr(mod, name)))
    ret = norm.tree.body[-1].value
    outputs = [ret.id] if isinstance(ret, ast.Name) else []
    dead = dead_assignments(norm.tree, outputs)
    return sorted(ast.unparse(s) for s in ast.walk(norm.tree) if id(s) in dead)


def test_which_assignments_are_dead(mod):
    assert "t = math.sqrt(x)" in _dead_lines(mod, "overwritten")
    assert any("math.sqrt" in s for s in _dead_lines(mod, "overwritten_in_loop"))
    for name in ("used_next_iteration", "used_after_break", "used_in_one_branch",
                 "element_store_used"):
        dead = _dead_lines(mod, name)
        assert not any("sqrt" in s or "hypot" in s for s in dead), (name, dead)
    assert any("np.sqrt" in s for s in _dead_lines(mod, "array_overwritten"))


@pytest.mark.parametrize("jit", [False, True])
def test_finite_at_the_singular_point(mod, jit):
    """Values computed where the local derivative is infinite, then unused: the gradient
    is the finite one (NaN, or ZeroDivisionError uncompiled, before the fix)."""
    assert srcgrad.grad(mod.overwritten, jit=jit)(0.0) == 3.0
    assert srcgrad.grad(mod.overwritten_in_loop, jit=jit)(0.0, 4) == 0.0 + 1 + 2 + 3
    a = np.array([0.0, 1.0, 4.0])
    np.testing.assert_array_equal(srcgrad.grad(mod.array_overwritten, jit=jit)(a),
                                  [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(srcgrad.grad(mod.element_store_of_dead_array, jit=jit)(a),
                                  2 * a)
    # x = 0 with c > 0: hypot's partial is finite there, but the value is still unused
    assert srcgrad.grad(mod.used_in_one_branch, jit=jit)(0.0, 1.0) == 0.0


CASES = [
    ("overwritten", (1.3,), 0),
    ("overwritten_in_loop", (0.7, 5), 0),
    ("used_next_iteration", (0.7, 5), 0),
    ("used_after_break", (0.7, 5), 0),
    ("used_after_break", (0.7, 2), 0),
    ("used_in_one_branch", (0.7, 1.0), 0),
    ("used_in_one_branch", (0.7, -1.0), 0),
]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("name, args, wrt", CASES)
def test_against_finite_differences(mod, name, args, wrt, jit):
    f = getattr(mod, name)
    got = srcgrad.grad(f, wrt=wrt, jit=jit)(*args)
    want = central_fd_grad(f, args, wrt)[0]
    assert got == pytest.approx(want, rel=1e-7, abs=1e-9), (name, args)


@pytest.mark.parametrize("jit", [False, True])
def test_array_stores_against_finite_differences(mod, jit):
    from tests.support.oracles_np import fd_grad_array
    a = np.array([0.3, 1.1, 2.0])
    for name in ("element_store_used", "element_store_of_dead_array", "array_overwritten"):
        f = getattr(mod, name)
        got = srcgrad.grad(f, jit=jit)(a.copy())
        want = fd_grad_array(f, [a.copy()], (0,))[0]
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, err_msg=name)
    assert math.isfinite(srcgrad.grad(mod.element_store_used, jit=jit)(np.zeros(3))[0])
