"""Stage 6: what the adjoint tapes, and that it tapes no more than it needs."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import srcgrad

from .support import golden_functions as gf

SOURCE = '''
import math

import numpy as np

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

def triangle(x, n):
    s = 0.0
    for r in range(n):
        v = x[r]
        for c in range(r):
            v = v * 0.9 + x[c] * x[r]
        s = s + math.sin(v)
        for c in range(r + 1, n):
            s = s + x[c] * v
    return s

def recurrence(W, x):
    h = np.zeros(x.shape[1])
    for t in range(x.shape[0]):
        h = np.tanh(W @ h + x[t])
    return np.sum(h * h)

def work_arrays(a, m):
    n = a.shape[0]
    buf = np.zeros(n)
    out = np.zeros(m)
    for k in range(m):
        for i in range(n):
            buf[i] = a[i] * (k + 1.0)
        t = 0.0
        for i in range(n):
            t += math.sin(buf[i])
        out[k] = t
    return np.sum(out * out)
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
    # s (read by t = s * x) and tanh(t): a transcendental result inside a loop is
    # taped rather than recomputed in the reverse sweep
    assert g.tape_bytes(0.5, 50) == 16 * 50
    forward_sweep, reverse_sweep = g.source.split("while _k1 >= 0:")
    assert "math.tanh" in forward_sweep
    assert not [ln for ln in reverse_sweep.splitlines()
                if "math.tanh" in ln and not ln.strip().startswith("#")]


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
    # per inner step: s (read by sin) and sin(s) (taped, not recomputed) = 16 bytes;
    # per outer step: a once = 8 bytes
    assert g.tape_bytes(0.3, n) == 16 * 10 * n + 8 * n


def _fd_array(f, x, args, h=1e-6):
    out = np.zeros_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up.flat[i] += h
        down.flat[i] -= h
        out.flat[i] = (f(up, *args) - f(down, *args)) / (2 * h)
    return out


def test_bounds_from_enclosing_indices_are_recomputed_not_taped(mod):
    g = srcgrad.grad(mod.triangle)
    x = np.linspace(0.1, 0.9, 6)
    # per outer iteration: v once (it was taped twice, before sin and for the read-only
    # inner loop, until saves.drop_repeated); no trip counts, no integers
    assert g.tape_bytes(x, 6) == 8 * 6
    assert "push(_ti" not in g.source
    np.testing.assert_allclose(g(x, 6), _fd_array(mod.triangle, x, (6,)), rtol=1e-7)


def test_arrays_bound_once_get_their_adjoint_before_the_reverse_sweep(mod):
    g = srcgrad.grad(mod.work_arrays)
    a = np.array([0.3, -0.2, 0.5])
    np.testing.assert_allclose(g(a, 4), _fd_array(mod.work_arrays, a, (4,)), rtol=1e-7)
    reverse_sweep = g.source.split("_tape_bytes =")[1]
    assert "ensure(" not in reverse_sweep  # no per-element checks of the adjoint's shape
    assert "b_buf = np.zeros(buf.shape, np.float64)" in reverse_sweep


def test_each_thread_keeps_its_own_tapes(mod):
    g = srcgrad.grad(mod.carried)
    ns = [50, 3000, 700, 9000] * 3
    expected = {n: g(0.5, n) for n in set(ns)}
    got: dict[int, list[float]] = {}
    barrier = threading.Barrier(4)

    def work(k):
        barrier.wait()
        got[k] = [g(0.5, n) for n in ns[k:] + ns[:k]]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert got[k] == [expected[n] for n in ns[k:] + ns[:k]]


def test_matrix_vector_adjoints_accumulate_in_place(mod):
    g = srcgrad.grad(mod.recurrence, wrt=(0, 1))
    rng = np.random.default_rng(3)
    W, x = 0.5 * rng.normal(size=(4, 4)), rng.normal(size=(5, 4))
    gW, gx = g(W, x)
    assert "matmul_acc_a(b_W," in g.source  # no outer-product temporary per step
    np.testing.assert_allclose(gW, _fd_array(lambda w: mod.recurrence(w, x), W, ()), rtol=1e-6)
    np.testing.assert_allclose(gx, _fd_array(lambda v: mod.recurrence(W, v), x, ()), rtol=1e-6)


@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((3, 4), (4, 2)), ((4,), (4, 2))])
def test_matmul_acc_a_is_accum_of_matmul_grad_a(shapes):
    import numba

    from srcgrad.runtime import arrays as R
    rng = np.random.default_rng(len(shapes[0]) + 2 * len(shapes[1]))
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    g = rng.normal(size=np.shape(a @ b))
    acc = rng.normal(size=a.shape)
    expected = R.accum(acc.copy(), R.matmul_grad_a(g, a, b), a)
    fused = numba.njit(lambda acc, g, a, b: R.matmul_acc_a(acc, g, a, b))
    for fn in (R.matmul_acc_a, fused):
        np.testing.assert_allclose(fn(acc.copy(), g, a, b), expected, rtol=1e-14)
    zero = R.empty_adjoint(a)  # the "still zero" marker is allocated first
    np.testing.assert_allclose(fused(zero, g, a, b), R.matmul_grad_a(g, a, b), rtol=1e-14)
