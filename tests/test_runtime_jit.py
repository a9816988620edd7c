"""Stages 9 and 10: the tape helpers and the compile cache."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import srcgrad
from srcgrad.compiler import jit as jitmod
from srcgrad.runtime import pop, push, range_len, tape_b, tape_f, tape_i


def _roundtrip(n):
    buf = tape_f(n)
    ibuf = tape_i(n)
    bbuf = tape_b(n)
    top = itop = btop = 0
    for k in range(n):
        top = push(buf, top, k * 0.5)
        itop = push(ibuf, itop, k)
        btop = push(bbuf, btop, k % 2 == 0)
    total = 0.0
    for k in range(n - 1, -1, -1):
        v, top = pop(buf, top)
        i, itop = pop(ibuf, itop)
        b, btop = pop(bbuf, btop)
        if v != k * 0.5 or i != k or b != (k % 2 == 0):
            return -1.0
        total += v
    return total if top == 0 and itop == 0 and btop == 0 else -2.0


@pytest.mark.parametrize("compiled", [False, True])
def test_tape_is_a_stack(compiled):
    fn = numba.njit(_roundtrip) if compiled else _roundtrip
    assert fn(1000) == sum(k * 0.5 for k in range(1000))


@pytest.mark.parametrize("compiled", [False, True])
def test_push_past_the_end_counts_without_writing_outside_the_buffer(compiled):
    def fill(buf, n):
        top = 0
        for k in range(n):
            top = push(buf, top, k + 1.0)
        return top
    fn = numba.njit(fill) if compiled else fill
    outer = np.zeros(8)
    buf = outer[2:5]  # a view: writes past its end would show in outer
    assert fn(buf, 7) == 7
    assert list(outer) == [0.0, 0.0, 1.0, 2.0, 7.0, 0.0, 0.0, 0.0]


def test_a_small_tape_is_retried_with_room_and_then_kept(make_module):
    mod = make_module(
        "def f(x, n):\n"
        "    for i in range(n):\n"
        "        x = x * 0.5 + 1.0 / x\n"
        "    return x\n")
    g = srcgrad.grad(mod.f, jit=False)
    calls = []
    built = g._specialize(g._types((1.5, 3)))
    inner = built.fn

    def counting(*args):
        calls.append(len(args[-1]))
        return inner(*args)
    built.fn = counting
    expected = g(1.5, 5000)
    assert calls == [4096, 5000 + 5000 // 8], calls  # first too small: one retry
    calls.clear()
    assert g(1.5, 5000) == expected and calls == [5625]  # the buffer is kept
    # against the closed form of the derivative, by the chain rule, step by step
    x, d = 1.5, 1.0
    for _ in range(5000):
        x, d = x * 0.5 + 1.0 / x, d * (0.5 - 1.0 / (x * x))
    assert expected == pytest.approx(d, rel=1e-12)


@pytest.mark.parametrize("args", [(0, 10, 1), (0, 10, 3), (10, 0, -1), (10, 0, -3),
                                  (5, 5, 1), (5, 2, 1), (2, 5, -1), (-4, 7, 2)])
def test_range_len(args):
    assert range_len(*args) == len(range(*args))


def test_generated_module_is_a_real_file_under_a_content_hash(make_module, tmp_path,
                                                              monkeypatch):
    monkeypatch.setenv("SRCGRAD_CACHE_DIR", str(tmp_path / "cache"))
    mod = make_module("def f(x):\n    return x * x * 3.0\n")
    g = srcgrad.grad(mod.f)
    assert g(2.0) == 12.0
    files = list((tmp_path / "cache").glob("srcgrad_f_*.py"))
    assert len(files) == 1
    assert files[0].read_text() == g.source
    assert jitmod.source_hash(g.source) in files[0].name


def test_numba_disk_cache_is_written(make_module, tmp_path, monkeypatch):
    monkeypatch.setenv("SRCGRAD_CACHE_DIR", str(tmp_path / "cache2"))
    mod = make_module("def f2(x):\n    return x * x * 5.0\n")
    assert srcgrad.grad(mod.f2)(1.0) == 10.0
    cached = list((tmp_path / "cache2").rglob("*.nbi"))
    assert cached, "Numba's cache index should sit next to the generated module"


def test_compiled_functions_are_shared(make_module):
    mod = make_module("def f3(x):\n    return x * 7.0\n")
    a = srcgrad.grad(mod.f3)
    b = srcgrad.grad(mod.f3)
    a(1.0)
    b(1.0)
    assert a._last.fn is b._last.fn


def test_one_specialization_per_signature(make_module):
    mod = make_module("def f4(x, k):\n    return x * k\n")
    g = srcgrad.grad(mod.f4)
    assert g(2.0, 3) == 3.0
    assert g(2.0, 3.5) == 3.5
    assert g(np.float32(2.0), 3) == np.float32(3.0)
    assert len(g._specs) == 3
