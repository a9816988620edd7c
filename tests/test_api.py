"""The public API: wrt forms, decorator forms, value_and_grad, errors, types."""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcgrad
from srcgrad import MissingRuleError, NonScalarOutputError, SourceUnavailableError, UsageError

from .support.oracles import fd_partial

SOURCE = """
import math

def poly(x, y, n=3, scale=2.0):
    s = 0.0
    for i in range(n):
        s = s + scale * x ** (i + 1) * y
    return s

def ints(x, k):
    return x * k

def returns_int(x):
    return int(x)

def uses_frexp(x):
    return math.frexp(x)[0]

def frexp_stopped(x):
    return srcgrad.stop_gradient(math.frexp(x)[0]) * x

def detached(x):
    u = srcgrad.stop_gradient(x * x)
    return u * x

def nan_path(x):
    y = math.sqrt(x)
    return y * math.log(x) + x / (x - 1.0)

def unused(x, y):
    return x * 2.0
"""


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module("import srcgrad\n" + SOURCE)


def test_wrt_int_name_and_tuple(mod):
    args = (1.3, 0.7, 3, 2.0)
    gx = srcgrad.grad(mod.poly)(*args)
    gy = srcgrad.grad(mod.poly, wrt="y")(*args)
    both = srcgrad.grad(mod.poly, wrt=(1, "x"))(*args)
    assert isinstance(gx, float)
    assert gx == pytest.approx(fd_partial(mod.poly, args, 0), rel=1e-7)
    assert gy == pytest.approx(fd_partial(mod.poly, args, 1), rel=1e-7)
    assert both == (gy, gx)


def test_decorator_forms(mod):
    plain = srcgrad.grad(mod.poly)
    deco = srcgrad.grad(wrt=(0, 1))(mod.poly)
    assert deco(1.3, 0.7)[0] == plain(1.3, 0.7)
    assert srcgrad.grad()(mod.poly)(1.3, 0.7) == plain(1.3, 0.7)


def test_defaults_and_keywords(mod):
    g = srcgrad.grad(mod.poly, wrt="scale")
    expected = fd_partial(lambda x, y, n, s: mod.poly(x, y, n, s), (1.3, 0.7, 4, 2.0), 3)
    assert g(1.3, 0.7, n=4) == pytest.approx(expected, rel=1e-7)
    assert g(x=1.3, y=0.7, n=4, scale=2.0) == pytest.approx(expected, rel=1e-7)


def test_value_and_grad(mod):
    value, grads = srcgrad.value_and_grad(mod.poly, wrt=(0, 1))(1.3, 0.7)
    # Numba computes float ** int by repeated multiplication: the last bit may differ
    assert value == pytest.approx(mod.poly(1.3, 0.7), rel=1e-14)
    assert grads == srcgrad.grad(mod.poly, wrt=(0, 1))(1.3, 0.7)


def test_gradient_of_unused_parameter_is_zero(mod):
    assert srcgrad.grad(mod.unused, wrt=(0, 1))(1.0, 5.0) == (2.0, 0.0)


def test_int_arguments_mix_with_floats(mod):
    assert srcgrad.grad(mod.ints)(1.5, 4) == 4.0


def test_float32_gradient_keeps_its_type(mod):
    g = srcgrad.grad(mod.ints)(np.float32(1.5), 4)
    assert isinstance(g, np.float32) and g == 4.0


def test_source_and_show(mod, capsys):
    g = srcgrad.grad(mod.poly)
    before = g.source  # available before any call (float64 arguments assumed)
    assert "def poly_adjoint(" in before
    g(1.0, 2.0)
    srcgrad.show(g)
    assert capsys.readouterr().out.strip() == g.source.strip()


def test_jit_false_runs_the_same_source(mod):
    fast = srcgrad.grad(mod.poly, wrt=(0, 1))
    slow = srcgrad.grad(mod.poly, wrt=(0, 1), jit=False)
    assert fast(1.3, 0.7) == pytest.approx(slow(1.3, 0.7), rel=1e-15)
    assert fast.source == slow.source


def test_stop_gradient(mod):
    # u = stop_gradient(x * x); d(u * x)/dx = u
    assert srcgrad.grad(mod.detached)(3.0) == 9.0


def test_stop_gradient_hides_a_call_without_rule(mod):
    g = srcgrad.grad(mod.frexp_stopped)(3.5)
    assert g == math.frexp(3.5)[0]


def test_nan_in_gives_nan_out(mod):
    value, grad = srcgrad.value_and_grad(mod.nan_path)(float("nan"))
    assert math.isnan(value) and math.isnan(grad)
    # outside the domain: NaN / inf, never an exception
    value, grad = srcgrad.value_and_grad(mod.nan_path)(-1.0)
    assert math.isnan(value) and math.isnan(grad)
    value, grad = srcgrad.value_and_grad(mod.nan_path)(1.0)
    assert math.isinf(value) or math.isnan(value)


# ----- errors -----


def test_wrt_out_of_range(mod):
    with pytest.raises(UsageError, match="out of range"):
        srcgrad.grad(mod.poly, wrt=7)


def test_wrt_unknown_name(mod):
    with pytest.raises(UsageError, match="names no parameter"):
        srcgrad.grad(mod.poly, wrt="z")


def test_wrt_bad_type(mod):
    with pytest.raises(UsageError):
        srcgrad.grad(mod.poly, wrt=1.5)


def test_not_a_function():
    with pytest.raises(UsageError, match="takes the function first"):
        srcgrad.grad(42)
    with pytest.raises(UsageError, match="Python functions"):
        srcgrad.grad(object())
    with pytest.raises(UsageError):
        srcgrad.grad(math.sin)


def test_source_unavailable():
    namespace = {}
    exec("def f(x):\n    return x * x\n", namespace)
    with pytest.raises(SourceUnavailableError, match="cannot read the source.*IPython or Jupyter"):
        srcgrad.grad(namespace["f"])


def test_lambda_is_differentiated():
    # a lambda is captured from its source (test_jax_habits.py has more)
    assert srcgrad.grad(lambda x: x * x, jit=False)(1.5) == 3.0


def test_int_argument_in_wrt(mod):
    with pytest.raises(UsageError, match="not a float"):
        srcgrad.grad(mod.ints, wrt="k")(1.5, 4)
    with pytest.raises(UsageError, match=r"2\.0"):
        srcgrad.grad(mod.ints)(2, 4)


def test_non_float_output(mod):
    with pytest.raises(NonScalarOutputError, match="not a float"):
        srcgrad.grad(mod.returns_int)(1.5)


def test_missing_rule_names_the_function_and_line(mod):
    with pytest.raises(MissingRuleError, match="math.frexp") as info:
        srcgrad.grad(mod.uses_frexp)(1.5)
    assert info.value.lineno == SOURCE.splitlines().index("    return math.frexp(x)[0]") + 2
    assert info.value.filename == mod.__file__


def test_wrong_number_of_arguments(mod):
    with pytest.raises(UsageError):
        srcgrad.grad(mod.ints)(1.0)


def test_every_error_is_a_srcgrad_error():
    for cls in (MissingRuleError, NonScalarOutputError, SourceUnavailableError, UsageError,
                srcgrad.UnsupportedSyntaxError, srcgrad.TypeInferenceError,
                srcgrad.InternalError):
        assert issubclass(cls, srcgrad.SrcgradError)
