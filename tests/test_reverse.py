"""Stage 6: what the adjoint tapes, and that it tapes no more than it needs."""

from __future__ import annotations

import pytest

import srcgrad

from . import golden_functions as gf

SOURCE = '''
import math

def branch_in_loop(x, n):
    s = 0.0
    for i in range(n):
        if math.sin(x * i) > 0.0:
            s = s + x * i
        else:
            s = s - x
    return s

def straight(x, y):
    a = x * y
    b = math.sin(a) * x
    return a * b

def while_in_for(x, n):
    s = x
    for i in range(n):
        while s < 10.0 * (i + 1):
            s = s * 1.5 + 0.1
    return s

def read_only_in_inner(x, n):
    s = 0.0
    a = x
    for i in range(n):
        for j in range(10):
            s = s + a * math.sin(s)
        a = a * 1.1
    return s

def carried(x, n):
    s = 1.0
    for i in range(n):
        t = s * x
        s = math.tanh(t) + s
    return s
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def test_lotka_volterra_tapes_two_floats_per_step():
    g = srcgrad.grad(gf.lotka_volterra, wrt=(0, 1, 2, 3))
    args = (1.1, 0.4, 0.1, 0.4, 10.0, 10.0, 0.01)
    assert g.tape_bytes(*args, 1000) == 16 * 1000
    assert g.tape_bytes(*args, 10) == 16 * 10
    # the products beta*x and delta*x are recomputed, not taped
    reverse_sweep = g.source.split("_tape_bytes =")[1]
    assert "_t2 = beta * x" in reverse_sweep


def test_d2l_example_needs_no_tape():
    g = srcgrad.grad(gf.d2l_control_flow)
    assert g.tape_bytes(0.3) == 0
    assert "push(" not in g.source


def test_straight_line_code_needs_no_tape(mod):
    g = srcgrad.grad(mod.straight, wrt=(0, 1))
    assert g.tape_bytes(0.3, 0.5) == 0


def test_branch_decisions_cost_one_byte_per_iteration(mod):
    g = srcgrad.grad(mod.branch_in_loop)
    assert g.tape_bytes(0.3, 100) == 100
    assert g.tape_bytes(0.3, 0) == 0


def test_while_trip_counts_are_taped_per_entry(mod):
    g = srcgrad.grad(mod.while_in_for)
    # s * 1.5 + 0.1 needs no value in reverse: only the inner trip count is taped,
    # one int per outer iteration
    n = 7
    assert g.tape_bytes(0.5, n) == 8 * n


def test_loop_carried_value_is_taped_once_per_iteration(mod):
    g = srcgrad.grad(mod.carried)
    assert g.tape_bytes(0.5, 50) == 8 * 50


def test_gradients_are_right_where_tapes_are_small(mod):
    def fd(f, args, h=1e-6):
        a = list(args)
        a[0] += h
        up = f(*a)
        a[0] -= 2 * h
        return (up - f(*a)) / (2 * h)

    for fn, args in ((mod.branch_in_loop, (0.3, 20)), (mod.while_in_for, (0.5, 7)),
                     (mod.carried, (0.5, 50)), (mod.straight, (0.3, 0.5))):
        assert srcgrad.grad(fn)(*args) == pytest.approx(fd(fn, args), rel=1e-6, abs=1e-9)


def test_value_unchanged_by_an_inner_loop_is_taped_once_per_entry(mod):
    g = srcgrad.grad(mod.read_only_in_inner)
    n = 5
    # per inner step: s (read by sin) = 8 bytes; per outer step: a once = 8 bytes
    assert g.tape_bytes(0.3, n) == 8 * 10 * n + 8 * n
