"""NumPy's statistics, signal and sequence functions (srcgrad/runtime/stats.py, the rules
under "NumPy: statistics" in srcgrad/compiler/rules.py, compiler/stats_calls.py).

Derivatives: against JAX run on the same source where JAX has the function (skipped
without JAX), at points with ties and NaN entries as well as generic ones; the same
conventions written out as exact expectations (so they are checked without JAX too);
second derivatives against finite differences in both modes (uncompiled: the rules and
generated code are the same compiled or not); a representative set compiled. Values: the
compiled runtime functions against NumPy for axes, keepdims, ddof, dtypes and layouts.
Refusals: the arguments the rules do not cover raise at the user's line.

Templates: the rules of the statistics section (``STATS_RULES``) are left to this file by
tests/test_rule_templates.py; ``test_every_stats_template_is_applied`` generates (without
compiling) the code of every case here, in reverse and forward mode and to second order,
and asserts that together they apply every template of those rules.
"""

from __future__ import annotations

import ast
import math
import pathlib
import warnings

import numba
import numpy as np
import pytest

import srcgrad
from srcgrad.compiler import rules
from srcgrad.compiler.infer import arg_type_of
from srcgrad.compiler.tangent import TangentFunction, module_for_second_order
from srcgrad.runtime import stats

from .support.oracles_np import jax_available, jax_grad

SOURCE = '''
import math
import numpy as np

W2 = np.array([1.1, -0.6])
W3 = np.array([0.7, -1.3, 0.4])
W4 = np.array([0.7, -0.4, 1.3, 0.2])
W5 = np.array([0.5, -1.1, 0.8, 1.7, -0.3])
W22 = np.array([[0.8, -1.4], [0.3, 1.1]])
W33 = np.array([[1.1, 0.3, -0.5], [0.2, -0.8, 0.6], [0.4, 0.9, -1.2]])
W34 = np.array([[0.5, -1.2, 0.9, 0.3], [1.4, 0.2, -0.6, 0.8], [-0.3, 0.8, 1.1, -0.9]])
K5 = np.array([2, 0, 1, 2, 4])


def var_std(x):
    return (np.var(x) + np.sum(np.std(x, axis=1, ddof=1) * W3)
            + np.sum(np.var(x, axis=0, keepdims=True) * W34[:1]) + np.sum(np.std(x, keepdims=True)))


def nan_reductions(x):
    return (np.nanmean(x) + np.nansum(x) ** 2 + np.sum(np.nanvar(x, axis=0) * W4)
            + np.nanstd(x, ddof=1) + np.sum(np.nanmax(x, axis=1) * W3) - np.nanmin(x)
            + np.sum(np.nanprod(x, axis=1) * W3) + np.sum(np.nanmean(x, axis=0, keepdims=True) * W34[:1]))


def nan_orders(x):
    return (np.nanmedian(x) + np.sum(np.nanmedian(x, axis=1) * W3)
            + np.sum(np.nanpercentile(x, 40.0, axis=0) * W4) + np.nanquantile(x, 0.3))


def median_of(x):
    return np.median(x)


def percentile_of(x):
    return np.percentile(x, 40.0)


def quantiles(x, q):
    return np.sum(np.quantile(x, q, axis=1) * W34[:2, :3]) + np.sum(np.percentile(x, q * 100.0) * W2)


def quantile_q(x, q):
    return np.quantile(x, q) * 2.0 + np.nanpercentile(x, q * 100.0, axis=0)[1]


def ptp_of(x):
    return np.ptp(x) + np.sum(np.ptp(x, axis=1) * W3)


def averages(x, w):
    return (np.average(x, weights=w) + np.sum(np.average(x, axis=1, weights=w[0]) * W3)
            + np.average(x) + np.sum(np.average(x, axis=0) * W4))


def trapezoids(y, x):
    return (np.trapezoid(y[0], x) + np.sum(np.trapezoid(y, x, axis=1) * W3)
            + np.trapezoid(y[1] * y[1], dx=0.3) + np.sum(np.trapezoid(y, axis=0) * W4))


def covariances(x, y):
    return (np.sum(np.cov(x) * W33) + np.sum(np.cov(x[0], y) * W22)
            + np.sum(np.cov(x, rowvar=False, bias=True) * np.outer(W4, W4)) + np.cov(y, ddof=0) * 1.0)


def correlations(x, y):
    return np.sum(np.corrcoef(x) * W33) + np.sum(np.corrcoef(x[1], y) * W22) \\
        + np.sum(np.corrcoef(x, rowvar=False) * np.outer(W4, W4))


def convolutions(a, v):
    return (np.sum(np.convolve(a, v) * W5[:4].sum()) + np.sum(np.correlate(a, v[:2]) * W3)
            + np.sum(np.correlate(v[:2], a) * W3) + np.sum(np.convolve(v, a) * W4[0]))


def interpolation(x, xp, fp):
    return np.sum(np.sin(np.interp(x, xp, fp)) * W5) + np.interp(0.3, xp, fp) ** 2


def sequences(a, b):
    return (np.sum(np.linspace(a, b, 5) * W5) + np.sum(np.geomspace(a, b, 5) * W5)
            + np.sum(np.logspace(a, b, 4) * W4) + np.sum(np.linspace(a, 2.0) * 0.01))


def arange_of(a, s):
    return np.sum(np.sin(np.arange(a, 2.4, s)) * W5)


def kaiser_of(b):
    return np.sum(np.sin(np.kaiser(5, b)) * W5)


def bincount_of(w):
    return np.sum(np.sin(np.bincount(K5, weights=w)) * W5)


def histogram_of(x):
    h, e = np.histogram(x, 4)
    return np.sum(np.sin(e) * W5) + np.sum(h * 0.0)


def sinc_of(x):
    return np.sum(np.sinc(x) * W34) + np.sinc(x[0, 0] * 0.5) + np.sinc(x[1, 1] * 0.0)


def nan_to_num_of(x, v):
    return np.sum(np.nan_to_num(x, nan=v, posinf=v * 2.0, neginf=-v) ** 2) + np.nan_to_num(x[1, 1])


def nan_to_num_scalar(s, v):
    return np.nan_to_num(s, nan=v, posinf=v * 2.0, neginf=v * v) * 1.5


def unwrap_of(p, t):
    return np.sum(np.unwrap(p * 3.0) * W5) + np.sum(np.sin(np.unwrap(p, period=t)) * W5)


def var_methods(x):
    return x.var() + np.sum(x.std(axis=1, ddof=1) * W3) + x.std(keepdims=True)[0, 0]
'''

X34 = np.array([[0.3, -1.2, 0.9, 1.6], [-0.4, 0.8, 2.1, -0.7], [1.1, 0.05, -0.9, 0.6]])
NAN34 = X34.copy()
NAN34[0, 1] = NAN34[2, 3] = np.nan


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _grad(f, args, wrt):
    return srcgrad.grad(f, wrt=wrt, jit=False)(*args)


# The template units (rules.TEMPLATES_USED) the code generated by a test applied, by what it
# generated: ("rev" or "fwd", case id) for a first-order case, ("second", case id, wrt) for
# a second-order one. test_every_stats_template_is_applied reads them (generating what no
# test before it did), so that the code of a case is generated once per session.
APPLIED: dict[tuple, frozenset] = {}


def _noting(key: tuple, run):
    """run(), which generates code; the units it applies are noted as APPLIED[key] (if it
    returns: a failure is the failing test's to report)."""
    with rules.noting_templates() as noted:
        out = run()
    APPLIED[key] = APPLIED.get(key, frozenset()) | frozenset(noted)
    return out


def _same(a, b, tol=1e-10):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    assert np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True), (a, b)


# ----------------------------------------------------------------------------- JAX

TIES = np.array([1.0, 2.0, 2.0, 3.0, 0.5])
JAX_CASES = {  # id -> (function, args, wrt)
    "var_std": ("var_std", (X34,), 0),
    "nan_reductions": ("nan_reductions", (NAN34,), 0),
    "nan_orders": ("nan_orders", (NAN34,), 0),
    "median_odd_ties": ("median_of", (TIES,), 0),
    "median_even_ties": ("median_of", (np.array([2.0, 1.0, 2.0, 3.0]),), 0),
    "median_2d": ("median_of", (X34,), 0),
    "percentile_ties": ("percentile_of", (np.array([2.0, 1.0, 2.0, 2.0, 3.0, 0.0]),), 0),
    "quantiles": ("quantiles", (X34, np.array([0.2, 0.65])), (0, 1)),
    "quantile_q": ("quantile_q", (X34, 0.35), (0, 1)),
    "ptp_ties": ("ptp_of", (np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0],
                                      [0.5, 0.5, 0.5, 0.5]]),), 0),
    "averages": ("averages", (X34, np.abs(X34) + 0.5), (0, 1)),
    "trapezoids": ("trapezoids", (X34, np.array([0.0, 0.3, 0.9, 1.4])), (0, 1)),
    "covariances": ("covariances", (X34, np.array([0.4, -0.3, 1.2, 0.8])), (0, 1)),
    "correlations": ("correlations", (X34, np.array([0.4, -0.3, 1.2, 0.8])), (0, 1)),
    "convolutions": ("convolutions", (np.array([0.4, -0.9, 1.2, 0.3]), np.array([0.7, -0.2, 0.5])),
                     (0, 1)),
    # x at a knot (0.5: the slope to its right), at the last knot, and outside
    "interpolation": ("interpolation", (np.array([-1.3, 0.5, 0.2, 1.5, 2.0]),
                                        np.array([-1.0, -0.2, 0.5, 1.5]),
                                        np.array([0.3, -0.6, 1.2, 0.4])), (0, 1, 2)),
    "sequences": ("sequences", (0.3, 1.7), (0, 1)),
    "kaiser": ("kaiser_of", (2.5,), 0),
    "bincount": ("bincount_of", (np.array([0.4, -0.9, 1.2, 0.3, -0.5]),), 0),
    "histogram": ("histogram_of", (X34,), 0),
    "sinc": ("sinc_of", (np.array([[0.0, 0.3, -0.7, 1.0], [2.5, 0.0, 1e-9, -3.2],
                                   [0.1, 0.2, 0.3, 0.4]]),), 0),
    "nan_to_num": ("nan_to_num_of", (np.array([[0.3, np.nan, np.inf], [-np.inf, 1.2, 0.5]]), 0.7),
                   (0, 1)),
    # of a float: the scalar templates (each replacement value where it is used)
    **{f"nan_to_num_scalar[{s}]": ("nan_to_num_scalar", (s, 0.7), (0, 1))
       for s in (0.4, np.nan, np.inf, -np.inf)},
    "unwrap": ("unwrap_of", (np.array([0.1, 1.6, 3.3, 0.9, -0.7]), 2.0), (0, 1)),
}


@pytest.mark.skipif(not jax_available(), reason="jax is not installed")
@pytest.mark.parametrize("case", sorted(JAX_CASES))
def test_against_jax(mod, case):
    name, args, wrt = JAX_CASES[case]
    f = getattr(mod, name)
    ours = _noting(("rev", case), lambda: _grad(f, args, wrt))
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = jax_grad(f, args, wrt)
    assert theirs is not None, f"JAX cannot run {name}"
    # np.sinc near 0 (the point has x = 1e-9): JAX divides (cos(pi x) - sinc(x)) by x,
    # which cancels to 0 there; srcgrad's series gives the derivative, -pi^2 x / 3
    tol = 1e-8 if case == "sinc" else 1e-9
    for a, b in zip(ours, theirs):
        _same(a, b, tol)


# First order against finite differences, both modes (uncompiled), for the cases whose
# templates no second-order case below checks: the replacement values of np.nan_to_num of
# a float (x not finite: finite differences in the value put in its place only).
FIRST = {  # id -> (function, args, wrt)
    "nan_to_num_scalar[finite]": ("nan_to_num_scalar", (0.4, 0.7), (0, 1)),
    **{f"nan_to_num_scalar[{s}]": ("nan_to_num_scalar", (s, 0.7), 1)
       for s in (np.nan, np.inf, -np.inf)},
}


@pytest.mark.parametrize("case", sorted(FIRST))
def test_first_order(mod, case):
    name, args, wrt = FIRST[case]
    _noting(("first", case), lambda: srcgrad.check_grad(getattr(mod, name), *args, wrt=wrt,
                                                        jit=False, modes=("rev", "fwd")))


# ----------------------------------------------------------------------------- conventions

def test_ties_follow_the_stable_order(mod):
    """The median of an odd count with a tie in the middle: the first of the tied values
    (in the array's order) takes the whole adjoint; an even count: the two middle ones
    share it; ptp and nanmax split it among ties."""
    _same(_grad(mod.median_of, (TIES,), 0), [0.0, 1.0, 0.0, 0.0, 0.0])
    _same(_grad(mod.median_of, (np.array([2.0, 1.0, 2.0, 3.0]),), 0), [0.5, 0.0, 0.5, 0.0])
    # 40th percentile of 6 values: position 2 of the sorted [0, 1, 2, 2, 2, 3], all 2.0
    _same(_grad(mod.percentile_of, (np.array([2.0, 1.0, 2.0, 2.0, 3.0, 0.0]),), 0),
          [1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    g = _grad(mod.ptp_of, (np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0],
                                     [0.5, 0.5, 0.5, 0.5]]),), 0)
    # the whole array: +0.5 at each 3, -0.5 at each -1; rows (weights 0.7, -1.3, 0.4): the
    # maxima share +w, the minima -w; a constant row gets +1/4 - 1/4 = 0
    _same(g, [[0.0, 0.85, 0.85, -0.7], [-0.65, -0.65, 0.15, 0.15], [0.0, 0.0, 0.0, 0.0]])


def test_nan_entries_get_zero_gradient(mod):
    g = _grad(mod.nan_reductions, (NAN34,), 0)
    assert g[0, 1] == 0.0 and g[2, 3] == 0.0 and np.isfinite(g).all()
    g = _grad(mod.nan_orders, (NAN34,), 0)
    assert g[0, 1] == 0.0 and g[2, 3] == 0.0 and np.isfinite(g).all()
    # a lane of only NaN: zero gradient (its value is NaN)
    x = X34.copy()
    x[:, 1] = np.nan
    g = _grad(mod.nan_reductions, (x,), 0)
    assert (g[:, 1] == 0.0).all() and np.isfinite(g).all()


def test_nan_mean_closed_form(make_module):
    m = make_module("import numpy as np\n\ndef f(x):\n    return np.nanmean(x)\n")
    _same(_grad(m.f, (np.array([1.0, np.nan, 3.0, 4.0]),), 0), [1 / 3, 0.0, 1 / 3, 1 / 3])


def test_interp_conventions(mod):
    """Slope to the right at an inner knot, the last slope at the last knot, 0 outside;
    the knots: -slope times the interpolation weights."""
    xp = np.array([-1.0, -0.2, 0.5, 1.5])
    fp = np.array([0.3, -0.6, 1.2, 0.4])
    x = np.array([-1.3, 0.5, 1.5, 2.0])
    _same(stats.interp_slope(x, xp, fp), [0.0, -0.8, -0.8, 0.0])
    _same(stats.interp_weights_t(np.ones(4), x, xp), [1.0, 0.0, 1.0, 2.0])
    _same(stats.interp_weights_t(np.ones(1), np.array([0.0]), xp), [0.0, 5 / 7, 2 / 7, 0.0])


def test_histogram_edges_move_with_min_and_max(make_module):
    m = make_module("import numpy as np\n\ndef f(x):\n    return np.sum(np.histogram(x, 4)[1] * "
                    "np.array([1.0, 2.0, 3.0, 4.0, 5.0]))\n")
    x = np.array([0.5, 2.0, -1.0, 2.0, 0.1])
    # d edges = (1 - t) d min + t d max, t = 0, 1/4, ..., 1; the two maxima share
    t = np.linspace(0.0, 1.0, 5)
    w = np.arange(1.0, 6.0)
    _same(_grad(m.f, (x,), 0), [0.0, np.sum(w * t) / 2, np.sum(w * (1 - t)), np.sum(w * t) / 2, 0.0])


# ----------------------------------------------------------------------------- second order

def _f(body, params="x"):
    return f"def f({params}):\n    return {body}\n"


SECOND = {  # id -> (body, params, args)
    "var": ("np.sin(np.var(x)) + np.sum(np.std(x, axis=1, ddof=1) ** 2 * W3)", "x", (X34,)),
    "nanvar": ("np.sin(np.nanvar(x + NANS)) + np.nanstd(x + NANS, ddof=1) ** 2", "x", (X34,)),
    "nanprod": ("np.sin(np.nanprod(x + NANS, axis=0)[0]) + np.nanmean(x + NANS) ** 2", "x", (X34,)),
    "orders": ("np.sin(np.median(x)) + np.sum(np.sin(np.nanmax(x + NANS, axis=1))) "
               "+ np.ptp(x) ** 2", "x", (X34,)),
    # order statistics of values that depend on x nonlinearly: the tangent stats.pick(x, v, ...)
    # differentiated in v (exp and sin keep X34's entries apart: no ties)
    "orders_of_values": ("np.sin(np.median(np.exp(x))) + np.sum(np.nanmin(np.sin(x) + NANS, axis=0)"
                         " * W4)", "x", (X34,)),
    "quantile_x": ("np.sum(np.sin(np.quantile(x, 0.3 + 0.1 * np.sin(x[0, 0]), axis=1)))", "x",
                   (X34,)),
    "quantile_q": ("np.sin(np.percentile(x, q)) * np.nanquantile(x + NANS, q / 100.0)", "x, q",
                   (X34, 37.0)),
    "average": ("np.sin(np.average(x, axis=1, weights=w)[0]) + np.average(x, weights=np.abs(x))",
                "x, w", (X34, np.array([0.5, 1.5, 0.8, 1.1]))),
    "trapezoid": ("np.sin(np.trapezoid(x, t, axis=1)[1]) * np.trapezoid(x[0], dx=t[1])",
                  "x, t", (X34, np.array([0.0, 0.3, 0.9, 1.4]))),
    "cov": ("np.sum(np.sin(np.cov(x)) * W33) + np.sum(np.corrcoef(x[0], x[1] * x[2]) ** 2)", "x",
            (X34,)),
    "convolve": ("np.sum(np.sin(np.convolve(x, x[:2])) * W5) + np.sum(np.correlate(x, x * x) ** 2)",
                 "x", (np.array([0.4, -0.9, 1.2, 0.3]),)),
    "interp": ("np.sum(np.sin(np.interp(x * xp[1], xp, xp * xp)) * W3)", "x, xp",
               (np.array([-0.7, 0.25, 1.1]), np.array([-1.0, 0.3, 0.9, 1.5]))),
    "sequences": ("np.sum(np.sin(np.linspace(a, a * a, 5)) * W5) + np.sum(np.geomspace(a, 2.0, 5) "
                  "* W5) + np.sum(np.logspace(a, a, 4) ** 2) + np.sum(np.sin(np.arange(a, 2.0, a)))",
                  "a", (0.45,)),
    "kaiser": ("np.sum(np.sin(np.kaiser(5, b)) * W5)", "b", (2.5,)),
    "bincount": ("np.sum(np.sin(np.bincount(K5, weights=w * w)) * W5)", "w",
                 (np.array([0.4, -0.9, 1.2, 0.3, -0.5]),)),
    "histogram": ("np.sum(np.sin(np.histogram(x * x, 4)[1]) * W5)", "x", (X34,)),
    "sinc": ("np.sum(np.sinc(x * x) * W34) + np.sinc(x[0, 0] - x[0, 0])", "x", (X34,)),
    "nan_to_num": ("np.sum(np.sin(np.nan_to_num(x + INFS, nan=x[0, 0], posinf=x[0, 2])) * W34)",
                   "x", (X34,)),
    "unwrap": ("np.sum(np.sin(np.unwrap(p * 3.0)) * W5) + np.sum(np.unwrap(p, period=t) ** 2)",
               "p, t", (np.array([0.1, 1.6, 3.3, 0.9, -0.7]), 2.0)),
}
SECOND_SLOW = {"cov", "convolve", "sequences", "histogram", "unwrap", "bincount"}


@pytest.fixture(scope="module")
def second(make_module):
    head = SOURCE + '''
NANS = np.zeros((3, 4))
NANS[0, 1] = NANS[2, 3] = np.nan
INFS = np.zeros((3, 4))
INFS[0, 1] = np.nan
INFS[1, 2] = np.inf
'''
    funcs = [_f(body, params).replace("def f(", f"def s_{k}(") for k, (body, params, _) in SECOND.items()]
    return make_module(head + "\n\n" + "\n\n".join(funcs))


def _second_params():
    for k in SECOND:
        marks = [pytest.mark.slow] if k in SECOND_SLOW else []
        for i in range(len(SECOND[k][2])):
            yield pytest.param(k, i, marks=marks, id=f"{k}-wrt{i}")


@pytest.mark.parametrize("case, wrt", list(_second_params()))
def test_second_order(second, case, wrt):
    args = SECOND[case][2]
    # generates the gradient, the tangent, and the hvp's and the jvp of the tangent's code
    _noting(("second", case, wrt), lambda: srcgrad.check_grad(
        getattr(second, f"s_{case}"), *args, wrt=wrt, jit=False, modes=("rev", "fwd"), order=2,
        step=1e-4))


# ----------------------------------------------------------------------------- compiled

COMPILED_FAST = ["var_std"]
COMPILED_SLOW = ["nan_orders", "nan_reductions", "quantiles", "averages", "trapezoids", "covariances",
                 "correlations", "convolutions", "interpolation", "sequences", "kaiser",
                 "histogram", "sinc", "unwrap"]


def _compiled_params():
    for k in COMPILED_FAST + COMPILED_SLOW:
        yield pytest.param(k, marks=[] if k in COMPILED_FAST else [pytest.mark.slow])


@pytest.mark.parametrize("case", list(_compiled_params()))
def test_compiled_gradients_match_uncompiled(mod, case):
    name, args, wrt = JAX_CASES[case]
    f = getattr(mod, name)
    ours = srcgrad.grad(f, wrt=wrt, jit=True)(*args)
    plain = _grad(f, args, wrt)
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,),
                    plain if isinstance(plain, tuple) else (plain,)):
        _same(a, b, 1e-12)


@pytest.mark.slow
def test_compiled_second_order(second):
    srcgrad.check_grad(second.s_quantile_q, *SECOND["quantile_q"][2], wrt=1, jit=True,
                       modes=("rev", "fwd"), order=2, step=1e-4)
    srcgrad.check_grad(second.s_nanvar, *SECOND["nanvar"][2], wrt=0, jit=True,
                       modes=("rev", "fwd"), order=2, step=1e-4)


# ----------------------------------------------------------------------------- values

@numba.njit
def _reductions(x, q):
    return (stats.var_axis(x, -1, 1, False), stats.std_axis(x, 0, 0, True),
            stats.nanvar_axis(x, 1, 1, False), stats.nanstd_axis(x, 0, 0, False),
            stats.nansum_axis(x, 1, True), stats.nanmean_axis(x, 0, False),
            stats.nanprod_axis(x, 1, False), stats.nanmax_axis(x, -1, False),
            stats.nanmin_axis(x, 0, True), stats.ptp_axis(x, 1, False),
            stats.median_axis(x, 0, False), stats.nanmedian_axis(x, 1, True),
            stats.quantile_axis(x, q, 1, False), stats.nanpercentile_axis(x, q * 100.0, 0, True),
            stats.percentile_axis(stats.ravel(x), 37.0, 0, False),
            stats.keep_all(stats.nanquantile_axis(stats.ravel(x), 0.3, 0, False), x))


def _numpy_reductions(x, q):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return (np.var(x, axis=-1, ddof=1), np.std(x, axis=0, keepdims=True),
                np.nanvar(x, axis=1, ddof=1), np.nanstd(x, axis=0), np.nansum(x, axis=1, keepdims=True),
                np.nanmean(x, axis=0), np.nanprod(x, axis=1), np.nanmax(x, axis=-1),
                np.nanmin(x, axis=0, keepdims=True), np.ptp(x, axis=1), np.median(x, axis=0),
                np.nanmedian(x, axis=1, keepdims=True), np.quantile(x, q, axis=1),
                np.nanpercentile(x, q * 100.0, axis=0, keepdims=True), np.percentile(x, 37.0),
                np.nanquantile(x, 0.3, keepdims=True))


@pytest.mark.parametrize("layout", ["C"] + [pytest.param(k, marks=pytest.mark.slow)
                                    for k in ("F", "strided", "float32", "nan")])
def test_compiled_reductions_match_numpy(layout):
    x = np.random.default_rng(5).standard_normal((4, 5))
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "strided":
        x = np.random.default_rng(5).standard_normal((8, 5))[::2]
    elif layout == "float32":
        x = x.astype(np.float32)
    elif layout == "nan":
        x[1, 2] = x[3, 0] = np.nan
    q = np.array([0.1, 0.5, 0.85])
    ours = _reductions(x, q)
    theirs = _numpy_reductions(x, q)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        a = np.asarray(a)
        assert a.shape == np.shape(b), (k, a.shape, np.shape(b))
        # k 12, 13: np.quantile (percentile) of float32 data at float64 q promotes to float64; srcgrad
        # keeps the data's dtype (the quantiles are values of x)
        promoted = k in (12, 13) and layout == "float32"
        assert a.dtype == np.asarray(b).dtype or np.ndim(b) == 0 or promoted, \
            (k, a.dtype, np.asarray(b).dtype)
        tol = 1e-5 if layout == "float32" else 1e-12
        assert np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True), (k, a, b)


@pytest.mark.slow  # one function calling every helper: a long compile
def test_uncompiled_helpers_match_compiled():
    """The plain versions (what jit=False runs) and the compiled ones agree."""
    x = NAN34
    v = X34 * 0.5 + 1.0
    helpers = numba.njit(lambda x, v: (
        stats.pick(x, v, np.array([0.2, 0.7]), 1, True, 1), stats.pick_grad(v[:, 0], x, 0.5, 1, False, 1),
        stats.pick_dq(x, v, 0.4, 2.0, 0, False, 1), stats.pick_grad_q(v[0], x, v, 0.4, 0, False, 1),
        stats.nan_center(v, x, 1), stats.nan_weights(x, 0), stats.nan_dof(x, 1, 1, False),
        stats.prod_others(v, 0), stats.prod_others_grad(v, x * 0.0 + v, 1),
        stats.cov_jvp(v, x * 0.0 + 1.0, 1), stats.cov_grad(np.ones((3, 3)), v, 0),
        stats.standardize(v), stats.sinc_deriv(2, v), stats.bessel_i(1, v),
        stats.histogram_edges_t(np.arange(5.0), v, 4), stats.histogram_edges_jvp(v, v * v, 4)))
    ours = helpers(x, v)
    plain = helpers.py_func(x, v)
    for k, (a, b) in enumerate(zip(ours, plain)):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True), (k, a, b)


# ----------------------------------------------------------------------------- refusals

REFUSED = {  # body -> (error, words of the message)
    "np.var(x, dtype=np.float32)": (srcgrad.UnsupportedSyntaxError, "dtype"),
    "np.sum(np.var(x, axis=0, keepdims=k))": (srcgrad.UnsupportedSyntaxError, "keepdims"),
    "np.average(x, weights=x, returned=True)": (srcgrad.UnsupportedSyntaxError, "returned"),
    "np.sum(np.nan_to_num(x, copy=False))": (srcgrad.UnsupportedSyntaxError, "copy=False"),
    "np.sum(np.histogram(x, 3, range=(s, 2.0))[1])": (srcgrad.MissingRuleError, "histogram_edges_range"),
    "np.sum(np.histogram(s * np.ones(3), x)[1])": (srcgrad.MissingRuleError, "histogram_edges"),
    "np.sum(np.cov(x, bias=k))": (srcgrad.UnsupportedSyntaxError, "bias"),
}


@pytest.mark.parametrize("body", sorted(REFUSED))
def test_refused_arguments(make_module, body):
    error, words = REFUSED[body]
    m = make_module(f"import numpy as np\n\n\ndef f(x, s, k):\n    return {body}\n")
    with pytest.raises(error) as info:
        srcgrad.grad(m.f, wrt=(0, 1), jit=False).source_for(np.array([0.3, 1.2, -0.4]), 0.1, False)
    assert words in str(info.value) and info.value.lineno == 5


def test_methods_are_the_functions(mod):
    """x.var() and x.std(): normalize writes a method as the np function, whose rules take
    the same keywords; the fence lists the methods it takes (another part of the NumPy
    surface adds these). NumPy 2 has no ndarray.ptp."""
    try:
        g = _grad(mod.var_methods, (X34,), 0)
    except srcgrad.UnsupportedSyntaxError as exc:
        pytest.skip(f"the fence does not take these methods yet: {exc}")
    h = 1e-6
    v = np.random.default_rng(2).standard_normal(X34.shape)
    fd = (mod.var_methods(X34 + h * v) - mod.var_methods(X34 - h * v)) / (2 * h)
    assert math.isclose(float(np.sum(g * v)), fd, rel_tol=1e-6)


# ----------------------------------------------------------------------------- rule templates

def _stats_rules() -> frozenset[str]:
    """The keys of the rules under the "NumPy: statistics" banner of rules.py: the first
    argument (a key, or a tuple of keys) of each defrule and defjvp call between that banner
    and the next one. (Their tangents, under "Forward mode", are for the same keys.)"""
    text = pathlib.Path(rules.__file__).read_text()
    start = text.index("# ----- NumPy: statistics -----")
    end = text.index("\n# -----", start + 1)
    keys = set()
    for node in ast.walk(ast.parse(text[start:end])):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("defrule", "defjvp"):
            first = node.args[0]
            keys |= {k.value for k in (first.elts if isinstance(first, ast.Tuple) else [first])}
    return frozenset(keys)


# tests/test_rule_templates.py leaves these keys' templates to this file
STATS_RULES = _stats_rules()

# (key, argument index, form, mode) -> why no program reaches it. None: every template of
# the statistics rules is applied by a case of this file.
UNREACHABLE: dict[tuple[str, int, str, str], str] = {}


def _stats_units() -> set[tuple[str, int, str, str]]:
    return {u for u in rules.template_units() if u[0] in STATS_RULES}


def _generate_first(f, args, wrt, modes=("rev", "fwd")) -> None:
    """Generate (not run, not compile) f's adjoint and tangent code."""
    if "rev" in modes:
        srcgrad.grad(f, wrt=wrt, jit=False).source_for(*args)
    if "fwd" in modes:
        TangentFunction(f, jit=False).source_for(*args, wrt=wrt)


def _generate_second(f, args, i) -> None:
    """Generate f's first-order code in args[i], and the code check_grad(order=2) builds: the
    adjoint of the tangent (hvp: reverse over forward) and the tangent of the tangent."""
    _generate_first(f, args, (i,))
    tangent = TangentFunction(f, jit=False)
    module = module_for_second_order(tangent, tuple(arg_type_of(a) for a in args), (i,))
    wrapper = getattr(module, f"{tangent.cap.name}_tangent")
    w = np.ones_like(args[i]) if isinstance(args[i], np.ndarray) else 1.0
    srcgrad.grad(wrapper, wrt=i, jit=False).source_for(*args, w)
    TangentFunction(wrapper, jit=False).source_for(*args, w, wrt=(i,))


def _applied_by_every_case(mod, second) -> set:
    """The units the code of every case of this file applies: noted by the tests that ran
    before (APPLIED), and generated now for the others (the slow tier's second-order cases,
    the forward mode of JAX_CASES, all of them when this test runs alone)."""
    todo = []
    for case, (name, args, wrt) in JAX_CASES.items():
        f = getattr(mod, name)
        todo.append((("fwd", case), lambda f=f, args=args, wrt=wrt:
                     _generate_first(f, args, wrt, ("fwd",))))
        todo.append((("rev", case), lambda f=f, args=args, wrt=wrt:
                     _generate_first(f, args, wrt, ("rev",))))
    for case, (name, args, wrt) in FIRST.items():
        f = getattr(mod, name)
        todo.append((("first", case), lambda f=f, args=args, wrt=wrt: _generate_first(f, args, wrt)))
    for case, (_body, _params, args) in SECOND.items():
        f = getattr(second, f"s_{case}")
        for i in range(len(args)):
            todo.append((("second", case, i), lambda f=f, args=args, i=i: _generate_second(f, args, i)))
    for key, run in todo:
        if key not in APPLIED:
            _noting(key, run)
    return set().union(*(APPLIED[key] for key, _ in todo))


def test_stats_rules_are_the_section():
    assert {"stats.var_axis", "stats.pick", "np.interp", "np.sinc", "np.unwrap"} <= STATS_RULES
    assert not {"np.unique", "np.sum", "shapes.sort", "np.concatenate"} & STATS_RULES
    assert STATS_RULES <= set(rules.RULES)


@pytest.mark.slow   # generates every case again in a worker that did not run it (minutes)
def test_every_stats_template_is_applied(mod, second):
    """Every template unit of STATS_RULES is applied by the code generated for this file's
    cases (checked against JAX or finite differences above: JAX_CASES, FIRST, SECOND), except
    UNREACHABLE. Generating code types it with Numba but compiles nothing; after the tests
    above (which generated most of it) this takes a few seconds, alone a few minutes (the
    first typing of srcgrad's runtime functions)."""
    applied = _applied_by_every_case(mod, second)
    units = _stats_units()
    missing = units - applied - set(UNREACHABLE)
    assert not missing, f"statistics template units no case applies: {sorted(missing)}"
    stale = set(UNREACHABLE) - units
    assert not stale, f"UNREACHABLE lists units the table does not have: {sorted(stale)}"
    reached = set(UNREACHABLE) & applied
    assert not reached, f"UNREACHABLE units a case applies: {sorted(reached)}"
