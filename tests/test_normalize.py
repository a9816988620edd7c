"""Stage 3: normalization to the core language keeps behaviour and is one op per line."""

from __future__ import annotations

import ast

import pytest

from srcgrad.compiler.capture import capture
from srcgrad.compiler.core import is_atom, walk_stmts
from srcgrad.compiler.emit import emit_function
from srcgrad.compiler.fence import fence
from srcgrad.compiler.infer import build_python_function
from srcgrad.compiler.normalize import normalize

SOURCE = '''
import math
from math import sin as sine
import math as m

K = 0.5

def nested_expr(x, y):
    return sine(x) * m.cos(y) + x ** 2 / (1.0 + y * y) - K

def tuples(x, n):
    a, b = 0.0, 1.0
    for i in range(n):
        a, b = b, a + b * x
    c = d = a + 1.0
    return c * d

def aug(x):
    s = x
    s += 1.0
    s *= x
    s -= 0.5
    s /= 2.0
    return s

def branches(x):
    if x > 1.0 and x < 5.0 or x < -3.0:
        y = x * 2.0
    elif not x > 0.0:
        y = -x
    else:
        y = x if x > 0.5 else 0.5
    return y + (1.0 if 0.0 < x < 2.0 else 2.0)

def jumps(x, n):
    s = 0.0
    for i in range(n):
        if i == 2:
            continue
        s = s + x * i
        if s > 10.0:
            break
    j = 0
    while True:
        j += 1
        if j > 3:
            return s + j
    return s

def early(x):
    k = 0
    while x < 100.0:
        x = x * 1.7
        k += 1
        for i in range(3):
            if x > 50.0 + i:
                return x * k
    return -x

def loop_var_rebound(x, n):
    s = 0.0
    for i in range(n):
        i = i * 2
        s = s + x * i
    return s

def chained_minmax(x, y):
    return max(x, y, 0.1) + min(x, y * 2.0, 3.0) + math.hypot(x, y, 1.0) + math.log(x, 2.0)
'''

CASES = [
    ("nested_expr", [(0.3, 0.9), (2.0, -1.0)]),
    ("tuples", [(0.9, 5), (1.1, 0)]),
    ("aug", [(0.3,), (-2.0,)]),
    ("branches", [(2.0,), (-4.0,), (-1.0,), (0.7,), (0.2,), (6.0,)]),
    ("jumps", [(0.5, 6), (3.0, 6), (1.0, 0)]),
    ("early", [(3.0,), (0.5,), (200.0,)]),
    ("loop_var_rebound", [(0.5, 4)]),
    ("chained_minmax", [(0.5, 0.7), (2.0, 0.3)]),
]


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _normalized(fn):
    cap = fence(capture(fn))
    norm = normalize(cap)
    return cap, norm


@pytest.mark.parametrize("name, points", CASES, ids=[c[0] for c in CASES])
def test_normalized_function_behaves_the_same(mod, name, points):
    fn = getattr(mod, name)
    cap, norm = _normalized(fn)
    pyfn, _ = build_python_function(norm, cap)
    for args in points:
        assert pyfn(*args) == fn(*args), args


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_core_language_shape(mod, name):
    _, norm = _normalized(getattr(mod, name))
    body = norm.tree.body
    assert isinstance(body[-1], ast.Return) and is_atom(body[-1].value)
    returns = [s for s in walk_stmts(body) if isinstance(s, ast.Return)]
    assert returns == [body[-1]], "one exit"
    for stmt in walk_stmts(body):
        assert getattr(stmt, "srcline", None), f"statement without user line: {ast.dump(stmt)}"
        if isinstance(stmt, ast.Assign):
            assert len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            value = stmt.value
            if isinstance(value, ast.BinOp):
                assert is_atom(value.left) and is_atom(value.right)
            elif isinstance(value, ast.UnaryOp):
                assert is_atom(value.operand)
            elif isinstance(value, ast.Compare):
                assert len(value.ops) == 1
                assert is_atom(value.left) and is_atom(value.comparators[0])
            elif isinstance(value, ast.Call):
                assert all(is_atom(a) for a in value.args)
                assert not (value.func.__class__ is ast.Name
                            and value.func.id in ("sine",)), "aliases resolved"
            else:
                assert is_atom(value), ast.dump(value)
        elif isinstance(stmt, (ast.If, ast.While)):
            assert isinstance(stmt.test, ast.Name)
        elif isinstance(stmt, ast.For):
            assert stmt.iter.func.id == "range"
            assert all(is_atom(a) for a in stmt.iter.args)
        elif isinstance(stmt, ast.Break):
            pass
        else:
            assert isinstance(stmt, ast.Return)


def test_breaks_survive_only_at_loop_end(mod):
    _, norm = _normalized(mod.jumps)
    for stmt in walk_stmts(norm.tree.body):
        if isinstance(stmt, (ast.For, ast.While)):
            inner = [s for s in walk_stmts(stmt.body) if isinstance(s, ast.Break)]
            # the last statement, or for while loops the last before the re-evaluated test
            last = [s for s in stmt.body if not isinstance(s, ast.Assign)][-1]
            own = [s for s in last.body if isinstance(s, ast.Break)] \
                if isinstance(last, ast.If) else []
            nested = [s for s in walk_stmts(stmt.body)
                      if isinstance(s, (ast.For, ast.While))]
            nested_breaks = [b for n in nested for b in walk_stmts(n.body)
                             if isinstance(b, ast.Break)]
            assert len(inner) == len(own) + len(nested_breaks)


def test_aliases_become_canonical_names(mod):
    cap, norm = _normalized(mod.nested_expr)
    text = emit_function(norm.tree).text
    assert "math.sin(x)" in text and "math.cos(y)" in text
    assert "sine" not in text and "m.cos" not in text


def test_tuple_swap_reads_before_writing(mod):
    cap, norm = _normalized(mod.tuples)
    text = emit_function(norm.tree).text
    # `a, b = b, a + b * x` must copy b before a is overwritten
    assert "a = _t" in text


def test_temporaries_are_numbered_in_order(mod):
    _, norm = _normalized(mod.nested_expr)
    text = emit_function(norm.tree).text
    first_defs = [line.split("=")[0].strip() for line in text.splitlines()
                  if line.strip().startswith("_t") and "=" in line]
    numbers = [int(name[2:]) for name in first_defs]
    assert numbers == sorted(numbers)


def test_comments_quote_the_user_lines(mod):
    cap, norm = _normalized(mod.aug)
    text = emit_function(norm.tree, cap.line_text).text
    start = mod.aug.__code__.co_firstlineno
    assert f"# line {start + 2}: s += 1.0" in text
    assert f"# line {start + 5}: s /= 2.0" in text
