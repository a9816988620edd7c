"""Stages 4 and 5: Numba's types decide activity; stability decides taping."""

from __future__ import annotations

import ast

import pytest
from numba import types as nbt

from srcgrad.compiler.analyze import analyze
from srcgrad.compiler.capture import capture
from srcgrad.compiler.core import walk_stmts
from srcgrad.compiler.fence import fence
from srcgrad.compiler.infer import infer_types
from srcgrad.compiler.normalize import normalize
from srcgrad.errors import TypeInferenceError

SOURCE = '''
import math

def mixed(x, n):
    s = 0
    k = n // 2
    flag = x > 0.0
    for i in range(n):
        s = s + x * i
        k = k + 1
    unused = math.sin(x)
    const = 3.0
    return s * k + const

def loop(x, y, n):
    a = y * 2.0
    for i in range(n):
        t = a * x
        x = t + 1.0
    b = a * a
    return x + b

def bad_types(x):
    y = x + "a"
    return y
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _typed(fn, arg_types):
    cap = fence(capture(fn))
    norm = normalize(cap)
    return cap, norm, infer_types(norm, cap, arg_types)


def test_numba_types_are_read_per_variable(mod):
    _, _, typed = _typed(mod.mixed, (nbt.float64, nbt.int64))
    assert typed.types["s"] == nbt.float64  # int at first, unified to float
    assert typed.types["k"] == nbt.int64
    assert typed.types["i"] == nbt.int64
    assert typed.types["flag"] == nbt.boolean
    assert typed.return_type == nbt.float64
    assert typed.kind("k") == "i" and typed.kind("flag") == "b" and typed.kind("s") == "f"


def test_ints_and_bools_are_never_active_and_useless_floats_are_not(mod):
    _, norm, typed = _typed(mod.mixed, (nbt.float64, nbt.int64))
    ana = analyze(norm.tree, typed, ["x"], norm.tree.body[-1].value.id)
    assert {"x", "s"} <= ana.active
    assert not {"k", "i", "n", "flag"} & ana.active
    assert "unused" not in ana.active  # varied but not useful
    assert "const" not in ana.active   # useful but not varied


def test_stability(mod):
    _, norm, typed = _typed(mod.loop, (nbt.float64, nbt.float64, nbt.int64))
    ana = analyze(norm.tree, typed, ["x", "y"], norm.tree.body[-1].value.id)
    loop = next(s for s in walk_stmts(norm.tree.body) if isinstance(s, ast.For))
    inside = ana.pos(loop.body[0])
    # `a` is written once before the loop: stable inside it; `x` is rewritten in it
    assert ana.stable("a", inside, [loop])
    assert not ana.stable("x", inside, [loop])
    assert ana.stable("y", inside, [loop])
    after = ana.pos(next(s for s in norm.tree.body
                         if isinstance(s, ast.Assign) and s.targets[0].id == "b"))
    assert ana.stable("x", after, [])  # nothing writes x after the loop


def test_type_errors_point_at_the_user_line(mod):
    with pytest.raises(TypeInferenceError) as info:
        _typed(mod.bad_types, (nbt.float64,))
    err = info.value
    # the fence rejects str constants first; bypass it to reach Numba's typing
    assert err.filename == mod.__file__
    assert err.lineno == mod.bad_types.__code__.co_firstlineno + 1, str(err)


@pytest.fixture(autouse=True)
def _allow_strings(monkeypatch, request):
    if request.node.name.startswith("test_type_errors"):
        import srcgrad.compiler.fence as fence_mod
        monkeypatch.setattr(fence_mod, "_check_expr", lambda cap, expr: None)
