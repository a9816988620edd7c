"""srcgrad gradients of programs that call other user functions (``corpus_calls.CASES``).

For every (case, point), with ``jit=True``:
* the value ``value_and_grad`` returns equals calling the function in plain Python,
* each gradient has the type, dtype and shape of its argument,
* the caller's arrays are unchanged by computing the gradient,
* the gradient matches 4th-order central finite differences of the plain Python program
  (for ``stop_gradient`` programs: the case's oracle, itself checked against finite
  differences of a frozen variant below).
The first point of every case is also checked with ``jit=False``.

Every case must pass once srcgrad inlines calls between user functions; until then they
fail (they are not skipped). The one exception: cases using ``srcgrad.custom_vjp`` /
``srcgrad.non_differentiable`` are skipped, naming the API, while that API does not exist.

Compiled gradients are built once per (case, jit) and shared by the points; the oracle
answers once per point. The corpus itself (its features, its points, the finite
differences, the custom rules) is checked here without srcgrad.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import types

import numpy as np
import pytest

from .support import corpus_calls, corpus_calls_lib
from .support.checks import check_grad_structure, check_unmodified, copies, describe, value_and_grad
from .support.corpus_calls import (
    CASES,
    CASES_BY_NAME,
    CUSTOM_RULES,
    CUSTOM_VJP_NAMES,
    FEATURES,
    FROZEN,
    NON_DIFFERENTIABLE_NAMES,
    fd_oracle_for_frozen,
)
from .support.oracles import wrt_indices
from .support.oracles_np import assert_allclose_grads, fd_grad_array, fd_vjp

# tolerances -----------------------------------------------------------------------------
# Values: the compiled program does the same operations as Python; only reductions may
# sum in another order (a few ulps), so 1e-12 relative (no absolute slack is needed: no
# value here is a cancellation near zero).
VALUE_RTOL = 1e-12
VALUE_ATOL = 0.0
# Gradients vs 4th-order FD (h = 1e-4 max(1, |x|)): FD at h and 10 h agree to <= 1e-7 on
# this corpus (test_fd_step_insensitive), so 1e-6 relative (plus 1e-8 times the entry's
# largest element, for small elements of large gradients) does not hide a wrong gradient:
# a mistake in an adjoint is an O(1) relative error somewhere.
FD_RTOL = 1e-6
FD_ATOL = 1e-8
# Closed-form oracles (stop_gradient programs) are exact up to rounding.
ORACLE_RTOL = 1e-12
ORACLE_ATOL = 1e-14

ALL_POINTS = [pytest.param(case, i, id=f"{case.name}-{i}")
              for case in CASES for i in range(len(case.points))]
FIRST_POINTS = [pytest.param(case, id=case.name) for case in CASES]
# Each compiled gradient costs Numba about a second: the fast tier compiles every third
# case and every custom-rule case, the slow tier the rest; jit=False runs every case.
_FAST_JIT = {case.name for k, case in enumerate(CASES)
             if k % 3 == 0 or "custom-rule" in case.features}
JIT_POINTS = [pytest.param(case, i, id=f"{case.name}-{i}",
                           marks=() if case.name in _FAST_JIT else pytest.mark.slow)
              for case in CASES for i in range(len(case.points))]


# shared compiled objects and oracle answers -----------------------------------------------



@functools.cache
def _expected_grad(name: str, i: int) -> tuple:
    case = CASES_BY_NAME[name]
    if case.oracle is not None:
        return tuple(case.oracle(*copies(case.points[i])))
    return fd_grad_array(case.fn, case.points[i], case.wrt)


def _skip_if_api_missing(case):
    if case.needs:
        pytest.skip(f"{case.needs} does not exist yet (the user-rule API is being built); "
                    f"this case needs it")


def _check_case_at(case, i, jit):
    args = case.points[i]
    where = describe(case, args) + ("" if jit else " jit=False")
    expected_value = case.fn(*copies(args))  # on copies: some programs write into an argument
    before = copies(args)

    value, grad = value_and_grad(case, jit)(*args)

    check_unmodified(before, args, where)
    assert np.ndim(value) == 0, f"{where}: value {value!r} is not a scalar"
    assert_allclose_grads(value, expected_value, VALUE_RTOL, VALUE_ATOL,
                          what=f"{where}: value vs plain Python", scale_atol=False)
    check_grad_structure(case.fn, case.wrt, args, grad, where)
    if case.oracle is not None:
        assert_allclose_grads(grad, _expected_grad(case.name, i), ORACLE_RTOL, ORACLE_ATOL,
                              what=f"{where}: gradient vs closed form")
    else:
        assert_allclose_grads(grad, _expected_grad(case.name, i), FD_RTOL, FD_ATOL,
                              what=f"{where}: gradient vs finite differences")


# srcgrad against the oracles ----------------------------------------------------------------

@pytest.mark.parametrize("case,i", JIT_POINTS)
def test_value_and_grad(case, i):
    _skip_if_api_missing(case)
    _check_case_at(case, i, jit=True)


@pytest.mark.parametrize("case,i", ALL_POINTS)
def test_value_and_grad_jit_false(case, i):
    """``jit=False`` runs the same generated source as plain Python: the same checks."""
    _skip_if_api_missing(case)
    _check_case_at(case, i, jit=False)


# the corpus itself (no srcgrad below) ------------------------------------------------------

_CORPUS_MODULES = frozenset({corpus_calls.__name__, corpus_calls_lib.__name__})
_RULE_NAMES = CUSTOM_VJP_NAMES | NON_DIFFERENTIABLE_NAMES
#: the features the source shows (test_features_match_source derives them)
CHECKED_FEATURES = frozenset({
    "loop", "while", "branch", "break", "early-return", "keywords", "defaults", "kw-only",
    "tuple-return", "tuple-arg", "nested", "other-module", "njit", "inplace", "stop-gradient",
    "custom-rule", "non-differentiable", "wrt-name", "scalar", "array",
})


@functools.cache
def _tree(fn) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]


def _resolve_call(call: ast.Call, fn):
    """(name, kind, target) for a call to a user function of the corpus, else None. kind is
    "rule" (custom_vjp / non_differentiable), "njit" (target: its py_func) or "python"."""
    func = call.func
    if isinstance(func, ast.Name):
        name, obj = func.id, fn.__globals__.get(func.id)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        mod = fn.__globals__.get(func.value.id)
        if not isinstance(mod, types.ModuleType) or mod.__name__ not in _CORPUS_MODULES:
            return None
        name, obj = func.attr, getattr(mod, func.attr, None)
    else:
        return None
    if name in _RULE_NAMES:
        return name, "rule", obj
    py_func = getattr(obj, "py_func", None)
    if isinstance(py_func, types.FunctionType) and py_func.__module__ in _CORPUS_MODULES:
        return name, "njit", py_func
    if isinstance(obj, types.FunctionType) and obj.__module__ in _CORPUS_MODULES:
        return name, "python", obj
    return None


def _source_features(case) -> set[str]:
    """The features visible in the source of the program and every function it calls."""
    found: set[str] = set()

    def visit(fn, depth):
        tree = _tree(fn)
        if fn.__module__ == corpus_calls_lib.__name__:
            found.add("other-module")
        a = tree.args
        if a.defaults or any(d is not None for d in a.kw_defaults):
            found.add("defaults")
        if a.kwonlyargs:
            found.add("kw-only")
        params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
        tuple_names = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                       and isinstance(node.value, ast.Tuple) for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.For, ast.While)):
                found.add("loop")
            if isinstance(node, ast.While):
                found.add("while")
            if isinstance(node, (ast.If, ast.IfExp)):
                found.add("branch")
            if isinstance(node, ast.Break):
                found.add("break")
            if isinstance(node, ast.Return):
                if node is not tree.body[-1]:
                    found.add("early-return")
                if depth > 0 and isinstance(node.value, ast.Tuple):
                    found.add("tuple-return")
            if (isinstance(node, ast.Attribute) and node.attr == "stop_gradient") or \
                    (isinstance(node, ast.Name) and node.id == "stop_gradient"):
                found.add("stop-gradient")
            if depth > 0 and isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in params
                       for t in targets):
                    found.add("inplace")
            if not isinstance(node, ast.Call):
                continue
            resolved = _resolve_call(node, fn)
            if resolved is None:
                continue
            name, kind, target = resolved
            if depth > 0:
                found.add("nested")
            if node.keywords:
                found.add("keywords")
            if any(isinstance(v, ast.Tuple) or (isinstance(v, ast.Name) and v.id in tuple_names)
                   for v in node.args + [k.value for k in node.keywords]):
                found.add("tuple-arg")
            if kind == "rule":
                found.add("custom-rule")
                if name in NON_DIFFERENTIABLE_NAMES:
                    found.add("non-differentiable")
                continue
            if kind == "njit":
                found.add("njit")
            visit(target, depth + 1)

    visit(case.fn, 0)
    items = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,)
    if any(isinstance(w, str) for w in items):
        found.add("wrt-name")
    arrays = any(isinstance(a, np.ndarray) for p in case.points for a in p)
    found.add("array" if arrays else "scalar")
    return found


def test_corpus_structure():
    assert len(CASES) >= 32
    assert len({c.name for c in CASES}) == len(CASES), "duplicate case names"
    assert len({c.fn for c in CASES}) == len(CASES), "a function is listed twice"
    for c in CASES:
        assert set(c.features) <= FEATURES, f"{c.name}: unknown features {set(c.features) - FEATURES}"
        assert len(set(c.features)) == len(c.features), f"{c.name}: a feature is listed twice"
        assert 2 <= len(c.points) <= 3, f"{c.name}: {len(c.points)} points"

    def count(*features):
        return sum(1 for c in CASES if set(features) & set(c.features))

    assert count("loop") >= 6
    assert count("while") >= 3
    assert count("branch") >= 4
    assert count("other-module") >= 4
    assert count("keywords", "defaults") >= 4
    assert count("custom-rule") >= 4
    assert count("non-differentiable") >= 1
    for f in ("early-return", "break", "nested", "inplace", "tuple-return", "tuple-arg", "njit",
              "stop-gradient", "shadow", "name-clash", "wrt-name", "math-np", "lazy"):
        assert count(f) >= 1, f"no case with {f!r}"
    for f in ("scalar", "array"):
        assert count(f) >= 10, f"fewer than 10 {f} cases"
    assert set(FROZEN) == {c.name for c in CASES if c.oracle is not None}


@pytest.mark.parametrize("case", FIRST_POINTS)
def test_features_match_source(case):
    """Each source-visible feature is listed exactly when the program (with its callees)
    has it, so the counts above mean something."""
    derived = _source_features(case)
    listed = set(case.features) & CHECKED_FEATURES
    assert listed == derived, (f"{case.name}: features listed but not in the source: {sorted(listed - derived)}; "
                               f"in the source but not listed: {sorted(derived - listed)}")


@pytest.mark.parametrize("case,i", ALL_POINTS)
def test_points_well_formed(case, i):
    """Every program runs in plain Python at every point, deterministically, to a finite float."""
    args = case.points[i]
    params = inspect.signature(case.fn).parameters
    required = sum(1 for p in params.values() if p.default is inspect.Parameter.empty)
    assert required <= len(args) <= len(params)
    for k in wrt_indices(case.fn, case.wrt):
        assert k < len(args), f"{case.name}: wrt argument {k} is not passed at point {i}"
        assert isinstance(args[k], (float, np.ndarray)), f"{case.name}: wrt argument {k} is not a float"
    for a in args:
        if isinstance(a, np.ndarray):
            assert a.dtype == np.float64 and a.size <= 50
    before = copies(args)
    v1 = case.fn(*copies(args))
    v2 = case.fn(*copies(args))
    check_unmodified(before, args, case.name)
    assert np.ndim(v1) == 0 and np.isfinite(v1) and v1 == v2


@pytest.mark.slow
@pytest.mark.parametrize("case,i", ALL_POINTS)
def test_fd_step_insensitive(case, i):
    """FD with a 10x larger step agrees: no branch boundary, trip-count change or tie lies
    within 2e-3 (relative) of any coordinate of the point, and the FD answer is accurate
    far beyond FD_RTOL."""
    if case.oracle is not None:
        pytest.skip("FD does not apply (stop_gradient): see test_stop_gradient_oracles")
    coarse = fd_grad_array(case.fn, case.points[i], case.wrt, rel_step=1e-3)
    assert_allclose_grads(coarse, _expected_grad(case.name, i), 1e-7, 1e-9,
                          what=f"{describe(case, case.points[i])}: FD h=1e-3 vs h=1e-4")


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_stop_gradient_oracles(name):
    """A stop_gradient program's closed-form gradient equals FD of its frozen variant."""
    case = CASES_BY_NAME[name]
    for i in range(len(case.points)):
        assert_allclose_grads(_expected_grad(name, i), fd_oracle_for_frozen(name, i), 1e-8, 1e-10,
                              what=f"{name}[{i}]: closed form vs FD of the frozen program")


_RULE_POINTS = {
    "logsumexp_c": [(np.array([0.3, -1.2, 2.0, 0.7]),), (np.array([40.0, 41.5, 39.0]),)],
    "softplus_c": [(1.7,), (-2.3,), (0.4,)],
    "poly_c": [(np.array([0.5, -1.0, 0.3, 2.0]), 0.7), (np.array([1.0, 0.2]), -1.4)],
    "softmax_c": [(np.array([0.3, -1.2, 2.0, 0.7]),)],
}


@pytest.mark.parametrize("name", sorted(CUSTOM_RULES))
def test_custom_rules_match_fd(name):
    """Each user rule is the true vector-Jacobian product of its function (for the inputs it
    gives a cotangent; None means the programs never differentiate that input)."""
    fn, rule = CUSTOM_RULES[name]
    plain = getattr(fn, "fn", fn)  # srcgrad's wrapper keeps the Python function as .fn
    assert rule is not None
    for args in _RULE_POINTS[name]:
        ans = plain(*copies(args))
        g = np.linspace(0.5, 1.5, np.size(ans)).reshape(np.shape(ans)) if np.ndim(ans) else 1.3
        got = rule(g, ans, *copies(args))
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(args)
        keep = tuple(k for k, c in enumerate(got) if c is not None)
        assert keep, f"{name}: the rule gives no cotangent at all"
        expected = fd_vjp(plain, args, g, wrt=keep)
        assert_allclose_grads(tuple(got[k] for k in keep), expected, 1e-7, 1e-9,
                              what=f"{name}{args}: rule vs FD")
