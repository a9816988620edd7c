"""Stage 2: unsupported syntax is rejected up front, with file, line and advice."""

from __future__ import annotations

import pytest

import srcgrad
from srcgrad.errors import UnsupportedSyntaxError

# (construct, body lines of `def f(x):`, line of the offending statement within the body)
CASES = [
    ("try/except", "try:\n        y = x\n    except Exception:\n        y = 0.0\n    return y", 0),
    ("with", "with open('f') as fh:\n        y = x\n    return y", 0),
    ("yield", "yield x\n    return x", 0),
    # (a nested def or name = lambda bound once is a helper: test_jax_habits.py; one
    # bound twice is refused)
    ("nested function definition", "if x > 0:\n        def g(z):\n            return z\n"
                                   "    else:\n        def g(z):\n            return -z\n"
                                   "    return g(x)", 1),
    ("lambda", "y = (lambda z: z)(x)\n    return y", 0),
    ("class definition", "class A:\n        pass\n    return x", 0),
    ("global", "global Q\n    return x", 0),
    ("nonlocal", "return x", None),  # needs an enclosing function; tested separately
    ("set", "s = {x}\n    return x", 0),
    ("str constant", "s = 'abc'\n    return x", 0),
    ("f-string", "s = f'{x}'\n    return x", 0),
    ("raise", "raise ValueError()\n    return x", 0),
    ("assert", "assert x > 0\n    return x", 0),
    ("import", "import math\n    return x", 0),
    ("del", "y = x\n    del y\n    return x", 1),
    ("expression statement", "x + 1\n    return x", 0),
    ("for over a non-range iterable", "for v in abs(x):\n        x = x + v\n    return x", 0),
    ("dict with keys other than strings", "d = {1: x}\n    return x", 0),
    ("for/else", "for i in range(3):\n        x = x + i\n    else:\n        x = 0.0\n"
                 "    return x", 0),
    ("while/else", "while x < 1:\n        x = x * 2\n    else:\n        x = 0.0\n"
                   "    return x", 0),
    ("assignment expression (:=)", "if (y := x) > 0:\n        return y\n    return x", 0),
    ("keyword arguments in a call", "return round(x, ndigits=2)", 0),
    ("missing return", "y = x", None),
    ("return without a value", "return", 0),
    ("None constant", "y = None\n    return x", 0),
]


@pytest.mark.parametrize("construct, body, offset", [c for c in CASES if c[2] is not None],
                         ids=[c[0] for c in CASES if c[2] is not None])
def test_unsupported_construct_is_rejected_with_location(make_module, construct, body, offset):
    source = f"import math\n\n\ndef f(x):\n    {body}\n"
    mod = make_module(source)
    with pytest.raises(UnsupportedSyntaxError) as info:
        srcgrad.grad(mod.f)
    err = info.value
    assert err.filename == mod.__file__
    assert err.lineno == 5 + offset, str(err)
    assert construct in str(err)
    assert err.hint, "every rejection says what to do instead"
    assert f"{mod.__file__}:{5 + offset}:" in str(err)
    assert isinstance(err, srcgrad.SrcgradError)


def test_missing_return_is_rejected(make_module):
    mod = make_module("def f(x):\n    y = x * 2\n")
    with pytest.raises(UnsupportedSyntaxError, match="without returning"):
        srcgrad.grad(mod.f)


def test_a_path_without_return_is_rejected(make_module):
    mod = make_module("def f(x):\n    if x > 0:\n        return x\n")
    with pytest.raises(UnsupportedSyntaxError, match="without returning"):
        srcgrad.grad(mod.f)


def test_nonlocal_is_rejected(make_module):
    mod = make_module("""
        def outer():
            q = 1.0
            def f(x):
                nonlocal q
                q = x
                return x
            return f
        """)
    with pytest.raises(UnsupportedSyntaxError, match="nonlocal"):
        srcgrad.grad(mod.outer())


def test_break_outside_loop_cannot_parse_but_star_args_are_rejected(make_module):
    mod = make_module("def f(*xs):\n    return 1.0\n")
    with pytest.raises(UnsupportedSyntaxError, match=r"\*args"):
        srcgrad.grad(mod.f)


def test_undefined_global_is_rejected(make_module):
    mod = make_module("def f(x):\n    return x * undefined_thing\n")
    with pytest.raises(UnsupportedSyntaxError, match="undefined_thing"):
        srcgrad.grad(mod.f)


def test_recursion_is_rejected_at_the_call(make_module):
    mod = make_module("def h(z):\n    return f(z)\n\ndef f(x):\n    return h(x) + 1.0\n")
    with pytest.raises(UnsupportedSyntaxError, match="recursive call to 'f'") as info:
        srcgrad.grad(mod.f)
    assert info.value.lineno == 2  # in h, where it calls f again


def test_a_helper_is_fenced_when_the_caller_is(make_module):
    mod = make_module("def h(z):\n    s = {z}\n    return z\n\ndef f(x):\n    return h(x)\n")
    with pytest.raises(UnsupportedSyntaxError, match="set") as info:
        srcgrad.grad(mod.f)  # at construction, before any call
    assert info.value.lineno == 2 and info.value.filename.endswith(".py")


def test_a_callable_object_is_rejected(make_module):
    mod = make_module("class C:\n    def __call__(self, z):\n        return z\n\nh = C()\n\n"
                      "def f(x):\n    return h(x)\n")
    with pytest.raises(UnsupportedSyntaxError, match="cannot call") as info:
        srcgrad.grad(mod.f)
    assert info.value.lineno == 8


def test_rejection_happens_before_any_compile(make_module, monkeypatch):
    import srcgrad.gradfn as gradfn

    def boom(*args, **kwargs):
        raise AssertionError("compiled despite unsupported syntax")

    monkeypatch.setattr(gradfn, "build", boom)   # what GradFunction calls to compile
    mod = make_module("def f(x):\n    s = {x}\n    return x\n")
    with pytest.raises(UnsupportedSyntaxError):
        srcgrad.grad(mod.f)
