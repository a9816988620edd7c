"""srcgrad.custom_vjp and srcgrad.non_differentiable: user rules in the rules table."""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad
from srcgrad.compiler.rules import rule_for

SOURCE = '''
import math
import numpy as np
import srcgrad

@srcgrad.custom_vjp
def softplus(x):
    return math.log1p(math.exp(x))

@softplus.defvjp
def softplus_vjp(g, ans, x):
    return g / (1.0 + math.exp(-x))

@srcgrad.custom_vjp
def halved_dot(a, b):
    return 0.5 * np.dot(a, b)

@halved_dot.defvjp
def halved_dot_vjp(g, ans, a, b):
    return None, 0.5 * g * a          # only b gets a gradient

@srcgrad.non_differentiable
def n_positive(x):
    c = 0.0
    for v in x:
        if v > 0.0:
            c += 1.0
    return c

@srcgrad.custom_vjp
def no_rule(x):
    return x * 2.0

def scalar_loop(x, n):
    s = 0.0
    for i in range(n):
        s += softplus(x * i - 1.0)
    return s

def arrays(a, b):
    return halved_dot(a, b) * n_positive(a) + np.sum(a * b)

def uses_no_rule(x):
    return no_rule(x)
'''


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _fd(f, args, i, h=1e-6):
    x = np.asarray(args[i], dtype=float)
    out = np.zeros(x.shape)
    for k in range(x.size):
        up, down = [list(args), list(args)]
        for sign, lst in ((1, up), (-1, down)):
            y = x.copy()
            y.flat[k] += sign * h
            lst[i] = y if x.ndim else float(y)
        out.flat[k] = (f(*up) - f(*down)) / (2 * h)
    return out if x.ndim else float(out)


def test_scalar_rule_in_a_loop_matches_finite_differences(mod):
    g = srcgrad.grad(mod.scalar_loop)
    assert g(0.4, 5) == pytest.approx(_fd(mod.scalar_loop, (0.4, 5), 0), rel=1e-8)
    assert "softplus_vjp(" in g.source  # the generated code calls the rule by name
    assert rule_for(mod.softplus.key) is not None  # in the same table as srcgrad's own


def test_none_entries_and_non_differentiable_give_no_gradient(mod):
    a, b = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.3, -0.7])
    for jit in (True, False):
        ga, gb = srcgrad.grad(mod.arrays, wrt=(0, 1), jit=jit)(a, b)
        # the rule says halved_dot passes nothing to a; n_positive is a constant 2
        np.testing.assert_allclose(ga, b, rtol=1e-12)
        np.testing.assert_allclose(gb, 0.5 * a * 2.0 + a, rtol=1e-12)


def test_a_custom_function_without_a_rule_is_an_error_naming_the_line(mod):
    with pytest.raises(srcgrad.MissingRuleError, match="no_rule") as info:
        srcgrad.grad(mod.uses_no_rule)(1.0)
    assert info.value.lineno == SOURCE.splitlines().index("    return no_rule(x)") + 1


def test_a_rule_with_the_wrong_arguments_is_refused_when_declared():
    f = srcgrad.custom_vjp(lambda x, y: x * y)
    with pytest.raises(srcgrad.UsageError, match=r"\(g, ans, x, y\)"):
        f.defvjp(lambda g, x, y: (g, g))
    with pytest.raises(srcgrad.UsageError, match="non_differentiable"):
        srcgrad.non_differentiable(lambda x: x).defvjp(lambda g, ans, x: g)


def test_decorated_functions_still_run_as_python(mod):
    assert mod.softplus(0.0) == pytest.approx(np.log(2.0))
    assert mod.n_positive(np.array([1.0, -2.0, 3.0])) == 2.0
