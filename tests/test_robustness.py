"""Robustness: edge-case inputs, long loops, concurrency of first calls and the disk cache."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import srcgrad

SOURCE = '''
import math
import numpy as np

def loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i) * 1e-3
    return s + x

def arr(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i] + math.tanh(x[i])
    return s + np.sum(x)

def writes(x):
    y = x.copy()
    for i in range(x.shape[0]):
        y[i] = y[i] * 2.0 + x[i]
    return np.sum(y * y)

def fma(x, y):
    return x * y + math.log1p(x * x)

def domain(x, n):
    s = 0.0
    for i in range(n):
        s += math.log(x - i)
    return s

def long_carry(x, n):
    s = x
    for i in range(n):
        s = s * 0.9999999 + 1e-7
    return s
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def test_zero_trip_loops(mod):
    assert srcgrad.grad(mod.loop)(0.3, 0) == 1.0
    np.testing.assert_array_equal(srcgrad.grad(mod.arr)(np.zeros(0)), np.zeros(0))


def test_ten_million_iterations_grow_the_tape_once(mod):
    g = srcgrad.value_and_grad(mod.long_carry)
    value, d = g(1.0, 10_000_000)
    assert value == pytest.approx(mod.long_carry(1.0, 10_000_000), rel=1e-12)
    assert d == pytest.approx(0.9999999 ** 10_000_000, rel=1e-9)
    assert g.tape_bytes(1.0, 10_000_000) == 0  # s * c needs no value: nothing taped


def test_nan_and_inf_propagate_and_never_raise(mod):
    g = srcgrad.grad(mod.fma, wrt=(0, 1))
    gx, gy = g(float("nan"), 1.0)
    assert math.isnan(gx) and math.isnan(gy)
    gx, gy = g(float("inf"), 2.0)  # d/dx = y + 2x / (1 + x^2) is inf / inf; d/dy = x
    assert math.isnan(gx) and gy == math.inf
    out = srcgrad.grad(mod.arr)(np.array([1.0, np.nan, 2.0]))
    assert np.isnan(out[1]) and np.isfinite(out[0])


def test_int_argument_asked_for_a_gradient_is_a_clear_error(mod):
    with pytest.raises(srcgrad.UsageError, match="write 2.0, not 2"):
        srcgrad.grad(mod.fma)(2, 1.0)


def test_non_contiguous_read_only_and_float32_inputs(mod):
    base = np.arange(12.0).reshape(3, 4) / 10.0
    strided = base[:, 1]                      # non-contiguous view
    readonly = np.linspace(0.1, 0.9, 4)
    readonly.flags.writeable = False
    for x in (strided, readonly):
        before = x.copy()
        for fn in (mod.arr, mod.writes):
            got = srcgrad.grad(fn)(x)
            h = 1e-6
            fd = np.array([(fn(x + h * e) - fn(x - h * e)) / (2 * h) for e in np.eye(x.size)])
            np.testing.assert_allclose(got, fd, rtol=1e-7, atol=1e-9)
        np.testing.assert_array_equal(x, before)  # never mutated
    x32 = np.linspace(0.1, 0.9, 4).astype(np.float32)
    g32 = srcgrad.grad(mod.writes)(x32)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, srcgrad.grad(mod.writes)(x32.astype(np.float64)), rtol=1e-5)


def test_many_threads_calling_a_new_gradient_at_once(mod):
    g = srcgrad.grad(mod.loop)
    results, errors = [], []
    barrier = threading.Barrier(6)

    def work():
        try:
            barrier.wait()
            results.append(g(0.3, 100))
        except Exception as exc:
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert results[0] == pytest.approx(1.0 + sum(math.cos(0.3 * i) * i * 1e-3 for i in range(100)))


@pytest.mark.slow
def test_two_processes_sharing_an_empty_disk_cache(tmp_path):
    (tmp_path / "user_fn.py").write_text(textwrap.dedent("""
        import math
        def f(x, n):
            s = 0.0
            for i in range(n):
                s = s * 0.5 + math.sin(x + i)
            return s
    """))
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import srcgrad, user_fn
        print(repr(srcgrad.grad(user_fn.f)(0.7, 50)))
    """)
    env = {**os.environ, "SRCGRAD_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert len({out for out, _ in outs}) == 1
    # a fourth process reads the cache the others wrote
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout == outs[0][0]


def test_an_exception_in_uncompiled_generated_code_names_the_users_line(mod):
    with pytest.raises(ValueError, match="math domain error") as info:
        srcgrad.grad(mod.domain, jit=False)(2.5, 5)
    note = " ".join(getattr(info.value, "__notes__", []))
    assert mod.__file__ in note and "s += math.log(x - i)" in note
    line = SOURCE.splitlines().index("        s += math.log(x - i)") + 1
    assert f"{mod.__file__}:{line}:" in note
