"""First calls: the disk cache of generated modules, compiling ahead of time (.compile,
``srcgrad warmup``), the note on stderr for a slow first call, and ``.njit`` called from
Numba code. Times are measured in bench/first_call.py, not here."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numba
import numpy as np
import pytest

import srcgrad
from srcgrad.cli import main as cli_main
from srcgrad.compiler import cache, jit, pipeline
from srcgrad.errors import UsageError

SOURCE = '''
import numpy as np

SCALE = np.array([1.0, 2.0, 3.0])


def loss(w, X, y):
    r = X @ (w * SCALE) - y
    return 0.5 * np.sum(r * r)


def sq(x):
    return x * x * 3.0 + x


def two(a, b):
    return a * a * b + b
'''


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SRCGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("SRCGRAD_DISK_CACHE", raising=False)
    monkeypatch.delenv("SRCGRAD_PRINT_AFTER", raising=False)
    return tmp_path


@pytest.fixture()
def generations(monkeypatch):
    """How many times stages types..emit ran (not read from the disk cache)."""
    runs = []
    real = pipeline._generate

    def counted(*args):
        runs.append(args[0].name)
        return real(*args)

    monkeypatch.setattr(pipeline, "_generate", counted)
    return runs


def _args():
    rng = np.random.default_rng(0)
    return rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)


def test_a_second_generation_reads_the_disk_cache(make_module, fresh_cache, generations):
    mod = make_module(SOURCE)
    w, X, y = _args()
    first = srcgrad.grad(mod.loss, jit=False)(w, X, y)
    assert generations == ["loss"]
    # a new gradient object (as in a new process) finds the module on disk
    again = srcgrad.grad(mod.loss, jit=False)(w, X, y)
    assert generations == ["loss"]
    np.testing.assert_array_equal(first, again)
    want = X.T @ (X @ (w * mod.SCALE) - y) * mod.SCALE
    np.testing.assert_allclose(first, want, rtol=1e-12)
    assert list((fresh_cache / "generated").glob("*.pkl"))


def test_the_key_holds_what_the_module_depends_on(make_module, fresh_cache, generations):
    mod = make_module(SOURCE)
    w, X, y = _args()
    srcgrad.grad(mod.loss, jit=False)(w, X, y)
    srcgrad.grad(mod.loss, wrt=(0, 1), jit=False)(w, X, y)       # another wrt
    srcgrad.grad(mod.loss, jit=False)(w.astype(np.float32), X, y)  # other types
    srcgrad.vjp(mod.loss, w, X, y, jit=False)                     # another mode
    assert generations == ["loss"] * 4
    mod.SCALE = np.array([1.0, 2.0, 4.0])                      # a constant's new value
    g = srcgrad.grad(mod.loss, jit=False)(w, X, y)
    assert len(generations) == 5
    np.testing.assert_allclose(g, X.T @ (X @ (w * mod.SCALE) - y) * mod.SCALE, rtol=1e-12)


def test_the_disk_cache_can_be_turned_off(make_module, fresh_cache, generations, monkeypatch):
    monkeypatch.setenv("SRCGRAD_DISK_CACHE", "0")
    mod = make_module(SOURCE)
    srcgrad.grad(mod.sq, jit=False)(2.0)
    srcgrad.grad(mod.sq, jit=False)(2.0)
    assert generations == ["sq", "sq"]


def test_a_damaged_entry_is_generated_again(make_module, fresh_cache, generations):
    mod = make_module(SOURCE)
    srcgrad.grad(mod.sq, jit=False)(2.0)
    for entry in (fresh_cache / "generated").glob("*.pkl"):
        entry.write_bytes(b"not a pickle")
    assert srcgrad.grad(mod.sq, jit=False)(2.0) == 13.0
    assert generations == ["sq", "sq"]


def test_compile_ahead_of_time_then_njit_from_numba_code(make_module):
    mod = make_module(SOURCE)
    g = srcgrad.value_and_grad(mod.two, wrt=(0, 1))
    assert g.compile(1.5, 2.0) is g
    assert g.compiled_for() == [(numba.float64, numba.float64)]
    fn = g.njit

    @numba.njit
    def descend(a, b, steps):
        total = 0.0
        for _ in range(steps):
            value, (da, db) = fn(a, b)
            total += value
            a -= 0.01 * da
            b -= 0.01 * db
        return a, b, total

    a, b, total = descend(1.5, 2.0, 3)
    # the same three steps in Python, with the derivatives written out
    ea, eb, et = 1.5, 2.0, 0.0
    for _ in range(3):
        et += ea * ea * eb + eb
        ea, eb = ea - 0.01 * 2 * ea * eb, eb - 0.01 * (ea * ea + 1)
    assert math.isclose(a, ea, rel_tol=1e-12) and math.isclose(b, eb, rel_tol=1e-12)
    assert math.isclose(total, et, rel_tol=1e-12)


def test_njit_needs_argument_types_first(make_module):
    mod = make_module(SOURCE)
    with pytest.raises(UsageError, match="compile"):
        _ = srcgrad.grad(mod.sq).njit
    g = srcgrad.grad(mod.sq, jit=False)
    g(1.0)
    with pytest.raises(UsageError, match="jit=True"):
        _ = g.njit


def test_a_slow_first_call_says_what_it_compiles(capsys, monkeypatch):
    monkeypatch.setattr(jit, "ANNOUNCE_AFTER_S", 0.05)
    monkeypatch.delenv("SRCGRAD_QUIET", raising=False)
    with jit.announce_slow("grad of f wrt x", (np.zeros((2, 3)), 1.0)):
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "compiling the grad of f wrt x for (float64[:, :], float)" in err
    with jit.announce_slow("grad of f wrt x", (1.0,)):   # fast: nothing said
        pass
    time.sleep(0.1)
    monkeypatch.setenv("SRCGRAD_QUIET", "1")
    with jit.announce_slow("grad of f wrt x", (1.0,)):
        time.sleep(0.2)
    assert capsys.readouterr().err == ""


def test_warmup_command(tmp_path, capsys):
    (tmp_path / "model.py").write_text(
        "import srcgrad\n\n\ndef sq(x):\n    return x * x\n\n\n"
        "ready = srcgrad.grad(sq, jit=False).compile(1.0)\n"
        "later = srcgrad.grad(sq, jit=False)\n\n\n"
        "def srcgrad_warmup():\n    later.compile(2.0)\n")
    assert cli_main(["warmup", str(tmp_path / "model.py")]) == 0
    out = capsys.readouterr().out
    assert "2 derivative(s)" in out
    assert "ready: <srcgrad.grad of sq wrt x> compiled for (float64)" in out
    assert "later: <srcgrad.grad of sq wrt x> compiled for (float64)" in out
    (tmp_path / "lazy.py").write_text(
        "import srcgrad\n\n\ndef sq(x):\n    return x * x\n\n\nlazy = srcgrad.grad(sq)\n")
    assert cli_main(["warmup", str(tmp_path / "lazy.py")]) == 1
    assert "lazy.compile(example arguments)" in capsys.readouterr().out


@pytest.mark.slow
def test_a_warm_process_generates_nothing(tmp_path):
    """Two fresh processes on one cache folder: the second reads the generated module
    and Numba's machine code from disk (no stage types, no compile)."""
    (tmp_path / "user.py").write_text(SOURCE)
    script = (
        "import sys, numpy as np, srcgrad\n"
        "from srcgrad.compiler import pipeline\n"
        "import user\n"
        "runs = []\n"
        "real = pipeline._generate\n"
        "pipeline._generate = lambda *a: runs.append(1) or real(*a)\n"
        "w, X, y = np.ones(3), np.ones((5, 3)), np.zeros(5)\n"
        "g = srcgrad.grad(user.loss)(w, X, y)\n"
        "print(len(runs), g.sum())\n")
    env = {"SRCGRAD_CACHE_DIR": str(tmp_path / "cache"),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(tmp_path)}
    import os
    env = {**os.environ, **env}
    outs = [subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    assert outs[0][0] == "1" and outs[1][0] == "0"
    assert outs[0][1] == outs[1][1]
    assert cache.enabled()
