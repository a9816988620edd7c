"""Stages 1 and 8: capture keeps the user's lines; emit writes readable source."""

from __future__ import annotations

import ast

import pytest

import srcgrad
from srcgrad.compiler.capture import capture
from srcgrad.compiler.emit import Emitter, unparse

SOURCE = '''
import math
import math as m
from math import sin

SCALE = 3.0
COUNT = 4


def make(offset):
    def inner(x):
        return sin(x) * SCALE + m.cos(x) * COUNT + offset
    return inner


def identity(f):
    return f


@identity
def decorated(x):
    return x * 2.0
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def test_capture_resolves_aliases_globals_and_closures(mod):
    cap = capture(mod.make(0.25))
    assert cap.filename == mod.__file__
    assert cap.functions["sin"] == "math.sin"
    assert cap.modules["m"] == "math"
    assert cap.constants == {"SCALE": 3.0, "COUNT": 4, "offset": 0.25}
    assert cap.tree.lineno == 11  # the file's line, not the snippet's
    assert cap.line_text(12) == "return sin(x) * SCALE + m.cos(x) * COUNT + offset"


def test_closure_constants_are_read_as_constants(mod):
    f = mod.make(0.25)
    value, grad = srcgrad.value_and_grad(f)(0.5)
    assert value == pytest.approx(f(0.5), rel=1e-14)
    import math
    assert grad == pytest.approx(3.0 * math.cos(0.5) - 4 * math.sin(0.5), rel=1e-14)
    assert "offset = 0.25" in srcgrad.grad(f).source


def test_decorators_are_dropped(mod):
    cap = capture(mod.decorated)
    assert cap.tree.decorator_list == []


def test_negative_constants_keep_their_meaning():
    expr = ast.BinOp(ast.Constant(-2.0), ast.Pow(), ast.Constant(2))
    text = unparse(expr)
    assert eval(text) == 4.0


def test_comments_quote_user_lines_once_per_change():
    lines = {5: "y = x * 2", 6: "return y"}
    em = Emitter(lambda n: lines[n])
    fn = ast.parse("def f(x):\n    y = x * 2\n    z = y\n    return z").body[0]
    fn.body[0].srcline = 5
    fn.body[1].srcline = 5
    fn.body[2].srcline = 6
    em.function(fn)
    text = "\n".join(em.out.lines)
    assert text.count("# line 5: y = x * 2") == 1
    assert "# line 6: return y" in text
    assert em.out.linemap[em.out.lines.index("    y = x * 2")] == 5


def test_generated_module_names_its_origin(mod):
    src = srcgrad.grad(mod.decorated).source
    assert f"{mod.__file__}:" in src.splitlines()[0]
    compile(src, "<generated>", "exec")  # valid Python
