"""Programs with long loops for the checkpointing tests (tape_limit): each kind of loop
state (floats, integers, booleans, arrays rebound and arrays written in place), `for`
loops with a known trip count and with a break, `while` loops, nested loops, and two
loops in a row."""

from __future__ import annotations

import math

import numpy as np

from .golden_functions import lotka_volterra  # the golden tests' copy


def relax(x, tol):
    """A while loop whose trip count depends on the value."""
    s = x
    k = 0
    while abs(s) > tol:
        s = math.sin(s) * 0.9
        k += 1
    return s + k * x


def heat(u, c, n):
    """A stencil that rebinds its array each step."""
    for t in range(n):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + c * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = u_new
    return np.sum(u * u)


def smooth_in_place(u, c, n):
    """An array written in place, never rebound (restored in place)."""
    v = u.copy()
    for t in range(n):
        for j in range(1, v.shape[0] - 1):
            v[j] = v[j] + c * (v[j - 1] - 2.0 * v[j] + v[j + 1])
    return np.sum(v * v) + v[0]


def break_early(x, limit, n):
    """A for loop that may break: its trip count is known only at the end."""
    s = x
    steps = 0
    for i in range(n):
        s = s * 1.05 + 0.01 * math.sin(s + i)
        steps += 1
        if s > limit:
            break
    return s * steps


def branchy(x, w, n):
    """Branch decisions, an integer and a boolean carried across iterations."""
    s = x
    flip = False
    count = 0
    for i in range(2, n + 2, 1):
        if flip:
            s = s * w + 0.1
            count += 1
        else:
            s = math.tanh(s) + w / i
        flip = not flip
    return s + 0.01 * count


def two_loops(x, n, m):
    """Two top-level loops, the second reading the first's result."""
    a = x
    for i in range(n):
        a = a - 0.1 * math.sin(a)
    b = a
    k = 0
    while k < m:
        b = b * a * 0.5 + 0.3
        k += 1
    return a + b


def strided(x, w, lo, hi):
    """A range with a start and a step."""
    s = 0.0
    v = x
    for i in range(hi, lo, -3):
        v = math.cos(v) * w + 0.01 * i
        s = s + v * v
    return s


def rnn(W, x0, xs):
    """An array state (the hidden vector) carried through a matrix product each step."""
    h = x0.copy()
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
        loss = loss + np.sum(h * h)
    return loss


def _rng(seed):
    return np.random.default_rng(seed)


# name -> (function, wrt, argument tuples)
PROGRAMS = {
    "lotka_volterra": (lotka_volterra, (0, 1, 2, 3),
                       [(2 / 3, 4 / 3, 1.0, 1.0, 1.0, 1.0, 10.0 / max(n, 1), n)
                        for n in (0, 1, 2, 3, 57, 400)]),
    "relax": (relax, 0, [(2.0, 1e-3), (0.5, 1e-6), (1e-4, 1e-3)]),
    "heat": (heat, (0, 1), [(np.sin(np.linspace(0, np.pi, 12)), 0.2, n) for n in (0, 1, 40)]),
    "smooth_in_place": (smooth_in_place, (0, 1),
                        [(np.cos(np.linspace(0, 2, 9)), 0.2, n) for n in (0, 1, 30)]),
    "break_early": (break_early, 0, [(0.3, 2.0, 200), (0.3, 50.0, 30), (3.0, 2.0, 10)]),
    "branchy": (branchy, (0, 1), [(0.4, 0.7, n) for n in (0, 1, 5, 80)]),
    "two_loops": (two_loops, 0, [(1.3, 60, 45), (0.7, 0, 3), (0.2, 5, 0)]),
    "strided": (strided, (0, 1), [(0.3, 0.8, -2, 200), (0.1, 0.5, 5, 7)]),
    "rnn": (rnn, (0, 1), [(0.3 * _rng(1).standard_normal((4, 4)), _rng(2).standard_normal(4),
                           _rng(3).standard_normal((n, 4))) for n in (0, 1, 25)]),
}
