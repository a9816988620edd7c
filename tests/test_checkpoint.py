"""tape_limit: checkpointed reverse sweeps.

* The binomial schedule reaches Revolve's optimum (checked against a search of every
  schedule), and every schedule reverses each unit once, in order, within its slots.
* Gradients with a limit that forces checkpointing equal the unlimited gradients (and
  finite differences) on programs with every kind of loop state and loop, including 0
  and 1 trips and loops that break; Hypothesis draws the trip counts.
* A limit too small for one iteration is an error that names the smallest limit, and
  that limit works.
"""

from __future__ import annotations

import functools
import inspect
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srcgrad
from srcgrad.errors import TapeLimitError
from srcgrad.runtime import checkpoint as ck
from srcgrad.tapelimit import parse_limit

from .support.checks import copies
from .support.corpus_checkpoint import PROGRAMS, lotka_volterra, relax
from .support.oracles import as_tuple, central_fd_grad

# the schedule ------------------------------------------------------------------------


@functools.lru_cache(None)
def _best(units: int, free: int) -> int:
    """The fewest units run forward to reverse `units` from a stored start with `free`
    more slots: a search over every split."""
    if units <= 1:
        return 0
    if free == 0:
        return units * (units - 1) // 2
    return min(j + _best(units - j, free - 1) + _best(j, free) for j in range(1, units))


def _split_cost(units: int, free: int) -> int:
    if units <= 1:
        return 0
    if free == 0:
        return units * (units - 1) // 2
    j = ck.binomial_split(units, free)
    assert 1 <= j < units
    return j + _split_cost(units - j, free - 1) + _split_cost(j, free)


def test_binomial_split_reaches_the_optimum():
    for free in range(0, 7):
        for units in range(1, 130):
            best = _best(units, free)
            assert ck.revolve_forward_steps(units, free) == best, (units, free)
            assert _split_cost(units, free) == best, (units, free)


def _simulate(n: int, slots: int, unit: int, online: bool):
    """Drive a schedule as generated code does; return (units reversed in order,
    iterations advanced by the reverse sweep, iterations the forward sweep ran to its
    last binomial checkpoint, most slots used)."""
    s = ck.ck_new(slots)
    ck.ck_begin(s, -1 if online else n, unit, 8)
    held = {0: 0}           # slot -> iteration its state is at
    if online:
        nxt = ck.ck_online_next(s)
        for j in range(n):
            if j == nxt:
                if ck.ck_full(s):
                    kept = ck.ck_thin(s)
                    held = {m: held[2 * m] for m in range(kept)}
                if ck.ck_online_due(s, j):
                    held[ck.ck_push(s, j)] = j
                nxt = ck.ck_online_next(s)
    else:
        nxt = ck.ck_plan_next(s)
        for j in range(n):
            if j == nxt:
                held[ck.ck_push(s, j)] = j
                nxt = ck.ck_plan_next(s)
    ck.ck_end(s, n)
    chain = 0 if online else int(s[12])
    reversed_, advanced = [], 0
    while True:
        what, slot, lo, mid, end = (int(v) for v in ck.ck_next(s))
        if what == 0:
            break
        assert held[slot] == lo, "restored a slot that holds another iteration"
        advanced += mid - lo
        if what == 1:
            assert end < slots
            held[end] = mid
        else:
            reversed_.append((mid, end))
    return reversed_, advanced, chain, int(s[8])


@pytest.mark.parametrize("online", [False, True])
def test_schedules_reverse_every_iteration_once_in_order(online):
    for n in (0, 1, 2, 3, 10, 37, 100):
        for slots in (1, 2, 3, 5, 40):
            for unit in (1, 3):
                done, advanced, chain, peak = _simulate(n, slots, unit, online)
                iterations = [j for lo, hi in done for j in range(hi - 1, lo - 1, -1)]
                assert iterations == list(range(n - 1, -1, -1)), (n, slots, unit)
                assert peak <= slots
                if online:
                    # evenly spaced checkpoints, half the slots left for the reverse sweep:
                    # within twice Revolve's optimum for the whole loop
                    units = -(-n // unit)
                    best = ck.revolve_forward_steps(units, min(slots, units + 1) - 1)
                    assert advanced <= 2 * best * unit + 2 * units * unit or slots < 4, \
                        (n, slots, unit, advanced, best)
                else:
                    # the forward sweep's chain plus the reverse sweep's advances: Revolve's
                    # optimum for the units and checkpoints
                    units = -(-n // unit)
                    best = ck.revolve_forward_steps(units, min(slots, units + 1) - 1)
                    assert advanced + chain == best * unit, (n, slots, unit)


# gradients -----------------------------------------------------------------------------


def _close(a, b, rtol=1e-12, atol=1e-13):
    for x, y in zip(as_tuple(a), as_tuple(b)):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


@functools.lru_cache(None)
def _grads(name: str, limit, jit: bool = True):
    fn, wrt, _ = PROGRAMS[name]
    return srcgrad.grad(fn, wrt=wrt, jit=jit, tape_limit=limit)


def _forced(name: str, args, jit: bool = True):
    """A gradient whose limit forces checkpointing: the smallest a TapeLimitError allows,
    doubled until it fits."""
    limit = 64
    while True:
        g = _grads(name, limit, jit)
        try:
            return g, g(*args)
        except TapeLimitError as exc:
            limit = max(2 * limit, int(re.search(r"need ([0-9,]+) bytes", str(exc))
                                        .group(1).replace(",", "")))
            assert limit < 1 << 24, f"{name}: no limit fits"


FAST = ["lotka_volterra", "relax", "break_early", "smooth_in_place"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow)
                                  for n in PROGRAMS])
def test_checkpointed_gradients_equal_the_taped_ones(name):
    fn, wrt, points = PROGRAMS[name]
    plain = _grads(name, None)
    for args in points:
        expected = plain(*args)
        for _ in range(2):   # the first call reverses one iteration at a time, later bigger
            g, got = _forced(name, args)
            _close(got, expected)
            info = g._ck.last
            assert info.peak_bytes <= info.limit, info


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_checkpointed_gradients_uncompiled(name):
    fn, wrt, points = PROGRAMS[name]
    for args in points[-1:]:
        expected = _grads(name, None)(*args)
        _, got = _forced(name, args, jit=False)
        _close(got, expected)


def test_checkpointed_gradient_matches_finite_differences():
    args = (2 / 3, 4 / 3, 1.0, 1.0, 1.0, 1.0, 0.01, 300)
    g = srcgrad.grad(lotka_volterra, wrt=(0, 1, 2, 3), tape_limit=400)
    fd = central_fd_grad(lotka_volterra, args, (0, 1, 2, 3))
    _close(g(*args), fd, rtol=1e-7, atol=1e-9)
    info = g.tape_info(*args)
    assert info.recomputed > 0 and info.checkpoints > 1 and info.peak_bytes <= 400


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 90), limit=st.sampled_from([200, 400, 1000]),
       x=st.floats(0.05, 1.5), cap=st.floats(0.5, 40.0))
def test_trip_counts_and_breaks(n, limit, x, cap):
    g = _grads("break_early", limit)
    plain = _grads("break_early", None)
    _close(g(x, cap, n), plain(x, cap, n))
    h = _grads("lotka_volterra", limit)
    args = (2 / 3, 4 / 3, 1.0, 1.0, x, 1.0, 0.01, n)
    _close(h(*args), _grads("lotka_volterra", None)(*args))


def test_value_and_grad_and_vjp_take_the_limit():
    args = (2.0, 1e-4)
    vg = srcgrad.value_and_grad(relax, tape_limit="1KB")
    value, grad = vg(*args)
    assert value == relax(*args)
    _close(grad, srcgrad.grad(relax)(*args))
    value, pullback = srcgrad.vjp(relax, *args, tape_limit=600)
    _close(pullback(2.0), 2.0 * srcgrad.grad(relax)(*args))


def test_too_small_a_limit_names_the_smallest_that_works():
    fn, wrt, points = PROGRAMS["smooth_in_place"]
    args = points[-1]
    g = srcgrad.grad(fn, wrt=wrt, tape_limit=100)
    with pytest.raises(TapeLimitError, match=r"Pass tape_limit=") as err:
        g(*args)
    need = int(re.search(r"need ([0-9,]+) bytes", str(err.value)).group(1).replace(",", ""))
    g2 = srcgrad.grad(fn, wrt=wrt, tape_limit=need)
    _close(g2(*args), srcgrad.grad(fn, wrt=wrt)(*args))
    with pytest.raises(TapeLimitError):
        srcgrad.grad(fn, wrt=wrt, tape_limit=need - 64)(*args)


def test_limits_parse():
    assert parse_limit("64MB") == 64 * 10**6
    assert parse_limit("1.5 GiB") == int(1.5 * 2**30)
    assert parse_limit(4096) == 4096
    for bad in ("64 parsecs", -1, "0", [1]):
        with pytest.raises(srcgrad.UsageError):
            parse_limit(bad)


def test_the_generated_source_shows_the_schedule():
    g = srcgrad.grad(lotka_volterra, wrt=(0, 1), tape_limit="1MB")
    source = g.source_for(*(2 / 3, 4 / 3, 1.0, 1.0, 1.0, 1.0, 0.01, 10))
    assert "ck_plan_next" in source and "ck_next" in source
    assert math.isfinite(g(2 / 3, 4 / 3, 1.0, 1.0, 1.0, 1.0, 0.01, 10)[0])


def test_without_a_limit_a_tape_past_the_default_runs_checkpointed(monkeypatch):
    small = (2 / 3, 4 / 3, 1.0, 1.0, 1.0, 1.0, 0.01, 500)      # 8 KB of tape: taped
    big = (2 / 3, 4 / 3, 1.0, 1.0, 1.0, 1.0, 0.001, 5000)      # 80 KB: checkpointed
    monkeypatch.setenv("SRCGRAD_TAPE_LIMIT", "none")
    expected = [_grads("lotka_volterra", None)(*a) for a in (small, big)]
    monkeypatch.setenv("SRCGRAD_TAPE_LIMIT", "20KB")
    g = srcgrad.grad(lotka_volterra, wrt=(0, 1, 2, 3))
    _close(g(*small), expected[0])
    assert g._auto_ck is None
    _close(g(*big), expected[1])
    assert g._auto_ck.last.peak_bytes <= 20_000 and g._auto_ck.last.checkpoints > 1
    assert srcgrad.tapelimit.default_limit() == 20_000


@pytest.mark.slow
def test_hvp_and_hessian_take_the_limit():
    fn, _, points = PROGRAMS["heat"]
    u, c, n = points[-1]
    v = np.cos(np.arange(u.size, dtype=float))
    expected = srcgrad.hvp(fn)(u, c, n, v)
    hv = srcgrad.hvp(fn, tape_limit="4KB")
    got = hv(u, c, n, v)
    _close(got, expected, rtol=1e-11, atol=1e-12)
    inner = next(iter(hv._grads.values()))
    assert inner._ck.last.checkpoints > 1 and inner._ck.last.peak_bytes <= 4000
    h = srcgrad.hessian(relax, tape_limit=600)(2.0, 1e-4)
    _close(h, srcgrad.hessian(relax)(2.0, 1e-4))


# the corpora: every program with a loop, with a limit that forces checkpointing --------


def _corpus_loops():
    from .support import corpus_arrays, corpus_calls, corpus_scalar
    out = []
    for corpus in (corpus_scalar, corpus_arrays, corpus_calls):
        for k, case in enumerate(corpus.CASES):
            try:
                text = inspect.getsource(case.fn)
            except (OSError, TypeError):
                continue
            if re.search(r"^\s+(for|while) ", text, flags=re.M):
                out.append(pytest.param(case, k % 5 == 0, id=f"{case.name}-"
                                        f"{'jit' if k % 5 == 0 else 'py'}"))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case, jit", _corpus_loops())
def test_corpora_with_a_limit(case, jit):
    plain = srcgrad.grad(case.fn, wrt=case.wrt, jit=jit)
    limit = 64
    for args in case.points:
        try:
            expected = plain(*copies(args))
        except srcgrad.SrcgradError:
            continue   # points the corpus expects to be refused
        while True:
            g = srcgrad.grad(case.fn, wrt=case.wrt, jit=jit, tape_limit=limit)
            try:
                got = g(*copies(args))
                break
            except TapeLimitError as exc:
                limit = max(2 * limit, int(re.search(r"need ([0-9,]+) bytes", str(exc))
                                            .group(1).replace(",", "")))
                assert limit < 1 << 26
        _close(got, expected, rtol=1e-11, atol=1e-12)
