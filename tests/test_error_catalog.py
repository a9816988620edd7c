"""docs/errors.md is a catalog: one row per error class, and one test per row here."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import srcgrad
from srcgrad import errors

from .support.corpus_checkpoint import relax

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

SOURCE = '''
import math
import numpy as np
import srcgrad

@srcgrad.custom_vjp
def ruleless(x):
    return x * 2.0

def uses_frexp(x):
    return math.frexp(x)[0] * x

def uses_ruleless(x):
    return ruleless(x) + x

def untypable(x):
    return math.sin(np.ones(3)) + x

def array_out(x):
    return x * np.ones(3)

def tuple_syntax(x):
    s = {x}
    return x

def two(x, y):
    return x * y

def carried_before_assigned(x, n):
    s = x
    for i in range(n):
        if i > 0:
            s = s + 0.5 * prev
        prev = math.sin(s)
    return s

def rebinds_iterated(x):
    s = 0.0
    for v in x:
        s = s + v
        x = x * 2.0
    return s
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _line(text: str) -> int:
    return SOURCE.splitlines().index(text) + 1


def _documented() -> set[str]:
    return set(re.findall(r"^\| `(\w+)` \|", DOC.read_text(), flags=re.M))


def test_every_error_class_has_a_row_and_every_row_a_class():
    classes = {name for name, obj in vars(errors).items()
               if isinstance(obj, type) and issubclass(obj, errors.SrcgradError)
               and obj not in (errors.SrcgradError, errors.SourceError)}
    classes.add("InternalError")
    assert _documented() == classes


def test_unsupported_syntax(mod):
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="set") as info:
        srcgrad.grad(mod.tuple_syntax)
    assert info.value.lineno == _line("    s = {x}") and info.value.hint


def test_unsupported_rebinding_of_the_iterated_array(mod):
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="rebinds 'x'") as info:
        srcgrad.grad(mod.rebinds_iterated)(np.ones(3))
    assert info.value.lineno == _line("    for v in x:") and "range(len(x))" in info.value.hint


def test_unsupported_read_before_any_assignment(mod):
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="'prev' may be read before") as info:
        srcgrad.grad(mod.carried_before_assigned, jit=False)(0.4, 3)
    assert info.value.lineno == _line("            s = s + 0.5 * prev")
    assert "before the loop" in info.value.hint


def test_missing_forward_rule_for_a_custom_vjp(make_module):
    m = make_module('''
import srcgrad

@srcgrad.custom_vjp
def twice(x):
    return x * 2.0

@twice.defvjp
def twice_vjp(g, ans, x):
    return (2.0 * g,)

def uses(x):
    return twice(x) + x
''')
    assert srcgrad.grad(m.uses)(1.5) == 3.0
    with pytest.raises(srcgrad.MissingRuleError, match="forward-mode") as info:
        srcgrad.jvp(m.uses, (1.5,), (1.0,))
    assert "mode='rev'" in info.value.hint


@pytest.mark.parametrize("fn, name", [("uses_frexp", "math.frexp"), ("uses_ruleless", "ruleless")])
def test_missing_rule(mod, fn, name):
    with pytest.raises(srcgrad.MissingRuleError, match=re.escape(name)) as info:
        srcgrad.grad(getattr(mod, fn), jit=False)(1.5)
    assert info.value.filename == mod.__file__ and info.value.hint


def test_type_inference(mod):
    with pytest.raises(srcgrad.TypeInferenceError, match="Numba cannot type") as info:
        srcgrad.grad(mod.untypable, jit=False)(1.5)
    assert info.value.lineno == _line("    return math.sin(np.ones(3)) + x")


def test_non_scalar_output(mod):
    with pytest.raises(srcgrad.NonScalarOutputError, match="vjp"):
        srcgrad.grad(mod.array_out, jit=False)(1.5)


@pytest.mark.parametrize("call, match", [
    (lambda m: srcgrad.grad(m.two, wrt=5), "out of range"),
    (lambda m: srcgrad.grad(m.two, wrt="z"), "names no parameter"),
    (lambda m: srcgrad.grad(m.two, wrt=1.5), "must be an int"),
    (lambda m: srcgrad.grad(m.two, jit=False)(2, 1.0), "write 2.0, not 2"),
    (lambda m: srcgrad.grad(42), "takes the function first"),
    (lambda m: srcgrad.grad(np.sin), "differentiates Python functions"),
    (lambda m: srcgrad.grad(m.two, jit=False)(1.0), "missing"),
])
def test_usage(mod, call, match):
    with pytest.raises(srcgrad.UsageError, match=match):
        call(mod)


def test_tape_limit(mod):
    assert srcgrad.grad(mod.two, tape_limit=1)(2.0, 3.0) == 3.0   # no loop to checkpoint
    with pytest.raises(srcgrad.TapeLimitError, match=r"need [0-9,]+ bytes\. Pass tape_limit="):
        srcgrad.grad(relax, tape_limit=16)(2.0, 1e-3)


def test_source_unavailable():
    namespace: dict = {}
    exec("def made_by_exec(x):\n    return x * x\n", namespace)
    with pytest.raises(srcgrad.SourceUnavailableError, match="define it in a .py file|source"):
        srcgrad.grad(namespace["made_by_exec"])


def test_gradient_check(mod):
    from srcgrad.check import directional_check
    with pytest.raises(srcgrad.GradientCheckError) as info:
        directional_check(mod.two, lambda x, y: (y, 2 * x), (1.5, 0.5), [0, 1])
    assert mod.__file__ in str(info.value)


def test_internal_error_names_the_stage(mod, monkeypatch):
    import srcgrad.compiler.pipeline as pipeline

    def broken(*args):
        raise KeyError("boom")
    monkeypatch.setattr(pipeline, "analyze", broken)
    monkeypatch.setenv("SRCGRAD_DISK_CACHE", "0")   # a cached module would skip analyze
    with pytest.raises(srcgrad.InternalError, match="stage 'analyze'"):
        srcgrad.grad(mod.two, jit=False)(1.0, 2.0)
    assert issubclass(srcgrad.InternalError, srcgrad.SrcgradError)
