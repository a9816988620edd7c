"""Calls between user functions (inlined), tuple outputs under vjp, closures."""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad

LIB = '''
import math
import numpy as np

OFFSET = 0.5

def shifted_square(v, shift=OFFSET):
    return (v - shift) * (v - shift)

def untypable(v):
    return math.sin(v)
'''

SOURCE = '''
import math
import numpy as np
from {lib} import shifted_square, untypable

OFFSET = 100.0  # not the helper's OFFSET

def stats(x):
    m = np.mean(x)
    return m, np.mean((x - m) ** 2)

def two_calls(x):
    a = shifted_square(x)
    b = shifted_square(x * 2.0, shift=OFFSET)
    return a + b

def tuple_out(x, y):
    m, v = stats(x * y)
    return m * v, x * v, m

def affine(params, x):
    w, b = params
    return w * x + params[1] * 0.5 + b

def tuple_args(x, y):
    s = 0.0
    for i in range(3):
        s += affine((y, x * i), x)
    return s + affine((2.0, y), x)

def calls_untypable(x):
    return np.sum(untypable(x * 2.0))

def make_closure(scale, w):
    def f(x):
        return scale * np.sum(w * x)
    return f
'''


@pytest.fixture(scope="module")
def lib(make_module):
    return make_module(LIB)


@pytest.fixture(scope="module")
def mod(make_module, lib):
    return make_module(SOURCE.format(lib=lib.__name__))


def test_each_call_is_inlined_with_its_own_names_and_lines(mod):
    g = srcgrad.grad(mod.two_calls)
    x = 0.8
    # the helper's default OFFSET is its module's 0.5; the caller passes its own 100.0
    assert g(x) == pytest.approx(2 * (x - 0.5) + 4 * (2 * x - 100.0), rel=1e-14)
    src = g.source
    assert "# shifted_square, " in src and "line 8: return (v - shift) * (v - shift)" in src
    assert "shifted_square_shift = 0.5" in src and "shifted_square_shift1 = OFFSET" in src


def test_vjp_of_a_tuple_output_takes_a_tuple_cotangent(mod):
    x, y = np.array([0.3, -1.2, 2.0]), 0.7
    value, pullback = srcgrad.vjp(mod.tuple_out, x, y, wrt=(0, 1))
    expected = mod.tuple_out(x, y)
    assert value[0] == pytest.approx(expected[0]) and value[2] == pytest.approx(expected[2])
    np.testing.assert_allclose(value[1], expected[1])
    ct = (0.5, np.array([1.0, -2.0, 0.5]), 1.5)
    gx, gy = pullback(ct)

    def loss(x, y):
        return sum(np.sum(c * v) for c, v in zip(ct, mod.tuple_out(x, y)))
    h = 1e-6
    fx = [(loss(x + h * e, y) - loss(x - h * e, y)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(gx, fx, rtol=1e-7)
    assert gy == pytest.approx((loss(x, y + h) - loss(x, y - h)) / (2 * h), rel=1e-7)
    with pytest.raises(srcgrad.UsageError, match="tuple of 3 cotangents"):
        pullback(1.0)
    with pytest.raises(srcgrad.NonScalarOutputError, match="tuple"):
        srcgrad.grad(mod.tuple_out)(x, y)


def test_closure_variables_are_constants_and_cannot_be_differentiated(mod):
    f = mod.make_closure(2.0, np.array([1.0, 2.0]))
    np.testing.assert_allclose(srcgrad.grad(f)(np.array([0.5, 0.5])), [2.0, 4.0])
    with pytest.raises(srcgrad.UsageError, match="closure variable.*make it a parameter"):
        srcgrad.grad(f, wrt="scale")


def test_a_tuple_literal_argument_reaches_the_helper_element_by_element(mod):
    g = srcgrad.grad(mod.tuple_args, wrt=(0, 1))
    x, y, h = 0.7, 0.3, 1e-6
    gx, gy = g(x, y)
    f = mod.tuple_args
    assert gx == pytest.approx((f(x + h, y) - f(x - h, y)) / (2 * h), rel=1e-8)
    assert gy == pytest.approx((f(x, y + h) - f(x, y - h)) / (2 * h), rel=1e-8)


def test_an_error_inside_a_helper_names_the_helpers_file_and_line(mod, lib):
    with pytest.raises(srcgrad.TypeInferenceError, match="in untypable, inlined into") as info:
        srcgrad.grad(mod.calls_untypable)(np.ones(3))
    assert info.value.filename == lib.__file__ and info.value.lineno == 11
