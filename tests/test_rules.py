"""Stage 7: every scalar derivative rule, one line each, against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcgrad
from srcgrad.compiler.rules import RULES

from .support.oracles import fd_partial
from .test_rule_templates import CASES as TEMPLATE_CASES
from .test_special import TESTED_RULES as SPECIAL_RULES
from .test_stats import STATS_RULES

# rule key -> (expression over x and y, point (x, y)); points avoid kinks.
UNARY = {
    "math.sin": 0.7, "math.cos": 0.7, "math.tan": 0.7, "math.asin": 0.3, "math.acos": 0.3,
    "math.atan": 0.7, "math.sinh": 0.7, "math.cosh": 0.7, "math.tanh": 0.7,
    "math.asinh": 0.7, "math.acosh": 1.7, "math.atanh": 0.3, "math.exp": 0.7,
    "math.expm1": 0.7, "math.exp2": 0.7, "math.log": 0.7, "math.log1p": 0.7,
    "math.log10": 0.7, "math.log2": 0.7, "math.sqrt": 0.7,
    "math.fabs": -0.7, "math.erf": 0.7, "math.erfc": 0.7, "math.degrees": 0.7,
    "math.radians": 0.7, "abs": -0.7, "float": 0.7,
    "np.sin": 0.7, "np.cos": 0.7, "np.tan": 0.7, "np.arcsin": 0.3, "np.arccos": 0.3,
    "np.arctan": 0.7, "np.sinh": 0.7, "np.cosh": 0.7, "np.tanh": 0.7, "np.arcsinh": 0.7,
    "np.arccosh": 1.7, "np.arctanh": 0.3, "np.exp": 0.7, "np.expm1": 0.7, "np.exp2": 0.7,
    "np.log": 0.7, "np.log1p": 0.7, "np.log10": 0.7, "np.log2": 0.7, "np.sqrt": 0.7,
    "np.cbrt": 0.7, "np.fabs": -0.7, "np.abs": -0.7, "np.absolute": -0.7,
    "np.degrees": 0.7, "np.radians": 0.7, "np.deg2rad": 0.7, "np.rad2deg": 0.7,
    "np.square": 0.7,
}
BINARY = {
    "Add": "x + y", "Sub": "x - y", "Mult": "x * y", "Div": "x / y", "Pow": "x ** y",
    "Mod": "x % y", "math.atan2": "math.atan2(x, y)", "math.hypot": "math.hypot(x, y)",
    "math.pow": "math.pow(x, y)", "max": "max(x, y)", "min": "min(x, y)",
    "math.copysign": "math.copysign(x, y)",
    "np.arctan2": "np.arctan2(x, y)", "np.hypot": "np.hypot(x, y)",
    "np.power": "np.power(x, y)", "np.fmod": "np.fmod(x, y)",
    "np.copysign": "np.copysign(x, y)",
}
ZERO = ["math.floor", "math.ceil", "math.trunc", "int", "round", "np.floor", "np.ceil",
        "np.trunc", "np.sign", "FloorDiv", "srcgrad.stop_gradient"]
BINARY_POINTS = [(0.7, 1.9), (2.3, 0.6), (-0.8, 1.3)]


def _source() -> str:
    lines = ["import math", "import numpy as np", "import srcgrad", ""]
    for key in UNARY:
        fname = key.replace(".", "_")
        lines += [f"def u_{fname}(x):", f"    return 1.5 * {key}(x)", ""]
    for key, expr in BINARY.items():
        lines += [f"def b_{key.replace('.', '_')}(x, y):", f"    return {expr}", ""]
    for key in ZERO:
        call = "x // 0.3" if key == "FloorDiv" else f"{key}(x)"
        lines += [f"def z_{key.replace('.', '_')}(x):", f"    return {call} * 1.0 + 0.0", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(_source())


ARRAY_RULES = {
    "MatMult", "attr.T", "attr.ndim", "attr.shape", "attr.size", "np.amax", "np.amin",
    "np.arange", "np.ascontiguousarray", "np.clip", "np.copy", "np.cumsum", "np.dot",
    "np.empty", "np.empty_like", "np.eye", "np.full", "np.full_like", "np.identity",
    "np.linalg.norm", "np.linspace", "np.matmul", "np.max", "np.maximum", "np.mean", "np.min",
    "np.minimum", "np.ones", "np.ones_like", "np.outer", "np.prod", "np.reshape", "np.rint",
    "np.round", "np.sum", "np.trace", "np.transpose", "np.where", "np.zeros", "np.zeros_like",
    "np_ops.cumsum_axis", "np_ops.max_axis", "np_ops.mean_axis", "np_ops.min_axis",
    "np_ops.prod_axis", "np_ops.sum_axis", "subscript",
}
# arrays built from values, np.linalg.inv: corpus_arrays (array_of_scalars ... stack_functions)
# and test_rule_templates.py
COVERED_ELSEWHERE = {"np_ops.array_copy", "np_ops.asarray", "np_ops.array", "np.concatenate",
                     "np.stack", "np.hstack", "np.vstack", "np.column_stack", "np.linalg.inv"}


def test_every_rule_is_tested():
    tested = set(UNARY) | set(BINARY) | set(ZERO) | ARRAY_RULES | COVERED_ELSEWHERE | {
        "USub", "UAdd", "copy", "len", "bool",
                                                      "math.isnan", "math.isinf",
                                                      "math.isfinite", "np.isnan",
                                                      "np.isinf", "np.isfinite",
                                                      "srcgrad.broadcast_like"}
    tested |= SPECIAL_RULES  # scipy.special, math.gamma, math.lgamma: test_special.py
    # rules with a case in test_rule_templates.py (every template against finite differences)
    tested |= {key for c in TEMPLATE_CASES for key in c.keys}
    tested |= STATS_RULES  # the statistics section: test_stats.py (and its template coverage)
    from srcgrad.compiler.rules import (
        EXTERNAL_NAMES,  # user rules (custom_vjp) made by other tests
        non_differentiable_functions,  # test_registry.py checks these
    )
    rules = set(RULES) - EXTERNAL_NAMES - set(non_differentiable_functions())
    assert rules <= tested, sorted(rules - tested)


def test_broadcast_like_rule(make_module):
    # the forward-mode helper (a tangent at its result's shape), differentiated again
    # by hessian/hvp: its adjoint sums over the broadcast axes
    m = make_module('''
import numpy as np
import srcgrad

def f(x, A, w):
    return np.sum(srcgrad.broadcast_like(x, A) * w)

def g(s, A, w):
    return np.sum(srcgrad.broadcast_like(s, A) * w)
''')
    rng = np.random.default_rng(0)
    x, A, w = rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    np.testing.assert_allclose(srcgrad.grad(m.f, jit=False)(x, A, w), w.sum(axis=0), rtol=1e-12)
    assert srcgrad.grad(m.g, jit=False)(0.5, A, w) == pytest.approx(w.sum(), rel=1e-12)


@pytest.mark.parametrize("key", sorted(UNARY))
def test_unary_rule(mod, key):
    f = getattr(mod, f"u_{key.replace('.', '_')}")
    x = UNARY[key]
    assert srcgrad.grad(f, jit=False)(x) == pytest.approx(fd_partial(f, (x,), 0), rel=1e-7)


@pytest.mark.parametrize("key", sorted(BINARY))
def test_binary_rule(mod, key):
    f = getattr(mod, f"b_{key.replace('.', '_')}")
    for x, y in BINARY_POINTS:
        if key in ("Pow", "math.pow", "np.power") and x < 0:
            continue
        grads = srcgrad.grad(f, wrt=(0, 1), jit=False)(x, y)
        expected = (fd_partial(f, (x, y), 0), fd_partial(f, (x, y), 1))
        assert grads == pytest.approx(expected, rel=1e-7, abs=1e-9), (x, y)


@pytest.mark.parametrize("key", sorted(ZERO))
def test_zero_rule(mod, key):
    f = getattr(mod, f"z_{key.replace('.', '_')}")
    assert srcgrad.grad(f, jit=False)(0.77) == 0.0


def test_rules_compile_with_numba(mod):
    """The same rules compiled: one function using many of them."""
    assert srcgrad.grad(mod.u_math_tanh)(0.7) == pytest.approx(
        1.5 * (1 - math.tanh(0.7) ** 2), rel=1e-12)
    assert srcgrad.grad(mod.b_Pow, wrt=(0, 1))(0.7, 1.9) == pytest.approx(
        (1.9 * 0.7 ** 0.9, math.log(0.7) * 0.7 ** 1.9), rel=1e-12)


def test_conventions_at_kinks(mod):
    """As JAX: abs'(0) = 1; max/min ties go to the first argument; d(x**y)/dy = 0 at 0."""
    assert srcgrad.grad(mod.u_abs)(0.0) == 1.5
    assert srcgrad.grad(mod.b_max, wrt=(0, 1))(1.0, 1.0) == (1.0, 0.0)
    assert srcgrad.grad(mod.b_min, wrt=(0, 1))(1.0, 1.0) == (1.0, 0.0)
    assert srcgrad.grad(mod.b_Pow, wrt=(0, 1))(0.0, 2.0) == (0.0, 0.0)
    assert srcgrad.grad(mod.u_math_sqrt)(0.0) == math.inf
